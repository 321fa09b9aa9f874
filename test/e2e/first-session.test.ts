/**
 * A new user's first session, in the real editor against `npm start`'s simulators (scripts/demo.ts):
 * build `privmx in → event filter → smsapi out → debug` by hand from the palette, deploy, see the SMS;
 * then misconfigure To, Message and a new Bridge's URL and see each reason in the dialog.
 */
import assert from 'assert';
import type { Page } from 'playwright-core';
import { Editor } from './editor';
import { type DemoHandle, type DemoModule, demoReady, openDemo } from './demo-session';
import { waitFor } from './harness';
import { e2eEnv, type E2eEnv } from './suite';

type Any = any;

/** Drag a wire from the output port of `from` to the input port of `to`. */
async function wire(page: Page, from: string, to: string): Promise<void> {
  const out = await page
    .locator(`g.red-ui-flow-node-group[id="${from}"] g.red-ui-flow-port-output`)
    .boundingBox();
  const inp = await page
    .locator(`g.red-ui-flow-node-group[id="${to}"] g.red-ui-flow-port-input`)
    .boundingBox();
  if (!out || !inp) throw new Error(`ports of ${from} → ${to} not visible`);
  await page.mouse.move(out.x + out.width / 2, out.y + out.height / 2);
  await page.mouse.down();
  await page.mouse.move(inp.x + inp.width / 2, inp.y + inp.height / 2, { steps: 10 });
  await page.mouse.up();
  await waitFor(
    () =>
      page.evaluate(
        ({ a, b }) =>
          (window as Any).RED.nodes.filterLinks({ source: { id: a }, target: { id: b } }).length > 0,
        { a: from, b: to },
      ),
    5000,
    `wire ${from} → ${to}`,
  );
}

/** The flow tab a node is on. */
function tabOf(page: Page, id: string): Promise<string> {
  return page.evaluate((nodeId) => String((window as Any).RED.nodes.node(nodeId)?.z ?? ''), id);
}

/** The status text the editor shows under a node. */
function statusText(page: Page, id: string): Promise<string> {
  return page.evaluate((nodeId) => String((window as Any).RED.nodes.node(nodeId)?.status?.text ?? ''), id);
}

(demoReady ? describe : describe.skip)('e2e: a first session against the demo simulators', function () {
  let env: E2eEnv;
  let demo: DemoHandle;
  let editor: Editor;
  let mod: DemoModule;
  const ids: Record<string, string> = {};

  before(async function () {
    env = await e2eEnv();
    ({ mod, demo, editor } = await openDemo(env, 'sms-notify-e2e-first-', { width: 1400, height: 900 }));
    const page = editor.page;
    // a new, empty flow tab of the user's own
    await page.evaluate(() => (window as Any).RED.workspaces.add());
  });

  after(async function () {
    await editor?.page.close();
    await demo?.stop();
    await env?.editor.page.bringToFront();
  });

  it('builds privmx in → event filter → smsapi out → debug by hand and sees the SMS', async function () {
    const page = editor.page;
    const mark = editor.errors.length;
    ids.source = await editor.dragFromPalette('privmx in', 140, 120);
    ids.filter = await editor.dragFromPalette('event filter', 360, 120);
    ids.sink = await editor.dragFromPalette('smsapi out', 580, 120);
    ids.debug = await editor.dragFromPalette('debug', 800, 120);

    await editor.editNode(ids.source);
    await page.selectOption('select#node-input-bridge', mod.DEMO_IDS.bridge);
    await editor.closeTray('#node-dialog-ok');

    await editor.editNode(ids.filter);
    await page.selectOption('#node-input-quick-preset', 'thread');
    await page.fill('#node-input-quick-id', mod.DEMO_THREAD_ID);
    await page.click('#node-input-quick-apply');
    await page.locator('#node-input-quick-done').waitFor({ state: 'visible' });
    assert.match(
      await page.locator('#node-input-quick-done').innerText(),
      /\d/,
      'Set rules says what it did',
    );
    await editor.closeTray('#node-dialog-ok');

    await editor.editNode(ids.sink);
    await page.selectOption('select#node-input-account', mod.DEMO_IDS.smsapiAccount);
    // dedupe is said in words, with the window typed
    assert.match(await page.locator('#node-input-dedupe-tip').innerText(), /60 s/);
    await page.fill('#node-input-to', '+48500100200');
    await page.fill('#node-input-message', 'New message by {{event.author}}');
    await editor.closeTray('#node-dialog-ok');

    await wire(page, ids.source, ids.filter);
    await wire(page, ids.filter, ids.sink);
    await wire(page, ids.sink, ids.debug);
    const outcome = await editor.deploy();
    assert.ok(outcome.ok, `deploy: ${outcome.message}`);

    await waitFor(async () => /sent [1-9]/.test(await statusText(page, ids.sink)), 60_000, 'status "sent N"');
    await editor.openSidebarTab('debug');
    const fromOurs = page.locator(`.red-ui-debug-msg-node-${ids.debug.replace(/\./g, '_')}`);
    await fromOurs.first().waitFor({ state: 'visible', timeout: 30_000 });
    const sent = demo.smsapi?.smsRequests.map((r) => r.body?.to) ?? [];
    assert.ok(
      sent.includes('+48500100200') || sent.includes('48500100200'),
      `SMSAPI got: ${sent.join(', ')}`,
    );
    assert.deepStrictEqual(editor.errorsSince(mark), [], 'browser console errors');
  });

  it('marks a bad To red with its reason, and warns while Message is empty', async function () {
    const page = editor.page;
    await editor.editNode(ids.sink);
    const to = page.locator('#node-input-to');
    const reason = page.locator('#node-input-to-reason');
    await page.fill('#node-input-defaultCountry', '');
    await to.fill('12345');
    await to.press('End');
    await waitFor(() => to.evaluate((el) => el.classList.contains('input-error')), 5000, 'To marked red');
    assert.match(await reason.innerText(), /"12345".*(E\.164|\+48)/);
    // a national number with a Country is fine
    await page.fill('#node-input-defaultCountry', 'PL');
    await to.fill('500100200');
    await to.press('End');
    await waitFor(() => to.evaluate((el) => !el.classList.contains('input-error')), 5000, 'To no longer red');
    assert.strictEqual(await reason.isVisible(), false);

    const empty = page.locator('#node-input-message-empty');
    assert.strictEqual(await empty.isVisible(), false);
    await page.fill('#node-input-message', '');
    await empty.waitFor({ state: 'visible' });
    assert.match(await empty.innerText(), /msg\.payload/);
    await page.locator('#node-dialog-cancel').click();
    await waitFor(async () => (await editor.trayCount()) === 0, 10_000, 'dialog closed');
  });

  it('groups the provider options under an "Advanced" toggle, with their checks', async function () {
    const page = editor.page;
    await editor.editNode(ids.sink);
    const advanced = page.locator('#node-input-advanced');
    assert.strictEqual(await advanced.isVisible(), false, 'Advanced starts folded');
    await page.click('#node-input-advanced-toggle');
    await advanced.waitFor({ state: 'visible' });
    assert.ok(
      await page.locator('#node-input-advanced-toggle.sms-notify-open').count(),
      'the toggle shows open',
    );
    for (const field of ['fast', 'flash', 'expiration', 'encoding', 'noUnicode', 'queueSize', 'retries'])
      assert.ok(await advanced.locator(`#node-input-${field}`).isVisible(), `${field} under Advanced`);
    const expiration = page.locator('#node-input-expiration');
    await expiration.fill('5'); // below SMSAPI's 15 minutes
    await expiration.press('End');
    await waitFor(
      () => expiration.evaluate((el) => el.classList.contains('input-error')),
      5000,
      'expiration red',
    );
    await expiration.fill('60');
    await expiration.press('End');
    await waitFor(
      () => expiration.evaluate((el) => !el.classList.contains('input-error')),
      5000,
      'expiration ok',
    );
    assert.match(await advanced.innerText(), /msg\.sms\.options/);
    await page.locator('#node-dialog-cancel').click();
    await waitFor(async () => (await editor.trayCount()) === 0, 10_000, 'dialog closed');
  });

  it('a new Bridge has an empty URL with a placeholder, and a URL without http:// says so', async function () {
    const page = editor.page;
    await editor.editNode(ids.source);
    await page.locator('#node-input-btn-bridge-add').click();
    await editor.waitTray('#node-config-dialog-ok');
    const url = page.locator('#node-config-input-url');
    assert.strictEqual(await url.inputValue(), '', 'the URL is not pre-filled');
    assert.match((await url.getAttribute('placeholder')) || '', /localhost:9111/);
    await url.fill('localhost:9111');
    await url.press('End');
    await waitFor(() => url.evaluate((el) => el.classList.contains('input-error')), 5000, 'URL marked red');
    assert.match(await page.locator('#node-config-input-url-reason').innerText(), /http:\/\//);
    await url.fill('http://localhost:9111localhost:9111');
    await url.press('End');
    assert.match(await page.locator('#node-config-input-url-reason').innerText(), /not a valid URL/);
    await page.locator('#node-config-dialog-cancel').click();
    await editor.page.locator('#node-dialog-cancel').click();
    await waitFor(async () => (await editor.trayCount()) === 0, 10_000, 'dialogs closed');
  });

  it('with a Polish editor, shows the statuses and Test connection answers in Polish', async function () {
    const page = editor.page;
    await page.evaluate(() => localStorage.setItem('editor-language', 'pl'));
    try {
      await editor.reload();
      await page.evaluate((tab) => (window as Any).RED.workspaces.show(tab), await tabOf(page, ids.sink));
      await waitFor(
        async () => /wysłano [1-9]/.test(await statusText(page, ids.sink)),
        30_000,
        'status "wysłano N"',
      );
      // a new Bridge without a secret: the endpoint's answer comes as a key, said in Polish
      await editor.editNode(ids.source);
      await page.locator('#node-input-btn-bridge-add').click();
      await editor.waitTray('#node-config-dialog-ok');
      await page.fill('#node-config-input-url', 'http://127.0.0.1:9');
      await page.click('#node-config-test-connection');
      const result = page.locator('#node-config-test-result');
      await waitFor(async () => /Wpisz sekret/.test(await result.innerText()), 30_000, 'a Polish answer');
      await page.locator('#node-config-dialog-cancel').click();
      await page.locator('#node-dialog-cancel').click();
      await waitFor(async () => (await editor.trayCount()) === 0, 10_000, 'dialogs closed');
    } finally {
      await page.evaluate(() => localStorage.removeItem('editor-language'));
    }
  });
});
