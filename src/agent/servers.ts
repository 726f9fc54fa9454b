/** The agent's server list: `HOST:PORT[,HOST:PORT…]`, IPv6 in brackets, in fail-over order. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

export function formatServer(s: ServerAddress): string {
  return s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

/** Null when a part is not HOST:PORT or the list is empty. */
export function parseServerList(value: string): ServerAddress[] | null {
  const parts = value.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  const out: ServerAddress[] = [];
  for (const p of parts) {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(p);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65535) return null;
    out.push({ host: (m[1] ?? m[2]) as string, port }); // one of the two host groups matched
  }
  return out.length > 0 ? out : null;
}
