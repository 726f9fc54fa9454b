/**
 * The one error type of certfleet. Every refusal carries a stable code; each transport maps the
 * code to its own answer (HTTP status, CLI exit code) in one compiler-checked table.
 * Messages are written for the administrator: they say what happened and what to do next.
 * They never contain key material.
 */
export const ErrorCode = {
  // request shape
  invalid_request: 'invalid_request',
  invalid_alias: 'invalid_alias',
  payload_too_large: 'payload_too_large',
  host_not_allowed: 'host_not_allowed',
  invalid_username: 'invalid_username',
  // authentication and authorisation
  unauthenticated: 'unauthenticated',
  invalid_credentials: 'invalid_credentials',
  forbidden: 'forbidden',
  // limits: too much at once; the answer says when to try again (details.retryAfterSeconds)
  too_many_login_attempts: 'too_many_login_attempts',
  password_hashing_busy: 'password_hashing_busy',
  key_generation_busy: 'key_generation_busy',
  // lookups
  not_found: 'not_found',
  certificate_not_found: 'certificate_not_found',
  user_not_found: 'user_not_found',
  token_not_found: 'token_not_found',
  // keystore order and state (K2, K3, K4, K7)
  already_at_top: 'already_at_top',
  already_at_bottom: 'already_at_bottom',
  default_must_be_active: 'default_must_be_active',
  cannot_deactivate_default: 'cannot_deactivate_default',
  last_active_certificate: 'last_active_certificate',
  certificate_in_use: 'certificate_in_use',
  // generate (K5)
  unsupported_generation_algorithm: 'unsupported_generation_algorithm',
  invalid_key_size: 'invalid_key_size',
  invalid_validity: 'invalid_validity',
  // import (K6)
  file_too_large: 'file_too_large',
  file_unreadable: 'file_unreadable',
  wrong_password: 'wrong_password',
  entry_required: 'entry_required',
  entry_not_found: 'entry_not_found',
  no_private_key: 'no_private_key',
  chain_not_supported: 'chain_not_supported',
  algorithm_not_allowed: 'algorithm_not_allowed',
  certificate_expired: 'certificate_expired',
  certificate_not_yet_valid: 'certificate_not_yet_valid',
  key_too_short: 'key_too_short',
  key_type_not_supported: 'key_type_not_supported',
  key_mismatch: 'key_mismatch',
  duplicate_certificate: 'duplicate_certificate',
  alias_taken: 'alias_taken',
  // import limits (bounded work per import)
  encryption_not_supported: 'encryption_not_supported',
  key_derivation_too_costly: 'key_derivation_too_costly',
  too_many_certificates: 'too_many_certificates',
  too_many_encrypted_parts: 'too_many_encrypted_parts',
  import_timed_out: 'import_timed_out',
  import_busy: 'import_busy',
  import_cancelled: 'import_cancelled',
  // export (K8) and accounts
  password_too_short: 'password_too_short',
  user_exists: 'user_exists',
  invalid_role: 'invalid_role',
  last_admin: 'last_admin',
  cannot_delete_self: 'cannot_delete_self',
  // devices (R1–R5)
  enrollment_token_invalid: 'enrollment_token_invalid',
  enrollment_token_not_found: 'enrollment_token_not_found',
  no_compatible_certificate: 'no_compatible_certificate',
  device_unauthenticated: 'device_unauthenticated',
  device_not_found: 'device_not_found',
  pin_mismatch: 'pin_mismatch',
  pin_not_allowed: 'pin_not_allowed',
  registration_rate_limited: 'registration_rate_limited',
  invalid_compatibility_rules: 'invalid_compatibility_rules',
  invalid_lifecycle_settings: 'invalid_lifecycle_settings',
  re_registration_required: 're_registration_required',
  // cluster
  lease_lost: 'lease_lost',
  // backup and restore (B1, B2)
  backup_passphrase_invalid: 'backup_passphrase_invalid',
  backup_wrong_passphrase: 'backup_wrong_passphrase',
  backup_not_a_backup: 'backup_not_a_backup',
  backup_corrupt: 'backup_corrupt',
  backup_format_too_new: 'backup_format_too_new',
  backup_schema_too_new: 'backup_schema_too_new',
  backup_in_progress: 'backup_in_progress',
  // settings (L1)
  invalid_setting: 'invalid_setting',
  // start-up
  master_key_mismatch: 'master_key_mismatch',
  join_token_required: 'join_token_required',
  join_token_refused: 'join_token_refused',
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export type ErrorDetails = Readonly<Record<string, unknown>>;

/**
 * A refusal that asks the caller to come back later carries the seconds to wait under this key of
 * its details; the HTTP API turns it into a Retry-After header.
 */
export const RETRY_AFTER_DETAIL = 'retryAfterSeconds';

export class CertfleetError extends Error {
  override readonly name = 'CertfleetError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
  }
}

export function isCertfleetError(e: unknown): e is CertfleetError {
  return e instanceof CertfleetError;
}
