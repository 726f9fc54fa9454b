/**
 * The backup routes' own refusals over HTTP: an upload larger than the limit, a restore without
 * its passphrase, a passphrase too short to make a backup, and a second backup while one runs.
 * Each changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { PASSPHRASE_HEADER } from '../../src/transport/http-api/contract/index.js';
import { forEachDatabase } from '../support/databases.js';
import { assertError, keystoreState, startApi, type ApiHarness } from './support.js';

const PASSPHRASE = 'http backup passphrase';

forEachDatabase('backup routes', (db) => {
  let h: ApiHarness;
  before(async () => {
    h = await startApi(await db.open());
  });
  after(async () => {
    await h.close();
  });

  it('refuses an upload above the limit with payload_too_large, and restores nothing', async () => {
    const before = await keystoreState(h.ctx);
    const res = await h.call('admin', {
      method: 'POST',
      url: '/api/v1/backups/restore',
      payload: Buffer.alloc(1024 * 1024 + 1),
      headers: { 'content-type': 'application/octet-stream', [PASSPHRASE_HEADER]: PASSPHRASE },
    });
    assertError(res, 413, 'payload_too_large');
    assert.equal(await keystoreState(h.ctx), before);
  });

  it('asks for the passphrase header, and for a passphrase of 12 characters or more', async () => {
    const file = await h.call('admin', { method: 'POST', url: '/api/v1/backups', payload: { passphrase: PASSPHRASE } });
    assert.equal(file.statusCode, 200);
    assert.equal(file.rawPayload.subarray(0, 21).toString('latin1'), 'age-encryption.org/v1');
    const res = await h.call('admin', {
      method: 'POST',
      url: '/api/v1/backups/restore?dryRun=true',
      payload: file.rawPayload,
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(assertError(res, 400, 'invalid_request').details['field'], PASSPHRASE_HEADER);
    assertError(await h.call('admin', { method: 'POST', url: '/api/v1/backups', payload: { passphrase: 'short' } }), 400, 'invalid_request');
  });

  it('lists what was written, newest first, with its size', async () => {
    const made = await h.call('admin', { method: 'POST', url: '/api/v1/backups', payload: { passphrase: PASSPHRASE } });
    const list = await h.call('viewer', { method: 'GET', url: '/api/v1/backups' });
    const runs = list.json<{ runs: { trigger: string; result: string; sizeBytes: number }[] }>().runs;
    assert.deepEqual([runs[0]?.trigger, runs[0]?.result, runs[0]?.sizeBytes], ['manual', 'ok', made.rawPayload.length]);
  });
});
