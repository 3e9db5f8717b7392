// matmul-f16: f16 inputs (f16 storage, f32 accumulation) on a 1024 square. tfjs has no f16,
// so the comparison is with our own f32 matmul of the same shape, timed alongside.
import { matmulFlops, matmulName, oursMatmul, type MatmulShape } from './matmul.js';
import type { Suite } from './suite.js';

export function matmulF16Suite(shapes: readonly MatmulShape[] = [{ m: 1024, k: 1024, n: 1024 }]): Suite {
  return {
    name: 'matmul-f16',
    missing: () => null,
    cases: () =>
      shapes.map((s) => ({
        name: `${matmulName(s)} f16`,
        flops: matmulFlops(s),
        ours: () => oursMatmul(s, (x) => x.to('f16')),
        f32: () => oursMatmul(s),
      })),
  };
}
