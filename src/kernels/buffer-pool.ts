// Reuses GPU buffers by size class. A released buffer may still be read or written by work
// that is recorded but not yet submitted, or submitted but not finished. It becomes reusable
// once the submission that last used it has been SUBMITTED: a WebGPU queue runs its submissions
// and writeBuffer calls in order, so anything done with the buffer afterwards (a later dispatch,
// a queue write) happens after that work. Waiting for completion instead would need the event
// loop to observe it, so a long synchronous loop (a sampler's chain, a training step) could
// never reuse a buffer and the pool would grow without bound. Only work still in the open
// command encoder holds a buffer back; the runtime submits that encoder before any queue write
// to a buffer it uses. (Mapped readback buffers are released only after their map completes.)
// Storage buffers freed through the runtime skip even that wait (releaseInOrder): every later
// use of theirs is recorded in order after the pending work, host writes included (the runtime
// copies an upload into a buffer that pending work uses through a staging buffer, in encoder
// order). Uniform and staging buffers, written with queue.writeBuffer directly, keep the rule.

export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  /** The size class (bytes actually allocated). */
  readonly size: number;
  readonly usage: GPUBufferUsageFlags;
  /** Index of the last submission that uses this buffer (0: never used by the GPU). */
  lastUse: number;
}

/** Rounds a byte size up to its class: powers of two below 1 KiB, then 8 classes per octave (<= 12.5% waste). */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 4) * 4);
  const k = Math.ceil(Math.log2(b));
  if (k <= 10) return 2 ** k;
  const step = 2 ** (k - 4);
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private readonly free = new Map<string, PooledBuffer[]>();
  /** Released buffers still used by the unsubmitted encoder, in release order. */
  private waiting: PooledBuffer[] = [];
  private submitted = 0;
  pooledBytes = 0;
  allocatedBytes = 0;
  allocations = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Beyond this many pooled bytes, released buffers are destroyed rather than kept. */
    private readonly maxPooledBytes = 512 * 2 ** 20,
  ) {}

  /**
   * A buffer of at least `bytes`; `maxSize` caps the size class so a request just under a
   * device limit is not rounded up past it.
   */
  acquire(bytes: number, usage: GPUBufferUsageFlags, label?: string, maxSize = Infinity): PooledBuffer {
    const size = Math.max(Math.min(sizeClass(bytes), maxSize), Math.ceil(bytes / 4) * 4);
    const list = this.free.get(`${usage}:${size}`);
    const reused = list?.pop();
    if (reused) {
      this.pooledBytes -= size;
      return reused;
    }
    this.allocations++;
    this.allocatedBytes += size;
    const buffer = this.device.createBuffer({ size, usage, label });
    return { buffer, size, usage, lastUse: 0 };
  }

  release(b: PooledBuffer): void {
    this.pooledBytes += b.size;
    if (b.lastUse <= this.submitted) this.toFree(b);
    else this.waiting.push(b);
  }

  /**
   * Releases a buffer for reuse at once, even by work recorded into the same open encoder.
   * Only for a caller whose every later use of it is ordered after the pending work: dispatches
   * and copies in one encoder run in order, and the runtime submits the encoder before a queue
   * write to a buffer it uses (runtime.ts write()). A long recording then reuses the same
   * buffers step after step, so its bind groups repeat instead of piling up (see runtime.ts).
   */
  releaseInOrder(b: PooledBuffer): void {
    this.pooledBytes += b.size;
    // Over the cap a released buffer is destroyed, which work still in the open encoder must
    // not see (Dawn refuses the submission): such a one waits for its submission first. Big
    // tensors (up to maxBufferSize) make the cap reachable.
    if (this.pooledBytes > this.maxPooledBytes && b.lastUse > this.submitted) this.waiting.push(b);
    else this.toFree(b);
  }

  /** Called when submission `index` (and every one before it) has been submitted to the queue. */
  markSubmitted(index: number): void {
    if (index <= this.submitted) return;
    this.submitted = index;
    const still: PooledBuffer[] = [];
    for (const b of this.waiting) (b.lastUse <= index ? this.toFree(b) : still.push(b));
    this.waiting = still;
  }

  /** Destroys every pooled buffer that no pending work uses. */
  trim(): void {
    for (const [key, list] of this.free) {
      // Buffers released in order may still be used by the open encoder: keep those.
      const pending = list.filter((b) => b.lastUse > this.submitted);
      for (const b of list) if (b.lastUse <= this.submitted) this.destroy(b);
      if (pending.length) this.free.set(key, pending);
      else this.free.delete(key);
    }
  }

  private toFree(b: PooledBuffer): void {
    if (this.pooledBytes > this.maxPooledBytes) return this.destroy(b);
    const key = `${b.usage}:${b.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(b);
  }

  private destroy(b: PooledBuffer): void {
    this.pooledBytes -= b.size;
    this.allocatedBytes -= b.size;
    b.buffer.destroy();
  }
}
