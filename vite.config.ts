/**
 * Builds the web console (web/) into dist/web/, which `certfleet serve` serves at `/`
 * (src/transport/http-api/console.ts). Preact's JSX is compiled by Vite's own transformer, so the
 * toolchain is Vite and Preact and nothing else. `npx vite` serves the console with hot reload
 * against a server on 127.0.0.1:8080.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'web',
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    // The CSP allows the console's own files only: no data: URLs, no inline script.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/healthz': 'http://127.0.0.1:8080' } },
});
