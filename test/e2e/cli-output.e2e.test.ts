/**
 * The real CLI against a hostile server (issue 10, item 7): whatever the server sends — a user
 * name, an error message — reaches the terminal without control characters (escape sequences that
 * retitle the window, clear the screen or hide text; C1 CSI; bidi overrides), and --json still
 * carries the same strings, escaped.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../support/cli.js';

const EVIL = 'mallory\x1b]0;pwned\x07\x1b[2J\x9b31m\u202egnp.exe\x7f';
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('CLI output from a hostile server', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/v1/users') {
        res.end(JSON.stringify([{ id: 'u1', username: EVIL, role: 'admin', createdAt: '2026-01-01T00:00:00.000Z' }]));
        return;
      }
      if (req.url === '/api/v1/cluster') {
        const node = { id: 'n1', name: EVIL, isLeader: true, alive: true, apiAddress: EVIL, deviceAddress: '10.0.0.1:30001', servedRevision: 3, lastHeartbeatAt: EVIL };
        res.end(JSON.stringify({ clusterId: EVIL, keystoreRevision: 3, leader: EVIL, nodes: [node], networkToken: { serial: 3, createdAt: EVIL, location: EVIL } }));
        return;
      }
      if (req.url === '/api/v1/backups') {
        res.end(JSON.stringify({ runs: [{ id: 1, trigger: 'scheduled', result: 'failed', startedAt: EVIL, finishedAt: EVIL, sizeBytes: null, file: null, error: EVIL }] }));
        return;
      }
      res.statusCode = 403;
      res.end(JSON.stringify({ error: { code: 'forbidden', message: `No.\x1b[2J\x1b]0;owned\x07 ${EVIL}\nsecond line`, details: {} } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`; // listening on TCP
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const env = () => ({ CERTFLEET_SERVER: url, CERTFLEET_TOKEN: 'cft_whatever', CERTFLEET_CONFIG: '/nonexistent/cli.json' });

  it('a table shows the name without its control characters', async () => {
    const r = await runCli(['user', 'list'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, CONTROLS);
    assert.match(r.stdout, /mallory\]0;pwned\[2J31mgnp\.exe/);
  });

  for (const args of [['cluster', 'status'], ['backup', 'list']]) {
    it(`${args.join(' ')} prints what the server says without its control characters`, async () => {
      const r = await runCli(args, { env: env() });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /mallory\]0;pwned\[2J31mgnp\.exe/);
      assert.doesNotMatch(r.stdout.replace(/\n/g, ''), CONTROLS);
    });
  }

  it('--json escapes them: valid JSON, the same string, nothing raw on the terminal', async () => {
    const r = await runCli(['user', 'list', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout.replace(/\n/g, ''), CONTROLS);
    const users = JSON.parse(r.stdout) as { username: string }[]; // the CLI prints the API's array
    assert.equal(users[0]?.username, EVIL);
  });

  it('a refusal\'s message is printed without control characters, its lines kept', async () => {
    const r = await runCli(['cert', 'delete', 'x'], { env: env() });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: forbidden: No\.\[2J\]0;owned mallory/);
    assert.match(r.stderr, /\nsecond line/);
    assert.doesNotMatch(r.stderr.replace(/\n/g, ''), CONTROLS);
  });
});
