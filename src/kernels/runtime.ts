// The GPU runtime: one device, one pending command encoder that dispatches are recorded into
// (submitted on readback or when a batch fills), a buffer pool, a pipeline cache and a cache
// of immutable uniform buffers keyed by their bytes (shapes repeat, so one upload serves every
// step of a loop).
import { BufferPool, type PooledBuffer } from './buffer-pool.js';
import { PipelineCache, type KernelSpec, type Overrides } from './pipeline-cache.js';
import type { UniformValues } from './uniform.js';
import type { AcquiredDevice, DeviceInfo } from './device.js';
import { BufferUsage, MapMode } from './gpu-flags.js';

export type { PooledBuffer } from './buffer-pool.js';
export type { UniformValues } from './uniform.js';

/**
 * A kernel argument: a storage buffer, or the fields of a uniform struct by their WGSL names
 * (written with the layout reflected from the shader, see uniform.ts).
 */
export type KernelArg = PooledBuffer | UniformValues;

/** Whether an argument is a pool buffer rather than a uniform's fields. */
function isBuffer(a: KernelArg): a is PooledBuffer {
  return 'lastUse' in a && 'usage' in a && 'buffer' in a;
}

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
  /**
   * Dispatches by shader file (e.g. 'matmul-subgroup.wgsl'): which schedule a call really ran,
   * for tests that force one and for the bench's per-kernel counts.
   */
  readonly byShader: Map<string, number>;
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
  readonly stats: RuntimeStats = { dispatches: 0, submits: 0, pipelines: 0, bufferAllocations: 0, uniformUploads: 0, bindGroups: 0, byShader: new Map() };
  /** Bytes held by live storages (tensor data), and the most ever held at once. */
  liveBytes = 0;
  peakBytes = 0;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingDispatches = 0;
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

  constructor(private readonly acquired: AcquiredDevice) {
    this.device = acquired.device;
    this.info = acquired.info;
    this.pool = new BufferPool(this.device);
    this.pipelines = new PipelineCache(this.device);
    this.maxWorkgroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    this.maxBufferSize = this.device.limits.maxBufferSize;
    // A binding's size must be a multiple of 4, so a buffer at the limit is capped to one.
    this.maxBindingSize = Math.floor(Math.min(this.device.limits.maxStorageBufferBindingSize, this.maxBufferSize) / 4) * 4;
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
   * A storage buffer of at least `bytes`. Kernels bind every storage buffer whole, so it must fit
   * maxStorageBufferBindingSize; this is checked here, before anything is created or recorded,
   * because an invalid buffer would only fail at a later, unrelated submission and take the
   * finished work recorded with it. `what` describes the allocation for the error (the tensor's
   * shape and dtype).
   */
  allocate(bytes: number, label?: string, what?: string): PooledBuffer {
    this.assertUsable();
    this.checkAllocation(bytes, label, what);
    const before = this.pool.allocations;
    const b = this.pool.acquire(bytes, STORAGE_USAGE, label, this.maxBindingSize);
    this.stats.bufferAllocations += this.pool.allocations - before;
    this.liveBytes += b.size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return b;
  }

  /** Throws, naming the op (`label`), what was asked and the limit, unless `bytes` can be allocated and bound. */
  checkAllocation(bytes: number, label = 'allocation', what?: string): void {
    const of = what ? ` for ${what}` : '';
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`${label}: cannot allocate ${bytes} bytes${of}: not a whole number of bytes this device can address`);
    if (bytes <= this.maxBindingSize) return;
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 30 ? 1 : 0)} MiB`;
    const limit =
      bytes > this.maxBufferSize
        ? `over this device's maxBufferSize of ${this.maxBufferSize} bytes (${mib(this.maxBufferSize)})`
        : `over this device's maxStorageBufferBindingSize of ${this.maxBindingSize} bytes (${mib(this.maxBindingSize)}), the most one kernel can bind`;
    throw new Error(`${label}: ${bytes} bytes (${mib(bytes)})${of} is ${limit}; nothing was allocated. Use smaller tensors (fewer rows or a smaller batch).`);
  }

  free(b: PooledBuffer): void {
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
      return;
    }
    this.device.queue.writeBuffer(b.buffer, byteOffset, src.buffer, src.byteOffset, src.byteLength);
  }

  /** Records a buffer-to-buffer copy into the pending encoder. */
  copy(src: PooledBuffer, srcOffset: number, dst: PooledBuffer, dstOffset: number, bytes: number): void {
    this.assertUsable();
    if (src === dst) throw new Error('webgpu-ebm: copy source and destination are the same buffer');
    const enc = this.commandEncoder();
    this.endPass();
    enc.copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
    src.lastUse = dst.lastUse = this.pendingIndex;
  }

  dispatch(spec: KernelSpec, args: readonly KernelArg[], opts: DispatchOptions): void {
    this.assertUsable();
    if (args.length !== spec.bindings.length)
      throw new Error(`${spec.shader}:${spec.entry}: expected ${spec.bindings.length} bindings (${spec.bindings.map((b) => b.name).join(', ')}), got ${args.length}`);
    const [x, y = 1, z = 1] = opts.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    for (const n of [x, y, z])
      if (n > this.maxWorkgroups) throw new Error(`${spec.shader}:${spec.entry}: ${n} workgroups in one dimension exceeds the device limit ${this.maxWorkgroups}`);
    const cached = this.pipelines.get(spec, opts.overrides);
    this.stats.pipelines = this.pipelines.compiled;
    const written = new Set<GPUBuffer>();
    const used: PooledBuffer[] = [];
    // This dispatch's site: the pipeline and the storage buffers it binds (see uniformAt).
    const site = `${this.idOf(cached)}:${args.map((a) => (isBuffer(a) ? this.idOf(a) : 'u')).join(',')}`;
    const entries: GPUBindGroupEntry[] = args.map((a, i) => {
      const binding = spec.bindings[i]!;
      if (binding.kind === 'uniform') {
        if (isBuffer(a)) throw new Error(`${spec.shader}: binding '${binding.name}' is a uniform block; pass its fields by name`);
        // checkBindings made sure the shader declares a uniform here, so it has a layout.
        const u = this.uniformAt(`${site}#${i}`, cached.uniforms[i]!.write(a));
        used.push(u);
        return { binding: i, resource: { buffer: u.buffer } };
      }
      if (!isBuffer(a)) throw new Error(`${spec.shader}: binding '${binding.name}' is a storage buffer; pass a buffer`);
      if (binding.kind === 'storage') written.add(a.buffer);
      used.push(a);
      return { binding: i, resource: { buffer: a.buffer } };
    });
    // WebGPU forbids a buffer being written and bound again in one dispatch; say which one.
    args.forEach((a, i) => {
      if (!isBuffer(a)) return;
      const dupe = args.findIndex((b, j) => j !== i && isBuffer(b) && b.buffer === a.buffer);
      if (dupe >= 0 && written.has(a.buffer))
        throw new Error(`${spec.shader}:${spec.entry}: one buffer bound as both '${spec.bindings[i]!.name}' and '${spec.bindings[dupe]!.name}', and it is written`);
    });
    const bindGroup = this.bindGroup(cached, used, entries);
    const pass = this.computePass();
    pass.setPipeline(cached.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    for (const b of used) b.lastUse = this.pendingIndex;
    this.stats.dispatches++;
    this.stats.byShader.set(spec.shader, (this.stats.byShader.get(spec.shader) ?? 0) + 1);
    if (++this.pendingDispatches >= this.batchSize) this.flush();
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
      await staging.buffer.mapAsync(MapMode.READ, 0, size);
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
    return out;
  }

  /** Waits until every submitted dispatch has finished on the GPU. */
  async sync(): Promise<void> {
    this.assertUsable();
    this.flush();
    try {
      await this.device.queue.onSubmittedWorkDone();
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

  private bindGroup(cached: { layout: GPUBindGroupLayout }, buffers: readonly PooledBuffer[], entries: GPUBindGroupEntry[]): GPUBindGroup {
    const key = `${this.idOf(cached)}:${buffers.map((b) => this.idOf(b)).join(',')}`;
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
