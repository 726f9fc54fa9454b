import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Permission, roleAllows } from './roles.js';

it('grants admin everything, operator all but key export, accounts, backup and settings, viewer only reading; every role may scrape the metrics', () => {
  for (const p of Object.values(Permission)) assert.ok(roleAllows('admin', p), p);
  assert.deepEqual(Object.values(Permission).filter((p) => roleAllows('operator', p)), ['read', 'manageCertificates', 'metrics']);
  assert.deepEqual(Object.values(Permission).filter((p) => roleAllows('viewer', p)), ['read', 'metrics']);
});
