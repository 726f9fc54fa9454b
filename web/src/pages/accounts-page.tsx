import { useEffect, useState } from 'preact/hooks';
import { api, enc, get } from '../api';
import { ConfirmDialog, useAction } from '../components/dialog';
import { ErrorMessage, Notice } from '../components/error-message';
import { formatDateTime, ROLE_NAMES } from '../format';
import { useSession } from '../session';
import { type CreateUserBody, type Role, ROLES, type User } from '../types';

const ROLE_HINTS: Readonly<Record<Role, string>> = {
  admin: 'everything',
  operator: 'everything but key-pair export, backup and accounts',
  viewer: 'read only',
};

export function AccountsPage() {
  const session = useSession();
  const [users, setUsers] = useState<readonly User[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);

  const load = () => get<User[]>('/users').then(setUsers, setError);
  useEffect(() => {
    void load();
  }, []);

  return (
    <>
      <h1 tabIndex={-1}>Accounts</h1>
      <p class="intro">Who may use certfleet, and with which role.</p>
      <CreateAccountForm
        onCreated={(u) => {
          setNotice(`Created the account "${u.username}" (${ROLE_NAMES[u.role]}).`);
          void load();
        }}
      />
      <Notice text={notice} />
      <ErrorMessage error={error} />
      {users ? (
        <table class="grid">
          <caption class="sr-only">Accounts</caption>
          <thead>
            <tr>
              <th scope="col">User name</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.username}>
                <td>{u.username}</td>
                <td>{ROLE_NAMES[u.role]}</td>
                <td>{formatDateTime(u.createdAt)}</td>
                <td class="row-actions">
                  {u.username === session.me.username ? (
                    <span class="hint">you</span>
                  ) : (
                    <button type="button" class="small danger" aria-label={`Delete account ${u.username}`} onClick={() => setDeleting(u)}>
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {deleting ? (
        <DeleteAccountDialog
          user={deleting}
          onClose={() => setDeleting(null)}
          onDone={() => {
            setNotice(`Deleted the account "${deleting.username}" and its tokens.`);
            setDeleting(null);
            void load();
          }}
        />
      ) : null}
    </>
  );
}

function CreateAccountForm(props: { readonly onCreated: (u: User) => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('operator');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  return (
    <form
      class="form inline-form"
      aria-label="Create an account"
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          props.onCreated(await api<User>('POST', '/users', { username, role, password } satisfies CreateUserBody));
          setUsername('');
          setPassword('');
        });
      }}
    >
      <h2>Create an account</h2>
      <div class="row">
        <label>
          User name
          <input type="text" required autocomplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as Role) /* the options are ROLES */}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {ROLE_NAMES[r]}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>
            Password <span class="optional">(at least 8 characters)</span>
          </span>
          <input type="password" required autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          Create account
        </button>
      </div>
      <p class="hint">
        {ROLES.map((r, i) => (
          <span key={r}>
            {i > 0 ? ' · ' : ''}
            <strong>{ROLE_NAMES[r]}</strong>: {ROLE_HINTS[r]}
          </span>
        ))}
      </p>
      <ErrorMessage error={error} />
    </form>
  );
}

function DeleteAccountDialog(props: { readonly user: User; readonly onClose: () => void; readonly onDone: () => void }) {
  return (
    <ConfirmDialog
      title={`Delete the account "${props.user.username}"`}
      confirm="Delete"
      onClose={props.onClose}
      onConfirm={async () => {
        await api<void>('DELETE', `/users/${enc(props.user.username)}`);
        props.onDone();
      }}
    >
      <p>
        Delete <strong>{props.user.username}</strong> ({ROLE_NAMES[props.user.role]})? Its log-ins and API tokens stop working at once.
      </p>
    </ConfirmDialog>
  );
}
