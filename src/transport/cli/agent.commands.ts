/**
 * `certfleet agent` and `certfleet simulate` (SPEC R6): the device side, talking to a server's
 * device channel over TLS. The agent modules are loaded inside the actions, so the other commands
 * start without them.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MIX, DEFAULT_PROFILE, PROFILE_NAMES } from '../../agent/profiles.js';
import { parseServerList, type ServerAddress } from '../../agent/servers.js';
import { ExitCode, UsageError } from './cli-errors.js';
import { durationSeconds, printable, printJson, readSecretFile, say, tell, wholeNumber } from './cli-io.js';

export const ENROLLMENT_TOKEN_ENV = 'CERTFLEET_ENROLLMENT_TOKEN';

function serverList(value: string): ServerAddress[] {
  const servers = parseServerList(value);
  if (!servers) throw new InvalidArgumentError(`"${value}" is not HOST:PORT[,HOST:PORT…] (for example 127.0.0.1:30001).`);
  return servers;
}

function positive(flag: string) {
  const whole = wholeNumber(flag);
  return (value: string): number => {
    const n = whole(value);
    if (n < 1) throw new InvalidArgumentError(`${flag} must be at least 1.`);
    return n;
  };
}

/** What a token file holds: the token, and the fingerprints to expect at first contact (L3). */
interface TokenFile {
  readonly token: string | undefined;
  readonly expectedFingerprints: readonly string[];
}

const FINGERPRINT = /^(?:[0-9a-f]{2}:){31}[0-9a-f]{2}$|^[0-9a-f]{64}$/i;

function checkedFingerprints(list: readonly unknown[], where: string): string[] {
  return list.map((f) => {
    if (typeof f !== 'string' || !FINGERPRINT.test(f.trim())) throw new UsageError(`${where}: "${String(f).slice(0, 100)}" is not a SHA-256 fingerprint (64 hex digits, colons allowed).`);
    return f.trim();
  });
}

/**
 * The enrollment token: --token-file, else $CERTFLEET_ENROLLMENT_TOKEN, else --token. A token file
 * holds the token alone, or the JSON of `certfleet enroll create --json` (`token`, and
 * `expectedFingerprints` with --pin-current).
 */
function enrollmentToken(o: { token?: string; tokenFile?: string }): TokenFile {
  if (o.token !== undefined && o.tokenFile !== undefined) throw new UsageError('Give either --token or --token-file, not both.');
  if (o.tokenFile === undefined) return { token: o.token ?? (process.env[ENROLLMENT_TOKEN_ENV] || undefined), expectedFingerprints: [] };
  const text = readSecretFile(o.tokenFile, 'enrollment token').trim();
  if (!text.startsWith('{')) return { token: text, expectedFingerprints: [] };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError(`${o.tokenFile} starts like JSON but is not: give the token alone, or the output of \`certfleet enroll create --json\`.`);
  }
  const file = (typeof v === 'object' && v !== null ? v : {}) as { token?: unknown; expectedFingerprints?: unknown }; // checked field by field
  if (typeof file.token !== 'string') throw new UsageError(`${o.tokenFile} has no "token": give the output of \`certfleet enroll create --json\`.`);
  const expected = file.expectedFingerprints ?? [];
  if (!Array.isArray(expected)) throw new UsageError(`${o.tokenFile}: "expectedFingerprints" must be a list.`);
  return { token: file.token, expectedFingerprints: checkedFingerprints(expected, o.tokenFile) };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter((x) => x.trim().length > 0)];
}

const TOKEN_HELP = `enrollment token (another user can read argv in the process list: prefer --token-file or $${ENROLLMENT_TOKEN_ENV})`;

interface AgentFlags {
  server?: ServerAddress[];
  state: string;
  token?: string;
  tokenFile?: string;
  profile?: string;
  interval: number;
  once?: boolean;
  json?: boolean;
  unitId?: string;
  name?: string;
  presentedCertificate?: string;
  expectFingerprint?: string[];
}

interface SimulateFlags {
  server: ServerAddress[];
  token?: string;
  tokenFile?: string;
  devices: number;
  mix?: string;
  interval: number;
  duration: number;
  concurrency: number;
  json?: boolean;
}

export function addAgentCommands(program: Command): void {
  program
    .command('agent')
    .description('run a device agent: register, check in over the pinned TLS channel, apply certificate replacements')
    .option('--server <list>', 'device channel HOST:PORT[,HOST:PORT…], in fail-over order (remembered in the state)', serverList)
    .requiredOption('--state <dir>', 'state directory (state.json, mode 0600: it holds the device credential)')
    .option('--token <token>', TOKEN_HELP)
    .option('--token-file <file>', 'read the enrollment token from a file')
    .addOption(new Option('--profile <name>', `firmware profile to emulate (default ${DEFAULT_PROFILE}; fixed at registration)`).choices(PROFILE_NAMES))
    .addOption(new Option('--interval <duration>', 'time between check-ins, such as 60s or 5m').argParser(durationSeconds('--interval')).default(60, '60s'))
    .option('--once', 'one full cycle (register if needed, check in, apply a replacement), then exit')
    .option('--json', 'print JSON (with --once: deviceId, pinnedAlias, pinnedSha256, profile)')
    .option('--unit-id <mac>', 'unit id (MAC address) to register with (default: a random local one)')
    .option('--name <name>', 'device name to register with')
    .option('--presented-certificate <file>', 'PEM server certificate left from an older installation, shown at registration (an MD5-signed one is replaced, R4)')
    .option('--expect-fingerprint <sha256>', 'at first contact, accept only a server that presents this certificate (repeatable or comma-separated; also read from a JSON token file)', collect)
    .addHelpText('after', `\nThe token is needed only for the first run. Exit codes: 0 done, 1 refused or failed, 2 usage.`)
    .action(async (o: AgentFlags) => {
      const tokenFile = enrollmentToken(o);
      const token = tokenFile.token;
      const expectedFingerprints = [...tokenFile.expectedFingerprints, ...checkedFingerprints(o.expectFingerprint ?? [], '--expect-fingerprint')];
      const { runAgentCommand, AgentUsageError } = await import('../../agent/agent-runner.js');
      const { StateFileError } = await import('../../agent/agent-state.js');
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const code = await runAgentCommand(
          {
            servers: o.server ?? null,
            stateDir: o.state,
            token,
            profile: o.profile ?? null,
            intervalSeconds: o.interval,
            once: o.once === true,
            json: o.json === true,
            unitId: o.unitId,
            name: o.name,
            presentedCertificatePem: o.presentedCertificate !== undefined ? readSecretFile(o.presentedCertificate, 'presented certificate') : undefined,
            expectedFingerprints,
          },
          { out: (l) => say(l + '\n'), err: (l) => tell(l + '\n'), signal: stop.signal },
        );
        if (code !== ExitCode.ok) process.exitCode = code;
      } catch (e) {
        if (e instanceof AgentUsageError || e instanceof StateFileError) throw new UsageError(e.message);
        throw e;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  program
    .command('simulate')
    .description('simulate a fleet of device agents in one process, over real TLS (tests, demos, benchmarks)')
    .requiredOption('--server <list>', 'device channel HOST:PORT[,HOST:PORT…]', serverList)
    .option('--token <token>', TOKEN_HELP + '; it needs as many uses as --devices')
    .option('--token-file <file>', 'read the enrollment token from a file')
    .requiredOption('--devices <n>', 'number of devices', positive('--devices'))
    .option('--mix <weights>', 'firmware profiles and their weights', DEFAULT_MIX)
    .addOption(new Option('--interval <duration>', 'time between check-ins of each device').argParser(durationSeconds('--interval')).default(60, '60s'))
    .addOption(new Option('--duration <duration>', 'how long to run; then the summary').argParser(durationSeconds('--duration')).default(600, '10m'))
    .option('--concurrency <n>', 'connections (handshakes) in flight at once', positive('--concurrency'), 32)
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', '\nProgress goes to stderr (at most once per second); the summary to stdout at the end.')
    .action(async (o: SimulateFlags) => {
      const token = enrollmentToken(o).token;
      if (!token) throw new UsageError(`The simulated devices register: give --token-file, $${ENROLLMENT_TOKEN_ENV} or --token.`);
      const { runSimulation, parseMix, formatProgress } = await import('../../agent/simulator.js');
      const mix = parseMix(o.mix ?? DEFAULT_MIX);
      if ('error' in mix) throw new UsageError(`--mix: ${String(mix.error)}`);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const tty = process.stderr.isTTY === true;
      let lastLine = 0;
      let allRegistered = false;
      try {
        const summary = await runSimulation({
          servers: o.server,
          token,
          devices: o.devices,
          mix,
          intervalMs: o.interval * 1000,
          durationMs: o.duration * 1000,
          concurrency: o.concurrency,
          signal: stop.signal,
          onProgress: (p) => {
            // A live line on a terminal; in a log, one line every 5 seconds, and one as soon as the
            // whole fleet has registered (the moment a demo or a test waits for).
            const completed = !allRegistered && p.registered === p.devices;
            allRegistered ||= completed;
            if (tty) process.stderr.write(`\r\x1b[K${printable(formatProgress(p))}`);
            else if (completed || p.elapsedSeconds * 1000 - lastLine >= 5000) {
              lastLine = p.elapsedSeconds * 1000;
              tell(formatProgress(p) + '\n');
            }
          },
        });
        if (tty) tell('\n');
        if (o.json) printJson(summary);
        else {
          say(
            `${summary.devices} devices for ${summary.duration}s: registered ${summary.registered}, refused ${summary.refused}, ` +
              `errors ${summary.errors}, on the default ${summary.onDefault}, pending ${summary.pending}, ` +
              `check-ins ${summary.checkIns}, replacements ${summary.replacements}\n`,
          );
          for (const [name, p] of Object.entries(summary.byProfile)) {
            say(`  ${name}: ${p.devices} devices, registered ${p.registered}, refused ${p.refused}, on the default ${p.onDefault}, errors ${p.errors}\n`);
          }
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
