// The `webgpu-ebm` command: train, sample, eval, info, bench. Every failure is one line on stderr and
// a non-zero exit status (2: a bad command line; 1: anything else), and the WebGPU device is
// released before returning so that Node can exit.
import { parseArgs } from 'node:util';
import * as ebm from '../index.js';
import { runBench } from './bench.js';
import { ACTIVATIONS, DEFAULTS, EVAL_DEFAULTS, INTERPOLANTS, MODELS, SAMPLERS } from './config.js';
import { runEval } from './eval.js';
import { CliError, oneLine, UsageError } from './errors.js';
import type { Output } from './progress.js';
import { runSample, SAMPLE_FORMATS } from './sample.js';
import { runTrain } from './train.js';
import { IMAGE_RUN_DEFAULTS, isImageDataset } from './image-config.js';
import { isImageModelFile, runTrainImage } from './image-train.js';
import { runEvalImage, runSampleImage } from './image-sample.js';

export const COMMANDS = ['train', 'sample', 'eval', 'info', 'bench'] as const;

export const USAGE = `usage: webgpu-ebm <command> [options]

commands:
  train    train an energy-based model on a built-in 2-D dataset; writes a run folder with
           config.json, metrics.jsonl, model.safetensors, checkpoint.safetensors, samples.npy,
           landscape.png and loss.png
             --dataset NAME       ${ebm.DATASETS.join(', ')} (${DEFAULTS.dataset})
             --model TYPE         ${MODELS.join(', ')} (${DEFAULTS.model})
             --hidden N,N         hidden widths (${DEFAULTS.hidden.join(',')}; resnet: width[,width...] = blocks)
             --activation NAME    ${ACTIVATIONS.join(', ')} (${DEFAULTS.activation})
             --loss TYPE          cd (contrastive divergence), pcd (persistent CD), dsm (denoising
                                  score matching), ssm (sliced score matching), nce (noise-
                                  contrastive estimation, Gaussian noise fitted to the data),
                                  eqm (equilibrium matching) (${DEFAULTS.loss})
             --noise-ratio X      nce: noise draws per data point (${DEFAULTS.nce.noiseRatio})
             --interpolant NAME   eqm: ${INTERPOLANTS.join(', ')} (${DEFAULTS.eqm.interpolant})
             --sampler TYPE       langevin, hmc, mala (Metropolis-adjusted Langevin), pt (parallel
                                  tempering: MALA replicas on a geometric ladder of temperatures),
                                  gd (gradient descent), nesterov, flow (the gradient flow,
                                  integrated by Heun) (${DEFAULTS.sampler})
             --momentum X         nesterov: mu in [0, 1) (${DEFAULTS.momentum})
             --replicas N         pt: temperatures on the ladder (${DEFAULTS.replicas})
             --max-temperature X  pt: the hottest (${DEFAULTS.maxTemperature})
             --k-steps N          sampler steps per training step for cd/pcd (${DEFAULTS.kSteps})
             --step-size X        sampler step size (langevin ${DEFAULTS.langevinStepSize}, hmc ${DEFAULTS.hmcStepSize}, ${Object.entries(DEFAULTS.otherStepSize)
               .filter(([k]) => k !== 'flow')
               .map(([k, v]) => `${k} ${v}`)
               .join(', ')}; flow: the time span it integrates, ${DEFAULTS.otherStepSize.flow})
             --noise-scale X      Langevin noise scale (${DEFAULTS.noiseScale})
             --energy-reg X       cd/pcd: weight of the energy-magnitude penalty (${DEFAULTS.energyRegWeight})
             --sample-steps N     chain length of the final samples (plots, samples.npy) (200)
             --ais-chains N       chains of the final held-out log-likelihood's AIS (${EVAL_DEFAULTS.aisChains})
             --ais-temperatures N its annealing steps (${EVAL_DEFAULTS.aisTemperatures})
             --steps N            training steps (${DEFAULTS.steps})
             --batch-size N       (${DEFAULTS.batchSize})
             --lr X               Adam's learning rate (${DEFAULTS.lr})
             --mixed-precision    f16 matmuls with f32 master weights and loss scaling
             --seed N             (${DEFAULTS.seed})
             --out DIR            the run folder (runs/<dataset>-<loss>-<time>); locked while a run
                                  uses it, and one that holds a run needs --resume or --force
             --resume CHECKPOINT  continue a run from its checkpoint.safetensors (or run folder),
                                  exactly as the uninterrupted run would have gone on
             --log-every N        read back, log and record metrics every N steps (${DEFAULTS.logEvery})
             --checkpoint-every N (steps/10, rounded to --log-every)
             --quiet              plain log lines instead of the progress bar
             --force              train into a folder that holds an earlier run, replacing its files
  train --dataset mnist (or FILE.npy / FILE.safetensors of [N, C, H, W] images)
           train the image EBM (ConvEnergyModel, persistent CD with a replay buffer, clamped
           Langevin; the recipe's defaults are IMAGE_DEFAULTS); writes config.json, metrics.jsonl
           (with digit-classifier quality figures), model.safetensors, checkpoint.safetensors,
           samples.png, buffer.png, chain.png and loss.png
             --channels N,N       the stride-2 convolutions' channels (${ebm.IMAGE_DEFAULTS.channels.join(',')})
             --image-size N       must match the data (checked)
             --model conv  --activation NAME  --k-steps N (${ebm.IMAGE_DEFAULTS.langevinSteps})  --step-size X (${ebm.IMAGE_DEFAULTS.stepSize})
             --energy-reg X (${ebm.IMAGE_DEFAULTS.energyRegWeight})  --batch-size N (${ebm.IMAGE_DEFAULTS.batchSize})  --lr X (${ebm.IMAGE_DEFAULTS.lr})  --sample-steps N
             --quality-samples N  samples the digit classifier scores at the end (${IMAGE_RUN_DEFAULTS.qualitySamples})
             --steps N  --seed N  --out DIR  --resume CHECKPOINT  --log-every N  --checkpoint-every N  --quiet  --force
  sample   draw samples from a trained model (an image model: --out digits.png, a grid, or .npy)
             --checkpoint PATH    model.safetensors or checkpoint.safetensors (required)
             --n N (1000)  --steps N (200)  --seed N (0)  --sampler ${SAMPLERS.join('|')}  --step-size X
             --out FILE           ${SAMPLE_FORMATS.map((f) => `samples${f}`).join(' | ')} (samples.npy)
             --activation NAME    for a file without a model config (PyTorch-made)
  eval     a trained model's quality metrics (2-D energies: held-out log-likelihood in nats, log Z
           by annealed importance sampling, with its standard error); one line, then a JSON line
             --checkpoint PATH    model.safetensors or checkpoint.safetensors (required)
             --dataset NAME       the held-out data (default: the dataset the model was trained on)
             --n N (1000)  --seed N (0)  --ais-chains N (${EVAL_DEFAULTS.aisChains})  --ais-temperatures N (${EVAL_DEFAULTS.aisTemperatures})
             --activation NAME    for a file without a model config (PyTorch-made)
  info     the WebGPU adapter, its features and limits, and whether f16 is on
  bench    time the kernels against tfjs on the same adapter; bench --help for its options`;

const TRAIN_OPTIONS = {
  dataset: { type: 'string' },
  model: { type: 'string' },
  channels: { type: 'string' },
  'image-size': { type: 'string' },
  'quality-samples': { type: 'string' },
  hidden: { type: 'string' },
  activation: { type: 'string' },
  loss: { type: 'string' },
  sampler: { type: 'string' },
  'k-steps': { type: 'string' },
  'step-size': { type: 'string' },
  'noise-scale': { type: 'string' },
  'energy-reg': { type: 'string' },
  'sample-steps': { type: 'string' },
  'noise-ratio': { type: 'string' },
  interpolant: { type: 'string' },
  momentum: { type: 'string' },
  replicas: { type: 'string' },
  'max-temperature': { type: 'string' },
  'ais-chains': { type: 'string' },
  'ais-temperatures': { type: 'string' },
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  'mixed-precision': { type: 'boolean' },
  seed: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  'log-every': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  force: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

const SAMPLE_OPTIONS = {
  checkpoint: { type: 'string' },
  n: { type: 'string' },
  steps: { type: 'string' },
  out: { type: 'string' },
  sampler: { type: 'string' },
  'step-size': { type: 'string' },
  seed: { type: 'string' },
  activation: { type: 'string' },
} as const;

const EVAL_OPTIONS = {
  checkpoint: { type: 'string' },
  dataset: { type: 'string' },
  n: { type: 'string' },
  seed: { type: 'string' },
  'ais-chains': { type: 'string' },
  'ais-temperatures': { type: 'string' },
  activation: { type: 'string' },
} as const;

type Spec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Parses `args` strictly against `spec`: camelCase values and the set of options given. */
function parse(command: string, args: string[], spec: Spec): { values: Record<string, string | boolean>; given: Set<string> } {
  const valid = Object.keys(spec)
    .map((k) => `--${k}`)
    .join(' ');
  let parsed;
  try {
    parsed = parseArgs({ args, options: spec, strict: true, allowPositionals: true });
  } catch (e) {
    const msg = (e as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(msg);
    if (unknown) throw new UsageError(`unknown option '${unknown[1]}' for ${command} (valid: ${valid})`);
    const missing = /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(msg);
    if (missing) throw new UsageError(`${missing[1]} needs a value`);
    const ambiguous = /Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/.exec(msg);
    if (ambiguous) throw new UsageError(`${ambiguous[1]} needs a value (write one that starts with '-' as ${ambiguous[1]}=-X)`);
    throw new UsageError(`${oneLine(e)} (valid options for ${command}: ${valid})`);
  }
  if (parsed.positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[0]}' for ${command} (options: ${valid})`);
  const values: Record<string, string | boolean> = {};
  for (const [k, v] of Object.entries(parsed.values)) if (v !== undefined) values[camel(k)] = v as string | boolean;
  return { values, given: new Set(Object.keys(values)) };
}

export interface RunIO extends Output {
  error(line: string): void;
}

const processIO: RunIO = {
  write: (l) => process.stdout.write(`${l}\n`),
  error: (l) => process.stderr.write(`${l}\n`),
  stream: process.stdout,
};

async function info(io: RunIO, deviceOptions?: ebm.DeviceOptions): Promise<void> {
  const rt = await ebm.init(deviceOptions);
  const l = rt.device.limits;
  const f = rt.info.features;
  const f16 = f.has('shader-f16')
    ? 'on (shader-f16: f16 storage with f32 accumulation in matmul, used by --mixed-precision)'
    : 'fallback (no shader-f16 on this adapter: f16 tensors are stored packed in u32 words and widened with unpack2x16float)';
  io.write(`adapter: ${rt.info.description}`);
  io.write(`software adapter: ${rt.info.isSoftware}`);
  io.write(`features: ${[...f].join(', ') || 'none'}`);
  io.write(`f16: ${f16}`);
  io.write(`subgroups: ${f.has('subgroups') ? `yes (size ${rt.info.subgroupMinSize}-${rt.info.subgroupMaxSize})` : 'no'}`);
  io.write(`timestamp-query: ${f.has('timestamp-query') ? 'yes' : 'no'}`);
  for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage'] as const)
    io.write(`${k}: ${l[k]}`);
}

/** How run() treats the device. */
export interface RunOptions {
  /**
   * Keep the default device alive after the command (default false: Dawn keeps Node alive while
   * a device exists). In-process callers running many commands (the tests) keep one device and
   * its compiled pipelines instead of paying Dawn's start and every compile again per command.
   */
  keepDevice?: boolean;
}

/**
 * Runs one command line and returns the exit status; output goes to `io`. Tests call this
 * in-process; `deviceOptions` lets them hand in a GPU (or a stub without adapters).
 */
export async function run(argv: string[], io: RunIO = processIO, deviceOptions?: ebm.DeviceOptions, options: RunOptions = {}): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.write(USAGE);
    return command ? 0 : 2;
  }
  try {
    if (command === 'train') {
      if (rest.includes('--help') || rest.includes('-h')) return io.write(USAGE), 0;
      const { values, given } = parse('train', rest, TRAIN_OPTIONS);
      // Images (a dataset name like mnist, an image file, or a checkpoint of a ConvEnergyModel) train the image EBM.
      const image = isImageDataset(values.dataset as string | undefined) || (typeof values.resume === 'string' && isImageModelFile(values.resume));
      if (image) await runTrainImage(values, given, io, deviceOptions);
      else if (given.has('channels') || given.has('imageSize') || given.has('qualitySamples')) throw new UsageError(`--channels, --image-size and --quality-samples are for image datasets (--dataset ${ebm.IMAGE_DATASETS.join(', ')} or an image .npy/.safetensors); '${values.dataset ?? 'the default dataset'}' is 2-D`);
      else await runTrain(values, given, io, deviceOptions);
    } else if (command === 'sample') {
      if (rest.includes('--help') || rest.includes('-h')) return io.write(USAGE), 0;
      const { values } = parse('sample', rest, SAMPLE_OPTIONS);
      if (typeof values.checkpoint === 'string' && isImageModelFile(values.checkpoint)) await runSampleImage({ ...values, checkpoint: values.checkpoint }, io, deviceOptions);
      else await runSample(values, io, deviceOptions);
    } else if (command === 'eval') {
      if (rest.includes('--help') || rest.includes('-h')) return io.write(USAGE), 0;
      const { values } = parse('eval', rest, EVAL_OPTIONS);
      if (typeof values.checkpoint === 'string' && isImageModelFile(values.checkpoint)) await runEvalImage({ ...values, checkpoint: values.checkpoint }, io, deviceOptions);
      else await runEval(values, io, deviceOptions);
    } else if (command === 'info') {
      parse('info', rest, {});
      await info(io, deviceOptions);
    } else if (command === 'bench') {
      await runBench(rest, { write: io.write });
    } else {
      throw new UsageError(`unknown command '${command}' (valid: ${COMMANDS.join(', ')}; webgpu-ebm --help for the options)`);
    }
    return 0;
  } catch (e) {
    const code = e instanceof CliError ? e.exitCode : (e as Error)?.constructor?.name === 'BenchUsageError' ? 2 : 1;
    io.error(`webgpu-ebm ${command}: ${oneLine(e)}`);
    return code;
  } finally {
    // Dawn keeps Node alive while its device exists.
    if (!options.keepDevice) ebm.shutdown();
  }
}

/** The bin's entry: runs the command line and sets the exit status. */
export async function main(argv: string[]): Promise<void> {
  process.exitCode = await run(argv);
}
