import { ErrorMessage } from '../components/error-message';
import { usePolledGet } from '../components/use-poll';
import { daysLeftText, formatDateTime, plural } from '../format';
import type { LifecycleStatus } from '../types';

/** The lifecycle moves in days and weeks: a look now and then is enough. */
const POLL_MS = 30_000;

type LifecycleEventView = LifecycleStatus['events'][number];

const STEP_TITLES: Readonly<Record<LifecycleEventView['step'], string>> = {
  generated: 'Successor generated',
  promoted: 'Successor in use',
  deactivated: 'Old certificate deactivated',
  deleted: 'Old certificate deleted',
  blocked: 'Step held back',
  ended: 'Ended by a restore',
};

function text(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** One line saying what the step did, from the details the server recorded. */
function describe(e: LifecycleEventView): string {
  const d = e.details;
  const role = text(d.role) === 'fallback' ? 'legacy fallback' : 'default';
  switch (e.step) {
    case 'generated':
      return `${e.alias} was made to replace the ${role} ${text(d.replaces) ?? ''} (${text(d.signatureAlgorithm) ?? ''}, ${String(d.keySize ?? '')} bits, ${String(d.days ?? '')} days); it waits, inactive, for the window.`;
    case 'promoted': {
      const preview = d.preview as { switching?: { total?: number }; staying?: { total?: number } } | undefined;
      const moves = preview ? ` Preview: ${plural(preview.switching?.total ?? 0, 'device')} switching, ${preview.staying?.total ?? 0} staying on their certificate.` : '';
      return `${e.alias} became the ${role} in place of ${text(d.replaces) ?? ''}; the rotation moves the devices.${moves}`;
    }
    case 'deactivated':
      return `No device uses ${e.alias} any more (replaced by ${text(d.replacedBy) ?? ''}); it is never chosen again.`;
    case 'deleted':
      return `${e.alias} was deleted after the retire-after period.`;
    case 'blocked':
      return `Not done (${text(d.step) ?? ''}): ${text(d.reason) ?? ''}.`;
    case 'ended': {
      const missing = Array.isArray(d.missing) ? d.missing.map(String) : [];
      return `The succession of ${e.alias} by ${text(d.successor) ?? ''} was ended by a restore: its ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not in the restored keystore.`;
    }
  }
}

/** The automatic successors on the Rotation page: settings, certificates looked after, and the timeline. */
export function LifecycleTimeline() {
  const { data, error } = usePolledGet<LifecycleStatus>('/lifecycle', POLL_MS);
  return (
    <section aria-labelledby="lifecycle-title" class="panel lifecycle">
      <h2 id="lifecycle-title">Automatic successors</h2>
      <ErrorMessage error={error} />
      {data === null && !error ? <p role="status">Loading the lifecycle…</p> : null}
      {data ? (
        <>
          {data.settings.enabled ? (
            <p data-lifecycle="on">
              On: a successor is made {plural(data.settings.renewBeforeDays, 'day')} before a certificate expires and takes over in the window{' '}
              <strong>{data.settings.window}</strong> (UTC){data.nextWindow ? <>, next on {formatDateTime(data.nextWindow)}</> : null}; an old certificate
              is deleted {plural(data.settings.retireAfterDays, 'day')} after it was deactivated.
            </p>
          ) : (
            <p data-lifecycle="off" class="empty">
              Off. An administrator turns it on with <code>certfleet lifecycle set --renew-before 90d --window "Sat 02:00-05:00"</code>.
            </p>
          )}
          {data.tracked.length > 0 ? (
            <table class="grid compact">
              <caption>Certificates looked after</caption>
              <thead>
                <tr>
                  <th scope="col">Certificate</th>
                  <th scope="col">Role</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Successor from</th>
                </tr>
              </thead>
              <tbody>
                {data.tracked.map((t) => (
                  <tr key={t.alias}>
                    <td class="alias">{t.alias}</td>
                    <td>{t.role === 'fallback' ? 'legacy fallback' : 'default'}</td>
                    <td>
                      {formatDateTime(t.notAfter)} ({daysLeftText(t.daysUntilExpiry)})
                    </td>
                    <td>{formatDateTime(t.renewFrom)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          <h3>Timeline</h3>
          {data.events.length === 0 ? (
            <p class="empty">Nothing has happened yet.</p>
          ) : (
            <ol class="timeline" aria-label="Lifecycle timeline, newest first">
              {data.events.map((e) => (
                <li key={e.id} data-step={e.step}>
                  <time dateTime={e.at}>{formatDateTime(e.at)}</time>
                  <span class="step">{STEP_TITLES[e.step]}</span>
                  <span class="alias">{e.alias}</span>
                  <p>{describe(e)}</p>
                </li>
              ))}
            </ol>
          )}
        </>
      ) : null}
    </section>
  );
}
