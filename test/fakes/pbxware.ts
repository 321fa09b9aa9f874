/**
 * A loopback fake of PBXware's SMS APIs (their published behaviour):
 * - Action API on `/`: `?apikey=K&action=pbxware.sms.send_message&server=<tenant>&to_number=+E164&body=<base64>`
 *   by GET or POST (parameters in the query string, or a form body — both accepted). HTTP 200 always;
 *   failures only as `{"error":"…"}`; success `{"success":"SMS sent.","id":N}` (the write-action shape).
 *   `action=pbxware.ext.list&server=<tenant>` lists extensions (used by test-connection).
 * - JSON API: `POST /api/sms/send` (X-API-Key, `{"to","message"}`) and
 *   `POST /api/sms/notifications/voicemail` (`{"extension","message"}`); `GET /api/sms/send` answers
 *   405 after checking the key. Errors are `{"error":"…"}` with HTTP 200 (or `errorStatus`).
 * Error modes switch per test (`fake.errorMode = 'disabled'` …), `failNext` queues one-off failures
 * (HTTP 500/503, a non-JSON page, a dropped socket). Every request is recorded (the key is recorded
 * as `keyOk`, never stored in clear in `requests`).
 */
import http from 'http';
import type { AddressInfo } from 'net';
import { SlowAnswers } from './slow';

export const PBX_ERRORS = {
  disabled: 'SMS API is disabled',
  'not-enabled': 'Action sms_message returned with error: ERR: SMS not enabled for this tenant: ',
  'bad-sender': 'Invalid or missing sender SMS number',
  'no-sms-number': 'Destination does not have an assigned SMS number',
  'invalid-key': 'Invalid API key.',
} as const;

export type PbxErrorMode = keyof typeof PBX_ERRORS;
/**
 * One-off failures: HTTP 5xx/429, a non-JSON page, a dropped socket (before processing); `hang` never
 * answers; the `-accept` forms process the SMS first (it counts as sent), then lose or garble the answer.
 */
export type PbxFailure =
  500 | 502 | 503 | 504 | 'html' | 'drop' | 429 | 'hang' | 'hang-accept' | 'drop-accept' | 'malformed-accept';

export interface PbxRequest {
  method: string;
  path: string;
  api: 'action' | 'json' | 'other';
  action?: string;
  server?: string;
  /** E.164 for sms sends */
  to?: string;
  extension?: string;
  /** the decoded text (action API: base64-decoded body) */
  text?: string;
  /** raw base64 body parameter (action API) */
  rawBody?: string;
  keyOk: boolean;
  /** where the action parameters were found */
  paramsIn?: 'query' | 'form';
  contentType?: string;
  status: number;
  answer: unknown;
}

export class FakePbxware {
  readonly server: http.Server;
  readonly requests: PbxRequest[] = [];
  apiKey = 'pbx-KEY-4f1b9c2e77';
  tenant = '59';
  /** extensions and their assigned SMS numbers ('' = none assigned) */
  extensions: Record<string, string> = { '1001': '+14165550101', '1002': '+14165550102', '1003': '' };
  /** make every SMS request answer with this documented error */
  errorMode?: PbxErrorMode;
  /** HTTP status used with `{"error":…}` answers (the docs: 200) */
  errorStatus = 200;
  /** one-off failures, consumed in order by the next requests */
  failNext: PbxFailure[] = [];
  /** the Retry-After (seconds) of a scripted 429 */
  retryAfterS = 1;
  /** a slow PBX: each request is processed at once and answered later (see SlowAnswers) */
  readonly slow = new SlowAnswers();
  private nextId = 1000;
  private port = 0;

  constructor() {
    this.server = http.createServer((req, res) => this.onRequest(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** successful SMS / voicemail sends */
  get sent(): PbxRequest[] {
    return this.requests.filter(
      (r) =>
        r.status === 200 && r.answer && !(r.answer as { error?: unknown }).error && (r.to || r.extension),
    );
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const raw = Buffer.concat(chunks).toString('utf8');
      const contentType = req.headers['content-type'];
      const record: PbxRequest = {
        method: req.method ?? '',
        path: url.pathname,
        api: 'other',
        keyOk: false,
        contentType,
        status: 0,
        answer: undefined,
      };
      const failure = this.failNext.shift();
      if (failure === 'drop' || failure === 'hang') {
        record.status = -1;
        this.requests.push(record);
        if (failure === 'drop') req.socket.destroy();
        return;
      }
      const reply = (status: number, answer: unknown, headers: Record<string, string> = {}) => {
        record.status = status;
        record.answer = answer;
        this.requests.push(record);
        const accepted = status === 200 && !(answer as { error?: unknown })?.error;
        if (accepted && (failure === 'drop-accept' || failure === 'hang-accept')) {
          // processed (counts in `sent`), but the answer never arrives
          if (failure === 'drop-accept') req.socket.destroy();
          return;
        }
        let text = typeof answer === 'string' ? answer : JSON.stringify(answer);
        // processed, then an answer cut short: not valid JSON
        if (accepted && failure === 'malformed-accept') text = text.slice(0, Math.max(1, text.length - 6));
        const write = () => {
          res.writeHead(status, {
            'Content-Type': typeof answer === 'string' ? 'text/html' : 'application/json',
            'Content-Length': Buffer.byteLength(text),
            ...headers,
          });
          res.end(text);
        };
        if (!this.slow.active) return write();
        this.slow.later(() => res.destroyed || req.socket.destroyed, write);
      };
      if (failure === 'html') return reply(200, '<html><body>Login</body></html>');
      if (failure === 429)
        return reply(429, { error: 'Too many requests' }, { 'Retry-After': String(this.retryAfterS) });
      if (typeof failure === 'number') return reply(failure, { error: 'Internal Server Error' });
      const error = (text: string) => reply(this.errorStatus, { error: text });

      if (url.pathname.startsWith('/api/')) {
        record.api = 'json';
        const key = req.headers['x-api-key'];
        record.keyOk = key === this.apiKey;
        if (!record.keyOk) return error(PBX_ERRORS['invalid-key']);
        if (url.pathname === '/api/sms/send' && req.method === 'GET')
          return reply(405, { error: 'Method not allowed' });
        if (req.method !== 'POST') return reply(405, { error: 'Method not allowed' });
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          return error('Invalid JSON body');
        }
        record.text = typeof body.message === 'string' ? body.message : undefined;
        if (url.pathname === '/api/sms/send') {
          record.to = typeof body.to === 'string' ? body.to : undefined;
          if (this.errorMode) return error(PBX_ERRORS[this.errorMode]);
          if (!record.to || !/^\+[1-9]\d{6,14}$/.test(record.to)) return error('Invalid destination number');
          if (!record.text) return error('Missing message');
          return reply(200, { success: 'SMS sent.', id: this.nextId++ });
        }
        if (url.pathname === '/api/sms/notifications/voicemail') {
          record.extension = typeof body.extension === 'string' ? body.extension : undefined;
          if (this.errorMode) return error(PBX_ERRORS[this.errorMode]);
          if (!record.extension || !this.extensions[record.extension])
            return error(PBX_ERRORS['no-sms-number']);
          if (!record.text) return error('Missing message');
          return reply(200, { success: 'Voicemail notification sent.', id: this.nextId++ });
        }
        return reply(404, { error: 'Not found' });
      }

      if (url.pathname !== '/' && url.pathname !== '/index.php') return reply(404, '<html>Not found</html>');
      record.api = 'action';
      // parameters: the query string (documented), or a form body
      let params = url.searchParams;
      record.paramsIn = 'query';
      if (!params.get('action') && raw && /x-www-form-urlencoded/.test(contentType ?? '')) {
        params = new URLSearchParams(raw);
        record.paramsIn = 'form';
      }
      record.action = params.get('action') ?? undefined;
      record.server = params.get('server') ?? undefined;
      record.keyOk = params.get('apikey') === this.apiKey;
      if (!record.keyOk) return error(PBX_ERRORS['invalid-key']);
      if (record.action === 'pbxware.ext.list') {
        if (record.server !== this.tenant) return error('Invalid server.');
        const list: Record<string, unknown> = {};
        for (const [ext, sms] of Object.entries(this.extensions))
          list[ext] = { name: `Ext ${ext}`, ext, sms_number: sms };
        return reply(200, list);
      }
      if (record.action !== 'pbxware.sms.send_message') return error('Unknown action.');
      record.to = params.get('to_number') ?? undefined;
      record.rawBody = params.get('body') ?? undefined;
      if (record.rawBody) record.text = Buffer.from(record.rawBody, 'base64').toString('utf8');
      if (this.errorMode) return error(PBX_ERRORS[this.errorMode]);
      if (record.server !== this.tenant)
        return error('Action sms_message returned with error: ERR: SMS not enabled for this tenant: ');
      if (!record.to || !/^\+[1-9]\d{6,14}$/.test(record.to)) return error('Invalid destination number');
      if (!record.text) return error('Missing body');
      return reply(200, { success: 'SMS sent.', id: this.nextId++ });
    });
  }

  async close(): Promise<void> {
    this.slow.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export async function startFakePbxware(): Promise<FakePbxware> {
  const fake = new FakePbxware();
  await fake.start();
  return fake;
}
