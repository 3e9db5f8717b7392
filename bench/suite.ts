// What a benchmark suite is: named cases, each able to build the same computation on our
// engine and (optionally) on tfjs. The runner owns timing, devices and reporting.
import type { Tf } from './tfjs-peer.js';

/** One side of a case with its inputs already on the GPU. */
export interface Workload {
  /** Enqueues one iteration of GPU work and frees its own temporaries; does not wait. */
  run(): void;
  /** Frees the inputs made for this workload. */
  dispose(): void;
}

export interface BenchCase {
  name: string;
  /** FLOPs of one run, where they are well defined; null elsewhere. */
  flops: number | null;
  ours(): Workload;
  /** The same computation in tfjs ops; absent where tfjs has no equivalent (f16). */
  tfjs?(tf: Tf): Workload;
  /** For the f16 suite: our f32 version of the case, timed alongside so the two compare. */
  f32?(): Workload;
}

export interface Suite {
  name: string;
  /** Why the suite cannot run here (printed as `suite X: skipped (...)`), or null. */
  missing(): string | null;
  cases(): BenchCase[];
}
