/**
 * `GET /metrics` end to end, on SQLite and PostgreSQL: the real server with `--metrics-listen`,
 * the real CLI and real agents over TLS. Each scrape is parsed by a strict Prometheus text-format parser
 * and its values are checked against what the API (through the CLI) says: devices per certificate
 * and per profile, days to expiry and the expiry flag (L1, with `settings set expiry-warning`),
 * registrations, check-ins, a refused handshake, rotation passes, leadership. On the API listener
 * the metrics need a token; on the metrics listener they need none.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, it } from 'node:test';
import { pinServerName } from '../../src/domain/device-names.js';
import { readConfig } from '../../src/transport/cli/cli-config.js';
import type { CertificateSummary, DevicePage, RotationReport, SettingsView } from '../../src/transport/http-api/contract/index.js';
import { assertRefused, CliSession } from '../support/cli.js';
import { forEachDatabase } from '../support/databases.js';
import { Scrape } from '../support/prometheus.js';
import { killAllServers, serveProcess, type Serving } from '../support/serve-process.js';

const ADMIN = 'metrics-admin-password';
/** A SHA-256 fingerprint no certificate of the keystore has. */
const UNKNOWN_FINGERPRINT = Array.from({ length: 32 }, () => 'AB').join(':');

after(() => killAllServers());

forEachDatabase('Prometheus metrics', (db) => {
  let server: Serving;
  let cli: CliSession;
  let metricsUrl: string;
  let adminToken: string;
  const dir = mkdtempSync(join(tmpdir(), 'certfleet-metrics-'));

  before(async () => {
    server = await serveProcess({ dataDir: join(dir, 'data'), db: (await db.database()).url, args: ['--metrics-listen', '127.0.0.1:0'], env: { CERTFLEET_ADMIN_PASSWORD: ADMIN } });
    const announced = /Prometheus metrics without authentication at (http:\/\/\S+\/metrics)/.exec(server.output());
    assert.ok(announced?.[1], `serve announces the metrics listener:\n${server.output()}`);
    metricsUrl = announced[1];
    cli = new CliSession(server.url);
    await cli.login('admin', ADMIN);
    const token = readConfig(cli.env).token; // what `certfleet login` saved
    assert.ok(token, 'the CLI saved a token');
    adminToken = token;
  });
  after(async () => {
    await server?.stop();
  });

  const scrapeListener = async (): Promise<Scrape> => {
    const res = await fetch(metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return new Scrape(await res.text());
  };
  const scrapeApi = async (token: string | null): Promise<Response> =>
    fetch(`${server.url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const agent = async (name: string, extra: readonly string[] = []) => {
    const r = await cli.run(['agent', '--server', server.deviceAddress, '--state', join(dir, name), '--once', '--json', ...extra], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `agent ${name}: ${r.stderr}`);
    return JSON.parse(r.stdout) as { deviceId: string; pinnedAlias: string }; // agent --once --json
  };
  const certificates = () => cli.json<CertificateSummary[]>(['cert', 'list']);

  /** Every certificate's device counts, days to expiry and expiry flag equal the API's. */
  const assertCertificatesMatch = (scrape: Scrape, list: readonly CertificateSummary[]) => {
    const byAlias = (f: (c: CertificateSummary) => number) => Object.fromEntries(list.map((c) => [c.alias, f(c)]));
    assert.deepEqual(scrape.byLabel('certfleet_certificate_devices', 'alias', { state: 'pinned' }), byAlias((c) => c.deviceCount));
    assert.deepEqual(scrape.byLabel('certfleet_certificate_devices', 'alias', { state: 'pending' }), byAlias((c) => c.pendingDeviceCount));
    assert.deepEqual(scrape.byLabel('certfleet_certificate_days_until_expiry', 'alias'), byAlias((c) => c.daysUntilExpiry));
    assert.deepEqual(scrape.byLabel('certfleet_certificate_expiry_warning', 'alias'), byAlias((c) => (c.expiryWarning ? 1 : 0)));
    assert.deepEqual(scrape.byLabel('certfleet_certificate_expired', 'alias'), byAlias((c) => (c.expired ? 1 : 0)));
    assert.deepEqual(scrape.byLabel('certfleet_certificate_default', 'alias'), byAlias((c) => (c.isDefault ? 1 : 0)));
  };

  it('serves the metrics to a token with the permission on the API, and without one on the metrics listener only', async () => {
    assert.equal((await scrapeApi(null)).status, 401, 'anonymous on the API');
    const res = await scrapeApi(adminToken);
    assert.equal(res.status, 200);
    const viaApi = new Scrape(await res.text());
    const viaListener = await scrapeListener();
    for (const s of [viaApi, viaListener]) {
      assert.equal(s.value('certfleet_leader'), 1, 'a single node leads');
      assert.equal(s.family('process_cpu_user_seconds_total').type, 'counter', 'Node process metrics are there');
      assert.equal(s.value('certfleet_expiry_warning_window_days'), 60);
    }
    const other = await fetch(metricsUrl.replace(/\/metrics$/, '/api/v1/certificates'));
    assert.equal(other.status, 404, 'the metrics listener serves /metrics only');
  });

  it('counts registrations, check-ins and refused handshakes, and its device gauges equal the API', async () => {
    const before = await scrapeListener();
    assertCertificatesMatch(before, await certificates());
    const registered = before.value('certfleet_device_registrations_total');
    const checkIns = before.value('certfleet_device_check_ins_total');
    const handshakes = before.byLabel('certfleet_device_handshakes_total', 'on');

    const { token } = await cli.json<{ token: string }>(['enroll', 'create', '--uses', '5']);
    const tokenFile = cli.secretFile(token);
    await agent('a', ['--token-file', tokenFile]);
    await agent('b', ['--token-file', tokenFile, '--profile', 'igel-os-11']);
    const refused = await cli.run(['agent', '--server', server.deviceAddress, '--state', join(dir, 'c'), '--once', '--json', '--token-file', cli.secretFile('not-a-token')], { timeoutMs: 30_000 });
    assert.notEqual(refused.code, 0, 'a wrong enrollment token is refused');
    await agent('a'); // a check-in
    // A client naming a pin the keystore does not hold: the handshake is refused.
    await new Promise<void>((resolve) => {
      const [host, port] = server.deviceAddress.split(':');
      const socket = connect({ host, port: Number(port), servername: pinServerName(UNKNOWN_FINGERPRINT), rejectUnauthorized: false });
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
    });

    const afterwards = await scrapeListener();
    assert.equal(afterwards.value('certfleet_device_registrations_total'), registered + 2, 'two registrations');
    assert.equal(afterwards.value('certfleet_device_registrations_refused_total', { reason: 'enrollment_token_invalid' }), 1, 'one refusal, by its code');
    assert.ok(afterwards.value('certfleet_device_check_ins_total') >= checkIns + 1, 'the check-in is counted');
    assert.equal(afterwards.value('certfleet_device_handshake_failures_total', { reason: 'unknown_pin' }), 1);
    // Three first contacts (a, b and the refused one) offered no session: full handshakes, on the threads.
    const handshakesAfter = afterwards.byLabel('certfleet_device_handshakes_total', 'on');
    assert.ok((handshakesAfter['thread'] ?? 0) >= (handshakes['thread'] ?? 0) + 3, `full handshakes on the handshake threads: ${JSON.stringify(handshakesAfter)}`);
    assertCertificatesMatch(afterwards, await certificates());
    const devices = await cli.json<DevicePage>(['device', 'list']);
    const perProfile: Record<string, number> = {};
    for (const d of devices.devices) perProfile[d.profile ?? 'unknown'] = (perProfile[d.profile ?? 'unknown'] ?? 0) + 1;
    assert.deepEqual(afterwards.byLabel('certfleet_profile_devices', 'profile'), perProfile);
    assert.deepEqual(perProfile, { 'igel-os-12': 1, 'igel-os-11': 1 });
  });

  it('times rotation passes and counts the devices they schedule', async () => {
    const before = await scrapeListener();
    const passes = before.histogramCount('certfleet_rotation_pass_duration_seconds', { result: 'ok' });
    const scheduled = before.value('certfleet_rotation_devices_scheduled_total');
    assert.ok(passes >= 1, 'serve ran a pass at start');
    assert.ok(before.value('certfleet_rotation_last_pass_timestamp_seconds') > 0, 'the last pass is known');
    for (const args of [['cert', 'generate', '--alias', 'next', '--sig-alg', 'SHA256withECDSA'], ['cert', 'default', 'next']]) {
      const r = await cli.run(args);
      assert.equal(r.code, 0, r.stderr);
    }
    const report = await cli.json<RotationReport>(['sync', 'run']);
    const afterwards = await scrapeListener();
    assert.ok(afterwards.histogramCount('certfleet_rotation_pass_duration_seconds', { result: 'ok' }) >= passes + 1, 'sync run is a pass');
    const list = await certificates();
    assert.equal(list.find((c) => c.alias === 'next')?.pendingDeviceCount, 2, 'both devices have next pending');
    assert.equal(afterwards.value('certfleet_rotation_devices_scheduled_total') - scheduled, 2, `the passes scheduled both devices (sync run: ${JSON.stringify(report)})`);
    assertCertificatesMatch(afterwards, list);
  });

  it('settings set expiry-warning flags the certificates in use in cert list and in the metrics', async () => {
    assert.deepEqual(await cli.json<SettingsView>(['settings', 'show']), { expiryWarning: '60d', expiryWarningDays: 60 });
    assertRefused(await cli.run(['settings', 'set', 'expiry-warning', 'soon']), 'invalid_setting');
    assert.deepEqual(await cli.json<SettingsView>(['settings', 'set', 'expiry-warning', '3650d']), { expiryWarning: '3650d', expiryWarningDays: 3650 });
    const list = await certificates();
    // tckey (ten years) carries the devices until they confirm next; next (EC, 3650 days) is pending on them.
    assert.deepEqual(list.filter((c) => c.expiryWarning).map((c) => c.alias).sort(), ['next', 'tckey']);
    const scrape = await scrapeListener();
    assert.equal(scrape.value('certfleet_expiry_warning_window_days'), 3650);
    assertCertificatesMatch(scrape, list);
    const table = await cli.run(['cert', 'list']);
    assert.match(table.stdout, /tckey .* ! EXPIRES SOON/, table.stdout);
    const audit = await cli.run(['audit', 'list', '--json']);
    assert.match(audit.stdout, /"action": ?"settings\.set"/, 'the change is audited');
  });
});
