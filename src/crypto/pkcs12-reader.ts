/**
 * PKCS#12 (RFC 7292) reading: the MAC tells a wrong password apart from a damaged file; the safe
 * contents are decrypted with PBES2 (AES, openssl 3 and Java 17 defaults) or the legacy PKCS#12
 * schemes (3DES, RC2: `openssl pkcs12 -legacy`, Windows, old Java). Certificates keep their exact
 * bytes (fingerprints), keys are opened only for the chosen entry.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { CertfleetError } from '../domain/errors.js';
import { bytesOf, child, children, oidOf, parseDer, toDer, type Asn1 } from './asn1.js';
import { privateKeyMatchesCertificate } from './key-match.js';
import { IntegrityCheck, KeystoreFormat, type KeystoreContents, type KeystoreKeyEntry } from './keystore-contents.js';
import { damaged, iterationLimit, keyKindNotReadable, unsupportedEncryption, wrongKeyPassword, wrongStorePassword } from './keystore-errors.js';
import { DerivationBudget } from './import-limits.js';
import { DecryptionError, integerOf, IterationLimitError, pbeDecrypt, pkcs12MacRounds, planPbe, UnsupportedEncryptionError, verifyPkcs12Mac } from './pbe.js';
import { decryptPrivateKeyInfo, privateKeyFromPkcs8 } from './pkcs8.js';

export const PKCS12_OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
} as const;

/** The bytes are not a PFX at all (the caller tries other readings). */
export class NotPkcs12Error extends Error {
  override readonly name = 'NotPkcs12Error';
}

interface BagAttributes {
  readonly friendlyName: string | null;
  readonly localKeyId: string | null;
}

interface CertItem extends BagAttributes {
  readonly der: Buffer;
}

interface KeyItem extends BagAttributes {
  /** PKCS#8 DER for a keyBag, EncryptedPrivateKeyInfo DER for a shrouded one. */
  readonly der: Buffer;
  readonly shrouded: boolean;
}

/** OCTET STRING contents, primitive or (BER) constructed, and also for IMPLICIT [0] OCTET STRING. */
function octets(node: Asn1 | undefined): Buffer {
  if (!node) throw new Error('ASN.1: missing OCTET STRING');
  if (typeof node.value === 'string') return bytesOf(node);
  return Buffer.concat(children(node).map(octets));
}

/** `[0] EXPLICIT` content of a ContentInfo or SafeBag. */
function explicit0(node: Asn1 | undefined): Asn1 {
  const tagged = child(node, 1);
  if (tagged.tagClass !== forge.asn1.Class.CONTEXT_SPECIFIC || tagged.type !== 0) throw new Error('ASN.1: expected [0]');
  return child(tagged, 0);
}

/** forge decodes BMPString (UTF-16BE) itself while parsing; other string types arrive as bytes. */
function bmpString(node: Asn1 | undefined): string {
  if (node && node.type === forge.asn1.Type.BMPSTRING && typeof node.value === 'string') return node.value;
  return bytesOf(node).toString('utf8');
}

function attributes(set: Asn1 | undefined): BagAttributes {
  let friendlyName: string | null = null;
  let localKeyId: string | null = null;
  for (const attr of set ? children(set) : []) {
    const oid = oidOf(child(attr, 0));
    const value = children(child(attr, 1))[0];
    if (oid === PKCS12_OID.friendlyName && value) friendlyName = bmpString(value);
    if (oid === PKCS12_OID.localKeyId && value) localKeyId = bytesOf(value).toString('hex');
  }
  return { friendlyName, localKeyId };
}

/** What the bags of a file hold, counted against the file's limits as they are found. */
class BagCollector {
  readonly certs: CertItem[] = [];
  readonly keys: KeyItem[] = [];
  constructor(private readonly budget: DerivationBudget) {}

  collect(safeContents: Buffer): void {
    for (const bag of children(parseDer(safeContents))) {
      const bagId = oidOf(child(bag, 0));
      const value = explicit0(bag);
      const attrs = attributes(children(bag)[2]);
      switch (bagId) {
        case PKCS12_OID.certBag:
          if (oidOf(child(value, 0)) === PKCS12_OID.x509Certificate) {
            this.certs.push({ ...attrs, der: octets(explicit0(value)) });
            this.budget.checkCertificates(this.certs.length);
          }
          break;
        case PKCS12_OID.keyBag:
          this.keys.push({ ...attrs, der: toDer(value), shrouded: false });
          break;
        case PKCS12_OID.pkcs8ShroudedKeyBag:
          this.budget.countParts(1);
          this.keys.push({ ...attrs, der: toDer(value), shrouded: true });
          break;
        case PKCS12_OID.safeContentsBag:
          this.collect(toDer(value));
          break;
        default:
          break; // CRL and secret bags carry nothing certfleet imports
      }
    }
  }
}

/** The rounds opening a shrouded key bag with the password would cost (its EncryptedPrivateKeyInfo's algorithm). */
function shroudedKeyRounds(key: KeyItem, password: string): number {
  return key.shrouded ? planPbe(child(parseDer(key.der), 0), password).rounds : 0;
}

/** Decrypted safe contents are a SEQUENCE of bags: anything else is the wrong encoding of the password. */
function isSafeContents(plain: Buffer): boolean {
  try {
    return Array.isArray(parseDer(plain).value);
  } catch {
    return false;
  }
}

interface ParsedCert {
  readonly item: CertItem;
  readonly x509: X509Certificate | null;
}

function parsed(item: CertItem): ParsedCert {
  try {
    return { item, x509: new X509Certificate(item.der) };
  } catch {
    return { item, x509: null };
  }
}

/**
 * Leaf first, then its issuers found among the certificates that belong to no other key. Linear:
 * each certificate is parsed once and indexed by subject, so a step looks only at the certificates
 * whose subject is the current one's issuer (checkIssued then compares key identifiers too). The
 * old search re-parsed every pair at every step, and a file of 150 certificates chained by name
 * kept the server busy for seconds.
 */
function chainFrom(leaf: CertItem, pool: readonly CertItem[]): Buffer[] {
  const bySubject = new Map<string, ParsedCert[]>();
  for (const c of pool.map(parsed)) {
    if (!c.x509) continue;
    const same = bySubject.get(c.x509.subject);
    if (same) same.push(c);
    else bySubject.set(c.x509.subject, [c]);
  }
  const chain: CertItem[] = [leaf];
  const used = new Set<CertItem>(chain);
  for (let current = parsed(leaf); current.x509 && !current.x509.checkIssued(current.x509); ) {
    const issuer = current.x509;
    const next = (bySubject.get(issuer.issuer) ?? []).find((c) => !used.has(c.item) && c.x509 !== null && issuer.checkIssued(c.x509));
    if (!next) break;
    chain.push(next.item);
    used.add(next.item);
    current = next;
  }
  return chain.map((c) => c.der);
}

function mapDecryptionError(e: unknown, onWrongPassword: () => CertfleetError): never {
  if (e instanceof CertfleetError) throw e;
  if (e instanceof DecryptionError) throw onWrongPassword();
  if (e instanceof UnsupportedEncryptionError) throw unsupportedEncryption('pkcs12', e.message);
  if (e instanceof IterationLimitError) throw iterationLimit('pkcs12', e.iterations);
  throw damaged('pkcs12');
}

/**
 * Whether the bytes begin as a PFX does (SEQUENCE, INTEGER 3, SEQUENCE, OID data), as Java's
 * PKCS12KeyStore probes: such a file that does not parse is a damaged PKCS#12, not an unknown file.
 */
export function looksLikePkcs12(b: Buffer): boolean {
  const skipHeader = (o: number): number => {
    const len = b[o + 1] ?? 0;
    return o + 2 + (len & 0x80 ? len & 0x7f : 0);
  };
  if (b[0] !== 0x30) return false;
  let o = skipHeader(0);
  if (b[o] !== 0x02 || b[o + 1] !== 0x01 || b[o + 2] !== 0x03 || b[o + 3] !== 0x30) return false;
  o = skipHeader(o + 3);
  return b.subarray(o, o + 11).equals(Buffer.from('06092a864886f70d010701', 'hex'));
}

export async function readPkcs12(file: Buffer, password: string, keyPassword: string | undefined, budget: DerivationBudget): Promise<KeystoreContents> {
  let pfx: Asn1;
  let authSafe: Buffer;
  try {
    pfx = parseDer(file);
    const [version, contentInfo] = children(pfx);
    if (integerOf(version) !== 3 || oidOf(child(contentInfo, 0)) !== PKCS12_OID.data) throw new Error('not a PFX');
    authSafe = octets(explicit0(contentInfo));
  } catch {
    if (looksLikePkcs12(file)) throw damaged('pkcs12');
    throw new NotPkcs12Error('not a PKCS#12 PFX');
  }

  // From here on the file is PKCS#12: its failures are wrong passwords or damage, told apart by the MAC.
  const macData = children(pfx)[2];
  const hasMac = macData !== undefined;
  let contentInfos: Asn1[];
  try {
    contentInfos = children(parseDer(authSafe));
    // Before any derivation: what the file visibly asks for (the MAC, each encrypted part, the
    // shrouded keys outside them) must fit the limits, whatever the password.
    const encryptedParts = contentInfos.filter((ci) => oidOf(child(ci, 0)) === PKCS12_OID.encryptedData).length;
    const scan = new DerivationBudget(budget.limits); // counts what is visible, spends nothing
    scan.countParts(encryptedParts);
    let planned = macData ? pkcs12MacRounds(macData, password) : 0;
    const visible = new BagCollector(scan);
    for (const ci of contentInfos) {
      const type = oidOf(child(ci, 0));
      if (type === PKCS12_OID.encryptedData) {
        const encryptedContentInfo = child(explicit0(ci), 1);
        if (children(encryptedContentInfo)[2]) planned += planPbe(child(encryptedContentInfo, 1), password).rounds;
      } else if (type === PKCS12_OID.data) {
        visible.collect(octets(explicit0(ci)));
      }
      budget.require(planned, 'the MAC and the encrypted parts');
    }
    budget.countParts(encryptedParts); // the shrouded keys are counted when they are collected below
    for (const k of visible.keys) planned += shroudedKeyRounds(k, keyPassword ?? password);
    budget.require(planned, 'the MAC and the encrypted parts');
  } catch (e) {
    return mapDecryptionError(e, () => damaged('pkcs12'));
  }
  if (macData) {
    let ok: boolean;
    try {
      ok = await verifyPkcs12Mac(macData, authSafe, password, budget);
    } catch (e) {
      return mapDecryptionError(e, () => damaged('pkcs12'));
    }
    if (!ok) throw wrongStorePassword('pkcs12', true);
  }

  // the parts were counted above; the collector counts only what the decrypted parts reveal
  const found = new BagCollector(budget);
  const { certs, keys } = found;
  try {
    for (const contentInfo of contentInfos) {
      const type = oidOf(child(contentInfo, 0));
      if (type === PKCS12_OID.data) {
        found.collect(octets(explicit0(contentInfo)));
      } else if (type === PKCS12_OID.encryptedData) {
        const encryptedContentInfo = child(explicit0(contentInfo), 1);
        const encrypted = children(encryptedContentInfo)[2];
        if (!encrypted) continue; // no content
        found.collect(await pbeDecrypt(child(encryptedContentInfo, 1), octets(encrypted), password, budget, isSafeContents));
      } else {
        throw new UnsupportedEncryptionError(`content type ${type} (public-key protected PKCS#12)`);
      }
    }
    // the sum over all encrypted parts, the keys not opened included
    budget.require(keys.reduce((n, k) => n + shroudedKeyRounds(k, keyPassword ?? password), 0), 'the shrouded keys');
  } catch (e) {
    // with a verified MAC the password is right, so a failure is damage; without one it is most likely the password
    mapDecryptionError(e, () => (hasMac ? damaged('pkcs12') : wrongStorePassword('pkcs12', false)));
  }

  const keyIds = new Set(keys.map((k) => k.localKeyId).filter((id) => id !== null));
  const keyEntries = keys.map((k): KeystoreKeyEntry => {
    const name = k.friendlyName ?? certs.find((c) => c.localKeyId !== null && c.localKeyId === k.localKeyId)?.friendlyName ?? null;
    return {
      name,
      openKey: async (): Promise<KeyObject> => {
        if (!k.shrouded) {
          try {
            return privateKeyFromPkcs8(k.der);
          } catch {
            throw keyKindNotReadable('pkcs12', name);
          }
        }
        try {
          return await decryptPrivateKeyInfo(k.der, keyPassword ?? password, budget);
        } catch (e) {
          return mapDecryptionError(e, () =>
            hasMac && keyPassword === undefined
              ? wrongKeyPassword('pkcs12', name, false)
              : keyPassword !== undefined
                ? wrongKeyPassword('pkcs12', name, true)
                : wrongStorePassword('pkcs12', false),
          );
        }
      },
      certificatesFor: (key) => {
        const leaf =
          certs.find((c) => k.localKeyId !== null && c.localKeyId === k.localKeyId) ??
          certs.find((c) => k.friendlyName !== null && c.friendlyName === k.friendlyName) ??
          certs.find((c) => privateKeyMatchesCertificate(c.der, key)) ??
          (certs.length === 1 ? certs[0] : undefined);
        if (!leaf) return [];
        const pool = certs.filter((c) => c !== leaf && (c.localKeyId === null || !keyIds.has(c.localKeyId)));
        return chainFrom(leaf, pool);
      },
    };
  });
  return { format: KeystoreFormat.pkcs12, keyEntries, certificateCount: certs.length, integrityCheck: hasMac ? IntegrityCheck.mac : IntegrityCheck.none };
}
