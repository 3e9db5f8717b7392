// Learning-rate schedulers in torch.optim.lr_scheduler's shape: constructed on an optimizer,
// they set each group's lr to the schedule's value at step 0, and step() moves to the next.
// Each group's lr is a Schedule (../schedulers.ts) of the group's initial lr, evaluated in
// closed form, so one scheduler owns an optimizer's lr: compose with SequentialLR or
// WarmupSchedule rather than stacking schedulers.
import {
  asSchedule,
  CosineSchedule,
  ExponentialSchedule,
  LinearSchedule,
  MultiStepSchedule,
  SequentialSchedule,
  StepSchedule,
  type Schedule,
  type ScheduleLike,
} from '../schedulers.js';
import type { BaseOptions, Optimizer } from './optimizer.js';

export interface LRSchedulerState {
  lastEpoch: number;
  baseLrs: number[];
}

export class LRScheduler {
  /** Steps taken (PyTorch's last_epoch): 0 right after construction. */
  lastEpoch = 0;
  /** Each group's lr before any scheduling (its 'initialLr'). */
  baseLrs: number[];
  /** Each group's lr as a function of the step. */
  schedules: Schedule[];

  constructor(
    readonly optimizer: Optimizer<BaseOptions>,
    private readonly schedule: (baseLr: number, group: number) => Schedule,
    readonly name = 'LRScheduler',
  ) {
    if (!optimizer || !Array.isArray((optimizer as { paramGroups?: unknown }).paramGroups)) throw new Error(`${name}: expected an optimizer, got ${optimizer === null ? 'null' : typeof optimizer}`);
    // The first scheduler records the lr it started from; later ones (and reloads) keep it.
    for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
    this.schedules = this.baseLrs.map((lr, i) => schedule(lr, i));
    this.apply();
  }

  /** Advances one step and sets each group's lr. */
  step(): void {
    this.lastEpoch++;
    this.apply();
  }

  /** The lr of each group as last set (PyTorch's get_last_lr()). */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): LRSchedulerState {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }

  /** Restores the step and the initial lrs (the schedules are rebuilt from them). */
  loadStateDict(sd: LRSchedulerState): void {
    const where = `${this.name}.loadStateDict`;
    if (!sd || !Number.isInteger(sd.lastEpoch) || sd.lastEpoch < 0) throw new Error(`${where}: 'lastEpoch' must be an integer >= 0, got ${sd?.lastEpoch}`);
    if (!Array.isArray(sd.baseLrs) || sd.baseLrs.length !== this.optimizer.paramGroups.length || sd.baseLrs.some((lr) => !(lr >= 0)))
      throw new Error(`${where}: 'baseLrs' must hold one lr >= 0 per parameter group (${this.optimizer.paramGroups.length}), got ${JSON.stringify(sd.baseLrs)}`);
    this.baseLrs = [...sd.baseLrs];
    this.schedules = this.baseLrs.map((lr, i) => this.schedule(lr, i));
    this.optimizer.paramGroups.forEach((g, i) => (g.initialLr = this.baseLrs[i]));
    this.lastEpoch = sd.lastEpoch;
    this.apply();
  }

  private apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      const lr = this.schedules[i]!.value(this.lastEpoch);
      if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`${this.name}: the schedule gave lr ${lr} at step ${this.lastEpoch} for group ${i}; lr must be a finite number >= 0`);
      g.lr = lr;
    });
  }
}

/** Any value schedule as the lr (absolute values: the optimizer's lr is not a factor). */
export class ScheduledLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, schedule: ScheduleLike) {
    const s = asSchedule(schedule, 'ScheduledLR');
    super(optimizer, () => s, 'ScheduledLR');
  }
}

/** lr = initial lr * lrLambda(step) (PyTorch's LambdaLR). */
export class LambdaLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, { lrLambda }: { lrLambda: (step: number) => number }) {
    if (typeof lrLambda !== 'function') throw new Error(`LambdaLR: option 'lrLambda' must be a function of the step, got ${typeof lrLambda}`);
    super(optimizer, (base) => ({ value: (s) => base * lrLambda(s) }), 'LambdaLR');
  }
}

/** lr = initial lr * gamma^step. */
export class ExponentialLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, { gamma }: { gamma: number }) {
    super(optimizer, (start) => new ExponentialSchedule({ start, gamma }), 'ExponentialLR');
  }
}

/** lr = initial lr * gamma^floor(step / stepSize). */
export class StepLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, { stepSize, gamma = 0.1 }: { stepSize: number; gamma?: number }) {
    super(optimizer, (start) => new StepSchedule({ start, stepSize, gamma }), 'StepLR');
  }
}

/** lr = initial lr * gamma^(milestones passed). */
export class MultiStepLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, { milestones, gamma = 0.1 }: { milestones: readonly number[]; gamma?: number }) {
    super(optimizer, (start) => new MultiStepSchedule({ start, milestones, gamma }), 'MultiStepLR');
  }
}

/** Cosine from the initial lr down to etaMin over tMax steps, then back up (PyTorch's cycle). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, { tMax, etaMin = 0 }: { tMax: number; etaMin?: number }) {
    super(optimizer, (start) => new CosineSchedule({ start, end: etaMin, steps: tMax, cyclic: true }), 'CosineAnnealingLR');
  }
}

/** lr = initial lr * a factor going linearly from startFactor to endFactor over totalIters. */
export class LinearLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, { startFactor = 1 / 3, endFactor = 1, totalIters = 5 }: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    if (!(startFactor > 0 && startFactor <= 1)) throw new Error(`LinearLR: option 'startFactor' must be in (0, 1], got ${startFactor}`);
    if (!(endFactor >= 0 && endFactor <= 1)) throw new Error(`LinearLR: option 'endFactor' must be in [0, 1], got ${endFactor}`);
    super(optimizer, (base) => new LinearSchedule({ start: base * startFactor, end: base * endFactor, steps: totalIters }), 'LinearLR');
  }
}

/** lr = initial lr * factor until totalIters, then the initial lr. */
export class ConstantLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, { factor = 1 / 3, totalIters = 5 }: { factor?: number; totalIters?: number } = {}) {
    if (!(factor >= 0 && factor <= 1)) throw new Error(`ConstantLR: option 'factor' must be in [0, 1], got ${factor}`);
    super(optimizer, (base) => new SequentialSchedule({ schedules: [base * factor, base], milestones: [totalIters] }), 'ConstantLR');
  }
}

/** Runs scheduler k from milestone k-1 on, each counting from its own step 0. */
export class SequentialLR extends LRScheduler {
  constructor(optimizer: Optimizer<BaseOptions>, { schedulers, milestones }: { schedulers: readonly LRScheduler[]; milestones: readonly number[] }) {
    if (!Array.isArray(schedulers) || schedulers.some((s) => !(s instanceof LRScheduler) || s.optimizer !== optimizer))
      throw new Error('SequentialLR: option \'schedulers\' must be schedulers of this optimizer');
    super(optimizer, (_base, i) => new SequentialSchedule({ schedules: schedulers.map((s) => s.schedules[i]!), milestones }), 'SequentialLR');
  }
}
