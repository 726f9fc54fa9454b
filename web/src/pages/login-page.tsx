import { useState } from 'preact/hooks';
import { api, get, setCsrfToken } from '../api';
import { ErrorMessage } from '../components/error-message';
import type { LoginBody, Me, SessionStart } from '../types';

/** Log in: the server answers with an HttpOnly session cookie and the session's CSRF token. */
export function LoginPage(props: { readonly notice: string | null; readonly onLoggedIn: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <form
        class="form login-box"
        aria-labelledby="login-title"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const session = await api<SessionStart>('POST', '/auth/session', { username, password } satisfies LoginBody);
            setCsrfToken(session.csrfToken);
            props.onLoggedIn(await get<Me>('/auth/me'));
          } catch (err) {
            setError(err);
            setBusy(false);
          }
        }}
      >
        <h1 id="login-title">
          <span class="brand-mark" aria-hidden="true" /> certfleet
        </h1>
        <p class="hint">Certificate management for the device fleet</p>
        {props.notice ? (
          <p class="message notice" role="status">
            {props.notice}
          </p>
        ) : null}
        <label>
          Username
          <input type="text" name="username" autocomplete="username" required autoFocus value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input type="password" name="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <ErrorMessage error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}
