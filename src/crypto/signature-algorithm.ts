/**
 * The signature algorithm of a certificate (Java name, from its OID), without the rest of
 * certificateFacts: the device agent checks it on every full handshake, and it must not load
 * @peculiar/x509 to start (a thin client's agent, and `certfleet agent --once`, start in well under a second).
 */
import { signatureAlgorithmName } from '../domain/algorithms.js';
import { certificateSignatureOid } from './asn1.js';

export function certificateSignatureAlgorithm(der: Buffer): string {
  return signatureAlgorithmName(certificateSignatureOid(der));
}
