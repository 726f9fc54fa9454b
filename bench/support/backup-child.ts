/**
 * The certfleet side of backup.bench.ts, as its own process so that its peak RSS is its own: a
 * server's context on an existing database (this node's master key from the environment), then
 * one `createBackup` to a file or one `restoreBackup` from it, with the real default scrypt work
 * factor unless BENCH_SCRYPT_LOG_N says otherwise. Prints one JSON line:
 * `{ "ms": the use case alone, "maxRssKb": process.resourceUsage().maxRSS, … }`. `scrypt` does
 * nothing but one key derivation at that work factor, as the backup file does it, on the same
 * open store: the floor under the peak RSS of the other two.
 *
 *   BENCH_MASTER_KEY=hex BENCH_PASSPHRASE=… node dist/bench/support/backup-child.js backup|restore sqlite|postgres DB FILE
 *   (DB: the SQLite file, or the PostgreSQL schema on CERTFLEET_TEST_PG)
 */
import { scrypt } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { createBackup, restoreBackup } from '../../src/app/backup.js';
import { KeySealer } from '../../src/crypto/index.js';
import { DEFAULT_SCRYPT_LOG_N } from '../../src/crypto/backup-file.js';
import { createAppContext } from '../../src/main/app-context.js';
import { systemClock, systemRandom } from '../../src/main/system.js';
import { MIGRATION_NAMES } from '../../src/storage/migrations/index.js';
import { openStore } from '../../src/storage/open-store.js';

const [mode, dialect, db, file] = process.argv.slice(2);
if ((mode !== 'backup' && mode !== 'restore' && mode !== 'scrypt') || (dialect !== 'sqlite' && dialect !== 'postgres') || !db || !file) {
  throw new Error('usage: backup-child.js backup|restore|scrypt sqlite|postgres DB FILE');
}
const passphrase = process.env['BENCH_PASSPHRASE'] ?? '';
const scryptLogN = Number(process.env['BENCH_SCRYPT_LOG_N'] ?? DEFAULT_SCRYPT_LOG_N);
const pgUrl = process.env['CERTFLEET_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';

const store = await openStore(dialect === 'sqlite' ? { url: db } : { url: pgUrl, schema: db, poolSize: 4 });
const ctx = createAppContext({
  store,
  clock: systemClock,
  random: systemRandom,
  sealer: new KeySealer(Buffer.from(process.env['BENCH_MASTER_KEY'] ?? '', 'hex')),
  keyPairs: {
    generate: () => Promise.reject(new Error('the backup benchmark makes no keys')),
  },
  hostName: 'certfleet.bench',
  onKeystoreChanged: () => undefined,
  rotation: { runNow: () => Promise.reject(new Error('no rotation in the backup benchmark')), trigger: () => undefined },
});

const started = performance.now();
let detail: Record<string, unknown>;
if (mode === 'backup') {
  const summary = await createBackup(ctx, SYSTEM_ACTOR, createWriteStream(file), {
    passphrase,
    serverVersion: 'bench',
    schemaVersion: MIGRATION_NAMES.at(-1) ?? '',
    scryptLogN,
    trigger: 'manual',
    nodeId: null,
    file,
  });
  detail = { bytes: summary.bytes, counts: summary.counts };
} else if (mode === 'scrypt') {
  const N = 2 ** scryptLogN; // r = 8, p = 1, maxmem as crypto/backup-file.ts asks
  await new Promise((resolve, reject) =>
    scrypt(passphrase, 'salt', 32, { N, r: 8, p: 1, maxmem: 129 * N * 8 + 1024 * 1024 }, (e, key) => (e ? reject(e) : resolve(key))),
  );
  detail = {};
} else {
  const report = await restoreBackup(ctx, SYSTEM_ACTOR, () => createReadStream(file), {
    passphrase,
    dryRun: false,
    keepCurrentCertificates: false,
    knownMigrations: MIGRATION_NAMES,
    file,
  });
  detail = { reRegistrationRequired: report.reRegistrationRequired.reRegistrationRequired, certificates: report.certificates };
}
const ms = performance.now() - started;
await store.close();
console.log(JSON.stringify({ ms, maxRssKb: process.resourceUsage().maxRSS, scryptLogN, ...detail }));
process.exit(0);
