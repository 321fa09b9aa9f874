/**
 * i18n is real: with the editor switched to Polish (the editor's own language setting), every node's
 * help in the sidebar is the Polish one and the package's message catalogs resolve to Polish text.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { NODE_SETS, NODE_TYPES, PACKAGE_NAME } from './node-types';
import { e2eEnv, type E2eEnv } from './suite';

type Any = any;

function leaves(obj: unknown, prefix = ''): [string, string][] {
  if (typeof obj === 'string') return [[prefix, obj]];
  if (obj === null || typeof obj !== 'object') return [];
  return Object.entries(obj as Record<string, unknown>).flatMap(([k, v]) =>
    leaves(v, prefix ? `${prefix}.${k}` : k),
  );
}

describe('e2e: editor in Polish', function () {
  let env: E2eEnv;
  const englishHelp = new Map<string, string>();

  before(async function () {
    env = await e2eEnv();
    const page = env.editor.page;
    for (const n of NODE_TYPES) {
      englishHelp.set(
        n.type,
        await page.evaluate((t) => (window as Any).RED.nodes.getNodeHelp(t) ?? '', n.type),
      );
    }
    await page.evaluate(() => localStorage.setItem('editor-language', 'pl'));
    await env.editor.reload();
  });

  after(async function () {
    if (!env) return;
    await env.editor.page.evaluate(() => localStorage.removeItem('editor-language'));
    await env.editor.reload();
  });

  it('shows every node’s Polish help', async function () {
    const problems: string[] = [];
    for (const n of NODE_TYPES) {
      const help: string = await env.editor.page.evaluate(
        (t) => (window as Any).RED.nodes.getNodeHelp(t) ?? '',
        n.type,
      );
      if (!help.trim()) problems.push(`${n.type}: no help`);
      else if (help === englishHelp.get(n.type)) problems.push(`${n.type}: help is the English one`);
    }
    assert.deepStrictEqual(problems, []);
  });

  it('resolves every catalog key of every node set to its Polish text', async function () {
    const problems: string[] = [];
    const installed = path.join(env.userDir, 'node_modules', PACKAGE_NAME, 'dist', 'nodes', 'locales');
    for (const set of NODE_SETS) {
      const file = path.join(installed, 'pl', `${set}.json`);
      if (!fs.existsSync(file)) {
        problems.push(`${set}: no pl catalog`);
        continue;
      }
      // values with __placeholders__ need arguments; the rest must come back verbatim
      const entries = leaves(JSON.parse(fs.readFileSync(file, 'utf8'))).filter(([, v]) => !v.includes('__'));
      const got: string[] = await env.editor.page.evaluate(
        ({ ns, keys }) => keys.map((k: string) => (window as Any).RED._(`${ns}:${k}`)),
        { ns: `${PACKAGE_NAME}/${set}`, keys: entries.map(([k]) => k) },
      );
      entries.forEach(([key, value], i) => {
        if (got[i] !== value)
          problems.push(`${set}: ${key} = ${JSON.stringify(got[i])}, want ${JSON.stringify(value)}`);
      });
    }
    assert.deepStrictEqual(problems.slice(0, 30), [], `${problems.length} catalog keys not in Polish`);
  });
});
