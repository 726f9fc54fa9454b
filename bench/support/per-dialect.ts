/**
 * The main of a benchmark that runs once per database (BENCH_DIALECTS, default both): each
 * dialect's rows, a line for a database this run cannot reach, then the table; exits 1 on error.
 */
import { databaseUnavailable, type TestDialect } from '../../test/support/databases.js';
import { machineLine, printTable, type Row } from './common.js';

export const BENCH_DIALECTS: readonly TestDialect[] = (process.env['BENCH_DIALECTS'] ?? 'sqlite,postgres')
  .split(',')
  .filter((d): d is TestDialect => d === 'sqlite' || d === 'postgres');

export function runPerDialect(intro: string, title: string, bench: (dialect: TestDialect) => Promise<Row[]>): void {
  const main = async (): Promise<void> => {
    console.log(`${intro}; ${machineLine()}`);
    const rows: Row[] = [];
    for (const dialect of BENCH_DIALECTS) {
      const problem = databaseUnavailable(dialect);
      if (problem) {
        console.log(`[${dialect}] skipped: ${problem}`);
        continue;
      }
      rows.push(...(await bench(dialect)));
    }
    printTable(title, rows);
  };
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
