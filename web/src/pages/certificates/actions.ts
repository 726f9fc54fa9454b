/**
 * Which certificate actions the console offers for the selected entry, and why one is not allowed.
 * The keystore rules are the server's own (`whyRefused` of src/domain/keystore.ts, SPEC K2–K4, K7),
 * so a button is disabled with the server's reason before the click; the server still decides,
 * and its refusal is shown if the list was stale.
 */
import { KeystoreChange, whyRefused } from '../../../../src/domain/keystore.js';
import { Permission, type CertificateSummary } from '../../types';

export const ACTIONS = [
  'import',
  'generate',
  'delete',
  'moveUp',
  'moveDown',
  'makeDefault',
  'activate',
  'deactivate',
  'exportCertificate',
  'exportKeyPair',
  'showContent',
] as const;
export type Action = (typeof ACTIONS)[number];

export const ACTION_LABELS: Readonly<Record<Action, string>> = {
  import: 'Import',
  generate: 'Generate',
  delete: 'Delete',
  moveUp: 'Move up',
  moveDown: 'Move down',
  makeDefault: 'Make default',
  activate: 'Activate',
  deactivate: 'Deactivate',
  exportCertificate: 'Export certificate',
  exportKeyPair: 'Export key pair',
  showContent: 'Show content',
};

/** Hidden: the role never may. Otherwise enabled, or disabled with the reason. */
export type ActionState = { readonly kind: 'hidden' } | { readonly kind: 'enabled' } | { readonly kind: 'disabled'; readonly reason: string };

const hidden: ActionState = { kind: 'hidden' };
const enabled: ActionState = { kind: 'enabled' };
const disabled = (reason: string): ActionState => ({ kind: 'disabled', reason });

const CHANGES: ReadonlySet<Action> = new Set(['import', 'generate', 'delete', 'moveUp', 'moveDown', 'makeDefault', 'activate', 'deactivate']);
const NEEDS_SELECTION = 'Select a certificate in the list first.';

/** The toolbar actions that change the keystore's order or activity, and the rule each one is. */
const KEYSTORE_CHANGES: Partial<Readonly<Record<Action, KeystoreChange>>> = {
  delete: KeystoreChange.delete,
  moveUp: KeystoreChange.moveUp,
  moveDown: KeystoreChange.moveDown,
  makeDefault: KeystoreChange.makeDefault,
  activate: KeystoreChange.activate,
  deactivate: KeystoreChange.deactivate,
};

export function actionStates(
  list: readonly CertificateSummary[],
  selectedAlias: string | null,
  can: (p: Permission) => boolean,
): Record<Action, ActionState> {
  const selected = list.find((c) => c.alias === selectedAlias);
  const state = {} as Record<Action, ActionState>; // every key is filled in below

  for (const action of ACTIONS) {
    if (CHANGES.has(action) && !can(Permission.manageCertificates)) {
      state[action] = hidden;
      continue;
    }
    if (action === 'exportKeyPair' && !can(Permission.exportKeyPair)) {
      // A viewer sees no change buttons at all; an operator sees why this one is not theirs.
      state[action] = can(Permission.manageCertificates) ? disabled('Only administrators may export key pairs.') : hidden;
      continue;
    }
    if (action === 'import' || action === 'generate') {
      state[action] = enabled;
      continue;
    }
    state[action] = selected ? ruleFor(action, list, selected) : disabled(NEEDS_SELECTION);
  }
  return state;
}

/** What the server would do nothing about is disabled too, though it is no refusal. */
function nothingToDo(action: Action, c: CertificateSummary): string | null {
  if (action === 'makeDefault' && c.isDefault) return 'This certificate is the default already.';
  if (action === 'activate' && c.active) return 'This certificate is active already.';
  if (action === 'deactivate' && !c.active) return 'This certificate is inactive already.';
  return null;
}

function ruleFor(action: Action, list: readonly CertificateSummary[], c: CertificateSummary): ActionState {
  const change = KEYSTORE_CHANGES[action];
  if (change === undefined) return enabled;
  const idle = nothingToDo(action, c);
  if (idle !== null) return disabled(idle);
  const refusal = whyRefused(change, list, c.alias, { pinned: c.deviceCount, pending: c.pendingDeviceCount });
  return refusal ? disabled(refusal.message) : enabled;
}
