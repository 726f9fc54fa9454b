import { useState } from 'preact/hooks';
import { api, enc } from '../api';
import { ConfirmDialog, useAction } from '../components/dialog';
import { ErrorMessage, Notice } from '../components/error-message';
import { usePolledGet } from '../components/use-poll';
import { formatDateTime } from '../format';
import { useSession } from '../session';
import { type CreateEnrollmentTokenBody, type EnrollmentToken, type IssuedEnrollmentToken, Permission } from '../types';
import { ShownOnce } from '../components/shown-once';

const UNITS = { minutes: 60, hours: 3600, days: 86400 } as const;
type Unit = keyof typeof UNITS;

const STATE_NAMES: Readonly<Record<EnrollmentToken['state'], string>> = { active: 'Active', used: 'Used up', expired: 'Expired', revoked: 'Revoked' };

export function EnrollmentPage() {
  const session = useSession();
  const mayChange = session.can(Permission.manageCertificates);
  const [notice, setNotice] = useState<string | null>(null);
  const [issued, setIssued] = useState<IssuedEnrollmentToken | null>(null);
  const [revoking, setRevoking] = useState<EnrollmentToken | null>(null);

  const { data: tokens, error, reload: load } = usePolledGet<EnrollmentToken[]>('/enrollment-tokens', null);

  return (
    <>
      <h1 tabIndex={-1}>Enrollment tokens</h1>
      <p class="intro">
        A device registers with an enrollment token. A token allows a number of registrations until it expires, and can be bound to one unit ID
        (MAC address). The token itself is shown once, when it is created.
      </p>
      {mayChange ? (
        <CreateTokenForm
          onCreated={(t) => {
            setIssued(t);
            setNotice(null);
            void load();
          }}
        />
      ) : null}
      {issued ? <IssuedToken token={issued} onDismiss={() => setIssued(null)} /> : null}
      <Notice text={notice} />
      <ErrorMessage error={error} />
      {tokens === null && !error ? <p role="status">Loading the tokens…</p> : null}
      {tokens && tokens.length === 0 ? <p class="empty">No enrollment token yet.</p> : null}
      {tokens && tokens.length > 0 ? (
        <table class="grid">
          <caption class="sr-only">Enrollment tokens</caption>
          <thead>
            <tr>
              <th scope="col">Token ID</th>
              <th scope="col">State</th>
              <th scope="col" class="num">
                Uses left
              </th>
              <th scope="col">Expires</th>
              <th scope="col">Unit ID</th>
              <th scope="col">Created by</th>
              <th scope="col">Created</th>
              {mayChange ? (
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <td class="mono">{t.id.slice(0, 8)}</td>
                <td>
                  <span class={`badge ${t.state === 'active' ? 'active' : 'inactive'}`}>{STATE_NAMES[t.state]}</span>
                </td>
                <td class="num">
                  {t.usesLeft} of {t.usesAllowed}
                </td>
                <td>{formatDateTime(t.expiresAt)}</td>
                <td class="mono">{t.unitId ?? 'any'}</td>
                <td>{t.createdBy}</td>
                <td>{formatDateTime(t.createdAt)}</td>
                {mayChange ? (
                  <td class="row-actions">
                    {t.state === 'active' ? (
                      <button type="button" class="small danger" aria-label={`Revoke token ${t.id.slice(0, 8)}`} onClick={() => setRevoking(t)}>
                        Revoke
                      </button>
                    ) : null}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {revoking ? (
        <RevokeDialog
          token={revoking}
          onClose={() => setRevoking(null)}
          onDone={() => {
            setNotice(`Revoked the token ${revoking.id.slice(0, 8)}. Devices that registered with it are not affected.`);
            setRevoking(null);
            void load();
          }}
        />
      ) : null}
    </>
  );
}

function CreateTokenForm(props: { readonly onCreated: (t: IssuedEnrollmentToken) => void }) {
  const [uses, setUses] = useState(1);
  const [expires, setExpires] = useState(1);
  const [unit, setUnit] = useState<Unit>('days');
  const [unitId, setUnitId] = useState('');
  const { busy, error, run } = useAction();
  return (
    <form
      class="form inline-form"
      aria-label="Create an enrollment token"
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () =>
          props.onCreated(
            await api<IssuedEnrollmentToken>('POST', '/enrollment-tokens', {
              uses,
              expiresIn: expires * UNITS[unit],
              ...(unitId.trim() ? { unitId: unitId.trim() } : {}),
            } satisfies CreateEnrollmentTokenBody),
          ),
        );
      }}
    >
      <h2>Create a token</h2>
      <div class="row">
        <label>
          Uses
          <input type="number" min={1} max={100000} required value={uses} onInput={(e) => setUses(Number(e.currentTarget.value))} />
        </label>
        <label>
          Expires in
          <input type="number" min={1} required value={expires} onInput={(e) => setExpires(Number(e.currentTarget.value))} />
        </label>
        <label>
          Unit
          <select value={unit} onChange={(e) => setUnit(e.currentTarget.value as Unit) /* the options are the keys of UNITS */}>
            <option value="minutes">minutes</option>
            <option value="hours">hours</option>
            <option value="days">days</option>
          </select>
        </label>
        <label>
          <span>
            Unit ID <span class="optional">(optional)</span>
          </span>
          <input type="text" placeholder="00:11:22:33:44:55" value={unitId} onInput={(e) => setUnitId(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          Create token
        </button>
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

function IssuedToken(props: { readonly token: IssuedEnrollmentToken; readonly onDismiss: () => void }) {
  return (
    <ShownOnce title="New enrollment token" label="Enrollment token" secret={props.token.token} onDismiss={props.onDismiss}>
      <p>Copy it now: it is shown only this once. Devices register with it on the device channel.</p>
      <p class="hint">
        {props.token.usesAllowed === 1 ? 'One registration' : `${props.token.usesAllowed} registrations`}, until {formatDateTime(props.token.expiresAt)}
        {props.token.unitId ? `, only for the unit ${props.token.unitId}` : ''}.
      </p>
    </ShownOnce>
  );
}

function RevokeDialog(props: { readonly token: EnrollmentToken; readonly onClose: () => void; readonly onDone: () => void }) {
  return (
    <ConfirmDialog
      title="Revoke the enrollment token"
      confirm="Revoke"
      onClose={props.onClose}
      onConfirm={async () => {
        await api<void>('DELETE', `/enrollment-tokens/${enc(props.token.id)}`);
        props.onDone();
      }}
    >
      <p>
        Revoke the token <span class="mono">{props.token.id.slice(0, 8)}</span> ({props.token.usesLeft} uses left)? No device can register with it any more.
      </p>
    </ConfirmDialog>
  );
}
