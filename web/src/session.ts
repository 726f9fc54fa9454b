import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me, Permission } from './types';

/** Who is logged in; the console shows only what their role may do (from GET /api/v1/auth/me). */
export interface Session {
  readonly me: Me;
  can(permission: Permission): boolean;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a logged-in console');
  return session;
}

export function sessionOf(me: Me): Session {
  const granted = new Set<string>(me.permissions);
  return { me, can: (p) => granted.has(p) };
}
