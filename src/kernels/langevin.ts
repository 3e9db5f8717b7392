// Wrapper for langevin.wgsl: the fused Langevin update, in place on x.
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import { elementChunks, needsWindows, windowAt } from './binding-window.js';

const LANGEVIN: KernelSpec = {
  shader: 'langevin.wgsl',
  preamble: 'philox.wgsl+activations.wgsl',
  entry: 'main',
  bindings: [
    { name: 'x', kind: 'storage' },
    { name: 'grad', kind: 'read-only-storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

export interface LangevinStepArgs {
  /** Elements of x (and of grad). */
  n: number;
  /** The step's Philox counter word (0 for the first step of a chain). */
  step: number;
  /** The 64-bit Philox key, as two 32-bit words. */
  seedLo: number;
  seedHi: number;
  /** The step size h. */
  h: number;
  /** The noise's standard deviation: noise_scale * sqrt(2h). */
  sigma: number;
  clampMin?: number;
  clampMax?: number;
}

/**
 * x <- clamp(x - h * grad + sigma * eps), eps ~ N(0, 1) from Philox (see langevin.wgsl). Over
 * one binding, x and grad are updated in aligned windows (the same noise: it is keyed by the
 * global element index).
 */
export function langevinStepKernel(rt: Runtime, x: PooledBuffer, grad: PooledBuffer, a: LangevinStepArgs): void {
  const params = { n: a.n, step: a.step, seed_lo: a.seedLo, seed_hi: a.seedHi, h: a.h, sigma: a.sigma, lo: a.clampMin ?? 0, hi: a.clampMax ?? 0, base: 0 };
  const overrides = { CLAMP_MIN: a.clampMin !== undefined, CLAMP_MAX: a.clampMax !== undefined };
  if (!needsWindows(rt, a.n * 4, x, grad)) {
    rt.dispatch(LANGEVIN, [x, grad, params], { overrides, workgroups: rt.grid(Math.ceil(a.n / 4 / 256)) });
    return;
  }
  // Chunks start on aligned bytes (a multiple of 64 elements, so of the 4 a Philox call serves).
  for (const [s, e] of elementChunks(rt, a.n, [4], 4)) {
    const win = (b: PooledBuffer) => windowAt(rt, b, s * 4, e * 4).arg;
    rt.dispatch(LANGEVIN, [win(x), win(grad), { ...params, n: e - s, base: s }], { overrides, workgroups: rt.grid(Math.ceil((e - s) / 4 / 256)) });
  }
}
