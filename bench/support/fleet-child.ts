/**
 * The simulator side of fleet.bench.ts, as its own process (so that its memory is its own):
 * `runSimulation` against the given server, printing one JSON line per second with the live counts,
 * and on SIGUSR2 (and in the summary at the end) the process's memory after a GC (run with
 * --expose-gc). Ends after `durationMs`, or when the parent kills it (SIGTERM).
 *
 *   node --expose-gc dist/bench/support/fleet-child.js PORT TOKEN DEVICES INTERVAL_MS DURATION_MS CONCURRENCY
 */
import { runSimulation } from '../../src/agent/simulator.js';
import { DEFAULT_MIX } from '../../src/agent/profiles.js';
import { parseMix } from '../../src/agent/simulator.js';

const [port, token, devices, intervalMs, durationMs, concurrency] = process.argv.slice(2);
const mix = parseMix(DEFAULT_MIX);
if ('error' in mix) throw new Error(String(mix.error));

/** The process's memory after a full GC: only when the parent asks (SIGUSR2), as a GC of the whole fleet's heap takes CPU the run needs. */
const memory = () => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
};

// Killed by the parent: exit normally, so that --cpu-prof and the like are written.
process.once('SIGTERM', () => process.exit(0));
process.on('SIGUSR2', () => console.log(JSON.stringify({ type: 'memory', memory: memory() })));

const summary = await runSimulation({
  servers: [{ host: '127.0.0.1', port: Number(port) }],
  token: token as string,
  devices: Number(devices),
  mix: mix as Record<string, number>,
  intervalMs: Number(intervalMs),
  durationMs: Math.min(Number(durationMs), 15 * 60_000),
  concurrency: Number(concurrency) || 16,
  timeoutMs: 15_000,
  onProgress: (p) => console.log(JSON.stringify({ type: 'progress', ...p })),
});
console.log(JSON.stringify({ type: 'summary', ...summary, memory: memory() }));
process.exit(0);
