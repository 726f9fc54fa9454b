/**
 * Builders shared by the contract's declarations. Each returns a TypeBox schema whose JSON is the
 * plain JSON Schema Fastify (Ajv, fast-json-stringify) and the OpenAPI document read, and whose
 * `Static` type is what the presenters return, the handlers receive, and the CLI and console read.
 *
 * This folder imports only `typebox` and the pure rules of src/domain: the console type-checks it
 * (web/tsconfig.json, no Node types) through its type-only imports.
 */
import { Type, type Static, type TSchema, type TUnsafe } from 'typebox';

/** A schema that names itself: it is registered once (`app.addSchema`) and referenced by id. */
export type TNamed = TSchema & { readonly $id: string };

/** Names a schema; the OpenAPI document lists it under components by this name. */
export function Named<T extends TSchema>($id: string, schema: T): T & { readonly $id: string } {
  return Object.assign(schema, { $id });
}

export const IsoDate = (description?: string) =>
  Type.String({ format: 'date-time', ...(description !== undefined ? { description } : {}) });

/**
 * `T | null` as `{"type": [T, "null"]}`, not TypeBox's `anyOf`: the strict-body hook reads `type`
 * to refuse values Ajv would coerce, and @fastify/swagger turns the pair into OpenAPI 3.0's `nullable`.
 */
export function Nullable<T extends TSchema & { readonly type: string }>(schema: T, description?: string): TUnsafe<Static<T> | null> {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'], ...(description !== undefined ? { description } : {}) });
}

/** A fixed vocabulary as `{"type": "string", "enum": [...]}`, typed as the union of its values. */
export function StringEnum<const V extends readonly string[]>(values: V, options: { readonly description?: string } = {}): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options });
}

/** A reference to a named schema (`Id#`), typed as that schema. */
export function Ref<T extends TNamed>(schema: T, description: string): TUnsafe<Static<T>> {
  return Type.Unsafe<Static<T>>({ $ref: `${schema.$id}#`, description });
}

/** An array of a named schema, by reference. */
export function ArrayOf<T extends TNamed>(schema: T, description: string, options: { readonly maxItems?: number } = {}): TUnsafe<Static<T>[]> {
  return Type.Unsafe<Static<T>[]>({ type: 'array', description, items: { $ref: `${schema.$id}#` }, ...options });
}

/** A free-form JSON object (error and audit details). */
export const JsonObject = () => Type.Unsafe<Readonly<Record<string, unknown>>>({ type: 'object', additionalProperties: true });

/** Counts keyed by a name (devices per firmware profile). */
export const Counts = (description: string) =>
  Type.Unsafe<Readonly<Record<string, number>>>({ type: 'object', description, additionalProperties: { type: 'integer' } });

/** The answer of a 204: no body at all, so the handler sends nothing. */
export const NoContent = Type.Unsafe<undefined>({ type: 'null', description: 'Done; no content.' });
