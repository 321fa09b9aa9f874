/**
 * A real Redis for tests: Debian's redis-server on a free loopback port, no persistence. It can be
 * stopped and started again on the same port (a Redis restart as clients see it).
 */
import { type ChildProcess, spawn } from 'child_process';
import { freePort } from '../free-port';

export const REDIS_SERVER = process.env.REDIS_SERVER || '/usr/bin/redis-server';

export interface RedisTls {
  /** PEM files: the server certificate and its key */
  certFile: string;
  keyFile: string;
}

export class RedisServer {
  private child?: ChildProcess;
  private output = '';

  private constructor(
    readonly port: number,
    private readonly tls?: RedisTls,
    private readonly extra: string[] = [],
  ) {}

  /**
   * With `tls`, the port speaks TLS only (rediss://). `extra`: more redis-server options, e.g. an ACL
   * user: `['--user', 'alice', 'on', '>secret', '~*', '&*', '+@all']`.
   */
  static async start(tls?: RedisTls, extra: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), tls, extra);
    await server.restart();
    return server;
  }

  get url(): string {
    return `${this.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Start (again) on the same port; resolves when it accepts connections. */
  async restart(): Promise<void> {
    if (this.running) return;
    this.output = '';
    const ports = this.tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', this.tls.certFile]
      : ['--port', String(this.port)];
    const tlsKey = this.tls ? ['--tls-key-file', this.tls.keyFile, '--tls-auth-clients', 'no'] : [];
    const child = spawn(
      REDIS_SERVER,
      [...ports, ...tlsKey, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.extra],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    const started = Date.now();
    while (!/Ready to accept connections/.test(this.output)) {
      if (!this.running) throw new Error(`redis-server exited:\n${this.output}`);
      if (Date.now() - started > 15_000) throw new Error(`redis-server did not start:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stop it (SIGKILL: nothing is saved, every client sees the connection drop). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}
