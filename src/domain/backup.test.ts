import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKUP_FORMAT_VERSION, BACKUP_TABLES, backupTablesOf, parseBackupHeader, successionsEndedByRestore } from './backup.js';
import { CertfleetError, ErrorCode } from './errors.js';
import { SuccessionRole, SuccessionState, type Succession } from './lifecycle.js';

const LIFECYCLE_TABLES = ['lifecycle_settings', 'lifecycle_successions', 'lifecycle_events'];

describe('backup tables by format version', () => {
  it('format 1 holds the tables it had; format 2 adds the lifecycle, after them', () => {
    assert.deepEqual(backupTablesOf(1), ['certificates', 'users', 'api_tokens', 'enrollment_tokens', 'compatibility_rules', 'devices', 'rotation_runs', 'audit_log']);
    assert.deepEqual(backupTablesOf(2), [...backupTablesOf(1), ...LIFECYCLE_TABLES]);
    assert.deepEqual(backupTablesOf(BACKUP_FORMAT_VERSION), BACKUP_TABLES);
  });

  it('a header counts exactly the tables of its format version', () => {
    const header = (formatVersion: number, tables: readonly string[]) => ({
      format: 'certfleet-backup',
      formatVersion,
      createdAt: '2030-01-01T00:00:00.000Z',
      serverVersion: 't',
      schemaVersion: 's',
      counts: Object.fromEntries(tables.map((t) => [t, 0])),
      certificates: [],
    });
    assert.deepEqual(Object.keys(parseBackupHeader(header(1, backupTablesOf(1)), ['s']).counts), backupTablesOf(1));
    assert.deepEqual(Object.keys(parseBackupHeader(header(2, BACKUP_TABLES), ['s']).counts), BACKUP_TABLES);
    for (const missing of LIFECYCLE_TABLES) {
      assert.throws(
        () => parseBackupHeader(header(2, BACKUP_TABLES.filter((t) => t !== missing)), ['s']),
        (e: unknown) => e instanceof CertfleetError && e.code === ErrorCode.backup_corrupt,
        `format 2 without ${missing}`,
      );
    }
  });
});

describe('successions a restore ends', () => {
  const succession = (id: string, predecessorId: string, successorId: string, state: SuccessionState = SuccessionState.promoted): Succession => ({
    id,
    role: SuccessionRole.default,
    predecessorId,
    predecessorAlias: predecessorId,
    successorId,
    successorAlias: successorId,
    state,
    createdAt: '2030-01-01T00:00:00.000Z',
    deactivatedAt: null,
  });

  it('ends the open ones missing a certificate, says which, and leaves closed ones and whole ones', () => {
    const ended = successionsEndedByRestore(
      [
        succession('whole', 'a', 'b'),
        succession('no-successor', 'a', 'x'),
        succession('no-predecessor', 'y', 'b', SuccessionState.deactivated),
        succession('neither', 'y', 'x', SuccessionState.generated),
        succession('closed', 'y', 'x', SuccessionState.deleted),
      ],
      new Set(['a', 'b']),
    );
    assert.deepEqual(
      ended.map((e) => [e.succession.id, e.missing]),
      [
        ['no-successor', ['successor']],
        ['no-predecessor', ['predecessor']],
        ['neither', ['predecessor', 'successor']],
      ],
    );
  });
});
