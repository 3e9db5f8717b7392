// The fused MLP Langevin sampler as tensor ops (shaders/langevin-mlp.wgsl): one dispatch runs
// several Langevin steps of every chain of an MLP energy, each step the forward pass, dE/dx and
// the update, instead of one dispatch per layer, per backward op and per update.
//
// The caller lays the network out with packedLayout (checking it against LANGEVIN_MLP_LIMITS
// and the device against langevinMlpUsable first), makes a packed weight tensor of layout.words
// elements and a scratch tensor of langevinMlpScratchWords elements, fills the weights with
// packMlpWeights_ (buffer copies, no dispatch) and runs langevinMlpSteps_ per chunk of steps.
import {
  LANGEVIN_MLP_LIMITS,
  langevinMlpKernel,
  langevinMlpScratchWords,
  langevinMlpUsable,
  packedLayout,
  type MlpActivation,
  type MlpLayerShape,
  type PackedLayout,
} from '../../../kernels/langevin-mlp.js';
import type { Tensor } from '../../tensor.js';
import { arg, distinct, finiteArg, intArg, sameDevice } from './common.js';
import { copyInto_, writeData_ } from './copy.js';
import { checkKey, type PhiloxKey } from './langevin.js';

export { LANGEVIN_MLP_LIMITS, langevinMlpScratchWords, langevinMlpUsable, packedLayout, type MlpActivation, type MlpLayerShape, type PackedLayout };

/** One hidden layer's tensors as its forward computes them now. */
export interface MlpLayerWeights {
  /** [out, in] */
  weight: Tensor;
  /** [out], or null for a Linear without bias. */
  bias: Tensor | null;
}

/**
 * Copies the hidden layers' weights and biases and the output layer's weight [1, h] into
 * `packed` (layout.words elements) where `layout` puts them: buffer copies, no dispatch. Padding
 * (and a missing bias) is zeroed first by an upload.
 */
export function packMlpWeights_(packed: Tensor, layout: PackedLayout, layers: readonly MlpLayerWeights[], outWeight: Tensor): Tensor {
  const op = 'packMlpWeights_';
  arg(op, 'packed', packed, { minSize: layout.words, written: true });
  if (!Array.isArray(layers) || layers.length !== layout.layers.length)
    throw new Error(`${op}: the layout has ${layout.layers.length} hidden layers, got ${Array.isArray(layers) ? layers.length : 'no array of'} layer weights`);
  const named: Record<string, Tensor | null> = { packed };
  layers.forEach((l, i) => {
    const shape = layout.layers[i]!;
    named[`layers[${i}].weight`] = arg(op, `layers[${i}].weight`, l.weight, { shape: [shape.out, shape.in] });
    named[`layers[${i}].bias`] = l.bias === null ? null : arg(op, `layers[${i}].bias`, l.bias, { shape: [shape.out] });
  });
  const last = layout.layers[layout.layers.length - 1]!;
  named.outWeight = arg(op, 'outWeight', outWeight, { shape: [1, last.out] });
  sameDevice(op, named);
  for (const [name, t] of Object.entries(named)) if (t && t !== packed) distinct(op, ['packed', packed], [name, t]);

  if (layout.padded || layers.some((l) => !l.bias)) writeData_(packed, new Float32Array(layout.words));
  layers.forEach(({ weight, bias }, i) => {
    const l = layout.layers[i]!;
    // Rows are contiguous unless the previous layer's rows were padded (a wider row stride).
    if (l.rowStride === l.in || i === 0) copyInto_(packed, weight, { dstOffset: l.weight, count: l.out * l.in });
    else for (let r = 0; r < l.out; r++) copyInto_(packed, weight, { srcOffset: r * l.in, dstOffset: l.weight + r * l.rowStride, count: l.in });
    if (bias) copyInto_(packed, bias, { dstOffset: l.bias, count: l.out });
  });
  copyInto_(packed, outWeight, { dstOffset: layout.wOut, count: last.out });
  return packed;
}

export interface LangevinMlpSteps {
  layout: PackedLayout;
  /** The Philox counter word of the first step (its index in the chain). */
  step0: number;
  /** [h, sigma] per step of this dispatch (1 to maxStepsPerDispatch pairs). */
  hs: readonly (readonly [number, number])[];
  key: PhiloxKey;
  clampMin?: number;
  clampMax?: number;
}

/**
 * Runs hs.length Langevin steps of every chain of x [chains, layout.dim], in place: one dispatch,
 * or one per block of chains where their scratch would not fit one storage binding.
 */
export function langevinMlpSteps_(x: Tensor, packed: Tensor, scratch: Tensor, a: LangevinMlpSteps): Tensor {
  const op = 'langevinMlpSteps_';
  const { layout } = a;
  arg(op, 'x', x, { written: true });
  if (x.rank !== 2 || x.shape[1] !== layout.dim || x.shape[0] === 0) throw new Error(`${op}: x must have shape [chains, ${layout.dim}] (the network's input) with chains >= 1, got [${x.shape.join(', ')}]`);
  const rt = sameDevice(op, { x, packed: arg(op, 'packed', packed, { minSize: layout.words }), scratch: arg(op, 'scratch', scratch, { written: true }) });
  const need = langevinMlpScratchWords(rt, layout, x.shape[0]!);
  if (scratch.size < need) throw new Error(`${op}: scratch has ${scratch.size} elements; ${x.shape[0]} chains of this network need langevinMlpScratchWords = ${need}`);
  distinct(op, ['x', x], ['packed', packed]);
  distinct(op, ['x', x], ['scratch', scratch]);
  distinct(op, ['packed', packed], ['scratch', scratch]);
  intArg(op, 'step0', a.step0, 0, 0xffffffff);
  checkKey(op, a.key);
  if (!Array.isArray(a.hs)) throw new Error(`${op}: hs must be an array of [h, sigma] pairs`);
  a.hs.forEach(([h, sigma], i) => {
    finiteArg(op, `hs[${i}][0] (h)`, h);
    finiteArg(op, `hs[${i}][1] (sigma)`, sigma);
  });
  if (a.clampMin !== undefined) finiteArg(op, 'clampMin', a.clampMin);
  if (a.clampMax !== undefined) finiteArg(op, 'clampMax', a.clampMax);
  langevinMlpKernel(rt, x.storage.buffer, packed.storage.buffer, scratch.storage.buffer, {
    chains: x.shape[0]!,
    layout,
    step0: a.step0,
    hs: a.hs,
    seedLo: a.key.lo,
    seedHi: a.key.hi,
    clampMin: a.clampMin,
    clampMax: a.clampMax,
  });
  return x;
}
