/**
 * The keystore's use cases (SPEC K1–K10): list, show, generate, import, delete, reorder,
 * (de)activate, export, and the devices of a certificate. Each one authorises, reads what it
 * needs, decides with the domain rules and writes in one transaction under the keystore lock.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import {
  GENERATION_ALGORITHMS,
  isGenerationAlgorithm,
  RSA_GENERATION_KEY_SIZES,
  type GenerationAlgorithm,
} from '../domain/algorithms.js';
import { importRefusal, MAX_KEYSTORE_FILE_BYTES, type CertificateFacts } from '../domain/certificate.js';
import type { CertificateUsage, KeystoreSlot } from '../domain/keystore.js';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import {
  changedSlots,
  findSlot,
  makeDefault,
  moveDown,
  moveUp,
  nextPosition,
  removeSlot,
  setActive,
  validateAlias,
} from '../domain/keystore.js';
import { placedBelow } from '../domain/lifecycle.js';
import { Permission } from '../domain/roles.js';
import { issueNetworkToken } from './cluster.js';
import { certificateContent, type CertificateContent } from '../crypto/certificate-content.js';
import { certificateFacts } from '../crypto/certificate-facts.js';
import type { GeneratedKeyPair, KeySpec } from '../crypto/key-generation.js';
import { keyAlgorithmOf, privateKeyMatchesCertificate } from '../crypto/key-match.js';
import type { IntegrityCheck } from '../crypto/keystore-contents.js';
import type { KeystoreEntryRead, ReadKeystoreRequest } from '../crypto/keystore-reader.js';
import { importCancelled } from '../crypto/import-pool.js';
import { writePkcs12 } from '../crypto/pkcs12-writer.js';
import { createSelfSignedCertificate } from '../crypto/self-signed.js';
import { auditedChange, authorize, type Actor, type AppContext } from './context.js';
import { CertificateSource } from '../domain/vocabularies.js';
import type { DeviceQuery, DeviceRecord, KeyMaterial, Page, StoredCertificate } from './records.js';
import type { Repos } from './store.js';

export interface NewCertificate extends KeystoreSlot {
  readonly facts: CertificateFacts;
  readonly source: CertificateSource;
  readonly createdAt: string;
  readonly certDer: Buffer;
  /** The PKCS#8 private key sealed by the KeySealing port (AES-256-GCM); never the plain key. */
  readonly sealedKey: Buffer;
}

/** Where generated certificates get their key pairs (K5); crypto/key-generation.ts makes them off the event loop. */
export interface KeyPairSource {
  generate(spec: KeySpec): Promise<GeneratedKeyPair>;
}

/**
 * Where imported keystore files are read (K6): crypto/import-pool.ts reads them in worker threads
 * with a deadline and the limits of import-limits.ts, and ends the read when `signal` aborts.
 */
export interface KeystoreReader {
  read(req: Omit<ReadKeystoreRequest, 'limits'>, signal?: AbortSignal): Promise<KeystoreEntryRead>;
}

/** The keystore as its administration (K1–K11) reads and changes it. */
export interface KeystoreAdminRepo {
  /**
   * Takes the keystore lock until the transaction ends, so that keystore changes on every node of
   * a cluster happen one after the other; returns the current revision.
   */
  lock(): Promise<number>;
  /** All entries in priority order (position 1 first), with their usage counts. */
  list(): Promise<StoredCertificate[]>;
  findByAlias(alias: string): Promise<StoredCertificate | null>;
  findBySha256(sha256Fingerprint: string): Promise<StoredCertificate | null>;
  insert(entry: NewCertificate): Promise<void>;
  /** Writes position and active flag of each given slot. */
  updateSlots(slots: readonly KeystoreSlot[]): Promise<void>;
  remove(id: string): Promise<void>;
  keyMaterial(alias: string): Promise<KeyMaterial | null>;
  /** The usage counts of one entry (what `list` gives each). */
  usage(id: string): Promise<CertificateUsage>;
  /** Raises the keystore revision by one (every change does); other nodes compare it to learn of changes. */
  bumpRevision(at: string): Promise<number>;
  revision(): Promise<number>;
}

/** The devices of one certificate (K10). */
export interface CertificateDevicesRepo {
  /** Devices that pin the certificate or have it as a pending replacement. */
  listByCertificate(certificateId: string, query: DeviceQuery): Promise<Page<DeviceRecord>>;
}

/**
 * What a caller that builds on a keystore change (the lifecycle, app/lifecycle.ts) writes in the
 * same transaction, so that its own record and the change land together or not at all.
 */
export type AlsoInTransaction<T> = (tx: Repos, result: T) => Promise<void>;

export const DEFAULT_VALIDITY_DAYS = 3650;
export const MAX_VALIDITY_DAYS = 9125;
export const MIN_EXPORT_PASSWORD_LENGTH = 8;

function notFound(alias: string): CertfleetError {
  return new CertfleetError(
    ErrorCode.certificate_not_found,
    `There is no certificate with the alias "${alias}". List them with \`certfleet cert list\`.`,
    { alias },
  );
}

function aliasTaken(alias: string): CertfleetError {
  return new CertfleetError(
    ErrorCode.alias_taken,
    `The alias "${alias}" is already used by another certificate. Choose another alias.`,
    { alias },
  );
}

export async function listCertificates(ctx: AppContext, actor: Actor): Promise<StoredCertificate[]> {
  authorize(actor, Permission.read);
  return ctx.store.keystore.list();
}

export async function getCertificate(ctx: AppContext, actor: Actor, alias: string): Promise<StoredCertificate> {
  authorize(actor, Permission.read);
  const entry = await ctx.store.keystore.findByAlias(alias);
  if (!entry) throw notFound(alias);
  return entry;
}

async function certificateDer(ctx: AppContext, alias: string): Promise<Buffer> {
  const material = await ctx.store.keystore.keyMaterial(alias);
  if (!material) throw notFound(alias);
  return material.certDer;
}

/** K9: everything in the certificate, readable. */
export async function showCertificateContent(ctx: AppContext, actor: Actor, alias: string): Promise<CertificateContent> {
  authorize(actor, Permission.read);
  return certificateContent(await certificateDer(ctx, alias));
}

/** K8: the certificate alone (DER; the transport renders PEM). */
export async function exportCertificate(ctx: AppContext, actor: Actor, alias: string): Promise<Buffer> {
  authorize(actor, Permission.read);
  return certificateDer(ctx, alias);
}

/** K10: devices that pin the certificate or are about to (pending replacement). */
export async function devicesOfCertificate(
  ctx: AppContext,
  actor: Actor,
  alias: string,
  query: DeviceQuery,
): Promise<Page<DeviceRecord>> {
  authorize(actor, Permission.read);
  const entry = await ctx.store.keystore.findByAlias(alias);
  if (!entry) throw notFound(alias);
  return ctx.store.devices.listByCertificate(entry.id, query);
}

interface NewEntryMaterial {
  readonly alias: string;
  readonly certDer: Buffer;
  readonly facts: CertificateFacts;
  readonly privateKey: KeyObject;
  readonly source: CertificateSource;
}

/**
 * Every keystore change ends here, inside its transaction and under the keystore lock: a new
 * revision, which every node's device channel learns of (H2), and a new network token (H3).
 */
async function recordKeystoreChange(ctx: AppContext, tx: Repos, at: string): Promise<number> {
  const revision = await tx.keystore.bumpRevision(at);
  await issueNetworkToken(ctx, tx);
  return revision;
}

/**
 * Adds an entry at the bottom of the list, active. Alias and duplicate are checked again under the
 * lock, because another node may have added the same one since the caller looked.
 */
async function insertEntry(ctx: AppContext, tx: Repos, m: NewEntryMaterial): Promise<StoredCertificate> {
  await tx.keystore.lock();
  if (await tx.keystore.findByAlias(m.alias)) throw aliasTaken(m.alias);
  const duplicate = await tx.keystore.findBySha256(m.facts.sha256Fingerprint);
  if (duplicate) {
    throw new CertfleetError(
      ErrorCode.duplicate_certificate,
      `This certificate is already in the keystore as "${duplicate.alias}" (SHA-256 ${m.facts.sha256Fingerprint}). ` +
        'There is no need to import it again.',
      { existingAlias: duplicate.alias, sha256Fingerprint: m.facts.sha256Fingerprint },
    );
  }
  const id = ctx.random.uuid();
  const pkcs8 = m.privateKey.export({ type: 'pkcs8', format: 'der' });
  const createdAt = ctx.clock.now().toISOString();
  await tx.keystore.insert({
    id,
    alias: m.alias,
    position: nextPosition(await tx.keystore.list()),
    active: true,
    facts: m.facts,
    source: m.source,
    createdAt,
    certDer: m.certDer,
    sealedKey: ctx.sealer.seal(pkcs8, id),
  });
  await recordKeystoreChange(ctx, tx, createdAt);
  const stored = await tx.keystore.findByAlias(m.alias);
  if (!stored) throw new Error('inserted certificate not found in the same transaction');
  return stored;
}

export interface GenerateRequest {
  readonly alias: string;
  readonly commonName?: string;
  readonly signatureAlgorithm?: string;
  readonly keySize?: number;
  readonly days?: number;
}

interface GenerationPlan {
  readonly alias: string;
  readonly commonName: string;
  readonly algorithm: GenerationAlgorithm;
  readonly keySpec: KeySpec;
  readonly days: number;
}

function planGeneration(req: GenerateRequest, hostName: string): GenerationPlan {
  validateAlias(req.alias);
  const algorithm = req.signatureAlgorithm ?? 'SHA512withRSA';
  if (!isGenerationAlgorithm(algorithm)) {
    throw new CertfleetError(
      ErrorCode.unsupported_generation_algorithm,
      `certfleet cannot generate ${algorithm} certificates. Choose one of ${Object.keys(GENERATION_ALGORITHMS).join(', ')}.`,
      { signatureAlgorithm: algorithm, supported: Object.keys(GENERATION_ALGORITHMS) },
    );
  }
  const spec = GENERATION_ALGORITHMS[algorithm];
  let keySpec: KeySpec;
  if (spec.keyAlgorithm === 'RSA') {
    const bits = req.keySize ?? 4096;
    if (!RSA_GENERATION_KEY_SIZES.includes(bits)) {
      throw new CertfleetError(
        ErrorCode.invalid_key_size,
        `An RSA key of ${bits} bits cannot be generated. Choose ${RSA_GENERATION_KEY_SIZES.join(', ')} bits.`,
        { keySize: bits, supported: RSA_GENERATION_KEY_SIZES },
      );
    }
    keySpec = { kind: 'RSA', bits };
  } else {
    const curve = (spec as { readonly curve: 'P-256' | 'P-384' }).curve; // every EC entry names its curve
    const bits = curve === 'P-256' ? 256 : 384;
    if (req.keySize !== undefined && req.keySize !== bits) {
      throw new CertfleetError(
        ErrorCode.invalid_key_size,
        `${algorithm} uses the curve ${curve} (${bits} bits); leave out the key size or give ${bits}.`,
        { keySize: req.keySize, supported: [bits] },
      );
    }
    keySpec = { kind: 'EC', curve };
  }
  const days = req.days ?? DEFAULT_VALIDITY_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw new CertfleetError(
      ErrorCode.invalid_validity,
      `A validity of ${days} days is not possible. Give a whole number of days from 1 to ${MAX_VALIDITY_DAYS}.`,
      { days, minimum: 1, maximum: MAX_VALIDITY_DAYS },
    );
  }
  const commonName = (req.commonName ?? hostName).trim();
  if (commonName.length === 0 || commonName.length > 64) {
    throw new CertfleetError(ErrorCode.invalid_request, 'The common name must be 1 to 64 characters long.', {
      field: 'commonName',
    });
  }
  return { alias: req.alias, commonName, algorithm, keySpec, days };
}

/** Makes the key pair (off the event loop) and the self-signed certificate; writes nothing. */
async function makeSelfSigned(ctx: AppContext, plan: GenerationPlan) {
  const keys = await ctx.keyPairs.generate(plan.keySpec);
  const certDer = await createSelfSignedCertificate({
    keys,
    commonName: plan.commonName,
    algorithm: plan.algorithm,
    days: plan.days,
    now: ctx.clock.now(),
  });
  return { certDer, facts: certificateFacts(certDer), privateKey: keys.privateKey };
}

/** Where the lifecycle puts a successor (L2): inactive, right below the entry it replaces. */
export interface GeneratePlacement {
  readonly inactiveBelow: string;
  readonly also?: AlsoInTransaction<StoredCertificate>;
}

/** K5. With `placement` (the lifecycle only), the new entry starts inactive below its predecessor. */
export async function generateCertificate(ctx: AppContext, actor: Actor, req: GenerateRequest, placement?: GeneratePlacement): Promise<StoredCertificate> {
  return auditedChange(ctx, actor, 'certificate.generate', req.alias, async (audit) => {
    authorize(actor, Permission.manageCertificates);
    const plan = planGeneration(req, ctx.hostName);
    if (await ctx.store.keystore.findByAlias(plan.alias)) throw aliasTaken(plan.alias);
    const made = await makeSelfSigned(ctx, plan);
    const stored = await ctx.store.transaction(async (tx) => {
      let entry = await insertEntry(ctx, tx, { alias: plan.alias, ...made, source: CertificateSource.generated });
      if (placement) {
        const before = await tx.keystore.list();
        const predecessor = findSlot(before, placement.inactiveBelow);
        const after = placedBelow(before, entry.id, predecessor.id);
        await tx.keystore.updateSlots(changedSlots(before, after));
        entry = (await tx.keystore.findByAlias(plan.alias)) ?? entry;
      }
      await audit.ok(tx, { signatureAlgorithm: plan.algorithm, keySize: entry.facts.keySize, days: plan.days, commonName: plan.commonName, sha256Fingerprint: entry.facts.sha256Fingerprint, ...(placement ? { below: placement.inactiveBelow, active: false } : {}) });
      await placement?.also?.(tx, entry);
      return entry;
    });
    ctx.onKeystoreChanged({ revision: await ctx.store.keystore.revision(), defaultChanged: false });
    return stored;
  });
}

export interface ImportRequest {
  readonly alias: string;
  readonly file: Buffer;
  readonly password: string;
  readonly keyPassword?: string;
  readonly entry?: string;
  /** Aborts when the caller has gone away: the read stops, nothing is written. */
  readonly signal?: AbortSignal;
}

/** What an import wrote, and what had checked the file's integrity (`none`: a PKCS#12 file without a MAC, or PEM). */
export interface ImportedCertificate {
  readonly stored: StoredCertificate;
  readonly integrityCheck: IntegrityCheck;
}

/** K6: every check passes before anything is written. */
export async function importCertificate(ctx: AppContext, actor: Actor, req: ImportRequest): Promise<ImportedCertificate> {
  return auditedChange(ctx, actor, 'certificate.import', req.alias, async (audit) => {
    authorize(actor, Permission.manageCertificates);
    if (req.file.length > MAX_KEYSTORE_FILE_BYTES) {
      throw new CertfleetError(
        ErrorCode.file_too_large,
        `The file is ${req.file.length} bytes; keystore files larger than 1 MiB (${MAX_KEYSTORE_FILE_BYTES} bytes) are refused. ` +
          'Export only the one key entry you want to import.',
        { size: req.file.length, maximum: MAX_KEYSTORE_FILE_BYTES },
      );
    }
    validateAlias(req.alias);
    const read = await ctx.keystoreReader.read(
      {
        file: req.file,
        password: req.password,
        ...(req.keyPassword !== undefined ? { keyPassword: req.keyPassword } : {}),
        ...(req.entry !== undefined ? { entry: req.entry } : {}),
      },
      req.signal,
    );
    const certDer = read.certificates[0] as Buffer; // readKeystore never returns an entry without its certificate
    const facts = certificateFacts(certDer);
    const refusal = importRefusal(
      {
        facts,
        chainLength: read.certificates.length,
        privateKeyAlgorithm: keyAlgorithmOf(read.privateKey),
        keyMatchesCertificate: privateKeyMatchesCertificate(certDer, read.privateKey),
      },
      ctx.clock.now(),
    );
    if (refusal) throw refusal;
    if (req.signal?.aborted) throw importCancelled(); // gone while the file was read: write nothing
    const stored = await ctx.store.transaction(async (tx) => {
      const entry = await insertEntry(ctx, tx, { alias: req.alias, certDer, facts, privateKey: read.privateKey, source: CertificateSource.imported });
      await audit.ok(tx, {
        format: read.format,
        entry: read.entryName,
        integrityCheck: read.integrityCheck,
        signatureAlgorithm: facts.signatureAlgorithm,
        sha256Fingerprint: facts.sha256Fingerprint,
      });
      return entry;
    });
    ctx.onKeystoreChanged({ revision: await ctx.store.keystore.revision(), defaultChanged: false });
    return { stored, integrityCheck: read.integrityCheck };
  });
}

export const Reorder = { up: 'up', down: 'down', makeDefault: 'default' } as const;
export type Reorder = (typeof Reorder)[keyof typeof Reorder];

const REORDER_ACTION: Readonly<Record<Reorder, string>> = {
  up: 'certificate.move-up',
  down: 'certificate.move-down',
  default: 'certificate.make-default',
};

/**
 * Applies a keystore rule under the lock and writes only what moved. Returns the new list and
 * whether the default changed (which wakes the reconciler at once, R3).
 */
export async function changeSlots(
  ctx: AppContext,
  actor: Actor,
  action: string,
  alias: string,
  rule: (list: readonly StoredCertificate[]) => StoredCertificate[],
  also?: AlsoInTransaction<readonly StoredCertificate[]>,
): Promise<StoredCertificate[]> {
  return auditedChange(ctx, actor, action, alias, async (audit) => {
    authorize(actor, Permission.manageCertificates);
    const result = await ctx.store.transaction(async (tx) => {
      await tx.keystore.lock();
      const before = await tx.keystore.list();
      const after = rule(before);
      const changed = changedSlots(before, after);
      const defaultChanged = before[0]?.id !== after[0]?.id;
      let revision = await tx.keystore.revision();
      if (changed.length > 0) {
        await tx.keystore.updateSlots(changed);
        revision = await recordKeystoreChange(ctx, tx, ctx.clock.now().toISOString());
        await audit.ok(tx, { default: after[0]?.alias, ...(defaultChanged ? { previousDefault: before[0]?.alias } : {}) });
      }
      await also?.(tx, after);
      return { list: changed.length > 0 ? await tx.keystore.list() : before, changed: changed.length > 0, defaultChanged, revision };
    });
    if (result.changed) ctx.onKeystoreChanged({ revision: result.revision, defaultChanged: result.defaultChanged });
    return result.list;
  });
}

/** K3: up, down, or straight to the top (make default). */
export function reorderCertificate(ctx: AppContext, actor: Actor, alias: string, how: Reorder): Promise<StoredCertificate[]> {
  const rule = how === Reorder.up ? moveUp : how === Reorder.down ? moveDown : makeDefault;
  return changeSlots(ctx, actor, REORDER_ACTION[how], alias, (list) => rule(list, alias));
}

/** K4. Activating an active entry (or deactivating an inactive one) changes nothing and succeeds. */
export function setCertificateActive(
  ctx: AppContext,
  actor: Actor,
  alias: string,
  active: boolean,
  also?: AlsoInTransaction<readonly StoredCertificate[]>,
): Promise<StoredCertificate[]> {
  return changeSlots(ctx, actor, active ? 'certificate.activate' : 'certificate.deactivate', alias, (list) => setActive(list, alias, active), also);
}

/** K7. The database's foreign keys back the usage check if a device registers meanwhile. */
export async function deleteCertificate(ctx: AppContext, actor: Actor, alias: string, also?: AlsoInTransaction<StoredCertificate>): Promise<void> {
  await auditedChange(ctx, actor, 'certificate.delete', alias, async (audit) => {
    authorize(actor, Permission.manageCertificates);
    const result = await ctx.store.transaction(async (tx) => {
      await tx.keystore.lock();
      const before = await tx.keystore.list();
      const entry = findSlot(before, alias);
      const after = removeSlot(before, alias, entry.usage);
      await tx.keystore.remove(entry.id);
      await tx.keystore.updateSlots(changedSlots(before, after));
      const revision = await recordKeystoreChange(ctx, tx, ctx.clock.now().toISOString());
      await audit.ok(tx, { sha256Fingerprint: entry.facts.sha256Fingerprint, position: entry.position });
      await also?.(tx, entry);
      return { revision, defaultChanged: before[0]?.id !== after[0]?.id };
    });
    ctx.onKeystoreChanged(result);
  });
}

/** K8: the key pair as PKCS#12 under the caller's password. Administrators only; audited. */
export async function exportKeyPair(ctx: AppContext, actor: Actor, alias: string, password: string): Promise<Buffer> {
  return auditedChange(ctx, actor, 'certificate.export-keypair', alias, async (audit) => {
    authorize(actor, Permission.exportKeyPair);
    if (password.length < MIN_EXPORT_PASSWORD_LENGTH) {
      throw new CertfleetError(
        ErrorCode.password_too_short,
        `The export password must be at least ${MIN_EXPORT_PASSWORD_LENGTH} characters long; it protects a private key.`,
        { minimum: MIN_EXPORT_PASSWORD_LENGTH },
      );
    }
    const material = await ctx.store.keystore.keyMaterial(alias);
    if (!material) throw notFound(alias);
    const privateKey = createPrivateKey({ key: ctx.sealer.open(material.sealedKey, material.id), format: 'der', type: 'pkcs8' });
    const p12 = await writePkcs12({ certDer: material.certDer, privateKey, password, friendlyName: alias });
    await ctx.store.transaction((tx) => audit.ok(tx, { format: 'pkcs12' }));
    return p12;
  });
}

/**
 * K1: an empty keystore gets `tckey` (SHA512withRSA, RSA 4096, self-signed, default). The key is
 * made outside the lock; under the lock the keystore must still be empty, so a keystore that is
 * not empty is never touched, and two nodes starting together make one entry.
 */
export async function ensureDefaultCertificate(ctx: AppContext, actor: Actor): Promise<StoredCertificate | null> {
  if ((await ctx.store.keystore.list()).length > 0) return null;
  const plan = planGeneration({ alias: 'tckey', signatureAlgorithm: 'SHA512withRSA', keySize: 4096 }, ctx.hostName);
  const made = await makeSelfSigned(ctx, plan);
  const created = await ctx.store.transaction(async (tx) => {
    await tx.keystore.lock();
    if ((await tx.keystore.list()).length > 0) return null;
    const entry = await insertEntry(ctx, tx, { alias: plan.alias, ...made, source: CertificateSource.firstStart });
    await tx.audit.append({
      at: ctx.clock.now().toISOString(),
      actor: actor.username,
      action: 'certificate.first-start',
      target: plan.alias,
      result: 'ok',
      code: null,
      details: { signatureAlgorithm: plan.algorithm, keySize: 4096, sha256Fingerprint: entry.facts.sha256Fingerprint },
    });
    return entry;
  });
  if (created) ctx.onKeystoreChanged({ revision: await ctx.store.keystore.revision(), defaultChanged: true });
  return created;
}
