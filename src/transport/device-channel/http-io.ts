/**
 * The little HTTP the device channel needs on top of node:https: a JSON body read with a hard
 * limit, JSON answers, and errors in the API's shape with the API's status table.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CertfleetError, ErrorCode } from '../../domain/errors.js';
import { HTTP_STATUS, toHttpError, type HttpError } from '../http-api/errors.js';

export const DEVICE_BODY_LIMIT = 64 * 1024;

export function refusal(code: ErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}): CertfleetError {
  return new CertfleetError(code, message, details);
}

/** A refusal the transport itself decides (not a use case), as a ready answer. */
export function transportError(code: ErrorCode, message: string): HttpError {
  return { status: HTTP_STATUS[code], body: { error: { code, message, details: {} } }, unexpected: false };
}

/**
 * Reads the body as JSON (an object), at most `limit` bytes. An empty body is `{}`. Anything but
 * `application/json` is refused, and so is a body over the limit: at once when Content-Length says
 * so, else as soon as the stream passes it.
 */
export function readJsonBody(req: IncomingMessage, limit = DEVICE_BODY_LIMIT): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      reject(tooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (e: Error) => {
      if (done) return;
      done = true;
      req.removeAllListeners('data');
      reject(e);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) fail(tooLarge(limit));
      else chunks.push(chunk);
    });
    req.on('error', fail);
    req.on('end', () => {
      if (done) return;
      done = true;
      if (size === 0) {
        resolve({});
        return;
      }
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') {
        reject(refusal(ErrorCode.invalid_request, 'Send the request body as application/json.'));
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
      } catch {
        reject(refusal(ErrorCode.invalid_request, 'The request body is not valid JSON.'));
        return;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        reject(refusal(ErrorCode.invalid_request, 'The request body must be a JSON object.'));
        return;
      }
      resolve(value as Record<string, unknown>); // checked just above: a non-null, non-array object
    });
  });
}

function tooLarge(limit: number): CertfleetError {
  return refusal(ErrorCode.payload_too_large, `The request body is larger than ${limit} bytes.`, { maximum: limit });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** Any error → the API's error answer; a body that was refused for its size also ends the connection. */
export function sendError(res: ServerResponse, e: unknown, requestId: string): HttpError {
  const http = toHttpError(e, requestId);
  if (http.body.error.code === ErrorCode.payload_too_large) res.setHeader('connection', 'close');
  for (const [name, value] of Object.entries(http.headers ?? {})) res.setHeader(name, value); // Retry-After of a 429
  sendJson(res, http.status, http.body);
  return http;
}

export function sendHttpError(res: ServerResponse, http: HttpError): void {
  sendJson(res, http.status, http.body);
}

/** `Authorization: Bearer <credential>` → the credential, or undefined. */
export function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^Bearer +(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** Field checks for the few request bodies of the protocol; each failure names the field, never its value. */
export function stringField(body: Record<string, unknown>, name: string, opts: { required: boolean; max: number }): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (opts.required) throw refusal(ErrorCode.invalid_request, `The field "${name}" is required.`, { field: name });
    return undefined;
  }
  if (typeof v !== 'string') throw refusal(ErrorCode.invalid_request, `The field "${name}" must be a string.`, { field: name });
  if (opts.required && v.trim().length === 0) throw refusal(ErrorCode.invalid_request, `The field "${name}" must not be empty.`, { field: name });
  if (v.length > opts.max) {
    throw refusal(ErrorCode.invalid_request, `The field "${name}" is longer than ${opts.max} characters.`, { field: name, maximum: opts.max });
  }
  return v;
}

export function stringArrayField(body: Record<string, unknown>, name: string, opts: { maxItems: number; max: number }): string[] | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > opts.maxItems || !v.every((x): x is string => typeof x === 'string' && x.length <= opts.max)) {
    throw refusal(ErrorCode.invalid_request, `The field "${name}" must be a list of at most ${opts.maxItems} strings.`, { field: name });
  }
  return v;
}
