// Sample quality of generated digits, as the project measures it: the committed digit
// classifier (digit-classifier.ts) reads each sample, and from its class probabilities p(y|x):
//
//   meanConfidence  = mean_x max_y p(y|x)                       (sharp, digit-like samples -> 1)
//   histogram[y]    = the fraction of samples whose top class is y   (mode coverage; 0.1 each)
//   inceptionScore  = exp(E_x KL(p(y|x) || p(y))),  p(y) = mean_x p(y|x)   (1 .. 10)
//
// All on the GPU in tensor ops; one readback of 12 numbers. log p(y|x) = logits - logsumexp, and
// log p(y) = logsumexp_x log p(y|x) - log n, so no log of an underflowed probability is taken.
import { autocast, concat, eye, indexSelect, noGrad, tidy, Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';
import { describe } from '../samplers/options.js';
import type { DigitClassifier } from './digit-classifier.js';

export interface DigitQuality {
  /** Samples scored. */
  n: number;
  meanConfidence: number;
  /** Fraction of samples per top class, 0..9 (sums to 1 up to ties). */
  histogram: number[];
  /** The smallest entry of histogram (the bar: every class >= 3%). */
  minClassFraction: number;
  inceptionScore: number;
}

/** The quality figures of classifier logits [n, classes] (n >= 1). */
export async function qualityFromLogits(logits: Tensor): Promise<DigitQuality> {
  const where = 'qualityFromLogits';
  if (!(logits instanceof Tensor)) throw new Error(`${where}: expected a Tensor of logits [n, classes], got ${describe(logits)}`);
  logits.assertAlive(where);
  if (logits.rank !== 2 || logits.shape[0]! < 1 || logits.shape[1]! < 2) throw new Error(`${where}: expected logits [n >= 1, classes >= 2], got ${fmt(logits.shape)}`);
  const [n, k] = logits.shape as [number, number];
  const packed = noGrad(() =>
    autocast({ enabled: false }, () =>
      tidy(() => {
        const z = logits.dtype === 'f32' ? logits : logits.to('f32');
        const logp = z.sub(z.logsumexp(1, true)); // [n, k]
        const p = logp.exp();
        const top = p.max(1, true); // [n, 1]
        const confidence = top.mean().reshape([1]);
        const histogram = p.eq(top).mean(0); // [k]: ties count for each tied class
        const logPy = logp.logsumexp(0, true).sub(Math.log(n)); // [1, k]
        const kl = p.mul(logp.sub(logPy)).sum(1).mean().reshape([1]);
        return concat([confidence, kl, histogram], 0);
      }),
    ),
  );
  const v = await packed.data();
  packed.dispose();
  const histogram = Array.from(v.subarray(2, 2 + k));
  return { n, meanConfidence: v[0]!, histogram, minClassFraction: Math.min(...histogram), inceptionScore: Math.exp(v[1]!) };
}

/**
 * Scores generated digits [n, 1, 28, 28] in [-1, 1] with the classifier (loadDigitClassifier()),
 * batchSize images per forward.
 */
export async function scoreDigits(classifier: DigitClassifier, images: Tensor, opts: { batchSize?: number } = {}): Promise<DigitQuality> {
  const where = 'scoreDigits';
  if (!classifier || typeof (classifier as { forward?: unknown }).forward !== 'function') throw new Error(`${where}: classifier must be a DigitClassifier (loadDigitClassifier()), got ${describe(classifier)}`);
  if (!(images instanceof Tensor)) throw new Error(`${where}: images must be a Tensor [n, 1, 28, 28], got ${describe(images)}`);
  images.assertAlive(where);
  if (images.rank !== 4 || images.shape[0]! < 1) throw new Error(`${where}: images must be [n >= 1, 1, 28, 28], got ${fmt(images.shape)}`);
  const batch = opts.batchSize ?? 500;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`${where}: batchSize must be an integer >= 1, got ${describe(batch)}`);
  const n = images.shape[0]!;
  const logits = noGrad(() =>
    tidy(() => {
      const parts: Tensor[] = [];
      for (let at = 0; at < n; at += batch) {
        const rows = Array.from({ length: Math.min(batch, n - at) }, (_, i) => at + i);
        parts.push(classifier.forward(n <= batch ? images : indexSelect(images, rows)));
      }
      return parts.length === 1 ? parts[0]! : concat(parts, 0);
    }),
  );
  try {
    return await qualityFromLogits(logits);
  } finally {
    logits.dispose();
  }
}

/**
 * The fraction of images whose top class is their label (a classifier's accuracy), counted on
 * the GPU: sum over rows of [logits == row max] . onehot(label).
 */
export async function digitAccuracy(classifier: DigitClassifier, images: Tensor, labels: ArrayLike<number>, opts: { batchSize?: number } = {}): Promise<number> {
  const where = 'digitAccuracy';
  if (!(images instanceof Tensor) || images.rank !== 4) throw new Error(`${where}: images must be a Tensor [n, 1, 28, 28], got ${images instanceof Tensor ? fmt(images.shape) : describe(images)}`);
  const n = images.shape[0]!;
  if (labels?.length !== n) throw new Error(`${where}: ${labels?.length} labels for ${n} images`);
  const batch = opts.batchSize ?? 500;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`${where}: batchSize must be an integer >= 1, got ${describe(batch)}`);
  const count = noGrad(() =>
    tidy(() => {
      const eye10 = eye(10, 10, { device: images.device });
      let total: Tensor | null = null;
      for (let at = 0; at < n; at += batch) {
        const rows = Array.from({ length: Math.min(batch, n - at) }, (_, i) => at + i);
        const z = classifier.forward(indexSelect(images, rows));
        const hit = z.eq(z.max(1, true)).mul(indexSelect(eye10, Array.from(rows, (r) => labels[r]!))).sum();
        total = total ? total.add(hit) : hit;
      }
      return total!;
    }),
  );
  const v = (await count.data())[0]!;
  count.dispose();
  return v / n;
}
