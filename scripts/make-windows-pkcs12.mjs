#!/usr/bin/env node
/**
 * Writes a PKCS#12 file laid out as Windows writes it (CryptoAPI PFXExportCertStoreEx, certutil,
 * Export-PfxCertificate, the certificate MMC): BER with indefinite lengths and the authenticated
 * safe's OCTET STRING in chunks, the key in a 3DES-shrouded bag carrying Microsoft's CSP name,
 * key-usage and machine-keyset attributes and a GUID container name, the certificate in an RC2-40
 * encrypted part (or beside the key), a short localKeyId (01 00 00 00), a SHA-1 MAC.
 *
 * A Windows export "without a password" keys the MAC and every bag with a zero-length password
 * (no bytes), not the two-byte empty BMP string openssl and Java use: `--zero-length-password`.
 *
 * Independent of certfleet's own code: node-forge's PKCS#12 derivation (which takes `null` for
 * the zero-length password) and RC2, Node's 3DES, and a BER writer of its own. make-interop-matrix.sh
 * checks every file it writes with `openssl pkcs12` before the tests use it.
 *
 *   node scripts/make-windows-pkcs12.mjs --key KEY.pem --cert CERT.pem --out OUT.p12
 *     [--password PW | --zero-length-password] [--definite] [--cert-next-to-key]
 *     [--local-key-id HEX] [--mac-iterations N|omit] [--no-csp] [--key-bag plain]
 */
import { createCipheriv, createHmac, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const forge = createRequire(import.meta.url)('node-forge');

const { values: opt } = parseArgs({
  options: {
    key: { type: 'string' },
    cert: { type: 'string' },
    out: { type: 'string' },
    password: { type: 'string' },
    'zero-length-password': { type: 'boolean', default: false },
    definite: { type: 'boolean', default: false },
    'cert-next-to-key': { type: 'boolean', default: false },
    'local-key-id': { type: 'string', default: '01000000' },
    'mac-iterations': { type: 'string', default: '2000' },
    'no-csp': { type: 'boolean', default: false },
    'key-bag': { type: 'string', default: 'shrouded' },
    iterations: { type: 'string', default: '2000' },
  },
});
if (!opt.key || !opt.cert || !opt.out) throw new Error('give --key, --cert and --out');
if (opt['zero-length-password'] === (opt.password !== undefined)) throw new Error('give exactly one of --password and --zero-length-password');

/** null: the zero-length password (forge derives from no bytes); else the BMP string with its terminator. */
const password = opt['zero-length-password'] ? null : opt.password;
const ber = !opt.definite;
const iterations = Number(opt.iterations);

// ---- a small BER/DER writer ----------------------------------------------------------------------
const length = (n) => {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
};
const tlv = (tag, content) => Buffer.concat([Buffer.from([tag]), length(content.length), content]);
/** A constructed value: indefinite length (00 00 at the end) when writing BER, as Windows does. */
const cons = (tag, ...items) => {
  const content = Buffer.concat(items);
  return ber ? Buffer.concat([Buffer.from([tag, 0x80]), content, Buffer.from([0, 0])]) : tlv(tag, content);
};
const seq = (...items) => cons(0x30, ...items);
const set = (...items) => tlv(0x31, Buffer.concat(items)); // SET OF: definite, as Windows writes attributes
const explicit0 = (item) => cons(0xa0, item);
const oid = (dotted) => Buffer.from(forge.asn1.oidToDer(dotted).getBytes(), 'binary').toString('hex');
const OID = (dotted) => tlv(0x06, Buffer.from(oid(dotted), 'hex'));
const int = (n) => tlv(0x02, Buffer.from(forge.asn1.integerToDer(n).getBytes(), 'binary'));
const octets = (b) => tlv(0x04, b);
/** OCTET STRING of the authenticated safe's data: constructed, in chunks, when writing BER. */
const chunkedOctets = (b, chunk = 1000) => {
  if (!ber) return octets(b);
  const parts = [];
  for (let i = 0; i < b.length; i += chunk) parts.push(octets(b.subarray(i, i + chunk)));
  return cons(0x24, ...parts);
};
const bmp = (s) => tlv(0x1e, Buffer.from(s, 'utf16le').swap16());

const P = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  msCsp: '1.3.6.1.4.1.311.17.1', // szOID_PKCS_12_KEY_PROVIDER_NAME_ATTR
  msLocalMachine: '1.3.6.1.4.1.311.17.2', // szOID_LOCAL_MACHINE_KEYSET
  keyUsage: '2.5.29.15',
  pbe3des: '1.2.840.113549.1.12.1.3',
  pbeRc2_40: '1.2.840.113549.1.12.1.6',
  sha1: '1.3.14.3.2.26',
};

// ---- the PKCS#12 derivation and ciphers (forge, Node) ---------------------------------------------
const derive = (salt, id, iter, n) => Buffer.from(forge.pkcs12.generateKey(password, forge.util.createBuffer(salt.toString('binary')), id, iter, n).getBytes(), 'binary');
function encrypt(scheme, plain) {
  const salt = randomBytes(8);
  let enc;
  if (scheme === P.pbe3des) {
    const c = createCipheriv('des-ede3-cbc', derive(salt, 1, iterations, 24), derive(salt, 2, iterations, 8));
    enc = Buffer.concat([c.update(plain), c.final()]);
  } else {
    const c = forge.rc2.createEncryptionCipher(derive(salt, 1, iterations, 5).toString('binary'), 40);
    c.start(derive(salt, 2, iterations, 8).toString('binary'));
    c.update(forge.util.createBuffer(plain.toString('binary')));
    c.finish();
    enc = Buffer.from(c.output.getBytes(), 'binary');
  }
  return { algorithm: seq(OID(scheme), seq(octets(salt), int(iterations))), enc };
}

// ---- the bags ---------------------------------------------------------------------------------------
const certDer = new X509Certificate(readFileSync(opt.cert)).raw;
const pkcs8 = createPrivateKey(readFileSync(opt.key)).export({ type: 'pkcs8', format: 'der' });
const localKeyId = Buffer.from(opt['local-key-id'], 'hex');
const attribute = (type, value) => seq(OID(type), set(value));

const keyAttributes = set(
  attribute(P.localKeyId, octets(localKeyId)),
  // the key container's name: a GUID, as CryptoAPI names containers
  attribute(P.friendlyName, bmp('te-a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b')),
  ...(opt['no-csp']
    ? []
    : [
        attribute(P.msCsp, bmp('Microsoft Enhanced RSA and AES Cryptographic Provider')),
        attribute(P.msLocalMachine, tlv(0x05, Buffer.alloc(0))),
        attribute(P.keyUsage, tlv(0x03, Buffer.from([0x07, 0x80]))),
      ]),
);
const keyBag =
  opt['key-bag'] === 'plain'
    ? seq(OID(P.keyBag), explicit0(pkcs8), keyAttributes)
    : (() => {
        const { algorithm, enc } = encrypt(P.pbe3des, pkcs8);
        return seq(OID(P.shroudedKeyBag), explicit0(seq(algorithm, octets(enc))), keyAttributes);
      })();
const certBag = seq(OID(P.certBag), explicit0(seq(OID(P.x509), explicit0(octets(certDer)))), set(attribute(P.localKeyId, octets(localKeyId))));

const dataContentInfo = (safeContents) => seq(OID(P.data), explicit0(chunkedOctets(safeContents)));
const contentInfos = [];
if (opt['cert-next-to-key']) {
  contentInfos.push(dataContentInfo(seq(keyBag, certBag)));
} else {
  contentInfos.push(dataContentInfo(seq(keyBag)));
  const { algorithm, enc } = encrypt(P.pbeRc2_40, seq(certBag));
  // EncryptedData { version 0, EncryptedContentInfo { data, algorithm, [0] IMPLICIT encrypted } }
  contentInfos.push(seq(OID(P.encryptedData), explicit0(seq(int(0), seq(OID(P.data), algorithm, ber ? cons(0xa0, octets(enc)) : tlv(0x80, enc))))));
}
const authSafe = seq(...contentInfos);

// ---- the MAC: HMAC-SHA-1 over the authenticated safe's content octets -------------------------------
const macSalt = randomBytes(20);
const macIterations = opt['mac-iterations'] === 'omit' ? 1 : Number(opt['mac-iterations']);
const mac = createHmac('sha1', derive(macSalt, 3, macIterations, 20)).update(authSafe).digest();
const macData = seq(
  seq(seq(OID(P.sha1), tlv(0x05, Buffer.alloc(0))), octets(mac)),
  octets(macSalt),
  ...(opt['mac-iterations'] === 'omit' ? [] : [int(macIterations)]), // left out: DEFAULT 1
);

writeFileSync(opt.out, seq(int(3), dataContentInfo(authSafe), macData));
