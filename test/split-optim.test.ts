// Issue 10, item 1: the fused optimizer steps on a parameter over maxStorageBufferBindingSize
// update it in aligned chunks: the parameter and its gradient through windows, the strided
// state regions (and the GPU step counter) through a compact scratch state per chunk
// (src/kernels/optim.ts). Here the window is shrunk through rt.tuning.windowBytes so the split
// runs on small tensors; every element is updated by the same code from the same values, so
// three steps split must equal three steps unsplit bit for bit.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { device, ebm, expectSameBits } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

afterEach(() => {
  delete rt.tuning.windowBytes;
});

type Make = (params: ebm.Tensor[]) => { step(): void };

/** The parameter after three steps of the optimizer `make` gives, unsplit and with 4 KB windows, and the split run's dispatches. */
async function threeSteps(make: Make): Promise<{ whole: Float32Array; split: Float32Array; dispatches: [number, number] }> {
  const run = async () => {
    // 3001 elements: the last chunk ends inside a vec4.
    const p = ebm.randn([3001], { seed: 1, requiresGrad: true });
    const opt = make([p]);
    const before = rt.stats.dispatches;
    for (let t = 0; t < 3; t++) {
      p.grad?.dispose();
      p.grad = ebm.randn([3001], { seed: 10 + t });
      opt.step();
    }
    const dispatches = rt.stats.dispatches - before;
    const v = await p.data();
    p.grad?.dispose();
    p.dispose();
    return { v, dispatches };
  };
  const whole = await run();
  rt.tuning.windowBytes = '4096';
  const split = await run();
  delete rt.tuning.windowBytes;
  return { whole: whole.v, split: split.v, dispatches: [whole.dispatches, split.dispatches] };
}

describe('optimizer steps over windows', () => {
  for (const [name, make] of [
    ['Adam', (ps) => new ebm.Adam(ps, { lr: 0.1 })],
    ['AdamW amsgrad', (ps) => new ebm.AdamW(ps, { lr: 0.1, weightDecay: 0.1, amsgrad: true })],
    ['SGD momentum nesterov', (ps) => new ebm.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true })],
    ['SGD', (ps) => new ebm.SGD(ps, { lr: 0.1 })],
  ] as [string, Make][]) {
    it(`${name}: three steps of a [3001] parameter in chunks equal three unsplit steps`, async () => {
      const r = await threeSteps(make);
      expect(r.dispatches[1], 'the split run takes more dispatches').toBeGreaterThan(r.dispatches[0] + 6);
      expectSameBits(r.whole, r.split, name);
    });
  }
});
