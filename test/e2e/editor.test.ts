/**
 * The real editor, driven in Chromium: every node is in the palette under "SMS notify"; every node's
 * edit dialog opens (dragged from the palette, double-clicked), shows its help in the sidebar and
 * saves; config nodes' dialogs open from their parent's config field (add, then the pencil) and save.
 * No console error anywhere.
 */
import assert from 'assert';
import fs from 'fs';
import path from 'path';
import type { Editor, HelpContent } from './editor';
import {
  CATEGORY,
  CATEGORY_ID,
  CONFIG_NODE_TYPES,
  FLOW_NODE_TYPES,
  PACKAGE_NAME,
  type NodeTypeInfo,
} from './node-types';
import { REPO, curate } from './harness';
import { REPO_NODE_RED, RUNTIMES, type RuntimeSpec } from './runtimes';
import { e2eEnv, shotName, titled, type E2eEnv } from './suite';

/** The team's colour per system (brief: "Colours"), by node set. */
const COLOURS: Record<string, string> = {
  privmx: '#9DB7E0',
  'event-filter': '#E2D96E',
  smsapi: '#7FC6C4',
  'sms-gateway': '#A4D7A6',
  esms: '#F2C37C',
  pbxware: '#C9A8E6',
  cpaas: '#E8A890',
  'delivery-watch': '#E6B3C2',
};

function fileName(type: string): string {
  return type.replace(/[^a-z0-9]+/gi, '-');
}

/** Node-RED's help style guide: summary first, Inputs/Outputs with message-properties, Details, References. */
function helpProblems(help: HelpContent, info: NodeTypeInfo): string[] {
  const problems: string[] = [];
  if (help.none) return ['no help at all (sidebar says "None")'];
  if (!help.title) problems.push('help has no title');
  if (help.firstTag !== 'p' || help.summary.length < 10) {
    problems.push(`help must open with a one-line summary <p> (first element: <${help.firstTag}>)`);
  }
  if (!help.headings.includes('Details'))
    problems.push(`no <h3>Details</h3> (headings: ${help.headings.join(', ')})`);
  if (!info.config) {
    if (!help.headings.some((h) => h === 'Inputs' || h === 'Outputs'))
      problems.push('no <h3>Inputs</h3>/<h3>Outputs</h3>');
    if (help.messageProperties === 0) problems.push('no <dl class="message-properties"> list');
    if (!help.headings.includes('References')) problems.push('no <h3>References</h3>');
  }
  return problems;
}

function noNewErrors(editor: Editor, mark: number, what: string): void {
  const errors = editor.errorsSince(mark);
  assert.deepStrictEqual(errors, [], `${what}: browser console errors`);
}

/** The storm-guard fields of an open sink dialog, and whether a bad rate limit is marked red. */
async function sinkGuardFields(editor: Editor) {
  const field = (name: string) => editor.page.locator(`#node-input-${name}`);
  if ((await field('rateLimit').count()) !== 1) return undefined;
  const rateLimit = await field('rateLimit').inputValue();
  await field('rateLimit').fill('ten');
  await field('rateLimit').press('End');
  const badMarked = await field('rateLimit').evaluate((el) => el.classList.contains('input-error'));
  await field('rateLimit').fill(rateLimit);
  await field('rateLimit').press('End');
  return {
    rateLimit,
    dedupeWindow: await field('dedupeWindow').inputValue(),
    maxRecipients: await field('maxRecipients').inputValue(),
    maxParts: await field('maxParts').inputValue(),
    badMarked,
  };
}

/** The same checks on every runtime the tarball is tested on (runtimes.ts). */
function editorSuite(runtime: RuntimeSpec): void {
  describe(titled('e2e: editor', runtime), function () {
    let env: E2eEnv;
    let editor: Editor;

    before(async function () {
      env = await e2eEnv(runtime);
      editor = env.editor;
    });

    function loadError(info: NodeTypeInfo): string {
      const set = env.nodeSets.find((s) => s.id === `${PACKAGE_NAME}/${info.set}`);
      if (!set) return `node set ${info.set} is not in GET /nodes`;
      return set.err ? `node set ${info.set} failed to load: ${JSON.stringify(set.err)}` : '';
    }

    async function assertInPalette(info: NodeTypeInfo): Promise<void> {
      const count = await editor.paletteNode(info.type).count();
      assert.strictEqual(count, 1, `"${info.type}" is not in the palette. ${loadError(info)}`);
    }

    describe('palette', function () {
      it(`has a "${CATEGORY}" category`, async function () {
        const header = editor.page.locator(`#red-ui-palette-header-${CATEGORY_ID}`);
        assert.strictEqual(await header.count(), 1, `no palette category "${CATEGORY}"`);
        assert.strictEqual((await header.innerText()).trim(), CATEGORY);
        await editor.page.locator(`#red-ui-palette-container-${CATEGORY_ID}`).scrollIntoViewIfNeeded();
        await editor.screenshot(shotName('palette', runtime), {
          selector: `#red-ui-palette-container-${CATEGORY_ID}`,
        });
      });

      for (const info of FLOW_NODE_TYPES) {
        it(`shows "${info.type}" under "${CATEGORY}" with its label, icon and colour`, async function () {
          await assertInPalette(info);
          const node = editor.page.locator(
            `#red-ui-palette-container-${CATEGORY_ID} .red-ui-palette-node[data-palette-type="${info.type}"]`,
          );
          assert.strictEqual(
            await node.count(),
            1,
            `"${info.type}" is in the palette, but not under "${CATEGORY}"`,
          );
          const look = await node.evaluate((el) => {
            const icon = el.querySelector('.red-ui-palette-icon') as HTMLElement | null;
            const m = /url\("?([^")]+)"?\)/.exec(icon?.style.backgroundImage ?? '');
            return {
              label: (el.querySelector('.red-ui-palette-label') as HTMLElement).innerText.trim(),
              icon: m ? m[1] : '',
              colour: getComputedStyle(el).backgroundColor,
            };
          });
          assert.ok(look.label, 'empty palette label');
          assert.match(
            look.icon,
            new RegExp(`icons/${PACKAGE_NAME}/[\\w.-]+\\.svg$`),
            `icon is not one of ours: ${look.icon}`,
          );
          const res = await editor.page.request.get(new URL(look.icon, env.red.url + '/').href);
          assert.strictEqual(res.status(), 200, `icon ${look.icon}: HTTP ${res.status()}`);
          assert.match(res.headers()['content-type'] ?? '', /svg/);
          // Node-RED answers an icon it cannot find with its default arrow: compare with ours
          const name = look.icon.split('/').pop() as string;
          const ours = path.join(REPO, 'icons', name);
          assert.ok(fs.existsSync(ours), `icons/${name} does not exist`);
          assert.strictEqual(
            await res.text(),
            fs.readFileSync(ours, 'utf8'),
            `Node-RED does not serve icons/${name}`,
          );
          const rgb = (look.colour.match(/\d+/g) ?? []).slice(0, 3).map(Number);
          const hex = '#' + rgb.map((c) => c.toString(16).padStart(2, '0').toUpperCase()).join('');
          assert.strictEqual(hex, COLOURS[info.set], `colour of "${info.type}"`);
        });
      }

      it('lists no config node in the palette', async function () {
        for (const info of CONFIG_NODE_TYPES) {
          assert.strictEqual(
            await editor.paletteNode(info.type).count(),
            0,
            `config node ${info.type} in the palette`,
          );
        }
      });
    });

    describe('edit dialogs and help', function () {
      let slot = 0;
      /** a free spot on the canvas for the next dropped node */
      function nextSpot(): [number, number] {
        const i = slot++;
        return [120 + (i % 3) * 220, 60 + Math.floor(i / 3) * 70];
      }

      after(async function () {
        // discard the dropped nodes and the config nodes added on the way
        if (editor) await editor.reload();
      });

      for (const info of FLOW_NODE_TYPES) {
        it(`"${info.type}": dialog opens from the palette, shows help, saves`, async function () {
          await assertInPalette(info);
          const mark = editor.errors.length;
          const [x, y] = nextSpot();
          const id = await editor.dragFromPalette(info.type, x, y);
          await editor.editNode(id);
          // sinks: the pipeline's storm guards default on, and a bad value is marked red before deploy
          const guards = await sinkGuardFields(editor);
          const help = await editor.showHelpFromTray();
          await editor.hideHelpTopics();
          const shot = await editor.screenshot(shotName(`dialog-${fileName(info.type)}`, runtime));
          if (info.type === 'smsapi out' && runtime === REPO_NODE_RED) curate(shot, 'editor');
          await editor.closeTray('#node-dialog-ok');
          const saved = await editor.page.evaluate(
            (nodeId) => !!(window as unknown as { RED: any }).RED.nodes.node(nodeId),
            id,
          );
          assert.ok(saved, 'node gone after Done');
          assert.deepStrictEqual(helpProblems(help, info), [], `help of "${info.type}"`);
          if (/ out$/.test(info.type))
            assert.deepStrictEqual(
              guards,
              { rateLimit: '10', dedupeWindow: '60', maxRecipients: '20', maxParts: '3', badMarked: true },
              `storm guard fields of "${info.type}"`,
            );
          noNewErrors(editor, mark, info.type);
        });
      }

      for (const info of CONFIG_NODE_TYPES) {
        const via = info.via as { type: string; property: string };
        it(`"${info.type}": dialog opens from "${via.type}" ${via.property} field (add, then pencil), shows help, saves`, async function () {
          await assertInPalette({ ...info, type: via.type, config: false });
          const mark = editor.errors.length;
          const [x, y] = nextSpot();
          const id = await editor.dragFromPalette(via.type, x, y);
          await editor.editNode(id);
          const field = editor.page.locator(`select#node-input-${via.property}`);
          assert.strictEqual(await field.count(), 1, `"${via.type}" has no config field "${via.property}"`);

          // add a new config node with the + button
          await editor.page.locator(`#node-input-btn-${via.property}-add`).click();
          await editor.waitTray('#node-config-dialog-ok');
          const tray = editor.page.locator('.red-ui-tray').last();
          // validation marks a bad URL red before deploy (when the URL is a plain text field)
          const url = tray.locator('input#node-config-input-url:visible');
          let urlValidation = 'no visible text field #node-config-input-url';
          if ((await url.count()) === 1) {
            const original = await url.inputValue();
            await url.fill('not a url');
            await url.press('End');
            const marked = await url.evaluate((el) => el.classList.contains('input-error'));
            await url.fill(original);
            await url.press('End');
            urlValidation = marked ? 'marked' : 'not marked';
          }
          const help = await editor.showHelpFromTray();
          const testButton = tray.locator('#node-config-test-connection');
          const hasTestButton = (await testButton.count()) === 1;
          let testResult = '';
          if (hasTestButton) {
            await testButton.click();
            const result = editor.page.locator('#node-config-test-result');
            testResult = await result
              .filter({ hasNotText: /^\s*$/ })
              .filter({ hasNot: editor.page.locator('.fa-spinner') })
              .innerText({ timeout: 35_000 })
              .catch(() => '(no outcome within 35 s)');
          }
          await editor.screenshot(shotName(`dialog-${fileName(info.type)}`, runtime));
          await editor.closeTray('#node-config-dialog-ok');
          const configId = await field.inputValue();
          const configType = await editor.page.evaluate(
            (cid) => (window as unknown as { RED: any }).RED.nodes.node(cid)?.type,
            configId,
          );
          assert.strictEqual(
            configType,
            info.type,
            `after Add, ${via.property} does not select a new ${info.type}`,
          );

          // and open it again with the pencil
          await editor.page.locator(`#node-input-btn-${via.property}-edit`).click();
          await editor.waitTray('#node-config-dialog-ok');
          await editor.closeTray('#node-config-dialog-ok');
          await editor.closeTray('#node-dialog-ok');
          const stored = await editor.page.evaluate(
            ({ nodeId, prop }) => (window as unknown as { RED: any }).RED.nodes.node(nodeId)?.[prop],
            { nodeId: id, prop: via.property },
          );
          assert.strictEqual(stored, configId, `"${via.type}".${via.property} not saved`);

          assert.deepStrictEqual(helpProblems(help, info), [], `help of "${info.type}"`);
          assert.notStrictEqual(
            urlValidation,
            'not marked',
            'URL "not a url" is not marked invalid (input-error)',
          );
          assert.ok(hasTestButton, 'no #node-config-test-connection button');
          assert.doesNotMatch(testResult, /HTTP (404|500)|no outcome/, `test connection: ${testResult}`);
          noNewErrors(editor, mark, info.type);
          if (process.env.E2E_VERBOSE)
            console.log(`      ${info.type}: url ${urlValidation}; test connection: ${testResult}`);
        });
      }
    });
  });
}

for (const runtime of RUNTIMES) editorSuite(runtime);
