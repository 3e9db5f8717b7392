// Argument checks the fused ops share. A fused op takes whole tensors and names the one that is
// wrong (its role in the op, shape, dtype, device), so a caller above src/tensor never needs to
// know how the kernel binds them.
import type { Runtime } from '../../../kernels/runtime.js';
import { fmt, sameShape, sizeOf } from '../../shape.js';
import { Tensor, type DType } from '../../tensor.js';

/** What a fused op requires of one tensor argument. */
export interface ArgSpec {
  /** The accepted dtype (default f32: the fused kernels read and write f32 words). */
  dtype?: DType;
  /** The exact shape, when the op fixes it. */
  shape?: readonly number[];
  /** The exact element count, when only that matters (packed state, flag words). */
  size?: number;
  /** The least element count. */
  minSize?: number;
  /** The op writes it in place: it must not be the result of a recorded op. */
  written?: boolean;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** Checks one tensor argument of `op` named `name`; returns it typed. */
export function arg(op: string, name: string, t: unknown, spec: ArgSpec = {}): Tensor {
  if (!(t instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor, got ${describeValue(t)}`);
  t.assertAlive(`${op} (${name})`);
  const dtype = spec.dtype ?? 'f32';
  if (t.dtype !== dtype) throw new Error(`${op}: ${name} (${t.describe()}) has dtype ${t.dtype}; expected ${dtype}`);
  if (spec.shape && !sameShape(t.shape, spec.shape)) throw new Error(`${op}: ${name} has shape ${fmt(t.shape)}; expected ${fmt(spec.shape)}`);
  if (spec.size !== undefined && t.size !== spec.size) throw new Error(`${op}: ${name} has ${t.size} elements (shape ${fmt(t.shape)}); expected ${spec.size}`);
  if (spec.minSize !== undefined && t.size < spec.minSize) throw new Error(`${op}: ${name} has ${t.size} elements (shape ${fmt(t.shape)}); needs at least ${spec.minSize}`);
  if (spec.written && t.node) throw new Error(`${op}: ${name} (${t.describe()}) is the result of a recorded op; updating it in place would corrupt the tape (detach or clone it first)`);
  return t;
}

/** The device every named tensor lives on; throws naming the first one elsewhere. */
export function sameDevice(op: string, named: Readonly<Record<string, Tensor | null | undefined>>): Runtime {
  let rt: Runtime | null = null;
  let first = '';
  for (const [name, t] of Object.entries(named)) {
    if (!t) continue;
    if (rt === null) [rt, first] = [t.device, name];
    else if (t.device !== rt) throw new Error(`${op}: ${name} is on device ${t.device.id}, ${first} on device ${rt.id}; a fused op runs on one device`);
  }
  if (!rt) throw new Error(`${op}: no tensor arguments`);
  return rt;
}

/** Throws unless the two tensors hold separate storage (a dispatch may not bind one buffer as both input and output). */
export function distinct(op: string, a: [string, Tensor], b: [string, Tensor]): void {
  if (sharesStorage(a[1], b[1])) throw new Error(`${op}: ${a[0]} and ${b[0]} share storage (one is a view of the other); the op writes one while reading the other, so pass a clone`);
}

/** Whether a and b are views of one storage (the same GPU memory). */
export function sharesStorage(a: Tensor, b: Tensor): boolean {
  return a.storage === b.storage;
}

/** Checks an integer in [min, max] (max inclusive), naming it. */
export function intArg(op: string, name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new Error(`${op}: ${name} must be an integer in [${min}, ${max}], got ${typeof v === 'number' ? v : describeValue(v)}`);
  return v;
}

/** Checks a finite number, naming it. */
export function finiteArg(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${op}: ${name} must be a finite number, got ${typeof v === 'number' ? v : describeValue(v)}`);
  return v;
}

/** Elements of one row of t (all but the first axis). */
export function rowSize(t: Tensor): number {
  return sizeOf(t.shape.slice(1));
}
