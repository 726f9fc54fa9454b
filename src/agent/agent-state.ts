/**
 * What a device remembers between runs: who it is (device id, credential), which certificate it
 * pins, and the replacement it is applying. On disk as DIR/state.json, mode 0600 (it holds the
 * credential), written atomically: a temporary file in the same directory, fsync, rename, fsync of
 * the directory — a crash leaves the old state or the new one, never half of one.
 *
 *   pinned=A, next=∅ ──check-in: replacement B──▶ pinned=A, next=B ──confirmed over a B-pinned
 *        ▲                                                              connection──▶ pinned=B, next=∅
 *        └── (a lost confirmation: the next check-in pins B, which confirms it on the server) ──┘
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../storage/atomic-file.js';

export interface PinnedCertificate {
  readonly alias: string;
  /** Upper-case hex with colons, as the API spells it. */
  readonly sha256: string;
  readonly signatureAlgorithm: string;
  readonly pem: string;
}

export interface AgentState {
  readonly version: 1;
  /** HOST:PORT, in fail-over order. */
  readonly servers: readonly string[];
  readonly profile: string;
  readonly unitId: string;
  readonly name: string;
  readonly deviceId: string | null;
  /** `cfd_<id>.<secret>`: the device's proof of identity; never printed. */
  readonly credential: string | null;
  readonly pinned: PinnedCertificate | null;
  /** A replacement received and not yet confirmed. */
  readonly next: PinnedCertificate | null;
  readonly registeredAt: string | null;
  readonly lastCheckInAt: string | null;
}

/** Where the agent keeps its state: a file for `certfleet agent`, memory for the simulator. */
export interface StateStore {
  save(state: AgentState): Promise<void>;
}

export const STATE_FILE = 'state.json';

/** A locally administered, unicast MAC address: unique enough for a fleet of emulated devices. */
export function randomUnitId(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function initialState(init: { servers: readonly string[]; profile: string; unitId?: string; name?: string }): AgentState {
  const unitId = init.unitId ?? randomUnitId();
  return {
    version: 1,
    servers: init.servers,
    profile: init.profile,
    unitId,
    name: init.name ?? `tc-${unitId.replace(/:/g, '').slice(-6)}`,
    deviceId: null,
    credential: null,
    pinned: null,
    next: null,
    registeredAt: null,
    lastCheckInAt: null,
  };
}

export class StateFileError extends Error {
  override readonly name = 'StateFileError';
}

function isPinned(v: unknown): v is PinnedCertificate {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>; // an object; its fields are checked one by one
  return typeof p.alias === 'string' && typeof p.sha256 === 'string' && typeof p.signatureAlgorithm === 'string' && typeof p.pem === 'string';
}

function parseState(text: string, path: string): AgentState {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new StateFileError(`${path} is not valid JSON. Restore it from a backup, or remove it to register the device again.`);
  }
  const s = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>; // checked field by field below
  const ok =
    s.version === 1 &&
    Array.isArray(s.servers) &&
    s.servers.every((x) => typeof x === 'string') &&
    typeof s.profile === 'string' &&
    typeof s.unitId === 'string' &&
    typeof s.name === 'string' &&
    (s.deviceId === null || typeof s.deviceId === 'string') &&
    (s.credential === null || typeof s.credential === 'string') &&
    (s.pinned === null || isPinned(s.pinned)) &&
    (s.next === null || isPinned(s.next)) &&
    (s.registeredAt === null || typeof s.registeredAt === 'string') &&
    (s.lastCheckInAt === null || typeof s.lastCheckInAt === 'string');
  if (!ok) throw new StateFileError(`${path} is not a certfleet agent state (version 1). Remove it to register the device again.`);
  return s as unknown as AgentState; // every field checked above
}

/** The state in DIR, or null when the device has none yet. */
export async function readStateFile(dir: string): Promise<AgentState | null> {
  const path = join(dir, STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const error = e as NodeJS.ErrnoException; // readFile rejects with a system error
    if (error.code === 'ENOENT') return null;
    throw new StateFileError(`Cannot read ${path}: ${error.message}`);
  }
  return parseState(text, path);
}

export class FileStateStore implements StateStore {
  constructor(readonly dir: string) {}

  async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  save(state: AgentState): Promise<void> {
    return writeFileAtomic(join(this.dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
  }
}

/** For the simulator: state lives in memory only. */
export const memoryStateStore: StateStore = { save: async () => undefined };
