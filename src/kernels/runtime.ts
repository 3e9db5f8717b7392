// The GPU runtime: one device, one pending command encoder that dispatches are recorded into
// (submitted on readback or when a batch fills), a buffer pool, a pipeline cache and a cache
// of immutable uniform buffers keyed by their bytes (shapes repeat, so one upload serves every
// step of a loop).
import { BufferPool, type PooledBuffer } from './buffer-pool.js';
import { PipelineCache, type KernelSpec, type Overrides } from './pipeline-cache.js';
import type { UniformValues } from './uniform.js';
import type { AcquiredDevice, DeviceInfo } from './device.js';
import { BufferUsage, MapMode } from './gpu-flags.js';
import { Profiler, type KernelTime, type ProfileOptions } from './profiler.js';
import { gpuWait } from './gentle-wait.js';

export type { PooledBuffer } from './buffer-pool.js';
export type { UniformValues } from './uniform.js';

/**
 * A byte range of a storage buffer, bound instead of the whole buffer: how kernels reach a
 * buffer larger than maxStorageBufferBindingSize (see binding-window.ts). `offset` is a
 * multiple of minStorageBufferOffsetAlignment, `size` of 4.
 */
export interface BufferWindow {
  readonly of: PooledBuffer;
  readonly offset: number;
  readonly size: number;
}

/**
 * A kernel argument: a storage buffer (bound whole), a window of one, or the fields of a
 * uniform struct by their WGSL names (written with the layout reflected from the shader, see
 * uniform.ts).
 */
export type KernelArg = PooledBuffer | BufferWindow | UniformValues;

/** Whether an argument is a pool buffer rather than a uniform's fields. */
function isBuffer(a: KernelArg): a is PooledBuffer {
  return 'lastUse' in a && 'usage' in a && 'buffer' in a;
}

function isWindow(a: KernelArg): a is BufferWindow {
  return 'of' in a && 'offset' in a && 'size' in a && typeof a.of === 'object';
}

/** The pool buffer behind a storage argument, or null for a uniform's fields. */
function storageOf(a: KernelArg): PooledBuffer | null {
  return isBuffer(a) ? a : isWindow(a) ? a.of : null;
}

/**
 * The op running now (runOp's frame), for messages and clean-up: the buffers it allocated and
 * has not freed (freed if its forward throws), and whether its work runs inside error scopes.
 */
interface OpFrame {
  /** The op and its inputs' shapes, made only for a message (runOp is on every hot path). */
  readonly label: () => string;
  /** An array, not a Set: an op allocates one or two buffers, and this is on every op's path. */
  readonly allocated: PooledBuffer[];
}

/** The outcome of one op's error scopes: null until they pop, then the error or false. */
interface ScopeRecord {
  error: Error | false | null;
}

/** When runOp wraps an op's GPU work in error scopes (see Runtime.errorScopes). */
export type ErrorScopeMode = 'near-limits' | 'every-op';

const mib = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 30 ? 1 : 0)} MiB`;

export interface DispatchOptions {
  overrides?: Overrides;
  workgroups: readonly [number, number?, number?];
}

export interface RuntimeStats {
  dispatches: number;
  submits: number;
  pipelines: number;
  bufferAllocations: number;
  uniformUploads: number;
  /** Bind groups created (a cache hit creates none). */
  bindGroups: number;
  /** Ops whose work ran inside error scopes (see Runtime.errorScopes). */
  errorScopes: number;
  /**
   * Dispatches by shader file (e.g. 'matmul-subgroup.wgsl'): which schedule a call really ran,
   * for tests that force one and for the bench's per-kernel counts.
   */
  readonly byShader: Map<string, number>;
  /** The same by entry point, keyed 'file:entry' (e.g. 'conv2d-subgroup.wgsl:conv_pixel_rows'). */
  readonly byEntry: Map<string, number>;
}

const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const MAX_UNIFORM_CACHE = 4096;
const MAX_BIND_GROUP_CACHE = 2048;
/** Binding slots remembered, and buffers each may own, for uniforms that change per call. */
const MAX_UNIFORM_SLOTS = 4096;
const MAX_SLOT_BUFFERS = 16;

interface UniformSlot {
  last: string;
  owned: PooledBuffer[];
}
let nextRuntimeId = 1;

export class Runtime {
  readonly id = nextRuntimeId++;
  readonly device: GPUDevice;
  readonly info: DeviceInfo;
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  /** A tiny buffer bound where a kernel's input is unused (a scalar operand, say). */
  readonly placeholder: PooledBuffer;
  /** Its twin for an unused output binding (an input and an output may not share a buffer). */
  readonly placeholderOut: PooledBuffer;
  /**
   * Kernel schedule overrides by kernel family (e.g. { matmul: 'tiled' }); unset or 'auto'
   * lets each wrapper choose for this adapter. Tests use it to run every schedule.
   */
  readonly tuning: Record<string, string | undefined> = {};
  /** Dispatches recorded before the pending encoder is submitted even without a readback. */
  batchSize = 128;
  /**
   * Which ops run inside GPU error scopes ('validation' and 'out-of-memory'), so that an error
   * the TypeScript checks could not foresee names its op and spares the rest: the pending work
   * is submitted first (it is kept whatever happens), the op's own work is submitted alone,
   * and reading a result that depends on a refused op throws its error. 'near-limits' (the
   * default) does so for an op that allocates more than half of maxStorageBufferBindingSize;
   * 'every-op' for every op (a debug mode: one submission per op, slow).
   */
  errorScopes: ErrorScopeMode = 'near-limits';
  readonly stats: RuntimeStats = { dispatches: 0, submits: 0, pipelines: 0, bufferAllocations: 0, uniformUploads: 0, bindGroups: 0, errorScopes: 0, byShader: new Map(), byEntry: new Map() };
  /** Bytes held by live storages (tensor data), and the most ever held at once. */
  liveBytes = 0;
  peakBytes = 0;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingDispatches = 0;
  /** Set between startProfile and stopProfile: dispatches are recorded through it (profiler.ts). */
  private profiler: Profiler | null = null;
  private submitted = 0;
  private readonly uniforms = new Map<string, PooledBuffer>();
  /** Per binding slot: the contents it last held and the buffers it owns (see uniformAt). */
  private readonly uniformSlots = new Map<string, UniformSlot>();
  /** Bind groups by (pipeline, buffers): a training loop rebinds the same pooled buffers. */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly objectIds = new WeakMap<object, number>();
  private nextObjectId = 1;
  private readonly maxWorkgroups: number;
  /** The largest buffer the device will create, and the largest one a kernel may bind whole. */
  readonly maxBufferSize: number;
  readonly maxBindingSize: number;
  private deviceError: Error | null = null;
  private destroyed = false;
  /** Why the device was lost (set once, for good: every later call says so). */
  private lostInfo: string | null = null;
  /** The ops running now, innermost last (runOp nests). */
  private readonly ops: OpFrame[] = [];
  /** The op (or allocation) whose work is inside error scopes now, and its outcome. */
  private scoped: { frame: OpFrame | null; record: ScopeRecord } | null = null;
  /** Error scopes not yet popped; a readback waits for them. */
  private readonly pendingScopes = new Set<Promise<void>>();
  /** Buffers written by scoped work (or computed from what it wrote), and that work's outcomes. */
  private readonly taint = new WeakMap<PooledBuffer, readonly ScopeRecord[]>();
  private tainted = false;
  /** minStorageBufferOffsetAlignment: a window's offset is a multiple of it. */
  readonly bindingAlignment: number;

  constructor(private readonly acquired: AcquiredDevice) {
    this.device = acquired.device;
    this.info = acquired.info;
    this.pool = new BufferPool(this.device);
    this.pipelines = new PipelineCache(this.device);
    this.maxWorkgroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    this.maxBufferSize = this.device.limits.maxBufferSize;
    // A binding's size must be a multiple of 4, so a buffer at the limit is capped to one.
    this.maxBindingSize = Math.floor(Math.min(this.device.limits.maxStorageBufferBindingSize, this.maxBufferSize) / 4) * 4;
    this.bindingAlignment = this.device.limits.minStorageBufferOffsetAlignment;
    this.placeholder = this.pool.acquire(16, STORAGE_USAGE, 'placeholder');
    this.placeholderOut = this.pool.acquire(16, STORAGE_USAGE, 'placeholder-out');
    this.device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.deviceError ??= new Error(`webgpu-ebm: GPU error: ${err.message}`);
    });
    void this.device.lost.then((info) => {
      if (!this.destroyed) this.lostInfo = `${info.reason}${info.message ? `: ${info.message}` : ''}`;
    });
  }

  /** Index of the submission the pending encoder will become. */
  private get pendingIndex(): number {
    return this.submitted + 1;
  }

  /**
   * A storage buffer of at least `bytes`, checked against maxBufferSize here, before anything
   * is created or recorded: an invalid buffer would only fail at a later, unrelated submission
   * and take the finished work recorded with it. A buffer over maxStorageBufferBindingSize is
   * allowed: the elementwise, fill, cast, copy and reduce kernels bind it in windows, and any
   * other kernel asked to bind it whole refuses in dispatch(), naming the op. `what` describes
   * the allocation for the error (the tensor's shape and dtype).
   */
  allocate(bytes: number, label?: string, what?: string): PooledBuffer {
    this.assertUsable();
    this.checkAllocation(bytes, label, what);
    const frame = this.ops[this.ops.length - 1] ?? null;
    // Work near the limits is where a GPU error TypeScript cannot foresee (out of memory) is
    // likely: run it inside error scopes, after submitting what is pending.
    this.closeLooseScopes();
    if (bytes > this.maxBindingSize / 2 && !this.scoped) this.openScopes(frame, label ?? 'allocation');
    const before = this.pool.allocations;
    const b = this.pool.acquire(bytes, STORAGE_USAGE, label, bytes <= this.maxBindingSize ? this.maxBindingSize : this.maxBufferSize);
    this.stats.bufferAllocations += this.pool.allocations - before;
    this.taint.delete(b);
    frame?.allocated.push(b);
    this.liveBytes += b.size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return b;
  }

  /** Throws, naming the op (`label`), what was asked and the limit, unless `bytes` can be allocated. */
  checkAllocation(bytes: number, label = 'allocation', what?: string): void {
    const of = what ? ` for ${what}` : '';
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`${label}: cannot allocate ${bytes} bytes${of}: not a whole number of bytes this device can address`);
    if (bytes <= this.maxBufferSize) return;
    throw new Error(
      `${label}: ${bytes} bytes (${mib(bytes)})${of} is over this device's maxBufferSize of ${this.maxBufferSize} bytes (${mib(this.maxBufferSize)}); nothing was allocated. Use smaller tensors (fewer rows or a smaller batch).`,
    );
  }

  /**
   * Starts an op (runOp): allocations are remembered until it ends, and under errorScopes
   * 'every-op' its work runs inside error scopes. Returns the frame for endOp.
   */
  beginOp(label: () => string): object {
    this.closeLooseScopes();
    const frame: OpFrame = { label, allocated: [] };
    this.ops.push(frame);
    if (this.errorScopes === 'every-op' && !this.scoped && !this.isLost && !this.destroyed) this.openScopes(frame, '');
    return frame;
  }

  /**
   * Ends the op begun by beginOp. If its forward threw (`failed`), buffers it allocated and did
   * not free are freed (the caller disposes the tensors it made first), so memory() is as
   * before; otherwise they pass to the enclosing op.
   */
  endOp(handle: object, failed: boolean): void {
    const frame = handle as OpFrame;
    const at = this.ops[this.ops.length - 1] === frame ? this.ops.length - 1 : this.ops.lastIndexOf(frame);
    if (at < 0) return;
    this.ops.length = at;
    if (this.scoped?.frame === frame) this.closeScopes();
    if (failed) for (const b of [...frame.allocated]) this.free(b);
    else {
      const parent = this.ops[this.ops.length - 1];
      if (parent) for (const b of frame.allocated) parent.allocated.push(b);
    }
  }

  /** The op running now, for messages (null outside runOp). */
  get currentOp(): string | null {
    return this.ops[this.ops.length - 1]?.label() ?? null;
  }

  /**
   * Closes scopes opened by an allocation outside any op (a creation function: zeros, randn),
   * which cover the work up to the next op or allocation; an op's scopes last until it ends.
   */
  private closeLooseScopes(): void {
    if (this.scoped && !this.ops.includes(this.scoped.frame!)) this.closeScopes();
  }

  private openScopes(frame: OpFrame | null, label: string): void {
    // What is pending is submitted on its own, so a refused op cannot take it along.
    this.flush();
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('out-of-memory');
    this.scoped = { frame: frame ?? { label: () => label, allocated: [] }, record: { error: null } };
    this.stats.errorScopes++;
  }

  /** Submits the scoped work alone and pops its scopes; their error is kept on what it wrote. */
  private closeScopes(): void {
    const scoped = this.scoped;
    if (!scoped) return;
    this.scoped = null;
    this.flush();
    const oom = this.device.popErrorScope();
    const validation = this.device.popErrorScope();
    const label = scoped.frame!.label();
    const p = Promise.all([oom, validation]).then(
      ([o, v]) => {
        const e = o ?? v;
        scoped.record.error = e
          ? new Error(
              `${label}: the GPU refused this op's work (${o ? 'out of memory' : 'validation error'}: ${e.message.trim().split('\n')[0]}); its results and what was computed from them are invalid. ` +
                'Work recorded before it was submitted separately and is kept. Retry with smaller tensors.',
            )
          : false;
      },
      () => {
        scoped.record.error = false;
      },
    );
    this.pendingScopes.add(p);
    void p.finally(() => this.pendingScopes.delete(p));
  }

  /** Throws the error of a refused op that `b`'s contents come from, once its scopes have popped. */
  private async checkTaint(b: PooledBuffer): Promise<void> {
    const records = this.taint.get(b);
    if (!records) return;
    if (records.some((r) => r.error === null)) await Promise.all([...this.pendingScopes]);
    const refused = records.find((r) => r.error);
    if (refused) throw refused.error;
  }

  /**
   * Marks what a dispatch or copy writes with the outcomes of the scoped work it runs in and of
   * the scoped work that wrote what it reads (outcomes known to be fine are dropped).
   */
  private propagateTaint(read: readonly PooledBuffer[], written: readonly PooledBuffer[]): void {
    // The common case costs one test: no scoped work has run on this device.
    if (!this.scoped && !this.tainted) return;
    this.tainted = true;
    let records: ScopeRecord[] | null = this.scoped ? [this.scoped.record] : null;
    for (const b of read)
      for (const r of this.taint.get(b) ?? [])
        if (r.error !== false && !records?.includes(r)) (records ??= []).push(r);
    if (records) {
      // Bounded: a long chain after a refused op keeps the first few, which is all a read needs.
      const kept = records.slice(0, 8);
      for (const b of written) this.taint.set(b, kept);
    } else for (const b of written) this.taint.delete(b);
  }

  free(b: PooledBuffer): void {
    for (let i = 0; i < this.ops.length; i++) {
      const list = this.ops[i]!.allocated;
      const at = list.lastIndexOf(b);
      if (at >= 0) list.splice(at, 1);
    }
    this.liveBytes -= b.size;
    // Storage buffers are only used by this encoder's dispatches and copies (in order) and by
    // write(), which copies in encoder order into a buffer pending work uses: safe to reuse at
    // once. Reusing them at once keeps a loop's buffers, and so its bind groups, the same step
    // after step (Dawn frees bind groups only between event-loop tasks).
    if (!this.destroyed) this.pool.releaseInOrder(b);
  }

  /** Uploads host data into a buffer, in order with the work already recorded. */
  write(b: PooledBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.assertUsable();
    // Dawn's Node binding rejects views of SharedArrayBuffers, so copy those.
    const src = data.buffer instanceof ArrayBuffer ? data : new Uint8Array(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    // queue.writeBuffer runs before the pending encoder is submitted. If pending work uses
    // this buffer (the pool hands a freed buffer on at once, see free()), the write must not
    // overtake it: upload into a fresh staging buffer and copy from it in encoder order,
    // which needs no submit.
    if (b.lastUse === this.pendingIndex && this.encoder && src.byteLength > 0) {
      const staging = this.pool.acquire(src.byteLength, BufferUsage.COPY_SRC | BufferUsage.COPY_DST, 'upload');
      this.device.queue.writeBuffer(staging.buffer, 0, src.buffer, src.byteOffset, src.byteLength);
      const enc = this.commandEncoder();
      this.endPass();
      enc.copyBufferToBuffer(staging.buffer, 0, b.buffer, byteOffset, src.byteLength);
      staging.lastUse = b.lastUse = this.pendingIndex;
      this.pool.release(staging);
      this.propagateTaint([], [b]);
      return;
    }
    this.device.queue.writeBuffer(b.buffer, byteOffset, src.buffer, src.byteOffset, src.byteLength);
    this.propagateTaint([], [b]);
  }

  /** Records a buffer-to-buffer copy into the pending encoder. */
  copy(src: PooledBuffer, srcOffset: number, dst: PooledBuffer, dstOffset: number, bytes: number): void {
    this.assertUsable();
    if (src === dst) throw new Error('webgpu-ebm: copy source and destination are the same buffer');
    const enc = this.commandEncoder();
    this.endPass();
    enc.copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
    src.lastUse = dst.lastUse = this.pendingIndex;
    this.propagateTaint([src], [dst]);
  }

  dispatch(spec: KernelSpec, args: readonly KernelArg[], opts: DispatchOptions): void {
    this.assertUsable();
    if (args.length !== spec.bindings.length)
      throw new Error(`${spec.shader}:${spec.entry}: expected ${spec.bindings.length} bindings (${spec.bindings.map((b) => b.name).join(', ')}), got ${args.length}`);
    const [x, y = 1, z = 1] = opts.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    for (const n of [x, y, z])
      if (n > this.maxWorkgroups) throw new Error(`${spec.shader}:${spec.entry}: ${n} workgroups in one dimension exceeds the device limit ${this.maxWorkgroups}`);
    // A buffer over the binding limit can only be bound in windows: refuse, naming the op,
    // before anything is recorded (Dawn would fail the whole submission later).
    args.forEach((a, i) => {
      const binding = spec.bindings[i]!;
      if (binding.kind === 'uniform') return;
      if (isBuffer(a) && a.size > this.maxBindingSize) throw new Error(this.tooLargeToBind(spec, binding.name, a.size));
      if (isWindow(a)) {
        const { of, offset, size } = a;
        if (offset % this.bindingAlignment !== 0 || size % 4 !== 0 || size <= 0 || size > this.maxBindingSize || offset + size > of.size)
          throw new Error(`${spec.shader}:${spec.entry}: bad window of '${binding.name}': ${size} bytes at ${offset} of a ${of.size}-byte buffer (offsets align to ${this.bindingAlignment}, sizes to 4, at most ${this.maxBindingSize})`);
      }
    });
    const cached = this.pipelines.get(spec, opts.overrides);
    this.stats.pipelines = this.pipelines.compiled;
    const written = new Set<GPUBuffer>();
    const writtenBuffers: PooledBuffer[] = [];
    const readBuffers: PooledBuffer[] = [];
    const used: PooledBuffer[] = [];
    const keyOf = (a: KernelArg) => (isBuffer(a) ? `${this.idOf(a)}` : isWindow(a) ? `${this.idOf(a.of)}@${a.offset}+${a.size}` : 'u');
    // This dispatch's site: the pipeline and the storage buffers it binds (see uniformAt).
    const site = `${this.idOf(cached)}:${args.map(keyOf).join(',')}`;
    const entries: GPUBindGroupEntry[] = args.map((a, i) => {
      const binding = spec.bindings[i]!;
      if (binding.kind === 'uniform') {
        if (storageOf(a)) throw new Error(`${spec.shader}: binding '${binding.name}' is a uniform block; pass its fields by name`);
        // checkBindings made sure the shader declares a uniform here, so it has a layout.
        const u = this.uniformAt(`${site}#${i}`, cached.uniforms[i]!.write(a as UniformValues));
        used.push(u);
        return { binding: i, resource: { buffer: u.buffer } };
      }
      const b = storageOf(a);
      if (!b) throw new Error(`${spec.shader}: binding '${binding.name}' is a storage buffer; pass a buffer`);
      if (binding.kind === 'storage') {
        written.add(b.buffer);
        writtenBuffers.push(b);
      } else readBuffers.push(b);
      used.push(b);
      return { binding: i, resource: isWindow(a) ? { buffer: b.buffer, offset: a.offset, size: a.size } : { buffer: b.buffer } };
    });
    // WebGPU forbids a buffer being written and bound again in one dispatch; say which one.
    args.forEach((a, i) => {
      const b = storageOf(a);
      if (!b) return;
      const dupe = args.findIndex((c, j) => j !== i && storageOf(c)?.buffer === b.buffer);
      if (dupe >= 0 && written.has(b.buffer))
        throw new Error(`${spec.shader}:${spec.entry}: one buffer bound as both '${spec.bindings[i]!.name}' and '${spec.bindings[dupe]!.name}', and it is written`);
    });
    this.propagateTaint(readBuffers, writtenBuffers);
    const bindGroup = this.bindGroup(cached, args.filter((a) => storageOf(a)).map(keyOf).join(','), used, entries);
    const entry = `${spec.shader}:${spec.entry}`;
    if (this.profiler) this.profiler.record(this.commandEncoder(), entry, cached.pipeline, bindGroup, x, y, z);
    else {
      const pass = this.computePass();
      pass.setPipeline(cached.pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(x, y, z);
    }
    for (const b of used) b.lastUse = this.pendingIndex;
    this.stats.dispatches++;
    this.stats.byShader.set(spec.shader, (this.stats.byShader.get(spec.shader) ?? 0) + 1);
    this.stats.byEntry.set(entry, (this.stats.byEntry.get(entry) ?? 0) + 1);
    if (++this.pendingDispatches >= this.batchSize) this.flush();
  }

  /**
   * Throws what dispatch() would, naming the op running now, unless each of `bindings` (name
   * and buffer) can be bound whole: for a wrapper that checks at the call and dispatches later
   * (a deferred matmul), so that the error is not raised by whichever op records it.
   */
  checkBindsWhole(shader: string, bindings: Readonly<Record<string, PooledBuffer>>): void {
    for (const [name, b] of Object.entries(bindings)) if (b.size > this.maxBindingSize) throw new Error(this.tooLargeToBind({ shader }, name, b.size));
  }

  private tooLargeToBind(spec: Pick<KernelSpec, 'shader'>, binding: string, bytes: number): string {
    const op = this.currentOp ?? spec.shader.replace(/\.wgsl$/, '');
    return (
      `${op}: its kernel (${spec.shader}) binds '${binding}' whole, a ${bytes}-byte buffer (${mib(bytes)}), over this device's maxStorageBufferBindingSize of ${this.maxBindingSize} bytes (${mib(this.maxBindingSize)}); ` +
      `elementwise ops, fills, casts, copies, reductions, matmul, conv2d, optimizer steps and the Langevin, MALA, HMC, tempering and chain-statistics kernels split their work over such buffers; this kernel does not. Nothing of ${op} was kept. Use smaller tensors (fewer rows or a smaller batch).`
    );
  }

  /** The most workgroups one dispatch may have in each dimension. */
  get maxWorkgroupsPerDimension(): number {
    return this.maxWorkgroups;
  }

  /** Splits a 1-D workgroup count over x and y so it fits the per-dimension limit. */
  grid(workgroups: number): [number, number] {
    if (workgroups <= this.maxWorkgroups) return [workgroups, 1];
    const y = Math.ceil(workgroups / this.maxWorkgroups);
    return [Math.ceil(workgroups / y), y];
  }

  /** Times every dispatch from now until stopProfile(), each in a timestamped pass of its own (profiler.ts). */
  startProfile(options?: ProfileOptions): void {
    this.assertUsable();
    if (this.profiler) throw new Error('webgpu-ebm: startProfile: a profile is already running (call stopProfile() first)');
    this.profiler = new Profiler(this.device, options);
    this.endPass();
  }

  /** Ends the profile: each kernel's dispatches and GPU ms since startProfile(), slowest first. */
  async stopProfile(): Promise<KernelTime[]> {
    const profiler = this.profiler;
    if (!profiler) throw new Error('webgpu-ebm: stopProfile: no profile is running (call startProfile() first)');
    this.profiler = null;
    this.flush();
    return profiler.finish();
  }

  /** Submits the pending encoder, if it holds any work. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const cmd = this.encoder.finish();
    this.encoder = null;
    this.pendingDispatches = 0;
    this.device.queue.submit([cmd]);
    const index = ++this.submitted;
    this.stats.submits++;
    this.pool.markSubmitted(index);
  }

  /** Copies `bytes` from a buffer back to the host, submitting whatever is pending first. */
  async read(src: PooledBuffer, bytes: number, srcOffset = 0): Promise<ArrayBuffer> {
    this.assertUsable();
    this.closeScopes();
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.pool.acquire(size, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'readback');
    if (size > 0) {
      const enc = this.commandEncoder();
      this.endPass();
      enc.copyBufferToBuffer(src.buffer, srcOffset, staging.buffer, 0, size);
      src.lastUse = staging.lastUse = this.pendingIndex;
    }
    this.flush();
    try {
      await gpuWait(staging.buffer.mapAsync(MapMode.READ, 0, size));
    } catch (e) {
      // A lost device rejects the map with a bare AbortError, possibly before `lost` has
      // resolved: give it a moment so the error can say what happened.
      await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 100))]);
      this.assertUsable();
      throw e;
    }
    this.assertUsable();
    const out = staging.buffer.getMappedRange(0, size).slice(0, bytes);
    staging.buffer.unmap();
    this.pool.release(staging);
    await this.checkTaint(src);
    return out;
  }

  /** Waits until every submitted dispatch has finished on the GPU. */
  async sync(): Promise<void> {
    this.assertUsable();
    this.closeScopes();
    this.flush();
    try {
      await gpuWait(this.device.queue.onSubmittedWorkDone());
      await Promise.all([...this.pendingScopes]);
    } catch (e) {
      await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 100))]);
      this.assertUsable();
      throw e;
    }
    this.assertUsable();
  }

  destroy(): void {
    if (this.destroyed) return;
    if (!this.isLost) this.flush();
    this.destroyed = true;
    this.acquired.destroy();
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** True once the GPU device has been lost (driver reset, device.destroy() by someone else). */
  get isLost(): boolean {
    return this.lostInfo !== null;
  }

  private assertUsable(): void {
    if (this.lostInfo !== null)
      throw new Error(
        `webgpu-ebm: the GPU device #${this.id} was lost (${this.lostInfo}); it and every tensor on it are gone. ` +
          'Call `await ebm.init()` for a fresh device and recreate the tensors (load the model from a checkpoint).',
      );
    if (this.destroyed) throw new Error(`webgpu-ebm: device #${this.id} has been destroyed; its tensors cannot be used`);
    if (this.deviceError) {
      const e = this.deviceError;
      this.deviceError = null;
      throw e;
    }
  }

  private idOf(o: object): number {
    let id = this.objectIds.get(o);
    if (id === undefined) this.objectIds.set(o, (id = this.nextObjectId++));
    return id;
  }

  private bindGroup(cached: { layout: GPUBindGroupLayout }, storageKey: string, buffers: readonly PooledBuffer[], entries: GPUBindGroupEntry[]): GPUBindGroup {
    // Storage bindings (with their windows) and the uniform buffers chosen for this site.
    const key = `${this.idOf(cached)}:${storageKey}|${buffers.map((b) => this.idOf(b)).join(',')}`;
    let group = this.bindGroups.get(key);
    if (group) {
      this.bindGroups.delete(key);
    } else {
      group = this.device.createBindGroup({ layout: cached.layout, entries });
      this.stats.bindGroups++;
      if (this.bindGroups.size >= MAX_BIND_GROUP_CACHE) this.bindGroups.delete(this.bindGroups.keys().next().value!);
    }
    this.bindGroups.set(key, group);
    return group;
  }

  /**
   * The uniform buffer for binding slot `slot` (pipeline, storage buffers, binding) holding
   * `bytes`. Contents that repeat (shapes) share one immutable buffer from the content cache.
   * A slot whose contents change from call to call (a step counter, a scalar operand) gets
   * buffers of its own, rewritten in place once the work that read them has been submitted:
   * a fresh buffer per value would need a fresh bind group per dispatch, and Dawn frees those
   * only between event-loop tasks (Node runs the wrappers' finalizers there), so a long
   * synchronous recording crashed natively after ~65,000 of them. Reusing the slot's buffers
   * keeps the bind-group key stable, so the cache hits.
   */
  private uniformAt(slot: string, bytes: Uint8Array): PooledBuffer {
    const key = toKey(bytes);
    const s = this.uniformSlots.get(slot);
    if (s) {
      // Refresh its place in the LRU order.
      this.uniformSlots.delete(slot);
      this.uniformSlots.set(slot, s);
    }
    if (!s || s.last === key || this.uniforms.has(key)) {
      if (!s) {
        this.uniformSlots.set(slot, { last: key, owned: [] });
        if (this.uniformSlots.size > MAX_UNIFORM_SLOTS) {
          const [oldSlot, old] = this.uniformSlots.entries().next().value as [string, UniformSlot];
          this.uniformSlots.delete(oldSlot);
          for (const b of old.owned) this.pool.release(b);
        }
      } else s.last = key;
      return this.uniform(bytes);
    }
    s.last = key;
    let b = s.owned.find((o) => o.lastUse < this.pendingIndex);
    if (!b) {
      if (s.owned.length < MAX_SLOT_BUFFERS) s.owned.push((b = this.pool.acquire(bytes.byteLength, BufferUsage.UNIFORM | BufferUsage.COPY_DST, 'uniform')));
      else {
        // Every one is read by the open encoder: submit it so the first can be rewritten.
        this.flush();
        b = s.owned[0]!;
      }
    }
    this.device.queue.writeBuffer(b.buffer, 0, bytes.slice().buffer);
    this.stats.uniformUploads++;
    return b;
  }

  /** The uniform buffer holding `bytes` (a layout's scratch block, so it is copied, never kept). */
  private uniform(bytes: Uint8Array): PooledBuffer {
    const key = toKey(bytes);
    let b = this.uniforms.get(key);
    if (b) {
      // Refresh its place in the LRU order.
      this.uniforms.delete(key);
      this.uniforms.set(key, b);
      return b;
    }
    b = this.pool.acquire(bytes.byteLength, BufferUsage.UNIFORM | BufferUsage.COPY_DST, 'uniform');
    this.device.queue.writeBuffer(b.buffer, 0, bytes.slice().buffer);
    this.stats.uniformUploads++;
    this.uniforms.set(key, b);
    if (this.uniforms.size > MAX_UNIFORM_CACHE) {
      const [oldKey, old] = this.uniforms.entries().next().value as [string, PooledBuffer];
      this.uniforms.delete(oldKey);
      this.pool.release(old);
    }
    return b;
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    return (this.pass ??= this.commandEncoder().beginComputePass());
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }
}

function toKey(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 4) s += String.fromCharCode(bytes[i]! | (bytes[i + 1]! << 8), bytes[i + 2]! | (bytes[i + 3]! << 8));
  return s;
}
