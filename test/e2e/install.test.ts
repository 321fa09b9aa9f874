/**
 * The tarball installs into a fresh Node-RED user dir with `npm install <tgz>` and every node set of
 * the package loads without error (GET /nodes), with every node type the README names — on every
 * runtime the tarball is tested on (runtimes.ts).
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { NODE_SETS, NODE_TYPES, PACKAGE_NAME } from './node-types';
import { REPO } from './harness';
import { RUNTIMES, type RuntimeSpec } from './runtimes';
import { e2eEnv, titled, type E2eEnv } from './suite';

const RUNTIME_DEPS = Object.keys(
  (
    JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    }
  ).dependencies,
);

function installSuite(runtime: RuntimeSpec): void {
  describe(titled('e2e: npm pack tarball in a fresh Node-RED user dir', runtime), function () {
    let env: E2eEnv;

    before(async function () {
      env = await e2eEnv(runtime);
    });

    it('runs on the Node-RED and Node versions it is meant to', async function () {
      const { nodeRedVersion, nodeVersion } = env.runtime;
      const log = env.red.log().join('\n');
      assert.match(log, new RegExp(`Node-RED version: v${nodeRedVersion.replace(/\./g, '\\.')}\\b`));
      assert.match(log, new RegExp(`Node\\.js\\s+version: v${nodeVersion.replace(/\./g, '\\.')}\\b`));
      // a Node-RED installed from a git checkout says e.g. 4.1.8-git
      const settings = await env.red.get<{ version: string }>('/settings');
      assert.match(settings.version, new RegExp(`^${nodeRedVersion.replace(/\./g, '\\.')}(-|$)`));
    });

    it('npm install <tgz> installs the package and its runtime dependencies', function () {
      const modules = path.join(env.userDir, 'node_modules');
      const installed = JSON.parse(fs.readFileSync(path.join(modules, PACKAGE_NAME, 'package.json'), 'utf8'));
      const own = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
      assert.strictEqual(installed.version, own.version);
      for (const dep of RUNTIME_DEPS) {
        assert.ok(
          fs.existsSync(path.join(modules, dep, 'package.json')) ||
            fs.existsSync(path.join(modules, PACKAGE_NAME, 'node_modules', dep, 'package.json')),
          `runtime dependency ${dep} not installed`,
        );
      }
      // nothing a user does not need came along
      for (const dev of ['node-red', 'mocha', 'playwright-core', 'typescript', 'tsx']) {
        assert.ok(!fs.existsSync(path.join(modules, dev)), `dev dependency ${dev} was installed`);
      }
    });

    for (const set of NODE_SETS) {
      it(`node set ${set} loads without error`, function () {
        const id = `${PACKAGE_NAME}/${set}`;
        const info = env.nodeSets.find((s) => s.id === id);
        assert.ok(info, `${id} not in GET /nodes (is it in package.json node-red.nodes?)`);
        const err = info.err ? JSON.stringify(info.err) : undefined;
        const log = env.red
          .log()
          .filter((l) => l.includes(id))
          .join('\n');
        assert.strictEqual(err, undefined, `${id} failed to load: ${err}\n${log}`);
        assert.ok(info.enabled, `${id} is disabled`);
        const expected = NODE_TYPES.filter((n) => n.set === set).map((n) => n.type);
        assert.deepStrictEqual([...info.types].sort(), [...expected].sort(), `${id} registers other types`);
      });
    }

    it("registers every node type of the README's node list, all from this module", function () {
      const registered = new Map<string, string>();
      for (const s of env.nodeSets) for (const t of s.types) registered.set(t, s.module);
      const missing = NODE_TYPES.filter((n) => registered.get(n.type) !== PACKAGE_NAME).map((n) => n.type);
      assert.deepStrictEqual(missing, [], `node types not registered by ${PACKAGE_NAME}`);
    });

    it('Node-RED logged no error or warning about the package while starting', function () {
      const lines = env.red.log().filter((l) => /\[(warn|error)\]/.test(l) && l.includes(PACKAGE_NAME));
      assert.deepStrictEqual(lines, []);
    });
  });
}

for (const runtime of RUNTIMES) installSuite(runtime);
