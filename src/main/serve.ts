/**
 * The composition root of `certfleet serve`: the only place concrete classes are wired.
 * Start-up order: data directory → master key → database (migrated) → master key check →
 * first administrator → first certificate (K1) → HTTP API. Any failure stops the start with a
 * message that says what to do.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { ensureAdminAccount } from '../app/accounts.js';
import { ensureDefaultCertificate } from '../app/certificates.js';
import { SYSTEM_ACTOR, type AppContext, type KeystoreChange } from '../app/context.js';
import { verifyMasterKey } from '../app/master-key-check.js';
import { RotationTrigger, runRotation } from '../app/rotation.js';
import type { Store } from '../app/store.js';
import { nodeKeyPairSource } from '../crypto/key-generation.js';
import { KeySealer, loadMasterKey } from '../crypto/key-sealer.js';
import { openStore } from '../storage/open-store.js';
import { RotationReconciler } from '../jobs/rotation.reconciler.js';
import { startDeviceChannel } from '../transport/device-channel/device-channel.js';
import { buildHttpApi } from '../transport/http-api/server.js';
import { createAppContext } from './app-context.js';
import type { HostPort } from './host-port.js';
import { nodeScheduler, systemClock, systemRandom } from './system.js';
import { loadWebTls } from './web-tls.js';

export interface ServeOptions {
  readonly dataDir: string;
  readonly db: string | undefined;
  readonly listen: HostPort;
  readonly deviceListen: HostPort;
  /** How often the rotation reconciler runs (R3); it also runs at once when the default changes. */
  readonly syncIntervalMs: number;
  readonly webCert: string | undefined;
  readonly webKey: string | undefined;
  readonly logLevel: string;
}

export interface RunningServer {
  readonly url: string;
  /** host:port of the device channel (TLS). */
  readonly deviceAddress: string;
  readonly ctx: AppContext;
  close(): Promise<void>;
}

/** Log paths that must never be written, whatever a future log call passes. */
export const LOG_REDACTIONS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.keyPassword',
  '*.token',
  '*.file',
  '*.privateKey',
  '*.sealedKey',
];

export function createLogger(level: string): Logger {
  return pino({ level, redact: { paths: LOG_REDACTIONS, censor: '[redacted]' }, base: { service: 'certfleet' } });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function databaseUrl(opts: ServeOptions): string {
  if (opts.db) return opts.db;
  return join(opts.dataDir, 'certfleet.db');
}

export async function startServer(opts: ServeOptions, log: Logger, out: (line: string) => void): Promise<RunningServer> {
  const dataDir = isAbsolute(opts.dataDir) ? opts.dataDir : resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const master = await loadMasterKey({ dataDir, env: process.env });
  if (master.created) out(`Created the master key ${join(dataDir, 'master.key')} (mode 0600). Back it up: without it the private keys cannot be read.`);
  const sealer = new KeySealer(master.key);
  const store: Store = await openStore({ url: databaseUrl({ ...opts, dataDir }) });
  try {
    await verifyMasterKey(store, sealer, master.source === 'env' ? 'CERTFLEET_MASTER_KEY' : join(dataDir, 'master.key'));
    // Keystore changes made on this node reach the device channel at once and wake the reconciler
    // when the default changed; changes made on other nodes reach the channel by its revision poll.
    const keystoreListeners: ((change: KeystoreChange) => void)[] = [];
    // The reconciler is the context's rotation runner: `sync run`, the timer, a default change and
    // a compatibility edit all go through its single flight. Its passes run on the context below.
    const reconciler = new RotationReconciler({
      run: (actor) => runRotation(ctx, actor),
      intervalMs: opts.syncIntervalMs,
      scheduler: nodeScheduler,
      log: log.child({ component: 'rotation' }),
    });
    const ctx: AppContext = createAppContext({
      store,
      clock: systemClock,
      random: systemRandom,
      sealer,
      keyPairs: nodeKeyPairSource,
      hostName: hostname(),
      onKeystoreChanged: (change: KeystoreChange) => {
        log.info({ revision: change.revision, defaultChanged: change.defaultChanged }, 'keystore changed');
        for (const listener of keystoreListeners) listener(change);
      },
      rotation: reconciler,
    });
    const admin = await ensureAdminAccount(ctx, process.env.CERTFLEET_ADMIN_PASSWORD || undefined);
    if (admin.generatedPassword) {
      out(`Created the account "admin" with the password: ${admin.generatedPassword}`);
      out('It is shown only this once. Log in and create your own accounts; set CERTFLEET_ADMIN_PASSWORD to choose it instead.');
    } else if (admin.created) {
      out('Created the account "admin" with the password from CERTFLEET_ADMIN_PASSWORD.');
    }
    const first = await ensureDefaultCertificate(ctx, SYSTEM_ACTOR);
    if (first) log.info({ alias: first.alias, sha256: first.facts.sha256Fingerprint }, 'created the default certificate');

    const channel = await startDeviceChannel({ ctx, host: opts.deviceListen.host, port: opts.deviceListen.port, log: log.child({ component: 'device-channel' }) });
    keystoreListeners.push((change) => {
      channel.reload().catch((e: unknown) => log.error({ err: e }, 'device channel: reload failed; the poll retries'));
      if (change.defaultChanged) reconciler.trigger(RotationTrigger.defaultChanged);
    });
    reconciler.start();

    const tls = isLoopback(opts.listen.host) && !opts.webCert ? null : await loadWebTls({ dataDir, certFile: opts.webCert, keyFile: opts.webKey, hostName: hostname() });
    const app = await buildHttpApi({ ctx, logger: log, https: tls });
    await app.listen({ host: opts.listen.host, port: opts.listen.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : opts.listen.port;
    const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
    const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
    out(`certfleet is listening: console and API at ${url}/ (OpenAPI at ${url}/api/v1/openapi.json)`);
    const deviceAddress = `${opts.deviceListen.host}:${channel.address.port}`;
    out(`Device channel (TLS) listening on ${deviceAddress}; rotation every ${opts.syncIntervalMs / 1000} s`);
    return {
      url,
      deviceAddress,
      ctx,
      close: async () => {
        await app.close();
        await reconciler.stop();
        await channel.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

