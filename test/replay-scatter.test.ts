// scatterRows_, the replay buffer's write-back: rows of the buffer replaced in place by one
// dispatch over the batch's rows (whatever the buffer's size), every other row left bit for bit;
// checked against a CPU scatter, with the argument errors it promises.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';

const dispatches = () => ebm.getDevice().stats.dispatches;

beforeAll(async () => {
  await device();
});

describe('scatterRows_', () => {
  it('writes the rows in place, leaves the others bit for bit; one dispatch; the same tensor back', async () => {
    // A buffer of 2,000 rows of 784 (a replay buffer of MNIST-sized chains) and a batch of 64.
    const size = 2000;
    const row = 784;
    const buffer = ebm.rand([size, 1, 28, 28], { seed: 11 });
    const rows = ebm.rand([64, 1, 28, 28], { seed: 12, low: 2, high: 3 });
    const before = await buffer.data();
    const fresh = await rows.data();
    // Distinct rows in a scrambled order, including the first and the last.
    const idx = Array.from({ length: 64 }, (_, i) => (i * 7919 + 1) % size);
    idx[0] = 0;
    idx[63] = size - 1;
    expect(new Set(idx).size).toBe(64);
    const d0 = dispatches();
    const out = ebm.fused.scatterRows_(buffer, idx, rows);
    expect(dispatches() - d0).toBe(1);
    expect(out).toBe(buffer);
    const expected = Float32Array.from(before);
    idx.forEach((r, i) => expected.set(fresh.subarray(i * row, (i + 1) * row), r * row));
    const got = await buffer.data();
    let wrong = 0;
    for (let i = 0; i < expected.length; i++) if (got[i] !== expected[i]) wrong++;
    expect(wrong).toBe(0);
    buffer.dispose();
    rows.dispose();
  });

  it('names the argument that is wrong, and changes nothing then', async () => {
    const buffer = ebm.tensor([[0, 0], [1, 1], [2, 2], [3, 3]]);
    const rows = ebm.tensor([[30, 31], [10, 11]]);
    expect(() => ebm.fused.scatterRows_(buffer, [1, 1], rows)).toThrow(/scatterRows_: row 1 appears twice in indices/);
    expect(() => ebm.fused.scatterRows_(buffer, [4, 0], rows)).toThrow(/scatterRows_: indices\[0\] = 4 is not a row of buffer \[4, 2\]/);
    expect(() => ebm.fused.scatterRows_(buffer, [0.5, 1], rows)).toThrow(/scatterRows_: indices\[0\] = 0.5 is not a row/);
    expect(() => ebm.fused.scatterRows_(buffer, [0], rows)).toThrow(/scatterRows_: rows has shape \[2, 2\]; 1 indices into buffer \[4, 2\] need \[1, 2\]/);
    expect(() => ebm.fused.scatterRows_(buffer, 3 as never, rows)).toThrow(/scatterRows_: indices must be an array of row indices/);
    expect(() => ebm.fused.scatterRows_(buffer, [0, 1], buffer.reshape([4, 2]) as never)).toThrow(/scatterRows_: rows has shape \[4, 2\]/);
    const graphed = ebm.tensor([[1, 2]], { requiresGrad: true }).mul(2);
    expect(() => ebm.fused.scatterRows_(graphed, [0], ebm.tensor([[5, 5]]))).toThrow(/scatterRows_: buffer .* is the result of a recorded op/);
    expect(await buffer.array()).toEqual([[0, 0], [1, 1], [2, 2], [3, 3]]);
    buffer.dispose();
    rows.dispose();
  });

  it('persistent CD writes its negatives back into the same buffer tensor, in place', async () => {
    const model = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [8], seed: 3 });
    const sampler = new ebm.LangevinDynamics(model, { stepSize: 0.01, noiseScale: 1 });
    const loss = new ebm.ContrastiveDivergence(model, sampler, { kSteps: 3, persistent: true, bufferSize: 50, newSampleRatio: 0, seed: 4 });
    const x = ebm.randn([8, 2], { seed: 5 });
    ebm.tidy(() => loss.compute(x).loss.dispose());
    const buffer = loss.replayBuffer!;
    const before = await buffer.data();
    const out = ebm.tidy(() => ebm.keep(loss.compute(x).negatives!));
    expect(loss.replayBuffer).toBe(buffer);
    const after = await buffer.data();
    const neg = await out.data();
    // Exactly 8 rows changed, and each changed row is one of the negatives.
    const changed: number[] = [];
    for (let r = 0; r < 50; r++) if (after[2 * r] !== before[2 * r] || after[2 * r + 1] !== before[2 * r + 1]) changed.push(r);
    expect(changed.length).toBe(8);
    const negRows = new Set(Array.from({ length: 8 }, (_, i) => `${neg[2 * i]},${neg[2 * i + 1]}`));
    for (const r of changed) expect(negRows.has(`${after[2 * r]},${after[2 * r + 1]}`)).toBe(true);
    out.dispose();
    x.dispose();
    loss.dispose();
  });
});
