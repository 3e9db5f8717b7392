// What model a safetensors checkpoint holds, read from its header alone (no tensor is made):
// the page loads MLPEnergyModel checkpoints, written by this page, by the CLI, or by PyTorch
// with the seed's classes (state-dict names network.0.weight, ..., output_layer.weight, or
// weight_orig / weight_u / weight_v under spectral norm).
//
// The library's inferMLPArchitecture (src/nn/checkpoint-model.ts, which the CLI uses too) reads
// inputDim, hiddenDims and spectral norm from the names and shapes. The activation has no
// weights, so it comes from the file's metadata when the file has it (this page writes
// `webgpu-ebm.config`, a JSON MLPEnergyModelOptions, as the CLI does) and otherwise from the
// caller's choice. A CLI training checkpoint also holds optimizer.* and trainer.* tensors: the
// page loads the model's and ignores those (isModelTensor).
import { CHECKPOINT_METADATA, inferMLPArchitecture, parseSafetensors } from '../src/index.js';

export const ACTIVATIONS = ['silu', 'relu', 'leakyRelu', 'tanh', 'gelu', 'elu', 'softplus', 'sigmoid'] as const;
export type DemoActivation = (typeof ACTIVATIONS)[number];

export interface MLPConfig {
  inputDim: number;
  hiddenDims: number[];
  activation: DemoActivation;
  spectralNorm: boolean;
}

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
  const { inputDim, hiddenDims, useSpectralNorm } = inferMLPArchitecture(parsed.tensors).options;
  let activation = fallbackActivation;
  let activationFrom: InferredCheckpoint['activationFrom'] = 'fallback';
  const meta = parsed.metadata[CHECKPOINT_METADATA.config];
  if (meta) {
    try {
      const a = normalizeActivation((JSON.parse(meta) as { activation?: unknown }).activation);
      if (a) ((activation = a), (activationFrom = 'metadata'));
    } catch {
      // A malformed config is ignored: the shapes are what matter.
    }
  }
  return {
    config: { inputDim, hiddenDims, activation, spectralNorm: useSpectralNorm },
    activationFrom,
    metadata: parsed.metadata,
    tensors: parsed.tensors.size,
  };
}
