// Trains the digit classifier that scores generated digits (src/train/quality/) with this
// library's own engine, on loadMnist's training split, and writes its weights to
// demo/assets/digit-classifier.safetensors with its held-out accuracy in the metadata:
//
//   npm run build && node scripts/train-digit-classifier.mjs [--epochs 12] [--out path]
//
// Adam (lr 2e-3, halved for the last third), batch 64, cross-entropy, seeded: the same run
// gives the same weights on the same adapter. test/quality.test.ts recomputes the accuracy.
import { parseArgs } from 'node:util';
import * as ebm from '../dist/src/index.js';

const { values } = parseArgs({ options: { epochs: { type: 'string', default: '12' }, out: { type: 'string', default: 'demo/assets/digit-classifier.safetensors' }, seed: { type: 'string', default: '7' } } });
const epochs = Number(values.epochs);
const seed = Number(values.seed);
await ebm.init();
const train = await ebm.loadMnist({ split: 'train' });
const held = await ebm.loadMnist({ split: 'heldOut' });
const n = train.labels.length;
const model = new ebm.DigitClassifier({ seed });
const lr = 2e-3;
const opt = new ebm.Adam(model.parameters(), { lr });
const eye10 = ebm.keep(ebm.eye(10));
const random = mulberry32(seed);
const batch = 64;
const t0 = performance.now();
for (let epoch = 0; epoch < epochs; epoch++) {
  if (epoch === Math.floor((2 * epochs) / 3)) for (const g of opt.paramGroups) g.lr = lr / 2;
  const order = permutation(n, random);
  let lossSum = null;
  for (let at = 0; at + batch <= n; at += batch) {
    const rows = order.subarray(at, at + batch);
    lossSum = ebm.tidy(() => {
      opt.zeroGrad();
      const x = ebm.indexSelect(train.images, rows);
      const onehot = ebm.indexSelect(eye10, Array.from(rows, (r) => train.labels[r]));
      const z = model.forward(x);
      // Cross-entropy: logsumexp(z) - z[label], averaged.
      const loss = z.logsumexp(1).sub(z.mul(onehot).sum(1)).mean();
      loss.backward();
      opt.step();
      const s = ebm.noGrad(() => (lossSum ? lossSum.add(loss.detach()) : loss.detach()));
      lossSum?.dispose();
      return ebm.keep(s);
    });
  }
  const mean = (await lossSum.data())[0] / Math.floor(n / batch);
  lossSum.dispose();
  model.eval();
  const acc = await ebm.digitAccuracy(model, held.images, held.labels);
  model.train();
  console.log(`epoch ${epoch + 1}/${epochs}: loss ${mean.toFixed(4)}, held-out accuracy ${(100 * acc).toFixed(2)}% (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
model.eval();
const accuracy = await ebm.digitAccuracy(model, held.images, held.labels);
await ebm.saveSafetensors(model, values.out, {
  metadata: {
    'webgpu-ebm.model': 'DigitClassifier',
    'webgpu-ebm.dataset': 'mnist',
    'webgpu-ebm.heldOutAccuracy': accuracy.toFixed(4),
    'webgpu-ebm.recipe': JSON.stringify({ epochs, batch, lr, optimizer: 'Adam', seed, trainDigits: n }),
  },
});
console.log(`wrote ${values.out}: held-out accuracy ${(100 * accuracy).toFixed(2)}% on ${held.labels.length} digits`);
await ebm.shutdown?.();

function mulberry32(s) {
  let state = s >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function permutation(k, random) {
  const p = Uint32Array.from({ length: k }, (_, i) => i);
  for (let i = k - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}
