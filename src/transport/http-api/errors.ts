/**
 * How the REST API answers a refusal: one table from error code to HTTP status (checked by the
 * compiler against every code of the domain), the one error body `{"error":{code,message,details}}`,
 * and the translation of Fastify's own errors (validation, body size, bad JSON) into that shape.
 */
import type { FastifyError } from 'fastify';
import { ErrorCode, isCertfleetError, RETRY_AFTER_DETAIL, type ErrorDetails } from '../../domain/errors.js';

/**
 * 400 the request itself is wrong; 401 who are you; 403 you may not; 404 no such thing;
 * 409 the request is fine but the current state refuses it; 413 too large; 422 the keystore file
 * was received but its contents cannot be imported; 429 too many at once, come back after
 * Retry-After; 500 a fault of the server. A Host header this server does not answer to (DNS
 * rebinding) is a 403: the SPEC's statuses, no 421.
 */
export const HTTP_STATUS = {
  invalid_request: 400,
  invalid_alias: 400,
  payload_too_large: 413,
  host_not_allowed: 403,
  invalid_username: 400,
  unauthenticated: 401,
  invalid_credentials: 401,
  forbidden: 403,
  too_many_login_attempts: 429,
  password_hashing_busy: 429,
  key_generation_busy: 429,
  not_found: 404,
  certificate_not_found: 404,
  user_not_found: 404,
  token_not_found: 404,
  already_at_top: 409,
  already_at_bottom: 409,
  default_must_be_active: 409,
  cannot_deactivate_default: 409,
  last_active_certificate: 409,
  certificate_in_use: 409,
  unsupported_generation_algorithm: 400,
  invalid_key_size: 400,
  invalid_validity: 400,
  file_too_large: 413,
  file_unreadable: 422,
  wrong_password: 422,
  entry_required: 422,
  entry_not_found: 422,
  no_private_key: 422,
  chain_not_supported: 422,
  algorithm_not_allowed: 422,
  certificate_expired: 422,
  certificate_not_yet_valid: 422,
  key_too_short: 422,
  key_type_not_supported: 422,
  key_mismatch: 422,
  duplicate_certificate: 409,
  alias_taken: 409,
  encryption_not_supported: 422,
  key_derivation_too_costly: 422,
  too_many_certificates: 422,
  too_many_encrypted_parts: 422,
  // the file took longer than the import deadline: its work is bounded, so the file is at fault
  import_timed_out: 422,
  import_busy: 429,
  // nobody reads it (the client has gone); nginx's "client closed request", for the logs
  import_cancelled: 499,
  password_too_short: 400,
  user_exists: 409,
  invalid_role: 400,
  last_admin: 409,
  cannot_delete_self: 409,
  enrollment_token_invalid: 401,
  enrollment_token_not_found: 404,
  no_compatible_certificate: 422,
  device_unauthenticated: 401,
  device_not_found: 404,
  pin_mismatch: 409,
  pin_not_allowed: 409,
  registration_rate_limited: 429,
  invalid_compatibility_rules: 400,
  invalid_lifecycle_settings: 400,
  re_registration_required: 401,
  lease_lost: 409,
  backup_passphrase_invalid: 400,
  backup_wrong_passphrase: 422,
  backup_not_a_backup: 422,
  backup_corrupt: 422,
  backup_format_too_new: 422,
  backup_schema_too_new: 422,
  backup_in_progress: 409,
  invalid_setting: 400,
  master_key_mismatch: 500,
  join_token_required: 500,
  join_token_refused: 500,
  internal: 500,
} as const satisfies Record<ErrorCode, number>;

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details: ErrorDetails };
}

export interface HttpError {
  readonly status: number;
  readonly body: ErrorBody;
  /** True when the server broke, not the request: the cause belongs in the log. */
  readonly unexpected: boolean;
  /** Headers the answer carries: Retry-After on a 429. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A 429 says when to come back (RFC 9110 Retry-After, whole seconds, at least 1). */
function headersFor(status: number, details: ErrorDetails): Readonly<Record<string, string>> {
  const wait = details[RETRY_AFTER_DETAIL];
  if (status !== 429) return {};
  return { 'retry-after': String(typeof wait === 'number' && Number.isFinite(wait) ? Math.max(1, Math.ceil(wait)) : 1) };
}

function answer(code: ErrorCode, message: string, details: ErrorDetails = {}): HttpError {
  const status = HTTP_STATUS[code];
  return { status, body: { error: { code, message, details } }, unexpected: status >= 500, headers: headersFor(status, details) };
}

function isFastifyError(e: unknown): e is FastifyError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string'; // FastifyError is an Error with a string code
}

/** Where in the request a validation error points, without the offending value. */
function validationDetails(e: FastifyError): ErrorDetails {
  const part = e.validationContext ?? 'body';
  return {
    errors: (e.validation ?? []).map((v) => ({
      in: part,
      path: v.instancePath || '/',
      message: v.message ?? 'is invalid',
      ...(v.params && Object.keys(v.params).length > 0 ? { params: v.params } : {}),
    })),
  };
}

/**
 * Any error thrown while serving a request → status and body. Refusals keep their code, message
 * and details (they never hold secrets); everything unexpected becomes `internal` with the request
 * id, and its cause stays in the log.
 */
export function toHttpError(e: unknown, requestId: string): HttpError {
  if (isCertfleetError(e)) {
    if (HTTP_STATUS[e.code] >= 500) return internal(requestId);
    return answer(e.code, e.message, e.details);
  }
  if (isFastifyError(e)) {
    if (e.validation) {
      return answer(ErrorCode.invalid_request, `The request is not valid: ${e.message}.`, validationDetails(e));
    }
    switch (e.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return answer(ErrorCode.payload_too_large, 'The request body is too large.', {});
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return answer(ErrorCode.invalid_request, 'The request body is not valid JSON.', {});
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return answer(ErrorCode.invalid_request, 'Send the request body as application/json.', {});
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return answer(ErrorCode.invalid_request, 'The request body does not match its Content-Length.', {});
      default:
        break;
    }
    // Other client errors of Fastify (proto poisoning, bad URL …): refuse without echoing them.
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      if (e.statusCode === 413) return answer(ErrorCode.payload_too_large, 'The request body is too large.', {});
      if (e.statusCode === 404) return answer(ErrorCode.not_found, 'There is no such resource.', {});
      return answer(ErrorCode.invalid_request, 'The request cannot be understood.', { fastifyCode: e.code });
    }
  } else if (e instanceof SyntaxError) {
    return answer(ErrorCode.invalid_request, 'The request body is not valid JSON.', {});
  }
  return internal(requestId);
}

function internal(requestId: string): HttpError {
  return answer(
    ErrorCode.internal,
    `Something went wrong on the server. The server log has the details under request id ${requestId}.`,
    { requestId },
  );
}

export function notFoundError(method: string, url: string): HttpError {
  const path = url.split('?')[0] ?? url;
  return answer(ErrorCode.not_found, `There is no route ${method} ${path.slice(0, 200)}. The API is described at /api/v1/openapi.json.`, {});
}
