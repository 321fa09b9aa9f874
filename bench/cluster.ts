/**
 * The cluster section of `npm run bench`: the same flows with and without an `sms-cluster` on a real
 * Redis (Debian's redis-server on a free loopback port, no persistence), one Node-RED instance.
 * Ingest events/s (each matching event claimed with SET NX PX before it is emitted), the latency p99
 * (claim + the sink's shared guards), and how many commands and network round trips each event costs,
 * read from the server's own counters.
 */
import fs from 'fs';
import { createClient } from 'redis';
import { REDIS_SERVER, RedisServer } from '../test/cluster/redis-server';
import { FramePool } from './events';
import { type IngestResult, runIngest } from './ingest';
import { type LatencyResult, percentile, runLatency } from './latency';
import type { Plan } from './run';

export interface ClusterBenchRow {
  label: string;
  ingest?: IngestResult & { rounds: number[] };
  /** Redis commands per matching (claimed) event */
  commandsPerEvent?: number;
  /** socket reads Redis served per matching event: the network round trips, pipelining included */
  readsPerEvent?: number;
  latency?: LatencyResult;
}

export interface ClusterBenchResult {
  events: number;
  rows: ClusterBenchRow[];
  error?: string;
}

async function serverStats(url: string): Promise<{ commands: number; reads: number }> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    const info = String(await client.sendCommand<string>(['INFO', 'stats']));
    const field = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1]);
    return { commands: field('total_commands_processed'), reads: field('total_reads_processed') };
  } finally {
    await client.close();
  }
}

async function flushAll(url: string): Promise<void> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.sendCommand(['FLUSHALL']);
  } finally {
    await client.close();
  }
}

const best = (rs: IngestResult[]) =>
  rs
    .filter((r) => !r.error)
    .reduce<IngestResult | undefined>((a, b) => (!a || b.perSecond > a.perSecond ? b : a), undefined) ??
  rs[0];

export async function runClusterBench(
  p: Plan,
  log: (line: string) => void,
): Promise<ClusterBenchResult | undefined> {
  if (!fs.existsSync(REDIS_SERVER)) {
    log(`cluster  skipped: no ${REDIS_SERVER} (apt-get install redis-server)`);
    return undefined;
  }
  // fewer events than the main ingest runs, every one distinct: the main runs cycle through 4,096
  // frames, and a repeated frame is the same event (claimed once: the cluster would drop the rest)
  const events = Math.min(p.privmxEvents, p.quick ? 50_000 : 100_000);
  const pool = new FramePool(events, 43);
  const redis = await RedisServer.start();
  const result: ClusterBenchResult = { events, rows: [] };
  const flow = 'privmx-prefilter' as const;
  try {
    const alone: IngestResult[] = [];
    const clustered: IngestResult[] = [];
    let commands = 0;
    let reads = 0;
    let matched = 0;
    for (let round = 1; round <= p.rounds; round++) {
      const a = await runIngest(pool, { label: 'alone', mode: 'nodered', flow, events });
      alone.push(a);
      await flushAll(redis.url);
      const before = await serverStats(redis.url);
      const c = await runIngest(pool, {
        label: 'cluster',
        mode: 'nodered',
        flow,
        events,
        cluster: redis.url,
      });
      const after = await serverStats(redis.url);
      clustered.push(c);
      // INFO itself is one command and one read
      commands += after.commands - before.commands - 1;
      reads += after.reads - before.reads - 1;
      matched += c.matched;
      log(
        `cluster round ${round}  ingest ${flow}: alone ${a.perSecond.toFixed(0)} events/s, ` +
          `cluster ${c.perSecond.toFixed(0)} events/s` +
          (a.error || c.error ? `  ERROR ${a.error ?? c.error}` : ''),
      );
    }
    const label = '(d) privmx in (type/thread pre-filter) → event filter';
    result.rows.push(
      { label: `${label}, alone`, ingest: { ...best(alone), rounds: alone.map((r) => r.perSecond) } },
      {
        label: `${label}, sms-cluster`,
        ingest: { ...best(clustered), rounds: clustered.map((r) => r.perSecond) },
        commandsPerEvent: commands / matched,
        readsPerEvent: reads / matched,
      },
    );
    const base = { rate: p.latencyRate, seconds: p.latencySeconds, warmupSeconds: p.latencyWarmupSeconds };
    const la: LatencyResult[] = [];
    const lc: LatencyResult[] = [];
    let latencyCommands = 0;
    let latencyReads = 0;
    let written = 0;
    // interleaved rounds, samples pooled: background load hits both alike
    for (let round = 1; round <= p.latencyRounds; round++) {
      const a = await runLatency({ label: 'alone', flow: 'latency-privmx', ...base });
      la.push(a);
      await flushAll(redis.url);
      const before = await serverStats(redis.url);
      const c = await runLatency({ label: 'cluster', flow: 'latency-privmx', ...base, cluster: redis.url });
      const after = await serverStats(redis.url);
      lc.push(c);
      latencyCommands += after.commands - before.commands - 1;
      latencyReads += after.reads - before.reads - 1;
      written += c.events;
      log(
        `cluster round ${round}  latency-privmx: alone p99 ${a.p99.toFixed(2)} ms, cluster p99 ${c.p99.toFixed(2)} ms` +
          (a.error || c.error ? `  ERROR ${a.error ?? c.error}` : ''),
      );
    }
    result.rows.push(
      { label: 'privmx in → event filter → smsapi out, alone', latency: pool99(la) },
      {
        label: 'privmx in → event filter → smsapi out, sms-cluster',
        latency: pool99(lc),
        // this flow has no pre-filter: `privmx in` claims every event it is written, warm-up included
        commandsPerEvent: latencyCommands / Math.max(1, written),
        readsPerEvent: latencyReads / Math.max(1, written),
      },
    );
    const errors = [...alone, ...clustered, ...la, ...lc].map((r) => r.error).filter(Boolean);
    if (errors.length) result.error = errors[0];
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    await redis.stop();
  }
  return result;
}

/** the rounds of one flow as one result: every sample pooled */
function pool99(runs: LatencyResult[]): LatencyResult {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    ...runs[0],
    events: runs.reduce((n, r) => n + r.events, 0),
    expected: runs.reduce((n, r) => n + r.expected, 0),
    received: runs.reduce((n, r) => n + r.received, 0),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1],
    latencies,
    error: runs.map((r) => r.error).find(Boolean),
  };
}
