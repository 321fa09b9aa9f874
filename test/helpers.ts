/** Small shared test utilities. */
import helper from 'node-red-node-test-helper';
import type { Clock } from '../nodes/lib/clock';
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

/**
 * The package's clock with a count of the timers still pending: given to every protocol through
 * tuning, it shows any timer of ours that outlives a redeploy.
 */
export class CountingClock implements Clock {
  readonly pending = new Set<NodeJS.Timeout>();
  created = 0;
  now(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.created++;
    const handle = setTimeout(() => {
      this.pending.delete(handle);
      fn();
    }, ms);
    handle.unref();
    this.pending.add(handle);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
    this.pending.delete(handle as NodeJS.Timeout);
  }
}
