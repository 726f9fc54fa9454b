/**
 * R5: how a device names, in the TLS server name indication, the certificate it pins.
 *
 *   pinned:        <first 32 hex>.<last 32 hex>.pin.certfleet.invalid   (SHA-256 of the DER, lower case)
 *   first contact: <mask hex>.hello.certfleet.invalid                    (bit mask of the algorithms it supports)
 *   no SNI:        the default certificate
 *
 * A fingerprint, not the alias, because aliases may hold characters a DNS label may not, and a
 * fingerprint names exactly one certificate forever. `.invalid` (RFC 2606) can never resolve.
 */
const PIN_SUFFIX = '.pin.certfleet.invalid';
const HELLO_SUFFIX = '.hello.certfleet.invalid';

/** `AB:CD:…` or `abcd…` → 64 lower-case hex characters. */
export function fingerprintHex(sha256: string): string {
  return sha256.replace(/:/g, '').toLowerCase();
}

export function pinServerName(sha256Fingerprint: string): string {
  const hex = fingerprintHex(sha256Fingerprint);
  return `${hex.slice(0, 32)}.${hex.slice(32)}${PIN_SUFFIX}`;
}

export function helloServerName(algorithmMask: number): string {
  return `${algorithmMask.toString(16)}${HELLO_SUFFIX}`;
}

export type ServerNameRequest =
  | { readonly kind: 'pin'; readonly sha256Hex: string }
  | { readonly kind: 'hello'; readonly algorithmMask: number }
  | { readonly kind: 'default' };

export function parseServerName(name: string | undefined | null): ServerNameRequest {
  const n = (name ?? '').toLowerCase();
  const pin = /^([0-9a-f]{32})\.([0-9a-f]{32})\.pin\.certfleet\.invalid$/.exec(n);
  if (pin) return { kind: 'pin', sha256Hex: `${pin[1]}${pin[2]}` };
  const hello = /^([0-9a-f]{1,8})\.hello\.certfleet\.invalid$/.exec(n);
  if (hello) return { kind: 'hello', algorithmMask: Number.parseInt(hello[1] as string, 16) }; // the group matched
  return { kind: 'default' };
}

/** Upper-case hex with colons, as keytool prints it, from 64 hex characters. */
export function colonFingerprint(hex: string): string {
  return (hex.toUpperCase().match(/../g) ?? []).join(':');
}
