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
import { keep, Tensor, type Runtime } from '../../tensor/index.js';
import { checkFinite_, copyInto_, readWords, wordsAsFloats, writeData_, type UpdateGate } from '../../tensor/ops/fused/index.js';

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
  /** The found-bad flag word (u32 bits; the rest of the 4 words pad it to a binding's minimum). */
  private readonly flags: Tensor;
  /** [capacity, width]: per step the loss, the metrics, and the flag word's bits. */
  private readonly ring: Tensor;
  private readonly gateSpec: UpdateGate;
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
    // Kept: the log outlives the step's tidy scope that creates it.
    this.flags = keep(Tensor.empty(rt, [4], 'trainer-flags'));
    writeData_(this.flags, new Uint32Array(4));
    this.ring = keep(Tensor.empty(rt, [capacity, this.width], 'trainer-steps'));
    this.gateSpec = { flags: this.flags, scale: null, flagIndex: 0, unscale: false };
  }

  /** The optimizer gate: skip the update while the flag is set. */
  get gate(): UpdateGate {
    return this.gateSpec;
  }

  /** Records the finite check of these tensors (loss, gradients) into the flag: ceil(n / 6) dispatches. */
  check(tensors: readonly Tensor[]): void {
    checkFinite_(this.flags, tensors, 0);
  }

  /** Copies step s's loss, metrics and flag into its row (no dispatch). */
  record(step: number, loss: Tensor, metrics: Tensor | null): void {
    const row = ((step - 1) % this.capacity) * this.width;
    copyInto_(this.ring, loss, { dstOffset: row, count: 1 });
    if (metrics && this.metrics > 0) copyInto_(this.ring, metrics, { dstOffset: row + 1, count: this.metrics });
    copyInto_(this.ring, this.flags, { dstOffset: row + this.width - 1, count: 1 });
    this.lastStep = step;
  }

  /** Whether step s's row is still in the ring. */
  holds(step: number): boolean {
    return step >= 1 && step <= this.lastStep && step > this.lastStep - this.capacity;
  }

  /** Reads the rows of steps from..to (inclusive, all still held): one readback. */
  async read(from: number, to: number): Promise<StepRow[]> {
    if (this.disposed) throw new Error('the trainer has been disposed');
    // Loss and metrics are f32 values, the flag column u32 bits: one readback, two views.
    const u = await readWords(this.ring);
    const f = wordsAsFloats(u);
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
    writeData_(this.flags, new Uint32Array(4));
    this.checkedUpTo = this.lastStep;
    return { bad: { step: from + i, lost }, row };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.flags.dispose();
    this.ring.dispose();
  }
}
