// Checkpoints in the safetensors format: a module's (or a state dict's) tensors to a file or to
// bytes, and back. Names and layouts are PyTorch's, so files move between the two freely.
// Values travel as raw bits, never through a GPU cast: f16 tensors are read and written as
// their halves, so a checkpoint round-trips bit-exactly (NaN payloads, -0 and subnormals too).
import { getDevice } from '../tensor/context.js';
import { tensor } from '../tensor/ops/create.js';
import { Tensor, type DType } from '../tensor/tensor.js';
import { nodeFileIO, readSource, writeFileAtomic, type SafetensorsSource } from './checkpoint-io.js';
import { f16ToF32, f32ToBf16 } from './float-bits.js';
import { parseSafetensors, serializeSafetensors, toFloat16Bits, toFloat32, type RawTensor, type TensorEntry } from './safetensors-format.js';

export { serializeSafetensors, parseSafetensors, type TensorEntry, type WritableDType, type ParsedSafetensors, type RawTensor } from './safetensors-format.js';
export type { SafetensorsSource } from './checkpoint-io.js';

/** A name -> tensor map, PyTorch's state dict; a plain object works too. */
export type NamedTensors = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

/** Anything with a state dict (a Module). */
export interface HasStateDict {
  stateDict(): ReadonlyMap<string, Tensor>;
}

/**
 * A module that loads a state dict. loadStateDict must copy the values into its own tensors, as
 * PyTorch's load_state_dict does: loadSafetensors disposes the tensors it handed over afterwards.
 */
export interface LoadsStateDict extends HasStateDict {
  loadStateDict(dict: Map<string, Tensor>, opts: { strict: boolean }): unknown;
}

/** How tensors are stored in the file. */
export type CheckpointDType = 'f32' | 'f16' | 'bf16';

export interface SaveSafetensorsOptions {
  /** The file's `__metadata__`: a map of strings. */
  metadata?: Record<string, string>;
  /** Store every tensor as this (rounded to nearest even); by default each as its own dtype. */
  dtype?: CheckpointDType;
}

export interface LoadSafetensorsOptions {
  /** Fail on missing, unexpected or mis-shaped keys (default), or load what matches. */
  strict?: boolean;
}

export interface ReadSafetensorsOptions {
  /** The device to make the tensors on (default: the one `init()` made). */
  device?: Tensor['device'];
  /** Make every tensor this dtype; by default F16 becomes f16 and the rest f32. */
  dtype?: DType;
}

const FILE_DTYPE = { f32: 'F32', f16: 'F16', bf16: 'BF16' } as const;

function stateDictOf(src: HasStateDict | NamedTensors): ReadonlyMap<string, Tensor> {
  const dict =
    typeof (src as HasStateDict)?.stateDict === 'function' ? (src as HasStateDict).stateDict()
    : src instanceof Map ? src
    : typeof src === 'object' && src !== null ? new Map(Object.entries(src))
    : null;
  if (!dict) throw new Error(`saveSafetensors: expected a module (with stateDict()), a Map or a Record of tensors, got ${src === null ? 'null' : typeof src}`);
  for (const [name, t] of dict) {
    if (!(t instanceof Tensor)) throw new Error(`saveSafetensors: '${name}' is not a Tensor (got ${t === null ? 'null' : typeof t})`);
    t.assertAlive(`saveSafetensors: '${name}'`);
  }
  return dict;
}

/** An f16 tensor's raw halves: data() widens on the GPU, and a GPU cast need not keep every bit. */
async function readHalves(t: Tensor): Promise<Uint16Array> {
  if (t.size === 0) return new Uint16Array(0);
  return new Uint16Array(await t.device.read(t.buffer, t.size * 2));
}

async function entryOf(t: Tensor, as: CheckpointDType | undefined): Promise<TensorEntry> {
  const dtype = FILE_DTYPE[as ?? t.dtype];
  const shape = [...t.shape];
  if (t.dtype === 'f16') {
    const halves = await readHalves(t);
    if (dtype === 'F16') return { dtype, shape, data: halves };
    const wide = f16ToF32(halves); // exact
    return { dtype, shape, data: dtype === 'F32' ? wide : f32ToBf16(wide) };
  }
  // f32 values; the serializer rounds them when the file wants F16 or BF16.
  return { dtype, shape, data: await t.data() };
}

/**
 * Saves a module's state dict (or a state dict) as safetensors. With a path (Node only), writes
 * the file through a temporary name and a rename, so a crash never leaves a half-written
 * checkpoint; without one, returns the bytes (in a browser, wrap them in a Blob to download).
 */
export async function saveSafetensors(src: HasStateDict | NamedTensors, path: string, opts?: SaveSafetensorsOptions): Promise<void>;
export async function saveSafetensors(src: HasStateDict | NamedTensors, path?: undefined, opts?: SaveSafetensorsOptions): Promise<Uint8Array>;
export async function saveSafetensors(src: HasStateDict | NamedTensors, path?: string, opts: SaveSafetensorsOptions = {}): Promise<Uint8Array | void> {
  if (path !== undefined && typeof path !== 'string') throw new Error(`saveSafetensors: the path must be a string, got ${typeof path}`);
  // Before any readback: a path in a browser fails here.
  const io = path === undefined ? null : await nodeFileIO();
  if (opts.dtype !== undefined && !Object.hasOwn(FILE_DTYPE, opts.dtype))
    throw new Error(`saveSafetensors: unknown dtype '${String(opts.dtype)}' (valid: f32, f16, bf16)`);
  const dict = stateDictOf(src);
  // Start every readback before awaiting any, so their waits overlap.
  const entries = await Promise.all([...dict].map(async ([name, t]) => [name, await entryOf(t, opts.dtype)] as const));
  const bytes = serializeSafetensors(new Map(entries), opts.metadata);
  if (path === undefined) return bytes;
  await writeFileAtomic(path, bytes, io!);
}

/** Host data for one tensor, decoded and checked before any GPU tensor exists. */
interface Decoded {
  shape: number[];
  dtype: DType;
  /** f32 values, or f16 bits. */
  data: Float32Array | Uint16Array;
}

const LOADABLE = new Set(['F32', 'F16', 'BF16', 'F64']);

function decodeAll(file: Uint8Array, dtypeFor: (name: string, raw: RawTensor) => DType): { tensors: Map<string, Decoded>; metadata: Record<string, string> } {
  const parsed = parseSafetensors(file);
  const tensors = new Map<string, Decoded>();
  for (const [name, raw] of parsed.tensors) {
    if (!LOADABLE.has(raw.dtype))
      throw new Error(`safetensors: tensor '${name}' has dtype ${raw.dtype}; only floating-point tensors (F32, F16, BF16, F64) load into webgpu-ebm tensors`);
    const dtype = dtypeFor(name, raw);
    tensors.set(name, { shape: raw.shape, dtype, data: dtype === 'f16' ? toFloat16Bits(raw) : toFloat32(raw) });
  }
  return { tensors, metadata: parsed.metadata };
}

function upload(d: Decoded, device: Tensor['device']): Tensor {
  if (d.dtype === 'f32') return tensor(d.data as Float32Array, d.shape, { device });
  const t = Tensor.empty(device, d.shape, 'safetensors', 'f16');
  if (t.size) {
    // The buffer holds whole vec4<f16>s and writeBuffer wants multiples of 4 bytes: pad.
    const padded = new Uint16Array(t.byteLength / 2);
    padded.set(d.data as Uint16Array);
    device.write(t.buffer, padded);
  }
  return t;
}

/** Makes every tensor, or none: a failure part-way disposes those already made. */
function uploadAll(decoded: Map<string, Decoded>, deviceFor: (name: string) => Tensor['device']): Map<string, Tensor> {
  const made = new Map<string, Tensor>();
  try {
    for (const [name, d] of decoded) made.set(name, upload(d, deviceFor(name)));
  } catch (e) {
    for (const t of made.values()) t.dispose();
    throw e;
  }
  return made;
}

const naturalDType = (raw: RawTensor): DType => (raw.dtype === 'F16' ? 'f16' : 'f32');

/**
 * Reads a safetensors file (a path in Node, bytes or a Blob) into new tensors, for callers
 * without a module. The whole file is validated before any tensor is made.
 */
export async function readSafetensors(source: SafetensorsSource, opts: ReadSafetensorsOptions = {}): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }> {
  const { tensors, metadata } = decodeAll(await readSource(source, 'readSafetensors'), (_, raw) => opts.dtype ?? naturalDType(raw));
  const device = opts.device ?? getDevice();
  return { tensors: uploadAll(tensors, () => device), metadata };
}

/**
 * Loads a safetensors checkpoint into a module: validates the whole file before any tensor is
 * made, converts each tensor to the dtype of the module's tensor of that name (F64 is rounded
 * to f32), and returns what `module.loadStateDict(dict, { strict })` returns (missing and
 * unexpected keys). Strict loading fails on any mismatch, as loadStateDict decides.
 */
export async function loadSafetensors<M extends LoadsStateDict>(
  module: M,
  source: SafetensorsSource,
  opts: LoadSafetensorsOptions = {},
): Promise<Awaited<ReturnType<M['loadStateDict']>>> {
  const strict = opts.strict ?? true;
  if (typeof module?.stateDict !== 'function' || typeof module.loadStateDict !== 'function')
    throw new Error('loadSafetensors: expected a module with stateDict() and loadStateDict()');
  const bytes = await readSource(source, 'loadSafetensors');
  const own = module.stateDict();
  const { tensors } = decodeAll(bytes, (name, raw) => own.get(name)?.dtype ?? naturalDType(raw));
  // Keys the module lacks (reported as unexpected) go to its device too.
  const home = (own.values().next().value as Tensor | undefined)?.device;
  const made = uploadAll(tensors, (name) => own.get(name)?.device ?? home ?? getDevice());
  try {
    return (await module.loadStateDict(made, { strict })) as Awaited<ReturnType<M['loadStateDict']>>;
  } finally {
    // loadStateDict copied what it wanted; the GPU keeps each buffer until its copy has run.
    for (const t of made.values()) t.dispose();
  }
}
