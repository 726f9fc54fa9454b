/**
 * The expected error of `assert.rejects` / `assert.throws` for a use case's refusal: a
 * CertfleetError with exactly this code (its message is shown when the code differs).
 *
 *   await assert.rejects(deleteCertificate(ctx, actor, 'tckey'), refusedWith('certificate_in_use'));
 */
import assert from 'node:assert/strict';
import { isCertfleetError, type ErrorCode } from '../../src/domain/errors.js';

export function refusedWith(code: ErrorCode) {
  return (error: unknown): boolean => {
    assert.ok(isCertfleetError(error), `expected a CertfleetError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}
