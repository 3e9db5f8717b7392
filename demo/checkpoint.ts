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
import { activationFromSpelling, CHECKPOINT_METADATA, inferMLPArchitecture, NONLINEAR_ACTIVATIONS, parseSafetensors } from '../src/index.js';

/** The menu's activations: every activation of the library's table but 'none'. */
export const ACTIVATIONS = NONLINEAR_ACTIVATIONS;
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

/**
 * The menu's name for an activation name from a file (any spelling the table accepts: the CLI
 * writes PyTorch's leaky_relu), or null when the page has no such one.
 */
export function normalizeActivation(a: unknown): DemoActivation | null {
  return activationFromSpelling(a);
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
