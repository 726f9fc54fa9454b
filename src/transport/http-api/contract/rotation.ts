/** Rotation (R3): the reconciler's report, how far the fleet is, and the preview of a new default. */
import { Type, type Static } from 'typebox';
import { Counts, IsoDate, Named } from './common.js';

export const RotationReportSchema = Named('RotationReport', Type.Object(
  {
    defaultAlias: Type.String({ description: 'The default the fleet was compared with.' }),
    checked: Type.Integer({ description: 'Devices compared.' }),
    scheduled: Type.Integer({ description: 'Devices that got the default as a pending replacement in this run.' }),
    incompatible: Type.Integer({ description: 'Devices whose firmware lacks the default\'s algorithm; they keep their certificate.' }),
    alreadyCurrent: Type.Integer({ description: 'Devices that pin the default already.' }),
    awaitingConfirmation: Type.Integer({ description: 'Devices that had the default pending already and have not confirmed yet.' }),
    startedAt: IsoDate(),
    finishedAt: IsoDate(),
  },
  { description: 'What one run of the rotation reconciler found and did (R3).' },
));
export type RotationReport = Static<typeof RotationReportSchema>;

export const RotationStatusSchema = Type.Object({
  lastRun: Type.Unsafe<RotationReport | null>({
    description: 'Null until the reconciler has run once.',
    anyOf: [{ $ref: `${RotationReportSchema.$id}#` }, { type: 'null' }],
  }),
  defaultAlias: Type.String(),
  total: Type.Integer({ description: 'Registered devices.' }),
  onDefault: Type.Integer({ description: 'Devices that pin the default.' }),
  pending: Type.Integer({ description: 'Devices with a pending replacement they have not confirmed yet.' }),
  staying: Type.Integer({ description: 'Devices that cannot use the default and keep their certificate.' }),
});
export type RotationStatus = Static<typeof RotationStatusSchema>;

const byProfile = () => Counts('Devices per firmware profile (`unknown` for devices that reported none).');

export const DefaultPreviewSchema = Type.Object({
  alias: Type.String(),
  switching: Type.Object(
    { total: Type.Integer(), byProfile: byProfile() },
    { description: 'Devices that support its algorithm and would get it as a pending replacement.' },
  ),
  staying: Type.Object(
    { total: Type.Integer(), byProfile: byProfile(), lacking: Type.String({ description: 'The signature algorithm they lack.' }) },
    { description: 'Devices whose firmware lacks its algorithm: they would keep their certificate.' },
  ),
  alreadyCurrent: Type.Integer({ description: 'Devices that pin it already.' }),
});
export type DefaultPreview = Static<typeof DefaultPreviewSchema>;
