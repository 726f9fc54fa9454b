/** Reading secrets and writing results for the CLI. Secrets come from stdin or a file, never argv. */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { UsageError } from './cli-errors.js';

/** Reads all of stdin; one trailing newline is dropped (what `echo` and heredocs add). */
export async function readStdinSecret(what: string): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write(`${what}: (reading from stdin, end with Ctrl-D)\n`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer); // stdin yields Buffers without an encoding set
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) throw new UsageError(`No ${what} arrived on stdin.`);
  return text;
}

export function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new UsageError(`Cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Exactly one of --password-stdin / --password-file must be given. */
export function readPassword(opts: { passwordStdin?: boolean; passwordFile?: string }, what = 'password'): Promise<string> {
  return readSecret(opts.passwordStdin, opts.passwordFile, 'password', what);
}

/** Exactly one of --passphrase-stdin / --passphrase-file must be given. */
export function readPassphrase(opts: { passphraseStdin?: boolean; passphraseFile?: string }, what = 'passphrase'): Promise<string> {
  return readSecret(opts.passphraseStdin, opts.passphraseFile, 'passphrase', what);
}

async function readSecret(stdin: boolean | undefined, file: string | undefined, flag: string, what: string): Promise<string> {
  if (stdin && file) throw new UsageError(`Give either --${flag}-stdin or --${flag}-file, not both.`);
  if (stdin) return readStdinSecret(what);
  if (file) return readSecretFile(file, what);
  throw new UsageError(`The ${what} is needed: give --${flag}-stdin or --${flag}-file FILE (never on the command line).`);
}

/**
 * Characters a terminal acts on instead of showing: C0 controls, DEL, C1 controls (0x9b is a
 * one-byte CSI on many terminals), the Unicode line and paragraph separators and the bidirectional
 * overrides and isolates (which make text read differently from what it is). A device name, a
 * subject or an error message from the server may carry any of them.
 */
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const TERMINAL_CONTROLS_OR_BREAKS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** What JSON.stringify leaves raw inside strings (it escapes U+0000–U+001F itself; its own line breaks are layout). */
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Text from the server as it may reach a terminal: controls removed; line breaks kept only when asked. */
export function printable(text: string, opts: { readonly multiline?: boolean } = {}): string {
  return text.replace(opts.multiline ? TERMINAL_CONTROLS : TERMINAL_CONTROLS_OR_BREAKS, '');
}

/**
 * The one way a command writes text for a person: whatever in it came from a server (a name, a
 * subject, a message) reaches the terminal without controls; line breaks are kept.
 */
export function say(text: string): void {
  process.stdout.write(printable(text, { multiline: true }));
}

/** The same on stderr: progress and notes beside what a script reads from stdout. */
export function tell(text: string): void {
  process.stderr.write(printable(text, { multiline: true }));
}

/**
 * JSON for scripts: the same values, with every control character written as a \u escape.
 * JSON.stringify escapes U+0000–U+001F itself, but leaves DEL, C1 and the Unicode separators and
 * bidi controls raw; escaped, they reach the terminal as text and a JSON parser as the same string.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function printJson(value: unknown): void {
  process.stdout.write(jsonText(value) + '\n');
}

/** A plain text table: a header row, then one row per record, columns padded to fit; cells are made printable. */
export function table(headers: readonly string[], rawRows: readonly (readonly string[])[]): string {
  const rows = rawRows.map((r) => r.map((cell) => printable(cell)));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** A commander argument parser for a whole number (`--limit 10`); anything else is a usage error. */
export function wholeNumber(flag: string): (value: string) => number {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${flag} must be a whole number.`);
    return Number(value);
  };
}

const SECONDS_PER_UNIT: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A commander argument parser for a duration with its unit (`3600s`, `90m`, `24h`, `7d`), in seconds. */
export function durationSeconds(flag: string): (value: string) => number {
  return (value: string): number => {
    const m = /^(\d+)([smhd])$/.exec(value.trim());
    const seconds = m ? Number(m[1]) * (SECONDS_PER_UNIT[m[2] as string] ?? 0) : 0; // the pattern matched one of the units
    if (!m || !Number.isSafeInteger(seconds) || seconds <= 0) {
      throw new InvalidArgumentError(`${flag} must be a duration with its unit, such as 3600s, 90m, 24h or 7d.`);
    }
    return seconds;
  };
}
