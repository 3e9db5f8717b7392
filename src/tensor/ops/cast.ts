// Casts between f32 and f16. The gradient of a cast is the cast back, so a model can run its
// matmuls in f16 while its parameters and their gradients stay f32.
import { castKernel } from '../../kernels/cast.js';
import { describeValue } from '../shape.js';
import { defineOp, runOp } from '../tape.js';
import { Tensor, type DType } from '../tensor.js';

const DTYPES: readonly DType[] = ['f32', 'f16'];

const castDef = defineOp<{ from: DType }>({
  name: 'cast',
  dtypes: DTYPES,
  backward: ({ attrs }, g) => [cast(g, attrs.from)],
});

/** x as `dtype` (x itself when it already is; f32 -> f16 rounds to nearest, overflow is undefined beyond ±65504). */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (!(x instanceof Tensor)) throw new Error(`to: expected a Tensor, got ${describeValue(x)}`);
  if (!DTYPES.includes(dtype)) throw new Error(`to: unknown dtype '${String(dtype)}' (valid: ${DTYPES.join(', ')})`);
  x.assertAlive('to');
  if (x.dtype === dtype) return x;
  return runOp(castDef, [x], { from: x.dtype }, (rt) => {
    const out = Tensor.empty(rt, x.shape, 'cast', dtype);
    if (x.size) castKernel(rt, dtype, x.buffer, out.buffer, x.size);
    return out;
  });
}
