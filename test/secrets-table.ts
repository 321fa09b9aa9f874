/**
 * The "Test connection" secrets table, shared by test/admin-endpoints.test.ts and the fault suite:
 * every config type deployed against its fake (through a recording forwarder, so what reaches the
 * deployed server is seen too), a core `mqtt-broker` with a password, and a config node of each type
 * in a disabled flow (credentials stored, node not deployed). A recording server on loopback stands
 * for "another address"; a redirector sends every request to it with a 307. `sms-cluster` speaks
 * Redis, not HTTP: its deployed address is a recording TCP forwarder to a real redis-server with an ACL
 * user, and its "another address" a TCP server that records the bytes (AUTH carries the password).
 */
import http from 'http';
import net from 'net';
import type { AddressInfo } from 'net';
import type { NodeAPI } from 'node-red';
import { WebSocketServer } from 'ws';
import clusterNodes from '../nodes/cluster';
import cpaasNodes from '../nodes/cpaas';
import esmsNodes from '../nodes/esms';
import pbxwareNodes from '../nodes/pbxware';
import privmxNodes from '../nodes/privmx';
import gatewayNodes from '../nodes/sms-gateway';
import smsapiNodes from '../nodes/smsapi';
import { resetAuthGuards } from '../nodes/lib/sms-gateway/auth-guard';
import { RedisServer } from './cluster/redis-server';
import { FakeCpaas } from './fakes/cpaas';
import { FakeEsms, startFakeEsms } from './fakes/esms';
import { FakePbxware, startFakePbxware } from './fakes/pbxware';
import { FakePrivmxBridge } from './fakes/privmx-bridge';
import { FakeSmsapi } from './fakes/smsapi';
import { FakeSmsGateway } from './fakes/sms-gateway';
import { helper } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const mqttNodes = require('@node-red/nodes/core/network/10-mqtt.js') as (RED: NodeAPI) => void;

export const TYPES = [
  'privmx-bridge',
  'sms-gateway',
  'esms-africa',
  'smsapi-account',
  'pbxware-server',
  'kandy-cpaas',
  'sms-cluster',
] as const;
export type ConfigType = (typeof TYPES)[number];
/** the types that speak HTTP (Redis has no redirects) */
export const HTTP_TYPES = TYPES.filter((t) => t !== 'sms-cluster');

export const NODE_MODULES = [
  privmxNodes,
  gatewayNodes,
  esmsNodes,
  smsapiNodes,
  pbxwareNodes,
  cpaasNodes,
  clusterNodes,
  mqttNodes,
];

/** the deployed node of each type, and its twin in a disabled flow */
export const OWN_ID: Record<ConfigType, string> = {
  'privmx-bridge': 'pb',
  'sms-gateway': 'gw',
  'esms-africa': 'es',
  'smsapi-account': 'sa',
  'pbxware-server': 'px',
  'kandy-cpaas': 'cp',
  'sms-cluster': 'rc',
};
export const FOREIGN_ID = 'mq';
const offId = (type: ConfigType) => `off-${OWN_ID[type]}`;

export const CREDENTIAL_KEYS: Record<ConfigType, string[]> = {
  'privmx-bridge': ['apiKeyId', 'apiKeySecret'],
  'sms-gateway': ['apiKey'],
  'esms-africa': ['accessToken', 'apiKey'],
  'smsapi-account': ['token'],
  'pbxware-server': ['apiKey'],
  'kandy-cpaas': ['clientSecret', 'email', 'password'],
  'sms-cluster': ['username', 'password'],
};

// ------------------------------------------------------------------------------------ recording

export interface Recorded {
  /** which server saw it: `recorder`, `redirector` or `deployed <type>` */
  where: string;
  what: string;
}

async function listenTcp(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const describeRequest = (req: http.IncomingMessage, body: Buffer | string = '') =>
  `${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n${body.toString()}`;

export class Recording {
  readonly log: Recorded[] = [];
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();

  private track<S extends net.Server>(server: S): S {
    this.servers.push(server);
    server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    return server;
  }

  /** "another address": records every request, upgrade and WebSocket frame; answers 404 */
  async recorder(): Promise<string> {
    const wss = new WebSocketServer({ noServer: true });
    const server = this.track(
      http.createServer((req, res) => {
        void readBody(req).then((body) => {
          this.log.push({ where: 'recorder', what: describeRequest(req, body) });
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not here"}');
        });
      }),
    );
    server.on('upgrade', (req, socket, head) => {
      this.log.push({ where: 'recorder', what: `UPGRADE ${describeRequest(req)}` });
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data) => this.log.push({ where: 'recorder', what: `FRAME ${String(data)}` }));
      });
    });
    server.on('close', () => wss.close());
    return listen(server);
  }

  /** answers every request and upgrade with a 307 to `target` (same path) */
  async redirector(target: string): Promise<string> {
    const server = this.track(
      http.createServer((req, res) => {
        void readBody(req).then((body) => {
          this.log.push({ where: 'redirector', what: describeRequest(req, body) });
          res.writeHead(307, { location: target + (req.url ?? '/') }).end();
        });
      }),
    );
    server.on('upgrade', (req, socket) => {
      this.log.push({ where: 'redirector', what: `UPGRADE ${describeRequest(req)}` });
      socket.end(`HTTP/1.1 307 Temporary Redirect\r\nLocation: ${target}${req.url ?? '/'}\r\n\r\n`);
    });
    return listen(server);
  }

  /** the "deployed" address of a type: records each request and upgrade, then passes it to the fake */
  async forwarder(type: ConfigType, target: string): Promise<string> {
    const to = new URL(target);
    const where = `deployed ${type}`;
    const server = this.track(
      http.createServer((req, res) => {
        void readBody(req).then((body) => {
          this.log.push({ where, what: describeRequest(req, body) });
          const upstream = http.request(
            { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
            (answer) => {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
            },
          );
          upstream.on('error', () => res.writeHead(502).end());
          upstream.end(body);
        });
      }),
    );
    server.on('upgrade', (req, socket, head) => {
      this.log.push({ where, what: `UPGRADE ${describeRequest(req)}` });
      const upstream = net.connect(Number(to.port), to.hostname, () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2)
          lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        upstream.write(lines.join('\r\n') + '\r\n\r\n');
        upstream.write(head);
        socket.pipe(upstream).pipe(socket);
      });
      this.sockets.add(upstream);
      upstream.on('close', () => this.sockets.delete(upstream));
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    return listen(server);
  }

  /** "another address" for Redis: records every byte a client sends, answers an error and hangs up */
  async redisRecorder(): Promise<string> {
    const server = this.track(
      net.createServer((socket) => {
        const entry: Recorded = { where: 'recorder', what: '' };
        this.log.push(entry);
        socket.on('error', () => undefined);
        socket.on('data', (chunk: Buffer) => {
          entry.what += chunk.toString('latin1');
          socket.end('-ERR not here\r\n');
        });
      }),
    );
    return `redis://127.0.0.1:${await listenTcp(server)}`;
  }

  /** the deployed address of `sms-cluster`: records what clients send, passes the bytes to Redis */
  async redisForwarder(port: number): Promise<string> {
    const server = this.track(
      net.createServer((socket) => {
        const entry: Recorded = { where: 'deployed sms-cluster', what: '' };
        this.log.push(entry);
        const upstream = net.connect(port, '127.0.0.1');
        this.sockets.add(upstream);
        upstream.on('close', () => this.sockets.delete(upstream));
        socket.on('data', (chunk: Buffer) => {
          entry.what += chunk.toString('latin1');
          upstream.write(chunk);
        });
        upstream.pipe(socket);
        upstream.on('error', () => socket.destroy());
        socket.on('error', () => upstream.destroy());
        socket.on('close', () => upstream.destroy());
      }),
    );
    return `redis://127.0.0.1:${await listenTcp(server)}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** the ways a value may travel: raw, URL-encoded (forms, query strings), base64 (Basic auth) */
export function variants(value: string): string[] {
  return [...new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')])];
}

// ----------------------------------------------------------------------------------- deployment

/** the `sms-cluster` node's stored credentials: an ACL user of the test's Redis */
const REDIS_USER = { username: 'tbl-redis-user-Kk2', password: 'tbl-Redis-Passw0rd-Mm4' };

export class Deployment {
  readonly recording = new Recording();
  bridge!: FakePrivmxBridge;
  gateway!: FakeSmsGateway;
  esms!: FakeEsms;
  smsapi!: FakeSmsapi;
  pbx!: FakePbxware;
  cpaas!: FakeCpaas;
  /** a real Redis whose ACL user is the `sms-cluster` node's */
  redis!: RedisServer;
  /** the address each config node was deployed with (its forwarder) */
  readonly deployedUrl = {} as Record<ConfigType, string>;
  recorderUrl = '';
  redirectorUrl = '';
  redisRecorderUrl = '';
  private esmsToken = '';

  async start(): Promise<void> {
    this.bridge = await FakePrivmxBridge.start({
      apiKeys: [{ id: 'tbl-bridge-key-id-W3', secret: 'tbl-Bridge-S3cret-Kd9' }],
    });
    this.gateway = await new FakeSmsGateway({ rateLimit: { max: 100_000, windowMs: 60_000 } }).start();
    this.gateway.addKey('sgw_tb1e5ec7e75ec7e75ec7e75ec7e75ec7');
    this.esms = await startFakeEsms();
    this.esms.apiKeys.add('esms_live_TBLK3YQQ41');
    this.esmsToken = this.esms.token();
    this.smsapi = await FakeSmsapi.start({ token: 'tbl-Smsapi-T0ken-Uu2' });
    this.pbx = await startFakePbxware();
    this.pbx.apiKey = 'tbl-Pbx-K3y-Rr6';
    this.cpaas = await new FakeCpaas({
      users: [{ email: 'tbl.carol@example.com', password: 'tbl-Cpaas-Passw0rd-Nn5', userId: 'carol' }],
    }).start();
    const { username, password } = REDIS_USER;
    this.redis = await RedisServer.start(undefined, [
      '--user',
      username,
      'on',
      `>${password}`,
      '~*',
      '&*',
      '+@all',
    ]);
    const fakes: Record<Exclude<ConfigType, 'sms-cluster'>, string> = {
      'privmx-bridge': this.bridge.url,
      'sms-gateway': this.gateway.url,
      'esms-africa': this.esms.url,
      'smsapi-account': this.smsapi.url,
      'pbxware-server': this.pbx.url,
      'kandy-cpaas': this.cpaas.url,
    };
    for (const type of HTTP_TYPES) this.deployedUrl[type] = await this.recording.forwarder(type, fakes[type]);
    this.deployedUrl['sms-cluster'] = await this.recording.redisForwarder(this.redis.port);
    this.recorderUrl = await this.recording.recorder();
    this.redisRecorderUrl = await this.recording.redisRecorder();
    this.redirectorUrl = await this.recording.redirector(this.recorderUrl);
  }

  async close(): Promise<void> {
    await this.recording.close();
    await Promise.all([
      this.bridge?.close(),
      this.gateway?.close(),
      this.esms?.close(),
      this.smsapi?.close(),
      this.pbx?.close(),
      this.cpaas?.close(),
      this.redis?.stop(),
    ]);
    resetAuthGuards();
  }

  /** "another address" for a type: the HTTP recorder, or the Redis one */
  otherUrl(type: ConfigType): string {
    return type === 'sms-cluster' ? this.redisRecorderUrl : this.recorderUrl;
  }

  /** the settings of a type's dialog, as the editor posts them, at `url` */
  config(type: ConfigType, url: string): Record<string, unknown> {
    switch (type) {
      case 'privmx-bridge':
        return { url, solutionId: '' };
      case 'sms-gateway':
        return { url, from: '+15559876543', wsAuth: 'token' };
      case 'esms-africa':
        return { url };
      case 'smsapi-account':
        return { url, from: 'Alert', test: false };
      case 'pbxware-server':
        return { url, tenant: this.pbx.tenant, api: 'action' };
      case 'kandy-cpaas':
        // user mode: the password grant, the case where another package's `password` could travel
        return { url, clientId: this.cpaas.clientId, auth: 'user', from: '+15550001111' };
      case 'sms-cluster':
        return { url, prefix: 'tbl:', onError: 'local' };
    }
  }

  /** the stored credentials of every node: all of them are secrets that must not travel */
  credentials(): Record<string, Record<string, string>> {
    return {
      pb: { apiKeyId: 'tbl-bridge-key-id-W3', apiKeySecret: 'tbl-Bridge-S3cret-Kd9' },
      gw: { apiKey: 'sgw_tb1e5ec7e75ec7e75ec7e75ec7e75ec7' },
      es: { accessToken: this.esmsToken, apiKey: 'esms_live_TBLK3YQQ41' },
      sa: { token: 'tbl-Smsapi-T0ken-Uu2' },
      px: { apiKey: 'tbl-Pbx-K3y-Rr6' },
      cp: { email: 'tbl.carol@example.com', password: 'tbl-Cpaas-Passw0rd-Nn5' },
      rc: { ...REDIS_USER },
      [FOREIGN_ID]: { user: 'mqtt-user-Ff1', password: 'mqtt-Passw0rd-Foreign-Gg7' },
      'off-pb': { apiKeyId: 'off-bridge-key-id-Aa1', apiKeySecret: 'off-Bridge-S3cret-Bb2' },
      'off-gw': { apiKey: 'sgw_0ff0ff0ff0ff0ff0ff0ff0ff0ff0ff0f' },
      'off-es': { accessToken: 'off-Esms-T0ken-Cc3', apiKey: 'esms_live_0FFK3YDD44' },
      'off-sa': { token: 'off-Smsapi-T0ken-Ee5' },
      'off-px': { apiKey: 'off-Pbx-K3y-Hh8' },
      'off-cp': { email: 'off.dave@example.com', password: 'off-Cpaas-Passw0rd-Jj9' },
      'off-rc': { username: 'off-redis-user-Pp3', password: 'off-Redis-Passw0rd-Qq7' },
    };
  }

  flow(): Record<string, unknown>[] {
    const nodes: Record<string, unknown>[] = [
      { id: 't1', type: 'tab', label: 'deployed' },
      { id: 't-off', type: 'tab', label: 'disabled', disabled: true },
      { id: FOREIGN_ID, type: 'mqtt-broker', name: 'foreign', broker: '127.0.0.1', port: '1', clientid: '' },
    ];
    for (const type of TYPES) {
      nodes.push({ id: OWN_ID[type], type, name: type, ...this.config(type, this.deployedUrl[type]) });
      nodes.push({
        id: offId(type),
        type,
        z: 't-off',
        name: `${type} (disabled)`,
        ...this.config(type, this.deployedUrl[type]),
      });
    }
    return nodes;
  }

  async load(): Promise<void> {
    await helper.load(NODE_MODULES, this.flow(), this.credentials());
  }

  /** every stored secret of node `id` */
  secretsOf(id: string): string[] {
    return Object.values(this.credentials()[id] ?? {});
  }

  /** every stored secret of every node, as [node id, value] */
  allSecrets(): [string, string][] {
    return Object.entries(this.credentials()).flatMap(([id, c]) =>
      Object.values(c).map((v) => [id, v] as [string, string]),
    );
  }

  /** recorded traffic since `from` that carries a stored secret, as `<node>'s secret at <where>` */
  leaksSince(from: number, allowed: (id: string, where: string) => boolean = () => false): string[] {
    const hits: string[] = [];
    for (const entry of this.recording.log.slice(from))
      for (const [id, secret] of this.allSecrets())
        if (!allowed(id, entry.where) && variants(secret).some((v) => entry.what.includes(v)))
          hits.push(`${id}'s secret at ${entry.where}`);
    return [...new Set(hits)];
  }
}

// --------------------------------------------------------------------------------------- table

export type IdCase = 'own' | 'other type' | 'foreign package' | 'not deployed';
export const ID_CASES: IdCase[] = ['own', 'other type', 'foreign package', 'not deployed'];
export type UrlCase = 'deployed' | 'other';
export type BodyCase = 'JSON' | 'form';

export interface Outcome {
  type: ConfigType;
  id: IdCase;
  url: UrlCase;
  body: BodyCase;
  status: number;
  answer: { ok?: boolean; code?: string; error?: string; message?: string };
  /** stored secrets that reached any recorded server when they should not */
  leaks: string[];
  /** the own node's secrets reached the deployed server (expected only for own id + deployed URL + JSON) */
  delivered: boolean;
  /** requests, upgrades and frames any recorded server saw during the case */
  recorded: number;
}

/** for "other type": a deployed node of ours whose credential names overlap where any do (apiKey) */
const OTHER_TYPE: Record<ConfigType, ConfigType> = {
  'privmx-bridge': 'sms-gateway',
  'sms-gateway': 'esms-africa',
  'esms-africa': 'pbxware-server',
  'smsapi-account': 'sms-gateway',
  'pbxware-server': 'esms-africa',
  'kandy-cpaas': 'sms-gateway',
  'sms-cluster': 'kandy-cpaas',
};

export function idFor(type: ConfigType, id: IdCase): string {
  if (id === 'own') return OWN_ID[type];
  if (id === 'other type') return OWN_ID[OTHER_TYPE[type]];
  if (id === 'foreign package') return FOREIGN_ID;
  return offId(type);
}

/**
 * The credentials an untouched dialog posts: `__PWRD__` for every secret; a text credential (the
 * CPaaS email, the Redis ACL user) is shown to the editor, so it is posted as it is (the own node's).
 */
export function editorCredentials(d: Deployment, type: ConfigType): Record<string, string> {
  const out = Object.fromEntries(CREDENTIAL_KEYS[type].map((k) => [k, '__PWRD__']));
  if (type === 'kandy-cpaas') out.email = d.credentials().cp.email;
  if (type === 'sms-cluster') out.username = d.credentials().rc.username;
  return out;
}

/** Form encoding of a nested object the way a browser form / jQuery would send it. */
function formEncode(body: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(body)) {
    if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) params.append(`${key}[${k}]`, String(v));
    else params.append(key, String(value));
  }
  return params.toString();
}

/** POST a test request (JSON or form-encoded) to the admin app. */
export async function postTest(
  type: string,
  body: Record<string, unknown>,
  shape: BodyCase = 'JSON',
): Promise<{ status: number; answer: Outcome['answer'] }> {
  const req = helper.request().post(`/sms-notify/test/${type}`);
  const res =
    shape === 'JSON'
      ? await req.set('content-type', 'application/json').send(JSON.stringify(body))
      : await req.set('content-type', 'application/x-www-form-urlencoded').send(formEncode(body));
  return { status: res.status, answer: (res.body ?? {}) as Outcome['answer'] };
}

/** Every case of the table, one request each; what the servers recorded is checked per case. */
export async function runTable(d: Deployment): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const type of TYPES)
    for (const id of ID_CASES)
      for (const url of ['deployed', 'other'] as UrlCase[])
        for (const body of ['JSON', 'form'] as BodyCase[]) {
          const nodeId = idFor(type, id);
          const placeholders = editorCredentials(d, type);
          const from = d.recording.log.length;
          const { status, answer } = await postTest(
            type,
            {
              id: nodeId,
              config: d.config(type, url === 'deployed' ? d.deployedUrl[type] : d.otherUrl(type)),
              credentials: placeholders,
            },
            body,
          );
          const mayDeliver = id === 'own' && url === 'deployed' && body === 'JSON';
          const own = (sid: string, where: string) =>
            mayDeliver && sid === nodeId && where === `deployed ${type}`;
          const delivered = d
            .leaksSince(from)
            .some((hit) => hit === `${nodeId}'s secret at deployed ${type}`);
          const leaks = d.leaksSince(from, own);
          const recorded = d.recording.log.length - from;
          outcomes.push({ type, id, url, body, status, answer, leaks, delivered, recorded });
        }
  return outcomes;
}

/** How a case ended, for a table cell. */
export function verdict(o: Outcome): string {
  if (o.status !== 200) return `HTTP ${o.status}${o.recorded === 0 ? ', nothing sent' : ''}`;
  if (o.answer.ok) return o.delivered ? 'tested with the stored secret' : 'ok';
  return `${o.answer.code ?? 'error'}${o.recorded === 0 ? ', nothing sent' : ''}`;
}

// ----------------------------------------------------------------------- typed secrets, redirects

/** secrets typed in the dialog (never stored anywhere) */
export function typedSecrets(d: Deployment, type: ConfigType): Record<string, string> {
  const typed: Record<ConfigType, Record<string, string>> = {
    'privmx-bridge': { apiKeyId: 'typed-bridge-id-Xx1', apiKeySecret: 'typed-Bridge-S3cret-Yy2' },
    'sms-gateway': { apiKey: 'sgw_typed0typed0typed0typed0typed0t' },
    // the token must look valid (a JWT not expired) or the test stops before connecting
    'esms-africa': { accessToken: d.esms.token({ sub: 'typed-user' }), apiKey: 'esms_live_TYPEDK3Y77' },
    'smsapi-account': { token: 'typed-Smsapi-T0ken-Zz3' },
    'pbxware-server': { apiKey: 'typed-Pbx-K3y-Ww4' },
    'kandy-cpaas': {
      clientSecret: '',
      email: 'typed.erin@example.com',
      password: 'typed-Cpaas-Passw0rd-Vv5',
    },
    'sms-cluster': { username: 'typed-redis-user-Tt6', password: 'typed-Redis-Passw0rd-Ss8' },
  };
  return typed[type];
}

export const carries = (text: string, values: string[]) =>
  values.some((value) => value && variants(value).some((v) => text.includes(v)));

/** Typed secrets to a server that answers 307 to another origin (the recorder). */
export async function runRedirects(
  d: Deployment,
): Promise<{ type: ConfigType; answer: Outcome['answer']; followed: boolean }[]> {
  const out = [];
  for (const type of HTTP_TYPES) {
    const typed = typedSecrets(d, type);
    const from = d.recording.log.length;
    const { answer } = await postTest(type, { config: d.config(type, d.redirectorUrl), credentials: typed });
    const atTarget = d.recording.log.slice(from).filter((r) => r.where === 'recorder');
    out.push({ type, answer, followed: atTarget.some((r) => carries(r.what, Object.values(typed))) });
  }
  return out;
}

export const USERINFO = 'alice:Us3rinfo-Pa55';

/**
 * URLs with user:pass@ (a server that answers, one that redirects, a closed port), for each type; for
 * Redis: the recorder, the real Redis (which refuses the typed user) and a closed port.
 */
export async function runUserinfo(
  d: Deployment,
): Promise<{ type: ConfigType; url: string; answer: Outcome['answer']; echoed: boolean }[]> {
  const withUserinfo = (url: string) => url.replace('://', `://${USERINFO}@`);
  const out = [];
  for (const type of TYPES)
    for (const url of (type === 'sms-cluster'
      ? [d.redisRecorderUrl, d.deployedUrl[type], 'redis://127.0.0.1:1']
      : [d.recorderUrl, d.redirectorUrl, 'http://127.0.0.1:1']
    ).map(withUserinfo)) {
      const { answer } = await postTest(type, {
        config: d.config(type, url),
        credentials: typedSecrets(d, type),
      });
      const text = JSON.stringify(answer);
      out.push({ type, url, answer, echoed: text.includes('Us3rinfo-Pa55') || text.includes('alice:') });
    }
  return out;
}
