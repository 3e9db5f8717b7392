// Shared by the analytic energies: the input check (x is [batch, n], or one sample [n] that is
// treated as a batch of one, as TorchEBM does) and the closed-form gradient wrapper (no tape,
// no temporaries left, the result shaped like x).
import { noGrad, tidy, Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';


/**
 * x as [batch, n]: a rank-1 x is one sample (a view of it). Throws, naming the expected and
 * received shapes, unless the rank is 1 or 2 and n is `dim` (when given) or at least `minDim`.
 */
export function asBatch(cls: string, x: unknown, opts: { dim?: number; minDim?: number } = {}): Tensor {
  checkBatch(cls, x, opts);
  return x.rank === 1 ? x.unsqueeze(0) : x;
}

/** asBatch's check alone: makes no tensor. */
export function checkBatch(cls: string, x: unknown, opts: { dim?: number; minDim?: number } = {}): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new Error(`${cls}: expected a Tensor input, got ${x === null ? 'null' : typeof x}`);
  x.assertAlive(cls);
  const n = x.shape[x.rank - 1];
  const nName = opts.dim ?? (opts.minDim && opts.minDim > 1 ? `n >= ${opts.minDim}` : 'n');
  const bad = (x.rank !== 1 && x.rank !== 2) || n === undefined || (opts.dim !== undefined && n !== opts.dim) || n < (opts.minDim ?? 1) || (x.rank === 2 && x.shape[0]! < 1);
  if (bad) throw new Error(`${cls}: expected input of shape [batch, ${nName}] (or one sample [${nName}]), got ${fmt(x.shape)}`);
}

/**
 * A closed-form gradient: checks x as asBatch does, then runs fn on x as [batch, n] off the
 * tape, keeping only its result, shaped like x.
 */
export function closedForm(cls: string, x: Tensor, opts: { dim?: number; minDim?: number }, fn: (xb: Tensor) => Tensor): Tensor {
  checkBatch(cls, x, opts);
  return noGrad(() =>
    tidy(() => {
      const g = fn(x.rank === 1 ? x.unsqueeze(0) : x);
      return g.rank === x.rank ? g : g.reshape(x.shape);
    }),
  );
}

export function checkFinite(cls: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${cls}: ${name} must be a finite number, got ${String(v)}`);
}

export function checkOpts(cls: string, opts: unknown, fields: string): asserts opts is object {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new Error(`${cls}: expected an options object { ${fields} }, got ${opts === null ? 'null' : Array.isArray(opts) ? 'an array' : typeof opts}`);
}
