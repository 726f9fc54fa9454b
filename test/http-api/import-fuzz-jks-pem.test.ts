/** Fuzzing the import with mutated JKS and PEM files (see import-fuzz.ts); half of the runs. */
import { after, before, describe, it } from 'node:test';
import { openTestStore } from '../support/databases.js';
import { FUZZ_RUNS_TOTAL, FUZZ_SEED, fuzzImports } from './import-fuzz.js';
import { startApi, type ApiHarness } from './support.js';

describe('import fuzzing: JKS and PEM (issue 10)', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApi(await openTestStore('sqlite'));
  });
  after(async () => h.close());

  it(`${Math.floor(FUZZ_RUNS_TOTAL / 2)} mutated JKS and PEM files: each a known 4xx within a second, the keystore unchanged (seed ${FUZZ_SEED})`, async (t) => {
    t.diagnostic(`seed ${FUZZ_SEED} (CERTFLEET_FUZZ_SEED=${FUZZ_SEED} repeats this run)`);
    const { statuses, worstMs } = await fuzzImports(
      h,
      ['keytool-keypass.jks', 'keytool-two-entries.jks', 'pem-plain.pem', 'pem-encrypted-pkcs8.pem', 'pem-traditional-encrypted.pem', 'key-mismatch.pem'],
      Math.floor(FUZZ_RUNS_TOTAL / 2),
      FUZZ_SEED,
    );
    t.diagnostic(`answers ${JSON.stringify(Object.fromEntries(statuses))}, slowest ${worstMs.toFixed(0)} ms`);
  });
});
