/**
 * The web console (SPEC section 5) at `/`: the static files that Vite builds from web/ into
 * dist/web/, served beside the API from the same origin, so the console needs no CORS and its
 * session cookie can be SameSite=Strict. The console calls only the public REST API.
 *
 * The files are read once at start (a few hundred KiB) and answered from memory with an ETag.
 * Vite names the assets after their content, so they are cached for a year; index.html is
 * revalidated on every load. Every answer carries a CSP that allows the console's own files and
 * nothing else: no inline script or style, no other origin, no framing, and (Trusted Types) no
 * HTML written into the page by script.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Access } from './operation.js';

/** dist/web, seen from dist/src/transport/http-api/. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  // No script may write HTML into the page (innerHTML …): the console renders through the DOM only.
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

interface ConsoleFile {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
  readonly immutable: boolean;
}

function listFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) listFiles(path, out);
    else out.push(path);
  }
  return out;
}

/** URL path → file, for every file of the build that has a known type (source maps are left out). */
export function loadConsoleFiles(dir: string): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  if (!existsSync(join(dir, 'index.html'))) return files;
  for (const path of listFiles(dir)) {
    const contentType = CONTENT_TYPES[extname(path)];
    if (contentType === undefined) continue;
    const urlPath = '/' + relative(dir, path).split(sep).join('/');
    const body = readFileSync(path);
    files.set(urlPath, {
      body,
      contentType,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      immutable: urlPath.startsWith('/assets/'),
    });
  }
  return files;
}

function consoleHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin')
    .header('x-frame-options', 'DENY');
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>certfleet</title>
<h1>certfleet</h1>
<p>The web console has not been built. Run <code>npm run build</code> (or <code>npm start</code>) and reload this page.</p>
<p>The REST API works without it: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
</html>
`;

export function registerConsole(app: FastifyInstance, dir: string = CONSOLE_DIR): void {
  const files = loadConsoleFiles(dir);
  // Public (the console's log-in page must load without a session), and not part of the API's OpenAPI document.
  const route = { config: { access: Access.public }, schema: { hide: true } } as const;

  if (files.size === 0) {
    app.get('/', {
      ...route,
      handler: async (_request, reply) => consoleHeaders(reply).code(503).header('content-type', 'text/html; charset=utf-8').send(NOT_BUILT),
    });
    return;
  }

  const serve = (file: ConsoleFile) => async (request: FastifyRequest, reply: FastifyReply) => {
    consoleHeaders(reply)
      .header('etag', file.etag)
      .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.header('content-type', file.contentType).send(file.body);
  };

  for (const [urlPath, file] of files) {
    app.get(urlPath === '/index.html' ? '/' : urlPath, { ...route, handler: serve(file) });
  }
}
