/**
 * `event filter` rules, compiled once at deploy into plain predicates: property paths become
 * accessors (no parsing per message), `in` lists become Sets, regexes are built once. A bad rule
 * throws FilterRuleError at compile time, never at the first message.
 */
export const FILTER_OPS = ['eq', 'in', 'regex', 'prefix', 'exists', 'absent'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export interface FilterRule {
  /** msg path, e.g. `event.containerId`, `topic`, `payload.data.keyId` (a leading `msg.` is allowed) */
  property: string;
  op: FilterOp;
  /** eq/prefix: text; in: comma list or array; regex: pattern or /pattern/flags; exists, absent: unused */
  value?: unknown;
}

export type Combine = 'all' | 'any';

/** The envelope fields the editor offers by name (README, "Events"). */
export const EVENT_PROPERTIES = [
  'source',
  'channel',
  'type',
  'containerId',
  'inboxId',
  'contextId',
  'id',
  'author',
] as const;

/** The stable `err.code` of a rule that does not compile (what a Catch node routes on). */
export const FILTER_INVALID_RULE = 'FILTER_INVALID_RULE';

export class FilterRuleError extends Error {
  readonly code = FILTER_INVALID_RULE;
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
    this.name = 'FilterRuleError';
  }
}

export type Accessor = (msg: unknown) => unknown;

/** `a.b[0]["c.d"]` → ['a', 'b', '0', 'c.d']. Throws on a malformed path. */
export function parsePath(path: string): string[] {
  let p = String(path ?? '').trim();
  if (p.startsWith('msg.')) p = p.slice(4);
  if (p === '') throw new Error('empty property');
  const keys: string[] = [];
  let i = 0;
  let expectKey = true;
  while (i < p.length) {
    const ch = p[i];
    if (ch === '.') {
      if (expectKey) throw new Error(`bad property "${path}"`);
      expectKey = true;
      i++;
    } else if (ch === '[') {
      const close = p.indexOf(']', i);
      if (close < 0) throw new Error(`bad property "${path}": missing ]`);
      let inner = p.slice(i + 1, close).trim();
      const quoted = /^(["'])(.*)\1$/.exec(inner);
      if (quoted) inner = quoted[2];
      else if (!/^\d+$/.test(inner)) throw new Error(`bad property "${path}": [${inner}]`);
      keys.push(inner);
      expectKey = false;
      i = close + 1;
    } else {
      if (!expectKey) throw new Error(`bad property "${path}"`);
      let j = i;
      while (j < p.length && p[j] !== '.' && p[j] !== '[') j++;
      keys.push(p.slice(i, j));
      expectKey = false;
      i = j;
    }
  }
  if (expectKey) throw new Error(`bad property "${path}"`);
  return keys;
}

function step(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

/** A precompiled accessor: unrolled for the usual 1–3 keys. */
export function compileAccessor(path: string): Accessor {
  const keys = parsePath(path);
  const [a, b, c] = keys;
  switch (keys.length) {
    case 1:
      return (m) => step(m, a);
    case 2:
      return (m) => step(step(m, a), b);
    case 3:
      return (m) => step(step(step(m, a), b), c);
    default:
      return (m) => {
        let v: unknown = m;
        for (let i = 0; i < keys.length && v !== undefined; i++) v = step(v, keys[i]);
        return v;
      };
  }
}

/** primitive → its text; objects/absent → undefined (they match nothing but `exists`) */
function text(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(v);
    default:
      return undefined;
  }
}

export function splitList(value: unknown): string[] {
  const items = Array.isArray(value) ? value.map((v) => String(v)) : String(value ?? '').split(',');
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

/** `/pattern/flags` or a bare pattern; g and y (stateful) are dropped. */
export function compileRegex(value: unknown): RegExp {
  const source = String(value ?? '');
  const literal = /^\/(.*)\/([a-z]*)$/s.exec(source);
  const pattern = literal ? literal[1] : source;
  const flags = literal ? literal[2].replace(/[gy]/g, '') : '';
  return new RegExp(pattern, flags);
}

export type Predicate = (msg: unknown) => boolean;

export function compileRule(rule: FilterRule, index = 0): Predicate {
  if (!rule || typeof rule !== 'object') throw new FilterRuleError(`rule ${index + 1}: not a rule`, index);
  let get: Accessor;
  try {
    get = compileAccessor(rule.property);
  } catch (err) {
    throw new FilterRuleError(`rule ${index + 1}: ${(err as Error).message}`, index);
  }
  switch (rule.op) {
    case 'eq': {
      const want = text(rule.value) ?? '';
      return (m) => text(get(m)) === want;
    }
    case 'in': {
      const set = new Set(splitList(rule.value));
      if (set.size === 0)
        throw new FilterRuleError(`rule ${index + 1}: "one of" needs at least one value`, index);
      return (m) => {
        const v = text(get(m));
        return v !== undefined && set.has(v);
      };
    }
    case 'prefix': {
      const want = text(rule.value) ?? '';
      return (m) => {
        const v = text(get(m));
        return v !== undefined && v.startsWith(want);
      };
    }
    case 'regex': {
      let re: RegExp;
      try {
        re = compileRegex(rule.value);
      } catch (err) {
        throw new FilterRuleError(
          `rule ${index + 1}: invalid regular expression: ${(err as Error).message}`,
          index,
        );
      }
      return (m) => {
        const v = text(get(m));
        return v !== undefined && re.test(v);
      };
    }
    case 'exists':
      return (m) => {
        const v = get(m);
        return v !== undefined && v !== null;
      };
    // not set (undefined or null): e.g. `event.inboxId absent` keeps thread messages that are not inbox entries
    case 'absent':
      return (m) => {
        const v = get(m);
        return v === undefined || v === null;
      };
    default:
      throw new FilterRuleError(
        `rule ${index + 1}: unknown operator "${String((rule as { op?: unknown }).op)}"`,
        index,
      );
  }
}

/** All rules combined; no rules = everything passes. */
export function compileFilter(
  rules: readonly FilterRule[] | undefined,
  combine: Combine | string = 'all',
): Predicate {
  const list = Array.isArray(rules) ? rules : [];
  const preds = list.map((r, i) => compileRule(r, i));
  const n = preds.length;
  if (n === 0) return () => true;
  if (n === 1) return preds[0];
  if (combine === 'any')
    return (m) => {
      for (let i = 0; i < n; i++) if (preds[i](m)) return true;
      return false;
    };
  if (n === 2) {
    const [p0, p1] = preds;
    return (m) => p0(m) && p1(m);
  }
  if (n === 3) {
    const [p0, p1, p2] = preds;
    return (m) => p0(m) && p1(m) && p2(m);
  }
  return (m) => {
    for (let i = 0; i < n; i++) if (!preds[i](m)) return false;
    return true;
  };
}
