/**
 * `certfleet simulate` (R6): thousands of device agents in one process, over real TLS, for tests,
 * demos and benchmarks. Each simulated device is a DeviceAgent with its state in memory and its
 * own TLS session (resumed at every check-in). All devices share one bound on the connections open
 * at once. Devices register as fast as that bound allows, then each checks in at a random phase of
 * the run's interval (`firstCheckInDelay`) and every interval after that (±10 %), so the load is
 * spread evenly over every interval however long the registrations took.
 *
 * "On the default" is measured against the certificate the server presents to a device without a
 * pin (a full handshake every few seconds: the default of SPEC K2).
 */
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../domain/algorithms.js';
import { describeAgentError } from './agent-errors.js';
import { DeviceAgent, type AgentEvent } from './agent.js';
import { initialState, memoryStateStore, type PinnedCertificate } from './agent-state.js';
import { firmwareProfile, type FirmwareProfile } from './profiles.js';
import { every, type Timer, type TimeSource } from '../domain/time.js';
import { agentTime } from './agent-time.js';
import { formatServer, type ServerAddress } from './servers.js';
import { DeviceConnection } from './tls-client.js';

export interface SimulateOptions {
  readonly servers: readonly ServerAddress[];
  readonly token: string;
  readonly devices: number;
  /** Profile → weight. */
  readonly mix: Readonly<Record<string, number>>;
  readonly intervalMs: number;
  readonly durationMs: number;
  /** Devices in a cycle at once; each has one connection (and handshake) open at a time. */
  readonly concurrency: number;
  readonly timeoutMs?: number;
  /** Called at most once per second with the live counts. */
  readonly onProgress?: (p: SimulationProgress) => void;
  readonly signal?: AbortSignal;
  /** The clock and the timers of the run (check-in moments, probes, progress, the end); the real ones by default. */
  readonly time?: TimeSource;
  /** Uniform in [0, 1): where in the interval each check-in falls (its phase and jitter); Math.random by default. */
  readonly uniform?: () => number;
}

export interface SimulationProgress {
  readonly elapsedSeconds: number;
  readonly devices: number;
  readonly registered: number;
  readonly onDefault: number;
  readonly pending: number;
  readonly errors: number;
  readonly checkIns: number;
  /** TLS handshakes so far, full and resumed (the server's cost is mostly the full ones). */
  readonly handshakes: { readonly full: number; readonly resumed: number };
}

export interface ProfileSummary {
  devices: number;
  registered: number;
  refused: number;
  onDefault: number;
  pending: number;
  errors: number;
}

export interface SimulationSummary {
  readonly devices: number;
  readonly registered: number;
  /** Devices not registered because they were refused (no certificate their firmware supports, a used-up token). */
  readonly refused: number;
  readonly refusedByCode: Readonly<Record<string, number>>;
  /** Failed cycles that were not a refusal: connection failures, pin mismatches, protocol errors. */
  readonly errors: number;
  readonly errorsByCode: Readonly<Record<string, number>>;
  readonly onDefault: number;
  readonly pending: number;
  readonly checkIns: number;
  readonly replacements: number;
  readonly handshakes: { readonly full: number; readonly resumed: number };
  readonly byProfile: Readonly<Record<string, ProfileSummary>>;
  readonly default: { readonly alias: string | null; readonly sha256: string | null };
  /** Seconds. */
  readonly duration: number;
  /** The simulator process at the end (for the memory per device). */
  readonly memory: { readonly rssBytes: number; readonly heapUsedBytes: number };
}

/**
 * Answers to a first contact that say the device cannot register as things are (no certificate
 * its firmware supports — told by the server, or found by the firmware itself in the handshake —,
 * a used-up token): counted as refused, not as errors, and tried again only every interval.
 */
const REGISTRATION_REFUSALS: ReadonlySet<string> = new Set([
  'no_compatible_certificate',
  'certificate_not_supported',
  'enrollment_token_invalid',
  'invalid_request',
]);

/** `igel-os-12=70,igel-os-11=20` → weights; null when a part is malformed or names an unknown profile. */
export function parseMix(value: string): Record<string, number> | { readonly error: string } {
  const mix: Record<string, number> = {};
  for (const part of value.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const m = /^([A-Za-z0-9._-]+)=(\d+(?:\.\d+)?)$/.exec(part);
    if (!m) return { error: `"${part}" is not PROFILE=WEIGHT` };
    const [, name, weight] = m as unknown as [string, string, string]; // both groups matched
    if (!firmwareProfile(name)) return { error: `unknown profile "${name}"` };
    mix[name] = Number(weight);
  }
  if (Object.values(mix).reduce((a, b) => a + b, 0) <= 0) return { error: 'the weights add up to nothing' };
  return mix;
}

/** N devices split by weight (largest remainder), interleaved so that every stretch of the fleet is mixed. */
export function assignProfiles(devices: number, mix: Readonly<Record<string, number>>): string[] {
  const entries = Object.entries(mix).filter(([, w]) => w > 0);
  const total = entries.reduce((a, [, w]) => a + w, 0);
  const counts = entries.map(([name, w]) => ({ name, exact: (devices * w) / total, n: Math.floor((devices * w) / total) }));
  let left = devices - counts.reduce((a, c) => a + c.n, 0);
  for (const c of [...counts].sort((a, b) => b.exact - b.n - (a.exact - a.n))) {
    if (left-- <= 0) break;
    c.n++;
  }
  // Interleave: device i gets the profile that is furthest behind its share.
  const given = new Map(counts.map((c) => [c.name, 0]));
  const out: string[] = [];
  for (let i = 0; i < devices; i++) {
    let best: { name: string; lag: number } | null = null;
    for (const c of counts) {
      const g = given.get(c.name) ?? 0;
      if (g >= c.n) continue;
      const lag = ((i + 1) * c.n) / devices - g;
      if (!best || lag > best.lag) best = { name: c.name, lag };
    }
    const name = (best ?? counts[0])?.name as string; // counts is not empty: the mix was validated
    given.set(name, (given.get(name) ?? 0) + 1);
    out.push(name);
  }
  return out;
}

/** Thrown to tasks still waiting for a connection slot when the simulation ends. */
export class SimulationStopped extends Error {
  override readonly name = 'SimulationStopped';
}

/**
 * Which queue a task waits in: devices that have registered go before devices still registering,
 * so that a fleet's check-ins (and its replacements) are not held up behind the registrations of
 * the rest — 10,000 devices start at once, and a check-in due meanwhile would otherwise wait for
 * every registration queued before it and bunch up with the others at the end.
 */
export type Lane = 'registered' | 'registering';

export interface Limiter {
  <T>(task: () => Promise<T>, lane?: Lane): Promise<T>;
  /** Refuses the waiting tasks and every later one. */
  stop(): void;
}

/** At most `n` tasks at a time; the others wait in order, the registered lane first. */
export function limiter(n: number): Limiter {
  let running = 0;
  let stopped = false;
  type Waiter = { go: () => void; stop: () => void };
  const waiting: Record<Lane, Waiter[]> = { registered: [], registering: [] };
  const run = async <T>(task: () => Promise<T>, lane: Lane = 'registered'): Promise<T> => {
    if (stopped) throw new SimulationStopped('the simulation has ended');
    if (running >= n) await new Promise<void>((go, stop) => waiting[lane].push({ go, stop: () => stop(new SimulationStopped('the simulation has ended')) }));
    running++;
    try {
      return await task();
    } finally {
      running--;
      (waiting.registered.shift() ?? waiting.registering.shift())?.go();
    }
  };
  return Object.assign(run, {
    stop: () => {
      stopped = true;
      for (const w of [...waiting.registered.splice(0), ...waiting.registering.splice(0)]) w.stop();
    },
  });
}

interface SimulatedDevice {
  readonly profile: FirmwareProfile;
  readonly agent: DeviceAgent;
  /** 'refused' until a registration succeeds. */
  status: 'new' | 'refused';
  errors: number;
  /** Cancels the device's next cycle. */
  timer: Timer | null;
  busy: boolean;
}

/**
 * The wait from a registration `sinceStartMs` into the run to the device's first check-in, so that
 * the moment falls at the uniformly random phase `u` (0 ≤ u < 1) of the run's interval grid, whenever the
 * device registered. A random delay after registration instead would crowd the check-ins of a fleet
 * that registered in less than an interval into part of every interval (the fleet benchmark saw
 * four-fold swings in the check-in rate within one interval, for as long as it ran).
 */
export function firstCheckInDelay(sinceStartMs: number, intervalMs: number, u: number): number {
  const phase = u * intervalMs;
  return (((phase - sinceStartMs) % intervalMs) + intervalMs) % intervalMs;
}

export async function runSimulation(o: SimulateOptions): Promise<SimulationSummary> {
  const time = o.time ?? agentTime;
  const uniform = o.uniform ?? Math.random;
  const started = time.now().getTime();
  const limit = limiter(o.concurrency);
  const interned = new Map<string, PinnedCertificate>();
  const intern = (c: PinnedCertificate): PinnedCertificate => {
    const known = interned.get(c.sha256);
    if (known) return known;
    interned.set(c.sha256, c);
    return c;
  };
  const counters = { checkIns: 0, replacements: 0, full: 0, resumed: 0 };
  const errorsByCode: Record<string, number> = {};
  const refusedByCode: Record<string, number> = {};
  const onEvent = (e: AgentEvent) => {
    if (e.kind === 'checked-in') counters.checkIns++;
    else if (e.kind === 'replacement-confirmed') counters.replacements++;
    else if (e.kind === 'handshake') {
      if (e.resumed) counters.resumed++;
      else counters.full++;
    }
  };

  const serverList = o.servers.map(formatServer);
  const fleet: SimulatedDevice[] = assignProfiles(o.devices, o.mix).map((name) => {
    const profile = firmwareProfile(name) as FirmwareProfile; // the mix names known profiles only
    const state = initialState({ servers: serverList, profile: name });
    return {
      profile,
      agent: new DeviceAgent(state, memoryStateStore, { servers: o.servers, profile, intern, onEvent, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) }),
      status: 'new',
      errors: 0,
      timer: null,
      busy: false,
    };
  });

  let stopping = false;
  const inFlight = new Set<Promise<void>>();

  const schedule = (d: SimulatedDevice, delayMs: number) => {
    if (stopping) return;
    d.timer = time.schedule(Math.max(0, delayMs), () => {
      d.timer = null;
      const run = cycle(d);
      inFlight.add(run);
      void run.finally(() => inFlight.delete(run));
    });
  };

  const cycle = async (d: SimulatedDevice): Promise<void> => {
    if (stopping || d.busy) return;
    d.busy = true;
    const registering = !d.agent.state.deviceId;
    try {
      // A cycle holds a slot from its first handshake to its last: a device that has registered
      // confirms and checks in at once, instead of queueing behind the whole fleet's registrations.
      await limit(() => d.agent.cycle(o.token), registering ? 'registering' : 'registered');
      // After registration: the first check-in at a random moment of the interval, then every interval.
      schedule(d, registering ? firstCheckInDelay(time.now().getTime() - started, o.intervalMs, uniform()) : o.intervalMs * (0.9 + uniform() * 0.2));
    } catch (e) {
      if (stopping) return; // cut short by the end of the simulation, not a failure
      const { code } = describeAgentError(e);
      if (!d.agent.state.deviceId && REGISTRATION_REFUSALS.has(code)) {
        d.status = 'refused';
        refusedByCode[code] = (refusedByCode[code] ?? 0) + 1;
        schedule(d, o.intervalMs * (0.9 + uniform() * 0.2));
        return;
      }
      d.errors++;
      errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
      schedule(d, Math.min(o.intervalMs, 5000) * (0.5 + uniform()));
    } finally {
      d.busy = false;
    }
  };

  // The default, as a device without a pin is served it.
  let defaultSha: string | null = null;
  const probe = async () => {
    for (const server of o.servers) {
      try {
        const conn = await DeviceConnection.open({
          server,
          servername: 'default.certfleet.invalid',
          check: { pinSha256Hex: null, acceptedAlgorithms: ALLOWED_SIGNATURE_ALGORITHMS },
          timeoutMs: o.timeoutMs ?? 10_000,
        });
        conn.close();
        defaultSha = conn.peer?.sha256Fingerprint ?? defaultSha;
        return;
      } catch {
        // the next server
      }
    }
  };

  const tally = () => {
    let registered = 0;
    let refused = 0;
    let onDefault = 0;
    let pending = 0;
    let errors = 0;
    const byProfile: Record<string, ProfileSummary> = {};
    for (const d of fleet) {
      const p = (byProfile[d.profile.name] ??= { devices: 0, registered: 0, refused: 0, onDefault: 0, pending: 0, errors: 0 });
      p.devices++;
      const s = d.agent.state;
      if (s.deviceId) {
        registered++;
        p.registered++;
      }
      if (!s.deviceId && d.status === 'refused') {
        refused++;
        p.refused++;
      }
      if (defaultSha && s.pinned?.sha256 === defaultSha) {
        onDefault++;
        p.onDefault++;
      }
      if (s.next) {
        pending++;
        p.pending++;
      }
      errors += d.errors;
      p.errors += d.errors;
    }
    return { registered, refused, onDefault, pending, errors, byProfile };
  };

  await probe();
  let probing = false;
  const probeTimer = every(time, 3000, () => {
    if (probing) return;
    probing = true;
    void probe().finally(() => {
      probing = false;
    });
  });
  const progress = o.onProgress
    ? every(time, 1000, () => {
        const t = tally();
        o.onProgress?.({
          elapsedSeconds: Math.round((time.now().getTime() - started) / 1000),
          devices: o.devices,
          registered: t.registered,
          onDefault: t.onDefault,
          pending: t.pending,
          errors: t.errors,
          checkIns: counters.checkIns,
          handshakes: { full: counters.full, resumed: counters.resumed },
        });
      })
    : null;

  // Every device starts now; the limiter lets `concurrency` of them connect at a time.
  for (const d of fleet) schedule(d, 0);

  await new Promise<void>((resolve) => {
    const end = time.schedule(o.durationMs, resolve);
    o.signal?.addEventListener('abort', () => {
      end.cancel();
      resolve();
    }, { once: true });
  });
  stopping = true;
  limit.stop();
  for (const d of fleet) d.timer?.cancel();
  probeTimer.cancel();
  progress?.cancel();
  // Cycles under way finish (bounded by the connection timeout), so the summary is consistent.
  await Promise.allSettled([...inFlight]);
  await probe();
  const t = tally();
  const defaultAlias = defaultSha ? (interned.get(defaultSha)?.alias ?? null) : null;
  return {
    devices: o.devices,
    registered: t.registered,
    refused: t.refused,
    refusedByCode,
    errors: t.errors,
    errorsByCode,
    onDefault: t.onDefault,
    pending: t.pending,
    checkIns: counters.checkIns,
    replacements: counters.replacements,
    handshakes: { full: counters.full, resumed: counters.resumed },
    byProfile: t.byProfile,
    default: { alias: defaultAlias, sha256: defaultSha },
    duration: Math.round((time.now().getTime() - started) / 100) / 10,
    memory: { rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed },
  };
}

export function formatProgress(p: SimulationProgress): string {
  return (
    `simulate ${p.elapsedSeconds}s: registered ${p.registered}/${p.devices}, on the default ${p.onDefault}, ` +
    `pending ${p.pending}, errors ${p.errors}, check-ins ${p.checkIns}`
  );
}
