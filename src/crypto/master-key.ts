/**
 * K11: where the master key comes from. `CERTFLEET_MASTER_KEY` (64 hex digits or base64 of exactly
 * 32 bytes) wins; otherwise `<dataDir>/master.key`, made on first use with 32 random bytes (base64)
 * and mode 0600. Every node of a cluster needs the same key: copy the file, or set the variable.
 *
 * The file is created atomically: written and synced under a temporary name, then hard-linked to
 * `master.key`, which fails if another process got there first (its key is then used), so two nodes
 * starting at once on a shared data directory never end up with different keys. An existing file
 * readable by anyone but its owner is refused rather than silently used.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { CertfleetError, ErrorCode } from '../domain/errors.js';

export const MASTER_KEY_BYTES = 32;
export const MASTER_KEY_ENV = 'CERTFLEET_MASTER_KEY';
export const MASTER_KEY_FILE = 'master.key';

export interface LoadedMasterKey {
  readonly key: Buffer;
  readonly source: 'env' | 'file';
  /** Whether the file was made just now (the first start of this data directory). */
  readonly created: boolean;
}

function problem(message: string, details: Record<string, unknown> = {}): CertfleetError {
  return new CertfleetError(ErrorCode.internal, message, details);
}

/** 64 hex digits, or base64 / base64url; null unless it decodes to exactly 32 bytes. */
export function parseMasterKey(text: string): Buffer | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) return null;
  const key = Buffer.from(t, 'base64');
  return key.length === MASTER_KEY_BYTES ? key : null;
}

function isErrno(e: unknown, code: string): boolean {
  return e instanceof Error && 'code' in e && e.code === code;
}

async function readKeyFile(path: string): Promise<Buffer> {
  const st = await fs.stat(path);
  if (!st.isFile()) throw problem(`${path} is not a file. Remove it, or point --data at the right directory.`, { path });
  if (process.platform !== 'win32' && (st.mode & 0o177) !== 0) {
    throw problem(
      `${path} has mode 0${(st.mode & 0o777).toString(8)}; the master key must be readable by its owner only. ` +
        `Run \`chmod 600 ${path}\` and start again.`,
      { path, mode: `0${(st.mode & 0o777).toString(8)}` },
    );
  }
  const key = parseMasterKey(await fs.readFile(path, 'utf8'));
  if (!key) {
    throw problem(
      `${path} does not hold a master key (32 bytes as base64 or 64 hex digits). Restore it from your backup, or copy it ` +
        'from another node of the cluster; without it the stored private keys cannot be opened.',
      { path },
    );
  }
  return key;
}

async function createKeyFile(dataDir: string, path: string): Promise<{ key: Buffer; created: boolean }> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(MASTER_KEY_BYTES);
  const tmp = join(dataDir, `.${MASTER_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.chmod(0o600); // whatever the umask
    await handle.writeFile(`${key.toString('base64')}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(tmp, path); // never overwrites: EEXIST when another process made it first
    return { key, created: true };
  } catch (e) {
    if (isErrno(e, 'EEXIST')) return { key: await readKeyFile(path), created: false };
    throw e;
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
}

export async function loadMasterKey(opts: {
  readonly dataDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}): Promise<LoadedMasterKey> {
  const fromEnv = opts.env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const key = parseMasterKey(fromEnv);
    if (!key) {
      throw problem(
        `${MASTER_KEY_ENV} must hold exactly ${MASTER_KEY_BYTES} bytes, written as 64 hex digits or as base64 ` +
          '(make one with `openssl rand -base64 32`). Every node of a cluster needs the same value.',
        { variable: MASTER_KEY_ENV },
      );
    }
    return { key, source: 'env', created: false };
  }
  const path = join(opts.dataDir, MASTER_KEY_FILE);
  try {
    return { key: await readKeyFile(path), source: 'file', created: false };
  } catch (e) {
    if (!isErrno(e, 'ENOENT')) throw e;
  }
  const made = await createKeyFile(opts.dataDir, path);
  return { ...made, source: 'file' };
}
