/**
 * Devices (SPEC R1–R5, K10): registration, the record a check-in writes in one statement, the
 * admin listing, and the supported-algorithm masks the compatibility table gives.
 *
 * Every statement a device causes is a single-row lookup by primary key or by the unique
 * credential hash, so check-ins cost the same at a hundred devices and at a million.
 */
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { algorithmMask, algorithmsOfMask, type FirmwareCohort } from '../domain/compatibility.js';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../domain/algorithms.js';
import type { DeviceCertificateState, DeviceContact } from '../app/device-check-in.js';
import type { DeviceListQuery, DeviceQuery, DeviceRecord, Firmware, Page } from '../app/records.js';
import type { NewDevice } from '../app/register-device.js';
import type { DeviceRepo } from '../app/store.js';
import { parseStringList, timestamp, toInt, toJson } from './columns.js';
import { certificateUsage, totalDevices } from './device-counts.js';
import type { SqlDialect } from './dialect.js';
import { effectivePending, joinedTarget, selectedTarget } from './pending.js';
import { PrecompiledStatement } from './precompiled-statement.js';
import type { CertificateRow, Database, DeviceRow } from './schema.js';

type DeviceScope = ExpressionBuilder<Database & { d: Database['devices']; r: Database['rotation_state'] }, 'd' | 'r'>;

/** A device's pending replacement in queries that join rotation_state as `r` (pending.ts). */
const PENDING = effectivePending('d.', joinedTarget('r'));

/** What a check-in's UPDATE returns: the device's certificate state afterwards. */
const STATE_COLUMNS = [
  'certificate_id',
  effectivePending('', selectedTarget).as('pending_certificate_id'),
  'os_family',
  'os_version',
  'declared_algorithms',
  'supported_mask',
] as const;
type StateRow = Pick<DeviceRow, 'certificate_id' | 'os_family' | 'os_version' | 'declared_algorithms' | 'supported_mask'> & {
  readonly pending_certificate_id: string | null;
};

/** The values of the check-in's UPDATE (DeviceStore.recordContact). */
type ContactValues = {
  readonly id: string;
  readonly at: string;
  readonly osVersion: string | undefined;
  readonly pinned: string | null;
  readonly credentialHash: string | undefined;
};

/** Firmware pairs per statement when masks are recomputed: well below every parameter limit. */
const FIRMWARE_CHUNK = 500;

function checkPaging(query: DeviceQuery): void {
  if (!Number.isSafeInteger(query.offset) || query.offset < 0) throw new RangeError('storage: offset must be an integer ≥ 0');
  if (!Number.isSafeInteger(query.limit) || query.limit < 0) throw new RangeError('storage: limit must be an integer ≥ 0');
}

const RECORD_COLUMNS = [
  'd.id',
  'd.unit_id',
  'd.name',
  'd.os_family',
  'd.os_version',
  'd.profile',
  'd.declared_algorithms',
  'd.supported_mask',
  'd.certificate_id',
  'c.alias as certificate_alias',
  'p.id as pending_certificate_id',
  'p.alias as pending_certificate_alias',
  'd.registered_at',
  'd.last_contact_at',
  'd.re_registration_reason',
] as const;

/** RECORD_COLUMNS: the device's own columns, the alias it pins, and its pending replacement (`p`). */
type RecordRow = Omit<DeviceRow, 'credential_hash'> & {
  readonly certificate_alias: CertificateRow['alias'];
  readonly pending_certificate_id: CertificateRow['id'] | null;
  readonly pending_certificate_alias: CertificateRow['alias'] | null;
};

function toDeviceRecord(r: RecordRow): DeviceRecord {
  return {
    id: r.id,
    unitId: r.unit_id,
    name: r.name,
    osFamily: r.os_family,
    osVersion: r.os_version,
    profile: r.profile,
    declaredAlgorithms: parseStringList(r.declared_algorithms),
    supportedAlgorithms: algorithmsOfMask(toInt(r.supported_mask)),
    certificateId: r.certificate_id,
    certificateAlias: r.certificate_alias,
    pendingCertificateId: r.pending_certificate_id,
    pendingCertificateAlias: r.pending_certificate_alias,
    registeredAt: r.registered_at,
    lastContactAt: r.last_contact_at,
    reRegistrationReason: r.re_registration_reason,
  };
}

/** NewDevice.supportedMask when the caller gives none (see app/register-device.ts). */
function defaultMask(device: NewDevice): number {
  const declared = device.declaredAlgorithms;
  return algorithmMask(declared && declared.length > 0 ? declared : ALLOWED_SIGNATURE_ALGORITHMS);
}

export class DeviceStore implements DeviceRepo {
  private readonly db: Kysely<Database>;
  private readonly dialect: SqlDialect;
  /** The check-in's UPDATE (recordContact), compiled once per shape: it runs for every check-in. */
  private readonly contactStatement: PrecompiledStatement<Database, ContactValues, StateRow>;

  constructor(db: Kysely<Database>, dialect: SqlDialect) {
    this.db = db;
    this.dialect = dialect;
    this.contactStatement = new PrecompiledStatement(db, (v: ContactValues) => this.contactUpdate(v));
  }

  async insert(device: NewDevice): Promise<void> {
    await this.db
      .insertInto('devices')
      .values({
        id: device.id,
        unit_id: device.unitId,
        name: device.name,
        os_family: device.osFamily,
        os_version: device.osVersion,
        profile: device.profile,
        declared_algorithms: device.declaredAlgorithms === null ? null : toJson(device.declaredAlgorithms),
        supported_mask: device.supportedMask ?? defaultMask(device),
        certificate_id: device.certificateId,
        credential_hash: device.credentialHash,
        registered_at: timestamp(device.registeredAt),
        last_contact_at: null,
      })
      .execute();
  }

  /** Devices with the rotation target beside each (one row), for the pending replacement. */
  private devices() {
    return this.db.selectFrom('devices as d').innerJoin('rotation_state as r', (join) => join.on('r.id', '=', 1));
  }

  private records() {
    return this.devices()
      .innerJoin('certificates as c', 'c.id', 'd.certificate_id')
      .leftJoin('certificates as p', (join) => join.on(sql<boolean>`${sql.ref('p.id')} = ${PENDING}`))
      .select(RECORD_COLUMNS);
  }

  listByCertificate(certificateId: string, query: DeviceQuery): Promise<Page<DeviceRecord>> {
    return this.list({ ...query, certificateId });
  }

  async list(query: DeviceListQuery): Promise<Page<DeviceRecord>> {
    checkPaging(query);
    const search = query.search?.trim() ?? '';
    const certificateId = query.certificateId;
    // Only the rotation target can be pending (pending.ts): for any other certificate, one index
    // lookup on what devices pin instead of deriving every device's pending replacement.
    const target = certificateId === undefined ? null : await this.targetId();
    const ofCertificate = (eb: DeviceScope, id: string) =>
      id === target ? eb.or([eb('d.certificate_id', '=', id), eb(PENDING, '=', id)]) : eb('d.certificate_id', '=', id);
    const matching = (eb: DeviceScope) =>
      eb.and([
        ...(certificateId === undefined ? [] : [ofCertificate(eb, certificateId)]),
        ...(query.reRegistrationRequired === undefined
          ? []
          : [eb('d.re_registration_reason', query.reRegistrationRequired ? 'is not' : 'is', null)]),
        ...(search === ''
          ? []
          : [
              eb.or(
                (['d.id', 'd.unit_id', 'd.name'] as const).map((column) =>
                  this.dialect.containsIgnoringCase(eb.ref(column), search),
                ),
              ),
            ]),
      ]);

    const count = search === '' && query.reRegistrationRequired === undefined ? await this.kept(certificateId) : await this.counted(matching);
    if (count === 0 || query.limit === 0 || query.offset >= count) return { count, items: [] };

    const rows = await this.records()
      .where(matching)
      // By name as an administrator reads the list; the id makes pages stable among equal names.
      .orderBy('d.name')
      .orderBy('d.id')
      .limit(query.limit)
      .offset(query.offset)
      .execute();
    return { count, items: rows.map(toDeviceRecord) };
  }

  /** A count the device counters keep (0008): every device, or a certificate's pinned and pending (disjoint: pending.ts). */
  private async kept(certificateId: string | undefined): Promise<number> {
    if (certificateId === undefined) return totalDevices(this.db);
    const usage = await certificateUsage(this.db, certificateId);
    return usage.pinned + usage.pending;
  }

  private async counted(matching: (eb: DeviceScope) => Expression<SqlBool>): Promise<number> {
    const row = await this.devices()
      .select((eb) => eb.fn.countAll().as('n'))
      .where(matching)
      .executeTakeFirstOrThrow();
    return toInt(row.n);
  }

  private async targetId(): Promise<string | null> {
    const row = await this.db.selectFrom('rotation_state').select('target_certificate_id').where('id', '=', 1).executeTakeFirst();
    return row?.target_certificate_id ?? null;
  }

  async findById(id: string): Promise<DeviceRecord | null> {
    const row = await this.records().where('d.id', '=', id).executeTakeFirst();
    return row ? toDeviceRecord(row) : null;
  }

  async findByCredentialHash(credentialHash: string): Promise<{ id: string; reRegistrationReason: string | null } | null> {
    const row = await this.db
      .selectFrom('devices')
      .select(['id', 're_registration_reason'])
      .where('credential_hash', '=', credentialHash)
      .executeTakeFirst();
    return row ? { id: row.id, reRegistrationReason: row.re_registration_reason } : null;
  }

  async removeReRegistered(unitId: string): Promise<number> {
    const result = await this.db
      .deleteFrom('devices')
      .where('unit_id', '=', unitId)
      .where('re_registration_reason', 'is not', null)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async remove(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('devices').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async recordContact(id: string, contact: DeviceContact, credentialHash?: string): Promise<DeviceCertificateState | null> {
    const result = await this.contactStatement.execute({
      id,
      at: timestamp(contact.at),
      osVersion: contact.osVersion,
      pinned: contact.pinnedCertificateId,
      credentialHash,
    });
    return this.stateOf(result.rows[0]);
  }

  private contactUpdate(v: ContactValues) {
    let update = this.db.updateTable('devices').set({ last_contact_at: v.at }).where('id', '=', v.id);
    if (v.osVersion !== undefined) update = update.set({ os_version: v.osVersion });
    // Only a check-in on the current pin is written here; any other pin is the caller's to decide
    // (outcomeOfPin: a confirmation through switchPin, or a refusal that writes nothing).
    if (v.pinned !== null) update = update.where('certificate_id', '=', v.pinned);
    // The credential proven in the same statement (checkInByCredential).
    if (v.credentialHash !== undefined) update = update.where('credential_hash', '=', v.credentialHash).where('re_registration_reason', 'is', null);
    return update.returning(STATE_COLUMNS);
  }

  async switchPin(id: string, from: string, to: string, contact: DeviceContact): Promise<DeviceCertificateState | null> {
    let update = this.db
      .updateTable('devices')
      .set({ last_contact_at: timestamp(contact.at), certificate_id: to })
      .where('id', '=', id)
      .where('certificate_id', '=', from)
      // `to` must still be the pending replacement as the rotation target defines it now.
      .where(effectivePending('', selectedTarget), '=', to);
    if (contact.osVersion !== undefined) update = update.set({ os_version: contact.osVersion });
    return this.stateOf(await update.returning(STATE_COLUMNS).executeTakeFirst());
  }

  private stateOf(row: StateRow | undefined): DeviceCertificateState | null {
    if (!row) return null;
    return {
      certificateId: row.certificate_id,
      pendingCertificateId: row.pending_certificate_id,
      osFamily: row.os_family,
      osVersion: row.os_version,
      declaredAlgorithms: parseStringList(row.declared_algorithms),
      supportedMask: toInt(row.supported_mask),
    };
  }

  async setSupportedMask(id: string, mask: number): Promise<void> {
    await this.db.updateTable('devices').set({ supported_mask: mask }).where('id', '=', id).execute();
  }

  async firmwareWithoutDeclaration(): Promise<Firmware[]> {
    const rows = await this.db
      .selectFrom('devices')
      .select(['os_family', 'os_version'])
      .distinct()
      .where('declared_algorithms', 'is', null)
      .execute();
    return rows.map((r) => ({ osFamily: r.os_family, osVersion: r.os_version }));
  }

  async setMaskOfFirmware(mask: number, firmware: readonly Firmware[]): Promise<number> {
    const versionsByFamily = new Map<string, string[]>();
    for (const f of firmware) {
      const versions = versionsByFamily.get(f.osFamily) ?? [];
      versions.push(f.osVersion);
      versionsByFamily.set(f.osFamily, versions);
    }
    let changed = 0;
    for (const [osFamily, versions] of versionsByFamily) {
      for (let i = 0; i < versions.length; i += FIRMWARE_CHUNK) {
        const result = await this.db
          .updateTable('devices')
          .set({ supported_mask: mask })
          .where('declared_algorithms', 'is', null)
          .where('os_family', '=', osFamily)
          .where('os_version', 'in', versions.slice(i, i + FIRMWARE_CHUNK))
          .where('supported_mask', '<>', mask)
          .executeTakeFirst();
        changed += Number(result.numUpdatedRows);
      }
    }
    return changed;
  }

  async firmwareCohorts(): Promise<FirmwareCohort[]> {
    // One pass over the devices, grouped: a row per firmware and pinned certificate, whatever the
    // fleet's size. The declaration itself is not read, only whether there is one.
    const declared = sql<number>`case when declared_algorithms is null then 0 else 1 end`;
    const rows = await this.db
      .selectFrom('devices')
      .select(['os_family', 'os_version', 'profile', declared.as('declared'), 'supported_mask', 'certificate_id', (eb) => eb.fn.countAll().as('n')])
      .groupBy(['os_family', 'os_version', 'profile', declared, 'supported_mask', 'certificate_id'])
      .execute();
    return rows.map((r) => ({
      osFamily: r.os_family,
      osVersion: r.os_version,
      profile: r.profile,
      declared: toInt(r.declared) === 1,
      supportedMask: toInt(r.supported_mask),
      certificateId: r.certificate_id,
      count: toInt(r.n),
    }));
  }
}
