/**
 * The measured process of the delivery-watch benchmark (forked with --expose-gc): a real Node-RED
 * runtime with one `delivery watch` whose "delivered" output ends in the counting node.
 *
 * IPC: parent → child {type:'throughput', count} | {type:'memory', count} | {type:'exit'};
 * child → parent {type:'up'|'throughput'|'memory'|'error'}.
 */
import { logCounts, type RuntimeHandle, startNodeRed } from './nodered';
import { TAB } from './flows';

const send = (message: Record<string, unknown>) => process.send?.(message);

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

/** what `sms-gateway out` puts on its output for one SMS */
function sentMsg(i: number, run: string): Record<string, unknown> {
  return {
    _msgid: `${run}-${i}`,
    payload: `Alert ${i}: disk usage above 90% on db-02`,
    topic: 'bench',
    sms: {
      provider: 'sms-gateway',
      to: '+15550100200',
      from: '+15559876543',
      ids: [`msg_${run}${i.toString(16).padStart(12, '0')}`],
      parts: 1,
      encoding: 'GSM-7',
      status: 'queued',
      test: false,
      attempts: 1,
    },
  };
}

/** what `sms-gateway in` emits for its final sms_status */
function statusMsg(i: number, run: string): Record<string, unknown> {
  const messageId = `msg_${run}${i.toString(16).padStart(12, '0')}`;
  return {
    topic: 'sms-gateway/sms_status',
    payload: { type: 'sms_status', messageId, status: 'sent', rcMessageId: String(10_000_000 + i) },
    event: { source: 'sms-gateway', type: 'sms_status', id: messageId, timestamp: 1_800_000_000_000 },
  };
}

async function main(): Promise<void> {
  let hits = 0;
  let waiting: { target: number; resolve: () => void } | undefined;
  const benchHit = () => {
    hits++;
    if (waiting && hits >= waiting.target) {
      const w = waiting;
      waiting = undefined;
      w.resolve();
    }
  };
  const runtime: RuntimeHandle = await startNodeRed({
    functionGlobalContext: { benchHit, benchError: () => {} },
  });
  await runtime.deploy([
    TAB,
    {
      id: 'watch',
      type: 'delivery watch',
      z: TAB.id,
      timeout: 3600,
      maxWatches: 1_000_000,
      wires: [['delivered'], [], []],
    },
    { id: 'delivered', type: 'bench count', z: TAB.id, counts: 'hit', wires: [] },
  ]);
  const node = runtime.node('watch');
  const table = () => node.watches as { size: number };
  const settle = async (check: () => boolean) => {
    while (!check()) await new Promise((r) => setImmediate(r));
  };
  let runs = 0;
  process.on('message', async (message: { type: string; count?: number }) => {
    try {
      const count = message.count ?? 0;
      const run = `r${runs++}_`;
      if (message.type === 'throughput') {
        // N sends, then their N final statuses: every watch opened, matched and ended through Node-RED
        hits = 0;
        const done = new Promise<void>((resolve) => (waiting = { target: count, resolve }));
        const started = performance.now();
        for (let i = 0; i < count; i++) node.receive(sentMsg(i, run));
        await settle(() => table().size === count);
        for (let i = 0; i < count; i++) node.receive(statusMsg(i, run));
        await done;
        const seconds = (performance.now() - started) / 1000;
        send({ type: 'throughput', seconds, delivered: hits, log: logCounts });
      } else if (message.type === 'memory') {
        gc();
        const before = process.memoryUsage();
        for (let i = 0; i < count; i++) node.receive(sentMsg(i, run));
        await settle(() => table().size === count);
        gc();
        const after = process.memoryUsage();
        send({
          type: 'memory',
          open: table().size,
          heapBytes: after.heapUsed - before.heapUsed,
        });
      } else if (message.type === 'exit') {
        await runtime.stop().catch(() => undefined);
        process.exit(0);
      }
    } catch (err) {
      send({ type: 'error', message: err instanceof Error ? err.stack : String(err) });
    }
  });
  send({ type: 'up' });
}

main().catch((err) => {
  send({ type: 'error', message: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
});
