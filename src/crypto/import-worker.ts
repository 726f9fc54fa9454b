/**
 * The body of an import worker thread (import-pool.ts starts it): reads one keystore file per
 * message with the limits the pool was given, and answers with plain data (the key as PKCS#8 DER),
 * or the refusal's code, message and details. Nothing else runs here, so a file that costs its
 * whole budget costs this thread, never the server's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isCertfleetError } from '../domain/errors.js';
import type { ImportLimits } from './import-limits.js';
import type { ImportTask, ImportTaskAnswer } from './import-pool.js';
import { readKeystore } from './keystore-reader.js';

const limits = (workerData as { limits: ImportLimits }).limits; // the pool always passes its limits

async function run(task: ImportTask): Promise<ImportTaskAnswer> {
  try {
    const read = await readKeystore({
      file: Buffer.from(task.file.buffer, task.file.byteOffset, task.file.byteLength),
      password: task.password,
      ...(task.keyPassword !== undefined ? { keyPassword: task.keyPassword } : {}),
      ...(task.entry !== undefined ? { entry: task.entry } : {}),
      limits,
    });
    return {
      ok: true,
      format: read.format,
      entryName: read.entryName,
      entryNames: read.entryNames,
      certificates: read.certificates,
      pkcs8: read.privateKey.export({ type: 'pkcs8', format: 'der' }),
      integrityCheck: read.integrityCheck,
    };
  } catch (e) {
    if (isCertfleetError(e)) return { ok: false, code: e.code, message: e.message, details: { ...e.details } };
    return { ok: false, code: null, message: e instanceof Error ? `${e.name}: ${e.message}` : String(e), details: {} };
  }
}

parentPort?.on('message', (task: ImportTask) => {
  void run(task).then((answer) => parentPort?.postMessage(answer));
});
