// The fused optimizer updates as tensor ops (shaders/optim.wgsl): one dispatch updates one
// parameter in place from its gradient and its packed optimizer state, PyTorch's single-tensor
// SGD / Adam / AdamW rules.
//
// The packed state is one f32 tensor per parameter (optimStateSize(n, regions) elements): the
// GPU step counter in two slots (the kernel reads slot `parity` and writes the next count to the
// other, so a step skipped on the GPU never needs the host), then one region per state key
// (SGD: momentum_buffer; Adam: exp_avg, exp_avg_sq, max_exp_avg_sq), each padded to whole vec4s.
// optimState makes one zeroed, optimStateRegion / optimStateStep copy parts out (state dicts),
// loadOptimState_ writes them back; none of these dispatches.
//
// An UpdateGate ties an update to a found-inf flag word on the GPU (the GradScaler's, or the
// trainer's NaN guard): the update is skipped while the flag is set, and with `unscale` the
// gradient is divided by the scale as it is read. Whether to skip is never decided on the CPU.
import { adamKernel, optimStateFloats, sgdKernel, type AdamHyper, type OptimBuffers, type OptimGate, type SgdHyper } from '../../../kernels/optim.js';
import { Tensor } from '../../tensor.js';
import { arg, distinct, intArg, sameDevice } from './common.js';
import { copyInto_, writeData_ } from './copy.js';

export type { AdamHyper, SgdHyper };

/** Skip the update while flags[flagIndex] is non-zero; with unscale, read grad / scale. */
export interface UpdateGate {
  /** Flag words (u32 bits in an f32 tensor), written by checkFinite_. */
  flags: Tensor;
  flagIndex: number;
  /** The 0-d loss scale, read when unscale is set (null: not unscaling). */
  scale: Tensor | null;
  unscale: boolean;
}

/** Where the two step-counter slots end: region 0 starts here (elements). */
const STEP_SLOTS = 4;

/** Elements of the packed state of an n-element parameter with `regions` state regions. */
export function optimStateSize(n: number, regions: number): number {
  return optimStateFloats(n, regions);
}

/** Element offset of state region k of an n-element parameter. */
function regionOffset(n: number, k: number): number {
  return STEP_SLOTS + k * Math.ceil(n / 4) * 4;
}

function checkRegions(op: string, regions: number): number {
  return intArg(op, 'regions', regions, 0, 3);
}

/**
 * A zeroed packed state for `param` with `regions` regions (step count 0). A fresh buffer no
 * pending work uses, so the zeros are an upload that cannot force a submit, not a fill dispatch.
 */
export function optimState(param: Tensor, regions: number, label = 'optim-state'): Tensor {
  const op = 'optimState';
  arg(op, 'param', param);
  const size = optimStateSize(param.size, checkRegions(op, regions));
  const state = Tensor.empty(param.device, [size], label);
  writeData_(state, new Float32Array(size));
  return state;
}

/**
 * Checks a packed state against its parameter and returns its region count (`regions` when the
 * caller knows it; otherwise inferred from the size, which an empty parameter leaves open: 3).
 */
function checkState(op: string, param: Tensor, state: Tensor, written: boolean, regions?: number): number {
  arg(op, 'param', param);
  arg(op, 'state', state, { written });
  sameDevice(op, { param, state });
  const stride = Math.ceil(param.size / 4) * 4;
  const have = regions ?? (stride === 0 ? 3 : (state.size - STEP_SLOTS) / stride);
  if (state.rank !== 1 || !(Number.isInteger(have) && have >= 0 && have <= 3) || state.size !== optimStateSize(param.size, have))
    throw new Error(
      `${op}: state has shape [${state.shape.join(', ')}]; the packed state of a ${param.size}-element param has optimStateSize(${param.size}, regions) elements ` +
        `(${[0, 1, 2, 3].map((r) => optimStateSize(param.size, r)).join(', ')} for 0 to 3 regions)${regions === undefined ? '' : `, and this op needs ${regions} regions`}`,
    );
  return have;
}

/** A copy of state region k as a tensor of param's shape (a buffer copy, no dispatch). */
export function optimStateRegion(state: Tensor, param: Tensor, k: number, label = 'optim-state-region'): Tensor {
  const op = 'optimStateRegion';
  const regions = checkState(op, param, state, false);
  intArg(op, 'k', k, 0, regions - 1);
  const t = Tensor.empty(param.device, param.shape, label);
  if (param.size) copyInto_(t, state, { srcOffset: regionOffset(param.size, k), count: param.size });
  return t;
}

/** A 0-d copy of the step counter in slot `parity` (0 or 1) of a packed state (no dispatch). */
export function optimStateStep(state: Tensor, param: Tensor, parity: number, label = 'optim-step'): Tensor {
  const op = 'optimStateStep';
  checkState(op, param, state, false);
  intArg(op, 'parity', parity, 0, 1);
  const t = Tensor.empty(param.device, [], label);
  copyInto_(t, state, { srcOffset: parity, count: 1 });
  return t;
}

/**
 * Writes a whole packed state in place: both counter slots to `step` (a number, or a one-element
 * tensor copied on the GPU), and region k from regions[k] (each of param's size). No dispatch.
 */
export function loadOptimState_(state: Tensor, param: Tensor, regions: readonly Tensor[], step: Tensor | number): Tensor {
  const op = 'loadOptimState_';
  if (!Array.isArray(regions)) throw new Error(`${op}: regions must be an array of tensors (one per state region), got ${typeof regions}`);
  checkState(op, param, state, true, regions.length);
  regions.forEach((r, k) => arg(op, `regions[${k}]`, r, { size: param.size }));
  if (step instanceof Tensor) arg(op, 'step', step, { size: 1 });
  else if (typeof step !== 'number' || !Number.isFinite(step)) throw new Error(`${op}: step must be a finite number or a one-element tensor, got ${String(step)}`);
  sameDevice(op, { state, ...Object.fromEntries(regions.map((r, k) => [`regions[${k}]`, r])), step: step instanceof Tensor ? step : null });
  const n = typeof step === 'number' ? step : 1;
  // Both slots hold the step, so whichever the next update reads is right.
  writeData_(state, new Float32Array([n, n, 0, 0]));
  if (step instanceof Tensor) for (const slot of [0, 1]) copyInto_(state, step, { dstOffset: slot, count: 1 });
  if (param.size) regions.forEach((r, k) => copyInto_(state, r, { dstOffset: regionOffset(param.size, k), count: param.size }));
  return state;
}

/** What selects the current counter slot, and the gate, for one update. */
export interface UpdateOptions {
  /** The slot of the step counter that holds the current count: the state's update count mod 2. */
  parity: number;
  gate?: UpdateGate | null;
}

function checkUpdate(op: string, param: Tensor, grad: Tensor, state: Tensor | null, regions: number | null, o: UpdateOptions): OptimBuffers & { gate: OptimGate | null } {
  arg(op, 'param', param, { written: true });
  arg(op, 'grad', grad, { size: param.size });
  distinct(op, ['param', param], ['grad', grad]);
  if (state) checkState(op, param, state, true, regions ?? undefined);
  if (typeof o !== 'object' || o === null) throw new Error(`${op}: expected options { parity, gate? }, got ${o === null ? 'null' : typeof o}`);
  intArg(op, 'parity', o.parity, 0, 1);
  const g = o.gate ?? null;
  if (g) {
    arg(op, 'gate.flags', g.flags, { minSize: intArg(op, 'gate.flagIndex', g.flagIndex, 0) + 1 });
    if (g.unscale && !g.scale) throw new Error(`${op}: gate.unscale needs gate.scale (the 0-d loss scale)`);
    if (g.scale) arg(op, 'gate.scale', g.scale, { size: 1 });
  }
  const rt = sameDevice(op, { param, grad, state, 'gate.flags': g?.flags, 'gate.scale': g?.scale });
  return {
    param: param.storage.buffer,
    grad: grad.storage.buffer,
    state: state ? state.storage.buffer : null,
    n: param.size,
    parity: o.parity,
    // Without a scale (a gate that only skips) the kernel never reads that binding: the placeholder fills it.
    gate: g ? { flags: g.flags.storage.buffer, scale: g.scale ? g.scale.storage.buffer : rt.placeholder, flagIndex: g.flagIndex, unscale: g.unscale } : null,
  };
}

/**
 * torch.optim.SGD's update of `param` in place from `grad` (one dispatch); `state` is the packed
 * state with one region (momentum_buffer) when h.momentum is non-zero, else null.
 */
export function sgdStep_(param: Tensor, grad: Tensor, state: Tensor | null, h: SgdHyper, o: UpdateOptions): void {
  const op = 'sgdStep_';
  if (h.momentum !== 0 && !state) throw new Error(`${op}: momentum ${h.momentum} needs a packed state with one region (optimState(param, 1))`);
  // Without momentum the kernel ignores whatever state it is given.
  const b = checkUpdate(op, param, grad, state, h.momentum !== 0 ? 1 : null, o);
  sgdKernel(param.device, b, h, b.gate);
}

/**
 * torch.optim.Adam / AdamW's update of `param` in place from `grad` (one dispatch); `state` is
 * the packed state with 2 regions (exp_avg, exp_avg_sq), 3 with amsgrad (max_exp_avg_sq).
 */
export function adamStep_(param: Tensor, grad: Tensor, state: Tensor, h: AdamHyper, o: UpdateOptions): void {
  const op = 'adamStep_';
  if (!(state instanceof Tensor)) throw new Error(`${op}: state must be the packed Adam state (optimState(param, ${h.amsgrad ? 3 : 2}))`);
  const b = checkUpdate(op, param, grad, state, h.amsgrad ? 3 : 2, o);
  adamKernel(param.device, b, h, b.gate);
}
