/**
 * Shared machinery of the reliability suite (`npm run test:faults`):
 * - process guards: every unhandled rejection / uncaught exception during the suite fails it;
 * - the report: each test records its figures here; a root `after` hook renders the report from
 *   them when the whole suite ran and passed (so the file in the repo always comes from a real run).
 *   An ordinary run writes it to .ci-results/RELIABILITY.md (ignored by git), so running the suite
 *   leaves the work tree as it was; only RELIABILITY_WRITE=1 (`npm run reliability`) rewrites
 *   RELIABILITY.md itself;
 * - Node-RED helpers: load the package's node modules (with a RED._ that shows parameters, so status
 *   texts carry reasons and can be scanned for secrets), redeploy, read statuses, warnings and outputs.
 */
import { createHook } from 'async_hooks';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { CountingClock } from '../clock';
import {
  activeResources,
  collect,
  delay,
  helper,
  lastStatus,
  spyCalls,
  statuses,
  waitFor,
  warnings,
  withParams,
  type Msg,
  type Status,
} from '../helpers';

export { CountingClock };

export {
  activeResources,
  collect,
  delay,
  helper,
  lastStatus,
  statuses,
  waitFor,
  warnings,
  withParams,
  type Msg,
  type Status,
};

// --------------------------------------------------------------------------------- process guards

export interface ProcessFault {
  kind: 'unhandledRejection' | 'uncaughtException';
  message: string;
  test?: string;
}

export const processFaults: ProcessFault[] = [];
let currentTest: string | undefined;

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${err.stack ?? ''}`;
  return String(err);
}

process.on('unhandledRejection', (reason) => {
  processFaults.push({ kind: 'unhandledRejection', message: describeError(reason), test: currentTest });
});
process.on('uncaughtExceptionMonitor', (err) => {
  processFaults.push({ kind: 'uncaughtException', message: describeError(err), test: currentTest });
});

let faultsSeen = 0;
beforeEach(function () {
  currentTest = this.currentTest?.fullTitle();
});
afterEach(function () {
  if (processFaults.length > faultsSeen) {
    const fresh = processFaults.slice(faultsSeen);
    faultsSeen = processFaults.length;
    throw new Error(
      `${fresh.length} unhandled rejection(s)/uncaught exception(s) during "${currentTest}":\n` +
        fresh.map((f) => `${f.kind}: ${f.message}`).join('\n'),
    );
  }
});

// ----------------------------------------------------------------------------------------- report

export type Cell = string | number;
export type Row = Record<string, Cell>;

interface Section {
  title: string;
  intro: string;
  rows: Row[];
  notes: string[];
}

/** Sections of RELIABILITY.md, in order; every one must be filled for the file to be written. */
export const SECTIONS = {
  drops: {
    title: 'Dropped connections (WebSocket sources)',
    intro:
      'The fake server drops the connection (TCP terminate, no close frame) at each protocol phase, ' +
      'several times in a row per cycle; after each cycle the node must be subscribed again (server side: ' +
      'exactly one subscribed socket / subscription), show the green "subscribed" status, and deliver an ' +
      'event sent after the recovery exactly once.',
  },
  garbage: {
    title: 'Garbage from the server (WebSocket sources)',
    intro:
      'Each kind of bad frame is sent several times on a subscribed link. Expected: one log line per kind ' +
      '(then only counted), nothing emitted, no reconnect (same socket), and a real event afterwards arrives.',
  },
  stalls: {
    title: 'Stalled and slow servers',
    intro:
      'A TCP server that accepts and never speaks, a server that goes silent after subscribing, one that ' +
      'never answers the authentication, and one that answers slowly (within the timeouts).',
  },
  sinks: {
    title: 'Sinks under provider faults',
    intro:
      'Each fault is injected by the fake provider. "SMS at provider" counts what the fake accepted: it ' +
      'must never exceed one per recipient. "Outcomes" counts sent messages + Catch-able errors: exactly ' +
      'one per recipient per input message.',
  },
  closing: {
    title: 'Closing',
    intro:
      'A sink is redeployed while its (slow) provider holds one request and three more SMS wait in the queue. ' +
      'Expected: the request is not aborted (the provider answers and sees its answer taken), its outcome reaches ' +
      'the flow, and each queued SMS is an SMS_CANCELLED error on its own message at the Catch node.',
  },
  lifecycle: {
    title: 'Redeploys (leaks)',
    intro:
      'A flow using every node of the package (all config nodes, sources, sinks, the event filter) is ' +
      'redeployed (full deploy) repeatedly; every deploy connects all four sources and passes an event ' +
      'through each, and every tenth sends an SMS through each sink. "stopped (before)" is taken after one ' +
      'warm-up deploy and stop, the deploy columns with the flow running (heap after `global.gc()`), ' +
      '"stopped (after)" once the last deploy was stopped and its sockets closed.',
  },
  secrets: {
    title: 'Secrets',
    intro:
      'Every credential is given a distinctive value; the suite then runs events, garbage, dropped links, ' +
      'provider failures, wrong credentials everywhere, unreachable servers and the "Test connection" ' +
      'endpoints, and scans everything observable for each value, raw, URL-encoded and base64.',
  },
  testEndpoints: {
    title: 'Secrets and the "Test connection" endpoints',
    intro:
      'Each endpoint is posted an untouched dialog (`__PWRD__` for every secret) naming a node id: its own ' +
      'deployed node, a deployed node of another of our types, a core `mqtt-broker` with a password, a node ' +
      'of its type in a disabled flow (credentials stored, not deployed); at the deployed URL (behind a ' +
      'recording forwarder) or another loopback URL (a recording server); as JSON or form-encoded. Every ' +
      'request, header, body and WebSocket frame the servers saw is scanned for every stored secret ' +
      '(raw, URL-encoded, base64).',
  },
} as const;

export type SectionName = keyof typeof SECTIONS;

const report = new Map<SectionName, Section>();
export const totals = { cycles: 0, inputs: 0, leaks: 0 };

/** Add one table row to a section of RELIABILITY.md. */
export function record(section: SectionName, row: Row): void {
  let s = report.get(section);
  if (!s) {
    s = { ...SECTIONS[section], rows: [], notes: [] };
    report.set(section, s);
  }
  s.rows.push(row);
}

/** Add a sentence under a section's table. */
export function note(section: SectionName, text: string): void {
  const s = report.get(section);
  if (!s) throw new Error(`note before any row of ${section}`);
  s.notes.push(text);
}

/** drop cycles survived (summed into the headline figure) */
export function countCycles(n: number): void {
  totals.cycles += n;
}

/** bad inputs / faults tried (summed into the headline figure) */
export function countInputs(n: number): void {
  totals.inputs += n;
}

/** leaks found (must stay 0: a leak also fails its test) */
export function countLeaks(n: number): void {
  totals.leaks += n;
}

function table(rows: Row[]): string {
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  const esc = (v: Cell | undefined) => String(v ?? '').replace(/\|/g, '\\|');
  return [
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${columns.map((c) => esc(r[c])).join(' | ')} |`),
  ].join('\n');
}

const suiteStart = Date.now();

function versions(): { nodeRed: string; ws: string } {
  const read = (p: string) => JSON.parse(fs.readFileSync(require.resolve(p), 'utf8')).version as string;
  return { nodeRed: read('node-red/package.json'), ws: read('ws/package.json') };
}

export function renderReport(durationMs: number): string {
  const v = versions();
  const lines = [
    '# Reliability',
    '',
    '<!-- Written by the fault suite (`npm run reliability`, test/faults/) at the end of a passing run: do not edit by hand. -->',
    '',
    `Figures from the run of ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ` +
      `Node-RED ${v.nodeRed}, ws ${v.ws}, ${os.platform()} ${os.arch()} with ${os.cpus().length} CPU(s); ` +
      `the suite took ${Math.round(durationMs / 1000)} s. Every server is a loopback fake that speaks the ` +
      'real protocol (test/fakes/), with timings shortened through `nodes/lib/tuning.ts`.',
    '',
    '| figure | value |',
    '| --- | --- |',
    `| drop cycles survived (connection drops at a protocol phase, recovered) | ${totals.cycles} |`,
    `| bad inputs and faults tried (garbage frames, stalls, provider faults, redeploys, secret scans) | ${totals.inputs} |`,
    `| leaks found (sockets, timers, listeners, heap, retained connections, secrets) | ${totals.leaks} |`,
    `| unhandled rejections / uncaught exceptions | ${processFaults.length} |`,
    '',
  ];
  for (const name of Object.keys(SECTIONS) as SectionName[]) {
    const s = report.get(name);
    if (!s) continue;
    lines.push(`## ${s.title}`, '', s.intro, '', table(s.rows), '');
    for (const n of s.notes) lines.push(n, '');
  }
  return lines.join('\n');
}

/**
 * Where the report goes: RELIABILITY.md only when asked for (RELIABILITY_WRITE=1), otherwise an ignored
 * file, so that running the tests never modifies a tracked file.
 */
function reportFile(): string {
  const root = path.resolve(__dirname, '../..');
  if (process.env.RELIABILITY_WRITE === '1') return path.join(root, 'RELIABILITY.md');
  return path.join(root, '.ci-results', 'RELIABILITY.md');
}

function allTests(suite: Mocha.Suite): Mocha.Test[] {
  return [...suite.tests, ...suite.suites.flatMap(allTests)];
}

after(async function () {
  this.timeout(30_000);
  const root = this.test?.parent;
  const tests = root ? allTests(root) : [];
  const failed = tests.filter((t) => t.state === 'failed' || t.state === undefined).length;
  const missing = (Object.keys(SECTIONS) as SectionName[]).filter((s) => !report.has(s));
  if (failed > 0 || missing.length > 0 || processFaults.length > 0) {
    console.log(
      `\n  reliability report not written: ${failed} test(s) failed or did not run` +
        (missing.length ? `, sections without figures: ${missing.join(', ')}` : '') +
        (processFaults.length ? `, ${processFaults.length} unhandled error(s)` : ''),
    );
    return;
  }
  const text = renderReport(Date.now() - suiteStart);
  const prettier = await import('prettier');
  const file = reportFile();
  const options = (await prettier.resolveConfig(file)) ?? {};
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, await prettier.format(text, { ...options, parser: 'markdown' }));
  console.log(
    `\n  ${path.relative(process.cwd(), file)} written: ${totals.cycles} cycles survived, ` +
      `${totals.inputs} inputs tried, ${totals.leaks} leaks found` +
      (process.env.RELIABILITY_WRITE === '1' ? '' : ' (RELIABILITY_WRITE=1 rewrites RELIABILITY.md)'),
  );
});

// ------------------------------------------------------------------------------------ Node-RED

/** a status text as a person reads it: `reconnecting (no heartbeat)` for `common.status.reconnecting {…}` */
export function readable(text: string | undefined): string {
  const m = /^(?:common\.)?(?:status\.)?([\w.-]+)(?: (\{.*\}))?$/.exec(text ?? '');
  if (!m) return text ?? '';
  let reason = '';
  try {
    const params = m[2] ? (JSON.parse(m[2]) as Record<string, unknown>) : {};
    reason = typeof params.reason === 'string' ? params.reason : '';
  } catch {
    // not JSON: keep the key only
  }
  return reason ? `${m[1]} (${reason})` : m[1];
}

/** connection attempts a source showed (each starts with the yellow "connecting" status) */
export function attemptsShown(id: string): number {
  return statuses(id).filter((s) => s.text === 'common.status.connecting').length;
}

export const SUBSCRIBED = 'common.status.subscribed';

export function isGreen(id: string): boolean {
  const s = lastStatus(id);
  return s.fill === 'green' && s.shape === 'dot' && s.text === SUBSCRIBED;
}

/** every status, warn, error and log call of every node, as text (for secret scans) */
export function nodeCallsText(): string {
  const parts: string[] = [];
  for (const method of ['status', 'warn', 'error', 'log', 'debug', 'trace', 'send']) {
    for (const call of spyCalls(method)) parts.push(`${method} ${call.thisValue?.id}: ${dump(call.args)}`);
  }
  return parts.join('\n');
}

/** everything Node-RED logged, as text */
export function logText(): string {
  const spy = helper.log() as { args: unknown[][] } | undefined;
  return spy ? dump(spy.args) : '';
}

/** JSON of anything, with Error objects expanded (message, stack, own properties) */
export function dump(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Error) {
      const own: Record<string, unknown> = {};
      for (const k of Object.getOwnPropertyNames(v)) own[k] = (v as unknown as Record<string, unknown>)[k];
      return { name: v.name, message: v.message, stack: v.stack, ...own };
    }
    if (typeof v === 'bigint') return String(v);
    if (Buffer.isBuffer(v)) return v.toString('utf8');
    if (v && typeof v === 'object') {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
      // a node object (thisValue, msg._source…): its id is enough
      if ('_flow' in v || '_wireCount' in v) return `[node ${(v as { id?: string }).id}]`;
    }
    return v;
  });
}

/** Forget the calls the helper's spies recorded (they hold node objects and would look like a leak). */
export function resetSpyHistory(): void {
  const proto = (helper as unknown as { _NodePrototype: Record<string, { resetHistory?(): void }> })
    ._NodePrototype;
  for (const method of ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send'])
    proto[method]?.resetHistory?.();
  (helper.log() as { resetHistory?(): void } | undefined)?.resetHistory?.();
}

interface RedNodes {
  setFlows(flow: unknown[], credentials: Record<string, unknown>, type: string): Promise<unknown>;
  getFlows(): { flows: unknown[] };
}

function internals(): { redNodes: RedNodes; events: NodeJS.EventEmitter } {
  const h = helper as unknown as { _redNodes: RedNodes; _events: NodeJS.EventEmitter };
  return { redNodes: h._redNodes, events: h._events };
}

/** A full deploy of `flow` (old nodes closed, new ones started); resolves once the flows started. */
export async function redeploy(flow: unknown[], credentials: Record<string, unknown>): Promise<void> {
  const { redNodes, events } = internals();
  const started = new Promise<void>((resolve) => events.once('flows:started', () => resolve()));
  await redNodes.setFlows(flow, credentials, 'full');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    started,
    new Promise((_r, reject) => {
      timer = setTimeout(() => reject(new Error('flows did not start within 10 s')), 10_000);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The deployed flow configuration, as the editor would export it. */
export function exportedFlows(): unknown[] {
  return internals().redNodes.getFlows().flows;
}

/** listeners on the runtime's event bus */
export function runtimeListenerCount(): number {
  const { events } = internals();
  return events.eventNames().reduce((n, e) => n + events.listenerCount(e), 0);
}

export function processListenerCount(): number {
  return process.eventNames().reduce((n, e) => n + process.listenerCount(e), 0);
}

// ------------------------------------------------------------------------------------------ tools

/** A loopback TCP server that accepts connections and never sends a byte. */
export class SilentServer {
  readonly sockets = new Set<net.Socket>();
  /** sockets the client has not ended yet (no FIN, no close seen) */
  private readonly live = new Set<net.Socket>();
  accepted = 0;
  /** most connections open at the same time (from the client's side: ended ones do not count) */
  maxOpen = 0;
  private readonly server = net.createServer((socket) => {
    this.accepted++;
    this.sockets.add(socket);
    this.live.add(socket);
    // the client's FIN of the previous attempt and this connection can arrive in the same poll of
    // the event loop, in either order: count once both have been handled
    setImmediate(() => (this.maxOpen = Math.max(this.maxOpen, this.live.size)));
    socket.on('error', () => undefined);
    socket.on('end', () => this.live.delete(socket));
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.live.delete(socket);
    });
    socket.resume(); // read and ignore whatever the client sends
  });

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A loopback port with nothing listening (connection refused). */
export async function closedPort(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** heap used after full garbage collections (needs --expose-gc) */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('global.gc is missing: run mocha with --expose-gc (.mocharc.faults.json)');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

/** wait for `check` like waitFor, with a bigger default budget for the fault suite */
export function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  return waitFor(check, timeoutMs, what);
}

/**
 * Live async resources by type (timers, sockets, immediates), counted with async_hooks: unlike
 * process.getActiveResourcesInfo() this also sees unref'ed timers. Enable only where needed.
 */
export class ResourceTracker {
  private readonly live = new Map<number, string>();
  private readonly hook = createHook({
    init: (id, type) => {
      if (TRACKED.has(type)) this.live.set(id, type);
    },
    destroy: (id) => {
      this.live.delete(id);
    },
  });

  enable(): this {
    this.hook.enable();
    return this;
  }

  disable(): void {
    this.hook.disable();
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const type of this.live.values()) counts[type] = (counts[type] ?? 0) + 1;
    return counts;
  }
}

const TRACKED = new Set([
  'Timeout',
  'Immediate',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'HTTPINCOMINGMESSAGE',
  'HTTPCLIENTREQUEST',
]);
