/**
 * Enrollment tokens (R5): what a device needs to register. An administrator makes one (one-time,
 * N uses, an expiry, optionally bound to a unit id); its text is shown once and only its SHA-256
 * is stored. Registration takes one use atomically (register-device.ts).
 *
 * L3, first contact pinned: with `pinCurrent` the token is handed out with the SHA-256 fingerprints
 * of the keystore's active entries (those R1 may give a device), in priority order. The device
 * accepts at its first contact only a server that presents one of them, and sends the token to no
 * other. The server does not store them: it is the device that checks, and the fingerprints are
 * no secret (every device of the fleet sees them).
 */
import { createHash } from 'node:crypto';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { Permission } from '../domain/roles.js';
import { EnrollmentTokenState } from '../domain/vocabularies.js';
import { auditedChange, authorize, type Actor, type AppContext } from './context.js';
import type { StoredEnrollmentToken } from './records.js';

/** The administration of enrollment tokens (registration uses them through register-device.ts EnrollmentUseRepo). */
export interface EnrollmentAdminRepo {
  create(token: StoredEnrollmentToken & { readonly tokenHash: string }): Promise<void>;
  /** Newest first. */
  list(): Promise<StoredEnrollmentToken[]>;
  /** Returns false when there is no such token; revoking a revoked token keeps the first time. */
  revoke(id: string, at: string): Promise<boolean>;
}

export const ENROLLMENT_TOKEN_PREFIX = 'cfe_';
export const DEFAULT_ENROLLMENT_USES = 1;
export const MAX_ENROLLMENT_USES = 100_000;
export const DEFAULT_ENROLLMENT_SECONDS = 86_400;
/** A token lives at most a year: long enough for a roll-out, short enough to be revoked by time. */
export const MAX_ENROLLMENT_SECONDS = 366 * 86_400;


export interface EnrollmentTokenRecord extends StoredEnrollmentToken {
  readonly state: EnrollmentTokenState;
}

export interface CreateEnrollmentTokenRequest {
  readonly uses?: number;
  readonly expiresInSeconds?: number;
  readonly unitId?: string;
  /** Hand the token out with the fingerprints of the active keystore entries (L3). */
  readonly pinCurrent?: boolean;
}

export function hashEnrollmentToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * One spelling of a unit id, so that a binding matches however the MAC address is written:
 * six hex pairs (with `:`, `-`, `.` or nothing between) become upper case with colons; anything
 * else is kept as given, trimmed.
 */
export function normalizeUnitId(unitId: string): string {
  const trimmed = unitId.trim();
  if (!/^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$|^[0-9a-f]{4}(\.[0-9a-f]{4}){2}$/i.test(trimmed)) return trimmed;
  return (trimmed.replace(/[:.-]/g, '').toUpperCase().match(/../g) ?? []).join(':');
}

export function enrollmentTokenState(t: StoredEnrollmentToken, now: Date): EnrollmentTokenState {
  if (t.revokedAt !== null) return EnrollmentTokenState.revoked;
  if (t.usesLeft <= 0) return EnrollmentTokenState.used;
  if (Date.parse(t.expiresAt) <= now.getTime()) return EnrollmentTokenState.expired;
  return EnrollmentTokenState.active;
}

function wholeNumberIn(value: number | undefined, fallback: number, min: number, max: number, field: string, what: string): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new CertfleetError(ErrorCode.invalid_request, `${what} must be a whole number from ${min} to ${max}.`, { field, minimum: min, maximum: max });
  }
  return n;
}

export async function createEnrollmentToken(
  ctx: AppContext,
  actor: Actor,
  req: CreateEnrollmentTokenRequest,
): Promise<{ token: string; record: EnrollmentTokenRecord; expectedFingerprints: string[] }> {
  return auditedChange(ctx, actor, 'enrollment.create', req.unitId ?? null, async (audit) => {
    authorize(actor, Permission.manageCertificates);
    const uses = wholeNumberIn(req.uses, DEFAULT_ENROLLMENT_USES, 1, MAX_ENROLLMENT_USES, 'uses', 'The number of uses');
    const seconds = wholeNumberIn(req.expiresInSeconds, DEFAULT_ENROLLMENT_SECONDS, 60, MAX_ENROLLMENT_SECONDS, 'expiresInSeconds', 'The lifetime in seconds');
    const unitId = req.unitId === undefined ? null : normalizeUnitId(req.unitId);
    if (unitId !== null && (unitId.length === 0 || unitId.length > 64)) {
      throw new CertfleetError(ErrorCode.invalid_request, 'A unit id is 1 to 64 characters, usually the MAC address (00:11:22:33:44:55).', { field: 'unitId' });
    }
    const now = ctx.clock.now();
    const token = ENROLLMENT_TOKEN_PREFIX + ctx.random.bytes(32).toString('base64url');
    const stored: StoredEnrollmentToken = {
      id: ctx.random.uuid(),
      usesAllowed: uses,
      usesLeft: uses,
      expiresAt: new Date(now.getTime() + seconds * 1000).toISOString(),
      unitId,
      createdBy: actor.username,
      createdAt: now.toISOString(),
      revokedAt: null,
    };
    const expectedFingerprints = await ctx.store.transaction(async (tx) => {
      const pins = req.pinCurrent === true ? (await tx.keystore.deviceEntries()).filter((e) => e.active).map((e) => e.sha256Fingerprint) : [];
      await tx.enrollment.create({ ...stored, tokenHash: hashEnrollmentToken(token) });
      await audit.ok(tx, { tokenId: stored.id, uses, expiresAt: stored.expiresAt, unitId, ...(pins.length > 0 ? { expectedFingerprints: pins } : {}) });
      return pins;
    });
    return { token, record: { ...stored, state: enrollmentTokenState(stored, now) }, expectedFingerprints };
  });
}

export async function listEnrollmentTokens(ctx: AppContext, actor: Actor): Promise<EnrollmentTokenRecord[]> {
  authorize(actor, Permission.read);
  const now = ctx.clock.now();
  return (await ctx.store.enrollment.list()).map((t) => ({ ...t, state: enrollmentTokenState(t, now) }));
}

export async function revokeEnrollmentToken(ctx: AppContext, actor: Actor, id: string): Promise<void> {
  await auditedChange(ctx, actor, 'enrollment.revoke', id, async (audit) => {
    authorize(actor, Permission.manageCertificates);
    await ctx.store.transaction(async (tx) => {
      if (!(await tx.enrollment.revoke(id, ctx.clock.now().toISOString()))) {
        throw new CertfleetError(
          ErrorCode.enrollment_token_not_found,
          `There is no enrollment token with the id "${id.slice(0, 80)}". List them with \`certfleet enroll list\`.`,
          { id },
        );
      }
      await audit.ok(tx);
    });
  });
}
