import { hostname } from 'node:os';
import { redis } from './redis';
import { type Clock, realClock } from '../clock';
import { tuned } from '../tuning';
import { DEFAULT_PREFIX, keyRing, type KeyRing } from './keys';
import { HEARTBEAT, type LuaScript, TOKEN_BUCKET } from './scripts';

/**
 * The shared state of a cluster of Node-RED instances, in Redis: event claims, the dedupe window and
 * the rate limit of every sink. One Redis client per `sms-cluster` config node, connected when the
 * first node registers and closed when the last one leaves. Every operation resolves (never rejects):
 * `undefined` means "Redis did not answer", and the caller applies its onError policy.
 */

export type OnError = 'local' | 'hold';

export interface ClusterConfig {
  url: string;
  prefix?: string;
  onError?: OnError;
  username?: string;
  password?: string;
}

export type ClusterPhase = 'connecting' | 'up' | 'down' | 'closed';

export interface ClusterState {
  phase: ClusterPhase;
  /** live instances (heartbeats younger than their TTL); 0 until the first heartbeat */
  instances: number;
  /** why Redis is down: safe to show (never a password) */
  reason?: string;
}

export interface ClusterUser {
  onClusterState(state: ClusterState): void;
}

/** Timings tests may shorten with `tuning.cluster = {...}`. */
export const clusterDefaults = {
  /** how long a claim on an event lives (an instance that dies holds its events this long) */
  claimTtlMs: 10 * 60_000,
  heartbeatMs: 5_000,
  /** an instance missing heartbeats for this long no longer counts */
  heartbeatTtlMs: 15_000,
  /**
   * a command without an answer in this time counts as "Redis down" for that command. Generous: a
   * claim that times out on a busy instance while another won it would emit the event twice (local)
   */
  commandTimeoutMs: 10_000,
  connectTimeoutMs: 5_000,
  /** reconnect delays: first, cap (exponential with jitter in between) */
  reconnectInitialMs: 100,
  reconnectMaxMs: 3_000,
  clock: realClock as Clock,
  /** this instance's id in the heartbeat set (empty = one id per process) */
  instanceId: '',
};
export type ClusterTuning = typeof clusterDefaults;

/** The part of a node-redis client the store uses. */
interface RedisClient {
  readonly isReady: boolean;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  connect(): Promise<unknown>;
  sendCommand<T>(args: string[], options?: { timeout?: number }): Promise<T>;
  close(): Promise<unknown>;
  destroy(): void;
}

/**
 * One id per process (a process with two cluster nodes on one Redis is one instance), readable in
 * Redis: a claim's value says which host and process took the event.
 */
const PROCESS_ID = `${hostname()}#${process.pid}`;

/** Reconnect delay: exponential from `initial` to `max`, the upper half randomised. */
export function reconnectDelay(retries: number, initial: number, max: number, random = Math.random): number {
  const base = Math.min(max, initial * 2 ** Math.min(retries, 20));
  return Math.round(base / 2 + (base / 2) * random());
}

/** A reason safe to show: the error's code or message, with any URL credentials removed. */
function safeReason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const text = e?.code || e?.message || String(err);
  return text.replace(/\/\/[^@/\s]*@/g, '//').slice(0, 120);
}

export class ClusterStore {
  readonly prefix: string;
  readonly onError: OnError;
  readonly keys: KeyRing;
  readonly instanceId: string;
  private readonly tune: ClusterTuning;
  private readonly users = new Set<ClusterUser>();
  private client?: RedisClient;
  private heartbeatTimer: unknown;
  private current: ClusterState = { phase: 'closed', instances: 0 };
  /** commands sent to Redis since creation (the bench's round trips per event) */
  commands = 0;

  constructor(
    private readonly config: ClusterConfig,
    private readonly log: (message: string) => void = () => {},
    tune: Partial<ClusterTuning> = tuned('cluster', clusterDefaults),
  ) {
    this.tune = { ...clusterDefaults, ...tune };
    this.instanceId = this.tune.instanceId || PROCESS_ID;
    this.prefix = config.prefix === undefined || config.prefix === '' ? DEFAULT_PREFIX : config.prefix;
    this.onError = config.onError === 'hold' ? 'hold' : 'local';
    this.keys = keyRing(this.prefix);
  }

  get state(): ClusterState {
    return this.current;
  }

  get claimTtlMs(): number {
    return this.tune.claimTtlMs;
  }

  /** true when commands can be sent now */
  get isUp(): boolean {
    return this.current.phase === 'up' && !!this.client?.isReady;
  }

  register(user: ClusterUser): void {
    this.users.add(user);
    user.onClusterState(this.current);
    if (!this.client) this.open();
  }

  /** The last user leaving closes the client (resolves when it is closed). */
  async deregister(user: ClusterUser): Promise<void> {
    this.users.delete(user);
    if (this.users.size === 0) await this.shutdown();
  }

  /** Close whatever is open (the config node's close). */
  async close(): Promise<void> {
    this.users.clear();
    await this.shutdown();
  }

  private setState(next: ClusterState): void {
    const prev = this.current;
    if (prev.phase === next.phase && prev.instances === next.instances && prev.reason === next.reason) return;
    if (next.phase === 'down' && prev.phase !== 'down') this.log(`Redis unreachable: ${next.reason ?? ''}`);
    if (next.phase === 'up' && prev.phase === 'down') this.log('Redis reachable again');
    this.current = next;
    for (const user of this.users) {
      try {
        user.onClusterState(next);
      } catch {
        // a user's status update must not stop the others
      }
    }
  }

  private open(): void {
    const { url, username, password } = this.config;
    const tune = this.tune;
    let client: RedisClient;
    try {
      client = redis().createClient({
        url,
        ...(username ? { username } : {}),
        ...(password ? { password } : {}),
        // no queue while disconnected: a command fails at once and the onError policy decides
        disableOfflineQueue: true,
        socket: {
          connectTimeout: tune.connectTimeoutMs,
          reconnectStrategy: (retries: number) =>
            reconnectDelay(retries, tune.reconnectInitialMs, tune.reconnectMaxMs),
        },
      }) as unknown as RedisClient;
    } catch (err) {
      // a malformed URL: stay down, with the reason, until redeploy
      this.setState({ phase: 'down', instances: 0, reason: safeReason(err) });
      return;
    }
    this.client = client;
    this.setState({ phase: 'connecting', instances: 0 });
    // 'error' always has a listener: a lost connection is a state, never a crash
    client.on('error', (err) => {
      if (this.client === client) this.setState({ phase: 'down', instances: 0, reason: safeReason(err) });
    });
    client.on('reconnecting', () => {
      if (this.client === client && this.current.phase === 'up')
        this.setState({ phase: 'down', instances: 0, reason: 'reconnecting' });
    });
    client.on('ready', () => {
      if (this.client !== client) return;
      this.setState({ phase: 'up', instances: Math.max(1, this.current.instances) });
      this.beat();
    });
    client.connect().catch((err: unknown) => {
      if (this.client === client) this.setState({ phase: 'down', instances: 0, reason: safeReason(err) });
    });
  }

  private async shutdown(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.tune.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.setState({ phase: 'closed', instances: 0 });
    if (!client) return;
    if (client.isReady) {
      try {
        await client.sendCommand(['ZREM', this.keys.instances(), this.instanceId], {
          timeout: this.tune.commandTimeoutMs,
        });
        await client.close();
        return;
      } catch {
        // fall through to destroy
      }
    }
    try {
      client.destroy();
    } catch {
      // already closed
    }
  }

  private beat(): void {
    this.tune.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    const client = this.client;
    if (!client) return;
    void this.script<number>(
      HEARTBEAT,
      [this.keys.instances()],
      [this.instanceId, String(this.tune.heartbeatTtlMs)],
    ).then((count) => {
      if (this.client !== client) return;
      if (count !== undefined && this.current.phase === 'up')
        this.setState({ phase: 'up', instances: Number(count) });
      this.heartbeatTimer = this.tune.clock.setTimeout(() => this.beat(), this.tune.heartbeatMs);
    });
  }

  /** Send one command; undefined when Redis is down or did not answer in time. */
  private async send<T>(args: string[]): Promise<T | undefined> {
    const client = this.client;
    if (!client || !client.isReady) return undefined;
    this.commands++;
    try {
      return await client.sendCommand<T>(args, { timeout: this.tune.commandTimeoutMs });
    } catch (err) {
      if (/NOSCRIPT/.test(String((err as Error)?.message))) throw err;
      return undefined;
    }
  }

  private async script<T>(lua: LuaScript, keys: string[], args: string[]): Promise<T | undefined> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.send<T>(['EVALSHA', lua.sha1, ...tail]);
    } catch {
      // NOSCRIPT: a restarted Redis forgot it; EVAL loads it again
      try {
        return await this.send<T>(['EVAL', lua.source, ...tail]);
      } catch {
        return undefined;
      }
    }
  }

  /**
   * SET key NX PX ttl: true = this instance has it now, false = another had it first,
   * undefined = Redis did not answer. Calls in the same tick go out in one write (auto-pipelining).
   */
  async setOnce(key: string, ttlMs: number): Promise<boolean | undefined> {
    const reply = await this.send<string | null>([
      'SET',
      key,
      this.instanceId,
      'NX',
      'PX',
      String(Math.max(1, Math.round(ttlMs))),
    ]);
    return reply === undefined ? undefined : reply !== null;
  }

  /** Claim one event for this instance for claimTtlMs. */
  claim(key: string): Promise<boolean | undefined> {
    return this.setOnce(key, this.tune.claimTtlMs);
  }

  /** Delete a key, best effort (a dedupe entry of an SMS that was not sent after all). */
  forget(key: string): void {
    void this.send(['DEL', key]);
  }

  /** The shared token bucket of a sink: true = a token was taken (or given back with 'refund'). */
  async bucket(nodeId: string, perMinute: number, op: 'take' | 'refund'): Promise<boolean | undefined> {
    const reply = await this.script<number>(
      TOKEN_BUCKET,
      [this.keys.bucket(nodeId)],
      [String(perMinute), op],
    );
    return reply === undefined ? undefined : Number(reply) === 1;
  }
}
