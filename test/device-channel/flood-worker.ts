/**
 * A registration flood from a worker thread, as a stranger on another machine would send it: the
 * channel's process measures its devices' handshakes without paying the flood's client side.
 * workerData: { port, connections, body, keepAlive? }; posts { ready } once every connection has had an
 * answer, then { sent, statuses } when told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { floodAgent, rawRequest } from './raw-client.js';

const { port, connections, body, keepAlive = true } = workerData as { port: number; connections: number; body: string; keepAlive?: boolean }; // set by the test
// keepAlive false: a new connection (and so a new handshake to ask for) for every attempt
const agent = keepAlive ? floodAgent(connections) : undefined; // rawRequest's default: no agent
let flooding = true;
let sent = 0;
let ready = 0;
const statuses: Record<string, number> = {};
parentPort?.on('message', () => {
  flooding = false;
});

async function flooder(): Promise<void> {
  let first = true;
  while (flooding) {
    // An answer counts under its status, a connection the server ended under the error's code.
    const key = await rawRequest(port, { path: '/device/v1/register', headers: { 'content-type': 'application/json' }, body, agent }).then(
      (a) => String(a.status),
      (e: NodeJS.ErrnoException) => (/alert access denied/i.test(e.message) ? 'access_denied' : (e.code ?? 'error')),
    );
    statuses[key] = (statuses[key] ?? 0) + 1;
    sent++;
    if (first && ++ready === connections) parentPort?.postMessage({ ready: true });
    first = false;
  }
}

await Promise.all(Array.from({ length: connections }, flooder));
if (agent) agent.destroy();
parentPort?.postMessage({ sent, statuses });
parentPort?.close();
