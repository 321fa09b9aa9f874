/**
 * A loopback SMSAPI (https://smsapi.io/api) faithful to what the official `smsapi` client speaks:
 *   POST /sms.do   Bearer token, JSON body (snake_case, format:"json", numbers comma-joined in `to`)
 *                  → 200 application/json {count,length,message,parts,list:[{id,points,number,date_sent,
 *                    submitted_number,status,error,idx,parts}]}
 *                  errors: HTTP 200 {error, message, invalid_numbers} (the client's MessageError);
 *                  anything non-2xx is the client's HttpError.
 *   GET  /profile  Bearer token → {id,name,email,username,phone_number,payment_type,user_type,points}
 * Test controls: script the next responses (5xx, 429 + Retry-After, error codes, hang, malformed JSON,
 * wrong content type), a points balance, allowed sender names; every request is recorded.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { countSegments } from '../../nodes/lib/sms/text';
import { SlowAnswers } from './slow';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** parsed JSON body (or undefined) */
  body?: Record<string, unknown>;
  raw: string;
  at: number;
}

/** An SMS the fake accepted (test mode ones are in `requests` only). */
export interface AcceptedSms {
  id: string;
  to: string;
  message: string;
  from?: string;
  idx?: string;
  parts: number;
}

export type Step =
  /**
   * answer with this HTTP status (non-2xx = HttpError), JSON body and headers; accept:true = the SMS
   * counts as sent first (a proxy's 502/504 after SMSAPI took it)
   */
  | { kind: 'http'; status: number; body?: unknown; headers?: Record<string, string>; accept?: boolean }
  /** HTTP 200 {error, message} = MessageError */
  | { kind: 'error'; code: number; message?: string; invalidNumbers?: string[] }
  /** never answer (until close); accept:true = the SMS counts as sent (a lost answer) */
  | { kind: 'hang'; accept?: boolean }
  /** 200 application/json with a body that is not JSON; accept:true = the SMS counts as sent first */
  | { kind: 'malformed'; accept?: boolean }
  /** the connection is destroyed without an answer; accept:true = the SMS counts as sent first */
  | { kind: 'drop'; accept?: boolean }
  /** 200 with the success JSON but text/plain */
  | { kind: 'no-content-type' };

export interface FakeSmsapiOptions {
  /** accepted OAuth token (default 'test-token') */
  token?: string;
  port?: number;
  /** balance in points; each part costs `pricePerPart` (default 0.165) */
  points?: number;
  pricePerPart?: number;
  /** sender names the account may use (default: any 1–11 alphanumerics, or a number) */
  senders?: string[];
  /** how a bad token on /sms.do is answered: MessageError 101 (default) or HTTP 401 */
  authFailure?: 'message' | 'http';
  /** delay before every answer, ms */
  latencyMs?: number;
  /** called for every SMS the fake accepts or validates (test mode): the demo prints them */
  onSms?: (sms: AcceptedSms, test: boolean) => void;
}

const MESSAGES: Record<number, string> = {
  8: 'Error in request',
  11: 'Message too long or there is no message or parameter nounicode is set and special characters (including Polish characters) are used',
  12: 'Message has more parts than defined in &max_parts parameter',
  13: 'Lack of valid phone numbers (invalid or blacklisted numbers)',
  14: 'Improper sender field',
  52: 'Too many attempts of sending messages to one number (maximum 10 messages in 60 seconds)',
  53: 'Not unique idx parameter, message with the same idx has been already sent and &check_idx=1',
  101: 'Invalid authorization info',
  102: 'Invalid username or password',
  103: 'Insufficient credits on Your account',
  105: 'Wrong IP address (for IP filter turned on)',
  200: 'Unsuccessful message submission',
  201: 'System internal error (please report)',
  202: 'Too many simultaneous request, the message won’t be sent',
  999: 'System internal error (please report)',
};

export class FakeSmsapi {
  readonly requests: RecordedRequest[] = [];
  readonly accepted: AcceptedSms[] = [];
  /** test-mode SMS the fake validated (and did not send) */
  readonly tested: AcceptedSms[] = [];
  token: string;
  points: number;
  readonly steps: Step[] = [];
  /** a slow SMSAPI: each SMS is accepted at once and /sms.do answered later (see SlowAnswers) */
  readonly slow = new SlowAnswers();
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly usedIdx = new Set<string>();
  private nextId = 7074294081650020000n;
  private closed = false;

  private constructor(private readonly opts: FakeSmsapiOptions) {
    this.token = opts.token ?? 'test-token';
    this.points = opts.points ?? Infinity;
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(opts: FakeSmsapiOptions = {}): Promise<FakeSmsapi> {
    const fake = new FakeSmsapi(opts);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** the service URL to give the client / the smsapi-account node */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** POST /sms.do requests only */
  get smsRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/sms.do');
  }

  /** queue scripted answers for the next /sms.do requests */
  script(...steps: Step[]): this {
    this.steps.push(...steps);
    return this;
  }

  /** the next `count` /sms.do requests get `step` */
  failNext(count: number, step: Step): this {
    for (let i = 0; i < count; i++) this.steps.push(step);
    return this;
  }

  reset(): void {
    this.requests.length = 0;
    this.accepted.length = 0;
    this.tested.length = 0;
    this.steps.length = 0;
    this.usedIdx.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.slow.clear();
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections?.();
    await done;
  }

  private json(
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (this.opts.latencyMs) setTimeout(send, this.opts.latencyMs).unref();
    else send();
  }

  private authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.token}`;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1_000_000) chunks.push(c);
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      let body: Record<string, unknown> | undefined;
      if (raw && String(req.headers['content-type'] ?? '').includes('application/json')) {
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          body = undefined;
        }
      }
      const record: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        headers: req.headers,
        body,
        raw,
        at: Date.now(),
      };
      this.requests.push(record);
      if (req.method === 'POST' && url.pathname === '/sms.do') return this.sms(record, res);
      if (req.method === 'GET' && url.pathname === '/profile') return this.profile(req, res);
      this.json(res, 404, { message: 'Not found', error: 'not_found' });
    });
  }

  private profile(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!this.authorized(req))
      return this.json(res, 401, { message: 'Authorization failed', error: 'invalid_token' });
    this.json(res, 200, {
      id: '5A1B2C3D',
      name: 'Demo Company',
      email: 'demo@example.com',
      username: 'demo',
      phone_number: '48500000000',
      payment_type: 'prepaid',
      user_type: 'native',
      ...(Number.isFinite(this.points)
        ? { points: Math.round(this.points * 1000) / 1000 }
        : { points: 1000 }),
    });
  }

  private messageError(res: http.ServerResponse, code: number, invalid?: string[]): void {
    this.json(res, 200, {
      error: code,
      message: MESSAGES[code] ?? 'Error',
      ...(invalid
        ? {
            invalid_numbers: invalid.map((n) => ({
              number: n,
              submitted_number: n,
              message: 'Invalid phone number',
            })),
          }
        : {}),
    });
  }

  private sms(record: RecordedRequest, res: http.ServerResponse): void {
    const step = this.steps.shift();
    if (step) {
      switch (step.kind) {
        case 'http':
          if (step.accept) this.accept(record);
          return this.json(
            res,
            step.status,
            step.body ?? { message: http.STATUS_CODES[step.status] ?? 'Error' },
            step.headers,
          );
        case 'error':
          return this.json(res, 200, {
            error: step.code,
            message: step.message ?? MESSAGES[step.code] ?? 'Error',
            ...(step.invalidNumbers
              ? {
                  invalid_numbers: step.invalidNumbers.map((n) => ({
                    number: n,
                    submitted_number: n,
                    message: 'Invalid phone number',
                  })),
                }
              : {}),
          });
        case 'hang':
          if (step.accept) this.accept(record);
          return; // never answer; close() destroys the socket
        case 'malformed':
          if (step.accept) this.accept(record);
          res.writeHead(200, { 'Content-Type': 'application/json' });
          return void res.end('{"count":1,"list":[{"id":');
        case 'drop':
          if (step.accept) this.accept(record);
          return void res.socket?.destroy();
        case 'no-content-type': {
          const ok = this.accept(record);
          if (typeof ok === 'number') return this.messageError(res, ok);
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          return void res.end(JSON.stringify(ok));
        }
      }
    }
    const auth = record.headers.authorization;
    if (auth !== `Bearer ${this.token}`) {
      if (this.opts.authFailure === 'http')
        return this.json(res, 401, { message: 'Authorization failed', error: 'invalid_token' });
      return this.messageError(res, 101);
    }
    const result = this.accept(record);
    if (typeof result === 'number') {
      const invalid =
        result === 13
          ? String(record.body?.to ?? '')
              .split(',')
              .filter((n) => n !== '')
          : undefined;
      return this.messageError(res, result, invalid);
    }
    if (!this.slow.active) return this.json(res, 200, result);
    this.slow.later(
      () => res.destroyed || res.socket?.destroyed !== false,
      () => this.json(res, 200, result),
    );
  }

  /** validate like SMSAPI; returns the success body, or a MessageError code */
  private accept(record: RecordedRequest): Record<string, unknown> | number {
    const body = record.body;
    if (!body || body.format !== 'json') return 8;
    const message = typeof body.message === 'string' ? body.message : '';
    const numbers = String(body.to ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '');
    const valid = numbers.filter((n) => /^\+?[1-9]\d{8,14}$/.test(n));
    if (valid.length === 0) return 13;
    if (!message) return 11;
    const seg = countSegments(message);
    // nounicode: a text that needs Unicode (UCS-2) is refused, not sent in shorter parts
    if ((body.nounicode === true || body.nounicode === 1) && seg.encoding !== 'GSM-7') return 11;
    const maxParts = body.max_parts === undefined ? 10 : Number(body.max_parts);
    if (seg.parts > 10) return 11;
    if (seg.parts > maxParts) return 12;
    const from = body.from === undefined ? undefined : String(body.from);
    if (from !== undefined) {
      const ok = this.opts.senders
        ? this.opts.senders.includes(from)
        : /^([A-Za-z0-9 .-]{1,11}|\+?\d{3,16})$/.test(from);
      if (!ok) return 14;
    }
    const idx = typeof body.idx === 'string' ? body.idx : undefined;
    const test = body.test === true || body.test === 1 || body.test === '1';
    if (idx && (body.check_idx === true || body.check_idx === 1) && this.usedIdx.has(idx)) return 53;
    const price = (this.opts.pricePerPart ?? 0.165) * seg.parts * valid.length;
    if (!test && price > this.points) return 103;
    const now = Math.floor(Date.now() / 1000);
    const list = valid.map((n) => {
      const id = String(this.nextId++);
      const digits = n.replace(/^\+/, '');
      return {
        id,
        points: Math.round((this.opts.pricePerPart ?? 0.165) * seg.parts * 1000) / 1000,
        number: digits,
        date_sent: now,
        submitted_number: n,
        status: 'QUEUE',
        error: null,
        idx: idx ?? null,
        parts: seg.parts,
      };
    });
    const sms = list.map((item) => ({
      id: item.id,
      to: item.submitted_number,
      message,
      from,
      idx,
      parts: seg.parts,
    }));
    if (test) this.tested.push(...sms);
    else {
      this.points -= price;
      this.accepted.push(...sms);
      if (idx) this.usedIdx.add(idx);
    }
    for (const item of sms) this.opts.onSms?.(item, test);
    return {
      count: list.length,
      ...(body.details ? { length: message.length, message, parts: seg.parts } : {}),
      list,
    };
  }
}
