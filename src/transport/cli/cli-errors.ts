/**
 * How the CLI ends (SPEC section 5): 0 on success, 1 when the server refused (its code and message
 * on stderr), 2 for usage errors (bad flags, unreadable local files, missing log-in).
 */
export const ExitCode = { ok: 0, refused: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The server answered with an error document. */
export class ServerRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

/** The command cannot be run as given. */
export class UsageError extends Error {}

/** The server could not be reached or answered something that is not certfleet's API. */
export class ConnectionError extends Error {}
