/**
 * The CLI's API commands (SPEC section 5): login, cert …, audit list, user …. Each one is a thin
 * shell over one REST call; `--json` prints the API's own document.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command } from 'commander';
import { ApiClient, configuredClient as client } from './api-client.js';
import { readConfig, writeConfig } from './cli-config.js';
import { UsageError } from './cli-errors.js';
import { printJson, readPassword, readSecretFile, say, table, tell, wholeNumber as integer } from './cli-io.js';
import { addCompatCommands } from './compat.commands.js';
import { addDeviceCommands, fetchDevices, printDevices } from './device.commands.js';
import { addEnrollCommands } from './enroll.commands.js';
import { addSyncCommands, printDefaultPreview } from './sync.commands.js';
import { addLifecycleCommands } from './lifecycle.commands.js';
import { addBackupCommands } from './backup.commands.js';
import { addClusterCommands } from './cluster.commands.js';
import { addSettingsCommands } from './settings.commands.js';
import type {
  AuditEvent,
  CertificateSummary,
  CreateUserBody,
  DefaultPreview,
  ExportKeyPairBody,
  GenerateCertificateBody,
  ImportCertificateBody,
  ImportedCertificate,
  LoginAnswer,
  LoginBody,
  User,
} from '../http-api/contract/index.js';

const enc = encodeURIComponent;

/** L1: a certificate in use that expires within the warning window, or has expired, is marked. */
function expiryMarker(c: CertificateSummary): string {
  if (!c.expiryWarning) return '';
  return c.expired ? ' !! EXPIRED, IN USE' : ' ! EXPIRES SOON';
}

function certificateRows(list: readonly CertificateSummary[]): string {
  return table(
    ['#', 'ALIAS', 'DEFAULT', 'ACTIVE', 'SIGNATURE', 'KEY', 'VALID UNTIL', 'DEVICES'],
    list.map((c) => [
      String(c.position),
      c.alias,
      c.isDefault ? 'default' : '',
      c.active ? 'active' : 'inactive',
      c.signatureAlgorithm,
      `${c.keyAlgorithm} ${c.keySize}`,
      `${c.notAfter.slice(0, 10)} (${c.daysUntilExpiry} days)${expiryMarker(c)}`,
      String(c.deviceCount),
    ]),
  );
}

function describe(c: CertificateSummary): string {
  return `${c.alias}: ${c.signatureAlgorithm}, ${c.keyAlgorithm} ${c.keySize}, position ${c.position}${c.isDefault ? ' (default)' : ''}, ` +
    `${c.active ? 'active' : 'inactive'}, valid until ${c.notAfter}\n  SHA-256 ${c.sha256Fingerprint}\n`;
}

function addLogin(program: Command): void {
  program
    .command('login')
    .description('log in to a server and remember it and the token')
    .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:8080')
    .requiredOption('--user <name>', 'user name')
    .option('--password-stdin', 'read the password from stdin')
    .option('--password-file <file>', 'read the password from a file')
    .option('--ca-file <file>', 'PEM file to trust for the server\'s HTTPS certificate')
    .action(async (opts: { server: string; user: string; passwordStdin?: boolean; passwordFile?: string; caFile?: string }) => {
      const password = await readPassword(opts);
      const api = new ApiClient(opts.server, undefined, opts.caFile);
      const res = await api.json<LoginAnswer>('POST', '/api/v1/auth/login', { username: opts.user, password } satisfies LoginBody);
      const path = writeConfig({ server: opts.server, token: res.token, ...(opts.caFile ? { caFile: opts.caFile } : {}) });
      say(`Logged in to ${opts.server} as ${res.user.username} (${res.user.role}) until ${res.expiresAt}.\nSaved in ${path}.\n`);
    });
  program
    .command('logout')
    .description('revoke the remembered token and forget it')
    .action(async () => {
      const config = readConfig();
      await ApiClient.fromConfig(config).call('POST', '/api/v1/auth/logout');
      writeConfig({ ...(config.server ? { server: config.server } : {}), ...(config.caFile ? { caFile: config.caFile } : {}) });
      say('Logged out.\n');
    });
}

function addCert(program: Command): void {
  const cert = program.command('cert').description('the keystore of server certificates');

  cert.command('list').description('certificates in priority order (the first is the default)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await client().json<CertificateSummary[]>('GET', '/api/v1/certificates');
      if (opts.json) printJson(list);
      else say(certificateRows(list));
    });

  cert.command('show').argument('<alias>').description('everything in the certificate (K9)')
    .option('--json', 'print JSON')
    .action(async (alias: string, opts: { json?: boolean }) => {
      const api = client();
      if (opts.json) {
        const summary = await api.json<CertificateSummary>('GET', `/api/v1/certificates/${enc(alias)}`);
        const content = await api.json<unknown>('GET', `/api/v1/certificates/${enc(alias)}/content`);
        printJson({ ...summary, content });
      } else {
        const res = await api.call('GET', `/api/v1/certificates/${enc(alias)}/content?format=text`);
        say(res.body.toString('utf8'));
      }
    });

  cert.command('generate').description('generate a key pair and a self-signed certificate (K5)')
    .requiredOption('--alias <alias>', 'alias of the new entry')
    .option('--cn <name>', 'subject common name (default: the server\'s host name)')
    .option('--sig-alg <name>', 'SHA512withRSA, SHA384withRSA, SHA256withRSA, SHA256withECDSA or SHA384withECDSA', 'SHA512withRSA')
    .option('--key-size <bits>', 'RSA key size: 2048, 3072 or 4096 (default 4096)', integer('--key-size'))
    .option('--days <n>', 'validity in days (default 3650)', integer('--days'))
    .option('--json', 'print JSON')
    .action(async (opts: { alias: string; cn?: string; sigAlg: string; keySize?: number; days?: number; json?: boolean }) => {
      if (!opts.json) tell(`Generating ${opts.sigAlg} key pair for "${opts.alias}" …\n`);
      const created = await client().json<CertificateSummary>('POST', '/api/v1/certificates', {
        alias: opts.alias,
        signatureAlgorithm: opts.sigAlg,
        ...(opts.cn !== undefined ? { commonName: opts.cn } : {}),
        ...(opts.keySize !== undefined ? { keySize: opts.keySize } : {}),
        ...(opts.days !== undefined ? { days: opts.days } : {}),
      } satisfies GenerateCertificateBody);
      if (opts.json) printJson(created);
      else say('Generated ' + describe(created));
    });

  cert.command('import').argument('<file>', 'PKCS#12 (.p12/.pfx), JKS or PEM file').description('import a key pair from a keystore file (K6)')
    .requiredOption('--alias <alias>', 'alias of the new entry')
    .option('--password-stdin', 'read the keystore password from stdin')
    .option('--password-file <file>', 'read the keystore password from a file (an empty file: the empty password)')
    .option('--no-password', 'the file has no password (a Windows export without one, openssl -passout pass:, PEM with a plain key)')
    .option('--key-password-file <file>', 'read the key password from a file (JKS; default: the keystore password)')
    .option('--entry <name>', 'the entry to import when the file holds several')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { alias: string; passwordStdin?: boolean; passwordFile?: string; password: boolean; keyPasswordFile?: string; entry?: string; json?: boolean }) => {
      if (!opts.password && (opts.passwordStdin || opts.passwordFile)) {
        throw new UsageError('Give either --no-password or a password (--password-stdin / --password-file), not both.');
      }
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (e) {
        throw new UsageError(`Cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      // PEM files may hold an unencrypted key: the password is then optional, and left out it is
      // empty, as --no-password says outright (the server tries both PKCS#12 encodings of it).
      const password = opts.passwordStdin || opts.passwordFile ? await readPassword(opts, 'keystore password') : '';
      const keyPassword = opts.keyPasswordFile ? readSecretFile(opts.keyPasswordFile, 'key password') : undefined;
      const created = await client().json<ImportedCertificate>('POST', '/api/v1/certificates/import', {
        alias: opts.alias,
        file: bytes.toString('base64'),
        password,
        ...(keyPassword !== undefined ? { keyPassword } : {}),
        ...(opts.entry !== undefined ? { entry: opts.entry } : {}),
      } satisfies ImportCertificateBody);
      if (opts.json) printJson(created);
      else {
        say(`Imported ${basename(file)} as ` + describe(created));
        if (created.integrityCheck === 'none') {
          say('  The file had no integrity check (no PKCS#12 MAC, no keystore digest): compare the SHA-256 above with its source.\n');
        }
      }
    });

  const stateChanges: readonly [string, string, string][] = [
    ['delete', 'delete an entry no device uses (K7)', ''],
    ['up', 'move an entry up; at the top it becomes the default (K3)', 'move-up'],
    ['down', 'move an entry down (K3)', 'move-down'],
    ['default', 'make an entry the default (K3)', 'make-default'],
    ['activate', 'allow an entry for new registrations (K4)', 'activate'],
    ['deactivate', 'keep an entry from new registrations (K4)', 'deactivate'],
  ];
  for (const [name, description, route] of stateChanges) {
    const command = cert.command(name).argument('<alias>').description(description)
      .option('--json', name === 'default' ? 'print JSON: the new list, or with --dry-run the preview' : 'print the new list as JSON');
    if (name === 'default') {
      command.option('--dry-run', 'change nothing; show which devices would switch to it and which would stay, per profile');
    }
    command
      .action(async (alias: string, opts: { json?: boolean; dryRun?: boolean }) => {
        const api = client();
        if (opts.dryRun) {
          const preview = await api.json<DefaultPreview>('GET', `/api/v1/certificates/${enc(alias)}/default-preview`);
          if (opts.json) printJson(preview);
          else printDefaultPreview(preview);
          return;
        }
        if (name === 'delete') {
          await api.call('DELETE', `/api/v1/certificates/${enc(alias)}`);
          if (opts.json) printJson(await api.json<CertificateSummary[]>('GET', '/api/v1/certificates'));
          else say(`Deleted "${alias}".\n`);
          return;
        }
        const list = await api.json<CertificateSummary[]>('POST', `/api/v1/certificates/${enc(alias)}/${route}`);
        if (opts.json) printJson(list);
        else say(certificateRows(list));
      });
  }

  cert.command('export').argument('<alias>').description('write the certificate as PEM (or DER) (K8)')
    .requiredOption('--out <file>', 'where to write it')
    .option('--der', 'DER instead of PEM')
    .action(async (alias: string, opts: { out: string; der?: boolean }) => {
      const res = await client().call('GET', `/api/v1/certificates/${enc(alias)}/export?format=${opts.der ? 'der' : 'pem'}`);
      writeFileSync(opts.out, res.body, { mode: 0o644 });
      say(`Wrote the certificate of "${alias}" to ${opts.out}.\n`);
    });

  cert.command('export-keypair').argument('<alias>').description('write the key pair as PKCS#12 under a password (administrators; audited) (K8)')
    .requiredOption('--out <file>', 'where to write the .p12 file (mode 0600)')
    .option('--password-stdin', 'read the export password from stdin')
    .option('--password-file <file>', 'read the export password from a file')
    .action(async (alias: string, opts: { out: string; passwordStdin?: boolean; passwordFile?: string }) => {
      const password = await readPassword(opts, 'export password');
      const res = await client().call('POST', `/api/v1/certificates/${enc(alias)}/export-keypair`, { password } satisfies ExportKeyPairBody);
      writeFileSync(opts.out, res.body, { mode: 0o600 });
      say(`Wrote the key pair of "${alias}" to ${opts.out} (PKCS#12).\n`);
    });

  cert.command('devices').argument('<alias>').description('devices that use the certificate (K10)')
    .option('--search <text>', 'only devices whose id, unit id or name contains this')
    .option('--limit <n>', 'at most this many (default: all)', integer('--limit'))
    .option('--json', 'print JSON')
    .action(async (alias: string, opts: { search?: string; limit?: number; json?: boolean }) => {
      const page = await fetchDevices(client(), `/api/v1/certificates/${enc(alias)}/devices`, opts);
      if (opts.json) printJson(page);
      else printDevices(`Devices which use the selected certificate (${page.count})`, page);
    });
}

function addAudit(program: Command): void {
  program.command('audit').description('the audit log').command('list').description('newest first')
    .option('--limit <n>', 'how many (default 100, at most 500)', integer('--limit'))
    .option('--json', 'print JSON')
    .action(async (opts: { limit?: number; json?: boolean }) => {
      const events = await client().json<AuditEvent[]>('GET', `/api/v1/audit?limit=${opts.limit ?? 100}`);
      if (opts.json) printJson(events);
      else say(table(['TIME', 'WHO', 'ACTION', 'TARGET', 'RESULT'], events.map((e) => [
        e.at, e.actor, e.action, e.target ?? '', e.code ? `${e.result} (${e.code})` : e.result,
      ])));
    });
}

function addUser(program: Command): void {
  const user = program.command('user').description('accounts (administrators)');
  user.command('create').argument('<name>').description('create an account')
    .requiredOption('--role <role>', 'admin, operator or viewer')
    .option('--password-stdin', 'read the password from stdin')
    .option('--password-file <file>', 'read the password from a file')
    .action(async (name: string, opts: { role: string; passwordStdin?: boolean; passwordFile?: string }) => {
      const password = await readPassword(opts);
      const created = await client().json<User>('POST', '/api/v1/users', { username: name, role: opts.role, password } satisfies CreateUserBody);
      say(`Created ${created.username} (${created.role}).\n`);
    });
  user.command('list').description('all accounts').option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const users = await client().json<User[]>('GET', '/api/v1/users');
      if (opts.json) printJson(users);
      else say(table(['USER', 'ROLE', 'CREATED'], users.map((u) => [u.username, u.role, u.createdAt])));
    });
  user.command('delete').argument('<name>').description('delete an account and its tokens')
    .action(async (name: string) => {
      await client().call('DELETE', `/api/v1/users/${enc(name)}`);
      say(`Deleted ${name}.\n`);
    });
}

export function addApiCommands(program: Command): void {
  addLogin(program);
  addCert(program);
  addDeviceCommands(program);
  addEnrollCommands(program);
  addCompatCommands(program);
  addSyncCommands(program);
  addLifecycleCommands(program);
  addClusterCommands(program);
  addSettingsCommands(program);
  addBackupCommands(program);
  addAudit(program);
  addUser(program);
}

