/** Fuzzing the import with mutated PKCS#12 files (see import-fuzz.ts); half of the runs. */
import { after, before, describe, it } from 'node:test';
import { openTestStore } from '../support/databases.js';
import { FUZZ_RUNS_TOTAL, FUZZ_SEED, fuzzImports } from './import-fuzz.js';
import { startApi, type ApiHarness } from './support.js';

describe('import fuzzing: PKCS#12 (issue 10)', () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApi(await openTestStore('sqlite'));
  });
  after(async () => h.close());

  it(`${Math.ceil(FUZZ_RUNS_TOTAL / 2)} mutated PKCS#12 files: each a known 4xx within a second, the keystore unchanged (seed ${FUZZ_SEED})`, async (t) => {
    t.diagnostic(`seed ${FUZZ_SEED} (CERTFLEET_FUZZ_SEED=${FUZZ_SEED} repeats this run)`);
    const { statuses, worstMs } = await fuzzImports(
      h,
      ['openssl-rsa2048-aes.p12', 'openssl-rsa2048-legacy.p12', 'openssl-rsa2048-nomac.p12', 'openssl-ec-p256.p12', 'chain.p12', 'cert-only.p12'],
      Math.ceil(FUZZ_RUNS_TOTAL / 2),
      FUZZ_SEED,
    );
    t.diagnostic(`answers ${JSON.stringify(Object.fromEntries(statuses))}, slowest ${worstMs.toFixed(0)} ms`);
  });
});
