// Plain tensor code at the fused `linear` speed: h.matmul(W).add(b).silu() runs as ONE matmul
// dispatch whose epilogue adds the bias and applies the activation, with no change to the tape.
//
// How: matmul (the user-facing op; matmulT, which backward rules call, stays eager) prepares its
// dispatch (every check that can fail runs at once) but does not record it; its output is the
// last stage of a pending chain. While the chain is pending:
//   - add(last, bias) with bias a broadcast row ([n], [1, n], ...) appends a bias stage;
//   - an activation of the activation table on the last stage appends an activation stage;
// each appended stage is a new tensor (the op's usual output, recorded on the tape as usual).
// Anything else runs the chain first: any access to any tensor's buffer (an op reading an input,
// a write, data(), a backward rule; `deferredWork` in tensor.ts), disposing the last stage or an
// operand, or the next matmul. So the only thing that changes is when the dispatch is recorded: it waits
// for the next op that touches memory, and no write can overtake its reads.
//
// The dispatch writes the last stage, and also each earlier stage that is still alive (its
// tensor or a view of it not disposed): the pre-activation through the epilogue's z_out, the raw
// product through raw_out. So an intermediate read later (by the user, or by a backward rule:
// silu's gradient reads its input, the biased stage) holds its value, without a second dispatch;
// one that was disposed (tidy, or a no-grad step) costs no store.
import type { Activation } from '../../kernels/activation-table.js';
import { ACTIVATION_TABLE, NONLINEAR_ACTIVATIONS, type ActivationRow } from '../../kernels/activation-table.js';
import type { MatmulLaunch } from '../../kernels/matmul.js';
import type { Runtime } from '../../kernels/runtime.js';
import { deferredWork, Tensor, type Storage } from '../tensor.js';

interface Stage {
  readonly tensor: Tensor;
  /** Held (retained) by the chain until it runs, so its buffer cannot be handed on meanwhile. */
  readonly storage: Storage;
}

interface Chain {
  readonly rt: Runtime;
  readonly launch: MatmulLaunch;
  /** The operands' storages, held until the dispatch is recorded. */
  readonly operands: readonly Storage[];
  readonly raw: Stage;
  biased: Stage | null;
  bias: Storage | null;
  activated: Stage | null;
  activation: Activation;
  param: number;
}

/** At most one chain is pending: starting one runs the previous one. */
let pending: Chain | null = null;

function last(c: Chain): Stage {
  return c.activated ?? c.biased ?? c.raw;
}

function hold(t: Tensor): Stage {
  return { tensor: t, storage: t.storage.retain() };
}

/** Records the pending chain's dispatch, if there is one. */
export function runDeferred(): void {
  const c = pending;
  if (!c) return;
  pending = null;
  deferredWork.active = false;
  const stages = [c.raw, c.biased, c.activated].filter((s): s is Stage => s !== null);
  try {
    // Work for a device that has gone (lost or destroyed) is moot: its tensors say so when used.
    if (c.rt.isLost || c.rt.isDestroyed) return;
    // A stage is alive when something beside the chain holds its storage.
    const alive = (s: Stage | null): s is Stage => s !== null && s.storage.refCount > 1;
    const pre = c.activated ? (c.biased ?? c.raw) : null;
    const rawSaved = c.biased !== null && c.raw !== pre && alive(c.raw);
    c.launch.run(
      {
        bias: c.bias?.deferredBuffer,
        activation: c.activation,
        param: c.param,
        z: alive(pre) ? pre.storage.deferredBuffer : undefined,
        raw: rawSaved ? c.raw.storage.deferredBuffer : undefined,
      },
      last(c).storage.deferredBuffer,
    );
  } finally {
    for (const s of c.operands) s.release();
    c.bias?.release();
    for (const s of stages) s.storage.release();
  }
}

deferredWork.flush = runDeferred;
deferredWork.beforeDispose = (t: Tensor) => {
  // Disposing the chain's result runs it (the work was asked for: a bench's `a.matmul(b).dispose()`
  // still times a matmul), and so does disposing what it reads (its buffer is then freed at once,
  // as the caller expects, and a tidy scope's work is recorded when the scope ends); an
  // intermediate stage just stops being written.
  const c = pending;
  if (c && (last(c).tensor === t || c.operands.includes(t.storage) || c.bias === t.storage)) runDeferred();
};

/**
 * Defers a prepared matmul whose output is `out` (operands a and b, already checked; `launch`
 * prepared with out's buffer as C): it becomes the first stage of a pending chain. A launch that
 * takes no epilogue (the strided f16 body) runs at once.
 */
export function deferMatmul(rt: Runtime, launch: MatmulLaunch, operands: readonly Tensor[], out: Tensor): void {
  runDeferred();
  // An output near the binding limit is recorded inside its own op, whose GPU error scopes
  // (Runtime.beginOp) then cover it; at that size the dispatch's overhead is nothing to save.
  if (!launch.takesEpilogue || !fusionEnabled(rt) || out.byteLength > rt.maxBindingSize / 2) {
    launch.run();
    return;
  }
  pending = {
    rt,
    launch,
    operands: operands.map((t) => t.storage.retain()),
    raw: hold(out),
    biased: null,
    bias: null,
    activated: null,
    activation: 'none',
    param: 0,
  };
  deferredWork.active = true;
}

/**
 * `rt.tuning.fusion = 'off'` turns plain-op fusion off on a device: every matmul is dispatched at
 * once and an activation's backward is a chain of elementwise ops, as before fusion existed (for
 * tests' unfused references and the bench's before/after).
 */
export function fusionEnabled(rt: Runtime): boolean {
  return rt.tuning.fusion !== 'off';
}

/** Whether a storage is written by the pending chain (a bias read from it cannot join). */
function writtenByChain(c: Chain, s: Storage): boolean {
  return [c.raw, c.biased, c.activated].some((st) => st?.storage === s);
}

/**
 * add(a, b) of the pending chain's last stage and a broadcast row (bias [n], [1, n], ... with
 * n the product's columns, on either side), before any activation: the output tensor, now the
 * chain's last stage; else null (the caller runs the add as usual). `shape` is the add's output
 * shape, already checked.
 */
export function foldBiasAdd(rt: Runtime, a: Tensor | number, b: Tensor | number, shape: readonly number[]): Tensor | null {
  const c = pending;
  if (!c || c.biased || c.activated || !(a instanceof Tensor) || !(b instanceof Tensor)) return null;
  const z = last(c).tensor;
  const bias = a === z ? b : b === z ? a : null;
  if (!bias || bias === z || bias.dtype !== 'f32' || bias.device !== rt || bias.isDisposed) return null;
  const n = z.shape[z.rank - 1]!;
  // A row: at most z's rank, n elements along the last dim and 1 along every other, so the sum
  // has z's shape and element (.., col) adds bias[col].
  if (bias.rank < 1 || bias.rank > z.rank || bias.shape[bias.rank - 1] !== n || bias.shape.slice(0, -1).some((d) => d !== 1)) return null;
  if (shape.length !== z.rank || shape.some((d, i) => d !== z.shape[i])) return null;
  if (writtenByChain(c, bias.storage)) return null;
  const out = Tensor.empty(rt, shape, 'add');
  c.bias = bias.storage.retain();
  c.biased = hold(out);
  return out;
}

/**
 * The activation `name` (a row of the activation table; p0, p1 its unary-op parameters) of the
 * pending chain's last stage: the output tensor, now the chain's last stage; else null. A
 * parameter past the first folds only at its fixed WGSL value (softplus's threshold).
 */
export function foldActivation(rt: Runtime, name: string, x: Tensor, p0: number, p1: number): Tensor | null {
  const c = pending;
  if (!c || c.activated || last(c).tensor !== x) return null;
  if (!(NONLINEAR_ACTIVATIONS as readonly string[]).includes(name)) return null;
  const activation = name as Activation;
  if (!fusableParams(activation, p1)) return null;
  const out = Tensor.empty(rt, x.shape, name);
  c.activation = activation;
  c.param = p0;
  c.activated = hold(out);
  return out;
}

/** Whether the fused kernels take this activation with second parameter p1 (they fix it at its default). */
export function fusableParams(activation: Activation, p1: number): boolean {
  const second = (ACTIVATION_TABLE[activation] as ActivationRow).params[1];
  return !second || p1 === second.default;
}
