/**
 * A million device rows in one statement, for the benchmarks at fleet scale: INSERT … SELECT over
 * a recursive CTE on SQLite and generate_series on PostgreSQL, with a mix of firmware profiles,
 * masks and pinned certificates (n % 100):
 *   0–59 igel-os-12 on tckey (current), 60–79 igel-os-11 on legacy (to be scheduled), 80–89
 *   igel-linux on legacy and 90–94 windows-7 on legacy (incompatible with SHA512withRSA), 95–98
 *   igel-os-12 on ec (scheduled), 99 igel-os-12 on legacy.
 *
 * `compact` identities ('dev-' || n, 'hash-' || n) are cheapest to insert; `realistic` ones are
 * what a server writes (random UUID ids, SHA-256 hex credential hashes, MAC unit ids, a last
 * contact), for benchmarks whose cost depends on the bytes of each row (backup, restore).
 */
import { firmwareProfile } from '../../src/agent/profiles.js';
import { PROFILE_IDENTITY } from '../../src/domain/compatibility.js';
import type { TestDialect } from '../../test/support/databases.js';

export interface FleetCertificateIds {
  readonly tckey: string;
  readonly legacy: string;
  readonly ec: string;
}

export type DeviceIdentities = 'compact' | 'realistic';

const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;

function mask(profile: string): number {
  const p = firmwareProfile(profile);
  if (!p) throw new Error(`no profile ${profile}`);
  return p.mask;
}

/** Identity columns as SQL over the integer column n. */
function identities(dialect: TestDialect, style: DeviceIdentities): { id: string; unitId: string; credentialHash: string; lastContact: string } {
  if (style === 'compact') return { id: `'dev-' || n`, unitId: `'unit-' || n`, credentialHash: `'hash-' || n`, lastContact: 'null' };
  const mac = (hex: string) => `'02:CF:' || substr(${hex}, 1, 2) || ':' || substr(${hex}, 3, 2) || ':' || substr(${hex}, 5, 2) || ':' || substr(${hex}, 7, 2)`;
  if (dialect === 'postgres') {
    return {
      id: 'gen_random_uuid()::text',
      unitId: mac(`upper(lpad(to_hex(n), 8, '0'))`),
      credentialHash: `encode(sha256(('cfd-' || n || '-' || random())::bytea), 'hex')`,
      lastContact: `to_char(timestamp '2026-03-01' + (n % 86400) * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
    };
  }
  const hex = (bytes: number) => `lower(hex(randomblob(${bytes})))`;
  return {
    // A v4-shaped UUID from random bytes (a scalar subquery would be evaluated once, not per row).
    id: `${hex(4)} || '-' || ${hex(2)} || '-4' || substr(${hex(2)}, 2) || '-a' || substr(${hex(2)}, 2) || '-' || ${hex(6)}`,
    unitId: mac(`printf('%08X', n)`),
    credentialHash: 'lower(hex(randomblob(32)))',
    lastContact: `strftime('%Y-%m-%dT%H:%M:%S.000Z', '2026-03-01', '+' || (n % 86400) || ' seconds')`,
  };
}

/** One INSERT … SELECT of `count` devices pinning the given certificates. */
export function insertDevicesSql(dialect: TestDialect, count: number, ids: FleetCertificateIds, style: DeviceIdentities = 'compact'): string {
  const bucket = (cases: [number, string][], otherwise: string) =>
    `case ${cases.map(([below, v]) => `when n % 100 < ${below} then ${v}`).join(' ')} else ${otherwise} end`;
  const profile = bucket([[60, q('igel-os-12')], [80, q('igel-os-11')], [90, q('igel-linux-4.01.650')], [95, q('windows-7-embedded-3.08.100')]], q('igel-os-12'));
  const ident = (field: 'osFamily' | 'osVersion') =>
    bucket(
      (['igel-os-12', 'igel-os-11', 'igel-linux-4.01.650', 'windows-7-embedded-3.08.100'] as const).map((p, i) => [[60, 80, 90, 95][i] as number, q((PROFILE_IDENTITY[p] as Record<string, string>)[field] as string)]),
      q((PROFILE_IDENTITY['igel-os-12'] as Record<string, string>)[field] as string),
    );
  const masks = bucket([[60, String(mask('igel-os-12'))], [80, String(mask('igel-os-11'))], [90, String(mask('igel-linux-4.01.650'))], [95, String(mask('windows-7-embedded-3.08.100'))]], String(mask('igel-os-12')));
  const cert = bucket([[60, q(ids.tckey)], [95, q(ids.legacy)], [99, q(ids.ec)]], q(ids.legacy));
  const series = dialect === 'sqlite' ? 's' : `generate_series(1, ${count}) as s(n)`;
  const id = identities(dialect, style);
  const insert = `insert into devices (id, unit_id, name, os_family, os_version, profile, declared_algorithms, certificate_id,
      credential_hash, registered_at, last_contact_at, supported_mask)
    select ${id.id}, ${id.unitId}, 'tc-' || n, ${ident('osFamily')}, ${ident('osVersion')}, ${profile}, null, ${cert},
      ${id.credentialHash}, '2026-01-01T00:00:00.000Z', ${id.lastContact}, ${masks}
    from ${series}`;
  return dialect === 'sqlite' ? `with recursive s(n) as (select 1 union all select n + 1 from s where n < ${count}) ${insert}` : insert;
}
