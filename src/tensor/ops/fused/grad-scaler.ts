// The loss scaler's GPU-side steps as tensor ops (shaders/grad-scaler.wgsl): the found-inf
// check over a list of tensors and the scale update. Both work on a tensor of flag words (u32
// bits in an f32 tensor: a header of growth tracker, last found-inf and skipped count, then
// one found-inf word per optimizer, see scalerFlagWord) and a 0-d scale, so a scaled training
// step never reads back.
import type { Runtime } from '../../../kernels/runtime.js';
import { checkFiniteKernel, gradsPerCheck, scalerFlagWord as flagWord, updateScaleKernel, type ScaleUpdate } from '../../../kernels/grad-scaler.js';
import type { Tensor } from '../../tensor.js';
import { arg, intArg, sameDevice } from './common.js';

export type { ScaleUpdate };

/** The flag words the scaler's kernels share (FLAG_* in grad-scaler.wgsl). */
export type ScalerFlag = 'tracker' | 'last_found' | 'skipped' | 'first_optimizer';

/** The index of a flag word (the first optimizer's found-inf word for 'first_optimizer'). */
export function scalerFlagWord(device: Runtime, name: ScalerFlag): number {
  return flagWord(device, name);
}

/**
 * ORs "some element of these tensors is inf or NaN" into flags[flagIndex], in place: one
 * dispatch per six non-empty tensors (empty ones have nothing to check). `scale` is the scaler's
 * 0-d scale, bound beside the flags (the check leaves it alone); null where there is none.
 */
export function checkFinite_(flags: Tensor, tensors: readonly Tensor[], flagIndex: number, scale: Tensor | null = null): void {
  const op = 'checkFinite_';
  arg(op, 'flags', flags, { minSize: intArg(op, 'flagIndex', flagIndex, 0) + 1, written: true });
  if (scale !== null) arg(op, 'scale', scale, { size: 1 });
  if (!Array.isArray(tensors)) throw new Error(`${op}: tensors must be an array of tensors`);
  tensors.forEach((t, i) => arg(op, `tensors[${i}]`, t));
  const rt = sameDevice(op, { flags, scale, ...Object.fromEntries(tensors.map((t, i) => [`tensors[${i}]`, t])) });
  const list = tensors.filter((t) => t.size > 0);
  const per = gradsPerCheck(rt);
  const buffers = { flags: flags.storage.buffer, scale: scale ? scale.storage.buffer : rt.placeholderOut };
  for (let i = 0; i < list.length; i += per)
    checkFiniteKernel(rt, buffers, list.slice(i, i + per).map((t) => ({ buffer: t.storage.buffer, n: t.size })), flagIndex);
}

/**
 * Grows or backs off `scale` in place after the checks of `u.optimizers` optimizers (or sets it
 * to u.newScale), counts good steps and clears the found-inf words: one single-invocation dispatch.
 */
export function updateScale_(flags: Tensor, scale: Tensor, u: ScaleUpdate): void {
  const op = 'updateScale_';
  const rt = sameDevice(op, { flags: arg(op, 'flags', flags, { written: true }), scale: arg(op, 'scale', scale, { size: 1, written: true }) });
  const first = scalerFlagWord(rt, 'first_optimizer');
  intArg(op, 'optimizers', u.optimizers, 0, flags.size - first);
  updateScaleKernel(rt, { flags: flags.storage.buffer, scale: scale.storage.buffer }, u);
}
