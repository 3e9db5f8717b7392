// Value schedules: a number per step, for any hyperparameter (a learning rate, a sampler's
// step size or noise scale). Each is a pure function of the step, so a sampler or trainer can
// ask for any step in any order; the optimizer's LR schedulers (optim/lr-scheduler.ts) are
// built on these. Where PyTorch has a scheduler, the formula is its closed form.

/** A value that depends on the step (0 = before the first step). */
export interface Schedule {
  value(step: number): number;
}

/** A constant, a Schedule, or a function of the step: what options that can vary accept. */
export type ScheduleLike = number | Schedule | ((step: number) => number);

export function asSchedule(s: ScheduleLike, owner = 'schedule'): Schedule {
  if (typeof s === 'number') return new ConstantSchedule({ value: s });
  if (typeof s === 'function') return { value: s };
  if (s && typeof s === 'object' && typeof s.value === 'function') return s;
  throw new Error(`${owner}: expected a number, a Schedule or a function of the step, got ${s === null ? 'null' : typeof s}`);
}

/** The value of a ScheduleLike at `step`. */
export function scheduleValue(s: ScheduleLike, step: number): number {
  return typeof s === 'number' ? s : typeof s === 'function' ? s(step) : s.value(step);
}

function finite(owner: string, option: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${owner}: option '${option}' must be a finite number, got ${String(v)}`);
  return v;
}

function positiveInt(owner: string, option: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${owner}: option '${option}' must be an integer >= 1, got ${String(v)}`);
  return v;
}

function checkStep(owner: string, step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new Error(`${owner}.value: step must be an integer >= 0, got ${step}`);
}

/** Number of milestones <= step (Python's bisect_right). */
function passed(milestones: readonly number[], step: number): number {
  let k = 0;
  while (k < milestones.length && milestones[k]! <= step) k++;
  return k;
}

function increasing(owner: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.some((m, i) => !Number.isInteger(m) || m < 0 || (i > 0 && m <= v[i - 1])))
    throw new Error(`${owner}: option 'milestones' must be increasing integers >= 0, got ${JSON.stringify(v)}`);
  return [...v];
}

export class ConstantSchedule implements Schedule {
  readonly constant: number;
  constructor({ value }: { value: number }) {
    this.constant = finite('ConstantSchedule', 'value', value);
  }
  value(step: number): number {
    checkStep('ConstantSchedule', step);
    return this.constant;
  }
}

/** start * gamma^step (PyTorch's ExponentialLR). */
export class ExponentialSchedule implements Schedule {
  readonly start: number;
  readonly gamma: number;
  constructor(o: { start: number; gamma: number }) {
    this.start = finite('ExponentialSchedule', 'start', o.start);
    this.gamma = finite('ExponentialSchedule', 'gamma', o.gamma);
  }
  value(step: number): number {
    checkStep('ExponentialSchedule', step);
    return this.start * this.gamma ** step;
  }
}

/** start * gamma^floor(step / stepSize) (PyTorch's StepLR). */
export class StepSchedule implements Schedule {
  readonly start: number;
  readonly stepSize: number;
  readonly gamma: number;
  constructor(o: { start: number; stepSize: number; gamma?: number }) {
    this.start = finite('StepSchedule', 'start', o.start);
    this.stepSize = positiveInt('StepSchedule', 'stepSize', o.stepSize);
    this.gamma = finite('StepSchedule', 'gamma', o.gamma ?? 0.1);
  }
  value(step: number): number {
    checkStep('StepSchedule', step);
    return this.start * this.gamma ** Math.floor(step / this.stepSize);
  }
}

/** start * gamma^(milestones passed) (PyTorch's MultiStepLR). */
export class MultiStepSchedule implements Schedule {
  readonly start: number;
  readonly milestones: readonly number[];
  readonly gamma: number;
  constructor(o: { start: number; milestones: readonly number[]; gamma?: number }) {
    this.start = finite('MultiStepSchedule', 'start', o.start);
    this.milestones = increasing('MultiStepSchedule', o.milestones);
    this.gamma = finite('MultiStepSchedule', 'gamma', o.gamma ?? 0.1);
  }
  value(step: number): number {
    checkStep('MultiStepSchedule', step);
    return this.start * this.gamma ** passed(this.milestones, step);
  }
}

/** From start to end linearly over `steps`, then end (PyTorch's LinearLR, in values). */
export class LinearSchedule implements Schedule {
  readonly start: number;
  readonly end: number;
  readonly steps: number;
  constructor(o: { start: number; end: number; steps: number }) {
    this.start = finite('LinearSchedule', 'start', o.start);
    this.end = finite('LinearSchedule', 'end', o.end);
    this.steps = positiveInt('LinearSchedule', 'steps', o.steps);
  }
  value(step: number): number {
    checkStep('LinearSchedule', step);
    return this.start + ((this.end - this.start) * Math.min(step, this.steps)) / this.steps;
  }
}

/**
 * Cosine annealing from start to end over `steps` (PyTorch's CosineAnnealingLR:
 * end + (start - end)(1 + cos(pi step / steps)) / 2). After `steps` it stays at end, or with
 * `cyclic` follows the cosine back up as PyTorch's scheduler does.
 */
export class CosineSchedule implements Schedule {
  readonly start: number;
  readonly end: number;
  readonly steps: number;
  readonly cyclic: boolean;
  constructor(o: { start: number; end?: number; steps: number; cyclic?: boolean }) {
    this.start = finite('CosineSchedule', 'start', o.start);
    this.end = finite('CosineSchedule', 'end', o.end ?? 0);
    this.steps = positiveInt('CosineSchedule', 'steps', o.steps);
    this.cyclic = o.cyclic ?? false;
  }
  value(step: number): number {
    checkStep('CosineSchedule', step);
    const s = this.cyclic ? step : Math.min(step, this.steps);
    return this.end + ((this.start - this.end) * (1 + Math.cos((Math.PI * s) / this.steps))) / 2;
  }
}

/** One schedule after another: schedule k runs from milestone k-1, counting from 0 (SequentialLR). */
export class SequentialSchedule implements Schedule {
  readonly schedules: readonly Schedule[];
  readonly milestones: readonly number[];
  constructor(o: { schedules: readonly ScheduleLike[]; milestones: readonly number[] }) {
    const owner = 'SequentialSchedule';
    if (!Array.isArray(o.schedules) || o.schedules.length < 1) throw new Error(`${owner}: option 'schedules' must be a non-empty array`);
    this.schedules = o.schedules.map((s) => asSchedule(s, owner));
    this.milestones = increasing(owner, o.milestones);
    if (this.milestones.length !== this.schedules.length - 1)
      throw new Error(`${owner}: option 'milestones' needs ${this.schedules.length - 1} entries for ${this.schedules.length} schedules, got ${this.milestones.length}`);
  }
  value(step: number): number {
    checkStep('SequentialSchedule', step);
    const k = passed(this.milestones, step);
    return this.schedules[k]!.value(k === 0 ? step : step - this.milestones[k - 1]!);
  }
}

/**
 * Linear warmup from `start` (default 0) to where `then` begins, over `steps` steps, then
 * `then` counted from its step 0: warmup then cosine is
 * `new WarmupSchedule({ steps: 100, then: new CosineSchedule({ start: 1e-3, steps: 900 }) })`.
 */
export class WarmupSchedule implements Schedule {
  readonly steps: number;
  readonly start: number;
  readonly then: Schedule;
  constructor(o: { steps: number; start?: number; then: ScheduleLike }) {
    this.steps = positiveInt('WarmupSchedule', 'steps', o.steps);
    this.start = finite('WarmupSchedule', 'start', o.start ?? 0);
    this.then = asSchedule(o.then, 'WarmupSchedule');
  }
  value(step: number): number {
    checkStep('WarmupSchedule', step);
    if (step >= this.steps) return this.then.value(step - this.steps);
    return this.start + ((this.then.value(0) - this.start) * step) / this.steps;
  }
}
