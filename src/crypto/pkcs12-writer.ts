/**
 * K8: a certificate and its private key as a PKCS#12 file that both `openssl pkcs12` (3.x) and
 * Java `keytool -storetype PKCS12` (17) open with the password the administrator gave.
 *
 * Protection (work factor: OWASP's Password Storage Cheat Sheet, 2023: PBKDF2-HMAC-SHA-256 with
 * 600 000 rounds, PBKDF2-HMAC-SHA-512 with 210 000; Java's keytool refuses more than 5 000 000):
 *   - key bag:        PKCS#8 shrouded, PBES2 / PBKDF2-HMAC-SHA-256 / AES-256-CBC, 600 000 iterations
 *   - integrity:      HMAC-SHA-512 MAC (PKCS#12 key derivation), 420 000 iterations, 20-byte salt.
 *                     A guess is checked most cheaply against the MAC, so it must cost as much as
 *                     the guidance asks: one SHA-512 block per round, as many blocks as 210 000
 *                     rounds of PBKDF2-HMAC-SHA-512 (two per round).
 *   - certificate:    in a plain (unencrypted) safe: it is public (every device is shown it), and
 *                     one more 600 000-round derivation would protect nothing.
 * (openssl 1.1 and Java before 11.0.12 cannot read AES-protected PKCS#12; neither is supported.)
 * Both derivations run off the event loop or yield to it: PBKDF2 on libuv's thread pool, the PKCS#12
 * derivation in slices (pbe.ts).
 * One code path serves RSA and EC keys alike: the key is taken as PKCS#8 from Node, never through
 * forge's RSA-only key objects. The bags carry the friendly name (keytool shows it as the alias) and
 * a localKeyId (SHA-1 of the certificate, as openssl sets it) that pairs key and certificate.
 */
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { toDer, type Asn1 } from './asn1.js';
import { privateKeyMatchesCertificate } from './key-match.js';
import { PBE_OID, pbes2Encrypt, pkcs12MacSha512 } from './pbe.js';
import { PKCS12_OID } from './pkcs12-reader.js';

export const PKCS12_WRITER_ITERATIONS = 600_000;
/** SHA-512 blocks of the MAC's key derivation: OWASP's 210 000 PBKDF2-HMAC-SHA-512 rounds × 2. */
export const PKCS12_WRITER_MAC_ITERATIONS = 420_000;

export interface WritePkcs12Request {
  readonly certDer: Buffer;
  readonly privateKey: KeyObject;
  readonly password: string;
  /** Shown by keytool as the entry's alias; certfleet uses the keystore alias. */
  readonly friendlyName: string;
}

const { create, Class, Type } = forge.asn1;

const seq = (items: Asn1[]): Asn1 => create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
const set = (items: Asn1[]): Asn1 => create(Class.UNIVERSAL, Type.SET, true, items);
const oid = (o: string): Asn1 => create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(o).getBytes());
const octets = (b: Buffer): Asn1 => create(Class.UNIVERSAL, Type.OCTETSTRING, false, b.toString('binary'));
const int = (n: number): Asn1 => create(Class.UNIVERSAL, Type.INTEGER, false, forge.asn1.integerToDer(n).getBytes());
const explicit0 = (inner: Asn1): Asn1 => create(Class.CONTEXT_SPECIFIC, 0, true, [inner]);
/** forge encodes a BMPSTRING value given as a JavaScript string as UTF-16BE. */
const bmp = (s: string): Asn1 => create(Class.UNIVERSAL, Type.BMPSTRING, false, s);
const nul = (): Asn1 => create(Class.UNIVERSAL, Type.NULL, false, '');

function bagAttributes(friendlyName: string, localKeyId: Buffer): Asn1 {
  return set([
    seq([oid(PKCS12_OID.friendlyName), set([bmp(friendlyName)])]),
    seq([oid(PKCS12_OID.localKeyId), set([octets(localKeyId)])]),
  ]);
}

function safeBag(bagId: string, value: Asn1, attributes: Asn1): Asn1 {
  return seq([oid(bagId), explicit0(value), attributes]);
}

export async function writePkcs12(req: WritePkcs12Request): Promise<Buffer> {
  if (!privateKeyMatchesCertificate(req.certDer, req.privateKey)) {
    // the stored pair always matches; a mismatch here is a bug upstream, never something to export
    throw new CertfleetError(ErrorCode.internal, 'The private key does not belong to the certificate; nothing was exported.');
  }
  const iterations = PKCS12_WRITER_ITERATIONS;
  const localKeyId = createHash('sha1').update(req.certDer).digest();
  const attributes = bagAttributes(req.friendlyName, localKeyId);

  // the key: a shrouded key bag (EncryptedPrivateKeyInfo) in a plain data safe
  const pkcs8 = req.privateKey.export({ type: 'pkcs8', format: 'der' });
  const keyEnc = await pbes2Encrypt(pkcs8, req.password, randomBytes(16), randomBytes(16), iterations);
  const keySafe = seq([safeBag(PKCS12_OID.pkcs8ShroudedKeyBag, seq([keyEnc.algorithm, octets(keyEnc.encrypted)]), attributes)]);

  // the certificate: a cert bag in a plain data safe
  const certBag = seq([oid(PKCS12_OID.x509Certificate), explicit0(octets(req.certDer))]);
  const certSafe = seq([safeBag(PKCS12_OID.certBag, certBag, attributes)]);

  const authSafe = toDer(
    seq([
      seq([oid(PKCS12_OID.data), explicit0(octets(toDer(certSafe)))]),
      seq([oid(PKCS12_OID.data), explicit0(octets(toDer(keySafe)))]),
    ]),
  );
  const macSalt = randomBytes(20);
  const mac = await pkcs12MacSha512(authSafe, req.password, macSalt, PKCS12_WRITER_MAC_ITERATIONS);
  const pfx = seq([
    int(3),
    seq([oid(PKCS12_OID.data), explicit0(octets(authSafe))]),
    seq([seq([seq([oid(PBE_OID.sha512), nul()]), octets(mac)]), octets(macSalt), int(PKCS12_WRITER_MAC_ITERATIONS)]),
  ]);
  return toDer(pfx);
}
