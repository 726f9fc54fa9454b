import { useEffect, useState } from 'preact/hooks';
import { get, query } from '../api';
import { ErrorMessage } from '../components/error-message';
import { formatDateTime } from '../format';
import type { AuditEvent } from '../types';

const PAGE = 50;

function detailsText(details: Readonly<Record<string, unknown>>): string {
  return Object.entries(details)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('; ');
}

export function AuditPage() {
  const [events, setEvents] = useState<readonly AuditEvent[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [more, setMore] = useState(true);
  const [error, setError] = useState<unknown>(null);

  const load = async (beforeId?: number) => {
    try {
      const page = await get<AuditEvent[]>(`/audit${query({ limit: PAGE, beforeId })}`);
      setEvents((prev) => (beforeId === undefined ? page : [...prev, ...page]));
      setMore(page.length === PAGE);
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setLoaded(true);
    }
  };
  useEffect(() => {
    void load();
  }, []);

  return (
    <>
      <h1 tabIndex={-1}>Audit log</h1>
      <p class="intro">Every change and every refused attempt: who, what, when and the result. Newest first.</p>
      <div class="toolbar">
        <button type="button" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={error} />
      {!loaded ? <p role="status">Loading the audit log…</p> : null}
      {events.length > 0 ? (
        <table class="grid audit">
          <caption class="sr-only">Audit log, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Result</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id} class={e.result === 'ok' ? undefined : 'refused'}>
                <td class="nowrap">{formatDateTime(e.at)}</td>
                <td>{e.actor}</td>
                <td class="mono">{e.action}</td>
                <td>{e.target ?? '—'}</td>
                <td>
                  {e.result}
                  {e.code ? <small class="code"> {e.code}</small> : null}
                </td>
                <td class="details">{detailsText(e.details)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : loaded && !error ? (
        <p class="empty">The audit log is empty.</p>
      ) : null}
      {more && events.length > 0 ? (
        <div class="toolbar">
          <button type="button" onClick={() => void load(events[events.length - 1]?.id)}>
            Older events
          </button>
        </div>
      ) : null}
    </>
  );
}
