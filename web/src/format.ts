/** How dates and counts read on screen: ISO dates (unambiguous for an international fleet), local time. */
import { BACKUP_TABLES, ReRegistrationReason, type BackupTable } from './types';

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

export function daysLeftText(days: number): string {
  if (days < 0) return `expired ${plural(-days, 'day')} ago`;
  if (days === 0) return 'expires today';
  return `${plural(days, 'day')} left`;
}

export const ROLE_NAMES: Readonly<Record<string, string>> = { admin: 'administrator', operator: 'operator', viewer: 'viewer' };

const KB = 1024;
const MB = 1024 * KB;

/** A file size as the CLI prints it (`backup create`, `backup list`): 1024-based, one decimal. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '—';
  if (bytes < KB) return plural(bytes, 'byte');
  if (bytes < MB) return `${(bytes / KB).toFixed(1)} KB`;
  return `${(bytes / MB).toFixed(1)} MB`;
}

/** What a backup's rows are, in words (singular, plural). */
const TABLE_WORDS: Readonly<Record<BackupTable, readonly [string, string]>> = {
  certificates: ['certificate', 'certificates'],
  users: ['account', 'accounts'],
  api_tokens: ['API token', 'API tokens'],
  enrollment_tokens: ['enrollment token', 'enrollment tokens'],
  compatibility_rules: ['compatibility rule', 'compatibility rules'],
  devices: ['device', 'devices'],
  rotation_runs: ['rotation run', 'rotation runs'],
  audit_log: ['audit entry', 'audit entries'],
  lifecycle_settings: ['lifecycle setting', 'lifecycle settings'],
  lifecycle_successions: ['succession', 'successions'],
  lifecycle_events: ['lifecycle event', 'lifecycle events'],
};

const KNOWN_TABLES = new Set<string>(BACKUP_TABLES);

/** A backup's row counts in words, in the backup's own table order: "1 certificate, 3 devices, …". */
export function countsText(counts: Readonly<Record<string, number>>): string {
  const known = BACKUP_TABLES.filter((t) => counts[t] !== undefined).map((t) => plural(counts[t] ?? 0, ...TABLE_WORDS[t]));
  // A table this console does not know (a newer server) is still counted, under its own name.
  const other = Object.entries(counts)
    .filter(([t]) => !KNOWN_TABLES.has(t))
    .map(([t, n]) => `${t} ${n}`);
  return [...known, ...other].join(', ') || '—';
}

const RE_REGISTRATION_WORDS = new Map<string, string>(
  Object.entries({
    [ReRegistrationReason.pinnedCertificateNotRestored]: 'its certificate is not in the restored keystore',
    [ReRegistrationReason.registeredAfterBackup]: 'registered after the restored backup',
  } satisfies Record<ReRegistrationReason, string>),
);

/** Why a device must register again, in words; a reason this console does not know, as the server named it. */
export function reRegistrationText(reason: string | null): string | null {
  return reason === null ? null : (RE_REGISTRATION_WORDS.get(reason) ?? reason);
}
