/**
 * Browser-test harness: packs this repository with `npm pack`, installs the tarball into a fresh
 * Node-RED user dir (outside the repo, so nothing resolves from the repo's node_modules), starts a
 * Node-RED runtime (the repo's own, or another version with its own Node binary: runtimes.ts) on a
 * free loopback port with that user dir, and stops it again.
 */
import { spawn, execFile, type ChildProcess } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
export { freePort } from '../free-port';

export const REPO = path.resolve(__dirname, '..', '..');
export const SCREENSHOTS = path.join(__dirname, 'screenshots');
const RED_JS = path.join(REPO, 'node_modules', 'node-red', 'red.js');
const GUARD = path.join(__dirname, 'loopback-guard.js');

/** Which Node-RED runs the user dir, and with which Node binary. */
export interface Runtime {
  /** short id for file names ('repo', 'node-red-5') */
  id: string;
  /** added to test titles of every runtime but the repo's ('' for the repo's) */
  tag: string;
  /** the node binary */
  node: string;
  /** Node-RED's red.js */
  redJs: string;
  /** Node-RED and Node versions, for titles and reports */
  nodeRedVersion: string;
  nodeVersion: string;
}

/** The repository's Node-RED (devDependency) on the machine's Node. */
export const REPO_RUNTIME: Runtime = {
  id: 'repo',
  tag: '',
  node: process.execPath,
  redJs: RED_JS,
  nodeRedVersion: (
    JSON.parse(fs.readFileSync(path.join(path.dirname(RED_JS), 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version,
  nodeVersion: process.versions.node,
};

/** The environment a runtime's npm and Node-RED run with: its node first on PATH. */
export function runtimeEnv(runtime: Runtime): NodeJS.ProcessEnv {
  if (runtime.node === process.execPath) return {};
  return { PATH: `${path.dirname(runtime.node)}${path.delimiter}${process.env.PATH ?? ''}` };
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Run a command; rejects with its output when it fails. */
export function run(
  cmd: string,
  args: string[],
  options: { cwd: string; timeoutMs?: number; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        cwd: options.cwd,
        env: { ...process.env, npm_config_update_notifier: 'false', ...options.env },
        timeout: options.timeoutMs ?? 180_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
        } else resolve({ stdout, stderr });
      },
    );
  });
}

export interface PackedFile {
  path: string;
  size: number;
}

export interface PackResult {
  /** absolute path of the tarball (only when not a dry run) */
  tarball?: string;
  files: PackedFile[];
  size: number;
  unpackedSize: number;
}

/** `npm pack` the repository (as it is: run `npm run build` first) into `dest`, or a dry run. */
export async function npmPack(dest?: string): Promise<PackResult> {
  const args = ['pack', '--json', '--ignore-scripts'];
  if (dest) args.push('--pack-destination', dest);
  else args.push('--dry-run');
  const { stdout } = await run('npm', args, { cwd: REPO, timeoutMs: 120_000 });
  // npm may print lifecycle noise before the JSON on stdout; the report is the trailing array
  const report = JSON.parse(stdout.slice(stdout.indexOf('[')))[0] as {
    filename: string;
    files: PackedFile[];
    size: number;
    unpackedSize: number;
  };
  return {
    tarball: dest ? path.join(dest, report.filename) : undefined,
    files: report.files,
    size: report.size,
    unpackedSize: report.unpackedSize,
  };
}

/** A temp dir outside the repository (override the parent with E2E_TMPDIR). */
export function makeTempDir(prefix: string): string {
  const parent = process.env.E2E_TMPDIR || os.tmpdir();
  fs.mkdirSync(parent, { recursive: true });
  return fs.mkdtempSync(path.join(parent, prefix));
}

/**
 * A fresh Node-RED user dir with the tarball installed the way the palette manager installs a module
 * (`npm install --save --omit=dev --engine-strict <tgz>`): runtime deps come from the registry/cache.
 * npm runs on the runtime's Node, so `--engine-strict` checks the engines against that Node.
 */
export async function createUserDir(
  tarball: string,
  port: number,
  runtime: Runtime = REPO_RUNTIME,
): Promise<string> {
  const userDir = makeTempDir('sms-notify-e2e-user-');
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({
      name: 'node-red-project',
      description: 'e2e user dir',
      version: '0.0.1',
      private: true,
    }),
  );
  fs.writeFileSync(path.join(userDir, 'settings.js'), settingsJs(port));
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--save',
      '--omit=dev',
      '--engine-strict',
      tarball,
    ],
    { cwd: userDir, timeoutMs: 180_000, env: runtimeEnv(runtime) },
  );
  return userDir;
}

function settingsJs(port: number): string {
  const settings = {
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: 'sms-notify-e2e',
    editorTheme: { tours: false, projects: { enabled: false } },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    functionExternalModules: false,
    logging: { console: { level: 'info', metrics: false, audit: false } },
  };
  return `module.exports = ${JSON.stringify(settings, null, 2)};\n`;
}

export interface NodeSetInfo {
  id: string;
  name: string;
  module: string;
  types: string[];
  enabled: boolean;
  loaded: boolean;
  err?: string;
  version?: string;
}

export class NodeRedProcess {
  readonly url: string;
  private readonly lines: string[] = [];
  private exited: Promise<number | null>;

  constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly userDir: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.lines.push(line);
      if (process.env.E2E_VERBOSE) process.stderr.write(chunk);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Everything Node-RED logged so far (from line `from`). */
  log(from = 0): string[] {
    return this.lines.slice(from);
  }

  get logLength(): number {
    return this.lines.length;
  }

  /** Connections the loopback guard refused (a deployed flow tried to reach a non-loopback host). */
  blocked(from = 0): string[] {
    return this.log(from).filter((l) => l.startsWith('[e2e-guard]'));
  }

  async get<T>(urlPath: string): Promise<T> {
    const res = await fetch(this.url + urlPath, { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(`GET ${urlPath}: HTTP ${res.status}`);
    return (await res.json()) as T;
  }

  nodeSets(): Promise<NodeSetInfo[]> {
    return this.get<NodeSetInfo[]>('/nodes');
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    const start = Date.now();
    let exitCode: number | null | undefined;
    void this.exited.then((code) => (exitCode = code));
    for (;;) {
      if (exitCode !== undefined) {
        throw new Error(`Node-RED exited (${exitCode}) while starting:\n${this.lines.join('\n')}`);
      }
      try {
        const res = await fetch(`${this.url}/settings`, { headers: { Accept: 'application/json' } });
        if (res.ok && this.lines.some((l) => /Started flows|Server now running/.test(l))) return;
      } catch {
        // not listening yet
      }
      if (Date.now() - start > timeoutMs) {
        throw new Error(`Node-RED did not start in ${timeoutMs} ms:\n${this.lines.join('\n')}`);
      }
      await delay(200);
    }
  }

  /** SIGINT (Node-RED stops its flows and exits), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Start a Node-RED runtime (by default the repository's node_modules/node-red) on `userDir`. */
export async function startNodeRed(
  userDir: string,
  port: number,
  runtime: Runtime = REPO_RUNTIME,
): Promise<NodeRedProcess> {
  const args = ['--require', GUARD, runtime.redJs, '-u', userDir, '-p', String(port)];
  const child = spawn(runtime.node, args, {
    cwd: userDir,
    env: { ...process.env, ...runtimeEnv(runtime) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const red = new NodeRedProcess(child, port, userDir);
  try {
    await red.waitReady();
  } catch (err) {
    await red.stop();
    throw err;
  }
  return red;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `check` returns a truthy value; fails after `timeoutMs` with the last error. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, what: string): Promise<T> {
  const start = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await delay(100);
  }
}

/**
 * With E2E_DOCS=1, copy a screenshot into docs/ as docs/screenshot-<name>.png (the README's pictures);
 * a normal run leaves docs/ alone.
 */
export function curate(file: string, name: string): void {
  if (!process.env.E2E_DOCS) return;
  const docs = path.join(REPO, 'docs');
  fs.mkdirSync(docs, { recursive: true });
  fs.copyFileSync(file, path.join(docs, `screenshot-${name}.png`));
}

export function removeDir(dir: string | undefined): void {
  if (dir && !process.env.E2E_KEEP) fs.rmSync(dir, { recursive: true, force: true });
}
