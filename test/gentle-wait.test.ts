// src/kernels/gentle-wait.ts: waits for a GPU promise from Node without spinning a core (after a
// short spin it sleeps between event-loop turns), and settles exactly as the promise does.
import { describe, expect, it } from 'vitest';
import { gpuWait, sleepsWhileWaiting } from '../src/kernels/gentle-wait.js';
import { device, ebm } from './helpers.js';

describe('gpuWait', () => {
  it('sleeps between turns under Node', () => {
    expect(sleepsWhileWaiting).toBe(true);
  });

  it('gives the value of a promise settled now, soon, or later', async () => {
    expect(await gpuWait(Promise.resolve(7))).toBe(7);
    expect(await gpuWait(new Promise((r) => setImmediate(() => r('soon'))))).toBe('soon');
    expect(await gpuWait(new Promise((r) => setTimeout(() => r([1, 2]), 30)))).toEqual([1, 2]);
  });

  it('rejects with the error of the promise', async () => {
    const e = new Error('device lost');
    await expect(gpuWait(Promise.reject(e))).rejects.toBe(e);
    await expect(gpuWait(new Promise((_, j) => setTimeout(() => j(e), 20)))).rejects.toBe(e);
  });

  it('timers and other callbacks keep running while it waits', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    await gpuWait(new Promise((r) => setTimeout(r, 40)));
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(3);
  });

  it('readbacks through the runtime still return the values the GPU wrote', async () => {
    await device();
    const x = ebm.randn([257, 33], { seed: 9 });
    const y = x.mul(2).add(1);
    const [xv, yv] = await Promise.all([x.data(), y.data()]);
    for (let i = 0; i < xv.length; i++) expect(yv[i]).toBe(Math.fround(Math.fround(xv[i]! * 2) + 1));
    x.dispose();
    y.dispose();
  });
});
