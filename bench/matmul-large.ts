// matmul-large: one square [N,N] @ [N,N] in f32 and in f16 (f16 storage, f32 accumulation), for
// measuring a real GPU against its peak (bench/gpu/run.sh sets N = 4096). N comes from the
// environment, EBM_BENCH_MATMUL_SIZE; without it the suite is skipped, since a 4096 matmul takes
// seconds per run on a software adapter. tfjs and jax-js run the f32 case (neither has our f16).
import { jaxMatmul, matmulFlops, matmulName, oursMatmul, tfjsMatmul, type MatmulShape } from './matmul.js';
import type { BenchCase, Suite } from './suite.js';

export const MATMUL_SIZE_ENV = 'EBM_BENCH_MATMUL_SIZE';

/** N from the environment: null when unset; an error naming the variable when malformed. */
export function matmulLargeSize(env: Record<string, string | undefined> = process.env): number | null {
  const v = env[MATMUL_SIZE_ENV];
  if (v === undefined || v === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 16384) throw new Error(`${MATMUL_SIZE_ENV} must be an integer from 1 to 16384, got '${v}'`);
  return n;
}

export function matmulLargeSuite(): Suite {
  return {
    name: 'matmul-large',
    missing: () => (matmulLargeSize() === null ? `set ${MATMUL_SIZE_ENV}=N to time [N,N]@[N,N] in f32 and f16; bench/gpu/run.sh does` : null),
    cases: () => {
      const n = matmulLargeSize()!;
      const s: MatmulShape = { m: n, k: n, n };
      const f32: BenchCase = { name: `${matmulName(s)} f32`, flops: matmulFlops(s), ours: () => oursMatmul(s), tfjs: (tf) => tfjsMatmul(tf, s), jax: (jax) => jaxMatmul(jax, s) };
      const f16: BenchCase = { name: `${matmulName(s)} f16`, flops: matmulFlops(s), ours: () => oursMatmul(s, (x) => x.to('f16')) };
      return [f32, f16];
    },
  };
}
