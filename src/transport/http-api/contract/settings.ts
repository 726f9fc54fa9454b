/** The installation's settings (L1). */
import { Type, type Static } from 'typebox';

export const SettingsSchema = Type.Object(
  {
    expiryWarning: Type.String({ pattern: '^[0-9]+d$', description: 'The expiry warning window as set (`60d`).' }),
    expiryWarningDays: Type.Integer({ minimum: 1, description: 'The same, in days.' }),
  },
  { description: 'Certificates in use that expire within the warning window are flagged (`expiryWarning`).' },
);
export type SettingsView = Static<typeof SettingsSchema>;

export const SettingParamsSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64, description: 'The setting: expiry-warning.' }),
});

export const SettingBodySchema = Type.Object(
  { value: Type.String({ maxLength: 64, description: 'expiry-warning: whole days, `60d` (1d to 3650d).' }) },
  { additionalProperties: false },
);
export type SettingBody = Static<typeof SettingBodySchema>;
