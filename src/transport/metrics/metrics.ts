/**
 * Prometheus metrics (`GET /metrics`, prom-client). Two kinds:
 *
 *   cluster-wide  read from the database at scrape time (one query per family, bounded by the
 *                 keystore and the profiles, never by the fleet): devices per certificate and per
 *                 profile, days to expiry and the expiry flags (L1), the last rotation pass, the
 *                 age of the last backup. Every node answers the same.
 *   per node      counted in this process as things happen: registrations and refusals, check-ins,
 *                 handshake failures on this node's device port, the rotation passes this node ran
 *                 as leader, whether it leads now, and Node's own process metrics.
 *
 * Times and ages come from the context's clock, so tests step them; pass durations are measured.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AppContext } from '../../app/context.js';
import { UNKNOWN_PROFILE, type RotationReport } from '../../app/rotation.js';
import { readSettings } from '../../app/settings.js';
import { expiryStatus } from '../../domain/expiry.js';
import type { DeviceChannelEvents, HandshakeFailure, HandshakePlace } from '../device-channel/device-channel.js';

/** Where the metrics are served, on the API listener and on `--metrics-listen`. */
export const METRICS_PATH = '/metrics';

export interface MetricsOptions {
  readonly ctx: AppContext;
  /** Whether this node holds the rotation lease now (H4). */
  readonly isLeader: () => boolean;
  /** Node's process metrics (off in tests that build many registries in one process). Default on. */
  readonly processMetrics?: boolean;
}

const seconds = (iso: string) => Date.parse(iso) / 1000;

export class ServerMetrics implements DeviceChannelEvents {
  readonly registry = new Registry();
  private readonly ctx: AppContext;
  private readonly isLeader: () => boolean;

  // Cluster-wide, from the database at scrape time.
  private readonly certificateDevices: Gauge<'alias' | 'state'>;
  private readonly daysUntilExpiry: Gauge<'alias'>;
  private readonly expiryWarning: Gauge<'alias'>;
  private readonly expired: Gauge<'alias'>;
  private readonly isDefault: Gauge<'alias'>;
  private readonly warningWindow: Gauge;
  private readonly profileDevices: Gauge<'profile'>;
  private readonly lastPass: Gauge;
  private readonly backupAge: Gauge<'trigger'>;

  // Per node, counted as it happens.
  private readonly registrations: Counter;
  private readonly refusals: Counter<'reason'>;
  private readonly checkIns: Counter;
  private readonly handshakeFailures: Counter<'reason'>;
  private readonly handshakes: Counter<'on'>;
  private readonly passDuration: Histogram<'result'>;
  private readonly scheduled: Counter;
  private readonly leader: Gauge;

  constructor(o: MetricsOptions) {
    this.ctx = o.ctx;
    this.isLeader = o.isLeader;
    const registers = [this.registry];
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers });
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers });

    this.certificateDevices = gauge('certfleet_certificate_devices', 'Devices per certificate: state="pinned" pin it, state="pending" are about to (cluster-wide).', ['alias', 'state']);
    this.daysUntilExpiry = gauge('certfleet_certificate_days_until_expiry', 'Whole days until the certificate expires, negative once expired (cluster-wide).', ['alias']);
    this.expiryWarning = gauge('certfleet_certificate_expiry_warning', '1 when devices use the certificate and it expires within the warning window or has expired (L1; cluster-wide).', ['alias']);
    this.expired = gauge('certfleet_certificate_expired', '1 when the certificate is past its notAfter (cluster-wide).', ['alias']);
    this.isDefault = gauge('certfleet_certificate_default', '1 for the default certificate (position 1), 0 for the others (cluster-wide).', ['alias']);
    this.warningWindow = gauge('certfleet_expiry_warning_window_days', 'The expiry warning window in days (`certfleet settings set expiry-warning`).');
    this.profileDevices = gauge('certfleet_profile_devices', 'Devices per firmware profile ("unknown": none reported; cluster-wide).', ['profile']);
    this.lastPass = gauge('certfleet_rotation_last_pass_timestamp_seconds', 'When the last rotation pass of the cluster finished (Unix time); 0 before the first (cluster-wide).');
    this.backupAge = gauge('certfleet_backup_age_seconds', 'Seconds since the newest successful backup, by trigger (scheduled, manual); absent when there is none (cluster-wide).', ['trigger']);

    this.registrations = counter('certfleet_device_registrations_total', 'Devices registered through this node\'s device port.');
    this.refusals = counter('certfleet_device_registrations_refused_total', 'Registrations this node refused, by the error code the device was answered with.', ['reason']);
    this.checkIns = counter('certfleet_device_check_ins_total', 'Check-ins answered by this node.');
    this.handshakes = counter('certfleet_device_handshakes_total', 'TLS handshakes begun on this node\'s device port, by where they run: on="thread" (full handshakes, on the handshake threads), on="event_loop" (resumptions, or all with --device-handshake-threads 0).', ['on']);
    this.handshakeFailures = counter('certfleet_device_handshake_failures_total', 'TLS handshakes on this node\'s device port that did not finish, by reason (unknown_pin, tls_error, timeout).', ['reason']);
    this.passDuration = new Histogram<'result'>({
      name: 'certfleet_rotation_pass_duration_seconds',
      help: 'Duration of the rotation passes this node ran (as leader), by result (ok, failed).',
      labelNames: ['result'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.scheduled = counter('certfleet_rotation_devices_scheduled_total', 'Devices the rotation passes of this node gave a pending replacement.');
    this.leader = gauge('certfleet_leader', '1 while this node holds the rotation lease (runs the rotation, backups and the expiry report), else 0.');
    if (o.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  registered(): void {
    this.registrations.inc();
  }

  registrationRefused(reason: string): void {
    this.refusals.inc({ reason });
  }

  checkedIn(): void {
    this.checkIns.inc();
  }

  handshakeStarted(on: HandshakePlace): void {
    this.handshakes.inc({ on });
  }

  handshakeFailed(reason: HandshakeFailure): void {
    this.handshakeFailures.inc({ reason });
  }

  /** Wraps a rotation pass: its duration, its result and the devices it scheduled. */
  async timeRotation(pass: () => Promise<RotationReport>): Promise<RotationReport> {
    const end = this.passDuration.startTimer();
    try {
      const report = await pass();
      end({ result: 'ok' });
      this.scheduled.inc(report.scheduled);
      return report;
    } catch (e) {
      end({ result: 'failed' });
      throw e;
    }
  }

  /** The text exposition, with the database's gauges read now. */
  async scrape(): Promise<{ readonly contentType: string; readonly body: string }> {
    await this.readDatabase();
    this.leader.set(this.isLeader() ? 1 : 0);
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** One query per family, all at once; each family is replaced whole, so a deleted entry disappears. */
  private async readDatabase(): Promise<void> {
    const { store, clock } = this.ctx;
    const [certificates, settings, cohorts, lastRun, backups] = await Promise.all([
      store.keystore.list(),
      readSettings(store.meta),
      store.rotation.cohortsByProfile(),
      store.rotation.lastRun(),
      store.backups.listRuns(50),
    ]);
    const now = clock.now();
    const seen = new Set<string>();
    for (const g of [this.certificateDevices, this.daysUntilExpiry, this.expiryWarning, this.expired, this.isDefault, this.profileDevices, this.backupAge]) g.reset();
    this.warningWindow.set(settings.expiryWarningDays);
    for (const c of certificates) {
      const s = expiryStatus(c.facts.notAfter, c.usage, now, settings.expiryWarningDays);
      this.certificateDevices.set({ alias: c.alias, state: 'pinned' }, c.usage.pinned);
      this.certificateDevices.set({ alias: c.alias, state: 'pending' }, c.usage.pending);
      this.daysUntilExpiry.set({ alias: c.alias }, s.daysLeft);
      this.expiryWarning.set({ alias: c.alias }, s.expiryWarning ? 1 : 0);
      this.expired.set({ alias: c.alias }, s.expired ? 1 : 0);
      this.isDefault.set({ alias: c.alias }, c.position === 1 ? 1 : 0);
    }
    const perProfile = new Map<string, number>();
    for (const c of cohorts) perProfile.set(c.profile ?? UNKNOWN_PROFILE, (perProfile.get(c.profile ?? UNKNOWN_PROFILE) ?? 0) + c.count);
    for (const [profile, n] of perProfile) this.profileDevices.set({ profile }, n);
    this.lastPass.set(lastRun ? seconds(lastRun.finishedAt) : 0);
    // Newest first: the first successful run of each trigger is its newest.
    for (const run of backups) {
      if (run.result !== 'ok' || seen.has(run.trigger)) continue;
      seen.add(run.trigger);
      this.backupAge.set({ trigger: run.trigger }, now.getTime() / 1000 - seconds(run.finishedAt));
    }
  }
}
