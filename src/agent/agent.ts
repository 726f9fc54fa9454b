/**
 * The device agent (R6): one device's side of docs/device-protocol.md. `certfleet agent` runs one
 * with its state in a file; `certfleet simulate` runs thousands with their state in memory.
 *
 * One cycle:
 *   not registered → first contact: SNI <mask>.hello…, check the algorithm (no pin yet), register,
 *                    store id + credential + the certificate (pin), confirm over a pinned connection;
 *                    with expected fingerprints (L3): SNI pinning each of them in turn, and the token
 *                    goes only over a connection that presented one of them
 *   next stored    → check in pinning next: the server takes that as the confirmation → promote
 *   check in       → pinning the current certificate; a replacement is stored as next, a connection
 *                    pinning it is opened and verified, the replacement confirmed, then promoted
 *
 * Fail-over: a server that cannot be reached, or whose connection breaks, is skipped for the next
 * one of the list (a request that may have been acted on is retried elsewhere only when repeating
 * it is harmless: check-in and confirm, never register). A pin mismatch or a certificate the
 * firmware cannot verify ends the cycle with an error: never a reason to try someone else.
 */
import { colonFingerprint, helloServerName, pinServerName, fingerprintHex } from '../domain/device-names.js';
import type { AgentState, PinnedCertificate, StateStore } from './agent-state.js';
import type { FirmwareProfile } from './profiles.js';
import { AgentError, CertificateNotSupportedError, ConnectionFailure, ServerRefusal } from './agent-errors.js';
import { DeviceConnection, describeCertificatePem, type CertificateCheck } from './tls-client.js';
import { formatServer, type ServerAddress } from './servers.js';

export const DEVICE_PATHS = {
  register: '/device/v1/register',
  checkIn: '/device/v1/check-in',
  confirm: '/device/v1/confirm',
  me: '/device/v1/me',
} as const;

export type AgentEvent =
  | { readonly kind: 'registered'; readonly deviceId: string; readonly certificate: PinnedCertificate; readonly presentedSha256: string | null }
  | { readonly kind: 'checked-in'; readonly certificate: PinnedCertificate }
  | { readonly kind: 'replacement-received'; readonly certificate: PinnedCertificate }
  | { readonly kind: 'replacement-confirmed'; readonly certificate: PinnedCertificate; readonly by: 'confirm' | 'check-in' }
  | { readonly kind: 'fail-over'; readonly server: string; readonly message: string }
  | { readonly kind: 're-registering'; readonly reason: string }
  | { readonly kind: 'handshake'; readonly resumed: boolean };

export interface AgentOptions {
  readonly servers: readonly ServerAddress[];
  readonly profile: FirmwareProfile;
  readonly timeoutMs?: number;
  /** R4: the server certificate an older installation left on the device, sent at registration. */
  readonly presentedCertificatePem?: string;
  /**
   * L3: the SHA-256 fingerprints (any spelling) the device must accept at its first contact, from
   * the token file or --expect-fingerprint. Empty or absent: the first server that answers is
   * trusted (trust on first use).
   */
  readonly expectedFingerprints?: readonly string[];
  /** One copy of each certificate for many devices (the simulator). */
  readonly intern?: (c: PinnedCertificate) => PinnedCertificate;
  readonly onEvent?: (e: AgentEvent) => void;
}

export interface CycleResult {
  readonly deviceId: string;
  readonly registered: boolean;
  /** The replacement confirmed in this cycle, if any. */
  readonly replaced: PinnedCertificate | null;
  readonly pinned: PinnedCertificate;
  /** How often the server asks the device to check in. */
  readonly checkInSeconds: number | null;
}

interface CertificateAnswer {
  readonly alias: string;
  readonly sha256Fingerprint: string;
}

interface CheckInAnswer {
  readonly deviceId: string;
  readonly certificate: CertificateAnswer;
  readonly replacement: (CertificateAnswer & { readonly pem: string }) | null;
  readonly checkInSeconds: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function certificateAnswer(v: unknown, withPem: boolean): (CertificateAnswer & { pem?: string }) | null {
  if (!isRecord(v) || typeof v.alias !== 'string' || typeof v.sha256Fingerprint !== 'string') return null;
  if (withPem && typeof v.pem !== 'string') return null;
  return { alias: v.alias, sha256Fingerprint: v.sha256Fingerprint, ...(typeof v.pem === 'string' ? { pem: v.pem } : {}) };
}

function protocolError(what: string): AgentError {
  return new AgentError('invalid_answer', `The server's answer to ${what} does not follow the device protocol.`);
}

function parseCheckIn(v: unknown): CheckInAnswer {
  if (!isRecord(v) || typeof v.deviceId !== 'string') throw protocolError('check-in');
  const certificate = certificateAnswer(v.certificate, false);
  const replacement = v.replacement === null || v.replacement === undefined ? null : certificateAnswer(v.replacement, true);
  if (!certificate || (v.replacement && !replacement)) throw protocolError('check-in');
  return {
    deviceId: v.deviceId,
    certificate,
    replacement: replacement as (CertificateAnswer & { pem: string }) | null, // certificateAnswer(…, true) guarantees the pem
    checkInSeconds: typeof v.checkInSeconds === 'number' ? v.checkInSeconds : 0,
  };
}

/**
 * Why the server no longer takes this device as it is, or null: it answered
 * `re_registration_required`, or no server knows the certificate the device pins (the TLS
 * handshake ends with the unrecognized_name alert, docs/device-protocol.md).
 */
function mustRegisterAgain(e: unknown): string | null {
  if (e instanceof ServerRefusal && e.code === 're_registration_required') return 'the server was restored and no longer knows it as it is';
  // The certificate it pins is neither the one the server has on record nor its pending replacement
  // (docs/device-protocol.md): the server does not take a pin on the device's word.
  if (e instanceof ServerRefusal && e.code === 'pin_not_allowed') return 'the server does not have the certificate it pins on record for it';
  if (e instanceof ConnectionFailure && e.code !== null && /UNRECOGNIZED_NAME/i.test(e.code)) {
    return 'no server has the certificate it pins any more (TLS alert unrecognized_name)';
  }
  return null;
}

export class DeviceAgent {
  /** Where the last connection succeeded; the next starts there. */
  private preferred = 0;
  /** The session of the last verified connection, for the same server and server name only. */
  private session: { readonly key: string; readonly ticket: Buffer } | null = null;

  constructor(
    private current: AgentState,
    private readonly store: StateStore,
    private readonly opts: AgentOptions,
  ) {}

  get state(): AgentState {
    return this.current;
  }

  private get timeoutMs(): number {
    return this.opts.timeoutMs ?? 10_000;
  }

  private async update(patch: Partial<AgentState>): Promise<void> {
    this.current = { ...this.current, ...patch };
    await this.store.save(this.current);
  }

  private check(pin: PinnedCertificate | null): CertificateCheck {
    return { pinSha256Hex: pin ? fingerprintHex(pin.sha256) : null, acceptedAlgorithms: this.opts.profile.algorithms };
  }

  /**
   * Opens a verified connection to the first server that answers (from the one that worked last),
   * runs `use` on it and closes it. `repeatable`: `use` may run again on another server after a
   * connection broke mid-request.
   */
  private async withConnection<T>(
    servername: string,
    check: CertificateCheck,
    repeatable: boolean,
    use: (conn: DeviceConnection) => Promise<T>,
  ): Promise<T> {
    const servers = this.opts.servers;
    let lastFailure: ConnectionFailure | null = null;
    for (let i = 0; i < servers.length; i++) {
      const index = (this.preferred + i) % servers.length;
      const server = servers[index] as ServerAddress; // index < length
      const key = `${formatServer(server)} ${servername}`;
      const attempt = async (): Promise<T> => {
        const conn = await DeviceConnection.open({
          server,
          servername,
          check,
          session: this.session?.key === key ? this.session.ticket : undefined,
          timeoutMs: this.timeoutMs,
          maxVersion: this.opts.profile.maxTlsVersion,
        });
        this.opts.onEvent?.({ kind: 'handshake', resumed: conn.resumed });
        try {
          const result = await use(conn);
          const ticket = conn.session;
          if (ticket) this.session = { key, ticket };
          return result;
        } finally {
          conn.close();
        }
      };
      try {
        const result = await attempt();
        this.preferred = index;
        return result;
      } catch (e) {
        if (!(e instanceof ConnectionFailure) || !(e.beforeRequest || repeatable)) throw e;
        if (this.session?.key === key) this.session = null;
        lastFailure = e;
        if (servers.length > 1) this.opts.onEvent?.({ kind: 'fail-over', server: formatServer(server), message: e.message });
      }
    }
    throw lastFailure ?? new ConnectionFailure('no server to connect to', '', true, null);
  }

  /** The pinned certificate a PEM from the server stands for, checked against what the server claims. */
  private pinnedOf(answer: CertificateAnswer & { pem?: string }, what: string): PinnedCertificate {
    const described = answer.pem !== undefined ? describeCertificatePem(answer.pem) : null;
    if (!described || described.sha256Hex !== fingerprintHex(answer.sha256Fingerprint)) {
      throw new AgentError('invalid_answer', `The certificate in the server's answer to ${what} does not have the SHA-256 the answer names.`);
    }
    const pinned: PinnedCertificate = {
      alias: answer.alias,
      sha256: described.sha256Fingerprint,
      signatureAlgorithm: described.signatureAlgorithm,
      pem: described.pem,
    };
    return this.opts.intern ? this.opts.intern(pinned) : pinned;
  }

  /** First contact: R1 for the profile's algorithms, then register (never repeated elsewhere: it spends a token use). */
  private async register(enrollmentToken: string | undefined): Promise<void> {
    if (!enrollmentToken) {
      throw new AgentError('enrollment_token_missing', 'This device is not registered yet: give an enrollment token (--token-file, CERTFLEET_ENROLLMENT_TOKEN or --token).');
    }
    const profile = this.opts.profile;
    const send = async (conn: DeviceConnection) => {
      const answer = await conn.request('POST', DEVICE_PATHS.register, {
        enrollmentToken,
        unitId: this.current.unitId,
        name: this.current.name,
        osFamily: profile.osFamily,
        osVersion: profile.osVersion,
        profile: profile.name,
        ...(this.opts.presentedCertificatePem !== undefined ? { presentedCertificate: this.opts.presentedCertificatePem } : {}),
      });
      return { body: answer.body, presented: conn.peer, ticket: conn.session, server: conn.server };
    };
    const expected = (this.opts.expectedFingerprints ?? []).map(fingerprintHex);
    const { body, presented, ticket, server } = await (
      expected.length === 0 ? this.withConnection(helloServerName(profile.mask), this.check(null), false, send) : this.firstContactPinned(expected, send)
    ).catch((e: unknown) => {
      // The server turns first contact away before the handshake when this address has made too
      // many registration attempts (docs/device-protocol.md): say so, not "handshake failed".
      if (e instanceof ConnectionFailure && /access.denied/i.test(`${e.code ?? ''} ${e.message}`)) {
        throw new AgentError(
          'registration_rate_limited',
          `${e.server} refused first contact from this address: too many registration attempts came from it. Try again in a minute; a registration that succeeds does not count.`,
        );
      }
      throw e;
    });
    if (!isRecord(body) || typeof body.deviceId !== 'string' || typeof body.credential !== 'string') throw protocolError('register');
    const answer = certificateAnswer(body.certificate, true);
    if (!answer) throw protocolError('register');
    const pinned = this.pinnedOf(answer, 'register');
    // Saved before anything else can fail: the server has registered the device.
    await this.update({ deviceId: body.deviceId, credential: body.credential, pinned, next: null, registeredAt: new Date().toISOString() });
    this.opts.onEvent?.({ kind: 'registered', deviceId: body.deviceId, certificate: pinned, presentedSha256: presented?.sha256Fingerprint ?? null });
    // The handshake of first contact already showed this very certificate: its session may resume
    // the pinned connection. Otherwise (the keystore changed in between) the next handshake verifies it.
    if (presented && presented.sha256Fingerprint === pinned.sha256 && ticket) {
      this.session = { key: `${server} ${pinServerName(pinned.sha256)}`, ticket };
    }
    if (!profile.algorithms.includes(pinned.signatureAlgorithm)) {
      throw new CertificateNotSupportedError(server, pinned.signatureAlgorithm, profile.algorithms);
    }
  }

  /**
   * First contact with expected fingerprints (L3): a connection pinning each of them in turn, so
   * the server presents exactly that certificate, and the token is sent only over the first that
   * verifies. An entry the server no longer has (unrecognized_name) or the firmware cannot verify
   * is skipped; a server that presents anything else ends it at once (PinMismatchError, nothing
   * sent). The certificate the server then assigns came over that verified connection.
   */
  private async firstContactPinned<T>(expected: readonly string[], send: (conn: DeviceConnection) => Promise<T>): Promise<T> {
    this.session = null; // a resumed session shows no certificate: nothing to check
    const skipped: string[] = [];
    for (const hex of expected) {
      try {
        return await this.withConnection(pinServerName(hex), { pinSha256Hex: hex, acceptedAlgorithms: this.opts.profile.algorithms }, false, send);
      } catch (e) {
        if (e instanceof CertificateNotSupportedError) skipped.push(`${colonFingerprint(hex)}: ${e.signatureAlgorithm}, which this firmware cannot verify`);
        else if (e instanceof ConnectionFailure && e.beforeRequest) skipped.push(`${colonFingerprint(hex)}: ${e.message}`);
        else throw e;
      }
    }
    throw new AgentError(
      'server_not_expected',
      `No server presented a certificate this device was told to expect at its first contact, so the enrollment token was not sent (${skipped.join('; ')}). ` +
        'Ask an administrator for a token made with `certfleet enroll create --pin-current` after the current certificates were made.',
    );
  }

  private credential(): string {
    if (!this.current.credential) throw new AgentError('not_registered', 'This device has no credential.');
    return this.current.credential;
  }

  private checkInBody(): Record<string, string> {
    return { osVersion: this.opts.profile.osVersion };
  }

  /** Promotes next to pinned once the server has it as the device's certificate. */
  private async promote(next: PinnedCertificate, by: 'confirm' | 'check-in'): Promise<void> {
    await this.update({ pinned: next, next: null });
    this.opts.onEvent?.({ kind: 'replacement-confirmed', certificate: next, by });
  }

  /** Stores the replacement beside the pinned certificate, connects pinning it, and confirms. */
  private async applyReplacement(answer: CertificateAnswer & { pem: string }): Promise<PinnedCertificate | null> {
    const next = this.pinnedOf(answer, 'check-in');
    await this.update({ next });
    this.opts.onEvent?.({ kind: 'replacement-received', certificate: next });
    const credential = this.credential();
    try {
      await this.withConnection(pinServerName(next.sha256), this.check(next), true, (conn) =>
        conn.request('POST', DEVICE_PATHS.confirm, { sha256Fingerprint: next.sha256 }, credential),
      );
    } catch (e) {
      // A newer replacement was planned since the check-in: keep the pinned certificate; the next
      // check-in hands out the new one.
      if (!(e instanceof ServerRefusal && e.code === 'pin_not_allowed')) throw e;
      await this.update({ next: null });
      return null;
    }
    await this.promote(next, 'confirm');
    return next;
  }

  /**
   * One full cycle: register if needed, check in, apply and confirm any replacement. When the
   * server says the device must register again (after a restore, B2), it does so with the
   * enrollment token it was given, and says what it needs when it was given none.
   */
  async cycle(enrollmentToken?: string): Promise<CycleResult> {
    try {
      return await this.cycleOnce(enrollmentToken);
    } catch (e) {
      const why = this.current.deviceId === null ? null : mustRegisterAgain(e);
      if (why === null) throw e;
      if (!enrollmentToken) {
        throw new AgentError(
          're_registration_required',
          `This device must register again: ${why}. Give it an enrollment token (--token-file, CERTFLEET_ENROLLMENT_TOKEN or --token) and run the agent again.`,
        );
      }
      this.opts.onEvent?.({ kind: 're-registering', reason: why });
      await this.update({ deviceId: null, credential: null, pinned: null, next: null });
      this.session = null;
      return this.cycleOnce(enrollmentToken);
    }
  }

  private async cycleOnce(enrollmentToken?: string): Promise<CycleResult> {
    let registered = false;
    if (!this.current.deviceId) {
      await this.register(enrollmentToken);
      registered = true;
    }
    const credential = this.credential();
    let replaced: PinnedCertificate | null = null;
    let answer: CheckInAnswer | null = null;

    const pending = this.current.next;
    if (pending) {
      // A replacement stored and not confirmed (the confirmation or its answer was lost): a
      // check-in pinning it is the confirmation.
      try {
        answer = parseCheckIn(
          (await this.withConnection(pinServerName(pending.sha256), this.check(pending), true, (conn) =>
            conn.request('POST', DEVICE_PATHS.checkIn, this.checkInBody(), credential),
          )).body,
        );
        await this.promote(pending, 'check-in');
        replaced = pending;
      } catch (e) {
        // No server would even complete a handshake pinning it, or the server no longer has it as
        // this device's replacement (a newer default was planned meanwhile: pin_not_allowed): go
        // on with the pinned certificate, whose check-in says what the server wants now. A request
        // that may have reached the server, a pin mismatch, another refusal: the cycle ends, and
        // the next one tries again.
        const superseded = e instanceof ServerRefusal && e.code === 'pin_not_allowed';
        if (!superseded && (!(e instanceof ConnectionFailure) || !e.beforeRequest)) throw e;
        if (superseded) await this.update({ next: null });
        answer = null;
      }
    }

    if (!answer) {
      const pinned = this.current.pinned;
      if (!pinned) throw new AgentError('not_registered', 'This device has no pinned certificate.');
      answer = parseCheckIn(
        (await this.withConnection(pinServerName(pinned.sha256), this.check(pinned), true, async (conn) => {
          // Right after registration: "reconnect pinning it, and confirm" on the same connection.
          if (registered) await conn.request('POST', DEVICE_PATHS.confirm, { sha256Fingerprint: pinned.sha256 }, credential);
          return conn.request('POST', DEVICE_PATHS.checkIn, this.checkInBody(), credential);
        })).body,
      );
      if (this.current.next && !answer.replacement) await this.update({ next: null });
    }

    if (answer.replacement && fingerprintHex(answer.replacement.sha256Fingerprint) !== fingerprintHex(this.current.pinned?.sha256 ?? '')) {
      replaced = await this.applyReplacement(answer.replacement);
    }
    await this.update({ lastCheckInAt: new Date().toISOString() });
    const pinned = this.current.pinned as PinnedCertificate; // registered devices always pin one
    this.opts.onEvent?.({ kind: 'checked-in', certificate: pinned });
    return { deviceId: answer.deviceId, registered, replaced, pinned, checkInSeconds: answer.checkInSeconds || null };
  }
}
