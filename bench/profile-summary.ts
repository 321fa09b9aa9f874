/**
 * Summarise a V8 .cpuprofile (from BENCH_CPU_PROF=<dir> npm run bench): self time by function and by
 * file, heaviest first. Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import fs from 'fs';
import path from 'path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function summarise(file: string, top = 25): string {
  const profile: Profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  const shortUrl = (url: string) => {
    if (!url) return '(native)';
    const m = /node_modules\/(.+)$/.exec(url);
    if (m) return m[1];
    return path.relative(process.cwd(), url.replace(/^file:\/\//, ''));
  };
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const f = node.callFrame;
    const where = shortUrl(f.url);
    const key = `${f.functionName || '(anonymous)'}  ${where}:${f.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    files.set(where, (files.get(where) ?? 0) + us);
  }
  const pct = (us: number) => ((100 * us) / total).toFixed(1).padStart(5) + '%';
  const lines = [`total sampled ${(total / 1000).toFixed(0)} ms`, '', 'self time by function:'];
  for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(us)}  ${k}`);
  lines.push('', 'self time by file:');
  for (const [k, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(us)}  ${k}`);
  return lines.join('\n');
}

if (require.main === module) {
  console.log(summarise(process.argv[2], Number(process.argv[3] ?? 25)));
}
