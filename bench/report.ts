// How results are written: one JSON object per line (--json), or a fixed-width table whose
// rows print as each case finishes, so a long run shows progress.
import type { PeerName } from './peers.js';
import type { CaseProfile } from './profile.js';
import { roundedProfile } from './profile-report.js';

type PeerFields = { [P in PeerName as `${P}_ms`]?: number | null } & { [P in PeerName as `${P}_ratio`]?: number | null };

export type BenchResult = PeerFields & {
  suite: string;
  case: string;
  /** Median wall time of one run, ms, from first enqueue to its awaited readback. */
  ms: number;
  gflops: number | null;
  /** Compute dispatches one run of ours records (the readback's reduction not counted). */
  dispatches: number;
  /** Sampler suites: dispatches / chain steps of one run. */
  dispatches_per_step?: number;
  // With --compare P: P_ms, the peer's median (null where it has no equivalent, e.g. f16), and
  // P_ratio = P_ms / ms (above 1, ours is faster).
  /** matmul-f16 only: our f32 matmul of the same shape, and f16 time / f32 time. */
  f32_ms?: number;
  f16_over_f32?: number;
  /** With --profile: our side's GPU time per kernel (profile.ts). */
  profile?: CaseProfile;
};

export interface Skipped {
  suite: string;
  skipped: string;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** Rounds the measured numbers for output (ratios are computed before rounding). */
export function rounded(r: BenchResult): BenchResult {
  const out: Record<string, unknown> = { ...r, ms: round(r.ms, 4), gflops: r.gflops === null ? null : round(r.gflops, 3) };
  for (const [k, v] of Object.entries(r)) {
    if (typeof v !== 'number' || k === 'dispatches') continue;
    if (k.endsWith('_ms') || k.endsWith('_ratio') || k === 'f16_over_f32' || k === 'dispatches_per_step') out[k] = round(v, 4);
  }
  if (r.profile) out.profile = roundedProfile(r.profile);
  return out as BenchResult;
}

export const jsonLine = (r: BenchResult | Skipped): string => JSON.stringify('skipped' in r ? r : rounded(r));

// Column widths: suite, case, ms, GFLOP/s, dispatches, then per peer its ms and ours' speed-up.
const W = [16, 32, 10, 9, 10] as const;
const PEER_W = [10, 9] as const;

function row(cells: readonly string[], note = ''): string {
  const parts = cells.map((c, i) => (i < 2 ? c.padEnd(W[i]!) : c.padStart(i < W.length ? W[i]! : PEER_W[(i - W.length) % 2]!)));
  return (parts.join(' ') + (note ? `  ${note}` : '')).trimEnd();
}

/** The column titles and a rule under them; `x P` is P's time over ours (above 1: ours faster). */
export function tableHeader(peers: readonly PeerName[] = []): string[] {
  const head = row(['suite', 'case', 'ms', 'GFLOP/s', 'dispatches', ...peers.flatMap((p) => [`${p} ms`, `x ${p}`])]);
  return [head, '-'.repeat(head.length)];
}

export function tableRow(r: BenchResult, peers: readonly PeerName[] = []): string {
  const num = (x: number | null | undefined, d: number) => (x == null ? '-' : x.toFixed(d));
  const notes: string[] = [];
  if (r.dispatches_per_step !== undefined) notes.push(`${r.dispatches_per_step.toFixed(2)} dispatches/step`);
  if (r.f32_ms !== undefined) notes.push(`f32 ${r.f32_ms.toFixed(2)} ms, f16/f32 ${r.f16_over_f32!.toFixed(2)}`);
  const peerCells = peers.flatMap((p) => {
    const ratio = r[`${p}_ratio`];
    return [num(r[`${p}_ms`], 2), ratio == null ? '-' : `${ratio.toFixed(2)}x`];
  });
  return row([r.suite, r.case, num(r.ms, 2), num(r.gflops, 2), String(r.dispatches), ...peerCells], notes.join('; '));
}

export const skipLine = (s: Skipped): string => `suite ${s.suite}: skipped (${s.skipped})`;
