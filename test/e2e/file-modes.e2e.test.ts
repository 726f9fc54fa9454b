/**
 * Issue 10, item 7, with the real binary: everything `certfleet serve` makes in its data directory
 * is the owner's only (umask 077, files 0600, directories 0700), whatever umask it is started with;
 * a data directory or database file others could read is tightened, with a warning in the log.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadWebTls } from '../../src/main/web-tls.js';
import { killAllServers, serveProcess } from '../support/serve-process.js';

const modeOf = (path: string): string => `0${(statSync(path).mode & 0o777).toString(8)}`;

describe('files in the data directory', () => {
  const root = mkdtempSync(join(tmpdir(), 'certfleet-modes-'));
  after(() => {
    killAllServers();
    rmSync(root, { recursive: true, force: true });
  });

  it('serve makes every file 0600 and the directory 0700 under umask 022, and tightens a readable database with a warning', async () => {
    const data = join(root, 'data');
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o755); // whatever the test's own umask
    const previous = process.umask(0o022); // the child inherits it
    try {
      const env = { CERTFLEET_ADMIN_PASSWORD: 'admin-password-1' };
      const first = await serveProcess({ dataDir: data, db: join(data, 'certfleet.db'), env });
      assert.equal(modeOf(data), '0700');
      const files = readdirSync(data);
      for (const f of ['master.key', 'certfleet.db', 'node-id']) assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
      for (const f of files) assert.equal(modeOf(join(data, f)), '0600', f);
      assert.match(first.output(), /the data directory was open to others/);
      await first.stop();

      chmodSync(join(data, 'certfleet.db'), 0o644); // a copy made by hand, say
      const second = await serveProcess({ dataDir: data, db: join(data, 'certfleet.db'), env });
      for (const f of readdirSync(data)) assert.equal(modeOf(join(data, f)), '0600', f);
      assert.match(second.output(), /certfleet\.db had mode 0644; it is now 0600/);
      await second.stop();
    } finally {
      process.umask(previous);
    }
  });

  it('the self-signed web key and certificate are written whole and 0600, with no temporary file left', async () => {
    const dir = join(root, 'web');
    mkdirSync(dir, { mode: 0o700 });
    const previous = process.umask(0o022);
    try {
      const tls = await loadWebTls({ dataDir: dir, certFile: undefined, keyFile: undefined, hostName: 'console.test' });
      assert.match(tls.key.toString(), /^-----BEGIN PRIVATE KEY-----/);
      assert.deepEqual(readdirSync(dir).sort(), ['web-cert.pem', 'web-key.pem']);
      for (const f of readdirSync(dir)) assert.equal(modeOf(join(dir, f)), '0600', f);
    } finally {
      process.umask(previous);
    }
  });
});
