/**
 * Password-based encryption of keystores: PKCS#5 PBES2 (PBKDF2 + AES/3DES-CBC), the PKCS#12 key
 * derivation (RFC 7292 appendix B) with its MAC and its legacy ciphers (3DES, RC2).
 *
 * Why not node-forge's own PKCS#12 code: it re-encodes certificates from parsed fields (so a
 * fingerprint could change), and it derives keys in pure JavaScript on the event loop (200 ms and
 * more per keytool file, unbounded for a hostile iteration count). Here PBKDF2 runs natively in
 * the thread pool, the PKCS#12 derivation yields to the event loop while it iterates, iteration
 * counts are capped as Java caps them, every derivation is booked on the file's DerivationBudget
 * before it runs (import-limits.ts), schemes off the list here are refused (never passed to
 * OpenSSL), and forge is used only for ASN.1 and the RC2 cipher that OpenSSL 3 keeps in its
 * legacy provider.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, pbkdf2, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { algorithmOid, bytesOf, child, children, type Asn1 } from './asn1.js';
import type { DerivationBudget } from './import-limits.js';

const pbkdf2Async = promisify(pbkdf2);
function scryptAsync(password: Buffer, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Java's PKCS12KeyStore refuses more; so do we (a hostile file cannot keep a CPU busy for long). */
export const MAX_ITERATIONS = 5_000_000;

export const PBE_OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  scrypt: '1.3.6.1.4.1.11591.4.11',
  pbmac1: '1.2.840.113549.1.5.14',
  hmacWithSHA1: '1.2.840.113549.2.7',
  hmacWithSHA256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;

/** The file uses an algorithm certfleet does not implement (e.g. RC4, PBMAC1, scrypt). */
export class UnsupportedEncryptionError extends Error {
  override readonly name = 'UnsupportedEncryptionError';
}

/** Decryption produced garbage (bad padding): the password is wrong or the data damaged. */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
}

/** The file asks for more key-derivation iterations than MAX_ITERATIONS. */
export class IterationLimitError extends Error {
  override readonly name = 'IterationLimitError';
  constructor(readonly iterations: number) {
    super(`${iterations} iterations`);
  }
}

interface HashInfo {
  readonly name: string;
  /** Output size (u) and block size (v) in bytes, for the PKCS#12 derivation. */
  readonly u: number;
  readonly v: number;
}

const HASH_BY_OID: Readonly<Record<string, HashInfo>> = {
  '1.3.14.3.2.26': { name: 'sha1', u: 20, v: 64 },
  '2.16.840.1.101.3.4.2.4': { name: 'sha224', u: 28, v: 64 },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', u: 32, v: 64 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', u: 48, v: 128 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', u: 64, v: 128 },
};
const SHA1 = HASH_BY_OID['1.3.14.3.2.26'] as HashInfo; // present: the literal above
const SHA512 = HASH_BY_OID[PBE_OID.sha512] as HashInfo; // present: the literal above

const PRF_BY_OID: Readonly<Record<string, string>> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

const PBES2_CIPHER_BY_OID: Readonly<Record<string, { readonly name: string; readonly keyLength: number }>> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLength: 24 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLength: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLength: 24 },
};

const PRF_OUTPUT_BYTES: Readonly<Record<string, number>> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

/** PBES1 (RFC 8018 section 6.1): DES and RC2 with MD5 or SHA-1, refused by name. */
const PBES1_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.5.1': 'PBES1 pbeWithMD2AndDES-CBC',
  '1.2.840.113549.1.5.3': 'PBES1 pbeWithMD5AndDES-CBC',
  '1.2.840.113549.1.5.4': 'PBES1 pbeWithMD2AndRC2-CBC',
  '1.2.840.113549.1.5.6': 'PBES1 pbeWithMD5AndRC2-CBC',
  '1.2.840.113549.1.5.10': 'PBES1 pbeWithSHA1AndDES-CBC',
  '1.2.840.113549.1.5.11': 'PBES1 pbeWithSHA1AndRC2-CBC',
};

/** PKCS#12 PBE (RFC 7292 appendix C), always with SHA-1. */
const PKCS12_PBE_BY_OID: Readonly<Record<string, { readonly cipher: string; readonly keyLength: number }>> = {
  '1.2.840.113549.1.12.1.3': { cipher: 'des-ede3-cbc', keyLength: 24 },
  '1.2.840.113549.1.12.1.4': { cipher: 'des-ede-cbc', keyLength: 16 },
  '1.2.840.113549.1.12.1.5': { cipher: 'rc2', keyLength: 16 },
  '1.2.840.113549.1.12.1.6': { cipher: 'rc2', keyLength: 5 },
};

/** A non-negative INTEGER that fits a JavaScript number (iteration counts, key lengths). */
export function integerOf(node: Asn1 | undefined): number {
  if (!node || node.type !== forge.asn1.Type.INTEGER) throw new Error('ASN.1: expected an INTEGER');
  const bytes = bytesOf(node);
  if (bytes.length > 6) return Number.POSITIVE_INFINITY;
  return bytes.length === 0 ? 0 : bytes.readUIntBE(0, bytes.length);
}

function checkIterations(n: number): number {
  if (!Number.isFinite(n) || n > MAX_ITERATIONS) throw new IterationLimitError(n);
  if (n < 1) throw new Error('ASN.1: iteration count below 1');
  return n;
}

/** PKCS#12 passwords are BMPStrings (UTF-16BE) with a two-byte terminator. */
export function bmpPassword(password: string): Buffer {
  const le = Buffer.from(`${password}\0`, 'utf16le');
  return le.swap16();
}

function repeatTo(source: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  if (source.length === 0) return out;
  for (let i = 0; i < length; i += source.length) source.copy(out, i, 0, Math.min(source.length, length - i));
  return out;
}

/** Hash rounds between two yields: about 1 ms of the event loop on an idle core. */
const ROUNDS_PER_SLICE = 1024;

/**
 * RFC 7292 B.2, written as a generator that pauses every few thousand hash rounds, so that one
 * body serves the synchronous writer and the asynchronous reader (which yields the event loop).
 */
function* pkcs12KdfSteps(hash: HashInfo, password: Buffer, salt: Buffer, id: number, iterations: number, n: number): Generator<void, Buffer> {
  const { u, v } = hash;
  const d = Buffer.alloc(v, id);
  const i = Buffer.concat([repeatTo(salt, v * Math.ceil(salt.length / v)), repeatTo(password, v * Math.ceil(password.length / v))]);
  const out: Buffer[] = [];
  for (let produced = 0; produced < n; produced += u) {
    let a = createHash(hash.name).update(d).update(i).digest();
    for (let r = 1; r < iterations; r++) {
      a = createHash(hash.name).update(a).digest();
      if (r % ROUNDS_PER_SLICE === 0) yield;
    }
    out.push(a);
    const b = repeatTo(a, v);
    for (let j = 0; j < i.length; j += v) {
      // I_j = (I_j + B + 1) mod 2^(8v)
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (i[j + k] as number) + (b[k] as number) + carry;
        i[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

function runSync<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

async function runAsync<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The PKCS#12 key derivation, synchronously (ID 1: key, 2: IV, 3: MAC key). */
export function pkcs12KeyDerivation(hash: 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512', password: Buffer, salt: Buffer, id: 1 | 2 | 3, iterations: number, n: number): Buffer {
  const info = Object.values(HASH_BY_OID).find((h) => h.name === hash);
  if (!info) throw new UnsupportedEncryptionError(hash);
  return runSync(pkcs12KdfSteps(info, password, salt, id, iterations, n));
}

// ---------------------------------------------------------------------------------------------
// MAC (RFC 7292 section 4: MacData, HMAC keyed by the PKCS#12 derivation with ID 3)
// ---------------------------------------------------------------------------------------------

interface MacParams {
  readonly hash: HashInfo;
  readonly digest: Buffer;
  readonly salt: Buffer;
  readonly iterations: number;
}

function parseMacData(macData: Asn1): MacParams {
  const digestInfo = child(macData, 0);
  const oid = algorithmOid(child(digestInfo, 0));
  const hash = HASH_BY_OID[oid];
  if (!hash) throw new UnsupportedEncryptionError(`MAC algorithm ${oid === PBE_OID.pbmac1 ? 'PBMAC1' : oid}`);
  const parts = children(macData);
  const iterations = parts[2] ? checkIterations(integerOf(parts[2])) : 1;
  return { hash, digest: bytesOf(child(digestInfo, 1)), salt: bytesOf(child(macData, 1)), iterations };
}

/**
 * The PKCS#12 derivation runs in JavaScript, about four times slower a round than native PBKDF2
 * (measured: 4–6 µs against 0.8 µs for SHA-256): its rounds count four times in the budget.
 */
export const PKCS12_KDF_ROUND_WEIGHT = 4;

/**
 * The PKCS#12 encodings of a password to try, for the MAC and for each legacy-encrypted bag. OpenSSL
 * and Java write an empty password as a lone BMP terminator (two zero bytes); Windows, exporting
 * with no password, as no bytes at all. Readers try both (openssl's PKCS12_parse does), and so does
 * certfleet: an empty password costs two derivations wherever the PKCS#12 derivation is used, and
 * both are booked on the budget.
 */
export function pkcs12PasswordEncodings(password: string): Buffer[] {
  return password === '' ? [bmpPassword(''), Buffer.alloc(0)] : [bmpPassword(password)];
}

/** The rounds verifyPkcs12Mac will spend (one derivation of one block per password encoding tried). */
export function pkcs12MacRounds(macData: Asn1, password: string): number {
  return parseMacData(macData).iterations * pkcs12PasswordEncodings(password).length * PKCS12_KDF_ROUND_WEIGHT;
}

/** Whether the MAC over the authenticated safe verifies with the password; charges the budget first. */
export async function verifyPkcs12Mac(macData: Asn1, authSafe: Buffer, password: string, budget: DerivationBudget): Promise<boolean> {
  const mac = parseMacData(macData);
  const encodings = pkcs12PasswordEncodings(password);
  budget.charge(mac.iterations * encodings.length * PKCS12_KDF_ROUND_WEIGHT, `PKCS#12 MAC, ${mac.iterations} iterations`);
  for (const pw of encodings) {
    const key = await runAsync(pkcs12KdfSteps(mac.hash, pw, mac.salt, 3, mac.iterations, mac.hash.u));
    const computed = createHmac(mac.hash.name, key).update(authSafe).digest();
    if (computed.length === mac.digest.length && timingSafeEqual(computed, mac.digest)) return true;
  }
  return false;
}

/**
 * MacData for the writer: HMAC-SHA-512 keyed by the PKCS#12 derivation (ID 3). The derivation runs
 * here in JavaScript, yielding to the event loop every few thousand rounds.
 */
export async function pkcs12MacSha512(authSafe: Buffer, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const key = await runAsync(pkcs12KdfSteps(SHA512, bmpPassword(password), salt, 3, iterations, SHA512.u));
  return createHmac('sha512', key).update(authSafe).digest();
}

// ---------------------------------------------------------------------------------------------
// PBES2 (RFC 8018 section 6.2, with PBKDF2 or scrypt RFC 7914) and PKCS#12 PBE: parsed into a plan
// that states its cost, so that the cost is checked before any derivation starts
// ---------------------------------------------------------------------------------------------

/** Whether decrypted bytes are what was expected (a key, safe contents): padding alone is right by chance one time in 256. */
export type PlainCheck = (plain: Buffer) => boolean;

/** A decryption read from an AlgorithmIdentifier for one password: what it costs, then how to run it. */
export interface PbePlan {
  /** Key-derivation rounds (see import-limits.ts), every encoding of the password that will be tried included. */
  readonly rounds: number;
  /** scrypt's memory in bytes (128·N·r); 0 for the other schemes. */
  readonly memoryBytes: number;
  readonly description: string;
  /** Tries each encoding of the password until one decrypts to bytes `accept` takes; else DecryptionError. */
  decrypt(data: Buffer, accept: PlainCheck): Promise<Buffer>;
}

function requireOctets(node: Asn1 | undefined): Buffer {
  if (!node || node.type !== forge.asn1.Type.OCTETSTRING) throw new Error('ASN.1: expected an OCTET STRING');
  return bytesOf(node);
}

interface Pbes2Kdf {
  readonly rounds: number;
  readonly memoryBytes: number;
  readonly description: string;
  derive(password: Buffer, keyLength: number): Promise<Buffer>;
}

function parsePbkdf2(kdfParams: Asn1[], cipherKeyLength: number): Pbes2Kdf & { keyLength: number } {
  const salt = requireOctets(kdfParams[0]);
  const iterations = checkIterations(integerOf(kdfParams[1]));
  let keyLength = cipherKeyLength;
  let prf = 'sha1'; // the DEFAULT of PBKDF2-params
  for (const p of kdfParams.slice(2)) {
    if (p.type === forge.asn1.Type.INTEGER) keyLength = integerOf(p);
    else if (p.type === forge.asn1.Type.SEQUENCE) {
      const prfOid = algorithmOid(p);
      const name = PRF_BY_OID[prfOid];
      if (!name) throw new UnsupportedEncryptionError(`PBKDF2 PRF ${prfOid}`);
      prf = name;
    }
  }
  const blocks = Math.ceil(keyLength / (PRF_OUTPUT_BYTES[prf] as number)); // every PRF_BY_OID name is listed
  return {
    keyLength,
    rounds: iterations * blocks,
    memoryBytes: 0,
    description: `PBKDF2-HMAC-${prf.toUpperCase()}, ${iterations} iterations`,
    derive: (password, n) => pbkdf2Async(password, salt, iterations, n, prf),
  };
}

function parseScrypt(kdfParams: Asn1[], cipherKeyLength: number): Pbes2Kdf & { keyLength: number } {
  const salt = requireOctets(kdfParams[0]);
  const cost = integerOf(kdfParams[1]);
  const blockSize = integerOf(kdfParams[2]);
  const parallelization = integerOf(kdfParams[3]);
  const keyLength = kdfParams[4] ? integerOf(kdfParams[4]) : cipherKeyLength;
  // N a power of two above 1, r and p at least 1 (RFC 7914); anything else is damage
  if (cost < 2 || !Number.isSafeInteger(cost) || (cost & (cost - 1)) !== 0 || blockSize < 1 || parallelization < 1) {
    throw new Error('scrypt: invalid parameters');
  }
  const memoryBytes = 128 * cost * blockSize;
  return {
    keyLength,
    rounds: cost * blockSize * parallelization,
    memoryBytes,
    description: `scrypt N=${cost} r=${blockSize} p=${parallelization}`,
    derive: (password, n) =>
      scryptAsync(password, salt, n, { N: cost, r: blockSize, p: parallelization, maxmem: memoryBytes * 2 + 1024 * 1024 }),
  };
}

function planPbes2(params: Asn1, password: string): PbePlan {
  const kdf = child(params, 0);
  const kdfOid = algorithmOid(kdf);
  const scheme = child(params, 1);
  const schemeOid = algorithmOid(scheme);
  const cipher = PBES2_CIPHER_BY_OID[schemeOid];
  // the cipher is checked first: a scheme off the list is refused whatever its cost
  if (!cipher) throw new UnsupportedEncryptionError(`PBES2 cipher ${schemeOid}`);
  const kdfParams = children(child(kdf, 1));
  let parsed: Pbes2Kdf & { keyLength: number };
  if (kdfOid === PBE_OID.pbkdf2) parsed = parsePbkdf2(kdfParams, cipher.keyLength);
  else if (kdfOid === PBE_OID.scrypt) parsed = parseScrypt(kdfParams, cipher.keyLength);
  else throw new UnsupportedEncryptionError(`PBES2 key derivation ${kdfOid}`);
  if (parsed.keyLength !== cipher.keyLength) throw new UnsupportedEncryptionError(`key length ${parsed.keyLength} for ${cipher.name}`);
  const iv = requireOctets(children(scheme)[1]);
  return {
    rounds: parsed.rounds,
    memoryBytes: parsed.memoryBytes,
    description: `PBES2 ${parsed.description}, ${cipher.name}`,
    // PBES2 takes the password as UTF-8 bytes: an empty one has a single encoding, no bytes
    decrypt: async (data, accept) => accepted(decipher(cipher.name, await parsed.derive(Buffer.from(password, 'utf8'), cipher.keyLength), iv, data), accept),
  };
}

function planPkcs12Pbe(oid: string, params: Asn1, password: string): PbePlan {
  const legacy = PKCS12_PBE_BY_OID[oid];
  if (!legacy) throw new UnsupportedEncryptionError(`encryption ${oid}`);
  const salt = requireOctets(child(params, 0));
  const iterations = checkIterations(integerOf(child(params, 1)));
  const encodings = pkcs12PasswordEncodings(password);
  // two derivations per encoding tried: the key (ceil(keyLength / 20) SHA-1 blocks) and the IV (one block)
  const rounds = iterations * (Math.ceil(legacy.keyLength / SHA1.u) + 1) * PKCS12_KDF_ROUND_WEIGHT * encodings.length;
  return {
    rounds,
    memoryBytes: 0,
    description: `PKCS#12 PBE ${legacy.cipher}, ${iterations} iterations${encodings.length > 1 ? ', both encodings of the empty password' : ''}`,
    decrypt: async (data, accept) => {
      for (const pw of encodings) {
        const key = await runAsync(pkcs12KdfSteps(SHA1, pw, salt, 1, iterations, legacy.keyLength));
        const iv = await runAsync(pkcs12KdfSteps(SHA1, pw, salt, 2, iterations, 8));
        try {
          return accepted(legacy.cipher === 'rc2' ? rc2Decrypt(key, iv, data) : decipher(legacy.cipher, key, iv, data), accept);
        } catch (e) {
          if (!(e instanceof DecryptionError)) throw e;
        }
      }
      throw new DecryptionError('no encoding of the password decrypts');
    },
  };
}

/**
 * Reads the scheme and its parameters from the AlgorithmIdentifier. Only the schemes listed in this
 * module are planned; anything else is an UnsupportedEncryptionError, never handed on to OpenSSL
 * (whose own schemes have no cap on their cost).
 */
export function planPbe(algorithm: Asn1, password: string): PbePlan {
  const oid = algorithmOid(algorithm);
  if (oid === PBE_OID.pbes2) return planPbes2(child(algorithm, 1), password);
  if (oid in PKCS12_PBE_BY_OID) return planPkcs12Pbe(oid, child(algorithm, 1), password);
  throw new UnsupportedEncryptionError(`encryption ${PBES1_NAMES[oid] ?? oid}`);
}

function accepted(plain: Buffer, accept: PlainCheck): Buffer {
  if (!accept(plain)) throw new DecryptionError('the decrypted bytes are not what was expected');
  return plain;
}

function decipher(name: string, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  try {
    const d = createDecipheriv(name, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch {
    throw new DecryptionError('bad padding');
  }
}

function rc2Decrypt(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  // the effective key bits are the key's length (40 for RC2-40); forge's startDecrypting assumes 128
  const cipher = forge.rc2.createDecryptionCipher(key.toString('binary'), key.length * 8);
  cipher.start(iv.toString('binary'));
  cipher.update(forge.util.createBuffer(data.toString('binary')));
  if (!cipher.finish()) throw new DecryptionError('bad padding');
  return Buffer.from(cipher.output.getBytes(), 'binary');
}

/**
 * Decrypts data protected by the AlgorithmIdentifier `algorithm` (PBES2 or PKCS#12 PBE) with the
 * password, after booking its cost on the budget (which refuses with a CertfleetError when the
 * file's total would pass the limit). Throws DecryptionError on a wrong password (bad padding, or
 * bytes `accept` does not take),
 * UnsupportedEncryptionError for schemes certfleet does not implement, IterationLimitError for
 * absurd iteration counts.
 */
export async function pbeDecrypt(algorithm: Asn1, data: Buffer, password: string, budget: DerivationBudget, accept: PlainCheck = () => true): Promise<Buffer> {
  const plan = planPbe(algorithm, password);
  budget.checkScryptMemory(plan.memoryBytes);
  budget.charge(plan.rounds, plan.description);
  return plan.decrypt(data, accept);
}

export interface Pbes2Encryption {
  /** The AlgorithmIdentifier (PBES2, PBKDF2-HMAC-SHA-256, AES-256-CBC) to write beside the data. */
  readonly algorithm: Asn1;
  readonly encrypted: Buffer;
}

/** PBES2 with PBKDF2-HMAC-SHA-256 and AES-256-CBC, as openssl 3 and Java 17 write by default; the derivation runs off the event loop. */
export async function pbes2Encrypt(plain: Buffer, password: string, salt: Buffer, iv: Buffer, iterations: number): Promise<Pbes2Encryption> {
  const key = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const c = createCipheriv('aes-256-cbc', key, iv);
  const encrypted = Buffer.concat([c.update(plain), c.final()]);
  const { create, Class, Type, oidToDer } = forge.asn1;
  const seq = (items: Asn1[]): Asn1 => create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
  const oid = (o: string): Asn1 => create(Class.UNIVERSAL, Type.OID, false, oidToDer(o).getBytes());
  const octets = (b: Buffer): Asn1 => create(Class.UNIVERSAL, Type.OCTETSTRING, false, b.toString('binary'));
  const int = (n: number): Asn1 => create(Class.UNIVERSAL, Type.INTEGER, false, forge.asn1.integerToDer(n).getBytes());
  const algorithm = seq([
    oid(PBE_OID.pbes2),
    seq([
      seq([oid(PBE_OID.pbkdf2), seq([octets(salt), int(iterations), seq([oid(PBE_OID.hmacWithSHA256), create(Class.UNIVERSAL, Type.NULL, false, '')])])]),
      seq([oid(PBE_OID.aes256Cbc), octets(iv)]),
    ]),
  ]);
  return { algorithm, encrypted };
}
