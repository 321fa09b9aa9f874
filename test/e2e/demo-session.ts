/**
 * The demo (`npm start`: Node-RED with the fake Bridge and fake SMSAPI) as the browser suites use it:
 * started in a throw-away user directory on free ports, with an editor tab of its own.
 */
import fs from 'fs';
import path from 'path';
import { Editor } from './editor';
import { REPO, makeTempDir, removeDir } from './harness';
import { atTeardown, type E2eEnv } from './suite';

export const DEMO = path.join(REPO, 'scripts', 'demo.ts');

/** scripts/demo.ts exists and exports startDemo() (the suites that need it skip otherwise) */
export const demoReady =
  fs.existsSync(DEMO) && /export\s+(async\s+)?function\s+startDemo\b/.test(fs.readFileSync(DEMO, 'utf8'));

/** What the suites use of scripts/demo.ts. */
export interface DemoHandle {
  url: string;
  smsapi?: { smsRequests: { body?: Record<string, unknown> }[] };
  stop(): Promise<void>;
}
export interface DemoModule {
  startDemo(options: Record<string, unknown>): Promise<DemoHandle>;
  DEMO_IDS: { bridge: string; smsapiAccount: string };
  DEMO_THREAD_ID: string;
}

export interface DemoSession {
  mod: DemoModule;
  demo: DemoHandle;
  editor: Editor;
}

/** Start the demo and open its editor in a new tab of the suite's browser; stopped at teardown. */
export async function openDemo(
  env: E2eEnv,
  tempPrefix: string,
  viewport: { width: number; height: number },
): Promise<DemoSession> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(DEMO) as DemoModule;
  const userDir = makeTempDir(tempPrefix);
  atTeardown(() => removeDir(userDir));
  const demo = await mod.startDemo({
    port: 0,
    bridgePort: 0,
    smsapiPort: 0,
    userDir,
    demoIntervalMs: 1000,
    inheritOutput: false,
  });
  atTeardown(() => demo.stop());
  const page = await env.context.newPage();
  await page.setViewportSize(viewport);
  const editor = new Editor(page, demo.url.replace(/\/$/, ''));
  await editor.open();
  return { mod, demo, editor };
}
