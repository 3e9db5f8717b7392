// Wrappers for hmc.wgsl: the three kernels of an HMC step (see the shader for the algebra).
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import type { UniformValues } from './uniform.js';

const bindings = [
  { name: 'x', kind: 'storage' },
  { name: 'grad', kind: 'storage' },
  { name: 'chain', kind: 'storage' },
  { name: 'xp', kind: 'storage' },
  { name: 'p', kind: 'storage' },
  { name: 'grad_p', kind: 'read-only-storage' },
  { name: 'energy_p', kind: 'read-only-storage' },
  { name: 'params', kind: 'uniform' },
] as const;

const spec = (entry: string): KernelSpec => ({ shader: 'hmc.wgsl', preamble: 'philox.wgsl', entry, bindings });
const BEGIN = spec('begin');
const LEAP = spec('leap');
const ACCEPT = spec('accept');

/** The state one HMC call keeps on the GPU. */
export interface HmcBuffers {
  /** The chains' positions [chains, dim], the energy gradient there, and [3, chains] of (energy, last accepted, accept count). */
  x: PooledBuffer;
  grad: PooledBuffer;
  chain: PooledBuffer;
  /** The proposal and its momentum. */
  xp: PooledBuffer;
  p: PooledBuffer;
}

export interface HmcStepArgs {
  chains: number;
  dim: number;
  /** The step's Philox counter word. */
  step: number;
  seedLo: number;
  seedHi: number;
  h: number;
  mass: number;
}

function uniform(a: HmcStepArgs): UniformValues {
  return { n: a.chains * a.dim, dim: a.dim, chains: a.chains, step: a.step, seed_lo: a.seedLo, seed_hi: a.seedHi, h: a.h, mass: a.mass };
}

function args(rt: Runtime, s: HmcBuffers, gradP: PooledBuffer | null, energyP: PooledBuffer | null, a: HmcStepArgs) {
  return [s.x, s.grad, s.chain, s.xp, s.p, gradP ?? rt.placeholder, energyP ?? rt.placeholder, uniform(a)];
}

/** Draws the momentum and makes the first half step and full position step. */
export function hmcBeginKernel(rt: Runtime, s: HmcBuffers, a: HmcStepArgs): void {
  rt.dispatch(BEGIN, args(rt, s, null, null, a), { workgroups: rt.grid(Math.ceil((a.chains * a.dim) / 4 / 256)) });
}

/** A full momentum step with the gradient at xp, then a position step. */
export function hmcLeapKernel(rt: Runtime, s: HmcBuffers, gradP: PooledBuffer, a: HmcStepArgs): void {
  rt.dispatch(LEAP, args(rt, s, gradP, null, a), { workgroups: rt.grid(Math.ceil((a.chains * a.dim) / 256)) });
}

/** The last half step, the Hamiltonians, and the Metropolis decision per chain. */
export function hmcAcceptKernel(rt: Runtime, s: HmcBuffers, gradP: PooledBuffer, energyP: PooledBuffer, a: HmcStepArgs): void {
  // A workgroup per chain, only as wide as the chain has dims (up to 64): small dims waste no lanes.
  const wg = Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, a.dim))));
  rt.dispatch(ACCEPT, args(rt, s, gradP, energyP, a), { overrides: { WG: wg }, workgroups: rt.grid(a.chains) });
}
