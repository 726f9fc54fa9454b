/**
 * What every use case receives: the store, the clock, the random source, the key sealer, the
 * key-pair source, the caches the context owns, the rotation runner, and who is acting. Use cases
 * authorise, decide with the domain, and write in one transaction. The ports are declared here,
 * next to the code that uses them; src/main wires the real implementations (src/main/system.ts),
 * tests deterministic ones (test/support/).
 */
import { CertfleetError, ErrorCode, isCertfleetError } from '../domain/errors.js';
import { roleAllows, type Permission, type Role } from '../domain/roles.js';
import type { Clock } from '../domain/time.js';
import type { KeyPairSource, KeystoreReader } from './certificates.js';
import type { CompatibilityRules } from './compatibility.js';
import type { DeviceCertificateCache } from './device-keystore.js';
import { AuditResult } from '../domain/vocabularies.js';
import type { AuditEvent, NewAuditEvent } from './records.js';
import type { RotationRunner } from './rotation.js';
import type { Repos, Store } from './store.js';


/** Where ids, tokens and credentials come from; the real one is Node's CSPRNG (src/main/system.ts). */
export interface Random {
  /** A random (version 4) UUID. */
  uuid(): string;
  /** `n` random bytes. */
  bytes(n: number): Buffer;
}

/**
 * Private keys at rest (K11): sealed under the master key, bound to the record they belong to
 * (`aad`, the certificate id). crypto/key-sealer.ts implements it with AES-256-GCM.
 */
export interface KeySealing {
  seal(plain: Buffer, aad: string): Buffer;
  /** Throws when `sealed` was made under another master key or for another record. */
  open(sealed: Buffer, aad: string): Buffer;
  /** A value only this master key opens (master-key-check.ts). */
  checkValue(): string;
  verifyCheckValue(value: string): boolean;
}

/** Told after a keystore change has been committed; the device channel and the reconciler listen. */
export interface KeystoreChange {
  readonly revision: number;
  readonly defaultChanged: boolean;
}

/** Writes audit events; the log itself is read through audit-log.ts. */
export interface AuditTrail {
  append(event: NewAuditEvent): Promise<void>;
}

/** The audit log as a whole, for the store (audit-log.ts reads, everything else appends). */
export interface AuditRepo extends AuditTrail {
  /** Newest first; `beforeId` pages back. */
  list(query: { readonly limit: number; readonly beforeId?: number }): Promise<AuditEvent[]>;
}

export interface AppContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly sealer: KeySealing;
  readonly keyPairs: KeyPairSource;
  /** Reads imported keystore files off the event loop (K6; crypto/import-pool.ts). */
  readonly keystoreReader: KeystoreReader;
  /** The subject CN of generated certificates when the caller names none (K5). */
  readonly hostName: string;
  readonly onKeystoreChanged: (change: KeystoreChange) => void;
  /** Runs rotation passes (R3): the reconciler in a server, a one-shot runner elsewhere. */
  readonly rotation: RotationRunner;
  /** The compatibility table as check-ins read it, cached (compatibility.ts). */
  readonly compatibilityRules: CompatibilityRules;
  /** The keystore's certificates as devices reference them, cached (device-keystore.ts). */
  readonly deviceCertificates: DeviceCertificateCache;
  /** Told when the audit entry of a failed change could not be written (serve: the error log). */
  readonly onAuditFailure?: (error: unknown, entry: { readonly action: string; readonly target: string | null; readonly code: ErrorCode }) => void;
}

export interface Actor {
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  /** The API token this call came with, so that logout can revoke exactly it. */
  readonly tokenId: string | null;
}

/** The server itself, for changes it makes on its own (first start). */
export const SYSTEM_ACTOR: Actor = { userId: 'system', username: 'system', role: 'admin', tokenId: null };

export function authorize(actor: Actor, permission: Permission): void {
  if (!roleAllows(actor.role, permission)) {
    throw new CertfleetError(
      ErrorCode.forbidden,
      `Your role "${actor.role}" may not do this (it needs the permission "${permission}"). Ask an administrator.`,
      { role: actor.role, permission },
    );
  }
}

export interface AuditWriter {
  /** Records success inside the transaction that made the change, so both land together. */
  ok(tx: Repos, details?: Readonly<Record<string, unknown>>): Promise<void>;
}

/**
 * Runs a change so that it is always in the audit log: success is written by the body inside its
 * own transaction (`audit.ok(tx)`); a refusal or failure is written afterwards, once the
 * transaction has rolled back. Error details never hold secrets, so they can be kept.
 */
export async function auditedChange<T>(
  ctx: AppContext,
  actor: Actor,
  action: string,
  target: string | null,
  body: (audit: AuditWriter) => Promise<T>,
): Promise<T> {
  const at = () => ctx.clock.now().toISOString();
  try {
    return await body({
      ok: (tx, details = {}) =>
        tx.audit.append({ at: at(), actor: actor.username, action, target, result: AuditResult.ok, code: null, details }),
    });
  } catch (e) {
    const refused = isCertfleetError(e);
    try {
      await ctx.store.audit.append({
        at: at(),
        actor: actor.username,
        action,
        target,
        result: refused ? AuditResult.refused : AuditResult.failed,
        code: refused ? e.code : ErrorCode.internal,
        details: refused ? e.details : {},
      });
    } catch (auditError) {
      // The caller must learn why the change failed, not that the log of it failed too (the
      // database that refused the change may well refuse the audit row for the same reason).
      ctx.onAuditFailure?.(auditError, { action, target, code: refused ? e.code : ErrorCode.internal });
    }
    throw e;
  }
}
