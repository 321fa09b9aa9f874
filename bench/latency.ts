/**
 * Latency: events at a steady rate → SMS request at the fake SMSAPI. The event's message id travels
 * in the SMS text, so each request is matched to the moment its event was written to the socket.
 */
import path from 'path';
import { FakeSmsapi } from '../test/fakes/smsapi';
import { BenchServer } from './bridge-server';
import { Child } from './child';
import type { ConsumerConfig } from './consumer';
import { encodeFrame, makeEvent, matches, prng } from './events';
import type { FlowName } from './flows';

export interface LatencyRun {
  label: string;
  flow: FlowName;
  /** events per second */
  rate: number;
  seconds: number;
  /** seconds of events before the measured ones (JIT, keep-alive connections): not traced */
  warmupSeconds?: number;
  /** a Redis URL: the flow's sources and sinks use an `sms-cluster` on it */
  cluster?: string;
  /** runs taking turns with this one (see Turns); the rate and the seconds count only its own turns */
  turns?: Turns;
}

/**
 * Two flows measured in alternating slices of time (half a second each): a shared machine's background
 * load changes within seconds, so both see the same load, and neither flow's garbage collector or
 * sender runs while the other is being measured. Each flow keeps its own processes; the one whose turn
 * it is not sends nothing.
 */
export class Turns {
  private start = performance.now();
  private readonly ready = new Set<string>();
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly labels: string[],
    private readonly sliceMs = 500,
  ) {}

  /** wait until every run is up, so the slices start together */
  async arrive(label: string): Promise<void> {
    this.ready.add(label);
    if (this.ready.size === this.labels.length) {
      this.start = performance.now();
      for (const wake of this.waiting.splice(0)) wake();
    } else await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  mine(label: string, now = performance.now()): boolean {
    const slot = Math.floor((now - this.start) / this.sliceMs) % this.labels.length;
    return this.labels[slot] === label;
  }
}

export interface LatencyResult extends LatencyRun {
  events: number;
  expected: number;
  received: number;
  p50: number;
  p99: number;
  max: number;
  /** every latency in ms, sorted (pooled across rounds by the orchestrator) */
  latencies: number[];
  error?: string;
}

export const SMSAPI_TOKEN = 'bench-smsapi-token';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLatency(run: LatencyRun, tuning?: ConsumerConfig['tuning']): Promise<LatencyResult> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const smsapi = await FakeSmsapi.start({
    token: SMSAPI_TOKEN,
    onSms: (sms) => {
      const id = /New message (\S+) in/.exec(sms.message)?.[1];
      const t0 = id ? sentAt.get(id) : undefined;
      if (t0 !== undefined) {
        latencies.push(performance.now() - t0);
        sentAt.delete(id!);
      }
    },
  });
  const server = new BenchServer();
  const port = await server.listen();
  const config: ConsumerConfig = {
    mode: 'nodered',
    flow: run.flow,
    params: { port, smsapiUrl: smsapi.url, smsapiToken: SMSAPI_TOKEN, cluster: run.cluster },
    expected: -1,
    ackEvery: 1e9,
    tuning,
  };
  const child = new Child(path.join(__dirname, 'consumer.ts'), { BENCH_CONSUMER: JSON.stringify(config) });
  const result: LatencyResult = {
    ...run,
    events: 0,
    expected: 0,
    received: 0,
    p50: NaN,
    p99: NaN,
    max: NaN,
    latencies,
  };
  try {
    const ready = server.nextReady(60_000);
    ready.catch(() => undefined);
    await child.next('up', 60_000);
    const consumer = await ready;
    await sleep(300);
    const random = prng(7);
    const warmup = Math.round(run.rate * (run.warmupSeconds ?? 0));
    const total = warmup + Math.round(run.rate * run.seconds);
    await run.turns?.arrive(run.label);
    // the send clock runs only during this run's turns
    let active = 0;
    let last = performance.now();
    let sent = 0;
    while (sent < total) {
      const now = performance.now();
      const mine = !run.turns || run.turns.mine(run.label, now);
      if (mine) active += now - last;
      last = now;
      if (!mine) {
        await sleep(1);
        continue;
      }
      const due = Math.min(total, Math.floor((active * run.rate) / 1000) + 1);
      const frames: Buffer[] = [];
      const traced: string[] = [];
      for (; sent < due; sent++) {
        const event = makeEvent(random, sent, Date.now());
        if (sent >= warmup && matches(event)) traced.push(event.data.id);
        frames.push(encodeFrame(JSON.stringify(event)));
      }
      if (frames.length) {
        consumer.socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
        const written = performance.now();
        for (const id of traced) sentAt.set(id, written);
        result.expected += traced.length;
      }
      await sleep(1);
    }
    result.events = sent;
    // let the last SMS arrive
    const deadline = performance.now() + 10_000;
    while (latencies.length < result.expected && performance.now() < deadline) await sleep(20);
    result.received = latencies.length;
    latencies.sort((a, b) => a - b);
    result.p50 = percentile(latencies, 50);
    result.p99 = percentile(latencies, 99);
    result.max = latencies[latencies.length - 1];
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    await child.stop();
    await server.close();
    await smsapi.close();
  }
  return result;
}
