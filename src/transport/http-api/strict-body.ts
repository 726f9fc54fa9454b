/**
 * Fastify's validator coerces types (`coerceTypes`), which query strings need (`?limit=50` is
 * text) but JSON bodies must not get: `{"alias": 7}` would become the alias "7" and
 * `{"days": true}` one day. Fastify has one validator for every part of a request, so this hook
 * refuses a JSON body whose top-level fields do not already have the type their schema declares,
 * before that validator runs. Request bodies of this API are flat objects of scalars.
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

/** The declared type(s) of each top-level property of an object schema. */
function declaredTypes(schema: unknown): [string, readonly string[]][] {
  if (!isRecord(schema) || !isRecord(schema['properties'])) return [];
  const out: [string, readonly string[]][] = [];
  for (const [name, property] of Object.entries(schema['properties'])) {
    if (!isRecord(property)) continue;
    const type = property['type'];
    if (typeof type === 'string') out.push([name, [type]]);
    else if (Array.isArray(type)) out.push([name, type.filter((t): t is string => typeof t === 'string')]);
  }
  return out;
}

function typeMatches(value: unknown, types: readonly string[]): boolean {
  const actual = jsonTypeOf(value);
  return types.includes(actual) || (actual === 'integer' && types.includes('number'));
}

export function refuseCoercedBodies(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const body: unknown = request.body;
    if (!isRecord(body)) return; // not an object: the schema validator refuses it
    const errors = declaredTypes(request.routeOptions.schema?.body)
      .filter(([name, types]) => body[name] !== undefined && !typeMatches(body[name], types))
      .map(([name, types]) => ({ in: 'body', path: `/${name}`, message: `must be ${types.join(' or ')}` }));
    if (errors.length > 0) {
      throw new CertfleetError(
        ErrorCode.invalid_request,
        `The request is not valid: ${errors.map((e) => `body${e.path} ${e.message}`).join(', ')}.`,
        { errors },
      );
    }
  });
}
