// `webgpu-ebm demo`: the engine end to end until the trainer lands. It fits a small MLP
// classifier to two concentric rings made on the GPU, by full-batch gradient descent with
// momentum, printing progress. Everything but the logged loss stays on the GPU.
import * as ebm from '../index.js';

export interface DemoOptions {
  steps: number;
  points: number;
  hidden: number;
  lr: number;
  seed: number;
  logEvery: number;
  log: (line: string) => void;
}

/** Two rings, radius 1 (label 0) and radius 2 (label 1), with a little radial noise. */
function rings(n: number, seed: number): { x: ebm.Tensor; y: ebm.Tensor } {
  return ebm.tidy(() => {
    const theta = ebm.rand([n, 1], { seed, high: 2 * Math.PI });
    const label = ebm.rand([n, 1], { seed: seed + 1 }).gt(0.5);
    const radius = label.add(1).add(ebm.randn([n, 1], { seed: seed + 2, std: 0.1 }));
    const x = ebm.concat([theta.cos().mul(radius), theta.sin().mul(radius)], 1);
    return { x, y: label };
  });
}

function init(shape: number[], fanIn: number, seed: number): ebm.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return ebm.rand(shape, { seed, low: -bound, high: bound, requiresGrad: true });
}

export async function runDemo(o: DemoOptions): Promise<{ first: number; last: number; accuracy: number }> {
  const rt = await ebm.init();
  o.log(`device: ${rt.info.description} (features: ${[...rt.info.features].join(', ') || 'none'})`);
  const { x, y } = rings(o.points, o.seed);
  const params = [init([2, o.hidden], 2, o.seed + 10), init([o.hidden], 2, o.seed + 11), init([o.hidden, 1], o.hidden, o.seed + 12), init([1], o.hidden, o.seed + 13)];
  const velocity = params.map((p) => ebm.zeros(p.shape));
  const [W1, b1, W2, b2] = params as [ebm.Tensor, ebm.Tensor, ebm.Tensor, ebm.Tensor];
  const logits = () => x.matmul(W1).add(b1).silu().matmul(W2).add(b2);
  // Binary cross-entropy from logits: softplus(z) - y z, stable for large |z|.
  const lossOf = () => logits().softplus().sub(logits().mul(y)).mean();
  let first = NaN;
  let last = NaN;
  const started = performance.now();
  for (let step = 1; step <= o.steps; step++) {
    const loss = ebm.tidy(() => {
      const l = lossOf();
      l.backward();
      params.forEach((p, i) => {
        const v = velocity[i]!;
        v.assign(v.mul(0.9).add(p.grad!));
        p.assign(p.sub(v.mul(o.lr)));
        p.grad!.dispose();
        p.grad = null;
      });
      return l;
    });
    if (step === 1 || step % o.logEvery === 0 || step === o.steps) {
      last = await loss.item();
      if (step === 1) first = last;
      const rate = step / ((performance.now() - started) / 1000);
      o.log(`step ${String(step).padStart(String(o.steps).length)}/${o.steps}  loss ${last.toFixed(4)}  ${rate.toFixed(1)} steps/s`);
    }
    loss.dispose();
  }
  const accuracy = await ebm.tidy(() => logits().gt(0).eq(y).mean()).item();
  o.log(`accuracy ${(accuracy * 100).toFixed(1)}%  (loss ${first.toFixed(4)} -> ${last.toFixed(4)})`);
  const mem = ebm.memory();
  o.log(`memory: ${mem.liveTensors} live tensors, ${(mem.liveBytes / 1024).toFixed(1)} KiB live, peak ${(mem.peakBytes / 1024).toFixed(1)} KiB`);
  return { first, last, accuracy };
}
