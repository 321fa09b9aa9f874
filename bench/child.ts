/** Fork a measured child process and talk to it over IPC. */
import { ChildProcess, fork } from 'child_process';

export interface ChildMessage {
  type: string;
  [key: string]: unknown;
}

export class Child {
  readonly proc: ChildProcess;
  private waiters: { type: string; resolve: (m: ChildMessage) => void; reject: (e: Error) => void }[] = [];
  private exited = false;
  onMessage?: (message: ChildMessage) => void;

  constructor(script: string, env: Record<string, string>, execArgv: string[] = []) {
    // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of every measured process (open it in Chrome DevTools)
    const prof = process.env.BENCH_CPU_PROF
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
      : [];
    this.proc = fork(script, [], {
      execArgv: ['--expose-gc', '--require', require.resolve('tsx/cjs'), ...prof, ...execArgv],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (message: ChildMessage) => {
      if (message.type === 'error') {
        for (const w of this.waiters.splice(0)) w.reject(new Error(String(message.message)));
        return;
      }
      this.onMessage?.(message);
      const i = this.waiters.findIndex((w) => w.type === message.type);
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(message);
    });
    this.proc.on('exit', (code) => {
      this.exited = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`child exited (${code})`));
    });
  }

  next(type: string, timeoutMs = 60_000): Promise<ChildMessage> {
    return new Promise((resolve, reject) => {
      if (this.exited) return reject(new Error('child exited'));
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out waiting for '${type}' from the child`));
      }, timeoutMs);
      const done = (m: ChildMessage) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push({
        type,
        resolve: done,
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  request(message: ChildMessage, timeoutMs = 60_000): Promise<ChildMessage> {
    const reply = this.next(message.type, timeoutMs);
    this.proc.send(message);
    return reply;
  }

  send(message: ChildMessage): void {
    if (!this.exited) this.proc.send(message);
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.send({ type: 'exit' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
}
