// Property-based fuzz test (fast-check): random op chains against a float64 CPU oracle.
//
// A case is a base shape (rank 0-4, dims 0-5, size-1 and size-0 dims included), 1-3 input
// tensors whose shapes are broadcast-compatible variants of it (leading dims dropped, some dims
// set to 1), and a chain of 1-8 steps. Each step draws an op family and a few integers that the
// interpreter below turns into a valid call for the shapes at hand:
//   unary     neg abs exp tanh sigmoid silu square relu sin cos leakyRelu elu softplus (default
//             parameters), log and sqrt (of x² + 0.5)
//   binary    add sub mul div maximum minimum, tensor-tensor with broadcasting or with a number
//             on either side (div's denominator is built as b² + 0.5 or -0.5 - b², so it is safe)
//   reduce    sum mean max min logsumexp over a random axis, axis list or all axes, keepdim or not
//             (max/min/logsumexp/mean only over a non-empty reduced set)
//   shape     reshape (incl. -1) transpose permute unsqueeze squeeze expand slice (incl. steps,
//             negative starts and empty results)
//   matmul    with a fresh weight leaf of a compatible shape (1-D on either side, broadcast batch
//             dims) or with the value's own transpose
// The float64 oracle (class A below) runs the same chain forward and in reverse mode (exact
// vector-Jacobian products in float64, not finite differences), from the f32-rounded inputs.
// ebm runs it with every input requiring grad and backpropagates sum(out * g) for a random g.
//
// Checks: the output's shape; the forward values; and each input's gradient (null or zero for an
// input the output does not depend on). Tolerance, per tensor:
//     |ebm - oracle| <= RTOL * max|oracle| + FLOOR * M
// RTOL = 1e-4 for the forward (f32 rounding, sums of up to a few thousand terms, chains of a few
// ops) and 1e-3 for gradients (one more pass of f32 arithmetic, with exp/div/sigmoid
// derivatives); M is the largest magnitude anywhere in the oracle's forward (for the forward
// check) or backward (for gradients) pass, and FLOOR = 1e-5 allows for cancellation (x.sum() -
// y.sum() is held to the precision its terms were computed at, not to the difference's).
//
// Cases where f32 could legitimately take another branch than f64 are discarded (fc.pre): a
// relu/leakyRelu/abs input within 1e-3 * scale of 0 but not exactly 0, maximum/minimum operands within
// that of each other but not equal, a max/min reduction whose runner-up is that close to the
// extreme; also intermediate values above 1e3 or exp of more than 10. Exact ties (structural:
// maximum(x, x), max over an expanded dim) are kept: both sides split the gradient evenly there.
//
// Seeded: a failure prints fast-check's seed and path (replay it with EBM_FUZZ_SEED=<seed>
// EBM_FUZZ_PATH=<path>) and the shrunk counterexample, and the error lists the chain as a program.
// Steps may add leaves of their own (matmul weights, fresh broadcast partners); every leaf's
// gradient is checked.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { mulberry32 } from '../src/tensor/host-random.js';

// EBM_FUZZ_RUNS / EBM_FUZZ_SEED override these for a longer or different exploration run, and
// EBM_FUZZ_PATH (with the seed fast-check printed) replays just a failing case.
const NUM_RUNS = Number(process.env.EBM_FUZZ_RUNS ?? 300);
const SEED = Number(process.env.EBM_FUZZ_SEED ?? 42);
const PATH = process.env.EBM_FUZZ_PATH;

const RTOL_FORWARD = 1e-4;
const RTOL_GRAD = 1e-3;
const FLOOR = 1e-5;
const KINK_MARGIN = 1e-3;
const MAX_VALUE = 1e3;
const MAX_EXP_INPUT = 10;

// ---------------------------------------------------------------------------------------------
// The float64 oracle

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const stridesOf = (s: readonly number[]) => {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i]!;
  }
  return st;
};

/** Calls fn(flatIndex, multiIndex) for every element of shape, in row-major order. */
function forEachIndex(shape: readonly number[], fn: (flat: number, idx: number[]) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let f = 0; f < n; f++) {
    fn(f, idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

class Reject extends Error {}
const reject = (why: string): never => {
  throw new Reject(why);
};

/** A float64 tensor on the oracle's tape. */
class A {
  grad: Float64Array;
  reached = false;
  constructor(
    readonly shape: number[],
    readonly data: Float64Array,
    readonly parents: A[] = [],
    /** Adds this node's gradient into its parents' grads. */
    readonly vjp: (g: Float64Array) => void = () => {},
  ) {
    this.grad = new Float64Array(data.length);
  }
  get size(): number {
    return this.data.length;
  }
  scale(): number {
    let m = 0;
    for (const v of this.data) m = Math.max(m, Math.abs(v));
    return m;
  }
}

/** out[i] = x[map[i]] (a gather); its vjp scatters back. Serves every view-like shape op. */
function gather(x: A, shape: number[], map: Int32Array | null): A {
  const data = map ? Float64Array.from(map, (j) => x.data[j]!) : Float64Array.from(x.data);
  const out: A = new A(shape, data, [x], (g) => {
    if (map) for (let i = 0; i < g.length; i++) x.grad[map[i]!]! += g[i]!;
    else for (let i = 0; i < g.length; i++) x.grad[i]! += g[i]!;
  });
  return out;
}

/** Index map from `to` (a broadcast of `from`, right-aligned) into `from`. */
function broadcastMap(from: readonly number[], to: readonly number[]): Int32Array {
  const st = stridesOf(from);
  const lead = to.length - from.length;
  const map = new Int32Array(sizeOf(to));
  forEachIndex(to, (f, idx) => {
    let j = 0;
    for (let d = 0; d < from.length; d++) if (from[d] !== 1) j += idx[d + lead]! * st[d]!;
    map[f] = j;
  });
  return map;
}

function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

const sigm = (x: number) => 1 / (1 + Math.exp(-x));

type UnaryName = 'neg' | 'abs' | 'exp' | 'tanh' | 'sigmoid' | 'silu' | 'square' | 'relu' | 'sin' | 'cos' | 'leakyRelu' | 'elu' | 'softplus' | 'log' | 'sqrt';
const UNARY: Record<UnaryName, [(x: number) => number, (x: number, y: number) => number]> = {
  neg: [(x) => -x, () => -1],
  abs: [Math.abs, (x) => Math.sign(x)],
  exp: [Math.exp, (_x, y) => y],
  tanh: [Math.tanh, (_x, y) => 1 - y * y],
  sigmoid: [sigm, (_x, y) => y * (1 - y)],
  silu: [(x) => x * sigm(x), (x) => sigm(x) * (1 + x * (1 - sigm(x)))],
  square: [(x) => x * x, (x) => 2 * x],
  relu: [(x) => Math.max(0, x), (x) => (x > 0 ? 1 : 0)],
  sin: [Math.sin, (x) => Math.cos(x)],
  cos: [Math.cos, (x) => -Math.sin(x)],
  // the default parameters: negative slope 0.01, alpha 1, beta 1 and threshold 20
  leakyRelu: [(x) => (x > 0 ? x : 0.01 * x), (x) => (x > 0 ? 1 : 0.01)],
  elu: [(x) => (x > 0 ? x : Math.expm1(x)), (x) => (x > 0 ? 1 : Math.exp(x))],
  softplus: [(x) => (x > 20 ? x : Math.log1p(Math.exp(x))), (x) => (x > 20 ? 1 : sigm(x))],
  // only on inputs built as x² + 0.5 (see POSITIVE_ONLY)
  log: [Math.log, (x) => 1 / x],
  sqrt: [Math.sqrt, (_x, y) => 0.5 / y],
};
/** Unary ops the interpreter applies to x² + 0.5, not to x. */
const POSITIVE_ONLY: UnaryName[] = ['log', 'sqrt'];

function oUnary(op: UnaryName, x: A): A {
  const sc = x.scale();
  if (op === 'abs' || op === 'relu' || op === 'leakyRelu') for (const v of x.data) if (v !== 0 && Math.abs(v) < KINK_MARGIN * sc) reject(`${op} near its kink`);
  if (op === 'exp') for (const v of x.data) if (v > MAX_EXP_INPUT) reject('exp of a large value');
  const [f, df] = UNARY[op];
  const data = x.data.map(f);
  return new A([...x.shape], data, [x], (g) => {
    for (let i = 0; i < g.length; i++) x.grad[i]! += g[i]! * df(x.data[i]!, data[i]!);
  });
}

type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum';
const BINARY: Record<BinaryName, [(a: number, b: number) => number, (a: number, b: number) => [number, number]]> = {
  add: [(a, b) => a + b, () => [1, 1]],
  sub: [(a, b) => a - b, () => [1, -1]],
  mul: [(a, b) => a * b, (a, b) => [b, a]],
  div: [(a, b) => a / b, (a, b) => [1 / b, -a / (b * b)]],
  maximum: [Math.max, (a, b) => (a > b ? [1, 0] : a < b ? [0, 1] : [0.5, 0.5])],
  minimum: [Math.min, (a, b) => (a < b ? [1, 0] : a > b ? [0, 1] : [0.5, 0.5])],
};

function oBinary(op: BinaryName, a: A, b: A): A {
  const shape = broadcastShapes(a.shape, b.shape);
  if (!shape) throw new Error(`oracle: ${a.shape} and ${b.shape} do not broadcast`);
  const ma = broadcastMap(a.shape, shape);
  const mb = broadcastMap(b.shape, shape);
  const [f, df] = BINARY[op];
  const n = sizeOf(shape);
  const data = new Float64Array(n);
  const sc = Math.max(a.scale(), b.scale());
  for (let i = 0; i < n; i++) {
    const x = a.data[ma[i]!]!;
    const y = b.data[mb[i]!]!;
    if ((op === 'maximum' || op === 'minimum') && x !== y && Math.abs(x - y) < KINK_MARGIN * sc) reject(`${op} near a tie`);
    data[i] = f(x, y);
  }
  return new A(shape, data, [a, b], (g) => {
    for (let i = 0; i < n; i++) {
      const [da, db] = df(a.data[ma[i]!]!, b.data[mb[i]!]!);
      a.grad[ma[i]!]! += g[i]! * da;
      b.grad[mb[i]!]! += g[i]! * db;
    }
  });
}

const constant = (v: number) => new A([], Float64Array.of(v));

type ReduceName = 'sum' | 'mean' | 'max' | 'min' | 'logsumexp';

function oReduce(op: ReduceName, x: A, axes: number[] | null, keepdim: boolean): A {
  const all = axes ?? x.shape.map((_, i) => i);
  const isRed = x.shape.map((_, i) => all.includes(i));
  const kept = x.shape.map((d, i) => (isRed[i] ? 1 : d));
  const outShape = keepdim ? kept : x.shape.filter((_, i) => !isRed[i]);
  const count = sizeOf(x.shape.filter((_, i) => isRed[i]));
  const m = broadcastMap(kept, x.shape); // input index -> output slot
  const nOut = sizeOf(kept);
  const data = new Float64Array(nOut);
  if (op === 'max' || op === 'min') {
    const sgn = op === 'max' ? 1 : -1;
    data.fill(-Infinity);
    for (let i = 0; i < x.size; i++) data[m[i]!] = Math.max(data[m[i]!]!, sgn * x.data[i]!);
    const sc = x.scale();
    for (let i = 0; i < x.size; i++) {
      const gap = data[m[i]!]! - sgn * x.data[i]!;
      if (gap !== 0 && gap < KINK_MARGIN * sc) reject(`${op} with a near tie`);
    }
    const ties = new Float64Array(nOut);
    for (let i = 0; i < x.size; i++) if (sgn * x.data[i]! === data[m[i]!]) ties[m[i]!]!++;
    for (let o = 0; o < nOut; o++) data[o] = sgn * data[o]!;
    return new A(outShape, data, [x], (g) => {
      for (let i = 0; i < x.size; i++) if (x.data[i] === data[m[i]!]) x.grad[i]! += g[m[i]!]! / ties[m[i]!]!;
    });
  }
  if (op === 'logsumexp') {
    const mx = new Float64Array(nOut).fill(-Infinity);
    for (let i = 0; i < x.size; i++) mx[m[i]!] = Math.max(mx[m[i]!]!, x.data[i]!);
    for (let i = 0; i < x.size; i++) data[m[i]!]! += Math.exp(x.data[i]! - mx[m[i]!]!);
    for (let o = 0; o < nOut; o++) data[o] = mx[o]! + Math.log(data[o]!);
    return new A(outShape, data, [x], (g) => {
      for (let i = 0; i < x.size; i++) x.grad[i]! += g[m[i]!]! * Math.exp(x.data[i]! - data[m[i]!]!);
    });
  }
  const w = op === 'mean' ? 1 / count : 1;
  for (let i = 0; i < x.size; i++) data[m[i]!]! += x.data[i]! * w;
  return new A(outShape, data, [x], (g) => {
    for (let i = 0; i < x.size; i++) x.grad[i]! += g[m[i]!]! * w;
  });
}

function permuteMap(shape: readonly number[], dims: readonly number[]): [number[], Int32Array] {
  const st = stridesOf(shape);
  const outShape = dims.map((d) => shape[d]!);
  const map = new Int32Array(sizeOf(outShape));
  forEachIndex(outShape, (f, idx) => {
    let j = 0;
    for (let k = 0; k < dims.length; k++) j += idx[k]! * st[dims[k]!]!;
    map[f] = j;
  });
  return [outShape, map];
}

function sliceMap(shape: readonly number[], dim: number, start: number, end: number, step: number): [number[], Int32Array] {
  const size = shape[dim]!;
  const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
  const s = clampIdx(start);
  const e = clampIdx(end);
  const len = Math.max(0, Math.ceil((e - s) / step));
  const outShape = [...shape];
  outShape[dim] = len;
  const st = stridesOf(shape);
  const map = new Int32Array(sizeOf(outShape));
  forEachIndex(outShape, (f, idx) => {
    let j = 0;
    for (let k = 0; k < shape.length; k++) j += (k === dim ? s + idx[k]! * step : idx[k]!) * st[k]!;
    map[f] = j;
  });
  return [outShape, map];
}

/** torch.matmul in float64, 1-D operands promoted and squeezed back. */
function oMatmul(a: A, b: A): A {
  const as = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
  const [m, k] = as.slice(-2) as [number, number];
  const n = bs[bs.length - 1]!;
  const batch = broadcastShapes(as.slice(0, -2), bs.slice(0, -2));
  if (!batch || bs[bs.length - 2] !== k) throw new Error(`oracle: matmul of ${a.shape} and ${b.shape}`);
  const nb = sizeOf(batch);
  const ba = broadcastMap(as.slice(0, -2), batch);
  const bb = broadcastMap(bs.slice(0, -2), batch);
  const data = new Float64Array(nb * m * n);
  for (let t = 0; t < nb; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a.data[ba[t]! * m * k + i * k + p]! * b.data[bb[t]! * k * n + p * n + j]!;
        data[t * m * n + i * n + j] = s;
      }
  const full = [...batch, m, n];
  const shape = full.filter((_, i) => !((a.shape.length === 1 && i === full.length - 2) || (b.shape.length === 1 && i === full.length - 1)));
  return new A(shape, data, [a, b], (g) => {
    for (let t = 0; t < nb; t++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          const gij = g[t * m * n + i * n + j]!;
          for (let p = 0; p < k; p++) {
            a.grad[ba[t]! * m * k + i * k + p]! += gij * b.data[bb[t]! * k * n + p * n + j]!;
            b.grad[bb[t]! * k * n + p * n + j]! += gij * a.data[ba[t]! * m * k + i * k + p]!;
          }
        }
  });
}

/** Reverse mode from `out` with seed gradient g; marks the nodes the output depends on. */
function backward(out: A, g: Float64Array): number {
  const order: A[] = [];
  const seen = new Set<A>();
  const visit = (t: A) => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const p of t.parents) visit(p);
    order.push(t);
  };
  visit(out);
  out.grad.set(g);
  let mag = 0;
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i]!;
    t.reached = true;
    for (const v of t.grad) mag = Math.max(mag, Math.abs(v));
    t.vjp(t.grad);
  }
  return mag;
}

// ---------------------------------------------------------------------------------------------
// The program: instructions both sides execute

type Instr =
  | { k: 'unary'; op: UnaryName; x: number }
  | { k: 'binary'; op: BinaryName; a: number; b: number }
  | { k: 'binaryScalar'; op: BinaryName; x: number; c: number; left: boolean }
  | { k: 'reduce'; op: ReduceName; x: number; axes: number | number[] | null; keepdim: boolean }
  | { k: 'reshape'; x: number; shape: number[] }
  | { k: 'transpose'; x: number; d0?: number; d1?: number }
  | { k: 'permute'; x: number; dims: number[] }
  | { k: 'unsqueeze'; x: number; d: number }
  | { k: 'squeeze'; x: number; d?: number }
  | { k: 'expand'; x: number; shape: number[] }
  | { k: 'slice'; x: number; dim: number; start: number; end: number; step: number }
  | { k: 'matmul'; a: number; b: number };

/** One line of a failing case's program listing; operands (x, a, b) name values v0, v1, ... */
function describeInstr(ins: Instr, i: number): string {
  const { k, ...rest } = ins;
  return `v${i} = ${k} ${JSON.stringify(rest)}`;
}

/** Executes one instruction on ebm tensors (vals: leaves first, then one value per instruction). */
function runEbm(ins: Instr, v: Tensor[]): Tensor {
  switch (ins.k) {
    case 'unary':
      return (v[ins.x]! as unknown as Record<UnaryName, () => Tensor>)[ins.op]();
    case 'binary':
      return ebm[ins.op](v[ins.a]!, v[ins.b]!);
    case 'binaryScalar':
      return ins.left ? ebm[ins.op](ins.c, v[ins.x]!) : ebm[ins.op](v[ins.x]!, ins.c);
    case 'reduce':
      return v[ins.x]![ins.op](ins.axes, ins.keepdim);
    case 'reshape':
      return v[ins.x]!.reshape(ins.shape);
    case 'transpose':
      return ins.d0 === undefined ? v[ins.x]!.transpose() : v[ins.x]!.transpose(ins.d0, ins.d1);
    case 'permute':
      return v[ins.x]!.permute(ins.dims);
    case 'unsqueeze':
      return v[ins.x]!.unsqueeze(ins.d);
    case 'squeeze':
      return v[ins.x]!.squeeze(ins.d);
    case 'expand':
      return v[ins.x]!.expand(ins.shape);
    case 'slice':
      return v[ins.x]!.slice(ins.dim, ins.start, ins.end, ins.step);
    case 'matmul':
      return v[ins.a]!.matmul(v[ins.b]!);
  }
}

const norm = (d: number, r: number) => (d < 0 ? d + r : d);

/** Executes one instruction on the oracle. */
function runOracle(ins: Instr, v: A[]): A {
  switch (ins.k) {
    case 'unary':
      return oUnary(ins.op, v[ins.x]!);
    case 'binary':
      return oBinary(ins.op, v[ins.a]!, v[ins.b]!);
    case 'binaryScalar':
      return ins.left ? oBinary(ins.op, constant(ins.c), v[ins.x]!) : oBinary(ins.op, v[ins.x]!, constant(ins.c));
    case 'reduce': {
      const x = v[ins.x]!;
      const axes = ins.axes === null ? null : (Array.isArray(ins.axes) ? ins.axes : [ins.axes as number]).map((a) => norm(a, x.shape.length));
      return oReduce(ins.op, x, axes, ins.keepdim);
    }
    case 'reshape': {
      const x = v[ins.x]!;
      const known = ins.shape.filter((d) => d !== -1);
      const shape = ins.shape.map((d) => (d === -1 ? x.size / sizeOf(known) : d));
      return gather(x, shape, null);
    }
    case 'transpose': {
      const x = v[ins.x]!;
      const r = x.shape.length;
      if (ins.d0 === undefined && r < 2) return gather(x, [...x.shape], null);
      const dims = [...x.shape.keys()];
      const a = norm(ins.d0 ?? -2, r);
      const b = norm(ins.d1 ?? -1, r);
      [dims[a], dims[b]] = [dims[b]!, dims[a]!];
      return gather(x, ...permuteMap(x.shape, dims));
    }
    case 'permute': {
      const x = v[ins.x]!;
      return gather(x, ...permuteMap(x.shape, ins.dims.map((d) => norm(d, x.shape.length))));
    }
    case 'unsqueeze': {
      const x = v[ins.x]!;
      const s = [...x.shape];
      s.splice(norm(ins.d, s.length + 1), 0, 1);
      return gather(x, s, null);
    }
    case 'squeeze': {
      const x = v[ins.x]!;
      if (ins.d === undefined) return gather(x, x.shape.filter((d) => d !== 1), null);
      const d = norm(ins.d, x.shape.length);
      return gather(x, x.shape[d] === 1 ? x.shape.filter((_, i) => i !== d) : [...x.shape], null);
    }
    case 'expand': {
      const x = v[ins.x]!;
      const lead = ins.shape.length - x.shape.length;
      const shape = ins.shape.map((d, i) => (d === -1 ? x.shape[i - lead]! : d));
      return gather(x, shape, broadcastMap(x.shape, shape));
    }
    case 'slice': {
      const x = v[ins.x]!;
      return gather(x, ...sliceMap(x.shape, norm(ins.dim, x.shape.length), ins.start, ins.end, ins.step));
    }
    case 'matmul':
      return oMatmul(v[ins.a]!, v[ins.b]!);
  }
}

// ---------------------------------------------------------------------------------------------
// The interpreter: random integers -> a valid program, building the oracle as it goes

interface Step {
  family: number;
  r: number[];
}

interface Case {
  base: number[];
  inputs: { drop: number; ones: boolean[] }[];
  steps: Step[];
  seed: number;
}

const FAMILIES = ['unary', 'unary', 'unary', 'binary', 'binary', 'scalar', 'reduce', 'reduce', 'shape', 'shape', 'shape', 'matmul'] as const;
const UNARY_OPS: UnaryName[] = ['neg', 'abs', 'exp', 'tanh', 'sigmoid', 'silu', 'square', 'relu', 'sin', 'cos', 'leakyRelu', 'elu', 'softplus', 'log', 'sqrt'];
const BINARY_OPS: BinaryName[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'];
const REDUCE_OPS: ReduceName[] = ['sum', 'mean', 'max', 'min', 'logsumexp'];

interface Program {
  leaves: { shape: number[]; data: Float32Array }[];
  instrs: Instr[];
  /** The oracle's values in creation order: the inputs, then instruction results, with the leaves steps add interleaved. */
  values: A[];
  /** value index -> leaf number, for the values that are leaves. */
  leafOfValue: Map<number, number>;
  out: number;
  g: Float32Array;
  forwardMag: number;
}

function randomFactorization(size: number, rank: number, r: number): number[] {
  // Splits `size` (> 0) into `rank` factors, using r's digits to choose divisors.
  const out: number[] = [];
  let rest = size;
  for (let i = 0; i < rank - 1; i++) {
    const divs: number[] = [];
    for (let d = 1; d <= rest; d++) if (rest % d === 0) divs.push(d);
    const d = divs[r % divs.length]!;
    r = Math.floor(r / 7) + 3 * i + 1;
    out.push(d);
    rest /= d;
  }
  out.push(rest);
  return out;
}

function buildProgram(c: Case): Program {
  const rand = mulberry32(c.seed);
  const uni = (lo: number, hi: number) => lo + (hi - lo) * rand();
  const leaves: Program['leaves'] = [];
  const values: A[] = [];
  const instrs: Instr[] = [];
  const leafOfValue = new Map<number, number>();
  const newLeaf = (shape: number[]): number => {
    const data = Float32Array.from({ length: sizeOf(shape) }, () => uni(-1, 1));
    leaves.push({ shape, data });
    values.push(new A(shape, Float64Array.from(data)));
    leafOfValue.set(values.length - 1, leaves.length - 1);
    return values.length - 1;
  };
  for (const inp of c.inputs) {
    const drop = inp.drop % (c.base.length + 1);
    newLeaf(c.base.slice(drop).map((d, i) => (inp.ones[i] ? 1 : d)));
  }
  const emit = (ins: Instr): number => {
    const out = runOracle(ins, values);
    for (const v of out.data) if (!(Math.abs(v) <= MAX_VALUE)) reject('a large intermediate value');
    instrs.push(ins);
    values.push(out);
    return values.length - 1;
  };
  const leafOf = newLeaf;

  let cur = values.length - 1;
  for (const step of c.steps) {
    const r = step.r;
    // Mostly the chain's latest value; sometimes an earlier one (an input, or a branch point).
    const x = r[0]! % 4 === 0 ? r[1]! % values.length : cur;
    const xv = values[x]!;
    const rank = xv.shape.length;
    const fam = FAMILIES[step.family % FAMILIES.length]!;
    if (fam === 'unary') {
      const op = UNARY_OPS[r[2]! % UNARY_OPS.length]!;
      if (POSITIVE_ONLY.includes(op)) {
        const sq = emit({ k: 'unary', op: 'square', x });
        cur = emit({ k: 'unary', op, x: emit({ k: 'binaryScalar', op: 'add', x: sq, c: 0.5, left: false }) });
      } else cur = emit({ k: 'unary', op, x });
    }
    else if (fam === 'binary' || fam === 'scalar') {
      const op = BINARY_OPS[r[2]! % BINARY_OPS.length]!;
      if (fam === 'scalar') {
        const cs = [2, -1.5, 0.5, 0.25, -3];
        let cval = cs[r[3]! % cs.length]!;
        const left = r[4]! % 2 === 0;
        if (op === 'div' && left) {
          // number / tensor: a safe denominator first
          const sq = emit({ k: 'unary', op: 'square', x });
          const den = emit({ k: 'binaryScalar', op: 'add', x: sq, c: 0.5, left: false });
          cur = emit({ k: 'binaryScalar', op: 'div', x: den, c: cval, left: true });
        } else {
          if ((op === 'maximum' || op === 'minimum') && cval === 0) cval = 0.3;
          cur = emit({ k: 'binaryScalar', op, x, c: cval, left });
        }
      } else {
        const compatible = values.map((v, i) => i).filter((i) => broadcastShapes(xv.shape, values[i]!.shape) !== null);
        let b = compatible[r[3]! % compatible.length]!;
        if (r[5]! % 5 === 0) b = leafOf(xv.shape.map((d) => (r[6]! % 2 ? d : 1)).slice(r[4]! % (rank + 1))); // a fresh broadcast partner
        const [lhs, rhs] = r[4]! % 3 === 0 ? [b, x] : [x, b];
        if (op === 'div') {
          const sq = emit({ k: 'unary', op: 'square', x: rhs });
          const den = r[6]! % 2 ? emit({ k: 'binaryScalar', op: 'add', x: sq, c: 0.5, left: false }) : emit({ k: 'binaryScalar', op: 'sub', x: sq, c: -0.5, left: true });
          cur = emit({ k: 'binary', op, a: lhs, b: den });
        } else cur = emit({ k: 'binary', op, a: lhs, b: rhs });
      }
    } else if (fam === 'reduce') {
      let op = REDUCE_OPS[r[2]! % REDUCE_OPS.length]!;
      const keepdim = r[3]! % 2 === 0;
      let axes: number | number[] | null;
      let list: number[];
      const mode = r[4]! % 8 === 0 ? 0 : 1 + (r[4]! % 2);
      if (mode === 0 || rank === 0) {
        axes = null;
        list = [...xv.shape.keys()];
      } else if (mode === 1) {
        const a = r[5]! % rank;
        axes = r[6]! % 2 ? a - rank : a; // negative axes too
        list = [a];
      } else {
        list = [...xv.shape.keys()].filter((_, i) => (r[5]! >> i) & 1);
        axes = list;
      }
      if (sizeOf(list.map((a) => xv.shape[a]!)) === 0 && op !== 'sum') op = 'sum'; // the others need a non-empty reduced set
      cur = emit({ k: 'reduce', op, x, axes, keepdim });
    } else if (fam === 'shape') {
      const kind = r[2]! % 7;
      if (kind === 0) {
        let shape: number[];
        if (xv.size === 0) {
          // (no -1: it is ambiguous for an empty tensor)
          const k = 2 + (r[3]! % 3);
          shape = [[0], [0, k], [k, 0, 1]][r[4]! % 3]!;
        } else {
          const newRank = xv.size === 1 ? r[3]! % 4 : 1 + (r[3]! % 4);
          shape = randomFactorization(xv.size, Math.max(newRank, 1), r[4]!);
          if (newRank === 0) shape = [];
          if (shape.length > 0 && r[5]! % 3 === 0) shape[r[6]! % shape.length] = -1;
        }
        cur = emit({ k: 'reshape', x, shape });
      } else if (kind === 1) {
        if (rank < 2 || r[3]! % 3 === 0) cur = emit({ k: 'transpose', x });
        else cur = emit({ k: 'transpose', x, d0: r[4]! % rank, d1: (r[5]! % rank) - (r[6]! % 2 ? rank : 0) });
      } else if (kind === 2) {
        const dims = [...xv.shape.keys()];
        for (let i = dims.length - 1; i > 0; i--) {
          const j = (r[3]! + i * r[4]!) % (i + 1);
          [dims[i], dims[j]] = [dims[j]!, dims[i]!];
        }
        cur = emit({ k: 'permute', x, dims });
      } else if (kind === 3) {
        if (rank >= 4) cur = emit({ k: 'squeeze', x });
        else cur = emit({ k: 'unsqueeze', x, d: (r[3]! % (rank + 1)) - (r[4]! % 2 ? rank + 1 : 0) });
      } else if (kind === 4) {
        cur = emit(rank === 0 || r[3]! % 3 === 0 ? { k: 'squeeze', x } : { k: 'squeeze', x, d: r[4]! % rank });
      } else if (kind === 5) {
        // size-1 dims to 0..5 (or kept with -1), and perhaps one new leading dim
        const shape = xv.shape.map((d, i) => (d === 1 ? ((r[3]! >> i) & 1 ? (r[4]! + i) % 6 : -1) : d));
        if (rank < 4 && r[5]! % 2) shape.unshift(1 + (r[6]! % 3));
        cur = emit({ k: 'expand', x, shape });
      } else {
        if (rank === 0) cur = emit({ k: 'unsqueeze', x, d: 0 });
        else {
          const dim = r[3]! % rank;
          const size = xv.shape[dim]!;
          const start = (r[4]! % (size + 2)) - (r[5]! % 3 === 0 ? size : 0);
          const end = r[5]! % 4 === 0 ? size : r[6]! % (size + 2);
          cur = emit({ k: 'slice', x, dim, start, end, step: 1 + (r[5]! % 3) });
        }
      }
    } else {
      // matmul
      const n = r[3]! % 4; // may be 0
      const m = r[4]! % 4;
      if (rank === 0) {
        cur = emit({ k: 'unsqueeze', x, d: 0 });
      } else if (rank === 1) {
        const k = xv.shape[0]!;
        const w = leafOf(r[5]! % 2 ? [k] : [k, n]);
        cur = emit({ k: 'matmul', a: x, b: w });
      } else {
        const [rows, k] = xv.shape.slice(-2) as [number, number];
        const mode = r[5]! % 5;
        if (mode === 0) cur = emit({ k: 'matmul', a: x, b: leafOf([k, n]) });
        else if (mode === 1) cur = emit({ k: 'matmul', a: x, b: leafOf([k]) });
        else if (mode === 2) cur = emit({ k: 'matmul', a: leafOf([m, rows]), b: x });
        else if (mode === 3) cur = emit({ k: 'matmul', a: leafOf([rows]), b: x });
        else {
          // with its own transpose, or a batched weight broadcasting against x's batch dims
          if (r[6]! % 2) {
            const t = emit({ k: 'transpose', x, d0: -1, d1: -2 });
            cur = emit({ k: 'matmul', a: x, b: t });
          } else {
            const batch = xv.shape.slice(0, -2).map((d) => (r[6]! % 3 === 0 ? 1 : d));
            cur = emit({ k: 'matmul', a: x, b: leafOf([2, ...batch, k, n].slice(rank > 3 ? 1 : 0)) });
          }
        }
      }
    }
  }
  const out = values[cur]!;
  const g = Float32Array.from({ length: out.size }, () => uni(-1, 1));
  let forwardMag = 0;
  for (const v of values) forwardMag = Math.max(forwardMag, v.scale());
  return { leaves, instrs, values, leafOfValue, out: cur, g, forwardMag };
}

// ---------------------------------------------------------------------------------------------
// The comparison

function closeness(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, mag: number): string | null {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  const bound = rtol * scale + FLOOR * mag;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    if (!(err <= bound)) return `element ${i} is ${actual[i]}, expected ${expected[i]} (error ${err.toExponential(2)} > bound ${bound.toExponential(2)} = ${rtol} * ${scale.toExponential(2)} + ${FLOOR} * ${mag.toExponential(2)})`;
  }
  return null;
}

let discarded = 0;
let checked = 0;
/** How often each op (and a few shape features) appeared in checked cases. */
const coverage = new Map<string, number>();
const tally = (key: string) => coverage.set(key, (coverage.get(key) ?? 0) + 1);

async function checkCase(c: Case): Promise<void> {
  let prog: Program;
  try {
    prog = buildProgram(c);
  } catch (e) {
    if (e instanceof Reject) {
      discarded++;
      fc.pre(false);
    }
    throw e;
  }
  const outA = prog.values[prog.out]!;
  const gradMag = backward(outA, Float64Array.from(prog.g));
  let nextInstr = 0;
  const listing = [
    ...prog.values.map((v, i) => {
      const li = prog.leafOfValue.get(i);
      return li !== undefined ? `v${i} = leaf ${li} [${v.shape}]` : `${describeInstr(prog.instrs[nextInstr++]!, i)} -> [${v.shape}]`;
    }),
    `output: v${prog.out}`,
  ].join('\n  ');

  // ebm: values in the same creation order as the oracle's (leaves interleaved with results).
  const leafIdx = prog.leafOfValue;
  const run = ebm.tidy(() => {
    const leafT = prog.leaves.map((l) => ebm.tensor(l.data, l.shape, { requiresGrad: true }));
    const vals: Tensor[] = [];
    let next = 0;
    for (let i = 0; i < prog.values.length; i++) {
      const li = leafIdx.get(i);
      if (li !== undefined) vals.push(leafT[li]!);
      else vals.push(runEbm(prog.instrs[next++]!, vals));
    }
    const out = vals[prog.out]!;
    out.mul(ebm.tensor(prog.g, [...out.shape])).sum().backward();
    return { out, grads: leafT.map((t) => t.grad) };
  });
  try {
    const fail = (msg: string) => expect.fail(`${msg}\n  program:\n  ${listing}`);
    if (JSON.stringify([...run.out.shape]) !== JSON.stringify(outA.shape)) fail(`output shape [${run.out.shape}], expected [${outA.shape}]`);
    const [outData, ...gradData] = await Promise.all([run.out.data(), ...run.grads.map((g) => g?.data() ?? Promise.resolve(null))]);
    const e = closeness(outData!, outA.data, RTOL_FORWARD, prog.forwardMag);
    if (e) fail(`forward: ${e}`);
    for (const [vi, li] of leafIdx) {
      const a = prog.values[vi]!;
      const g = run.grads[li];
      const gd = gradData[li];
      if (!a.reached) {
        if (gd && gd.some((v) => v !== 0)) fail(`leaf ${li} is not used but has a nonzero gradient`);
        continue;
      }
      if (!g || !gd) {
        fail(`leaf ${li} has no gradient`);
        continue;
      }
      if (JSON.stringify([...g.shape]) !== JSON.stringify(a.shape)) fail(`leaf ${li}: gradient shape [${g.shape}], expected [${a.shape}]`);
      const ge = closeness(gd, a.grad, RTOL_GRAD, gradMag);
      if (ge) fail(`gradient of leaf ${li}: ${ge}`);
    }
    checked++;
    for (const ins of prog.instrs) tally('op' in ins ? ins.op : ins.k);
    for (const v of prog.values) {
      if (v.size === 0) tally('(a size-0 value)');
      if (v.shape.length === 0) tally('(a rank-0 value)');
      if (v.shape.length === 4) tally('(a rank-4 value)');
    }
    for (const ins of prog.instrs)
      if (ins.k === 'binary' && JSON.stringify(prog.values[ins.a]!.shape) !== JSON.stringify(prog.values[ins.b]!.shape)) tally('(a broadcasting binary op)');
  } finally {
    run.out.dispose();
    for (const g of run.grads) g?.dispose();
  }
}

// ---------------------------------------------------------------------------------------------

const dim = fc.oneof({ weight: 6, arbitrary: fc.constant(1) }, { weight: 16, arbitrary: fc.integer({ min: 2, max: 5 }) }, { weight: 1, arbitrary: fc.constant(0) });
const caseArb: fc.Arbitrary<Case> = fc.record({
  base: fc.array(dim, { minLength: 0, maxLength: 4 }),
  inputs: fc.array(fc.record({ drop: fc.nat(4), ones: fc.array(fc.integer({ min: 0, max: 3 }).map((v) => v === 0), { minLength: 4, maxLength: 4 }) }), { minLength: 1, maxLength: 3 }),
  steps: fc.array(fc.record({ family: fc.nat(), r: fc.array(fc.nat(), { minLength: 7, maxLength: 7 }) }), { minLength: 1, maxLength: 8 }),
  seed: fc.nat(),
});

beforeAll(async () => {
  await device();
});

describe('fuzz: random op chains against a float64 oracle', () => {
  it(`${NUM_RUNS} seeded cases: forward values and gradients`, async () => {
    await fc.assert(fc.asyncProperty(caseArb, checkCase), { seed: SEED, numRuns: NUM_RUNS, ...(PATH ? { path: PATH } : {}) });
    const cov = [...coverage].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(', ');
    console.log(`fuzz: ${checked} cases checked, ${discarded} discarded (near a kink or out of range); coverage: ${cov}`);
    // The generator must keep reaching every op family and the edge shapes it exists to test.
    const must = [...UNARY_OPS, ...BINARY_OPS, ...REDUCE_OPS, 'reshape', 'transpose', 'permute', 'unsqueeze', 'squeeze', 'expand', 'slice', 'matmul'];
    const edges = ['(a size-0 value)', '(a rank-0 value)', '(a rank-4 value)', '(a broadcasting binary op)'];
    if (NUM_RUNS >= 300 && !PATH) for (const k of [...must, ...edges]) expect(coverage.get(k) ?? 0, `cases covering ${k}`).toBeGreaterThan(0);
  });
});
