import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CertfleetError, ErrorCode } from '../domain/errors.js';
import { BoundedWork } from './bounded-work.js';
import { refusedWith } from '../../test/support/refusals.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('BoundedWork', () => {
  const busy = () => new CertfleetError(ErrorCode.key_generation_busy, 'busy');

  it('runs at most `concurrent` jobs, queues `queued` more and refuses the rest at once', async () => {
    const work = new BoundedWork({ concurrent: 2, queued: 1 }, busy);
    const gates = [deferred(), deferred(), deferred()];
    let started = 0;
    const jobs = gates.map((g) => work.run(async () => { started++; await g.promise; }));
    await new Promise((r) => setImmediate(r));
    assert.equal(started, 2);
    assert.deepEqual(work.load, { running: 2, waiting: 1 });
    await assert.rejects(work.run(async () => undefined), refusedWith(ErrorCode.key_generation_busy));
    gates[0]?.resolve();
    await jobs[0];
    await new Promise((r) => setImmediate(r));
    assert.equal(started, 3, 'the queued job took the freed slot');
    assert.deepEqual(work.load, { running: 2, waiting: 0 });
    gates[1]?.resolve();
    gates[2]?.resolve();
    await Promise.all(jobs);
    assert.deepEqual(work.load, { running: 0, waiting: 0 });
  });

  it('a failing job frees its slot', async () => {
    const work = new BoundedWork({ concurrent: 1, queued: 0 }, busy);
    await assert.rejects(work.run(async () => { throw new RangeError('boom'); }), RangeError);
    assert.equal(await work.run(async () => 7), 7);
  });
});
