// Records the kept steps of a chain on the GPU: the trajectory (a buffer-to-buffer copy per kept
// step, no dispatch) and the diagnostics (one reduction dispatch per kept step). Nothing is read
// back; finish() hands over tensors.
import { Tensor, zeros, type Runtime } from '../../tensor/index.js';
import { chainStats_, copyInto_ } from '../../tensor/ops/fused/index.js';

export interface RecorderOptions {
  chains: number;
  /** The shape of one chain's state (x is [chains, ...dimShape]). */
  dimShape: readonly number[];
  /** How many steps are kept (nSteps / thin, rounded down). */
  kept: number;
  trajectory: boolean;
  diagnostics: boolean;
  /** Names of the per-chain scalars averaged into the diagnostics (energy first). */
  scalars: readonly string[];
}

export class ChainRecorder {
  private readonly dim: number;
  /** [kept, chains, ...dim]: rows are whole copies of x, made by copyBufferToBuffer. */
  private readonly steps: Tensor | null;
  private readonly mean: Tensor | null;
  private readonly variance: Tensor | null;
  /** [scalars, kept] */
  private readonly scalarMean: Tensor | null;

  constructor(
    private readonly rt: Runtime,
    private readonly o: RecorderOptions,
  ) {
    this.dim = o.dimShape.reduce((a, b) => a * b, 1);
    const opts = { device: rt };
    this.steps = o.trajectory ? Tensor.empty(rt, [o.kept, o.chains, ...o.dimShape], 'trajectory') : null;
    this.mean = o.diagnostics ? zeros([o.kept, ...o.dimShape], opts) : null;
    this.variance = o.diagnostics ? zeros([o.kept, ...o.dimShape], opts) : null;
    this.scalarMean = o.diagnostics ? zeros([o.scalars.length, o.kept], opts) : null;
  }

  get wantsScalars(): boolean {
    return this.o.diagnostics;
  }

  /** Records kept step `row` of state x; `scalars` is [>= scalars, chains] (diagnostics only). */
  record(x: Tensor, row: number, scalars: Tensor | null): void {
    const size = this.o.chains * this.dim;
    if (this.steps) copyInto_(this.steps, x, { dstOffset: row * size, count: size });
    if (this.mean) {
      if (!scalars) throw new Error('ChainRecorder: diagnostics need the per-chain scalars');
      chainStats_(x, scalars, { mean: this.mean, variance: this.variance!, scalarMean: this.scalarMean! }, row);
    }
  }

  /** The trajectory as [chains, kept, ...dim], and the diagnostics by name. */
  finish(): { trajectory?: Tensor; mean?: Tensor; var?: Tensor; scalars?: Record<string, Tensor> } {
    const out: ReturnType<ChainRecorder['finish']> = {};
    const { kept, chains, dimShape } = this.o;
    if (this.steps) out.trajectory = this.steps.reshape([kept, chains, this.dim]).permute([1, 0, 2]).reshape([chains, kept, ...dimShape]);
    if (this.mean) {
      out.mean = this.mean;
      out.var = this.variance!;
      out.scalars = {};
      this.o.scalars.forEach((name, s) => {
        const t = Tensor.empty(this.rt, [kept], name);
        copyInto_(t, this.scalarMean!, { srcOffset: s * kept, count: kept });
        out.scalars![name] = t;
      });
    }
    return out;
  }
}
