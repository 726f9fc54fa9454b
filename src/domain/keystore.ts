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

function sorted<T extends KeystoreSlot>(slots: readonly T[]): T[] {
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

function refuseInactiveDefault(alias: string): CertfleetError {
  return new CertfleetError(
    ErrorCode.default_must_be_active,
    `"${alias}" is inactive and cannot become the default, because the default is always active. ` +
      `Activate it first (\`certfleet cert activate ${alias}\`), then move it to the top.`,
    { alias },
  );
}

function withTopActive<T extends KeystoreSlot>(list: T[]): T[] {
  const top = list[0];
  if (top && !top.active) throw refuseInactiveDefault(top.alias);
  return renumber(list);
}

/** K3: swap with the neighbour above. Reaching position 1 makes the entry the default. */
export function moveUp<T extends KeystoreSlot>(slots: readonly T[], alias: string): T[] {
  const list = sorted(slots);
  const i = indexOf(list, alias);
  if (i === 0) {
    throw new CertfleetError(
      ErrorCode.already_at_top,
      `"${alias}" is already at the top of the list and is the default.`,
      { alias },
    );
  }
  [list[i - 1], list[i]] = [list[i] as T, list[i - 1] as T];
  return withTopActive(list);
}

/** K3: swap with the neighbour below. Moving the default down makes its neighbour the default. */
export function moveDown<T extends KeystoreSlot>(slots: readonly T[], alias: string): T[] {
  const list = sorted(slots);
  const i = indexOf(list, alias);
  if (i === list.length - 1) {
    throw new CertfleetError(
      ErrorCode.already_at_bottom,
      `"${alias}" is already at the bottom of the list.`,
      { alias },
    );
  }
  [list[i], list[i + 1]] = [list[i + 1] as T, list[i] as T];
  const top = list[0] as T;
  if (!top.active) {
    throw new CertfleetError(
      ErrorCode.default_must_be_active,
      `Moving "${alias}" down would make the inactive "${top.alias}" the default. ` +
        `Activate "${top.alias}" first, or make another active certificate the default.`,
      { alias, wouldBeDefault: top.alias },
    );
  }
  return renumber(list);
}

/** K3: move the entry to position 1; the others keep their order. */
export function makeDefault<T extends KeystoreSlot>(slots: readonly T[], alias: string): T[] {
  const list = sorted(slots);
  const i = indexOf(list, alias);
  const [entry] = list.splice(i, 1) as [T];
  if (!entry.active) throw refuseInactiveDefault(alias);
  return renumber([entry, ...list]);
}

/** K4: activate or deactivate. The default and the last active entry stay active. */
export function setActive<T extends KeystoreSlot>(slots: readonly T[], alias: string, active: boolean): T[] {
  const list = sorted(slots);
  const i = indexOf(list, alias);
  const entry = list[i] as T;
  if (entry.active === active) return renumber(list);
  if (!active) {
    if (list.filter((s) => s.active).length === 1) {
      throw new CertfleetError(
        ErrorCode.last_active_certificate,
        `"${alias}" is the only active certificate and cannot be deactivated. Activate or add another certificate first.`,
        { alias },
      );
    }
    if (i === 0) {
      throw new CertfleetError(
        ErrorCode.cannot_deactivate_default,
        `"${alias}" is the default and the default is always active. Make another active certificate the default ` +
          `first (\`certfleet cert default ALIAS\`), then deactivate "${alias}".`,
        { alias },
      );
    }
  }
  list[i] = { ...entry, active };
  return renumber(list);
}

/** How many devices hold the entry (pinned) or are about to (pending replacement). */
export interface CertificateUsage {
  readonly pinned: number;
  readonly pending: number;
}

/** K7: remove an entry that no device uses; the list closes up behind it. */
export function removeSlot<T extends KeystoreSlot>(slots: readonly T[], alias: string, usage: CertificateUsage): T[] {
  const list = sorted(slots);
  const i = indexOf(list, alias);
  const entry = list[i] as T;
  const inUse = usage.pinned + usage.pending;
  if (inUse > 0) {
    throw new CertfleetError(
      ErrorCode.certificate_in_use,
      `"${alias}" is used by ${inUse} device${inUse === 1 ? '' : 's'} (${usage.pinned} pinned, ${usage.pending} pending replacement) ` +
        `and cannot be deleted, or they would lose contact. List them with \`certfleet cert devices ${alias}\`; ` +
        'delete it once they have moved to another certificate.',
      { alias, devices: inUse, pinned: usage.pinned, pending: usage.pending, command: `certfleet cert devices ${alias}` },
    );
  }
  if (entry.active && list.filter((s) => s.active).length === 1) {
    throw new CertfleetError(
      ErrorCode.last_active_certificate,
      `"${alias}" is the only active certificate and cannot be deleted. Activate or add another certificate first.`,
      { alias },
    );
  }
  list.splice(i, 1);
  const top = list[0];
  if (i === 0 && top && !top.active) {
    throw new CertfleetError(
      ErrorCode.default_must_be_active,
      `Deleting the default "${alias}" would make the inactive "${top.alias}" the default. ` +
        `Make an active certificate the default first, then delete "${alias}".`,
      { alias, wouldBeDefault: top.alias },
    );
  }
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
