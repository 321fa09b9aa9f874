/**
 * Reconnect-churn soak: a real Node-RED runs `privmx in` → `event filter` → sink while the bench
 * Bridge keeps breaking the link (socket destroyed, close frame, half-open link that only the
 * dead-link watchdog notices) and pushes events between the cuts. Protocol timings are compressed
 * with the tuning overrides (nodes/lib/tuning.ts), so a few seconds of wall time stand for minutes of
 * Bridge time. Memory is sampled after a full GC in the measured process.
 */
import path from 'path';
import { BenchServer, pushFrames } from './bridge-server';
import { Child } from './child';
import type { ConsumerConfig } from './consumer';
import { FramePool } from './events';

export interface SoakRun {
  label: string;
  /** wall-clock seconds of churn */
  seconds: number;
  /** time compression: every protocol timing is divided by this */
  compression: number;
  /** events pushed per connected period */
  eventsPerCycle: number;
  /** hard cap on reconnect cycles (the loop is bounded in count and in time) */
  maxCycles: number;
}

export interface SoakSample {
  atSeconds: number;
  reconnects: number;
  rssMB: number;
  heapMB: number;
  handles: number;
}

export interface SoakResult extends SoakRun {
  /** seconds of Bridge time the run stands for */
  equivalentSeconds: number;
  reconnects: number;
  cuts: { drop: number; close: number; silence: number };
  serverStats: BenchServer['stats'];
  eventsPushed: number;
  matchedPushed: number;
  delivered: number;
  samples: SoakSample[];
  /** median of the last 3 samples minus the median of the first 3 */
  rssGrowthMB: number;
  heapGrowthMB: number;
  handlesGrowth: number;
  /** least-squares slope of heap after GC, KB per reconnect */
  heapSlopeKBPerReconnect: number;
  /** active resources by kind at the first and the last sample */
  resourcesFirst?: Record<string, number>;
  resourcesLast?: Record<string, number>;
  logged: number;
  tuning: ConsumerConfig['tuning'];
  error?: string;
}

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** the soak's stable period: each connected period lasts a little longer than this */
export const STABLE_MS = 100;

/** production timings (nodes/lib/privmx/connection.ts, nodes/lib/backoff.ts), compressed by `f` */
export function compressedTuning(f: number): NonNullable<ConsumerConfig['tuning']> {
  return {
    privmx: {
      backoff: {
        initialDelayMs: 1_000 / f,
        maxDelayMs: 60_000 / f,
        factor: 2,
        jitter: 0.5,
        permanentDelayMs: 120_000 / f,
        maxPermanentDelayMs: (30 * 60_000) / f,
      },
      // not compressed like the rest (60 s / f): a session that lived STABLE_MS counts as stable, so
      // every cut starts again from the first backoff step and the link flaps as fast as allowed
      stableAfterMs: STABLE_MS,
      deadAfterMs: 30_000 / f,
      requestTimeoutMs: 10_000 / f,
      handshakeTimeoutMs: 10_000 / f,
      minRefreshDelayMs: 1_000 / f,
      refreshSkewMs: 5_000 / f,
      closeTimeoutMs: 2_000 / f,
    },
  };
}

export async function runSoak(pool: FramePool, run: SoakRun): Promise<SoakResult> {
  const f = run.compression;
  const server = new BenchServer(10_000 / f, (15 * 60_000) / f);
  const port = await server.listen();
  const tuning = compressedTuning(f);
  const config: ConsumerConfig = {
    mode: 'nodered',
    flow: 'privmx',
    params: { port },
    expected: -1,
    ackEvery: 1e9,
    tuning,
  };
  let reconnects = -1; // the first subscription is not a reconnect
  let readyWake: (() => void) | undefined;
  server.onReady = () => {
    reconnects++;
    readyWake?.();
    readyWake = undefined;
  };
  const child = new Child(path.join(__dirname, 'consumer.ts'), { BENCH_CONSUMER: JSON.stringify(config) });
  const result: SoakResult = {
    ...run,
    equivalentSeconds: run.seconds * f,
    reconnects: 0,
    cuts: { drop: 0, close: 0, silence: 0 },
    serverStats: server.stats,
    eventsPushed: 0,
    matchedPushed: 0,
    delivered: 0,
    samples: [],
    rssGrowthMB: NaN,
    heapGrowthMB: NaN,
    handlesGrowth: NaN,
    heapSlopeKBPerReconnect: NaN,
    logged: 0,
    tuning,
  };
  try {
    const first = server.nextReady(60_000);
    first.catch(() => undefined);
    await child.next('up', 60_000);
    let consumer = await first;
    await sleep(300);
    const base = await child.request({ type: 'baseline' });
    const log0 = base.log as { warn: number; error: number };
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    let nextSample = 0;
    const takeSample = async () => {
      const at = elapsed();
      const r = reconnects;
      const s = await child.request({ type: 'stats' }, 30_000);
      result.samples.push({
        atSeconds: at,
        reconnects: r,
        rssMB: (s.rssAfterGc as number) / MB,
        heapMB: (s.heapAfterGc as number) / MB,
        handles: s.handles as number,
      });
      result.resourcesLast = s.resources as Record<string, number>;
      result.resourcesFirst ??= result.resourcesLast;
      result.delivered = s.hits as number;
      const log = s.log as { warn: number; error: number };
      result.logged = log.warn + log.error - log0.warn - log0.error;
    };
    let position = 0;
    let cycle = 0;
    // warm up: the first few cycles allocate caches (JIT, pools) that are not leaks
    const warmupSeconds = Math.min(2, run.seconds / 5);
    nextSample = warmupSeconds;
    const sampleEvery = Math.max(0.5, (run.seconds - warmupSeconds) / 12);
    while (elapsed() < run.seconds && cycle < run.maxCycles) {
      // events while connected: the real Bridge keeps pushing until the link breaks
      await pushFrames(consumer.socket, pool, run.eventsPerCycle, { from: position }).catch(() => undefined);
      for (let p = position; p < position + run.eventsPerCycle; p++)
        result.matchedPushed += pool.matching[p % pool.size];
      position += run.eventsPerCycle;
      result.eventsPushed += run.eventsPerCycle;
      await sleep(STABLE_MS + 20);
      if (elapsed() >= nextSample) {
        await takeSample();
        nextSample += sampleEvery;
      }
      const ready = new Promise<void>((resolve) => (readyWake = resolve));
      // the three ways a Bridge link dies
      if (cycle % 25 === 24) {
        result.cuts.silence++;
        server.silenceAll();
      } else if (cycle % 3 === 2) {
        result.cuts.close++;
        server.closeAll(1012);
      } else {
        result.cuts.drop++;
        server.dropAll();
      }
      cycle++;
      const timeout = sleep(10_000).then(() => {
        throw new Error('the node did not reconnect within 10 s');
      });
      await Promise.race([ready, timeout]);
      const live = [...server.consumers].filter(
        (c) => c.kind === 'bridge' && !c.silent && c.channels.has('thread'),
      );
      if (live.length !== 1) throw new Error(`expected one subscribed consumer, found ${live.length}`);
      consumer = live[0];
    }
    // the events of the last period arrive; then the final sample
    await sleep(300);
    await takeSample();
    result.reconnects = reconnects;
    const s = result.samples;
    const head = s.slice(0, 3);
    const tail = s.slice(-3);
    result.rssGrowthMB = median(tail.map((x) => x.rssMB)) - median(head.map((x) => x.rssMB));
    result.heapGrowthMB = median(tail.map((x) => x.heapMB)) - median(head.map((x) => x.heapMB));
    result.handlesGrowth = tail[tail.length - 1].handles - head[0].handles;
    result.heapSlopeKBPerReconnect =
      slope(
        s.map((x) => x.reconnects),
        s.map((x) => x.heapMB),
      ) * 1024;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    server.onReady = undefined;
    await child.stop();
    await server.close();
  }
  return result;
}
