/**
 * The composition root of `certfleet serve`: the only place concrete classes are wired.
 * Start-up order: data directory → master key → database (migrated) → master key check →
 * admission to the cluster (H3) → first administrator → first certificate (K1) → device channel →
 * notifications (H2) → registry entry, heartbeat and rotation lease (H1, H4) → HTTP API. Any
 * failure stops the start with a message that says what to do.
 */
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { ensureAdminAccount } from '../app/accounts.js';
import { ensureDefaultCertificate } from '../app/certificates.js';
import { admitNode, registerNode } from '../app/cluster.js';
import { SYSTEM_ACTOR, type AppContext, type KeystoreChange } from '../app/context.js';
import { verifyMasterKey } from '../app/master-key-check.js';
import { RotationTrigger, runRotation } from '../app/rotation.js';
import type { WorkLimits } from '../crypto/bounded-work.js';
import { boundedKeyPairSource, DEFAULT_KEY_GENERATION_LIMITS, nodeKeyPairSource } from '../crypto/key-generation.js';
import { DEFAULT_PASSWORD_HASH_LIMITS, limitPasswordHashing } from '../crypto/password-hash.js';
import { DEFAULT_LOGIN_LIMITS, type LoginLimit } from '../transport/http-api/login-limits.js';
import { KeySealer, loadMasterKey } from '../crypto/key-sealer.js';
import { checkPassphrase, MAX_SCRYPT_LOG_N } from '../crypto/backup-file.js';
import { BackupSchedule } from '../jobs/backup.scheduler.js';
import { ExpirySchedule } from '../jobs/expiry.scheduler.js';
import { ServerMetrics } from '../transport/metrics/metrics.js';
import { startMetricsListener } from '../transport/metrics/metrics-listener.js';
import { writeFileAtomic } from '../storage/atomic-file.js';
import { MIGRATION_NAMES } from '../storage/migrations/index.js';
import { openStore } from '../storage/open-store.js';
import { KEYSTORE_CHANNEL, PgListener } from '../storage/pg-listener.js';
import { ClusterMember } from '../jobs/cluster-member.js';
import { NotificationLeaderLink, ROTATION_DONE_CHANNEL, ROTATION_REQUEST_CHANNEL } from '../jobs/leader-link.js';
import { LeaderRotation } from '../jobs/leader-rotation.js';
import { LifecycleSchedule } from '../jobs/lifecycle.scheduler.js';
import { RotationReconciler } from '../jobs/rotation.reconciler.js';
import { startDeviceChannel } from '../transport/device-channel/device-channel.js';
import type { DeviceChannelLimits } from '../transport/device-channel/limits.js';
import { buildHttpApi, type HttpLimits } from '../transport/http-api/server.js';
import { createAppContext } from './app-context.js';
import type { HostPort } from './host-port.js';
import { nodeScheduler, systemClock, systemRandom } from './system.js';
import { loadWebTls } from './web-tls.js';
import { ImportPool } from '../crypto/import-pool.js';
import { importPoolOptionsFromEnv } from './import-settings.js';

export interface ServeOptions {
  readonly dataDir: string;
  readonly db: string | undefined;
  readonly listen: HostPort;
  readonly deviceListen: HostPort;
  /** How often the rotation reconciler runs (R3); it also runs at once when the default changes. */
  readonly syncIntervalMs: number;
  /** Cluster: how long the rotation lease lasts without renewal (H4); the heartbeat runs every third of it. */
  readonly leaseTtlMs: number;
  /** Cluster: the file with the current network token, for a node's first start in an existing cluster (H3). */
  readonly joinTokenFile: string | undefined;
  readonly webCert: string | undefined;
  readonly webKey: string | undefined;
  readonly logLevel: string;
  /** Scheduled backups, written by the leader; null: none. */
  readonly backups: ScheduledBackups | null;
  /** Work limits (README, Security); each defaults to its constant when left out. */
  readonly keyGenerations?: WorkLimits;
  readonly passwordHashes?: WorkLimits;
  /** Either limit left out keeps its default. */
  readonly loginLimits?: { readonly perAddress?: LoginLimit | undefined; readonly perName?: LoginLimit | undefined };
  /** Timeouts and connection cap of the console/API server (DEFAULT_HTTP_LIMITS for the rest). */
  readonly httpLimits?: Partial<HttpLimits>;
  /** Host names the console/API is reached by, besides its listen address and localhost (DNS rebinding). */
  readonly allowedHosts?: readonly string[];
  /** A listener of its own for Prometheus' `/metrics`, without authentication; null: none. */
  readonly metricsListen?: HostPort | null;
  /** What strangers may cost the device port (DEVICE_CHANNEL_LIMITS for the rest). */
  readonly deviceLimits?: Partial<DeviceChannelLimits>;
  /** Worker threads for the device port's full handshakes; 0: on the event loop (the channel's default: one per core). */
  readonly deviceHandshakeThreads?: number;
}

export interface ScheduledBackups {
  readonly dir: string;
  readonly everyMs: number;
  readonly keep: number;
  readonly passphraseFile: string;
}

/** Largest backup upload a restore accepts. */
const MAX_RESTORE_BYTES = 16 * 1024 ** 3;

/**
 * The passphrase work factor of the backups this server writes (2^n). Tests lower it to save the
 * ~0.5 s a key derivation costs; in production leave it at age's default.
 */
function backupScryptLogN(): number | undefined {
  const text = process.env.CERTFLEET_BACKUP_SCRYPT_LOG_N;
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 10 || n > MAX_SCRYPT_LOG_N) throw new Error(`CERTFLEET_BACKUP_SCRYPT_LOG_N must be a whole number from 10 to ${MAX_SCRYPT_LOG_N}`);
  return n;
}

const NODE_ID_FILE = 'node-id';
const VERSION = process.env.npm_package_version ?? '0.1.0';

/** This node's id, kept in its data directory; null before its first admitted start. */
function readNodeId(dataDir: string): string | null {
  try {
    const id = readFileSync(join(dataDir, NODE_ID_FILE), 'utf8').trim();
    return id === '' ? null : id;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null; // fs errors carry a code
    throw e;
  }
}

export interface RunningServer {
  readonly url: string;
  /** host:port of the device channel (TLS). */
  readonly deviceAddress: string;
  readonly ctx: AppContext;
  readonly nodeId: string;
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

/**
 * The host names a request may name: the listen address itself, and on a wildcard address this
 * machine's name and interface addresses; localhost is always allowed (server.ts); then the
 * administrator's --allowed-host names (a DNS name, a load balancer's name).
 */
export function allowedHostNames(listenHost: string, configured: readonly string[]): string[] {
  const wildcard = listenHost === '0.0.0.0' || listenHost === '::' || listenHost === '';
  const own = wildcard
    ? [hostname(), ...Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address))]
    : [listenHost];
  return [...own, ...configured];
}

/**
 * The data directory and what is made in it are the owner's only: a directory that group or others
 * can enter is tightened to 0700, with a warning (its files were exposed until now).
 */
function makeDataDirPrivate(dataDir: string, log: Logger): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  const mode = statSync(dataDir).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  chmodSync(dataDir, 0o700);
  log.warn({ dataDir, mode: `0${mode.toString(8)}` }, 'the data directory was open to others; it is now 0700');
}

function databaseUrl(opts: ServeOptions): string {
  if (opts.db) return opts.db;
  return join(opts.dataDir, 'certfleet.db');
}

export async function startServer(opts: ServeOptions, log: Logger, out: (line: string) => void): Promise<RunningServer> {
  const dataDir = isAbsolute(opts.dataDir) ? opts.dataDir : resolve(opts.dataDir);
  limitPasswordHashing(opts.passwordHashes ?? DEFAULT_PASSWORD_HASH_LIMITS);
  makeDataDirPrivate(dataDir, log);
  const master = await loadMasterKey({ dataDir, env: process.env });
  if (master.created) out(`Created the master key ${join(dataDir, 'master.key')} (mode 0600). Back it up: without it the private keys cannot be read.`);
  const sealer = new KeySealer(master.key);
  const store = await openStore({ url: databaseUrl({ ...opts, dataDir }), onWarning: (message, details) => log.warn(details, message) });
  const importPool = new ImportPool(nodeScheduler, importPoolOptionsFromEnv(process.env));
  const closers: (() => Promise<void>)[] = [() => store.close(), () => importPool.close()];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    await verifyMasterKey(store, sealer, master.source === 'env' ? 'CERTFLEET_MASTER_KEY' : join(dataDir, 'master.key'));
    const knownId = readNodeId(dataDir);
    const nodeId = knownId ?? systemRandom.uuid();
    const clusterLog = log.child({ component: 'cluster', node: nodeId });

    // Notifications (PostgreSQL): other nodes' keystore changes and rotation requests. Wired to
    // their consumers below, once those exist; SQLite is a cluster of one and needs none.
    const onNotification: { current: (channel: string, payload: string) => void } = { current: () => undefined };
    const onListening: { current: () => void } = { current: () => undefined };
    const listener = store.notifications
      ? new PgListener({
          ...store.notifications,
          channels: [KEYSTORE_CHANNEL, ROTATION_REQUEST_CHANNEL, ROTATION_DONE_CHANNEL],
          onNotification: (channel, payload) => onNotification.current(channel, payload),
          onListening: () => onListening.current(),
          onError: (err, retryInMs) => clusterLog.warn({ err, retryInMs }, 'notification connection lost; the revision poll covers the gap'),
          scheduler: nodeScheduler,
        })
      : null;
    const link = listener
      ? new NotificationLeaderLink({ notify: (c, p) => listener.notify(c, p), scheduler: nodeScheduler, newId: () => systemRandom.uuid(), timeoutMs: opts.leaseTtlMs * 2 })
      : null;

    // The rotation runs on the lease holder only (H4); `sync run` and the triggers reach it from any node.
    const keystoreListeners: ((change: KeystoreChange) => void)[] = [];
    const rotation = new LeaderRotation(
      () =>
        new RotationReconciler({
          run: (actor) => metrics.timeRotation(() => runRotation(ctx, actor, member.fence)),
          intervalMs: opts.syncIntervalMs,
          scheduler: nodeScheduler,
          log: log.child({ component: 'rotation' }),
        }),
      link,
    );
    const ctx: AppContext = createAppContext({
      store,
      clock: systemClock,
      random: systemRandom,
      sealer,
      keyPairs: boundedKeyPairSource(nodeKeyPairSource, opts.keyGenerations ?? DEFAULT_KEY_GENERATION_LIMITS),
      keystoreReader: importPool,
      hostName: hostname(),
      onKeystoreChanged: (change: KeystoreChange) => {
        log.info({ revision: change.revision, defaultChanged: change.defaultChanged }, 'keystore changed');
        for (const listener of keystoreListeners) listener(change);
      },
      rotation,
      onAuditFailure: (err, entry) => log.error({ err, ...entry }, 'could not write the audit entry of a failed change'),
    });

    const metrics = new ServerMetrics({ ctx, isLeader: () => member.isLeader });

    // H3: a node new to an existing cluster must bring the current network token.
    const joinToken = knownId === null && opts.joinTokenFile ? await readFile(opts.joinTokenFile, 'utf8') : null;
    const admission = await admitNode(ctx, { nodeId, joinToken, dataDir });
    if (knownId === null) await writeFileAtomic(join(dataDir, NODE_ID_FILE), `${nodeId}\n`);
    if (admission === 'token') out(`Joined the cluster with the network token from ${opts.joinTokenFile}.`);

    const admin = await ensureAdminAccount(ctx, process.env.CERTFLEET_ADMIN_PASSWORD || undefined);
    if (admin.generatedPassword) {
      out(`Created the account "admin" with the password: ${admin.generatedPassword}`);
      out('It is shown only this once. Log in and create your own accounts; set CERTFLEET_ADMIN_PASSWORD to choose it instead.');
    } else if (admin.created) {
      out('Created the account "admin" with the password from CERTFLEET_ADMIN_PASSWORD.');
    }
    const first = await ensureDefaultCertificate(ctx, SYSTEM_ACTOR);
    if (first) log.info({ alias: first.alias, sha256: first.facts.sha256Fingerprint }, 'created the default certificate');

    const channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: opts.deviceListen.host, port: opts.deviceListen.port, log: log.child({ component: 'device-channel' }), ...(opts.deviceLimits ? { limits: opts.deviceLimits } : {}), ...(opts.deviceHandshakeThreads !== undefined ? { handshakeThreads: opts.deviceHandshakeThreads } : {}), events: metrics });
    closers.push(() => channel.close());
    // Reloaded, the node says at once which revision it serves (cluster status), not at its next heartbeat.
    const reloadChannel = () =>
      channel.reload().then(
        () => member.reportServedRevision(),
        (e: unknown) => log.error({ err: e }, 'device channel: reload failed; the poll retries'),
      );

    const member = new ClusterMember({
      ctx,
      nodeId,
      dataDir,
      leaseTtlMs: opts.leaseTtlMs,
      scheduler: nodeScheduler,
      log: clusterLog,
      servedRevision: () => channel.revision,
      onLeadership: (leader) => rotation.setLeader(leader),
      writeFile: writeFileAtomic,
    });
    // Revisions this node made: their notification comes back to it too, and is skipped (the work
    // below is done already). Bounded: an entry whose notification never came is dropped in time.
    const ownRevisions = new Set<number>();
    // This node's own changes: served at once, the token file rewritten, the leader woken.
    keystoreListeners.push((change) => {
      if (listener) {
        if (ownRevisions.size >= 64) ownRevisions.clear();
        ownRevisions.add(change.revision);
      }
      void reloadChannel();
      void member.syncTokenFile().catch((e: unknown) => clusterLog.warn({ err: e }, 'network token file not updated'));
      if (change.defaultChanged) rotation.trigger(RotationTrigger.defaultChanged);
    });
    // Other nodes' changes (H2): the same, as soon as they commit.
    onNotification.current = (channel, payload) => {
      if (channel === KEYSTORE_CHANNEL) {
        if (ownRevisions.delete(Number(payload))) return;
        void reloadChannel();
        void member.syncTokenFile().catch((e: unknown) => clusterLog.warn({ err: e }, 'network token file not updated'));
        // The leader cannot tell a default change from the revision alone; a pass is cheap.
        if (rotation.isRunning) rotation.trigger(RotationTrigger.defaultChanged);
      } else if (channel === ROTATION_REQUEST_CHANNEL) {
        link?.onRequest(payload, rotation, () => rotation.isRunning);
      } else if (channel === ROTATION_DONE_CHANNEL) {
        link?.onDone(payload);
      }
    };
    onListening.current = () => void reloadChannel();
    if (listener) {
      await listener.start();
      closers.push(() => listener.close());
    }

    const tls = isLoopback(opts.listen.host) && !opts.webCert ? null : await loadWebTls({ dataDir, certFile: opts.webCert, keyFile: opts.webKey, hostName: hostname() });
    const scryptLogN = backupScryptLogN();
    const app = await buildHttpApi({
      ctx,
      logger: log,
      https: tls,
      ...(opts.httpLimits ? { limits: opts.httpLimits } : {}),
      allowedHosts: allowedHostNames(opts.listen.host, opts.allowedHosts ?? []),
      cluster: { leaseTtlMs: opts.leaseTtlMs, dataDir },
      logins: {
        limits: { perAddress: opts.loginLimits?.perAddress ?? DEFAULT_LOGIN_LIMITS.perAddress, perName: opts.loginLimits?.perName ?? DEFAULT_LOGIN_LIMITS.perName },
        scheduler: nodeScheduler,
      },
      backups: { dataDir, serverVersion: VERSION, nodeId, maxRestoreBytes: MAX_RESTORE_BYTES, ...(scryptLogN !== undefined ? { scryptLogN } : {}) },
      metrics,
    });
    await app.listen({ host: opts.listen.host, port: opts.listen.port });
    closers.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : opts.listen.port;
    const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
    const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
    const deviceAddress = `${opts.deviceListen.host}:${channel.address.port}`;

    await registerNode(ctx, { id: nodeId, name: hostname(), apiAddress: `${host}:${port}`, deviceAddress, version: VERSION, servedRevision: channel.revision });
    await member.start();
    // L2: automatic successors, on the rotation leader only (off until `lifecycle set`).
    const lifecycle = new LifecycleSchedule({ ctx, scheduler: nodeScheduler, log: log.child({ component: 'lifecycle' }), isLeader: () => member.isLeader, fence: member.fence });
    lifecycle.start();
    closers.push(async () => {
      await lifecycle.stop();
      await member.stop();
      await rotation.stop();
    });
    const expiry = new ExpirySchedule({ ctx, scheduler: nodeScheduler, log: log.child({ component: 'expiry' }), isLeader: () => member.isLeader });
    expiry.start();
    closers.push(() => expiry.stop());
    if (opts.metricsListen) {
      const metricsServer = await startMetricsListener(metrics, opts.metricsListen, log.child({ component: 'metrics' }));
      closers.push(() => metricsServer.close());
      out(`Prometheus metrics without authentication at http://${metricsServer.address}/metrics`);
    }
    if (opts.backups) {
      mkdirSync(opts.backups.dir, { recursive: true, mode: 0o700 });
      const schedule = new BackupSchedule({
        ctx,
        dir: opts.backups.dir,
        everyMs: opts.backups.everyMs,
        keep: opts.backups.keep,
        passphrase: checkPassphrase(await readFile(opts.backups.passphraseFile, 'utf8')),
        scheduler: nodeScheduler,
        log: log.child({ component: 'backup' }),
        isLeader: () => member.isLeader,
        nodeId,
        serverVersion: VERSION,
        schemaVersion: MIGRATION_NAMES.at(-1) ?? '',
        ...(scryptLogN !== undefined ? { scryptLogN } : {}),
      });
      schedule.start();
      closers.push(() => schedule.stop());
      out(`Scheduled backups: every ${opts.backups.everyMs / 1000} s into ${opts.backups.dir} (newest ${opts.backups.keep} kept), written by the rotation leader`);
    }
    out(`certfleet is listening: console and API at ${url}/ (OpenAPI at ${url}/api/v1/openapi.json)`);
    out(`Device channel (TLS) listening on ${deviceAddress}; rotation every ${opts.syncIntervalMs / 1000} s`);
    out(`Node ${nodeId} (${member.isLeader ? 'rotation leader' : 'follower'}); lease ${opts.leaseTtlMs / 1000} s`);
    return { url, deviceAddress, ctx, nodeId, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
