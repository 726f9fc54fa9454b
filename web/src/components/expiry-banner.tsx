/**
 * L1 at the top of every page: the certificates that devices use and that expire within the
 * warning window (amber) or have expired (red, an error: those devices are cut off), each with the
 * devices it carries. The server decides (`expiryWarning`, `expired`); nothing shows when all is well.
 */
import { usePolledGet } from './use-poll';
import { daysLeftText, plural } from '../format';
import type { CertificateSummary } from '../types';

const POLL_MS = 60_000;

function devicesText(c: CertificateSummary): string {
  return `${plural(c.deviceCount, 'device')}${c.pendingDeviceCount > 0 ? ` (+${c.pendingDeviceCount} pending)` : ''}`;
}

export function ExpiryBanner() {
  const { data } = usePolledGet<CertificateSummary[]>('/certificates', POLL_MS);
  const flagged = (data ?? []).filter((c) => c.expiryWarning);
  if (flagged.length === 0) return null;
  const expired = flagged.filter((c) => c.expired);
  const expiring = flagged.filter((c) => !c.expired);
  return (
    <>
      {expired.length > 0 ? (
        <div class="expiry-banner expired-level" role="alert" data-level="expired">
          <p>
            <strong>Expired certificate{expired.length > 1 ? 's' : ''} in use.</strong> Devices that pin {expired.length > 1 ? 'them' : 'it'} cannot reach
            the server. Make a valid certificate the default now.
          </p>
          <ul>
            {expired.map((c) => (
              <li key={c.alias} data-alias={c.alias}>
                <strong class="alias">{c.alias}</strong>: {daysLeftText(c.daysUntilExpiry)}, carries {devicesText(c)}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {expiring.length > 0 ? (
        <div class="expiry-banner warning-level" role="status" data-level="warning">
          <p>
            <strong>Certificate{expiring.length > 1 ? 's' : ''} in use expiring soon.</strong> Make a successor the default before{' '}
            {expiring.length > 1 ? 'they expire' : 'it expires'}.
          </p>
          <ul>
            {expiring.map((c) => (
              <li key={c.alias} data-alias={c.alias}>
                <strong class="alias">{c.alias}</strong>: {daysLeftText(c.daysUntilExpiry)} (until {c.notAfter.slice(0, 10)}), carries {devicesText(c)}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </>
  );
}
