/**
 * The HTTP API served in-process on a real port, over a real store, for end-to-end tests that
 * drive it with the real CLI. Keys come from the test pool (fast); the real first-start path,
 * with real key generation, is exercised by test/e2e/first-start.e2e.test.ts.
 */
import type { FastifyInstance } from 'fastify';
import { ensureAdminAccount } from '../../src/app/accounts.js';
import { ensureDefaultCertificate } from '../../src/app/certificates.js';
import { ensureCluster } from '../../src/app/cluster.js';
import { SYSTEM_ACTOR } from '../../src/app/context.js';
import type { Store } from '../../src/app/store.js';
import { buildHttpApi } from '../../src/transport/http-api/server.js';
import { testAppContext, type TestAppContext } from './app-context.js';

export const ADMIN_PASSWORD = 'admin-password-1';

export interface TestServer {
  readonly url: string;
  readonly ctx: TestAppContext;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export async function startTestServer(store: Store, overrides: Parameters<typeof testAppContext>[1] = {}): Promise<TestServer> {
  const ctx = testAppContext(store, overrides);
  await ensureAdminAccount(ctx, ADMIN_PASSWORD);
  await ensureDefaultCertificate(ctx, SYSTEM_ACTOR);
  // The cluster row every served database has (serve makes it at start; H1, H3).
  await ensureCluster(ctx);
  const app = await buildHttpApi({ ctx, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('the test server has no TCP address');
  return { url: `http://127.0.0.1:${address.port}`, ctx, app, close: () => app.close() };
}
