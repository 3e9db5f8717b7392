// The digit classifier that scores generated MNIST digits (sample-quality.ts): a small convnet
// trained by this library itself (scripts/train-digit-classifier.mjs) on loadMnist's training
// split, its weights committed as demo/assets/digit-classifier.safetensors (about 80 KB).
//
//   features = Sequential(Conv2d(1, 16, 3, stride 2, padding 1), ReLU,     28 -> 14
//                         Conv2d(16, 32, 3, stride 2, padding 1), ReLU,    14 -> 7
//                         Conv2d(32, 32, 3, stride 2, padding 1), ReLU)     7 -> 4
//   head     = Sequential(Flatten, Linear(512, 10))                         logits
//
// Three stride-2 convolutions and one Linear keep it at 19k parameters (small enough to ship to
// the browser and to run on lavapipe in a fraction of a second per 1,000 digits) while reaching
// over 97% on the held-out digits. It reads images in [-1, 1], as loadMnist gives them.
import { Conv2d } from '../../nn/layers/conv.js';
import { ReLU } from '../../nn/layers/activation.js';
import { Sequential } from '../../nn/layers/container.js';
import { Flatten } from '../../nn/layers/flatten.js';
import { Linear } from '../../nn/layers/linear.js';
import { Module } from '../../nn/module.js';
import { deriveSeed } from '../../nn/init.js';
import { loadSafetensors } from '../../nn/safetensors.js';
import type { Tensor } from '../../tensor/index.js';
import { fmt } from '../../tensor/shape.js';

/** Where the committed weights live, relative to the repository root. */
export const DIGIT_CLASSIFIER_ASSET = 'demo/assets/digit-classifier.safetensors';

export class DigitClassifier extends Module {
  readonly features: Sequential;
  readonly head: Sequential;

  constructor(opts: { seed?: number } = {}) {
    super();
    const seed = opts.seed;
    if (seed !== undefined && (!Number.isSafeInteger(seed) || seed < 0)) throw new Error(`DigitClassifier: seed must be a non-negative safe integer, got ${seed}`);
    const s = (i: number) => deriveSeed(seed, i);
    const relu = new ReLU();
    this.features = this.registerModule(
      'features',
      new Sequential(
        new Conv2d(1, 16, 3, { stride: 2, padding: 1, seed: s(0) }),
        relu,
        new Conv2d(16, 32, 3, { stride: 2, padding: 1, seed: s(1) }),
        relu,
        new Conv2d(32, 32, 3, { stride: 2, padding: 1, seed: s(2) }),
        relu,
      ),
    );
    this.head = this.registerModule('head', new Sequential(new Flatten(), new Linear(32 * 4 * 4, 10, { seed: s(3) })));
  }

  /** Logits [batch, 10] of images [batch, 1, 28, 28] in [-1, 1]. */
  override forward(x: Tensor): Tensor {
    const s = x?.shape;
    if (!s || s.length !== 4 || s[1] !== 1 || s[2] !== 28 || s[3] !== 28)
      throw new Error(`DigitClassifier: expected images [batch, 1, 28, 28] (MNIST digits in [-1, 1]), got ${s ? fmt(s) : typeof x}`);
    return this.head.forward(this.features.forward(x));
  }
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * The committed classifier, in evaluation mode: from `source` (the asset's URL in a browser, a
 * path or bytes), or in Node by default from the repository's demo/assets.
 */
export async function loadDigitClassifier(source?: string | Uint8Array | ArrayBuffer | Blob): Promise<DigitClassifier> {
  let src = source;
  if (src === undefined) {
    if (!isNode) throw new Error(`loadDigitClassifier: in a browser, pass the URL or bytes of ${DIGIT_CLASSIFIER_ASSET}`);
    src = await defaultAssetPath();
  } else if (typeof src === 'string' && !isNode) {
    const res = await fetch(src);
    if (!res.ok) throw new Error(`loadDigitClassifier: could not fetch ${src}: HTTP ${res.status} ${res.statusText}`);
    src = new Uint8Array(await res.arrayBuffer());
  }
  const model = new DigitClassifier();
  await loadSafetensors(model, src);
  return model.eval();
}

/** The asset's path from this module: src/train/quality (sources) or dist/src/train/quality (built). */
async function defaultAssetPath(): Promise<string> {
  const fs = (await import(/* @vite-ignore */ ['node', 'fs'].join(':'))) as typeof import('node:fs');
  const url = (await import(/* @vite-ignore */ ['node', 'url'].join(':'))) as typeof import('node:url');
  for (const up of ['../../../', '../../../../']) {
    const p = url.fileURLToPath(new URL(up + DIGIT_CLASSIFIER_ASSET, import.meta.url));
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`loadDigitClassifier: ${DIGIT_CLASSIFIER_ASSET} was not found beside this package; pass its path or bytes`);
}
