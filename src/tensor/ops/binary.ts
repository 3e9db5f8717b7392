// Elementwise binary ops with broadcasting, comparisons and where. Either operand of a binary
// op may be a plain number; it then travels in the kernel's uniform block, not in a buffer.
import { binaryKernel, whereKernel, type BinaryOperand } from '../../kernels/elementwise.js';
import { broadcastShapes, broadcastStrides, checkRank, describeValue, sameShape } from '../shape.js';
import { checkInputs, defineOp, runOp, type BackwardContext, type OpDef } from '../tape.js';
import { Tensor } from '../tensor.js';
import { full } from './create.js';
import { foldBiasAdd } from '../fusion/matmul-chain.js';

export type Operand = Tensor | number;

interface BinaryAttrs {
  /** Set when that side was a number; the tensor inputs are then only the other side. */
  aScalar?: number;
  bScalar?: number;
}

type Grads = [Tensor | null, Tensor | null];
/** `want`: which sides' gradients are needed; a rule may skip the other (sub's -g for a target that takes no gradient). */
type GradRule = (a: Operand, b: Operand, y: Tensor, g: Tensor, want: readonly [boolean, boolean]) => Grads;

/** Gradient rules; an op whose rule is null (the comparisons) has no gradient. */
const RULES = {
  add: (_a, _b, _y, g) => [g, g],
  sub: (_a, _b, _y, g, [, wantB]) => [g, wantB ? g.neg() : null],
  mul: (a, b, _y, g, [wantA, wantB]) => [wantA ? g.mul(b) : null, wantB ? g.mul(a) : null],
  div: (_a, b, y, g, [, wantB]) => {
    const ga = g.div(b);
    return [ga, wantB ? ga.mul(y).neg() : null];
  },
  pow: (a, b, y, g, [wantA, wantB]) => [
    // d/da a^b = b a^(b-1); a number exponent 0 has a zero gradient even at a = 0.
    !wantA ? null : b === 0 ? g.mul(0) : g.mul(b).mul(pow(a, typeof b === 'number' ? b - 1 : b.sub(1))),
    !wantB ? null : typeof a === 'number' ? g.mul(y).mul(Math.log(a)) : g.mul(y).mul(a.log()),
  ],
  // Like torch.maximum: the gradient goes to the larger side, half to each on a tie, and all of
  // it to both sides where either is NaN (the output is NaN; every comparison is then false).
  maximum: (a, b, _y, g) => extremeSides(gt(a, b), lt(a, b), eq(a, b), g),
  minimum: (a, b, _y, g) => extremeSides(lt(a, b), gt(a, b), eq(a, b), g),
  eq: null,
  ne: null,
  lt: null,
  le: null,
  gt: null,
  ge: null,
} satisfies Record<string, GradRule | null>;

/** maximum/minimum's gradients from the masks where a wins, where b wins, and where they tie. */
function extremeSides(aWins: Tensor, bWins: Tensor, tie: Tensor, g: Tensor): Grads {
  const half = tie.mul(0.5);
  const unordered = sub(1, aWins.add(bWins).add(tie));
  return [g.mul(aWins.add(half).add(unordered)), g.mul(bWins.add(half).add(unordered))];
}

/** A binary op's name: a key of RULES, so a misspelt op does not compile. */
export type BinaryOpName = keyof typeof RULES;

function operands(ctx: BackwardContext<BinaryAttrs>): [Operand, Operand] {
  const { inputs, attrs } = ctx;
  if (attrs.aScalar !== undefined) return [attrs.aScalar, inputs[0]!];
  if (attrs.bScalar !== undefined) return [inputs[0]!, attrs.bScalar];
  return [inputs[0]!, inputs[1]!];
}

const DEFS = new Map<BinaryOpName, OpDef<BinaryAttrs>>();
for (const [name, rule] of Object.entries(RULES) as [BinaryOpName, GradRule | null][]) {
  DEFS.set(
    name,
    defineOp<BinaryAttrs>({
      name,
      backward: rule
        ? (ctx, g) => {
            const [a, b] = operands(ctx);
            const { aScalar, bScalar } = ctx.attrs;
            const want = [aScalar === undefined && ctx.needs[0]!, bScalar === undefined && ctx.needs[aScalar === undefined ? 1 : 0]!] as const;
            const [ga, gb] = rule(a, b, ctx.output, g, want);
            // Only tensor sides are inputs on the tape.
            if (ctx.attrs.aScalar !== undefined) return [gb];
            if (ctx.attrs.bScalar !== undefined) return [ga];
            return [ga, gb];
          }
        : undefined,
    }),
  );
}

function checkOperand(op: string, side: string, v: Operand): void {
  if (v instanceof Tensor) return;
  if (typeof v !== 'number') throw new Error(`${op}: ${side} must be a Tensor or a number, got ${v === null ? 'null' : typeof v}`);
}

export function binary(name: BinaryOpName, a: Operand, b: Operand): Tensor {
  const def = DEFS.get(name);
  if (!def) throw new Error(`binary: unknown op '${String(name)}' (valid: ${[...DEFS.keys()].join(', ')})`);
  checkOperand(name, 'the first operand', a);
  checkOperand(name, 'the second operand', b);
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) throw new Error(`${name}: at least one operand must be a Tensor, got two numbers`);
  const inputs = [a, b].filter((v): v is Tensor => v instanceof Tensor);
  const attrs: BinaryAttrs = typeof a === 'number' ? { aScalar: a } : typeof b === 'number' ? { bScalar: b } : {};
  return runOp(def, inputs, attrs, (rt) => {
    const shape = a instanceof Tensor && b instanceof Tensor ? broadcastShapes(name, a.shape, b.shape) : inputs[0]!.shape;
    checkRank(name, shape);
    // A bias row added to a pending matmul joins its dispatch (src/tensor/fusion/matmul-chain.ts).
    const folded = name === 'add' ? foldBiasAdd(rt, a, b, shape) : null;
    if (folded) return folded;
    const side = (v: Operand): BinaryOperand =>
      v instanceof Tensor ? { buffer: v.buffer, strides: broadcastStrides(v.shape, shape) } : { scalar: v };
    const broadcast = inputs.some((t) => !sameShape(t.shape, shape));
    const out = Tensor.empty(rt, shape, name);
    binaryKernel(rt, name, side(a), side(b), out.buffer, shape, broadcast);
    return out;
  });
}

export const add = (a: Operand, b: Operand): Tensor => binary('add', a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary('sub', a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary('mul', a, b);
export const div = (a: Operand, b: Operand): Tensor => binary('div', a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary('pow', a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary('maximum', a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binary('minimum', a, b);
export const eq = (a: Operand, b: Operand): Tensor => binary('eq', a, b);
export const ne = (a: Operand, b: Operand): Tensor => binary('ne', a, b);
export const lt = (a: Operand, b: Operand): Tensor => binary('lt', a, b);
export const le = (a: Operand, b: Operand): Tensor => binary('le', a, b);
export const gt = (a: Operand, b: Operand): Tensor => binary('gt', a, b);
export const ge = (a: Operand, b: Operand): Tensor => binary('ge', a, b);

const whereDef = defineOp<{ cond: Tensor }>({
  name: 'where',
  backward: ({ attrs }, g) => [where(attrs.cond, g, 0), where(attrs.cond, 0, g)],
});

/** Elementwise `cond != 0 ? a : b`, all three broadcast together; a or b may be numbers. */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  if (!(cond instanceof Tensor)) throw new Error(`where: cond must be a Tensor, got ${describeValue(cond)}`);
  checkOperand('where', 'a', a);
  checkOperand('where', 'b', b);
  const tensors = [cond, a, b].filter((v): v is Tensor => v instanceof Tensor);
  const rt = checkInputs('where', tensors);
  // Everything is validated before the constants for number operands are made, so a bad
  // call leaves nothing behind.
  const shape = broadcastShapes('where', ...[cond, a, b].map((v) => (v instanceof Tensor ? v.shape : [])));
  checkRank('where', shape);
  const ta = a instanceof Tensor ? a : full([], a, { device: rt });
  const tb = b instanceof Tensor ? b : full([], b, { device: rt });
  // cond is not differentiable, so it rides in attrs rather than the tape's inputs.
  const out = runOp(whereDef, [ta, tb], { cond }, () => {
    const result = Tensor.empty(rt, shape, 'where');
    const view = (t: Tensor) => ({ buffer: t.buffer, strides: broadcastStrides(t.shape, shape) });
    whereKernel(rt, view(cond), view(ta), view(tb), result.buffer, shape);
    return result;
  });
  // Constants made for number operands are only needed later if the tape saved them.
  if (!out.node) for (const [v, t] of [[a, ta], [b, tb]] as const) if (!(v instanceof Tensor)) t.dispose();
  return out;
}
