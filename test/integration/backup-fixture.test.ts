/**
 * Backups made by an older format version restore (issue 9): test/fixtures/backups/v1 holds a
 * backup written by the first backup format (scripts/make-backup-fixture.sh) of the upgrade
 * fixture's database. Restored into a fresh database on SQLite and PostgreSQL, under another
 * master key, it gives back the keystore the old build made — fingerprints, order, flags and the
 * private keys themselves (their PKCS#8 SHA-256 as the old build exported them) — and its devices.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { it } from 'node:test';
import { restoreBackup } from '../../src/app/backup.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import { listDevices } from '../../src/app/devices.js';
import { MIGRATION_NAMES } from '../../src/storage/migrations/index.js';
import { testAppContext } from '../support/app-context.js';
import { forEachDatabase } from '../support/databases.js';
import { found } from '../support/found.js';

const DIR = new URL('../../../test/fixtures/backups/v1/', import.meta.url).pathname;
const UPGRADE = new URL('../../../test/fixtures/upgrade/v0.1-schema4/expected.json', import.meta.url).pathname;

interface ExpectedCertificate {
  readonly alias: string;
  readonly position: number;
  readonly active: boolean;
  readonly isDefault: boolean;
  readonly sha256Fingerprint: string;
  readonly privateKeyPkcs8Sha256: string;
}

const made = JSON.parse(readFileSync(UPGRADE, 'utf8')) as {
  sqlite: { certificates: ExpectedCertificate[]; devices: { id: string; pinnedSha256: string }[] };
}; // written by scripts/make-upgrade-fixture.sh
const passphrase = readFileSync(`${DIR}passphrase`, 'utf8').trim();

forEachDatabase('a backup of format version 1', (db) => {
  it('restores the keystore, keys and devices the old build made', async () => {
    const ctx = testAppContext(await db.open());
    const report = await restoreBackup(ctx, SYSTEM_ACTOR, () => createReadStream(`${DIR}certfleet-v1.cfbak`), {
      passphrase,
      dryRun: false,
      keepCurrentCertificates: false,
      knownMigrations: MIGRATION_NAMES,
      file: null,
    });
    assert.equal(report.backup.formatVersion, 1);
    const restored = await ctx.store.keystore.list();
    assert.deepEqual(
      restored.map((c) => ({ alias: c.alias, position: c.position, active: c.active, isDefault: c.position === 1, sha256Fingerprint: c.facts.sha256Fingerprint })),
      made.sqlite.certificates.map(({ privateKeyPkcs8Sha256: _, ...rest }) => rest),
    );
    for (const c of restored) {
      const material = found(await ctx.store.keystore.keyMaterial(c.alias), `key of ${c.alias}`);
      const pkcs8 = ctx.sealer.open(material.sealedKey, c.id);
      const want = made.sqlite.certificates.find((x) => x.alias === c.alias)?.privateKeyPkcs8Sha256;
      assert.equal(createHash('sha256').update(pkcs8).digest('hex'), want, `the key of ${c.alias}`);
    }
    const devices = (await listDevices(ctx, SYSTEM_ACTOR, { offset: 0, limit: 100 })).items;
    assert.deepEqual(
      new Map(devices.map((d) => [d.id, restored.find((c) => c.id === d.certificateId)?.facts.sha256Fingerprint])),
      new Map(made.sqlite.devices.map((d) => [d.id, d.pinnedSha256])),
    );
  });
});
