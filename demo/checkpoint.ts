// What model a safetensors checkpoint holds, read from its header alone (no tensor is made):
// the page loads MLPEnergyModel checkpoints, written by this page, by the CLI, or by PyTorch
// with the seed's classes (state-dict names network.0.weight, ..., output_layer.weight, or
// weight_orig / weight_u / weight_v under spectral norm).
//
// Shapes give inputDim and hiddenDims, and weight_orig gives spectral norm. The activation has
// no weights, so it comes from the file's metadata when the file has it (this page writes
// `webgpu-ebm.config`, a JSON MLPEnergyModelOptions, as the CLI does) and otherwise from the
// caller's choice. A CLI training checkpoint also holds optimizer.* and trainer.* tensors: the
// page loads the model's and ignores those.
import { parseSafetensors } from '../src/index.js';

export const ACTIVATIONS = ['silu', 'relu', 'leakyRelu', 'tanh', 'gelu', 'elu', 'softplus', 'sigmoid'] as const;
export type DemoActivation = (typeof ACTIVATIONS)[number];

export interface MLPConfig {
  inputDim: number;
  hiddenDims: number[];
  activation: DemoActivation;
  spectralNorm: boolean;
}

/** The metadata key the page's (and the CLI's) checkpoints carry their model config under. */
export const CONFIG_KEY = 'webgpu-ebm.config';

/** Prefixes of tensors a training checkpoint holds beside the model's (the CLI's --resume files). */
export const NON_MODEL_PREFIXES = ['optimizer.', 'trainer.'] as const;

export interface InferredCheckpoint {
  config: MLPConfig;
  /** Where the activation came from: the file's metadata, or the caller's fallback. */
  activationFrom: 'metadata' | 'fallback';
  metadata: Record<string, string>;
  /** The number of tensors in the file. */
  tensors: number;
}

/** Other spellings of the menu's activations (the CLI writes PyTorch's leaky_relu). */
const ALIASES: Record<string, DemoActivation> = { leaky_relu: 'leakyRelu', swish: 'silu' };

/** The menu's name for an activation name from a file, or null when the page has no such one. */
export function normalizeActivation(a: unknown): DemoActivation | null {
  if (typeof a !== 'string') return null;
  if ((ACTIVATIONS as readonly string[]).includes(a)) return a as DemoActivation;
  return ALIASES[a] ?? null;
}

/** Reads an MLPEnergyModel's config from a checkpoint's names and shapes; throws a one-line reason otherwise. */
export function inferMLPConfig(bytes: Uint8Array, fallbackActivation: DemoActivation): InferredCheckpoint {
  const parsed = parseSafetensors(bytes);
  const shapes = new Map([...parsed.tensors].map(([name, raw]) => [name, raw.shape]));
  const weight = (prefix: string) => shapes.get(`${prefix}.weight`) ?? shapes.get(`${prefix}.weight_orig`);
  const layers: number[] = [];
  for (const name of shapes.keys()) {
    const m = /^network\.(\d+)\.(weight|weight_orig)$/.exec(name);
    if (m) layers.push(Number(m[1]));
  }
  layers.sort((a, b) => a - b);
  const out = weight('output_layer');
  if (!out || layers.length === 0) {
    const some = [...shapes.keys()].slice(0, 4).join(', ');
    throw new Error(`not an MLPEnergyModel checkpoint: expected network.0.weight ... output_layer.weight, found ${some || 'no tensors'}${shapes.size > 4 ? ', ...' : ''}`);
  }
  // Sequential(Linear, act, Linear, act, ...): the Linears sit at 0, 2, 4, ...
  layers.forEach((idx, i) => {
    if (idx !== 2 * i) throw new Error(`not an MLPEnergyModel checkpoint: its Linear layers are network.${layers.join(', network.')} (expected network.0, network.2, ...)`);
  });
  const dims = layers.map((idx) => {
    const w = weight(`network.${idx}`)!;
    if (w.length !== 2) throw new Error(`network.${idx}'s weight has shape [${w.join(', ')}], not [out, in]`);
    return w as [number, number];
  });
  for (let i = 1; i < dims.length; i++)
    if (dims[i]![1] !== dims[i - 1]![0]) throw new Error(`network.${2 * i}'s weight [${dims[i]!.join(', ')}] does not follow network.${2 * i - 2}'s [${dims[i - 1]!.join(', ')}]`);
  if (out.length !== 2 || out[0] !== 1 || out[1] !== dims.at(-1)![0])
    throw new Error(`output_layer's weight has shape [${out.join(', ')}], expected [1, ${dims.at(-1)![0]}]`);
  const spectralNorm = [...shapes.keys()].some((k) => k.endsWith('.weight_orig'));
  let activation = fallbackActivation;
  let activationFrom: InferredCheckpoint['activationFrom'] = 'fallback';
  const meta = parsed.metadata[CONFIG_KEY];
  if (meta) {
    try {
      const a = normalizeActivation((JSON.parse(meta) as { activation?: unknown }).activation);
      if (a) ((activation = a), (activationFrom = 'metadata'));
    } catch {
      // A malformed config is ignored: the shapes are what matter.
    }
  }
  return {
    config: { inputDim: dims[0]![1], hiddenDims: dims.map((d) => d[0]), activation, spectralNorm },
    activationFrom,
    metadata: parsed.metadata,
    tensors: shapes.size,
  };
}
