/**
 * Runs the real `certfleet` binary (bin/certfleet.js) as a child process, as an administrator
 * would: secrets on stdin or in files, never on argv. Each CliSession has its own config file,
 * so parallel tests never share a log-in.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputWatch } from './output-watch.js';

/** bin/certfleet.js, seen from dist/test/support/. */
export const CLI_BIN = new URL('../../../bin/certfleet.js', import.meta.url).pathname;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningCli {
  /** stdout and stderr together, as they arrive. */
  readonly watch: OutputWatch;
  /** Resolves when the process has ended (killed after `timeoutMs`). */
  readonly done: Promise<CliResult>;
}

/** Starts the real CLI and lets the test watch what it prints while it runs. */
export function startCli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number } = {}): RunningCli {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const watch = new OutputWatch(child.stdout, child.stderr);
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    // The CLI may exit (a usage error) before it reads stdin: EPIPE adds nothing to its exit code.
    child.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') reject(e);
    });
  });
  child.stdin.end(opts.stdin ?? '');
  return { watch, done };
}

export function runCli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return startCli(args, opts).done;
}

export class CliSession {
  readonly dir = mkdtempSync(join(tmpdir(), 'certfleet-cli-'));
  readonly env: NodeJS.ProcessEnv = { CERTFLEET_CONFIG: join(this.dir, 'cli.json') };

  constructor(readonly server: string) {}

  run(args: readonly string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return runCli(args, { ...opts, env: this.env });
  }

  /** The same, watched while it runs (long commands such as `simulate`). */
  start(args: readonly string[], opts: { stdin?: string; timeoutMs?: number } = {}): RunningCli {
    return startCli(args, { ...opts, env: this.env });
  }

  /** Writes a secret to a file of its own (mode 0600) for --password-file. */
  secretFile(secret: string): string {
    const path = join(this.dir, `secret-${Math.random().toString(36).slice(2)}`);
    writeFileSync(path, secret, { mode: 0o600 });
    return path;
  }

  async login(user: string, password: string): Promise<CliResult> {
    const r = await this.run(['login', '--server', this.server, '--user', user, '--password-stdin'], { stdin: password + '\n' });
    if (r.code !== 0) throw new Error(`login as ${user} failed: ${r.stderr}`);
    return r;
  }

  async json<T>(args: readonly string[]): Promise<T> {
    const r = await this.run([...args, '--json']);
    if (r.code !== 0) throw new Error(`certfleet ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as T; // the CLI prints the API's JSON document
  }
}

/** A command the server refused: exit 1, `error: CODE: …` on stderr, nothing on stdout. */
export function assertRefused(r: CliResult, code: string): void {
  assert.equal(r.code, 1, `expected exit 1 (refused), got ${r.code}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, new RegExp(`error: ${code}: `), r.stderr);
  assert.equal(r.stdout, '');
}
