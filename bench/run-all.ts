/**
 * `npm run bench`: runs every bench/*.bench.ts (compiled, in dist/bench/) in turn, each as its own
 * child process so that one benchmark's memory, threads and event loop never colour the next, and
 * prints which ones failed. Only the names given run when some are given:
 *
 *   npm run bench                              # all, in name order
 *   node dist/bench/run-all.js device-channel  # those whose name contains an argument
 *
 * Each file is bounded by BENCH_FILE_TIMEOUT_SECONDS (default 1200).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineLine } from './support/common.js';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const TIMEOUT_MS = (Number(process.env['BENCH_FILE_TIMEOUT_SECONDS'] ?? 1200) || 1200) * 1000;

function runOne(file: string): Promise<{ code: number | null; seconds: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DIR + file], { stdio: 'inherit' });
    const timer = setTimeout(() => {
      console.error(`${file}: no result within ${TIMEOUT_MS / 1000} s; stopping it`);
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 5000).unref();
    }, TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, seconds: (Date.now() - started) / 1000 });
    });
  });
}

async function main(): Promise<number> {
  const wanted = process.argv.slice(2);
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.bench.js'))
    .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
    .sort();
  console.log(`certfleet benchmarks: ${files.join(', ')}\nmachine: ${machineLine()}\n`);
  const failed: string[] = [];
  for (const file of files) {
    console.log(`\n=== ${file} ===`);
    const { code, seconds } = await runOne(file);
    console.log(`=== ${file}: exit ${code ?? 'killed'} after ${seconds.toFixed(0)} s ===`);
    if (code !== 0) failed.push(file);
  }
  console.log(`\n${files.length - failed.length}/${files.length} benchmarks ran${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
