// Wrapper for reduce.wgsl: sum / max / min / logsumexp over any set of axes of a contiguous tensor.
import type { KernelSpec } from './pipeline-cache.js';
import { forcedChoice } from './tuning.js';
import type { BufferWindow, PooledBuffer, Runtime } from './runtime.js';
import { contiguousStrides, product } from './layout.js';
import { needsWindows, windowAt, windowBytes } from './binding-window.js';

const bindings = [
  { name: 'x', kind: 'read-only-storage' },
  { name: 'out', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
] as const;
const PER_THREAD: KernelSpec = { shader: 'reduce.wgsl', entry: 'per_thread', bindings };
const PER_WORKGROUP: KernelSpec = { shader: 'reduce.wgsl', entry: 'per_workgroup', bindings };

export type ReduceOp = 'sum' | 'max' | 'min' | 'logsumexp';

/** Reductions longer than this get a workgroup per output instead of one invocation... */
const WORKGROUP_THRESHOLD = 64;
/**
 * ...except over leading axes with at least this many outputs, each run by one invocation (its
 * lanes read consecutive columns; no barriers), up to LEADING_MAX_REDUCED elements each (a
 * longer sequential sum loses precision). On lavapipe the bias gradients of a 2-256-256-1 MLP
 * at batch 512 ([512, 256] over axis 0) took 8.6 ms of GPU time as a workgroup per column.
 */
const LEADING_MIN_OUT = 128;
const LEADING_MAX_REDUCED = 4096;
/**
 * On GPUs, fewer outputs than this, each over at least CHUNKED_MIN_REDUCED elements, split each
 * run into chunks of about CHUNK_LEN, reduced by a workgroup each and then merged by a second
 * reduction (CHUNKED in reduce.wgsl): one 64-lane workgroup per output leaves all but one of a
 * GPU's compute units idle. Not on CPU adapters, where one workgroup streams well and the
 * chunks' barriers cost more than they share: on lavapipe a full sum over 802,816 elements took
 * 2.0 ms of GPU time in one workgroup and 2.8 ms chunked (100,352: 0.2 against 1.3).
 * rt.tuning.reduce = 'chunked' or 'single' forces either.
 */
const CHUNKED_MAX_OUT = 16;
const CHUNKED_MIN_REDUCED = 1 << 15;
const CHUNK_LEN = 1 << 13;
const MAX_CHUNKS = 256;

export function reduceKernel(rt: Runtime, op: ReduceOp, x: PooledBuffer, out: PooledBuffer, shape: readonly number[], axes: readonly number[], scale = 1): void {
  if (!needsWindows(rt, product(shape) * 4, x, out)) {
    reduceOnce(rt, op, x, out, shape, axes, scale, null);
    return;
  }
  // Over one binding: cut x into boxes that each fit a window (dims before k - 1 fixed at one
  // index, dim k - 1 over a range, the dims from k whole), reduce each box into its contiguous
  // run of outputs, and merge boxes that share outputs (ACCUMULATE: added for a sum or mean,
  // max/min, log-add-exp), all on the GPU.
  const limit = windowBytes(rt) - rt.bindingAlignment;
  const rank = shape.length;
  let k = 1;
  while (k < rank && product(shape.slice(k)) * 4 > limit) k++;
  const inner = product(shape.slice(k));
  const lead = k - 1;
  const per = Math.max(1, Math.floor(limit / (inner * 4)));
  const reduced = new Set(axes);
  const outStrides = contiguousStrides(shape.map((d, i) => (reduced.has(i) ? 1 : d)));
  const subAxes = axes.filter((a) => a >= lead).map((a) => a - lead);
  const prefixShape = shape.slice(0, lead);
  const prefixCount = product(prefixShape);
  for (let p = 0; p < prefixCount; p++) {
    // The fixed indices of dims [0, lead), and where they put the box in x and in out.
    let rem = p;
    let xStart = 0;
    let outStart = 0;
    let first = true;
    const xStrides = contiguousStrides(shape);
    for (let d = lead - 1; d >= 0; d--) {
      const c = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
      xStart += c * xStrides[d]!;
      if (reduced.has(d)) first &&= c === 0;
      else outStart += c * outStrides[d]!;
    }
    for (let q0 = 0; q0 < shape[lead]!; q0 += per) {
      const q1 = Math.min(shape[lead]!, q0 + per);
      const sub = [q1 - q0, ...shape.slice(k)];
      const xs = xStart + q0 * xStrides[lead]!;
      const os = outStart + (reduced.has(lead) ? 0 : q0 * outStrides[lead]!);
      const outCount = product(sub.filter((_, i) => !subAxes.includes(i)));
      const xw = windowAt(rt, x, xs * 4, (xs + product(sub)) * 4);
      const ow = windowAt(rt, out, os * 4, (os + outCount) * 4);
      reduceOnce(rt, op, xw.arg, ow.arg, sub, subAxes, scale, { xShift: xw.shift / 4, outShift: ow.shift / 4, accumulate: !(first && (q0 === 0 || !reduced.has(lead))) });
    }
  }
}

/** One reduction dispatch over a tensor of `shape`; `win` places it in windows of larger buffers. */
function reduceOnce(
  rt: Runtime,
  op: ReduceOp,
  x: PooledBuffer | BufferWindow,
  out: PooledBuffer | BufferWindow,
  shape: readonly number[],
  axes: readonly number[],
  scale: number,
  win: { xShift: number; outShift: number; accumulate: boolean } | null,
): void {
  const strides = contiguousStrides(shape);
  const red = new Set(axes);
  const keptShape: number[] = [];
  const keptStrides: number[] = [];
  const redShape: number[] = [];
  const redStrides: number[] = [];
  shape.forEach((d, i) => {
    if (red.has(i)) {
      redShape.push(d);
      redStrides.push(strides[i]!);
    } else {
      keptShape.push(d);
      keptStrides.push(strides[i]!);
    }
  });
  const nOut = product(keptShape);
  const nRed = product(redShape);
  // Trailing reduced axes are one contiguous run per output: skip the index arithmetic.
  const contiguous = axes.every((a) => a >= shape.length - axes.length);
  const leading = !contiguous && axes.every((a) => a < axes.length) && nOut >= LEADING_MIN_OUT && nRed <= LEADING_MAX_REDUCED;
  const params = {
    n_out: nOut,
    n_red: nRed,
    kept_rank: keptShape.length,
    red_rank: redShape.length,
    scale,
    x_shift: win?.xShift ?? 0,
    out_shift: win?.outShift ?? 0,
    chunk_len: 0,
    chunks: 1,
    kept_shape: keptShape,
    kept_strides: keptStrides,
    red_shape: redShape,
    red_strides: redStrides,
  };
  const overrides = { OP: rt.pipelines.constValue('reduce.wgsl', `OP_${op}`), CONTIGUOUS: contiguous, LEADING: leading, ACCUMULATE: win?.accumulate ?? false };
  const forced = forcedChoice(rt.tuning, 'reduce', ['chunked', 'single']);
  const chunked = forced ? forced === 'chunked' : !rt.info.isSoftware;
  if (chunked && nOut < CHUNKED_MAX_OUT && nRed >= CHUNKED_MIN_REDUCED) {
    // Partials [nOut, chunks], unscaled, then the same op over each output's chunks.
    const chunks = Math.min(MAX_CHUNKS, Math.ceil(nRed / CHUNK_LEN));
    const partials = rt.allocate(nOut * chunks * 4, 'reduce partials');
    const pass1 = { ...params, scale: 1, out_shift: 0, chunk_len: Math.ceil(nRed / chunks), chunks };
    rt.dispatch(PER_WORKGROUP, [x, partials, pass1], { overrides: { ...overrides, CHUNKED: true, ACCUMULATE: false }, workgroups: rt.grid(nOut * chunks) });
    reduceOnce(rt, op, partials, out, [nOut, chunks], [1], scale, win && { xShift: 0, outShift: win.outShift, accumulate: win.accumulate });
    rt.free(partials);
    return;
  }
  if (nRed > WORKGROUP_THRESHOLD && !leading) rt.dispatch(PER_WORKGROUP, [x, out, params], { overrides, workgroups: rt.grid(nOut) });
  else rt.dispatch(PER_THREAD, [x, out, params], { overrides, workgroups: rt.grid(Math.ceil(nOut / 64)) });
}
