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
import { OutputWatch } from './output-watch.js';

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
  /** What it prints (its JSON log lines included), to wait for a line of it. */
  readonly watch: OutputWatch;
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
  const watch = new OutputWatch(child.stdout, child.stderr);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = watch.waitFor(/^Node (\S+) \((rotation leader|follower)\)/m, 'serve starts', o.startTimeoutMs ?? 60_000).then((node) => {
    const url = /console and API at (http:\/\/[^/\s]+)\//.exec(watch.output)?.[1];
    const device = /Device channel \(TLS\) listening on (\S+);/.exec(watch.output)?.[1];
    if (!url || !device || !node[1]) throw new Error(`serve printed no addresses:\n${watch.output}`);
    return {
      child,
      url,
      deviceAddress: device,
      nodeId: node[1],
      leaderAtStart: node[2] === 'rotation leader',
      output: () => watch.output,
      watch,
      exited,
      stop: () => {
        child.kill('SIGTERM');
        return exited;
      },
    };
  });
  const failed = exited.then((code) => {
    throw Object.assign(new Error(`serve exited with ${code}:\n${watch.output}`), { exitCode: code, output: watch.output });
  });
  // Whichever loses the race is settled later (the start's deadline, the exit at the end): not an error.
  started.catch(() => undefined);
  failed.catch(() => undefined);
  return Promise.race([started, failed]);
}
