/**
 * Helpers for the device-channel tests: keystore entries made from the test key pool (no key
 * generation), a silent logger, a TLS probe that reports what the server presented, and a plain
 * TLS server holding one certificate (an impostor for the agent's pin check).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { createServer as createTlsServer, connect, type Server as TlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { GenerationAlgorithm } from '../../src/domain/algorithms.js';
import { createSelfSignedCertificate } from '../../src/crypto/self-signed.js';
import { toPem } from '../../src/crypto/pem.js';
import type { KeySpec } from '../../src/crypto/key-generation.js';
import type { DeviceKeystoreEntry } from '../../src/app/device-keystore.js';
import { DeviceAgent, type AgentEvent } from '../../src/agent/agent.js';
import { initialState, memoryStateStore, type AgentState } from '../../src/agent/agent-state.js';
import { firmwareProfile } from '../../src/agent/profiles.js';
import { formatServer } from '../../src/agent/servers.js';
import { poolKeyPairSource } from '../support/key-pool.js';

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

/** A bare TLS server with one certificate that counts the bytes it receives. */
export async function impostorServer(entry: DeviceKeystoreEntry): Promise<{ port: number; received: () => number; close: () => Promise<void> }> {
  let received = 0;
  const server: TlsServer = createTlsServer({ cert: entry.certPem, key: entry.keyPem }, (socket) => {
    socket.on('data', (c: Buffer) => (received += c.length));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port; // TCP listener
  return {
    port,
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
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

/** Waits until `check` holds, polling every 50 ms; fails after `ms`. */
export async function eventually(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}
