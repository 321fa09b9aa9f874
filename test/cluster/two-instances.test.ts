/**
 * Two real Node-RED processes with the packed package installed and the same flows deployed, one fake
 * PrivMX Bridge and one fake SMSAPI shared by both, one real Redis: what "active-active" promises.
 * Every outcome of the sink (sent, done, failed with its code) is reported by the flow itself to a
 * loopback collector, so each step waits for its condition and never for a fixed time.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import {
  createUserDir,
  freePort,
  makeTempDir,
  type NodeRedProcess,
  npmPack,
  removeDir,
  startNodeRed,
  waitFor,
} from '../e2e/harness';
import { FakePrivmxBridge } from '../fakes/privmx-bridge';
import { FakeSmsapi } from '../fakes/smsapi';
import { RedisServer } from './redis-server';

const KEY_ID = 'cluster-key';
const KEY_SECRET = 'cluster-secret-0123456789';
const TOKEN = 'cluster-token';
const TO = '+48500100200';
const THREAD = '66715bd6ef3efd9ecfe7a1cc';

interface Report {
  kind: 'sent' | 'done' | 'failed' | 'seen';
  id?: string;
  instance?: string;
  code?: string;
}

interface FlowOptions {
  sourceCluster: boolean;
  sinkCluster: boolean;
  onError?: 'local' | 'hold';
  rateLimit?: number;
  dedupeWindow?: number;
  message?: string;
  /** a second `privmx in` without cluster that reports every event it sees */
  watch?: boolean;
}

/** Node-RED's child process (the harness keeps it private; kill -9 needs it). */
const childOf = (red: NodeRedProcess) => (red as unknown as { child: ChildProcess }).child;

class Collector {
  readonly reports: Report[] = [];
  private server?: http.Server;
  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        try {
          this.reports.push(JSON.parse(body) as Report);
        } catch {
          // not ours
        }
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/report`;
  }
  /** reports of one kind (and code) about the given events only: a late report of an earlier step never counts */
  count(kind: Report['kind'], ids: readonly string[], code?: string): number {
    const wanted = new Set(ids);
    return this.reports.filter(
      (r) =>
        r.kind === kind && r.id !== undefined && wanted.has(r.id) && (code === undefined || r.code === code),
    ).length;
  }
  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('two Node-RED instances, one Redis', function () {
  this.timeout(600_000);
  let tmp: string;
  let redis: RedisServer;
  let bridge: FakePrivmxBridge;
  let smsapi: FakeSmsapi;
  const collector = new Collector();
  let reportUrl: string;
  const reds: Record<'A' | 'B', NodeRedProcess | undefined> = { A: undefined, B: undefined };
  const userDirs: Record<'A' | 'B', string> = { A: '', B: '' };
  let nextEvent = 0;

  async function start(name: 'A' | 'B'): Promise<NodeRedProcess> {
    const port = await freePort();
    // the flow's change node stamps each msg with the instance it ran on (env INSTANCE); the child
    // is spawned synchronously inside startNodeRed, so the variable is set only around that call
    const before = process.env.INSTANCE;
    process.env.INSTANCE = name;
    let starting: Promise<NodeRedProcess>;
    try {
      starting = startNodeRed(userDirs[name], port);
    } finally {
      if (before === undefined) delete process.env.INSTANCE;
      else process.env.INSTANCE = before;
    }
    reds[name] = await starting;
    return reds[name]!;
  }

  function flow(o: FlowOptions): Record<string, unknown>[] {
    const report = (id: string, expr: string) => ({
      id,
      type: 'change',
      z: 'tab',
      rules: [{ t: 'set', p: 'payload', pt: 'msg', to: expr, tot: 'jsonata' }],
      wires: [['post']],
    });
    const nodes: Record<string, unknown>[] = [
      { id: 'tab', type: 'tab', label: 'cluster' },
      { id: 'cl', type: 'sms-cluster', url: redis.url, prefix: 'e2e:', onError: o.onError ?? 'local' },
      {
        id: 'br',
        type: 'privmx-bridge',
        url: bridge.url,
        solutionId: '',
        credentials: { apiKeyId: KEY_ID, apiKeySecret: KEY_SECRET },
      },
      {
        id: 'acc',
        type: 'smsapi-account',
        url: smsapi.url,
        from: '',
        test: false,
        credentials: { token: TOKEN },
      },
      {
        id: 'in',
        type: 'privmx in',
        z: 'tab',
        bridge: 'br',
        channels: ['thread'],
        types: ['threadNewMessage'],
        cluster: o.sourceCluster ? 'cl' : '',
        wires: [['who']],
      },
      {
        id: 'who',
        type: 'change',
        z: 'tab',
        rules: [{ t: 'set', p: 'instance', pt: 'msg', to: 'INSTANCE', tot: 'env' }],
        wires: [['out']],
      },
      {
        id: 'out',
        type: 'smsapi out',
        z: 'tab',
        account: 'acc',
        to: TO,
        message: o.message ?? 'event {{payload.data.id}} via {{instance}}',
        rateLimit: o.rateLimit ?? 0,
        dedupeWindow: o.dedupeWindow ?? 0,
        maxParts: 3,
        queueSize: 5000,
        retries: 0,
        cluster: o.sinkCluster ? 'cl' : '',
        wires: [['rep-sent']],
      },
      report('rep-sent', '{"kind":"sent","id":event.id,"instance":instance}'),
      { id: 'catch', type: 'catch', z: 'tab', scope: ['out'], uncaught: false, wires: [['rep-failed']] },
      report('rep-failed', '{"kind":"failed","id":event.id,"instance":instance,"code":error.code}'),
      { id: 'complete', type: 'complete', z: 'tab', scope: ['out'], uncaught: false, wires: [['rep-done']] },
      report('rep-done', '{"kind":"done","id":event.id,"instance":instance}'),
      {
        id: 'post',
        type: 'http request',
        z: 'tab',
        method: 'POST',
        ret: 'txt',
        paytoqs: 'ignore',
        url: reportUrl,
        wires: [[]],
      },
    ];
    if (o.watch)
      nodes.push(
        {
          id: 'watch',
          type: 'privmx in',
          z: 'tab',
          bridge: 'br',
          channels: ['thread'],
          types: ['threadNewMessage'],
          wires: [['watch-who']],
        },
        {
          id: 'watch-who',
          type: 'change',
          z: 'tab',
          rules: [{ t: 'set', p: 'instance', pt: 'msg', to: 'INSTANCE', tot: 'env' }],
          wires: [['rep-seen']],
        },
        report('rep-seen', '{"kind":"seen","id":event.id,"instance":instance}'),
      );
    // Node-RED wants a position on every flow node
    return nodes.map((n, i) => (n.z ? { ...n, x: 100 + 20 * i, y: 100 + 40 * i } : n));
  }

  async function deployBoth(o: FlowOptions): Promise<void> {
    const nodes = flow(o);
    for (const red of [reds.A!, reds.B!]) {
      const res = await fetch(`${red.url}/flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify(nodes),
      });
      assert.ok(res.ok, `deploy: HTTP ${res.status}`);
    }
    await waitFor(
      () => bridge.subscriptions().filter((s) => s.includes('thread')).length === 2,
      60_000,
      'both instances subscribed',
    );
  }

  async function redisCommand<T>(args: string[]): Promise<T> {
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    try {
      return await client.sendCommand<T>(args);
    } finally {
      await client.close();
    }
  }

  /** reset the fakes, the collector and Redis between scenarios */
  async function fresh(): Promise<void> {
    smsapi.reset();
    collector.reports.length = 0;
    if (redis.running) await redisCommand(['FLUSHALL']);
  }

  function pushEvents(count: number): string[] {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `evt${String(nextEvent++).padStart(6, '0')}`;
      ids.push(id);
      bridge.push('thread', 'threadNewMessage', {
        id,
        threadId: THREAD,
        contextId: 'ctx',
        author: 'janek',
        createDate: 1_718_705_110_454 + nextEvent,
        keyId: 'my-key',
        publicMeta: null,
      });
    }
    return ids;
  }

  /** event id → how many SMS the fake accepted for it, and via which instances */
  function smsByEvent(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const sms of smsapi.accepted) {
      const m = /^event (\S+) via (\S+)$/.exec(sms.message);
      if (!m) continue;
      out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
    }
    return out;
  }

  before(async function () {
    tmp = makeTempDir('sms-notify-cluster-');
    const packed = await npmPack(tmp);
    [redis, bridge, smsapi, reportUrl] = await Promise.all([
      RedisServer.start(),
      FakePrivmxBridge.start({ apiKeys: [{ id: KEY_ID, secret: KEY_SECRET }] }),
      FakeSmsapi.start({ token: TOKEN }),
      collector.start(),
    ]);
    // two user dirs, each with the tarball installed the way the palette manager does it
    const [a, b] = await Promise.all([createUserDir(packed.tarball!, 0), createUserDir(packed.tarball!, 0)]);
    userDirs.A = a;
    userDirs.B = b;
    await Promise.all([start('A'), start('B')]);
  });

  after(async () => {
    await Promise.all([reds.A?.stop(), reds.B?.stop()]);
    await Promise.all([bridge?.close(), smsapi?.close(), collector.close(), redis?.stop()]);
    removeDir(userDirs.A);
    removeDir(userDirs.B);
    removeDir(tmp);
  });

  it('1,000 distinct events → exactly 1,000 SMS, each event once; both stay subscribed', async () => {
    await fresh();
    await deployBoth({ sourceCluster: true, sinkCluster: true });
    const ids = pushEvents(1000);
    await waitFor(
      () => collector.count('done', ids) + collector.count('failed', ids) >= 1000,
      120_000,
      '1,000 outcomes',
    );
    // one more event after the 1,000: once it is through, a late duplicate would have shown too
    const [last] = pushEvents(1);
    await waitFor(() => smsByEvent().has(last), 60_000, 'the last event');
    const sms = smsByEvent();
    assert.equal(collector.count('failed', ids), 0);
    for (const id of ids) assert.equal(sms.get(id)?.length, 1, `event ${id} sent once`);
    assert.equal(smsapi.accepted.length, 1001);
    const byA = [...sms.values()].filter((v) => v[0] === 'A').length;
    const byB = [...sms.values()].filter((v) => v[0] === 'B').length;
    console.log(`      instance A sent ${byA}, instance B sent ${byB}`);
    assert.equal(
      bridge.subscriptions().filter((s) => s.includes('thread')).length,
      2,
      'both still subscribed',
    );
  });

  it('rate limit 10/min on both instances → 10 SMS in total', async () => {
    await fresh();
    await deployBoth({ sourceCluster: true, sinkCluster: true, rateLimit: 10 });
    const ids = pushEvents(40);
    await waitFor(
      () => collector.count('done', ids) + collector.count('failed', ids) === 40,
      60_000,
      '40 outcomes',
    );
    assert.equal(smsapi.accepted.length, 10);
    assert.equal(collector.count('failed', ids, 'SMS_RATE_LIMITED'), 30);
  });

  it('the same text to the same number on both instances → 1 SMS', async () => {
    await fresh();
    // sources without a cluster: each instance emits the event, both sinks try the same SMS
    await deployBoth({
      sourceCluster: false,
      sinkCluster: true,
      dedupeWindow: 60,
      message: 'disk full on db1',
    });
    const ids = pushEvents(1);
    await waitFor(() => collector.count('done', ids) === 2, 60_000, 'both instances handled it');
    assert.equal(smsapi.accepted.length, 1);
    assert.equal(collector.count('sent', ids), 1);
  });

  it('Redis down: onError local keeps sending (duplicates counted), hold sends nothing; Redis back: exactly once', async () => {
    await fresh();
    await deployBoth({ sourceCluster: true, sinkCluster: true, onError: 'local' });
    await redis.stop();
    const local = pushEvents(20);
    // with no claims each instance emits every event: 40 SMS for 20 events
    await waitFor(() => smsapi.accepted.length === 40, 60_000, '40 SMS with local guards');
    const sms = smsByEvent();
    const duplicates = local.filter((id) => (sms.get(id)?.length ?? 0) > 1).length;
    console.log(`      Redis down, onError local: ${local.length} events, ${duplicates} sent twice`);
    assert.equal(duplicates, 20);

    smsapi.reset();
    collector.reports.length = 0;
    await deployBoth({ sourceCluster: true, sinkCluster: true, onError: 'hold', watch: true });
    const held = pushEvents(20);
    // both instances saw every event (the watch node); the claimed path decided long before
    await waitFor(() => collector.count('seen', held) === 40, 60_000, 'both instances saw the 20 events');
    assert.equal(smsapi.accepted.length, 0, 'hold: nothing sent');
    assert.equal(held.length, 20);

    // Redis back on the same port, empty: the instances reconnect by themselves (no redeploy)
    await redis.restart();
    const started = Date.now();
    const probes: string[] = [];
    await waitFor(
      () => {
        probes.push(...pushEvents(1));
        return smsapi.accepted.length > 0;
      },
      60_000,
      'an SMS after Redis came back',
    );
    console.log(`      Redis restarted: first SMS after ${Date.now() - started} ms`);
    const after = pushEvents(100);
    await waitFor(() => after.every((id) => smsByEvent().has(id)), 60_000, '100 SMS after the restart');
    const [last] = pushEvents(1);
    await waitFor(() => smsByEvent().has(last), 60_000, 'the last event');
    const counts = smsByEvent();
    for (const id of [...after, ...probes])
      assert.ok((counts.get(id)?.length ?? 0) <= 1, `${id} at most once`);
    for (const id of after) assert.equal(counts.get(id)?.length, 1, `${id} exactly once`);
  });

  it('kill -9 one instance mid-stream: the survivor carries on; lost = claimed by the dead one and not sent; none twice', async () => {
    await fresh();
    await deployBoth({ sourceCluster: true, sinkCluster: true });
    const pidB = childOf(reds.B!).pid!;
    const ids: string[] = [];
    let killed = false;
    for (let batch = 0; batch < 200; batch++) {
      ids.push(...pushEvents(5));
      if (!killed && smsapi.accepted.filter((s) => s.message.endsWith('via B')).length >= 100) {
        childOf(reds.B!).kill('SIGKILL');
        killed = true;
      }
      // pace the stream at ~250 events/s, about what two sequential sinks keep up with (the producer's
      // pace, not an assertion): "mid-stream" means B dies with a few SMS in flight, not a backlog
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!killed) childOf(reds.B!).kill('SIGKILL');
    const survivorId = (pid: number) => (id: string) => id.endsWith(`#${pid}`);
    const pidA = childOf(reds.A!).pid!;
    const claims = async () => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redisCommand<[string, string[]]>([
          'SCAN',
          cursor,
          'MATCH',
          'e2e:claim:*',
          'COUNT',
          '1000',
        ]);
        cursor = String(next);
        keys.push(...batch);
      } while (cursor !== '0');
      const values = keys.length ? await redisCommand<string[]>(['MGET', ...keys]) : [];
      return {
        total: keys.length,
        a: values.filter(survivorId(pidA)).length,
        b: values.filter(survivorId(pidB)).length,
      };
    };
    // every event is claimed (the survivor claims whatever the dead one never reached), and the
    // survivor sends every event it claimed
    const sentVia = (who: string) => [...smsByEvent().values()].filter((v) => v.includes(who)).length;
    let last = '';
    await waitFor(
      async () => {
        const c = await claims();
        last = `claims ${JSON.stringify(c)}, sent via A ${sentVia('A')}, via B ${sentVia('B')}, failed ${JSON.stringify(collector.reports.filter((r) => r.kind === 'failed').slice(0, 3))}`;
        return c.total === 1000 && sentVia('A') === c.a;
      },
      120_000,
      'the survivor to finish',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
    const c = await claims();
    const sms = smsByEvent();
    for (const [id, via] of sms) assert.equal(via.length, 1, `${id} sent once`);
    const lost = ids.filter((id) => !sms.has(id)).length;
    console.log(
      `      kill -9 mid-stream: A claimed ${c.a} and sent them all; B claimed ${c.b}, sent ${sentVia('B')}; lost ${lost}`,
    );
    assert.equal(c.a + c.b, 1000);
    assert.equal(lost, c.b - sentVia('B'), 'lost = claimed by the dead instance and not sent');
  });
});
