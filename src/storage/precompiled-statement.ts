/**
 * A statement that Kysely builds and compiles once per shape, then runs again with new values.
 *
 * Building and compiling a query is about half of what a one-row statement costs in Node (10 of
 * 20 µs in a warm loop; more on the device channel's thread, where every check-in follows an
 * RSA signature that leaves the caches cold). The check-in runs hundreds of times a second, so its
 * statement is compiled once for each shape it takes (which of its optional parts it has) and
 * then executed with the new parameters: the same SQL text, which the SQLite statement cache
 * (statement-cache.ts) and PostgreSQL see as one statement.
 *
 * How: the builder is called once per shape with a marker in place of every value that is
 * present; the compiled query's parameters show where each value goes. A builder that transforms
 * a value, or puts it in the SQL text, leaves a marker unfound: that throws when the shape is first
 * compiled, never later with a wrong parameter.
 */
import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';

/** The values of one execution: absent (undefined) and null values decide the shape and are passed as they are. */
export type StatementValues = Readonly<Record<string, string | number | null | undefined>>;

const MARKER = '\u0000certfleet-parameter:';

type Slot<V> = { readonly name: keyof V & string } | { readonly constant: unknown };

interface Shape<R, V> {
  readonly query: CompiledQuery<R>;
  readonly slots: readonly Slot<V>[];
}

export class PrecompiledStatement<DB, V extends StatementValues, R> {
  private readonly shapes = new Map<string, Shape<R, V>>();

  constructor(
    private readonly db: Kysely<DB>,
    private readonly build: (values: V) => Compilable<R>,
  ) {}

  /** How many shapes have been compiled (for tests). */
  get compiledShapes(): number {
    return this.shapes.size;
  }

  async execute(values: V): Promise<QueryResult<R>> {
    const shape = this.shapeOf(values);
    const parameters = shape.slots.map((s) => ('name' in s ? values[s.name] : s.constant));
    return this.db.executeQuery<R>({ ...shape.query, parameters });
  }

  private shapeOf(values: V): Shape<R, V> {
    const names = Object.keys(values) as (keyof V & string)[];
    const key = names.map((n) => `${n}:${values[n] === undefined ? 'u' : values[n] === null ? 'n' : 'v'}`).join(',');
    const cached = this.shapes.get(key);
    if (cached) return cached;
    const marked = Object.fromEntries(names.map((n) => [n, values[n] === undefined || values[n] === null ? values[n] : `${MARKER}${n}`])) as V;
    const query = this.build(marked).compile();
    const found = new Set<string>();
    const slots = query.parameters.map((p): Slot<V> => {
      if (typeof p === 'string' && p.startsWith(MARKER)) {
        const name = p.slice(MARKER.length) as keyof V & string;
        found.add(name);
        return { name };
      }
      return { constant: p };
    });
    const lost = names.filter((n) => values[n] !== undefined && values[n] !== null && !found.has(n));
    if (lost.length > 0) throw new Error(`precompiled statement: ${lost.join(', ')} did not reach the parameters as they were given (transformed, or put in the SQL text)`);
    const shape = { query, slots };
    this.shapes.set(key, shape);
    return shape;
  }
}
