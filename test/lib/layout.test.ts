/**
 * The shape of the code base, checked on every run so it does not drift back: `nodes/lib` has no
 * Node-RED import, node files pass Node-RED's objects in without casts, no source file under `nodes/`
 * (source, help, catalog) grows past 400 lines, no node copies a message by spread, and nothing in the repository points to a file outside it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Every file under `dir` (relative to the root), skipping installed and built trees. */
function filesUnder(dir: string): string[] {
  const full = path.join(ROOT, dir);
  if (!fs.existsSync(full)) return [];
  if (fs.statSync(full).isFile()) return [dir];
  const out: string[] = [];
  for (const entry of fs.readdirSync(full, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(rel));
    else out.push(rel);
  }
  return out;
}

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const nodeFiles = () => fs.readdirSync(path.join(ROOT, 'nodes')).filter((f) => f.endsWith('.ts'));

/**
 * Casts and long files left to the rewrite of the event sources (the `in` node functions, the
 * Bridge connection, the CPaaS channel). Each entry goes when that work lands: a stale entry fails.
 */

describe('code base layout', function () {
  it('nodes/lib imports nothing from Node-RED (structural interfaces only)', () => {
    const offenders = filesUnder('nodes/lib')
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /from\s+['"](node-red|@node-red\/[^'"]+)['"]/.test(read(f)));
    assert.deepEqual(offenders, []);
  });

  it('node files pass RED and `this` in without double casts', () => {
    const casting = nodeFiles()
      .map((f) => `nodes/${f}`)
      .filter((f) => read(f).includes('as unknown' + ' as'));
    assert.deepEqual(casting, [], 'a node file casts Node-RED objects');
  });

  it('no node copies a message by spread (copyWith instead: see nodes/lib/envelope.ts)', () => {
    // `{ ...msg }` on Node 20 gives each copy a hidden class of its own once a later node adds a property
    const offenders = filesUnder('nodes')
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /\{\s*\.\.\.(msg|message)\b/.test(read(f)));
    assert.deepEqual(offenders, []);
  });

  it('no file under nodes/ is longer than 400 lines', () => {
    const long = filesUnder('nodes').filter((f) => read(f).split('\n').length > 400);
    assert.deepEqual(long, []);
  });

  it('nothing points to a file outside the repository', () => {
    // spelled in pieces so that this file does not match itself
    const outside = new RegExp(
      [
        '[/]wo' + 'rk[/]',
        'DESI' + 'GN\\.md',
        '\\.\\./sha' + 'red',
        'se' + 'ed 00[0-9]',
        'se' + 'ed scenario',
      ].join('|'),
      'i',
    );
    const scanned = [
      'nodes',
      'test',
      'scripts',
      'bench',
      'docs',
      'examples',
      'resources',
      '.ci',
      'README.md',
      'CHANGELOG.md',
      'package.json',
    ].flatMap(filesUnder);
    const text = scanned.filter((f) => /\.(ts|js|mjs|json|md|html|sh|txt)$|(^|\/)run$/.test(f));
    assert.ok(text.length > 50, `scanned ${text.length} files`);
    assert.deepEqual(
      text.filter((f) => outside.test(read(f))),
      [],
    );
  });
});
