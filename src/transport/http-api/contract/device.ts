/** Registered devices as administrators see them (never their credential), and the paged listings. */
import { Type, type Static } from 'typebox';
import { ArrayOf, IsoDate, Named, Nullable } from './common.js';

export const DeviceSummarySchema = Named('DeviceSummary', Type.Object(
  {
    id: Type.String(),
    unitId: Type.String({ description: 'MAC address.' }),
    name: Type.String(),
    osFamily: Type.String(),
    osVersion: Type.String(),
    profile: Nullable(Type.String(), 'The firmware profile (`igel-os-12` …) it reported, if any.'),
    supportedAlgorithms: Type.Array(Type.String(), {
      description: 'The signature algorithms its firmware supports: its own declaration, else the compatibility table (R2).',
    }),
    certificateAlias: Type.String({ description: 'The certificate the device pins.' }),
    pendingCertificateAlias: Nullable(Type.String(), 'Its pending replacement, if any.'),
    registeredAt: IsoDate(),
    lastContactAt: Nullable(IsoDate()),
    reRegistrationRequired: Type.Boolean({
      description: 'After a restore: the device cannot go on as it was and must register again with an enrollment token (B2).',
    }),
    reRegistrationReason: Nullable(
      Type.String(),
      'Why: `pinned_certificate_not_restored` (the certificate it pins is not in the restored keystore) or `registered_after_backup` (the backup does not know it).',
    ),
  },
  { description: 'A device as administrators see it: never its credential.' },
));
export type DeviceSummary = Static<typeof DeviceSummarySchema>;

/** The answer of every device listing (`cert devices --json` and `device list --json` print it). */
export const DevicePageSchema = Type.Object(
  { count: Type.Integer(), devices: ArrayOf(DeviceSummarySchema, 'The page.') },
  { description: '`count` is the number of all matching devices; `devices` the page.' },
);
export type DevicePage = Static<typeof DevicePageSchema>;

/** The largest page of a device listing, and the page asked for when the query names none. */
export const MAX_DEVICE_PAGE = 500;
export const DEVICE_PAGE_DEFAULTS = { offset: 0, limit: 50 } as const;

const pageQueryFields = {
  search: Type.Optional(Type.String({ maxLength: 256, description: 'Case-insensitive part of the id, unit id or name.' })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: DEVICE_PAGE_DEFAULTS.offset })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_DEVICE_PAGE, default: DEVICE_PAGE_DEFAULTS.limit })),
};

/** The query of the devices of one certificate (K10). */
export const DevicePageQuerySchema = Type.Object(pageQueryFields, { additionalProperties: false });
export type DevicePageQuery = Static<typeof DevicePageQuerySchema>;

/** The query of the device listing: a page, optionally of one certificate's devices. */
export const DeviceListQuerySchema = Type.Object(
  {
    certificate: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'The alias of a keystore entry.' })),
    reRegistrationRequired: Type.Optional(Type.Boolean({ description: 'Only the devices that must (true) or need not (false) register again.' })),
    ...pageQueryFields,
  },
  { additionalProperties: false },
);
export type DeviceListQuery = Static<typeof DeviceListQuerySchema>;

export const DeviceIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'The device id.' }) });
export type DeviceIdParams = Static<typeof DeviceIdParamsSchema>;
