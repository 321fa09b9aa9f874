// Build: compile TypeScript to CommonJS in dist/, then copy each node's editor .html and the
// message catalogs next to the compiled .js, where Node-RED looks for them.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');

fs.rmSync(dist, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')],
  {
    stdio: 'inherit',
  },
);

function copyTree(from, to, filter) {
  if (!fs.existsSync(from)) return;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(src, dst, filter);
    else if (filter(entry.name)) {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(src, dst);
    }
  }
}

// editor files and locales (json catalogs + translated help .html)
copyTree(path.join(root, 'nodes'), path.join(dist, 'nodes'), (name) => /\.(html|json)$/.test(name));

// Node-RED looks for a module's icons in an icons/ folder next to the node .js files.
copyTree(path.join(root, 'icons'), path.join(dist, 'nodes', 'icons'), (name) => name.endsWith('.svg'));

// Merge locales/<lang>/common.json into every node set's catalog as "common", then drop it.
const locales = path.join(dist, 'nodes', 'locales');
if (fs.existsSync(locales)) {
  for (const lang of fs.readdirSync(locales)) {
    const dir = path.join(locales, lang);
    const commonFile = path.join(dir, 'common.json');
    if (!fs.existsSync(commonFile)) continue;
    const common = JSON.parse(fs.readFileSync(commonFile, 'utf8'));
    fs.rmSync(commonFile);
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const catalog = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      catalog.common = { ...common, ...(catalog.common || {}) };
      fs.writeFileSync(path.join(dir, file), JSON.stringify(catalog, null, 2));
    }
  }
}
console.log('build: dist/ ready');
