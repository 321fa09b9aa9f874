/**
 * One Node-RED and one browser per runtime for the whole browser suite: the first test that asks for
 * a runtime's environment sets it up (fresh user dir → npm install <tgz> → Node-RED → Chromium →
 * editor), a root `after` hook tears everything down. The tarball is packed once for all runtimes.
 */
import fs from 'fs';
import path from 'path';
import type { BrowserContext } from 'playwright-core';
import { Editor, launchBrowser } from './editor';
import {
  createUserDir,
  freePort,
  makeTempDir,
  npmPack,
  removeDir,
  SCREENSHOTS,
  startNodeRed,
  type NodeRedProcess,
  type NodeSetInfo,
  type Runtime,
} from './harness';
import { REPO_NODE_RED, type RuntimeSpec } from './runtimes';

export interface E2eEnv {
  runtime: Runtime;
  tarball: string;
  userDir: string;
  red: NodeRedProcess;
  /** /nodes as Node-RED answered right after start */
  nodeSets: NodeSetInfo[];
  context: BrowserContext;
  editor: Editor;
  /** ms each setup step took, for the report */
  timings: Record<string, number>;
}

const envs = new Map<string, Promise<E2eEnv>>();
let tarballPromise: Promise<string> | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

/** The tarball of this repository, packed once per run. */
function tarball(): Promise<string> {
  tarballPromise ??= (async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    for (const f of fs.readdirSync(SCREENSHOTS))
      if (f.startsWith('failed-')) fs.rmSync(path.join(SCREENSHOTS, f));
    const packDir = makeTempDir('sms-notify-e2e-pack-');
    cleanups.push(() => removeDir(packDir));
    const pack = await npmPack(packDir);
    return pack.tarball as string;
  })();
  return tarballPromise;
}

async function setup(spec: RuntimeSpec): Promise<E2eEnv> {
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (name: string) => {
    timings[name] = Date.now() - t;
    t = Date.now();
  };
  const tgz = await tarball();
  lap('npm pack');
  const runtime = await spec.get();
  lap('runtime install');
  const port = await freePort();
  const userDir = await createUserDir(tgz, port, runtime);
  cleanups.push(() => removeDir(userDir));
  lap('npm install <tgz>');
  const red = await startNodeRed(userDir, port, runtime);
  cleanups.push(() => red.stop());
  lap('Node-RED start');
  const nodeSets = await red.nodeSets();
  const profile = makeTempDir('sms-notify-e2e-chromium-');
  cleanups.push(() => removeDir(profile));
  const context = await launchBrowser(profile);
  cleanups.push(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const editor = new Editor(page, red.url);
  await editor.open();
  lap('browser + editor');
  if (process.env.E2E_VERBOSE) console.log(`      e2e setup ${runtime.id}: ${JSON.stringify(timings)}`);
  return { runtime, tarball: tgz, userDir, red, nodeSets, context, editor, timings };
}

/** The shared environment of a runtime (set up on first use; by default the repository's). */
export function e2eEnv(spec: RuntimeSpec = REPO_NODE_RED): Promise<E2eEnv> {
  let env = envs.get(spec.id);
  if (!env) {
    env = setup(spec);
    envs.set(spec.id, env);
  }
  return env;
}

/** A test title for a runtime: the repository's keeps the plain title. */
export function titled(title: string, spec: RuntimeSpec): string {
  return spec.tag ? `${title} ${spec.tag}` : title;
}

/** Screenshot names of other runtimes than the repository's get the runtime's id in front. */
export function shotName(name: string, spec: RuntimeSpec): string {
  return spec.id === REPO_NODE_RED.id ? name : `${spec.id}-${name}`;
}

/** Register teardown work that must run after the whole suite (e.g. a demo started by a test). */
export function atTeardown(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

// A failed browser test leaves a picture (screenshots/failed-*.png) and a clean editor behind.
afterEach(async function () {
  const test = this.currentTest;
  if (!test || test.state !== 'failed' || !test.fullTitle().startsWith('e2e:')) return;
  // the environment of the runtime whose tag is in the title, else the repository's
  const ready = await Promise.all([...envs.values()].map((e) => e.catch(() => undefined)));
  const env =
    ready.find((e) => e && e.runtime.tag && test.fullTitle().includes(e.runtime.tag)) ??
    ready.find((e) => e?.runtime.id === REPO_NODE_RED.id);
  if (!env) return;
  try {
    const name = test
      .fullTitle()
      .replace(/[^a-z0-9]+/gi, '-')
      .slice(0, 100);
    await env.editor.screenshot(`failed-${name}`);
    await env.editor.recover();
  } catch (err) {
    console.error('e2e: could not recover the editor:', err);
  }
});

after(async function () {
  this.timeout(60_000);
  // reverse order: browser, then Node-RED, then the temp dirs
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error('e2e teardown:', err);
    }
  }
});
