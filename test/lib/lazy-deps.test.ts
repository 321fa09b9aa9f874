/**
 * Node-RED loads every node file of the package at start, whatever the flows use. The heavy
 * dependencies (the Redis client, undici, libphonenumber's metadata: ~9 MB of heap together) load
 * only when a node needs them, so a flow with none of those nodes keeps none of it. Less heap at
 * rest also means a lower point at which V8 collects garbage under a burst.
 */
import assert from 'assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const NODES = path.join(__dirname, '../../nodes');

describe('lib: heavy dependencies load on first use', () => {
  it('loading every node file loads none of redis, undici, libphonenumber-js', () => {
    const files = fs
      .readdirSync(NODES)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(NODES, f));
    assert.ok(files.length >= 9, 'the node files');
    // a fresh process: here other tests may have loaded them already
    const script = `
      for (const f of ${JSON.stringify(files)}) require(f);
      const heavy = Object.keys(require.cache)
        .map((f) => /[\\\\/]node_modules[\\\\/]((?:@redis[\\\\/])?[^\\\\/]+)[\\\\/]/.exec(f)?.[1])
        .filter((m) => m && /^(redis|@redis|undici|libphonenumber-js)/.test(m));
      process.stdout.write(JSON.stringify([...new Set(heavy)]));`;
    const res = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { encoding: 'utf8' });
    assert.strictEqual(res.status, 0, res.stderr);
    assert.deepStrictEqual(JSON.parse(res.stdout), []);
  });

  it('a sink reading a number loads libphonenumber-js then (and the number is checked)', () => {
    const script = `
      const { resolveRecipients } = require(${JSON.stringify(path.join(__dirname, '../../nodes/lib/sms/recipients'))});
      const r = resolveRecipients('+48 500 100 200, 12', undefined, { kind: 'e164' });
      const loaded = Object.keys(require.cache).some((f) => /[\\\\/]libphonenumber-js[\\\\/]/.test(f));
      process.stdout.write(JSON.stringify({ valid: r.valid.length, invalid: r.invalid.length, loaded }));`;
    const res = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { encoding: 'utf8' });
    assert.strictEqual(res.status, 0, res.stderr);
    assert.deepStrictEqual(JSON.parse(res.stdout), { valid: 1, invalid: 1, loaded: true });
  });
});
