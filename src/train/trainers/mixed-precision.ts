// MixedPrecisionEBMTrainer: the seed's mixed-precision trainer. Every forward of a step (the
// sampler's chains and the loss) runs in an f16 autocast scope (src/tensor/autocast.ts): the
// model's linear layers multiply f16 operands with f32 accumulation, each weight cast once per
// step, while the parameters stay f32 master weights. A GradScaler scales the loss, skips steps
// whose (f16-overflowed) gradients are not finite and adapts the scale, all on the GPU
// (src/train/grad-scaler.ts); its state is part of the trainer's stateDict().
//
// The NaN guard works with the scaler: an overflowing gradient is the scaler's business (skip,
// back off, go on), but a NaN or inf LOSS is an error. The loss's finite check sets the
// trainer's sticky flag (reported, with the step, at the next readback), and a sticky 0-d
// "poison" (0, or NaN from the first bad loss on) multiplies the scaled loss, so from that step
// on every gradient is NaN and the scaler skips every update until the error is reported.
import { autocast, keep, noGrad, Tensor, zeros } from '../../tensor/index.js';
import { GradScaler, type GradScalerOptions } from '../grad-scaler.js';
import type { LossOutput } from '../losses/base.js';
import { describe } from '../samplers/options.js';
import { EBMTrainer, type EBMTrainerOptions, type EBMTrainerStateDict } from './ebm-trainer.js';
import type { StepLog } from './step-log.js';

export interface MixedPrecisionEBMTrainerOptions extends EBMTrainerOptions {
  /** The loss scaler (default: a new GradScaler with PyTorch's defaults), or its options. */
  scaler?: GradScaler | Partial<GradScalerOptions>;
}

export class MixedPrecisionEBMTrainer extends EBMTrainer {
  readonly scaler: GradScaler;
  private poison: Tensor | null = null;

  constructor(opts: MixedPrecisionEBMTrainerOptions) {
    super(opts, ['scaler']);
    const s = opts.scaler;
    if (s !== undefined && !(s instanceof GradScaler) && (s === null || typeof s !== 'object'))
      throw new Error(`MixedPrecisionEBMTrainer: scaler must be a GradScaler or its options, got ${describe(s)}`);
    this.scaler = s instanceof GradScaler ? s : new GradScaler(s ?? {});
  }

  protected override lossOf(pos: Tensor, neg: Tensor | undefined): LossOutput {
    // The weights' f16 casts belong to the step's tidy scope, so the backward after this finds them.
    return autocast({ dtype: 'f16' }, () => super.lossOf(pos, neg));
  }

  protected override update(loss: Tensor, log: StepLog): void {
    log.check([loss]);
    const gain = noGrad(() => {
      const poison = (this.poison ??= keep(zeros([], { device: loss.device })));
      const l = loss.detach().reshape([]);
      // l - l is 0 for a finite loss and NaN otherwise; the sum stays NaN once it is.
      const next = poison.add(l.sub(l));
      poison.assign(next);
      return next.add(1);
    });
    this.scaler.scale(loss.reshape([]).mul(gain)).backward();
    this.scaler.step(this.optimizer);
    this.scaler.update();
  }

  protected override afterFailure(): void {
    // Reported: the next step starts from a fresh, finite poison.
    this.poison?.dispose();
    this.poison = null;
  }

  protected override async extraState(): Promise<Partial<EBMTrainerStateDict>> {
    return { scaler: await this.scaler.stateDict() };
  }

  protected override checkExtraState(sd: EBMTrainerStateDict, where: string): void {
    const s = sd.scaler;
    if (s === undefined) return;
    if (s === null || typeof s !== 'object') throw new Error(`${where}: scaler must be a GradScaler state { scale, growthFactor, backoffFactor, growthInterval, growthTracker }, got ${describe(s)}`);
    // A throwaway scaler checks the numbers as GradScaler.loadStateDict will.
    new GradScaler({ initScale: s.scale, growthFactor: s.growthFactor, backoffFactor: s.backoffFactor, growthInterval: s.growthInterval });
    if (!Number.isInteger(s.growthTracker) || s.growthTracker < 0) throw new Error(`${where}: scaler.growthTracker must be an integer >= 0, got ${describe(s.growthTracker)}`);
  }

  protected override applyExtraState(sd: EBMTrainerStateDict): void {
    if (sd.scaler !== undefined) this.scaler.loadStateDict(sd.scaler);
  }

  override dispose(): void {
    super.dispose();
    this.poison?.dispose();
    this.poison = null;
  }
}
