// Option checking for the samplers. Every message names the sampler, the option and the value,
// because a sampler is usually buried in a training loop when a bad setting surfaces.
import type { Schedule, ScheduleLike } from '../schedulers.js';
import { rejectUnknownKeys } from '../options.js';

/**
 * A hyperparameter that is fixed, or follows a schedule over the steps of each sample() call
 * (step 0 is the first transition): a number, anything with value(step) (the schedules of
 * src/train/schedulers.ts or your own), or a function of the step.
 */
export type Hyper = ScheduleLike;

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(describe).join(', ')}]`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** Rejects keys the caller did not mean (`step_size`, `nsteps`), naming the ones that exist. */
export function checkKeys(where: string, what: string, opts: unknown, known: readonly string[], noun = 'option'): void {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new Error(`${where}: ${what} must be an object, got ${describe(opts)}`);
  rejectUnknownKeys(where, opts, known, noun);
}

/** Any finite number. */
export function real(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: ${name} must be a finite number, got ${describe(v)}`);
  return v;
}

export function positiveInt(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${where}: ${name} must be an integer >= 1, got ${describe(v)}`);
  return v;
}

export function finite(where: string, name: string, v: unknown, min: number, inclusive: boolean): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (inclusive ? v >= min : v > min);
  if (!ok) throw new Error(`${where}: ${name} must be a finite number ${inclusive ? '>=' : '>'} ${min}, got ${describe(v)}`);
  return v as number;
}

/**
 * A hyperparameter as a function of the step, checked at construction (a number, or an object
 * with value(step)) and again for every value a schedule produces.
 */
export function hyper(where: string, name: string, v: unknown, min: number, inclusive: boolean): (step: number) => number {
  if (typeof v === 'number') {
    const x = finite(where, name, v, min, inclusive);
    return () => x;
  }
  const isSchedule = v !== null && typeof v === 'object' && typeof (v as Schedule).value === 'function';
  if (isSchedule || typeof v === 'function') {
    const at = isSchedule ? (step: number) => (v as Schedule).value(step) : (v as (step: number) => number);
    return (step) => {
      const x = at(step);
      const ok = typeof x === 'number' && Number.isFinite(x) && (inclusive ? x >= min : x > min);
      if (!ok) throw new Error(`${where}: ${name} must be a finite number ${inclusive ? '>=' : '>'} ${min}, but its schedule gave ${describe(x)} at step ${step}`);
      return x;
    };
  }
  throw new Error(`${where}: ${name} must be a number, a schedule (an object with value(step)) or a function of the step, got ${describe(v)}`);
}

/** Accepts a seed as ebm.randn does: a non-negative safe integer. */
export function seedOf(where: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`${where}: seed must be a non-negative safe integer, got ${describe(v)}`);
  return v;
}
