/**
 * The backup file (SPEC B1): JSON lines (domain/backup.ts), gzip, then age (age-encryption.org/v1)
 * under a passphrase. Any age implementation opens it — `age -d backup.cfbak | gunzip` shows the
 * lines — and the age format authenticates every 64 KiB chunk and the end of the stream, so a
 * truncated or altered file is refused; the last line's SHA-256 over the plaintext is a second,
 * format-level check that the whole backup was read.
 *
 * The age library (age-encryption) does the format and the payload encryption. The passphrase
 * stanza is made here with Node's own scrypt and ChaCha20-Poly1305, exactly as the age spec
 * defines it, because the library's scrypt is synchronous JavaScript: ~2 s of a blocked event loop
 * per backup, and whatever work factor an uploaded file names. Node's runs on the thread pool,
 * and a file may ask for no more than MAX_SCRYPT_LOG_N.
 *
 * Both directions stream with bounded memory: rows are written as they come, with backpressure,
 * and read back in batches.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt as scryptCallback, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, constants as zlib, type Gzip } from 'node:zlib';
import { Decrypter, Encrypter, Stanza, type Identity, type Recipient } from 'age-encryption';
import {
  backupCorrupt,
  backupTablesOf,
  parseBackupHeader,
  type BackupHeader,
  type BackupTable,
} from '../domain/backup.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';

/**
 * 2^17 (r = 8: 128 MiB, about a quarter of a second on the thread pool): OWASP's recommended
 * minimum for scrypt. age's own default is 2^18, whose 256 MiB alone would take a server making a
 * backup of a million devices past 300 MB (bench/backup.bench.ts measured 344 MB for the key
 * derivation with a store open); files made with 2^18 (`age -p`) are read all the same.
 */
export const DEFAULT_SCRYPT_LOG_N = 17;
/** The most a file may ask for when it is read: 2^18 × 8 × 128 B = 256 MiB of scrypt memory. */
export const MAX_SCRYPT_LOG_N = 18;
export const MIN_PASSPHRASE_LENGTH = 12;
const MAX_PASSPHRASE_LENGTH = 1024;
/** The longest line a reader accepts (a row); longer is a damaged or foreign file. */
const MAX_LINE_BYTES = 8 * 1024 * 1024;
const ROWS_PER_BATCH = 500;
const AGE_MAGIC = 'age-encryption.org/v1\n';
const SCRYPT_LABEL = 'age-encryption.org/v1/scrypt';

export function checkPassphrase(passphrase: string): string {
  const p = passphrase.replace(/\r?\n$/, '');
  if (p.length < MIN_PASSPHRASE_LENGTH || p.length > MAX_PASSPHRASE_LENGTH) {
    throw new CertfleetError(
      ErrorCode.backup_passphrase_invalid,
      `A backup passphrase has ${MIN_PASSPHRASE_LENGTH} to ${MAX_PASSPHRASE_LENGTH} characters; this one has ${p.length}.`,
      { min: MIN_PASSPHRASE_LENGTH },
    );
  }
  return p;
}

function scrypt(passphrase: string, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) =>
    scryptCallback(passphrase, Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]), 32, { N, r: 8, p: 1, maxmem: 129 * N * 8 + 1024 * 1024 }, (e, key) =>
      e ? reject(e) : resolve(key),
    ),
  );
}

const ZERO_NONCE = Buffer.alloc(12);
const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

/** The age scrypt recipient (spec: "The scrypt recipient type"), with Node's scrypt. */
class PassphraseRecipient implements Recipient {
  constructor(
    private readonly passphrase: string,
    private readonly logN: number,
  ) {}

  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    const salt = randomBytes(16);
    const key = await scrypt(this.passphrase, salt, this.logN);
    const cipher = createCipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: 16 });
    const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
    return [new Stanza(['scrypt', b64(salt), String(this.logN)], body)];
  }
}

/**
 * The passphrase that opens backups. It remembers the file key it unwrapped, per stanza, so a
 * restore that reads one file twice (check, then apply) derives the scrypt key once: the second
 * pass then costs neither the time nor the memory (128 MiB at 2^17) of a second derivation.
 * Made per operation and dropped with it.
 */
export class BackupPassphrase implements Identity {
  private readonly fileKeys = new Map<string, Uint8Array>();

  constructor(private readonly passphrase: string) {}

  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    const s = stanzas.find((x) => x.args[0] === 'scrypt');
    if (!s) return null;
    const [, saltText = '', logText = ''] = s.args;
    const salt = Buffer.from(saltText, 'base64');
    if (stanzas.length !== 1 || s.args.length !== 3 || salt.length !== 16 || !/^[1-9][0-9]?$/.test(logText) || s.body.length !== 32) {
      throw backupCorrupt('its age header is malformed');
    }
    const logN = Number(logText);
    if (logN > MAX_SCRYPT_LOG_N) throw backupCorrupt(`its passphrase work factor (2^${logN}) is above the 2^${MAX_SCRYPT_LOG_N} this server accepts`);
    const body = Buffer.from(s.body);
    const remembered = this.fileKeys.get(`${saltText} ${logText} ${body.toString('base64')}`);
    if (remembered) return remembered;
    const key = await scrypt(this.passphrase, salt, logN);
    try {
      const decipher = createDecipheriv('chacha20-poly1305', key, ZERO_NONCE, { authTagLength: 16 });
      decipher.setAuthTag(body.subarray(16));
      const fileKey = Buffer.concat([decipher.update(body.subarray(0, 16)), decipher.final()]);
      this.fileKeys.set(`${saltText} ${logText} ${body.toString('base64')}`, fileKey);
      return fileKey;
    } catch {
      return null; // another passphrase
    }
  }
}

export interface BackupWriteOptions {
  readonly passphrase: string;
  readonly scryptLogN?: number;
}

/**
 * Writes one backup to `out`: `header`, then for each table `section` and its `rows`, then
 * `finish`. Each call waits while `out` is behind (backpressure), so memory stays bounded.
 */
export class BackupFileWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly gzip: Gzip;
  private readonly done: Promise<void>;
  private failure: unknown = null;
  private pending: string[] = [];
  private pendingBytes = 0;
  private rowCount = 0;
  private bytes = 0;

  private constructor(out: Writable, encrypted: Promise<ReadableStream<Uint8Array>>, gzip: Gzip) {
    this.gzip = gzip;
    // Heard from the start: `out` may fail (a file that cannot be opened) before the key derivation
    // has finished and the pipeline below is attached.
    out.on('error', (e) => {
      this.failure ??= e;
      gzip.destroy(e);
    });
    this.done = encrypted.then((stream) =>
      pipeline(Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>), countBytes((n) => (this.bytes += n)), out),
    );
    this.done.catch((e: unknown) => {
      this.failure = e;
      gzip.destroy();
    });
  }

  static open(out: Writable, opts: BackupWriteOptions): BackupFileWriter {
    const gzip = createGzip({ level: zlib.Z_BEST_SPEED });
    const e = new Encrypter();
    e.addRecipient(new PassphraseRecipient(checkPassphrase(opts.passphrase), opts.scryptLogN ?? DEFAULT_SCRYPT_LOG_N));
    // Node's web ReadableStream and the DOM one age-encryption types against are the same object.
    const plain = Readable.toWeb(gzip) as unknown as ReadableStream<Uint8Array>;
    return new BackupFileWriter(out, e.encrypt(plain), gzip);
  }

  /** Bytes written to `out` so far. */
  get bytesWritten(): number {
    return this.bytes;
  }

  get rowsWritten(): number {
    return this.rowCount;
  }

  private async line(text: string): Promise<void> {
    this.pending.push(text, '\n');
    this.pendingBytes += text.length + 1;
    if (this.pendingBytes >= 256 * 1024) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingBytes = 0;
    this.hash.update(chunk);
    if (!this.gzip.write(chunk)) await Promise.race([once(this.gzip, 'drain'), this.done]);
    if (this.failure !== null) throw this.failure;
  }

  header(h: BackupHeader): Promise<void> {
    return this.line(JSON.stringify(h));
  }

  section(table: BackupTable, columns: readonly string[]): Promise<void> {
    return this.line(JSON.stringify({ table, columns }));
  }

  async rows(rows: readonly (readonly unknown[])[]): Promise<void> {
    for (const r of rows) {
      this.rowCount++;
      await this.line(JSON.stringify(r));
    }
  }

  /** Writes the end line and waits until every byte is in `out`. */
  async finish(): Promise<{ bytes: number; rows: number; sha256: string }> {
    await this.flush();
    const sha256 = this.hash.digest('hex');
    const end = Buffer.from(`${JSON.stringify({ end: true, rows: this.rowCount, sha256 })}\n`);
    this.gzip.end(end);
    await this.done;
    return { bytes: this.bytes, rows: this.rowCount, sha256 };
  }

  /** Stops: `out` is destroyed, nothing more is written. */
  abort(reason: Error): void {
    this.gzip.destroy(reason);
  }
}

function countBytes(onBytes: (n: number) => void): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (source) {
    for await (const chunk of source) {
      onBytes(chunk.length);
      yield chunk;
    }
  };
}

export type BackupItem =
  | { readonly kind: 'header'; readonly header: BackupHeader }
  | { readonly kind: 'section'; readonly table: BackupTable; readonly columns: readonly string[] }
  | { readonly kind: 'rows'; readonly table: BackupTable; readonly rows: readonly unknown[][] };

/** What the end of a backup proved. */
export interface BackupEnd {
  readonly rows: number;
  readonly sha256: string;
}

/** Reads the first bytes: an age file, or another product's file. */
async function checkMagic(input: AsyncIterator<Buffer>): Promise<Buffer> {
  let head = Buffer.alloc(0);
  while (head.length < AGE_MAGIC.length) {
    const next = await input.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  if (head.subarray(0, AGE_MAGIC.length).toString('latin1') !== AGE_MAGIC) {
    throw new CertfleetError(ErrorCode.backup_not_a_backup, 'The file is not a certfleet backup (it is not an age-encrypted file). Nothing was changed.');
  }
  return head;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Reads a backup: the checked header first, then sections and row batches in file order. The
 * last step checks the end line (row count, SHA-256); a reader that stops early must not trust
 * what it read. Errors are CertfleetErrors with a backup_* code.
 */
export async function* readBackupFile(
  input: AsyncIterable<Buffer>,
  passphrase: string | BackupPassphrase,
  knownMigrations: readonly string[],
): AsyncGenerator<BackupItem, BackupEnd> {
  const source = input[Symbol.asyncIterator]();
  const head = await checkMagic(source);
  const rest = (async function* () {
    yield head;
    for (let n = await source.next(); !n.done; n = await source.next()) yield n.value;
  })();
  const d = new Decrypter();
  d.addIdentity(typeof passphrase === 'string' ? new BackupPassphrase(passphrase) : passphrase);
  let plain: ReadableStream<Uint8Array>;
  try {
    plain = await d.decrypt(Readable.toWeb(Readable.from(rest)) as unknown as ReadableStream<Uint8Array>);
  } catch (e) {
    if (e instanceof CertfleetError) throw e;
    if (describe(e).includes('no identity matched')) {
      throw new CertfleetError(ErrorCode.backup_wrong_passphrase, 'The passphrase does not open this backup. Nothing was changed.');
    }
    throw backupCorrupt(`its age header cannot be read (${describe(e)})`);
  }
  const gunzip = createGunzip();
  const decrypted = Readable.fromWeb(plain as import('node:stream/web').ReadableStream<Uint8Array>);
  const piped = pipeline(decrypted, gunzip).catch((e: unknown) => {
    gunzip.destroy(e instanceof Error ? e : new Error(describe(e)));
  });

  const hash = createHash('sha256');
  let header: BackupHeader | null = null;
  let table: BackupTable | null = null;
  let columns = 0;
  let batch: unknown[][] = [];
  let rows = 0;
  let end: BackupEnd | null = null;
  let carry = Buffer.alloc(0);
  const seen = new Set<BackupTable>();

  function* handle(line: Buffer): Generator<BackupItem> {
    if (end !== null) throw backupCorrupt('it has data after its end');
    let value: unknown;
    try {
      value = JSON.parse(line.toString('utf8'));
    } catch {
      throw backupCorrupt('a line is not JSON');
    }
    if (header === null) {
      header = parseBackupHeader(value, knownMigrations);
      hash.update(line);
      yield { kind: 'header', header };
      return;
    }
    if (Array.isArray(value)) {
      if (table === null || value.length !== columns) throw backupCorrupt('a row does not match its section');
      hash.update(line);
      rows++;
      batch.push(value);
      if (batch.length >= ROWS_PER_BATCH) {
        yield { kind: 'rows', table, rows: batch };
        batch = [];
      }
      return;
    }
    if (typeof value !== 'object' || value === null) throw backupCorrupt('a line is neither a row nor a section');
    const v = value as Record<string, unknown>; // a JSON object
    if (table !== null && batch.length > 0) {
      yield { kind: 'rows', table, rows: batch };
      batch = [];
    }
    if (v.end === true) {
      const expected = hash.digest('hex');
      if (v.sha256 !== expected || v.rows !== rows) throw backupCorrupt('its checksum does not match its contents');
      end = { rows, sha256: expected };
      return;
    }
    const named = backupTablesOf(header.formatVersion).find((t) => t === v.table);
    if (named === undefined || seen.has(named) || !Array.isArray(v.columns) || !v.columns.every((c) => typeof c === 'string')) {
      throw backupCorrupt('a section names no known table');
    }
    hash.update(line);
    seen.add(named);
    table = named;
    columns = v.columns.length;
    yield { kind: 'section', table: named, columns: v.columns as string[] }; // checked: every entry is a string
  }

  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      let start = 0;
      for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
        yield* handle(data.subarray(start, nl + 1));
        start = nl + 1;
      }
      data = data.subarray(start);
      if (data.length > MAX_LINE_BYTES) throw backupCorrupt('a line is longer than any backup writes');
      carry = Buffer.from(data);
    }
  } catch (e) {
    if (e instanceof CertfleetError) throw e;
    throw backupCorrupt(`it cannot be decrypted to the end (${describe(e)})`);
  } finally {
    gunzip.destroy();
    decrypted.destroy();
    await piped;
  }
  if (carry.length > 0 || end === null) throw backupCorrupt('it ends before its last line (truncated)');
  return end;
}
