/**
 * The cluster store against a real Redis (Debian's redis-server on a free loopback port): claims,
 * the shared dedupe window and token bucket through the SMS pipeline, heartbeats, the onError
 * policies, and a Redis stop/restart with no unhandled rejection.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { ClusterGuards } from '../../nodes/lib/cluster/guards';
import { configIdentity, eventIdentity } from '../../nodes/lib/cluster/keys';
import { ClaimGate } from '../../nodes/lib/cluster/source-gate';
import { withCluster } from '../../nodes/lib/cluster/status';
import {
  type ClusterState,
  ClusterStore,
  type ClusterTuning,
  type OnError,
} from '../../nodes/lib/cluster/store';
import { testCluster } from '../../nodes/lib/cluster/test-connection';
import { pipelineOptions } from '../../nodes/lib/sms/options';
import { SmsPipeline } from '../../nodes/lib/sms/pipeline';
import type { SmsProvider, SmsSendRequest, SmsSendResult } from '../../nodes/lib/sms/provider';
import { waitFor } from '../helpers';
import { RedisServer } from '../cluster/redis-server';

const fast: Partial<ClusterTuning> = {
  heartbeatMs: 100,
  heartbeatTtlMs: 2_000,
  commandTimeoutMs: 1_000,
  reconnectInitialMs: 20,
  reconnectMaxMs: 200,
};

class RecordingProvider implements SmsProvider {
  readonly name = 'fake';
  readonly sent: SmsSendRequest[] = [];
  constructor(private readonly shared: SmsSendRequest[] = []) {}
  send(request: SmsSendRequest): Promise<SmsSendResult> {
    this.sent.push(request);
    this.shared.push(request);
    return Promise.resolve({ ids: [`id${this.shared.length}`], status: 'QUEUE' });
  }
}

const event = (n: number, extra: Record<string, unknown> = {}) => ({
  topic: 'privmx/thread/threadNewMessage',
  payload: { channel: 'thread', type: 'threadNewMessage', data: { id: `m${n}`, threadId: 't1', ...extra } },
  event: { source: 'privmx', type: 'threadNewMessage', id: `m${n}`, containerId: 't1', timestamp: 1 },
});

async function serverStat(url: string, field: string): Promise<number> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  const info = await client.sendCommand<string>(['INFO', 'stats']);
  await client.close();
  return Number(new RegExp(`${field}:(\\d+)`).exec(String(info))?.[1]);
}

async function flushAll(url: string): Promise<void> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  await client.sendCommand(['FLUSHALL']);
  await client.close();
}

describe('cluster store (real Redis)', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  const stores: ClusterStore[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  function store(
    onError: OnError = 'local',
    tune: Partial<ClusterTuning> = {},
    url = redis.url,
  ): ClusterStore {
    const s = new ClusterStore({ url, prefix: 'test:', onError }, () => {}, { ...fast, ...tune });
    stores.push(s);
    return s;
  }
  function user(s: ClusterStore): ClusterState[] {
    const states: ClusterState[] = [];
    s.register({ onClusterState: (state) => states.push(state) });
    return states;
  }
  const up = (s: ClusterStore) => waitFor(() => s.isUp, 10_000, 'Redis up');

  before(async () => {
    redis = await RedisServer.start();
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    if (!redis.running) await redis.restart();
    await flushAll(redis.url);
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await redis?.stop();
  });

  it('event and config identities: stable, content-sensitive, never the secret', () => {
    assert.equal(eventIdentity(event(1)), eventIdentity(JSON.parse(JSON.stringify(event(1)))));
    assert.notEqual(eventIdentity(event(1)), eventIdentity(event(2)));
    // two updates of one message share type, id and container, yet are two events
    assert.notEqual(
      eventIdentity(event(1, { status: 'sent' })),
      eventIdentity(event(1, { status: 'delivered' })),
    );
    assert.equal(
      configIdentity('http://u:secret@bridge:9111', 'key1'),
      configIdentity('http://bridge:9111', 'key1'),
    );
    assert.notEqual(
      configIdentity('http://bridge:9111', 'key1'),
      configIdentity('http://bridge:9111', 'key2'),
    );
  });

  it('claims: of two instances exactly one wins each event, in one write per tick', async () => {
    const a = store('local', { instanceId: 'a' });
    const b = store('local', { instanceId: 'b' });
    user(a);
    user(b);
    await up(a);
    await up(b);
    const readsBefore = await serverStat(redis.url, 'total_reads_processed');
    const key = (n: number) => a.keys.claim('node1', configIdentity(redis.url), eventIdentity(event(n)));
    const fromA = Array.from({ length: 300 }, (_, n) => a.claim(key(n)));
    const fromB = Array.from({ length: 300 }, (_, n) => b.claim(key(n)));
    const [wa, wb] = await Promise.all([Promise.all(fromA), Promise.all(fromB)]);
    for (let n = 0; n < 300; n++) assert.equal(Number(wa[n]) + Number(wb[n]), 1, `event ${n} won once`);
    const reads = (await serverStat(redis.url, 'total_reads_processed')) - readsBefore;
    // 600 claims issued in one tick reach Redis in a handful of reads (auto-pipelining), not 600
    assert.ok(reads < 40, `${reads} reads for 600 claims`);
    if (process.env.CLUSTER_VERBOSE) console.log(`      ${reads} server reads for 600 claims`);
    assert.equal(a.commands + b.commands >= 600, true);
  });

  it('claim gate: emits only won events, in arrival order; losses are counted', async () => {
    const a = store('local', { instanceId: 'a' });
    const b = store('local', { instanceId: 'b' });
    user(a);
    user(b);
    await up(a);
    await up(b);
    const gotA: number[] = [];
    const gotB: number[] = [];
    const ga = new ClaimGate(a, 'src', 'cfg', (m: ReturnType<typeof event>) =>
      gotA.push(Number(m.event.id.slice(1))),
    );
    const gb = new ClaimGate(b, 'src', 'cfg', (m: ReturnType<typeof event>) =>
      gotB.push(Number(m.event.id.slice(1))),
    );
    for (let n = 0; n < 500; n++) {
      ga.offer(event(n));
      gb.offer(event(n));
    }
    await waitFor(() => ga.counts.won + ga.counts.lost === 500 && gb.counts.won + gb.counts.lost === 500);
    const all = [...gotA, ...gotB].sort((x, y) => x - y);
    assert.deepEqual(
      all,
      Array.from({ length: 500 }, (_, n) => n),
      'each event emitted exactly once',
    );
    assert.deepEqual(
      gotA,
      [...gotA].sort((x, y) => x - y),
      'order kept',
    );
    assert.deepEqual(
      gotB,
      [...gotB].sort((x, y) => x - y),
      'order kept',
    );
    assert.equal(ga.counts.won + gb.counts.won, 500);
  });

  it('heartbeats: two instances are counted, status says so', async () => {
    const a = store('local', { instanceId: 'a' });
    const b = store('local', { instanceId: 'b' });
    user(a);
    user(b);
    await waitFor(() => a.state.instances === 2 && b.state.instances === 2, 10_000, 'two instances');
    const t = (key: string, p?: Record<string, unknown>) => `${key}${p ? JSON.stringify(p) : ''}`;
    assert.deepEqual(withCluster({ fill: 'green', shape: 'dot', text: 'subscribed' }, a.state, 'local', t), {
      fill: 'green',
      shape: 'dot',
      text: 'subscribed · common.cluster.instances{"count":2}',
    });
  });

  function pipeline(s: ClusterStore, shared: SmsSendRequest[], over: Record<string, unknown> = {}) {
    const opts = pipelineOptions({
      to: '+48500100200',
      message: '',
      rateLimit: 0,
      dedupeWindow: 60,
      ...over,
    });
    opts.guards = (local) =>
      new ClusterGuards(s, local, {
        nodeId: 'sink1',
        rateLimit: opts.rateLimit,
        dedupeWindowMs: opts.dedupeWindowMs,
      });
    return new SmsPipeline(opts, new RecordingProvider(shared));
  }

  it('shared dedupe: the same text to the same number on two instances goes out once', async () => {
    const a = store('local', { instanceId: 'a' });
    const b = store('local', { instanceId: 'b' });
    user(a);
    user(b);
    await up(a);
    await up(b);
    const sent: SmsSendRequest[] = [];
    const pa = pipeline(a, sent);
    const pb = pipeline(b, sent);
    const [ra, rb] = await Promise.all([
      pa.submit({ payload: 'disk full' }),
      pb.submit({ payload: 'disk full' }),
    ]);
    assert.equal(sent.length, 1);
    const kinds = [ra.outcomes[0].kind, rb.outcomes[0].kind].sort();
    assert.deepEqual(kinds, ['duplicate', 'sent']);
    // another text is not a duplicate; a closed pipeline leaves the shared entry in place
    await pa.close();
    const rc = await pb.submit({ payload: 'disk full' });
    assert.equal(rc.outcomes[0].kind, 'duplicate');
    assert.equal((await pb.submit({ payload: 'cpu hot' })).outcomes[0].kind, 'sent');
    await pb.close();
  });

  it('shared rate limit: one Lua token bucket per node id across instances', async () => {
    const a = store('local', { instanceId: 'a' });
    const b = store('local', { instanceId: 'b' });
    user(a);
    user(b);
    await up(a);
    await up(b);
    const sent: SmsSendRequest[] = [];
    const pa = pipeline(a, sent, { rateLimit: 5, dedupeWindow: 0 });
    const pb = pipeline(b, sent, { rateLimit: 5, dedupeWindow: 0 });
    const subs = await Promise.all(
      Array.from({ length: 12 }, (_, n) => (n % 2 ? pa : pb).submit({ payload: `alert ${n}` })),
    );
    const kinds = subs.map((s) => s.outcomes[0].kind);
    assert.equal(sent.length, 5);
    assert.equal(kinds.filter((k) => k === 'failed').length, 7);
    for (const s of subs)
      if (s.outcomes[0].kind === 'failed') assert.equal(s.outcomes[0].error.code, 'SMS_RATE_LIMITED');
    await Promise.all([pa.close(), pb.close()]);
  });

  it('Redis stop: local keeps emitting (counted), hold emits nothing and fails sends; restart: shared again', async () => {
    const local = store('local', { instanceId: 'a' });
    const hold = store('hold', { instanceId: 'b' });
    const localStates = user(local);
    user(hold);
    await up(local);
    await up(hold);
    const emitted: string[] = [];
    const gl = new ClaimGate(local, 'src', 'cfg', (m: ReturnType<typeof event>) =>
      emitted.push(`l${m.event.id}`),
    );
    const gh = new ClaimGate(hold, 'src', 'cfg', (m: ReturnType<typeof event>) =>
      emitted.push(`h${m.event.id}`),
    );
    const sent: SmsSendRequest[] = [];
    const ph = pipeline(hold, sent);

    await redis.stop();
    await waitFor(() => !local.isUp && !hold.isUp, 10_000, 'both see Redis down');
    assert.equal(localStates.at(-1)?.phase, 'down');
    gl.offer(event(1));
    gh.offer(event(1));
    await waitFor(() => gl.counts.unclaimed === 1 && gh.counts.held === 1);
    assert.deepEqual(emitted, ['lm1']);
    const refused = await ph.submit({ payload: 'held' });
    assert.equal(refused.outcomes[0].kind, 'failed');
    assert.equal(refused.outcomes[0].kind === 'failed' && refused.outcomes[0].error.code, 'SMS_CLUSTER_DOWN');
    assert.equal(sent.length, 0);
    const down = withCluster({}, local.state, 'local', (k) => k, gl.counts.unclaimed);
    assert.equal(down.fill, 'yellow');
    assert.equal(withCluster({}, hold.state, 'hold', (k) => k).fill, 'red');

    // same port, empty Redis (no persistence): both reconnect by themselves
    await redis.restart();
    await waitFor(() => local.isUp && hold.isUp, 10_000, 'both reconnect');
    gl.offer(event(2));
    gh.offer(event(2));
    await waitFor(() => gl.counts.won + gl.counts.lost + gh.counts.won + gh.counts.lost === 2);
    assert.equal(emitted.filter((e) => e.endsWith('m2')).length, 1, 'exactly once again');
    // the bucket script is gone from the restarted server: EVALSHA falls back to EVAL
    assert.equal(await hold.bucket('sink1', 3, 'take'), true);
    assert.equal((await ph.submit({ payload: 'back' })).outcomes[0].kind, 'sent');
    await ph.close();
  });

  it('an unreachable Redis is a state, not a crash; the last user leaving closes the client', async () => {
    const dead = await RedisServer.start();
    await dead.stop();
    const s = store('local', {}, dead.url);
    const states = user(s);
    await waitFor(() => states.some((st) => st.phase === 'down'), 10_000, 'down');
    assert.equal(await s.claim('test:x'), undefined);
    await s.close();
    assert.equal(s.state.phase, 'closed');
  });

  it('rediss:// verifies the server certificate: a self-signed one is refused, never used', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sms-notify-redis-tls-'));
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
    const tls = await RedisServer.start({ certFile, keyFile });
    try {
      assert.match(tls.url, /^rediss:/);
      await assert.rejects(
        testCluster({ url: tls.url }, {}, AbortSignal.timeout(5_000)),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'SMS_CLUSTER_DOWN');
          assert.match(err.message, /SELF_SIGNED|self.signed|certificate/i);
          return true;
        },
      );
      const s = store('local', {}, tls.url);
      const states = user(s);
      await waitFor(
        () => states.some((st) => st.phase === 'down' && /CERT|self.signed/i.test(st.reason ?? '')),
        10_000,
        'refused',
      );
      assert.equal(s.isUp, false);
    } finally {
      await tls.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Test connection: PING and the server version; a clear error when nothing listens', async () => {
    const ok = await testCluster({ url: redis.url }, {}, AbortSignal.timeout(5_000));
    assert.match(ok, /^PONG · Redis \d+\.\d+/);
    const dead = await RedisServer.start();
    await dead.stop();
    await assert.rejects(
      testCluster({ url: dead.url }, {}, AbortSignal.timeout(5_000)),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'SMS_CLUSTER_DOWN');
        return true;
      },
    );
    await assert.rejects(testCluster({ url: 'http://x' }, {}, AbortSignal.timeout(5_000)), /redis:\/\//);
  });
});
