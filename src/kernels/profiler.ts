// Per-kernel GPU time through WebGPU timestamp queries. While a profile runs, the runtime hands
// each dispatch to record() instead of its shared compute pass: the dispatch gets a pass of its
// own whose timestampWrites bracket it (the only place WebGPU allows timestamps in a compute
// pass). finish() resolves the query sets, reads them back and sums the time per kernel.
// Kept apart from runtime.ts so that a run without a profile pays one boolean check per dispatch.
import { gpuWait } from './gentle-wait.js';

/** GPUBufferUsage's QUERY_RESOLVE, COPY_SRC, COPY_DST and MAP_READ (spec values; see gpu-flags.ts for why not the globals). */
const QUERY_RESOLVE = 0x200;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const MAP_READ = 0x1;
/** WebGPU's most queries in one query set. */
export const MAX_QUERIES_PER_SET = 4096;
/** resolveQuerySet's destination offset must be a multiple of this. */
const RESOLVE_ALIGNMENT = 256;

export interface ProfileOptions {
  /**
   * Timestamp queries per query set: two per dispatch, an even number from 2 to 4096 (the
   * default). A profile with more dispatches makes another set each time one fills; tests make
   * it small to cover that without thousands of dispatches.
   */
  queriesPerSet?: number;
}

/** One kernel's share of a profile. */
export interface KernelTime {
  /** Shader file and entry point, as `rt.stats.byEntry` keys it: 'conv2d-subgroup.wgsl:conv_pixel_rows'. */
  entry: string;
  /** Its dispatches recorded while profiling. */
  dispatches: number;
  /** GPU milliseconds, summed over those dispatches (each from its pass's start to its end). */
  ms: number;
}

/** Throws unless `device` can write timestamps in compute passes; `what` names the caller. */
export function assertTimestamps(device: GPUDevice, what: string): void {
  if (!device.features.has('timestamp-query'))
    throw new Error(`${what}: this device lacks the WebGPU feature 'timestamp-query', which per-kernel GPU timing needs (the adapter does not offer it, or the device was created without it)`);
}

export class Profiler {
  private readonly queriesPerSet: number;
  private readonly sets: GPUQuerySet[] = [];
  /** Queries written in the last set. */
  private used = 0;
  /** The kernel of each recorded dispatch, in order: dispatch i wrote queries 2i and 2i + 1 overall. */
  private readonly entries: string[] = [];
  private finished = false;

  constructor(
    private readonly device: GPUDevice,
    options: ProfileOptions = {},
  ) {
    assertTimestamps(device, 'webgpu-ebm: startProfile');
    const q = options.queriesPerSet ?? MAX_QUERIES_PER_SET;
    if (!Number.isInteger(q) || q < 2 || q > MAX_QUERIES_PER_SET || q % 2 !== 0)
      throw new Error(`webgpu-ebm: startProfile: queriesPerSet must be an even integer from 2 to ${MAX_QUERIES_PER_SET} (two per dispatch), got ${q}`);
    this.queriesPerSet = q;
  }

  /** Dispatches recorded so far. */
  get dispatches(): number {
    return this.entries.length;
  }

  /** Records one dispatch into `encoder` in a compute pass of its own, timestamped at its start and end. */
  record(encoder: GPUCommandEncoder, entry: string, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, x: number, y: number, z: number): void {
    if (this.finished) throw new Error('webgpu-ebm: profiler: record() after finish()');
    if (this.sets.length === 0 || this.used + 2 > this.queriesPerSet) {
      this.sets.push(this.device.createQuerySet({ type: 'timestamp', count: this.queriesPerSet, label: `profile-${this.sets.length}` }));
      this.used = 0;
    }
    const pass = encoder.beginComputePass({
      timestampWrites: { querySet: this.sets.at(-1)!, beginningOfPassWriteIndex: this.used, endOfPassWriteIndex: this.used + 1 },
    });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.used += 2;
    this.entries.push(entry);
  }

  /**
   * Reads the timestamps back and returns each kernel's dispatches and GPU ms, slowest first.
   * The work that wrote them must have been submitted (the runtime flushes first); this submits
   * the resolve after it, so it reads what that work wrote. Frees the query sets.
   */
  async finish(): Promise<KernelTime[]> {
    if (this.finished) throw new Error('webgpu-ebm: profiler: finish() called twice');
    this.finished = true;
    if (this.entries.length === 0) return [];
    const setBytes = Math.ceil((this.queriesPerSet * 8) / RESOLVE_ALIGNMENT) * RESOLVE_ALIGNMENT;
    const bytes = setBytes * this.sets.length;
    const resolved = this.device.createBuffer({ size: bytes, usage: QUERY_RESOLVE | COPY_SRC, label: 'profile-resolve' });
    const staging = this.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST, label: 'profile-readback' });
    try {
      const enc = this.device.createCommandEncoder();
      this.sets.forEach((set, i) => enc.resolveQuerySet(set, 0, i === this.sets.length - 1 ? this.used : this.queriesPerSet, resolved, i * setBytes));
      enc.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
      this.device.queue.submit([enc.finish()]);
      await gpuWait(staging.mapAsync(MAP_READ));
      const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.unmap();
            const byEntry = new Map<string, KernelTime>();
      const perSet = this.queriesPerSet / 2;
      this.entries.forEach((entry, i) => {
        // Set k's stamps start at byte k * setBytes.
        const at = (Math.floor(i / perSet) * setBytes) / 8 + (i % perSet) * 2;
        const begin = stamps[at]!;
        const end = stamps[at + 1]!;
        // Timestamps may go backwards on some GPUs (clock domains, power states): a negative
        // interval counts as zero rather than taking time from the rest.
        const ms = end > begin ? Number(end - begin) / 1e6 : 0;
        const k = byEntry.get(entry);
        if (k) {
          k.dispatches++;
          k.ms += ms;
        } else byEntry.set(entry, { entry, dispatches: 1, ms });
      });
      return [...byEntry.values()].sort((a, b) => b.ms - a.ms || a.entry.localeCompare(b.entry));
    } finally {
      resolved.destroy();
      staging.destroy();
      for (const s of this.sets) s.destroy();
    }
  }
}
