/** The compatibility table (R2), in match order; replaced as a whole when an administrator edits it. */
import type { Kysely } from 'kysely';
import type { CompatibilityRule } from '../domain/compatibility.js';
import type { CompatibilityRepo } from '../app/compatibility.js';
import { parseStringList, toJson } from './columns.js';
import type { Database } from './schema.js';

export class CompatibilityStore implements CompatibilityRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<CompatibilityRule[]> {
    const rows = await this.db
      .selectFrom('compatibility_rules')
      .select(['profile', 'os_family', 'max_version', 'algorithms'])
      .orderBy('position')
      .execute();
    return rows.map((r) => ({
      profile: r.profile,
      osFamily: r.os_family,
      maxVersion: r.max_version,
      algorithms: parseStringList(r.algorithms) ?? [],
    }));
  }

  async replaceAll(rules: readonly CompatibilityRule[]): Promise<void> {
    await this.db.deleteFrom('compatibility_rules').execute();
    if (rules.length === 0) return;
    await this.db
      .insertInto('compatibility_rules')
      .values(
        rules.map((r, i) => ({
          position: i + 1,
          profile: r.profile,
          os_family: r.osFamily,
          max_version: r.maxVersion,
          algorithms: toJson(r.algorithms),
        })),
      )
      .execute();
  }
}
