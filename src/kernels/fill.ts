// Wrappers for fill.wgsl (constants, ranges, identity) and random.wgsl (Philox 4x32-10).
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import { elementChunks, needsWindows, windowAt } from './binding-window.js';

const FILL: KernelSpec = {
  shader: 'fill.wgsl',
  entry: 'main',
  bindings: [
    { name: 'out', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

const RANDOM: KernelSpec = {
  shader: 'random.wgsl',
  preamble: 'philox.wgsl',
  entry: 'main',
  bindings: [
    { name: 'out', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

export type FillOp = 'full' | 'arange' | 'linspace' | 'eye';

export function fillKernel(rt: Runtime, op: FillOp, out: PooledBuffer, n: number, args: { a?: number; step?: number; end?: number; cols?: number }): void {
  const params = { n, cols: args.cols ?? 1, a: args.a ?? 0, step: args.step ?? 0, end: args.end ?? 0, base: 0, count: n };
  const overrides = { OP: rt.pipelines.constValue(FILL.shader, `OP_${op}`) };
  if (!needsWindows(rt, n * 4, out)) {
    rt.dispatch(FILL, [out, params], { overrides, workgroups: rt.grid(Math.ceil(n / 256)) });
    return;
  }
  // Over one binding: a window per chunk; the kernel computes each value from its index in the whole.
  for (const [s, e] of elementChunks(rt, n, [4]))
    rt.dispatch(FILL, [windowAt(rt, out, s * 4, e * 4).arg, { ...params, base: s, count: e - s }], { overrides, workgroups: rt.grid(Math.ceil((e - s) / 256)) });
}

export type Distribution = 'uniform' | 'normal';

/**
 * Fills `n` values from Philox 4x32-10 under a 64-bit key (seedLo, seedHi), starting at
 * counter `offset` (each counter gives four values).
 */
export function randomKernel(rt: Runtime, dist: Distribution, out: PooledBuffer, n: number, seedLo: number, seedHi: number, offset: number, p0: number, p1: number): void {
  const overrides = { DIST: rt.pipelines.constValue(RANDOM.shader, `DIST_${dist}`, RANDOM.preamble) };
  if (!needsWindows(rt, n * 4, out)) {
    rt.dispatch(RANDOM, [out, { n, seed_lo: seedLo, seed_hi: seedHi, offset, p0, p1 }], { overrides, workgroups: rt.grid(Math.ceil(n / 4 / 256)) });
    return;
  }
  // Over one binding: chunks of whole counters (4 values each), so the values are the unsplit ones.
  for (const [s, e] of elementChunks(rt, n, [4], 4))
    rt.dispatch(RANDOM, [windowAt(rt, out, s * 4, e * 4).arg, { n: e - s, seed_lo: seedLo, seed_hi: seedHi, offset: (offset + s / 4) % 2 ** 32, p0, p1 }], {
      overrides,
      workgroups: rt.grid(Math.ceil((e - s) / 4 / 256)),
    });
}
