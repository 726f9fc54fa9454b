/**
 * Conversions between the ports' values and column values (see the conventions in schema.ts).
 * Every repository goes through these, so both databases store exactly the same thing.
 */

/** A count or id as a number; PostgreSQL returns int8 (COUNT, bigint ids) as a string. */
export function toInt(value: number | string | bigint | null | undefined): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`storage: expected an integer, got ${String(value)}`);
  return n;
}

export function toIntBoolean(value: boolean): number {
  return value ? 1 : 0;
}

export function fromIntBoolean(value: number | boolean): boolean {
  return value === 1 || value === true;
}

/**
 * The canonical timestamp form (`Date#toISOString`): UTC, milliseconds, `Z`. Text in this form
 * sorts and compares like the instants it names, on both databases.
 */
export function timestamp(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new RangeError(`storage: "${value.slice(0, 40)}" is not an ISO-8601 timestamp`);
  return new Date(ms).toISOString();
}

export function nullableTimestamp(value: string | null): string | null {
  return value === null ? null : timestamp(value);
}

export function toJson(value: unknown): string {
  return JSON.stringify(value);
}

export function parseStringList(text: string | null): string[] | null {
  if (text === null) return null;
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((x): x is string => typeof x === 'string')) {
    throw new Error('storage: expected a JSON array of strings');
  }
  return parsed;
}

export function parseObject(text: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('storage: expected a JSON object');
  }
  // A non-null, non-array object parsed from JSON has only string keys.
  return parsed as Record<string, unknown>;
}

/** Narrows a stored string to one of a fixed vocabulary, or fails loudly on data no version wrote. */
export function oneOf<T extends string>(vocabulary: readonly T[], value: string, column: string): T {
  const found = vocabulary.find((v) => v === value);
  if (found === undefined) throw new Error(`storage: unexpected value "${value}" in ${column}`);
  return found;
}
