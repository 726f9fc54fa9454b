/**
 * Issue 10, item 8: mutated keystore files, made from the real fixtures, fed to the import through
 * the REST API. Every case must answer a 4xx with a known code within a second, never a 500, and
 * leave the keystore as it was. The mutations: bit flips, truncations, DER length fields (and JKS
 * length words) changed, and nested DER structures repeated (re-encoded, so the file still parses
 * that far). A PEM file is mutated inside the DER of one of its blocks, then encoded again.
 *
 * The alias of every case is taken (`tckey`): a mutation can leave a valid keystore (PEM has no
 * integrity check), and then every check of the file runs and the answer is `alias_taken`.
 *
 * Runs: CERTFLEET_FUZZ_RUNS (the total over both fuzz files), seed: CERTFLEET_FUZZ_SEED (default:
 * a new one per file, printed at the start and by fast-check on failure). The default 10,000 (the
 * issue's number) took 58 s on the shared 2-core machine with the two files in parallel (load
 * average 7 from other work); a case costs 5–10 ms there, up to 30 ms when the machine is crowded.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import forge from 'node-forge';
import { ErrorCode } from '../../src/domain/errors.js';
import { IMPORT_ERRORS } from '../../src/transport/http-api/certificates.routes.js';
import type { ErrorResponse } from '../../src/transport/http-api/contract/index.js';
import { after, before, describe, it } from 'node:test';
import { FIXTURE_PASSWORDS, fixture, startSqliteApi, type ApiHarness } from './support.js';

export const FUZZ_RUNS_TOTAL = Number(process.env.CERTFLEET_FUZZ_RUNS ?? 10_000);
export const FUZZ_SEED = Number(process.env.CERTFLEET_FUZZ_SEED ?? (Date.now() ^ (process.pid << 8)) >>> 0);

/** The answers an import may give a damaged file: its refusals, less the pool's (busy, timed out). */
const IMPORT_CODES: ReadonlySet<string> = new Set<string>(IMPORT_ERRORS.filter((c) => c !== ErrorCode.import_busy && c !== ErrorCode.import_timed_out));

/** Offsets of the length octets of every DER header in the file (a tolerant walk). */
function derLengthOffsets(b: Buffer): number[] {
  const out: number[] = [];
  const walk = (start: number, end: number, depth: number): void => {
    let o = start;
    while (o + 2 <= end && depth < 12) {
      const tag = b[o] as number;
      const lenAt = o + 1;
      let len = b[lenAt] as number;
      let header = 2;
      if (len & 0x80) {
        const n = len & 0x7f;
        if (n === 0 || n > 4 || lenAt + n >= end) return;
        len = b.readUIntBE(lenAt + 1, n);
        header += n;
      }
      out.push(lenAt);
      if (o + header + len > end) return;
      if (tag & 0x20) walk(o + header, o + header + len, depth + 1);
      else if (tag === 0x04 && len > 2) walk(o + header, o + header + len, depth + 1); // OCTET STRINGs that wrap DER
      o += header + len;
    }
  };
  walk(0, b.length, 0);
  return out;
}

type Mutation =
  | { kind: 'flip'; positions: number[]; bits: number[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'length'; which: number; value: number }
  | { kind: 'word'; at: number; value: number }
  | { kind: 'repeat'; which: number; copies: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), positions: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), bits: fc.array(fc.nat(7), { minLength: 4, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('length' as const), which: fc.nat(), value: fc.oneof(fc.nat(0xff), fc.nat(), fc.constantFrom(0, 0x7f, 0x80, 0x81, 0x84, 0xff)) }),
  fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.oneof(fc.nat(), fc.constantFrom(0, 1, 2, 0xffffffff, 0x7fffffff, 10_001)) }),
  fc.record({ kind: fc.constant('repeat' as const), which: fc.nat(), copies: fc.integer({ min: 1, max: 60 }) }),
);

/** Repeats the `which`-th constructed node's first child `copies` more times, re-encoded. */
function repeatNested(der: Buffer, which: number, copies: number): Buffer {
  let root: forge.asn1.Asn1;
  try {
    root = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')), { strict: false, decodeBitStrings: false } as unknown as boolean); // forge's typing lists only the boolean form
  } catch {
    return der;
  }
  const constructed: forge.asn1.Asn1[] = [];
  const visit = (n: forge.asn1.Asn1): void => {
    if (Array.isArray(n.value)) {
      constructed.push(n);
      for (const c of n.value) visit(c);
    }
  };
  visit(root);
  const node = constructed[which % constructed.length];
  if (!node || !Array.isArray(node.value) || node.value.length === 0) return der;
  const first = node.value[0] as forge.asn1.Asn1; // length checked above
  for (let i = 0; i < copies; i++) node.value.push(first);
  return Buffer.from(forge.asn1.toDer(root).getBytes(), 'binary');
}

function mutateDer(der: Buffer, m: Mutation): Buffer {
  const b = Buffer.from(der);
  switch (m.kind) {
    case 'flip':
      m.positions.forEach((p, i) => {
        const at = p % b.length;
        b[at] = (b[at] as number) ^ (1 << (m.bits[i] ?? 0));
      });
      return b;
    case 'truncate':
      return b.length < 2 ? b : b.subarray(0, 1 + (m.at % (b.length - 1))); // an empty file is a request error (400), tested elsewhere
    case 'length': {
      const offsets = derLengthOffsets(b);
      const at = offsets[m.which % Math.max(1, offsets.length)] ?? m.which % b.length;
      b[at] = m.value & 0xff;
      return b;
    }
    case 'word': {
      if (b.length < 4) return b;
      const at = m.at % (b.length - 3);
      b.writeUInt32BE(m.value >>> 0, at);
      return b;
    }
    case 'repeat':
      return repeatNested(b, m.which, m.copies);
  }
}

/** PEM: the mutation applies to the DER of one block (or to the text itself for truncations). */
function mutate(file: Buffer, m: Mutation, block: number): Buffer {
  const text = file.toString('latin1');
  if (!text.startsWith('-----BEGIN') || m.kind === 'truncate') return mutateDer(file, m);
  const blocks = [...text.matchAll(/(-----BEGIN ([A-Z ]+)-----\r?\n)((?:[A-Za-z-]+:.*\r?\n)*\r?\n?)([A-Za-z0-9+/=\s]+?)(-----END \2-----)/g)];
  const chosen = blocks[block % Math.max(1, blocks.length)];
  if (!chosen || chosen.index === undefined) return mutateDer(file, m);
  const der = Buffer.from((chosen[4] as string).replace(/\s+/g, ''), 'base64');
  const body = (mutateDer(der, m).toString('base64').match(/.{1,64}/g) ?? []).join('\n');
  const replaced = `${chosen[1]}${chosen[3]}${body}\n${chosen[5]}`;
  return Buffer.from(text.slice(0, chosen.index) + replaced + text.slice(chosen.index + chosen[0].length), 'latin1');
}

export interface FuzzCase {
  readonly seed: string;
  readonly mutations: Mutation[];
  readonly block: number;
  readonly rightPassword: boolean;
}

/** Runs `runs` cases over the given fixtures against the harness; throws fast-check's report (with the seed) on failure. */
export async function fuzzImports(h: ApiHarness, fixtures: readonly string[], runs: number, seed: number): Promise<{ statuses: Map<string, number>; worstMs: number }> {
  const seeds = new Map(fixtures.map((f) => [f, fixture(f)]));
  const statuses = new Map<string, number>();
  let worstMs = 0;
  const revision = await h.ctx.store.keystore.revision();
  const count = (await h.ctx.store.keystore.list()).length;
  const caseArb = fc.record({
    seed: fc.constantFrom(...fixtures),
    mutations: fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
    block: fc.nat(3),
    rightPassword: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(caseArb, async (c: FuzzCase) => {
      let file = seeds.get(c.seed) as Buffer; // drawn from the same list
      for (const m of c.mutations) file = mutate(file, m, c.block);
      const t = performance.now();
      const res = await h.call('admin', {
        method: 'POST',
        url: '/api/v1/certificates/import',
        payload: { alias: 'tckey', file: file.toString('base64'), password: c.rightPassword ? FIXTURE_PASSWORDS.storePassword : FIXTURE_PASSWORDS.wrongPassword },
      });
      const ms = performance.now() - t;
      worstMs = Math.max(worstMs, ms);
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `status ${res.statusCode}: ${res.body}`);
      const code = res.json<ErrorResponse>().error.code;
      assert.ok(IMPORT_CODES.has(code), `unknown code ${code}`);
      assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
      statuses.set(code, (statuses.get(code) ?? 0) + 1);
      assert.equal(await h.ctx.store.keystore.revision(), revision, 'the keystore changed');
    }),
    { numRuns: runs, seed, endOnFailure: true },
  );
  assert.equal((await h.ctx.store.keystore.list()).length, count);
  return { statuses, worstMs };
}

/** One fuzz suite on its own API and SQLite store: `share` of the runs over the given fixtures. */
export function fuzzSuite(name: string, fixtures: readonly string[], runs: number): void {
  describe(`import fuzzing: ${name} (issue 10)`, () => {
    let h: ApiHarness;
    before(async () => {
      h = await startSqliteApi();
    });
    after(async () => h.close());

    it(`${runs} mutated ${name} files: each a known 4xx within a second, the keystore unchanged (seed ${FUZZ_SEED})`, async (t) => {
      t.diagnostic(`seed ${FUZZ_SEED} (CERTFLEET_FUZZ_SEED=${FUZZ_SEED} repeats this run)`);
      const { statuses, worstMs } = await fuzzImports(h, fixtures, runs, FUZZ_SEED);
      t.diagnostic(`answers ${JSON.stringify(Object.fromEntries(statuses))}, slowest ${worstMs.toFixed(0)} ms`);
    });
  });
}
