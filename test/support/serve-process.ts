/**
 * `certfleet serve` as a real process, for end-to-end tests: the real binary, its real start-up
 * (master key, migrations, admission to the cluster, first certificate), real ports. Every
 * process started here is killed when the test process ends, whatever happened in the test.
 *
 *   const a = await serveProcess({ dataDir, db: db.url, env: { CERTFLEET_ADMIN_PASSWORD: 'x' } });
 *   … a.url, a.deviceAddress, a.nodeId …
 *   await a.stop();          // SIGTERM, waits for the exit code
 *   a.child.kill('SIGKILL'); // a crash
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { CLI_BIN } from './cli.js';

export interface Serving {
  readonly child: ChildProcessWithoutNullStreams;
  /** http://127.0.0.1:PORT of the console and API. */
  readonly url: string;
  /** 127.0.0.1:PORT of the device channel. */
  readonly deviceAddress: string;
  readonly nodeId: string;
  /** Whether it took the rotation lease during its start. */
  readonly leaderAtStart: boolean;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code once it has exited. */
  readonly exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

export interface ServeProcessOptions {
  readonly dataDir: string;
  readonly db: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Default 60 s: a first start generates an RSA-4096 key. */
  readonly startTimeoutMs?: number;
}

const running = new Set<ChildProcessWithoutNullStreams>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Kills every server still running (a suite's `after`). */
export function killAllServers(): void {
  for (const child of running) child.kill('SIGKILL');
}

export function serveProcess(o: ServeProcessOptions): Promise<Serving> {
  const child = spawn(
    process.execPath,
    [CLI_BIN, 'serve', '--data', o.dataDir, '--listen', '127.0.0.1:0', '--device-listen', '127.0.0.1:0', '--db', o.db, ...(o.args ?? [])],
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...o.env } },
  );
  running.add(child);
  child.on('exit', () => running.delete(child));
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in time:\n${out}`)), o.startTimeoutMs ?? 60_000);
    const look = () => {
      const url = /console and API at (http:\/\/[^/\s]+)\//.exec(out)?.[1];
      const device = /Device channel \(TLS\) listening on (\S+);/.exec(out)?.[1];
      const node = /^Node (\S+) \((rotation leader|follower)\)/m.exec(out);
      if (url && device && node?.[1]) {
        clearTimeout(timer);
        child.stdout.off('data', look);
        resolve({
          child,
          url,
          deviceAddress: device,
          nodeId: node[1],
          leaderAtStart: node[2] === 'rotation leader',
          output: () => out,
          exited,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    child.stdout.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`serve exited with ${code}:\n${out}`), { exitCode: code, output: out }));
    });
  });
}
