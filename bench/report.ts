// How results are written: one JSON object per line (--json), or a fixed-width table whose
// rows print as each case finishes, so a long run shows progress.

export interface BenchResult {
  suite: string;
  case: string;
  /** Median wall time of one run, ms, from first enqueue to completed GPU work. */
  ms: number;
  gflops: number | null;
  /** Compute dispatches one run of ours records. */
  dispatches: number;
  /** With --compare: the peer timed (null where it has no equivalent, e.g. f16). */
  peer?: string | null;
  peer_ms?: number | null;
  /** peer_ms / ms: above 1, ours is faster. */
  ratio?: number | null;
  /** matmul-f16 only: our f32 matmul of the same shape, and f16 time / f32 time. */
  f32_ms?: number;
  f16_over_f32?: number;
}

export interface Skipped {
  suite: string;
  skipped: string;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** Rounds the measured numbers for output (ratios are computed before rounding). */
export function rounded(r: BenchResult): BenchResult {
  const out: BenchResult = { ...r, ms: round(r.ms, 4), gflops: r.gflops === null ? null : round(r.gflops, 3) };
  if (r.peer_ms != null) out.peer_ms = round(r.peer_ms, 4);
  if (r.ratio != null) out.ratio = round(r.ratio, 4);
  if (r.f32_ms !== undefined) out.f32_ms = round(r.f32_ms, 4);
  if (r.f16_over_f32 !== undefined) out.f16_over_f32 = round(r.f16_over_f32, 4);
  return out;
}

export const jsonLine = (r: BenchResult | Skipped): string => JSON.stringify('skipped' in r ? r : rounded(r));

// Column widths: suite, case, ms, GFLOP/s, dispatches, then peer ms and ratio with --compare.
const W = [16, 30, 10, 9, 10, 10, 9] as const;

function row(cells: readonly string[], compare: boolean, note = ''): string {
  const n = compare ? 7 : 5;
  const parts = cells.slice(0, n).map((c, i) => (i < 2 ? c.padEnd(W[i]!) : c.padStart(W[i]!)));
  return (parts.join(' ') + (note ? `  ${note}` : '')).trimEnd();
}

/** The column titles and a rule under them. */
export function tableHeader(compare: boolean, peer = 'tfjs'): string[] {
  const head = row(['suite', 'case', 'ms', 'GFLOP/s', 'dispatches', `${peer} ms`, `${peer}/ours`], compare);
  return [head, '-'.repeat(head.length)];
}

export function tableRow(r: BenchResult, compare: boolean): string {
  const num = (x: number | null | undefined, d: number) => (x == null ? '-' : x.toFixed(d));
  const note = r.f32_ms === undefined ? '' : `f32 ${r.f32_ms.toFixed(2)} ms, f16/f32 ${r.f16_over_f32!.toFixed(2)}`;
  return row([r.suite, r.case, num(r.ms, 2), num(r.gflops, 2), String(r.dispatches), num(r.peer_ms, 2), r.ratio == null ? '-' : `${r.ratio.toFixed(2)}x`], compare, note);
}

export const skipLine = (s: Skipped): string => `suite ${s.suite}: skipped (${s.skipped})`;
