/**
 * The measured process (forked by the benchmarks with --expose-gc). It consumes the pushed events
 * either with a bare `ws` client or with a real Node-RED runtime running one of bench/flows.ts,
 * counts what reaches the sink, acknowledges progress over IPC and reports memory.
 *
 * IPC: parent → child {type:'baseline'|'stats'|'inject'|'exit'}; child → parent {type:'up'|'baseline'|
 * 'ack'|'done'|'stats'|'error'}.
 */
import { WebSocket } from 'ws';
import { matches } from './events';
import { buildFlow, FlowName, FlowParams } from './flows';
import { logCounts, requireDist, RuntimeHandle, startNodeRed } from './nodered';

export interface ConsumerConfig {
  mode: 'bare' | 'nodered';
  flow?: FlowName;
  params: FlowParams;
  /** messages expected at the sink (plus errors): 'done' is sent when they have all arrived */
  expected: number;
  /** send an 'ack' every this many sink messages */
  ackEvery: number;
  /** test/bench timing overrides (nodes/lib/tuning.ts), by protocol */
  tuning?: Record<string, Record<string, unknown>>;
}

const send = (message: Record<string, unknown>) => process.send?.(message);

let rssPeak = 0;
let heapPeak = 0;
function sample(): void {
  const m = process.memoryUsage();
  if (m.rss > rssPeak) rssPeak = m.rss;
  if (m.heapUsed > heapPeak) heapPeak = m.heapUsed;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

/** active resources by kind, e.g. {TCPSocketWrap: 3, Timeout: 5} */
function summariseResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) out[kind] = (out[kind] ?? 0) + 1;
  return out;
}

async function main(): Promise<void> {
  const config: ConsumerConfig = JSON.parse(process.env.BENCH_CONSUMER ?? '{}');
  let hits = 0;
  let errors = 0;
  let firstAt = 0;
  const finished = () => {
    const n = hits + errors;
    if (n === config.expected) send({ type: 'done', hits, errors, elapsedMs: performance.now() - firstAt });
  };
  const benchHit = () => {
    if (hits === 0) firstAt = performance.now();
    hits++;
    if (hits % config.ackEvery === 0) send({ type: 'ack', matched: hits });
    finished();
  };
  const benchError = () => {
    errors++;
    finished();
  };

  let runtime: RuntimeHandle | undefined;
  let client: WebSocket | undefined;
  if (config.mode === 'bare') {
    client = new WebSocket(`ws://127.0.0.1:${config.params.port}/raw`, { perMessageDeflate: false });
    client.on('message', (data: Buffer) => {
      const event = JSON.parse(data.toString());
      if (matches(event)) benchHit();
    });
    client.on('error', (err) => send({ type: 'error', message: err.message }));
  } else {
    const flow = config.flow ?? 'core';
    const withPackage = flow !== 'core' && flow !== 'latency-core';
    // the same module instance the compiled nodes use
    if (config.tuning && withPackage) Object.assign(requireDist('lib/tuning').tuning, config.tuning);
    runtime = await startNodeRed({ functionGlobalContext: { benchHit, benchError }, withPackage });
    const spec = buildFlow(flow, config.params);
    await runtime.deploy(spec.flows, spec.credentials);
  }

  const sampler = setInterval(sample, 20);
  process.on('message', async (message: { type: string; node?: string; count?: number }) => {
    if (message.type === 'baseline') {
      gc();
      const m = process.memoryUsage();
      rssPeak = m.rss;
      heapPeak = m.heapUsed;
      send({ type: 'baseline', rss: m.rss, heap: m.heapUsed, log: { ...logCounts, lines: [] } });
    } else if (message.type === 'inject') {
      // sink throughput: hand `count` messages to a node at once, as a burst from upstream would
      const node = runtime!.node(message.node!);
      for (let i = 0; i < message.count!; i++)
        node.receive({ payload: `Alert ${i}: disk usage above 90% on db-02`, topic: 'bench' });
    } else if (message.type === 'stats') {
      sample();
      const before = process.memoryUsage();
      gc();
      const after = process.memoryUsage();
      send({
        type: 'stats',
        hits,
        errors,
        log: logCounts,
        rssPeak,
        heapPeak,
        rss: before.rss,
        rssAfterGc: after.rss,
        heapAfterGc: after.heapUsed,
        // sockets, timers and immediates alive now: a leak per reconnect shows here too
        handles: process.getActiveResourcesInfo().length,
        resources: summariseResources(),
      });
    } else if (message.type === 'exit') {
      clearInterval(sampler);
      client?.terminate();
      if (runtime) await runtime.stop().catch(() => undefined);
      process.exit(0);
    }
  });
  send({ type: 'up' });
}

main().catch((err) => {
  send({ type: 'error', message: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
});
