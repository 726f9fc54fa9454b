/**
 * Helpers for the device-channel tests: keystore entries made from the test key pool (no key
 * generation), a silent logger and one that signals a message, a TLS probe that reports what the
 * server presented, a plain TLS server holding one certificate (an impostor for the agent's pin
 * check), and use cases over a keystore in memory.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { createServer as createTlsServer, connect, type Server as TlsServer } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import pino from 'pino';
import type { GenerationAlgorithm } from '../../src/domain/algorithms.js';
import { createSelfSignedCertificate } from '../../src/crypto/self-signed.js';
import { toPem } from '../../src/crypto/pem.js';
import type { KeySpec } from '../../src/crypto/key-generation.js';
import type { DeviceKeystore, DeviceKeystoreEntry } from '../../src/app/device-keystore.js';
import type { DeviceConnection as ConnectionFacts } from '../../src/app/device-check-in.js';
import { colonFingerprint, fingerprintHex } from '../../src/domain/device-names.js';
import { CertfleetError, ErrorCode } from '../../src/domain/errors.js';
import type { DeviceUseCases } from '../../src/transport/device-channel/device-use-cases.js';
import { DeviceAgent, type AgentEvent } from '../../src/agent/agent.js';
import { initialState, memoryStateStore, type AgentState } from '../../src/agent/agent-state.js';
import { firmwareProfile } from '../../src/agent/profiles.js';
import { formatServer } from '../../src/agent/servers.js';
import { poolKeyPairSource } from '../support/key-pool.js';
import type { AppContext } from '../../src/app/context.js';
import type { Scheduler } from '../../src/domain/time.js';
import { startDeviceChannel, type DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import type { DeviceChannelLimits } from '../../src/transport/device-channel/limits.js';

export const silentLog = pino({ level: 'silent' });

const pool = poolKeyPairSource();

const KEY_FOR: Readonly<Record<GenerationAlgorithm, KeySpec>> = {
  SHA256withRSA: { kind: 'RSA', bits: 2048 },
  SHA384withRSA: { kind: 'RSA', bits: 2048 },
  SHA512withRSA: { kind: 'RSA', bits: 2048 },
  SHA256withECDSA: { kind: 'EC', curve: 'P-256' },
  SHA384withECDSA: { kind: 'EC', curve: 'P-384' },
};

/** A self-signed keystore entry (RSA-2048 or EC from the pool). */
export async function makeEntry(alias: string, algorithm: GenerationAlgorithm, position: number, active = true): Promise<DeviceKeystoreEntry> {
  const keys = await pool.generate(KEY_FOR[algorithm]);
  const der = await createSelfSignedCertificate({ keys, commonName: `${alias}.certfleet.test`, algorithm, days: 30, now: new Date() });
  return {
    id: `id-${alias}`,
    alias,
    position,
    active,
    signatureAlgorithm: algorithm,
    sha256Hex: createHash('sha256').update(der).digest('hex'),
    certPem: toPem(der, 'CERTIFICATE'),
    keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** What the server presented for a server name (undefined: none sent); rejects when the handshake fails. */
export function presentedFor(port: number, servername: string | undefined): Promise<{ sha256Hex: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername !== undefined ? { servername } : {}) });
    socket.once('secureConnect', () => {
      const x = socket.getPeerX509Certificate() as X509Certificate; // a full handshake always shows a certificate
      socket.destroy();
      resolve({ sha256Hex: x.fingerprint256.replace(/:/g, '').toLowerCase(), subject: x.subject });
    });
    socket.once('error', reject);
  });
}

/**
 * A bare TLS server with one certificate that counts the bytes it receives. `closed(n)` resolves
 * once n of its connections have closed: by then every byte their client sent has been counted.
 */
export async function impostorServer(
  entry: DeviceKeystoreEntry,
): Promise<{ port: number; received: () => number; closed: (n?: number) => Promise<void>; close: () => Promise<void> }> {
  let received = 0;
  let closedCount = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  const server: TlsServer = createTlsServer({ cert: entry.certPem, key: entry.keyPem }, (socket) => {
    socket.on('data', (c: Buffer) => (received += c.length));
    socket.on('error', () => undefined);
  });
  // Counted on the TCP socket: a client that refuses the certificate may close before the server
  // side of the handshake is done, and then the TLS socket never reaches the handler above.
  server.on('connection', (raw: Socket) =>
    raw.once('close', () => {
      closedCount++;
      for (const w of waiting.filter((x) => x.n <= closedCount)) w.resolve();
    }),
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port; // TCP listener
  return {
    port,
    received: () => received,
    closed: (n = 1) => (closedCount >= n ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ n, resolve }))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A logger whose `waitFor(msg, test)` resolves at the first line with that message for which `test` holds. */
export function signallingLog(): { log: pino.Logger; waitFor: (msg: string, test?: (line: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>> } {
  const lines: Record<string, unknown>[] = [];
  const waiting: { msg: string; test: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  const log = pino(
    { level: 'info' },
    {
      write: (text: string) => {
        const line = JSON.parse(text) as Record<string, unknown>; // pino writes one JSON object per line
        lines.push(line);
        for (const w of waiting.splice(0)) {
          if (line.msg === w.msg && w.test(line)) w.resolve(line);
          else waiting.push(w);
        }
      },
    },
  );
  return {
    log,
    waitFor: (msg, test = () => true) => {
      const seen = lines.find((l) => l.msg === msg && test(l));
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiting.push({ msg, test, resolve }));
    },
  };
}

export const MEMORY_CREDENTIAL = 'cfd_dev-1.secret';

/**
 * Use cases over a keystore in memory: every registration is device dev-1 with MEMORY_CREDENTIAL,
 * on the first entry; `pins` records the pin of every check-in.
 */
export function memoryUseCases(keystore: { current: DeviceKeystore }): { uc: DeviceUseCases; pins: (string | null)[] } {
  const pins: (string | null)[] = [];
  const view = (e: DeviceKeystoreEntry) => ({ alias: e.alias, sha256Fingerprint: colonFingerprint(e.sha256Hex), signatureAlgorithm: e.signatureAlgorithm });
  const uc: DeviceUseCases = {
    registerDevice: async () => {
      const top = keystore.current.entries[0] as DeviceKeystoreEntry; // the tests' keystores are never empty
      return { deviceId: 'dev-1', credential: MEMORY_CREDENTIAL, certificate: { ...view(top), pem: top.certPem } };
    },
    authenticateDevice: async (_ctx, credential) => {
      if (credential !== MEMORY_CREDENTIAL) throw new CertfleetError(ErrorCode.device_unauthenticated, 'Unknown device credential.');
      return { deviceId: 'dev-1' };
    },
    checkInByCredential: async (ctx, credential, conn: ConnectionFacts) => {
      const device = await uc.authenticateDevice(ctx, credential);
      pins.push(conn.pinnedSha256Hex);
      const top = keystore.current.entries[0] as DeviceKeystoreEntry; // never empty
      return { deviceId: device.deviceId, certificate: view(top), replacement: null, checkInSeconds: 60 };
    },
    confirmReplacement: async (_ctx, _device, conn, sha256) => {
      if (conn.pinnedSha256Hex !== fingerprintHex(sha256)) throw new CertfleetError(ErrorCode.pin_mismatch, 'not pinned');
      const e = keystore.current.entries.find((x) => x.sha256Hex === conn.pinnedSha256Hex) as DeviceKeystoreEntry; // pinned → known
      return { certificate: view(e) };
    },
    getOwnDevice: async () => {
      throw new CertfleetError(ErrorCode.device_not_found, 'not in this fake');
    },
    loadDeviceKeystore: async () => keystore.current,
    keystoreRevision: async () => keystore.current.revision,
  };
  return { uc, pins };
}

/** An agent with its state in memory, as the simulator runs them; `state` continues another agent's device. */
export function memoryAgent(
  servers: readonly { host: string; port: number }[],
  profileName: string,
  opts: { state?: AgentState; onEvent?: (e: AgentEvent) => void; presentedCertificatePem?: string } = {},
): DeviceAgent {
  const profile = firmwareProfile(profileName);
  if (!profile) throw new Error(`no profile ${profileName}`);
  return new DeviceAgent(opts.state ?? initialState({ servers: servers.map(formatServer), profile: profileName }), memoryStateStore, {
    servers,
    profile,
    timeoutMs: 5000,
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    ...(opts.presentedCertificatePem ? { presentedCertificatePem: opts.presentedCertificatePem } : {}),
  });
}


/**
 * The channel on the real use cases with its timers on `scheduler` (a FakeTime: the handshake
 * deadline and the minute of the refusal audit move only when the test says), a silent log, and a
 * keystore poll that never comes within a test.
 */
export function channelOn(ctx: AppContext, scheduler: Scheduler, limits: Partial<DeviceChannelLimits> = {}): Promise<DeviceChannel> {
  return startDeviceChannel({ scheduler, ctx, host: '127.0.0.1', port: 0, log: silentLog, pollIntervalMs: 3_600_000, limits });
}
