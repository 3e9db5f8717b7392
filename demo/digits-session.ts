// The demo's digits mode, without the DOM: the library's image EBM (createImageEBM:
// ConvEnergyModel, PCD with a replay buffer and uniform restarts, clamped Langevin, Adam, gradient
// clipping; defaults in IMAGE_DEFAULTS) trained on MNIST from the compact asset, 64 persistent
// display chains that the page draws as an 8 x 8 grid, the digit classifier's quality figures of
// those chains, held-out digits' energies against noise's, and checkpoints in the CLI's format
// (safetensors, PyTorch's names, `webgpu-ebm.model` 'ConvEnergyModel' and `webgpu-ebm.config` the
// ConvEnergyModel options as JSON), so files from the CLI and from examples/pytorch load here.
import * as ebm from '../src/index.js';
import { mulberry32 } from '../src/tensor/host-random.js';

export interface DigitsConfig {
  /** The ConvEnergyModel's stride-2 conv channels. */
  channels: number[];
  batchSize: number;
  /** Langevin steps per update (PCD-k). */
  langevinSteps: number;
  lr: number;
  /** Seeds the weights, the chains and the minibatches. */
  seed: number;
}

const D = ebm.IMAGE_DEFAULTS;
export const DIGITS_DEFAULT_CONFIG: Readonly<DigitsConfig> = Object.freeze({
  channels: [...D.channels],
  batchSize: D.batchSize,
  langevinSteps: D.langevinSteps,
  lr: D.lr,
  seed: 0,
});

/** Where the assets come from: URLs on the page's own origin (main.ts), or bytes. */
export interface DigitsAssets {
  mnist: string | Uint8Array;
  classifier: string | Uint8Array;
}

export interface DigitsStepMetrics {
  step: number;
  loss: number;
  positiveEnergy: number;
  negativeEnergy: number;
}

export interface DigitsQuality {
  /** Chains scored (the display chains). */
  n: number;
  meanConfidence: number;
  histogram: number[];
  inceptionScore: number;
}

/** The display grid: 8 x 8 persistent chains. */
export const DISPLAY_CHAINS = 64;
const HELD_OUT = 256;
const HISTORY = 10_000;
const SIDE = 28;
const META = ebm.CHECKPOINT_METADATA;

export function checkDigitsConfig(c: DigitsConfig): void {
  const fail = (m: string) => {
    throw new Error(m);
  };
  if (!Array.isArray(c.channels) || c.channels.length < 1 || c.channels.length > 4 || !c.channels.every((d) => Number.isInteger(d) && d >= 1 && d <= 256))
    fail(`conv channels must be 1 to 4 integers 1..256, like "16, 32"; got ${JSON.stringify(c.channels)}`);
  if (!(Number.isInteger(c.batchSize) && c.batchSize >= 1 && c.batchSize <= 1024)) fail(`batch size must be an integer 1..1024, got ${c.batchSize}`);
  if (!(Number.isInteger(c.langevinSteps) && c.langevinSteps >= 1 && c.langevinSteps <= 1000)) fail(`Langevin steps must be an integer 1..1000, got ${c.langevinSteps}`);
  if (!(Number.isFinite(c.lr) && c.lr > 0)) fail(`lr must be a positive number, got ${c.lr}`);
  if (!(Number.isSafeInteger(c.seed) && c.seed >= 0)) fail(`seed must be a non-negative integer, got ${c.seed}`);
}

// The digits and the classifier are read once per page (sessions come and go).
let digitsCache: { key: DigitsAssets['mnist']; digits: Promise<ebm.MnistDigits> } | null = null;
let classifierCache: { key: DigitsAssets['classifier']; model: Promise<ebm.DigitClassifier> } | null = null;

function digitsOf(src: DigitsAssets['mnist']): Promise<ebm.MnistDigits> {
  if (digitsCache?.key !== src) {
    const digits = ebm.loadMnistDigits(src);
    digitsCache = { key: src, digits };
    digits.catch(() => (digitsCache = null));
  }
  return digitsCache.digits;
}

function classifierOf(src: DigitsAssets['classifier']): Promise<ebm.DigitClassifier> {
  if (classifierCache?.key !== src) {
    const model = ebm.loadDigitClassifier(src);
    classifierCache = { key: src, model };
    model.catch(() => (classifierCache = null));
  }
  return classifierCache.model;
}

/** A ConvEnergyModel's options from a checkpoint's metadata, else from its conv_net.* shapes. */
export function inferConvOptions(bytes: Uint8Array): { options: ebm.ConvEnergyModelOptions; from: 'metadata' | 'shapes'; metadata: Record<string, string> } {
  const parsed = ebm.parseSafetensors(bytes);
  const meta = parsed.metadata;
  const model = meta[META.model];
  if (model !== undefined && model !== 'ConvEnergyModel') throw new Error(`the digits mode loads ConvEnergyModel checkpoints; this file holds a ${model} (load it in a 2-D dataset)`);
  if (meta[META.config] && model === 'ConvEnergyModel') {
    let o: ebm.ConvEnergyModelOptions;
    try {
      o = JSON.parse(meta[META.config]!) as ebm.ConvEnergyModelOptions;
    } catch (e) {
      throw new Error(`the file's '${META.config}' is not valid JSON: ${(e as Error).message}`);
    }
    return { options: o, from: 'metadata', metadata: meta };
  }
  // A bare PyTorch state dict of the seed's class: conv_net.{0,2,4,...}.weight [out, in, k, k].
  const channels: number[] = [];
  let inputChannels = 0;
  let kernelSize = 0;
  for (let i = 0; ; i += 2) {
    const w = parsed.tensors.get(`conv_net.${i}.weight`);
    if (!w) break;
    if (w.shape.length !== 4) throw new Error(`conv_net.${i}.weight has shape [${w.shape.join(', ')}], not [out, in, k, k]`);
    if (i === 0) ((inputChannels = w.shape[1]!), (kernelSize = w.shape[2]!));
    channels.push(w.shape[0]!);
  }
  if (!channels.length) throw new Error('not a ConvEnergyModel checkpoint: no webgpu-ebm.model metadata and no conv_net.0.weight');
  return { options: { inputChannels, imageSize: SIDE, channels, kernelSize, activation: 'silu' }, from: 'shapes', metadata: meta };
}

export class DigitsSession {
  readonly config: DigitsConfig;
  readonly recipe: ebm.ImageEBM;
  /** The model's constructor options (what a checkpoint's metadata holds). */
  readonly modelOptions: ebm.ConvEnergyModelOptions;
  step = 0;
  readonly history: DigitsStepMetrics[] = [];
  /** Where the weights came from: 'init' or the loaded file's name. */
  source = 'init';
  /** The last quality figures of the display chains (null before the first score()). */
  quality: DigitsQuality | null = null;

  private readonly train: ebm.Tensor;
  private readonly heldOut: ebm.Tensor;
  private readonly classifier: ebm.DigitClassifier;
  private readonly rng: () => number;
  private display: ebm.Tensor;
  private disposed = false;

  private constructor(config: DigitsConfig, options: ebm.ConvEnergyModelOptions, train: ebm.Tensor, heldOut: ebm.Tensor, classifier: ebm.DigitClassifier) {
    this.config = config;
    this.train = train;
    this.heldOut = heldOut;
    this.classifier = classifier;
    this.recipe = ebm.createImageEBM({
      channels: options.channels ? [...options.channels] : config.channels,
      kernelSize: options.kernelSize ?? D.kernelSize,
      activation: typeof options.activation === 'string' ? options.activation : D.activation,
      batchSize: config.batchSize,
      langevinSteps: config.langevinSteps,
      lr: config.lr,
      seed: config.seed,
    });
    this.modelOptions = {
      inputChannels: 1,
      imageSize: SIDE,
      channels: [...this.recipe.config.channels],
      kernelSize: this.recipe.config.kernelSize,
      activation: this.recipe.config.activation as ebm.ConvEnergyModelOptions['activation'],
    };
    this.rng = mulberry32(ebm.deriveSeed(config.seed, 91)!);
    this.display = ebm.rand([DISPLAY_CHAINS, 1, SIDE, SIDE], { low: D.range.min, high: D.range.max, seed: ebm.deriveSeed(config.seed, 92) });
  }

  /**
   * A new session: the training digits (9,001, [-1, 1]) go to the GPU once, 256 held-out ones
   * for the energy readout; `options` (a loaded file's) fixes the architecture.
   */
  static async create(config: DigitsConfig, assets: DigitsAssets, options?: ebm.ConvEnergyModelOptions): Promise<DigitsSession> {
    await ebm.init();
    const c: DigitsConfig = { ...config, channels: options?.channels ? [...options.channels] : [...config.channels] };
    checkDigitsConfig(c);
    if (options && (options.inputChannels !== 1 || options.imageSize !== SIDE))
      throw new Error(`the digits mode trains on MNIST [1, 28, 28]; the checkpoint's model takes [${options.inputChannels}, ${options.imageSize}, ${options.imageSize}]`);
    const [digits, classifier] = await Promise.all([digitsOf(assets.mnist), classifierOf(assets.classifier)]);
    const train = await ebm.loadMnist({ source: digits, split: 'train' });
    const held = await ebm.loadMnist({ source: digits, split: 'heldOut', limit: HELD_OUT });
    return new DigitsSession(c, options ?? { inputChannels: 1, imageSize: SIDE, channels: c.channels }, train.images, held.images, classifier);
  }

  /** A session whose model is the checkpoint's (CLI, PyTorch example, or this page's Download). */
  static async fromCheckpoint(bytes: Uint8Array, base: DigitsConfig, assets: DigitsAssets, name = 'checkpoint'): Promise<{ session: DigitsSession; from: 'metadata' | 'shapes' }> {
    const { options, from, metadata } = inferConvOptions(bytes);
    const session = await DigitsSession.create(base, assets, options);
    try {
      const r = await ebm.loadSafetensors(session.recipe.model, bytes, { strict: false });
      const extra = r.unexpectedKeys.filter(ebm.isModelTensor);
      const problems = [
        r.missingKeys.length ? `missing ${r.missingKeys.join(', ')}` : '',
        extra.length ? `unexpected ${extra.join(', ')}` : '',
        r.mismatched.length ? `mis-shaped ${r.mismatched.map((m) => m.key).join(', ')}` : '',
      ].filter(Boolean);
      if (problems.length) throw new Error(`the checkpoint does not fit ConvEnergyModel(channels ${session.modelOptions.channels!.join(', ')}): ${problems.join('; ')}`);
    } catch (e) {
      session.dispose();
      throw e;
    }
    const step = Number(metadata[META.step]);
    session.step = Number.isSafeInteger(step) && step >= 0 ? step : 0;
    session.source = name;
    return { session, from };
  }

  /** One PCD update on a random minibatch of training digits; one readback of its metrics. */
  async trainStep(): Promise<DigitsStepMetrics> {
    this.assertAlive();
    const n = this.train.shape[0]!;
    const idx = new Uint32Array(this.config.batchSize);
    for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(this.rng() * n);
    const batch = ebm.indexSelect(this.train, idx);
    let m: ebm.StepMetrics;
    try {
      m = await this.recipe.trainer.trainStep(batch);
    } finally {
      batch.dispose();
    }
    const v = await m.read();
    const out: DigitsStepMetrics = { step: ++this.step, loss: v.loss!, positiveEnergy: v.posEnergy!, negativeEnergy: v.negEnergy! };
    if (![out.loss, out.positiveEnergy, out.negativeEnergy].every(Number.isFinite)) throw new Error(`step ${out.step} is not finite (loss ${out.loss}); lower the learning rate`);
    this.history.push(out);
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    return out;
  }

  /** Moves the 64 display chains nSteps of the recipe's clamped Langevin; resolves with their pixels [64 * 784] in [-1, 1]. */
  async advanceChains(nSteps: number): Promise<Float32Array> {
    this.assertAlive();
    if (nSteps > 0) {
      const next = ebm.tidy(() => ebm.keep(this.recipe.sampler.sample({ x: this.display, nSteps })));
      this.display.dispose();
      this.display = next;
    }
    return this.display.data();
  }

  /** The classifier's figures of the display chains (mean confidence, histogram, inception score). */
  async score(): Promise<DigitsQuality> {
    this.assertAlive();
    const q = await ebm.scoreDigits(this.classifier, this.display);
    this.quality = { n: q.n, meanConfidence: q.meanConfidence, histogram: q.histogram, inceptionScore: q.inceptionScore };
    return this.quality;
  }

  /** E of `n` held-out digits and of `n` uniform-noise images (the data's box), as numbers. */
  async heldOutVsNoise(n = 64): Promise<{ heldOut: number[]; noise: number[] }> {
    this.assertAlive();
    const k = Math.max(1, Math.min(n, this.heldOut.shape[0]!));
    const [a, b] = ebm.noGrad(() =>
      ebm.tidy(() => {
        const noise = ebm.rand([k, 1, SIDE, SIDE], { low: D.range.min, high: D.range.max, seed: ebm.deriveSeed(this.config.seed, 93) });
        return [this.recipe.model.forward(this.heldOut.slice(0, 0, k)), this.recipe.model.forward(noise)].map((t) => ebm.keep(t));
      }),
    );
    try {
      return { heldOut: Array.from(await a!.data()), noise: Array.from(await b!.data()) };
    } finally {
      a!.dispose();
      b!.dispose();
    }
  }

  /** E of images [n, 1, 28, 28] given flat (n * 784 values). */
  async energies(pixels: Float32Array | readonly number[]): Promise<Float32Array> {
    this.assertAlive();
    const px = SIDE * SIDE;
    if (pixels.length === 0 || pixels.length % px !== 0) throw new Error(`energies: expected n * 784 pixel values (images [n, 1, 28, 28]), got ${pixels.length}`);
    const x = ebm.tensor(Float32Array.from(pixels), [pixels.length / px, 1, SIDE, SIDE]);
    try {
      const e = ebm.noGrad(() => ebm.tidy(() => ebm.keep(this.recipe.model.forward(x))));
      try {
        return await e.data();
      } finally {
        e.dispose();
      }
    } finally {
      x.dispose();
    }
  }

  /** model.safetensors as the CLI writes it: PyTorch's names, the ConvEnergyModel options in the metadata. */
  async checkpointBytes(): Promise<Uint8Array> {
    this.assertAlive();
    return ebm.saveSafetensors(this.recipe.model, undefined, {
      metadata: {
        format: 'pt',
        [META.kind]: 'model',
        [META.model]: 'ConvEnergyModel',
        [META.config]: JSON.stringify(this.modelOptions),
        [META.dataset]: 'mnist',
        [META.step]: String(this.step),
        [META.source]: 'demo',
      },
    });
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('this session has been replaced (reset or a loaded checkpoint)');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const r = this.recipe;
    r.trainer.dispose();
    r.loss.dispose();
    r.optimizer.dispose();
    r.model.dispose();
    for (const t of [this.train, this.heldOut, this.display]) t.dispose();
  }
}
