/**
 * A real HAProxy (Debian's package) in TCP mode in front of the device ports of several nodes, as
 * the README's cluster section configures it (H5): it never terminates TLS, so it needs no
 * certificate, and it health-checks each node's `/readyz` on the node's API port.
 *
 *   const lb = await startHaproxy([{ name: 'a', device: 'host:port', api: 'host:port' }, …]);
 *   … agents connect to lb.address …
 *   await lb.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputWatch } from './output-watch.js';

export interface BackendNode {
  readonly name: string;
  /** host:port of the node's device channel. */
  readonly device: string;
  /** host:port of the node's HTTP API (for the /readyz check). */
  readonly api: string;
}

export interface RunningHaproxy {
  /** host:port the devices connect to. */
  readonly address: string;
  readonly config: string;
  stop(): Promise<void>;
}

/** The configuration the README shows, with this run's addresses. */
export function haproxyConfig(listen: string, nodes: readonly BackendNode[], checkIntervalMs = 1000, maxconn = 1000): string {
  const servers = nodes
    .map((n) => {
      const [, apiPort] = /:(\d+)$/.exec(n.api) ?? [];
      return `    server ${n.name} ${n.device} check port ${apiPort} inter ${checkIntervalMs}ms fall 2 rise 1`;
    })
    .join('\n');
  return `global
    # Size it to the fleet: each device holds one connection while it checks in. HAProxy needs
    # about two file descriptors per connection (ulimit -n).
    maxconn ${maxconn}

defaults
    mode tcp
    timeout connect 2s
    timeout client  5m
    timeout server  5m
    # A node that goes away mid-connection: the device reconnects, and the next node answers.
    option redispatch
    retries 2

frontend devices
    bind ${listen}
    default_backend certfleet_devices

backend certfleet_devices
    balance leastconn
    # Health: the node's API says it is ready (database reachable); TLS passes through untouched.
    option httpchk GET /readyz
    http-check expect status 200
${servers}
`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startHaproxy(nodes: readonly BackendNode[], checkIntervalMs = 1000): Promise<RunningHaproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'certfleet-haproxy-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const config = haproxyConfig(address, nodes, checkIntervalMs);
  const file = join(dir, 'haproxy.cfg');
  // A backend whose one server can never answer: HAProxy reports it DOWN at its first health
  // check, which runs once the listeners are bound. That line is the signal it is ready.
  await writeFile(file, `${config}\nbackend startup_probe\n    server closed 127.0.0.1:1 check inter 100ms fall 1\n`);
  // -db: stay in the foreground, report to stderr; one process that dies with the test.
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const watch = new OutputWatch(...(child.stderr ? [child.stderr] : []));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = watch.waitFor(/Server startup_probe\/closed is DOWN/, 'haproxy starts', 10_000).then(() => true);
  ready.catch(() => undefined); // settled later when haproxy exited first
  const started = await Promise.race([ready, exited.then(() => false)]).catch(() => false);
  if (!started || !(await accepting(port))) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`haproxy did not start:\n${watch.output}`);
  }
  return {
    address,
    config,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
