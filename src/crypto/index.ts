/**
 * crypto/: X.509, PKCS#12, JKS and PEM in and out; key generation off the event loop; keys sealed
 * at rest. The public surface; the other modules of this folder are its parts.
 */
import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs it before it loads

export { certificateContent, formatCertificateContent, type CertificateContent, type ExtensionContent, type JsonValue, type NameContent } from './certificate-content.js';
export {
  certificateFacts,
  fingerprint,
  keyAlgorithmName,
  normalizeCertificateInput,
  publicKeyFacts,
  type PublicKeyFacts,
} from './certificate-facts.js';
export {
  describeKeySpec,
  nodeKeyPairSource,
  type GeneratedKeyPair,
  type KeySpec,
} from './key-generation.js';
export { keyAlgorithmOf, privateKeyMatchesCertificate, publicSpkiOf } from './key-match.js';
export { KeySealer, SEALED_FORMAT_VERSION } from './key-sealer.js';
export {
  KeystoreFormat,
  MAX_KEYSTORE_FILE_BYTES,
  readKeystore,
  type KeystoreEntryRead,
  type ReadKeystoreRequest,
} from './keystore-reader.js';
export { loadMasterKey, MASTER_KEY_BYTES, MASTER_KEY_ENV, MASTER_KEY_FILE, parseMasterKey, type LoadedMasterKey } from './master-key.js';
export { looksLikePem, pemBlocks, pemToDer, toPem, type PemBlock } from './pem.js';
export { PKCS12_WRITER_ITERATIONS, writePkcs12, type WritePkcs12Request } from './pkcs12-writer.js';
export { CLOCK_SKEW_MS, createSelfSignedCertificate, looksLikeHostName, randomSerialNumber, type SelfSignedRequest } from './self-signed.js';
