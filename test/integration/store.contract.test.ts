/**
 * The Store contract (src/app/store.ts), run against SQLite and PostgreSQL alike. Every repository
 * method, plus what the database itself must guarantee: the foreign keys that keep a used
 * certificate, rollback, idempotent migrations and the keystore lock across nodes.
 *
 * Certificate bytes here are random: the store neither parses nor transforms them (real
 * certificates belong to the crypto tests and their fixtures).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely } from 'kysely';
import pg from 'pg';
import type { NewUser } from '../../src/app/accounts.js';
import type { NewCertificate } from '../../src/app/certificates.js';
import type { TokenRecord } from '../../src/app/records.js';
import type { NewDevice } from '../../src/app/register-device.js';
import type { Store } from '../../src/app/store.js';
import { ALLOWED_SIGNATURE_ALGORITHMS } from '../../src/domain/algorithms.js';
import { algorithmBit, algorithmMask } from '../../src/domain/compatibility.js';
import { isCertfleetError } from '../../src/domain/errors.js';
import { changedSlots, makeDefault, moveDown } from '../../src/domain/keystore.js';
import { refusedWith } from '../support/refusals.js';
import { found } from '../support/found.js';
import { MIGRATION_NAMES } from '../../src/storage/migrations/index.js';
import { forEachDatabase, TEST_PG_URL, type TestDatabase } from '../support/databases.js';
import { OwnSchemaPostgresDialect } from '../../src/storage/own-schema-introspector.js';

const T0 = '2025-01-01T00:00:00.000Z';

let serial = 0;
function certificate(alias: string, position: number, overrides: Partial<NewCertificate> = {}): NewCertificate {
  serial += 1;
  const sha256 = randomBytes(32).toString('hex').toUpperCase().match(/../g)?.join(':') ?? '';
  return {
    id: `cert-${alias}`,
    alias,
    position,
    active: true,
    source: 'generated',
    createdAt: T0,
    certDer: randomBytes(600),
    sealedKey: randomBytes(1200),
    facts: {
      subject: `CN=${alias}`,
      issuer: `CN=${alias}`,
      serialNumber: serial.toString(16).padStart(16, '0'),
      notBefore: '2025-01-01T00:00:00.000Z',
      notAfter: '2035-01-01T00:00:00.000Z',
      signatureAlgorithm: 'SHA512withRSA',
      signatureAlgorithmOid: '1.2.840.113549.1.1.13',
      keyAlgorithm: 'RSA',
      keySize: 4096,
      curve: null,
      sha1Fingerprint: randomBytes(20).toString('hex').toUpperCase(),
      sha256Fingerprint: sha256,
    },
    ...overrides,
  };
}

function device(id: string, certificateId: string, overrides: Partial<NewDevice> = {}): NewDevice {
  return {
    id,
    unitId: `00:E0:C5:${id.slice(-2).padStart(2, '0')}:00:01`,
    name: `thin-${id}`,
    osFamily: 'IGEL OS',
    osVersion: '11.08.200',
    profile: null,
    declaredAlgorithms: null,
    certificateId,
    credentialHash: `hash-${id}`,
    registeredAt: T0,
    ...overrides,
  };
}

function user(username: string, role: NewUser['role'] = 'operator'): NewUser {
  return { id: `user-${username}`, username, role, createdAt: T0, passwordHash: `scrypt$${username}` };
}

function token(id: string, userId: string, expiresAt: string): TokenRecord & { tokenHash: string } {
  return { id, userId, name: `token ${id}`, createdAt: T0, expiresAt, lastUsedAt: null, tokenHash: `sha256-${id}` };
}


/** Makes `certificate` the rotation target, as a pass would: devices that can use it and do not pin it have it pending. */
async function target(store: Store, certificate: NewCertificate): Promise<void> {
  await store.rotation.setTarget(certificate.id, algorithmBit(certificate.facts.signatureAlgorithm), T0);
}

/** A mask without SHA512withRSA (the algorithm of `certificate()`): such a device cannot use the target. */
const LEGACY_MASK = algorithmMask(['SHA256withRSA']);

/** Reads the database directly, bypassing the Store, to see what it really wrote. */
async function rawQuery(db: TestDatabase, text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
  if (db.dialect === 'sqlite') {
    const conn = new BetterSqlite3(db.url);
    try {
      const stmt = conn.prepare(text.replace(/\$\d+/g, '?'));
      if (stmt.reader) {
        // better-sqlite3 returns unknown[] rows; each is an object because the statement has named columns
        return stmt.all(...params) as Record<string, unknown>[];
      }
      stmt.run(...params);
      return [];
    } finally {
      conn.close();
    }
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(text, [...params])).rows;
  } finally {
    await client.end();
  }
}

forEachDatabase('Store contract', (ctx) => {
  const fresh = ctx.storePerTest();
  const store = (): Store => fresh.store;

  // --- keystore ---------------------------------------------------------------------------

  it('starts with an empty keystore at revision 0', async () => {
    assert.deepEqual(await store().keystore.list(), []);
    assert.equal(await store().keystore.revision(), 0);
    assert.deepEqual(await store().keystore.allKeyMaterial(), []);
  });

  it('lists entries in position order with their facts, source and zero usage', async () => {
    const entries = [certificate('c', 3), certificate('a', 1), certificate('b', 2, { active: false, source: 'imported' })];
    for (const e of entries) await store().keystore.insert(e);
    const list = await store().keystore.list();
    assert.deepEqual(
      list.map((e) => [e.alias, e.position, e.active]),
      [
        ['a', 1, true],
        ['b', 2, false],
        ['c', 3, true],
      ],
    );
    const b = list[1];
    const given = entries[2];
    assert.ok(b && given);
    assert.deepEqual(b, {
      id: given.id,
      alias: 'b',
      position: 2,
      active: false,
      facts: given.facts,
      source: 'imported',
      createdAt: T0,
      usage: { pinned: 0, pending: 0 },
    });
    assert.ok(!('certDer' in b) && !('sealedKey' in b), 'list() carries no key material');
  });

  it('keeps an EC entry without RSA-only facts', async () => {
    const ec = certificate('ec', 1);
    await store().keystore.insert({
      ...ec,
      facts: { ...ec.facts, keyAlgorithm: 'EC', keySize: 384, curve: 'P-384', signatureAlgorithm: 'SHA384withECDSA' },
    });
    const found = await store().keystore.findByAlias('ec');
    assert.equal(found?.facts.curve, 'P-384');
    assert.equal(found?.facts.keySize, 384);
  });

  it('finds an entry by alias and by SHA-256 fingerprint, with its usage', async () => {
    const a = certificate('a', 1);
    await store().keystore.insert(a);
    await store().keystore.insert(certificate('b', 2));
    assert.equal((await store().keystore.findByAlias('a'))?.id, a.id);
    assert.equal((await store().keystore.findBySha256(a.facts.sha256Fingerprint))?.alias, 'a');
    assert.equal(await store().keystore.findByAlias('A'), null, 'aliases are matched exactly');
    assert.equal(await store().keystore.findByAlias('nope'), null);
    assert.equal(await store().keystore.findBySha256('00:11'), null);
    await store().devices.insert(device('d1', a.id));
    assert.deepEqual((await store().keystore.findByAlias('a'))?.usage, { pinned: 1, pending: 0 });
  });

  it('refuses a taken alias and an already stored certificate, writing nothing', async () => {
    const a = certificate('a', 1);
    await store().keystore.insert(a);
    await assert.rejects(store().keystore.insert(certificate('a', 2, { id: 'other' })), refusedWith('alias_taken'));
    await assert.rejects(
      store().keystore.insert(certificate('b', 2, { facts: { ...a.facts } })),
      refusedWith('duplicate_certificate'),
    );
    assert.deepEqual(
      (await store().keystore.list()).map((e) => e.alias),
      ['a'],
    );
  });

  it('writes swapped positions and activity (updateSlots), as the domain computes them', async () => {
    for (const [alias, position] of [['a', 1], ['b', 2], ['c', 3]] as const) {
      await store().keystore.insert(certificate(alias, position));
    }
    const before = await store().keystore.list();
    const swapped = moveDown(before, 'a'); // a and b swap: b becomes the default
    await store().keystore.updateSlots(changedSlots(before, swapped));
    assert.deepEqual((await store().keystore.list()).map((e) => e.alias), ['b', 'a', 'c']);

    const now = await store().keystore.list();
    const toTop = makeDefault(now, 'c'); // every position changes
    await store().keystore.updateSlots(changedSlots(now, toTop));
    await store().keystore.updateSlots([{ id: 'cert-a', alias: 'a', position: 3, active: false }]);
    assert.deepEqual(
      (await store().keystore.list()).map((e) => [e.alias, e.position, e.active]),
      [
        ['c', 1, true],
        ['b', 2, true],
        ['a', 3, false],
      ],
    );
  });

  it('refuses to update a slot that does not exist', async () => {
    await assert.rejects(
      store().keystore.updateSlots([{ id: 'ghost', alias: 'ghost', position: 1, active: true }]),
      refusedWith('certificate_not_found'),
    );
  });

  it('removes an entry that no device uses', async () => {
    await store().keystore.insert(certificate('a', 1));
    await store().keystore.insert(certificate('b', 2));
    await store().keystore.remove('cert-b');
    assert.deepEqual((await store().keystore.list()).map((e) => e.alias), ['a']);
    assert.equal(await store().keystore.keyMaterial('b'), null);
  });

  it('returns key material exactly as given, in priority order', async () => {
    const a = certificate('a', 2);
    const b = certificate('b', 1);
    await store().keystore.insert(a);
    await store().keystore.insert(b);
    assert.deepEqual(await store().keystore.keyMaterial('a'), { id: a.id, certDer: a.certDer, sealedKey: a.sealedKey });
    assert.equal(await store().keystore.keyMaterial('missing'), null);
    assert.deepEqual(
      (await store().keystore.allKeyMaterial()).map((k) => k.id),
      [b.id, a.id],
    );
  });

  it('raises the revision by one per bump, and lock() returns the current one', async () => {
    assert.equal(await store().keystore.bumpRevision('2025-01-02T00:00:00Z'), 1);
    assert.equal(await store().keystore.bumpRevision('2025-01-03T00:00:00Z'), 2);
    assert.equal(await store().keystore.revision(), 2);
    const locked = await store().transaction(async (tx) => {
      const rev = await tx.keystore.lock();
      await tx.keystore.bumpRevision('2025-01-04T00:00:00Z');
      return rev;
    });
    assert.equal(locked, 2);
    assert.equal(await store().keystore.revision(), 3);
  });

  // --- usage and devices ------------------------------------------------------------------

  it('counts pinned and pending devices per certificate, in list() and usage()', async () => {
    const a = certificate('a', 1);
    const b = certificate('b', 2);
    const c = certificate('c', 3);
    for (const e of [a, b, c]) await store().keystore.insert(e);
    for (let i = 0; i < 5; i++) await store().devices.insert(device(`dev-a${i}`, a.id, i < 2 ? {} : { supportedMask: LEGACY_MASK }));
    for (let i = 0; i < 2; i++) await store().devices.insert(device(`dev-b${i}`, b.id));
    await store().devices.insert(device('dev-c0', c.id));
    await target(store(), b);

    const usage = Object.fromEntries((await store().keystore.list()).map((e) => [e.alias, e.usage]));
    assert.deepEqual(usage, {
      a: { pinned: 5, pending: 0 },
      b: { pinned: 2, pending: 3 },
      c: { pinned: 1, pending: 0 },
    });
    assert.deepEqual(await store().keystore.usage(b.id), { pinned: 2, pending: 3 });
    assert.deepEqual(await store().keystore.usage('unknown'), { pinned: 0, pending: 0 });
  });

  it('refuses at the database level to delete a certificate a device pins or has pending', async () => {
    const a = certificate('a', 1);
    const b = certificate('b', 2);
    await store().keystore.insert(a);
    await store().keystore.insert(b);
    await store().devices.insert(device('dev-1', a.id));
    // remove() does not check usage itself: the refusal comes from the foreign key.
    await assert.rejects(store().keystore.remove(a.id), refusedWith('certificate_in_use'));
    await target(store(), b);
    await assert.rejects(store().keystore.remove(b.id), refusedWith('certificate_in_use'));
    assert.deepEqual((await store().keystore.list()).map((e) => e.alias), ['a', 'b']);
  });

  it('refuses a device whose certificate does not exist', async () => {
    await assert.rejects(store().devices.insert(device('dev-1', 'no-such-certificate')), (e: unknown) => {
      // A foreign key violation, thrown as the database reports it (a bug, not a refusal).
      assert.equal(isCertfleetError(e), false);
      assert.match(String(e), /foreign key/i);
      return true;
    });
  });

  it('lists the devices of a certificate, pinned and pending, with aliases joined', async () => {
    const a = certificate('a', 1);
    const b = certificate('b', 2);
    await store().keystore.insert(a);
    await store().keystore.insert(b);
    await store().devices.insert(
      device('dev-1', a.id, { declaredAlgorithms: ['SHA256withRSA', 'SHA384withECDSA'], profile: 'igel-os-11' }),
    );
    await store().devices.insert(device('dev-2', b.id));
    await store().devices.insert(device('dev-3', b.id, { supportedMask: LEGACY_MASK }));
    await target(store(), a);

    const page = await store().devices.listByCertificate(a.id, { offset: 0, limit: 10 });
    assert.equal(page.count, 2);
    assert.deepEqual(page.items, [
      {
        id: 'dev-1',
        unitId: device('dev-1', a.id).unitId,
        name: 'thin-dev-1',
        osFamily: 'IGEL OS',
        osVersion: '11.08.200',
        profile: 'igel-os-11',
        declaredAlgorithms: ['SHA256withRSA', 'SHA384withECDSA'],
        // No mask given: the declaration's (NewDevice.supportedMask).
        supportedAlgorithms: ['SHA256withRSA', 'SHA384withECDSA'],
        certificateId: a.id,
        certificateAlias: 'a',
        pendingCertificateId: null,
        pendingCertificateAlias: null,
        registeredAt: T0,
        lastContactAt: null,
        reRegistrationReason: null,
      },
      {
        id: 'dev-2',
        unitId: device('dev-2', b.id).unitId,
        name: 'thin-dev-2',
        osFamily: 'IGEL OS',
        osVersion: '11.08.200',
        profile: null,
        declaredAlgorithms: null,
        // No mask and no declaration: the whole allow-list, as for unknown firmware.
        supportedAlgorithms: ALLOWED_SIGNATURE_ALGORITHMS,
        certificateId: b.id,
        certificateAlias: 'b',
        pendingCertificateId: a.id,
        pendingCertificateAlias: 'a',
        registeredAt: T0,
        lastContactAt: null,
        reRegistrationReason: null,
      },
    ]);
    const ofB = await store().devices.listByCertificate(b.id, { offset: 0, limit: 10 });
    assert.deepEqual(
      ofB.items.map((d) => d.id),
      ['dev-2', 'dev-3'],
    );
  });

  it('pages the devices of a certificate by name, without overlap', async () => {
    const a = certificate('a', 1);
    await store().keystore.insert(a);
    const ids = Array.from({ length: 25 }, (_, i) => `dev-${String(i).padStart(2, '0')}`);
    // inserted in reverse, so that the order comes from the query, not from insertion
    for (const id of [...ids].reverse()) await store().devices.insert(device(id, a.id));
    const pages = [];
    for (const offset of [0, 10, 20]) pages.push(await store().devices.listByCertificate(a.id, { offset, limit: 10 }));
    assert.deepEqual(
      pages.map((p) => [p.count, p.items.length]),
      [
        [25, 10],
        [25, 10],
        [25, 5],
      ],
    );
    assert.deepEqual(
      pages.flatMap((p) => p.items.map((d) => d.id)),
      ids,
    );
    assert.deepEqual(await store().devices.listByCertificate(a.id, { offset: 40, limit: 10 }), { count: 25, items: [] });
    assert.deepEqual(await store().devices.listByCertificate('other', { offset: 0, limit: 10 }), { count: 0, items: [] });
  });

  it('searches id, unit id and name case-insensitively, with % _ and \\ matching only themselves', async () => {
    const a = certificate('a', 1);
    await store().keystore.insert(a);
    const named = [
      ['d1', 'Lab 50% floor'],
      ['d2', 'lab_north'],
      ['d3', 'labXnorth'],
      ['d4', 'back\\slash'],
      ['d5', 'Reception'],
    ] as const;
    for (const [id, name] of named) await store().devices.insert(device(id, a.id, { name, unitId: `AA:BB:CC:00:00:${id.slice(1)}0` }));
    const search = async (term: string): Promise<string[]> =>
      (await store().devices.listByCertificate(a.id, { search: term, offset: 0, limit: 50 })).items.map((d) => d.id);

    assert.deepEqual(await search('%'), ['d1']);
    assert.deepEqual(await search('_'), ['d2']);
    assert.deepEqual(await search('LAB_N'), ['d2']);
    assert.deepEqual(await search('\\'), ['d4']);
    assert.deepEqual(await search('rECEP'), ['d5']);
    assert.deepEqual(await search('aa:bb:cc:00:00:30'), ['d3'], 'unit id, ignoring case');
    assert.deepEqual(await search('D4'), ['d4'], 'id, ignoring case');
    assert.deepEqual((await search('  ')).length, 5, 'a blank search lists everything');
    const counted = await store().devices.listByCertificate(a.id, { search: 'lab', offset: 1, limit: 1 });
    assert.equal(counted.count, 3, 'the count is of all matches, not of the page');
    assert.equal(counted.items.length, 1);
  });

  // --- users and tokens -------------------------------------------------------------------

  it('creates users with unique names, finds, lists and counts them', async () => {
    await store().users.create(user('carol', 'viewer'));
    await store().users.create(user('alice', 'admin'));
    await store().users.create(user('bob', 'operator'));
    await assert.rejects(store().users.create({ ...user('alice'), id: 'another-id' }), refusedWith('user_exists'));

    assert.deepEqual(await store().users.findByUsername('alice'), {
      id: 'user-alice',
      username: 'alice',
      role: 'admin',
      createdAt: T0,
      passwordHash: 'scrypt$alice',
    });
    assert.equal(await store().users.findByUsername('nobody'), null);
    const list = await store().users.list();
    assert.deepEqual(list.map((u) => u.username), ['alice', 'bob', 'carol']);
    assert.ok(list.every((u) => !('passwordHash' in u)), 'list() carries no password hashes');
    assert.equal(await store().users.count(), 3);
    assert.equal(await store().users.countByRole('admin'), 1);
    assert.equal(await store().users.countByRole('viewer'), 1);
    await store().users.create(user('dave', 'admin'));
    assert.equal(await store().users.countByRole('admin'), 2);
  });

  it('removes a user together with its tokens', async () => {
    await store().users.create(user('alice'));
    await store().users.create(user('bob'));
    await store().tokens.create(token('t1', 'user-alice', '2030-01-01T00:00:00.000Z'));
    await store().tokens.create(token('t2', 'user-bob', '2030-01-01T00:00:00.000Z'));
    await store().users.remove('user-alice');
    assert.equal(await store().users.findByUsername('alice'), null);
    assert.deepEqual(await store().tokens.listForUser('user-alice'), []);
    assert.equal(await store().tokens.findValid('sha256-t1', T0), null);
    assert.equal((await store().tokens.findValid('sha256-t2', T0))?.user.username, 'bob');
  });

  it('finds a token with its user only until it expires', async () => {
    await store().users.create(user('alice', 'admin'));
    await store().tokens.create(token('t1', 'user-alice', '2025-06-01T12:00:00.000Z'));
    const found = await store().tokens.findValid('sha256-t1', '2025-06-01T11:59:59.999Z');
    assert.deepEqual(found, {
      token: {
        id: 't1',
        userId: 'user-alice',
        name: 'token t1',
        createdAt: T0,
        expiresAt: '2025-06-01T12:00:00.000Z',
        lastUsedAt: null,
      },
      user: { id: 'user-alice', username: 'alice', role: 'admin', createdAt: T0 },
    });
    assert.equal(await store().tokens.findValid('sha256-t1', '2025-06-01T12:00:00.000Z'), null, 'expired at its time');
    // The same instant written differently compares the same: timestamps are stored canonically.
    assert.equal(await store().tokens.findValid('sha256-t1', '2025-06-01T13:00:00+01:00'), null);
    assert.ok(await store().tokens.findValid('sha256-t1', '2025-06-01T12:59:59+01:00'));
    assert.equal(await store().tokens.findValid('sha256-unknown', T0), null);
  });

  it('touches, lists and removes tokens', async () => {
    await store().users.create(user('alice'));
    await store().tokens.create(token('t2', 'user-alice', '2030-01-01T00:00:00.000Z'));
    await store().tokens.create({ ...token('t1', 'user-alice', '2030-01-01T00:00:00.000Z'), createdAt: '2024-12-31T00:00:00.000Z' });
    await store().tokens.touch('t2', '2025-03-04T05:06:07.089Z');
    const listed = await store().tokens.listForUser('user-alice');
    assert.deepEqual(listed.map((t) => [t.id, t.lastUsedAt]), [
      ['t1', null],
      ['t2', '2025-03-04T05:06:07.089Z'],
    ]);
    await store().tokens.remove('t1');
    assert.deepEqual((await store().tokens.listForUser('user-alice')).map((t) => t.id), ['t2']);
  });

  // --- audit and meta ---------------------------------------------------------------------

  it('appends audit events and lists them newest first, paging back by id', async () => {
    for (let i = 1; i <= 5; i++) {
      await store().audit.append({
        at: `2025-01-0${i}T00:00:00.000Z`,
        actor: i === 3 ? 'system' : 'alice',
        action: 'cert.generate',
        target: i === 3 ? null : `alias-${i}`,
        result: i === 4 ? 'refused' : 'ok',
        code: i === 4 ? 'alias_taken' : null,
        details: { n: i, nested: { list: [1, 'two'] } },
      });
    }
    const first = await store().audit.list({ limit: 2 });
    assert.deepEqual(first.map((e) => e.details['n']), [5, 4]);
    assert.equal(first[1]?.result, 'refused');
    assert.equal(first[1]?.code, 'alias_taken');
    assert.deepEqual(first[0]?.details, { n: 5, nested: { list: [1, 'two'] } });
    assert.equal(typeof first[0]?.id, 'number');
    const lastId = first[1]?.id;
    assert.ok(lastId !== undefined);
    const second = await store().audit.list({ limit: 2, beforeId: lastId });
    assert.deepEqual(second.map((e) => [e.details['n'], e.actor, e.target]), [
      [3, 'system', null],
      [2, 'alice', 'alias-2'],
    ]);
    const rest = await store().audit.list({ limit: 10, beforeId: second[1]?.id ?? 0 });
    assert.deepEqual(rest.map((e) => e.at), ['2025-01-01T00:00:00.000Z']);
    assert.deepEqual(await store().audit.list({ limit: 0 }), []);
  });

  it('gets, puts and overwrites meta values', async () => {
    assert.equal(await store().meta.get('cluster_id'), null);
    await store().meta.put('cluster_id', 'one');
    await store().meta.put('master_key_check', 'abc');
    await store().meta.put('cluster_id', 'two');
    assert.equal(await store().meta.get('cluster_id'), 'two');
    assert.equal(await store().meta.get('master_key_check'), 'abc');
  });

  // --- transactions -----------------------------------------------------------------------

  it('commits what a transaction wrote and returns its value', async () => {
    const value = await store().transaction(async (tx) => {
      await tx.keystore.insert(certificate('a', 1));
      await tx.meta.put('k', 'v');
      return 42;
    });
    assert.equal(value, 42);
    assert.equal((await store().keystore.list()).length, 1);
    assert.equal(await store().meta.get('k'), 'v');
  });

  it('leaves nothing written when a transaction throws', async () => {
    const boom = new Error('boom');
    await assert.rejects(
      store().transaction(async (tx) => {
        await tx.keystore.lock();
        await tx.keystore.insert(certificate('a', 1));
        await tx.devices.insert(device('dev-1', 'cert-a'));
        await tx.keystore.bumpRevision('2025-02-01T00:00:00.000Z');
        await tx.users.create(user('alice'));
        await tx.audit.append({ at: T0, actor: 'alice', action: 'x', target: null, result: 'ok', code: null, details: {} });
        await tx.meta.put('k', 'v');
        throw boom;
      }),
      (e) => e === boom,
    );
    assert.deepEqual(await store().keystore.list(), []);
    assert.equal(await store().keystore.revision(), 0);
    assert.equal(await store().users.count(), 0);
    assert.deepEqual(await store().audit.list({ limit: 10 }), []);
    assert.equal(await store().meta.get('k'), null);
    // and the store is usable afterwards
    await store().meta.put('k', 'after');
    assert.equal(await store().meta.get('k'), 'after');
  });

  it('rolls back a transaction whose statement the database refused', async () => {
    await store().keystore.insert(certificate('a', 1));
    await assert.rejects(
      store().transaction(async (tx) => {
        await tx.meta.put('k', 'v');
        await tx.keystore.insert(certificate('a', 2, { id: 'again' }));
      }),
      refusedWith('alias_taken'),
    );
    assert.equal(await store().meta.get('k'), null);
  });

  it('stores the sealed key and the certificate bytes untransformed', async () => {
    const a = certificate('a', 1, { sealedKey: Buffer.from([0, 1, 2, 0xff, 0, 0x80, 0x7f]) });
    await store().keystore.insert(a);
    const [first] = await rawQuery(await currentDatabase(), 'select sealed_key, cert_der from certificates where alias = $1', [
      'a',
    ]);
    const row = found(first, 'the row of a');
    assert.ok(Buffer.isBuffer(row['sealed_key']));
    assert.deepEqual(row['sealed_key'], a.sealedKey);
    assert.deepEqual(row['cert_der'], a.certDer);
  });

  // --- migrations and locking across stores -------------------------------------------------

  it('migrates idempotently: opening the same database again keeps data and schema version', async () => {
    const db = await ctx.database();
    const first = await db.open();
    await first.keystore.insert(certificate('a', 1));
    await first.close();
    const again = await db.open();
    const third = await db.open();
    assert.deepEqual((await third.keystore.list()).map((e) => e.alias), ['a']);
    assert.deepEqual((await again.keystore.list()).map((e) => e.alias), ['a']);
    const ran = await rawQuery(db, 'select name from kysely_migration order by name', []);
    assert.deepEqual(ran.map((r) => r['name']), [...MIGRATION_NAMES]);
    const state = await rawQuery(db, 'select count(*) as n from keystore_state', []);
    assert.equal(Number(state[0]?.['n']), 1);
  });

  it('runs two transactions that lock() the keystore one after the other', async () => {
    await assertSerialised(store(), store());
  });

  if (ctx.dialect === 'postgres') {
    it('serialises lock() across two nodes (stores) on one database', async () => {
      const db = await ctx.database();
      const [a, b] = await Promise.all([db.open(), db.open()]); // migrating concurrently is safe too
      await assertSerialised(a, b);
    });
  }

  if (ctx.dialect === 'postgres') {
    it('introspects only its own schema, so other schemas dropped meanwhile cannot fail a migration', async () => {
      const own = await ctx.database();
      const other = await ctx.database();
      await (await own.open()).close();
      await (await other.open()).close();
      const schema = found(own.schema, 'the PostgreSQL schema');
      const pool = new pg.Pool({ connectionString: TEST_PG_URL, max: 1 });
      const db = new Kysely<unknown>({ dialect: new OwnSchemaPostgresDialect({ pool }, schema) });
      try {
        assert.deepEqual(await db.introspection.getSchemas(), [{ name: schema }]);
        const tables = await db.introspection.getTables();
        assert.ok(tables.length > 5, `certfleet's tables: ${tables.map((t) => t.name).join(', ')}`);
        assert.deepEqual(new Set(tables.map((t) => t.schema)), new Set([schema]), 'only the own schema');
        assert.ok(!tables.some((t) => t.name === 'kysely_migration'), "Kysely's own tables only when asked");
        const withInternal = await db.introspection.getTables({ withInternalKyselyTables: true });
        assert.ok(withInternal.some((t) => t.name === 'kysely_migration'));
        const devices = found(tables.find((t) => t.name === 'devices'), 'the devices table');
        assert.ok(devices.columns.some((c) => c.name === 'id' && !c.isNullable), devices.columns.map((c) => c.name).join(', '));
      } finally {
        await db.destroy();
      }

      // Schemas that vanish while new databases migrate (the test suite's own pattern, which made
      // Kysely's all-schema introspector fail with invalid_schema_name).
      const doomed = await Promise.all(Array.from({ length: 8 }, () => ctx.database()));
      await Promise.all(doomed.map(async (d) => (await d.open()).close()));
      const fresh = await Promise.all(Array.from({ length: 3 }, () => ctx.database()));
      const [stores] = await Promise.all([
        Promise.all(fresh.map((d) => d.open())),
        (async () => {
          for (const d of doomed) await d.drop();
        })(),
      ]);
      for (const opened of stores) assert.deepEqual(await opened.keystore.list(), []);
    });
  }

  async function currentDatabase(): Promise<TestDatabase> {
    return fresh.database;
  }

  async function assertSerialised(first: Store, second: Store): Promise<void> {
    const events: string[] = [];
    let signalLocked: () => void = () => {};
    const firstLocked = new Promise<void>((resolve) => (signalLocked = resolve));
    let signalSecondStarted: () => void = () => {};
    const secondStarted = new Promise<void>((resolve) => (signalSecondStarted = resolve));

    const one = first.transaction(async (tx) => {
      await tx.keystore.lock();
      events.push('first locked');
      signalLocked();
      // PostgreSQL runs both transactions at once: the first goes on only once the second has
      // started, so that the second meets the lock. SQLite runs them one after the other (one
      // connection, BEGIN IMMEDIATE): the second cannot start before the first ends.
      if (ctx.dialect === 'postgres') await secondStarted;
      const n = Number((await tx.meta.get('counter')) ?? '0');
      await tx.meta.put('counter', String(n + 1));
      await tx.keystore.bumpRevision('2025-02-01T00:00:00.000Z');
      events.push('first done');
    });
    await firstLocked;
    const two = second.transaction(async (tx) => {
      events.push('second started');
      signalSecondStarted();
      const revision = await tx.keystore.lock();
      events.push('second locked');
      const n = Number((await tx.meta.get('counter')) ?? '0');
      await tx.meta.put('counter', String(n + 1));
      return revision;
    });
    const [, seen] = await Promise.all([one, two]);

    assert.ok(events.indexOf('second locked') > events.indexOf('first done'), events.join(' → '));
    assert.equal(seen, 1, 'the second transaction saw the first one committed');
    assert.equal(await first.meta.get('counter'), '2', 'no update was lost');
    if (ctx.dialect === 'postgres') {
      // Both transactions really ran at once: it was the lock that made the second one wait.
      assert.ok(events.indexOf('second started') < events.indexOf('first done'), events.join(' → '));
    }
  }
});

