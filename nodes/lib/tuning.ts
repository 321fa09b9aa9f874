import type { ReconnectOptions } from './connection';

/**
 * Timing overrides by protocol ('privmx', 'sms-gateway', 'esms', 'cpaas', 'sink'). Empty in
 * production; tests and benchmarks shorten heartbeats, backoffs and lifetimes here instead of
 * waiting real minutes. Protocol modules read it when a connection or pipeline is created.
 */
export type Tuning = Partial<ReconnectOptions> & Record<string, unknown>;

export const tuning: Record<string, Tuning> = {};

/** defaults for `protocol`, with any test overrides applied */
export function tuned<T extends object>(protocol: string, defaults: T): T {
  return { ...defaults, ...(tuning[protocol] as Partial<T> | undefined) };
}

/** forget every override (call in afterEach) */
export function resetTuning(): void {
  for (const key of Object.keys(tuning)) delete tuning[key];
}
