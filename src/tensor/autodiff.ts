// Reverse mode: walk the tape once in reverse topological order from the output, calling each
// node's backward rule and accumulating gradients per tensor. Without createGraph the walk
// records nothing and frees each intermediate gradient as soon as it has been passed on; with
// it, the rules run with grad mode on, so the gradients carry a graph of their own.
import { checkOptions, describeValue, fmt, sameShape } from './shape.js';
import { sumToShape } from './ops/reduce.js';
import { keep, tidy } from './scope.js';
import { withGradMode } from './tape.js';
import { Tensor } from './tensor.js';
import { ones } from './ops/create.js';

export interface BackwardOptions {
  /** Record the backward pass so the gradients can be differentiated again. */
  createGraph?: boolean;
}

/** Tensors between `root` and the leaves, ordered so each comes after everything it feeds. */
function reverseTopo(root: Tensor, stopAt?: Set<Tensor>): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: deep chains (a long Langevin run under createGraph) must not overflow the stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node && !stopAt?.has(t) ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i]!;
      if (next.requiresGrad && !seen.has(next)) {
        if (next.isDisposed)
          throw new Error(`backward: ${next.describe()} was disposed, but the graph of ${root.describe()} goes through it; dispose intermediates after backward() (or tidy the whole step)`);
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/**
 * Runs backward from `root` with seed gradient `seed`. With `inputs`, returns their gradients
 * and leaves every .grad untouched; without, accumulates into the .grad of every leaf.
 */
export function runBackward(root: Tensor, seed: Tensor | undefined, opts: BackwardOptions & { inputs?: readonly Tensor[] } = {}): (Tensor | null)[] {
  root.assertAlive('backward');
  if (!root.requiresGrad) throw new Error(`backward: ${root.describe()} does not require grad (no input of the computation has requiresGrad)`);
  if (seed === undefined && root.size !== 1)
    throw new Error(`backward: ${root.describe()} is not a scalar; pass a gradient of shape ${fmt(root.shape)}`);
  if (seed !== undefined) {
    seed.assertAlive('backward');
    if (!sameShape(seed.shape, root.shape)) throw new Error(`backward: the gradient has shape ${fmt(seed.shape)} but the output has shape ${fmt(root.shape)}`);
    if (seed.device !== root.device) throw new Error('backward: the gradient is on a different device than the output');
  }
  const createGraph = opts.createGraph ?? false;
  const wanted = opts.inputs ? new Set(opts.inputs) : null;
  opts.inputs?.forEach((t, i) => {
    t.assertAlive('grad');
    if (!t.requiresGrad) throw new Error(`grad: input ${i} (${t.describe()}) does not require grad`);
  });
  const order = reverseTopo(root, wanted ?? undefined);
  // With chosen inputs, only tensors from which a chosen input can be reached need a gradient:
  // a sampler's grad with respect to x never computes the parameters' gradients.
  const reaches = new Set<Tensor>();
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i]!;
    if (!wanted || wanted.has(t) || (t.node && t.node.inputs.some((u) => reaches.has(u)))) reaches.add(t);
  }
  const needed = (t: Tensor) => t.requiresGrad && reaches.has(t);
  // Pending gradient per tensor. One gradient object may sit in several slots (add passes g
  // to both inputs), so slots are counted before a gradient this walk made is freed.
  const grads = new Map<Tensor, Tensor>();
  const slots = new Map<Tensor, number>();
  const owned = new Set<Tensor>();
  const put = (t: Tensor, g: Tensor) => {
    grads.set(t, g);
    slots.set(g, (slots.get(g) ?? 0) + 1);
  };
  const drop = (t: Tensor) => {
    const g = grads.get(t)!;
    grads.delete(t);
    const n = slots.get(g)! - 1;
    slots.set(g, n);
    if (n === 0 && owned.has(g) && !createGraph) g.dispose();
  };
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    if (!prev) return put(t, g);
    const total = prev.add(g);
    owned.add(total);
    drop(t);
    put(t, total);
    if (!slots.get(g) && owned.has(g) && !createGraph) g.dispose();
  };
  const initial = seed ?? ones(root.shape, { device: root.device });
  if (!seed) owned.add(initial);
  put(root, initial);

  withGradMode(createGraph, () => {
    for (const t of order) {
      const g = grads.get(t);
      if (!g || !t.node || wanted?.has(t)) continue;
      const { op, inputs, attrs, saved } = t.node;
      const needs = inputs.map(needed);
      const rule = () => {
        const out = op.backward!({ inputs, output: t, attrs, needs, saved }, g);
        // Fold broadcast gradients back onto each input's shape, in the same scope.
        return out.map((gi, i) => (gi && needs[i] ? sumToShape(gi, inputs[i]!.shape) : null));
      };
      // Without a graph to keep, everything a rule makes except its results is scratch.
      const inGrads = createGraph ? rule() : tidy(rule);
      for (const gi of inGrads) if (gi && gi !== g) owned.add(gi);
      // Hold g while its results are filed: a rule may pass g itself on.
      slots.set(g, slots.get(g)! + 1);
      drop(t);
      inGrads.forEach((gi, i) => gi && accumulate(inputs[i]!, gi));
      grads.set(t, g);
      drop(t);
    }
  });

  if (wanted) return opts.inputs!.map((t) => grads.get(t) ?? null);
  for (const [t, g] of grads) {
    if (t.node) continue;
    // Leaves accumulate into .grad, which outlives any tidy scope it was made in. The user's
    // seed is copied rather than adopted.
    const total = t.grad ? t.grad.add(g) : owned.has(g) ? g : g.mul(1);
    if (t.grad) t.grad.dispose();
    t.grad = keep(total);
    if (total !== g) {
      grads.set(t, g);
      drop(t);
    }
  }
  return [];
}

/**
 * x.backward(gradient?, { createGraph }), or x.backward({ createGraph }): PyTorch users pass
 * keyword arguments, which in JavaScript arrive as an options object in the first position.
 */
export function backward(root: Tensor, gradient?: Tensor | BackwardOptions | null, opts?: BackwardOptions): void {
  if (!(root instanceof Tensor)) throw new Error(`backward: expected a Tensor, got ${describeValue(root)}`);
  if (gradient !== undefined && gradient !== null && !(gradient instanceof Tensor)) {
    if (typeof gradient !== 'object' || Array.isArray(gradient) || opts !== undefined)
      throw new Error(`backward: gradient must be a Tensor of shape ${fmt(root.shape)} (or omitted for a scalar; options go in { createGraph }), got ${describeValue(gradient)}`);
    [gradient, opts] = [undefined, gradient];
  }
  checkOptions('backward', opts, BACKWARD_KEYS);
  if (opts?.createGraph !== undefined && typeof opts.createGraph !== 'boolean')
    throw new Error(`backward: createGraph must be a boolean, got ${describeValue(opts.createGraph)}`);
  runBackward(root, gradient ?? undefined, opts ?? {});
}

const BACKWARD_KEYS = ['createGraph'] as const;

export interface GradOptions extends BackwardOptions {
  /** Which positional arguments to differentiate with respect to (default 0). */
  argnums?: number | readonly number[];
}

/**
 * valueAndGrad(f)(...args) -> [f(...args), gradient(s)]: gradients of a scalar f with respect
 * to the chosen tensor arguments, without touching any .grad (closed-over parameters included).
 */
export function valueAndGrad<A extends unknown[]>(f: (...args: A) => Tensor, opts?: GradOptions & { argnums?: number }): (...args: A) => [Tensor, Tensor];
export function valueAndGrad<A extends unknown[]>(f: (...args: A) => Tensor, opts: GradOptions & { argnums: readonly number[] }): (...args: A) => [Tensor, Tensor[]];
export function valueAndGrad<A extends unknown[]>(f: (...args: A) => Tensor, opts: GradOptions = {}) {
  if (typeof f !== 'function') throw new Error(`grad: f must be a function returning a scalar Tensor, got ${describeValue(f)}`);
  checkOptions('grad', opts, [...BACKWARD_KEYS, 'argnums']);
  const argnumsOk = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
  if (opts.argnums !== undefined && !(argnumsOk(opts.argnums) || (Array.isArray(opts.argnums) && opts.argnums.every(argnumsOk))))
    throw new Error(`grad: argnums must be a non-negative integer or an array of them, got ${describeValue(opts.argnums)}`);
  return (...args: A): [Tensor, Tensor | Tensor[]] => {
    const argnums = opts.argnums ?? 0;
    const list = typeof argnums === 'number' ? [argnums] : [...argnums];
    const callArgs = [...args] as unknown[];
    const views: Tensor[] = [];
    const inputs = list.map((i) => {
      const x = callArgs[i];
      if (!(x instanceof Tensor)) throw new Error(`grad: argument ${i} must be a Tensor, got ${x === null ? 'null' : typeof x}`);
      x.assertAlive('grad');
      if (x.requiresGrad) return x; // already part of a graph (a nested grad): differentiate through it
      // A fresh leaf over the argument's data, so the caller's tensor is left as it was.
      const v = x.share(x.shape);
      v.requiresGrad = true;
      views.push(v);
      callArgs[i] = v;
      return v;
    });
    let ok = false;
    try {
      const value = f(...(callArgs as A));
      if (!(value instanceof Tensor)) throw new Error('grad: the function must return a Tensor');
      if (value.size !== 1) throw new Error(`grad: the function must return a scalar, got shape ${fmt(value.shape)}`);
      const grads = value.requiresGrad ? runBackward(value, undefined, { createGraph: opts.createGraph, inputs }) : inputs.map(() => null);
      const out = grads.map((g, i) => g ?? withGradMode(false, () => inputs[i]!.mul(0)));
      ok = true;
      return [value, typeof argnums === 'number' ? out[0]! : out];
    } finally {
      // Without a graph (or after a failure) nothing refers to the leaf views any more.
      if (!ok || !opts.createGraph) for (const v of views) v.dispose();
    }
  };
}

/** grad(f)(...args): the gradient of a scalar f with respect to argument 0 (or `argnums`). */
export function grad<A extends unknown[]>(f: (...args: A) => Tensor, opts?: GradOptions & { argnums?: number }): (...args: A) => Tensor;
export function grad<A extends unknown[]>(f: (...args: A) => Tensor, opts: GradOptions & { argnums: readonly number[] }): (...args: A) => Tensor[];
export function grad<A extends unknown[]>(f: (...args: A) => Tensor, opts: GradOptions = {}) {
  const vg = valueAndGrad(f, opts as GradOptions & { argnums?: number });
  return (...args: A): Tensor | Tensor[] => {
    const [value, g] = vg(...args);
    if (!opts.createGraph && !args.includes(value)) value.dispose();
    return g;
  };
}
