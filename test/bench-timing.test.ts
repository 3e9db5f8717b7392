// bench/timing.ts: sides take turns, each timed run starts with every side's device idle.
import { describe, expect, it } from 'vitest';
import { timeAlternating, type TimedSide } from '../bench/timing.js';

describe('timeAlternating', () => {
  it('alternates the sides and syncs every side before each timed run', async () => {
    const log: string[] = [];
    const side = (name: string): TimedSide => ({
      run: () => log.push(`run ${name}`),
      read: async () => void log.push(`read ${name}`),
      sync: async () => void log.push(`sync ${name}`),
    });
    const times = await timeAlternating([side('a'), side('b')], 1, 2);
    expect(times.map((t) => t.length)).toEqual([2, 2]);
    for (const t of times.flat()) expect(t).toBeGreaterThanOrEqual(0);
    const warm = ['sync a', 'run a', 'read a', 'sync b', 'run b', 'read b'];
    const timed = (name: string) => ['sync a', 'sync b', `run ${name}`, `read ${name}`];
    expect(log).toEqual([...warm, ...timed('a'), ...timed('b'), ...timed('a'), ...timed('b')]);
  });
});
