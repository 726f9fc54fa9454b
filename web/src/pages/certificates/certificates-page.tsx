/**
 * Certificate Management, the console's main screen: the keystore in priority order, the actions
 * of SPEC section 1 in a toolbar above it, and the devices of the selected certificate below.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, enc, get } from '../../api';
import { ErrorMessage, Notice } from '../../components/error-message';
import { usePoll } from '../../components/use-poll';
import { daysLeftText, formatDate, plural } from '../../format';
import { useSession } from '../../session';
import type { CertificateSummary } from '../../types';
import { ACTION_LABELS, actionStates, ACTIONS, type Action } from './actions';
import { DevicesPanel } from './devices-panel';
import {
  ContentDialog,
  DeleteDialog,
  ExportCertificateDialog,
  ExportKeyPairDialog,
  GenerateDialog,
  ImportDialog,
  MakeDefaultDialog,
} from './dialogs';

/**
 * The list and the devices panel follow changes made elsewhere (other administrators, rotation):
 * closely while devices are switching certificates, now and then otherwise.
 */
const LIVE_MS = 2_000;
const REFRESH_MS = 5_000;

/** The actions that open a dialog; the others (move, activate, deactivate) act at once. */
type DialogAction = Exclude<Action, 'moveUp' | 'moveDown' | 'activate' | 'deactivate'>;
type OpenDialog = DialogAction | null;

const IMMEDIATE: Readonly<Record<Exclude<Action, DialogAction>, { readonly path: string; readonly done: (alias: string) => string }>> = {
  moveUp: { path: 'move-up', done: (a) => `Moved "${a}" up.` },
  moveDown: { path: 'move-down', done: (a) => `Moved "${a}" down.` },
  activate: { path: 'activate', done: (a) => `Activated "${a}": it can be chosen for new registrations.` },
  deactivate: { path: 'deactivate', done: (a) => `Deactivated "${a}": new devices will not get it; devices that use it keep it.` },
};

function isImmediate(action: Action): action is Exclude<Action, DialogAction> {
  return action in IMMEDIATE;
}

export function CertificatesPage() {
  const session = useSession();
  const [list, setList] = useState<readonly CertificateSummary[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [dialog, setDialog] = useState<OpenDialog>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [refreshKey, setRefreshKey] = useState(0);

  const show = (next: readonly CertificateSummary[]) => {
    setList(next);
    setRefreshKey((k) => k + 1);
    setSelected((current) => (current && next.some((c) => c.alias === current) ? current : (next[0]?.alias ?? null)));
  };
  const load = () =>
    get<CertificateSummary[]>('/certificates').then(show, (e: unknown) => {
      setError(e);
    });
  useEffect(() => {
    void load();
  }, []);
  const switching = list?.some((c) => c.pendingDeviceCount > 0) ?? false;
  usePoll(() => void load(), dialog !== null ? null : switching ? LIVE_MS : REFRESH_MS);

  const certificate = list?.find((c) => c.alias === selected) ?? null;
  const states = actionStates(list ?? [], selected, session.can);

  const done = (message: string, next?: readonly CertificateSummary[]) => {
    setDialog(null);
    setError(null);
    setNotice(message);
    if (next) show(next);
    else void load();
  };

  const runImmediate = async (action: Exclude<Action, DialogAction>) => {
    const step = IMMEDIATE[action];
    if (!certificate) return;
    setBusy(true);
    setNotice(null);
    setError(null);
    try {
      const next = await api<CertificateSummary[]>('POST', `/certificates/${enc(certificate.alias)}/${step.path}`);
      done(step.done(certificate.alias), next);
    } catch (e) {
      setError(e);
      void load();
    } finally {
      setBusy(false);
    }
  };

  const click = (action: Action) => {
    setNotice(null);
    if (isImmediate(action)) void runImmediate(action);
    else setDialog(action);
  };

  return (
    <>
      <h1 tabIndex={-1}>Certificate Management</h1>
      <p class="intro">
        The server certificates for the communication between certfleet and the devices, in priority order. The certificate at the top is the
        default: new devices get it, and every registered device whose firmware supports it is moved to it. A device that does not support the
        default gets the first active certificate, from the top, that it supports.
      </p>
      <div class="toolbar" aria-label="Certificate actions" role="group">
        {ACTIONS.map((action) => {
          const s = states[action];
          if (s.kind === 'hidden') return null;
          const reasonId = `reason-${action}`;
          return (
            <span key={action} class="toolbar-item">
              <button
                type="button"
                disabled={busy || s.kind === 'disabled'}
                title={s.kind === 'disabled' ? s.reason : undefined}
                aria-describedby={s.kind === 'disabled' ? reasonId : undefined}
                onClick={() => click(action)}
                class={action === 'delete' ? 'danger-outline' : undefined}
              >
                {ACTION_LABELS[action]}
              </button>
              {s.kind === 'disabled' ? (
                <span id={reasonId} hidden>
                  {s.reason}
                </span>
              ) : null}
            </span>
          );
        })}
      </div>
      <Notice text={notice} />
      <ErrorMessage error={error} />
      {list === null ? (
        !error ? <p role="status">Loading the certificates…</p> : null
      ) : (
        <CertificateTable list={list} selected={selected} onSelect={setSelected} />
      )}
      <DevicesPanel certificate={certificate} refreshKey={refreshKey} />

      {dialog === 'import' ? (
        <ImportDialog
          onClose={() => setDialog(null)}
          onDone={(c) => {
            setSelected(c.alias);
            done(
              `Imported "${c.alias}" (${c.signatureAlgorithm}, ${c.subject}). It is at the bottom of the list, active.` +
                (c.integrityCheck === 'none' ? ' The file had no integrity check (no MAC): compare its SHA-256 fingerprint with its source.' : ''),
            );
          }}
        />
      ) : null}
      {dialog === 'generate' ? (
        <GenerateDialog
          onClose={() => setDialog(null)}
          onDone={(c) => {
            setSelected(c.alias);
            done(`Generated "${c.alias}" (${c.signatureAlgorithm}, ${c.keyAlgorithm} ${c.keySize}). It is at the bottom of the list, active.`);
          }}
        />
      ) : null}
      {certificate && dialog === 'delete' ? (
        <DeleteDialog certificate={certificate} onClose={() => setDialog(null)} onDone={() => done(`Deleted "${certificate.alias}".`)} />
      ) : null}
      {certificate && dialog === 'makeDefault' ? (
        <MakeDefaultDialog
          certificate={certificate}
          onClose={() => setDialog(null)}
          onDone={(next) => done(`"${certificate.alias}" is the default now. Devices that support it are being moved to it.`, next)}
        />
      ) : null}
      {certificate && dialog === 'exportCertificate' ? <ExportCertificateDialog certificate={certificate} onClose={() => setDialog(null)} /> : null}
      {certificate && dialog === 'exportKeyPair' ? <ExportKeyPairDialog certificate={certificate} onClose={() => setDialog(null)} /> : null}
      {certificate && dialog === 'showContent' ? <ContentDialog certificate={certificate} onClose={() => setDialog(null)} /> : null}
    </>
  );
}

function CertificateTable(props: { readonly list: readonly CertificateSummary[]; readonly selected: string | null; readonly onSelect: (alias: string) => void }) {
  return (
    <table class="grid certificates">
      <caption class="sr-only">Certificates in priority order; the first is the default.</caption>
      <thead>
        <tr>
          <th scope="col">
            <span class="sr-only">Selected</span>
          </th>
          <th scope="col" class="num">
            #
          </th>
          <th scope="col">Alias</th>
          <th scope="col">Default</th>
          <th scope="col">State</th>
          <th scope="col">Signature algorithm</th>
          <th scope="col">Key</th>
          <th scope="col">Valid until</th>
          <th scope="col" class="num">
            Devices
          </th>
        </tr>
      </thead>
      <tbody>
        {props.list.map((c) => {
          const isSelected = c.alias === props.selected;
          // L1: the server decides (in use, within the warning window or expired).
          const warn = c.expiryWarning;
          return (
            <tr key={c.alias} class={isSelected ? 'selected' : undefined} onClick={() => props.onSelect(c.alias)} data-alias={c.alias}>
              <td>
                <input type="radio" name="certificate" checked={isSelected} aria-label={`Select ${c.alias}`} onChange={() => props.onSelect(c.alias)} />
              </td>
              <td class="num">{c.position}</td>
              <td class="alias">{c.alias}</td>
              <td>{c.isDefault ? <span class="badge default">Default</span> : null}</td>
              <td>{c.active ? <span class="badge active">Active</span> : <span class="badge inactive">Inactive</span>}</td>
              <td>{c.signatureAlgorithm}</td>
              <td>
                {c.keyAlgorithm} {c.keySize}
                {c.curve ? ` (${c.curve})` : ''}
              </td>
              <td class={warn ? (c.expired ? 'expiry expired' : 'expiry warn') : 'expiry'}>
                {formatDate(c.notAfter)} <span class="days">({daysLeftText(c.daysUntilExpiry)})</span>
                {warn ? (
                  <span class="warning" role="img" aria-label={c.expired ? 'Expired and in use' : 'Expires soon and in use'} title={c.expired ? 'Expired, and devices use it' : 'Expires within the warning window, and devices use it'}>
                    !
                  </span>
                ) : null}
              </td>
              <td class="num">
                {c.deviceCount}
                {c.pendingDeviceCount > 0 ? <span class="pending"> (+{c.pendingDeviceCount} pending)</span> : null}
              </td>
            </tr>
          );
        })}
      </tbody>
      <tfoot>
        <tr>
          <td colSpan={9} class="hint">
            {plural(props.list.length, 'certificate')}, {props.list.filter((c) => c.active).length} active.
          </td>
        </tr>
      </tfoot>
    </table>
  );
}
