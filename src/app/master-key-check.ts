import { CertfleetError, ErrorCode } from '../domain/errors.js';
import type { KeySealing } from './context.js';
import type { Store } from './store.js';

/** Small facts about the installation (the master key check value, the cluster id …). */
export interface MetaRepo {
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
}

const CHECK_KEY = 'master_key_check';

/**
 * K11: the database remembers a value sealed under the master key it was first used with. A node
 * whose master key cannot open it refuses to start, before it could write keys nobody can read.
 */
export async function verifyMasterKey(store: Store, sealer: KeySealing, keySource: string): Promise<void> {
  const stored = await store.meta.get(CHECK_KEY);
  if (stored === null) {
    await store.meta.put(CHECK_KEY, sealer.checkValue());
    return;
  }
  if (!sealer.verifyCheckValue(stored)) {
    throw new CertfleetError(
      ErrorCode.master_key_mismatch,
      `The master key (${keySource}) is not the one this database was created with, so its private keys cannot be ` +
        'opened. Every node must use the same key: copy master.key from the data directory of a working node ' +
        '(mode 0600), or set CERTFLEET_MASTER_KEY to the same value, and start again.',
    );
  }
}
