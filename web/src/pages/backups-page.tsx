import { ErrorMessage } from '../components/error-message';
import { usePolledGet } from '../components/use-poll';
import { countsText, formatBytes, formatDateTime } from '../format';
import type { BackupList, BackupRunView } from '../types';

/** Scheduled backups come hours apart; a poll now and then shows one soon after it is written. */
const POLL_MS = 30_000;

/** "ok" or "failed" as a badge; a result this console does not know, as the server named it. */
function Result({ run }: { readonly run: BackupRunView }) {
  if (run.result === 'ok') return <span class="badge active">ok</span>;
  return <span class="badge failed">{run.result}</span>;
}

/** Where the backup went: the file a scheduled backup was written to, or the caller's download. */
function fileText(run: BackupRunView): string {
  if (run.file !== null) return run.file;
  return run.result === 'ok' ? '(downloaded by the caller)' : '—';
}

/** "2026-01-02 03:04:05, ok, 12.3 MB, scheduled": the "time, size, result" of the last backup. */
function lastBackupText(run: BackupRunView): string {
  const parts = [formatDateTime(run.finishedAt), run.result];
  if (run.result === 'ok') parts.push(formatBytes(run.sizeBytes));
  parts.push(run.trigger);
  return `Last backup: ${parts.join(', ')}`;
}

/**
 * The backups the servers wrote (B1, scheduled backups), newest first, the last one on top. Backups
 * are made and restored with the CLI (the passphrase never passes through a browser); this page
 * shows whether they happen.
 */
export function BackupsPage() {
  const { data, error } = usePolledGet<BackupList>('/backups', POLL_MS);
  const last = data?.runs[0] ?? null;
  return (
    <>
      <h1 tabIndex={-1}>Backups</h1>
      <p class="intro">
        A backup holds the whole state — the keystore with its private keys, devices, enrollment tokens, the compatibility table, accounts, the
        automatic successors (settings, successions, timeline) and the audit log — encrypted under a passphrase (age). It restores on another machine, with another master key.
      </p>
      <ErrorMessage error={error} />
      {data === null && !error ? <p role="status">Loading the backups…</p> : null}
      {data !== null && last === null ? <p class="empty">No backup has been written yet.</p> : null}
      {last !== null ? (
        <section class={`panel last-backup ${last.result === 'ok' ? 'ok' : 'failed'}`} aria-labelledby="last-backup-title" aria-live="polite">
          <h2 id="last-backup-title">{lastBackupText(last)}</h2>
          {last.result !== 'ok' && last.error !== null ? (
            <p class="message error" role="alert">
              {last.error}
            </p>
          ) : null}
          <p class="hint">
            {fileText(last)} · {countsText(last.counts)}
          </p>
        </section>
      ) : null}
      {data !== null && data.runs.length > 0 ? (
        <table class="grid backups">
          <caption class="sr-only">Backups, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Finished</th>
              <th scope="col">Trigger</th>
              <th scope="col">Result</th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col">File</th>
              <th scope="col">Rows</th>
            </tr>
          </thead>
          <tbody>
            {data.runs.map((r) => (
              <tr key={r.id} data-run={r.id} class={r.result === 'ok' ? '' : 'failed'}>
                <td class="nowrap">{formatDateTime(r.finishedAt)}</td>
                <td>{r.trigger}</td>
                <td>
                  <Result run={r} />
                  {r.error !== null ? <div class="error-text">{r.error}</div> : null}
                </td>
                <td class="num nowrap">{formatBytes(r.sizeBytes)}</td>
                <td class="mono-wrap">{fileText(r)}</td>
                <td class="counts">{countsText(r.counts)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {data !== null ? (
        <section class="panel" aria-labelledby="how-title">
          <h2 id="how-title">Making backups</h2>
          <dl class="fields">
            <div>
              <dt>On a schedule</dt>
              <dd>
                <code>certfleet serve --backup-dir DIR --backup-passphrase-file F</code>{' '}
                <span class="hint">(the leader writes one every 24 hours, <code>--backup-every</code>, and keeps the newest 7, <code>--backup-keep</code>)</span>
              </dd>
            </div>
            <div>
              <dt>Now</dt>
              <dd>
                <code>certfleet backup create --out FILE --passphrase-file F</code>
              </dd>
            </div>
            <div>
              <dt>Restore</dt>
              <dd>
                <code>certfleet backup restore FILE --passphrase-file F --dry-run</code>{' '}
                <span class="hint">first: it lists the devices that would have to register again</span>
              </dd>
            </div>
          </dl>
        </section>
      ) : null}
    </>
  );
}
