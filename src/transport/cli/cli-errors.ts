/**
 * How the CLI ends (SPEC section 5): 0 on success, 1 when the server refused (its code and message
 * on stderr), 2 for usage errors (bad flags, unreadable local files, missing log-in).
 */
export const ExitCode = { ok: 0, refused: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The server answered with an error document. The class belongs to the device agent (which reads
 * the same error shape from the device channel); the CLI's API client and its exit-code mapping use it too.
 */
export { ServerRefusal } from '../../agent/agent-errors.js';

/** The command cannot be run as given. */
export class UsageError extends Error {}

/** The server could not be reached or answered something that is not certfleet's API. */
export class ConnectionError extends Error {}
