/**
 * The glue the `delivery watch` node file calls: attachWatch(node, config, RED._). Registers 'input'
 * and 'close', keeps the status dot, and carries the open watches over a redeploy (same node id).
 *
 * Input: a msg with `msg.sms` (a sink's output; it wins over msg.event) starts a watch; a status
 * event (msg.event from `sms-gateway in`, `cpaas in`, `esms in`) ends or updates one; anything else
 * passes silently. Outputs: 1 delivered, 2 failed, 3 no final status within the timeout; each the
 * send's msg with msg.delivery.
 */
import { type Clock, realClock } from '../clock';
import { copyWith } from '../envelope';
import type { NodeStatus, Translate } from '../status';
import { tuned } from '../tuning';
import { park, unpark } from './carry-over';
import { DeliveryError } from './errors';
import { isWatchable, sentFromMessage, statusFromMessage } from './status';
import { type DeliveryInfo, WatchTable, type WatchStats, type WatchTableOptions } from './watch-table';

export interface WatchConfig {
  /** seconds to wait for a final status (default 120) */
  timeout?: number | string;
  /** the most open watches (default 10,000) */
  maxWatches?: number | string;
}

type Msg = Record<string, unknown>;

export interface WatchHost {
  id: string;
  status(status: NodeStatus | Record<string, never>): void;
  send(msg: (Msg | null)[]): void;
  warn(message: unknown): void;
  on(event: 'input', handler: (msg: Msg, send: unknown, done: (err?: Error) => void) => void): void;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void): void;
}

/** Timings tests and benchmarks may change with `tuning['delivery-watch'] = {...}`. */
export const watchDefaults = {
  /** a status that beats its send's msg waits this long */
  holdMs: 5_000,
  /** at most this many such statuses wait at once */
  maxHeld: 1_000,
  clock: realClock as Clock,
};

export const DEFAULT_TIMEOUT_S = 120;
export const DEFAULT_MAX_WATCHES = 10_000;

function num(value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

const OUTPUT: Record<DeliveryInfo['status'], number> = { delivered: 0, failed: 1, timeout: 2, cancelled: 2 };
const KEYS = 'delivery-watch.';

const SLOT = '§N§';
const PARTS = ['watching', 'delivered', 'failed', 'late', 'unknown'] as const;

/**
 * The status dot's words, translated once: the counters change on every watch, and a translation with a
 * count costs ~25 µs in Node-RED's i18next (most of the node's time when it was done per redraw).
 */
export function statusTexts(t: Translate): Record<(typeof PARTS)[number], (n: number) => string> {
  const out = {} as Record<(typeof PARTS)[number], (n: number) => string>;
  for (const part of PARTS) {
    const [before, after = ''] = t(KEYS + 'status.' + part, { count: SLOT }).split(SLOT);
    out[part] = (n) => before + n + after;
  }
  return out;
}

/** "watching 3 · delivered 10 · failed 1 · late 2"; yellow after a failure or a timeout. */
export function watchStatus(stats: WatchStats, texts: ReturnType<typeof statusTexts>): NodeStatus {
  const parts = [
    texts.watching(stats.watching),
    texts.delivered(stats.delivered),
    texts.failed(stats.failed),
    texts.late(stats.late),
  ];
  if (stats.unknown > 0) parts.push(texts.unknown(stats.unknown));
  const fill = stats.failed + stats.late > 0 ? 'yellow' : stats.watching > 0 ? 'blue' : 'green';
  return { fill, shape: 'dot', text: parts.join(' · ') };
}

export function attachWatch(host: WatchHost, config: WatchConfig, t: Translate): WatchTable<Msg> {
  const tune = tuned('delivery-watch', watchDefaults);
  let lastText = '';
  const texts = statusTexts(t);
  const redraw = () => {
    const s = watchStatus(table.stats, texts);
    const shown = `${s.fill} ${s.text}`;
    if (shown === lastText) return;
    lastText = shown;
    host.status(s);
  };
  const opts: WatchTableOptions<Msg> = {
    timeoutMs: num(config.timeout, DEFAULT_TIMEOUT_S, 1, 7 * 86_400) * 1000,
    maxWatches: Math.floor(num(config.maxWatches, DEFAULT_MAX_WATCHES, 1, 1_000_000)),
    holdMs: tune.holdMs,
    maxHeld: tune.maxHeld,
    clock: tune.clock,
    onDone: (msg, delivery) => {
      const out: (Msg | null)[] = [null, null, null];
      out[OUTPUT[delivery.status]] = copyWith(msg, { delivery });
      host.send(out);
    },
    onChange: () => redraw(),
  };
  const carried = unpark<WatchTable<Msg>>(host.id);
  const table = carried ?? new WatchTable<Msg>(opts);
  if (carried) carried.adopt(opts);
  redraw();

  host.on('input', (msg, _send, done) => {
    const sent = sentFromMessage(msg);
    if (sent === 'no-id') return done(new DeliveryError('WATCH_NO_ID', t(KEYS + 'errors.noId')));
    if (sent) {
      if (!isWatchable(sent.provider))
        return done(
          new DeliveryError('WATCH_UNSUPPORTED', t(KEYS + 'errors.unsupported', { provider: sent.provider })),
        );
      if (table.watch(sent, msg) === 'full')
        return done(
          new DeliveryError('WATCH_FULL', t(KEYS + 'errors.full', { max: opts.maxWatches, id: sent.ids[0] })),
        );
      return done();
    }
    const report = statusFromMessage(msg);
    if (report) table.status(report);
    done();
  });

  host.on('close', (removed, done) => {
    if (removed) {
      const open = table.clear();
      if (open > 0) host.warn(t(KEYS + 'warn.dropped', { count: open }));
    } else {
      table.suspend();
      park(host.id, table);
    }
    done();
  });
  return table;
}
