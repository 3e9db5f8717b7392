// The CLI's files in safetensors:
//   model.safetensors       the model's state dict under PyTorch's names, with the model (and
//                           sampler) config in __metadata__: loadSafetensors loads it into a
//                           model, PyTorch's safetensors.torch.load_file into an nn.Module.
//   checkpoint.safetensors  the trainer's whole stateDict(): the same tensors plus the optimizer's
//                           state (optimizer.state.<i>.<key>), the replay buffer
//                           (trainer.replay_buffer), and in the metadata the step, the run config
//                           and the rest (scaler, loss counters, data order, random streams): what
//                           --resume continues from, bit for bit.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ebm from '../index.js';
import { buildModel, checkModelConfig, checkSamplerConfig, checkTrainConfig, decimal, type ModelConfig, type SamplerConfig, type TrainConfig } from './config.js';
import { CliError, oneLine } from './errors.js';
import { parseJson } from '../nn/json.js';

// Metadata keys and tensor prefixes: the library's (src/nn/checkpoint-model.ts), which the browser
// demo reads and writes too, so a file made by either loads in the other with its activation.
const { kind: KIND, model: MODEL, config: MODEL_OPTIONS, sampler: SAMPLER, run: RUN, step: STEP, optimizer: OPTIM, trainer: TRAINER } = ebm.CHECKPOINT_METADATA;
const OPTIM_PREFIX = ebm.OPTIMIZER_STATE_PREFIX;
const TRAINER_PREFIX = ebm.TRAINER_PREFIX;

const CLASS_OF = { mlp: 'MLPEnergyModel', resnet: 'ResNetEnergyModel' } as const;

/** A ModelConfig as the class name and its constructor options. */
function modelOptions(m: ModelConfig): { cls: string; options: Record<string, unknown> } {
  if (m.type === 'mlp') return { cls: CLASS_OF.mlp, options: { inputDim: m.inputDim, hiddenDims: m.hiddenDims, activation: m.activation, useSpectralNorm: m.spectralNorm } };
  return { cls: CLASS_OF.resnet, options: { inputDim: m.inputDim, hiddenDim: m.hiddenDim, nBlocks: m.nBlocks, activation: m.activation } };
}

/** The inverse of modelOptions, checked (a file's metadata is input). */
function fromModelOptions(cls: string | undefined, options: unknown, where: string): ModelConfig | undefined {
  if (cls === undefined || options === undefined) return undefined;
  const o = (options ?? {}) as Record<string, unknown>;
  if (cls === CLASS_OF.mlp) return checkModelConfig({ type: 'mlp', ...o, spectralNorm: o.useSpectralNorm === true || o.spectralNorm === true }, where);
  if (cls === CLASS_OF.resnet) return checkModelConfig({ type: 'resnet', ...o }, where);
  throw new CliError(`${where}: model class '${cls}' is not one the CLI builds (valid: ${Object.values(CLASS_OF).join(', ')})`);
}

function modelMetadata(config: TrainConfig, step: number): Record<string, string> {
  const { cls, options } = modelOptions(config.model);
  return {
    format: 'pt',
    [MODEL]: cls,
    [MODEL_OPTIONS]: JSON.stringify(options),
    [SAMPLER]: JSON.stringify(config.sampler),
    [STEP]: String(step),
    [ebm.CHECKPOINT_METADATA.dataset]: config.dataset,
    [ebm.CHECKPOINT_METADATA.source]: 'cli',
  };
}

/** model.safetensors: the state dict, PyTorch's names, config in the metadata. */
export async function saveModel(path: string, model: ebm.Module, config: TrainConfig, step: number): Promise<void> {
  await ebm.saveSafetensors(model, path, { metadata: { ...modelMetadata(config, step), [KIND]: 'model' } });
}

/** The trainer's JSON state in the checkpoint's metadata (every field absent from older checkpoints but scaler). */
interface TrainerJson {
  scaler?: ebm.GradScalerState | null;
  loss?: { calls?: number; random?: number };
  data?: ebm.DataLoaderState | null;
  random?: ebm.RandomStreamsState;
  scheduler?: unknown;
}

/** The replay buffer's tensor name (after the trainer prefix). */
const REPLAY_BUFFER = 'replay_buffer';

/**
 * checkpoint.safetensors: the trainer's stateDict() and the run config, written atomically. The
 * model's tensors keep PyTorch's names, the optimizer's are optimizer.state.<i>.<key>, the replay
 * buffer trainer.replay_buffer; the optimizer's param groups, the step, the config and the rest
 * of the trainer's state (scaler, loss counters, data order, random streams) are JSON metadata.
 */
export async function saveCheckpoint(path: string, parts: { config: TrainConfig; state: ebm.EBMTrainerStateDict }): Promise<void> {
  await saveTrainerState(path, { run: parts.config, modelMetadata: modelMetadata(parts.config, parts.state.step), state: parts.state });
}

/**
 * The checkpoint format for any run (2-D or image): the trainer's stateDict() as above, `run` (the
 * run config, JSON) and the model's metadata (class, options) beside it.
 */
export async function saveTrainerState(path: string, parts: { run: unknown; modelMetadata: Record<string, string>; state: ebm.EBMTrainerStateDict }): Promise<void> {
  const { state } = parts;
  const dict = new Map<string, ebm.Tensor>(state.model);
  const numbers: Record<string, Record<string, number>> = {};
  for (const [idx, entry] of Object.entries(state.optimizer.state))
    for (const [key, v] of Object.entries(entry)) {
      if (v instanceof ebm.Tensor) dict.set(`${OPTIM_PREFIX}${idx}.${key}`, v);
      else (numbers[idx] ??= {})[key] = v;
    }
  const { replayBuffer, ...loss } = state.loss ?? {};
  if (replayBuffer) dict.set(`${TRAINER_PREFIX}${REPLAY_BUFFER}`, replayBuffer);
  const trainer: TrainerJson = { scaler: state.scaler ?? null, loss, data: state.data ?? null, random: state.random, scheduler: state.scheduler ?? null };
  await ebm.saveSafetensors(dict, path, {
    metadata: {
      ...parts.modelMetadata,
      [KIND]: 'checkpoint',
      [RUN]: JSON.stringify(parts.run),
      [OPTIM]: JSON.stringify({ paramGroups: state.optimizer.paramGroups, numbers }),
      [TRAINER]: JSON.stringify(trainer),
    },
  });
}

/** Reads a safetensors file's bytes and header, with one-line errors naming the file. */
export function readChecked(path: string): { bytes: Uint8Array; parsed: ebm.ParsedSafetensors } {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read checkpoint '${path}': ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : oneLine(e)}`);
  }
  try {
    return { bytes, parsed: ebm.parseSafetensors(bytes) };
  } catch (e) {
    throw new CliError(`checkpoint '${path}' is not a valid safetensors file (corrupt or truncated?): ${oneLine(e)}`);
  }
}

function json(meta: Record<string, string>, key: string, path: string): unknown {
  const s = meta[key];
  if (s === undefined) return undefined;
  try {
    return parseJson(s);
  } catch (e) {
    throw new CliError(`checkpoint '${path}': its metadata '${key}' is not valid JSON: ${oneLine(e)}`);
  }
}

/** The model config of a file: its metadata, else config.json beside it, else the tensor names. */
function modelConfigOf(path: string, parsed: ebm.ParsedSafetensors, activation?: string): { model: ModelConfig; sampler: SamplerConfig | null; source: string } {
  const meta = parsed.metadata;
  const fromMeta = fromModelOptions(meta[MODEL], json(meta, MODEL_OPTIONS, path), `checkpoint '${path}'`);
  if (fromMeta !== undefined) {
    const model = fromMeta;
    if (activation) model.activation = activation;
    return { model, sampler: checkSamplerConfig(json(meta, SAMPLER, path), `checkpoint '${path}'`), source: 'metadata' };
  }
  const beside = join(dirname(path), 'config.json');
  if (existsSync(beside)) {
    let cfg: Partial<TrainConfig>;
    try {
      cfg = parseJson(readFileSync(beside, 'utf8')) as Partial<TrainConfig>;
    } catch (e) {
      throw new CliError(`'${beside}' is not valid JSON: ${oneLine(e)}`);
    }
    const model = checkModelConfig(cfg.model, `'${beside}'`);
    if (activation) model.activation = activation;
    return { model, sampler: checkSamplerConfig(cfg.sampler, `'${beside}'`), source: beside };
  }
  return { model: inferModelConfig(path, parsed, activation ?? 'silu'), sampler: null, source: 'tensor names' };
}

/**
 * A model config from the state dict alone (a checkpoint saved by PyTorch without metadata): the
 * library's inferArchitecture reads the seed's MLPEnergyModel or ResNetEnergyModel from the
 * names and shapes. The activation cannot be seen in the weights.
 */
function inferModelConfig(path: string, parsed: ebm.ParsedSafetensors, activation: string): ModelConfig {
  const where = `checkpoint '${path}' has no model config (no metadata, no config.json beside it) and its tensor names`;
  let arch: ebm.CheckpointArchitecture | null;
  try {
    arch = ebm.inferArchitecture(parsed.tensors);
  } catch (e) {
    throw new CliError(`${where} do not describe a model: ${oneLine(e)}`);
  }
  if (!arch) throw new CliError(`${where} match neither MLPEnergyModel nor ResNetEnergyModel`);
  return fromModelOptions(arch.model, { ...arch.options, activation }, `checkpoint '${path}'`)!;
}

export interface LoadedModel {
  model: ebm.BaseEnergyFunction;
  modelConfig: ModelConfig;
  samplerConfig: SamplerConfig | null;
  /** Where the model config came from: 'metadata', a config.json path, or 'tensor names'. */
  configSource: string;
  metadata: Record<string, string>;
}

/** Builds the model a model.safetensors or checkpoint.safetensors describes and loads its weights. */
export async function loadModel(path: string, opts: { activation?: string } = {}): Promise<LoadedModel> {
  const { bytes, parsed } = readChecked(path);
  const { model: modelConfig, sampler, source } = modelConfigOf(path, parsed, opts.activation);
  const model = buildModel(modelConfig, undefined, `checkpoint '${path}' (model config from ${source})`);
  const { tensors } = await ebm.readSafetensors(bytes);
  try {
    const own = new Map([...tensors].filter(([k]) => ebm.isModelTensor(k)));
    model.loadStateDict(own, { strict: true });
  } catch (e) {
    throw new CliError(`checkpoint '${path}' does not fit its model config (${source}): ${oneLine(e)}`);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return { model, modelConfig, samplerConfig: sampler, configSource: source, metadata: parsed.metadata };
}

export interface ResumeState<Config = TrainConfig> {
  path: string;
  config: Config;
  step: number;
  /** The trainer's state as the file holds it, for trainer.loadStateDict (its tensors are the file's). */
  state: ebm.EBMTrainerStateDict;
  /**
   * Whether the file carries the whole state (loss counters, data order, random streams); older
   * checkpoints carry model, optimizer, scaler and replay buffer only.
   */
  complete: boolean;
  /** Frees the tensors read from the file (after loadStateDict has copied them). */
  dispose(): void;
}

/** The checkpoint a --resume names: a run folder means its checkpoint.safetensors. */
export function checkpointPathOf(pathOrDir: string): string {
  return existsSync(pathOrDir) && !pathOrDir.endsWith('.safetensors') && existsSync(join(pathOrDir, 'checkpoint.safetensors')) ? join(pathOrDir, 'checkpoint.safetensors') : pathOrDir;
}

/** Reads a checkpoint.safetensors for --resume (a run folder means its checkpoint.safetensors). */
export async function readCheckpoint(pathOrDir: string): Promise<ResumeState> {
  return readTrainerState(pathOrDir, checkTrainConfig);
}

/** readCheckpoint for any run kind: `check` validates the run config the file holds (it is input). */
export async function readTrainerState<Config extends { steps: number }>(pathOrDir: string, check: (run: unknown, where: string) => Config): Promise<ResumeState<Config>> {
  const path = checkpointPathOf(pathOrDir);
  const { bytes, parsed } = readChecked(path);
  const meta = parsed.metadata;
  if (meta[KIND] !== 'checkpoint')
    throw new CliError(
      `'${path}' is not a training checkpoint (${meta[KIND] === 'model' ? 'it is a model file; resume from checkpoint.safetensors in the same run folder' : 'no webgpu-ebm checkpoint metadata'})`,
    );
  const where = `checkpoint '${path}'`;
  const run = json(meta, RUN, path);
  if (run === undefined) throw new CliError(`${where} has incomplete metadata (its run config '${RUN}' is missing)`);
  // The run config is checked as the command line's values are: a --resume builds what it says.
  const config = check(run, `${where}, run config`);
  const step = decimal(meta[STEP] ?? '');
  if (!Number.isSafeInteger(step) || step < 0 || step > config.steps)
    throw new CliError(`${where}: its metadata '${STEP}' must be an integer in [0, ${config.steps}] (the run's steps), got ${JSON.stringify(meta[STEP])}`);
  const optim = json(meta, OPTIM, path) as { paramGroups: ebm.OptimizerStateDict['paramGroups']; numbers: Record<string, Record<string, number>> } | undefined;
  if (!optim || typeof optim !== 'object' || !Array.isArray(optim.paramGroups) || (optim.numbers !== undefined && (typeof optim.numbers !== 'object' || optim.numbers === null)))
    throw new CliError(`${where}: its metadata '${OPTIM}' must be an object with paramGroups (a list) and numbers, got ${JSON.stringify(meta[OPTIM])?.slice(0, 60)}`);
  const trainer = (json(meta, TRAINER, path) ?? {}) as TrainerJson;
  if (typeof trainer !== 'object' || trainer === null || Array.isArray(trainer)) throw new CliError(`checkpoint '${path}': its metadata '${TRAINER}' is not an object`);
  const { tensors } = await ebm.readSafetensors(bytes);
  const model = new Map<string, ebm.Tensor>();
  const state: ebm.OptimizerStateDict['state'] = {};
  let replayBuffer: ebm.Tensor | undefined;
  try {
    for (const [k, t] of tensors) {
      if (k.startsWith(OPTIM_PREFIX)) {
        const m = /^optimizer\.state\.(\d+)\.(.+)$/.exec(k);
        if (!m) throw new CliError(`checkpoint '${path}': unexpected optimizer tensor '${k}'`);
        (state[Number(m[1])] ??= {})[m[2]!] = t;
      } else if (k === `${TRAINER_PREFIX}${REPLAY_BUFFER}`) replayBuffer = t;
      else if (k.startsWith(TRAINER_PREFIX)) throw new CliError(`checkpoint '${path}': unexpected trainer tensor '${k}'`);
      else model.set(k, t);
    }
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  for (const [idx, entry] of Object.entries(optim.numbers ?? {})) Object.assign((state[Number(idx)] ??= {}), entry);
  const complete = trainer.random !== undefined && trainer.data !== undefined && trainer.loss !== undefined;
  const loss: ebm.LossStateDict = { ...(trainer.loss ?? {}), ...(replayBuffer ? { replayBuffer } : complete ? { replayBuffer: null } : {}) };
  return {
    path,
    config,
    step,
    complete,
    state: {
      step,
      model,
      optimizer: { state, paramGroups: optim.paramGroups },
      loss,
      ...(trainer.scaler ? { scaler: trainer.scaler } : {}),
      ...(complete ? { data: trainer.data, random: trainer.random } : {}),
      ...(trainer.scheduler != null ? { scheduler: trainer.scheduler } : {}),
    },
    dispose() {
      for (const t of tensors.values()) t.dispose();
    },
  };
}
