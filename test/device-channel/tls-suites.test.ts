/**
 * The device port's TLS configuration as a real client sees it (issue 10, item 5): every suite
 * this OpenSSL knows is offered alone; only the stated ECDHE + AEAD suites complete a handshake,
 * never a static-RSA one, never TLS 1.0/1.1, and the legacy firmware's TLS 1.2 suites work.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AppContext } from '../../src/app/context.js';
import { pinServerName } from '../../src/domain/device-names.js';
import { nodeScheduler, systemClock } from '../../src/main/system.js';
import { startDeviceChannel, type DeviceChannel } from '../../src/transport/device-channel/device-channel.js';
import { TLS_CIPHERS } from '../../src/transport/tls-profile.js';
import type { DeviceKeystoreEntry } from '../../src/app/device-keystore.js';
import { acceptedSuites, handshake, staticRsaSuites } from '../support/tls-probe.js';
import { makeEntry, memoryUseCases, silentLog } from './channel-fixtures.js';

describe('device port: TLS stated, not defaulted', () => {
  let rsa: DeviceKeystoreEntry;
  let ec: DeviceKeystoreEntry;
  let channel: DeviceChannel;
  // The fake use cases never look at the context; the channel reads only its clock (the first-contact throttle).
  const ctx = { clock: systemClock } as AppContext;

  before(async () => {
    rsa = await makeEntry('rsa', 'SHA256withRSA', 1);
    ec = await makeEntry('ec', 'SHA256withECDSA', 2);
    const keystore = { current: { revision: 1, entries: [rsa, ec] } };
    channel = await startDeviceChannel({ scheduler: nodeScheduler, ctx, host: '127.0.0.1', port: 0, log: silentLog, useCases: memoryUseCases(keystore).uc });
  });
  after(() => channel?.close());

  const probe = (e: DeviceKeystoreEntry) => ({ host: '127.0.0.1', port: channel.address.port, servername: pinServerName(e.sha256Hex) });
  const TLS13 = TLS_CIPHERS.filter((c) => c.startsWith('TLS_'));

  it('with an RSA certificate: exactly the ECDHE-RSA AEAD suites and the TLS 1.3 ones, no static RSA', async () => {
    const accepted = await acceptedSuites(probe(rsa));
    assert.deepEqual(accepted, [...TLS13, 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-RSA-AES128-GCM-SHA256'].sort());
    assert.ok(staticRsaSuites().length > 0, 'the probe offered static-RSA suites');
    for (const s of staticRsaSuites()) assert.ok(!accepted.includes(s), s);
  });

  it('with an ECDSA certificate: exactly the ECDHE-ECDSA AEAD suites and the TLS 1.3 ones', async () => {
    const accepted = await acceptedSuites(probe(ec));
    assert.deepEqual(accepted, [...TLS13, 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-GCM-SHA256'].sort());
  });

  it('refuses TLS 1.0 and 1.1, and a client that offers only finite-field DHE', async () => {
    assert.equal(await handshake(probe(rsa), { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'ALL:@SECLEVEL=0' }), null);
    assert.equal(await handshake(probe(rsa), { maxVersion: 'TLSv1.2', ciphers: 'DHE-RSA-AES256-GCM-SHA384' }), null);
  });

  it('what the legacy firmware needs works: TLS 1.2, ECDHE-RSA / ECDHE-ECDSA with AES-GCM over P-256 and P-384', async () => {
    for (const curve of ['P-256', 'P-384']) {
      assert.equal(await handshake(probe(rsa), { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', ecdhCurve: curve }), 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', curve);
    }
    // In TLS 1.2 the client's groups also bound the curve of an ECDSA certificate: this one is P-256.
    assert.equal(await handshake(probe(ec), { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384', ecdhCurve: 'P-256' }), 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
  });

  it('the server chooses: a client that lists AES-128 first gets AES-256', async () => {
    const name = await handshake(probe(rsa), { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384' });
    assert.equal(name, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384');
  });
});
