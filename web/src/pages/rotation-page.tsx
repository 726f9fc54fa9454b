import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorMessage, Notice } from '../components/error-message';
import { usePolledGet } from '../components/use-poll';
import { formatDateTime, plural } from '../format';
import { useSession } from '../session';
import { Permission, type RotationReport, type RotationStatus } from '../types';
import { LifecycleTimeline } from './lifecycle-timeline';

/** While devices are on their way to the default the page follows them closely; otherwise now and then. */
const LIVE_MS = 2_000;
const IDLE_MS = 15_000;

const STATS = [
  ['onDefault', 'On the default'],
  ['pending', 'Pending'],
  ['staying', 'Staying'],
  ['total', 'Registered'],
] as const satisfies readonly (readonly [keyof RotationStatus, string])[];

const REPORT_COUNTS = [
  ['checked', 'Checked'],
  ['scheduled', 'Scheduled'],
  ['awaitingConfirmation', 'Awaiting confirmation'],
  ['incompatible', 'Incompatible'],
  ['alreadyCurrent', 'Already current'],
] as const satisfies readonly (readonly [keyof RotationReport, string])[];

export function RotationPage() {
  const session = useSession();
  const [notice, setNotice] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const [actionError, setError] = useState<unknown>(null);
  const { data: status, error: loadError, reload: load } = usePolledGet<RotationStatus>('/sync/status', (s) =>
    running || (s !== null && s.pending > 0) ? LIVE_MS : IDLE_MS,
  );
  const error = actionError ?? loadError;
  const live = running || (status !== null && status.pending > 0);

  const runNow = async () => {
    setRunning(true);
    setNotice(null);
    setError(null);
    try {
      const report = await api<RotationReport>('POST', '/sync/run');
      setNotice(
        `Rotation ran: ${plural(report.checked, 'device')} checked, ${report.scheduled} given the default as a pending replacement, ` +
          `${report.incompatible} staying on their certificate, ${report.alreadyCurrent} already on the default.`,
      );
      await load();
    } catch (e) {
      setError(e);
    } finally {
      setRunning(false);
    }
  };

  const s = status;
  return (
    <>
      <h1 tabIndex={-1}>Rotation</h1>
      <p class="intro">
        certfleet compares every device's certificate with the default every few minutes, and at once when the default changes. A device that
        supports the default gets it as a pending replacement and switches at its next check-in; a device whose firmware does not support it keeps
        its certificate.
      </p>
      {session.can(Permission.manageCertificates) ? (
        <div class="toolbar">
          <button type="button" class="primary" onClick={runNow} disabled={running}>
            Run now
          </button>
          {running ? (
            <span class="busy" role="status">
              Running…
            </span>
          ) : null}
        </div>
      ) : null}
      <Notice text={notice} />
      <ErrorMessage error={error} />
      {s === null && !error ? <p role="status">Loading the rotation status…</p> : null}
      {s ? (
        <>
          <p class="live" aria-live="off">
            {live ? 'Devices are switching — updated every 2 seconds.' : 'No device is switching now.'}
          </p>
          <section aria-labelledby="progress-title" class="panel">
            <h2 id="progress-title">
              Progress to the default <span class="alias">{s.defaultAlias}</span>
            </h2>
            <progress max={Math.max(1, s.total)} value={s.onDefault} aria-label="Devices on the default">
              {s.onDefault} of {s.total}
            </progress>
            <dl class="stats" aria-live="polite">
              {STATS.map(([key, label]) => (
                <div key={key}>
                  <dt>{label}</dt>
                  <dd data-stat={key}>{s[key]}</dd>
                </div>
              ))}
            </dl>
            <p class="hint">
              Pending: devices that have the default as a replacement and have not confirmed it yet. Staying: devices whose firmware does not support
              the default; they keep their certificate.
            </p>
          </section>
          <section aria-labelledby="last-run-title" class="panel">
            <h2 id="last-run-title">Last run</h2>
            {s.lastRun ? (
              <dl class="fields">
                <div>
                  <dt>Finished</dt>
                  <dd>{formatDateTime(s.lastRun.finishedAt)}</dd>
                </div>
                <div>
                  <dt>Default</dt>
                  <dd>{s.lastRun.defaultAlias}</dd>
                </div>
                {REPORT_COUNTS.map(([key, label]) => (
                  <div key={key}>
                    <dt>{label}</dt>
                    <dd>{s.lastRun?.[key]}</dd>
                  </div>
                ))}
              </dl>
            ) : (
              <p class="empty">Rotation has not run since the server started.</p>
            )}
          </section>
        </>
      ) : null}
      <LifecycleTimeline />
    </>
  );
}
