// The tape: every differentiable op is registered once here with its forward and backward
// rule (tfjs-style registry, one op per definition). Running an op validates its inputs,
// runs the forward kernel, and, when grad mode is on and an input requires grad, records a
// node on the output. Backward rules are written with the same tensor ops, so running them
// with grad mode on records a graph of the gradient (double backward for free).
import type { Runtime } from '../kernels/runtime.js';
import { keep, tidy } from './scope.js';
import { fmt } from './shape.js';
import { disposingOnThrow, type DType, type Tensor } from './tensor.js';

export interface BackwardContext<A> {
  inputs: readonly Tensor[];
  output: Tensor;
  attrs: A;
  /** Which inputs' gradients are wanted; a rule may skip computing the others. */
  needs: readonly boolean[];
  /** What the forward saved for the backward (runOp's `save`), in the order saved. */
  saved: readonly Tensor[];
}

export interface OpDef<A = unknown> {
  readonly name: string;
  /** Input dtypes the op accepts (default: f32 only). */
  readonly dtypes?: readonly DType[];
  /**
   * Input gradients given the output's gradient `g`. A gradient may have the output's
   * (broadcast) shape; the engine sums it back to the input's shape. null: no gradient.
   */
  readonly backward?: (ctx: BackwardContext<A>, g: Tensor) => readonly (Tensor | null)[];
}

export interface TapeNode {
  readonly op: OpDef<any>;
  readonly inputs: readonly Tensor[];
  readonly attrs: unknown;
  /**
   * Tensors the forward made for the backward alone (linear's pre-activation). The node owns
   * them: no tidy scope holds them, and they are disposed with the node's output.
   */
  readonly saved: readonly Tensor[];
}

const registry = new Map<string, OpDef<any>>();

export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  if (registry.has(def.name)) throw new Error(`webgpu-ebm: op '${def.name}' is defined twice`);
  registry.set(def.name, def);
  return def;
}

export function registeredOps(): string[] {
  return [...registry.keys()].sort();
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording anything on the tape (like torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

export function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Checks that every input is alive, on one device and of an accepted dtype, naming the op;
 * returns that device.
 */
export function checkInputs(op: string, inputs: readonly Tensor[], dtypes: readonly DType[] = ['f32']): Runtime {
  const rt = inputs[0]!.device;
  for (const t of inputs) {
    t.assertAlive(op);
    if (!dtypes.includes(t.dtype))
      throw new Error(`${op}: ${t.describe()} has dtype ${t.dtype}; ${op} takes ${dtypes.join(' or ')} (cast with .to('${dtypes[0]}'))`);
    if (t.device !== rt)
      throw new Error(`${op}: tensors are on different devices (${inputs[0]!.describe()} on device ${rt.id}, ${t.describe()} on device ${t.device.id})`);
  }
  return rt;
}

/**
 * Runs an op made of other ops. When the tape will record it, its intermediates are part of the
 * graph; otherwise they are scratch and are disposed as soon as the result exists.
 */
export function composite(inputs: readonly Tensor[], fn: () => Tensor): Tensor {
  return gradEnabled && inputs.some((t) => t.requiresGrad) ? fn() : tidy(fn);
}

/** Whether an op on these inputs is recorded on the tape now. */
export function willRecord(def: OpDef<any>, inputs: readonly Tensor[]): boolean {
  return gradEnabled && !!def.backward && inputs.some((t) => t.requiresGrad);
}

/**
 * Runs an op: `forward` must validate everything before it dispatches, so a bad call throws
 * with nothing recorded. The node is attached only after forward succeeded. `save(t)` hands a
 * tensor the forward made for the backward to the node (BackwardContext.saved): it leaves its
 * tidy scope and is disposed with the output; if nothing is recorded, or forward throws, it is
 * disposed at once.
 */
export function runOp<A>(def: OpDef<A>, inputs: readonly Tensor[], attrs: A, forward: (rt: Runtime, save: (t: Tensor) => Tensor) => Tensor): Tensor {
  const rt = checkInputs(def.name, inputs, def.dtypes);
  const saved: Tensor[] = [];
  const save = (t: Tensor): Tensor => {
    saved.push(t);
    return t;
  };
  let out: Tensor;
  // An op that throws midway (a grid over the device limit found after its output was
  // allocated) leaves nothing behind: the tensors it made and the scratch it allocated go.
  const frame = rt.beginOp(() => `${def.name} on ${inputs.map((t) => fmt(t.shape)).join(' and ')}`);
  let failed = true;
  try {
    out = disposingOnThrow(() => forward(rt, save));
    failed = false;
  } catch (e) {
    for (const t of saved) t.dispose();
    throw e;
  } finally {
    rt.endOp(frame, failed);
  }
  if (willRecord(def, inputs)) {
    out.requiresGrad = true;
    for (const t of saved) keep(t);
    out.node = { op: def, inputs, attrs, saved };
  } else for (const t of saved) t.dispose();
  return out;
}
