// Wrapper for chain-stats.wgsl: per-step sampler diagnostics reduced over the chains.
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';

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
  const params = { chains: a.chains, dim: a.dim, scalars: a.scalars, row: a.row, rows: a.rows };
  rt.dispatch(CHAIN_STATS, [x, scalars, mean, variance, scalarMean, params], { workgroups: rt.grid(a.dim + a.scalars) });
}
