/** How dates and counts read on screen: ISO dates (unambiguous for an international fleet), local time. */

const pad = (n: number) => String(n).padStart(2, '0');

export function formatDate(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function formatDateTime(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${formatDate(iso)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A certificate expiring within this many days is shown with a warning. */
export const EXPIRY_WARNING_DAYS = 30;

export function daysLeftText(days: number): string {
  if (days < 0) return `expired ${plural(-days, 'day')} ago`;
  if (days === 0) return 'expires today';
  return `${plural(days, 'day')} left`;
}

export const ROLE_NAMES: Readonly<Record<string, string>> = { admin: 'administrator', operator: 'operator', viewer: 'viewer' };
