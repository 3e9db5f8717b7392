// Wrappers for hmc.wgsl: the three kernels of an HMC step (see the shader for the algebra).
import type { KernelSpec } from './pipeline-cache.js';
import type { BufferWindow, KernelArg, PooledBuffer, Runtime } from './runtime.js';
import type { UniformValues } from './uniform.js';
import { needsWindows } from './binding-window.js';
import { ChainTableScratch, chainBlocks, rowsWindow } from './chain-blocks.js';

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

function uniform(a: HmcStepArgs, base: number): UniformValues {
  return { n: a.chains * a.dim, dim: a.dim, chains: a.chains, step: a.step, seed_lo: a.seedLo, seed_hi: a.seedHi, h: a.h, mass: a.mass, base };
}

type Bound = PooledBuffer | BufferWindow;

function args(rt: Runtime, s: Record<keyof HmcBuffers, Bound>, gradP: Bound | null, energyP: Bound | null, a: HmcStepArgs, base = 0): KernelArg[] {
  return [s.x, s.grad, s.chain, s.xp, s.p, gradP ?? rt.placeholder, energyP ?? rt.placeholder, uniform(a, base)];
}

/**
 * Dispatches `run` over the whole state, or, where it is over one binding window, once per
 * block of chains with windows of the block's rows and a compact copy of its chain-table
 * columns when `table` (Philox stays keyed by the global chain, so the result is the same).
 */
function dispatchChains(rt: Runtime, op: string, s: HmcBuffers, gradP: PooledBuffer | null, energyP: PooledBuffer | null, a: HmcStepArgs, table: boolean, run: (b: KernelArg[], chains: number) => void): void {
  const more = [gradP, energyP].filter((b): b is PooledBuffer => b !== null);
  if (!needsWindows(rt, Math.max(a.dim, 3) * a.chains * 4, s.x, s.grad, s.chain, s.xp, s.p, ...more)) return run(args(rt, s, gradP, energyP, a), a.chains);
  const blocks = chainBlocks(rt, op, a.chains, a.dim, table ? 3 : 0);
  const scratch = table ? new ChainTableScratch(rt, s.chain, a.chains, [0, 1, 2], Math.max(...blocks.map(([c0, c1]) => c1 - c0))) : null;
  for (const [c0, c1] of blocks) {
    const rows = (b: PooledBuffer) => rowsWindow(rt, b, a.dim, c0, c1);
    // The begin and leap kernels leave the chain table alone: the placeholder stands in.
    const bound = { x: rows(s.x), grad: rows(s.grad), chain: scratch ? scratch.buffer : rt.placeholderOut, xp: rows(s.xp), p: rows(s.p) };
    const b = args(rt, bound, gradP && rows(gradP), energyP && rowsWindow(rt, energyP, 1, c0, c1), { ...a, chains: c1 - c0 }, c0);
    if (scratch) scratch.run(c0, c1, () => run(b, c1 - c0));
    else run(b, c1 - c0);
  }
  scratch?.dispose();
}

/** Draws the momentum and makes the first half step and full position step. */
export function hmcBeginKernel(rt: Runtime, s: HmcBuffers, a: HmcStepArgs): void {
  dispatchChains(rt, 'hmcBegin_', s, null, null, a, false, (b, n) => rt.dispatch(BEGIN, b, { workgroups: rt.grid(Math.ceil((n * a.dim) / 4 / 256)) }));
}

/** A full momentum step with the gradient at xp, then a position step. */
export function hmcLeapKernel(rt: Runtime, s: HmcBuffers, gradP: PooledBuffer, a: HmcStepArgs): void {
  dispatchChains(rt, 'hmcLeap_', s, gradP, null, a, false, (b, n) => rt.dispatch(LEAP, b, { workgroups: rt.grid(Math.ceil((n * a.dim) / 256)) }));
}

/** The last half step, the Hamiltonians, and the Metropolis decision per chain. */
export function hmcAcceptKernel(rt: Runtime, s: HmcBuffers, gradP: PooledBuffer, energyP: PooledBuffer, a: HmcStepArgs): void {
  // A workgroup per chain, only as wide as the chain has dims (up to 64): small dims waste no lanes.
  const wg = Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, a.dim))));
  dispatchChains(rt, 'hmcAccept_', s, gradP, energyP, a, true, (b, n) => rt.dispatch(ACCEPT, b, { overrides: { WG: wg }, workgroups: rt.grid(n) }));
}
