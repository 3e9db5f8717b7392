// Wrappers for optim.wgsl: one fused dispatch per parameter update (SGD, Adam, AdamW).
// Hyperparameters travel in the uniform (a scheduler may change lr every step; the uniform
// cache keys on the bytes, so a constant lr uploads nothing after the first two steps); the
// variant (momentum, nesterov, amsgrad, ...) picks a specialised pipeline through overrides.
// A parameter over the binding limit is updated in chunks (see dispatch).
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';
import { needsWindows, windowBytes } from './binding-window.js';
import type { UniformValues } from './uniform.js';

const OPTIM = (entry: 'sgd' | 'adam'): KernelSpec => ({
  shader: 'optim.wgsl',
  preamble: 'activations.wgsl',
  entry,
  bindings: [
    { name: 'param', kind: 'storage' },
    { name: 'grad', kind: 'read-only-storage' },
    { name: 'state', kind: 'storage' },
    { name: 'scaler_flags', kind: 'read-only-storage' },
    { name: 'scaler_scale', kind: 'read-only-storage' },
    { name: 'params', kind: 'uniform' },
  ],
});
const SGD_SPEC = OPTIM('sgd');
const ADAM_SPEC = OPTIM('adam');
const WG = 64;

/** Floats of state for `regions` regions of an n-element parameter, plus the step counter. */
export function optimStateFloats(n: number, regions: number): number {
  return 4 + regions * stateStride(n) * 4;
}

/** Length of one state region in vec4s. */
function stateStride(n: number): number {
  return Math.ceil(n / 4);
}

/**
 * A GradScaler's hold on an update: skip it when the scaler's found-inf flag for this
 * optimizer is set, and (`unscale`) divide the gradient by the scale as it is read.
 */
export interface OptimGate {
  flags: PooledBuffer;
  scale: PooledBuffer;
  flagIndex: number;
  unscale: boolean;
}

/** What every optimizer kernel binds: the parameter, its gradient and its packed state. */
export interface OptimBuffers {
  param: PooledBuffer;
  grad: PooledBuffer;
  /** The packed state (optimStateFloats), or null for SGD without momentum. */
  state: PooledBuffer | null;
  n: number;
  /** Which slot of the GPU step counter holds the current count (the call count mod 2). */
  parity: number;
}

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  maximize: boolean;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: decay the parameter by (1 - lr * weightDecay) rather than adding to the gradient. */
  decoupled: boolean;
  amsgrad: boolean;
  maximize: boolean;
}

function gateOverride(rt: Runtime, gate: OptimGate | null): number {
  const name = gate === null ? 'GATE_none' : gate.unscale ? 'GATE_unscale' : 'GATE_skip';
  return rt.pipelines.constValue('optim.wgsl', name, 'activations.wgsl');
}

// ln(beta) for the kernel's 1 - beta^t = -expm1(t ln beta); beta = 0 gives a large negative
// stand-in for -inf (so beta^t = 0), which a uniform cannot hold portably.
function logBeta(beta: number): number {
  return beta > 0 ? Math.log(beta) : -1e4;
}

/** One update dispatch; `regions`: the state regions the variant reads (0 where it uses no state). */
function dispatch(rt: Runtime, spec: KernelSpec, b: OptimBuffers, gate: OptimGate | null, params: UniformValues, overrides: Record<string, number | boolean>, regions: number): void {
  const o = { overrides: { ...overrides, GATE: gateOverride(rt, gate), WG } };
  const flags = [gate?.flags ?? rt.placeholder, gate?.scale ?? rt.placeholder];
  const state = regions > 0 ? b.state : null;
  if (!needsWindows(rt, Math.max(b.n * 4, state ? optimStateFloats(b.n, regions) * 4 : 0), b.param, b.grad, ...(state ? [state] : []))) {
    rt.dispatch(spec, [b.param, b.grad, b.state ?? rt.placeholderOut, ...flags, params], { ...o, workgroups: rt.grid(Math.ceil(stateStride(b.n) / WG)) });
    return;
  }
  // Over one binding: aligned chunks of the parameter and its gradient through windows; the
  // state's regions are strided over the whole buffer, so each chunk's slices of them (and the
  // step counter) are copied into a compact scratch state laid out for the chunk, updated
  // there, and copied back (copies need only 4-byte offsets).
  const stride = stateStride(b.n);
  const per = Math.floor((windowBytes(rt) - 16) / (16 * Math.max(1, regions)) / 16) * 64;
  const scratch = state ? rt.allocate(16 + regions * (per / 4) * 16, 'optimizer state chunk') : null;
  const win = (buf: PooledBuffer, s: number, e: number) => ({ of: buf, offset: s * 4, size: Math.min(buf.size, Math.ceil(e / 4) * 16) - s * 4 });
  for (let s = 0; s < b.n; s += per) {
    const e = Math.min(b.n, s + per);
    const q = Math.ceil((e - s) / 4);
    const moves = state && scratch ? [[0, 0, 16], ...Array.from({ length: regions }, (_, r) => [(1 + r * stride + s / 4) * 16, (1 + r * q) * 16, q * 16])] : [];
    for (const [from, to, bytes] of moves) rt.copy(state!, from!, scratch!, to!, bytes!);
    rt.dispatch(spec, [win(b.param, s, e), win(b.grad, s, e), scratch ?? rt.placeholderOut, ...flags, { ...params, n: e - s, stride: q }], { ...o, workgroups: rt.grid(Math.ceil(q / WG)) });
    for (const [from, to, bytes] of moves) rt.copy(scratch!, to!, state!, from!, bytes!);
  }
  if (scratch) rt.free(scratch);
}

/** The fields both updates read: the parameter's size, the state's parity and layout, the gate's flag word. */
function header(b: OptimBuffers, gate: OptimGate | null) {
  return { n: b.n, parity: b.parity, flag_index: gate?.flagIndex ?? 0, stride: stateStride(b.n) };
}

export function sgdKernel(rt: Runtime, b: OptimBuffers, h: SgdHyper, gate: OptimGate | null): void {
  const momentum = h.momentum !== 0;
  if (momentum && !b.state) throw new Error('sgd kernel: momentum needs a state buffer');
  const params = {
    ...header(b, gate),
    lr: h.lr,
    weight_decay: h.weightDecay,
    momentum: h.momentum,
    one_minus_dampening: 1 - h.dampening,
    // Adam's fields, unused by SGD.
    one_minus_beta1: 0,
    beta2: 0,
    one_minus_beta2: 0,
    eps: 0,
    log_beta1: 0,
    log_beta2: 0,
    decay_factor: 0,
  };
  dispatch(rt, SGD_SPEC, b, gate, params, { MOMENTUM: momentum, NESTEROV: h.nesterov, MAXIMIZE: h.maximize }, momentum ? 1 : 0);
}

export function adamKernel(rt: Runtime, b: OptimBuffers, h: AdamHyper, gate: OptimGate | null): void {
  if (!b.state) throw new Error('adam kernel: needs a state buffer');
  const params = {
    ...header(b, gate),
    lr: h.lr,
    weight_decay: h.weightDecay,
    // SGD's fields, unused by Adam.
    momentum: 0,
    one_minus_dampening: 0,
    one_minus_beta1: 1 - h.beta1,
    beta2: h.beta2,
    one_minus_beta2: 1 - h.beta2,
    eps: h.eps,
    log_beta1: logBeta(h.beta1),
    log_beta2: logBeta(h.beta2),
    decay_factor: 1 - h.lr * h.weightDecay,
  };
  dispatch(rt, ADAM_SPEC, b, gate, params, { AMSGRAD: h.amsgrad, DECOUPLED: h.decoupled, MAXIMIZE: h.maximize }, h.amsgrad ? 3 : 2);
}
