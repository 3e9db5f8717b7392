// Matmuls over buffers larger than one storage binding (up to maxBufferSize): the work is cut
// into parts that each bind windows of A, B and C (binding-window.ts) small enough for one
// binding, and every matmul shader adds a_offset / b_offset / c_offset (wrapping u32 sums) to
// its indices, so a part addresses the windows with the unsplit problem's row and batch numbers.
//   - by batch: runs of whole batches (a broadcast operand's span is what the run reads);
//   - by rows of A and C inside one batch, in whole workgroups of rows (a workgroup never
//     straddles two parts, whose windows end at the part's rows);
//   - over k, where A is transposed (Aᵀ B, the weight gradient Aᵀ dY of a matmul whose A is
//     too big): its rows are then A's columns, so a row part still spans all of A, while a k
//     part spans k rows of A and of B. Each k part writes its partial product into a slice of
//     a scratch [parts, C] and a reduction adds the slices into C.
// B must fit one binding per batch (its columns are every column of C): a part never splits it.
import type { MatmulOperand, OperandType } from './matmul.js';
import type { BufferWindow, PooledBuffer, Runtime } from './runtime.js';
import { contiguousStrides, product } from './layout.js';
import { stridedSpan, windowBytes } from './binding-window.js';

/** One part: batches [b0, b1), rows [r0, r1) of each, k [k0, k1); `slice` >= 0: a k part writing partial sums there. */
export interface MatmulPart {
  readonly b0: number;
  readonly b1: number;
  readonly r0: number;
  readonly r1: number;
  readonly k0: number;
  readonly k1: number;
  readonly slice: number;
}

export interface MatmulSplit {
  readonly parts: readonly MatmulPart[];
  /** Partial-sum slices (k parts per batch); 0 when k is not split. */
  readonly slices: number;
}

/** How one buffer is addressed: element = batch offset + row * ri + kk * ki + col * ji. */
interface Addressing {
  readonly batchStrides: readonly number[];
  readonly ri: number;
  readonly ki: number;
  readonly ji: number;
  readonly bytes: number;
}

export interface MatmulGeometry {
  readonly a: MatmulOperand;
  readonly b: MatmulOperand;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly batchShape: readonly number[];
  readonly dtype: OperandType;
}

function addressing(g: MatmulGeometry): { a: Addressing; b: Addressing; c: Addressing } {
  const eb = g.dtype === 'f16' ? 2 : 4;
  const { a, b } = g;
  const cBatch = contiguousStrides(g.batchShape).map((s) => s * g.m * g.n);
  return {
    a: { batchStrides: a.batchStrides, ri: a.trans ? 1 : a.cols, ki: a.trans ? a.cols : 1, ji: 0, bytes: eb },
    b: { batchStrides: b.batchStrides, ri: 0, ki: b.trans ? 1 : b.cols, ji: b.trans ? b.cols : 1, bytes: eb },
    c: { batchStrides: cBatch, ri: g.n, ki: 0, ji: 1, bytes: 4 },
  };
}

/** The bytes [start, end) of a buffer that a part touches (end rounded up to a whole vec4). */
function span(g: MatmulGeometry, ad: Addressing, p: Omit<MatmulPart, 'slice'>): [number, number] {
  const [blo, bhi] = stridedSpan(g.batchShape, ad.batchStrides, p.b0, p.b1);
  const lo = blo + p.r0 * ad.ri + p.k0 * ad.ki;
  const hi = bhi + (p.r1 - 1) * ad.ri + (p.k1 - 1) * ad.ki + (g.n - 1) * ad.ji;
  return [lo * ad.bytes, Math.ceil(((hi + 1) * ad.bytes) / 16) * 16];
}

/** The window of `buf` over bytes [start, end): offset aligned down, size a multiple of 4, within the buffer. */
export function windowOf(rt: Runtime, buf: PooledBuffer, start: number, end: number): BufferWindow {
  const offset = Math.floor(start / rt.bindingAlignment) * rt.bindingAlignment;
  return { of: buf, offset, size: Math.min(buf.size, end) - offset };
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * The parts of a matmul whose A, B or C spans more than one window, or null where one dispatch
 * (grid) binds everything whole. `rowsPerGroup`: rows of one workgroup (parts start and end on
 * whole workgroups); `kSplits`: whether the schedule takes a split over k (its k is only a loop
 * count, and A is transposed). Throws, naming the operand, where no split fits.
 */
export function planMatmulSplit(rt: Runtime, g: MatmulGeometry, c: PooledBuffer, rowsPerGroup: number, kSplits: boolean): MatmulSplit | null {
  const limit = windowBytes(rt);
  // The common case, three comparisons: every buffer (at least its tensor's bytes) fits.
  if (g.a.buffer.size <= limit && g.b.buffer.size <= limit && c.size <= limit) return null;
  const ad = addressing(g);
  const whole = { b0: 0, b1: product(g.batchShape), r0: 0, r1: g.m, k0: 0, k1: g.k };
  const extent = (x: Addressing) => span(g, x, whole)[1];
  if (Math.max(extent(ad.a), extent(ad.b), extent(ad.c)) <= limit && Math.max(g.a.buffer.size, g.b.buffer.size, c.size) <= rt.maxBindingSize) return null;
  const batch = whole.b1;
  const align = rt.bindingAlignment;
  // The operand whose window for this part is over the limit, or null; `margin` reserves the
  // alignment slack, so a k part of this length fits wherever it starts.
  const tooBig = (p: Omit<MatmulPart, 'slice'>, margin = 0): { name: string; bytes: number } | null => {
    for (const [name, x] of [['a', ad.a], ['b', ad.b], ['c', ad.c]] as const) {
      const [s, e] = span(g, x, p);
      const bytes = e - Math.floor(s / align) * align + margin;
      if (bytes > limit) return { name, bytes };
    }
    return null;
  };
  /** The largest end in (start, max] on the granule (or max itself) for which `ok` holds; start if none. */
  const largest = (start: number, max: number, granule: number, ok: (end: number) => boolean): number => {
    const steps = Math.ceil((max - start) / granule);
    const at = (i: number) => Math.min(max, start + i * granule);
    if (!ok(at(1))) return start;
    let lo = 1;
    let hi = steps;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (ok(at(mid))) lo = mid;
      else hi = mid - 1;
    }
    return at(lo);
  };
  const refuse = (why: { name: string; bytes: number }, what: string): never => {
    const op = rt.currentOp ?? 'matmul';
    const role = why.name === 'b' ? "the column operand 'b' (its whole matrix is read for every row of the output, so it must fit one binding)" : `'${why.name}'`;
    throw new Error(
      `${op}: ${role} spans ${why.bytes} bytes (${mib(why.bytes)}) for ${what}, over this device's maxStorageBufferBindingSize of ${rt.maxBindingSize} bytes (${mib(rt.maxBindingSize)}); ` +
        'matmul splits by batch, by rows of a and the output, and over k when a is transposed. Nothing was recorded. Use smaller tensors (fewer rows or a smaller batch).',
    );
  };
  const parts: MatmulPart[] = [];
  const row = (b0: number, r0: number, r1: number) => ({ b0, b1: b0 + 1, r0, r1, k0: 0, k1: g.k });
  const firstRows = Math.min(rowsPerGroup, g.m);
  const why = tooBig(row(0, 0, firstRows));
  if (why && !(kSplits && why.name === 'a')) refuse(why, `${firstRows} rows of one ${batch > 1 ? 'batch' : 'product'}`);
  if (why) {
    // Over k: every batch in k parts of one length (the margin makes it fit at any start).
    const kLen = largest(0, g.k, 4, (k1) => !tooBig({ b0: 0, b1: 1, r0: 0, r1: g.m, k0: 0, k1 }, align));
    if (kLen === 0) refuse(tooBig({ b0: 0, b1: 1, r0: 0, r1: g.m, k0: 0, k1: Math.min(4, g.k) }, align)!, `${Math.min(4, g.k)} steps of k of one ${batch > 1 ? 'batch' : 'product'}`);
    const slices = Math.ceil(g.k / kLen);
    for (let b0 = 0; b0 < batch; b0++)
      for (let j = 0; j < slices; j++) parts.push({ b0, b1: b0 + 1, r0: 0, r1: g.m, k0: j * kLen, k1: Math.min(g.k, (j + 1) * kLen), slice: j });
    return { parts, slices };
  }
  for (let b0 = 0; b0 < batch; ) {
    const b1 = largest(b0, batch, 1, (e) => !tooBig({ b0, b1: e, r0: 0, r1: g.m, k0: 0, k1: g.k }));
    if (b1 > b0) {
      parts.push({ b0, b1, r0: 0, r1: g.m, k0: 0, k1: g.k, slice: -1 });
      b0 = b1;
      continue;
    }
    // One batch is too big: its rows in runs of whole workgroups.
    for (let r0 = 0; r0 < g.m; ) {
      const r1 = largest(r0, g.m, rowsPerGroup, (e) => !tooBig(row(b0, r0, e)));
      if (r1 === r0) refuse(tooBig(row(b0, r0, Math.min(g.m, r0 + rowsPerGroup)))!, `${rowsPerGroup} rows`);
      parts.push({ ...row(b0, r0, r1), slice: -1 });
      r0 = r1;
    }
    b0++;
  }
  return { parts, slices: 0 };
}

/** The windows and index offsets of one part (offsets in the shader's units: elements, or vec4s where `vec4`). */
export function partBindings(
  rt: Runtime,
  g: MatmulGeometry,
  p: MatmulPart,
  vec4: boolean,
): { a: BufferWindow; b: BufferWindow; cStart: number; cEnd: number; offsets: { a_offset: number; b_offset: number; c_offset: number } } {
  const ad = addressing(g);
  const [as, ae] = span(g, ad.a, p);
  const [bs, be] = span(g, ad.b, p);
  // A k part writes its slice of the partial sums: the output's elements, shifted by slice * size.
  const cShift = p.slice >= 0 ? p.slice * product(g.batchShape) * g.m * g.n * 4 : 0;
  const [cs, ce] = span(g, ad.c, p).map((v) => v + cShift) as [number, number];
  const a = windowOf(rt, g.a.buffer, as, ae);
  const b = windowOf(rt, g.b.buffer, bs, be);
  const cOff = Math.floor(cs / rt.bindingAlignment) * rt.bindingAlignment;
  const unitA = vec4 ? 4 * ad.a.bytes : ad.a.bytes;
  const unitC = vec4 ? 16 : 4;
  // The shader's index of element (row, kk') of the part is that of (row, k0 + kk') less k0 * ki.
  const offsets = {
    a_offset: (p.k0 * ad.a.ki - a.offset / ad.a.bytes) / (unitA / ad.a.bytes),
    b_offset: (p.k0 * ad.b.ki - b.offset / ad.b.bytes) / (unitA / ad.b.bytes),
    c_offset: (cShift - cOff) / unitC,
  };
  for (const v of Object.values(offsets)) if (!Number.isInteger(v)) throw new Error(`matmul split: an offset of ${v} units is not whole (${JSON.stringify(p)})`);
  return { a, b, cStart: cs, cEnd: ce, offsets: { a_offset: offsets.a_offset >>> 0, b_offset: offsets.b_offset >>> 0, c_offset: offsets.c_offset >>> 0 } };
}
