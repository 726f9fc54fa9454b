/**
 * Devices as far as the keystore needs them: registration and the per-certificate listing (K10).
 */
import type { ExpressionBuilder, Kysely } from 'kysely';
import type { DeviceQuery, DeviceRecord, DeviceRepo, NewDevice, Page } from '../app/ports.js';
import { parseStringList, timestamp, toInt, toJson } from './columns.js';
import type { SqlDialect } from './dialect.js';
import type { Database } from './schema.js';

type DeviceScope = ExpressionBuilder<Database & { d: Database['devices'] }, 'd'>;

function checkPaging(query: DeviceQuery): void {
  if (!Number.isSafeInteger(query.offset) || query.offset < 0) throw new RangeError('storage: offset must be an integer ≥ 0');
  if (!Number.isSafeInteger(query.limit) || query.limit < 0) throw new RangeError('storage: limit must be an integer ≥ 0');
}

export class DeviceStore implements DeviceRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
  ) {}

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
        certificate_id: device.certificateId,
        pending_certificate_id: null,
        credential_hash: device.credentialHash,
        registered_at: timestamp(device.registeredAt),
        last_contact_at: null,
      })
      .execute();
  }

  async listByCertificate(certificateId: string, query: DeviceQuery): Promise<Page<DeviceRecord>> {
    checkPaging(query);
    const search = query.search?.trim() ?? '';
    const matching = (eb: DeviceScope) =>
      eb.and([
        eb.or([eb('d.certificate_id', '=', certificateId), eb('d.pending_certificate_id', '=', certificateId)]),
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

    const counted = await this.db
      .selectFrom('devices as d')
      .select((eb) => eb.fn.countAll().as('n'))
      .where(matching)
      .executeTakeFirstOrThrow();
    const count = toInt(counted.n);
    if (count === 0 || query.limit === 0 || query.offset >= count) return { count, items: [] };

    const rows = await this.db
      .selectFrom('devices as d')
      .innerJoin('certificates as c', 'c.id', 'd.certificate_id')
      .leftJoin('certificates as p', 'p.id', 'd.pending_certificate_id')
      .select([
        'd.id',
        'd.unit_id',
        'd.name',
        'd.os_family',
        'd.os_version',
        'd.profile',
        'd.declared_algorithms',
        'd.certificate_id',
        'c.alias as certificate_alias',
        'd.pending_certificate_id',
        'p.alias as pending_certificate_alias',
        'd.registered_at',
        'd.last_contact_at',
      ])
      .where(matching)
      // By name as an administrator reads the list; the id makes pages stable among equal names.
      .orderBy('d.name')
      .orderBy('d.id')
      .limit(query.limit)
      .offset(query.offset)
      .execute();

    return {
      count,
      items: rows.map(
        (r): DeviceRecord => ({
          id: r.id,
          unitId: r.unit_id,
          name: r.name,
          osFamily: r.os_family,
          osVersion: r.os_version,
          profile: r.profile,
          declaredAlgorithms: parseStringList(r.declared_algorithms),
          certificateId: r.certificate_id,
          certificateAlias: r.certificate_alias,
          pendingCertificateId: r.pending_certificate_id,
          pendingCertificateAlias: r.pending_certificate_alias,
          registeredAt: r.registered_at,
          lastContactAt: r.last_contact_at,
        }),
      ),
    };
  }
}
