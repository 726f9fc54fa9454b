/**
 * R1: the certificate a registering device gets. The default if its firmware supports it;
 * otherwise the first active entry from the top that it supports; otherwise none, with the
 * algorithms it lacks. An outcome, not an exception: the caller decides how to refuse.
 */
export interface SelectableEntry {
  readonly id: string;
  readonly alias: string;
  readonly position: number;
  readonly active: boolean;
  readonly signatureAlgorithm: string;
}

export type Selection<T extends SelectableEntry> =
  | { readonly kind: 'selected'; readonly entry: T; readonly reason: 'default' | 'fallback' }
  | { readonly kind: 'none'; readonly reason: 'no_compatible_certificate'; readonly lacking: readonly string[] };

export function selectCertificate<T extends SelectableEntry>(entries: readonly T[], supported: readonly string[]): Selection<T> {
  const ordered = [...entries].sort((a, b) => a.position - b.position);
  const fits = (e: T) => e.active && supported.includes(e.signatureAlgorithm);
  const top = ordered[0];
  if (top && fits(top)) return { kind: 'selected', entry: top, reason: 'default' };
  const fallback = ordered.find(fits);
  if (fallback) return { kind: 'selected', entry: fallback, reason: 'fallback' };
  const lacking = [...new Set(ordered.filter((e) => e.active).map((e) => e.signatureAlgorithm))];
  return { kind: 'none', reason: 'no_compatible_certificate', lacking };
}
