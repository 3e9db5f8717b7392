// Wrappers for grad-scaler.wgsl: the found-inf check over a group of gradients and the
// scale update, both recorded like any dispatch, so a scaled training step never reads back.
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';

const SCALER = (entry: 'check' | 'update'): KernelSpec => ({
  shader: 'grad-scaler.wgsl',
  entry,
  bindings: [
    ...[0, 1, 2, 3, 4, 5].map((k) => ({ name: `g${k}`, kind: 'read-only-storage' as const })),
    { name: 'flags', kind: 'storage' },
    { name: 'scale', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
});
const CHECK = SCALER('check');
const UPDATE = SCALER('update');
const WG = 256;
/** Most workgroups a check launches; beyond that each invocation loops (grid-stride). */
const MAX_CHECK_WORKGROUPS = 256;

/** Word layout of the scaler's flag buffer (the FLAG_* constants of grad-scaler.wgsl). */
export function scalerFlagWord(rt: Runtime, name: 'tracker' | 'last_found' | 'skipped' | 'first_optimizer'): number {
  return rt.pipelines.constValue(CHECK.shader, `FLAG_${name}`);
}

/** How many gradients one check dispatch reads. */
export function gradsPerCheck(rt: Runtime): number {
  return rt.pipelines.constValue(CHECK.shader, 'MAX_GRADS');
}

export interface ScalerBuffers {
  flags: PooledBuffer;
  scale: PooledBuffer;
}

/** ORs "any of these gradients holds inf or NaN" into flag word `flagIndex`. */
export function checkFiniteKernel(rt: Runtime, s: ScalerBuffers, grads: readonly { buffer: PooledBuffer; n: number }[], flagIndex: number): void {
  const max = gradsPerCheck(rt);
  if (grads.length > max) throw new Error(`grad-scaler check: ${grads.length} gradients in one dispatch; at most ${max}`);
  const counts = grads.map((g) => g.n);
  // The update's fields are unused by the check.
  const params = { flag_index: flagIndex, optimizers: 0, growth_interval: 0, set_scale: 0, growth_factor: 0, backoff_factor: 0, new_scale: 0, count: counts };
  const slots = Array.from({ length: max }, (_, k) => grads[k]?.buffer ?? rt.placeholder);
  const longest = Math.max(0, ...counts.map((n) => Math.ceil(n / 4)));
  rt.dispatch(CHECK, [...slots, s.flags, s.scale, params], {
    overrides: { WG },
    workgroups: rt.grid(Math.min(MAX_CHECK_WORKGROUPS, Math.ceil(longest / WG))),
  });
}

export interface ScaleUpdate {
  /** Optimizer flag words in use (from the first). */
  optimizers: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  /** Set the scale to this value instead of growing or backing off. */
  newScale?: number;
}

/** Grows or backs off the scale, counts good steps and clears the found-inf flags: one invocation. */
export function updateScaleKernel(rt: Runtime, s: ScalerBuffers, u: ScaleUpdate): void {
  const params = {
    // The check's fields, unused by the update.
    flag_index: 0,
    count: [],
    optimizers: u.optimizers,
    growth_interval: u.growthInterval,
    set_scale: u.newScale === undefined ? 0 : 1,
    growth_factor: u.growthFactor,
    backoff_factor: u.backoffFactor,
    new_scale: u.newScale ?? 0,
  };
  rt.dispatch(UPDATE, [...Array.from({ length: gradsPerCheck(rt) }, () => rt.placeholder), s.flags, s.scale, params], { workgroups: [1] });
}
