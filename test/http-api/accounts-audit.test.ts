/**
 * Issue 10, item 7, through the real API: user names are validated (and cannot pass for the audit
 * log's own actor names), and an audit write that fails after a rollback never hides why the
 * change failed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AppContext } from '../../src/app/context.js';
import type { Store } from '../../src/app/store.js';
import { apiOn, assertError, startSqliteApi, type ApiHarness } from './support.js';

describe('accounts and the audit log', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startSqliteApi();
  });
  after(async () => {
    await h.close();
  });

  it('refuses malformed user names and the audit log\'s own actor names with invalid_username', async () => {
    for (const username of ['system', 'anonymous', 'Admin', '-x', 'a b', 'evil\x1b[2J', 'x'.repeat(65), '']) {
      const res = await h.call('admin', { method: 'POST', url: '/api/v1/users', payload: { username, role: 'viewer', password: 'viewer-pass-9' } });
      assertError(res, 400, 'invalid_username');
    }
    const ok = await h.call('admin', { method: 'POST', url: '/api/v1/users', payload: { username: 'jane.doe-2', role: 'viewer', password: 'viewer-pass-9' } });
    assert.equal(ok.statusCode, 201, ok.body);
  });

  it('an audit write that fails after a rollback does not hide the original error', async () => {
    // the same database, except that the audit log refuses every row (a full disk, a lost connection)
    const failing: Store = Object.create(h.ctx.store, {
      audit: { value: Object.create(h.ctx.store.audit, { append: { value: async () => Promise.reject(new Error('disk I/O error')) } }) },
    }) as Store; // every other repo and method is the real store's, through the prototype
    const lost: { action: string; code: string }[] = [];
    const ctx: AppContext = { ...h.ctx, store: failing, onAuditFailure: (_err, entry) => lost.push({ action: entry.action, code: entry.code }) };
    const app = await apiOn(ctx);
    try {
      const res = await app.inject({ method: 'DELETE', url: '/api/v1/users/nobody', headers: { authorization: `Bearer ${h.tokens.admin}` } });
      assertError(res, 404, 'user_not_found');
      assert.deepEqual(lost, [{ action: 'user.delete', code: 'user_not_found' }]);
    } finally {
      await app.close();
    }
  });
});
