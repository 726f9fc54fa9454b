/**
 * The device channel's view of the keystore: one TLS SecureContext per entry, and the answer to
 * "which certificate does this TLS server name get" (docs/device-protocol.md):
 *
 *   pin   → exactly that entry, active or not; unknown → null (the handshake fails)
 *   hello → the entry R1 chooses for the algorithm mask; the default when none fits
 *   other → the default
 *
 * A snapshot is immutable; the channel swaps in a new one when the keystore revision moves.
 * Contexts of entries that did not change are carried over, so a reload costs only the new keys.
 */
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { DeviceKeystore, DeviceKeystoreEntry } from '../../app/device-keystore.js';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../domain/algorithms.js';
import { algorithmMask, algorithmsOfMask } from '../../domain/compatibility.js';

/** Every bit a mask over the allow-list can have. */
const ALLOW_LIST_MASK = algorithmMask(ALLOWED_SIGNATURE_ALGORITHMS);
import type { ServerNameRequest } from '../../domain/device-names.js';
import { selectCertificate } from '../../domain/selection.js';

/** An entry the channel can present, with its ready TLS context. */
export interface ServedCertificate extends DeviceKeystoreEntry {
  readonly context: SecureContext;
}

export class ServedKeystore {
  private readonly byPin: ReadonlyMap<string, ServedCertificate>;
  /**
   * R1 per algorithm mask, computed once per mask seen (a fleet has a handful of masks). Keyed by
   * the bits of the allow-list only: a first-contact name may carry any 32-bit mask, and a stranger
   * must not grow this map with them (at most 2^8 keys for the 8 algorithms of the allow-list).
   */
  private readonly byMask = new Map<number, ServedCertificate | null>();

  constructor(
    readonly revision: number,
    /** In priority order; the first is the default. */
    readonly entries: readonly ServedCertificate[],
  ) {
    this.byPin = new Map(entries.map((e) => [e.sha256Hex, e]));
  }

  /** How many masks have their answer cached (bounded by the allow-list; for tests). */
  get cachedMasks(): number {
    return this.byMask.size;
  }

  get default(): ServedCertificate | null {
    return this.entries[0] ?? null;
  }

  bySha256Hex(sha256Hex: string): ServedCertificate | null {
    return this.byPin.get(sha256Hex) ?? null;
  }

  /** The certificate presented for a parsed server name; null only for an unknown pin (or an empty keystore). */
  resolve(request: ServerNameRequest): ServedCertificate | null {
    switch (request.kind) {
      case 'pin':
        return this.bySha256Hex(request.sha256Hex);
      case 'hello': {
        const mask = request.algorithmMask & ALLOW_LIST_MASK;
        let chosen = this.byMask.get(mask);
        if (chosen === undefined) {
          const supported = algorithmsOfMask(mask);
          const selection = selectCertificate(this.entries, supported);
          // When no active entry fits, an inactive one the firmware can verify still carries the
          // handshake, so that the registration request arrives and is refused with its reason
          // (no_compatible_certificate) instead of dying in a handshake the device cannot finish.
          chosen =
            selection.kind === 'selected'
              ? selection.entry
              : (this.entries.find((e) => supported.includes(e.signatureAlgorithm)) ?? this.default);
          this.byMask.set(mask, chosen);
        }
        return chosen;
      }
      case 'default':
        return this.default;
    }
  }
}

/** What a context is built from: the entry, its certificate and its key. */
export interface ContextSource {
  readonly id: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * The TLS context of an entry: `old`'s when it was built for the same entry and key (a reload
 * costs only the new keys), else a new one with `tlsOptions`. The channel and its handshake
 * threads (handshake-worker.ts) both build theirs here.
 */
export function contextFor(entry: ContextSource, old: (ContextSource & { readonly context: SecureContext }) | null | undefined, tlsOptions: SecureContextOptions): SecureContext {
  return old && old.id === entry.id && old.keyPem === entry.keyPem ? old.context : createSecureContext({ ...tlsOptions, cert: entry.certPem, key: entry.keyPem });
}

/**
 * Builds the snapshot for a keystore, reusing the contexts of `previous` whose certificate and key
 * are unchanged. `tlsOptions` (ticket keys, session id context, timeout, protocol floor) go into
 * every context, so that a session made under one context resumes under any of them.
 */
export function buildServedKeystore(
  keystore: DeviceKeystore,
  previous: ServedKeystore | null,
  tlsOptions: SecureContextOptions,
): ServedKeystore {
  const entries = [...keystore.entries]
    .sort((a, b) => a.position - b.position)
    .map((e): ServedCertificate => ({ ...e, context: contextFor(e, previous?.bySha256Hex(e.sha256Hex), tlsOptions) }));
  return new ServedKeystore(keystore.revision, entries);
}
