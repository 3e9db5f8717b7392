// What model a checkpoint holds: the __metadata__ keys webgpu-ebm writes (the CLI and the browser
// demo read each other's files through them), and the architecture read from state-dict names and
// shapes alone, for files PyTorch saved with the seed's classes and no metadata. Names and shapes
// only: no tensor is made, so this runs on a parsed header (parseSafetensors) in a browser too.
import { fmt } from '../tensor/shape.js';

/** The metadata keys of webgpu-ebm's checkpoints; every value is a string (safetensors' rule). */
export const CHECKPOINT_METADATA = {
  /** 'model' (model.safetensors) or 'checkpoint' (a training checkpoint, what --resume reads). */
  kind: 'webgpu-ebm.kind',
  /** The model's class name: MLPEnergyModel or ResNetEnergyModel. */
  model: 'webgpu-ebm.model',
  /** The class's constructor options as JSON (MLP: inputDim, hiddenDims, activation, useSpectralNorm). */
  config: 'webgpu-ebm.config',
  /** The sampler's config as JSON. */
  sampler: 'webgpu-ebm.sampler',
  /** The whole run config as JSON (training checkpoints). */
  run: 'webgpu-ebm.run',
  /** The training step the file was written at. */
  step: 'webgpu-ebm.step',
  /** The optimizer's param groups and scalar state as JSON (training checkpoints). */
  optimizer: 'webgpu-ebm.optimizer',
  /** The trainer's JSON state (training checkpoints). */
  trainer: 'webgpu-ebm.trainer',
  /** The dataset the model was trained on. */
  dataset: 'webgpu-ebm.dataset',
  /** What wrote the file: 'cli' or 'demo'. */
  source: 'webgpu-ebm.source',
} as const;

/** Where a training checkpoint keeps the optimizer's tensors: optimizer.state.<param index>.<key>. */
export const OPTIMIZER_STATE_PREFIX = 'optimizer.state.';
/** Where a training checkpoint keeps the trainer's tensors (a replay buffer, a loss scale). */
export const TRAINER_PREFIX = 'trainer.';

/** Whether a checkpoint tensor belongs to the model, not to the optimizer or the trainer beside it. */
export function isModelTensor(name: string): boolean {
  return !name.startsWith('optimizer.') && !name.startsWith(TRAINER_PREFIX);
}

/** A model class and the constructor options the weights determine (the activation has no weights). */
export type CheckpointArchitecture =
  | { model: 'MLPEnergyModel'; options: { inputDim: number; hiddenDims: number[]; useSpectralNorm: boolean } }
  | { model: 'ResNetEnergyModel'; options: { inputDim: number; hiddenDim: number; nBlocks: number } };

/** Tensor names and shapes: a parsed safetensors header's `tensors`, or a state dict. */
export type NamedShapes = ReadonlyMap<string, { readonly shape: readonly number[] }>;

/**
 * The seed's MLPEnergyModel from its state-dict names (network.0.weight, network.2.weight, ...,
 * output_layer.weight, or weight_orig under spectral norm) and shapes; throws a one-line reason
 * beginning "not an MLPEnergyModel checkpoint" or naming the tensor that does not fit.
 */
export function inferMLPArchitecture(tensors: NamedShapes): Extract<CheckpointArchitecture, { model: 'MLPEnergyModel' }> {
  const weight = weightOf(tensors);
  const layers: number[] = [];
  for (const name of tensors.keys()) {
    const m = /^network\.(\d+)\.(weight|weight_orig)$/.exec(name);
    if (m) layers.push(Number(m[1]));
  }
  layers.sort((a, b) => a - b);
  const out = weight('output_layer');
  if (!out || layers.length === 0) {
    const some = [...tensors.keys()].slice(0, 4).join(', ');
    throw new Error(`not an MLPEnergyModel checkpoint: expected network.0.weight ... output_layer.weight, found ${some || 'no tensors'}${tensors.size > 4 ? ', ...' : ''}`);
  }
  // Sequential(Linear, act, Linear, act, ...): the Linears sit at 0, 2, 4, ...
  layers.forEach((idx, i) => {
    if (idx !== 2 * i) throw new Error(`not an MLPEnergyModel checkpoint: its Linear layers are network.${layers.join(', network.')} (expected network.0, network.2, ...)`);
  });
  const dims = layers.map((idx) => {
    const w = weight(`network.${idx}`)!;
    if (w.length !== 2) throw new Error(`network.${idx}'s weight has shape ${fmt(w)}, not [out, in]`);
    return w as readonly [number, number];
  });
  for (let i = 1; i < dims.length; i++)
    if (dims[i]![1] !== dims[i - 1]![0]) throw new Error(`network.${2 * i}'s weight ${fmt(dims[i]!)} does not follow network.${2 * i - 2}'s ${fmt(dims[i - 1]!)}`);
  if (out.length !== 2 || out[0] !== 1 || out[1] !== dims.at(-1)![0]) throw new Error(`output_layer's weight has shape ${fmt(out)}, expected [1, ${dims.at(-1)![0]}]`);
  return {
    model: 'MLPEnergyModel',
    options: { inputDim: dims[0]![1], hiddenDims: dims.map((d) => d[0]), useSpectralNorm: [...tensors.keys()].some((k) => k.endsWith('.weight_orig')) },
  };
}

/**
 * The architecture a state dict's names and shapes describe: the seed's MLPEnergyModel (as
 * inferMLPArchitecture) or ResNetEnergyModel (input_proj.0.weight, blocks.<i>...,
 * output_proj.weight); null when the names match neither. Throws where the names match but the
 * shapes do not fit.
 */
export function inferArchitecture(tensors: NamedShapes): CheckpointArchitecture | null {
  const weight = weightOf(tensors);
  if (weight('output_layer')) return inferMLPArchitecture(tensors);
  const inputProj = weight('input_proj.0');
  if (inputProj && weight('output_proj')) {
    if (inputProj.length !== 2) throw new Error(`input_proj.0's weight has shape ${fmt(inputProj)}, not [out, in]`);
    const [hiddenDim, inputDim] = inputProj as readonly [number, number];
    const nBlocks = new Set([...tensors.keys()].map((k) => /^blocks\.(\d+)\./.exec(k)?.[1]).filter(Boolean)).size;
    return { model: 'ResNetEnergyModel', options: { inputDim, hiddenDim, nBlocks } };
  }
  return null;
}

/** The shape of `<prefix>.weight`, or of `<prefix>.weight_orig` under spectral norm. */
function weightOf(tensors: NamedShapes): (prefix: string) => readonly number[] | undefined {
  return (prefix) => (tensors.get(`${prefix}.weight`) ?? tensors.get(`${prefix}.weight_orig`))?.shape;
}
