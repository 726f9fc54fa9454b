/**
 * Imports off the event loop (issue 10): a small pool of worker threads (import-worker.ts) reads
 * keystore files, one file per worker at a time. Each read has a deadline and can be cancelled
 * (the HTTP client went away); either ends its worker at once (`terminate`), whatever the file was
 * doing, and a fresh worker takes its place on the next read. Reads beyond the pool wait in a
 * short queue; beyond that, `import_busy`.
 *
 *   read ──▶ idle worker? ──yes──▶ run ──answer──▶ resolve, worker idle again
 *              │no                  │deadline / abort
 *              ▼                    ▼
 *        queue (≤ maxQueue)    terminate worker, reject (import_timed_out / import_cancelled)
 *              │full
 *              ▼
 *        reject (import_busy)
 */
import { createPrivateKey } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { CertfleetError, ErrorCode, RETRY_AFTER_DETAIL, type ErrorDetails } from '../domain/errors.js';
import type { Scheduler, Timer } from '../domain/time.js';
import { DEFAULT_IMPORT_LIMITS, type ImportLimits } from './import-limits.js';
import { SPARE_CORES } from './bounded-work.js';
import type { IntegrityCheck, KeystoreFormat } from './keystore-contents.js';
import type { KeystoreEntryRead, ReadKeystoreRequest } from './keystore-reader.js';

export interface ImportPoolOptions {
  /** Worker threads at most (each reads one file at a time). */
  readonly size: number;
  /** How long one read may run in its worker before the worker is ended. */
  readonly deadlineMs: number;
  /** Reads waiting for a worker at most; more are refused with `import_busy`. */
  readonly maxQueue: number;
  readonly limits: ImportLimits;
}

export const DEFAULT_IMPORT_POOL_OPTIONS: ImportPoolOptions = {
  // One core is left to the event loop and the device handshakes: a worker busy with a costly file
  // on every core would starve them (2 workers on 2 cores: /healthz waited 300 ms and more).
  size: SPARE_CORES,
  deadlineMs: 15_000,
  maxQueue: 8,
  limits: DEFAULT_IMPORT_LIMITS,
};

/** What the pool sends a worker. */
export interface ImportTask {
  readonly file: Uint8Array;
  readonly password: string;
  readonly keyPassword?: string;
  readonly entry?: string;
}

/** What a worker answers: the entry as plain data, or the refusal (code null: an unexpected failure). */
export type ImportTaskAnswer =
  | {
      readonly ok: true;
      readonly format: KeystoreFormat;
      readonly entryName: string | null;
      readonly entryNames: string[];
      readonly certificates: Uint8Array[];
      readonly pkcs8: Uint8Array;
      readonly integrityCheck: IntegrityCheck;
    }
  | { readonly ok: false; readonly code: ErrorCode | null; readonly message: string; readonly details: ErrorDetails };

interface Job {
  readonly task: ImportTask;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (read: KeystoreEntryRead) => void;
  readonly reject: (e: Error) => void;
  readonly onAbort: () => void;
}

interface Slot {
  readonly worker: Worker;
  job: Job | null;
  timer: Timer | null;
}

export function importTimedOut(deadlineMs: number): CertfleetError {
  return new CertfleetError(
    ErrorCode.import_timed_out,
    `Reading the file took longer than ${deadlineMs / 1000} s and was stopped. A keystore made by openssl, keytool or ` +
      'Windows is read in well under a second: export it again with the usual settings.',
    { deadlineMs },
  );
}

export function importBusy(queued: number): CertfleetError {
  return new CertfleetError(ErrorCode.import_busy, 'The server is reading other keystore files at the moment. Try again in a few seconds.', {
    queued,
    [RETRY_AFTER_DETAIL]: 5,
  });
}

export function importCancelled(): CertfleetError {
  return new CertfleetError(ErrorCode.import_cancelled, 'The import was cancelled: the client went away before it finished. Nothing was written.');
}

function fromAnswer(answer: ImportTaskAnswer): KeystoreEntryRead | Error {
  if (!answer.ok) {
    // an unexpected failure in the worker stays unexpected (a 500 with the cause in the log)
    return answer.code === null ? new Error(`import worker: ${answer.message}`) : new CertfleetError(answer.code, answer.message, answer.details);
  }
  return {
    format: answer.format,
    entryName: answer.entryName,
    entryNames: answer.entryNames,
    certificates: answer.certificates.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)),
    privateKey: createPrivateKey({ key: Buffer.from(answer.pkcs8.buffer, answer.pkcs8.byteOffset, answer.pkcs8.byteLength), format: 'der', type: 'pkcs8' }),
    integrityCheck: answer.integrityCheck,
  };
}

export class ImportPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private closed = false;

  /** `scheduler` times each read's deadline. */
  constructor(
    private readonly scheduler: Scheduler,
    readonly options: ImportPoolOptions = DEFAULT_IMPORT_POOL_OPTIONS,
  ) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new Error(`import pool size ${options.size}: give at least 1`);
  }

  /** Reads the keystore in a worker; rejects with the reader's refusal, or the pool's own. */
  read(req: Omit<ReadKeystoreRequest, 'limits'>, signal?: AbortSignal): Promise<KeystoreEntryRead> {
    if (signal?.aborted) return Promise.reject(importCancelled());
    if (this.closed) return Promise.reject(new Error('the import pool is closed'));
    return new Promise<KeystoreEntryRead>((resolve, reject) => {
      const task: ImportTask = {
        file: new Uint8Array(req.file),
        password: req.password,
        ...(req.keyPassword !== undefined ? { keyPassword: req.keyPassword } : {}),
        ...(req.entry !== undefined ? { entry: req.entry } : {}),
      };
      const job: Job = { task, signal, resolve, reject, onAbort: () => this.cancel(job) };
      signal?.addEventListener('abort', job.onAbort, { once: true });
      const slot = this.idleSlot();
      if (slot) this.start(slot, job);
      else if (this.queue.length < this.options.maxQueue) this.queue.push(job);
      else this.settle(job, importBusy(this.queue.length));
    });
  }

  /** Ends every worker; reads still running or waiting are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settle(job, new Error('the import pool was closed'));
    await Promise.all([...this.slots].map((slot) => this.retire(slot, new Error('the import pool was closed'))));
  }

  /** Workers alive now (busy or idle); for tests and diagnostics. */
  get workerCount(): number {
    return this.slots.size;
  }

  private idleSlot(): Slot | null {
    for (const slot of this.slots) if (slot.job === null) return slot;
    if (this.slots.size >= this.options.size) return null;
    const worker = new Worker(new URL('./import-worker.js', import.meta.url), {
      workerData: { limits: this.options.limits },
      // a file cannot make a worker grow without bound either (a 1 MiB file needs a few MiB)
      resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 32 },
    });
    const slot: Slot = { worker, job: null, timer: null };
    worker.on('message', (answer: ImportTaskAnswer) => this.finish(slot, fromAnswer(answer)));
    worker.on('error', (e) => void this.retire(slot, e));
    worker.on('exit', () => void this.retire(slot, new Error('import worker exited')));
    worker.unref(); // an idle worker keeps no process alive; a busy one is ref'd (start)
    this.slots.add(slot);
    return slot;
  }

  private start(slot: Slot, job: Job): void {
    slot.job = job;
    slot.worker.ref();
    slot.timer = this.scheduler.schedule(this.options.deadlineMs, () => void this.retire(slot, importTimedOut(this.options.deadlineMs)));
    slot.worker.postMessage(job.task);
  }

  private finish(slot: Slot, outcome: KeystoreEntryRead | Error): void {
    const job = slot.job;
    slot.timer?.cancel();
    slot.timer = null;
    slot.job = null;
    slot.worker.unref();
    if (job) this.settle(job, outcome);
    this.next();
  }

  /** Ends the worker (whatever it is doing) and refuses its read with `reason`. */
  private async retire(slot: Slot, reason: Error): Promise<void> {
    if (!this.slots.delete(slot)) return;
    const job = slot.job;
    slot.timer?.cancel();
    slot.job = null;
    if (job) this.settle(job, reason);
    this.next();
    await slot.worker.terminate();
  }

  private cancel(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, importCancelled());
      return;
    }
    for (const slot of this.slots) if (slot.job === job) void this.retire(slot, importCancelled());
  }

  private next(): void {
    if (this.closed) return;
    while (this.queue.length > 0) {
      const slot = this.idleSlot();
      if (!slot) return;
      this.start(slot, this.queue.shift() as Job); // length checked above
    }
  }

  private settle(job: Job, outcome: KeystoreEntryRead | Error): void {
    job.signal?.removeEventListener('abort', job.onAbort);
    if (outcome instanceof Error) job.reject(outcome);
    else job.resolve(outcome);
  }
}
