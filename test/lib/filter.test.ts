import assert from 'node:assert/strict';
import {
  compileAccessor,
  compileFilter,
  compileRegex,
  compileRule,
  FilterRuleError,
  parsePath,
  type FilterRule,
} from '../../nodes/lib/filter';

const msg = {
  topic: 'privmx/thread/threadNewMessage',
  payload: { data: { keyId: '<inbox-abc>', list: [{ n: 1 }], 'dotted.key': 'yes' } },
  event: {
    source: 'privmx',
    channel: 'thread',
    type: 'threadNewMessage',
    containerId: '66f76cdc06848d6a6494f783',
    author: 'janek',
    count: 3,
    flag: false,
    nothing: null,
  },
};

describe('lib/filter', function () {
  it('parses msg paths: dots, indexes, quoted keys, a leading msg.', () => {
    assert.deepEqual(parsePath('event.containerId'), ['event', 'containerId']);
    assert.deepEqual(parsePath('msg.payload.data.list[0].n'), ['payload', 'data', 'list', '0', 'n']);
    assert.deepEqual(parsePath('payload.data["dotted.key"]'), ['payload', 'data', 'dotted.key']);
    for (const bad of ['', 'a..b', '.a', 'a.', 'a[x]', 'a[0', 'a[0]b'])
      assert.throws(() => parsePath(bad), Error, `"${bad}" must be rejected`);
  });

  it('accessors read any depth and return undefined through missing or primitive parents', () => {
    assert.equal(compileAccessor('topic')(msg), msg.topic);
    assert.equal(compileAccessor('event.author')(msg), 'janek');
    assert.equal(compileAccessor('payload.data.keyId')(msg), '<inbox-abc>');
    assert.equal(compileAccessor('payload.data.list[0].n')(msg), 1);
    assert.equal(compileAccessor('payload.data["dotted.key"]')(msg), 'yes');
    assert.equal(compileAccessor('event.author.length')(msg), undefined);
    assert.equal(compileAccessor('nope.deeper.still')(msg), undefined);
    assert.equal(compileAccessor('a.b.c.d.e')({ a: { b: { c: { d: { e: 5 } } } } }), 5);
  });

  it('eq compares text (numbers and booleans by their text), never objects', () => {
    assert.equal(compileRule({ property: 'event.channel', op: 'eq', value: 'thread' })(msg), true);
    assert.equal(compileRule({ property: 'event.channel', op: 'eq', value: 'store' })(msg), false);
    assert.equal(compileRule({ property: 'event.count', op: 'eq', value: '3' })(msg), true);
    assert.equal(compileRule({ property: 'event.count', op: 'eq', value: 3 })(msg), true);
    assert.equal(compileRule({ property: 'event.flag', op: 'eq', value: 'false' })(msg), true);
    assert.equal(compileRule({ property: 'payload', op: 'eq', value: '[object Object]' })(msg), false);
    assert.equal(compileRule({ property: 'event.missing', op: 'eq', value: '' })(msg), false);
  });

  it('in takes a comma list or an array', () => {
    assert.equal(
      compileRule({ property: 'event.type', op: 'in', value: 'threadCreated, threadNewMessage' })(msg),
      true,
    );
    assert.equal(
      compileRule({ property: 'event.type', op: 'in', value: ['a', 'threadNewMessage'] })(msg),
      true,
    );
    assert.equal(compileRule({ property: 'event.type', op: 'in', value: 'a,b' })(msg), false);
    assert.throws(() => compileRule({ property: 'event.type', op: 'in', value: ' , ' }), FilterRuleError);
  });

  it('regex: bare pattern or /pattern/flags; g/y dropped so repeated tests stay correct', () => {
    assert.equal(compileRule({ property: 'event.containerId', op: 'regex', value: '^66f7' })(msg), true);
    assert.equal(compileRule({ property: 'event.author', op: 'regex', value: '/JANEK/i' })(msg), true);
    const g = compileRule({ property: 'event.author', op: 'regex', value: '/jan/g' });
    assert.equal(g(msg), true);
    assert.equal(g(msg), true, 'no lastIndex state');
    assert.equal(compileRegex('/a/gy').flags, '');
    assert.throws(
      () => compileRule({ property: 'event.author', op: 'regex', value: '([' }, 2),
      (err: Error) => {
        assert.ok(err instanceof FilterRuleError);
        assert.equal(err.index, 2);
        assert.match(err.message, /rule 3: invalid regular expression/);
        assert.equal(err.code, 'FILTER_INVALID_RULE');
        return true;
      },
    );
  });

  it('prefix and exists', () => {
    assert.equal(compileRule({ property: 'topic', op: 'prefix', value: 'privmx/thread/' })(msg), true);
    assert.equal(compileRule({ property: 'topic', op: 'prefix', value: 'privmx/store/' })(msg), false);
    assert.equal(compileRule({ property: 'event.author', op: 'exists' })(msg), true);
    assert.equal(compileRule({ property: 'event.inboxId', op: 'exists' })(msg), false);
    // absent: the other way round (thread messages that are not inbox entries)
    assert.equal(compileRule({ property: 'event.inboxId', op: 'absent' })(msg), true);
    assert.equal(compileRule({ property: 'event.author', op: 'absent' })(msg), false);
    assert.equal(
      compileRule({ property: 'event.inboxId', op: 'absent' })({ event: { inboxId: null } }),
      true,
    );
    assert.equal(compileRule({ property: 'event.nothing', op: 'exists' })(msg), false);
    assert.equal(compileRule({ property: 'event.flag', op: 'exists' })(msg), true);
  });

  it('unknown operators and bad properties fail at compile time', () => {
    assert.throws(
      () => compileRule({ property: 'x', op: 'gt' } as unknown as FilterRule),
      /unknown operator "gt"/,
    );
    assert.throws(() => compileRule({ property: '', op: 'eq', value: 'a' }), /rule 1: empty property/);
    assert.throws(
      () =>
        compileFilter([
          { property: 'a', op: 'eq', value: 'x' },
          { property: 'a..b', op: 'exists' },
        ]),
      /rule 2/,
    );
  });

  it('combines all / any; no rules pass everything', () => {
    const rules: FilterRule[] = [
      { property: 'event.channel', op: 'eq', value: 'thread' },
      { property: 'event.type', op: 'eq', value: 'threadNewMessage' },
      { property: 'event.containerId', op: 'eq', value: 'other' },
    ];
    assert.equal(compileFilter(rules, 'all')(msg), false);
    assert.equal(compileFilter(rules.slice(0, 2), 'all')(msg), true);
    assert.equal(compileFilter(rules, 'any')(msg), true);
    assert.equal(compileFilter([rules[2]], 'any')(msg), false);
    const four = [
      ...rules.slice(0, 2),
      { property: 'event.author', op: 'exists' as const },
      { property: 'topic', op: 'prefix' as const, value: 'privmx' },
    ];
    assert.equal(compileFilter(four, 'all')(msg), true);
    assert.equal(compileFilter([], 'all')({}), true);
    assert.equal(compileFilter(undefined)({}), true);
  });
});
