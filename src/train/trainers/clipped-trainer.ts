// ClippedEBMTrainer: EBMTrainer with the gradients clipped to a global norm (clipGradNorm_)
// between backward() and the optimizer step, as image EBMs train (src/train/image-recipe.ts).
// Everything else, state dicts and the finite check included, is EBMTrainer's.
import type { Tensor } from '../../tensor/index.js';
import { clipGradNorm_ } from '../clip-grad.js';
import { describe } from '../samplers/options.js';
import { EBMTrainer, type EBMTrainerOptions } from './ebm-trainer.js';
import type { StepLog } from './step-log.js';

export interface ClippedEBMTrainerOptions extends EBMTrainerOptions {
  /** The largest global L2 norm of the gradients (PyTorch's clip_grad_norm_ max_norm). */
  maxGradNorm: number;
}

export class ClippedEBMTrainer extends EBMTrainer {
  readonly maxGradNorm: number;

  constructor(opts: ClippedEBMTrainerOptions) {
    super(opts, ['maxGradNorm']);
    const m = opts.maxGradNorm;
    if (typeof m !== 'number' || !Number.isFinite(m) || m <= 0) throw new Error(`ClippedEBMTrainer: maxGradNorm must be a finite number > 0, got ${describe(m)}`);
    this.maxGradNorm = m;
  }

  /** backward(), the clip, then EBMTrainer's finite check and guarded optimizer step. */
  protected override update(loss: Tensor, log: StepLog): void {
    loss.backward();
    clipGradNorm_(this.optimizer.params, this.maxGradNorm)?.dispose();
    log.check([loss, ...this.gradients()]);
    this.optimizer.stepWith(log.gate);
  }
}
