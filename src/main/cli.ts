/**
 * `certfleet`: the server (`serve`) and the client commands that talk to a server's REST API.
 * Exit codes (SPEC section 5): 0 success, 1 refused by the server, 2 usage error.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { addApiCommands } from '../transport/cli/commands.js';
import { durationSeconds, printable, wholeNumber } from '../transport/cli/cli-io.js';
import { addAgentCommands } from '../transport/cli/agent.commands.js';
import { ConnectionError, ExitCode, ServerRefusal, UsageError } from '../transport/cli/cli-errors.js';
import { isCertfleetError } from '../domain/errors.js';
import { parseHostPort, type HostPort } from './host-port.js';
import type { ServeOptions } from './serve.js';
import type { WorkLimits } from '../crypto/bounded-work.js';
import type { LoginLimit } from '../transport/http-api/login-limits.js';

/** `N` or `N/QUEUED`: how many run at once and how many may wait (`--key-generations 2/4`). */
function runAndQueue(flag: string): (value: string) => WorkLimits {
  return (value) => {
    const m = /^(\d+)(?:\/(\d+))?$/.exec(value.trim());
    if (!m || Number(m[1]) < 1) throw new InvalidArgumentError(`${flag} is RUNNING or RUNNING/QUEUED, whole numbers, at least one running (e.g. 2/4).`);
    return { concurrent: Number(m[1]), queued: Number(m[2] ?? 0) };
  };
}

/** `N/DURATION`: attempts per window (`--login-limit-address 30/1m`). */
function attemptsPer(flag: string): (value: string) => LoginLimit {
  return (value) => {
    const [count = '', window = ''] = value.trim().split('/');
    if (!/^\d+$/.test(count) || Number(count) < 1 || window === '') throw new InvalidArgumentError(`${flag} is ATTEMPTS/DURATION, such as 30/1m.`);
    return { max: Number(count), windowMs: durationSeconds(flag)(window) * 1000 };
  };
}

import { DEFAULT_HTTP_LIMITS } from '../transport/http-api/limits.js';
import { DEVICE_CHANNEL_LIMITS, MAX_HANDSHAKE_THREADS } from '../transport/device-channel/limits.js';

/** `--allowed-host a,b --allowed-host c`: every name, in order. */
function hostNames(value: string, previous: readonly string[]): string[] {
  const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.some((n) => !/^[A-Za-z0-9.:[\]_-]{1,253}$/.test(n))) throw new InvalidArgumentError('--allowed-host takes host names or addresses, comma-separated.');
  return [...previous, ...names];
}

const program = new Command('certfleet')
  .description('Manages the TLS server certificates a fleet of thin clients pins.')
  .version(process.env.npm_package_version ?? '0.1.0')
  .showHelpAfterError()
  .exitOverride();

program
  .command('serve')
  .description('run the server: console and REST API, device channel')
  .addOption(new Option('--data <dir>', 'data directory (master key, SQLite database)').env('CERTFLEET_DATA').default('./data'))
  .addOption(new Option('--db <url>', 'postgres://… for a cluster (default: SQLite in the data directory)').env('CERTFLEET_DB'))
  .addOption(new Option('--listen <host:port>', 'console and API address').env('CERTFLEET_LISTEN').default(parseHostPort('127.0.0.1:8080'), '127.0.0.1:8080').argParser(parseHostPort))
  .addOption(new Option('--device-listen <host:port>', 'device channel address (TLS)').env('CERTFLEET_DEVICE_LISTEN').default(parseHostPort('0.0.0.0:30001'), '0.0.0.0:30001').argParser(parseHostPort))
  .addOption(new Option('--metrics-listen <host:port>', 'Prometheus /metrics without authentication on its own address (keep it on a private network); the API serves /metrics to a token with the metrics permission anyway').env('CERTFLEET_METRICS_LISTEN').argParser(parseHostPort))
  .addOption(new Option('--sync-interval <duration>', 'rotation interval, e.g. 300s, 5m, 1h').env('CERTFLEET_SYNC_INTERVAL').default(300, '5m').argParser(durationSeconds('--sync-interval')))
  .addOption(new Option('--lease-ttl <duration>', 'cluster: how long the rotation leader\'s lease lasts without renewal (failover time), e.g. 15s').env('CERTFLEET_LEASE_TTL').default(15, '15s').argParser(durationSeconds('--lease-ttl')))
  .addOption(new Option('--join-token <file>', 'cluster: the current network token, needed once when a new node joins an existing cluster'))
  .addOption(new Option('--web-cert <file>', 'PEM certificate for HTTPS on a non-loopback address'))
  .addOption(new Option('--web-key <file>', 'PEM private key for --web-cert'))
  .addOption(new Option('--log-level <level>', 'fatal, error, warn, info, debug').env('CERTFLEET_LOG_LEVEL').default('info'))
  .addOption(new Option('--backup-dir <dir>', 'scheduled backups: where the leader writes them').env('CERTFLEET_BACKUP_DIR'))
  .addOption(new Option('--backup-every <duration>', 'scheduled backups: how often, e.g. 24h').env('CERTFLEET_BACKUP_EVERY').default(86_400, '24h').argParser(durationSeconds('--backup-every')))
  .addOption(new Option('--backup-keep <n>', 'scheduled backups: how many of the newest to keep').env('CERTFLEET_BACKUP_KEEP').default(7).argParser(wholeNumber('--backup-keep')))
  .addOption(new Option('--backup-passphrase-file <file>', 'scheduled backups: the file holding their passphrase (never on the command line)').env('CERTFLEET_BACKUP_PASSPHRASE_FILE'))
  .addOption(new Option('--key-generations <n[/queued]>', 'key generations at once, and how many may wait; more answer 429 (default: one per core but one, 4 waiting)').env('CERTFLEET_KEY_GENERATIONS').argParser(runAndQueue('--key-generations')))
  .addOption(new Option('--password-hashes <n[/queued]>', 'password hashes (scrypt) at once, and how many may wait; more answer 429 (default 2/32)').env('CERTFLEET_PASSWORD_HASHES').argParser(runAndQueue('--password-hashes')))
  .addOption(new Option('--login-limit-address <n/duration>', 'log-in attempts one address may make per window (default 30/1m)').env('CERTFLEET_LOGIN_LIMIT_ADDRESS').argParser(attemptsPer('--login-limit-address')))
  .addOption(new Option('--login-limit-name <n/duration>', 'wrong passwords one user name may get per window (default 10/15m)').env('CERTFLEET_LOGIN_LIMIT_NAME').argParser(attemptsPer('--login-limit-name')))
  .addOption(new Option('--allowed-host <names>', 'console and API: a host name it is reached by (comma-separated, repeatable); the listen address and localhost always are').env('CERTFLEET_ALLOWED_HOSTS').default([], 'none').argParser(hostNames))
  .addOption(new Option('--http-headers-timeout <duration>', 'console and API: deadline from a connection\'s first byte to the end of its headers').env('CERTFLEET_HTTP_HEADERS_TIMEOUT').default(DEFAULT_HTTP_LIMITS.headersTimeoutMs / 1000, '10s').argParser(durationSeconds('--http-headers-timeout')))
  .addOption(new Option('--http-request-timeout <duration>', 'console and API: deadline for a whole request, body included (raise it for large backup uploads)').env('CERTFLEET_HTTP_REQUEST_TIMEOUT').default(DEFAULT_HTTP_LIMITS.requestTimeoutMs / 1000, '5m').argParser(durationSeconds('--http-request-timeout')))
  .addOption(new Option('--http-keep-alive-timeout <duration>', 'console and API: how long an idle keep-alive connection stays open').env('CERTFLEET_HTTP_KEEP_ALIVE_TIMEOUT').default(DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs / 1000, '5s').argParser(durationSeconds('--http-keep-alive-timeout')))
  .addOption(new Option('--device-handshake-deadline <duration>', 'device port: deadline from accept to a finished TLS handshake').env('CERTFLEET_DEVICE_HANDSHAKE_DEADLINE').default(DEVICE_CHANNEL_LIMITS.handshakeDeadlineMs / 1000, '10s').argParser(durationSeconds('--device-handshake-deadline')))
  .addOption(new Option('--device-max-connections <n>', 'device port: open connections at most').env('CERTFLEET_DEVICE_MAX_CONNECTIONS').default(DEVICE_CHANNEL_LIMITS.maxConnections).argParser(wholeNumber('--device-max-connections')))
  .addOption(new Option('--device-max-handshakes <n>', 'device port: connections still in their handshake at most').env('CERTFLEET_DEVICE_MAX_HANDSHAKES').default(DEVICE_CHANNEL_LIMITS.maxHandshakes).argParser(wholeNumber('--device-max-handshakes')))
  .addOption(new Option('--device-registration-limit <n/duration>', 'device port: registration attempts one source may make per window, a burst of n (default 30/1m); successes do not count').env('CERTFLEET_DEVICE_REGISTRATION_LIMIT').argParser(attemptsPer('--device-registration-limit')))
  .addOption(new Option('--device-throttled-sources <n>', 'device port: sources the registration throttle remembers').env('CERTFLEET_DEVICE_THROTTLED_SOURCES').default(DEVICE_CHANNEL_LIMITS.maxThrottledSources).argParser(wholeNumber('--device-throttled-sources')))
  .addOption(new Option('--device-refusal-sources <n>', 'device port: audit entries of refused registrations per minute, one per source (the rest share one)').env('CERTFLEET_DEVICE_REFUSAL_SOURCES').default(DEVICE_CHANNEL_LIMITS.maxRefusalSourcesPerMinute).argParser(wholeNumber('--device-refusal-sources')))
  .addOption(new Option('--device-handshake-threads <n>', `device port: worker threads for full TLS handshakes (their signatures); 0 runs them on the event loop (default: one per core, at most 8; at most ${MAX_HANDSHAKE_THREADS})`).env('CERTFLEET_DEVICE_HANDSHAKE_THREADS').argParser(wholeNumber('--device-handshake-threads')))
  .addOption(new Option('--http-max-connections <n>', 'console and API: open connections at most').env('CERTFLEET_HTTP_MAX_CONNECTIONS').default(DEFAULT_HTTP_LIMITS.maxConnections).argParser(wholeNumber('--http-max-connections')))
  .action(async (o: { data: string; db?: string; listen: HostPort; deviceListen: HostPort; metricsListen?: HostPort; syncInterval: number; leaseTtl: number; joinToken?: string; webCert?: string; webKey?: string; logLevel: string; backupDir?: string; backupEvery: number; backupKeep: number; backupPassphraseFile?: string; keyGenerations?: WorkLimits; passwordHashes?: WorkLimits; loginLimitAddress?: LoginLimit; loginLimitName?: LoginLimit; allowedHost: string[]; httpHeadersTimeout: number; httpRequestTimeout: number; httpKeepAliveTimeout: number; httpMaxConnections: number; deviceHandshakeDeadline: number; deviceMaxConnections: number; deviceMaxHandshakes: number; deviceRegistrationLimit?: LoginLimit; deviceThrottledSources: number; deviceRefusalSources: number; deviceHandshakeThreads?: number }) => {
    // Everything the server creates (data directory, database, keys, backups, token files) is the
    // owner's only, whatever umask it was started with; modes given explicitly stay as strict.
    process.umask(0o077);
    if (o.httpMaxConnections < 1) throw new UsageError('--http-max-connections must be at least 1');
    for (const [flag, n] of [['--device-max-connections', o.deviceMaxConnections], ['--device-max-handshakes', o.deviceMaxHandshakes], ['--device-throttled-sources', o.deviceThrottledSources], ['--device-refusal-sources', o.deviceRefusalSources]] as const) {
      if (n < 1) throw new UsageError(`${flag} must be at least 1`);
    }
    if (o.deviceHandshakeThreads !== undefined && o.deviceHandshakeThreads > MAX_HANDSHAKE_THREADS) throw new UsageError(`--device-handshake-threads must be at most ${MAX_HANDSHAKE_THREADS}`);
    if (o.deviceHandshakeDeadline < 1) throw new UsageError('--device-handshake-deadline must be at least 1s');
    if (o.leaseTtl < 3) throw new UsageError('--lease-ttl must be at least 3s');
    if (o.backupDir !== undefined && o.backupPassphraseFile === undefined) throw new UsageError('--backup-dir needs --backup-passphrase-file FILE');
    if (o.backupKeep < 1) throw new UsageError('--backup-keep must be at least 1');
    const opts: ServeOptions = {
      dataDir: o.data, db: o.db, listen: o.listen, deviceListen: o.deviceListen, syncIntervalMs: o.syncInterval * 1000,
      leaseTtlMs: o.leaseTtl * 1000, joinTokenFile: o.joinToken,
      webCert: o.webCert, webKey: o.webKey, logLevel: o.logLevel,
      allowedHosts: o.allowedHost,
      metricsListen: o.metricsListen ?? null,
      httpLimits: {
        headersTimeoutMs: o.httpHeadersTimeout * 1000, requestTimeoutMs: o.httpRequestTimeout * 1000,
        keepAliveTimeoutMs: o.httpKeepAliveTimeout * 1000, maxConnections: o.httpMaxConnections,
      },
      deviceLimits: {
        handshakeDeadlineMs: o.deviceHandshakeDeadline * 1000, maxConnections: o.deviceMaxConnections, maxHandshakes: o.deviceMaxHandshakes,
        maxThrottledSources: o.deviceThrottledSources, maxRefusalSourcesPerMinute: o.deviceRefusalSources,
        ...(o.deviceRegistrationLimit
          ? { registrationBurst: o.deviceRegistrationLimit.max, registrationsPerMinute: (o.deviceRegistrationLimit.max * 60_000) / o.deviceRegistrationLimit.windowMs }
          : {}),
      },
      ...(o.deviceHandshakeThreads !== undefined ? { deviceHandshakeThreads: o.deviceHandshakeThreads } : {}),
      backups: o.backupDir === undefined || o.backupPassphraseFile === undefined
        ? null
        : { dir: o.backupDir, everyMs: o.backupEvery * 1000, keep: o.backupKeep, passphraseFile: o.backupPassphraseFile },
      ...(o.keyGenerations ? { keyGenerations: o.keyGenerations } : {}),
      ...(o.passwordHashes ? { passwordHashes: o.passwordHashes } : {}),
      ...(o.loginLimitAddress || o.loginLimitName ? { loginLimits: { perAddress: o.loginLimitAddress, perName: o.loginLimitName } } : {}),
    };
    // Loaded here, not at the top: the client commands start fast without the server's modules.
    const { createLogger, startServer } = await import('./serve.js');
    const log = createLogger(opts.logLevel);
    const server = await startServer(opts, log, (line) => process.stdout.write(line + '\n'));
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      server.close().then(() => process.exit(0), (e: unknown) => {
        log.error({ err: e }, 'error while stopping');
        process.exit(1);
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

addApiCommands(program);
addAgentCommands(program);

/** Messages may come from the server (a refusal, a connection error): printed without terminal controls. */
function fail(code: number, raw: string): never {
  const text = printable(raw, { multiline: true });
  process.stderr.write(text.endsWith('\n') ? text : text + '\n');
  process.exit(code);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // help and version end with exitCode 0; every other commander error is a usage error
    process.exit(e.exitCode === 0 ? ExitCode.ok : ExitCode.usage);
  }
  if (e instanceof ServerRefusal) fail(ExitCode.refused, `error: ${e.code}: ${e.message}`);
  if (e instanceof UsageError) fail(ExitCode.usage, `error: ${e.message}`);
  if (e instanceof ConnectionError) fail(ExitCode.refused, `error: ${e.message}`);
  if (isCertfleetError(e)) fail(ExitCode.refused, `error: ${e.code}: ${e.message}`);
  fail(ExitCode.refused, `error: ${(e as Error).stack ?? String(e)}`);
}
