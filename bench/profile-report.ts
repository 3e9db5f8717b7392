// How `bench --profile` prints a case's profile (bench/profile.ts): an indented table under the
// case's row, or rounded numbers in the case's `profile` field with --json.
import type { CaseProfile } from './profile.js';

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** The profile with its times rounded to 0.1 us and its share to 0.01%, for --json. */
export function roundedProfile(p: CaseProfile): CaseProfile {
  return {
    runs: p.runs,
    gpu_ms: round(p.gpu_ms, 4),
    wall_share: round(p.wall_share, 4),
    kernels: p.kernels.map((k) => ({ entry: k.entry, dispatches: round(k.dispatches, 4), ms: round(k.ms, 4) })),
  };
}

const INDENT = '    ';
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const dispatchCount = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

/**
 * The profile's lines (no trailing newline each): a summary line, then one row per kernel,
 * slowest first, with its median GPU ms per run, its share of the run's GPU time and its
 * dispatches per run.
 */
export function profileLines(p: CaseProfile, wallMs: number): string[] {
  const head = `${'GPU ms/run'.padStart(10)}  ${'% GPU'.padStart(6)}  ${'dispatches'.padStart(10)}  kernel`;
  return [
    `${INDENT}GPU profile, ${p.runs} run${p.runs === 1 ? '' : 's'}: ${p.gpu_ms.toFixed(3)} ms of GPU time per run (median), ${pct(p.wall_share)} of the ${wallMs.toFixed(2)} ms wall time`,
    INDENT + head,
    ...p.kernels.map(
      (k) => `${INDENT}${k.ms.toFixed(3).padStart(10)}  ${(p.gpu_ms > 0 ? pct(k.ms / p.gpu_ms) : '-').padStart(6)}  ${dispatchCount(k.dispatches).padStart(10)}  ${k.entry}`,
    ),
  ];
}
