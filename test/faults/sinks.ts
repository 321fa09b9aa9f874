/**
 * One harness per sink (`smsapi out`, `sms-gateway out`, `pbxware out`, `cpaas out`): its fake
 * provider, a flow (config node + sink + helper for sent messages + Catch → helper for errors), and
 * the provider faults behind one interface.
 */
import type { NodeAPI } from 'node-red';
import cpaasNodes from '../../nodes/cpaas';
import { resetAuthGuards } from '../../nodes/lib/sms-gateway/auth-guard';
import pbxwareNodes from '../../nodes/pbxware';
import gatewayNodes from '../../nodes/sms-gateway';
import smsapiNodes from '../../nodes/smsapi';
import { FakeCpaas } from '../fakes/cpaas';
import { FakePbxware, startFakePbxware } from '../fakes/pbxware';
import { FakeSmsapi } from '../fakes/smsapi';
import { FakeSmsGateway } from '../fakes/sms-gateway';
import type { SlowAnswers } from '../fakes/slow';
import { CPAAS_FROM, GATEWAY_KEY } from './sources';

export type SinkFault =
  /** the provider processes the SMS, and its answer never comes */
  | 'timeout'
  /** HTTP 5xx */
  | '5xx'
  /** HTTP 429 with Retry-After (seconds) */
  | '429'
  /** the provider processes the SMS, then answers 2xx with malformed JSON */
  | 'malformed'
  /** the provider processes the SMS, then the connection is reset without an answer */
  | 'reset';

export const SMSAPI_TOKEN = 'smsapi-0Auth-T0ken-f4u1t5';
export const PBX_KEY = 'pbx-Ap1-K3y-f4u1t5';
export const SINK_CPAAS_SECRET = 'cpaas-Out-S3cret-f4u1t5';

const TAB = { id: 't1', type: 'tab', label: 'sinks' };

/** sink properties common to every test: no storm guards (they are tested elsewhere), 2 retries, 300 ms timeout */
export const SINK_PROPS = {
  to: '',
  message: '',
  rateLimit: 0,
  dedupeWindow: 0,
  maxParts: 3,
  retries: 2,
  timeout: 0.3,
};

export abstract class SinkHarness {
  abstract readonly type: string;
  /** resubmissions cannot deliver twice (the pipeline may retry its own timeouts) */
  abstract readonly idempotent: boolean;
  /** Retry-After is honoured (the official SMSAPI client hides response headers) */
  abstract readonly readsRetryAfter: boolean;
  abstract start(): Promise<void>;
  abstract close(): Promise<void>;
  abstract module(): (RED: NodeAPI) => void;
  abstract url(): string;
  abstract config(url: string): Record<string, unknown>;
  abstract sinkProps(): Record<string, unknown>;
  abstract credentials(): Record<string, Record<string, string>>;
  /** SMS the provider accepted (for real) */
  abstract smsAtProvider(): number;
  /** send requests the provider received */
  abstract requests(): number;
  /** make the next `count` send requests fail with `fault` */
  abstract inject(fault: SinkFault, count: number, retryAfterS?: number): void;
  /** the fake's slow answers: each SMS taken at once, answered later (held, or after a delay) */
  abstract slow(): SlowAnswers;

  flow(url = this.url()): Record<string, unknown>[] {
    return [
      TAB,
      { id: 'cfg', ...this.config(url) },
      { id: 'out', type: this.type, z: 't1', wires: [['h']], ...SINK_PROPS, ...this.sinkProps() },
      { id: 'h', type: 'helper', z: 't1' },
      { id: 'c', type: 'catch', z: 't1', scope: null, uncaught: false, wires: [['hc']] },
      { id: 'hc', type: 'helper', z: 't1' },
    ];
  }
}

export class SmsapiSink extends SinkHarness {
  readonly type = 'smsapi out';
  readonly idempotent = true;
  readonly readsRetryAfter = false;
  fake!: FakeSmsapi;
  async start() {
    this.fake = await FakeSmsapi.start({ token: SMSAPI_TOKEN });
  }
  async close() {
    await this.fake?.close();
  }
  module() {
    return smsapiNodes;
  }
  url() {
    return this.fake.url;
  }
  config(url: string) {
    return { type: 'smsapi-account', name: 'smsapi', url, from: 'Alert', test: false };
  }
  sinkProps() {
    return { account: 'cfg' };
  }
  credentials() {
    return { cfg: { token: SMSAPI_TOKEN } };
  }
  smsAtProvider() {
    return this.fake.accepted.length;
  }
  requests() {
    return this.fake.smsRequests.length;
  }
  slow() {
    return this.fake.slow;
  }
  inject(fault: SinkFault, count: number, retryAfterS = 1) {
    const step =
      fault === 'timeout'
        ? ({ kind: 'hang', accept: true } as const)
        : fault === '5xx'
          ? ({ kind: 'http', status: 503 } as const)
          : fault === '429'
            ? ({ kind: 'http', status: 429, headers: { 'Retry-After': String(retryAfterS) } } as const)
            : fault === 'malformed'
              ? ({ kind: 'malformed', accept: true } as const)
              : ({ kind: 'drop', accept: true } as const);
    this.fake.failNext(count, step);
  }
}

export class GatewaySink extends SinkHarness {
  readonly type = 'sms-gateway out';
  readonly idempotent = false;
  readonly readsRetryAfter = true;
  fake!: FakeSmsGateway;
  async start() {
    this.fake = await new FakeSmsGateway({
      pingIntervalMs: 0,
      rateLimit: { max: 100_000, windowMs: 60_000 },
    }).start();
    this.fake.addKey(GATEWAY_KEY);
  }
  async close() {
    await this.fake?.close();
    resetAuthGuards();
  }
  module() {
    return gatewayNodes;
  }
  url() {
    return this.fake.url;
  }
  config(url: string) {
    return { type: 'sms-gateway', name: 'gateway', url, from: '+15559876543', wsAuth: 'token' };
  }
  sinkProps() {
    return { gateway: 'cfg', from: '' };
  }
  credentials() {
    return { cfg: { apiKey: GATEWAY_KEY } };
  }
  smsAtProvider() {
    return this.fake.sent.length;
  }
  requests() {
    return this.fake.requests.filter((r) => r.path === '/v1/sms/send').length;
  }
  slow() {
    return this.fake.slow;
  }
  inject(fault: SinkFault, count: number, retryAfterS = 1) {
    if (fault === 'timeout') this.fake.hangSends(count, true);
    else if (fault === '5xx') this.fake.failNext(500, 'Internal server error', count);
    else if (fault === '429')
      this.fake.failNext(429, 'Too many requests', count, { 'retry-after': String(retryAfterS) });
    else if (fault === 'malformed') this.fake.acceptMalformed(count);
    else this.fake.dropSends(count, true);
  }
}

export class PbxwareSink extends SinkHarness {
  readonly type = 'pbxware out';
  readonly idempotent = false;
  readonly readsRetryAfter = true;
  fake!: FakePbxware;
  async start() {
    this.fake = await startFakePbxware();
    this.fake.apiKey = PBX_KEY;
  }
  async close() {
    await this.fake?.close();
  }
  module() {
    return pbxwareNodes;
  }
  url() {
    return this.fake.url;
  }
  config(url: string) {
    return { type: 'pbxware-server', name: 'pbx', url, tenant: this.fake.tenant, api: 'action' };
  }
  sinkProps() {
    return { server: 'cfg', mode: 'sms', extension: '' };
  }
  credentials() {
    return { cfg: { apiKey: PBX_KEY } };
  }
  smsAtProvider() {
    return this.fake.sent.length;
  }
  requests() {
    return this.fake.requests.length;
  }
  slow() {
    return this.fake.slow;
  }
  inject(fault: SinkFault, count: number, retryAfterS = 1) {
    this.fake.retryAfterS = retryAfterS;
    const step =
      fault === 'timeout'
        ? 'hang-accept'
        : fault === '5xx'
          ? 503
          : fault === '429'
            ? 429
            : fault === 'malformed'
              ? 'malformed-accept'
              : 'drop-accept';
    for (let i = 0; i < count; i++) this.fake.failNext.push(step);
  }
}

export class CpaasSink extends SinkHarness {
  readonly type = 'cpaas out';
  /** every attempt carries the same clientCorrelator */
  readonly idempotent = true;
  readonly readsRetryAfter = true;
  fake!: FakeCpaas;
  async start() {
    this.fake = await new FakeCpaas({ clientSecret: SINK_CPAAS_SECRET }).start();
  }
  async close() {
    await this.fake?.close();
  }
  module() {
    return cpaasNodes;
  }
  url() {
    return this.fake.url;
  }
  config(url: string) {
    return {
      type: 'kandy-cpaas',
      name: 'cpaas',
      url,
      clientId: this.fake.clientId,
      auth: 'project',
      from: CPAAS_FROM,
    };
  }
  sinkProps() {
    return { cpaas: 'cfg' };
  }
  credentials() {
    return { cfg: { clientSecret: SINK_CPAAS_SECRET } };
  }
  smsAtProvider() {
    return this.fake.sent.length;
  }
  requests() {
    return this.fake.counts.send;
  }
  slow() {
    return this.fake.slow;
  }
  inject(fault: SinkFault, count: number, retryAfterS = 1) {
    for (let i = 0; i < count; i++) {
      if (fault === 'timeout') this.fake.scriptSend({ status: 201, process: true, hang: true });
      else if (fault === '5xx')
        this.fake.scriptSend({
          status: 503,
          body: {
            requestError: {
              serviceException: { messageId: 'SVC1000', text: 'Service unavailable', variables: [] },
            },
          },
        });
      else if (fault === '429')
        this.fake.scriptSend({
          status: 429,
          headers: { 'retry-after': String(retryAfterS) },
          body: {
            requestError: {
              policyException: { messageId: 'POL1009', text: 'Request rate exceeded', variables: [] },
            },
          },
        });
      else if (fault === 'malformed')
        this.fake.scriptSend({
          status: 201,
          process: true,
          raw: '{"outboundSMSMessageRequest":{"address":[',
        });
      else this.fake.scriptSend({ status: 201, process: true, drop: true });
    }
  }
}

export function sinks(): SinkHarness[] {
  return [new SmsapiSink(), new GatewaySink(), new PbxwareSink(), new CpaasSink()];
}
