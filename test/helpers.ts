/**
 * Small shared test utilities: the Node-RED test helper, waiting, node statuses, leak counts.
 * The test clocks are in test/clock.ts.
 */
import helper from 'node-red-node-test-helper';
import type { NodeAPI } from 'node-red';
import { dedupeRegistry } from '../nodes/lib/sms/guards';

helper.init(require.resolve('node-red'));

// A sink's dedupe window outlives its node for a redeploy of the same id; tests load the same flows
// (same ids, same texts) again and again, so each test starts without the windows of the one before.
afterEach(() => dedupeRegistry.clear());

export { helper };

/**
 * A limit only decides how soon a broken test fails, never whether a working one passes: on a busy
 * machine a condition can take many times longer than on a quiet one, so no wait gives up sooner.
 */
const MIN_WAIT_MS = 10_000;

/** Poll until `check` returns a truthy value (or throws no more); fails after `timeoutMs` (10 s at least). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  timeoutMs = Math.max(timeoutMs, MIN_WAIT_MS);
  const start = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await delay(10);
  }
}

/**
 * One turn of the event loop: every promise continuation queued so far has run. After moving a
 * virtual clock, this lets whatever its timers started show up (a new phase, a new attempt).
 */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resources Node-RED might leak across redeploys: sockets, timers, servers. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

// ------------------------------------------------------------------------------------ Node-RED

export type NodeModule = (RED: NodeAPI) => void;

/**
 * A node module whose RED._ shows its parameters (the helper's returns only the key), so status
 * texts carry the reason — and can be scanned for secrets.
 */
export function withParams(mod: NodeModule): NodeModule {
  return (RED: NodeAPI) => {
    const red = RED as unknown as { _: (key: string, params?: Record<string, unknown>) => string };
    red._ = (key, params) => (params ? `${key} ${JSON.stringify(params)}` : key);
    return mod(RED);
  };
}

export type Status = { fill?: string; shape?: string; text?: string };
/** a msg as flows build it: any property, any type */
export type Msg = Record<string, any>;

export interface SpyCall {
  thisValue: { id: string };
  args: unknown[];
}

/** Every call of a Node method the helper spies on (`status`, `warn`, `error`, `log`, `send`, …). */
export function spyCalls(method: string): SpyCall[] {
  const proto = (helper as unknown as { _NodePrototype: Record<string, { getCalls?(): SpyCall[] }> })
    ._NodePrototype;
  return proto[method]?.getCalls?.() ?? [];
}

/** Every status node `id` has shown since the flow was loaded. */
export function statuses(id: string): Status[] {
  return spyCalls('status')
    .filter((c) => c.thisValue?.id === id)
    .map((c) => c.args[0] as Status);
}

export function lastStatus(id: string): Status {
  return statuses(id).at(-1) ?? {};
}

/** Record every status node `id` shows from now on (the list fills as the node shows them). */
export function recordStatuses(id: string): Status[] {
  const node = helper.getNode(id);
  const seen: Status[] = [];
  const original = node.status.bind(node);
  node.status = (s: Status) => {
    seen.push(s);
    return original(s);
  };
  return seen;
}

/** Collect the messages arriving at (helper) node `id`. */
export function collect(id: string): Msg[] {
  const msgs: Msg[] = [];
  helper.getNode(id).on('input', (msg: Msg) => msgs.push(msg));
  return msgs;
}

/** Log lines at warn level (30) whose node is `id` (or any node). */
export function warnings(id?: string): string[] {
  const spy = helper.log() as { args: unknown[][] } | undefined;
  if (!spy) return [];
  return spy.args
    .map((a) => a[0] as { level: number; msg: unknown; id?: string })
    .filter((e) => e && e.level === 30 && (id === undefined || e.id === id))
    .map((e) => String(e.msg));
}
