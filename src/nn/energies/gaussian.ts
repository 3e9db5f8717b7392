// GaussianEnergy, TorchEBM's formula (soran-ghaderi/torchebm, torchebm/core/base_model.py,
// GaussianModel / GaussianEnergy): E(x) = ½ (x − μ)ᵀ Σ⁻¹ (x − μ), with μ and Σ⁻¹ kept as
// buffers `mean` and `cov_inv` (TorchEBM's state-dict keys). Closed-form gradient:
// dE/dx = Σ⁻¹ (x − μ).
//
// Σ⁻¹ is computed once, at construction. From arrays (the usual case) it is inverted on the
// host in float64 (Gauss-Jordan with partial pivoting), which also rejects a singular Σ. From
// tensors, which cannot be read synchronously, it is inverted on the GPU with tensor ops
// (Gauss-Jordan without pivoting, sound for the symmetric positive-definite matrices a
// covariance is). Either way the stored Σ⁻¹ is symmetrised, ½ (Σ⁻¹ + Σ⁻ᵀ), which leaves the
// energy unchanged and makes the gradient exactly that of the energy.
import { concat, eye, keep, noGrad, tensor, tidy, Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { BaseEnergyFunction } from '../energy.js';
import { asBatch, closedForm } from './common.js';

const cls = 'GaussianEnergy';

/** Mean and covariance as arrays, or as tensors ([n] and [n, n]). */
export type VectorLike = Tensor | ArrayLike<number>;
export type MatrixLike = Tensor | ArrayLike<ArrayLike<number>> | ArrayLike<number>;

function hostVector(v: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(v as ArrayLike<number>);
  if (out.length === 0 || out.some((d) => !Number.isFinite(d))) throw new Error(`${cls}: mean must be a non-empty vector of finite numbers`);
  return out;
}

/** A square matrix from nested rows or a flat array of n² values, row-major. */
function hostMatrix(m: ArrayLike<ArrayLike<number>> | ArrayLike<number>, n: number): Float64Array {
  const rows = m as ArrayLike<unknown>;
  const out = new Float64Array(n * n);
  if (rows.length === n && typeof rows[0] === 'object' && rows[0] !== null) {
    for (let i = 0; i < n; i++) {
      const row = rows[i] as ArrayLike<number>;
      if (!row || typeof row !== 'object' || row.length !== n) throw new Error(`${cls}: cov must be ${n}x${n} to match the mean's ${n} dims; row ${i} has ${row?.length ?? 'no'} entries`);
      for (let j = 0; j < n; j++) out[i * n + j] = Number(row[j]);
    }
  } else if (rows.length === n * n && typeof rows[0] === 'number') {
    for (let k = 0; k < n * n; k++) out[k] = rows[k] as number;
  } else throw new Error(`${cls}: cov must be a ${n}x${n} matrix (nested rows or ${n * n} values, row-major) to match the mean's ${n} dims, got ${rows.length} entries`);
  if (out.some((d) => !Number.isFinite(d))) throw new Error(`${cls}: cov must hold finite numbers`);
  return out;
}

/** The inverse of the n x n matrix a (row-major), by Gauss-Jordan with partial pivoting, in float64. */
export function invertHost(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  let scale = 0;
  for (const v of a) scale = Math.max(scale, Math.abs(v));
  const tiny = scale * n * Number.EPSILON;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]!) > Math.abs(m[p * n + k]!)) p = i;
    const pivot = m[p * n + k]!;
    if (!(Math.abs(pivot) > tiny)) throw new Error(`${cls}: the covariance matrix is singular (or nearly so); it must be invertible`);
    if (p !== k)
      for (let j = 0; j < n; j++) {
        [m[k * n + j], m[p * n + j]] = [m[p * n + j]!, m[k * n + j]!];
        [inv[k * n + j], inv[p * n + j]] = [inv[p * n + j]!, inv[k * n + j]!];
      }
    for (let j = 0; j < n; j++) {
      m[k * n + j]! /= pivot;
      inv[k * n + j]! /= pivot;
    }
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const f = m[i * n + k]!;
      if (f === 0) continue;
      for (let j = 0; j < n; j++) {
        m[i * n + j]! -= f * m[k * n + j]!;
        inv[i * n + j]! -= f * inv[k * n + j]!;
      }
    }
  }
  return inv;
}

/** The inverse of an SPD matrix [n, n] on the GPU: Gauss-Jordan on [A | I] without pivoting. */
function invertDevice(a: Tensor): Tensor {
  const n = a.shape[0]!;
  return noGrad(() =>
    tidy(() => {
      const id = eye(n, n, { device: a.device });
      let m = concat([a.to('f32'), id], 1); // [n, 2n]
      for (let k = 0; k < n; k++) {
        const prev = m;
        m = tidy(() => {
          const row = prev.slice(0, k, k + 1); // [1, 2n]
          const pivotRow = row.div(row.slice(1, k, k + 1));
          // Every row minus its multiple of the pivot row; row k then becomes the pivot row.
          const eliminated = prev.sub(prev.slice(1, k, k + 1).mul(pivotRow));
          return eliminated.add(id.slice(1, k, k + 1).mul(pivotRow));
        });
        if (k > 0) prev.dispose();
      }
      return m.slice(1, n, 2 * n);
    }),
  );
}

export class GaussianEnergy extends BaseEnergyFunction {
  /** The dimension n. */
  readonly dim: number;

  /**
   * mean: [n] (an array or a tensor); cov: [n, n], an invertible (symmetric positive-definite)
   * covariance, as nested rows, n² row-major values, or a tensor. Tensors are copied.
   */
  constructor(mean: VectorLike, cov: MatrixLike) {
    super();
    let meanT: Tensor;
    let precision: Tensor;
    if (mean instanceof Tensor || cov instanceof Tensor) {
      if (!(mean instanceof Tensor) || !(cov instanceof Tensor)) throw new Error(`${cls}: give mean and cov both as arrays or both as tensors`);
      mean.assertAlive(cls);
      cov.assertAlive(cls);
      if (mean.rank !== 1 || mean.shape[0]! < 1) throw new Error(`${cls}: mean must be a vector [n], got shape ${fmt(mean.shape)}`);
      const n = mean.shape[0]!;
      if (cov.rank !== 2 || cov.shape[0] !== n || cov.shape[1] !== n)
        throw new Error(`${cls}: cov must be a square matrix [${n}, ${n}] matching the mean's shape [${n}], got shape ${fmt(cov.shape)}`);
      [meanT, precision] = noGrad(() =>
        tidy(() => {
          const p = invertDevice(cov);
          return [mean.to('f32').clone(), p.add(p.transpose()).mul(0.5)];
        }),
      );
    } else {
      if (mean === null || typeof mean !== 'object' || typeof (mean as ArrayLike<number>).length !== 'number') throw new Error(`${cls}: mean must be an array of numbers or a Tensor, got ${mean === null ? 'null' : typeof mean}`);
      if (cov === null || typeof cov !== 'object' || typeof (cov as ArrayLike<number>).length !== 'number') throw new Error(`${cls}: cov must be a matrix (nested arrays) or a Tensor, got ${cov === null ? 'null' : typeof cov}`);
      const mu = hostVector(mean);
      const n = mu.length;
      const inv = invertHost(hostMatrix(cov, n), n);
      const sym = new Float32Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sym[i * n + j] = 0.5 * (inv[i * n + j]! + inv[j * n + i]!);
      meanT = tensor(Float32Array.from(mu), [n]);
      precision = tensor(sym, [n, n]);
    }
    this.dim = meanT.shape[0]!;
    this.registerBuffer('mean', keep(meanT));
    this.registerBuffer('cov_inv', keep(precision));
  }

  /** μ, the buffer `mean`. */
  get mean(): Tensor {
    return this.getBuffer('mean');
  }

  /** Σ⁻¹ (symmetrised), the buffer `cov_inv`. */
  get covInv(): Tensor {
    return this.getBuffer('cov_inv');
  }

  override forward(x: Tensor): Tensor {
    const delta = asBatch(cls, x, { dim: this.dim }).sub(this.mean);
    return delta.mul(delta.matmul(this.covInv)).sum(-1).mul(0.5);
  }

  override gradient(x: Tensor): Tensor {
    return closedForm(cls, x, { dim: this.dim }, (xb) => xb.sub(this.mean).matmul(this.covInv));
  }

  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
