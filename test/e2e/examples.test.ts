/**
 * Every file in examples/ imports through the editor's Import dialog (menu → Import → paste) into a
 * new flow, deploys with the Deploy button without any warning, and reaches the runtime (GET /flows).
 * Each example is deployed on its own and removed again (deleted + deployed) before the next one.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import type { Editor } from './editor';
import { REPO, delay, waitFor } from './harness';
import { FLOW_NODE_TYPES } from './node-types';
import { e2eEnv, type E2eEnv } from './suite';

const EXAMPLES = path.join(REPO, 'examples');
const files = fs.existsSync(EXAMPLES)
  ? fs
      .readdirSync(EXAMPLES)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];

interface FlowItem {
  id: string;
  type: string;
  z?: string;
}

type Any = any;

/** Delete what an example added (its tabs, the new flow it went into, its config nodes) and deploy. */
async function removeExample(editor: Editor, flow: FlowItem[]): Promise<void> {
  await editor.page.evaluate((items: FlowItem[]) => {
    const RED = (window as Any).RED;
    const tabs = new Set<string>(items.filter((n) => n.type === 'tab').map((n) => n.id));
    for (const n of items) {
      const live = RED.nodes.node(n.id);
      if (live?.z) tabs.add(live.z);
    }
    for (const id of tabs) {
      const ws = RED.nodes.workspace(id);
      if (ws) RED.workspaces.delete(ws);
    }
    for (const n of items) if (RED.nodes.node(n.id)) RED.nodes.remove(n.id);
    RED.nodes.dirty(true);
    RED.view.redraw(true);
  }, flow);
  const outcome = await editor.deploy();
  assert.ok(outcome.ok, `removing the example did not deploy: ${outcome.message}`);
}

describe('e2e: examples import and deploy', function () {
  let env: E2eEnv;

  before(async function () {
    env = await e2eEnv();
  });

  it('examples/ holds flows that use every non-config node', function () {
    assert.ok(files.length > 0, 'no examples/*.json');
    const used = new Set<string>();
    for (const f of files) {
      for (const n of JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8')) as FlowItem[])
        used.add(n.type);
    }
    const unused = FLOW_NODE_TYPES.map((n) => n.type).filter((t) => !used.has(t));
    assert.deepStrictEqual(unused, [], 'nodes no example uses');
  });

  for (const file of files) {
    it(`examples/${file} imports through the Import dialog and deploys cleanly`, async function () {
      const editor = env.editor;
      const text = fs.readFileSync(path.join(EXAMPLES, file), 'utf8');
      const flow = JSON.parse(text) as FlowItem[];
      assert.ok(Array.isArray(flow), 'an example must be a flow array');
      assert.ok(
        flow.some((n) => n.type === 'comment'),
        'an example should carry a comment node explaining it',
      );
      const mark = editor.errors.length;
      const logMark = env.red.logLength;
      const ids = flow.map((n) => n.id);
      try {
        await editor.importFlow(text);
        const state = await editor.page.evaluate((all: string[]) => {
          const RED = (window as Any).RED;
          const unknown: string[] = [];
          RED.nodes.eachNode((n: Any) => {
            if (n.type === 'unknown') unknown.push(n.name);
          });
          RED.nodes.eachConfig((n: Any) => {
            if (n.type === 'unknown') unknown.push(n.name);
          });
          const first = all.map((id) => RED.nodes.node(id)).find((n: Any) => n && n.z);
          if (first) RED.workspaces.show(first.z);
          // (no named helpers in here: tsx would wrap them in __name(), unknown in the page)
          const missing = all.filter(
            (id) =>
              !(
                RED.nodes.node(id) ||
                RED.nodes.workspace(id) ||
                RED.nodes.group(id) ||
                RED.nodes.junction?.(id)
              ),
          );
          return { missing, unknown };
        }, ids);
        assert.deepStrictEqual(state.unknown, [], 'unknown node types after import');
        assert.deepStrictEqual(state.missing, [], 'nodes missing in the editor after import');

        const outcome = await editor.deploy();
        assert.ok(outcome.ok, `deploy did not succeed: ${outcome.message}`);
        assert.doesNotMatch(outcome.message, /unused/i, 'the example ships unused config nodes');
        const deployed = await env.red.get<FlowItem[]>('/flows');
        const deployedIds = new Set(deployed.map((n) => n.id));
        assert.deepStrictEqual(
          ids.filter((id) => !deployedIds.has(id)),
          [],
          'nodes missing from GET /flows',
        );
        // let the nodes start and show their status, then keep a picture of the example
        await delay(1500);
        await editor.screenshot(`example-${file.replace(/\.json$/, '')}`);

        const runtimeErrors = env.red
          .log(logMark)
          .filter((l) => /\[error\]|TypeError|ReferenceError|Unhandled|uncaught/i.test(l));
        assert.deepStrictEqual(runtimeErrors, [], 'Node-RED logged errors after the deploy');
        assert.deepStrictEqual(editor.errorsSince(mark), [], 'browser console errors');
        const blocked = env.red.blocked(logMark);
        if (blocked.length)
          console.log(`      note: ${file} reached for non-loopback hosts: ${blocked.join('; ')}`);
      } finally {
        await removeExample(editor, flow);
        await waitFor(
          async () => {
            const left = new Set((await env.red.get<FlowItem[]>('/flows')).map((n) => n.id));
            return ids.every((id) => !left.has(id));
          },
          10_000,
          `${file} removed from the runtime`,
        );
      }
    });
  }
});
