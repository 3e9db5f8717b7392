// Wrapper for spectral-norm.wgsl: power iteration, sigma = uᵀ M v and M / sigma for a weight
// read as the row-major matrix M [m, k]. Where it is fastest (CPU adapters; small matrices on a
// GPU) one dispatch does it all, one workgroup looping over every stage; otherwise each stage is
// a dispatch over many workgroups.
import type { KernelSpec } from './pipeline-cache.js';
import type { PooledBuffer, Runtime } from './runtime.js';

const bindings = [
  { name: 'w', kind: 'read-only-storage' },
  { name: 'u', kind: 'storage' },
  { name: 'v', kind: 'storage' },
  { name: 'w_sn', kind: 'storage' },
  { name: 'sigma', kind: 'storage' },
  { name: 'u_used', kind: 'storage' },
  { name: 'v_used', kind: 'storage' },
  { name: 'work', kind: 'storage' },
  { name: 'params', kind: 'uniform' },
] as const;
const spec = (entry: string): KernelSpec => ({ shader: 'spectral-norm.wgsl', entry, bindings });
const FUSED = spec('fused');
const MTV = spec('stage_mtv');
const MV = spec('stage_mv');
const FINISH = spec('stage_finish');

/**
 * Per workgroup of the staged products: SPAN units of Mᵀ û (columns, or quads of columns) or row
 * quads of M v̂; and vec4s of M / sigma per workgroup of stage_finish.
 */
const SPAN = 32;
const SCALE_PER_WG = 256 * 2;

/**
 * Tuning: the largest matrix, in elements, that takes the one-dispatch schedule, per kind of
 * adapter. On lavapipe one workgroup beat the staged schedule at every size measured, up to
 * 512 x 4608 (8 ms against 13 for one iteration): the host thread waiting on the GPU leaves the
 * rasteriser threads about one core, so the staged workgroups gain little parallelism and pay
 * for three dispatches and a column-strided walk of M in Mᵀ û. On a GPU one workgroup is one of
 * many compute units, so past a modest size the staged schedule should win (a guess: no GPU was
 * at hand to measure it). Tests set both to force one schedule or the other.
 */
export const spectralNormTuning = { fusedMaxElementsSoftware: Infinity, fusedMaxElementsGpu: 1 << 16 };

export type SpectralNormSchedule = 'fused' | 'staged';

/** fused: one dispatch per call. staged: 2 per power iteration (Mᵀ û, M v̂) + 1, or 2 in eval. */
export function spectralNormSchedule(rt: Runtime, m: number, k: number): SpectralNormSchedule {
  const max = rt.info.isSoftware ? spectralNormTuning.fusedMaxElementsSoftware : spectralNormTuning.fusedMaxElementsGpu;
  return m * k <= max ? 'fused' : 'staged';
}

export interface SpectralNormBuffers {
  w: PooledBuffer;
  u: PooledBuffer;
  v: PooledBuffer;
  wSn: PooledBuffer;
  sigma: PooledBuffer;
  uUsed: PooledBuffer;
  vUsed: PooledBuffer;
}

/** Writes M / sigma, sigma, and the u, v used; updates u, v in place when nIter > 0 (training). */
export function spectralNormKernel(rt: Runtime, b: SpectralNormBuffers, m: number, k: number, nIter: number, eps: number): void {
  const fused = spectralNormSchedule(rt, m, k) === 'fused';
  // With k % 4 == 0 every row starts on a vec4, and the products read M four columns at a time.
  const vec4 = k % 4 === 0;
  const mQuads = Math.ceil(m / 4);
  const tParts = fused ? 1 : Math.ceil(mQuads / SPAN);
  const rParts = fused ? 1 : Math.ceil((vec4 ? k / 4 : k) / SPAN);
  // Scratch for the raw vectors r and t (each padded to whole vec4s) between stages, and their
  // per-workgroup partial sums.
  const work = rt.allocate((4 * Math.ceil(k / 4) + 4 * mQuads + tParts + rParts) * 4, 'spectral-norm work');
  const params = (first: boolean) => ({ m, k, n_iter: nIter, first: first ? 1 : 0, eps, t_parts: tParts, r_parts: rParts });
  const run = (s: KernelSpec, first: boolean, workgroups: number) =>
    rt.dispatch(s, [b.w, b.u, b.v, b.wSn, b.sigma, b.uUsed, b.vUsed, work, params(first)], { overrides: { VEC4: vec4 }, workgroups: rt.grid(workgroups) });
  try {
    if (fused) {
      run(FUSED, false, 1);
    } else {
      for (let it = 0; it < nIter; it++) {
        run(MTV, it === 0, rParts);
        run(MV, false, tParts);
      }
      if (nIter === 0) run(MV, false, tParts);
      run(FINISH, false, Math.ceil(Math.ceil((m * k) / 4) / SCALE_PER_WG));
    }
  } finally {
    rt.free(work);
  }
}
