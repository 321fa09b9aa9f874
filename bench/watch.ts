/**
 * `delivery watch` in a real Node-RED: how many sent SMS a second it can watch and match with their
 * final status (open + status + end, each through the runtime), and the memory 10,000 open watches
 * hold (heap after GC, the send msgs they keep included).
 */
import path from 'path';
import { Child } from './child';

export interface WatchRun {
  /** sends (and as many statuses) for the throughput figure */
  messages: number;
  /** open watches for the memory figure */
  open: number;
}

export interface WatchResult extends WatchRun {
  seconds: number;
  /** watches opened and ended per second */
  perSecond: number;
  delivered: number;
  /** heap after GC with `open` watches, minus before, in MB */
  heapMB: number;
  error?: string;
}

export async function runWatch(run: WatchRun): Promise<WatchResult> {
  const result: WatchResult = {
    ...run,
    seconds: NaN,
    perSecond: NaN,
    delivered: 0,
    heapMB: NaN,
  };
  const child = new Child(path.join(__dirname, 'watch-child.ts'), {});
  try {
    await child.next('up', 60_000);
    // a warm-up round, then the measured one
    await child.request({ type: 'throughput', count: Math.min(run.messages, 20_000) }, 120_000);
    const t = await child.request({ type: 'throughput', count: run.messages }, 300_000);
    result.seconds = t.seconds as number;
    result.delivered = t.delivered as number;
    result.perSecond = result.delivered / result.seconds;
    const m = await child.request({ type: 'memory', count: run.open }, 120_000);
    result.heapMB = (m.heapBytes as number) / 1024 ** 2;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    await child.stop();
  }
  return result;
}
