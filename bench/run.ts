/**
 * `npm run bench`: every benchmark in one run, each measured in its own child process, on loopback.
 * Prints a table and writes BENCHMARKS.md (machine, versions, date, N, every figure, each target
 * with PASS/FAIL and its ratio).
 *
 *   npm run bench                      full run (~4 minutes here), writes BENCHMARKS.md
 *   BENCH_QUICK=1 npm run bench        smoke test with small N (or: node bench/run.js --quick),
 *                                      writes the report to the temp directory unless BENCH_OUT is set
 *   BENCH_ONLY=ingest,latency          run some sections only (ingest, functions, sources, latency, sinks,
 *                                      cluster, watch, soak)
 *   BENCH_OUT=<file>                   where to write the report
 *   BENCH_CPU_PROF=<dir>               V8 CPU profile of every measured process (bench/profile-summary.ts)
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { runClusterBench } from './cluster';
import { FramePool } from './events';
import { IngestResult, IngestRun, runIngest } from './ingest';
import { LatencyResult, percentile, runLatency, Turns } from './latency';
import { ROOT } from './nodered';
import { Report, renderMarkdown, renderTable, Target } from './report';
import { runSink, SinkResult, SinkRun } from './sinks';
import { runSoak, SoakResult } from './soak';
import { runSourceBurst } from './source-bursts';
import { runWatch, type WatchResult } from './watch';

export interface Plan {
  quick: boolean;
  /** throughput runs are repeated, interleaved; the best round counts */
  rounds: number;
  bareEvents: number;
  coreEvents: number;
  privmxEvents: number;
  /** the sender's in-flight limit for the core flow (it has no backpressure of its own) */
  coreWindow: number;
  burstEvents: number;
  latencyRate: number;
  latencySeconds: number;
  latencyRounds: number;
  latencyWarmupSeconds: number;
  sinkMessages: number;
  soakSeconds: number;
  soakCompression: number;
  /** delivery watch: sends (and statuses) matched in the throughput run */
  watchMessages: number;
  /** delivery watch: open watches in the memory run */
  watchOpen: number;
}

export function plan(quick: boolean): Plan {
  return quick
    ? {
        quick,
        rounds: 1,
        bareEvents: 200_000,
        coreEvents: 100_000,
        privmxEvents: 100_000,
        coreWindow: 4_000,
        burstEvents: 20_000,
        latencyRate: 2_000,
        latencySeconds: 2,
        latencyRounds: 1,
        latencyWarmupSeconds: 0.5,
        sinkMessages: 300,
        soakSeconds: 5,
        soakCompression: 20,
        watchMessages: 20_000,
        watchOpen: 10_000,
      }
    : {
        quick,
        rounds: 3,
        bareEvents: 2_000_000,
        coreEvents: 1_000_000,
        privmxEvents: 1_000_000,
        coreWindow: 4_000,
        burstEvents: 200_000,
        latencyRate: 2_000,
        latencySeconds: 20,
        latencyRounds: 4,
        latencyWarmupSeconds: 3,
        sinkMessages: 3_000,
        soakSeconds: 30,
        soakCompression: 20,
        watchMessages: 200_000,
        watchOpen: 10_000,
      };
}

type Section = 'ingest' | 'functions' | 'sources' | 'latency' | 'sinks' | 'cluster' | 'watch' | 'soak';

function log(line: string): void {
  process.stdout.write(line + '\n');
}

/** Copy the compiled package aside, so a concurrent `npm run build` (rm -rf dist) cannot break the run. */
function snapshotPackage(): string {
  const dist = path.join(ROOT, 'dist');
  for (let attempt = 0; ; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sms-notify-bench-pkg-'));
    try {
      if (!fs.existsSync(path.join(dist, 'nodes', 'privmx.js')))
        throw new Error('dist/ is missing: run `npm run build` first (`npm run bench` does)');
      fs.cpSync(dist, path.join(dir, 'dist'), { recursive: true });
      fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
      return dir;
    } catch (err) {
      removeSnapshot(dir);
      if (attempt >= 10) throw err;
      // another build may be rewriting dist/ right now
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_000);
    }
  }
}

function removeSnapshot(dir: string): void {
  // the node_modules link first: never recurse into the real node_modules
  fs.rmSync(path.join(dir, 'node_modules'), { force: true });
  fs.rmSync(dir, { recursive: true, force: true });
}

function machine(): Report['machine'] {
  const cpus = os.cpus();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeRed = require('node-red/package.json').version as string;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('../package.json').version as string;
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGB: os.totalmem() / 1024 ** 3,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    nodeRed,
    pkg,
    loadAtStart: os.loadavg(),
  };
}

function best(results: IngestResult[]): IngestResult {
  const ok = results.filter((r) => !r.error && Number.isFinite(r.perSecond));
  if (ok.length === 0) return results[0];
  return ok.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
}

function pooled(label: string, runs: LatencyResult[]): LatencyResult & { roundsP99: number[] } {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const first = runs[0];
  return {
    ...first,
    label,
    seconds: runs.reduce((s, r) => s + r.seconds, 0),
    events: runs.reduce((s, r) => s + r.events, 0),
    expected: runs.reduce((s, r) => s + r.expected, 0),
    received: runs.reduce((s, r) => s + r.received, 0),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1],
    latencies,
    roundsP99: runs.map((r) => r.p99),
    error: runs.map((r) => r.error).find(Boolean),
  };
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const quick = argv.includes('--quick') || /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? '');
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as Section[];
  const wanted = (s: Section) => only.length === 0 || only.includes(s);
  const p = plan(quick);
  const started = performance.now();
  const report: Report = {
    date: new Date().toISOString(),
    quick,
    plan: p,
    machine: machine(),
    ingest: [],
    latency: [],
    sinks: [],
    targets: [],
    seconds: 0,
  };
  log(
    `sms-notify benchmarks${quick ? ' (quick)' : ''}: ${report.machine.cores} cores, Node ${report.machine.node}, ` +
      `Node-RED ${report.machine.nodeRed}, load ${report.machine.loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const snapshot = snapshotPackage();
  process.env.BENCH_PACKAGE_DIR = snapshot;
  const pool = new FramePool(4096);
  report.eventBytes = pool.averageBytes;
  try {
    if (wanted('ingest')) {
      const runs: IngestRun[] = [
        { label: '(a) bare ws client: JSON.parse + filter', mode: 'bare', events: p.bareEvents },
        {
          label: `(b) core: websocket in → json → switch (≤ ${p.coreWindow} in flight)`,
          mode: 'nodered',
          flow: 'core',
          events: p.coreEvents,
          window: p.coreWindow,
        },
        { label: '(c) privmx in → event filter', mode: 'nodered', flow: 'privmx', events: p.privmxEvents },
        {
          label: '(d) privmx in (type/thread pre-filter) → event filter',
          mode: 'nodered',
          flow: 'privmx-prefilter',
          events: p.privmxEvents,
        },
      ];
      const all: IngestResult[][] = runs.map(() => []);
      for (let round = 1; round <= p.rounds; round++) {
        for (let i = 0; i < runs.length; i++) {
          const r = await runIngest(pool, runs[i]);
          all[i].push(r);
          log(
            `ingest  round ${round}  ${runs[i].label}: ${fmt(r.perSecond)} events/s, RSS +${fmt(r.rssGrowthMB, 1)} MB` +
              (r.error ? `  ERROR ${r.error}` : ''),
          );
        }
      }
      report.ingest = all.map((rs) => ({ ...best(rs), rounds: rs.map((r) => r.perSecond) }));
      const bursts: IngestRun[] = [
        {
          label: `(b) core, unthrottled burst of ${p.burstEvents}`,
          mode: 'nodered',
          flow: 'core',
          events: p.burstEvents,
        },
        {
          label: `(c) privmx in → event filter, unthrottled burst of ${p.burstEvents}`,
          mode: 'nodered',
          flow: 'privmx',
          events: p.burstEvents,
        },
      ];
      report.bursts = [];
      for (const run of bursts) {
        const r = await runIngest(pool, run);
        report.bursts.push(r);
        log(
          `burst   ${run.label}: ${fmt(r.perSecond)} events/s, RSS +${fmt(r.rssGrowthMB, 1)} MB, heap +${fmt(r.heapGrowthMB, 1)} MB` +
            (r.error ? `  ERROR ${r.error}` : ''),
        );
      }
    }

    if (wanted('functions')) {
      // the realistic burst: function nodes downstream, so the backlog is not only the first hop's
      const runs: IngestRun[] = [
        {
          label: `(B) core: websocket in → json → switch → function ×2, burst of ${p.burstEvents}`,
          mode: 'nodered',
          flow: 'core-functions',
          events: p.burstEvents,
        },
        {
          label: `(P) privmx in → event filter → function ×2, burst of ${p.burstEvents}`,
          mode: 'nodered',
          flow: 'privmx-functions',
          events: p.burstEvents,
        },
      ];
      report.functionBursts = [];
      for (const run of runs) {
        const r = await runIngest(pool, run);
        report.functionBursts.push(r);
        log(
          `burst   ${run.label}: ${fmt(r.perSecond)} events/s, RSS +${fmt(r.rssGrowthMB, 1)} MB, heap +${fmt(r.heapGrowthMB, 1)} MB, ${r.matched} matched` +
            (r.error ? `  ERROR ${r.error}` : ''),
        );
      }
    }

    if (wanted('sources')) {
      report.sourceBursts = [];
      for (const source of ['sms-gateway', 'esms', 'cpaas'] as const) {
        const r = await runSourceBurst(source, p.burstEvents);
        report.sourceBursts.push(r);
        log(
          `burst   ${r.label}: ${fmt(r.perSecond)} events/s, RSS +${fmt(r.rssGrowthMB, 1)} MB, ${r.matched} delivered` +
            (r.error ? `  ERROR ${r.error}` : ''),
        );
      }
    }

    if (wanted('latency')) {
      const base = { rate: p.latencyRate, seconds: p.latencySeconds, warmupSeconds: p.latencyWarmupSeconds };
      const core: LatencyResult[] = [];
      const privmx: LatencyResult[] = [];
      // the two flows take turns every half second (each its own sender, fake SMSAPI and Node-RED
      // process): a shared machine's background load comes and goes within seconds, so both see it
      // alike, and neither flow's garbage collector runs on the cores while the other is measured
      for (let round = 1; round <= p.latencyRounds; round++) {
        const turns = new Turns(['latency-core', 'latency-privmx']);
        const both = await Promise.all([
          runLatency({ label: 'latency-core', flow: 'latency-core', ...base, turns }),
          runLatency({ label: 'latency-privmx', flow: 'latency-privmx', ...base, turns }),
        ]);
        core.push(both[0]);
        privmx.push(both[1]);
        for (const r of both)
          log(
            `latency round ${round}  ${r.flow}: p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms, max ${fmt(r.max, 1)} ms, ` +
              `${r.received}/${r.expected} SMS` +
              (r.error ? `  ERROR ${r.error}` : ''),
          );
      }
      report.latency.push(
        pooled('core: websocket in → json → switch → function → http request', core),
        pooled('privmx in → event filter → smsapi out', privmx),
      );
      // where the difference comes from: swap the sink, keep the source (one round each)
      for (const [flow, label] of [
        ['latency-privmx-http', 'privmx in → event filter → function → http request'],
        ['latency-core-smsapi', 'core: websocket in → json → switch → smsapi out'],
      ] as const) {
        const r = await runLatency({ label, flow, ...base });
        report.latency.push(r);
        log(
          `latency          ${flow}: p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms, max ${fmt(r.max, 1)} ms, ` +
            `${r.received}/${r.expected} SMS` +
            (r.error ? `  ERROR ${r.error}` : ''),
        );
      }
    }

    if (wanted('sinks')) {
      const runs: SinkRun[] = [
        {
          label: 'smsapi out → fake SMSAPI (default: 1 at a time)',
          flow: 'sink-smsapi',
          messages: p.sinkMessages,
        },
        {
          label: 'smsapi out → fake SMSAPI (concurrency 4)',
          flow: 'sink-smsapi',
          messages: p.sinkMessages,
          concurrency: 4,
        },
        {
          label: 'sms-gateway out → fake gateway (default: 1 at a time)',
          flow: 'sink-gateway',
          messages: p.sinkMessages,
        },
        {
          label: 'sms-gateway out → fake gateway (concurrency 4)',
          flow: 'sink-gateway',
          messages: p.sinkMessages,
          concurrency: 4,
        },
      ];
      for (const run of runs) {
        const r: SinkResult = await runSink(run);
        report.sinks.push(r);
        log(
          `sink    ${run.label}: ${fmt(r.perSecond)} SMS/s (${r.sent} sent, ${r.failed} failed, ${r.requests} requests)` +
            (r.error ? `  ERROR ${r.error}` : ''),
        );
      }
    }

    if (wanted('cluster')) report.cluster = await runClusterBench(p, log);
    if (wanted('watch')) {
      const r: WatchResult = await runWatch({ messages: p.watchMessages, open: p.watchOpen });
      report.watch = r;
      log(
        `watch   delivery watch: ${fmt(r.perSecond)} watches/s (${r.delivered} delivered), ` +
          `${int(r.open)} open watches: heap +${fmt(r.heapMB, 1)} MB after GC` +
          (r.error ? `  ERROR ${r.error}` : ''),
      );
    }

    if (wanted('soak')) {
      const r: SoakResult = await runSoak(pool, {
        label: 'reconnect churn: privmx in → event filter',
        seconds: p.soakSeconds,
        compression: p.soakCompression,
        eventsPerCycle: 400,
        maxCycles: 5_000,
      });
      report.soak = r;
      log(
        `soak    ${r.reconnects} reconnects in ${p.soakSeconds} s (≈ ${fmt(r.equivalentSeconds / 60, 0)} min of Bridge time): ` +
          `heap after GC ${fmt(r.heapGrowthMB, 2)} MB, RSS after GC ${fmt(r.rssGrowthMB, 1)} MB, handles ${fmt(r.handlesGrowth)}` +
          (r.error ? `  ERROR ${r.error}` : ''),
      );
    }
  } finally {
    removeSnapshot(snapshot);
  }

  report.targets = evaluate(report);
  report.seconds = (performance.now() - started) / 1000;
  log('');
  log(renderTable(report));
  const out =
    process.env.BENCH_OUT ||
    (quick || only.length
      ? path.join(os.tmpdir(), 'sms-notify-BENCHMARKS.quick.md')
      : path.join(ROOT, 'BENCHMARKS.md'));
  fs.writeFileSync(out, await formatMarkdown(renderMarkdown(report), out));
  log(`\nwrote ${out} (${fmt(report.seconds)} s in all)`);
  if (process.env.BENCH_CPU_PROF)
    log(`CPU profiles in ${process.env.BENCH_CPU_PROF}: npx tsx bench/profile-summary.ts <file.cpuprofile>`);
  const errors = [
    ...report.ingest,
    ...(report.bursts ?? []),
    ...report.latency,
    ...report.sinks,
    ...(report.watch ? [report.watch] : []),
    ...(report.soak ? [report.soak] : []),
    ...(report.cluster ? [report.cluster] : []),
  ].filter((r) => r.error);
  return errors.length ? 1 : 0;
}

/** The report as `prettier --write` would leave it (aligned tables), so the lint stays clean. */
async function formatMarkdown(markdown: string, file: string): Promise<string> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prettier = require('prettier') as typeof import('prettier');
    const options = (await prettier.resolveConfig(path.join(ROOT, 'BENCHMARKS.md'))) ?? {};
    return await prettier.format(markdown, { ...options, filepath: file, parser: 'markdown' });
  } catch {
    return markdown; // prettier is a dev dependency: without it the report is still valid markdown
  }
}

/** Every target of the benchmark issue, measured in this run. */
export function evaluate(report: Report): Target[] {
  const targets: Target[] = [];
  const [a, b, c, d] = report.ingest;
  if (a && b && c && d) {
    const cb = c.perSecond / b.perSecond;
    targets.push({
      name: 'ingest (c) ≥ 2× (b)',
      measured: `${fmt(c.perSecond)} vs ${fmt(b.perSecond)} events/s`,
      ratio: `${cb.toFixed(2)}×`,
      pass: cb >= 2,
    });
    const da = d.perSecond / a.perSecond;
    targets.push({
      name: 'ingest (d) ≥ 60% of (a): pre-filtered privmx in vs a bare ws client',
      measured: `${fmt(d.perSecond)} vs ${fmt(a.perSecond)} events/s`,
      ratio: `${(100 * da).toFixed(0)}%`,
      pass: da >= 0.6,
    });
  }
  const [bb, cc] = report.bursts ?? [];
  if (bb && cc) {
    const ratio = cc.rssGrowthMB / bb.rssGrowthMB;
    targets.push({
      name: `burst of ${report.plan.burstEvents}: RSS growth (c) < ¼ of (b)`,
      measured: `+${fmt(cc.rssGrowthMB, 1)} MB vs +${fmt(bb.rssGrowthMB, 1)} MB`,
      ratio: `${(100 * ratio).toFixed(1)}%`,
      pass: !cc.error && !bb.error && ratio < 0.25,
    });
  }
  const [fb, fp] = report.functionBursts ?? [];
  if (fb && fp) {
    const ok = !fb.error && !fp.error;
    const rss = fp.rssGrowthMB / fb.rssGrowthMB;
    targets.push({
      name: `burst of ${report.plan.burstEvents}, function nodes downstream: RSS growth P ≤ ¼ of B, all delivered`,
      measured: `+${fmt(fp.rssGrowthMB, 1)} MB vs +${fmt(fb.rssGrowthMB, 1)} MB`,
      ratio: `${rss.toFixed(2)}`,
      pass: ok && rss <= 0.25,
    });
    const blast = fp.perSecond / fb.perSecond;
    targets.push({
      name: 'burst with function nodes: P/B ≥ 3.0',
      measured: `${fmt(fp.perSecond)} vs ${fmt(fb.perSecond)} events/s`,
      ratio: `${blast.toFixed(2)}×`,
      pass: ok && blast >= 3,
    });
  }
  for (const x of report.sourceBursts ?? [])
    targets.push({
      name: `${x.label}: every event delivered`,
      measured: `${fmt(x.matched)} / ${fmt(x.events)}, RSS +${fmt(x.rssGrowthMB, 1)} MB`,
      ratio: '',
      pass: !x.error && x.matched === x.events,
    });
  const [lc, lp] = report.latency as (LatencyResult & { roundsP99?: number[] })[];
  if (lc && lp) {
    // pooled, and each round against the core round it took turns with (same background load)
    const ratio = lp.p99 / lc.p99;
    const coreRounds = lc.roundsP99 ?? [lc.p99];
    const rounds = (lp.roundsP99 ?? [lp.p99]).map((v, i) => v / coreRounds[i]);
    const worst = Math.max(ratio, ...rounds);
    targets.push({
      name: `latency at ${report.plan.latencyRate} events/s: p99 privmx ≤ 0.8× core, pooled and in every round`,
      measured: `${fmt(lp.p99, 2)} ms vs ${fmt(lc.p99, 2)} ms; rounds ${rounds.map((x) => x.toFixed(2)).join(' / ')}`,
      ratio: `${ratio.toFixed(2)}×`,
      pass: !lp.error && !lc.error && lp.received === lp.expected && worst <= 0.8,
    });
  }
  const s = report.soak;
  if (s) {
    const flat =
      !s.error && s.heapGrowthMB < HEAP_FLAT_MB && s.rssGrowthMB < RSS_FLAT_MB && s.handlesGrowth <= 0;
    targets.push({
      name: 'reconnect-churn soak: memory flat',
      measured: `heap ${signed(s.heapGrowthMB, 2)} MB, RSS ${signed(s.rssGrowthMB, 1)} MB, handles ${signed(s.handlesGrowth, 0)} over ${s.reconnects} reconnects`,
      ratio: `${fmt(s.heapSlopeKBPerReconnect, 1)} KB/reconnect`,
      pass: flat,
    });
  }
  return targets;
}

/** "flat": heap after a full GC grows by less than this over the soak (first vs last samples) */
export const HEAP_FLAT_MB = 1;
/** and RSS after GC (allocator noise included) by less than this */
export const RSS_FLAT_MB = 10;

export function signed(n: number, digits: number): string {
  return Number.isFinite(n) ? (n >= 0 ? '+' : '') + n.toFixed(digits) : 'n/a';
}
