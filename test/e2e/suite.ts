/**
 * One Node-RED and one browser for the whole browser suite: the first test file that asks for them
 * sets them up (pack → fresh user dir → npm install <tgz> → Node-RED → Chromium → editor), a root
 * `after` hook tears everything down.
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
} from './harness';

export interface E2eEnv {
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

let envPromise: Promise<E2eEnv> | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

async function setup(): Promise<E2eEnv> {
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (name: string) => {
    timings[name] = Date.now() - t;
    t = Date.now();
  };
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  for (const f of fs.readdirSync(SCREENSHOTS))
    if (f.startsWith('failed-')) fs.rmSync(path.join(SCREENSHOTS, f));
  const packDir = makeTempDir('sms-notify-e2e-pack-');
  cleanups.push(() => removeDir(packDir));
  const pack = await npmPack(packDir);
  lap('npm pack');
  const port = await freePort();
  const userDir = await createUserDir(pack.tarball as string, port);
  cleanups.push(() => removeDir(userDir));
  lap('npm install <tgz>');
  const red = await startNodeRed(userDir, port);
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
  return { tarball: pack.tarball as string, userDir, red, nodeSets, context, editor, timings };
}

/** The shared environment (set up on first use). */
export function e2eEnv(): Promise<E2eEnv> {
  envPromise ??= setup();
  return envPromise;
}

/** Register teardown work that must run after the whole suite (e.g. a demo started by a test). */
export function atTeardown(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

// A failed browser test leaves a picture (screenshots/failed-*.png) and a clean editor behind.
afterEach(async function () {
  const test = this.currentTest;
  if (!envPromise || !test || test.state !== 'failed' || !test.fullTitle().startsWith('e2e:')) return;
  const env = await envPromise.catch(() => undefined);
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
