/**
 * The seam between Node-RED and this package. `nodes/lib` imports nothing from Node-RED: each part
 * says, as a structural type, the little it needs of RED or of a node, and Node-RED's own objects fit
 * those shapes as they are. A node file passes `RED` and `this` straight in, without casts:
 *
 * - RED's translator → `translator(RED)` (below): the package's `Translate`;
 * - RED's admin API → `registerTestEndpoint(RED, …)` (admin.ts, shape `AdminRED`);
 * - RED's settings → `sinkOptions(RED)` (sms/sink-node.ts);
 * - RED's node registry → `clusterStore(RED, id)` (cluster/lookup.ts, shape `NodeLookup`);
 * - a node (`this`) → `attachSink` (shape `SinkHost`), `attachWatch` (`WatchHost`),
 *   `attachSource` (`SourceHost`), `clusterSink` / `clusterSource` (`ClusterHost`).
 */
import type { Translate } from './status';

/** The part of RED that translates catalog keys (Node-RED's `RED._`). */
export interface Translator {
  _(key: string, params?: Record<string, string | number>): string;
}

/**
 * The package's `Translate` over RED's. Values are handed to i18next as they are (it formats numbers
 * and strings; the package passes nothing else).
 */
export function translator(RED: Translator): Translate {
  return (key, params) => RED._(key, params as Record<string, string | number> | undefined);
}

/**
 * An unnamed config node gets a name from its type and host ("privmx-bridge bridge.example.com"), so
 * its warnings in the log and the debug sidebar say which server they are about instead of a bare id.
 * Only the host is used: a URL's `user:pass@`, path and query never reach a log.
 */
export function nameConfigNode(node: { name?: string; type: string }, url: unknown): void {
  if (node.name) return;
  let host = '';
  try {
    host = new URL(String(url ?? '').trim()).host;
  } catch {
    // an invalid URL is reported by the node itself; the name stays the type
  }
  node.name = host ? `${node.type} ${host}` : node.type;
}
