import { SmsError } from './errors';
import type { SmsProvider } from './provider';

/**
 * Per-message provider options: each provider declares a whitelist (its OptionSchema); a sink node
 * may set them as node properties and `msg.sms.options` overrides them per message. Anything the
 * whitelist does not name, a value of the wrong type, out of range or a date in the past is an error
 * SMS_BAD_OPTION (nothing sent): an option silently ignored would send an SMS the user did not ask for.
 */
export type OptionSpec =
  | { type: 'boolean'; nodeProperty?: boolean }
  | {
      type: 'string';
      nodeProperty?: boolean;
      values?: readonly string[];
      pattern?: RegExp;
      maxLength?: number;
    }
  | { type: 'number'; nodeProperty?: boolean; min: number; max: number; integer?: boolean }
  /** an instant in the future: ISO 8601 text, a Date or ms since the epoch; never a node property */
  | { type: 'date' };

/** key → spec; the key is both the node property's name and the msg.sms.options key */
export type OptionSchema = Readonly<Record<string, OptionSpec>>;

export type OptionValue = boolean | string | number | Date;
export type SmsOptions = Readonly<Record<string, OptionValue>>;

const bad = (message: string) => new SmsError('SMS_BAD_OPTION', message);

/** ISO 8601 date and time WITH a time zone: text without one would be read in the server's zone */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

function describe(spec: OptionSpec): string {
  switch (spec.type) {
    case 'boolean':
      return 'true or false';
    case 'number':
      return `a number from ${spec.min} to ${spec.max}`;
    case 'date':
      return 'a future date (ISO 8601 text with a time zone such as 2030-01-31T18:00:00+01:00, a Date, or ms since 1970)';
    case 'string':
      return spec.values ? `one of ${spec.values.join(', ')}` : 'text';
  }
}

/** One value as a message gives it: strict types. Returns the normalised value or throws. */
function checkValue(name: string, spec: OptionSpec, value: unknown, now: number): OptionValue {
  const wrong = () => bad(`${name} must be ${describe(spec)}, not ${shown(value)}`);
  switch (spec.type) {
    case 'boolean':
      if (typeof value !== 'boolean') throw wrong();
      return value;
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw wrong();
      if (value < spec.min || value > spec.max || (spec.integer && !Number.isInteger(value))) throw wrong();
      return value;
    }
    case 'string': {
      if (typeof value !== 'string' || value === '') throw wrong();
      if (spec.values && !spec.values.includes(value)) throw wrong();
      if (spec.maxLength !== undefined && value.length > spec.maxLength)
        throw bad(`${name} is longer than ${spec.maxLength} characters`);
      if (spec.pattern && !spec.pattern.test(value))
        throw bad(`${name} has characters it may not contain: ${shown(value)}`);
      return value;
    }
    case 'date': {
      const ms =
        value instanceof Date
          ? value.getTime()
          : typeof value === 'number'
            ? value
            : typeof value === 'string' && ISO_WITH_ZONE.test(value.trim())
              ? Date.parse(value.trim())
              : NaN;
      if (!Number.isFinite(ms)) throw wrong();
      if (ms <= now) throw bad(`${name} is in the past (${new Date(ms).toISOString()})`);
      return new Date(ms);
    }
  }
}

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/**
 * The node's own values (read once at deploy) from its properties as the editor saves them:
 * booleans as true/"true", numbers as numbers or numeric text, "" or absent = not set.
 */
export function nodeOptions(
  schema: OptionSchema | undefined,
  config: Readonly<Record<string, unknown>>,
): SmsOptions {
  const out: Record<string, OptionValue> = {};
  if (!schema) return out;
  for (const [key, spec] of Object.entries(schema)) {
    if (spec.type === 'date' || spec.nodeProperty === false) continue;
    const raw = config[key];
    if (raw === undefined || raw === null || raw === '' || raw === false || raw === 'false') continue;
    let value: unknown = raw;
    if (spec.type === 'boolean') value = raw === true || raw === 'true' ? true : raw;
    else if (spec.type === 'number' && typeof raw === 'string')
      value = raw.trim() === '' ? undefined : Number(raw);
    else if (spec.type === 'string' && typeof raw === 'string') value = raw.trim();
    if (value === undefined || value === '') continue;
    out[key] = checkValue(`the node property ${key}`, spec, value, 0);
  }
  return out;
}

/**
 * The options for one message: the node's values with `msg.sms.options` over them. `msg.sms` without
 * `options` (the output of another sink) is fine; `options` that is not a plain object is an error.
 */
export function messageOptions(
  schema: OptionSchema | undefined,
  defaults: SmsOptions,
  msg: Readonly<Record<string, unknown>>,
  now: number,
  provider: string,
): SmsOptions {
  const sms = msg.sms;
  const given =
    sms !== null && typeof sms === 'object' ? (sms as Record<string, unknown>).options : undefined;
  if (given === undefined || given === null) return defaults;
  if (typeof given !== 'object' || Array.isArray(given) || given instanceof Date)
    throw bad(`msg.sms.options must be an object, not ${shown(given)}`);
  const out: Record<string, OptionValue> = { ...defaults };
  for (const [key, value] of Object.entries(given as Record<string, unknown>)) {
    const spec = schema
      ? Object.prototype.hasOwnProperty.call(schema, key)
        ? schema[key]
        : undefined
      : undefined;
    if (!spec) {
      const known = schema ? Object.keys(schema) : [];
      throw bad(
        `msg.sms.options.${key}: ${provider} takes ${known.length ? `only ${known.join(', ')}` : 'no options'}`,
      );
    }
    if (value === undefined) continue;
    out[key] = checkValue(`msg.sms.options.${key}`, spec, value, now);
  }
  return out;
}

/** A sink's provider options: the node's values read once at deploy, each message's checked on submit. */
export class SendOptions {
  /** a node property holding a bad provider option: every message fails with it */
  readonly error?: SmsError;
  /** the provider options set on the node (msg.sms.options overrides them) */
  private readonly defaults: SmsOptions = {};

  constructor(
    private readonly provider: Pick<SmsProvider, 'name' | 'optionSchema' | 'checkOptions'>,
    properties: Readonly<Record<string, unknown>>,
  ) {
    try {
      this.defaults = nodeOptions(provider.optionSchema, properties);
    } catch (err) {
      this.error = err as SmsError;
    }
  }

  /** The options for one message with `recipients` recipients; throws SMS_BAD_OPTION. */
  forMessage(msg: Readonly<Record<string, unknown>>, now: number, recipients: number): SmsOptions {
    if (this.error) throw this.error;
    const options = messageOptions(this.provider.optionSchema, this.defaults, msg, now, this.provider.name);
    this.provider.checkOptions?.(options, recipients);
    return options;
  }
}
