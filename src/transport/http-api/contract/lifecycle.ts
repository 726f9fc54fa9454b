/** Automatic successors (L2): the settings, the certificates looked after, and the timeline. */
import { Type, type Static } from 'typebox';
import { IsoDate, JsonObject, Nullable, StringEnum } from './common.js';

export const LifecycleSetBodySchema = Type.Object(
  {
    renewBefore: Type.String({ minLength: 1, maxLength: 16, description: 'How long before its expiry a certificate gets a successor, in days: `90d`.' }),
    window: Type.String({ minLength: 1, maxLength: 64, description: 'When successors become the default (or fallback), in UTC: `Sat 02:00-05:00`, `Mon-Fri 22:00-02:00`, `daily 03:00-04:00`.' }),
    retireAfter: Type.Optional(Type.String({ minLength: 1, maxLength: 16, description: 'How long an unused predecessor stays deactivated before it is deleted, in days (default 30d).' })),
  },
  { additionalProperties: false },
);
export type LifecycleSetBody = Static<typeof LifecycleSetBodySchema>;

export const LifecycleSettingsSchema = Type.Object({
  enabled: Type.Boolean(),
  renewBeforeDays: Type.Integer(),
  window: Type.String({ description: 'Canonical form, UTC.' }),
  retireAfterDays: Type.Integer(),
  updatedAt: Nullable(IsoDate()),
  updatedBy: Nullable(Type.String()),
});
export type LifecycleSettings = Static<typeof LifecycleSettingsSchema>;

const ROLES = ['default', 'fallback'] as const;

export const LifecycleStatusSchema = Type.Object({
  settings: LifecycleSettingsSchema,
  nextWindow: Nullable(IsoDate(), 'When the window opens next (now while it is open); null while the lifecycle is off.'),
  tracked: Type.Array(
    Type.Object({
      alias: Type.String(),
      role: StringEnum(ROLES),
      notAfter: IsoDate(),
      daysUntilExpiry: Type.Integer(),
      renewFrom: IsoDate('When its successor is due.'),
    }),
    { description: 'The default and each legacy fallback that devices pin.' },
  ),
  successions: Type.Array(
    Type.Object({
      id: Type.String(),
      role: StringEnum(ROLES),
      predecessorAlias: Type.String(),
      successorAlias: Type.String(),
      state: StringEnum(['generated', 'promoted', 'deactivated', 'deleted'] as const),
      createdAt: IsoDate(),
    }),
  ),
  events: Type.Array(
    Type.Object({
      id: Type.Integer(),
      at: IsoDate(),
      step: StringEnum(['generated', 'promoted', 'deactivated', 'deleted', 'blocked', 'ended'] as const),
      alias: Type.String(),
      successionId: Nullable(Type.String()),
      details: JsonObject(),
    }),
    { description: 'The timeline, newest first.' },
  ),
});
export type LifecycleStatus = Static<typeof LifecycleStatusSchema>;
