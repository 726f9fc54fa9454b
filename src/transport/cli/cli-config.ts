/**
 * Where the CLI remembers the server and token after `certfleet login`: $CERTFLEET_CONFIG, else
 * $XDG_CONFIG_HOME/certfleet/cli.json, else ~/.config/certfleet/cli.json, written with mode 0600
 * because it holds a bearer token. CERTFLEET_SERVER, CERTFLEET_TOKEN and CERTFLEET_CA_FILE win over it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from './cli-errors.js';

export interface CliConfig {
  readonly server?: string;
  readonly token?: string;
  /** PEM file of the CA (or self-signed web certificate) that the server's HTTPS certificate chains to. */
  readonly caFile?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CERTFLEET_CONFIG) return env.CERTFLEET_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'certfleet', 'cli.json');
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  let stored: CliConfig = {};
  try {
    stored = JSON.parse(readFileSync(configPath(env), 'utf8')) as CliConfig; // our own file; fields checked on use
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new UsageError(`Cannot read ${configPath(env)}: ${(e as Error).message}. Log in again with \`certfleet login\`.`);
    }
  }
  return {
    ...stored,
    ...(env.CERTFLEET_SERVER ? { server: env.CERTFLEET_SERVER } : {}),
    ...(env.CERTFLEET_TOKEN ? { token: env.CERTFLEET_TOKEN } : {}),
    ...(env.CERTFLEET_CA_FILE ? { caFile: env.CERTFLEET_CA_FILE } : {}),
  };
}

export function writeConfig(config: CliConfig, env: NodeJS.ProcessEnv = process.env): string {
  const path = configPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}
