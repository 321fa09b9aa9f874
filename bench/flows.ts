/**
 * The flows the benchmarks deploy. Every ingest flow ends in the same counting sink (a `function`
 * node calling `global.get('benchHit')(msg)`), so the flows differ only in how events get there.
 */
import { BENCH_KEY_ID, BENCH_KEY_SECRET } from './bridge-server';
import { WATCHED_THREAD } from './events';

export type FlowName =
  | 'core'
  | 'privmx'
  | 'privmx-prefilter'
  | 'core-functions'
  | 'privmx-functions'
  | 'burst-sms-gateway'
  | 'burst-esms'
  | 'burst-cpaas'
  | 'latency-core'
  | 'latency-privmx'
  | 'latency-privmx-http'
  | 'latency-core-smsapi'
  | 'sink-smsapi'
  | 'sink-gateway';

export interface FlowParams {
  /** the bench Bridge server (also serves /raw for the core flow) */
  port: number;
  smsapiUrl?: string;
  smsapiToken?: string;
  gatewayUrl?: string;
  gatewayKey?: string;
  esmsUrl?: string;
  esmsToken?: string;
  cpaasUrl?: string;
  cpaasClientId?: string;
  cpaasSecret?: string;
  cpaasFrom?: string;
  /** SMS recipient */
  to?: string;
  /** pipeline concurrency for the sinks (the node property, where the node has it) */
  concurrency?: number;
  /** a Redis URL: every source and sink of the flow uses an `sms-cluster` on it */
  cluster?: string;
}

type N = Record<string, unknown>;

export interface FlowSpec {
  flows: N[];
  credentials: Record<string, Record<string, string>>;
}

export const TAB = { id: 'bench-tab', type: 'tab', label: 'bench' };
export const RECIPIENT = '+48500100200';
/** the SMS text both latency flows send: the event id makes each request traceable */
export const SMS_TEMPLATE = 'New message {{event.id}} in {{event.containerId}}';

const fn = (id: string, body: string, wires: string[] = []): N => ({
  id,
  type: 'function',
  z: TAB.id,
  name: id,
  func: body,
  outputs: 1,
  wires: [wires],
});

/**
 * The counting sink every flow ends in: a minimal node (`bench count`, installed by bench/nodered.ts
 * into the throw-away user directory) that calls the global `benchHit` or `benchError`. A `function`
 * node costs ~5 µs a message in its sandbox, the same for every flow, which would only blur the ratios.
 */
const counter = (id: string, counts: 'hit' | 'error'): N => ({
  id,
  type: 'bench count',
  z: TAB.id,
  counts,
  wires: [],
});
const countingSink = () => counter('sink', 'hit');

/** `websocket in` (client) → `json` → `switch` (the watched thread) → next */
function coreIngest(port: number, next: string): N[] {
  return [
    {
      id: 'ws-client',
      type: 'websocket-client',
      path: `ws://127.0.0.1:${port}/raw`,
      tls: '',
      wholemsg: 'false',
      hb: '0',
      subprotocol: '',
      headers: [],
    },
    { id: 'ws-in', type: 'websocket in', z: TAB.id, server: '', client: 'ws-client', wires: [['json']] },
    {
      id: 'json',
      type: 'json',
      z: TAB.id,
      property: 'payload',
      action: 'obj',
      pretty: false,
      wires: [['switch']],
    },
    {
      id: 'switch',
      type: 'switch',
      z: TAB.id,
      property: 'payload.data.threadId',
      propertyType: 'msg',
      rules: [{ t: 'eq', v: WATCHED_THREAD, vt: 'str' }],
      checkall: 'true',
      repair: false,
      outputs: 1,
      wires: [[next]],
    },
  ];
}

/** `privmx-bridge` + `privmx in` (+ its own type/thread pre-filter) → `event filter` → next */
function privmxIngest(port: number, next: string, prefilter: boolean): FlowSpec {
  const source: N = {
    id: 'privmx-in',
    type: 'privmx in',
    z: TAB.id,
    name: '',
    bridge: 'bridge',
    channels: ['thread'],
    types: prefilter ? ['threadNewMessage'] : [],
    containerIds: prefilter ? [WATCHED_THREAD] : [],
    wires: [['filter']],
  };
  return {
    flows: [
      { id: 'bridge', type: 'privmx-bridge', name: 'bench', url: `http://127.0.0.1:${port}`, solutionId: '' },
      source,
      {
        id: 'filter',
        type: 'event filter',
        z: TAB.id,
        name: '',
        rules: [
          { property: 'event.type', op: 'eq', value: 'threadNewMessage' },
          { property: 'event.containerId', op: 'eq', value: WATCHED_THREAD },
        ],
        combine: 'all',
        outputs: 1,
        wires: [[next]],
      },
    ],
    credentials: { bridge: { apiKeyId: BENCH_KEY_ID, apiKeySecret: BENCH_KEY_SECRET } },
  };
}

const sinkProps = (p: FlowParams) => ({
  to: p.to ?? RECIPIENT,
  rateLimit: 0,
  dedupeWindow: 0,
  maxParts: 3,
  queueSize: 100_000,
  concurrency: p.concurrency ?? '',
});

function smsapiOut(p: FlowParams, message: string, next: string[]): FlowSpec {
  return {
    flows: [
      { id: 'smsapi-cfg', type: 'smsapi-account', name: 'bench', url: p.smsapiUrl, from: '', test: false },
      {
        id: 'sms',
        type: 'smsapi out',
        z: TAB.id,
        account: 'smsapi-cfg',
        message,
        ...sinkProps(p),
        wires: [next],
      },
    ],
    credentials: { 'smsapi-cfg': { token: p.smsapiToken ?? '' } },
  };
}

/** what a core-node user builds for the same job: a function shaping the SMSAPI request + http request */
const coreSmsRequest = (p: FlowParams, from: string) => `const d = msg.${from};
msg.url = ${JSON.stringify(p.smsapiUrl + '/sms.do')};
msg.method = 'POST';
msg.headers = { authorization: ${JSON.stringify('Bearer ' + p.smsapiToken)}, 'content-type': 'application/json' };
msg.payload = { to: '${RECIPIENT}', message: 'New message ' + d.id + ' in ' + (d.threadId || d.containerId), format: 'json', max_parts: 3 };
return msg;`;

/** Node-RED treats a node without x/y as a config node: give every flow node a position */
export function placed(nodes: N[]): N[] {
  let i = 0;
  return nodes.map((n) =>
    n.z && n.x === undefined ? { ...n, x: 120 + 160 * i, y: 80 + 40 * (i++ % 2) } : n,
  );
}

/**
 * What a user hangs after the routing: a `function` node on each output (`return msg;` plus a little
 * work). The matches go on to the counting sink; the rest end in their function node.
 */
const USER_WORK = `msg.seen = (msg.event && msg.event.id) || (msg.payload && msg.payload.data && msg.payload.data.id);
msg.at = Date.now();
return msg;`;
const userFunctions = (): N[] => [fn('fn-match', USER_WORK, ['sink']), fn('fn-other', USER_WORK)];

/** flow P: privmx in → event filter (2 outputs) → a function node on each output */
function privmxFunctions(port: number): FlowSpec {
  const s = privmxIngest(port, 'fn-match', false);
  const flows = s.flows.map((n) =>
    n.id === 'filter'
      ? {
          ...n,
          rules: [{ property: 'event.containerId', op: 'eq', value: WATCHED_THREAD }],
          outputs: 2,
          wires: [['fn-match'], ['fn-other']],
        }
      : n,
  );
  return { flows: [...flows, ...userFunctions(), countingSink()], credentials: s.credentials };
}

/** flow B: websocket in → json → switch (watched thread / otherwise) → the same function nodes */
function coreFunctions(port: number): FlowSpec {
  const flows = coreIngest(port, 'fn-match').map((n) =>
    n.id === 'switch'
      ? {
          ...n,
          rules: [{ t: 'eq', v: WATCHED_THREAD, vt: 'str' }, { t: 'else' }],
          checkall: 'false',
          outputs: 2,
          wires: [['fn-match'], ['fn-other']],
        }
      : n,
  );
  return { flows: [...flows, ...userFunctions(), countingSink()], credentials: {} };
}

/** `<source> in` → the counting sink, for the per-source bursts (bench/source-bursts.ts) */
function sourceBurst(name: FlowName, p: FlowParams): FlowSpec {
  const source = (type: string, extra: N): N => ({ id: 'src', type, z: TAB.id, wires: [['sink']], ...extra });
  switch (name) {
    case 'burst-sms-gateway':
      return {
        flows: [
          { id: 'gw', type: 'sms-gateway', url: p.gatewayUrl, from: RECIPIENT, wsAuth: 'token' },
          source('sms-gateway in', { gateway: 'gw', events: [] }),
          countingSink(),
        ],
        credentials: { gw: { apiKey: p.gatewayKey ?? '' } },
      };
    case 'burst-esms':
      return {
        flows: [
          { id: 'es', type: 'esms-africa', url: p.esmsUrl },
          source('esms in', { esms: 'es', events: [] }),
          countingSink(),
        ],
        credentials: { es: { accessToken: p.esmsToken ?? '' } },
      };
    default:
      return {
        flows: [
          {
            id: 'cp',
            type: 'kandy-cpaas',
            url: p.cpaasUrl,
            clientId: p.cpaasClientId,
            auth: 'project',
            from: p.cpaasFrom,
          },
          source('cpaas in', { cpaas: 'cp', destination: '', events: [] }),
          countingSink(),
        ],
        credentials: { cp: { clientSecret: p.cpaasSecret ?? '' } },
      };
  }
}

export function buildFlow(name: FlowName, p: FlowParams): FlowSpec {
  const spec = ((): FlowSpec => {
    switch (name) {
      case 'core':
        return { flows: [...coreIngest(p.port, 'sink'), countingSink()], credentials: {} };
      case 'burst-sms-gateway':
      case 'burst-esms':
      case 'burst-cpaas':
        return sourceBurst(name, p);
      case 'core-functions':
        return coreFunctions(p.port);
      case 'privmx-functions':
        return privmxFunctions(p.port);
      case 'privmx':
      case 'privmx-prefilter': {
        const s = privmxIngest(p.port, 'sink', name === 'privmx-prefilter');
        return { flows: [...s.flows, countingSink()], credentials: s.credentials };
      }
      case 'latency-core':
      case 'latency-privmx-http': {
        const ingest: FlowSpec =
          name === 'latency-core'
            ? { flows: coreIngest(p.port, 'request'), credentials: {} }
            : privmxIngest(p.port, 'request', false);
        return {
          flows: [
            ...ingest.flows,
            fn('request', coreSmsRequest(p, name === 'latency-core' ? 'payload.data' : 'event'), ['http']),
            {
              id: 'http',
              type: 'http request',
              z: TAB.id,
              method: 'use',
              ret: 'obj',
              paytoqs: 'ignore',
              url: '',
              tls: '',
              persist: true,
              proxy: '',
              insecureHTTPParser: false,
              authType: '',
              senderr: false,
              headers: [],
              wires: [[]],
            },
          ],
          credentials: ingest.credentials,
        };
      }
      case 'latency-core-smsapi': {
        const out = smsapiOut(p, 'New message {{payload.data.id}} in {{payload.data.threadId}}', []);
        return { flows: [...coreIngest(p.port, 'sms'), ...out.flows], credentials: out.credentials };
      }
      case 'latency-privmx': {
        const s = privmxIngest(p.port, 'sms', false);
        const out = smsapiOut(p, SMS_TEMPLATE, []);
        return { flows: [...s.flows, ...out.flows], credentials: { ...s.credentials, ...out.credentials } };
      }
      case 'sink-smsapi': {
        const out = smsapiOut(p, '', ['sink']);
        return { flows: [...out.flows, countingSink(), ...errorCounter()], credentials: out.credentials };
      }
      case 'sink-gateway':
        return {
          flows: [
            {
              id: 'gateway-cfg',
              type: 'sms-gateway',
              name: 'bench',
              url: p.gatewayUrl,
              from: '+15559876543',
              wsAuth: 'token',
            },
            {
              id: 'sms',
              type: 'sms-gateway out',
              z: TAB.id,
              gateway: 'gateway-cfg',
              message: '',
              from: '',
              ...sinkProps(p),
              wires: [['sink']],
            },
            countingSink(),
            ...errorCounter(),
          ],
          credentials: { 'gateway-cfg': { apiKey: p.gatewayKey ?? '' } },
        };
    }
  })();
  const flows = p.cluster ? withCluster(spec.flows, p.cluster) : spec.flows;
  return { flows: placed([TAB, ...flows]), credentials: spec.credentials };
}

const CLUSTERED = new Set(['privmx in', 'smsapi out', 'sms-gateway out']);

/** the same flow with an `sms-cluster` on every source and sink */
function withCluster(flows: N[], url: string): N[] {
  return [
    { id: 'cluster-cfg', type: 'sms-cluster', name: 'bench', url, prefix: 'bench:', onError: 'local' },
    ...flows.map((n) => (CLUSTERED.has(String(n.type)) ? { ...n, cluster: 'cluster-cfg' } : n)),
  ];
}

/** catch → global.get('benchError'): failed sends count as finished too */
function errorCounter(): N[] {
  return [
    { id: 'catch', type: 'catch', z: TAB.id, scope: ['sms'], uncaught: false, wires: [['errors']] },
    counter('errors', 'error'),
  ];
}
