// Tensor creation: from host data, constants, ranges, identity, and GPU random numbers.
import { fillKernel, randomKernel } from '../../kernels/fill.js';
import type { Runtime } from '../../kernels/runtime.js';
import { getDevice } from '../context.js';
import { checkNumberArg, checkOptions, checkShape, describeValue, fmt, shown, sizeOf, type Shape } from '../shape.js';
import { noGrad } from '../tape.js';
import { Tensor, type DType, type NestedArray } from '../tensor.js';
import { cast } from './cast.js';

export interface CreateOptions {
  /** The device to create on (default: the one `init()` made). */
  device?: Runtime;
  requiresGrad?: boolean;
  /** 'f32' (default) or 'f16' (made in f32, then cast on the GPU). */
  dtype?: DType;
}

const CREATE_KEYS = ['device', 'requiresGrad', 'dtype'] as const;
const DTYPES: readonly DType[] = ['f32', 'f16'];

/** Checks an options object before anything is allocated: known keys, and values of the right type. */
function checkCreateOptions(op: string, opts: unknown, extra: readonly string[] = []): asserts opts is CreateOptions {
  checkOptions(op, opts, [...CREATE_KEYS, ...extra]);
  const o = (opts ?? {}) as Record<string, unknown>;
  if (o.dtype !== undefined && !DTYPES.includes(o.dtype as DType)) throw new Error(`${op}: dtype must be one of ${DTYPES.join(', ')}, got ${describeValue(o.dtype)}`);
  if (o.requiresGrad !== undefined && typeof o.requiresGrad !== 'boolean') throw new Error(`${op}: requiresGrad must be a boolean, got ${describeValue(o.requiresGrad)}`);
  if (o.device !== undefined && (o.device === null || typeof o.device !== 'object')) throw new Error(`${op}: device must be a Runtime (from init() or createDevice()), got ${describeValue(o.device)}`);
  for (const k of extra) if (o[k] !== undefined) checkNumberArg(op, k, o[k]);
}

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.dtype !== undefined && opts.dtype !== t.dtype) {
    const narrow = noGrad(() => cast(t, opts.dtype!));
    t.dispose();
    t = narrow;
  }
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

function deviceOf(opts: CreateOptions): Runtime {
  return opts.device ?? getDevice();
}

/** Flattens a rectangular nested array, checking every row has the same length. */
function flatten(values: NestedArray): { data: Float32Array; shape: number[] } {
  const shape: number[] = [];
  for (let v: NestedArray = values; Array.isArray(v); v = v[0] as NestedArray) {
    shape.push(v.length);
    if (v.length === 0) break;
  }
  const data = new Float32Array(sizeOf(shape));
  let at = 0;
  const walk = (v: NestedArray, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof v !== 'number') throw new Error(`tensor: expected a number at ${path || 'the top level'}, got ${Array.isArray(v) ? 'an array' : typeof v}`);
      data[at++] = v;
      return;
    }
    if (!Array.isArray(v)) throw new Error(`tensor: ragged nested array: expected an array of length ${shape[dim]} at ${path}, got a ${typeof v}`);
    if (v.length !== shape[dim]) throw new Error(`tensor: ragged nested array: dim ${dim} has length ${shape[dim]} but ${path || 'the array'} has length ${v.length}`);
    v.forEach((x, i) => walk(x, dim + 1, `${path}[${i}]`));
  };
  walk(values, 0, '');
  return { data, shape };
}

/** Uploads host values into a new tensor. */
export function fromData(rt: Runtime, data: Float32Array, shape: Shape): Tensor {
  const t = Tensor.empty(rt, shape, 'tensor');
  if (data.length) rt.write(t.buffer, data);
  return t;
}

/**
 * A tensor from nested arrays (`tensor([[1, 2], [3, 4]])`), a number (0-d), or a flat
 * array / Float32Array with its shape (`tensor(data, [2, 2])`).
 */
export function tensor(values: NestedArray | Float32Array | ArrayLike<number>, shape?: Shape | CreateOptions, opts: CreateOptions = {}): Tensor {
  if (shape !== undefined && shape !== null && typeof shape === 'object' && !Array.isArray(shape)) return tensor(values, undefined, shape as CreateOptions);
  if (shape !== undefined) checkShape('tensor', 'shape', shape as number[]);
  checkCreateOptions('tensor', opts);
  let data: Float32Array;
  let dims: number[];
  if (Array.isArray(values) || typeof values === 'number') {
    ({ data, shape: dims } = flatten(values as NestedArray));
    if (shape) {
      if (sizeOf(shape as number[]) !== data.length)
        throw new Error(`tensor: shape ${fmt(shape as number[])} needs ${sizeOf(shape as number[])} values, got ${data.length}`);
      dims = [...(shape as number[])];
    }
  } else if (ArrayBuffer.isView(values) && !(values instanceof DataView) && !(values instanceof BigInt64Array) && !(values instanceof BigUint64Array)) {
    // Typed arrays convert exactly as numbers do.
    data = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    dims = shape ? [...(shape as number[])] : [data.length];
    if (sizeOf(dims) !== data.length) throw new Error(`tensor: shape ${fmt(dims)} needs ${sizeOf(dims)} values, got ${data.length}`);
  } else {
    // A string is array-like ('abc' would become three NaNs) and an object without a length an
    // empty tensor, so anything else is refused by name.
    throw new Error(`tensor: values must be a number, a (nested) array of numbers or a typed array, got ${describeValue(values)}`);
  }
  return finish(fromData(deviceOf(opts), data, dims), opts);
}

function constant(op: string, shape: Shape, value: number, opts: CreateOptions): Tensor {
  checkShape(op, 'shape', shape);
  checkNumberArg(op, 'value', value);
  checkCreateOptions(op, opts);
  const rt = deviceOf(opts);
  const t = Tensor.empty(rt, shape, op);
  fillKernel(rt, 'full', t.buffer, t.size, { a: value });
  return finish(t, opts);
}

export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  return constant('full', shape, value, opts);
}

export function zeros(shape: Shape, opts: CreateOptions = {}): Tensor {
  return constant('zeros', shape, 0, opts);
}

export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return constant('ones', shape, 1, opts);
}

/** Like torch.arange: [start, end) by step; `arange(n)` is [0, n). */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  checkNumberArg('arange', 'start', start);
  if (end !== undefined) checkNumberArg('arange', 'end', end, 'a number (or omitted: arange(n) is [0, n))');
  checkNumberArg('arange', 'step', step);
  checkCreateOptions('arange', opts);
  if (end === undefined) [start, end] = [0, start];
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new Error(`arange: start and end must be finite, got ${start} and ${end}`);
  if (step === 0 || !Number.isFinite(step)) throw new Error(`arange: step must be a non-zero finite number, got ${step}`);
  if ((end - start) / step < 0) throw new Error(`arange: start ${start} and end ${end} disagree with the sign of step ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const rt = deviceOf(opts);
  const t = Tensor.empty(rt, [n], 'arange');
  fillKernel(rt, 'arange', t.buffer, n, { a: start, step });
  return finish(t, opts);
}

/** Like torch.linspace: `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, opts: CreateOptions = {}): Tensor {
  checkNumberArg('linspace', 'start', start);
  checkNumberArg('linspace', 'end', end);
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`linspace: steps must be a non-negative integer, got ${shown(steps)}`);
  checkCreateOptions('linspace', opts);
  const rt = deviceOf(opts);
  const t = Tensor.empty(rt, [steps], 'linspace');
  fillKernel(rt, 'linspace', t.buffer, steps, { a: start, end, step: steps > 1 ? (end - start) / (steps - 1) : 0 });
  return finish(t, opts);
}

/** An n x m identity matrix (m defaults to n). */
export function eye(n: number, m = n, opts: CreateOptions = {}): Tensor {
  checkNumberArg('eye', 'n', n, 'a non-negative integer');
  checkNumberArg('eye', 'm', m, 'a non-negative integer');
  checkCreateOptions('eye', opts);
  checkShape('eye', 'size', [n, m]);
  const rt = deviceOf(opts);
  const t = Tensor.empty(rt, [n, m], 'eye');
  fillKernel(rt, 'eye', t.buffer, n * m, { cols: Math.max(m, 1) });
  return finish(t, opts);
}

export interface RandomOptions extends CreateOptions {
  /** Same seed, same numbers. Without one, the global generator (see manualSeed) advances. */
  seed?: number;
}

// The global generator: a key and a counter that advances past every draw, so successive
// unseeded calls never reuse counters.
const generator = { seed: 0x5eed, offset: 0 };

export function manualSeed(seed: number): void {
  checkSeed('manualSeed', seed);
  generator.seed = seed;
  generator.offset = 0;
}

/** The global generator's state (torch.get_rng_state): its key and how far it has advanced. */
export function getRngState(): { seed: number; offset: number } {
  return { seed: generator.seed, offset: generator.offset };
}

/** Sets the global generator to a state from getRngState() (torch.set_rng_state). */
export function setRngState(s: { seed: number; offset: number }): void {
  if (s === null || typeof s !== 'object') throw new Error(`setRngState: expected { seed, offset }, got ${s === null ? 'null' : typeof s}`);
  checkSeed('setRngState', s.seed);
  if (!Number.isInteger(s.offset) || s.offset < 0 || s.offset >= 2 ** 32) throw new Error(`setRngState: offset must be a u32 integer, got ${String(s.offset)}`);
  generator.seed = s.seed;
  generator.offset = s.offset;
}

function checkSeed(op: string, seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${op}: seed must be a non-negative safe integer, got ${shown(seed)}`);
}

function random(op: string, dist: 'uniform' | 'normal', shape: Shape, p0: number, p1: number, opts: RandomOptions): Tensor {
  checkShape(op, 'shape', shape);
  if (opts.seed !== undefined) checkSeed(op, opts.seed);
  const rt = deviceOf(opts);
  const t = Tensor.empty(rt, shape, op);
  const n = t.size;
  let seed: number;
  let offset: number;
  if (opts.seed !== undefined) {
    seed = opts.seed;
    offset = 0;
  } else {
    seed = generator.seed;
    offset = generator.offset;
    generator.offset = (generator.offset + Math.ceil(n / 4)) % 2 ** 32;
  }
  randomKernel(rt, dist, t.buffer, n, seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0, offset, p0, p1);
  return finish(t, opts);
}

/** Uniform on [low, high) (default [0, 1)), made on the GPU by Philox 4x32-10. */
export function rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  checkShape('rand', 'shape', shape);
  checkCreateOptions('rand', opts, ['seed', 'low', 'high']);
  return random('rand', 'uniform', shape, opts.low ?? 0, opts.high ?? 1, opts);
}

/** Normal with the given mean and std (default 0, 1), made on the GPU by Philox 4x32-10 + Box-Muller. */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkShape('randn', 'shape', shape);
  checkCreateOptions('randn', opts, ['seed', 'mean', 'std']);
  return random('randn', 'normal', shape, opts.mean ?? 0, opts.std ?? 1, opts);
}
