/**
 * K5 benchmark: RSA-4096 key generation with certfleet's key source (Node's asynchronous
 * crypto.generateKeyPair, in the libuv thread pool) against `openssl genpkey` in the same run, and
 * the event loop's delay while nine generations run at once (goal: p99 under 20 ms, i.e. the server
 * keeps answering devices while it makes keys). A blocking generation is measured for contrast.
 *
 *   npm run build && node dist/bench/keygen.bench.js [runs]
 *
 * RSA key generation time varies a lot from key to key (it searches for primes), hence medians of
 * at least nine, interleaved so that both sides see the same machine load.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { nodeKeyPairSource } from '../src/crypto/key-generation.js';

const RUNS = Math.max(9, Number(process.argv[2] ?? 9) || 9);
const BITS = 4096;
const GOAL_P99_MS = 20;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function openssl(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${BITS}`, '-out', '/dev/null'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`openssl genpkey exited with ${code}`))));
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Event-loop delay (ms) while `work` runs, sampled at 1 ms resolution. */
async function loopDelayDuring(work: () => Promise<unknown>): Promise<{ p99: number; max: number; mean: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await work();
  h.disable();
  return { p99: h.percentile(99) / 1e6, max: h.max / 1e6, mean: h.mean / 1e6 };
}

const fmtS = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const fmtMs = (ms: number): string => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  console.log(`RSA-${BITS} key generation, ${RUNS} runs each, interleaved (node ${process.version}, UV_THREADPOOL_SIZE=${process.env['UV_THREADPOOL_SIZE'] ?? '4 (default)'})`);
  const nodeTimes: number[] = [];
  const opensslTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    nodeTimes.push(await timed(() => nodeKeyPairSource.generate({ kind: 'RSA', bits: BITS })));
    opensslTimes.push(await timed(openssl));
    process.stdout.write('.');
  }
  process.stdout.write('\n');

  const concurrent = await loopDelayDuring(() =>
    Promise.all(Array.from({ length: RUNS }, () => nodeKeyPairSource.generate({ kind: 'RSA', bits: BITS }))),
  );
  const blocking = await loopDelayDuring(async () => {
    // what the event loop would suffer if the key were made synchronously (for contrast only)
    await new Promise((r) => setTimeout(r, 5));
    generateKeyPairSync('rsa', { modulusLength: BITS, publicExponent: 0x10001 });
    await new Promise((r) => setTimeout(r, 5));
  });

  const nodeMedian = median(nodeTimes);
  const opensslMedian = median(opensslTimes);
  const rows: [string, string, string, string][] = [
    ['measure', 'certfleet (Node generateKeyPair)', 'openssl genpkey', 'ratio'],
    [`RSA-${BITS} generation, median of ${RUNS}`, fmtS(nodeMedian), fmtS(opensslMedian), `${(nodeMedian / opensslMedian).toFixed(2)}×`],
    [`RSA-${BITS} generation, min – max`, `${fmtS(Math.min(...nodeTimes))} – ${fmtS(Math.max(...nodeTimes))}`, `${fmtS(Math.min(...opensslTimes))} – ${fmtS(Math.max(...opensslTimes))}`, ''],
    [
      `event-loop delay p99 / max, ${RUNS} generations at once (goal p99 < ${GOAL_P99_MS} ms)`,
      `${fmtMs(concurrent.p99)} / ${fmtMs(concurrent.max)}`,
      '',
      concurrent.p99 < GOAL_P99_MS ? 'goal met' : 'GOAL MISSED',
    ],
    ['event-loop delay max, one blocking generateKeyPairSync (contrast)', fmtMs(blocking.max), '', ''],
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  console.log('');
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  '));
  console.log('\nFor the README:\n');
  console.log(`| ${rows[0].join(' | ')} |`);
  console.log(`| ${rows[0].map(() => '---').join(' | ')} |`);
  for (const r of rows.slice(1)) console.log(`| ${r.join(' | ')} |`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
