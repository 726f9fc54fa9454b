/**
 * `certfleet agent`: one device with its state in a directory. `--once` runs one full cycle and
 * exits; otherwise it checks in every interval (with a little jitter, so a fleet restarted together
 * spreads out) until SIGINT/SIGTERM. A failed cycle is retried sooner (5 s, doubling, at most the
 * interval); the device never gives up.
 */
import { describeAgentError } from './agent-errors.js';
import { DeviceAgent, type AgentEvent, type CycleResult } from './agent.js';
import { FileStateStore, initialState, readStateFile, type AgentState } from './agent-state.js';
import { firmwareProfile } from './profiles.js';
import { sleep, type TimeSource } from '../domain/time.js';
import { agentTime } from './agent-time.js';
import { formatServer, parseServerList, type ServerAddress } from './servers.js';

export interface AgentCommandOptions {
  /** From --server; null: the list in the state. */
  readonly servers: readonly ServerAddress[] | null;
  readonly stateDir: string;
  readonly token: string | undefined;
  /** From --profile; null: the state's, or the default. */
  readonly profile: string | null;
  readonly intervalSeconds: number;
  readonly once: boolean;
  readonly json: boolean;
  readonly unitId: string | undefined;
  readonly name: string | undefined;
  /** R4: a PEM certificate left from an older installation, sent at registration. */
  readonly presentedCertificatePem?: string | undefined;
  /** L3: the fingerprints to expect at first contact (token file, --expect-fingerprint); none: trust on first use. */
  readonly expectedFingerprints?: readonly string[];
}

export interface AgentIo {
  out(line: string): void;
  err(line: string): void;
  /** Ends the loop (signals). */
  readonly signal?: AbortSignal;
  /** The clock it stamps lines with and the timer it waits on between cycles; the real ones by default. */
  readonly time?: TimeSource;
}

/** Why the command could not start: the caller turns it into a usage error (exit 2). */
export class AgentUsageError extends Error {
  override readonly name = 'AgentUsageError';
}

export interface AgentSummary {
  readonly deviceId: string;
  readonly pinnedAlias: string;
  readonly pinnedSha256: string;
  readonly profile: string;
}

function summary(state: AgentState, result: CycleResult): AgentSummary {
  return { deviceId: result.deviceId, pinnedAlias: result.pinned.alias, pinnedSha256: result.pinned.sha256, profile: state.profile };
}

function describeEvent(e: AgentEvent): string | null {
  switch (e.kind) {
    case 'registered':
      return `registered as ${e.deviceId}; pinning "${e.certificate.alias}" (${e.certificate.signatureAlgorithm}, SHA-256 ${e.certificate.sha256})`;
    case 'replacement-received':
      return `replacement "${e.certificate.alias}" received; verifying it`;
    case 'replacement-confirmed':
      return `now pinning "${e.certificate.alias}" (SHA-256 ${e.certificate.sha256}), confirmed by ${e.by}`;
    case 'fail-over':
      return `${e.server} failed (${e.message}); trying the next server`;
    case 're-registering':
      return `must register again (${e.reason}); registering with the enrollment token`;
    default:
      return null;
  }
}

async function loadOrCreateState(o: AgentCommandOptions, store: FileStateStore): Promise<AgentState> {
  const existing = await readStateFile(o.stateDir);
  if (existing) {
    if (o.profile !== null && o.profile !== existing.profile) {
      throw new AgentUsageError(
        `This device was registered with the profile ${existing.profile}; it cannot become ${o.profile}. ` +
          'Use another --state directory for another device.',
      );
    }
    if (o.servers && o.servers.map(formatServer).join(',') !== existing.servers.join(',')) {
      const updated = { ...existing, servers: o.servers.map(formatServer) };
      await store.save(updated);
      return updated;
    }
    return existing;
  }
  if (!o.servers) throw new AgentUsageError('The first run needs --server HOST:PORT[,HOST:PORT…].');
  const state = initialState({
    servers: o.servers.map(formatServer),
    profile: o.profile ?? 'igel-os-12',
    ...(o.unitId !== undefined ? { unitId: o.unitId } : {}),
    ...(o.name !== undefined ? { name: o.name } : {}),
  });
  await store.save(state);
  return state;
}

function serversOf(state: AgentState): ServerAddress[] {
  const servers = parseServerList(state.servers.join(','));
  if (!servers) throw new AgentUsageError(`The state's server list (${state.servers.join(', ')}) is not HOST:PORT[,…]; give --server.`);
  return servers;
}

/** Returns the exit code: 0, or 1 when a `--once` cycle failed. */
export async function runAgentCommand(o: AgentCommandOptions, io: AgentIo): Promise<number> {
  const store = new FileStateStore(o.stateDir);
  await store.prepare();
  const state = await loadOrCreateState(o, store);
  const profile = firmwareProfile(state.profile);
  if (!profile) throw new AgentUsageError(`The state names the profile ${state.profile}, which this agent does not know.`);
  const agent = new DeviceAgent(state, store, {
    servers: serversOf(state),
    profile,
    ...(o.presentedCertificatePem !== undefined ? { presentedCertificatePem: o.presentedCertificatePem } : {}),
    ...(o.expectedFingerprints !== undefined ? { expectedFingerprints: o.expectedFingerprints } : {}),
    onEvent: (e) => {
      const line = describeEvent(e);
      if (line && !(o.json && o.once)) io.err(`agent: ${line}`);
    },
  });

  if (o.once) {
    try {
      const result = await agent.cycle(o.token);
      if (o.json) io.out(JSON.stringify(summary(agent.state, result), null, 2));
      else io.out(`Device ${result.deviceId} (${agent.state.profile}) pins "${result.pinned.alias}" (SHA-256 ${result.pinned.sha256}).`);
      return 0;
    } catch (e) {
      const { code, message } = describeAgentError(e);
      io.err(`error: ${code}: ${message}`);
      return 1;
    }
  }

  io.err(`agent: ${state.deviceId ? `device ${state.deviceId}` : 'not registered yet'}, profile ${state.profile}, servers ${state.servers.join(', ')}, every ${o.intervalSeconds} s`);
  const time = io.time ?? agentTime;
  let failures = 0;
  while (!io.signal?.aborted) {
    let waitMs: number;
    try {
      const result = await agent.cycle(o.token);
      failures = 0;
      if (o.json) io.out(JSON.stringify({ at: time.now().toISOString(), ...summary(agent.state, result), replaced: result.replaced?.alias ?? null }));
      else io.err(`agent: checked in, pinning "${result.pinned.alias}"`);
      waitMs = o.intervalSeconds * 1000 * (0.9 + Math.random() * 0.2);
    } catch (e) {
      failures++;
      const { code, message } = describeAgentError(e);
      io.err(`agent: error: ${code}: ${message}`);
      waitMs = Math.min(o.intervalSeconds * 1000, 5000 * 2 ** Math.min(failures - 1, 10));
    }
    await sleep(time, waitMs, io.signal);
  }
  return 0;
}
