// `bench --profile`: after a case's normal timing, our side runs a few more times with every
// dispatch timed on the GPU (rt.startProfile / stopProfile, src/kernels/profiler.ts), and the
// per-run profiles are summarised per kernel. The timing itself is never profiled: a pass per
// dispatch costs a little, so profiled runs are kept apart from the timed ones.
import type * as ebm from '../src/index.js';
import type { KernelTime } from '../src/kernels/profiler.js';
import { readOurs, recordOutputs } from './ours-readback.js';
import type { Workload } from './suite.js';
import { median } from './timing.js';

/** One kernel's line of a case's profile. */
export interface KernelProfile {
  /** Shader file and entry point, as rt.stats.byEntry keys it. */
  entry: string;
  /** Its dispatches per run (the mean over the profiled runs; the same in every run of a fixed computation). */
  dispatches: number;
  /** Median over the profiled runs of its GPU ms in a run (0 in a run without it). */
  ms: number;
}

export interface CaseProfile {
  /** Profiled runs (as many as --repeat). */
  runs: number;
  /** Median over the runs of the GPU ms of all of a run's dispatches. */
  gpu_ms: number;
  /** gpu_ms over the case's wall time (the median of the normal timing). */
  wall_share: number;
  /** Slowest first. */
  kernels: KernelProfile[];
}

/**
 * Runs `ours` `runs` times, each profiled from its first dispatch to its outputs' recording (the
 * same span its dispatch count covers: the readback's reduction is not profiled), then read back
 * as in the timing. Returns each run's profile.
 */
export async function profileRuns(rt: ebm.Runtime, ours: Workload<ebm.Tensor>, runs: number): Promise<KernelTime[][]> {
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`profileRuns: runs must be a positive integer, got ${runs}`);
  // Start from an idle device, as the timing does.
  await rt.sync();
  const profiles: KernelTime[][] = [];
  for (let i = 0; i < runs; i++) {
    rt.startProfile();
    let result;
    try {
      result = ours.run();
      recordOutputs(result);
    } catch (e) {
      // Leave the runtime unprofiled whatever happened; the run's error is the one to report.
      await rt.stopProfile().catch(() => {});
      throw e;
    }
    profiles.push(await rt.stopProfile());
    await readOurs(result);
  }
  return profiles;
}

/** Summarises per-run profiles against the case's median wall time `wallMs`. */
export function summarizeProfile(runs: readonly (readonly KernelTime[])[], wallMs: number): CaseProfile {
  if (runs.length === 0) throw new Error('summarizeProfile: no profiled runs');
  if (!(wallMs > 0) || !Number.isFinite(wallMs)) throw new Error(`summarizeProfile: wallMs must be a positive number, got ${wallMs}`);
  const entries = [...new Set(runs.flatMap((run) => run.map((k) => k.entry)))];
  const kernels = entries.map((entry): KernelProfile => {
    const found = runs.map((run) => run.find((k) => k.entry === entry));
    return {
      entry,
      dispatches: found.reduce((s, k) => s + (k?.dispatches ?? 0), 0) / runs.length,
      ms: median(found.map((k) => k?.ms ?? 0)),
    };
  });
  kernels.sort((a, b) => b.ms - a.ms || a.entry.localeCompare(b.entry));
  const gpuMs = median(runs.map((run) => run.reduce((s, k) => s + k.ms, 0)));
  return { runs: runs.length, gpu_ms: gpuMs, wall_share: gpuMs / wallMs, kernels };
}
