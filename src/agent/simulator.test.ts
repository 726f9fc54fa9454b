import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MIX } from './profiles.js';
import { assignProfiles, limiter, parseMix, SimulationStopped } from './simulator.js';

describe('simulator fleet', () => {
  it('parses a mix and refuses unknown profiles and malformed parts', () => {
    assert.deepEqual(parseMix(DEFAULT_MIX), { 'igel-os-12': 70, 'igel-os-11': 20, 'igel-linux-4.01.650': 5, 'windows-7-embedded-3.08.100': 5 });
    assert.ok('error' in parseMix('igel-os-13=5'));
    assert.ok('error' in parseMix('igel-os-12'));
    assert.ok('error' in parseMix('igel-os-12=0'));
  });

  it('splits the fleet by weight, exactly, and mixes every stretch of it', () => {
    const mix = parseMix(DEFAULT_MIX);
    assert.ok(!('error' in mix));
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

  it('runs at most n tasks at a time and refuses the waiting ones when stopped', async () => {
    const limit = limiter(2);
    let running = 0;
    let peak = 0;
    const task = async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    };
    await Promise.all(Array.from({ length: 10 }, () => limit(task)));
    assert.equal(peak, 2);
    const slow = limit(() => new Promise((r) => setTimeout(r, 30)));
    const slow2 = limit(() => new Promise((r) => setTimeout(r, 30)));
    const waiting = limit(task);
    limit.stop();
    await assert.rejects(waiting, SimulationStopped);
    await assert.rejects(limit(task), SimulationStopped);
    await Promise.all([slow, slow2]);
  });
});
