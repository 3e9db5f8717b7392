// The three kernels of a Hamiltonian Monte Carlo step as tensor ops (shaders/hmc.wgsl), in
// place on the chains' state. A step is hmcBegin_ (momentum from Philox, the first half step and
// full position step into the proposal), nLeapfrogSteps - 1 hmcLeap_ (a full momentum step with
// the gradient at the proposal, then a position step), and hmcAccept_ (the last half step, the
// Hamiltonians and the Metropolis decision per chain, with a uniform from Philox); between them
// the caller evaluates the energy's gradient (and at the end the energy) at state.xp.
import { hmcAcceptKernel, hmcBeginKernel, hmcLeapKernel, type HmcBuffers, type HmcStepArgs } from '../../../kernels/hmc.js';
import type { Runtime } from '../../../kernels/runtime.js';
import type { Tensor } from '../../tensor.js';
import { arg, distinct, finiteArg, intArg, rowSize, sameDevice } from './common.js';
import { checkKey, type PhiloxKey } from './langevin.js';

/** The chains' state one HMC call keeps; every tensor is updated in place. */
export interface HmcState {
  /** The chains' positions [chains, ...dim]. */
  x: Tensor;
  /** dE/dx at x (x's shape). */
  grad: Tensor;
  /** [3, chains]: the energy at x, whether the last proposal was accepted, the accept count. */
  chain: Tensor;
  /** The proposal and its momentum (x's shape). */
  xp: Tensor;
  p: Tensor;
}

export interface HmcStep {
  /** The step's Philox counter word. */
  step: number;
  key: PhiloxKey;
  /** The leapfrog step size. */
  h: number;
  /** The scalar mass: momentum ~ N(0, mass), kinetic energy |p|^2 / (2 mass). */
  mass: number;
}

function check(op: string, s: HmcState, a: HmcStep, extra: Record<string, Tensor>): { rt: Runtime; bufs: HmcBuffers; args: HmcStepArgs } {
  if (typeof s !== 'object' || s === null) throw new Error(`${op}: state must be { x, grad, chain, xp, p }`);
  const x = arg(op, 'state.x', s.x, { written: true });
  if (x.rank < 2 || x.shape[0] === 0) throw new Error(`${op}: state.x must have shape [chains, ...dim] with chains >= 1, got [${x.shape.join(', ')}]`);
  const chains = x.shape[0]!;
  for (const k of ['grad', 'xp', 'p'] as const) arg(op, `state.${k}`, s[k], { shape: x.shape, written: true });
  arg(op, 'state.chain', s.chain, { shape: [3, chains], written: true });
  for (const [name, t] of Object.entries(extra)) arg(op, name, t, { shape: name === 'energyP' ? [chains] : x.shape });
  const named: [string, Tensor][] = [['state.x', s.x], ['state.grad', s.grad], ['state.chain', s.chain], ['state.xp', s.xp], ['state.p', s.p], ...Object.entries(extra)];
  for (let i = 0; i < named.length; i++) for (let j = i + 1; j < named.length; j++) distinct(op, named[i]!, named[j]!);
  const rt = sameDevice(op, Object.fromEntries(named));
  intArg(op, 'step', a.step, 0, 0xffffffff);
  checkKey(op, a.key);
  finiteArg(op, 'h', a.h);
  if (!(finiteArg(op, 'mass', a.mass) > 0)) throw new Error(`${op}: mass must be > 0, got ${a.mass}`);
  const bufs: HmcBuffers = { x: s.x.storage.buffer, grad: s.grad.storage.buffer, chain: s.chain.storage.buffer, xp: s.xp.storage.buffer, p: s.p.storage.buffer };
  return { rt, bufs, args: { chains, dim: rowSize(x), step: a.step, seedLo: a.key.lo, seedHi: a.key.hi, h: a.h, mass: a.mass } };
}

/** Draws the momentum into state.p and makes the first half step and full position step into state.xp: one dispatch. */
export function hmcBegin_(state: HmcState, a: HmcStep): void {
  const { rt, bufs, args } = check('hmcBegin_', state, a, {});
  hmcBeginKernel(rt, bufs, args);
}

/** A full momentum step with gradP (dE/dx at state.xp), then a position step: one dispatch. */
export function hmcLeap_(state: HmcState, gradP: Tensor, a: HmcStep): void {
  const { rt, bufs, args } = check('hmcLeap_', state, a, { gradP });
  hmcLeapKernel(rt, bufs, gradP.storage.buffer, args);
}

/**
 * The last half step with gradP, the Hamiltonians with energyP (E at state.xp, [chains]), and
 * per chain the Metropolis decision: accepted chains take xp, its gradient and energy. One dispatch.
 */
export function hmcAccept_(state: HmcState, gradP: Tensor, energyP: Tensor, a: HmcStep): void {
  const { rt, bufs, args } = check('hmcAccept_', state, a, { gradP, energyP });
  hmcAcceptKernel(rt, bufs, gradP.storage.buffer, energyP.storage.buffer, args);
}
