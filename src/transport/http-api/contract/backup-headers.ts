/**
 * The backup routes' headers, apart from their schemas so that the CLI reads them without loading
 * TypeBox (a quarter of a second of every command's start).
 */

/** The restore's passphrase travels in this header (the body is the file); it is never logged. */
export const PASSPHRASE_HEADER = 'x-certfleet-backup-passphrase';
/** A backup's answer names its expected size here, for a progress bar (the file is encrypted). */
export const ESTIMATE_HEADER = 'x-certfleet-backup-estimated-bytes';
