/**
 * Registration (R1, R4, R5): a device with an enrollment token gets a credential and the
 * certificate it is to pin. In one transaction: check the token, decide what the device
 * supports (its declaration, else the compatibility table, else the whole allow-list), choose the
 * certificate (the default if it fits, else the first active entry from the top that does), store
 * the device, and take one use of the token (atomically; racing registrations cannot share the
 * last use). A refusal rolls all of it back, so no use is taken. Every attempt, registered or
 * refused, is in the audit log.
 *
 * Refusals come from strangers too (anyone who reaches the device port): a transport that passes a
 * `RefusalSink` gets them instead of the audit log, to aggregate (the device channel writes one entry
 * per source address and minute, with a count). Faults of the server are always written at once.
 *
 * R4: a device that presents an MD5-signed certificate left from an older installation is given
 * a new one by R1 like any other; the leftover is recorded (`device.md5-certificate-replaced`).
 */
import { createHash } from 'node:crypto';
import { certificateFacts, normalizeCertificateInput } from '../crypto/certificate-facts.js';
import { isMd5Based } from '../domain/algorithms.js';
import type { CertificateFacts } from '../domain/certificate.js';
import { algorithmBit, algorithmMask, algorithmsOfMask, matchRule, supportedAlgorithms } from '../domain/compatibility.js';
import { CertfleetError, ErrorCode, isCertfleetError } from '../domain/errors.js';
import { selectCertificate } from '../domain/selection.js';
import type { AppContext, Random } from './context.js';
import { toCachedCertificate, type DeviceCertificate } from './device-keystore.js';
import { hashEnrollmentToken, normalizeUnitId } from './enrollment.js';
import { AuditResult } from '../domain/vocabularies.js';
import type { DeviceEntry, DeviceRecord } from './records.js';
import type { Repos } from './store.js';

/** A device as registration writes it: its identity as recorded, and what only the store keeps. */
export interface NewDevice
  extends Pick<DeviceRecord, 'id' | 'unitId' | 'name' | 'osFamily' | 'osVersion' | 'profile' | 'declaredAlgorithms' | 'certificateId' | 'registeredAt'> {
  /**
   * Bit mask of the supported algorithms over the allow-list (`algorithmMask`). Absent: the mask
   * of the declared algorithms, else every algorithm (a device of unknown firmware, as
   * `supportedAlgorithms` treats it). Registration always gives it.
   */
  readonly supportedMask?: number;
  /** SHA-256 (hex) of the device credential; the credential itself is never stored. */
  readonly credentialHash: string;
}

/** Registration writes the device in one insert. */
export interface DeviceRegistrationRepo {
  /** Ids and credentials are random, so a unique violation here is a bug and is thrown as it is. */
  insert(device: NewDevice): Promise<void>;
  /** Removes the unit's records that were waiting for it to register again (B2); returns how many. */
  removeReRegistered(unitId: string): Promise<number>;
}

/** Registration takes one use of an enrollment token. */
export interface EnrollmentUseRepo {
  /** The id of the token if `consume` would take a use now; writes nothing and locks nothing. */
  findUsable(tokenHash: string, unitId: string, now: string): Promise<string | null>;
  /**
   * Takes one use of the token, atomically (one conditional UPDATE, race-free on both databases):
   * only if it has a use left, is not revoked, has not expired at `now`, and is unbound or bound to
   * `unitId`. Returns the token's id, or null when it cannot be used. Inside a transaction that
   * rolls back, the use is given back.
   */
  consume(tokenHash: string, unitId: string, now: string): Promise<string | null>;
}

export type { DeviceCertificate } from './device-keystore.js';

/** Where a refused registration goes instead of one audit entry each (see the module header). */
export interface RefusalSink {
  refused(refusal: { readonly at: string; readonly code: ErrorCode; readonly details: Readonly<Record<string, unknown>> }): void;
}

export interface RegisterOptions {
  readonly refusals?: RefusalSink;
}

export const DEVICE_CREDENTIAL_PREFIX = 'cfd_';

export interface RegisterRequest {
  readonly enrollmentToken: string;
  readonly unitId: string;
  readonly name: string;
  readonly osFamily: string;
  readonly osVersion: string;
  readonly profile?: string;
  readonly supportedAlgorithms?: string[];
  readonly presentedCertificatePem?: string;
}

export interface RegisterResult {
  readonly deviceId: string;
  /** Shown once; the server keeps only its SHA-256. */
  readonly credential: string;
  readonly certificate: DeviceCertificate & { readonly pem: string };
  /**
   * Set when the device presented an MD5-signed certificate (R4), for the transport's log; the
   * device itself needs nothing more than `certificate`.
   */
  readonly replacedMd5Certificate?: { readonly sha256Fingerprint: string; readonly signatureAlgorithm: string; readonly subject: string };
}

/** `cfd_<device id>.<43 characters of base64url>`: the id tells which record, the secret proves it. */
export function newDeviceCredential(random: Random, deviceId: string): string {
  return `${DEVICE_CREDENTIAL_PREFIX}${deviceId}.${random.bytes(32).toString('base64url')}`;
}

export function hashDeviceCredential(credential: string): string {
  return createHash('sha256').update(credential, 'utf8').digest('hex');
}

const LIMITS = { unitId: 64, name: 128, osFamily: 64, osVersion: 64, profile: 64, algorithm: 64, algorithms: 32, pem: 65_536 } as const;

function invalid(field: string, message: string): CertfleetError {
  return new CertfleetError(ErrorCode.invalid_request, message, { field });
}

function text(value: unknown, field: keyof typeof LIMITS): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > LIMITS[field]) {
    throw invalid(field, `${field} must be a text of 1 to ${LIMITS[field]} characters.`);
  }
  return value.trim();
}

interface CheckedRequest {
  readonly unitId: string;
  readonly name: string;
  readonly osFamily: string;
  readonly osVersion: string;
  readonly profile: string | null;
  readonly declared: readonly string[] | null;
}

function checkRequest(req: RegisterRequest): CheckedRequest {
  const declared = req.supportedAlgorithms;
  if (declared !== undefined) {
    if (!Array.isArray(declared) || declared.length > LIMITS.algorithms || declared.some((a) => typeof a !== 'string' || a.length === 0 || a.length > LIMITS.algorithm)) {
      throw invalid('supportedAlgorithms', `supportedAlgorithms must be a list of at most ${LIMITS.algorithms} algorithm names (such as "SHA256withRSA").`);
    }
  }
  if (req.presentedCertificatePem !== undefined && (typeof req.presentedCertificatePem !== 'string' || req.presentedCertificatePem.length > LIMITS.pem)) {
    throw invalid('presentedCertificate', `presentedCertificate must be one PEM certificate of at most ${LIMITS.pem} characters.`);
  }
  return {
    unitId: normalizeUnitId(text(req.unitId, 'unitId')),
    name: text(req.name, 'name'),
    osFamily: text(req.osFamily, 'osFamily'),
    osVersion: text(req.osVersion, 'osVersion'),
    profile: req.profile === undefined ? null : text(req.profile, 'profile'),
    declared: declared !== undefined && declared.length > 0 ? [...new Set(declared)] : null,
  };
}

function tokenInvalid(): CertfleetError {
  return new CertfleetError(
    ErrorCode.enrollment_token_invalid,
    'The enrollment token is unknown, used up, expired, revoked, or bound to another unit id. ' +
      'Ask an administrator for a new one (`certfleet enroll create`).',
  );
}

function noCompatibleCertificate(supported: readonly string[], lacking: readonly string[]): CertfleetError {
  const has = supported.length > 0 ? supported.join(', ') : 'none of the allow-list';
  return new CertfleetError(
    ErrorCode.no_compatible_certificate,
    `The device was not registered: its firmware lacks ${lacking.join(', ')}, the signature algorithm${lacking.length === 1 ? '' : 's'} ` +
      `of every active certificate (it supports ${has}). An administrator can generate or activate a certificate signed ` +
      `with one of the algorithms it supports${supported.length > 0 ? ` (for example ${supported.includes('SHA256withRSA') ? 'SHA256withRSA' : supported[0]})` : ''}; ` +
      'then register the device again.',
    { lacking: [...lacking], supported: [...supported] },
  );
}

/** The certificate the device presented, if it is readable; a broken one is noted, not refused. */
function presentedFacts(pem: string | undefined): CertificateFacts | 'unreadable' | null {
  if (pem === undefined) return null;
  try {
    return certificateFacts(normalizeCertificateInput(pem));
  } catch {
    return 'unreadable';
  }
}

/**
 * The keystore, after making sure the rotation target is the default. Between a default change
 * and the reconciler's next pass, the target still names the old default, and a new device given
 * the new default would have the old one pending (storage/pending.ts); moving the target first is
 * the pass's own act, done early. The target row is locked before the default is read again, so a
 * pass and a registration cannot write an older default over a newer one.
 */
async function keystoreWithCurrentTarget(tx: Repos, now: string): Promise<DeviceEntry[]> {
  const entries = await tx.keystore.deviceEntries();
  const target = await tx.rotation.target();
  if (target.certificateId === null || target.certificateId === entries[0]?.id) return entries;
  const locked = await tx.rotation.target(true);
  const fresh = await tx.keystore.deviceEntries();
  const top = fresh[0];
  if (top && top.id !== locked.certificateId) await tx.rotation.setTarget(top.id, algorithmBit(top.signatureAlgorithm), now);
  return fresh;
}

export async function registerDevice(ctx: AppContext, req: RegisterRequest, opts: RegisterOptions = {}): Promise<RegisterResult> {
  const at = () => ctx.clock.now().toISOString();
  const about = {
    unitId: typeof req.unitId === 'string' ? req.unitId.slice(0, LIMITS.unitId) : null,
    name: typeof req.name === 'string' ? req.name.slice(0, LIMITS.name) : null,
    osFamily: typeof req.osFamily === 'string' ? req.osFamily.slice(0, LIMITS.osFamily) : null,
    osVersion: typeof req.osVersion === 'string' ? req.osVersion.slice(0, LIMITS.osVersion) : null,
    profile: typeof req.profile === 'string' ? req.profile.slice(0, LIMITS.profile) : null,
  };
  try {
    const r = checkRequest(req);
    const presented = presentedFacts(req.presentedCertificatePem);
    const md5 = presented !== null && presented !== 'unreadable' && isMd5Based(presented.signatureAlgorithm) ? presented : null;
    const deviceId = ctx.random.uuid();
    const credential = newDeviceCredential(ctx.random, deviceId);
    const actor = `device:${deviceId}`;
    const cache = ctx.deviceCertificates;

    const chosen = await ctx.store.transaction(async (tx) => {
      const now = at();
      const tokenHash = typeof req.enrollmentToken === 'string' && req.enrollmentToken.length <= 256 ? hashEnrollmentToken(req.enrollmentToken) : null;
      // The token is checked first (a caller without one learns nothing else) but its use is taken
      // last, after the audit entry, so that the token's row lock is held only for the commit:
      // registrations that share an N-use token do not queue behind each other's work.
      const tokenId = tokenHash === null ? null : await tx.enrollment.findUsable(tokenHash, r.unitId, now);
      if (tokenHash === null || tokenId === null) throw tokenInvalid();
      const rules = await tx.compatibility.list();
      // The mask is what the rotation planner sees; selecting from the same set keeps the two agreed.
      const mask = algorithmMask(supportedAlgorithms(rules, { osFamily: r.osFamily, osVersion: r.osVersion, declaredAlgorithms: r.declared }));
      const supported = algorithmsOfMask(mask);
      const entries = await keystoreWithCurrentTarget(tx, now);
      cache.remember(entries);
      const selection = selectCertificate(entries, supported);
      if (selection.kind === 'none') throw noCompatibleCertificate(supported, selection.lacking);
      const entry = selection.entry;
      const profile = r.profile ?? matchRule(rules, r.osFamily, r.osVersion)?.profile ?? null;
      // A unit registering again after a restore replaces the record that was waiting for it.
      await tx.devices.removeReRegistered(r.unitId);
      await tx.devices.insert({
        id: deviceId,
        unitId: r.unitId,
        name: r.name,
        osFamily: r.osFamily,
        osVersion: r.osVersion,
        profile,
        declaredAlgorithms: r.declared,
        supportedMask: mask,
        certificateId: entry.id,
        credentialHash: hashDeviceCredential(credential),
        registeredAt: now,
      });
      if (md5) {
        await tx.audit.append({
          at: now,
          actor,
          action: 'device.md5-certificate-replaced',
          target: deviceId,
          result: AuditResult.ok,
          code: null,
          details: {
            unitId: r.unitId,
            presentedSubject: md5.subject,
            presentedSignatureAlgorithm: md5.signatureAlgorithm,
            presentedSha256Fingerprint: md5.sha256Fingerprint,
            newAlias: entry.alias,
          },
        });
      }
      await tx.audit.append({
        at: now,
        actor,
        action: 'device.register',
        target: r.unitId,
        result: AuditResult.ok,
        code: null,
        details: {
          deviceId,
          name: r.name,
          osFamily: r.osFamily,
          osVersion: r.osVersion,
          profile,
          supportedAlgorithms: supported,
          declared: r.declared !== null,
          alias: entry.alias,
          selection: selection.reason,
          enrollmentTokenId: tokenId,
          ...(presented === 'unreadable' ? { presentedCertificate: 'unreadable' } : {}),
        },
      });
      // Its last use may have gone to another registration meanwhile: then all of this rolls back.
      if ((await tx.enrollment.consume(tokenHash, r.unitId, now)) === null) throw tokenInvalid();
      return entry;
    });

    const certificate = toCachedCertificate(chosen);
    return {
      deviceId,
      credential,
      certificate: { alias: certificate.alias, sha256Fingerprint: certificate.sha256Fingerprint, signatureAlgorithm: certificate.signatureAlgorithm, pem: certificate.pem },
      ...(md5 ? { replacedMd5Certificate: { sha256Fingerprint: md5.sha256Fingerprint, signatureAlgorithm: md5.signatureAlgorithm, subject: md5.subject } } : {}),
    };
  } catch (e) {
    const refused = isCertfleetError(e);
    if (refused && opts.refusals) {
      opts.refusals.refused({ at: at(), code: e.code, details: { ...about, ...e.details } });
      throw e;
    }
    await ctx.store.audit.append({
      at: at(),
      actor: 'anonymous',
      action: 'device.register',
      target: about.unitId,
      result: refused ? AuditResult.refused : AuditResult.failed,
      code: refused ? e.code : ErrorCode.internal,
      details: { ...about, ...(refused ? e.details : {}) },
    });
    throw e;
  }
}
