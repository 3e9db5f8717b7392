// TorchEBM's 2-D toy datasets (torchebm.datasets.generators), made on the GPU in one dispatch
// each from Philox (shaders/datasets.wgsl), with TorchEBM's parameters and defaults:
//
//   makeDataset('eight-gaussians', { nSamples: 2000, seed: 0 })  ->  Tensor [2000, 2]
//
// Same seed and options, same data, on any device. Rows come shuffled (TorchEBM shuffles its
// mixtures; here every sampled dataset is, so any slice is a fair minibatch); the mixture and
// pinwheel splits are TorchEBM's exact ones. 'grid' keeps meshgrid order unless shuffle is set.
// Image datasets (MNIST by name, users' .npy / .safetensors files) load asynchronously instead:
// IMAGE_DATASETS and loadImageDataset in image-data.ts, loadMnist in datasets/mnist.ts.
import { deriveSeed } from '../nn/init.js';
import { getDevice, noGrad, tidy, type Runtime, type Tensor } from '../tensor/index.js';
import { toyDataset } from '../tensor/ops/fused/index.js';
import { rejectUnknownKeys } from './options.js';

/** The dataset names, for the CLI and for iteration. */
export const DATASETS = ['gaussian-mixture', 'eight-gaussians', 'two-moons', 'swiss-roll', 'circle', 'checkerboard', 'pinwheel', 'grid'] as const;
export type DatasetName = (typeof DATASETS)[number];

export interface DatasetOptions {
  /** Points to make (default 2000, as TorchEBM). 'grid' has nSamplesPerDim^2 instead. */
  nSamples?: number;
  /** Same seed, same data. Without one, each call makes new data. */
  seed?: number;
  /** Random row order (default true; 'grid': false). */
  shuffle?: boolean;
  device?: Runtime;
}

/** Each dataset's own options, TorchEBM's names in camelCase. */
export interface DatasetParams {
  'gaussian-mixture': { nComponents?: number; std?: number; radius?: number };
  'eight-gaussians': { std?: number; scale?: number };
  'two-moons': { noise?: number };
  'swiss-roll': { noise?: number; arclength?: number };
  circle: { noise?: number; radius?: number };
  checkerboard: { rangeLimit?: number; noise?: number };
  pinwheel: { nClasses?: number; noise?: number; radialScale?: number; angularScale?: number; spiralScale?: number };
  grid: { nSamplesPerDim?: number; rangeLimit?: number; noise?: number };
}

type Check = 'count' | 'nonNegative' | 'positive' | 'real';

interface Spec {
  /** The kernel's DS_<kind>. */
  kind: string;
  /** Option -> [default, check]. */
  params: Record<string, [number, Check]>;
  /** Components / classes / points per side, from the checked options. */
  k?: (o: Record<string, number>) => number;
  /** The kernel's float parameters a..d, in the order datasets.wgsl reads them. */
  floats: (o: Record<string, number>) => number[];
  /** The additive Gaussian noise's std. */
  noise: (o: Record<string, number>) => number;
  /** Set when the dataset fixes its own size. */
  size?: (o: Record<string, number>) => number;
  shuffle?: boolean;
  /** Whole-set post-processing (swiss roll's centring and scaling). */
  post?: (t: Tensor) => Tensor;
  minSamples?: number;
}

const SPECS: Record<DatasetName, Spec> = {
  'gaussian-mixture': {
    kind: 'gaussian_mixture',
    params: { nComponents: [8, 'count'], std: [0.05, 'nonNegative'], radius: [1, 'real'] },
    k: (o) => o.nComponents!,
    floats: (o) => [o.radius!],
    noise: (o) => o.std!,
  },
  'eight-gaussians': {
    kind: 'eight_gaussians',
    params: { std: [0.02, 'nonNegative'], scale: [2, 'real'] },
    floats: (o) => [o.scale!],
    noise: (o) => o.std!,
  },
  'two-moons': { kind: 'two_moons', params: { noise: [0.05, 'nonNegative'] }, floats: () => [], noise: (o) => o.noise! },
  'swiss-roll': {
    kind: 'swiss_roll',
    params: { noise: [0.05, 'nonNegative'], arclength: [3, 'real'] },
    floats: (o) => [o.arclength!],
    noise: (o) => o.noise!,
    // TorchEBM: (x - mean) / (2 * mean of the per-axis std), std with Bessel's correction.
    post: (t) => t.sub(t.mean(0, true)).div(t.var(0, true).sqrt().mean().mul(2)),
    minSamples: 2,
  },
  circle: { kind: 'circle', params: { noise: [0.05, 'nonNegative'], radius: [1, 'real'] }, floats: (o) => [o.radius!], noise: (o) => o.noise! },
  checkerboard: {
    kind: 'checkerboard',
    params: { rangeLimit: [4, 'positive'], noise: [0.01, 'nonNegative'] },
    floats: (o) => [o.rangeLimit!],
    noise: (o) => o.noise!,
  },
  pinwheel: {
    kind: 'pinwheel',
    params: { nClasses: [5, 'count'], noise: [0.05, 'nonNegative'], radialScale: [2, 'real'], angularScale: [0.1, 'nonNegative'], spiralScale: [5, 'real'] },
    k: (o) => o.nClasses!,
    floats: (o) => [o.radialScale!, o.angularScale!, o.spiralScale!],
    noise: (o) => o.noise!,
  },
  grid: {
    kind: 'grid',
    params: { nSamplesPerDim: [10, 'count'], rangeLimit: [1, 'real'], noise: [0.01, 'nonNegative'] },
    k: (o) => o.nSamplesPerDim!,
    floats: (o) => [o.rangeLimit!],
    noise: (o) => o.noise!,
    size: (o) => o.nSamplesPerDim! ** 2,
    shuffle: false,
  },
};

const COMMON = ['nSamples', 'seed', 'shuffle', 'device'];
const UNSEEDED = 0xda7a5e7;
let unseededCalls = 0;

function checked(where: string, name: string, v: unknown, check: Check): number {
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (check === 'count' ? Number.isInteger(v) && v >= 1 : check === 'positive' ? v > 0 : check === 'nonNegative' ? v >= 0 : true);
  const want = { count: 'an integer >= 1', positive: 'a finite number > 0', nonNegative: 'a finite number >= 0', real: 'a finite number' }[check];
  if (!ok) throw new Error(`${where}: ${name} must be ${want}, got ${typeof v === 'number' ? v : JSON.stringify(v) ?? typeof v}`);
  return v as number;
}

/** The options a dataset takes, with TorchEBM's defaults. */
export function datasetDefaults(name: DatasetName): Record<string, number> {
  return Object.fromEntries(Object.entries(SPECS[name].params).map(([k, [d]]) => [k, d]));
}

/** Makes dataset `name` as a Tensor [n, 2] on the GPU. */
export function makeDataset<N extends DatasetName>(name: N, opts: DatasetOptions & DatasetParams[N] = {} as DatasetOptions & DatasetParams[N]): Tensor {
  const spec = SPECS[name as DatasetName];
  if (!spec) throw new Error(`makeDataset: unknown dataset ${JSON.stringify(name)} (known: ${DATASETS.join(', ')})`);
  const where = `makeDataset('${name}')`;
  if (opts === null || typeof opts !== 'object') throw new Error(`${where}: options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const known = [...COMMON, ...Object.keys(spec.params)];
  rejectUnknownKeys(where, opts, known);
  const given = opts as Record<string, unknown>;
  const o: Record<string, number> = {};
  for (const [k, [d, check]] of Object.entries(spec.params)) o[k] = checked(where, k, given[k] ?? d, check);

  if (spec.size && opts.nSamples !== undefined) throw new Error(`${where}: the size is nSamplesPerDim^2; set nSamplesPerDim instead of nSamples`);
  const n = spec.size ? spec.size(o) : checked(where, 'nSamples', opts.nSamples ?? 2000, 'count');
  if (n < (spec.minSamples ?? 1)) throw new Error(`${where}: nSamples must be at least ${spec.minSamples} (it is normalised by its own std), got ${n}`);
  if (opts.shuffle !== undefined && typeof opts.shuffle !== 'boolean') throw new Error(`${where}: shuffle must be a boolean, got ${JSON.stringify(opts.shuffle)}`);
  if (opts.seed !== undefined && (!Number.isSafeInteger(opts.seed) || opts.seed < 0)) throw new Error(`${where}: seed must be a non-negative safe integer, got ${opts.seed}`);
  const seed = opts.seed ?? deriveSeed(UNSEEDED, unseededCalls++)!;

  const rt = opts.device ?? getDevice();
  return noGrad(() =>
    tidy(() => {
      const raw = toyDataset(
        rt,
        {
          kind: spec.kind,
          n,
          key: { lo: seed >>> 0, hi: Math.floor(seed / 2 ** 32) >>> 0 },
          k: spec.k?.(o) ?? 8,
          shuffle: opts.shuffle ?? spec.shuffle ?? true,
          floats: spec.floats(o),
          noise: spec.noise(o),
        },
        name,
      );
      return spec.post ? spec.post(raw) : raw;
    }),
  );
}
