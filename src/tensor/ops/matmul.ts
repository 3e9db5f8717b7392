// matmul with torch.matmul's semantics (1-D operands, broadcast batch dims). The tape op
// works on op(A) op(B) with transpose flags, so backward reads transposed operands through
// strides instead of materialising transposes.
import { prepareMatmul, type MatmulOperand } from '../../kernels/matmul.js';
import { deferMatmul } from '../fusion/matmul-chain.js';
import { autocastDtype, autocastOperand } from '../autocast.js';
import { cast } from './cast.js';
import { sumToShape } from './reduce.js';
import { broadcastShapes, describeValue, fmt, stridesOf } from '../shape.js';
import { checkInputs, defineOp, runOp } from '../tape.js';
import { Tensor } from '../tensor.js';

interface MatmulAttrs {
  transA: boolean;
  transB: boolean;
}

const matmulDef = defineOp<MatmulAttrs>({
  name: 'matmul',
  dtypes: ['f32', 'f16'],
  backward: ({ inputs, attrs, needs }, g) => {
    const [a, b] = inputs as [Tensor, Tensor];
    const { transA, transB } = attrs;
    // The product of f16 operands is f32; its gradient goes back through the f16 kernel and
    // returns to the operands' dtype.
    const gg = cast(g, a.dtype);
    // C = op(A) op(B):  dop(A) = g op(B)^T,  dop(B) = op(A)^T g, then undo the op on each.
    const ga = !needs[0] ? null : transA ? matmulT(b, gg, transB, true) : matmulT(gg, b, false, !transB);
    const gb = !needs[1] ? null : transB ? matmulT(gg, a, true, transA) : matmulT(a, gg, !transA, false);
    // Broadcast batch dims are summed in f32 (reductions take f32) before the cast back.
    return [ga && cast(sumToShape(ga, a.shape), a.dtype), gb && cast(sumToShape(gb, b.shape), b.dtype)];
  },
});

/** Batched op(A) op(B) for operands of rank >= 2; the transposes are free. Dispatched at once. */
export function matmulT(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return product(a, b, transA, transB, false);
}

/**
 * matmulT, and with `defer` (the user-facing matmul) its dispatch waits for the next op that
 * touches memory, so that a bias add and an activation on the product join its epilogue
 * (src/tensor/fusion/matmul-chain.ts). matmulT itself stays eager: backward rules and kernels'
 * tests call it, and nothing of theirs folds.
 */
function product(a: Tensor, b: Tensor, transA: boolean, transB: boolean, defer: boolean): Tensor {
  return runOp(matmulDef, [a, b], { transA, transB }, (rt) => {
    if (a.rank < 2 || b.rank < 2) throw new Error(`matmul: operands must have rank >= 2 here, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
    const [ar, ac] = a.shape.slice(-2) as [number, number];
    const [br, bc] = b.shape.slice(-2) as [number, number];
    const [m, ka] = transA ? [ac, ar] : [ar, ac];
    const [kb, n] = transB ? [bc, br] : [br, bc];
    if (ka !== kb)
      throw new Error(`matmul: inner dimensions differ: ${fmt(a.shape)}${transA ? 'ᵀ' : ''} @ ${fmt(b.shape)}${transB ? 'ᵀ' : ''} (${ka} vs ${kb})`);
    const batchShape = broadcastShapes(`matmul of ${fmt(a.shape)} and ${fmt(b.shape)} (batch dims)`, a.shape.slice(0, -2), b.shape.slice(0, -2));
    const operand = (t: Tensor, trans: boolean): MatmulOperand => {
      const strides = stridesOf(t.shape);
      const lead = batchShape.length - (t.rank - 2);
      return {
        buffer: t.buffer,
        rows: t.shape[t.rank - 2]!,
        cols: t.shape[t.rank - 1]!,
        trans,
        batchStrides: batchShape.map((_, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : strides[i - lead]!)),
      };
    };
    if (a.dtype !== b.dtype)
      throw new Error(`matmul: operands have dtypes ${a.dtype} and ${b.dtype}; cast one to match (x.to('f16') or x.to('f32'))`);
    const out = Tensor.empty(rt, [...batchShape, m, n], 'matmul');
    if (out.size === 0) return out;
    const launch = prepareMatmul(rt, operand(a, transA), operand(b, transB), out.buffer, m, n, ka, batchShape, a.dtype);
    if (defer) deferMatmul(rt, launch, [a, b], out);
    else launch.run();
    return out;
  });
}

/**
 * torch.matmul: 1-D operands are promoted to a row (left) or column (right) and squeezed back.
 * Inside an f16 autocast scope both operands are cast to f16 and multiplied with f32
 * accumulation (an f32 result). Its dispatch waits for the next op that touches memory, so a
 * bias add and an activation on the product join it (see product above). matmulT is the
 * primitive below it: it runs in its operands' dtype, does not consult the policy and dispatches
 * at once (backward rules call it).
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  for (const [name, t] of [['a', a], ['b', b]] as const)
    if (!(t instanceof Tensor)) throw new Error(`matmul: ${name} must be a Tensor, got ${describeValue(t)}`);
  checkInputs('matmul', [a, b], ['f32', 'f16']);
  const policy = autocastDtype('matmul');
  if (policy) {
    a = autocastOperand(a, policy);
    b = autocastOperand(b, policy);
  }
  if (a.rank === 0 || b.rank === 0) throw new Error(`matmul: both operands need at least 1 dim, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  // Checked on the caller's shapes, before any 1-D operand is promoted.
  const ka = a.shape[a.rank - 1]!;
  const kb = b.rank === 1 ? b.shape[0]! : b.shape[b.rank - 2]!;
  if (ka !== kb) throw new Error(`matmul: inner dimensions differ: ${fmt(a.shape)} @ ${fmt(b.shape)} (${ka} vs ${kb})`);
  broadcastShapes(`matmul of ${fmt(a.shape)} and ${fmt(b.shape)} (batch dims)`, a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (a.rank > 1 && b.rank > 1) return product(a, b, false, false, true);
  const a2 = a.rank === 1 ? a.unsqueeze(0) : a;
  const b2 = b.rank === 1 ? b.unsqueeze(-1) : b;
  const c = matmulT(a2, b2);
  const out = c.reshape(c.shape.filter((_, i) => !((a.rank === 1 && i === c.rank - 2) || (b.rank === 1 && i === c.rank - 1))));
  // Without a tape the promoted views and the unsqueezed product are scratch.
  if (!out.node) for (const t of [a2, b2, c]) if (t !== a && t !== b) t.dispose();
  return out;
}
