/**
 * A registration flood from a worker thread, as a stranger on another machine would send it: the
 * channel's process measures its devices' handshakes without paying the flood's client side.
 * workerData: { port, connections, body }; posts { ready } once every connection has had an
 * answer, then { sent, statuses } when told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { floodAgent, rawRequest } from './raw-client.js';

const { port, connections, body } = workerData as { port: number; connections: number; body: string }; // set by the test
const agent = floodAgent(connections);
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
    const a = await rawRequest(port, { path: '/device/v1/register', headers: { 'content-type': 'application/json' }, body, agent });
    statuses[a.status] = (statuses[a.status] ?? 0) + 1;
    sent++;
    if (first && ++ready === connections) parentPort?.postMessage({ ready: true });
    first = false;
  }
}

await Promise.all(Array.from({ length: connections }, flooder));
agent.destroy();
parentPort?.postMessage({ sent, statuses });
parentPort?.close();
