/**
 * Asks a real TLS server which cipher suites it accepts, the way a scanner does: one handshake per
 * suite, each client offering only that suite (TLS 1.2 suites with TLS 1.2 at most, TLS 1.3 suites
 * with TLS 1.3 only), over every suite this Node's OpenSSL knows.
 */
import { connect, getCiphers } from 'node:tls';

export interface Probe {
  readonly host: string;
  readonly port: number;
  readonly servername?: string;
}

/** Whether a handshake offering exactly these settings completes; the negotiated suite if so. */
export function handshake(p: Probe, opts: { readonly ciphers?: string; readonly minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'; readonly maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'; readonly ecdhCurve?: string }): Promise<string | null> {
  return new Promise((resolve) => {
    let socket;
    try {
      socket = connect({
        host: p.host,
        port: p.port,
        rejectUnauthorized: false,
        ...(p.servername !== undefined ? { servername: p.servername } : {}),
        ...opts,
      });
    } catch {
      resolve(null); // this OpenSSL cannot even offer it (e.g. "no cipher match")
      return;
    }
    const s = socket;
    s.once('secureConnect', () => {
      const name = s.getCipher().standardName;
      s.destroy();
      resolve(name);
    });
    s.once('error', () => resolve(null));
    s.once('close', () => resolve(null));
  });
}

const TLS13 = /^tls_/;

/** Every suite (OpenSSL names, upper case) the server completes a handshake with. */
export async function acceptedSuites(p: Probe): Promise<string[]> {
  const accepted: string[] = [];
  for (const name of getCiphers().map((c) => c.toUpperCase())) {
    const ok = TLS13.test(name.toLowerCase())
      ? await handshake(p, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: name })
      : await handshake(p, { maxVersion: 'TLSv1.2', ciphers: name });
    if (ok !== null) accepted.push(name);
  }
  return accepted.sort();
}

/** The suites of the OpenSSL list whose key exchange is static RSA (no ECDHE/DHE): none may be accepted. */
export function staticRsaSuites(): string[] {
  return getCiphers()
    .map((c) => c.toUpperCase())
    .filter((c) => !TLS13.test(c.toLowerCase()) && !/^(ECDHE|DHE|EDH|ECDH|PSK|SRP|ADH|AECDH|RSA-PSK|DHE-PSK|ECDHE-PSK)-/.test(c));
}
