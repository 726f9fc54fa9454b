import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadMasterKey, MASTER_KEY_ENV, parseMasterKey } from '../../src/crypto/master-key.js';
import { isCertfleetError } from '../../src/domain/errors.js';

const root = mkdtempSync(join(tmpdir(), 'certfleet-master-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `data-${++n}`);

describe('loadMasterKey (K11)', () => {
  it('creates <data>/master.key with mode 0600 on first use, then reuses it', async () => {
    const dataDir = freshDir();
    const first = await loadMasterKey({ dataDir, env: {} });
    assert.equal(first.source, 'file');
    assert.equal(first.created, true);
    assert.equal(first.key.length, 32);
    const path = join(dataDir, 'master.key');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(parseMasterKey(readFileSync(path, 'utf8'))?.equals(first.key));
    const again = await loadMasterKey({ dataDir, env: {} });
    assert.equal(again.created, false);
    assert.ok(again.key.equals(first.key));
    assert.deepEqual(readdirSync(dataDir), ['master.key']); // no temporary file left
  });

  it('makes exactly one key when several starts race on an empty data directory', async () => {
    const dataDir = freshDir();
    const all = await Promise.all(Array.from({ length: 8 }, () => loadMasterKey({ dataDir, env: {} })));
    assert.equal(all.filter((r) => r.created).length, 1);
    for (const r of all) assert.ok(r.key.equals(all[0]?.key ?? Buffer.alloc(0)));
    assert.deepEqual(readdirSync(dataDir), ['master.key']);
  });

  it(`honours ${MASTER_KEY_ENV} as 64 hex digits or base64, and writes no file then`, async () => {
    const key = randomBytes(32);
    for (const value of [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), ` ${key.toString('base64')}\n`]) {
      const dataDir = freshDir();
      const r = await loadMasterKey({ dataDir, env: { [MASTER_KEY_ENV]: value } });
      assert.equal(r.source, 'env');
      assert.equal(r.created, false);
      assert.ok(r.key.equals(key));
      assert.throws(() => statSync(dataDir), { code: 'ENOENT' }, 'a key from the environment creates no data directory');
    }
  });

  it(`refuses a ${MASTER_KEY_ENV} that is not exactly 32 bytes, without repeating it`, async () => {
    for (const value of ['secret-but-short', randomBytes(31).toString('base64'), randomBytes(33).toString('base64'), 'ab'.repeat(31), 'zz'.repeat(32)]) {
      await assert.rejects(loadMasterKey({ dataDir: freshDir(), env: { [MASTER_KEY_ENV]: value } }), (e: unknown) => {
        assert.ok(isCertfleetError(e));
        assert.equal(e.code, 'internal');
        assert.match(e.message, /exactly 32 bytes/);
        assert.ok(!e.message.includes(value) && !JSON.stringify(e.details).includes(value));
        return true;
      });
    }
  });

  it('refuses an existing key file readable by others, saying how to fix it', async () => {
    const dataDir = freshDir();
    await loadMasterKey({ dataDir, env: {} });
    const path = join(dataDir, 'master.key');
    for (const mode of [0o644, 0o640, 0o604, 0o700]) {
      chmodSync(path, mode);
      await assert.rejects(loadMasterKey({ dataDir, env: {} }), (e: unknown) => {
        assert.ok(isCertfleetError(e));
        assert.match(e.message, new RegExp(`mode 0${mode.toString(8)}`));
        assert.match(e.message, /chmod 600/);
        return true;
      });
    }
    chmodSync(path, 0o400); // narrower is fine
    assert.equal((await loadMasterKey({ dataDir, env: {} })).created, false);
  });

  it('refuses an ill-formed key file rather than replacing it', async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir);
    const path = join(dataDir, 'master.key');
    writeFileSync(path, 'this is not a key\n', { mode: 0o600 });
    await assert.rejects(loadMasterKey({ dataDir, env: {} }), (e: unknown) => isCertfleetError(e) && /does not hold a master key/.test(e.message));
    assert.equal(readFileSync(path, 'utf8'), 'this is not a key\n');
  });
});
