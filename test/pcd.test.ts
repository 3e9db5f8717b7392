// Persistent contrastive divergence, pinned with a sampler that is the identity: on E = 0 with
// noiseScale 0, Langevin's x - h grad E + 0 sqrt(2h) eps is x bit for bit, so every negative IS
// its starting point. Then, call after call: exactly round(newSampleRatio * batch) negatives are
// fresh noise, the others are distinct rows of the replay buffer as it stood (chains continue),
// and the buffer takes the negatives back (only the restarted rows change). initNoise (a std or
// a function) makes both the buffer and the fresh rows; resetBuffer and a change of the sample
// shape start a new buffer, which no later negative comes from the old one.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';
import type { Tensor } from '../src/index.js';

/** E = 0 written as a model (x * 0, summed per sample): its autodiff gradient is exactly 0. */
class Zero extends ebm.BaseEnergyFunction {
  override forward(x: Tensor): Tensor {
    return x.mul(0).reshape([x.shape[0]!, -1]).sum(1);
  }
}

/** The identity sampler: Langevin on E = 0 without noise. */
const identity = () => new ebm.LangevinDynamics(new Zero(), { stepSize: 0.1, noiseScale: 0 });

/**
 * An initNoise function whose every call returns randn(shape, { seed: 1000 + call }) and logs the
 * shape, so the test can remake exactly what it returned (the loss disposes the tensor).
 */
function loggedNoise() {
  const calls: number[][] = [];
  const fn = (shape: number[]) => {
    calls.push([...shape]);
    return ebm.randn(shape, { seed: 1000 + calls.length - 1 });
  };
  /** The rows call i returned, as strings of their bits. */
  const rowsOf = async (i: number): Promise<string[]> => {
    const t = ebm.randn(calls[i]!, { seed: 1000 + i });
    const r = rows(await t.data(), calls[i]!.slice(1).reduce((a, b) => a * b, 1));
    t.dispose();
    return r;
  };
  return { fn, calls, rowsOf };
}

/** The rows of [n, ...dim] data as exact keys (every float's bits, -0 apart from 0). */
function rows(a: Float32Array, d: number): string[] {
  const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
  return Array.from({ length: a.length / d }, (_, i) => Array.from(bits.subarray(i * d, (i + 1) * d)).join(','));
}

/** One PCD call: the negatives, and the buffer before and after, as row keys. */
async function pcdCall(cd: ebm.ContrastiveDivergence, pos: Tensor): Promise<{ before: string[] | null; negatives: string[]; after: string[] }> {
  const d = pos.shape.slice(1).reduce((a, b) => a * b, 1);
  const before = cd.replayBuffer ? rows(await cd.replayBuffer.data(), d) : null;
  const out = ebm.tidy(() => cd.compute(pos));
  const negatives = rows(await out.negatives!.data(), d);
  const after = rows(await cd.replayBuffer!.data(), d);
  for (const t of [out.loss, out.metrics!, out.negatives!]) t.dispose();
  return { before, negatives, after };
}

/**
 * Checks one call: `fresh` negatives are rows of the fresh noise, the rest are distinct rows of
 * the buffer before the call; the buffer after differs from before in exactly `fresh` rows
 * (the restarted chains' rows, now holding the fresh rows) and holds every negative.
 */
function expectCall(c: { before: string[]; negatives: string[]; after: string[] }, freshRows: string[], fresh: number, what: string): void {
  const buffer = new Map(c.before.map((k, i) => [k, i]));
  const noise = new Set(freshRows);
  const fromBuffer: number[] = [];
  let fromNoise = 0;
  c.negatives.forEach((k, i) => {
    const inBuffer = buffer.has(k);
    const inNoise = noise.has(k);
    expect(inBuffer !== inNoise, `${what}: negative ${i} is ${inBuffer ? 'both a buffer row and a fresh one' : 'neither a buffer row nor a fresh one'}`).toBe(true);
    if (inBuffer) fromBuffer.push(buffer.get(k)!);
    else fromNoise++;
  });
  expect(fromNoise, `${what}: fresh negatives`).toBe(fresh);
  expect(fromBuffer.length, `${what}: negatives continued from the buffer`).toBe(c.negatives.length - fresh);
  expect(new Set(fromBuffer).size, `${what}: distinct buffer rows`).toBe(fromBuffer.length);
  const changed = c.after.map((k, r) => (k === c.before[r] ? -1 : r)).filter((r) => r >= 0);
  expect(changed.length, `${what}: buffer rows changed`).toBe(fresh);
  for (const r of changed) expect(noise.has(c.after[r]!), `${what}: changed row ${r} holds a fresh row`).toBe(true);
  // No continued row was among the changed ones, and every negative is in the buffer now.
  for (const r of fromBuffer) expect(changed.includes(r)).toBe(false);
  const now = new Set(c.after);
  for (const k of c.negatives) expect(now.has(k), `${what}: negative written back`).toBe(true);
}

beforeAll(async () => {
  await device();
});

describe('persistent CD with an identity sampler (E = 0, noiseScale 0)', () => {
  it('the sampler is the identity, bit for bit', async () => {
    const x = ebm.randn([50, 3], { seed: 1 });
    const y = identity().sample({ x, nSteps: 4, seed: 2 });
    expect(rows(await y.data(), 3)).toEqual(rows(await x.data(), 3));
    x.dispose();
    y.dispose();
  });

  for (const [ratio, batch, fresh] of [
    [0.25, 16, 4],
    [0.05, 40, 2], // the default ratio
    [0, 16, 0],
    [1, 16, 16],
  ] as const)
    it(`newSampleRatio ${ratio}, batch ${batch}: ${fresh} fresh negatives per call, the other ${batch - fresh} continue from distinct buffer rows, and go back to them`, async () => {
      const noise = loggedNoise();
      const cd = new ebm.ContrastiveDivergence(new Zero(), identity(), { kSteps: 2, persistent: true, bufferSize: 64, newSampleRatio: ratio, initNoise: noise.fn, seed: 5 });
      expect(cd.newSampleRatio).toBe(ratio);
      const pos = ebm.randn([batch, 3], { seed: 6 });
      for (let call = 0; call < 3; call++) {
        const calls = noise.calls.length;
        const c = await pcdCall(cd, pos);
        // The first call makes the buffer [bufferSize, ...dim] from initNoise; each call then
        // asks it for exactly the fresh rows (none when there are none).
        const made = noise.calls.slice(calls);
        if (call === 0) {
          expect(made[0]).toEqual([64, 3]);
          expect(c.before).toBeNull();
        }
        const freshCalls = call === 0 ? made.slice(1) : made;
        expect(freshCalls, `call ${call}: initNoise calls for the fresh rows`).toEqual(fresh > 0 ? [[fresh, 3]] : []);
        const before = c.before ?? (await noise.rowsOf(calls));
        const freshRows = fresh > 0 ? await noise.rowsOf(noise.calls.length - 1) : [];
        expectCall({ ...c, before }, freshRows, fresh, `call ${call}`);
      }
      pos.dispose();
      cd.dispose();
    });
});

describe('initNoise', () => {
  it('a number is the std of the noise: of the buffer, of the fresh rows, and of the non-persistent starting points', async () => {
    // The sample std s of N values of N(0, sigma^2) has standard error sigma / sqrt(2N);
    // each check allows 4 of them.
    const sigma = 3;
    const std = async (t: Tensor) => Math.sqrt((await ebm.tidy(() => t.square().mean()).item()));
    const tol = (n: number) => (4 * sigma) / Math.sqrt(2 * n);

    const pcd = new ebm.ContrastiveDivergence(new Zero(), identity(), { kSteps: 1, persistent: true, bufferSize: 4096, newSampleRatio: 1, initNoise: sigma, seed: 7 });
    const pos = ebm.randn([2048, 2], { seed: 8 });
    const out = ebm.tidy(() => pcd.compute(pos));
    // newSampleRatio 1: every negative is fresh noise; the buffer was made from noise too, and
    // holds the negatives in 2048 of its rows now, the rest untouched.
    const sBuffer = await std(pcd.replayBuffer!);
    const sFresh = await std(out.negatives!);
    expect(Math.abs(sBuffer - sigma), `buffer std ${sBuffer}`).toBeLessThan(tol(8192));
    expect(Math.abs(sFresh - sigma), `fresh rows' std ${sFresh}`).toBeLessThan(tol(4096));

    // Non-persistent CD: the negatives are the starting points (identity sampler).
    const cd = new ebm.ContrastiveDivergence(new Zero(), identity(), { kSteps: 1, initNoise: sigma, seed: 9 });
    const neg = ebm.tidy(() => cd.compute(pos).negatives!);
    const sCd = await std(neg);
    expect(Math.abs(sCd - sigma), `CD starting points' std ${sCd}`).toBeLessThan(tol(4096));
    // The default, 1, for contrast.
    const cd1 = new ebm.ContrastiveDivergence(new Zero(), identity(), { kSteps: 1, seed: 9 });
    const neg1 = ebm.tidy(() => cd1.compute(pos).negatives!);
    const s1 = await std(neg1);
    expect(Math.abs(s1 - 1), `default std ${s1}`).toBeLessThan(4 / Math.sqrt(2 * 4096));
    for (const t of [out.loss, out.metrics!, out.negatives!, pos, neg, neg1]) t.dispose();
    for (const l of [pcd, cd, cd1]) l.dispose();
  });

  it('a function makes the starting points: non-persistent negatives are exactly its rows', async () => {
    const noise = loggedNoise();
    const cd = new ebm.ContrastiveDivergence(new Zero(), identity(), { kSteps: 3, initNoise: noise.fn, seed: 10 });
    const pos = ebm.randn([24, 2, 2], { seed: 11 });
    for (let call = 0; call < 2; call++) {
      const out = ebm.tidy(() => cd.compute(pos));
      expect(noise.calls[call]).toEqual([24, 2, 2]);
      expect(rows(await out.negatives!.data(), 4)).toEqual(await noise.rowsOf(call));
      for (const t of [out.loss, out.metrics!, out.negatives!]) t.dispose();
    }
    expect(noise.calls.length).toBe(2);
    pos.dispose();
  });
});

describe('starting a new buffer', () => {
  it('resetBuffer: replayBuffer is null, and the next call builds a new buffer from initNoise that the negatives come from', async () => {
    const noise = loggedNoise();
    const cd = new ebm.ContrastiveDivergence(new Zero(), identity(), { kSteps: 1, persistent: true, bufferSize: 48, newSampleRatio: 0.25, initNoise: noise.fn, seed: 12 });
    const pos = ebm.randn([12, 3], { seed: 13 });
    const first = await pcdCall(cd, pos);
    cd.resetBuffer();
    expect(cd.replayBuffer).toBeNull();
    const calls = noise.calls.length;
    const second = await pcdCall(cd, pos);
    expect(second.before).toBeNull();
    expect(noise.calls[calls]).toEqual([48, 3]);
    const rebuilt = await noise.rowsOf(calls);
    expectCall({ ...second, before: rebuilt }, await noise.rowsOf(noise.calls.length - 1), 3, 'after reset');
    const old = new Set(first.after);
    for (const k of second.negatives) expect(old.has(k), 'a negative from the forgotten buffer').toBe(false);
    pos.dispose();
    cd.dispose();
  });

  it('a batch of another sample shape replaces the buffer with one of that shape, and back', async () => {
    const noise = loggedNoise();
    const cd = new ebm.ContrastiveDivergence(new Zero(), identity(), { kSteps: 1, persistent: true, bufferSize: 32, newSampleRatio: 0.25, initNoise: noise.fn, seed: 14 });
    const pos3 = ebm.randn([8, 3], { seed: 15 });
    const pos2 = ebm.randn([8, 2], { seed: 16 });
    const a = await pcdCall(cd, pos3);
    expect(cd.replayBuffer!.shape).toEqual([32, 3]);
    let calls = noise.calls.length;
    const b = await pcdCall(cd, pos2);
    expect(cd.replayBuffer!.shape).toEqual([32, 2]);
    expect(b.before).not.toBeNull(); // read before the call: the old [32, 3] buffer
    expect(noise.calls[calls]).toEqual([32, 2]);
    expectCall({ ...b, before: await noise.rowsOf(calls) }, await noise.rowsOf(noise.calls.length - 1), 2, 'dim 2');
    // Back to 3: a new buffer again, not the first one.
    calls = noise.calls.length;
    const c = await pcdCall(cd, pos3);
    expect(noise.calls[calls]).toEqual([32, 3]);
    expectCall({ ...c, before: await noise.rowsOf(calls) }, await noise.rowsOf(noise.calls.length - 1), 2, 'dim 3 again');
    const first = new Set(a.after);
    for (const k of c.negatives) expect(first.has(k), 'a negative from the first dim-3 buffer').toBe(false);
    for (const t of [pos3, pos2]) t.dispose();
    cd.dispose();
  });
});
