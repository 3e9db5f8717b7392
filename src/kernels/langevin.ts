// Wrapper for langevin.wgsl: the fused Langevin update, in place on x.
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';

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

/** x <- clamp(x - h * grad + sigma * eps), eps ~ N(0, 1) from Philox (see langevin.wgsl). */
export function langevinStepKernel(rt: Runtime, x: PooledBuffer, grad: PooledBuffer, a: LangevinStepArgs): void {
  const params = { n: a.n, step: a.step, seed_lo: a.seedLo, seed_hi: a.seedHi, h: a.h, sigma: a.sigma, lo: a.clampMin ?? 0, hi: a.clampMax ?? 0 };
  rt.dispatch(LANGEVIN, [x, grad, params], {
    overrides: { CLAMP_MIN: a.clampMin !== undefined, CLAMP_MAX: a.clampMax !== undefined },
    workgroups: rt.grid(Math.ceil(a.n / 4 / 256)),
  });
}
