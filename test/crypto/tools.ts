/**
 * Running the real tools (openssl, keytool) from the crypto tests, with stdin, without a shell.
 */
import { spawn } from 'node:child_process';

export interface ToolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
}

export function runTool(command: string, args: readonly string[], input?: Buffer | string): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code: code ?? -1, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
    // A tool that exits without reading its input (it had what it needed from a file, or failed)
    // closes the pipe: EPIPE then says nothing the exit code and stderr do not say better.
    child.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') reject(e);
    });
    child.stdin.end(input ?? '');
  });
}

/** keytool with a small, quick JVM (the C1 compiler only). */
export function keytool(args: readonly string[]): Promise<ToolResult> {
  return runTool('keytool', ['-J-XX:TieredStopAtLevel=1', '-J-XX:+UseSerialGC', ...args]);
}

/** What `openssl x509 -fingerprint -sha256` prints for a DER certificate, e.g. `AB:CD:…`. */
export async function opensslFingerprint(der: Buffer, hash: 'sha1' | 'sha256'): Promise<string> {
  const r = await runTool('openssl', ['x509', '-inform', 'DER', '-noout', '-fingerprint', `-${hash}`], der);
  if (r.code !== 0) throw new Error(`openssl x509 failed: ${r.stderr}`);
  const m = r.stdout.match(/Fingerprint=([0-9A-F:]+)/);
  if (!m?.[1]) throw new Error(`no fingerprint in: ${r.stdout}`);
  return m[1];
}
