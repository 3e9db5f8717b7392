// Wrappers for mala.wgsl: the MALA proposal, unadjusted tempered Langevin step, Metropolis
// decision and replica-exchange swap (see the shader for the algebra).
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import type { UniformValues } from './uniform.js';

const bindings = [
  { name: 'x', kind: 'storage' },
  { name: 'grad', kind: 'storage' },
  { name: 'chain', kind: 'storage' },
  { name: 'xp', kind: 'storage' },
  { name: 'beta', kind: 'read-only-storage' },
  { name: 'grad_p', kind: 'read-only-storage' },
  { name: 'energy_p', kind: 'read-only-storage' },
  { name: 'params', kind: 'uniform' },
] as const;

const spec = (entry: string): KernelSpec => ({ shader: 'mala.wgsl', preamble: 'philox.wgsl', entry, bindings });
const PROPOSE = spec('propose');
const LANGEVIN = spec('langevin');
const ACCEPT = spec('accept');
const SWAP = spec('swap');
const ACCEPT_ROWS = spec('accept_rows');
const SWAP_ROWS = spec('swap_rows');

/**
 * Chains of at most this many elements take one thread each in the accept and swap kernels;
 * longer ones a workgroup each. On lavapipe a workgroup per 10-d chain made the decision 8x
 * the cost of the proposal; one thread per chain walking 64 elements is still one pass.
 */
export const ROW_PER_THREAD_MAX_DIM = 64;

/** The state one MALA or tempering call keeps on the GPU (null: not used by that kernel). */
export interface MalaBuffers {
  /** The chains' positions [chains, dim] and the energy gradient there. */
  x: PooledBuffer;
  grad: PooledBuffer;
  /** [3, chains]: (energy, last accepted, accept count); tempering's [4, chains] adds accepted swaps. */
  chain: PooledBuffer | null;
  /** The proposal. */
  xp: PooledBuffer | null;
  /** [chains]: inverse temperatures. */
  beta: PooledBuffer;
}

export interface MalaStepArgs {
  chains: number;
  dim: number;
  /** The step's Philox counter word. */
  step: number;
  seedLo: number;
  seedHi: number;
  h: number;
}

export interface SwapArgs extends MalaStepArgs {
  /** Chains per replica and replicas (chains = columns * replicas). */
  columns: number;
  replicas: number;
  /** 0 pairs replicas (0, 1), (2, 3), ...; 1 pairs (1, 2), (3, 4), ... */
  parity: number;
}

function uniform(a: MalaStepArgs & Partial<SwapArgs>): UniformValues {
  return {
    n: a.chains * a.dim,
    dim: a.dim,
    chains: a.chains,
    step: a.step,
    seed_lo: a.seedLo,
    seed_hi: a.seedHi,
    h: a.h,
    columns: a.columns ?? a.chains,
    replicas: a.replicas ?? 1,
    parity: a.parity ?? 0,
  };
}

function args(rt: Runtime, s: MalaBuffers, gradP: PooledBuffer | null, energyP: PooledBuffer | null, a: MalaStepArgs & Partial<SwapArgs>) {
  // A written buffer may be bound once per dispatch. Unused outputs take the two placeholders
  // (the Langevin step leaves both chain and xp unused), so unused inputs read beta instead.
  const out = [rt.placeholderOut, rt.placeholder];
  const unused = () => out.shift()!;
  const chain = s.chain ?? unused();
  const xp = s.xp ?? unused();
  return [s.x, s.grad, chain, xp, s.beta, gradP ?? s.beta, energyP ?? s.beta, uniform(a)];
}

/** A workgroup per chain, only as wide as the chain has dims (up to 64). */
const rowWidth = (dim: number) => Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, dim))));

/** xp = x - h beta grad + sqrt(2h) eps. */
export function malaProposeKernel(rt: Runtime, s: MalaBuffers, a: MalaStepArgs): void {
  rt.dispatch(PROPOSE, args(rt, s, null, null, a), { workgroups: rt.grid(Math.ceil((a.chains * a.dim) / 4 / 256)) });
}

/** x = x - h beta grad + sqrt(2h) eps, in place (the tempered unadjusted Langevin step). */
export function temperedLangevinKernel(rt: Runtime, s: MalaBuffers, a: MalaStepArgs): void {
  rt.dispatch(LANGEVIN, args(rt, s, null, null, a), { workgroups: rt.grid(Math.ceil((a.chains * a.dim) / 4 / 256)) });
}

/** The Metropolis-Hastings decision per chain; accepted chains take xp, its gradient and energy. */
export function malaAcceptKernel(rt: Runtime, s: MalaBuffers, gradP: PooledBuffer, energyP: PooledBuffer, a: MalaStepArgs): void {
  if (a.dim <= ROW_PER_THREAD_MAX_DIM) rt.dispatch(ACCEPT_ROWS, args(rt, s, gradP, energyP, a), { overrides: { WG: 64 }, workgroups: rt.grid(Math.ceil(a.chains / 64)) });
  else rt.dispatch(ACCEPT, args(rt, s, gradP, energyP, a), { overrides: { WG: rowWidth(a.dim) }, workgroups: rt.grid(a.chains) });
}

/** Replica exchange between neighbouring temperatures of each column. */
export function temperingSwapKernel(rt: Runtime, s: MalaBuffers, a: SwapArgs): void {
  const pairs = Math.floor((a.replicas - a.parity) / 2);
  if (pairs === 0) return;
  if (a.dim <= ROW_PER_THREAD_MAX_DIM) rt.dispatch(SWAP_ROWS, args(rt, s, null, null, a), { overrides: { WG: 64 }, workgroups: rt.grid(Math.ceil((pairs * a.columns) / 64)) });
  else rt.dispatch(SWAP, args(rt, s, null, null, a), { overrides: { WG: rowWidth(a.dim) }, workgroups: rt.grid(pairs * a.columns) });
}
