import { useEffect, useState } from 'preact/hooks';
import { api, enc, get, query } from '../api';
import { ConfirmDialog } from '../components/dialog';
import { DevicesTable } from '../components/devices-table';
import { ErrorMessage, Notice } from '../components/error-message';
import { Pager } from '../components/pager';
import { SearchBox } from '../components/search-box';
import { usePoll } from '../components/use-poll';
import { plural } from '../format';
import { useSession } from '../session';
import { Permission, type DeviceSummary, type DevicePage } from '../types';

const PAGE = 50;

function countText(count: number, search: string, onlyReRegistration: boolean): string {
  if (onlyReRegistration) return search ? `${count} matching, of those that must register again` : `${count} must register again`;
  return search ? `${count} matching` : `${count} registered`;
}

function emptyText(search: string, onlyReRegistration: boolean): string {
  if (onlyReRegistration) return search ? `No device that must register again matches "${search}".` : 'No device must register again.';
  return search ? `No device matches "${search}".` : 'No device has registered yet. Create an enrollment token to register one.';
}

export function DevicesPage() {
  const session = useSession();
  const [search, setSearch] = useState('');
  const [onlyReRegistration, setOnlyReRegistration] = useState(false);
  const [mustRegister, setMustRegister] = useState(0);
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<DevicePage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<DeviceSummary | null>(null);

  const load = () =>
    Promise.all([
      get<DevicePage>(`/devices${query({ search, offset, limit: PAGE, reRegistrationRequired: onlyReRegistration ? 'true' : undefined })}`),
      // How many must register again, whatever the page shows: the warning above the table.
      get<DevicePage>(`/devices${query({ reRegistrationRequired: 'true', limit: 1 })}`),
    ]).then(
      ([p, flagged]) => {
        setPage(p);
        setMustRegister(flagged.count);
        setError(null);
      },
      setError,
    );
  useEffect(() => {
    void load();
  }, [search, offset, onlyReRegistration]);
  usePoll(() => void load(), deleting ? null : 10_000);

  return (
    <>
      <h1 tabIndex={-1}>Devices</h1>
      <p class="intro">The registered devices, the certificate each one pins, and its pending replacement while rotation moves it to the default.</p>
      <div class="filters">
        <SearchBox
          label="Search devices"
          placeholder="name, unit ID or device ID"
          onSearch={(s) => {
            setSearch(s);
            setOffset(0);
          }}
        />
        <label class="inline">
          <input
            type="checkbox"
            checked={onlyReRegistration}
            onChange={(e) => {
              setOnlyReRegistration(e.currentTarget.checked);
              setOffset(0);
            }}
          />{' '}
          Only devices that must register again
        </label>
      </div>
      {mustRegister > 0 ? (
        <div class="message attention" role="note">
          <p>
            {plural(mustRegister, 'device')} must register again after a restore of a backup: give {mustRegister === 1 ? 'it' : 'each'} a new
            enrollment token (<code>certfleet agent --token-file FILE</code>). Until then {mustRegister === 1 ? 'it is' : 'they are'} refused.
          </p>
        </div>
      ) : null}
      <Notice text={notice} />
      <ErrorMessage error={error} />
      {page === null && !error ? <p role="status">Loading the devices…</p> : null}
      {page ? (
        <>
          <p class="count">{countText(page.count, search, onlyReRegistration)}</p>
          {page.devices.length > 0 ? (
            <DevicesTable
              devices={page.devices}
              caption="Registered devices"
              {...(session.can(Permission.manageCertificates) ? { onDelete: setDeleting } : {})}
            />
          ) : (
            <p class="empty">{emptyText(search, onlyReRegistration)}</p>
          )}
          <Pager offset={offset} limit={PAGE} count={page.count} onOffset={setOffset} label="Pages of devices" />
        </>
      ) : null}
      {deleting ? (
        <DeleteDeviceDialog
          device={deleting}
          onClose={() => setDeleting(null)}
          onDone={() => {
            setNotice(`Deleted the device "${deleting.name}". It must register again to talk to certfleet.`);
            setDeleting(null);
            void load();
          }}
        />
      ) : null}
    </>
  );
}

function DeleteDeviceDialog(props: { readonly device: DeviceSummary; readonly onClose: () => void; readonly onDone: () => void }) {
  const d = props.device;
  return (
    <ConfirmDialog
      title={`Delete the device "${d.name}"`}
      confirm="Delete"
      onClose={props.onClose}
      onConfirm={async () => {
        await api<void>('DELETE', `/devices/${enc(d.id)}`);
        props.onDone();
      }}
    >
      <p>
        Forget <strong>{d.name}</strong> ({d.unitId})? Its credential stops working at once; it must register again with an enrollment token.
      </p>
    </ConfirmDialog>
  );
}
