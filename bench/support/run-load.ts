/** Runs one load task (support/tls-load.ts) in a worker thread and returns its result. */
import { Worker } from 'node:worker_threads';
import type { LoadResult, LoadTask } from './tls-load.js';

export function runLoad(task: LoadTask): Promise<LoadResult> {
  const worker = new Worker(new URL('./tls-load.js', import.meta.url), { workerData: task });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error('load worker did not finish in time'));
    }, (task.warmupMs + task.durationMs) * 3 + 30_000);
    worker.once('message', (m: LoadResult | { error: string }) => {
      clearTimeout(timer);
      void worker.terminate();
      if ('error' in m) reject(new Error(m.error));
      else resolve(m);
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export const perSecond = (r: LoadResult): number => r.completed / r.seconds;
