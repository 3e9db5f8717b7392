// Wrappers for mala.wgsl: the MALA proposal, unadjusted tempered Langevin step, Metropolis
// decision and replica-exchange swap (see the shader for the algebra).
import type { KernelSpec } from './pipeline-cache.js';
import type { BufferWindow, KernelArg, PooledBuffer, Runtime } from './runtime.js';
import type { UniformValues } from './uniform.js';
import { needsWindows, windowAt, windowBytes } from './binding-window.js';
import { ChainTableScratch, chainBlocks, rowsWindow } from './chain-blocks.js';

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

/** Where a split dispatch sits: its first global chain (and, for the swap, pairs and window shifts). */
interface Block {
  base: number;
  pair0: number;
  pairs: number;
  xs: number;
  cs: number;
}

const WHOLE: Block = { base: 0, pair0: 0, pairs: 0xffffffff, xs: 0, cs: 0 };

function uniform(a: MalaStepArgs & Partial<SwapArgs>, blk: Block = WHOLE): UniformValues {
  return {
    ...blk,
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

type Bound = PooledBuffer | BufferWindow;

interface BoundBuffers {
  x: Bound;
  grad: Bound;
  chain: Bound | null;
  xp: Bound | null;
  beta: Bound;
}

function args(rt: Runtime, s: BoundBuffers, gradP: Bound | null, energyP: Bound | null, a: MalaStepArgs & Partial<SwapArgs>, blk?: Block): KernelArg[] {
  // A written buffer may be bound once per dispatch. Unused outputs take the two placeholders
  // (the Langevin step leaves both chain and xp unused), so unused inputs read beta instead.
  const out = [rt.placeholderOut, rt.placeholder];
  const unused = () => out.shift()!;
  const chain = s.chain ?? unused();
  const xp = s.xp ?? unused();
  return [s.x, s.grad, chain, xp, s.beta, gradP ?? s.beta, energyP ?? s.beta, uniform(a, blk)];
}

/** Whether this call's state is over one window (the fast path is one comparison of sizes). */
function overLimit(rt: Runtime, s: MalaBuffers, a: MalaStepArgs, ...more: PooledBuffer[]): boolean {
  const bufs = [s.x, s.grad, s.beta, ...more];
  if (s.chain) bufs.push(s.chain);
  if (s.xp) bufs.push(s.xp);
  return needsWindows(rt, Math.max(a.dim, 4) * a.chains * 4, ...bufs);
}

/**
 * Runs `dispatch` once per block of chains, with windows of the block's rows bound and, where
 * the kernel uses the chain table (`tableRows`), a compact copy of its columns; Philox stays
 * keyed by the global chain (`base`).
 */
function inBlocks(rt: Runtime, op: string, s: MalaBuffers, gradP: PooledBuffer | null, energyP: PooledBuffer | null, a: MalaStepArgs, tableRows: readonly number[], dispatch: (args: KernelArg[], chains: number) => void): void {
  const blocks = chainBlocks(rt, op, a.chains, a.dim, tableRows.length ? 4 : 0);
  const most = Math.max(...blocks.map(([c0, c1]) => c1 - c0));
  const scratch = s.chain && tableRows.length ? new ChainTableScratch(rt, s.chain, a.chains, tableRows, most) : null;
  for (const [c0, c1] of blocks) {
    const rows = (b: PooledBuffer) => rowsWindow(rt, b, a.dim, c0, c1);
    const one = (b: PooledBuffer) => rowsWindow(rt, b, 1, c0, c1);
    const bound: BoundBuffers = { x: rows(s.x), grad: rows(s.grad), chain: scratch ? scratch.buffer : null, xp: s.xp ? rows(s.xp) : null, beta: one(s.beta) };
    const blockArgs = args(rt, bound, gradP && rows(gradP), energyP && one(energyP), { ...a, chains: c1 - c0 }, { ...WHOLE, base: c0 });
    if (scratch) scratch.run(c0, c1, () => dispatch(blockArgs, c1 - c0));
    else dispatch(blockArgs, c1 - c0);
  }
  scratch?.dispose();
}

/** A workgroup per chain, only as wide as the chain has dims (up to 64). */
const rowWidth = (dim: number) => Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, dim))));

/** xp = x - h beta grad + sqrt(2h) eps. */
export function malaProposeKernel(rt: Runtime, s: MalaBuffers, a: MalaStepArgs): void {
  if (!overLimit(rt, s, a)) return rt.dispatch(PROPOSE, args(rt, s, null, null, a), { workgroups: rt.grid(Math.ceil((a.chains * a.dim) / 4 / 256)) });
  inBlocks(rt, 'malaPropose_', { ...s, chain: null }, null, null, a, [], (b, n) => rt.dispatch(PROPOSE, b, { workgroups: rt.grid(Math.ceil((n * a.dim) / 4 / 256)) }));
}

/** x = x - h beta grad + sqrt(2h) eps, in place (the tempered unadjusted Langevin step). */
export function temperedLangevinKernel(rt: Runtime, s: MalaBuffers, a: MalaStepArgs): void {
  if (!overLimit(rt, s, a)) return rt.dispatch(LANGEVIN, args(rt, s, null, null, a), { workgroups: rt.grid(Math.ceil((a.chains * a.dim) / 4 / 256)) });
  inBlocks(rt, 'temperedLangevin_', { ...s, chain: null, xp: null }, null, null, a, [], (b, n) => rt.dispatch(LANGEVIN, b, { workgroups: rt.grid(Math.ceil((n * a.dim) / 4 / 256)) }));
}

/** The Metropolis-Hastings decision per chain; accepted chains take xp, its gradient and energy. */
export function malaAcceptKernel(rt: Runtime, s: MalaBuffers, gradP: PooledBuffer, energyP: PooledBuffer, a: MalaStepArgs): void {
  const run = (b: KernelArg[], chains: number) => {
    if (a.dim <= ROW_PER_THREAD_MAX_DIM) rt.dispatch(ACCEPT_ROWS, b, { overrides: { WG: 64 }, workgroups: rt.grid(Math.ceil(chains / 64)) });
    else rt.dispatch(ACCEPT, b, { overrides: { WG: rowWidth(a.dim) }, workgroups: rt.grid(chains) });
  };
  if (!overLimit(rt, s, a, gradP, energyP)) return run(args(rt, s, gradP, energyP, a), a.chains);
  // The decision writes the energy, accepted and count rows of the table.
  inBlocks(rt, 'malaAccept_', s, gradP, energyP, a, [0, 1, 2], run);
}

/** Replica exchange between neighbouring temperatures of each column. */
export function temperingSwapKernel(rt: Runtime, s: MalaBuffers, a: SwapArgs): void {
  const pairs = Math.floor((a.replicas - a.parity) / 2);
  if (pairs === 0) return;
  const run = (b: KernelArg[], n: number) => {
    if (a.dim <= ROW_PER_THREAD_MAX_DIM) rt.dispatch(SWAP_ROWS, b, { overrides: { WG: 64 }, workgroups: rt.grid(Math.ceil(n / 64)) });
    else rt.dispatch(SWAP, b, { overrides: { WG: rowWidth(a.dim) }, workgroups: rt.grid(n) });
  };
  if (!overLimit(rt, s, a)) return run(args(rt, s, null, null, a), pairs * a.columns);
  swapInBlocks(rt, s, a, pairs, run);
}

/**
 * The swap over one binding: a pair's rows are `columns` chains apart, so a block is whole
 * neighbour pairs of replicas (rows r C .. (r + 2k) C, r of the round's parity) and no pair
 * straddles blocks. Its windows need not start aligned (r C dim floats in), so the shader is
 * told their shifts. One pair of replicas over a window is refused by name.
 */
function swapInBlocks(rt: Runtime, s: MalaBuffers, a: SwapArgs, pairs: number, run: (b: KernelArg[], n: number) => void): void {
  const C = a.columns;
  // Each window may start up to an alignment early; the table's copy holds 4 floats a chain.
  const room = windowBytes(rt) - rt.bindingAlignment;
  const perPair = 2 * C * Math.max(a.dim, 4) * 4;
  const k = Math.min(pairs, Math.floor(room / perPair));
  if (k < 1)
    throw new Error(
      `temperingSwap_: one pair of neighbouring replicas (2 x ${C} chains of ${a.dim} floats, ${perPair} bytes with their chain table) is over this device's binding window of ${room} bytes (maxStorageBufferBindingSize ${rt.maxBindingSize}); ` +
        `the swap splits by pairs of replicas and a pair's two rows cannot be split. Use fewer chains per replica.`,
    );
  const scratch = new ChainTableScratch(rt, s.chain!, a.chains, [0, 3], 2 * k * C);
  for (let p0 = 0; p0 < pairs; p0 += k) {
    const n = Math.min(k, pairs - p0);
    const c0 = (2 * p0 + a.parity) * C;
    const c1 = c0 + 2 * n * C;
    const x = windowAt(rt, s.x, c0 * a.dim * 4, c1 * a.dim * 4);
    const grad = windowAt(rt, s.grad, c0 * a.dim * 4, c1 * a.dim * 4);
    const beta = windowAt(rt, s.beta, c0 * 4, c1 * 4);
    const blk: Block = { base: c0, pair0: p0 * C, pairs: n * C, xs: x.shift / 4, cs: beta.shift / 4 };
    const bound: BoundBuffers = { x: x.arg, grad: grad.arg, chain: scratch.buffer, xp: null, beta: beta.arg };
    scratch.run(c0, c1, () => run(args(rt, bound, null, null, { ...a, chains: c1 - c0 }, blk), n * C));
  }
  scratch.dispose();
}
