// The kernels of a Metropolis-adjusted Langevin step and of replica exchange as tensor ops
// (shaders/mala.wgsl), in place on the chains' state. A MALA step is malaPropose_ (the Langevin
// proposal with Philox noise into state.xp), the caller's gradient and energy at state.xp, and
// malaAccept_ (the Metropolis-Hastings decision per chain). Each chain targets exp(-beta E) with
// its own inverse temperature state.beta, so parallel tempering runs every replica in one batch
// (rows r * columns + c) and exchanges neighbours with temperingSwap_ (its chain table has a
// fourth row, the accepted swaps); temperedLangevin_ is the unadjusted step of those chains.
import { malaAcceptKernel, malaProposeKernel, temperedLangevinKernel, temperingSwapKernel, type MalaBuffers, type MalaStepArgs } from '../../../kernels/mala.js';
import type { Runtime } from '../../../kernels/runtime.js';
import { Tensor } from '../../tensor.js';
import { arg, distinct, finiteArg, intArg, rowSize, sameDevice } from './common.js';
import { checkKey, type PhiloxKey } from './langevin.js';

/** The chains' state one MALA (or tempering) call keeps; every tensor is updated in place. */
export interface MalaState {
  /** The chains' positions [chains, ...dim]. */
  x: Tensor;
  /** dE/dx at x (x's shape). */
  grad: Tensor;
  /** [3, chains]: the energy at x, whether the last proposal was accepted, the accept count. */
  chain: Tensor;
  /** The proposal (x's shape). */
  xp: Tensor;
  /** [chains]: each chain's inverse temperature (ones for plain MALA). */
  beta: Tensor;
}

export interface MalaStep {
  /** The step's Philox counter word. */
  step: number;
  key: PhiloxKey;
  /** The Langevin step size h (noise sqrt(2h)). */
  h: number;
}

export interface SwapStep {
  /** The step's Philox counter word. */
  step: number;
  key: PhiloxKey;
  /** Replicas (temperatures); the chains are [replicas * columns, ...dim], replica-major. */
  replicas: number;
  /** 0 pairs replicas (0, 1), (2, 3), ...; 1 pairs (1, 2), (3, 4), ... */
  parity: number;
}

type Named = [string, Tensor][];

function checkState(op: string, s: MalaState, keys: readonly (keyof MalaState)[], extra: Record<string, Tensor>, chainRows = 3): { rt: Runtime; chains: number; dim: number } {
  if (typeof s !== 'object' || s === null) throw new Error(`${op}: state must be { ${keys.join(', ')} }`);
  const x = arg(op, 'state.x', s.x, { written: true });
  if (x.rank < 2 || x.shape[0] === 0) throw new Error(`${op}: state.x must have shape [chains, ...dim] with chains >= 1, got [${x.shape.join(', ')}]`);
  const chains = x.shape[0]!;
  const named: Named = [['state.x', x]];
  for (const k of keys) {
    if (k === 'x') continue;
    const spec = k === 'chain' ? { shape: [chainRows, chains] } : k === 'beta' ? { shape: [chains] } : { shape: x.shape };
    // A tempering chain table (4 rows) also serves the MALA kernels, which use its first 3.
    if (k === 'chain' && chainRows === 3 && s.chain instanceof Tensor && s.chain.rank === 2 && s.chain.shape[0] === 4) spec.shape = [4, chains];
    named.push([`state.${k}`, arg(op, `state.${k}`, s[k], { ...spec, written: k !== 'beta' })]);
  }
  for (const [name, t] of Object.entries(extra)) named.push([name, t]);
  for (let i = 0; i < named.length; i++) for (let j = i + 1; j < named.length; j++) distinct(op, named[i]!, named[j]!);
  return { rt: sameDevice(op, Object.fromEntries(named)), chains, dim: rowSize(x) };
}

function stepArgs(op: string, a: MalaStep, chains: number, dim: number): MalaStepArgs {
  if (typeof a !== 'object' || a === null) throw new Error(`${op}: the step arguments must be { step, key, h }`);
  intArg(op, 'step', a.step, 0, 0xffffffff);
  checkKey(op, a.key);
  if (!(finiteArg(op, 'h', a.h) > 0)) throw new Error(`${op}: h must be > 0, got ${a.h}`);
  return { chains, dim, step: a.step, seedLo: a.key.lo, seedHi: a.key.hi, h: a.h };
}

const bufs = (s: Partial<MalaState>): MalaBuffers => ({
  x: s.x!.storage.buffer,
  grad: s.grad!.storage.buffer,
  chain: s.chain?.storage.buffer ?? null,
  xp: s.xp?.storage.buffer ?? null,
  beta: s.beta!.storage.buffer,
});

/** state.xp = x - h beta grad + sqrt(2h) eps, eps from Philox at (key, step): one dispatch. */
export function malaPropose_(state: MalaState, a: MalaStep): void {
  const op = 'malaPropose_';
  const { rt, chains, dim } = checkState(op, state, ['x', 'grad', 'chain', 'xp', 'beta'], {});
  malaProposeKernel(rt, bufs(state), stepArgs(op, a, chains, dim));
}

/**
 * The Metropolis-Hastings decision per chain for the proposal state.xp, with gradP (dE/dx there)
 * and energyP ([chains], E there): accepted chains take xp, its gradient and energy, and count
 * the acceptance in state.chain. One dispatch.
 */
export function malaAccept_(state: MalaState, gradP: Tensor, energyP: Tensor, a: MalaStep): void {
  const op = 'malaAccept_';
  arg(op, 'gradP', gradP, { shape: state?.x?.shape });
  arg(op, 'energyP', energyP, { shape: [state?.x?.shape[0] ?? 0] });
  const { rt, chains, dim } = checkState(op, state, ['x', 'grad', 'chain', 'xp', 'beta'], { gradP, energyP });
  malaAcceptKernel(rt, bufs(state), gradP.storage.buffer, energyP.storage.buffer, stepArgs(op, a, chains, dim));
}

/** x <- x - h beta grad + sqrt(2h) eps in place (unadjusted Langevin at each chain's temperature): one dispatch. */
export function temperedLangevin_(x: Tensor, grad: Tensor, beta: Tensor, a: MalaStep): Tensor {
  const op = 'temperedLangevin_';
  const { rt, chains, dim } = checkState(op, { x, grad, beta } as MalaState, ['x', 'grad', 'beta'], {});
  temperedLangevinKernel(rt, bufs({ x, grad, beta }), stepArgs(op, a, chains, dim));
  return x;
}

/**
 * Replica exchange: for every column c and each neighbour pair (r, r + 1) of the given parity,
 * swaps rows r * columns + c and (r + 1) * columns + c of state.x, state.grad and the energies
 * (row 0 of state.chain, which is [4, chains] here) with probability
 * min(1, exp((beta_r - beta_r+1)(E_r - E_r+1))), and counts an accepted swap in row 3 of
 * state.chain at the lower row. One dispatch.
 */
export function temperingSwap_(state: Omit<MalaState, 'xp'>, a: SwapStep): void {
  const op = 'temperingSwap_';
  const { rt, chains, dim } = checkState(op, state as MalaState, ['x', 'grad', 'chain', 'beta'], {}, 4);
  if (typeof a !== 'object' || a === null) throw new Error(`${op}: the step arguments must be { step, key, replicas, parity }`);
  const replicas = intArg(op, 'replicas', a.replicas, 2, chains);
  if (chains % replicas !== 0) throw new Error(`${op}: ${chains} chains do not split into ${replicas} replicas of equal size`);
  intArg(op, 'parity', a.parity, 0, 1);
  intArg(op, 'step', a.step, 0, 0xffffffff);
  checkKey(op, a.key);
  temperingSwapKernel(rt, bufs(state), { chains, dim, step: a.step, seedLo: a.key.lo, seedHi: a.key.hi, h: 1, columns: chains / replicas, replicas, parity: a.parity });
}
