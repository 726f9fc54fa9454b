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
 * of one row per pass. Besides the default, the row carries at most one legacy-fallback move of the
 * lifecycle (L2, app/lifecycle.ts): a device whose firmware lacks the target's algorithm and that
 * pins the old fallback has its successor pending, when it supports that successor's algorithm:
 *
 *   the target, if the device does not pin it and supports it;
 *   else the fallback successor, if the device pins the old fallback and supports the successor;
 *   else none A device that registers after a pass was planned pins the default it was
 * given; a registration that finds the target behind the default moves it first
 * (app/register-device.ts), so a new device is never sent back to an older default.
 */
import { sql, type RawBuilder } from 'kysely';

export interface TargetSource {
  readonly id: RawBuilder<string | null>;
  readonly bit: RawBuilder<number>;
  readonly fallbackFrom: RawBuilder<string | null>;
  readonly fallbackTo: RawBuilder<string | null>;
  readonly fallbackBit: RawBuilder<number>;
}

/** The target as columns of a joined `rotation_state` row. */
export function joinedTarget(alias: string): TargetSource {
  return {
    id: sql.ref(`${alias}.target_certificate_id`),
    bit: sql.ref(`${alias}.target_bit`),
    fallbackFrom: sql.ref(`${alias}.fallback_from_id`),
    fallbackTo: sql.ref(`${alias}.fallback_to_id`),
    fallbackBit: sql.ref(`${alias}.fallback_bit`),
  };
}

/** The target read by scalar subqueries, where no join is possible (UPDATE … RETURNING). */
export const selectedTarget: TargetSource = {
  id: sql<string | null>`(select target_certificate_id from rotation_state where id = 1)`,
  bit: sql<number>`(select target_bit from rotation_state where id = 1)`,
  fallbackFrom: sql<string | null>`(select fallback_from_id from rotation_state where id = 1)`,
  fallbackTo: sql<string | null>`(select fallback_to_id from rotation_state where id = 1)`,
  fallbackBit: sql<number>`(select fallback_bit from rotation_state where id = 1)`,
};

function targetPending(prefix: string, target: TargetSource): RawBuilder<boolean> {
  const col = (name: string) => sql.ref(`${prefix}${name}`);
  return sql<boolean>`${col('certificate_id')} <> ${target.id} and (${col('supported_mask')} & ${target.bit}) <> 0`;
}

/**
 * Whether the device's pending replacement is the fallback successor (not the target): the
 * condition the usage counts of that successor read (certificate-store.ts).
 */
export function fallbackPending(prefix: string, target: TargetSource): RawBuilder<boolean> {
  const col = (name: string) => sql.ref(`${prefix}${name}`);
  return sql<boolean>`${col('certificate_id')} = ${target.fallbackFrom} and (${col('supported_mask')} & ${target.fallbackBit}) <> 0 and not coalesce(${targetPending(prefix, target)}, false)`;
}

/** `prefix` is the devices table's alias with a dot (`d.`), or '' for unqualified columns. */
export function effectivePending(prefix: string, target: TargetSource): RawBuilder<string | null> {
  const col = (name: string) => sql.ref(`${prefix}${name}`);
  return sql<string | null>`case when ${targetPending(prefix, target)} then ${target.id} when ${col('certificate_id')} = ${target.fallbackFrom} and (${col('supported_mask')} & ${target.fallbackBit}) <> 0 then ${target.fallbackTo} end`;
}
