/**
 * Issue 10, item 4, with the real binary: the device port's limits are `certfleet serve` flags
 * (and environment variables), and a value that makes no sense stops the server before it starts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../src/domain/algorithms.js';
import { algorithmMask } from '../../src/domain/compatibility.js';
import { helloServerName } from '../../src/domain/device-names.js';
import { ExitCode } from '../../src/transport/cli/cli-errors.js';
import { runCli } from '../support/cli.js';
import { killAllServers, serveProcess } from '../support/serve-process.js';
import { errorCode, rawRequest } from '../device-channel/raw-client.js';

const REGISTRATION = JSON.stringify({ enrollmentToken: 'cfe_wrong', unitId: '00:11:22:33:44:55', name: 'tc', osFamily: 'IGEL OS', osVersion: '12.01.100', profile: 'igel-os-12' });

describe('serve: the device port limits', () => {
  const root = mkdtempSync(join(tmpdir(), 'certfleet-device-flags-'));
  after(() => {
    killAllServers();
    rmSync(root, { recursive: true, force: true });
  });

  it('--device-registration-limit sets the per-source budget; past it first contact is turned away before the handshake', async () => {
    const data = join(root, 'data');
    const server = await serveProcess({
      dataDir: data,
      db: join(data, 'certfleet.db'),
      // Every handshake on the event loop: the binary's other tests run with the default threads.
      env: { CERTFLEET_ADMIN_PASSWORD: 'admin-password-1', CERTFLEET_DEVICE_MAX_HANDSHAKES: '50', CERTFLEET_DEVICE_HANDSHAKE_THREADS: '0' },
      args: ['--device-registration-limit', '2/1m'],
    });
    try {
      const port = Number(server.deviceAddress.split(':')[1]);
      const servername = helloServerName(algorithmMask(ALLOWED_SIGNATURE_ALGORITHMS));
      const send = () => rawRequest(port, { path: '/device/v1/register', headers: { 'content-type': 'application/json' }, body: REGISTRATION, servername });
      for (let i = 0; i < 2; i++) assert.equal(errorCode(await send()), 'enrollment_token_invalid');
      await assert.rejects(send(), /alert access denied/);
    } finally {
      await server.stop();
    }
  });

  it('refuses limits that make no sense with a usage error, before it starts', async () => {
    const cases: [readonly string[], RegExp][] = [
      [['--device-max-connections', '0'], /--device-max-connections must be at least 1/],
      [['--device-max-handshakes', 'many'], /--device-max-handshakes/],
      [['--device-registration-limit', '30'], /--device-registration-limit is ATTEMPTS\/DURATION/],
      [['--device-handshake-deadline', 'soon'], /--device-handshake-deadline/],
      [['--device-handshake-threads', '65'], /--device-handshake-threads must be at most 64/],
      [['--device-handshake-threads', 'two'], /--device-handshake-threads/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['serve', '--data', join(root, 'never'), ...args]);
      assert.equal(r.code, ExitCode.usage, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
