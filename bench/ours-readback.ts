// Our side's end of a run: the same readback as the peers' (each output summed to a scalar
// first unless it holds one element, then `await data()`; or the run's own readback).
import * as ebm from '../src/index.js';
import { isReadback, outputsOf, type RunResult } from './suite.js';

/**
 * Records a run's held-back work: the engine may defer a matmul so that a following bias add and
 * activation join its dispatch (src/tensor/fusion/), recording it only when a buffer is touched.
 * Touching each output's buffer at the end of the run records it there, so the run's dispatch
 * count includes it and the readback's reduction is not counted.
 */
export function recordOutputs(r: RunResult<ebm.Tensor>): void {
  for (const t of outputsOf(r)) void t.buffer;
}

export async function readOurs(r: RunResult<ebm.Tensor>): Promise<void> {
  if (isReadback(r)) {
    await r.readback();
    return;
  }
  const outs = outputsOf(r);
  const small = outs.map((t) => (t.size === 1 ? t : t.sum()));
  for (const t of outs) if (!small.includes(t)) t.dispose();
  try {
    await Promise.all(small.map((t) => t.data()));
  } finally {
    for (const t of small) t.dispose();
  }
}
