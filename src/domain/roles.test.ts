import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Permission, roleAllows } from './roles.js';

it('grants admin everything, operator all but key export, accounts and backup, viewer only reading', () => {
  for (const p of Object.values(Permission)) assert.ok(roleAllows('admin', p), p);
  assert.deepEqual(Object.values(Permission).filter((p) => roleAllows('operator', p)), ['read', 'manageCertificates']);
  assert.deepEqual(Object.values(Permission).filter((p) => roleAllows('viewer', p)), ['read']);
});
