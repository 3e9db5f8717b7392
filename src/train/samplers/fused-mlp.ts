// The fused Langevin path for MLP energies (shaders/langevin-mlp.wgsl): when the energy is a
// stack of Linear layers with pointwise activations ending in a Linear to one output, one
// dispatch runs several Langevin steps of every chain, each step the forward pass, dE/dx and
// the update, instead of one dispatch per layer, per backward op and per update.
//
// Recognised energies: those that declare themselves a plain MLP (Module.asPlainMlp(), which
// returns the modules forward() applies in order). The zoo declares:
//   MLPEnergyModel                       network (Linear, act)* + output_layer Linear(h, 1)
//   CustomEnergyModel                    network Sequential(Linear, act, ..., Linear(h, 1))
//   NeuralEnergyFunction(Sequential(...)) the same Sequential as the model
// each unless a subclass or the instance replaces forward() or gradient() (then it is another
// energy and declares nothing); a user's model declares its own layers the same way. The
// declared layers must be: every Linear exactly Linear (f32 weight and bias, or no bias; the
// weight may be parametrized, e.g. spectral norm), each hidden Linear followed by at most one
// activation Sequential fuses into it (a module of the activation table whose epilogue() the
// linear kernel computes; none at all is the identity), and the last Linear with one output and
// no activation after it.
//
// Limits (LANGEVIN_MLP_LIMITS): input width <= 16, every hidden width <= 256, 1 to 4 hidden
// layers, chains of shape [n, inputDim], f32 weights on the chains' device. Anything else runs
// the general path, without error; sampler.fusedSupport() says which and why. Every device runs
// it: the kernel's schedule (langevinMlpSchedule) shares weight loads by shuffles within groups
// of 8 or 4 lanes where the adapter has subgroups of that size, through workgroup memory where
// it has none.
//
// Weights: each Linear's param('weight') and param('bias') are read ONCE per sample() call,
// in the module's current mode, and packed into one buffer (buffer copies, no dispatch). In
// eval mode that is exactly the weight every step of the general path reads. Under spectral
// norm in training mode the general path runs one power iteration per step (each forward
// updates u and v); the fused path runs one per call, at its start, and holds W / sigma for the
// whole chain (the difference is the drift of sigma's estimate over one chain, nil once the
// power iteration has converged).
import { FUSABLE_ACTIVATIONS, fusableEpilogue } from '../../nn/layers/activation.js';
import { Linear } from '../../nn/layers/linear.js';
import { BaseEnergyFunction } from '../../nn/energy.js';
import { Module } from '../../nn/module.js';
import { Tensor, type Runtime } from '../../tensor/index.js';
import { LANGEVIN_MLP_LIMITS, langevinMlpScratchWords, langevinMlpSteps_, langevinMlpUsable, packedLayout, packMlpWeights_, type MlpActivation, type PackedLayout } from '../../tensor/ops/fused/index.js';
import type { CallContext, SampleOptions } from './base.js';
import { checkKeys, positiveInt } from './options.js';
import type { CallKey } from './streams.js';

/** An MLP energy as the fused kernel sees it. */
export interface MlpStructure {
  inputDim: number;
  hidden: { linear: Linear; activation: MlpActivation; actParam: number }[];
  output: Linear;
}

/** Whether the fused path runs, and if not, why. */
export type FusedSupport = { fused: true; structure: MlpStructure } | { fused: false; reason: string };

const no = (reason: string): FusedSupport => ({ fused: false, reason });

/** The activation modules the kernel computes after a Linear: those Sequential fuses (one per row of the activation table). */
const FUSED_ACTIVATION_NAMES = [...FUSABLE_ACTIVATIONS].map((c) => c.name).join(', ');

/** Linear, [activation], Linear, [activation], ..., Linear(h, 1), or why not. */
function fromModules(mods: readonly Module[]): MlpStructure | string {
  const hidden: MlpStructure['hidden'] = [];
  for (let i = 0; i < mods.length; ) {
    const m = mods[i]!;
    if (m.constructor !== Linear) return `${m.constructor.name} at position ${i} is neither a Linear nor an activation right after one`;
    if (i === mods.length - 1) {
      if (hidden.length === 0) return 'the network has no hidden layer';
      return { inputDim: hidden[0]!.linear.inFeatures, hidden, output: m as Linear };
    }
    const next = mods[i + 1]!;
    if (next.constructor === Linear) {
      hidden.push({ linear: m as Linear, activation: 'none', actParam: 0 });
      i += 1;
      continue;
    }
    const ep = fusableEpilogue(next);
    if (!ep) return `${next.constructor.name} after a Linear is not an activation the fused kernel computes (${FUSED_ACTIVATION_NAMES}, where their epilogue() allows)`;
    hidden.push({ linear: m as Linear, activation: ep.activation as MlpActivation, actParam: ep.param });
    i += 2;
  }
  return mods.length === 0 ? 'the network is empty' : 'the network ends in an activation, not in a Linear to one output';
}

/** The energy's MLP structure, or why it has none the fused kernel can run. */
export function mlpStructure(energy: unknown): MlpStructure | string {
  if (!(energy instanceof BaseEnergyFunction)) return 'the energy is not a BaseEnergyFunction';
  const name = energy.constructor.name;
  // An instance with its own forward or gradient is not the model its declaration describes.
  if (Object.hasOwn(energy, 'forward') || Object.hasOwn(energy, 'gradient')) return 'the energy overrides forward() or gradient()';
  const plain: unknown = energy.asPlainMlp();
  if (plain === null || plain === undefined)
    return `${name} is not an MLPEnergyModel, CustomEnergyModel or NeuralEnergyFunction over a Sequential as their classes define them, and does not declare a plain MLP (its asPlainMlp() returns null)`;
  const layers = (plain as { layers?: unknown }).layers;
  if (!Array.isArray(layers) || !layers.every((m) => m instanceof Module))
    throw new Error(`${name}.asPlainMlp() must return { layers: Module[] } or null, got ${typeof plain === 'object' ? `an object whose layers are ${Array.isArray(layers) ? 'not all Modules' : typeof layers}` : typeof plain}`);
  return fromModules(layers);
}

/**
 * Whether `energy` runs fused for chains of shape [n, ...sampleShape] (null: [inputDim]) on `rt`
 * (null: the device of the network's weights).
 */
export function fusedSupport(energy: unknown, sampleShape: readonly number[] | null, rt: Runtime | null): FusedSupport {
  const s = mlpStructure(energy);
  if (typeof s === 'string') return no(s);
  sampleShape ??= [s.inputDim];
  rt ??= s.hidden[0]!.linear.weight.device;
  if (!langevinMlpUsable(rt)) return no('the device runs none of the fused kernel\'s schedules');
  const L = LANGEVIN_MLP_LIMITS;
  if (sampleShape.length !== 1 || sampleShape[0] !== s.inputDim) return no(`samples of shape [${sampleShape.join(', ')}] are not [${s.inputDim}] (the network's input)`);
  if (s.inputDim > L.maxDim) return no(`input width ${s.inputDim} exceeds ${L.maxDim}`);
  if (s.hidden.length > L.maxHiddenLayers) return no(`${s.hidden.length} hidden layers exceed ${L.maxHiddenLayers}`);
  if (s.output.outFeatures !== 1) return no(`the last Linear has ${s.output.outFeatures} outputs, not 1`);
  let prev = s.inputDim;
  for (const [i, { linear }] of [...s.hidden, { linear: s.output }].entries()) {
    if (linear.inFeatures !== prev) return no(`Linear ${i} takes ${linear.inFeatures} inputs but receives ${prev}`);
    if (linear !== s.output && linear.outFeatures > L.maxWidth) return no(`hidden width ${linear.outFeatures} exceeds ${L.maxWidth}`);
    prev = linear.outFeatures;
    const w = linear.weight;
    const b = linear.bias;
    if (w.dtype !== 'f32' || (b && b.dtype !== 'f32')) return no(`Linear ${i} holds ${w.dtype} weights (the fused kernel reads f32)`);
    if (w.device !== rt || (b && b.device !== rt)) return no(`Linear ${i} lives on another device than the chains`);
    const bp = linear.parametrizations.get('bias');
    if (bp) return no(`Linear ${i}'s bias is parametrized`);
  }
  return { fused: true, structure: s };
}

/** One sample() call's fused run: the packed weights and the chunking of the steps. */
export class FusedMlpRun {
  private readonly layout: PackedLayout;
  private readonly packed: Tensor;
  /** The chains' activations and act'(z) between layers (see langevin-mlp.wgsl). */
  private readonly scratch: Tensor;
  private next = 0;

  constructor(
    rt: Runtime,
    structure: MlpStructure,
    private readonly chains: number,
    private readonly nSteps: number,
    /** Chunks end at multiples of this (the steps after which the caller records the chains). */
    private readonly boundary: number,
    private readonly stepsPerDispatch: number,
  ) {
    this.layout = packedLayout(
      structure.inputDim,
      structure.hidden.map((h) => ({ inFeatures: h.linear.inFeatures, outFeatures: h.linear.outFeatures, activation: h.activation, actParam: h.actParam })),
    );
    // Both live as long as the call's scope: the sampler's tidy frees them with its other temporaries.
    this.packed = Tensor.empty(rt, [this.layout.words], 'langevin-mlp weights');
    this.scratch = Tensor.empty(rt, [langevinMlpScratchWords(rt, this.layout, chains)], 'langevin-mlp scratch');
    this.pack(structure);
  }

  /** Copies each layer's weight and bias (as its forward would compute them now) into the packed weights. */
  private pack(s: MlpStructure): void {
    const made: Tensor[] = [];
    const param = (m: Linear, name: string): Tensor | null => {
      const t = m.param(name);
      if (t && t !== m.rawParameter(name)) made.push(t);
      return t;
    };
    try {
      const layers = s.hidden.map((h) => ({ weight: param(h.linear, 'weight')!, bias: param(h.linear, 'bias') }));
      packMlpWeights_(this.packed, this.layout, layers, param(s.output, 'weight')!);
    } finally {
      // Computed weights (spectral norm's W / sigma) are only needed until the copies run.
      for (const t of made) t.dispose();
    }
  }

  /**
   * Step t of the call. The first step of a chunk runs the whole chunk (up to stepsPerDispatch
   * steps, never past a recording boundary); the other steps of the chunk have nothing to do.
   */
  step(x: Tensor, t: number, key: CallKey, hs: (step: number) => readonly [number, number], clamp: { min?: number; max?: number } | undefined): void {
    if (t < this.next) return;
    const end = Math.min(this.nSteps, t + this.stepsPerDispatch, (Math.floor(t / this.boundary) + 1) * this.boundary);
    const table: (readonly [number, number])[] = [];
    for (let s = t; s < end; s++) table.push(hs(s));
    langevinMlpSteps_(x, this.packed, this.scratch, { layout: this.layout, step0: t, hs: table, key, clampMin: clamp?.min, clampMax: clamp?.max });
    this.next = end;
  }
}

export const DEFAULT_STEPS_PER_DISPATCH = 32;

/** The sampler's `fused` option as steps per dispatch, 0 for off. */
export function fusedOption(where: string, f: unknown): number {
  if (f === undefined || f === true) return DEFAULT_STEPS_PER_DISPATCH;
  if (f === false) return 0;
  checkKeys(where, 'fused', f, ['stepsPerDispatch'], 'fused key');
  const n = (f as { stepsPerDispatch?: unknown }).stepsPerDispatch;
  if (n === undefined) return DEFAULT_STEPS_PER_DISPATCH;
  const k = positiveInt(where, 'fused.stepsPerDispatch', n);
  const max = LANGEVIN_MLP_LIMITS.maxStepsPerDispatch;
  if (k > max) throw new Error(`${where}: fused.stepsPerDispatch must be at most ${max}, got ${k}`);
  return k;
}

/** The fused run of one sample() call over the chains x, or null where the energy does not qualify. */
export function startFusedRun(energy: unknown, x: Tensor, ctx: CallContext, call: SampleOptions | null, stepsPerDispatch: number): FusedMlpRun | null {
  const support = fusedSupport(energy, x.shape.slice(1), ctx.rt);
  if (!support.fused) return null;
  // Chunks end where the base loop records the chains (every thin-th step).
  const recording = !!(call && (call.returnTrajectory || call.returnDiagnostics));
  const boundary = recording ? (call!.thin ?? 1) : ctx.nSteps;
  return new FusedMlpRun(ctx.rt, support.structure, ctx.chains, ctx.nSteps, boundary, stepsPerDispatch);
}
