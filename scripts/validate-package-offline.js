// Preloaded (node --require, via NODE_OPTIONS) into `node-red-dev validate` by scripts/validate-package.js.
// The scorecard's checks stay node-red-dev's own; only its network calls are replaced:
// - https://catalogue.nodered.org/catalogue.json (the list of every module name, used by P08 "similar
//   name" and N01 "unique node names") is NOT downloaded: P08/N01 are reported as not run.
// - https://registry.npmjs.org/node-red (P06/P07) is answered with npm's own client: `npm view`.
// - npm-remote-ls (D02: walks the dependency tree with one registry request per package) is answered
//   from the tree `npm install <tgz>` just installed.
// - npm-check (D03: latest version of each dependency) is answered with `npm view <dep> version`.
'use strict';
const Module = require('module');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const installRoot = process.env.VALIDATE_PACKAGE_ROOT; // the dir `npm install <tgz>` ran in
const notesFile = process.env.VALIDATE_PACKAGE_NOTES;

function note(code, text) {
  if (notesFile) fs.appendFileSync(notesFile, JSON.stringify({ code, text }) + '\n');
}

function npmJson(args) {
  const out = execFileSync('npm', [...args, '--json'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', npm_config_update_notifier: 'false' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return JSON.parse(out);
}

let nodeRedMeta;
function nodeRedMetadata() {
  if (!nodeRedMeta) {
    const distTags = npmJson(['view', 'node-red', 'dist-tags']);
    const engines = npmJson(['view', `node-red@${distTags.latest}`, 'engines']);
    nodeRedMeta = { 'dist-tags': distTags, versions: { [distTags.latest]: { engines } } };
  }
  return nodeRedMeta;
}

const axios = {
  get(url) {
    if (/^https:\/\/catalogue\.nodered\.org\//.test(url)) {
      note(
        'P08/N01',
        `not run: they download ${url} (every module name in the catalogue); this run does not`,
      );
      return Promise.resolve({ data: { modules: [] } });
    }
    if (url === 'https://registry.npmjs.org/node-red') {
      try {
        return Promise.resolve({ data: nodeRedMetadata() });
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return Promise.reject(new Error(`validate-package: not fetching ${url}`));
  },
};

/** Find an installed package the way require() would, starting in `fromDir`. */
function findInstalled(name, fromDir) {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name, 'package.json');
    if (fs.existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** npm-remote-ls's ls(name, version, flatten, cb): every name@version in the installed tree of `name`. */
function ls(name, _version, _flatten, callback) {
  const seen = new Set();
  const pkgDir = path.join(installRoot, 'node_modules', 'node-red-contrib-sms-notify');
  const walk = (dep, fromDir) => {
    const file = findInstalled(dep, fromDir);
    if (!file) return;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
    const id = `${pkg.name}@${pkg.version}`;
    if (seen.has(id)) return;
    seen.add(id);
    for (const sub of Object.keys(pkg.dependencies || {})) walk(sub, path.dirname(file));
  };
  walk(name, pkgDir);
  setTimeout(() => callback([...seen]), 0);
}

function npmCheckFor(parentFile) {
  const semver = Module.createRequire(parentFile)('semver');
  return function npmCheck(options) {
    const pkg = JSON.parse(fs.readFileSync(path.join(options.cwd, 'package.json'), 'utf8'));
    const packages = Object.entries(pkg.dependencies || {}).map(([moduleName, range]) => {
      const latest = npmJson(['view', moduleName, 'version']);
      const file = findInstalled(moduleName, options.cwd);
      const installed = file ? JSON.parse(fs.readFileSync(file, 'utf8')).version : undefined;
      const bump =
        installed && semver.valid(installed) && semver.gt(latest, installed)
          ? semver.diff(installed, latest)
          : null;
      const easyUpgrade = Boolean(
        semver.validRange(range) &&
        semver.valid(installed) &&
        semver.satisfies(latest, range) &&
        bump !== 'major',
      );
      return { moduleName, packageJson: range, installed, latest, easyUpgrade };
    });
    return Promise.resolve({ get: (key) => (key === 'packages' ? packages : undefined) });
  };
}

const load = Module._load;
Module._load = function (request, parent, isMain) {
  const fromTool =
    parent && parent.filename && parent.filename.includes(`${path.sep}node-red-dev${path.sep}`);
  if (fromTool) {
    if (request === 'axios') return axios;
    if (request === 'npm-remote-ls') return { ls, config: () => undefined };
    if (request === 'npm-check') return npmCheckFor(parent.filename);
  }
  return load.apply(this, [request, parent, isMain]);
};
