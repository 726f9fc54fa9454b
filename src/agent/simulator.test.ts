import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MIX } from './profiles.js';
import { assignProfiles, firstCheckInDelay, limiter, parseMix, SimulationStopped } from './simulator.js';

describe('simulator fleet', () => {
  it('parses a mix and refuses unknown profiles and malformed parts', () => {
    assert.deepEqual(parseMix(DEFAULT_MIX), { 'igel-os-12': 70, 'igel-os-11': 20, 'igel-linux-4.01.650': 5, 'windows-7-embedded-3.08.100': 5 });
    assert.deepEqual(parseMix('igel-os-13=5'), { error: 'unknown profile "igel-os-13"' });
    assert.deepEqual(parseMix('igel-os-12'), { error: '"igel-os-12" is not PROFILE=WEIGHT' });
    assert.deepEqual(parseMix('igel-os-12=0'), { error: 'the weights add up to nothing' });
  });

  it('splits the fleet by weight, exactly, and mixes every stretch of it', () => {
    const mix = parseMix(DEFAULT_MIX);
    if ('error' in mix) assert.fail(`the default mix is refused: ${String(mix.error)}`);
    const fleet = assignProfiles(1000, mix);
    const count = (p: string, list: readonly string[]) => list.filter((x) => x === p).length;
    assert.deepEqual(
      ['igel-os-12', 'igel-os-11', 'igel-linux-4.01.650', 'windows-7-embedded-3.08.100'].map((p) => count(p, fleet)),
      [700, 200, 50, 50],
    );
    assert.equal(count('igel-linux-4.01.650', fleet.slice(0, 40)), 2, 'legacy devices are among the first, not all at the end');
    const odd = assignProfiles(3, { 'igel-os-12': 1, 'igel-os-11': 1 });
    assert.equal(odd.length, 3, 'the remainder goes to someone');
    assert.equal(assignProfiles(7, { 'igel-os-12': 1 }).length, 7);
  });

  it('puts first check-ins evenly over the interval, however unevenly the devices registered', () => {
    const interval = 60_000;
    const deciles = new Array<number>(10).fill(0);
    // 1,000 devices that all registered within the first 6 s of the run (a skew a random delay after
    // registration would carry into every interval), and 1,000 that registered over 3 intervals.
    for (let i = 0; i < 2000; i++) {
      const registeredAt = i < 1000 ? (i * 6) % 6000 : (i * 179) % (3 * interval);
      const u = ((i * 7919) % 2000) / 2000;
      const delay = firstCheckInDelay(registeredAt, interval, u);
      assert.ok(delay >= 0 && delay < interval, `a delay within one interval: ${delay}`);
      const at = registeredAt + delay;
      assert.ok(Math.abs((at % interval) - u * interval) < 1e-6, 'the check-in falls on the phase u of the grid');
      const decile = Math.floor(((at % interval) / interval) * 10);
      deciles[decile] = (deciles[decile] ?? 0) + 1;
    }
    assert.deepEqual(deciles, new Array<number>(10).fill(200), 'each tenth of the interval gets a tenth of the check-ins');
  });

  it('lets tasks of registered devices go before waiting registrations', async () => {
    const limit = limiter(1);
    const order: string[] = [];
    const gate = deferred();
    const first = limit(async () => {
      order.push('register 1');
      await gate.promise;
    }, 'registering');
    const queued = [
      limit(async () => void order.push('register 2'), 'registering'),
      limit(async () => void order.push('register 3'), 'registering'),
      limit(async () => void order.push('check-in'), 'registered'),
    ];
    gate.resolve();
    await Promise.all([first, ...queued]);
    assert.deepEqual(order, ['register 1', 'check-in', 'register 2', 'register 3']);
  });

  it('runs at most n tasks at a time, the others in order, and refuses the waiting ones when stopped', async () => {
    const limit = limiter(2);
    const started: number[] = [];
    const gates = [0, 1, 2, 3, 4].map(() => deferred());
    const startedSignal = [0, 1, 2, 3, 4].map(() => deferred());
    const runs = gates.map((gate, i) =>
      limit(async () => {
        started.push(i);
        startedSignal[i]?.resolve();
        await gate.promise;
        return i;
      }),
    );
    assert.deepEqual(started, [0, 1], 'two start at once; the others wait');
    gates[1]?.resolve();
    await startedSignal[2]?.promise;
    assert.deepEqual(started, [0, 1, 2], 'a finished task lets the first waiting one in');
    assert.equal(await runs[1], 1);
    limit.stop();
    await assert.rejects(runs[3] as Promise<number>, SimulationStopped); // five runs were made above
    await assert.rejects(runs[4] as Promise<number>, SimulationStopped);
    await assert.rejects(limit(async () => 0), SimulationStopped);
    gates[0]?.resolve();
    gates[2]?.resolve();
    assert.deepEqual(await Promise.all([runs[0], runs[2]]), [0, 2], 'the tasks under way finish');
    assert.deepEqual(started, [0, 1, 2], 'no task started after the stop');
  });
});

function deferred(): { readonly promise: Promise<void>; readonly resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
