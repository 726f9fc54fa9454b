/**
 * Which certificate actions the console offers for the selected entry, and why one is not allowed.
 * The rules mirror the server's (SPEC K2–K4, K7, K8) so a button is disabled with the reason
 * before the click; the server still decides, and its refusal is shown if the list was stale.
 */
import { Permission, type Certificate } from '../../types';

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

export function actionStates(
  list: readonly Certificate[],
  selectedAlias: string | null,
  can: (p: Permission) => boolean,
): Record<Action, ActionState> {
  const ordered = [...list].sort((a, b) => a.position - b.position);
  const index = ordered.findIndex((c) => c.alias === selectedAlias);
  const selected = index >= 0 ? ordered[index] : undefined;
  const activeCount = ordered.filter((c) => c.active).length;
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
    state[action] = selected ? ruleFor(action, ordered, index, selected, activeCount) : disabled(NEEDS_SELECTION);
  }
  return state;
}

function ruleFor(action: Action, ordered: readonly Certificate[], index: number, c: Certificate, activeCount: number): ActionState {
  const isTop = index === 0;
  const below = ordered[index + 1];
  switch (action) {
    case 'moveUp':
      if (isTop) return disabled('Already at the top: this is the default.');
      if (index === 1 && !c.active) return disabled('The default is always active: activate this certificate before moving it to the top.');
      return enabled;
    case 'moveDown':
      if (index === ordered.length - 1) return disabled('Already at the bottom.');
      if (isTop && below && !below.active) {
        return disabled(`Moving the default down would make the inactive "${below.alias}" the default. Activate it first.`);
      }
      return enabled;
    case 'makeDefault':
      if (isTop) return disabled('This certificate is the default already.');
      if (!c.active) return disabled('The default is always active: activate this certificate first.');
      return enabled;
    case 'activate':
      return c.active ? disabled('This certificate is active already.') : enabled;
    case 'deactivate':
      if (!c.active) return disabled('This certificate is inactive already.');
      if (isTop) return disabled('The default is always active. Make another certificate the default first.');
      if (activeCount <= 1) return disabled('The last active certificate cannot be deactivated.');
      return enabled;
    case 'delete':
      if (c.active && activeCount <= 1) return disabled('The last active certificate cannot be deleted.');
      if (isTop && below && !below.active) {
        return disabled(`Deleting the default would make the inactive "${below.alias}" the default. Make an active certificate the default first.`);
      }
      return enabled;
    default:
      return enabled;
  }
}
