// Per-step sampler diagnostics as a tensor op (shaders/chain-stats.wgsl): one dispatch reduces
// the chains of one kept step into row `row` of the running tables, so a sampler records its
// diagnostics without a readback.
import { chainStatsKernel } from '../../../kernels/chain-stats.js';
import type { Tensor } from '../../tensor.js';
import { arg, intArg, rowSize, sameDevice } from './common.js';

/** The tables chainStats_ writes: one row per kept step. */
export interface ChainStatsTables {
  /** [rows, ...dim]: the chains' mean. */
  mean: Tensor;
  /** [rows, ...dim]: the chains' population variance. */
  variance: Tensor;
  /** [S, rows]: the mean over the chains of each of the first S rows of `scalars`. */
  scalarMean: Tensor;
}

/**
 * Writes row `row` of the tables from x [chains, ...dim] and scalars [>= S, chains] (per-chain
 * values such as the energy; [chains] when S is 1), in place: one dispatch.
 */
export function chainStats_(x: Tensor, scalars: Tensor, tables: ChainStatsTables, row: number): void {
  const op = 'chainStats_';
  arg(op, 'x', x);
  if (x.rank < 2 || x.shape[0] === 0) throw new Error(`${op}: x must have shape [chains, ...dim] with chains >= 1, got [${x.shape.join(', ')}]`);
  const chains = x.shape[0]!;
  const dim = rowSize(x);
  const sm = arg(op, 'tables.scalarMean', tables.scalarMean, { written: true });
  if (sm.rank !== 2) throw new Error(`${op}: tables.scalarMean must have shape [S, rows], got [${sm.shape.join(', ')}]`);
  const [nScalars, rows] = sm.shape as [number, number];
  arg(op, 'tables.mean', tables.mean, { shape: [rows, ...x.shape.slice(1)], written: true });
  arg(op, 'tables.variance', tables.variance, { shape: [rows, ...x.shape.slice(1)], written: true });
  arg(op, 'scalars', scalars);
  // One tracked scalar may come as [chains] (an energy); several as rows of [>= S, chains].
  const fits = scalars.rank === 1 ? scalars.shape[0] === chains && nScalars <= 1 : scalars.rank === 2 && scalars.shape[1] === chains && scalars.shape[0]! >= nScalars;
  if (!fits) throw new Error(`${op}: scalars must have shape [>= ${nScalars}, ${chains}] (per-chain values for each of the ${nScalars} tracked scalars${nScalars <= 1 ? `, or [${chains}] for one` : ''}), got [${scalars.shape.join(', ')}]`);
  intArg(op, 'row', row, 0, rows - 1);
  const rt = sameDevice(op, { x, scalars, 'tables.mean': tables.mean, 'tables.variance': tables.variance, 'tables.scalarMean': sm });
  chainStatsKernel(rt, x.storage.buffer, scalars.storage.buffer, tables.mean.storage.buffer, tables.variance.storage.buffer, sm.storage.buffer, {
    chains,
    dim,
    scalars: nScalars,
    row,
    rows,
  });
}
