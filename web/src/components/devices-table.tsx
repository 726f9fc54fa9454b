import type { DeviceSummary } from '../types';
import { formatDateTime, reRegistrationText } from '../format';

/** After a restore: this device cannot go on as it was and needs a new enrollment token (B2). */
function ReRegistration({ device }: { readonly device: DeviceSummary }) {
  const reason = reRegistrationText(device.reRegistrationReason);
  return (
    <span class="re-registration">
      <span class="badge attention">Re-registration required</span>
      {reason !== null ? <span class="reason">{reason}</span> : null}
    </span>
  );
}

/** Devices as a table; `relativeTo` shows how each one uses that certificate instead of the certificate columns. */
export function DevicesTable(props: {
  readonly devices: readonly DeviceSummary[];
  readonly relativeTo?: string;
  readonly caption: string;
  readonly onDelete?: (device: DeviceSummary) => void;
}) {
  const { devices, relativeTo } = props;
  return (
    <table class="grid">
      <caption class="sr-only">{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Unit ID</th>
          <th scope="col">Operating system</th>
          <th scope="col">Profile</th>
          {relativeTo === undefined ? (
            <>
              <th scope="col">Certificate</th>
              <th scope="col">Pending replacement</th>
            </>
          ) : (
            <th scope="col">Uses it</th>
          )}
          <th scope="col">Last contact</th>
          {props.onDelete ? (
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          ) : null}
        </tr>
      </thead>
      <tbody>
        {devices.map((d) => (
          <tr key={d.id} data-device={d.id} class={d.reRegistrationRequired ? 're-register' : ''}>
            <td class="nowrap">
              {d.name}
              {d.reRegistrationRequired ? <ReRegistration device={d} /> : null}
            </td>
            <td class="mono nowrap">{d.unitId}</td>
            <td>
              {d.osFamily} {d.osVersion}
            </td>
            <td class="nowrap">{d.profile ?? '—'}</td>
            {relativeTo === undefined ? (
              <>
                <td class="nowrap">{d.certificateAlias}</td>
                <td class="nowrap">{d.pendingCertificateAlias ?? '—'}</td>
              </>
            ) : (
              <td>
                {d.pendingCertificateAlias === relativeTo
                  ? `pending replacement (pins ${d.certificateAlias})`
                  : d.pendingCertificateAlias
                    ? `pins it; moving to ${d.pendingCertificateAlias}`
                    : 'pins it'}
              </td>
            )}
            <td class="nowrap">{formatDateTime(d.lastContactAt)}</td>
            {props.onDelete ? (
              <td class="row-actions">
                <button type="button" class="small danger" onClick={() => props.onDelete?.(d)} aria-label={`Delete device ${d.name}`}>
                  Delete
                </button>
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
