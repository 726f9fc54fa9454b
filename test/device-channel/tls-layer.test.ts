/**
 * The device channel's TLS layer on its own, over real sockets, with a small in-memory stand-in
 * for the use cases (the same channel on the real use cases and databases is in
 * device-channel.test.ts): which certificate each server name gets, the pin each connection
 * reports, session resumption across per-entry contexts, the agent's handshake checks, limits.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import type { AppContext } from '../../src/app/context.js';
import { algorithmMask } from '../../src/domain/compatibility.js';
import { helloServerName, pinServerName } from '../../src/domain/device-names.js';
import { firmwareProfile } from '../../src/agent/profiles.js';
import { CertificateNotSupportedError, PinMismatchError, ServerRefusal } from '../../src/agent/agent-errors.js';
import { DeviceConnection } from '../../src/agent/tls-client.js';
import { HandshakePlace, NO_CHANNEL_EVENTS, startDeviceChannel, type DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { nodeScheduler, systemClock } from '../../src/main/system.js';
import type { DeviceKeystore, DeviceKeystoreEntry } from '../../src/app/device-keystore.js';
import { impostorServer, makeEntry, MEMORY_CREDENTIAL as CREDENTIAL, memoryUseCases, presentedFor, signallingLog, silentLog } from './channel-fixtures.js';

const LEGACY = firmwareProfile('igel-linux-4.01.650');
const MODERN = firmwareProfile('igel-os-12');
/** How a handshake the channel refuses (an unknown pin) ends on the client. */
const UNRECOGNIZED = /unrecognized name|ECONNRESET|socket disconnected/i;

function colon(hex: string): string {
  return (hex.toUpperCase().match(/../g) ?? []).join(':');
}

for (const handshakeThreads of [0, 2]) {
describe(`device channel TLS layer (handshake threads: ${handshakeThreads})`, () => {
  let sha512: DeviceKeystoreEntry; // the default (like tckey)
  let sha256: DeviceKeystoreEntry;
  let ecdsa: DeviceKeystoreEntry;
  let inactive: DeviceKeystoreEntry;
  const keystore: { current: DeviceKeystore } = { current: { revision: 1, entries: [] } };
  let fake: ReturnType<typeof memoryUseCases>;
  let channel: DeviceChannel;
  let port: number;
  const logs = signallingLog();
  const handshakes: Record<HandshakePlace, number> = { thread: 0, event_loop: 0 };
  const ctx = { clock: systemClock } as AppContext; // the fake use cases never look at the context; the channel reads its clock

  before(async () => {
    sha512 = await makeEntry('top', 'SHA512withRSA', 1);
    ecdsa = await makeEntry('ec', 'SHA256withECDSA', 2);
    sha256 = await makeEntry('legacy-ok', 'SHA256withRSA', 3);
    inactive = await makeEntry('old', 'SHA384withRSA', 4, false);
    keystore.current = { revision: 1, entries: [sha512, ecdsa, sha256, inactive] };
    fake = memoryUseCases(keystore);
    channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: '127.0.0.1', port: 0, log: logs.log, pollIntervalMs: 100, useCases: fake.uc, handshakeThreads, events: { ...NO_CHANNEL_EVENTS, handshakeStarted: (on) => handshakes[on]++ } });
    port = channel.address.port;
  });
  after(() => channel?.close());

  it('presents exactly the pinned entry, active or not', async () => {
    for (const e of [sha512, ecdsa, sha256, inactive]) {
      assert.equal((await presentedFor(port, pinServerName(e.sha256Hex))).sha256Hex, e.sha256Hex, e.alias);
    }
  });

  it('fails the handshake for a pin no entry has', async () => {
    await assert.rejects(presentedFor(port, pinServerName('ab'.repeat(32))), UNRECOGNIZED);
  });

  it('answers a first contact with the entry R1 chooses for its algorithms', async () => {
    assert.ok(LEGACY && MODERN, 'both profiles exist');
    assert.equal((await presentedFor(port, helloServerName(LEGACY.mask))).sha256Hex, sha256.sha256Hex, 'legacy: first active SHA256withRSA');
    assert.equal((await presentedFor(port, helloServerName(MODERN.mask))).sha256Hex, sha512.sha256Hex, 'modern: the default');
    assert.equal((await presentedFor(port, helloServerName(algorithmMask(['SHA256withECDSA'])))).sha256Hex, ecdsa.sha256Hex);
    // No active entry fits: the inactive SHA384 entry carries the handshake, so the registration
    // arrives and is refused with its reason (R1 never registers a device on it).
    assert.equal((await presentedFor(port, helloServerName(algorithmMask(['SHA384withRSA'])))).sha256Hex, inactive.sha256Hex);
    // Nothing fits at all: the default.
    assert.equal((await presentedFor(port, helloServerName(algorithmMask(['SHA512withECDSA'])))).sha256Hex, sha512.sha256Hex);
  });

  it('presents the default without SNI or for any other name', async () => {
    assert.equal((await presentedFor(port, undefined)).sha256Hex, sha512.sha256Hex);
    assert.equal((await presentedFor(port, 'certfleet.example.com')).sha256Hex, sha512.sha256Hex);
  });

  it('tells the use cases the pin of each connection, on full and on resumed handshakes', async () => {
    assert.ok(MODERN, 'the profile exists');
    const check = { pinSha256Hex: ecdsa.sha256Hex, acceptedAlgorithms: MODERN.algorithms };
    const server = { host: '127.0.0.1', port };
    const first = await DeviceConnection.open({ server, servername: pinServerName(ecdsa.sha256Hex), check, timeoutMs: 5000 });
    assert.equal(first.resumed, false);
    await first.request('POST', '/device/v1/check-in', {}, CREDENTIAL);
    const session = first.session;
    first.close();
    assert.ok(session, 'a session ticket arrived');
    // The ticket was issued under the EC entry's context and resumes on a new connection.
    const second = await DeviceConnection.open({ server, servername: pinServerName(ecdsa.sha256Hex), check, session, timeoutMs: 5000 });
    assert.equal(second.resumed, true);
    await second.request('POST', '/device/v1/check-in', {}, CREDENTIAL);
    second.close();
    const hello = await DeviceConnection.open({ server, servername: helloServerName(MODERN.mask), check: { ...check, pinSha256Hex: null }, timeoutMs: 5000 });
    await hello.request('POST', '/device/v1/check-in', {}, CREDENTIAL);
    hello.close();
    assert.deepEqual(fake.pins.slice(-3), [ecdsa.sha256Hex, ecdsa.sha256Hex, sha512.sha256Hex]);
  });

  it('runs full handshakes on the handshake threads and resumptions on the event loop', async () => {
    assert.ok(MODERN, 'the profile exists');
    const check = { pinSha256Hex: sha512.sha256Hex, acceptedAlgorithms: MODERN.algorithms };
    const server = { host: '127.0.0.1', port };
    const before = { ...handshakes };
    const first = await DeviceConnection.open({ server, servername: pinServerName(sha512.sha256Hex), check, timeoutMs: 5000 });
    await first.request('POST', '/device/v1/check-in', {}, CREDENTIAL);
    first.close();
    const afterFull = { ...handshakes };
    assert.equal(afterFull.thread - before.thread, handshakeThreads > 0 ? 1 : 0);
    assert.equal(afterFull.event_loop - before.event_loop, handshakeThreads > 0 ? 0 : 1);
    assert.ok(first.session, 'a session ticket arrived');
    const second = await DeviceConnection.open({ server, servername: pinServerName(sha512.sha256Hex), check, session: first.session, timeoutMs: 5000 });
    assert.equal(second.resumed, true, 'a session made on a thread resumes on the event loop');
    await second.request('POST', '/device/v1/check-in', {}, CREDENTIAL);
    second.close();
    assert.deepEqual(handshakes, { thread: afterFull.thread, event_loop: afterFull.event_loop + 1 });
  });

  it('knows the pin of a resumed TLS 1.2 connection, which keeps no server name', async () => {
    assert.ok(LEGACY, 'the profile exists');
    const check = { pinSha256Hex: sha256.sha256Hex, acceptedAlgorithms: LEGACY.algorithms };
    const opts = { server: { host: '127.0.0.1', port }, servername: pinServerName(sha256.sha256Hex), check, timeoutMs: 5000, maxVersion: 'TLSv1.2' as const };
    const first = await DeviceConnection.open(opts);
    await first.request('POST', '/device/v1/check-in', {}, CREDENTIAL);
    const session = first.session;
    first.close();
    assert.ok(session, 'a TLS 1.2 session arrived');
    const resumed = await DeviceConnection.open({ ...opts, session });
    assert.equal(resumed.resumed, true);
    await resumed.request('POST', '/device/v1/check-in', {}, CREDENTIAL);
    resumed.close();
    assert.deepEqual(fake.pins.slice(-2), [sha256.sha256Hex, sha256.sha256Hex]);
  });

  it('regression: an RSA entry pinned while the default is EC presents the RSA certificate', async () => {
    // Node's SNICallback adds the pinned certificate next to the server's own, and OpenSSL then
    // chose the EC default for an RSA pin; the channel gives each connection one context instead.
    const ecTop = await makeEntry('ec-top', 'SHA256withECDSA', 1);
    const rsa = await makeEntry('rsa-below', 'SHA256withRSA', 2);
    const own = memoryUseCases({ current: { revision: 1, entries: [ecTop, rsa] } });
    const c = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: '127.0.0.1', port: 0, log: silentLog, useCases: own.uc });
    try {
      assert.equal((await presentedFor(c.address.port, pinServerName(rsa.sha256Hex))).sha256Hex, rsa.sha256Hex);
      assert.equal((await presentedFor(c.address.port, undefined)).sha256Hex, ecTop.sha256Hex);
    } finally {
      await c.close();
    }
  });

  it('confirms only on a connection that pins the confirmed certificate', async () => {
    assert.ok(MODERN, 'the profile exists');
    const server = { host: '127.0.0.1', port };
    const conn = await DeviceConnection.open({ server, servername: pinServerName(sha256.sha256Hex), check: { pinSha256Hex: sha256.sha256Hex, acceptedAlgorithms: MODERN.algorithms }, timeoutMs: 5000 });
    const ok = await conn.request('POST', '/device/v1/confirm', { sha256Fingerprint: colon(sha256.sha256Hex) }, CREDENTIAL);
    assert.equal(ok.status, 200);
    await assert.rejects(conn.request('POST', '/device/v1/confirm', { sha256Fingerprint: colon(sha512.sha256Hex) }, CREDENTIAL), (e: unknown) => {
      assert.ok(e instanceof ServerRefusal, 'a refusal of the server');
      assert.equal(e.status, 409);
      assert.equal(e.code, 'pin_mismatch');
      return true;
    });
    conn.close();
  });

  it('the agent refuses another certificate than its pin before sending a byte', async () => {
    assert.ok(MODERN, 'the profile exists');
    const impostor = await impostorServer(ecdsa);
    try {
      await assert.rejects(
        DeviceConnection.open({
          server: { host: '127.0.0.1', port: impostor.port },
          servername: pinServerName(sha512.sha256Hex),
          check: { pinSha256Hex: sha512.sha256Hex, acceptedAlgorithms: MODERN.algorithms },
          timeoutMs: 5000,
        }),
        PinMismatchError,
      );
      await impostor.closed();
      assert.equal(impostor.received(), 0, 'no application data reached the impostor');
    } finally {
      await impostor.close();
    }
  });

  it('a legacy profile refuses an SHA512withRSA certificate in the handshake', async () => {
    assert.ok(LEGACY, 'the profile exists');
    await assert.rejects(
      DeviceConnection.open({
        server: { host: '127.0.0.1', port },
        servername: pinServerName(sha512.sha256Hex),
        check: { pinSha256Hex: sha512.sha256Hex, acceptedAlgorithms: LEGACY.algorithms },
        timeoutMs: 5000,
      }),
      (e: unknown) => e instanceof CertificateNotSupportedError && e.signatureAlgorithm === 'SHA512withRSA',
    );
  });

  it('answers errors in the API shape: unknown route, no credential, not JSON, too large', async () => {
    const raw = (request: string) =>
      new Promise<{ status: number; body: { error: { code: string; message: string; details: unknown } } }>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
        let data = '';
        s.on('data', (c: Buffer) => (data += c.toString('utf8')));
        s.on('end', () => {
          const [head = '', body = ''] = data.split('\r\n\r\n');
          resolve({ status: Number(head.split(' ')[1]), body: JSON.parse(body) as { error: { code: string; message: string; details: unknown } } }); // checked by the asserts
        });
        s.on('error', reject);
        s.once('secureConnect', () => s.end(request));
      });
    const notFound = await raw('GET /device/v1/devices/dev-2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(notFound.status, 404);
    assert.equal(notFound.body.error.code, 'not_found');
    const anonymous = await raw('GET /device/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, 'device_unauthenticated');
    const text = await raw(`POST /device/v1/check-in HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CREDENTIAL}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`);
    assert.equal(text.status, 400);
    assert.equal(text.body.error.code, 'invalid_request');
    const big = await raw(`POST /device/v1/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${70 * 1024}\r\nConnection: close\r\n\r\n`);
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'payload_too_large');
    assert.deepEqual(Object.keys(big.body.error).sort(), ['code', 'details', 'message']);
  });

  it('picks up a keystore change by polling the revision, without a restart', { timeout: 10_000 }, async () => {
    const fresh = await makeEntry('fresh', 'SHA384withECDSA', 1);
    await assert.rejects(presentedFor(port, pinServerName(fresh.sha256Hex)), UNRECOGNIZED);
    keystore.current = { revision: 2, entries: [fresh, ...keystore.current.entries.map((e) => ({ ...e, position: e.position + 1 }))] };
    // Nobody calls reload(): the line below can only come from the channel's own poll.
    const loaded = await logs.waitFor('device channel keystore loaded', (l) => l.revision === 2);
    assert.equal(loaded.defaultChanged, true);
    assert.equal((await presentedFor(port, undefined)).sha256Hex, fresh.sha256Hex, 'the new default is served without SNI');
    assert.equal((await presentedFor(port, pinServerName(fresh.sha256Hex))).sha256Hex, fresh.sha256Hex);
    assert.equal((await presentedFor(port, pinServerName(sha512.sha256Hex))).sha256Hex, sha512.sha256Hex, 'old entries still answer');
  });
});
}

