/**
 * The keystore as the device side sees it.
 *
 * - `loadDeviceKeystore`: what the device channel serves — every entry with its certificate and
 *   decrypted key (PEM), which stay in the channel's memory; `keystoreRevision` is the cheap
 *   question the channel polls to learn of changes made on other nodes (H2).
 * - `DeviceCertificateCache` (`ctx.deviceCertificates`, one per context): the certificates by id
 *   and by fingerprint, so that a check-in costs no keystore query. A certificate never changes
 *   once stored (alias, DER and facts are fixed; only position and activity move, which check-ins
 *   do not need), and a device can only reference an entry that exists (foreign keys), so an
 *   entry found in the cache is always right; a miss reloads.
 */
import { toPem } from '../crypto/pem.js';
import { fingerprintHex } from '../domain/device-names.js';
import type { Clock } from '../domain/time.js';
import type { AppContext } from './context.js';
import type { DeviceEntry, KeyMaterial } from './records.js';

/** The keystore as the device side reads it. */
export interface DeviceKeystoreRepo {
  /** The keystore revision; every change raises it, so other nodes learn of changes by comparing it. */
  revision(): Promise<number>;
  /** Every entry's certificate and sealed key, in priority order (the device channel's view). */
  allKeyMaterial(): Promise<KeyMaterial[]>;
  /**
   * Every entry in priority order with what devices need (no usage counts, no key): cheap enough
   * to read on each registration, whatever the size of the fleet.
   */
  deviceEntries(): Promise<DeviceEntry[]>;
}

export interface DeviceKeystoreEntry {
  readonly id: string;
  readonly alias: string;
  readonly position: number;
  readonly active: boolean;
  readonly signatureAlgorithm: string;
  /** SHA-256 of the certificate's DER, 64 lower-case hex characters. */
  readonly sha256Hex: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface DeviceKeystore {
  readonly revision: number;
  readonly entries: readonly DeviceKeystoreEntry[];
}

/** A certificate as a device is told about it. */
export interface DeviceCertificate {
  readonly alias: string;
  /** Upper-case hex with colons, as keytool prints it. */
  readonly sha256Fingerprint: string;
  readonly signatureAlgorithm: string;
}

export interface CachedDeviceCertificate extends DeviceCertificate {
  readonly id: string;
  readonly sha256Hex: string;
  readonly pem: string;
}

/** Everything the channel presents, keys included; read in one transaction so that it is consistent. */
export async function loadDeviceKeystore(ctx: AppContext): Promise<DeviceKeystore> {
  const { revision, material, entries } = await ctx.store.transaction(async (tx) => ({
    revision: await tx.keystore.revision(),
    material: await tx.keystore.allKeyMaterial(),
    entries: await tx.keystore.deviceEntries(),
  }));
  const keys = new Map(material.map((m) => [m.id, m]));
  return {
    revision,
    entries: entries.flatMap((e) => {
      const m = keys.get(e.id);
      if (!m) return []; // both lists come from one transaction; this cannot happen
      return [
        {
          id: e.id,
          alias: e.alias,
          position: e.position,
          active: e.active,
          signatureAlgorithm: e.signatureAlgorithm,
          sha256Hex: fingerprintHex(e.sha256Fingerprint),
          certPem: toPem(e.certDer, 'CERTIFICATE'),
          keyPem: toPem(ctx.sealer.open(m.sealedKey, m.id), 'PRIVATE KEY'),
        },
      ];
    }),
  };
}

export function keystoreRevision(ctx: AppContext): Promise<number> {
  return ctx.store.keystore.revision();
}

export function toCachedCertificate(e: DeviceEntry): CachedDeviceCertificate {
  return {
    id: e.id,
    alias: e.alias,
    sha256Fingerprint: e.sha256Fingerprint,
    signatureAlgorithm: e.signatureAlgorithm,
    sha256Hex: fingerprintHex(e.sha256Fingerprint),
    pem: toPem(e.certDer, 'CERTIFICATE'),
  };
}

/** A fingerprint that is not in the keystore reloads the cache at most this often. */
const MISS_RELOAD_INTERVAL_MS = 1000;

export class DeviceCertificateCache {
  private byId = new Map<string, CachedDeviceCertificate>();
  private byHex = new Map<string, CachedDeviceCertificate>();
  private loading: Promise<void> | null = null;
  private lastMissReload = 0;

  constructor(
    private readonly repo: Pick<DeviceKeystoreRepo, 'deviceEntries'>,
    private readonly clock: Clock,
  ) {}

  /** Adds entries read elsewhere (a registration reads them inside its transaction). */
  remember(entries: readonly DeviceEntry[]): void {
    for (const e of entries) {
      if (this.byId.has(e.id)) continue;
      const c = toCachedCertificate(e);
      this.byId.set(c.id, c);
      this.byHex.set(c.sha256Hex, c);
    }
  }

  private reload(): Promise<void> {
    this.loading ??= this.repo
      .deviceEntries()
      .then((entries) => {
        const byId = new Map<string, CachedDeviceCertificate>();
        const byHex = new Map<string, CachedDeviceCertificate>();
        for (const e of entries) {
          const c = this.byId.get(e.id) ?? toCachedCertificate(e);
          byId.set(c.id, c);
          byHex.set(c.sha256Hex, c);
        }
        // Deleted entries go: nothing can reference them any more.
        this.byId = byId;
        this.byHex = byHex;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  /** The certificate a device references; it exists, because the foreign keys say so. */
  async get(id: string): Promise<CachedDeviceCertificate> {
    const hit = this.byId.get(id);
    if (hit) return hit;
    await this.reload();
    const found = this.byId.get(id);
    if (!found) throw new Error(`device keystore: certificate ${id} referenced by a device is not in the keystore`);
    return found;
  }

  /**
   * The keystore entry with this SHA-256 (64 hex characters, any case), or null. A miss reloads,
   * at most once a second unless `fresh` (a device confirming the certificate it was just given).
   */
  async findBySha256Hex(hex: string, fresh = false): Promise<CachedDeviceCertificate | null> {
    const key = hex.toLowerCase();
    const hit = this.byHex.get(key);
    if (hit) return hit;
    const now = this.clock.now().getTime();
    if (!fresh && now - this.lastMissReload < MISS_RELOAD_INTERVAL_MS) return null;
    this.lastMissReload = now;
    await this.reload();
    return this.byHex.get(key) ?? null;
  }
}

/** What a device is told about a certificate. */
export function deviceCertificateView(c: CachedDeviceCertificate): DeviceCertificate {
  return { alias: c.alias, sha256Fingerprint: c.sha256Fingerprint, signatureAlgorithm: c.signatureAlgorithm };
}
