/**
 * The installation's settings (L1): today the expiry warning window. Kept in the meta store, one
 * key per setting, so that every node of a cluster reads the same value from the database.
 */
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { DEFAULT_EXPIRY_WARNING_DAYS, formatWarningWindow, parseWarningWindow } from '../domain/expiry.js';
import { Permission } from '../domain/roles.js';
import { auditedChange, authorize, type Actor, type AppContext } from './context.js';
import type { MetaRepo } from './master-key-check.js';

/** The names `settings set NAME VALUE` accepts. */
export const SettingName = { expiryWarning: 'expiry-warning' } as const;
export type SettingName = (typeof SettingName)[keyof typeof SettingName];
export const SETTING_NAMES: readonly SettingName[] = Object.values(SettingName);

export interface Settings {
  /** L1: certificates in use that expire within this many days are flagged. */
  readonly expiryWarningDays: number;
}

const EXPIRY_WARNING_KEY = 'setting.expiry_warning_days';

/** The settings as the server uses them (no actor: the server's own reads). */
export async function readSettings(meta: MetaRepo): Promise<Settings> {
  const stored = await meta.get(EXPIRY_WARNING_KEY);
  return { expiryWarningDays: stored === null ? DEFAULT_EXPIRY_WARNING_DAYS : Number(stored) };
}

export async function showSettings(ctx: AppContext, actor: Actor): Promise<Settings> {
  authorize(actor, Permission.read);
  return readSettings(ctx.store.meta);
}

function isSettingName(name: string): name is SettingName {
  return (SETTING_NAMES as readonly string[]).includes(name);
}

/** `settings set expiry-warning 60d`: checked, stored and audited together. */
export async function changeSetting(ctx: AppContext, actor: Actor, name: string, value: string): Promise<Settings> {
  return auditedChange(ctx, actor, 'settings.set', name.slice(0, 64), async (audit) => {
    authorize(actor, Permission.manageSettings);
    if (!isSettingName(name)) {
      throw new CertfleetError(ErrorCode.invalid_setting, `There is no setting "${name.slice(0, 64)}". Settings: ${SETTING_NAMES.join(', ')}.`, { settings: SETTING_NAMES });
    }
    const days = parseWarningWindow(value);
    return ctx.store.transaction(async (tx) => {
      const previous = await readSettings(tx.meta);
      await tx.meta.put(EXPIRY_WARNING_KEY, String(days));
      await audit.ok(tx, { value: formatWarningWindow(days), previous: formatWarningWindow(previous.expiryWarningDays) });
      return { ...previous, expiryWarningDays: days };
    });
  });
}
