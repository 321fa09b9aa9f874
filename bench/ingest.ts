/** Ingest benchmark: push N events to one consumer process and time it until every match arrived. */
import path from 'path';
import { BenchServer, pushFrames } from './bridge-server';
import { Child } from './child';
import type { ConsumerConfig } from './consumer';
import { FramePool } from './events';
import type { FlowName } from './flows';

export interface IngestRun {
  label: string;
  mode: 'bare' | 'nodered';
  flow?: FlowName;
  events: number;
  /** max events in flight (sent, not yet acknowledged by the sink); undefined = TCP backpressure only */
  window?: number;
  /** a Redis URL: the flow's sources and sinks use an `sms-cluster` on it */
  cluster?: string;
}

export interface IngestResult extends IngestRun {
  matched: number;
  seconds: number;
  perSecond: number;
  rssBaseMB: number;
  rssGrowthMB: number;
  heapGrowthMB: number;
  /** warn/error lines the runtime logged during the run (per-event logging shows here) */
  logged?: number;
  error?: string;
}

const MB = 1024 * 1024;

export async function runIngest(
  pool: FramePool,
  run: IngestRun,
  tuning?: ConsumerConfig['tuning'],
): Promise<IngestResult> {
  const server = new BenchServer();
  const port = await server.listen();
  const positions = pool.matchPositions(run.events);
  const config: ConsumerConfig = {
    mode: run.mode,
    flow: run.flow,
    params: { port, cluster: run.cluster },
    expected: positions.length,
    // progress reports cost the consumer an IPC write each: only the windowed sender needs them
    ackEvery: run.window !== undefined ? 16 : 1e9,
    tuning,
  };
  const child = new Child(path.join(__dirname, 'consumer.ts'), { BENCH_CONSUMER: JSON.stringify(config) });
  let acked = 0;
  let wake: (() => void) | undefined;
  child.onMessage = (m) => {
    if (m.type === 'ack') {
      acked = m.matched as number;
      wake?.();
      wake = undefined;
    }
  };
  const result: IngestResult = {
    ...run,
    matched: positions.length,
    seconds: NaN,
    perSecond: NaN,
    rssBaseMB: NaN,
    rssGrowthMB: NaN,
    heapGrowthMB: NaN,
  };
  try {
    const ready = server.nextReady(60_000);
    ready.catch(() => undefined);
    await child.next('up', 60_000);
    const consumer = await ready;
    await new Promise((r) => setTimeout(r, 300));
    const base = await child.request({ type: 'baseline' });
    const done = child.next('done', 180_000);
    const started = performance.now();
    await pushFrames(consumer.socket, pool, run.events, {
      window: run.window,
      processed: () => (acked === 0 ? 0 : positions[acked - 1] + 1),
      waitAck: () => new Promise<void>((resolve) => (wake = resolve)),
    });
    await done;
    result.seconds = (performance.now() - started) / 1000;
    result.perSecond = run.events / result.seconds;
    const stats = await child.request({ type: 'stats' });
    result.rssBaseMB = (base.rss as number) / MB;
    result.rssGrowthMB = ((stats.rssPeak as number) - (base.rss as number)) / MB;
    result.heapGrowthMB = ((stats.heapPeak as number) - (base.heap as number)) / MB;
    const log = stats.log as { warn: number; error: number };
    const log0 = base.log as { warn: number; error: number };
    result.logged = log.warn + log.error - log0.warn - log0.error;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    await child.stop();
    await server.close();
  }
  return result;
}
