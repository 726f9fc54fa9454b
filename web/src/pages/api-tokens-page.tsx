/**
 * The calling account's API tokens (for scripts and the CLI): create one with a name and a
 * lifetime, shown once; list them (log-ins included, under the name "login"); revoke one. Every
 * account manages its own tokens, and a token has the rights of its account.
 */
import { useState } from 'preact/hooks';
import { api, enc } from '../api';
import { ConfirmDialog, useAction } from '../components/dialog';
import { ErrorMessage, Notice } from '../components/error-message';
import { usePolledGet } from '../components/use-poll';
import { formatDateTime, ROLE_NAMES } from '../format';
import { useSession } from '../session';
import type { ApiToken, IssuedApiToken } from '../types';
import { ShownOnce } from '../components/shown-once';

/** The server's bounds (src/app/accounts.ts MAX_API_TOKEN_DAYS). */
const MAX_DAYS = 365;
/** The name log-in tokens carry (the console's session, `certfleet login`). */
const LOGIN_NAME = 'login';

export function ApiTokensPage() {
  const session = useSession();
  const [notice, setNotice] = useState<string | null>(null);
  const [issued, setIssued] = useState<IssuedApiToken | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);

  const { data: tokens, error, reload: load } = usePolledGet<ApiToken[]>('/tokens', null);

  return (
    <>
      <h1 tabIndex={-1}>API tokens</h1>
      <p class="intro">
        Tokens let scripts and the <code>certfleet</code> CLI call the REST API as {session.me.username}, with the rights of
        your account ({ROLE_NAMES[session.me.role]}): send one as <code>Authorization: Bearer …</code>. A token is shown once, when it is created. Your log-ins (this
        console, <code>certfleet login</code>) are listed too, under the name "{LOGIN_NAME}".
      </p>
      <CreateTokenForm
        onCreated={(t) => {
          setIssued(t);
          setNotice(null);
          void load();
        }}
      />
      {issued ? <IssuedToken token={issued} onDismiss={() => setIssued(null)} /> : null}
      <Notice text={notice} />
      <ErrorMessage error={error} />
      {tokens === null && !error ? <p role="status">Loading your tokens…</p> : null}
      {tokens && tokens.length === 0 ? <p class="empty">No token yet.</p> : null}
      {tokens && tokens.length > 0 ? (
        <table class="grid">
          <caption class="sr-only">Your API tokens</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id} data-token={t.id}>
                <td>
                  {t.name}
                  {t.name === LOGIN_NAME ? <span class="hint"> (log-in)</span> : null}
                </td>
                <td>{formatDateTime(t.createdAt)}</td>
                <td>{formatDateTime(t.expiresAt)}</td>
                <td>{t.lastUsedAt ? formatDateTime(t.lastUsedAt) : 'never'}</td>
                <td class="row-actions">
                  <button type="button" class="small danger" aria-label={`Revoke token ${t.name}`} onClick={() => setRevoking(t)}>
                    Revoke
                  </button>
                </td>
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
            setNotice(`Revoked the token "${revoking.name}". Calls with it are refused from now on.`);
            if (issued?.id === revoking.id) setIssued(null);
            setRevoking(null);
            void load();
          }}
        />
      ) : null}
    </>
  );
}

function CreateTokenForm(props: { readonly onCreated: (t: IssuedApiToken) => void }) {
  const [name, setName] = useState('');
  const [days, setDays] = useState(30);
  const { busy, error, run } = useAction();
  return (
    <form
      class="form inline-form"
      aria-label="Create an API token"
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          props.onCreated(await api<IssuedApiToken>('POST', '/tokens', { name: name.trim(), days }));
          setName('');
        });
      }}
    >
      <h2>Create a token</h2>
      <div class="row">
        <label>
          Name
          <input type="text" required maxLength={64} placeholder="nightly-backup" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Lifetime (days)
          <input type="number" min={1} max={MAX_DAYS} required value={days} onInput={(e) => setDays(Number(e.currentTarget.value))} />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          Create token
        </button>
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

function IssuedToken(props: { readonly token: IssuedApiToken; readonly onDismiss: () => void }) {
  return (
    <ShownOnce title={`New API token "${props.token.name}"`} label="API token" secret={props.token.token} onDismiss={props.onDismiss}>
      <p>Copy it now: it is shown only this once. It is valid until {formatDateTime(props.token.expiresAt)}.</p>
      <p class="hint">
        For example: <code>curl -H "Authorization: Bearer $TOKEN" {location.origin}/api/v1/auth/me</code>
      </p>
    </ShownOnce>
  );
}

function RevokeDialog(props: { readonly token: ApiToken; readonly onClose: () => void; readonly onDone: () => void }) {
  return (
    <ConfirmDialog
      title="Revoke the API token"
      confirm="Revoke"
      onClose={props.onClose}
      onConfirm={async () => {
        await api<void>('DELETE', `/tokens/${enc(props.token.id)}`);
        props.onDone();
      }}
    >
      <p>
        Revoke the token "{props.token.name}" (created {formatDateTime(props.token.createdAt)})? Every script that uses it is refused from then on.
      </p>
      {props.token.name === LOGIN_NAME ? <p class="hint">This is a log-in: if it is this browser's, you are logged out.</p> : null}
    </ConfirmDialog>
  );
}
