import type * as Phone from 'libphonenumber-js';

type CountryCode = Phone.CountryCode;

let loaded: typeof Phone | undefined;

/** libphonenumber-js (its metadata is ~2 MB of heap), loaded with the first number a sink reads. */
function phone(): typeof Phone {
  // a require on first use (an import would load it with this file)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('libphonenumber-js') as typeof Phone;
  return loaded;
}
import { SmsError } from './errors';

/** Recipients resolved for one message: E.164 (or as typed for opaque providers), without duplicates. */
export interface Recipients {
  /** normalised, unique, in the order given */
  valid: string[];
  /** what was typed, for each number that could not be normalised */
  invalid: { raw: string; error: SmsError }[];
  /** the node's list won over msg.to (both were set) */
  conflict: boolean;
  /** more distinct recipients than `max`: nothing was normalised past the limit */
  tooMany?: { given: number; max: number };
}

/** How deep arrays in msg.to may nest ([["+48…"]] is 2): deeper, or an array containing itself, is refused. */
export const MAX_RECIPIENT_DEPTH = 4;

/**
 * Split a comma/semicolon/newline list or an array (of lists or arrays) into trimmed, non-empty strings.
 * Throws SMS_NO_RECIPIENT when arrays nest deeper than MAX_RECIPIENT_DEPTH (a cyclic array does).
 */
export function splitRecipients(value: unknown, depth = 1): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    if (depth > MAX_RECIPIENT_DEPTH)
      throw new SmsError(
        'SMS_NO_RECIPIENT',
        `msg.to nests arrays more than ${MAX_RECIPIENT_DEPTH} deep (or contains itself): use a comma list or a flat array of numbers`,
      );
    const out: string[] = [];
    for (const item of value) for (const s of splitRecipients(item, depth + 1)) out.push(s);
    return out;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return [String(value)];
  if (typeof value !== 'string') return [];
  return value
    .split(/[,;\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The node's list and msg.to both name recipients (never throws: a broken msg.to still counts as set). */
export function hasRecipients(value: unknown): boolean {
  try {
    return splitRecipients(value).length > 0;
  } catch {
    return true;
  }
}

/** Normalise one number to E.164; throws SMS_INVALID_NUMBER naming it, the reason first. */
export function toE164(raw: string, defaultCountry?: string): string {
  const country = defaultCountry ? (defaultCountry.trim().toUpperCase() as CountryCode) : undefined;
  let parsed;
  try {
    parsed = phone().parsePhoneNumberFromString(raw, country ? { defaultCountry: country } : undefined);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !parsed.isValid())
    throw new SmsError(
      'SMS_INVALID_NUMBER',
      `${raw.trim()}: not a valid phone number (${whyInvalid(raw, country)})`,
    );
  return parsed.number;
}

/** Digits a national number has at least (shorter ones are short codes, not a missing country). */
const MIN_NATIONAL_DIGITS = 7;

/** Why a number is not valid, in words; the country hint only where a country would help. */
export function whyInvalid(raw: string, country?: CountryCode): string {
  const text = raw.trim();
  const digits = text.replace(/\D/g, '').length;
  if (digits === 0 || /[^\d\s()+.\-/]/.test(text)) return 'not a phone number';
  if (!country && !text.startsWith('+'))
    return digits < MIN_NATIONAL_DIGITS
      ? 'too short'
      : 'a national number: set Default country on the node or write it with +country code';
  let problem: string | undefined;
  try {
    problem = phone().validatePhoneNumberLength(text, country);
  } catch {
    problem = undefined;
  }
  switch (problem) {
    case 'TOO_SHORT':
      return 'too short';
    case 'TOO_LONG':
      return 'too long';
    case 'INVALID_LENGTH':
      return 'wrong number of digits';
    case 'INVALID_COUNTRY':
      return 'unknown country code';
    case 'NOT_A_NUMBER':
      return 'not a phone number';
    default:
      return country && !text.startsWith('+') ? `no such number in ${country}` : 'no such number';
  }
}

/**
 * The node's configured list wins; else msg.to (string, comma list or array). Numbers are
 * normalised unless the provider takes opaque recipients (extensions); duplicates are removed.
 */
export function resolveRecipients(
  configured: string | undefined,
  msgTo: unknown,
  opts: { defaultCountry?: string; kind?: 'e164' | 'opaque'; max?: number } = {},
): Recipients {
  const fromNode = splitRecipients(configured);
  const fromMsg = fromNode.length ? [] : splitRecipients(msgTo);
  const raw = fromNode.length ? fromNode : fromMsg;
  const conflict = fromNode.length > 0 && hasRecipients(msgTo);
  const max = opts.max ?? Infinity;
  const seen = new Set<string>();
  const valid: string[] = [];
  const invalid: Recipients['invalid'] = [];
  const typed = new Set<string>();
  for (const item of raw) {
    // a number typed twice the same way is one recipient; past the limit nothing more is parsed
    if (typed.has(item)) continue;
    typed.add(item);
    if (valid.length + invalid.length >= max)
      return { valid, invalid, conflict, tooMany: { given: new Set(raw).size, max } };
    let number: string;
    if (opts.kind === 'opaque') number = item;
    else {
      try {
        number = toE164(item, opts.defaultCountry);
      } catch (err) {
        invalid.push({ raw: item, error: err as SmsError });
        continue;
      }
    }
    if (seen.has(number)) continue;
    seen.add(number);
    valid.push(number);
  }
  return { valid, invalid, conflict };
}
