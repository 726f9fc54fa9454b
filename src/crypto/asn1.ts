/**
 * The few DER walks crypto/ does itself (object identifiers @peculiar/x509 does not expose, the
 * PKCS#12 structure), on node-forge's ASN.1 parser. Nothing outside crypto/ imports this.
 */
import forge from 'node-forge';

export type Asn1 = forge.asn1.Asn1;

/** Parses DER strictly; throws on trailing bytes (forge's parseAllBytes) or a truncated value. */
export function parseDer(der: Buffer): Asn1 {
  return forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')), true);
}

export function toDer(node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}

export function children(node: Asn1 | undefined): Asn1[] {
  if (!node || !Array.isArray(node.value)) throw new Error('ASN.1: expected a constructed value');
  return node.value;
}

export function child(node: Asn1 | undefined, index: number): Asn1 {
  const c = children(node)[index];
  if (!c) throw new Error(`ASN.1: no element ${index}`);
  return c;
}

/** The primitive content bytes of a node (OCTET STRING, INTEGER, OID …). */
export function bytesOf(node: Asn1 | undefined): Buffer {
  if (!node || typeof node.value !== 'string') throw new Error('ASN.1: expected a primitive value');
  return Buffer.from(node.value, 'binary');
}

export function oidOf(node: Asn1 | undefined): string {
  if (!node || node.type !== forge.asn1.Type.OID || typeof node.value !== 'string') {
    throw new Error('ASN.1: expected an OBJECT IDENTIFIER');
  }
  return forge.asn1.derToOid(node.value);
}

/** `AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }` → the OID. */
export function algorithmOid(algorithmIdentifier: Asn1): string {
  return oidOf(child(algorithmIdentifier, 0));
}

/** The optional parameters of an AlgorithmIdentifier when they are an OID (EC named curve). */
export function algorithmParameterOid(algorithmIdentifier: Asn1): string | null {
  const p = children(algorithmIdentifier)[1];
  return p && p.type === forge.asn1.Type.OID && p.tagClass === forge.asn1.Class.UNIVERSAL ? oidOf(p) : null;
}

/** The signature algorithm OID of a certificate (the outer `signatureAlgorithm` field). */
export function certificateSignatureOid(certDer: Buffer): string {
  return algorithmOid(child(parseDer(certDer), 1));
}

/** The SubjectPublicKeyInfo of a certificate, as DER. */
export function certificateSpki(certDer: Buffer): Buffer {
  // serial, signature, issuer, validity, subject, subjectPublicKeyInfo
  const spki = tbsFields(certDer).fields[5];
  if (!spki) throw new Error('ASN.1: certificate without subjectPublicKeyInfo');
  return toDer(spki);
}

/** The key algorithm OID and (for EC) the named curve OID of a SubjectPublicKeyInfo. */
export function spkiAlgorithm(spkiDer: Buffer): { oid: string; parameterOid: string | null } {
  const algorithm = child(parseDer(spkiDer), 0);
  return { oid: algorithmOid(algorithm), parameterOid: algorithmParameterOid(algorithm) };
}

function tbsFields(certDer: Buffer): { version: number; fields: Asn1[]; extensions: Asn1[] } {
  const tbs = children(child(parseDer(certDer), 0));
  const first = tbs[0];
  const hasVersion = first !== undefined && first.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && first.type === 0;
  const version = hasVersion ? forge.asn1.derToInteger(bytesOf(child(first, 0)).toString('binary')) + 1 : 1;
  const fields = hasVersion ? tbs.slice(1) : tbs;
  // issuerUniqueID [1], subjectUniqueID [2], extensions [3] follow the six mandatory fields
  const ext = fields.slice(6).find((f) => f.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && f.type === 3);
  return { version, fields, extensions: ext ? children(child(ext, 0)) : [] };
}

/** The certificate's version as printed (1, 2 or 3). */
export function certificateVersion(certDer: Buffer): number {
  return tbsFields(certDer).version;
}

export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  /** The contents of extnValue (the DER of the extension's own structure). */
  readonly value: Buffer;
  /** The whole Extension SEQUENCE. */
  readonly der: Buffer;
}

/** The certificate's extensions in order, undecoded. */
export function certificateExtensions(certDer: Buffer): RawExtension[] {
  return tbsFields(certDer).extensions.map((e) => {
    const parts = children(e);
    const oid = oidOf(parts[0]);
    const flag = parts.length === 3 ? parts[1] : undefined;
    const critical = flag !== undefined && bytesOf(flag)[0] !== 0;
    return { oid, critical, value: bytesOf(parts[parts.length - 1]), der: toDer(e) };
  });
}
