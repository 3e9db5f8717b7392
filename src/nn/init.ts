// torch.nn.init, the TypeScript way: each initialiser overwrites a tensor in place (assign) with
// values drawn on the GPU, from `seed` when given (same seed, same values) or else from the
// global generator (see manualSeed), with PyTorch's distributions, gains and fan computations.
// orthogonal_ orthonormalises a Gaussian matrix on the GPU with tensor ops (classical
// Gram-Schmidt, run twice per row), which is the sign-corrected QR that PyTorch uses.
import { concat, full, matmulT, noGrad, rand, randn, tidy, Tensor } from '../tensor/index.js';
import { fmt } from '../tensor/shape.js';

export interface SeedOptions {
  /** Same seed, same values. Without one, the global generator advances. */
  seed?: number;
}

/** PyTorch's nonlinearity names (camelCase spellings of the two-word ones are accepted too). */
export type Nonlinearity =
  | 'linear'
  | 'identity'
  | 'conv1d'
  | 'conv2d'
  | 'conv3d'
  | 'conv_transpose1d'
  | 'conv_transpose2d'
  | 'conv_transpose3d'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'leaky_relu'
  | 'leakyRelu'
  | 'selu';

export type FanMode = 'fan_in' | 'fan_out' | 'fanIn' | 'fanOut';

export interface KaimingOptions extends SeedOptions {
  /** leaky_relu's negative slope (default 0; torch's `a`). */
  a?: number;
  /** 'fan_in' (default) keeps the forward variance, 'fan_out' the backward's. */
  mode?: FanMode;
  /** Default 'leaky_relu', as in torch. */
  nonlinearity?: Nonlinearity;
}

const LINEAR_LIKE = new Set(['linear', 'identity', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d', 'convTranspose1d', 'convTranspose2d', 'convTranspose3d', 'sigmoid']);

/**
 * torch.nn.init.calculate_gain: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
 * sqrt(2 / (1 + slope²)) for leaky_relu (slope default 0.01), 3/4 for selu.
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  if (LINEAR_LIKE.has(nonlinearity)) return 1;
  switch (nonlinearity) {
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
    case 'leakyRelu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope)) throw new Error(`calculateGain: negative_slope ${String(param)} is not a valid number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}' (valid: linear, conv1d, conv2d, conv3d, conv_transpose1d/2d/3d, sigmoid, tanh, relu, leaky_relu, selu)`);
  }
}

/**
 * torch's _calculate_fan_in_and_fan_out: for a weight [out, in, ...kernel], fanIn = in * prod(kernel)
 * and fanOut = out * prod(kernel). Needs rank >= 2.
 */
export function calculateFanInAndFanOut(t: Tensor | readonly number[]): { fanIn: number; fanOut: number } {
  const shape = t instanceof Tensor ? t.shape : t;
  if (shape.length < 2) throw new Error(`init: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape ${fmt(shape)})`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

function fan(op: string, t: Tensor, mode: FanMode): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  if (mode === 'fan_in' || mode === 'fanIn') return fanIn;
  if (mode === 'fan_out' || mode === 'fanOut') return fanOut;
  throw new Error(`${op}: mode must be 'fan_in' or 'fan_out', got ${JSON.stringify(mode)}`);
}

function checkTarget(op: string, t: Tensor): void {
  if (!(t instanceof Tensor)) throw new Error(`${op}: expected a Tensor to initialise, got ${t === null ? 'null' : typeof t}`);
  t.assertAlive(op);
  if (t.node) throw new Error(`${op}: ${t.describe()} is the result of a recorded op; initialise a leaf (a Parameter or a fresh tensor)`);
}

function checkNumber(op: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${op}: ${name} must be a finite number, got ${String(v)}`);
}

function checkOpts(op: string, opts: SeedOptions): void {
  if (opts === null || typeof opts !== 'object') throw new Error(`${op}: options must be an object, got ${opts === null ? 'null' : typeof opts}`);
}

/** Writes make()'s values (made outside any tape, cast to t's dtype) into t; returns t. */
function write(t: Tensor, make: () => Tensor): Tensor {
  if (t.size === 0) return t;
  noGrad(() =>
    tidy(() => {
      const v = make();
      t.assign(v.dtype === t.dtype ? v : v.to(t.dtype));
    }),
  );
  return t;
}

/** U(a, b), in place. */
export function uniform_(t: Tensor, a = 0, b = 1, opts: SeedOptions = {}): Tensor {
  checkTarget('uniform_', t);
  checkNumber('uniform_', 'a', a);
  checkNumber('uniform_', 'b', b);
  checkOpts('uniform_', opts);
  if (a > b) throw new Error(`uniform_: a (${a}) must not exceed b (${b})`);
  return write(t, () => rand(t.shape, { low: a, high: b, seed: opts.seed, device: t.device }));
}

/** N(mean, std²), in place. */
export function normal_(t: Tensor, mean = 0, std = 1, opts: SeedOptions = {}): Tensor {
  checkTarget('normal_', t);
  checkNumber('normal_', 'mean', mean);
  checkNumber('normal_', 'std', std);
  checkOpts('normal_', opts);
  if (std < 0) throw new Error(`normal_: std must be >= 0, got ${std}`);
  return write(t, () => randn(t.shape, { mean, std, seed: opts.seed, device: t.device }));
}

/** Fills with `value`, in place. */
export function constant_(t: Tensor, value: number): Tensor {
  checkTarget('constant_', t);
  checkNumber('constant_', 'value', value);
  return write(t, () => full(t.shape, value, { device: t.device }));
}

export function zeros_(t: Tensor): Tensor {
  checkTarget('zeros_', t);
  return write(t, () => full(t.shape, 0, { device: t.device }));
}

export function ones_(t: Tensor): Tensor {
  checkTarget('ones_', t);
  return write(t, () => full(t.shape, 1, { device: t.device }));
}

/** Glorot: U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)), in place. */
export function xavierUniform_(t: Tensor, gain = 1, opts: SeedOptions = {}): Tensor {
  checkTarget('xavierUniform_', t);
  checkNumber('xavierUniform_', 'gain', gain);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const bound = Math.sqrt(3) * gain * Math.sqrt(2 / (fanIn + fanOut));
  return uniform_(t, -bound, bound, opts);
}

/** Glorot: N(0, std²) with std = gain * sqrt(2 / (fanIn + fanOut)), in place. */
export function xavierNormal_(t: Tensor, gain = 1, opts: SeedOptions = {}): Tensor {
  checkTarget('xavierNormal_', t);
  checkNumber('xavierNormal_', 'gain', gain);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), opts);
}

function kaimingStd(op: string, t: Tensor, opts: KaimingOptions): number {
  checkTarget(op, t);
  checkOpts(op, opts);
  const { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu' } = opts;
  checkNumber(op, 'a', a);
  return calculateGain(nonlinearity, a) / Math.sqrt(fan(op, t, mode));
}

/** He: U(-bound, bound) with bound = sqrt(3) * gain / sqrt(fan), in place (torch's defaults: a = 0, fan_in, leaky_relu). */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const std = kaimingStd('kaimingUniform_', t, opts);
  if (t.size === 0) return t;
  const bound = Math.sqrt(3) * std;
  return uniform_(t, -bound, bound, { seed: opts.seed });
}

/** He: N(0, std²) with std = gain / sqrt(fan), in place. */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const std = kaimingStd('kaimingNormal_', t, opts);
  if (t.size === 0) return t;
  return normal_(t, 0, std, { seed: opts.seed });
}

/**
 * A (semi-)orthogonal matrix, times gain, in place. t is read as [rows, cols] = [shape[0],
 * product of the rest] (conv weights included); the result Q has QᵀQ = I when rows >= cols and
 * QQᵀ = I when rows < cols. Like torch: a Gaussian matrix's QR with R's diagonal made positive,
 * so Q is Haar-distributed. Runs on the GPU: the min(rows, cols) Gaussian vectors are
 * orthonormalised one at a time by Gram-Schmidt against the ones before (twice, which keeps
 * f32 orthogonality at rounding level), a handful of dispatches per row.
 */
export function orthogonal_(t: Tensor, gain = 1, opts: SeedOptions = {}): Tensor {
  checkTarget('orthogonal_', t);
  checkNumber('orthogonal_', 'gain', gain);
  checkOpts('orthogonal_', opts);
  if (t.rank < 2) throw new Error(`orthogonal_: only tensors with 2 or more dimensions are supported, got shape ${fmt(t.shape)}`);
  if (t.size === 0) return t;
  const rows = t.shape[0]!;
  const cols = t.size / rows;
  const k = Math.min(rows, cols);
  const n = Math.max(rows, cols);
  return write(t, () => {
    // k independent Gaussian vectors of length n; their span's orthonormal basis, in order.
    const g = randn([k, n], { seed: opts.seed, device: t.device });
    let q: Tensor | null = null;
    for (let i = 0; i < k; i++) {
      const prev: Tensor | null = q;
      const next: Tensor = tidy(() => {
        let a = g.slice(0, i, i + 1); // [1, n]
        if (prev)
          for (let pass = 0; pass < 2; pass++) {
            const c = matmulT(a, prev, false, true); // [1, i]: projections on the basis so far
            a = a.sub(matmulT(c, prev)); // minus their components
          }
        const row = a.div(a.square().sum().sqrt());
        return prev ? concat([prev, row], 0) : row;
      });
      prev?.dispose();
      q = next;
    }
    // q [k, n] has orthonormal rows. Wide: that is the matrix; tall: its transpose.
    const m = rows < cols ? q! : q!.transpose();
    return (gain === 1 ? m : m.mul(gain)).reshape(t.shape);
  });
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A seed for stream `stream` derived from `seed` (a layer's bias draws from deriveSeed(seed, 1)
 * so it does not repeat the weight's numbers); undefined stays undefined (the global generator).
 */
export function deriveSeed(seed: number | undefined, stream: number): number | undefined {
  if (seed === undefined) return undefined;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const a = mix32(lo ^ mix32((stream + 0x9e3779b9) >>> 0));
  const b = mix32(hi ^ a ^ 0x632be5ab) & 0x1fffff;
  return b * 2 ** 32 + a;
}
