// What a benchmark suite is: named cases, each able to build the same computation on our
// engine and (optionally) on tfjs and jax-js. The runner owns timing, devices and reporting.
import type { Tensor as TfTensor } from '@tensorflow/tfjs';
import type { Array as JaxArray } from '@jax-js/jax';
import type * as ebm from '../src/index.js';
import type { Jax } from './jax-peer.js';
import type { Tf } from './tfjs-peer.js';

/** A run's own awaited readback, for results that are not tensors (a trainer step's metrics). */
export interface Readback {
  readback(): Promise<unknown>;
}

/**
 * What one run returns: its output tensors, which the runner now owns (it reads back each one,
 * summed first unless it holds one element, then disposes it), or a readback of its own.
 * Every run ends on that awaited readback, on every side alike (`timing.ts`).
 */
export type RunResult<T> = T | readonly T[] | Readback;

/** One side of a case with its inputs already on the GPU. */
export interface Workload<T> {
  /** Enqueues one iteration of GPU work and returns its result; frees its own temporaries. */
  run(): RunResult<T>;
  /** Frees the inputs made for this workload. */
  dispose(): void;
}

export interface BenchCase {
  name: string;
  /** FLOPs of one run, where they are well defined; null elsewhere. */
  flops: number | null;
  /** Sampler steps in one run, where a run is a chain: the report adds dispatches per step. */
  steps?: number;
  ours(): Workload<ebm.Tensor>;
  /** The same computation in tfjs ops; absent where tfjs has no equivalent (f16). */
  tfjs?(tf: Tf): Workload<TfTensor>;
  /** The same computation in jax-js, jitted as its users write it; absent where it has none. */
  jax?(jax: Jax): Workload<JaxArray>;
  /** For the f16 suite: our f32 version of the case, timed alongside so the two compare. */
  f32?(): Workload<ebm.Tensor>;
}

export interface Suite {
  name: string;
  /** Why the suite cannot run here (printed as `suite X: skipped (...)`), or null. */
  missing(): string | null;
  cases(): BenchCase[];
}

export function isReadback(r: unknown): r is Readback {
  return typeof r === 'object' && r !== null && typeof (r as Readback).readback === 'function';
}

/** The tensors of a run's result (empty for a readback of its own). */
export function outputsOf<T>(r: RunResult<T>): T[] {
  if (isReadback(r)) return [];
  return Array.isArray(r) ? [...(r as readonly T[])] : [r as T];
}
