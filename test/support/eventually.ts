/**
 * For end-to-end tests across processes (several servers, a load balancer, agents): waits until
 * `check` holds, polling every 50 ms, and fails after `ms` with what was awaited. In-process tests
 * wait for events or step fake time (fake-time.ts) instead.
 */
export async function eventually(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}
