import { CertfleetError, ErrorCode } from './errors.js';

/**
 * The keystore's order and activity rules (K1–K4, K7), as pure functions over plain data.
 * Position 1 is the default (K2). Every function returns the whole list renumbered 1..n, or throws
 * a CertfleetError whose message says what to do instead.
 */
export interface KeystoreSlot {
  readonly id: string;
  readonly alias: string;
  readonly position: number;
  readonly active: boolean;
}

export const DEFAULT_ALIAS = 'tckey';
export const ALIAS_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export function validateAlias(alias: string): void {
  if (!ALIAS_PATTERN.test(alias)) {
    throw new CertfleetError(
      ErrorCode.invalid_alias,
      `"${alias.slice(0, 80)}" is not a valid alias: use 1 to 64 letters, digits, dots, underscores or hyphens.`,
      { pattern: ALIAS_PATTERN.source },
    );
  }
}

/** What the order and activity rules look at: a summary the console holds is enough. */
export type SlotState = Pick<KeystoreSlot, 'alias' | 'position' | 'active'>;

function sorted<T extends SlotState>(slots: readonly T[]): T[] {
  return [...slots].sort((a, b) => a.position - b.position);
}

function renumber<T extends KeystoreSlot>(slots: readonly T[]): T[] {
  return slots.map((s, i) => (s.position === i + 1 ? s : { ...s, position: i + 1 }));
}

function indexOf<T extends KeystoreSlot>(slots: readonly T[], alias: string): number {
  const i = slots.findIndex((s) => s.alias === alias);
  if (i < 0) {
    throw new CertfleetError(
      ErrorCode.certificate_not_found,
      `There is no certificate with the alias "${alias}". List them with \`certfleet cert list\`.`,
      { alias },
    );
  }
  return i;
}

export function findSlot<T extends KeystoreSlot>(slots: readonly T[], alias: string): T {
  const list = sorted(slots);
  return list[indexOf(list, alias)] as T; // indexOf throws when absent
}

/** How many devices hold the entry (pinned) or are about to (pending replacement). */
export interface CertificateUsage {
  readonly pinned: number;
  readonly pending: number;
}

const NO_USAGE: CertificateUsage = { pinned: 0, pending: 0 };

/** The changes of the keystore's order and activity that a rule can refuse (K3, K4, K7). */
export const KeystoreChange = {
  moveUp: 'moveUp',
  moveDown: 'moveDown',
  makeDefault: 'makeDefault',
  activate: 'activate',
  deactivate: 'deactivate',
  delete: 'delete',
} as const;
export type KeystoreChange = (typeof KeystoreChange)[keyof typeof KeystoreChange];

/** A refusal as a value: what the CertfleetError thrown for it carries. */
export interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

function inactiveDefault(alias: string): Refusal {
  return {
    code: ErrorCode.default_must_be_active,
    message:
      `"${alias}" is inactive and cannot become the default, because the default is always active. ` +
      `Activate it first (\`certfleet cert activate ${alias}\`), then move it to the top.`,
    details: { alias },
  };
}

/**
 * Why the keystore refuses `change` on `alias`, or null when it allows it (K2–K4, K7). The one
 * rule for both sides: the list operations below throw what it returns, and the web console
 * disables a button with its message before the click. `usage` matters only to `delete`.
 */
export function whyRefused(change: KeystoreChange, slots: readonly SlotState[], alias: string, usage: CertificateUsage = NO_USAGE): Refusal | null {
  const list = sorted(slots);
  const i = list.findIndex((s) => s.alias === alias);
  const entry = list[i];
  if (entry === undefined) {
    return {
      code: ErrorCode.certificate_not_found,
      message: `There is no certificate with the alias "${alias}". List them with \`certfleet cert list\`.`,
      details: { alias },
    };
  }
  const activeCount = list.filter((s) => s.active).length;
  switch (change) {
    case KeystoreChange.moveUp: {
      if (i === 0) return { code: ErrorCode.already_at_top, message: `"${alias}" is already at the top of the list and is the default.`, details: { alias } };
      const top = i === 1 ? entry : (list[0] as SlotState); // the entry reaches the top only from position 2
      return top.active ? null : inactiveDefault(top.alias);
    }
    case KeystoreChange.moveDown: {
      if (i === list.length - 1) return { code: ErrorCode.already_at_bottom, message: `"${alias}" is already at the bottom of the list.`, details: { alias } };
      const top = (i === 0 ? list[1] : list[0]) as SlotState; // moving the default down lifts its neighbour
      if (top.active) return null;
      return {
        code: ErrorCode.default_must_be_active,
        message:
          `Moving "${alias}" down would make the inactive "${top.alias}" the default. ` +
          `Activate "${top.alias}" first, or make another active certificate the default.`,
        details: { alias, wouldBeDefault: top.alias },
      };
    }
    case KeystoreChange.makeDefault:
      return entry.active ? null : inactiveDefault(alias);
    case KeystoreChange.activate:
      return null;
    case KeystoreChange.deactivate:
      if (!entry.active) return null;
      if (activeCount === 1) {
        return {
          code: ErrorCode.last_active_certificate,
          message: `"${alias}" is the only active certificate and cannot be deactivated. Activate or add another certificate first.`,
          details: { alias },
        };
      }
      if (i === 0) {
        return {
          code: ErrorCode.cannot_deactivate_default,
          message:
            `"${alias}" is the default and the default is always active. Make another active certificate the default ` +
            `first (\`certfleet cert default ALIAS\`), then deactivate "${alias}".`,
          details: { alias },
        };
      }
      return null;
    case KeystoreChange.delete: {
      const inUse = usage.pinned + usage.pending;
      if (inUse > 0) {
        return {
          code: ErrorCode.certificate_in_use,
          message:
            `"${alias}" is used by ${inUse} device${inUse === 1 ? '' : 's'} (${usage.pinned} pinned, ${usage.pending} pending replacement) ` +
            `and cannot be deleted, or they would lose contact. List them with \`certfleet cert devices ${alias}\`; ` +
            'delete it once they have moved to another certificate.',
          details: { alias, devices: inUse, pinned: usage.pinned, pending: usage.pending, command: `certfleet cert devices ${alias}` },
        };
      }
      if (entry.active && activeCount === 1) {
        return {
          code: ErrorCode.last_active_certificate,
          message: `"${alias}" is the only active certificate and cannot be deleted. Activate or add another certificate first.`,
          details: { alias },
        };
      }
      const next = list[1];
      if (i === 0 && next && !next.active) {
        return {
          code: ErrorCode.default_must_be_active,
          message:
            `Deleting the default "${alias}" would make the inactive "${next.alias}" the default. ` +
            `Make an active certificate the default first, then delete "${alias}".`,
          details: { alias, wouldBeDefault: next.alias },
        };
      }
      return null;
    }
  }
}

/** Throws the refusal of `whyRefused`, if any. */
function refuseIf(refusal: Refusal | null): void {
  if (refusal) throw new CertfleetError(refusal.code, refusal.message, refusal.details);
}

/** K3: swap with the neighbour above. Reaching position 1 makes the entry the default. */
export function moveUp<T extends KeystoreSlot>(slots: readonly T[], alias: string): T[] {
  refuseIf(whyRefused(KeystoreChange.moveUp, slots, alias));
  const list = sorted(slots);
  const i = indexOf(list, alias);
  [list[i - 1], list[i]] = [list[i] as T, list[i - 1] as T];
  return renumber(list);
}

/** K3: swap with the neighbour below. Moving the default down makes its neighbour the default. */
export function moveDown<T extends KeystoreSlot>(slots: readonly T[], alias: string): T[] {
  refuseIf(whyRefused(KeystoreChange.moveDown, slots, alias));
  const list = sorted(slots);
  const i = indexOf(list, alias);
  [list[i], list[i + 1]] = [list[i + 1] as T, list[i] as T];
  return renumber(list);
}

/** K3: move the entry to position 1; the others keep their order. */
export function makeDefault<T extends KeystoreSlot>(slots: readonly T[], alias: string): T[] {
  refuseIf(whyRefused(KeystoreChange.makeDefault, slots, alias));
  const list = sorted(slots);
  const [entry] = list.splice(indexOf(list, alias), 1) as [T];
  return renumber([entry, ...list]);
}

/** K4: activate or deactivate. The default and the last active entry stay active. */
export function setActive<T extends KeystoreSlot>(slots: readonly T[], alias: string, active: boolean): T[] {
  refuseIf(whyRefused(active ? KeystoreChange.activate : KeystoreChange.deactivate, slots, alias));
  const list = sorted(slots);
  const i = indexOf(list, alias);
  const entry = list[i] as T;
  if (entry.active !== active) list[i] = { ...entry, active };
  return renumber(list);
}

/** K7: remove an entry that no device uses; the list closes up behind it. */
export function removeSlot<T extends KeystoreSlot>(slots: readonly T[], alias: string, usage: CertificateUsage): T[] {
  refuseIf(whyRefused(KeystoreChange.delete, slots, alias, usage));
  const list = sorted(slots);
  list.splice(indexOf(list, alias), 1);
  return renumber(list);
}

/** Where a new entry goes: the bottom of the list. */
export function nextPosition(slots: readonly KeystoreSlot[]): number {
  return slots.reduce((max, s) => Math.max(max, s.position), 0) + 1;
}

/** Only the slots whose position or activity differ from before: what storage has to write. */
export function changedSlots<T extends KeystoreSlot>(before: readonly T[], after: readonly T[]): T[] {
  const old = new Map(before.map((s) => [s.id, s]));
  return after.filter((s) => {
    const o = old.get(s.id);
    return !o || o.position !== s.position || o.active !== s.active;
  });
}
