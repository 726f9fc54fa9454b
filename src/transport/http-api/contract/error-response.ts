/** The one shape of every refusal and failure: {"error": {code, message, details}}. */
import { Type, type Static } from 'typebox';
import { ErrorCode } from '../../../domain/errors.js';
import { JsonObject, Named, StringEnum } from './common.js';

export const ErrorResponseSchema = Named('ErrorResponse', Type.Object(
  {
    error: Type.Object({
      code: StringEnum(Object.values(ErrorCode), { description: 'Stable; scripts may rely on it.' }),
      message: Type.String({ description: 'For the administrator: what happened and what to do next.' }),
      details: JsonObject(),
    }),
  },
  { description: 'Every refusal and failure has this shape.' },
));
export type ErrorResponse = Static<typeof ErrorResponseSchema>;
