/**
 * Fastify's validator coerces types (`coerceTypes`), which query strings need (`?limit=50` is
 * text) but JSON bodies must not get: `{"alias": 7}` would become the alias "7" and
 * `{"days": true}` one day. Fastify has one validator for every part of a request, so this hook
 * refuses, before that validator runs, a JSON body any of whose fields does not already have the
 * type its schema declares, at any depth (the compatibility table nests rules in an array).
 */
import type { FastifyInstance } from 'fastify';
import { CertfleetError, ErrorCode } from '../../domain/errors.js';

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value; // string, boolean, object
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The declared type(s) of a schema, or none when it declares none. */
function declaredTypes(schema: Readonly<Record<string, unknown>>): readonly string[] {
  const type = schema['type'];
  if (typeof type === 'string') return [type];
  if (Array.isArray(type)) return type.filter((t): t is string => typeof t === 'string');
  return [];
}

function typeMatches(value: unknown, types: readonly string[]): boolean {
  const actual = jsonTypeOf(value);
  return types.includes(actual) || (actual === 'integer' && types.includes('number'));
}

interface MistypedField {
  readonly in: 'body';
  readonly path: string;
  readonly message: string;
}

/** Reports at most this many mistyped fields; the first few say enough. */
const MAX_REPORTED = 10;

/**
 * Walks the value beside its schema (object properties, array items, shared schemas by `$ref`)
 * and collects every value whose JSON type is not one its schema declares.
 */
function mistyped(
  value: unknown,
  schema: unknown,
  path: string,
  resolve: (ref: string) => unknown,
  out: MistypedField[],
): void {
  if (out.length >= MAX_REPORTED || !isRecord(schema)) return;
  const ref = schema['$ref'];
  if (typeof ref === 'string') {
    mistyped(value, resolve(ref), path, resolve, out);
    return;
  }
  const types = declaredTypes(schema);
  if (types.length > 0 && !typeMatches(value, types)) {
    out.push({ in: 'body', path: path || '/', message: `must be ${types.join(' or ')}` });
    return;
  }
  const properties = schema['properties'];
  if (isRecord(value) && isRecord(properties)) {
    for (const [name, property] of Object.entries(properties)) {
      if (value[name] !== undefined) mistyped(value[name], property, `${path}/${name}`, resolve, out);
    }
  }
  if (Array.isArray(value) && isRecord(schema['items'])) {
    value.forEach((item: unknown, i) => mistyped(item, schema['items'], `${path}/${i}`, resolve, out));
  }
}

export function refuseCoercedBodies(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const body: unknown = request.body;
    if (!isRecord(body)) return; // not an object: the schema validator refuses it
    const errors: MistypedField[] = [];
    // Shared schemas are referenced as `Id#`; app.getSchema knows them by their $id.
    const resolve = (ref: string): unknown => app.getSchema(ref.replace(/#$/, ''));
    mistyped(body, request.routeOptions.schema?.body, '', resolve, errors);
    if (errors.length > 0) {
      throw new CertfleetError(
        ErrorCode.invalid_request,
        `The request is not valid: ${errors.map((e) => `body${e.path} ${e.message}`).join(', ')}.`,
        { errors },
      );
    }
  });
}
