import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { SmsError } from './errors';

/** Recipients resolved for one message: E.164 (or as typed for opaque providers), without duplicates. */
export interface Recipients {
  /** normalised, unique, in the order given */
  valid: string[];
  /** what was typed, for each number that could not be normalised */
  invalid: { raw: string; error: SmsError }[];
  /** the node's list won over msg.to (both were set) */
  conflict: boolean;
}

/** Split a comma/semicolon/newline list or an array into trimmed, non-empty strings. */
export function splitRecipients(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const item of value) out.push(...splitRecipients(item));
    return out;
  }
  if (typeof value === 'number' && Number.isFinite(value)) return [String(value)];
  if (typeof value !== 'string') return [];
  return value
    .split(/[,;\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Normalise one number to E.164; throws SMS_INVALID_NUMBER naming it. */
export function toE164(raw: string, defaultCountry?: string): string {
  const country = defaultCountry ? (defaultCountry.trim().toUpperCase() as CountryCode) : undefined;
  let parsed;
  try {
    parsed = parsePhoneNumberFromString(raw, country ? { defaultCountry: country } : undefined);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !parsed.isValid()) {
    const hint = !country && !raw.trim().startsWith('+') ? ' (national number and no default country)' : '';
    throw new SmsError('SMS_INVALID_NUMBER', `invalid phone number "${raw}"${hint}`);
  }
  return parsed.number;
}

/**
 * The node's configured list wins; else msg.to (string, comma list or array). Numbers are
 * normalised unless the provider takes opaque recipients (extensions); duplicates are removed.
 */
export function resolveRecipients(
  configured: string | undefined,
  msgTo: unknown,
  opts: { defaultCountry?: string; kind?: 'e164' | 'opaque' } = {},
): Recipients {
  const fromNode = splitRecipients(configured);
  const fromMsg = splitRecipients(msgTo);
  const raw = fromNode.length ? fromNode : fromMsg;
  const conflict = fromNode.length > 0 && fromMsg.length > 0;
  const seen = new Set<string>();
  const valid: string[] = [];
  const invalid: Recipients['invalid'] = [];
  for (const item of raw) {
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
