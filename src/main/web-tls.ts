/**
 * SPEC section 6: on any non-loopback address the console and API speak only HTTPS, with the
 * administrator's certificate (--web-cert/--web-key) or a self-signed one made on first start.
 * The web certificate is separate from the device keystore and never offered to devices.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeKeyPairSource } from '../crypto/key-generation.js';
import { toPem } from '../crypto/pem.js';
import { createSelfSignedCertificate } from '../crypto/self-signed.js';
import { writeFileAtomic } from '../storage/atomic-file.js';

export async function loadWebTls(opts: {
  readonly dataDir: string;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  readonly hostName: string;
}): Promise<{ key: Buffer; cert: Buffer }> {
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile || !opts.keyFile) throw new Error('Give both --web-cert and --web-key, or neither.');
    return { cert: readFileSync(opts.certFile), key: readFileSync(opts.keyFile) };
  }
  const certPath = join(opts.dataDir, 'web-cert.pem');
  const keyPath = join(opts.dataDir, 'web-key.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    const keys = await nodeKeyPairSource.generate({ kind: 'EC', curve: 'P-256' });
    const der = await createSelfSignedCertificate({ keys, commonName: opts.hostName, algorithm: 'SHA256withECDSA', days: 825, now: new Date() });
    // Key first, each file whole or absent (a crash between the two leaves no certificate without
    // its key; the next start makes both again). Both 0600, as everything in the data directory.
    await writeFileAtomic(keyPath, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    await writeFileAtomic(certPath, toPem(der, 'CERTIFICATE'));
  }
  return { cert: readFileSync(certPath), key: readFileSync(keyPath) };
}
