/**
 * Sink throughput with every limit off (no rate limit, no dedupe, a queue big enough for the burst):
 * N messages handed to `smsapi out` / `sms-gateway out` at once, timed until every one has an outcome,
 * against the loopback fakes of SMSAPI and the SMS gateway.
 */
import path from 'path';
import { FakeSmsGateway, GOOD_KEY } from '../test/fakes/sms-gateway';
import { FakeSmsapi } from '../test/fakes/smsapi';
import { Child } from './child';
import type { ConsumerConfig } from './consumer';
import type { FlowName } from './flows';
import { SMSAPI_TOKEN } from './latency';

export interface SinkRun {
  label: string;
  flow: Extract<FlowName, 'sink-smsapi' | 'sink-gateway'>;
  messages: number;
  /** pipeline concurrency (undefined = the node's default) */
  concurrency?: number;
}

export interface SinkResult extends SinkRun {
  sent: number;
  failed: number;
  /** requests the fake received (must equal `sent`: no duplicate SMS) */
  requests: number;
  seconds: number;
  perSecond: number;
  error?: string;
}

export async function runSink(run: SinkRun): Promise<SinkResult> {
  const smsapi = run.flow === 'sink-smsapi' ? await FakeSmsapi.start({ token: SMSAPI_TOKEN }) : undefined;
  const gateway =
    run.flow === 'sink-gateway'
      ? await new FakeSmsGateway({ rateLimit: { max: 1e9, windowMs: 60_000 }, pingIntervalMs: 0 }).start()
      : undefined;
  const config: ConsumerConfig = {
    mode: 'nodered',
    flow: run.flow,
    params: {
      port: 0,
      smsapiUrl: smsapi?.url,
      smsapiToken: SMSAPI_TOKEN,
      gatewayUrl: gateway?.url,
      gatewayKey: GOOD_KEY,
      concurrency: run.concurrency,
    },
    expected: run.messages,
    ackEvery: 1e9,
    // the smsapi out node has no concurrency property: set the pipeline default instead
    tuning: run.concurrency ? { sink: { concurrency: run.concurrency } } : undefined,
  };
  const child = new Child(path.join(__dirname, 'consumer.ts'), { BENCH_CONSUMER: JSON.stringify(config) });
  const result: SinkResult = { ...run, sent: 0, failed: 0, requests: 0, seconds: NaN, perSecond: NaN };
  try {
    await child.next('up', 60_000);
    const done = child.next('done', 120_000);
    const started = performance.now();
    child.send({ type: 'inject', node: 'sms', count: run.messages });
    const outcome = await done;
    result.seconds = (performance.now() - started) / 1000;
    result.sent = outcome.hits as number;
    result.failed = outcome.errors as number;
    result.perSecond = result.sent / result.seconds;
    result.requests = smsapi ? smsapi.smsRequests.length : gateway!.sent.length;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    await child.stop();
    await smsapi?.close();
    await gateway?.close();
  }
  return result;
}
