/**
 * Bounded work per import (issue 10): what one keystore file may ask of the server. Every limit is
 * checked on parameters read from the file before the key derivation they would start, so a
 * hostile file is refused at the cost of parsing it, never at the cost it asks for.
 *
 * Work is counted in rounds: one iteration of the hash for each block of derived key (PBKDF2 and
 * the PKCS#12 derivation; key and IV of a legacy PKCS#12 bag are two derivations), N·r·p for
 * scrypt; rounds of the PKCS#12 derivation count four times, since it runs in JavaScript. A round
 * costs about a microsecond, so the default total is about two seconds of one worker at worst,
 * while the files openssl, keytool and Windows write need 10,000 to 150,000 rounds.
 */
import { CertfleetError, ErrorCode } from '../domain/errors.js';

export interface ImportLimits {
  /** Total key-derivation rounds of one file: the MAC and every encrypted part, opened or not. */
  readonly maxDerivationRounds: number;
  /** Certificates in one file (all entries, trusted ones too). */
  readonly maxCertificates: number;
  /** Encrypted parts of one file: encrypted safe contents, shrouded keys, JKS key entries. */
  readonly maxEncryptedParts: number;
  /** scrypt's memory, 128·N·r bytes. */
  readonly maxScryptMemoryBytes: number;
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = {
  maxDerivationRounds: 3_000_000,
  maxCertificates: 50,
  maxEncryptedParts: 16,
  maxScryptMemoryBytes: 32 * 1024 * 1024, // what openssl itself allows when it writes a key
};

export function derivationTooCostly(what: string, rounds: number, maximum: number): CertfleetError {
  return new CertfleetError(
    ErrorCode.key_derivation_too_costly,
    `The file asks for ${Number.isFinite(rounds) ? rounds : 'an enormous number of'} key-derivation rounds (${what}); ` +
      `at most ${maximum} are allowed for one file. Export it again with the usual settings (a few thousand iterations).`,
    { limit: 'derivation_rounds', requested: Number.isFinite(rounds) ? rounds : null, maximum, what },
  );
}

export function scryptTooCostly(memoryBytes: number, maximum: number): CertfleetError {
  return new CertfleetError(
    ErrorCode.key_derivation_too_costly,
    `The key is encrypted with scrypt parameters that need ${Number.isFinite(memoryBytes) ? memoryBytes : 'an enormous number of'} bytes of memory; ` +
      `at most ${maximum} are allowed. Export it again with openssl's default scrypt parameters (N=16384, r=8, p=1) or with AES-256 and PBKDF2.`,
    { limit: 'scrypt_memory', requested: Number.isFinite(memoryBytes) ? memoryBytes : null, maximum },
  );
}

export function tooManyCertificates(count: number, maximum: number): CertfleetError {
  return new CertfleetError(
    ErrorCode.too_many_certificates,
    `The file holds ${count} certificates or more; at most ${maximum} are read from one file. ` +
      'Export only the server certificate, its key and (if you like) its issuers.',
    { count, maximum },
  );
}

export function tooManyEncryptedParts(count: number, maximum: number): CertfleetError {
  return new CertfleetError(
    ErrorCode.too_many_encrypted_parts,
    `The file has ${count} encrypted parts or more; at most ${maximum} are read from one file. Export only the key entry you want to import.`,
    { count, maximum },
  );
}

/**
 * The key-derivation budget of one file. `require` checks a planned total before any of it is
 * spent; `charge` books one derivation just before it runs, so the sum over all encrypted parts
 * (a PKCS#12 with many copies of one bag included) can never pass the limit.
 */
export class DerivationBudget {
  private spent = 0;
  private parts = 0;

  constructor(readonly limits: ImportLimits = DEFAULT_IMPORT_LIMITS) {}

  get roundsSpent(): number {
    return this.spent;
  }

  /** Refuses when `rounds` more than already spent would pass the limit; books nothing. */
  require(rounds: number, what: string): void {
    const total = this.spent + rounds;
    if (!Number.isFinite(total) || total > this.limits.maxDerivationRounds) throw derivationTooCostly(what, total, this.limits.maxDerivationRounds);
  }

  charge(rounds: number, what: string): void {
    this.require(rounds, what);
    this.spent += rounds;
  }

  /** Refuses a file with more encrypted parts than allowed (counted as they are found). */
  countParts(n: number): void {
    this.parts += n;
    if (this.parts > this.limits.maxEncryptedParts) throw tooManyEncryptedParts(this.parts, this.limits.maxEncryptedParts);
  }

  checkCertificates(count: number): void {
    if (count > this.limits.maxCertificates) throw tooManyCertificates(count, this.limits.maxCertificates);
  }

  checkScryptMemory(bytes: number): void {
    if (!Number.isFinite(bytes) || bytes > this.limits.maxScryptMemoryBytes) throw scryptTooCostly(bytes, this.limits.maxScryptMemoryBytes);
  }
}
