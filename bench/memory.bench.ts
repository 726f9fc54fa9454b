/**
 * Memory at scale (issue 11, item 5): BENCH_DEVICES device rows (default 1,000,000) bulk-inserted
 * (bench/support/device-rows.ts), then a server process (bench/support/memory-child.ts: the HTTP
 * API on that database) answers what an administrator asks at that size — `cert list`, `device
 * list` (first page, a deep page, a certificate's devices, a search), the rotation status page
 * (`sync status`) and a rotation pass (`sync run`) — while its RSS is sampled. Goal: ≤ 300 MB
 * for each, beside the same server's RSS idle after start.
 *
 *   npm run build && node dist/bench/memory.bench.js
 *   BENCH_DEVICES=1000000 BENCH_DIALECTS=sqlite,postgres CERTFLEET_TEST_PG=postgres://…
 *
 * The simulator's memory per idle device is measured by fleet.bench.ts.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { SYSTEM_ACTOR } from '../src/app/context.js';
import { runRotation } from '../src/app/rotation.js';
import { testAppContext } from '../test/support/app-context.js';
import { createTestDatabase, TEST_PG_URL, type TestDatabase, type TestDialect } from '../test/support/databases.js';
import { deviceKeystore } from '../test/support/device-fleet.js';
import { goal, load, type Row } from './support/common.js';
import { insertDevicesSql } from './support/device-rows.js';
import { runPerDialect } from './support/per-dialect.js';

const DEVICES = Math.max(1, Math.min(20_000_000, Number(process.env['BENCH_DEVICES'] ?? 1_000_000) || 1_000_000));
const GOAL_RSS_MB = 300;
const CHILD = fileURLToPath(new URL('./support/memory-child.js', import.meta.url));

interface ChildReport {
  readonly idleMb: number;
  readonly operations: readonly { name: string; status: number; ms: number; peakMb: number; maxRssMb: number; bytes: number; body?: string }[];
}

/** Three certificates, then the devices in one INSERT … SELECT, then a first rotation pass. */
async function populate(db: TestDatabase): Promise<number> {
  const ctx = testAppContext(await db.open());
  const ks = await deviceKeystore(ctx);
  const text = insertDevicesSql(db.dialect, DEVICES, { tckey: ks.tckey.id, legacy: ks.legacy.id, ec: ks.ec.id });
  const t = performance.now();
  if (db.dialect === 'sqlite') {
    const conn = new BetterSqlite3(db.url);
    conn.pragma('busy_timeout = 10000');
    conn.exec(text);
    conn.close();
  } else {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(text);
    await client.query('vacuum analyze');
    await client.end();
  }
  const ms = performance.now() - t;
  await runRotation(ctx, SYSTEM_ACTOR);
  await db.closeStores();
  return ms;
}

function child(db: TestDatabase): Promise<ChildReport> {
  const target = db.dialect === 'sqlite' ? db.url : (db.schema as string); // a PostgreSQL TestDatabase has a schema
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CHILD, db.dialect, target, String(DEVICES)], { env: { ...process.env, CERTFLEET_TEST_PG: TEST_PG_URL }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.once('error', reject);
    c.once('close', (code) => {
      if (code !== 0) return reject(new Error(`memory-child: exit ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as ChildReport); // the child's one JSON line
    });
  });
}

async function bench(dialect: TestDialect): Promise<Row[]> {
  const db = await createTestDatabase(dialect);
  try {
    const n = DEVICES.toLocaleString('en');
    process.stdout.write(`[${dialect}] inserting ${n} devices … `);
    const insertMs = await populate(db);
    console.log(`${(insertMs / 1000).toFixed(1)} s, load ${load()}`);
    const report = await child(db);
    const l = load();
    for (const op of report.operations) {
      console.log(`[${dialect}] ${op.name}: HTTP ${op.status}, ${op.ms.toFixed(0)} ms, ${op.bytes} bytes, peak RSS sampled ${op.peakMb.toFixed(0)} MB, process max RSS so far ${op.maxRssMb.toFixed(0)} MB${op.body ? ` ${op.body}` : ''}`);
    }
    return report.operations.map((op): Row => {
      const peak = Math.max(op.peakMb, op.maxRssMb);
      return [
        `server RSS during ${op.name}, ${n} devices, ${dialect}`,
        `${op.peakMb.toFixed(0)} MB sampled, process peak so far ${op.maxRssMb.toFixed(0)} MB (${op.ms.toFixed(0)} ms, HTTP ${op.status})`,
        `same server idle: ${report.idleMb.toFixed(0)} MB`,
        `+${(op.peakMb - report.idleMb).toFixed(0)} MB`,
        goal(`≤ ${GOAL_RSS_MB} MB`, peak <= GOAL_RSS_MB && op.status < 400),
        l,
      ];
    });
  } finally {
    await db.drop();
  }
}

runPerDialect(`server memory at ${DEVICES.toLocaleString('en')} devices`, 'Server memory at scale (issue 11)', bench);
