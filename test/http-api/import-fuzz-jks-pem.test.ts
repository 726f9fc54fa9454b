/** Fuzzing the import with mutated JKS and PEM files (import-fuzz.ts); half of the runs, beside the PKCS#12 file. */
import { FUZZ_RUNS_TOTAL, fuzzSuite } from './import-fuzz.js';

fuzzSuite(
  'JKS and PEM',
  ['keytool-keypass.jks', 'keytool-two-entries.jks', 'pem-plain.pem', 'pem-encrypted-pkcs8.pem', 'pem-traditional-encrypted.pem', 'key-mismatch.pem'],
  Math.floor(FUZZ_RUNS_TOTAL / 2),
);
