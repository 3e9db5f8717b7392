// Users' own images: a .npy or .safetensors file holding [N, C, H, W] float32 (or float64, .npy)
// or uint8, read into an f32 image tensor in the range the image recipe samples in, [-1, 1]:
// uint8 bytes p map to p / 127.5 - 1 (as loadMnist's digits), floats are taken as they are and
// must already lie in [-1, 1]. Anything else is an error naming the file, what it holds and
// what is allowed. `loadImageDataset` is the one entry for a dataset name ('mnist') or a path.
import { parseSafetensors, toFloat32, type RawTensor } from '../nn/safetensors-format.js';
import { readSource } from '../nn/checkpoint-io.js';
import { keep, noGrad, tensor, type Runtime, type Tensor } from '../tensor/index.js';
import { describe } from './samplers/options.js';
import { rejectUnknownKeys } from './options.js';
import { parseNpy } from './npy.js';
import { loadMnist, PIXEL_RANGES, type MnistSplit } from './datasets/mnist.js';

/** The image datasets known by name (anything else is a path to a .npy or .safetensors file). */
export const IMAGE_DATASETS = ['mnist'] as const;
export type ImageDatasetName = (typeof IMAGE_DATASETS)[number];

export interface LoadImagesOptions {
  /** The file's name for messages (default: the path, or 'the image file' for bytes). */
  name?: string;
  /** 'npy' or 'safetensors' (default: from the name's extension). */
  format?: 'npy' | 'safetensors';
  /** The safetensors tensor to read (default: 'images', or the file's only tensor). */
  key?: string;
  device?: Runtime;
}

export interface ImageSet {
  /** [N, C, H, W] f32 in `range`; the caller owns it. */
  images: Tensor;
  /** Labels, when the source has them (MNIST). */
  labels?: Uint8Array;
  range: { min: number; max: number };
}

const RANGE = PIXEL_RANGES.signed;
const ALLOWED = 'an [N, C, H, W] array of float32 or uint8 (float64 too in .npy)';

/** Reads images from a .npy or .safetensors file (a path in Node) or its bytes. */
export async function loadImages(source: string | Uint8Array | ArrayBuffer | Blob, opts: LoadImagesOptions = {}): Promise<ImageSet> {
  if (opts === null || typeof opts !== 'object') throw new Error(`loadImages: options must be an object, got ${describe(opts)}`);
  rejectUnknownKeys('loadImages', opts, ['name', 'format', 'key', 'device']);
  const name = opts.name ?? (typeof source === 'string' ? source : 'the image file');
  const format = opts.format ?? (/\.npy$/i.test(name) ? 'npy' : /\.safetensors$/i.test(name) ? 'safetensors' : undefined);
  if (format !== 'npy' && format !== 'safetensors')
    throw new Error(`loadImages: ${name}: cannot tell the format; images load from .npy or .safetensors files (or pass { format: 'npy' | 'safetensors' })`);
  const bytes = await readSource(source, 'loadImages');
  const { shape, values, dtype } = format === 'npy' ? fromNpy(bytes, name) : fromSafetensors(bytes, name, opts.key);
  if (shape.length !== 4 || shape.some((d) => d < 1))
    throw new Error(`${name}: holds a ${dtype} array of shape [${shape.join(', ')}]; expected ${ALLOWED} with every dimension >= 1`);
  let floats: Float32Array;
  if (values instanceof Uint8Array) {
    floats = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) floats[i] = values[i]! / 127.5 - 1;
  } else {
    floats = values;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < floats.length; i++) {
      const v = floats[i]!;
      if (!Number.isFinite(v)) throw new Error(`${name}: element ${i} of the ${dtype} [${shape.join(', ')}] images is ${v}; images must be finite`);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (lo < RANGE.min || hi > RANGE.max)
      throw new Error(`${name}: float images must lie in [${RANGE.min}, ${RANGE.max}] (the range the image recipe samples in), these span [${lo}, ${hi}]; rescale them, or save uint8 0..255`);
  }
  const images = keep(noGrad(() => tensor(floats, shape, opts.device ? { device: opts.device } : {})));
  return { images, range: { ...RANGE } };
}

function fromNpy(bytes: Uint8Array, name: string): { shape: number[]; values: Float32Array | Uint8Array; dtype: string } {
  const a = parseNpy(bytes, name);
  return { shape: a.shape, values: a.data, dtype: { f4: 'float32', f8: 'float64', u1: 'uint8' }[a.dtype] };
}

function fromSafetensors(bytes: Uint8Array, name: string, key: string | undefined): { shape: number[]; values: Float32Array | Uint8Array; dtype: string } {
  let parsed;
  try {
    parsed = parseSafetensors(bytes);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`, { cause: e });
  }
  const names = [...parsed.tensors.keys()];
  const pick = key ?? (parsed.tensors.has('images') ? 'images' : names.length === 1 ? names[0]! : undefined);
  if (pick === undefined)
    throw new Error(`${name}: holds ${names.length} tensors (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}); name the images 'images' or pass { key }`);
  const t: RawTensor | undefined = parsed.tensors.get(pick);
  if (!t) throw new Error(`${name}: has no tensor '${pick}' (it has ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''})`);
  if (t.dtype === 'U8') return { shape: t.shape, values: t.bytes.slice(), dtype: 'uint8' };
  if (t.dtype === 'F32') return { shape: t.shape, values: toFloat32(t), dtype: 'float32' };
  throw new Error(`${name}: tensor '${pick}' is ${t.dtype} [${t.shape.join(', ')}]; expected an [N, C, H, W] tensor of F32 or U8`);
}

/**
 * An image dataset by name ('mnist': its training split, or `split`) or from a .npy /
 * .safetensors path: the CLI's --dataset for images.
 */
export async function loadImageDataset(nameOrPath: string, opts: { split?: MnistSplit; device?: Runtime } = {}): Promise<ImageSet> {
  if (typeof nameOrPath !== 'string' || nameOrPath === '') throw new Error(`loadImageDataset: expected a dataset name (${IMAGE_DATASETS.join(', ')}) or a .npy / .safetensors path, got ${describe(nameOrPath)}`);
  if (nameOrPath === 'mnist') {
    const d = await loadMnist({ split: opts.split ?? 'train', device: opts.device });
    return { images: d.images, labels: d.labels, range: d.range };
  }
  if (!/\.(npy|safetensors)$/i.test(nameOrPath))
    throw new Error(`loadImageDataset: '${nameOrPath}' is neither an image dataset (${IMAGE_DATASETS.join(', ')}) nor a .npy / .safetensors file`);
  return loadImages(nameOrPath, { device: opts.device });
}
