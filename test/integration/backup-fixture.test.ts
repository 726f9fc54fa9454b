/**
 * Backups made by an older format version restore (issue 9): test/fixtures/backups/v1 holds a
 * backup written by the first backup format (scripts/make-backup-fixture.sh) of the upgrade
 * fixture's database. Restored into a fresh database on SQLite and PostgreSQL, under another
 * master key, it gives back the keystore the old build made — fingerprints, order, flags and the
 * private keys themselves (compared with the old database's, opened under its master key) — and
 * its devices.
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { copyFileSync, createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { restoreBackup } from '../../src/app/backup.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { setLifecycle } from '../../src/app/lifecycle.js';
import { backupTablesOf } from '../../src/domain/backup.js';
import { listDevices } from '../../src/app/devices.js';
import { KeySealer } from '../../src/crypto/index.js';
import { MIGRATION_NAMES } from '../../src/storage/migrations/index.js';
import { openStore } from '../../src/storage/open-store.js';
import { testAppContext } from '../support/app-context.js';
import { forEachDatabase } from '../support/databases.js';
import { found } from '../support/found.js';

const DIR = new URL('../../../test/fixtures/backups/v1/', import.meta.url).pathname;
const UPGRADE = new URL('../../../test/fixtures/upgrade/v0.1-schema4/expected.json', import.meta.url).pathname;
const UPGRADE_DB = new URL('../../../test/fixtures/upgrade/v0.1-schema4/sqlite/certfleet.db', import.meta.url).pathname;
const UPGRADE_KEY = new URL('../../../test/fixtures/upgrade/v0.1-schema4/master.key', import.meta.url).pathname;

interface ExpectedCertificate {
  readonly alias: string;
  readonly position: number;
  readonly active: boolean;
  readonly isDefault: boolean;
  readonly sha256Fingerprint: string;
}

const made = JSON.parse(readFileSync(UPGRADE, 'utf8')) as {
  sqlite: { certificates: ExpectedCertificate[]; devices: { id: string; pinnedSha256: string }[] };
}; // written by scripts/make-upgrade-fixture.sh
const passphrase = readFileSync(`${DIR}passphrase`, 'utf8').trim();

/** The private part of a PKCS#8 key (JWK `d`), hashed: equal for the same key however it is encoded. */
function secretOf(pkcs8: Buffer): string {
  const jwk = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  return createHash('sha256').update(String(jwk.d)).digest('hex');
}

/** The keys of the upgrade fixture's own SQLite database, by alias. */
async function originalKeys(): Promise<Map<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'certfleet-original-'));
  try {
    copyFileSync(UPGRADE_DB, join(dir, 'certfleet.db'));
    const store = await openStore({ url: join(dir, 'certfleet.db') });
    try {
      const sealer = new KeySealer(Buffer.from(readFileSync(UPGRADE_KEY, 'utf8').trim(), 'base64'));
      const keys = new Map<string, string>();
      for (const c of await store.keystore.list()) {
        const material = found(await store.keystore.keyMaterial(c.alias), `original key of ${c.alias}`);
        keys.set(c.alias, secretOf(sealer.open(material.sealedKey, c.id)));
      }
      return keys;
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

forEachDatabase('a backup of format version 1', (db) => {
  it('restores the keystore, keys and devices the old build made, and leaves the lifecycle settings as they are', async () => {
    const ctx = testAppContext(await db.open());
    // The installation it is restored into has the lifecycle on; format 1 has no lifecycle tables.
    await setLifecycle(ctx, SYSTEM_ACTOR, { renewBefore: '60d', window: 'Sun 01:00-04:00', retireAfter: '14d' });
    const settings = await ctx.store.lifecycle.settings();
    const report = await restoreBackup(ctx, SYSTEM_ACTOR, () => createReadStream(`${DIR}certfleet-v1.cfbak`), {
      passphrase,
      dryRun: false,
      keepCurrentCertificates: false,
      knownMigrations: MIGRATION_NAMES,
      file: null,
    });
    assert.equal(report.backup.formatVersion, 1);
    assert.deepEqual(Object.keys(report.backup.counts), [...backupTablesOf(1)], 'a format-1 header counts its own tables');
    assert.deepEqual(await ctx.store.lifecycle.settings(), settings, 'the lifecycle settings are untouched');
    assert.equal((await ctx.store.lifecycle.settings()).enabled, true, 'the lifecycle is still on');
    const restored = await ctx.store.keystore.list();
    assert.deepEqual(
      restored.map((c) => ({ alias: c.alias, position: c.position, active: c.active, isDefault: c.position === 1, sha256Fingerprint: c.facts.sha256Fingerprint })),
      made.sqlite.certificates.map((c) => ({ alias: c.alias, position: c.position, active: c.active, isDefault: c.isDefault, sha256Fingerprint: c.sha256Fingerprint })),
    );
    // The private keys are the very ones in the old build's database (opened with its master key).
    const original = await originalKeys();
    for (const c of restored) {
      const material = found(await ctx.store.keystore.keyMaterial(c.alias), `key of ${c.alias}`);
      assert.equal(secretOf(ctx.sealer.open(material.sealedKey, c.id)), original.get(c.alias), `the key of ${c.alias}`);
    }
    const devices = (await listDevices(ctx, SYSTEM_ACTOR, { offset: 0, limit: 100 })).items;
    assert.deepEqual(
      new Map(devices.map((d) => [d.id, restored.find((c) => c.id === d.certificateId)?.facts.sha256Fingerprint])),
      new Map(made.sqlite.devices.map((d) => [d.id, d.pinnedSha256])),
    );
  });
});
