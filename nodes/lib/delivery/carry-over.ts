/**
 * Open watches survive a redeploy: a closing `delivery watch` that is not removed parks its table
 * here under its node id, and the node that starts next with that id adopts it. Module-level on
 * purpose: it is the only thing that outlives a node instance.
 */
const parked = new Map<string, unknown>();

export function park<T>(nodeId: string, table: T): void {
  parked.set(nodeId, table);
}

/** the table parked for this node id, removed from the parking */
export function unpark<T>(nodeId: string): T | undefined {
  const table = parked.get(nodeId) as T | undefined;
  parked.delete(nodeId);
  return table;
}

/** how many tables are parked (tests) */
export function parkedCount(): number {
  return parked.size;
}

/** forget every parked table (tests, between flows that reuse node ids) */
export function clearParked(): void {
  parked.clear();
}
