// GaussianNoise: the known noise distribution of noise-contrastive estimation, a Gaussian with
// a mean and a standard deviation per element (TorchEBM's GaussianNoise, scalar or diagonal):
//
//   log p_n(x) = -1/2 sum_i ((x_i - loc_i) / scale_i)^2 - sum_i log scale_i - d/2 log(2 pi),
//
// summed over every element of a sample. GaussianNoise.fit(data) takes the data's per-element
// mean and (population) std, as tensor reductions on the GPU: nothing is read back, so the
// noise can be fitted to a dataset and used at once.
import { keep, noGrad, randn, tensor, tidy, Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { describe } from '../samplers/options.js';
import { checkOptionKeys, numberOption } from './base.js';

const NAME = 'GaussianNoise';
const LOG_2PI = Math.log(2 * Math.PI);

export interface GaussianNoiseOptions {
  /** The mean: a number (every element) or a tensor of one sample's shape (default 0). */
  loc?: number | Tensor;
  /** The standard deviation, > 0: a number or a tensor of one sample's shape (default 1). */
  scale?: number | Tensor;
}

export interface GaussianNoiseFitOptions {
  /** Multiplies the fitted std (default 1); a wider noise covers the data's tails. */
  scaleFactor?: number;
  /** The smallest std kept (default 1e-3): a constant feature would give a zero std. */
  minScale?: number;
}

export class GaussianNoise {
  /** [d] (one sample's elements, flattened): the mean, or null for a scalar mean. */
  readonly loc: Tensor | null;
  /** [d]: the std, or null for a scalar std. */
  readonly scale: Tensor | null;
  readonly locValue: number;
  readonly scaleValue: number;

  constructor(opts: GaussianNoiseOptions = {}) {
    checkOptionKeys(NAME, opts, ['loc', 'scale']);
    const take = (name: 'loc' | 'scale', v: unknown, dflt: number): [Tensor | null, number] => {
      if (v === undefined) return [null, dflt];
      if (typeof v === 'number') {
        numberOption(NAME, name, v, name === 'scale' ? 0 : -Infinity, false);
        return [null, v];
      }
      if (!(v instanceof Tensor)) throw new Error(`${NAME}: ${name} must be a number or a Tensor, got ${describe(v)}`);
      v.assertAlive(NAME);
      if (v.dtype !== 'f32' || v.size < 1) throw new Error(`${NAME}: ${name} must be a non-empty f32 tensor, got ${v.dtype} ${fmt(v.shape)}`);
      return [keep(noGrad(() => v.reshape([v.size]).clone())), 0];
    };
    [this.loc, this.locValue] = take('loc', opts.loc, 0);
    [this.scale, this.scaleValue] = take('scale', opts.scale, 1);
    if (this.loc && this.scale && this.loc.size !== this.scale.size)
      throw new Error(`${NAME}: loc has ${this.loc.size} elements and scale ${this.scale.size}; give both one sample's shape`);
  }

  /**
   * The Gaussian with data's per-element mean and population std (times scaleFactor, at least
   * minScale): data [n >= 2, ...dim].
   */
  static fit(data: Tensor, opts: GaussianNoiseFitOptions = {}): GaussianNoise {
    const where = `${NAME}.fit`;
    checkOptionKeys(where, opts, ['scaleFactor', 'minScale']);
    if (!(data instanceof Tensor)) throw new Error(`${where}: data must be a Tensor [n, ...dim], got ${describe(data)}`);
    data.assertAlive(where);
    if (data.rank < 2 || data.shape[0]! < 2 || data.dtype !== 'f32') throw new Error(`${where}: data must be an f32 tensor [n >= 2, ...dim], got ${data.dtype} ${fmt(data.shape)}`);
    const factor = numberOption(where, 'scaleFactor', opts.scaleFactor ?? 1, 0, false);
    const minScale = numberOption(where, 'minScale', opts.minScale ?? 1e-3, 0, false);
    const [loc, scale] = noGrad(() =>
      tidy(() => {
        const flat = data.reshape([data.shape[0]!, data.size / data.shape[0]!]);
        return [flat.mean(0), flat.var(0, false, 0).sqrt().mul(factor).maximum(minScale)];
      }),
    );
    try {
      return new GaussianNoise({ loc, scale });
    } finally {
      loc!.dispose();
      scale!.dispose();
    }
  }

  /** Elements of one sample this noise is for, or null when loc and scale are scalars (any shape). */
  get size(): number | null {
    return (this.loc ?? this.scale)?.size ?? null;
  }

  private checkShape(where: string, sampleShape: readonly number[]): number {
    const d = sampleShape.reduce((a, b) => a * b, 1);
    if (this.size !== null && d !== this.size)
      throw new Error(`${where}: the noise has ${this.size} elements per sample, the samples ${fmt(sampleShape)} have ${d}`);
    return d;
  }

  /** n draws [n, ...sampleShape], seeded (the same seed, the same draws). */
  sample(n: number, sampleShape: readonly number[], opts: { seed?: number; device?: Tensor['device'] } = {}): Tensor {
    const d = this.checkShape(`${NAME}.sample`, sampleShape);
    return noGrad(() =>
      tidy(() => {
        const eps = randn([n, d], { seed: opts.seed, device: opts.device ?? this.loc?.device ?? this.scale?.device });
        const scaled = this.scale ? eps.mul(this.scale) : eps.mul(this.scaleValue);
        return (this.loc ? scaled.add(this.loc) : scaled.add(this.locValue)).reshape([n, ...sampleShape]);
      }),
    );
  }

  /** log p_n(x) per sample: [n] for x [n, ...dim]; differentiable in x. */
  logProb(x: Tensor): Tensor {
    const where = `${NAME}.logProb`;
    if (!(x instanceof Tensor)) throw new Error(`${where}: x must be a Tensor [n, ...dim], got ${describe(x)}`);
    x.assertAlive(where);
    if (x.rank < 2) throw new Error(`${where}: x must have shape [n, ...dim], got ${fmt(x.shape)}`);
    const n = x.shape[0]!;
    const d = this.checkShape(where, x.shape.slice(1));
    return tidy(() => {
      const flat = x.reshape([n, d]);
      const centred = this.loc ? flat.sub(this.loc) : flat.sub(this.locValue);
      const z = this.scale ? centred.div(this.scale) : centred.mul(1 / this.scaleValue);
      const logNorm = this.scale ? this.scale.log().sum().add(0.5 * d * LOG_2PI) : tensor([d * Math.log(this.scaleValue) + 0.5 * d * LOG_2PI], [1], { device: x.device }).reshape([]);
      return z.square().sum(1).mul(-0.5).sub(logNorm);
    });
  }

  /** The gradient of -log p_n at x: (x - loc) / scale^2, x's shape (an annealing path's base force). */
  energyGradient(x: Tensor): Tensor {
    const n = x.shape[0]!;
    const d = this.checkShape(`${NAME}.energyGradient`, x.shape.slice(1));
    return tidy(() => {
      const flat = x.reshape([n, d]);
      const centred = this.loc ? flat.sub(this.loc) : flat.sub(this.locValue);
      return (this.scale ? centred.div(this.scale.square()) : centred.mul(1 / (this.scaleValue * this.scaleValue))).reshape(x.shape);
    });
  }

  /** Frees the mean and std tensors. */
  dispose(): void {
    this.loc?.dispose();
    this.scale?.dispose();
  }
}
