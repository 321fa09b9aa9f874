/**
 * The demo scenario (`npm start`: scripts/demo.ts) runs and its result shows in the editor's debug
 * sidebar: a PrivMX event from the simulated Bridge, and the SMS the pipeline "sent" to the simulated
 * SMSAPI. Pending while scripts/demo.ts does not export startDemo().
 */
import assert from 'assert';
import { Editor } from './editor';
import { type DemoHandle, demoReady, openDemo } from './demo-session';
import { curate, delay, waitFor } from './harness';
import { CATEGORY_ID } from './node-types';
import { e2eEnv, type E2eEnv } from './suite';

(demoReady ? describe : describe.skip)('e2e: demo scenario in the browser', function () {
  let env: E2eEnv;
  let demo: DemoHandle;
  let editor: Editor;

  before(async function () {
    env = await e2eEnv();
    ({ demo, editor } = await openDemo(env, 'sms-notify-e2e-demo-', { width: 1280, height: 720 }));
  });

  after(async function () {
    // a background tab gets its timers throttled: close ours, give the suite's editor the front again
    await editor?.page.close();
    await demo?.stop();
    await env?.editor.page.bringToFront();
  });

  it('shows the latest PrivMX event under the events debug node (status only: no sidebar flood)', async function () {
    const mark = editor.errors.length;
    await editor.openSidebarTab('debug');
    // the "PrivMX events" debug node reports each event's topic as its status, not in the sidebar
    const status = editor.page.locator('.red-ui-flow-node-status-label', { hasText: /privmx\// });
    await status.first().waitFor({ state: 'visible', timeout: 60_000 });
    const first = await status.first().textContent();
    await waitFor(
      async () => (await status.first().textContent()) !== first,
      20_000,
      'the status follows the events',
    );
    // store events never become an SMS: in the sidebar they could only come from the events debug node
    const storeInSidebar = editor.page.locator('.red-ui-debug-msg', { hasText: /privmx\/store\// });
    assert.strictEqual(await storeInSidebar.count(), 0, 'raw events are not sent to the sidebar');
    await editor.screenshot('debug-sidebar-privmx');
    assert.deepStrictEqual(editor.errorsSince(mark), [], 'browser console errors');
  });

  it('shows the SMS the demo sent in the debug sidebar', async function () {
    const flows = (await (await fetch(demo.url + 'flows')).json()) as { type: string }[];
    const sinks = flows.filter((n) => / out$/.test(n.type) && n.type !== 'link out');
    if (sinks.length === 0) this.skip(); // the demo has no SMS side yet: pending
    const mark = editor.errors.length;
    const sms = editor.page.locator('.red-ui-debug-msg', { hasText: /\bsms\b/i });
    await waitFor(() => sms.count(), 60_000, 'an SMS result in the debug sidebar');
    // the picture for the README: our palette category, the flow, msg.sms unfolded in the sidebar
    await sms.last().locator('.red-ui-debug-msg-object-handle').first().click();
    await editor.page.locator(`#red-ui-palette-container-${CATEGORY_ID}`).scrollIntoViewIfNeeded();
    await editor.page.evaluate(() => {
      const list = document.querySelector('.red-ui-debug-content');
      if (list) list.scrollTop = list.scrollHeight;
    });
    await editor.page.mouse.move(600, 650);
    await delay(300);
    curate(await editor.screenshot('debug-sidebar-demo'), 'demo');
    const errors = await editor.page.locator('.red-ui-debug-msg-level-20').allInnerTexts();
    assert.deepStrictEqual(errors, [], 'the demo flow reported errors in the debug sidebar');
    assert.deepStrictEqual(editor.errorsSince(mark), [], 'browser console errors');
  });
});
