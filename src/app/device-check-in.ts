/**
 * What a registered device does over the channel (R3, R5): prove who it is, check in, confirm a
 * replacement, read its own record. No call takes a device id from the request: each acts on the
 * device its credential belongs to, so one device can never reach another's record.
 *
 * A check-in is two statements: the credential lookup (unique index) and one UPDATE that records
 * the contact and applies the pin the device presented (`outcomeOfPin`, rotation.ts):
 *
 *   pin = current          → unchanged
 *   pin = pending          → confirmed: current = pin, pending = ∅ (a lost confirmation is recovered here)
 *   pin = another entry    → adopted: current = pin (the device verified it; the record follows)
 *
 * Certificates come from a per-process cache (device-keystore.ts), so no keystore query is needed.
 */
import { colonFingerprint, fingerprintHex } from '../domain/device-names.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
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
   * The keystore entry the device pinned on this connection, if known. The record follows it
   * (domain/rotation.ts, `outcomeOfPin`): it becomes the current certificate, and a pending
   * replacement equal to it is confirmed (it ends by itself, as the device now pins the target).
   */
  readonly pinnedCertificateId: string | null;
}

/** What a check-in reads and writes: single-row statements by key, whatever the fleet's size. */
export interface DeviceCheckInRepo {
  /** The id of the device whose credential has this hash (unique index). */
  /** The device whose credential has this hash (unique index), and whether it must register again. */
  findByCredentialHash(credentialHash: string): Promise<{ readonly id: string; readonly reRegistrationReason: string | null } | null>;
  findById(id: string): Promise<DeviceRecord | null>;
  /**
   * A check-in in one statement: last contact, OS version, and the pin the device presented.
   * Returns the state afterwards, or null when the device does not exist (any more).
   */
  recordContact(id: string, contact: DeviceContact): Promise<DeviceCertificateState | null>;
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

export async function authenticateDevice(ctx: AppContext, credential: string | undefined): Promise<DeviceIdentity> {
  const id = credential === undefined ? undefined : CREDENTIAL.exec(credential)?.[1];
  if (id === undefined || credential === undefined) throw unauthenticated();
  const found = await ctx.store.devices.findByCredentialHash(hashDeviceCredential(credential));
  // The id in the credential must be the record's own: a secret never opens another record.
  if (found === null || found.id !== id) throw unauthenticated();
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
  const certificates = ctx.deviceCertificates;
  const pinned = conn.pinnedSha256Hex === null ? null : await certificates.findBySha256Hex(conn.pinnedSha256Hex);
  const state = await ctx.store.devices.recordContact(device.deviceId, {
    at: ctx.clock.now().toISOString(),
    ...(osVersion !== undefined ? { osVersion } : {}),
    pinnedCertificateId: pinned?.id ?? null,
  });
  if (!state) throw unauthenticated();
  if (osVersion !== undefined && state.declaredAlgorithms === null) {
    // New firmware may support more (or less): the table decides again; the reconciler acts on it.
    const mask = maskOfFirmware(await ctx.compatibilityRules.current(), state);
    if (mask !== state.supportedMask) await ctx.store.devices.setSupportedMask(device.deviceId, mask);
  }
  const current = await certificates.get(state.certificateId);
  const pending = state.pendingCertificateId === null ? null : await certificates.get(state.pendingCertificateId);
  return {
    deviceId: device.deviceId,
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
  const state = await ctx.store.devices.recordContact(device.deviceId, { at: ctx.clock.now().toISOString(), pinnedCertificateId: pinned.id });
  if (!state) throw unauthenticated();
  return { certificate: deviceCertificateView(pinned) };
}

export async function getOwnDevice(ctx: AppContext, device: DeviceIdentity): Promise<DeviceRecord> {
  const found = await ctx.store.devices.findById(device.deviceId);
  if (!found) throw unauthenticated();
  return found;
}
