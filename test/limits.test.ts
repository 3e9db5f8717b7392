// Issue 10, items 1-2: device limits are checked at the call. An allocation over the binding or
// buffer limit throws at once, naming the op, the shape, the bytes and the limit, with nothing
// recorded and memory() unchanged, so earlier finished work still reads back. Dispatch grids
// above maxComputeWorkgroupsPerDimension are split.
import { beforeAll, describe, expect, it } from 'vitest';
import { caught, device, ebm, LONG } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

/** Runs `fn`, which must throw matching `message`, and checks that it left no trace. */
async function failsCleanly(fn: () => unknown, message: RegExp): Promise<Error> {
  const a = ebm.ones([4]).add(1);
  const before = ebm.memory(rt);
  const dispatches = rt.stats.dispatches;
  const err = caught(fn);
  expect(err.message).toMatch(message);
  expect(ebm.memory(rt).liveTensors).toBe(before.liveTensors);
  expect(ebm.memory(rt).liveBytes).toBe(before.liveBytes);
  expect(rt.stats.dispatches).toBe(dispatches);
  // The next, unrelated op works and the earlier result is intact.
  const b = a.mul(3);
  expect([...(await a.data())]).toEqual([2, 2, 2, 2]);
  expect([...(await b.data())]).toEqual([6, 6, 6, 6]);
  a.dispose();
  b.dispose();
  return err;
}

describe('allocation limits', () => {
  it('zeros([1, 4e7]) (160 MB: over the binding limit, under maxBufferSize) is made; the next, unrelated op works and earlier work reads back', async () => {
    if (rt.maxBindingSize >= 160e6 || rt.maxBufferSize < 160e6) return;
    const a = ebm.ones([4]).add(1);
    const z = ebm.zeros([1, 4e7]);
    const b = a.mul(3);
    expect([...(await a.data())]).toEqual([2, 2, 2, 2]);
    expect([...(await b.data())]).toEqual([6, 6, 6, 6]);
    // Its last elements, past the first binding-sized window, were written too, and an
    // elementwise op over it runs in windows: the slices (copies out of windows) read them.
    const tail = z.slice(1, 4e7 - 4);
    expect([...(await tail.data())]).toEqual([0, 0, 0, 0]);
    const z1 = z.add(1.5);
    const [head1, tail1] = [z1.slice(1, 0, 2), z1.slice(1, 4e7 - 2)];
    expect([...(await head1.data()), ...(await tail1.data())]).toEqual([1.5, 1.5, 1.5, 1.5]);
    for (const t of [a, z, b, tail, z1, head1, tail1]) t.dispose();
  });

  it('matmul [70000, 2] x [2, 70000] (19.6 GB) throws naming matmul and maxBufferSize; liveBytes does not count it', async () => {
    const x = ebm.randn([70000, 2]);
    const y = ebm.randn([2, 70000]);
    const err = await failsCleanly(() => x.matmul(y), /^matmul: /);
    expect(err.message).toContain('[70000, 70000]');
    expect(err.message).toContain(`${70000 * 70000 * 4} bytes`);
    expect(err.message).toMatch(/maxBufferSize|maxStorageBufferBindingSize/);
    x.dispose();
    y.dispose();
  });

  it('arange(0, 1e12) throws naming arange and the bytes', async () => {
    const err = await failsCleanly(() => ebm.arange(0, 1e12), /^arange: /);
    expect(err.message).toContain('4000000000000 bytes');
  });

  it('a tensor just under the binding limit is not rounded up past it by the pool', async () => {
    // The largest f32 size that fits: its size class would round it above the limit.
    const n = rt.maxBindingSize / 4 - 1024;
    const t = ebm.zeros([n]);
    expect(t.buffer.size).toBeLessThanOrEqual(rt.maxBindingSize);
    const s = t.sum();
    expect(await s.item()).toBe(0);
    t.dispose();
    s.dispose();
  });

  it('a tensor over maxBufferSize is refused at the call, naming the op, shape, bytes and limit', async () => {
    const rows = Math.floor(rt.maxBufferSize / 16) + 1;
    const err = await failsCleanly(() => ebm.zeros([rows, 4]), /^zeros: /);
    expect(err.message).toContain(`[${rows}, 4]`);
    expect(err.message).toContain(`${rows * 16} bytes`);
    expect(err.message).toContain(`maxBufferSize of ${rt.maxBufferSize} bytes`);
  });

  it('a negative or fractional byte count is refused by name', () => {
    expect(caught(() => rt.allocate(-4, 'scratch')).message).toMatch(/^scratch: cannot allocate -4 bytes/);
    expect(caught(() => rt.allocate(Number.NaN, 'scratch')).message).toMatch(/^scratch: cannot allocate NaN bytes/);
  });
});

describe('between maxStorageBufferBindingSize and maxBufferSize: elementwise ops and reductions bind windows', () => {
  // 33.6M f32 (134.4 MB), just over lavapipe's 128 MiB binding limit: two windows.
  const rows = 8_400_000;
  if (!LONG) console.log('elementwise ops and reductions over 134 MB random tensors: skipped in npm test (10-30 s on a loaded lavapipe); they run under npm run test:long (test/binding-windows.test.ts runs the same split paths on small tensors)');
  it.runIf(LONG)(`[${rows}, 4] (134.4 MB): x - row (broadcast) and its row maxima, against the host`, async () => {
    if (rt.maxBindingSize >= rows * 16 || rt.maxBufferSize < rows * 16) return;
    const x = ebm.randn([rows, 4], { seed: 31 });
    const row = ebm.tensor([0.5, -1, 2, 0]);
    const y = x.sub(row);
    const rowMax = y.max(1);
    const [xv, yv, mv] = await Promise.all([x.data(), y.data(), rowMax.data()]);
    const r = [0.5, -1, 2, 0];
    for (let i = 0; i < rows; i++) {
      let m = -Infinity;
      for (let j = 0; j < 4; j++) {
        const v = Math.fround(xv[i * 4 + j]! - r[j]!);
        if (yv[i * 4 + j] !== v) expect.fail(`x - row at [${i}, ${j}] is ${yv[i * 4 + j]}, expected ${v}`);
        m = Math.max(m, v);
      }
      if (mv[i] !== m) expect.fail(`row max ${i} is ${mv[i]}, expected ${m}`);
    }
    for (const t of [x, row, y, rowMax]) t.dispose();
  }, 60_000);

  it.runIf(LONG)(`[${rows}, 4] (134.4 MB): column sums (each window reduced, then added into the output), against float64`, async () => {
    if (rt.maxBindingSize >= rows * 16 || rt.maxBufferSize < rows * 16) return;
    const x = ebm.randn([rows, 4], { seed: 32 });
    const colSum = x.sum(0);
    const [xv, sv] = await Promise.all([x.data(), colSum.data()]);
    const want = [0, 0, 0, 0];
    const abs = [0, 0, 0, 0];
    for (let i = 0; i < xv.length; i++) {
      want[i % 4] += xv[i]!;
      abs[i % 4] += Math.abs(xv[i]!);
    }
    // Each invocation adds ~131,000 terms in f32: a rounding error of order sqrt(131072) * 2^-24
    // of the sum of |x| (~2e-5), so 1e-6 of that sum is several times the typical error.
    for (let j = 0; j < 4; j++) expect(Math.abs(sv[j]! - want[j]!), `column ${j} sum`).toBeLessThan(1e-6 * abs[j]! * 10);
    for (const t of [x, colSum]) t.dispose();
  }, 300_000);

  it.runIf(LONG)('arange, randn (the values of its second window drawn alone at their counters), f16 round trip, slice, concat and a full logsumexp over 33.6M elements, against the host', async () => {
    const n = 33_600_000;
    if (rt.maxBindingSize >= n * 4) return;
    const a = ebm.arange(0, n);
    const av = await a.data();
    for (let i = 0; i < n; i += 9973) expect(av[i]).toBe(Math.fround(i));
    expect(av[n - 1]).toBe(Math.fround(n - 1));
    // randn over two windows uses the counters an unsplit draw would: its last 1,000 values are
    // those drawn alone from the generator set to their counter (4 values a counter).
    const r = ebm.randn([n], { seed: 5 });
    const rv = await r.data();
    const saved = ebm.getRngState();
    ebm.setRngState({ seed: 5, offset: (n - 1000) / 4 });
    const part = ebm.randn([1000]);
    ebm.setRngState(saved);
    expect([...(await part.data())]).toEqual([...rv.subarray(n - 1000)]);
    const h = ebm.tidy(() => r.to('f16').to('f32'));
    const hv = await h.data();
    for (let i = 0; i < n; i += 7919) expect(Math.abs(hv[i]! - rv[i]!)).toBeLessThanOrEqual(Math.abs(rv[i]!) * 2 ** -11 + 2 ** -24);
    expect(Math.abs(hv[n - 1]! - rv[n - 1]!)).toBeLessThanOrEqual(Math.abs(rv[n - 1]!) * 2 ** -11 + 2 ** -24);
    const s = r.slice(0, n - 10);
    expect([...(await s.data())]).toEqual([...rv.subarray(n - 10)]);
    const c = ebm.concat([s, r], 0);
    // c = [the last 10 of r, r]: across the seam, and its last 5 (past the first window).
    expect([...(await c.slice(0, 5, 15).data())]).toEqual([...rv.subarray(n - 5), ...rv.subarray(0, 5)]);
    expect([...(await c.slice(0, n + 5).data())]).toEqual([...rv.subarray(n - 5)]);
    const lse = await r.logsumexp().item();
    let m = -Infinity;
    for (const v of rv) m = Math.max(m, v);
    let acc = 0;
    for (const v of rv) acc += Math.exp(v - m);
    expect(Math.abs(lse - (m + Math.log(acc)))).toBeLessThan(1e-4);
    for (const t of [a, r, part, h, s, c]) t.dispose();
  }, 300_000);
});

/** Host [m, k] x [k, n] for the given rows of a (row-major), in float64. */
function hostRows(a: Float32Array, b: Float32Array, rows: number[], k: number, n: number): number[] {
  const out: number[] = [];
  for (const r of rows) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a[r * k + t]! * b[t * n + j]!;
    out.push(s);
  }
  return out;
}

function expectRows(got: Float32Array, want: number[], rows: number[], n: number, what: string): void {
  rows.forEach((r, i) => {
    for (let j = 0; j < n; j++) {
      const g = got[r * n + j]!;
      const w = want[i * n + j]!;
      if (!(Math.abs(g - w) <= 1e-5 * Math.max(1, Math.abs(w)))) expect.fail(`${what}: row ${r} col ${j} is ${g}, expected ${w}`);
    }
  });
}

/** Rows on both sides of every split point, the first and the last, and a few between. */
function sampleRows(m: number, chunk: number): number[] {
  const rows = new Set([0, 1, m - 2, m - 1]);
  for (let c = chunk; c < m; c += chunk) for (const d of [-2, -1, 0, 1]) rows.add(c + d);
  for (let i = 0; i < 16; i++) rows.add(Math.floor(((i + 0.5) / 16) * m));
  return [...rows].filter((r) => r >= 0 && r < m).sort((p, q) => p - q);
}

describe('dispatch grids over maxComputeWorkgroupsPerDimension are split', () => {
  it('randn([600000, 4]).matmul(randn([4, 4])): every row right (the rows need 75,000 workgroups on the subgroup schedule)', async () => {
    const x = ebm.randn([600000, 4]);
    const w = ebm.randn([4, 4]);
    const y = x.matmul(w);
    const [xv, wv, yv] = await Promise.all([x.data(), w.data(), y.data()]);
    const rows = sampleRows(600000, 8 * rt.maxWorkgroupsPerDimension);
    expectRows(yv, hostRows(xv, wv, rows, 4, 4), rows, 4, 'matmul');
    // No row was skipped: the first and last of every 64-row stretch are non-zero somewhere.
    let zeroRows = 0;
    for (let r = 0; r < 600000; r++) if (yv[r * 4] === 0 && yv[r * 4 + 1] === 0 && yv[r * 4 + 2] === 0 && yv[r * 4 + 3] === 0) zeroRows++;
    expect(zeroRows).toBe(0);
    for (const t of [x, w, y]) t.dispose();
  });

  // 'tiled' runs 256 threads per workgroup: 70,000 of them take half a minute on lavapipe.
  for (const schedule of LONG ? (['auto', 'subgroup', 'register', 'tiled', 'scalar'] as const) : (['auto', 'subgroup', 'register', 'scalar'] as const)) {
    it(`a batched [70000, 1, 4] x [70000, 4, 4] matmul (70,000 batches in z), schedule ${schedule}`, async () => {
      rt.tuning.matmul = schedule;
      try {
        const batch = 70000;
        const x = ebm.randn([batch, 1, 4]);
        const w = ebm.randn([batch, 4, 4]);
        const y = x.matmul(w);
        expect(y.shape).toEqual([batch, 1, 4]);
        const [xv, wv, yv] = await Promise.all([x.data(), w.data(), y.data()]);
        const max = rt.maxWorkgroupsPerDimension;
        for (const bi of [0, 1, max - 1, max, max + 1, batch - 1, 12345, 54321]) {
          const want = hostRows(xv.subarray(bi * 4, bi * 4 + 4), wv.subarray(bi * 16, bi * 16 + 16), [0], 4, 4);
          expectRows(yv.subarray(bi * 4, bi * 4 + 4), want, [0], 4, `batch ${bi}`);
        }
        for (const t of [x, w, y]) t.dispose();
      } finally {
        delete rt.tuning.matmul;
      }
    });
  }
});

describe('the unfused Langevin sampler on many chains', () => {
  // vec4-aligned widths put the MLP's matmuls on the vec4 schedules (8 rows a workgroup on
  // lavapipe's subgroup one): 600,000 chains need 75,000 workgroups of rows, 1M (LONG) 125,000.
  const n = LONG ? 1_000_000 : 600_000;
  it(`${n} chains run; the first and last 1,000 equal the same sampler run on those chains alone (which needs no split)`, async () => {
    const energy = new ebm.MLPEnergyModel({ inputDim: 4, hiddenDims: [4], seed: 3 });
    // Without noise each chain's path depends only on its own start, so any chains can be rerun alone.
    const sampler = new ebm.LangevinDynamics(energy, { stepSize: 0.01, noiseScale: 0, fused: false });
    const x0 = ebm.randn([n, 4], { seed: 4 });
    const big = sampler.sample({ x: x0, nSteps: 2, seed: 5 });
    const bv = await big.data();
    expect(bv.length).toBe(n * 4);
    for (const start of [0, n - 1000]) {
      const part = x0.slice(0, start, start + 1000);
      const small = sampler.sample({ x: part, nSteps: 2, seed: 5 });
      const [sv, pv] = await Promise.all([small.data(), part.data()]);
      expect([...bv.subarray(start * 4, start * 4 + 4000)], `chains ${start}..${start + 999}`).toEqual([...sv]);
      // The step did something (a gradient step moves every chain).
      expect(sv.some((v, i) => v !== pv[i])).toBe(true);
      part.dispose();
      small.dispose();
    }
    x0.dispose();
    big.dispose();
  }, 60_000);
});

describe('samplers with more chains than one binding holds', () => {
  // The samplers keep each chain's state in one [chains, dim] tensor: past the binding limit the
  // MLP's matmuls split by rows, the elementwise ops, reductions and the Langevin update bind
  // windows, and the fused kernel runs blocks of chains each binding a window of x
  // (test/split-samplers.test.ts checks the same paths bit for bit at small sizes).
  if (!LONG) console.log('Langevin on over 128 MiB of chains: skipped in npm test (40 s unfused on lavapipe); it runs under npm run test:long');
  for (const fused of [false, true]) {
    it.runIf(LONG)(`Langevin (${fused ? 'fused' : 'unfused'}) on over 128 MiB of chains runs; the first and last 1,000 chains equal the same sampler run on them alone`, async () => {
      if (rt.maxBindingSize >= 2 ** 31) return;
      const chains = rt.maxBindingSize / 8 + 1024;
      const energy = new ebm.MLPEnergyModel({ inputDim: 2, hiddenDims: [4], seed: 3 });
      const x0 = ebm.randn([chains, 2], { seed: 4 });
      // Without noise each chain's path depends only on its own start, so any chains can be rerun alone.
      const sampler = new ebm.LangevinDynamics(energy, { stepSize: 0.01, noiseScale: 0, fused });
      const big = sampler.sample({ x: x0, nSteps: 1, seed: 5 });
      const bv = await big.data();
      for (const start of [0, chains - 1000]) {
        const part = x0.slice(0, start, start + 1000);
        const small = sampler.sample({ x: part, nSteps: 1, seed: 5 });
        const [sv, pv] = await Promise.all([small.data(), part.data()]);
        expect([...bv.subarray(start * 2, start * 2 + 2000)], `chains ${start}..${start + 999}`).toEqual([...sv]);
        expect(sv.some((v, i) => v !== pv[i])).toBe(true);
        part.dispose();
        small.dispose();
      }
      for (const t of [x0, big, ...energy.parameters()]) t.dispose();
    }, 180_000);
  }
});

describe('conv2d at the limits', () => {
  // About a minute on lavapipe (262,144 tiled workgroups), so EBM_TEST_LONG=1 only; test/conv2d.test.ts covers the wg_x0 offsets at small sizes.
  if (!LONG) console.log('conv2d on a [1, 1, 4096, 4096] input: skipped in npm test (about a minute on lavapipe); it runs under npm run test:long');
  it.runIf(LONG)('conv2d on a [1, 1, 4096, 4096] input (its 268 MB packed image is over the binding limit): the tiled path runs, its grid split; pixels checked against the host', async () => {
    if (rt.maxBindingSize >= 4098 * 4098 * 16) return;
    const H = 4096;
    const x = ebm.randn([1, 1, H, H], { seed: 1 });
    const w = ebm.randn([1, 1, 3, 3], { seed: 2 });
    const y = ebm.conv2d(x, w, null, { padding: 1 });
    expect(y.shape).toEqual([1, 1, H, H]);
    const [xv, wv, yv] = await Promise.all([x.data(), w.data(), y.data()]);
    const at = (i: number, j: number) => (i < 0 || j < 0 || i >= H || j >= H ? 0 : xv[i * H + j]!);
    // Pixels in every one of the split dispatches (64 pixels a workgroup, 65535 workgroups each).
    const pixels = [0, 1, H - 1, H * H - 1];
    for (let s = 1; s * 65535 * 64 < H * H; s++) for (const d of [-1, 0, 1]) pixels.push(s * 65535 * 64 + d);
    for (const p of pixels) {
      const i = Math.floor(p / H);
      const j = p % H;
      let want = 0;
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) want += wv[a * 3 + b]! * at(i + a - 1, j + b - 1);
      expect(Math.abs(yv[p]! - want), `pixel ${p}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
    }
    for (const t of [x, w, y]) t.dispose();
  }, 120_000);
});

describe('matmul and conv2d on tensors over the binding limit (real sizes)', () => {
  // test/split-matmul.test.ts and test/split-conv2d.test.ts check every split path bit for bit
  // at small sizes (a lowered window); these run them where the device itself would refuse a
  // whole binding, so no kernel of the op may bind a buffer over 128 MiB whole.
  if (!LONG) console.log('matmul, where and conv2d over 128 MiB: skipped in npm test (tens of seconds on lavapipe); they run under npm run test:long');
  it.runIf(LONG)('x [8.4M, 4] @ w [4, 4] with its backward: y by rows, x.grad by rows, w.grad = xᵀ 1 over k; rows and sums against the host', async () => {
    if (rt.maxBindingSize >= 2 ** 31) return;
    const m = rt.maxBindingSize / 16 + 1024;
    const x = ebm.randn([m, 4], { seed: 1, requiresGrad: true });
    const w = ebm.randn([4, 4], { seed: 2, requiresGrad: true });
    const y = x.matmul(w);
    y.sum().backward();
    const [xv, wv, yv, gx, gw] = await Promise.all([x.data(), w.data(), y.data(), x.grad!.data(), w.grad!.data()]);
    const rows = sampleRows(m, Math.floor(rt.maxBindingSize / 16));
    expectRows(yv, hostRows(xv, wv, rows, 4, 4), rows, 4, 'y');
    // x.grad = 1 wᵀ: each row holds w's row sums.
    const rowSums = [0, 1, 2, 3].map((i) => wv[i * 4]! + wv[i * 4 + 1]! + wv[i * 4 + 2]! + wv[i * 4 + 3]!);
    expectRows(gx, rows.map(() => rowSums).flat(), rows, 4, 'x.grad');
    // w.grad[i][j] = sum over rows of x[r][i]: 8.4M N(0, 1) terms, sum ~ 3e3; f32 partial sums
    // of that length are good to ~1e-4 of the scale sqrt(m) ~ 2.9e3 (tolerance 2e-3 absolute relative to it).
    const colSums = [0, 0, 0, 0];
    for (let r = 0; r < m; r++) for (let i = 0; i < 4; i++) colSums[i]! += xv[r * 4 + i]!;
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expect(Math.abs(gw[i * 4 + j]! - colSums[i]!), `w.grad[${i}][${j}]`).toBeLessThan(2e-3 * Math.sqrt(m));
    for (const t of [x, w, y]) t.dispose();
  }, 300_000);

  it.runIf(LONG)('where(x, x, w) with x zeros past the 128 MiB limit runs in windows: its first and last elements take w', async () => {
    if (rt.maxBindingSize >= 2 ** 31) return;
    const n = rt.maxBindingSize / 4 + 64;
    const x = ebm.zeros([n]);
    const w = ebm.full([1], 1.5);
    const y = ebm.where(x, x, w);
    const head = y.slice(0, 0, 2);
    const tail = y.slice(0, n - 2);
    expect([...(await head.data()), ...(await tail.data())]).toEqual([1.5, 1.5, 1.5, 1.5]);
    for (const t of [x, w, y, head, tail]) t.dispose();
  }, 60_000);

  it.runIf(LONG)('conv2d on [12, 1, 1800, 1800] (156 MB) by batch (windows of 2 images, whose packed copies fit one binding too), with its input and weight gradients; pixels and sums against the host', async () => {
    if (rt.maxBindingSize >= 12 * 1800 * 1800 * 4) return;
    const [N, H] = [12, 1800];
    const x = ebm.randn([N, 1, H, H], { seed: 3, requiresGrad: true });
    const w = ebm.randn([1, 1, 3, 3], { seed: 4, requiresGrad: true });
    const y = ebm.conv2d(x, w, null, { padding: 1 });
    y.sum().backward();
    const [xv, wv, yv, gx, gw] = await Promise.all([x.data(), w.data(), y.data(), x.grad!.data(), w.grad!.data()]);
    const at = (n: number, i: number, j: number) => (i < 0 || j < 0 || i >= H || j >= H ? 0 : xv[n * H * H + i * H + j]!);
    for (const n of [0, 5, 11])
      for (const [i, j] of [[0, 0], [H - 1, H - 1], [1234, 567]]) {
        let want = 0;
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) want += wv[a * 3 + b]! * at(n, i + a - 1, j + b - 1);
        expect(Math.abs(yv[n * H * H + i * H + j]! - want), `y[${n}, ${i}, ${j}]`).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
        // x.grad at an interior pixel is the sum of w's taps.
        if (i === 1234) expect(gx[n * H * H + i * H + j]!).toBeCloseTo(wv.reduce((p, q) => p + q, 0), 4);
      }
    // w.grad's centre tap is the sum of every pixel of x: 39M N(0, 1) terms, scale sqrt(39M) ~ 6.2e3.
    let total = 0;
    for (const v of xv) total += v;
    expect(Math.abs(gw[4]! - total)).toBeLessThan(2e-3 * Math.sqrt(xv.length));
    for (const t of [x, w, y]) t.dispose();
  }, 300_000);
});
