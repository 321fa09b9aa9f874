import Mustache from 'mustache';
import { SmsError } from './errors';

/**
 * The SMS text from a mustache template over msg: `New message in {{event.containerId}}`. No HTML
 * escaping (an SMS is plain text); an object value renders as JSON. An empty template sends
 * msg.payload when it is text (or a number, a Buffer); an object payload without a template is an
 * error SMS_NO_TEXT: its JSON would be a long, paid SMS nobody asked for.
 */
export interface Template {
  readonly source: string;
  render(msg: Readonly<Record<string, unknown>>): string;
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'object') {
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

const config = { escape: asText };

/** msg.payload as the SMS text when the node has no template. */
function payloadText(payload: unknown): string {
  if (payload !== null && typeof payload === 'object' && !Buffer.isBuffer(payload))
    throw new SmsError(
      'SMS_NO_TEXT',
      `msg.payload is ${Array.isArray(payload) ? 'an array' : 'an object'}, not text: set a Message template on the node (e.g. "New message by {{event.author}}")`,
    );
  return asText(payload);
}

/** Compile once (at deploy): a syntax error throws SMS_TEMPLATE here, not at the first message. */
export function compileTemplate(source: string | undefined): Template {
  const text = source ?? '';
  if (text.trim() === '') {
    return { source: '', render: (msg) => payloadText(msg.payload) };
  }
  try {
    Mustache.parse(text);
  } catch (err) {
    throw new SmsError('SMS_TEMPLATE', `bad message template: ${(err as Error).message}`);
  }
  return {
    source: text,
    render(msg) {
      try {
        return Mustache.render(text, msg, undefined, config);
      } catch (err) {
        throw new SmsError('SMS_TEMPLATE', `message template failed: ${(err as Error).message}`);
      }
    },
  };
}
