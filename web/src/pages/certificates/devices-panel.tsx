import { useEffect, useId, useState } from 'preact/hooks';
import { enc, get, query } from '../../api';
import { DevicesTable } from '../../components/devices-table';
import { ErrorMessage } from '../../components/error-message';
import { Pager } from '../../components/pager';
import { SearchBox } from '../../components/search-box';
import type { CertificateSummary, DevicePage } from '../../types';

const PAGE = 20;

/** K10: the devices that pin the selected certificate or have it as a pending replacement. */
export function DevicesPanel(props: { readonly certificate: CertificateSummary | null; readonly refreshKey: number }) {
  const c = props.certificate;
  const headingId = useId();
  const [search, setSearch] = useState('');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<DevicePage | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setOffset(0);
    setPage(null);
  }, [c?.alias, search]);

  useEffect(() => {
    if (!c) return;
    let live = true;
    get<DevicePage>(`/certificates/${enc(c.alias)}/devices${query({ search, offset, limit: PAGE })}`).then(
      (p) => {
        if (!live) return;
        setPage(p);
        setError(null);
      },
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [c?.alias, search, offset, props.refreshKey]);

  // The count of the list itself, so title and list agree; before it loads, the keystore's count.
  const total = c ? (search === '' && page ? page.count : c.deviceCount + c.pendingDeviceCount) : 0;
  return (
    <section class="panel" aria-labelledby={headingId}>
      <h2 id={headingId}>Devices which use the selected certificate ({total})</h2>
      {!c ? (
        <p class="hint">Select a certificate in the list to see the devices that use it.</p>
      ) : (
        <>
          <SearchBox label="Search devices" placeholder="name, unit ID or device ID" onSearch={setSearch} />
          <ErrorMessage error={error} />
          {page && page.count === 0 ? (
            <p class="empty">{search ? `No device using "${c.alias}" matches "${search}".` : `No device uses "${c.alias}".`}</p>
          ) : null}
          {page && page.devices.length > 0 ? <DevicesTable devices={page.devices} relativeTo={c.alias} caption={`Devices which use ${c.alias}`} /> : null}
          {page ? <Pager offset={offset} limit={PAGE} count={page.count} onOffset={setOffset} label="Pages of devices" /> : null}
        </>
      )}
    </section>
  );
}
