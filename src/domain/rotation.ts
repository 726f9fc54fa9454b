/**
 * R3: the rotation policy, after cert-manager's reconcilers. For one device it compares desired
 * (the default, if the firmware supports it) with actual (what the device pins, and any pending
 * replacement) and names the decision. The reconciler applies the same policy set-based in SQL
 * for the whole fleet; this function is its specification and is tested against it.
 *
 * The two-phase replacement of one device:
 *
 *      current=A, pending=∅ ──(default becomes B, device supports B)──▶ current=A, pending=B
 *            ▲                                                             │  device checks in
 *            │                                                             │  pinning A: "replace with B"
 *            │                                                             ▼
 *      current=B, pending=∅ ◀──(device confirms on a connection pinning B, ─ device stores B,
 *                                or its next check-in pins B: lost          reconnects pinning B
 *                                confirmation recovered)
 *
 * While pending, the server answers with A or with B, whichever the device names, so a lost
 * message never strands it. If the default changes again before the device confirms, pending is
 * re-pointed (or cleared when the device cannot use the new default).
 */
export const RotationDecision = {
  /** The device pins the default already. */
  alreadyCurrent: 'already_current',
  /** The device gets the default as a pending replacement now. */
  schedule: 'schedule',
  /** It has the default pending already and is waiting to confirm. */
  awaitingConfirmation: 'awaiting_confirmation',
  /** Its firmware lacks the default's algorithm: it keeps its certificate (and any stale pending is dropped). */
  incompatible: 'incompatible',
} as const;
export type RotationDecision = (typeof RotationDecision)[keyof typeof RotationDecision];

export interface RotationInput {
  readonly defaultId: string;
  readonly defaultAlgorithm: string;
  readonly device: {
    readonly certificateId: string;
    readonly pendingCertificateId: string | null;
    readonly supportedAlgorithms: readonly string[];
  };
}

export function decideRotation(input: RotationInput): RotationDecision {
  const { device } = input;
  if (device.certificateId === input.defaultId) return RotationDecision.alreadyCurrent;
  if (!device.supportedAlgorithms.includes(input.defaultAlgorithm)) return RotationDecision.incompatible;
  if (device.pendingCertificateId === input.defaultId) return RotationDecision.awaitingConfirmation;
  return RotationDecision.schedule;
}

/**
 * What a check-in means for the record, from the certificate the device pinned on this
 * connection (TLS server name):
 *
 *   pin = current       → unchanged
 *   pin = pending       → confirmed (also a lost confirmation, recovered by the next check-in)
 *   pin = anything else → refused (`pin_not_allowed`): the record never follows a pin it did not
 *                         hand out. A device credential alone must not let its holder move the
 *                         record to any entry of the keystore (an inactive one kept for others, one
 *                         an administrator wants to delete, K7), nor out of the rotation's reach.
 */
export type PinOutcome =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'confirmed'; readonly certificateId: string }
  | { readonly kind: 'refused' };

export function outcomeOfPin(device: { readonly certificateId: string; readonly pendingCertificateId: string | null }, pinnedId: string): PinOutcome {
  if (pinnedId === device.certificateId) return { kind: 'unchanged' };
  if (pinnedId === device.pendingCertificateId) return { kind: 'confirmed', certificateId: pinnedId };
  return { kind: 'refused' };
}
