/**
 * Packaging: `npm pack` ships what a Node-RED user needs and nothing else, and what it ships hangs
 * together (entry points, icons, help and message catalogs for every node, requires that resolve
 * inside the tarball or to a runtime dependency). Plain mocha over `npm pack --dry-run` and dist/:
 * run `npm run build` first (`npm run test:e2e` does).
 */
import assert from 'assert';
import fs from 'fs';
import { builtinModules } from 'module';
import path from 'path';
import { REPO, npmPack, type PackResult } from './harness';
import { NODE_SETS, NODE_TYPES, PACKAGE_NAME } from './node-types';

interface PackageJson {
  main?: string;
  files?: string[];
  dependencies: Record<string, string>;
  'node-red': { version?: string; nodes: Record<string, string> };
}

const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as PackageJson;
const LANGS = ['en-US', 'pl'];
/** Packed size limits: a notification package has no business being large. */
const MAX_PACKED = 512 * 1024;
const MAX_UNPACKED = 2 * 1024 * 1024;

function read(rel: string): string {
  return fs.readFileSync(path.join(REPO, rel), 'utf8');
}

/** Every leaf key path of a message catalog ("a.b.c"). */
function keysOf(obj: unknown, prefix = ''): string[] {
  if (obj === null || typeof obj !== 'object') return [prefix];
  return Object.entries(obj as Record<string, unknown>).flatMap(([k, v]) =>
    keysOf(v, prefix ? `${prefix}.${k}` : k),
  );
}

function hasKey(catalog: unknown, key: string): boolean {
  let cur: unknown = catalog;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in (cur as Record<string, unknown>))) return false;
    cur = (cur as Record<string, unknown>)[part];
  }
  return typeof cur === 'string';
}

/** i18n keys an editor/runtime file asks for in its own namespace: _('k'), RED._('k'), data-i18n="k". */
function i18nKeys(source: string): string[] {
  const keys = new Set<string>();
  for (const m of source.matchAll(/\b_\(\s*(['"])([^'"]+)\1/g)) keys.add(m[2]);
  for (const m of source.matchAll(/data-i18n=(['"])([^'"]+)\1/g)) {
    for (const part of m[2].split(';')) keys.add(part.replace(/^\[[^\]]*\]/, ''));
  }
  // keys of other namespaces (node-red:common.label.name) and dynamic prefixes are not ours to check
  return [...keys].filter((k) => k && !k.includes(':') && !k.endsWith('.') && !/[\s${}+]/.test(k));
}

describe('packaging: npm pack', function () {
  let pack: PackResult;
  let shipped: Set<string>;

  before(async function () {
    pack = await npmPack();
    shipped = new Set(pack.files.map((f) => f.path));
  });

  it('ships every node set: compiled .js, editor .html, catalogs and help in en-US and pl', function () {
    const missing: string[] = [];
    for (const set of NODE_SETS) {
      const want = [`dist/nodes/${set}.js`, `dist/nodes/${set}.html`];
      for (const lang of LANGS)
        want.push(`dist/nodes/locales/${lang}/${set}.json`, `dist/nodes/locales/${lang}/${set}.html`);
      missing.push(...want.filter((f) => !shipped.has(f)));
    }
    assert.deepStrictEqual(missing, [], 'not in the tarball (did `npm run build` run? did the node land?)');
  });

  it('ships package.json entry points that exist', function () {
    const entries = [...Object.values(pkg['node-red'].nodes), ...(pkg.main ? [pkg.main] : [])];
    assert.deepStrictEqual(
      entries.filter((e) => !shipped.has(e.replace(/^\.\//, ''))),
      [],
    );
    assert.deepStrictEqual(Object.keys(pkg['node-red'].nodes).sort(), [...NODE_SETS].sort());
  });

  it('ships examples, the shared editor script, README, LICENSE and CHANGELOG', function () {
    const want = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'resources/editor.js'];
    const missing = want.filter((f) => !shipped.has(f));
    const examples = fs.existsSync(path.join(REPO, 'examples'))
      ? fs.readdirSync(path.join(REPO, 'examples'))
      : [];
    if (examples.length === 0) missing.push('examples/ (empty)');
    missing.push(...examples.map((f) => `examples/${f}`).filter((f) => !shipped.has(f)));
    assert.deepStrictEqual(missing, []);
  });

  it('ships nothing a user does not need (tests, fakes, benches, scripts, sources, tooling)', function () {
    const allowed =
      /^(dist\/nodes\/.+\.(js|html|json)|dist\/nodes\/icons\/[^/]+\.(svg|png)|icons\/[^/]+\.(svg|png)|examples\/[^/]+\.json|resources\/[^/]+\.(js|css|html|svg|png)|package\.json|README\.md|LICENSE|CHANGELOG\.md)$/;
    const forbidden =
      /(^|\/)(test|tests|fakes?|bench|scripts|docs|\.ci|\.github)\/|\.ts$|\.map$|\.tgz$|tsconfig|mocharc|eslint|prettier/;
    const extra = [...shipped].filter((f) => !allowed.test(f) || forbidden.test(f));
    assert.deepStrictEqual(extra, [], 'files that should not ship');
  });

  it(`stays small (packed ≤ ${MAX_PACKED / 1024} kB, unpacked ≤ ${MAX_UNPACKED / 1024} kB)`, function () {
    assert.ok(pack.size <= MAX_PACKED, `packed ${pack.size} bytes`);
    assert.ok(pack.unpackedSize <= MAX_UNPACKED, `unpacked ${pack.unpackedSize} bytes`);
  });

  it('compiled code requires only Node builtins, runtime dependencies and shipped files', function () {
    const deps = new Set(Object.keys(pkg.dependencies));
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    for (const file of [...shipped].filter((f) => f.endsWith('.js') && f.startsWith('dist/'))) {
      for (const m of read(file).matchAll(/\brequire\(\s*(['"])([^'"]+)\1\s*\)/g)) {
        const spec = m[2];
        if (spec.startsWith('.')) {
          const base = path.posix.join(path.posix.dirname(file), spec);
          const ok = [base, `${base}.js`, `${base}.json`, `${base}/index.js`].some((c) => shipped.has(c));
          if (!ok) problems.push(`${file}: require('${spec}') is not in the tarball`);
          continue;
        }
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (spec.startsWith('node:') || builtins.has(name)) continue;
        if (!deps.has(name)) problems.push(`${file}: require('${spec}') is not a runtime dependency`);
      }
    }
    assert.deepStrictEqual(problems, []);
  });

  it('registers every node type literally in the shipped editor files (the scorecard reads them)', function () {
    const found = new Map<string, string>();
    const sharedScript = `resources/${PACKAGE_NAME}/editor.js`;
    const problems: string[] = [];
    for (const set of NODE_SETS) {
      const file = `dist/nodes/${set}.html`;
      if (!shipped.has(file)) continue;
      const html = read(file);
      for (const m of html.matchAll(/registerType\(\s*(['"])([^'"]+)\1\s*,/g)) found.set(m[2], set);
      if (/SmsNotify\./.test(html) && !html.includes(sharedScript)) {
        problems.push(`${file} uses SmsNotify but does not load ${sharedScript}`);
      }
    }
    for (const n of NODE_TYPES) {
      if (found.get(n.type) !== n.set)
        problems.push(`"${n.type}" not registered with a literal type in ${n.set}.html`);
    }
    assert.deepStrictEqual(problems, []);
  });

  // Node-RED serves a module's icons from <dir of the node .js>/icons only (registry/lib/localfilesystem.js
  // scanTypes), so with node files in dist/nodes/ the icons must ship in dist/nodes/icons/.
  it('ships every icon a node names in dist/nodes/icons/, where Node-RED looks for it', function () {
    const problems: string[] = [];
    for (const set of NODE_SETS) {
      const file = `dist/nodes/${set}.html`;
      if (!shipped.has(file)) continue;
      for (const m of read(file).matchAll(/\bicon\s*:\s*(['"])([^'"]+)\1/g)) {
        const icon = m[2];
        if (icon.includes('/')) continue; // font-awesome/… or another module's icon
        if (!shipped.has(`dist/nodes/icons/${icon}`))
          problems.push(`${set}.html names ${icon}: dist/nodes/icons/${icon} not shipped`);
      }
    }
    const source = fs.existsSync(path.join(REPO, 'icons')) ? fs.readdirSync(path.join(REPO, 'icons')) : [];
    if (source.length === 0) problems.push('icons/ is empty');
    for (const icon of source)
      if (!shipped.has(`dist/nodes/icons/${icon}`)) problems.push(`icons/${icon} not in dist/nodes/icons/`);
    assert.deepStrictEqual([...new Set(problems)], []);
  });

  for (const lang of LANGS) {
    it(`has help for every node type in ${lang}`, function () {
      const missing: string[] = [];
      for (const n of NODE_TYPES) {
        const file = `dist/nodes/locales/${lang}/${n.set}.html`;
        const html = shipped.has(file) ? read(file) : '';
        if (!html.includes(`data-help-name="${n.type}"`)) missing.push(`${n.type} (${file})`);
      }
      assert.deepStrictEqual(missing, []);
    });
  }

  it('finds every i18n key the editor and runtime files use in the en-US catalogs', function () {
    const missing: string[] = [];
    for (const set of NODE_SETS) {
      const catalogFile = `dist/nodes/locales/en-US/${set}.json`;
      if (!shipped.has(catalogFile)) continue;
      const catalog = JSON.parse(read(catalogFile));
      for (const file of [`dist/nodes/${set}.html`, `dist/nodes/${set}.js`].filter((f) => shipped.has(f))) {
        for (const key of i18nKeys(read(file))) if (!hasKey(catalog, key)) missing.push(`${file}: ${key}`);
      }
    }
    assert.deepStrictEqual(missing, []);
  });

  it('translates every en-US catalog key into Polish', function () {
    const missing: string[] = [];
    for (const set of NODE_SETS) {
      const en = `dist/nodes/locales/en-US/${set}.json`;
      const pl = `dist/nodes/locales/pl/${set}.json`;
      if (!shipped.has(en)) continue;
      const plCatalog = shipped.has(pl) ? JSON.parse(read(pl)) : {};
      for (const key of keysOf(JSON.parse(read(en))))
        if (!hasKey(plCatalog, key)) missing.push(`${set}: ${key}`);
    }
    assert.deepStrictEqual(missing, []);
  });
});
