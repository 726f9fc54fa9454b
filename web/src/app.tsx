/**
 * The console shell: session (cookie + CSRF token), role, navigation by URL hash, page layout.
 *
 *   load ─ GET /auth/session ─ 401 → log-in page ─ POST /auth/session → cookie + CSRF token
 *                            └ 200 → CSRF token ─ GET /auth/me → role → pages it may see
 *   any 401 later (expired, revoked) → log-in page with a notice
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { FunctionComponent } from 'preact';
import { api, ApiError, get, onSessionEnded, setCsrfToken } from './api';
import { ErrorMessage } from './components/error-message';
import { ExpiryBanner } from './components/expiry-banner';
import { ROLE_NAMES } from './format';
import { AccountsPage } from './pages/accounts-page';
import { ApiTokensPage } from './pages/api-tokens-page';
import { AuditPage } from './pages/audit-page';
import { BackupsPage } from './pages/backups-page';
import { CertificatesPage } from './pages/certificates/certificates-page';
import { CompatibilityPage } from './pages/compatibility-page';
import { DevicesPage } from './pages/devices-page';
import { EnrollmentPage } from './pages/enrollment-page';
import { LoginPage } from './pages/login-page';
import { RotationPage } from './pages/rotation-page';
import { ClusterPage } from './pages/cluster-page';
import { SessionContext, sessionOf } from './session';
import { Permission, type Me } from './types';

interface PageDef {
  readonly path: string;
  readonly title: string;
  readonly component: FunctionComponent;
  readonly permission: Permission;
}

const PAGES: readonly PageDef[] = [
  { path: 'certificates', title: 'Certificate Management', component: CertificatesPage, permission: Permission.read },
  { path: 'devices', title: 'Devices', component: DevicesPage, permission: Permission.read },
  { path: 'enrollment', title: 'Enrollment tokens', component: EnrollmentPage, permission: Permission.read },
  { path: 'compatibility', title: 'Firmware compatibility', component: CompatibilityPage, permission: Permission.read },
  { path: 'rotation', title: 'Rotation', component: RotationPage, permission: Permission.read },
  { path: 'cluster', title: 'Cluster', component: ClusterPage, permission: Permission.read },
  { path: 'backups', title: 'Backups', component: BackupsPage, permission: Permission.read },
  { path: 'audit', title: 'Audit log', component: AuditPage, permission: Permission.read },
  { path: 'tokens', title: 'API tokens', component: ApiTokensPage, permission: Permission.read },
  { path: 'accounts', title: 'Accounts', component: AccountsPage, permission: Permission.manageAccounts },
];

function currentPath(): string {
  return location.hash.replace(/^#\/?/, '') || 'certificates';
}

function useHashPath(): string {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const update = () => setPath(currentPath());
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return path;
}

type State = { readonly kind: 'loading' } | { readonly kind: 'anonymous'; readonly notice: string | null } | { readonly kind: 'in'; readonly me: Me } | { readonly kind: 'failed'; readonly error: unknown };

export function App() {
  const [state, setState] = useState<State>({ kind: 'loading' });

  useEffect(() => {
    (async () => {
      try {
        const session = await get<{ csrfToken: string | null }>('/auth/session');
        setCsrfToken(session.csrfToken);
        setState({ kind: 'in', me: await get<Me>('/auth/me') });
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) setState({ kind: 'anonymous', notice: null });
        else setState({ kind: 'failed', error: e });
      }
    })();
  }, []);

  useEffect(() => {
    if (state.kind !== 'in') return;
    onSessionEnded(() => {
      setCsrfToken(null);
      setState({ kind: 'anonymous', notice: 'Your session has ended. Log in again.' });
    });
    return () => onSessionEnded(null);
  }, [state.kind]);

  switch (state.kind) {
    case 'loading':
      return <p class="boot">Loading the certfleet console…</p>;
    case 'failed':
      return (
        <main class="login">
          <div class="login-box">
            <h1>certfleet</h1>
            <ErrorMessage error={state.error} />
          </div>
        </main>
      );
    case 'anonymous':
      return <LoginPage notice={state.notice} onLoggedIn={(me) => setState({ kind: 'in', me })} />;
    case 'in':
      return (
        <Shell
          me={state.me}
          onLoggedOut={() => {
            setCsrfToken(null);
            setState({ kind: 'anonymous', notice: 'You have logged out.' });
          }}
        />
      );
  }
}

function Shell(props: { readonly me: Me; readonly onLoggedOut: () => void }) {
  const session = useMemo(() => sessionOf(props.me), [props.me]);
  const path = useHashPath();
  const pages = PAGES.filter((p) => session.can(p.permission));
  const page = pages.find((p) => p.path === path) ?? pages[0];
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);

  useEffect(() => {
    document.title = `${page?.title ?? ''} — certfleet`;
    // After a navigation, move focus to the new page's heading so a screen reader announces it.
    if (first.current) first.current = false;
    else mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [page?.path]);

  const logout = async () => {
    try {
      await api<void>('DELETE', '/auth/session');
    } catch {
      // The session is gone either way.
    }
    props.onLoggedOut();
  };

  const Page = page?.component;
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), mainRef.current?.querySelector<HTMLElement>('h1')?.focus())}>
        Skip to the content
      </a>
      <header class="topbar">
        <span class="brand">
          <span class="brand-mark" aria-hidden="true" /> certfleet
        </span>
        <span class="who">
          {props.me.username} <span class="role">({ROLE_NAMES[props.me.role]})</span>
        </span>
        <button type="button" class="logout" onClick={logout}>
          Log out
        </button>
      </header>
      <div class="layout">
        <nav aria-label="Main">
          <ul>
            {pages.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={p === page ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" ref={mainRef}>
          {session.can(Permission.read) ? <ExpiryBanner /> : null}
          {Page ? <Page key={page.path} /> : null}
        </main>
      </div>
    </SessionContext.Provider>
  );
}
