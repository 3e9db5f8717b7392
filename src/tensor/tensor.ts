// The Tensor: a shape over a reference-counted GPU buffer (views such as reshape share it),
// plus what autodiff needs (requiresGrad, grad, the tape node that made it).
import type { PooledBuffer, Runtime } from '../kernels/runtime.js';
import { fmt, sizeOf, type Shape } from './shape.js';
import type { TapeNode } from './tape.js';
import { castKernel, f16Bytes } from '../kernels/cast.js';
import { currentScope, trackInScope } from './scope.js';

/**
 * Element types. f16 is a storage type: casts, matmul (f32 accumulation) and views take it;
 * other ops ask for f32.
 */
export type DType = 'f32' | 'f16';

/**
 * GPU work held back so that the next op can join it (src/tensor/fusion/): a matmul's dispatch
 * waits until something touches a tensor's buffer, so that a bias add and an activation applied
 * to its output first fold into its epilogue. `active` is set while such work is pending; any
 * access to any storage's buffer records it first (a read sees its result, a write cannot
 * overtake its reads), and disposing a tensor it writes runs it (`beforeDispose`).
 */
export const deferredWork = {
  active: false,
  flush: (): void => {},
  beforeDispose: (_t: Tensor): void => {},
};

/** A GPU buffer shared by a tensor and its views; freed when the last one lets go. */
export class Storage {
  private refs = 1;
  constructor(
    readonly rt: Runtime,
    private readonly pooled: PooledBuffer,
  ) {}

  /** The buffer, once any deferred work has been recorded (see deferredWork). */
  get buffer(): PooledBuffer {
    if (deferredWork.active) deferredWork.flush();
    return this.pooled;
  }

  /** The buffer without recording deferred work first: for src/tensor/fusion/ alone, which plans that work. */
  get deferredBuffer(): PooledBuffer {
    return this.pooled;
  }

  /** Tensors (and deferred work) holding this storage. */
  get refCount(): number {
    return this.refs;
  }

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) this.rt.free(this.buffer);
  }
}

/** Live tensor counts per device, for memory(). */
const liveCounts = new Map<Runtime, number>();
export function liveTensorCount(rt: Runtime): number {
  return liveCounts.get(rt) ?? 0;
}

/**
 * Live tensors made outside any tidy() scope, per device, and their bytes (views count their
 * shape's bytes): what a loop written without tidy/dispose piles up. `bySize` counts them per
 * byte size and `repeatedBytes` sums the bytes of sizes held GROWTH_REPEATS times or more: a
 * loop makes the same tensors step after step, while a dataset or a model loaded once does not.
 */
interface Untracked {
  tensors: number;
  bytes: number;
  bySize: Map<number, number>;
  repeatedBytes: number;
}
const untracked = new Map<Runtime, Untracked>();
const warnedGrowth = new WeakSet<Runtime>();
/**
 * Warn once past GROWTH_TENSORS live tensors made outside tidy, or past GROWTH_BYTES held by
 * tensors of one size made GROWTH_REPEATS times or more (a few big tensors per step).
 */
export const GROWTH_TENSORS = 10_000;
export const GROWTH_BYTES = 256 * 2 ** 20;
export const GROWTH_REPEATS = 4;

function countUntracked(rt: Runtime, tensors: number, bytes: number): void {
  let u = untracked.get(rt);
  if (!u) untracked.set(rt, (u = { tensors: 0, bytes: 0, bySize: new Map(), repeatedBytes: 0 }));
  u.tensors += tensors;
  u.bytes += bytes;
  const size = Math.abs(bytes);
  const before = u.bySize.get(size) ?? 0;
  const after = before + tensors;
  if (after > 0) u.bySize.set(size, after);
  else u.bySize.delete(size);
  const held = (count: number) => (count >= GROWTH_REPEATS ? count * size : 0);
  u.repeatedBytes += held(after) - held(before);
  if (tensors <= 0 || warnedGrowth.has(rt)) return;
  if (u.tensors > GROWTH_TENSORS || u.repeatedBytes > GROWTH_BYTES) {
    // The FinalizationRegistry below only runs between event-loop tasks, so a synchronous
    // loop that drops tensors without disposing them holds all of them until it ends: say so
    // once, while there is still memory to spare, rather than fail later with an out-of-memory.
    warnedGrowth.add(rt);
    console.warn(
      `webgpu-ebm: ${u.tensors} tensors (${(u.bytes / 2 ** 20).toFixed(1)} MiB) made outside tidy() are alive on device #${rt.id} and still growing. ` +
        'A loop that makes tensors without disposing them leaks GPU memory (the garbage collector frees them only between event-loop tasks): ' +
        'wrap each step in `ebm.tidy(() => ...)`, or call `t.dispose()` on tensors you no longer need. (This warning is shown once.)',
    );
  }
}

// A safety net for tensors dropped without dispose(): their buffers return to the pool when
// the tensor is garbage-collected. dispose() and tidy() remain the plan.
const finalizer = new FinalizationRegistry<{ storage: Storage; rt: Runtime; untrackedBytes: number | null }>(({ storage, rt, untrackedBytes }) => {
  liveCounts.set(rt, liveTensorCount(rt) - 1);
  if (untrackedBytes !== null) countUntracked(rt, -1, -untrackedBytes);
  storage.release();
});

let nextId = 1;

/** Tensors made while an op's forward runs (runOp), one list per nested op, innermost last. */
const madeInOps: Tensor[][] = [];

/**
 * Runs an op's forward, remembering the tensors it makes: if it throws, they are disposed (an
 * op that fails midway, after allocating its output, leaves memory() as it was).
 */
export function disposingOnThrow<T>(fn: () => T): T {
  const made: Tensor[] = [];
  madeInOps.push(made);
  let ok = false;
  try {
    const result = fn();
    ok = true;
    return result;
  } finally {
    madeInOps.pop();
    const parent = madeInOps[madeInOps.length - 1];
    if (!ok) for (const t of made) t.dispose();
    else if (parent) for (const t of made) parent.push(t);
  }
}

/** The id the next tensor will get: every tensor with a smaller id was made before now. */
export function nextTensorId(): number {
  return nextId;
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  requiresGrad = false;
  /** The accumulated gradient after backward(), for leaves that require grad. */
  grad: Tensor | null = null;
  /** The op that made this tensor, when it was recorded on the tape. */
  node: TapeNode | null = null;
  private storageRef: Storage | null;
  readonly device: Runtime;
  /** Bytes counted in `untracked` when this tensor was made outside tidy (null inside). */
  private untrackedBytes: number | null = null;

  constructor(storage: Storage, shape: Shape, dtype: DType = 'f32') {
    this.storageRef = storage;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.device = storage.rt;
    liveCounts.set(storage.rt, liveTensorCount(storage.rt) + 1);
    if (currentScope() === null) {
      this.untrackedBytes = this.byteLength;
      countUntracked(storage.rt, 1, this.untrackedBytes);
    }
    finalizer.register(this, { storage, rt: storage.rt, untrackedBytes: this.untrackedBytes }, this);
    trackInScope(this);
    madeInOps[madeInOps.length - 1]?.push(this);
  }

  /** A new tensor of `shape` over fresh, uninitialised GPU memory. */
  static empty(rt: Runtime, shape: Shape, label?: string, dtype: DType = 'f32'): Tensor {
    const n = sizeOf(shape);
    return new Tensor(new Storage(rt, rt.allocate(dtype === 'f16' ? f16Bytes(n) : n * 4, label, `a ${dtype} tensor of shape ${fmt(shape)}`)), shape, dtype);
  }

  /** A new tensor over this one's storage (a view: reshape, detach). */
  share(shape: Shape): Tensor {
    return new Tensor(this.storage.retain(), shape, this.dtype);
  }

  /** Bytes of data (f16: whole vec4<f16>s, see f16Bytes). */
  get byteLength(): number {
    return this.dtype === 'f16' ? f16Bytes(this.size) : this.size * 4;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.storageRef === null;
  }

  get storage(): Storage {
    if (!this.storageRef) throw new Error(`webgpu-ebm: ${this.describe()} has been disposed and cannot be used`);
    return this.storageRef;
  }

  get buffer(): PooledBuffer {
    return this.storage.buffer;
  }

  /** Throws, naming the op, if this tensor has been disposed. */
  assertAlive(op: string): void {
    if (!this.storageRef) throw new Error(`${op}: ${this.describe()} has been disposed and cannot be used`);
  }

  describe(): string {
    return `tensor #${this.id} of shape ${fmt(this.shape)}`;
  }

  dispose(): void {
    if (!this.storageRef) return;
    if (deferredWork.active) deferredWork.beforeDispose(this);
    finalizer.unregister(this);
    liveCounts.set(this.device, liveTensorCount(this.device) - 1);
    if (this.untrackedBytes !== null) countUntracked(this.device, -1, -this.untrackedBytes);
    this.storageRef.release();
    this.storageRef = null;
    // What the node saved for its backward (linear's pre-activation) goes with it.
    const saved = this.node?.saved ?? [];
    this.node = null;
    for (const t of saved) t.dispose();
  }

  /** The values (f16 widened to f32), copied back from the GPU (this submits pending work). */
  async data(): Promise<Float32Array> {
    this.assertAlive('data');
    if (this.dtype !== 'f32') {
      const wide = widen(this);
      try {
        return await wide.data();
      } finally {
        wide.dispose();
      }
    }
    const s = this.storage;
    return new Float32Array(await s.rt.read(s.buffer, this.size * 4));
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: ${this.describe()} has ${this.size} elements; item() needs exactly one`);
    return (await this.data())[0]!;
  }

  /** The values as nested arrays (a number for a 0-d tensor). */
  async array(): Promise<NestedArray> {
    const d = await this.data();
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.shape.length) return d[off]!;
      const step = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(shape=${fmt(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''}${this.isDisposed ? ', disposed' : ''})`;
  }
}

export type NestedArray = number | NestedArray[];

/** An f32 copy of an f16 tensor for readback, made on the GPU, outside any tape. */
function widen(t: Tensor): Tensor {
  const out = Tensor.empty(t.device, t.shape, 'readback', 'f32');
  if (t.size) castKernel(t.device, 'f32', t.buffer, out.buffer, t.size);
  return out;
}
