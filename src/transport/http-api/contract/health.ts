/** Liveness and readiness (SPEC section 5, "Operations"): `{"status": …}`. */
import { Type, type Static } from 'typebox';
import { StringEnum } from './common.js';

const status = <const S extends string>(value: S, description: string) =>
  Type.Object({ status: StringEnum([value] as const) }, { description });

export const AliveSchema = status('ok', 'Alive.');
export const ReadySchema = status('ready', 'Ready.');
export const UnavailableSchema = status('unavailable', 'The database does not answer; see the log.');
export type Alive = Static<typeof AliveSchema>;
export type Ready = Static<typeof ReadySchema>;
export type Unavailable = Static<typeof UnavailableSchema>;
