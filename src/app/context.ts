/**
 * What every use case receives: the store, the clock, the key sealer, the key-pair source, and
 * who is acting. Use cases authorise, decide with the domain, and write in one transaction.
 */
import { CertfleetError, ErrorCode, isCertfleetError } from '../domain/errors.js';
import { roleAllows, type Permission, type Role } from '../domain/roles.js';
import type { KeyPairSource } from '../crypto/key-generation.js';
import type { KeySealer } from '../crypto/key-sealer.js';
import { AuditResult, type Clock, type Repos, type Store } from './ports.js';

/** Told after a keystore change has been committed; the device channel and the reconciler listen. */
export interface KeystoreChange {
  readonly revision: number;
  readonly defaultChanged: boolean;
}

export interface AppContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly sealer: KeySealer;
  readonly keyPairs: KeyPairSource;
  /** The subject CN of generated certificates when the caller names none (K5). */
  readonly hostName: string;
  readonly onKeystoreChanged: (change: KeystoreChange) => void;
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
    await ctx.store.audit.append({
      at: at(),
      actor: actor.username,
      action,
      target,
      result: refused ? AuditResult.refused : AuditResult.failed,
      code: refused ? e.code : ErrorCode.internal,
      details: refused ? e.details : {},
    });
    throw e;
  }
}
