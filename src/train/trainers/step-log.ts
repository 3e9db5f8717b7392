// The trainers' record of their steps, kept on the GPU so a step never reads back:
//
// - a found-bad flag word: the finite check after backward() ORs "the loss or a gradient is
//   inf or NaN" into it, and the optimizer kernels skip their update while it is set (the
//   GradScaler's gate, in skip mode). The word is sticky: once a step fails, every later step
//   is skipped too, so the parameters stay as they were before the first bad step until the
//   trainer reads the flag, reports the step and clears it.
// - a ring of rows, one per step (step s in row s mod capacity): the loss, the loss's metrics
//   and a copy of the flag word, written with buffer-to-buffer copies (no dispatch). Reading a
//   step's metrics, or checking a range of steps, is one readback of the ring.
import { checkFiniteKernel, gradsPerCheck } from '../../kernels/grad-scaler.js';
import type { OptimGate } from '../../kernels/optim.js';
import type { PooledBuffer, Runtime } from '../../kernels/runtime.js';
import type { Tensor } from '../../tensor/index.js';

/** Thrown when a step's loss or gradients were not finite; names the step. */
export class NonFiniteLossError extends Error {
  constructor(
    message: string,
    /** The first step (1-based) whose loss or gradients held NaN or inf. */
    readonly step: number,
  ) {
    super(message);
    this.name = 'NonFiniteLossError';
  }
}

export interface StepRow {
  values: number[];
  bad: boolean;
}

export class StepLog {
  readonly width: number;
  private readonly flags: PooledBuffer;
  private readonly ring: PooledBuffer;
  private readonly gateSpec: OptimGate;
  /** Every step up to this one has been read and was finite. */
  checkedUpTo = 0;
  /** The last step recorded. */
  lastStep = 0;
  private disposed = false;

  constructor(
    readonly rt: Runtime,
    /** Metric columns after the loss. */
    readonly metrics: number,
    readonly capacity = 1024,
  ) {
    this.width = 2 + metrics;
    this.flags = rt.allocate(16, 'trainer-flags');
    rt.write(this.flags, new Uint32Array(4));
    this.ring = rt.allocate(capacity * this.width * 4, 'trainer-steps');
    this.gateSpec = { flags: this.flags, scale: rt.placeholder, flagIndex: 0, unscale: false };
  }

  /** The optimizer gate: skip the update while the flag is set. */
  get gate(): OptimGate {
    return this.gateSpec;
  }

  /** Records the finite check of these tensors (loss, gradients) into the flag: ceil(n / 6) dispatches. */
  check(tensors: readonly Tensor[]): void {
    const per = gradsPerCheck(this.rt);
    const list = tensors.filter((t) => t.size > 0);
    for (let i = 0; i < list.length; i += per)
      checkFiniteKernel(this.rt, { flags: this.flags, scale: this.rt.placeholderOut }, list.slice(i, i + per).map((t) => ({ buffer: t.buffer, n: t.size })), 0);
  }

  /** Copies step s's loss, metrics and flag into its row (no dispatch). */
  record(step: number, loss: Tensor, metrics: Tensor | null): void {
    const row = ((step - 1) % this.capacity) * this.width * 4;
    this.rt.copy(loss.buffer, 0, this.ring, row, 4);
    if (metrics && this.metrics > 0) this.rt.copy(metrics.buffer, 0, this.ring, row + 4, this.metrics * 4);
    this.rt.copy(this.flags, 0, this.ring, row + (this.width - 1) * 4, 4);
    this.lastStep = step;
  }

  /** Whether step s's row is still in the ring. */
  holds(step: number): boolean {
    return step >= 1 && step <= this.lastStep && step > this.lastStep - this.capacity;
  }

  /** Reads the rows of steps from..to (inclusive, all still held): one readback. */
  async read(from: number, to: number): Promise<StepRow[]> {
    if (this.disposed) throw new Error('the trainer has been disposed');
    const bytes = await this.rt.read(this.ring, this.capacity * this.width * 4);
    const f = new Float32Array(bytes);
    const u = new Uint32Array(bytes);
    const rows: StepRow[] = [];
    for (let s = from; s <= to; s++) {
      const at = ((s - 1) % this.capacity) * this.width;
      rows.push({ values: Array.from(f.subarray(at, at + this.width - 1)), bad: u[at + this.width - 1] !== 0 });
    }
    return rows;
  }

  /**
   * Reads the ring once and scans the steps after checkedUpTo up to `to`: `bad` is the first
   * whose check failed (then the sticky flag is cleared so training can go on; `lost` is true
   * when the ring no longer held the earliest unchecked steps, and the step is then the
   * earliest one held), or null when all were finite. `row` is step `to`'s row.
   */
  async scan(to: number): Promise<{ bad: { step: number; lost: boolean } | null; row: StepRow }> {
    const from = Math.min(to, Math.max(this.checkedUpTo + 1, to - this.capacity + 1));
    const rows = await this.read(from, to);
    const row = rows[rows.length - 1]!;
    if (to <= this.checkedUpTo) return { bad: null, row };
    const i = rows.findIndex((r) => r.bad);
    if (i < 0) {
      this.checkedUpTo = to;
      return { bad: null, row };
    }
    const lost = from > this.checkedUpTo + 1 && i === 0;
    // Reported: clear the sticky flag (the steps since were skipped) and move past them.
    this.rt.write(this.flags, new Uint32Array(4));
    this.checkedUpTo = this.lastStep;
    return { bad: { step: from + i, lost }, row };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rt.free(this.flags);
    this.rt.free(this.ring);
  }
}
