/**
 * The client side of device-channel.bench.ts, in a worker thread so that the server's event loop
 * (in the main thread) has the process's main thread to itself: N requests in flight, each on its
 * own TLS connection (full handshake, or resumed from the slot's previous session), for a fixed
 * time after a warm-up. Bounded by time and by MAX_OPERATIONS.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DeviceConnection } from '../../src/agent/tls-client.js';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../src/domain/algorithms.js';
import { percentile } from './common.js';

export interface LoadTask {
  readonly port: number;
  readonly mode: 'check-in' | 'register';
  /** Reuse each slot's last session ticket. */
  readonly resume: boolean;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** check-in: the server name (pin) and one credential per slot. */
  readonly servername: string;
  readonly credentials: readonly string[];
  /** register: the enrollment token and the device's identity. */
  readonly token?: string;
  readonly identity?: { readonly osFamily: string; readonly osVersion: string; readonly profile: string };
  readonly unitPrefix?: number;
}

export interface LoadResult {
  readonly completed: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly seconds: number;
  readonly resumed: number;
  readonly latencyMsP50: number;
  readonly latencyMsP99: number;
}

const MAX_OPERATIONS = 1_000_000;

async function run(t: LoadTask): Promise<LoadResult> {
  const server = { host: '127.0.0.1', port: t.port };
  const start = Date.now();
  const measureFrom = start + t.warmupMs;
  const end = measureFrom + t.durationMs;
  let completed = 0;
  let errors = 0;
  let resumed = 0;
  let operations = 0;
  let firstError: string | null = null;
  let unit = 0;
  const latencies: number[] = [];
  const slot = async (i: number): Promise<void> => {
    let session: Buffer | undefined;
    while (Date.now() < end && operations++ < MAX_OPERATIONS) {
      const began = performance.now();
      const inWindow = Date.now() >= measureFrom;
      try {
        const conn = await DeviceConnection.open({
          server,
          servername: t.servername,
          check: { pinSha256Hex: null, acceptedAlgorithms: ALLOWED_SIGNATURE_ALGORITHMS },
          session: t.resume ? session : undefined,
          timeoutMs: 15_000,
        });
        try {
          if (t.mode === 'check-in') {
            await conn.request('POST', '/device/v1/check-in', {}, t.credentials[i % t.credentials.length]);
          } else {
            const n = ++unit;
            const mac = `02:${(t.unitPrefix ?? 0).toString(16).padStart(2, '0')}:${[(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':')}:${i.toString(16).padStart(2, '0')}`;
            await conn.request('POST', '/device/v1/register', { enrollmentToken: t.token, unitId: mac.toUpperCase(), name: `bench-${n}-${i}`, ...t.identity });
          }
          if (t.resume && conn.session) session = conn.session;
        } finally {
          conn.close();
        }
        if (inWindow && Date.now() <= end) {
          completed++;
          if (conn.resumed) resumed++;
          latencies.push(performance.now() - began);
        }
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        session = undefined;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: t.concurrency }, (_, i) => slot(i)));
  latencies.sort((a, b) => a - b);
  return { completed, errors, firstError, seconds: t.durationMs / 1000, resumed, latencyMsP50: percentile(latencies, 50), latencyMsP99: percentile(latencies, 99) };
}

if (parentPort && workerData) {
  const port = parentPort;
  run(workerData as LoadTask).then(
    (r) => port.postMessage(r),
    (e: unknown) => port.postMessage({ error: e instanceof Error ? e.stack : String(e) }),
  );
}
