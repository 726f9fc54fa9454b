/**
 * The one way the console talks to the server: the public REST API under /api/v1, with the
 * session cookie (sent by the browser) and, on every change, the session's CSRF token.
 * Every refusal becomes an ApiError with the API's code, message and details; nothing else
 * reaches the screen.
 */

export const API = '/api/v1';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

let csrfToken: string | null = null;
let sessionEnded: (() => void) | null = null;

/** The CSRF token of the current session (from POST or GET /auth/session). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the server no longer knows the session (expired, revoked, logged out elsewhere). */
export function onSessionEnded(handler: (() => void) | null): void {
  sessionEnded = handler;
}

function isErrorBody(v: unknown): v is { error: { code: string; message: string; details?: Record<string, unknown> } } {
  if (typeof v !== 'object' || v === null) return false;
  const e = (v as { error?: unknown }).error; // narrowed field by field below
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && typeof (e as { message?: unknown }).message === 'string';
}

async function toApiError(res: Response): Promise<ApiError> {
  if ((res.headers.get('content-type') ?? '').includes('application/json')) {
    try {
      const body: unknown = await res.json();
      if (isErrorBody(body)) return new ApiError(res.status, body.error.code, body.error.message, body.error.details ?? {});
    } catch {
      // not the API's error shape: described below
    }
  }
  return new ApiError(res.status, `http_${res.status}`, `The server answered ${res.status} ${res.statusText || ''}`.trim() + '.');
}

async function send(method: Method, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(API + path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check that certfleet is running and try again.');
  }
  if (res.ok) return res;
  const error = await toApiError(res);
  if (res.status === 401 && error.code === 'unauthenticated') sessionEnded?.();
  throw error;
}

/** A JSON call; 204 answers resolve to undefined. */
export async function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const res = await send(method, path, body);
  if (res.status === 204) return undefined as T; // callers of a 204 route ask for void
  return (await res.json()) as T; // the API's documented shape for this route
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);

/** A plain-text answer (the certificate content as text). */
export async function getText(path: string): Promise<string> {
  return (await send('GET', path)).text();
}

/** A file from the API (certificate, key pair), saved by the browser under the name the server gives. */
export async function download(method: Method, path: string, body?: unknown): Promise<string> {
  const res = await send(method, path, body);
  const disposition = res.headers.get('content-disposition') ?? '';
  const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'download';
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return filename;
}

/** Query string from the defined values. */
export function query(params: Readonly<Record<string, string | number | undefined>>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;
