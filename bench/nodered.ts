/**
 * A real Node-RED 4 runtime, embedded in this (child) process, with this package installed in a
 * throw-away user directory from the compiled `dist/` (run `npm run build` first), exactly as a
 * user's Node-RED would load it.
 */
import fs from 'fs';
import http from 'http';
import os from 'os';
import path from 'path';

export const ROOT = path.join(__dirname, '..');
/** the package directory Node-RED installs (BENCH_PACKAGE_DIR: a private build elsewhere) */
export const PACKAGE_DIR = process.env.BENCH_PACKAGE_DIR || ROOT;

/** a compiled module of the package, the same instance the nodes use (e.g. 'lib/tuning') */
export function requireDist<T = any>(rel: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(PACKAGE_DIR, 'dist', 'nodes', rel));
}

/** warnings and errors the runtime logged (per-event logging shows up here) */
export const logCounts = { error: 0, warn: 0, info: 0, lines: [] as string[] };

/**
 * `bench count`: the benchmarks' sink. It hands each message to the global function named by its
 * `counts` property (`benchHit` / `benchError`, from functionGlobalContext) and completes it. Node-RED
 * loads it from `<userDir>/nodes`.
 */
const COUNT_NODE_JS = `module.exports = function (RED) {
  function BenchCount(config) {
    RED.nodes.createNode(this, config);
    const count = this.context().global.get(config.counts === 'error' ? 'benchError' : 'benchHit');
    this.on('input', function (msg, send, done) {
      count(msg);
      done();
    });
  }
  RED.nodes.registerType('bench count', BenchCount);
};
`;
const COUNT_NODE_HTML = `<script type="text/javascript">
  RED.nodes.registerType('bench count', { category: 'common', defaults: { counts: { value: 'hit' } }, inputs: 1, outputs: 0 });
</script>
`;

function installCountNode(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'bench-count.js'), COUNT_NODE_JS);
  fs.writeFileSync(path.join(dir, 'bench-count.html'), COUNT_NODE_HTML);
}

export interface RuntimeHandle {
  RED: any;
  deploy(flows: unknown[], credentials?: Record<string, unknown>): Promise<void>;
  node(id: string): any;
  stop(): Promise<void>;
}

export interface RuntimeOptions {
  functionGlobalContext?: Record<string, unknown>;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info';
  /** install this package (from dist/); false for flows of core nodes only */
  withPackage?: boolean;
}

export async function startNodeRed(opts: RuntimeOptions = {}): Promise<RuntimeHandle> {
  const withPackage = opts.withPackage ?? true;
  if (withPackage && !fs.existsSync(path.join(PACKAGE_DIR, 'dist', 'nodes')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sms-notify-bench-'));
  fs.mkdirSync(path.join(userDir, 'node_modules'));
  installCountNode(path.join(userDir, 'nodes'));
  if (withPackage)
    fs.symlinkSync(PACKAGE_DIR, path.join(userDir, 'node_modules', 'node-red-contrib-sms-notify'), 'dir');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require('node-red');
  const server = http.createServer();
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    httpAdminRoot: '/admin',
    httpNodeRoot: false,
    disableEditor: true,
    editorTheme: { tours: false },
    functionGlobalContext: opts.functionGlobalContext ?? {},
    logging: {
      console: { level: opts.logLevel ?? 'error', metrics: false, audit: false },
      counter: {
        level: 'info',
        metrics: false,
        audit: false,
        handler: () => (entry: { level: number; msg: unknown }) => {
          // Node-RED levels: 10 fatal, 20 error, 30 warn, 40 info
          if (entry.level <= 20) logCounts.error++;
          else if (entry.level === 30) logCounts.warn++;
          else if (entry.level === 40) logCounts.info++;
          else return;
          if (logCounts.lines.length < 20) logCounts.lines.push(String(entry.msg).slice(0, 200));
        },
      },
    },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    runtimeState: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
  });
  const flowsStarted = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 15_000);
      RED.events.once('flows:started', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  // the initial (empty) flow load must finish before a deploy, or it wipes the deployed credentials
  const initial = flowsStarted();
  await RED.start();
  await initial;
  return {
    RED,
    async deploy(flows, credentials = {}) {
      // as the editor does it: credentials inline on each node, extracted by the runtime
      const withCredentials = (flows as Record<string, unknown>[]).map((n) =>
        credentials[n.id as string] ? { ...n, credentials: credentials[n.id as string] } : n,
      );
      const started = flowsStarted();
      await RED.runtime.flows.setFlows({ flows: { flows: withCredentials }, deploymentType: 'full' });
      await started;
    },
    node(id) {
      return RED.nodes.getNode(id);
    },
    async stop() {
      await RED.stop();
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}
