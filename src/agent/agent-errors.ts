/**
 * Everything the device agent throws. The agent stands on its own: the CLI imports these (to print
 * them, to map them to an exit code), never the other way round.
 */
import { colonFingerprint } from '../domain/device-names.js';

/** The server answered with an error document (`{"error":{"code","message","details"}}`). */
export class ServerRefusal extends Error {
  override readonly name = 'ServerRefusal';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

/** The server could not be reached or the connection broke: the agent may try the next server. */
export class ConnectionFailure extends Error {
  override readonly name = 'ConnectionFailure';
  constructor(
    message: string,
    readonly server: string,
    /** True when the request had not been sent yet, so no server can have acted on it. */
    readonly beforeRequest: boolean,
    /** The TLS alert or socket error code, when there is one. */
    readonly code: string | null,
  ) {
    super(message);
  }
}

/** The server presented another certificate than the pinned one. Never a reason to try elsewhere. */
export class PinMismatchError extends Error {
  override readonly name = 'PinMismatchError';
  constructor(
    readonly server: string,
    readonly expectedSha256Hex: string,
    readonly presentedSha256Hex: string,
  ) {
    super(
      `${server} presented the certificate with SHA-256 ${colonFingerprint(presentedSha256Hex)}, but this device pins ` +
        `${colonFingerprint(expectedSha256Hex)}. The connection was closed before anything was sent.`,
    );
  }
}

/** The firmware cannot verify the certificate's signature algorithm (a wrong assignment). */
export class CertificateNotSupportedError extends Error {
  override readonly name = 'CertificateNotSupportedError';
  constructor(
    readonly server: string,
    readonly signatureAlgorithm: string,
    readonly acceptedAlgorithms: readonly string[],
  ) {
    super(
      `${server} presented a ${signatureAlgorithm} certificate, which this firmware cannot verify ` +
        `(it supports ${acceptedAlgorithms.join(', ')}). The handshake was refused.`,
    );
  }
}

/** The agent cannot go on: a refusal or an answer that breaks the protocol. */
export class AgentError extends Error {
  override readonly name = 'AgentError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** How a failed cycle reads in one line, for logs and the simulator's error list. */
export function describeAgentError(e: unknown): { readonly code: string; readonly message: string } {
  if (e instanceof ServerRefusal) return { code: e.code, message: e.message };
  if (e instanceof AgentError) return { code: e.code, message: e.message };
  if (e instanceof ConnectionFailure) return { code: 'connection_failed', message: e.message };
  if (e instanceof CertificateNotSupportedError) return { code: 'certificate_not_supported', message: e.message };
  if (e instanceof PinMismatchError) return { code: 'pin_mismatch', message: e.message };
  return { code: 'agent_failed', message: e instanceof Error ? e.message : String(e) };
}
