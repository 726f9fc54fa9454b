/**
 * A device's pending replacement (R3), in SQL — the one definition every query uses.
 *
 * A rotation pass does not write a pending replacement into a million device rows: it records the
 * certificate it planned (the rotation target, one row of rotation_state) and the bit of that
 * certificate's algorithm. A device's pending replacement is then
 *
 *   the target, if the device does not pin it and its supported mask has the target's bit, else none
 *
 * which is exactly what the per-device UPDATE of `decideRotation` would have written, at the cost
 * of one row per pass. A device that registers after a pass was planned pins the default it was
 * given; a registration that finds the target behind the default moves it first
 * (app/register-device.ts), so a new device is never sent back to an older default.
 */
import { sql, type RawBuilder } from 'kysely';

export interface TargetSource {
  readonly id: RawBuilder<string | null>;
  readonly bit: RawBuilder<number>;
}

/** The target as columns of a joined `rotation_state` row. */
export function joinedTarget(alias: string): TargetSource {
  return { id: sql.ref(`${alias}.target_certificate_id`), bit: sql.ref(`${alias}.target_bit`) };
}

/** The target read by scalar subqueries, where no join is possible (UPDATE … RETURNING). */
export const selectedTarget: TargetSource = {
  id: sql<string | null>`(select target_certificate_id from rotation_state where id = 1)`,
  bit: sql<number>`(select target_bit from rotation_state where id = 1)`,
};

/** `prefix` is the devices table's alias with a dot (`d.`), or '' for unqualified columns. */
export function effectivePending(prefix: string, target: TargetSource): RawBuilder<string | null> {
  const col = (name: string) => sql.ref(`${prefix}${name}`);
  return sql<string | null>`case when ${col('certificate_id')} <> ${target.id} and (${col('supported_mask')} & ${target.bit}) <> 0 then ${target.id} end`;
}
