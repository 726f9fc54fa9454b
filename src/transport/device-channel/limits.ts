/**
 * What strangers may cost the device port, with their defaults (README, Security; `certfleet serve
 * --device-…` flags). A module of its own so that the command line reads the defaults without
 * loading the channel.
 */
import { availableParallelism } from 'node:os';

/**
 * Worker threads for full handshakes (handshake-threads.ts): one per core by default, at most 8;
 * the event loop's own share of a handshake is small beside its signature.
 */
export const DEFAULT_HANDSHAKE_THREADS = Math.min(8, availableParallelism());

/** The most `--device-handshake-threads` takes. */
export const MAX_HANDSHAKE_THREADS = 64;
export interface DeviceChannelLimits {
  /** From TCP accept to a finished TLS handshake, at most (an absolute deadline). */
  readonly handshakeDeadlineMs: number;
  /** Open connections, handshaking or not; past it a new connection is closed at once. */
  readonly maxConnections: number;
  /** Connections whose handshake has not finished; past it a new connection is closed at once. */
  readonly maxHandshakes: number;
  /** Registration attempts one source may make at once … */
  readonly registrationBurst: number;
  /** … and gets back per minute; a successful registration does not count. */
  readonly registrationsPerMinute: number;
  /** Sources the throttle remembers (least recently seen forgotten first). */
  readonly maxThrottledSources: number;
  /** Audit entries of refused registrations per minute, one per source; the rest share one more. */
  readonly maxRefusalSourcesPerMinute: number;
  /**
   * How long a first contact turned away at its ClientHello (its source has no registration
   * attempt left) is held before its alert: the flooder's connection waits, the server does no
   * work for it meanwhile. Held connections count as unfinished handshakes (`maxHandshakes`).
   */
  readonly refusalHoldMs: number;
}

export const DEVICE_CHANNEL_LIMITS: DeviceChannelLimits = {
  handshakeDeadlineMs: 10_000,
  maxConnections: 20_000,
  maxHandshakes: 2_000,
  registrationBurst: 30,
  registrationsPerMinute: 30,
  maxThrottledSources: 100_000,
  maxRefusalSourcesPerMinute: 1_000,
  refusalHoldMs: 1_000,
};
