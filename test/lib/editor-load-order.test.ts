/**
 * resources/editor.js is shared by every node's .html, and the editor may load it from one that does
 * not include lists.js (sms-cluster, delivery watch) before any that does. The runtime's lists must
 * then still be seen once lists.js has loaded: read when used, never kept from load time.
 */
import assert from 'assert';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

/** what editor.js touches of the browser while it loads: anything chainable will do */
function chainable(): unknown {
  const fn: () => unknown = () => proxy;
  const proxy: unknown = new Proxy(fn, {
    get: (_t, key) => (key === 'then' ? undefined : proxy),
    apply: () => proxy,
  });
  return proxy;
}

describe('editor.js: the runtime lists, whatever the load order', () => {
  it('loaded before lists.js, it validates event types against the lists loaded after', () => {
    const window: Record<string, any> = {};
    const context = vm.createContext({
      window,
      $: chainable(),
      RED: {},
      localStorage: { getItem: () => 'en-US' },
      navigator: { language: 'en-US' },
    });
    vm.runInContext(fs.readFileSync(path.join(__dirname, '../../resources/editor.js'), 'utf8'), context);
    const types = window.SmsNotify.eventsDefault('privmx');
    assert.strictEqual(types.validate(['threadNewMessage']), false, 'no lists yet: unknown');
    // lists.js, from the next node's .html
    window.SmsNotifyLists = { events: { privmx: ['threadNewMessage'] }, e164: '^\\+[1-9]\\d{1,14}$' };
    assert.strictEqual(types.validate(['threadNewMessage']), true);
    assert.deepStrictEqual(window.SmsNotify.lists.events.privmx, ['threadNewMessage']);
    assert.strictEqual(window.SmsNotify.optionalE164('x').call({ _: String }, '+48500100200'), true);
  });
});
