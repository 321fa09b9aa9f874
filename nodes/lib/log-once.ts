/**
 * Bad input from a server is logged once per kind, then only counted: a server that sends garbage
 * in a loop must not flood the Node-RED log.
 */
export class OnceLogger {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly log: (message: string) => void,
    private readonly maxKinds = 100,
  ) {}

  /** Log `message` the first time `kind` is seen; returns true when it was logged. */
  warn(kind: string, message: string): boolean {
    const count = this.seen.get(kind);
    if (count !== undefined) {
      this.seen.set(kind, count + 1);
      return false;
    }
    if (this.seen.size >= this.maxKinds) return false;
    this.seen.set(kind, 1);
    this.log(message);
    return true;
  }

  count(kind: string): number {
    return this.seen.get(kind) ?? 0;
  }
}
