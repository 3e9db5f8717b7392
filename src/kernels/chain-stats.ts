// Wrapper for chain-stats.wgsl: per-step sampler diagnostics reduced over the chains.
import type { KernelSpec } from './pipeline-cache.js';
import type { KernelArg, PooledBuffer, Runtime } from './runtime.js';
import { needsWindows, windowAt } from './binding-window.js';
import { chainBlocks, rowsWindow } from './chain-blocks.js';

const CHAIN_STATS: KernelSpec = {
  shader: 'chain-stats.wgsl',
  entry: 'main',
  bindings: [
    { name: 'x', kind: 'read-only-storage' },
    { name: 'scalars', kind: 'read-only-storage' },
    { name: 'mean', kind: 'storage' },
    { name: 'variance', kind: 'storage' },
    { name: 'scalar_mean', kind: 'storage' },
    { name: 'params', kind: 'uniform' },
  ],
};

export interface ChainStatsArgs {
  chains: number;
  dim: number;
  /** Rows of the scalars buffer ([scalars, chains]) to average. */
  scalars: number;
  /** The kept step to write, of `rows`. */
  row: number;
  rows: number;
}

/**
 * mean[row] and variance[row] ([rows, dim]) of x [chains, dim] over the chains, and
 * scalarMean[s, row] ([scalars, rows]) the mean of each row of `scalars`.
 */
export function chainStatsKernel(rt: Runtime, x: PooledBuffer, scalars: PooledBuffer, mean: PooledBuffer, variance: PooledBuffer, scalarMean: PooledBuffer, a: ChainStatsArgs): void {
  const params = { chains: a.chains, dim: a.dim, scalars: a.scalars, row: a.row, rows: a.rows, xcols: a.dim, s0: 0, sstride: a.chains, xs: 0, ss: 0, mode: 0, first: 0, last: 0, total: a.chains };
  if (!needsWindows(rt, Math.max(a.dim, a.scalars) * a.chains * 4, x, scalars))
    return rt.dispatch(CHAIN_STATS, [x, scalars, mean, variance, scalarMean, params], { workgroups: rt.grid(a.dim + a.scalars) });
  // Over one binding: blocks of chains, each a window of x's rows and of each scalar row (one
  // dispatch per scalar: the rows of `scalars` are `chains` apart), their sums added (mode 1);
  // then the squared deviations from the finished mean (mode 2).
  const blocks = chainBlocks(rt, 'chainStats_', a.chains, a.dim, 0);
  const out = [mean, variance, scalarMean];
  const run = (mode: number, b: number, bound: KernelArg, extra: object, columns: number) => {
    const p = { ...params, ...extra, chains: blocks[b]![1] - blocks[b]![0], mode, first: b === 0 ? 1 : 0, last: b === blocks.length - 1 ? 1 : 0 };
    // The window stands in for both inputs (both are read-only).
    rt.dispatch(CHAIN_STATS, [bound, bound, ...out, p], { workgroups: rt.grid(columns) });
  };
  for (let b = 0; b < blocks.length; b++) {
    const [c0, c1] = blocks[b]!;
    if (a.dim > 0) run(1, b, rowsWindow(rt, x, a.dim, c0, c1), { scalars: 0 }, a.dim);
    for (let s = 0; s < a.scalars; s++) {
      const w = windowAt(rt, scalars, (s * a.chains + c0) * 4, (s * a.chains + c1) * 4);
      run(1, b, w.arg, { xcols: 0, scalars: 1, s0: s, sstride: 0, ss: w.shift / 4 }, 1);
    }
  }
  for (let b = 0; b < blocks.length; b++) if (a.dim > 0) run(2, b, rowsWindow(rt, x, a.dim, blocks[b]![0], blocks[b]![1]), { scalars: 0 }, a.dim);
}
