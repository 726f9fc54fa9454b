/** Fuzzing the import with mutated PKCS#12 files (import-fuzz.ts); half of the runs, beside the JKS and PEM file. */
import { FUZZ_RUNS_TOTAL, fuzzSuite } from './import-fuzz.js';

fuzzSuite(
  'PKCS#12',
  ['openssl-rsa2048-aes.p12', 'openssl-rsa2048-legacy.p12', 'openssl-rsa2048-nomac.p12', 'openssl-ec-p256.p12', 'chain.p12', 'cert-only.p12'],
  Math.ceil(FUZZ_RUNS_TOTAL / 2),
);
