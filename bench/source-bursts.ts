/**
 * One unthrottled burst per event source against its loopback fake (test/fakes/): the gateway's
 * `sms_inbound`, eSMS `message_status`, CPaaS inbound SMS. The flow is `<source> in` → the counting
 * sink; the figure is the rate and the memory the burst costs, every event delivered.
 */
import path from 'path';
import { FakeCpaas } from '../test/fakes/cpaas';
import { FakeEsms } from '../test/fakes/esms';
import { FakeSmsGateway, GOOD_KEY } from '../test/fakes/sms-gateway';
import { Child } from './child';
import type { ConsumerConfig } from './consumer';
import type { FlowName, FlowParams } from './flows';

export type BurstSource = 'sms-gateway' | 'esms' | 'cpaas';

export interface SourceBurstResult {
  label: string;
  source: BurstSource;
  events: number;
  matched: number;
  seconds: number;
  perSecond: number;
  rssGrowthMB: number;
  heapGrowthMB: number;
  error?: string;
}

const MB = 1024 * 1024;
const CPAAS_FROM = '+16135550101';
const CPAAS_SECRET = 'bench-secret-0000';

interface Fake {
  params: Partial<FlowParams>;
  ready(): boolean;
  push(i: number): void;
  close(): Promise<void>;
}

async function startFake(source: BurstSource): Promise<Fake> {
  if (source === 'sms-gateway') {
    const fake = await new FakeSmsGateway({
      rateLimit: { max: 1e9, windowMs: 60_000 },
      pingIntervalMs: 0,
    }).start();
    return {
      params: { gatewayUrl: fake.url, gatewayKey: GOOD_KEY },
      ready: () => fake.authedSockets === 1,
      push: (i) => void fake.pushInbound({ messageId: `e${i}` }),
      close: () => fake.close(),
    };
  }
  if (source === 'esms') {
    const fake = new FakeEsms();
    await fake.start();
    return {
      params: { esmsUrl: fake.url, esmsToken: fake.token() },
      ready: () => fake.openSockets === 1,
      push: (i) => fake.push({ type: 'message_status', message_id: `e${i}`, status: 'delivered' }),
      close: () => fake.close(),
    };
  }
  const fake = await new FakeCpaas({ clientSecret: CPAAS_SECRET }).start();
  return {
    params: {
      cpaasUrl: fake.url,
      cpaasClientId: fake.clientId,
      cpaasSecret: CPAAS_SECRET,
      cpaasFrom: CPAAS_FROM,
    },
    ready: () => fake.openSockets === 1 && fake.subscriptionsFor(CPAAS_FROM).length === 1,
    push: (i) => void fake.push('inboundSMSMessageNotification', CPAAS_FROM, { messageId: `e${i}` }),
    close: () => fake.close(),
  };
}

export async function runSourceBurst(source: BurstSource, events: number): Promise<SourceBurstResult> {
  const result: SourceBurstResult = {
    label: `${source} in, unthrottled burst of ${events}`,
    source,
    events,
    matched: 0,
    seconds: NaN,
    perSecond: NaN,
    rssGrowthMB: NaN,
    heapGrowthMB: NaN,
  };
  const fake = await startFake(source);
  const config: ConsumerConfig = {
    mode: 'nodered',
    flow: `burst-${source}` as FlowName,
    params: { port: 0, ...fake.params },
    expected: events,
    ackEvery: 1e9,
  };
  const child = new Child(path.join(__dirname, 'consumer.ts'), { BENCH_CONSUMER: JSON.stringify(config) });
  try {
    await child.next('up', 60_000);
    const deadline = Date.now() + 30_000;
    while (!fake.ready()) {
      if (Date.now() > deadline) throw new Error(`${source}: not subscribed`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    const base = await child.request({ type: 'baseline' });
    const done = child.next('done', 300_000);
    const started = performance.now();
    for (let i = 0; i < events; i++) {
      fake.push(i);
      // let the fake's socket drain now and then: the burst is the client's problem, not the sender's heap
      if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
    }
    const finished = await done;
    result.matched = (finished.hits as number) ?? events;
    result.seconds = (performance.now() - started) / 1000;
    result.perSecond = events / result.seconds;
    const stats = await child.request({ type: 'stats' });
    result.rssGrowthMB = ((stats.rssPeak as number) - (base.rss as number)) / MB;
    result.heapGrowthMB = ((stats.heapPeak as number) - (base.heap as number)) / MB;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    await child.stop();
    await fake.close();
  }
  return result;
}
