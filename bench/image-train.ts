// image-train: one training step of the default image recipe (issue 13's figure), what
// createImageEBM's trainer does per step, with IMAGE_DEFAULTS' model and numbers
// (src/train/image-defaults.ts): draw `batch` distinct chains from a replay buffer of
// `bufferSize` images, restart restartFraction of them from uniform noise in the box, run
// langevinSteps clamped Langevin steps on them (input gradient only), write them back to the
// buffer, then the loss mean E+ - mean E- + alpha (mean E+^2 + mean E-^2) over one forward of
// [x+; x-], backward, the gradients clipped to the global norm maxGradNorm, and Adam with the
// recipe's lr and betas (0, 0.999). The positives are a fixed batch of uniform [-1, 1] images,
// not MNIST digits (loadMnist is async and the cost does not depend on the pixels).
//
// Ours is the library's own trainer: createImageEBM(...).trainer.step(x+), timed to its awaited
// metrics read. tfjs: tf.grad of the summed energy per Langevin step (image-langevin.ts),
// tf.gather for the buffer rows and for the write-back, tf.variableGrads of the loss, the clip in
// tf ops and tf.train.adam's applyGradients; jax-js: its jitted Langevin step per step, jitted
// gathers for the buffer, and one jitted valueAndGrad + clip + hand-written Adam (jax-nets.ts).
// Both write the buffer back as ours does: one gather over [buffer; negatives] with a row map
// (rows idx[i] taken from negative i). Every side's run ends reading the loss back.
//
// FLOPs: the chains' forward and input-gradient passes (2 forwards per step over `batch` rows),
// and the loss's forward, weight gradient and input gradient (all but the first conv layer's)
// over 2 x batch rows; the buffer copies and Adam are not counted.
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import type { Array as JaxArray } from '@jax-js/jax';
import * as ebm from '../src/index.js';
import { convFlops } from './conv-shapes.js';
import { IMAGE_CHAIN, imageConvLayers, imageForwardFlops, jaxImageEnergy, jaxImageLangevinStep, jaxUnlessTooSlow, tfjsImageEnergy, tfjsLangevinStep } from './image-langevin.js';
import { jaxAdamState, jaxAdamStep, jaxChain } from './jax-nets.js';
import type { BenchCase, Suite } from './suite.js';

export interface ImageTrainShape {
  batch: number;
  /** Langevin steps per update. */
  steps: number;
  /** Image channels and side. */
  channels: number;
  size: number;
  /** ConvEnergyModel's conv channels. */
  convChannels: readonly number[];
  /** Replay buffer rows. */
  bufferSize: number;
}

const D = ebm.IMAGE_DEFAULTS;

export const IMAGE_TRAIN_SHAPES: readonly ImageTrainShape[] = [
  { batch: D.batchSize, steps: D.langevinSteps, channels: 1, size: 28, convChannels: D.channels, bufferSize: D.bufferSize },
];

function flopsOf(s: ImageTrainShape): number {
  const chains = imageConvLayers({ images: s.batch, ...s });
  const both = imageConvLayers({ images: 2 * s.batch, ...s });
  const loss = 3 * imageForwardFlops(both, 2 * s.batch) - convFlops(both[0]!);
  return 2 * imageForwardFlops(chains, s.batch) * s.steps + loss;
}

/**
 * A buffer step's row choice on the host, as the library's is: `batch` distinct rows (a partial
 * Fisher-Yates shuffle), and the write-back's row map over [buffer; negatives].
 */
function rowChoice(size: number, batch: number, random: () => number): { idx: Int32Array; rowMap: Int32Array } {
  const map = Int32Array.from({ length: size }, (_, i) => i);
  const idx = new Int32Array(batch);
  for (let i = 0; i < batch; i++) {
    const j = i + Math.floor(random() * (size - i));
    [map[i], map[j]] = [map[j]!, map[i]!];
    idx[i] = map[i]!;
  }
  const rowMap = Int32Array.from({ length: size }, (_, i) => i);
  idx.forEach((r, i) => (rowMap[r] = size + i));
  return { idx, rowMap };
}

/** A small seeded generator for the peers' row choice (mulberry32). */
function hostRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function imageTrainCase(s: ImageTrainShape): BenchCase {
  const { batch, steps, channels, size, bufferSize } = s;
  const layers = imageConvLayers({ images: batch, ...s });
  const { min, max } = IMAGE_CHAIN;
  const fresh = Math.round(D.restartFraction * batch);
  const alpha = D.energyRegWeight;
  const [b1, b2] = D.betas;
  const c: BenchCase = {
    name: `b${batch} k${steps} conv ${s.convChannels.join(',')} buffer ${bufferSize}`,
    flops: flopsOf(s),
    ours: () => {
      const { model, loss, optimizer, trainer } = ebm.createImageEBM({
        inputChannels: channels,
        imageSize: size,
        channels: s.convChannels,
        batchSize: batch,
        langevinSteps: steps,
        bufferSize,
        seed: 1,
      });
      const pos = ebm.rand([batch, channels, size, size], { low: min, high: max, seed: 2 });
      return {
        // Records the whole step; the runner awaits the read of its metrics (the loss).
        run: () => {
          const m = trainer.step(pos);
          return { readback: () => m.read() };
        },
        dispose: () => {
          trainer.dispose();
          loss.dispose();
          optimizer.dispose();
          pos.dispose();
          model.dispose();
        },
      };
    },
    tfjs: (tf) => {
      const { energies, params } = tfjsImageEnergy(tf, layers, 10);
      const langevin = tfjsLangevinStep(tf, energies);
      const optimizer = tf.train.adam(D.lr, b1, b2, 1e-8);
      const pos = tf.randomUniform([batch, size, size, channels], min, max, 'float32', 2);
      let buffer = tf.randomUniform([bufferSize, size, size, channels], min, max, 'float32', 3);
      const random = hostRandom(4);
      let seed = 100;
      const lossOf = (neg: Tensor) => () => {
        const e = energies(tf.concat([pos, neg]));
        const [ep, en] = tf.split(e, 2);
        return tf.add(tf.sub(tf.mean(ep!), tf.mean(en!)), tf.mul(tf.add(tf.mean(tf.square(ep!)), tf.mean(tf.square(en!))), alpha)) as Scalar;
      };
      return {
        run: () => {
          const { idx, rowMap } = rowChoice(bufferSize, batch, random);
          let x = tf.tidy(() => {
            const start = tf.gather(buffer, tf.tensor1d(idx, 'int32'));
            const noise = tf.randomUniform([fresh, size, size, channels], min, max, 'float32', seed++);
            return fresh > 0 ? tf.concat([noise, tf.slice(start, [fresh], [batch - fresh])]) : start;
          });
          for (let t = 0; t < steps; t++) x = langevin(x, seed++);
          const neg = x;
          const next = tf.tidy(() => tf.gather(tf.concat([buffer, neg]), tf.tensor1d(rowMap, 'int32')));
          buffer.dispose();
          buffer = next;
          const value = tf.tidy(() => {
            const { value, grads } = tf.variableGrads(lossOf(neg), params);
            // A chain of adds, not tf.addN: tfjs's webgpu AddN binds one buffer per input, over
            // the 8-storage-buffer limit for this model's 8 parameters.
            const norm = tf.sqrt(Object.values(grads).map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b)));
            const scale = tf.minimum(tf.div(D.maxGradNorm, tf.add(norm, 1e-6)), 1);
            const clipped = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)]));
            optimizer.applyGradients(clipped);
            return value;
          });
          neg.dispose();
          return value;
        },
        dispose: () => {
          optimizer.dispose();
          tf.dispose([pos, buffer, ...params]);
        },
      };
    },
    jax: (jax) => jaxUnlessTooSlow(c, () => {
      const { numpy: np, random } = jax;
      const { params, energies } = jaxImageEnergy(jax, layers, 10);
      const langevin = jaxImageLangevinStep(jax, energies);
      const loss = (ps: JaxArray[], [pos, neg]: JaxArray[]) => {
        const e = energies(ps, np.concatenate([pos!, neg!]));
        const ep = e.ref.slice([0, batch]);
        const en = e.slice([batch]);
        const reg = np.mean(np.square(ep.ref)).add(np.mean(np.square(en.ref))).mul(alpha);
        return np.mean(ep).sub(np.mean(en)).add(reg);
      };
      const adam = jaxAdamStep(jax, loss, D.lr, { betas: [b1, b2], maxGradNorm: D.maxGradNorm });
      const state = jaxAdamState(jax, params);
      // The chains' starts: the buffer's rows, the first `fresh` replaced by uniform noise.
      const starts = jax.jit((buffer: JaxArray, idx: JaxArray, key: JaxArray) => {
        const rows = np.take(buffer, idx, 0);
        if (fresh === 0) return rows;
        const noise = random.uniform(key, [fresh, channels, size, size], { minval: min, maxval: max });
        return np.concatenate([noise, rows.slice([fresh, batch])]);
      });
      const writeBack = jax.jit((buffer: JaxArray, neg: JaxArray, rowMap: JaxArray) => np.take(np.concatenate([buffer, neg]), rowMap, 0));
      const pos = random.uniform(random.key(2), [batch, channels, size, size], { minval: min, maxval: max });
      let buffer = random.uniform(random.key(3), [bufferSize, channels, size, size], { minval: min, maxval: max });
      const host = hostRandom(4);
      let seed = 100;
      return {
        run: () => {
          const { idx, rowMap } = rowChoice(bufferSize, batch, host);
          const x = starts(buffer.ref, np.array(idx, { dtype: np.int32 }), random.key(seed++));
          const neg = jaxChain(jax, langevin, x, state.params, steps, seed);
          seed += steps;
          buffer = writeBack(buffer, neg.ref, np.array(rowMap, { dtype: np.int32 }));
          return adam.apply(state, [pos.ref, neg]);
        },
        dispose: () => {
          jax.tree.dispose([pos, buffer, state.params, state.m, state.v]);
          langevin.dispose();
          starts.dispose();
          writeBack.dispose();
          adam.dispose();
        },
      };
    }),
  };
  return c;
}

export function imageTrainSuite(shapes: readonly ImageTrainShape[] = IMAGE_TRAIN_SHAPES): Suite {
  return { name: 'image-train', missing: () => null, cases: () => shapes.map(imageTrainCase) };
}
