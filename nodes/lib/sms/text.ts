import { SmsError } from './errors';

/**
 * SMS text facts: GSM-7 (3GPP 23.038 default alphabet + extension table) or UCS-2, and how many
 * segments a text takes: 160/153 septets, or 70/67 UTF-16 units. Concatenated parts never split an
 * escape pair (GSM-7) or a surrogate pair (UCS-2).
 */
export type Encoding = 'GSM-7' | 'UCS-2';

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** characters sent as ESC + char: they count as two septets */
const GSM_EXTENDED = '\f^{}\\[~]|€';

const basic = new Set<string>(GSM_BASIC.replace('\x1b', ''));
const extended = new Set<string>(GSM_EXTENDED);

/** septets a character takes in GSM-7: 1, 2, or 0 when it is not in GSM-7 */
export function gsmSeptets(ch: string): 0 | 1 | 2 {
  if (basic.has(ch)) return 1;
  if (extended.has(ch)) return 2;
  return 0;
}

export interface SegmentInfo {
  encoding: Encoding;
  /** septets (GSM-7) or UTF-16 code units (UCS-2) */
  units: number;
  parts: number;
  /** units per part for this text (160/153 or 70/67) */
  perPart: number;
}

export function isGsm7(text: string): boolean {
  for (const ch of text) if (gsmSeptets(ch) === 0) return false;
  return true;
}

/** Count segments the way a handset/SMSC does. Empty text = 0 parts. */
export function countSegments(text: string): SegmentInfo {
  if (isGsm7(text)) {
    let units = 0;
    for (const ch of text) units += gsmSeptets(ch);
    if (units <= 160) return { encoding: 'GSM-7', units, parts: units ? 1 : 0, perPart: 160 };
    // fill 153-septet parts without splitting an escape pair
    let parts = 1;
    let used = 0;
    for (const ch of text) {
      const n = gsmSeptets(ch);
      if (used + n > 153) {
        parts++;
        used = 0;
      }
      used += n;
    }
    return { encoding: 'GSM-7', units, parts, perPart: 153 };
  }
  const units = text.length;
  if (units <= 70) return { encoding: 'UCS-2', units, parts: units ? 1 : 0, perPart: 70 };
  let parts = 1;
  let used = 0;
  for (const ch of text) {
    const n = ch.length; // 2 for a surrogate pair
    if (used + n > 67) {
      parts++;
      used = 0;
    }
    used += n;
  }
  return { encoding: 'UCS-2', units, parts, perPart: 67 };
}

/**
 * Cut `text` so it fits in `maxParts`, ending with an ellipsis: "..." when the kept text is GSM-7
 * (… is not in the GSM alphabet and would turn the whole SMS into UCS-2), "…" for UCS-2. Cuts at
 * code points, so an emoji is never split. O(n log n): a runaway template stays cheap.
 */
export function truncateToParts(text: string, maxParts: number): { text: string; truncated: boolean } {
  const limit = Math.max(1, Math.floor(maxParts));
  if (countSegments(text).parts <= limit) return { text, truncated: false };
  const chars = Array.from(text);
  const candidate = (k: number): string => {
    const prefix = chars.slice(0, k).join('');
    return prefix + (isGsm7(prefix) ? '...' : '…');
  };
  // largest k whose candidate fits (k = 0, the bare ellipsis, always fits)
  let lo = 0;
  let hi = chars.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (countSegments(candidate(mid)).parts <= limit) lo = mid;
    else hi = mid - 1;
  }
  return { text: candidate(lo).replace(/\s+(\.\.\.|…)$/, '$1'), truncated: true };
}

/**
 * The rendered text as it will be sent: SMS_EMPTY when blank; beyond `maxParts`, SMS_TOO_LONG
 * ('refuse') or cut to fit ('truncate').
 */
export function fitText(
  rendered: string,
  maxParts: number,
  tooLong: 'refuse' | 'truncate',
): { text: string; segments: SegmentInfo; truncated: boolean } {
  if (rendered.trim() === '') throw new SmsError('SMS_EMPTY', 'the SMS text is empty');
  const segments = countSegments(rendered);
  if (segments.parts <= maxParts) return { text: rendered, segments, truncated: false };
  if (tooLong === 'refuse')
    throw new SmsError(
      'SMS_TOO_LONG',
      `the text needs ${segments.parts} SMS parts (${segments.units} ${segments.encoding === 'GSM-7' ? 'GSM-7 characters' : 'UCS-2 characters'}); the limit is ${maxParts}`,
    );
  const text = truncateToParts(rendered, maxParts).text;
  return { text, segments: countSegments(text), truncated: true };
}
