/**
 * `npm start`: a local demo with no account needed. Starts the loopback fake PrivMX Bridge in demo
 * mode (a realistic event every few seconds) and a fake SMSAPI, writes a Node-RED user dir under
 * `.demo/` with this package installed (a symlink to the repo) and a demo flow
 * (`privmx in` → debug, and `event filter` → `smsapi out` → debug for one thread's new messages),
 * then runs Node-RED from node_modules on http://127.0.0.1:1880 (or $PORT). Ctrl-C stops everything.
 *
 * `startDemo()` is exported so browser tests can reuse it.
 */
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import net from 'net';
import path from 'path';
import { DEMO_THREADS, FakePrivmxBridge } from '../test/fakes/privmx-bridge';
import { FakeSmsapi } from '../test/fakes/smsapi';
import { freePort } from '../test/free-port';

export const ROOT = path.join(__dirname, '..');
export const DEMO_API_KEY = { id: 'demo-api-key', secret: 'demo-api-secret-not-a-real-one' };
export const DEMO_SMSAPI_TOKEN = 'demo-smsapi-token-not-a-real-one';
/** the simulator's on-call thread: the demo texts the on-call phone for its new messages */
export const DEMO_THREAD_ID = DEMO_THREADS.alerts;
/** where the simulators listen by default (examples/demo-privmx-to-sms.json points at these) */
export const DEMO_BRIDGE_PORT = 9111;
export const DEMO_SMSAPI_PORT = 9112;

/** Ids of the demo flow's nodes, for code that extends the flow. */
export const DEMO_IDS = {
  tab: 'demo-tab',
  comment: 'demo-comment',
  bridge: 'demo-bridge',
  privmxIn: 'demo-privmx-in',
  debug: 'demo-debug',
  filter: 'demo-filter',
  smsapiAccount: 'demo-smsapi-account',
  smsapiOut: 'demo-smsapi-out',
  smsDebug: 'demo-sms-debug',
  catch: 'demo-catch',
  errorDebug: 'demo-error-debug',
} as const;

export type FlowNode = Record<string, unknown> & { id: string; type: string };

export interface DemoOptions {
  /** Node-RED port (default $PORT or 1880); 0 = a free one, chosen after the simulators listen */
  port?: number;
  /** fake Bridge port (default 9111, else an ephemeral one) */
  bridgePort?: number;
  /** fake SMSAPI port (default 9112, else an ephemeral one) */
  smsapiPort?: number;
  /** Node-RED user dir (default <repo>/.demo) */
  userDir?: string;
  /** one demo event every … ms */
  demoIntervalMs?: number;
  /** also print the debug node's output to Node-RED's log */
  debugToConsole?: boolean;
  /** forward Node-RED's output to this process's stdout/stderr (default true) */
  inheritOutput?: boolean;
  /** add nodes / wires to the demo flow (e.g. the SMS side) */
  extendFlow?: (flow: FlowNode[], ids: typeof DEMO_IDS) => void;
  /** more credentials for nodes added by extendFlow, keyed by node id */
  extraCredentials?: Record<string, Record<string, string>>;
  /** Node-RED start-up time limit */
  startTimeoutMs?: number;
  /** add the SMS side (fake SMSAPI, event filter, smsapi out); default true */
  sms?: boolean;
}

export interface DemoHandle {
  /** http://127.0.0.1:PORT/ */
  url: string;
  port: number;
  bridge: FakePrivmxBridge;
  /** the fake SMSAPI (when the SMS side is on) */
  smsapi?: FakeSmsapi;
  userDir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function demoFlow(bridgeUrl: string, debugToConsole = false): FlowNode[] {
  return [
    { id: DEMO_IDS.tab, type: 'tab', label: 'PrivMX → SMS demo', disabled: false, info: '' },
    {
      id: DEMO_IDS.comment,
      type: 'comment',
      z: DEMO_IDS.tab,
      name: 'Live PrivMX Bridge events (from a local simulator)',
      info:
        'A simulated PrivMX Bridge on this machine emits an event every few seconds: alerts in the on-call ' +
        'thread, chat in the team thread, new files in a store, inbox entries, from different people. ' +
        '`privmx in` subscribes to the thread, store and inbox channels and emits one message per event: ' +
        '`msg.topic` = privmx/<channel>/<type>, `msg.payload` = the event as sent, `msg.event` = the ' +
        'normalised ids. The "PrivMX events" debug node shows the latest topic under itself (status only, so the ' +
        'sidebar is not flooded); switch on its sidebar output to see whole events. The SMS side below puts ' +
        'what it sent in `msg.sms`.',
      x: 250,
      y: 60,
      wires: [],
    },
    {
      id: DEMO_IDS.bridge,
      type: 'privmx-bridge',
      name: 'Local PrivMX Bridge (simulator)',
      url: bridgeUrl,
      solutionId: '',
    },
    {
      id: DEMO_IDS.privmxIn,
      type: 'privmx in',
      z: DEMO_IDS.tab,
      name: '',
      bridge: DEMO_IDS.bridge,
      channels: ['thread', 'store', 'inbox'],
      types: [],
      containerIds: '',
      x: 170,
      y: 140,
      wires: [[DEMO_IDS.debug]],
    },
    {
      id: DEMO_IDS.debug,
      type: 'debug',
      z: DEMO_IDS.tab,
      name: 'PrivMX events',
      active: true,
      // status only: an event every few seconds would flood the sidebar; the SMS debug shows msg.sms
      tosidebar: false,
      console: debugToConsole,
      tostatus: true,
      complete: 'true',
      targetType: 'full',
      statusVal: 'topic',
      statusType: 'msg',
      x: 420,
      y: 140,
      wires: [],
    },
  ];
}

/** The SMS half: new messages of one thread → `event filter` → `smsapi out` (fake SMSAPI) → debug. */
export function addSmsSide(flow: FlowNode[], smsapiUrl: string): void {
  const privmxIn = flow.find((n) => n.id === DEMO_IDS.privmxIn) as FlowNode & { wires: string[][] };
  privmxIn.wires[0].push(DEMO_IDS.filter);
  const debug = (id: string, name: string, y: number): FlowNode => ({
    id,
    type: 'debug',
    z: DEMO_IDS.tab,
    name,
    active: true,
    tosidebar: true,
    console: false,
    tostatus: false,
    complete: id === DEMO_IDS.smsDebug ? 'sms' : 'error',
    targetType: 'msg',
    x: 860,
    y,
    wires: [],
  });
  flow.push(
    {
      id: 'demo-sms-comment',
      type: 'comment',
      z: DEMO_IDS.tab,
      name: 'New message in the on-call thread → SMS to the on-call phone (fake SMSAPI)',
      info:
        'Thread to SMS. `event filter` keeps new messages of the on-call thread (' +
        DEMO_THREAD_ID +
        '); `smsapi out` renders the template, checks the number, counts segments, applies the default storm ' +
        'guards (at most 10 SMS a minute; the same text to the same number once a minute: the simulator ' +
        're-posts every fourth alert, so you see a duplicate skipped, counted in the status and warned once) ' +
        'and sends through a local SMSAPI simulator. The "SMS sent" debug shows `msg.sms` (provider, to, ids, ' +
        'parts, status); failures reach the Catch node with `msg.error.code`.',
      x: 300,
      y: 220,
      wires: [],
    },
    {
      id: DEMO_IDS.filter,
      type: 'event filter',
      z: DEMO_IDS.tab,
      name: '',
      rules: [
        { property: 'event.type', op: 'eq', value: 'threadNewMessage' },
        { property: 'event.containerId', op: 'eq', value: DEMO_THREAD_ID },
      ],
      combine: 'all',
      outputs: 1,
      x: 420,
      y: 280,
      wires: [[DEMO_IDS.smsapiOut]],
    },
    {
      id: DEMO_IDS.smsapiAccount,
      type: 'smsapi-account',
      name: 'Local SMSAPI (simulator)',
      url: smsapiUrl,
      from: 'Alerts',
      test: false,
    },
    {
      id: DEMO_IDS.smsapiOut,
      type: 'smsapi out',
      z: DEMO_IDS.tab,
      name: 'SMS to on-call',
      account: DEMO_IDS.smsapiAccount,
      to: '+48500000000',
      message: 'PrivMX alert: {{payload.data.publicMeta.title}} (posted by {{event.author}})',
      from: '',
      defaultCountry: 'PL',
      // the editor's defaults: the guards stay on in the demo too
      rateLimit: 10,
      dedupeWindow: 60,
      maxParts: 3,
      tooLong: 'refuse',
      x: 640,
      y: 280,
      wires: [[DEMO_IDS.smsDebug]],
    },
    debug(DEMO_IDS.smsDebug, 'SMS sent', 280),
    {
      id: DEMO_IDS.catch,
      type: 'catch',
      z: DEMO_IDS.tab,
      name: 'SMS errors',
      scope: [DEMO_IDS.smsapiOut],
      uncaught: false,
      x: 640,
      y: 340,
      wires: [[DEMO_IDS.errorDebug]],
    },
    debug(DEMO_IDS.errorDebug, 'SMS errors', 340),
  );
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function startBridge(port: number, intervalMs: number): Promise<FakePrivmxBridge> {
  const opts = { demo: true, demoIntervalMs: intervalMs, apiKeys: [DEMO_API_KEY] };
  try {
    return await FakePrivmxBridge.start({ ...opts, port });
  } catch {
    return FakePrivmxBridge.start({ ...opts, port: 0 });
  }
}

async function startSmsapi(
  port: number,
  onSms: (sms: { to: string; message: string }) => void,
): Promise<FakeSmsapi> {
  const opts = { token: DEMO_SMSAPI_TOKEN, onSms };
  try {
    return await FakeSmsapi.start({ ...opts, port });
  } catch {
    return FakeSmsapi.start({ ...opts, port: 0 });
  }
}

function writeUserDir(
  userDir: string,
  port: number,
  flow: FlowNode[],
  credentials: Record<string, unknown>,
): void {
  fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
  // install this package the way npm link would: a symlink to the repo (dist/ holds the built nodes)
  const link = path.join(userDir, 'node_modules', 'node-red-contrib-sms-notify');
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(ROOT, link, 'junction');
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify(
      {
        name: 'node-red-sms-notify-demo',
        private: true,
        dependencies: { 'node-red-contrib-sms-notify': '*' },
      },
      null,
      2,
    ),
  );
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    // demo only: credentials are stored unencrypted in flows_cred.json (they are the simulator's key)
    credentialSecret: false,
    flowFilePretty: true,
    logging: { console: { level: 'info', metrics: false, audit: false } },
    editorTheme: { tours: false, projects: { enabled: false } },
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
  };
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    '// generated by scripts/demo.ts\nmodule.exports = ' + JSON.stringify(settings, null, 2) + ';\n',
  );
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flow, null, 2));
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(credentials, null, 2));
  // a stale runtime config (e.g. from an older credentialSecret) would make Node-RED drop the credentials
  fs.rmSync(path.join(userDir, '.config.runtime.json'), { force: true });
}

async function waitForNodeRed(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (child.exitCode !== null) throw new Error(`Node-RED exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url + 'flows', { headers: { 'Node-RED-API-Version': 'v2' } });
      if (res.ok) {
        const body = (await res.json()) as { flows?: unknown[] };
        if (Array.isArray(body.flows) && body.flows.length) return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Node-RED did not start within ${timeoutMs} ms`);
}

export async function startDemo(options: DemoOptions = {}): Promise<DemoHandle> {
  let port = options.port ?? Number(process.env.PORT || 1880);
  if (port !== 0 && !(await portFree(port))) {
    throw new Error(`port ${port} on 127.0.0.1 is in use: stop what uses it or run with PORT=<another port>`);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'nodes', 'privmx.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm start does)');
  }
  const bridge = await startBridge(options.bridgePort ?? DEMO_BRIDGE_PORT, options.demoIntervalMs ?? 3_000);
  const userDir = options.userDir ?? path.join(ROOT, '.demo');
  const printSms = options.inheritOutput !== false;
  const smsapi =
    options.sms === false
      ? undefined
      : await startSmsapi(options.smsapiPort ?? DEMO_SMSAPI_PORT, (sms) => {
          if (printSms) console.log(`[SMSAPI simulator] SMS to ${sms.to}: ${sms.message}`);
        });
  // chosen only now: a port picked before the simulators started could be handed to one of them
  if (port === 0) port = await freePort();
  const flow = demoFlow(bridge.url, options.debugToConsole ?? false);
  if (smsapi) addSmsSide(flow, smsapi.url);
  options.extendFlow?.(flow, DEMO_IDS);
  const credentials = {
    [DEMO_IDS.bridge]: { apiKeyId: DEMO_API_KEY.id, apiKeySecret: DEMO_API_KEY.secret },
    ...(smsapi ? { [DEMO_IDS.smsapiAccount]: { token: DEMO_SMSAPI_TOKEN } } : {}),
    ...(options.extraCredentials ?? {}),
  };
  writeUserDir(userDir, port, flow, credentials);

  const child = spawn(
    process.execPath,
    [
      require.resolve('node-red/red.js'),
      '--userDir',
      userDir,
      '--settings',
      path.join(userDir, 'settings.js'),
      '--port',
      String(port),
    ],
    {
      cwd: ROOT,
      stdio: options.inheritOutput === false ? 'pipe' : 'inherit',
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
  // without inherited output, keep the pipes drained and the last lines for an error
  let tail = '';
  if (options.inheritOutput === false) {
    const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-2_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }
  const url = `http://127.0.0.1:${port}/`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await bridge.close();
    await smsapi?.close();
  };
  try {
    await waitForNodeRed(url, child, options.startTimeoutMs ?? 60_000);
  } catch (err) {
    await stop();
    if (tail) (err as Error).message += `\nNode-RED's last output:\n${tail}`;
    throw err;
  }
  return { url, port, bridge, smsapi, userDir, child, stop };
}

/** CLI: node scripts/demo.js */
export async function main(): Promise<void> {
  let handle: DemoHandle | undefined;
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await handle?.stop().catch(() => undefined);
    process.exit(code);
  };
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
  try {
    handle = await startDemo({ debugToConsole: process.env.DEMO_CONSOLE === '1' });
  } catch (err) {
    console.error(`demo: ${(err as Error).message}`);
    await shutdown(1);
    return;
  }
  handle.child.once('exit', (code) => {
    if (stopping) return;
    console.error(`demo: Node-RED exited (${code})`);
    void shutdown(code ?? 1);
  });
  console.log('');
  console.log(
    `  PrivMX Bridge simulator  ${handle.bridge.url}  (API key id "${DEMO_API_KEY.id}", secret "${DEMO_API_KEY.secret}")`,
  );
  console.log(`  on-call thread id        ${DEMO_THREAD_ID}`);
  if (handle.smsapi) console.log(`  SMSAPI simulator         ${handle.smsapi.url}`);
  console.log(`  Node-RED                 ${handle.url}`);
  console.log('');
  console.log(
    '  Open the editor and the Debug sidebar: an event arrives every few seconds, and every new message\n' +
      '  in the on-call thread becomes an "SMS" (to the local SMSAPI simulator), shown as msg.sms.\n' +
      '  Menu → Import → Examples → node-red-contrib-sms-notify → demo-privmx-to-sms runs against these\n' +
      '  simulators as it is. Ctrl-C stops everything.',
  );
  console.log('');
}

if (require.main === module) void main();
