/**
 * Rotation planning at fleet scale (issue 3, "Done when"): BENCH_DEVICES device rows (default
 * 1,000,000) bulk-inserted in one INSERT … SELECT (a recursive CTE on SQLite, generate_series on
 * PostgreSQL), a mix of certificates and firmware masks, then
 *   - `runRotation` (the planning pass) on SQLite (goal ≤ 1 s) and PostgreSQL (goal ≤ 3 s),
 *     beside a plain `SELECT count(*) FROM devices` full scan in the same database;
 *   - the devices-per-certificate counts (`keystore.list()`, with usage) at that size, median of
 *     20 (goal ≤ 5 ms), beside the same count(*) scan. Since issue 11 they are sums over the
 *     device counters (migration 0008), which the bulk insert fills through their triggers.
 *
 *   npm run build && node dist/bench/rotation-planning.bench.js
 *   BENCH_DEVICES=1000000 BENCH_DIALECTS=sqlite,postgres CERTFLEET_TEST_PG=postgres://…
 *
 * PostgreSQL: a fresh schema, dropped at the end; `VACUUM ANALYZE devices` after the load (what
 * autovacuum does after a bulk load; without it index-only scans must visit the heap).
 */
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { SYSTEM_ACTOR } from '../src/app/context.js';
import { runRotation } from '../src/app/rotation.js';
import { testAppContext } from '../test/support/app-context.js';
import { createTestDatabase, type TestDialect } from '../test/support/databases.js';
import { deviceKeystore } from '../test/support/device-fleet.js';
import { insertDevicesSql } from './support/device-rows.js';
import { runPerDialect } from './support/per-dialect.js';
import { goal, load, median, ratio, type Row } from './support/common.js';

const DEVICES = Math.max(1, Math.min(20_000_000, Number(process.env['BENCH_DEVICES'] ?? 1_000_000) || 1_000_000));
const GOAL_PLAN_MS: Record<TestDialect, number> = { sqlite: 1000, postgres: 3000 };
const GOAL_COUNT_MS = 5;
const PASSES = 5;
const COUNT_RUNS = 20;

async function bench(dialect: TestDialect): Promise<Row[]> {
  const db = await createTestDatabase(dialect);
  try {
    const store = await db.open();
    const ctx = testAppContext(store);
    const ks = await deviceKeystore(ctx);
    const ids = { tckey: ks.tckey.id, legacy: ks.legacy.id, ec: ks.ec.id };

    // Direct connection on the same database for the bulk insert and the baseline.
    let exec: (text: string) => Promise<void>;
    let closeRaw: () => Promise<void>;
    if (dialect === 'sqlite') {
      const conn = new BetterSqlite3(db.url);
      conn.pragma('busy_timeout = 10000');
      exec = async (text) => void conn.exec(text);
      closeRaw = async () => void conn.close();
    } else {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      exec = async (text) => void (await client.query(text));
      closeRaw = () => client.end();
    }
    try {
      process.stdout.write(`[${dialect}] inserting ${DEVICES.toLocaleString('en')} devices … `);
      const t0 = performance.now();
      await exec(insertDevicesSql(dialect, DEVICES, ids));
      const insertMs = performance.now() - t0;
      let vacuumMs = 0;
      if (dialect === 'postgres') {
        const t1 = performance.now();
        await exec('vacuum analyze devices');
        vacuumMs = performance.now() - t1;
      }
      console.log(`${(insertMs / 1000).toFixed(1)} s${dialect === 'postgres' ? ` (+ vacuum analyze ${(vacuumMs / 1000).toFixed(1)} s)` : ''}, load ${load()}`);

      const countScan = async (): Promise<number> => {
        const t = performance.now();
        await exec('select count(*) from devices');
        return performance.now() - t;
      };

      // Planning: the first pass (the target moves from nothing to tckey), then PASSES more.
      const plan: number[] = [];
      const scans: number[] = [];
      let report: Awaited<ReturnType<typeof runRotation>> | null = null;
      for (let i = 0; i <= PASSES; i++) {
        scans.push(await countScan());
        const t = performance.now();
        report = await runRotation(ctx, SYSTEM_ACTOR);
        plan.push(performance.now() - t);
      }
      const planLoad = load();
      const firstPass = plan[0] as number;
      const planMedian = median(plan.slice(1));
      const scanMedian = median(scans);
      console.log(`[${dialect}] runRotation: first ${firstPass.toFixed(0)} ms, then ${plan.slice(1).map((x) => x.toFixed(0)).join(', ')} ms; count(*) ${scans.map((x) => x.toFixed(0)).join(', ')} ms; report ${JSON.stringify(report)}`);

      // Devices per certificate: keystore.list() (usage counts for every entry), median of COUNT_RUNS.
      const list: number[] = [];
      let counts = '';
      for (let i = 0; i < COUNT_RUNS; i++) {
        const t = performance.now();
        const entries = await store.keystore.list();
        list.push(performance.now() - t);
        counts = entries.map((e) => `${e.alias}=${JSON.stringify(e.usage)}`).join(' ');
      }
      const listMedian = median(list);
      // One certificate's counts alone (the largest, tckey: 60 % of the fleet, and the rotation
      // target, so that its pending count is read too), as `cert show` and a delete ask them.
      const usage: number[] = [];
      for (let i = 0; i < COUNT_RUNS; i++) {
        const t = performance.now();
        await store.keystore.usage(ids.tckey);
        usage.push(performance.now() - t);
      }
      console.log(`[${dialect}] keystore.usage(tckey): median ${median(usage).toFixed(2)} ms (min ${Math.min(...usage).toFixed(2)}, max ${Math.max(...usage).toFixed(2)})`);
      console.log(`[${dialect}] keystore.list(): median ${listMedian.toFixed(2)} ms (min ${Math.min(...list).toFixed(2)}, max ${Math.max(...list).toFixed(2)}); ${counts}`);

      const n = DEVICES.toLocaleString('en');
      return [
        [`rotation planning (runRotation), ${n} devices, ${dialect}`, `${planMedian.toFixed(0)} ms (median of ${PASSES}; first pass ${firstPass.toFixed(0)} ms)`, `count(*) full scan: ${scanMedian.toFixed(0)} ms`, ratio(planMedian, scanMedian), goal(`≤ ${GOAL_PLAN_MS[dialect] / 1000} s`, Math.max(planMedian, firstPass) <= GOAL_PLAN_MS[dialect]), planLoad],
        [`devices per certificate (keystore.list()), ${n} devices, ${dialect}`, `${listMedian.toFixed(2)} ms (median of ${COUNT_RUNS})`, `count(*) full scan: ${scanMedian.toFixed(0)} ms`, ratio(listMedian, scanMedian), goal(`≤ ${GOAL_COUNT_MS} ms`, listMedian <= GOAL_COUNT_MS), load()],
        [`bulk insert of ${n} devices (set-up, for information), ${dialect}`, `${(insertMs / 1000).toFixed(1)} s${vacuumMs ? ` + vacuum analyze ${(vacuumMs / 1000).toFixed(1)} s` : ''}`, '', '', '', ''],
      ];
    } finally {
      await closeRaw();
    }
  } finally {
    await db.drop();
  }
}

runPerDialect(`rotation planning at ${DEVICES.toLocaleString('en')} devices`, 'Rotation planning (issue 3)', bench);
