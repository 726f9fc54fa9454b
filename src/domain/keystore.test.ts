import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CertfleetError } from './errors.js';
import { changedSlots, makeDefault, moveDown, moveUp, nextPosition, removeSlot, setActive, validateAlias, type KeystoreSlot } from './keystore.js';

function slots(spec: string): KeystoreSlot[] {
  // "a b- c" → a active, b inactive, c active, positions in order
  return spec.split(' ').map((s, i) => ({ id: s.replace('-', ''), alias: s.replace('-', ''), position: i + 1, active: !s.endsWith('-') }));
}
const order = (list: readonly KeystoreSlot[]) => list.map((s) => `${s.alias}${s.active ? '' : '-'}@${s.position}`).join(' ');
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CertfleetError);
    return e.code;
  }
  assert.fail('expected a refusal');
};
const none = { pinned: 0, pending: 0 };

describe('keystore order (K2, K3)', () => {
  it('moves an entry up by swapping it with its neighbour', () => {
    assert.equal(order(moveUp(slots('a b c'), 'c')), 'a@1 c@2 b@3');
  });
  it('makes an entry that reaches the top the default', () => {
    assert.equal(order(moveUp(slots('a b c'), 'b')), 'b@1 a@2 c@3');
  });
  it('moves an entry down by swapping it with its neighbour', () => {
    assert.equal(order(moveDown(slots('a b c'), 'a')), 'b@1 a@2 c@3');
  });
  it('make default moves the entry to the top and keeps the others in order', () => {
    assert.equal(order(makeDefault(slots('a b c d'), 'd')), 'd@1 a@2 b@3 c@4');
  });
  it('refuses to move the top up or the bottom down', () => {
    assert.equal(code(() => moveUp(slots('a b'), 'a')), 'already_at_top');
    assert.equal(code(() => moveDown(slots('a b'), 'b')), 'already_at_bottom');
  });
  it('refuses to move an inactive entry to the top (K2)', () => {
    assert.equal(code(() => moveUp(slots('a b-'), 'b')), 'default_must_be_active');
    assert.equal(code(() => makeDefault(slots('a b- c'), 'b')), 'default_must_be_active');
  });
  it('refuses to move the default down below an inactive neighbour (K2)', () => {
    assert.equal(code(() => moveDown(slots('a b- c'), 'a')), 'default_must_be_active');
  });
  it('renumbers positions that have gaps', () => {
    const gappy = [{ id: 'a', alias: 'a', position: 3, active: true }, { id: 'b', alias: 'b', position: 7, active: true }];
    assert.equal(order(moveUp(gappy, 'b')), 'b@1 a@2');
  });
  it('refuses an unknown alias', () => {
    assert.equal(code(() => moveUp(slots('a b'), 'zz')), 'certificate_not_found');
  });
});

describe('activation (K2, K4)', () => {
  it('deactivates and activates an entry below the top', () => {
    const off = setActive(slots('a b c'), 'b', false);
    assert.equal(order(off), 'a@1 b-@2 c@3');
    assert.equal(order(setActive(off, 'b', true)), 'a@1 b@2 c@3');
  });
  it('refuses to deactivate the default', () => {
    assert.equal(code(() => setActive(slots('a b'), 'a', false)), 'cannot_deactivate_default');
  });
  it('refuses to deactivate the last active entry', () => {
    assert.equal(code(() => setActive(slots('a b-'), 'a', false)), 'last_active_certificate');
  });
  it('changes nothing when the entry already has the state', () => {
    const list = slots('a b-');
    assert.deepEqual(changedSlots(list, setActive(list, 'b', false)), []);
  });
});

describe('delete (K7)', () => {
  it('removes an unused entry and closes the gap', () => {
    assert.equal(order(removeSlot(slots('a b c'), 'b', none)), 'a@1 c@2');
  });
  it('refuses while devices pin the entry or have it pending, naming how many and the command', () => {
    try {
      removeSlot(slots('a b'), 'b', { pinned: 3, pending: 2 });
      assert.fail('expected a refusal');
    } catch (e) {
      assert.ok(e instanceof CertfleetError);
      assert.equal(e.code, 'certificate_in_use');
      assert.equal(e.details.devices, 5);
      assert.match(e.message, /5 devices/);
      assert.match(e.message, /certfleet cert devices b/);
    }
    assert.equal(code(() => removeSlot(slots('a b'), 'b', { pinned: 0, pending: 1 })), 'certificate_in_use');
  });
  it('refuses to delete the last active entry', () => {
    assert.equal(code(() => removeSlot(slots('a b-'), 'a', none)), 'last_active_certificate');
  });
  it('refuses to delete the default when an inactive entry would become the default', () => {
    assert.equal(code(() => removeSlot(slots('a b- c'), 'a', none)), 'default_must_be_active');
  });
  it('deleting the default makes the next active entry the default', () => {
    assert.equal(order(removeSlot(slots('a b c'), 'a', none)), 'b@1 c@2');
  });
});

describe('aliases and positions', () => {
  it('accepts the alias alphabet and refuses others', () => {
    for (const ok of ['tckey', 'a', 'A.b_c-9', 'x'.repeat(64)]) validateAlias(ok);
    for (const bad of ['', 'x'.repeat(65), 'with space', 'ä', 'a/b', '../x']) {
      assert.equal(code(() => validateAlias(bad)), 'invalid_alias', bad);
    }
  });
  it('puts new entries at the bottom', () => {
    assert.equal(nextPosition([]), 1);
    assert.equal(nextPosition(slots('a b c')), 4);
  });
  it('reports only the slots that moved', () => {
    const before = slots('a b c d');
    assert.deepEqual(changedSlots(before, moveUp(before, 'c')).map((s) => s.alias).sort(), ['b', 'c']);
  });
});
