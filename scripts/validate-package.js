// Node-RED's package scorecard (`node-red-dev validate`) on what users get: `npm pack` this repo (run
// `npm run build` first), `npm install <tgz>` into a temp dir, validate the installed package.
// node-red-dev's network calls are replaced by scripts/validate-package-offline.js (see there): the
// registry is asked through npm itself, the catalogue of every module name is not downloaded.
//
//   node scripts/validate-package.js [--out scorecard.json]
//
// Prints node-red-dev's output, then one line per scorecard check. Exit 1 when a check that ran failed.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const ROOT = path.join(__dirname, '..');
const NODE_RED_DEV = process.env.NODE_RED_DEV || 'node-red-dev@0.1.6';
const TITLES = {
  P01: 'has a license',
  P03: 'has a repository or bugs URL',
  P04: 'package name is valid (scoped or node-red-contrib-…)',
  P05: 'keywords contain node-red',
  P06: 'node-red.version is compatible with current Node-RED',
  P07: 'engines.node is compatible with current Node-RED',
  P08: 'no similarly named package in the catalogue',
  N01: 'node types are unique in the catalogue',
  N02: 'examples use every non-config node',
  D01: '6 or fewer dependencies',
  D02: 'no known-incompatible package in the dependency tree',
  D03: 'dependencies are at their latest versions',
};

const outArg = process.argv.indexOf('--out');
const outFile = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : undefined;
const env = { ...process.env, npm_config_update_notifier: 'false' };

function npm(args, cwd) {
  return execFileSync('npm', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sms-notify-validate-'));
let failed = 0;
try {
  const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT))[0];
  const root = path.join(tmp, 'install');
  fs.mkdirSync(root);
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'validate', private: true }));
  npm(
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=dev', path.join(tmp, packed.filename)],
    root,
  );
  const pkgDir = path.join(
    root,
    'node_modules',
    JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'))).name,
  );
  const scorecardFile = path.join(tmp, 'scorecard.json');
  const notesFile = path.join(tmp, 'notes.jsonl');

  const run = spawnSync(
    'npx',
    ['--yes', NODE_RED_DEV, 'validate', '-p', pkgDir, '-o', scorecardFile, '-e', '1'],
    {
      cwd: tmp,
      encoding: 'utf8',
      env: {
        ...env,
        NODE_OPTIONS: `--require ${path.join(__dirname, 'validate-package-offline.js')}`,
        VALIDATE_PACKAGE_ROOT: root,
        VALIDATE_PACKAGE_NOTES: notesFile,
      },
      timeout: 300_000,
    },
  );
  const output = `${run.stdout}${run.stderr}`
    .split('\n')
    .filter((l) => l.trim() && !/Unknown user config/.test(l))
    .join('\n');
  console.log(output);
  if (!fs.existsSync(scorecardFile)) {
    console.error(
      `validate-package: node-red-dev wrote no scorecard (exit ${run.status}, ${run.error || ''})`,
    );
    process.exitCode = 2;
  } else {
    const scorecard = JSON.parse(fs.readFileSync(scorecardFile, 'utf8'));
    const notes = fs.existsSync(notesFile)
      ? fs
          .readFileSync(notesFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
    const notRun = new Set(notes.flatMap((n) => n.code.split('/')));
    console.log(`\nScorecard for ${scorecard.package.name}@${scorecard.package.version} (${NODE_RED_DEV}):`);
    for (const [code, title] of Object.entries(TITLES)) {
      const result = scorecard[code];
      let status;
      if (notRun.has(code)) status = 'NOT RUN';
      else if (!result) status = 'MISSING';
      else status = result.test ? 'pass' : 'FAIL';
      if (status === 'FAIL') failed++;
      const extra = result ? Object.entries(result).filter(([k]) => k !== 'test') : [];
      const details = extra.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
      console.log(`  ${code} ${status.padEnd(7)} ${title}${details ? `  (${details})` : ''}`);
    }
    for (const n of [...new Map(notes.map((n) => [n.code, n])).values()])
      console.log(`  note ${n.code}: ${n.text}`);
    if (outFile) fs.writeFileSync(outFile, JSON.stringify({ scorecard, notes, output }, null, 2));
    if (failed) process.exitCode = 1;
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
