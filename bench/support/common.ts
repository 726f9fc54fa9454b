/** Shared bits of the benchmarks: medians, the machine line, and the table every bench prints. */
import { cpus, loadavg } from 'node:os';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The value below which `p` % of `xs` fall (nearest rank). */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? NaN;
}

/** The 1-minute load average, for the line next to each result. */
export function load(): string {
  return loadavg()[0]?.toFixed(2) ?? '?';
}

export function machineLine(): string {
  const la = loadavg().map((x) => x.toFixed(2)).join(' ');
  return `${cpus().length} CPU (${cpus()[0]?.model.trim() ?? '?'}), node ${process.version}, load average ${la}`;
}

export type Row = readonly [benchmark: string, certfleet: string, baseline: string, ratio: string, goal: string, load: string];

export const HEADER: Row = ['benchmark', 'certfleet', 'baseline (same run)', 'ratio', 'goal', 'load (1 min)'];

/** Prints the rows aligned, then as a markdown table for the README. */
export function printTable(title: string, rows: readonly Row[]): void {
  const all = [HEADER, ...rows];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => r[i]?.length ?? 0)));
  console.log(`\n${title}\n`);
  for (const r of all) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  '));
  console.log('\nFor the README:\n');
  console.log(`| ${HEADER.join(' | ')} |`);
  console.log(`| ${HEADER.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log('');
}

/** `met` → "goal met"/"GOAL MISSED" appended to the goal text. */
export function goal(text: string, met: boolean): string {
  return `${text} — ${met ? 'met' : 'MISSED'}`;
}

export const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');

/** BENCH_HANDSHAKE_THREADS: the device channel's handshake threads (0: all on the event loop); the channel's default when unset. */
export const HANDSHAKE_THREADS: { readonly handshakeThreads?: number } =
  process.env['BENCH_HANDSHAKE_THREADS'] === undefined ? {} : { handshakeThreads: Number(process.env['BENCH_HANDSHAKE_THREADS']) };
