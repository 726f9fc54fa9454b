/**
 * A KeyPairSource for tests: hands out the pre-made keys of test/fixtures/out/keys/ (made by
 * make-fixtures.sh with openssl genpkey), round robin per kind, so that a test that needs RSA-4096
 * certificates does not spend a second per key. Reusing private keys is acceptable only in tests,
 * which is why this lives under test/ and never in src/. A kind the pool lacks is generated.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { KeyPairSource } from '../../src/app/certificates.js';
import { nodeKeyPairSource, type GeneratedKeyPair, type KeySpec } from '../../src/crypto/key-generation.js';

/** test/fixtures/out/keys/, seen from dist/test/support/. */
export const FIXTURE_KEYS_DIR = new URL('../../../test/fixtures/out/keys/', import.meta.url);

function prefixOf(spec: KeySpec): string {
  return spec.kind === 'RSA' ? `rsa-${spec.bits}-` : `ec-${spec.curve.toLowerCase().replace('-', '')}-`;
}

export function poolKeyPairSource(dir: URL = FIXTURE_KEYS_DIR): KeyPairSource & { readonly handedOut: number } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.pem')).sort();
  const cache = new Map<string, GeneratedKeyPair[]>();
  const next = new Map<string, number>();
  let handedOut = 0;
  const keysFor = (prefix: string): GeneratedKeyPair[] => {
    let keys = cache.get(prefix);
    if (!keys) {
      keys = files
        .filter((f) => f.startsWith(prefix))
        .map((f) => {
          const privateKey = createPrivateKey(readFileSync(new URL(f, dir)));
          return { privateKey, publicKey: createPublicKey(privateKey) };
        });
      cache.set(prefix, keys);
    }
    return keys;
  };
  return {
    get handedOut() {
      return handedOut;
    },
    async generate(spec) {
      const prefix = prefixOf(spec);
      const keys = keysFor(prefix);
      const i = next.get(prefix) ?? 0;
      const pair = keys[i % Math.max(keys.length, 1)];
      if (!pair) return nodeKeyPairSource.generate(spec); // a kind the pool lacks
      next.set(prefix, i + 1);
      handedOut++;
      return pair;
    },
  };
}
