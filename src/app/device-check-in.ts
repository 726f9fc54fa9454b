/**
 * What a registered device does over the channel (R3, R5): prove who it is, check in, confirm a
 * replacement, read its own record. No call takes a device id from the request: each acts on the
 * device its credential belongs to, so one device can never reach another's record.
 *
 * A check-in over the channel is one UPDATE that proves the credential and records the contact on
 * the current pin (`checkInByCredential`). The pin the device presented decides (`outcomeOfPin`, rotation.ts):
 *
 *   pin = current          → unchanged (the one UPDATE)
 *   pin = pending          → confirmed: current = pin, pending = ∅, audited `device.pin-changed`
 *                            (a lost confirmation is recovered here); a compare-and-set in one transaction
 *   pin = another entry    → refused, `pin_not_allowed`, nothing written. Until this was changed the
 *                            record "adopted" any verified pin; that let a device credential move its
 *                            record to any entry (an inactive one, one an administrator is deleting).
 *
 * Certificates come from a per-process cache (device-keystore.ts), so no keystore query is needed.
 */
import { colonFingerprint, fingerprintHex } from '../domain/device-names.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { outcomeOfPin } from '../domain/rotation.js';
import { AuditResult } from '../domain/vocabularies.js';
import { maskOfFirmware } from './compatibility.js';
import type { AppContext } from './context.js';
import { deviceCertificateView, type DeviceCertificate } from './device-keystore.js';
import type { DeviceRecord } from './records.js';
import { DEVICE_CREDENTIAL_PREFIX, hashDeviceCredential } from './register-device.js';

/** A device's certificate state after a check-in (one statement; see DeviceCheckInRepo.recordContact). */
export interface DeviceCertificateState {
  readonly certificateId: string;
  /** The pending replacement (the rotation target, storage/pending.ts). */
  readonly pendingCertificateId: string | null;
  readonly osFamily: string;
  readonly osVersion: string;
  readonly declaredAlgorithms: readonly string[] | null;
  readonly supportedMask: number;
}

export interface DeviceContact {
  readonly at: string;
  /** The OS version the device reports now; absent: unchanged. */
  readonly osVersion?: string;
  /**
   * The keystore entry the device pinned on this connection, if known (domain/rotation.ts,
   * `outcomeOfPin`): its current certificate, or its pending replacement, which is then confirmed.
   */
  readonly pinnedCertificateId: string | null;
}

/** What a check-in reads and writes: single-row statements by key, whatever the fleet's size. */
export interface DeviceCheckInRepo {
  /** The device whose credential has this hash (unique index), and whether it must register again. */
  findByCredentialHash(credentialHash: string): Promise<{ readonly id: string; readonly reRegistrationReason: string | null } | null>;
  findById(id: string): Promise<DeviceRecord | null>;
  /**
   * A check-in in one statement: last contact and OS version, written only when the device exists
   * and `pinnedCertificateId` is null or its current certificate; with `credentialHash`, also only
   * when that is the device's credential and it need not register again. Returns the state
   * afterwards, or null when nothing was written (no such device, another pin, another credential).
   */
  recordContact(id: string, contact: DeviceContact, credentialHash?: string): Promise<DeviceCertificateState | null>;
  /**
   * The confirmation of a replacement, as a compare-and-set: current `from` → `to`, only while the
   * device pins `from` and `to` is its pending replacement. Null when either no longer holds.
   */
  switchPin(id: string, from: string, to: string, contact: DeviceContact): Promise<DeviceCertificateState | null>;
  /** Writes one device's supported mask (its firmware changed what it supports). */
  setSupportedMask(id: string, mask: number): Promise<void>;
}

export type { DeviceCertificate } from './device-keystore.js';

/** How often the agent should check in; it is told on every answer. */
export const CHECK_IN_SECONDS = 60;

export interface DeviceIdentity {
  readonly deviceId: string;
}

/** What the connection tells about the device: the certificate it pinned (TLS server name). */
export interface DeviceConnection {
  /** SHA-256 of the pinned certificate, 64 hex characters; null when the device named none. */
  readonly pinnedSha256Hex: string | null;
}

export interface CheckInResult {
  readonly deviceId: string;
  readonly certificate: DeviceCertificate;
  readonly replacement: (DeviceCertificate & { readonly pem: string }) | null;
  readonly checkInSeconds: number;
}

const CREDENTIAL = new RegExp(`^${DEVICE_CREDENTIAL_PREFIX}([0-9a-f-]{36})\\.[A-Za-z0-9_-]{43}$`);

function unauthenticated(): CertfleetError {
  return new CertfleetError(
    ErrorCode.device_unauthenticated,
    'The device credential is missing or unknown. Send it as "Authorization: Bearer cfd_…", or register the device again with an enrollment token.',
  );
}

/** What a credential names before the database is asked: its device id, and the hash the record keeps. */
interface CredentialClaim {
  readonly deviceId: string;
  readonly credentialHash: string;
}

function claimOf(credential: string | undefined): CredentialClaim | null {
  const id = credential === undefined ? undefined : CREDENTIAL.exec(credential)?.[1];
  if (id === undefined || credential === undefined) return null;
  return { deviceId: id, credentialHash: hashDeviceCredential(credential) };
}

export async function authenticateDevice(ctx: AppContext, credential: string | undefined): Promise<DeviceIdentity> {
  const claim = claimOf(credential);
  if (claim === null) throw unauthenticated();
  const found = await ctx.store.devices.findByCredentialHash(claim.credentialHash);
  // The id in the credential must be the record's own: a secret never opens another record.
  if (found === null || found.id !== claim.deviceId) throw unauthenticated();
  if (found.reRegistrationReason !== null) {
    throw new CertfleetError(
      ErrorCode.re_registration_required,
      'This device must register again: the server was restored from a backup that does not let it go on as it was. Register it with a new enrollment token.',
      { reason: found.reRegistrationReason },
    );
  }
  return { deviceId: found.id };
}

function checkOsVersion(osVersion: unknown): string | undefined {
  if (osVersion === undefined) return undefined;
  if (typeof osVersion !== 'string' || osVersion.trim().length === 0 || osVersion.length > 64) {
    throw new CertfleetError(ErrorCode.invalid_request, 'osVersion must be a text of 1 to 64 characters.', { field: 'osVersion' });
  }
  return osVersion.trim();
}

export async function checkInDevice(
  ctx: AppContext,
  device: DeviceIdentity,
  conn: DeviceConnection,
  req: { osVersion?: string },
): Promise<CheckInResult> {
  const osVersion = checkOsVersion(req.osVersion);
  const state = await recordContactOnPin(ctx, device.deviceId, 'check-in', await contactOf(ctx, conn, osVersion));
  return checkInAnswer(ctx, device.deviceId, state, osVersion);
}

/**
 * The device channel's check-in: the credential is proven by the statement that records the
 * contact (`recordContact` with the credential's hash), so that the common case (a known device on
 * its current pin, or on none) is one statement, not a lookup and then an UPDATE. Anything else
 * (an unknown credential, a device that must register again, a pin to confirm or to refuse) finds
 * no row there, wrote nothing, and goes the long way: `authenticateDevice`, then `checkInDevice`.
 */
export async function checkInByCredential(
  ctx: AppContext,
  credential: string | undefined,
  conn: DeviceConnection,
  req: { osVersion?: string },
): Promise<CheckInResult> {
  const claim = claimOf(credential);
  if (claim === null) throw unauthenticated();
  const osVersion = checkOsVersion(req.osVersion);
  const state = await ctx.store.devices.recordContact(claim.deviceId, await contactOf(ctx, conn, osVersion), claim.credentialHash);
  if (state === null) return checkInDevice(ctx, await authenticateDevice(ctx, credential), conn, req);
  return checkInAnswer(ctx, claim.deviceId, state, osVersion);
}

async function contactOf(ctx: AppContext, conn: DeviceConnection, osVersion: string | undefined): Promise<DeviceContact> {
  const pinned = conn.pinnedSha256Hex === null ? null : await ctx.deviceCertificates.findBySha256Hex(conn.pinnedSha256Hex);
  return {
    at: ctx.clock.now().toISOString(),
    ...(osVersion !== undefined ? { osVersion } : {}),
    pinnedCertificateId: pinned?.id ?? null,
  };
}

async function checkInAnswer(ctx: AppContext, deviceId: string, state: DeviceCertificateState, osVersion: string | undefined): Promise<CheckInResult> {
  if (osVersion !== undefined && state.declaredAlgorithms === null) {
    // New firmware may support more (or less): the table decides again; the reconciler acts on it.
    const mask = maskOfFirmware(await ctx.compatibilityRules.current(), state);
    if (mask !== state.supportedMask) await ctx.store.devices.setSupportedMask(deviceId, mask);
  }
  const certificates = ctx.deviceCertificates;
  const current = await certificates.get(state.certificateId);
  const pending = state.pendingCertificateId === null ? null : await certificates.get(state.pendingCertificateId);
  return {
    deviceId,
    certificate: deviceCertificateView(current),
    replacement: pending === null ? null : { ...deviceCertificateView(pending), pem: pending.pem },
    checkInSeconds: CHECK_IN_SECONDS,
  };
}

/** Step 3 of the replacement (docs/device-protocol.md): on a connection that pins the new certificate. */
export async function confirmReplacement(
  ctx: AppContext,
  device: DeviceIdentity,
  conn: DeviceConnection,
  sha256Fingerprint: string,
): Promise<{ certificate: DeviceCertificate }> {
  const hex = typeof sha256Fingerprint === 'string' ? fingerprintHex(sha256Fingerprint) : '';
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new CertfleetError(ErrorCode.invalid_request, 'sha256Fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed).', {
      field: 'sha256Fingerprint',
    });
  }
  const mismatch = (why: string) =>
    new CertfleetError(ErrorCode.pin_mismatch, `${why} Reconnect pinning the new certificate, verify it, and confirm on that connection.`, {
      sha256Fingerprint: colonFingerprint(hex),
      pinned: conn.pinnedSha256Hex === null ? null : colonFingerprint(conn.pinnedSha256Hex),
    });
  if (conn.pinnedSha256Hex === null || conn.pinnedSha256Hex.toLowerCase() !== hex) {
    throw mismatch('This connection does not pin the certificate being confirmed.');
  }
  const pinned = await ctx.deviceCertificates.findBySha256Hex(hex, true);
  if (!pinned) throw mismatch('The certificate being confirmed is not in the keystore.');
  await recordContactOnPin(ctx, device.deviceId, 'confirm', { at: ctx.clock.now().toISOString(), pinnedCertificateId: pinned.id });
  return { certificate: deviceCertificateView(pinned) };
}

/** How many times a confirmation races a rotation pass (or another check-in) before giving up. */
const SWITCH_ATTEMPTS = 3;

/**
 * Records a contact under the rule of `outcomeOfPin`: the common case (the current pin, or none) is
 * one UPDATE; a confirmation is a compare-and-set with its audit entry in one transaction; any
 * other pin is refused and writes nothing.
 */
async function recordContactOnPin(ctx: AppContext, deviceId: string, via: 'check-in' | 'confirm', contact: DeviceContact): Promise<DeviceCertificateState> {
  // A check-in is nearly always on the current pin: the one UPDATE first. A confirmation nearly
  // never is (it pins the replacement): it reads the record first instead of an UPDATE that misses.
  const state = via === 'check-in' ? await ctx.store.devices.recordContact(deviceId, contact) : null;
  if (state) return state;
  const pinnedId = contact.pinnedCertificateId;
  if (pinnedId === null) throw unauthenticated(); // nothing written without a pin: the device is gone
  for (let attempt = 0; attempt < SWITCH_ATTEMPTS; attempt++) {
    // Read, decide, then write by compare-and-set: a rotation pass or another check-in in between
    // makes the write miss, and the loop decides again on what is there now. (The certificates are
    // read before the transaction: a cache miss inside it would wait for the connection it holds.)
    const record = await ctx.store.devices.findById(deviceId);
    if (!record) throw unauthenticated();
    const outcome = outcomeOfPin(record, pinnedId);
    if (outcome.kind === 'refused') throw await pinNotAllowed(ctx, record);
    if (outcome.kind === 'unchanged') {
      const state = await ctx.store.devices.recordContact(deviceId, contact);
      if (state) return state;
      continue;
    }
    const from = await ctx.deviceCertificates.get(record.certificateId);
    const to = await ctx.deviceCertificates.get(outcome.certificateId);
    const switched = await ctx.store.transaction(async (tx) => {
      const after = await tx.devices.switchPin(deviceId, from.id, to.id, contact);
      if (after) {
        await tx.audit.append({
          at: contact.at,
          actor: `device:${deviceId}`,
          action: 'device.pin-changed',
          target: deviceId,
          result: AuditResult.ok,
          code: null,
          details: { unitId: record.unitId, from: from.alias, to: to.alias, toSha256Fingerprint: to.sha256Fingerprint, via },
        });
      }
      return after;
    });
    if (switched) return switched;
  }
  // Each attempt lost a race with a rotation pass that moved the pending replacement: the device
  // learns the new one at its next check-in on its current pin.
  throw new CertfleetError(ErrorCode.pin_not_allowed, 'The replacement changed while it was being confirmed. Check in again on the current certificate.', {});
}

async function pinNotAllowed(ctx: AppContext, record: DeviceRecord): Promise<CertfleetError> {
  const current = await ctx.deviceCertificates.get(record.certificateId);
  const pending = record.pendingCertificateId === null ? null : await ctx.deviceCertificates.get(record.pendingCertificateId);
  return new CertfleetError(
    ErrorCode.pin_not_allowed,
    'This connection pins a certificate that is neither the device\'s current certificate nor its pending replacement. ' +
      'Connect pinning the current one; if the device no longer has it, register it again with an enrollment token.',
    {
      current: { alias: current.alias, sha256Fingerprint: current.sha256Fingerprint },
      pending: pending === null ? null : { alias: pending.alias, sha256Fingerprint: pending.sha256Fingerprint },
    },
  );
}

export async function getOwnDevice(ctx: AppContext, device: DeviceIdentity): Promise<DeviceRecord> {
  const found = await ctx.store.devices.findById(device.deviceId);
  if (!found) throw unauthenticated();
  return found;
}
