/**
 * The server side of memory.bench.ts, as its own process so that its RSS is a server's alone: the
 * HTTP API (buildHttpApi) on an existing database of a million devices, then each request an
 * administrator's console or CLI makes at that size, answered through Fastify's inject (no
 * socket, so no client in this process beyond the request object). While each runs, the RSS is
 * sampled every few milliseconds; a better-sqlite3 call blocks the event loop, so the process's
 * own peak (`resourceUsage().maxRSS`) is read after each as well. Prints one JSON line:
 * `{ "idleMb": …, "operations": [{ "name", "status", "ms", "peakMb", "maxRssMb" }] }`.
 *
 *   node dist/bench/support/memory-child.js sqlite|postgres DB DEVICES   (DB: the SQLite file, or the PostgreSQL schema on CERTFLEET_TEST_PG)
 */
import { ensureAdminAccount } from '../../src/app/accounts.js';
import { buildHttpApi } from '../../src/transport/http-api/server.js';
import { openStore } from '../../src/storage/open-store.js';
import { testAppContext } from '../../test/support/app-context.js';
import { TEST_PG_URL } from '../../test/support/databases.js';

const [dialect, db, devices] = process.argv.slice(2);
if ((dialect !== 'sqlite' && dialect !== 'postgres') || !db || !devices) throw new Error('usage: memory-child.js sqlite|postgres DB DEVICES');
/** The largest page the API gives (DeviceListQuerySchema). */
const PAGE = 500;
const deep = Math.max(0, Math.floor(Number(devices) * 0.9));

const MB = 1024 * 1024;
const store = await openStore(dialect === 'sqlite' ? { url: db } : { url: TEST_PG_URL, schema: db });
const ctx = testAppContext(store);
const PASSWORD = 'bench-admin-password';
await ensureAdminAccount(ctx, PASSWORD);
const app = await buildHttpApi({ ctx, logger: false });
const loggedIn = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: PASSWORD } });
if (loggedIn.statusCode !== 200) throw new Error(`login: ${loggedIn.statusCode} ${loggedIn.body}`);
const headers = { authorization: `Bearer ${loggedIn.json<{ token: string }>().token}` };

const rssMb = (): number => process.memoryUsage.rss() / MB;
const maxRssMb = (): number => process.resourceUsage().maxRSS / 1024;

interface Operation {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly url: string;
}

const OPERATIONS: readonly Operation[] = [
  { name: 'cert list', method: 'GET', url: '/api/v1/certificates' },
  { name: 'device list (first page)', method: 'GET', url: '/api/v1/devices' },
  { name: `device list (${PAGE} a page, at offset ${deep.toLocaleString('en')})`, method: 'GET', url: `/api/v1/devices?limit=${PAGE}&offset=${deep}` },
  { name: `device list of a certificate (${PAGE} a page)`, method: 'GET', url: `/api/v1/devices?limit=${PAGE}&certificate=tckey` },
  { name: 'device search', method: 'GET', url: '/api/v1/devices?limit=100&search=tc-99999' },
  { name: 'rotation status page (sync status)', method: 'GET', url: '/api/v1/sync/status' },
  { name: 'rotation pass (sync run)', method: 'POST', url: '/api/v1/sync/run' },
];

global.gc?.();
const idleMb = rssMb();
const results = [];
for (const op of OPERATIONS) {
  let peak = rssMb();
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 5);
  const t = performance.now();
  const res = await app.inject({ method: op.method, url: op.url, headers, ...(op.method === 'POST' ? { payload: {} } : {}) });
  const ms = performance.now() - t;
  clearInterval(sampler);
  peak = Math.max(peak, rssMb());
  results.push({ name: op.name, status: res.statusCode, ms, peakMb: peak, maxRssMb: maxRssMb(), bytes: res.body.length, ...(res.statusCode >= 400 ? { body: res.body.slice(0, 300) } : {}) });
}
await app.close();
await store.close();
console.log(JSON.stringify({ idleMb, operations: results }));
