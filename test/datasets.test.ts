// The 2-D toy datasets: shapes, one dispatch each, seeded reproducibility, TorchEBM's exact
// component splits, and per-dataset geometry (clusters at the eight centres, radii on the
// circle, odd checkerboard cells, two arcs, pinwheel blades, grid points, swiss roll scaling).
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';
import { DATASETS, datasetDefaults, makeDataset, type DatasetName } from '../src/train/index.js';
import { datasetKernel } from '../src/kernels/datasets.js';

/** The points as [x, y] pairs (datasets are small; the checks are easier to read on the host). */
async function points(name: DatasetName, opts: object): Promise<[number, number][]> {
  const t = makeDataset(name, opts as never);
  expect(t.shape[1]).toBe(2);
  const d = await t.data();
  t.dispose();
  return Array.from({ length: d.length / 2 }, (_, i) => [d[2 * i]!, d[2 * i + 1]!]);
}

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const std = (a: number[]) => {
  const m = mean(a);
  return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1));
};
const nearest = (p: [number, number], centres: [number, number][]) => {
  let best = 0;
  let dist = Infinity;
  centres.forEach((c, i) => {
    const d = Math.hypot(p[0] - c[0], p[1] - c[1]);
    if (d < dist) [best, dist] = [i, d];
  });
  return { index: best, dist };
};
const S = Math.SQRT1_2;
const EIGHT: [number, number][] = [[1, 0], [-1, 0], [0, 1], [0, -1], [S, S], [S, -S], [-S, S], [-S, -S]];

beforeAll(async () => {
  await device();
});

describe('every dataset', () => {
  it('is [n, 2] (grid: [perDim^2, 2]), finite, made in one dispatch (swiss roll: plus its scaling)', async () => {
    expect([...DATASETS]).toEqual(['gaussian-mixture', 'eight-gaussians', 'two-moons', 'swiss-roll', 'circle', 'checkerboard', 'pinwheel', 'grid']);
    const rt = ebm.getDevice();
    for (const name of DATASETS) {
      const before = rt.stats.dispatches;
      const t = name === 'grid' ? makeDataset('grid', { nSamplesPerDim: 7, seed: 1 }) : makeDataset(name, { nSamples: 999, seed: 1 });
      const used = rt.stats.dispatches - before;
      expect(t.shape, name).toEqual(name === 'grid' ? [49, 2] : [999, 2]);
      if (name !== 'swiss-roll') expect(used, `${name}: dispatches`).toBe(1);
      expect((await t.data()).every(Number.isFinite), name).toBe(true);
      t.dispose();
    }
    // TorchEBM's default size.
    const d = makeDataset('two-moons');
    expect(d.shape).toEqual([2000, 2]);
    d.dispose();
  });

  it('same seed, same data; another seed or no seed, other data', async () => {
    for (const name of DATASETS) {
      const opts = name === 'grid' ? {} : { nSamples: 300 };
      const [a, b, c, u1, u2] = await Promise.all([
        points(name, { ...opts, seed: 3 }),
        points(name, { ...opts, seed: 3 }),
        points(name, { ...opts, seed: 4 }),
        points(name, opts),
        points(name, opts),
      ]);
      expect(b, `${name}: seed 3 twice`).toEqual(a);
      expect(c, `${name}: seeds 3 and 4`).not.toEqual(a);
      expect(u2, `${name}: unseeded twice`).not.toEqual(u1);
    }
  });

  it('TorchEBM defaults', () => {
    expect(datasetDefaults('gaussian-mixture')).toEqual({ nComponents: 8, std: 0.05, radius: 1 });
    expect(datasetDefaults('eight-gaussians')).toEqual({ std: 0.02, scale: 2 });
    expect(datasetDefaults('pinwheel')).toEqual({ nClasses: 5, noise: 0.05, radialScale: 2, angularScale: 0.1, spiralScale: 5 });
    expect(datasetDefaults('grid')).toEqual({ nSamplesPerDim: 10, rangeLimit: 1, noise: 0.01 });
    expect(datasetDefaults('checkerboard')).toEqual({ rangeLimit: 4, noise: 0.01 });
  });
});

describe('per-dataset geometry', () => {
  it('eight gaussians: every point within 5 std of one of the 8 centres (scale 2), exactly n/8 per centre, shuffled', async () => {
    const pts = await points('eight-gaussians', { nSamples: 4000, seed: 1 });
    const centres = EIGHT.map(([x, y]) => [2 * x, 2 * y] as [number, number]);
    const counts = new Array(8).fill(0);
    const offsets: number[] = [];
    for (const p of pts) {
      const { index, dist } = nearest(p, centres);
      expect(dist).toBeLessThan(5 * 0.02);
      counts[index]++;
      offsets.push(p[0] - centres[index]![0]);
    }
    expect(counts).toEqual(new Array(8).fill(500));
    expect(Math.abs(std(offsets) - 0.02)).toBeLessThan(0.002);
    // Shuffled: the first 16 rows do not follow the centres in order.
    const order = pts.slice(0, 16).map((p) => nearest(p, centres).index);
    expect(order).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(order).size).toBeGreaterThan(3);
    // Unshuffled: component i % 8 for row i.
    const ordered = await points('eight-gaussians', { nSamples: 16, seed: 1, shuffle: false });
    expect(ordered.map((p) => nearest(p, centres).index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('gaussian mixture: k centres on a circle of the given radius, TorchEBM split (n // k, +1 for the first n % k)', async () => {
    const [k, radius, sd, n] = [5, 3, 0.1, 2003];
    const pts = await points('gaussian-mixture', { nSamples: n, nComponents: k, radius, std: sd, seed: 2 });
    const centres = Array.from({ length: k }, (_, c) => [radius * Math.cos((2 * Math.PI * c) / k), radius * Math.sin((2 * Math.PI * c) / k)] as [number, number]);
    const counts = new Array(k).fill(0);
    for (const p of pts) {
      const { index, dist } = nearest(p, centres);
      expect(dist).toBeLessThan(5 * sd);
      counts[index]++;
    }
    expect(counts).toEqual([401, 401, 401, 400, 400]);
  });

  it('circle: radii around the radius with the noise as spread, angles uniform', async () => {
    const pts = await points('circle', { nSamples: 8000, radius: 2, seed: 3 });
    const r = pts.map(([x, y]) => Math.hypot(x, y));
    expect(Math.abs(mean(r) - 2)).toBeLessThan(0.01);
    expect(Math.abs(std(r) - 0.05)).toBeLessThan(0.005);
    const quadrants = [0, 0, 0, 0];
    for (const [x, y] of pts) quadrants[(x >= 0 ? 0 : 1) + (y >= 0 ? 0 : 2)]++;
    for (const q of quadrants) expect(Math.abs(q - 2000)).toBeLessThan(200);
  });

  it('two moons: without noise, n/2 points evenly on each arc; with it, within 4 noise of an arc', async () => {
    const exact = await points('two-moons', { nSamples: 1001, noise: 0, seed: 4 });
    const upper = exact.filter(([x, y]) => Math.abs(Math.hypot(x, y) - 1) < 1e-5 && y >= -1e-6);
    const lower = exact.filter(([x, y]) => Math.abs(Math.hypot(x - 1, y - 0.5) - 1) < 1e-5 && y <= 0.5 + 1e-6);
    expect(upper.length).toBe(500);
    expect(lower.length).toBe(501);
    // Evenly spaced in angle (linspace over [0, pi]), endpoints included.
    // (sin pi in f32 is a hair below 0: fold atan2's -pi back to pi.)
    const angles = upper.map(([x, y]) => Math.atan2(y, x)).map((a) => (a < -Math.PI / 2 ? a + 2 * Math.PI : a)).sort((a, b) => a - b);
    expect(angles[0]).toBeCloseTo(0, 5);
    expect(angles[499]).toBeCloseTo(Math.PI, 5);
    angles.slice(1).forEach((a, i) => expect(a - angles[i]!).toBeCloseTo(Math.PI / 499, 4));
    const noisy = await points('two-moons', { nSamples: 2000, seed: 4 });
    for (const [x, y] of noisy) expect(Math.min(Math.abs(Math.hypot(x, y) - 1), Math.abs(Math.hypot(x - 1, y - 0.5) - 1))).toBeLessThan(4 * 0.05);
  });

  it('checkerboard: points in the odd cells of [-4, 4]^2, every odd cell used about equally', async () => {
    const pts = await points('checkerboard', { nSamples: 6400, noise: 0, seed: 5 });
    const cells = new Map<string, number>();
    for (const [x, y] of pts) {
      expect(Math.abs(x)).toBeLessThanOrEqual(4);
      expect(Math.abs(y)).toBeLessThanOrEqual(4);
      const [cx, cy] = [Math.floor(x), Math.floor(y)];
      expect(Math.abs(cx + cy) % 2).toBe(1);
      cells.set(`${cx},${cy}`, (cells.get(`${cx},${cy}`) ?? 0) + 1);
    }
    expect(cells.size).toBe(32);
    for (const c of cells.values()) expect(Math.abs(c - 200)).toBeLessThan(70);
    // The default noise moves only a few points out of their cell.
    const noisy = await points('checkerboard', { nSamples: 4000, seed: 5 });
    const odd = noisy.filter(([x, y]) => Math.abs(Math.floor(x) + Math.floor(y)) % 2 === 1).length;
    expect(odd / 4000).toBeGreaterThan(0.97);
  });

  it('pinwheel: k blades of exactly n/k points; angle = base + spiral * r / radial, r <= radial scale', async () => {
    const [k, n] = [5, 3000];
    const pts = await points('pinwheel', { nSamples: n, noise: 0, angularScale: 0, seed: 6 });
    const counts = new Array(k).fill(0);
    for (const [x, y] of pts) {
      const r = Math.hypot(x, y);
      expect(r).toBeLessThanOrEqual(2 + 1e-5);
      // Undo the spiral: what is left is the blade's base angle, a multiple of 2 pi / k.
      const base = Math.atan2(y, x) - (5 * r) / 2;
      const blade = (((Math.round(base / ((2 * Math.PI) / k)) % k) + k) % k);
      const off = base - blade * ((2 * Math.PI) / k);
      expect(Math.abs(Math.sin(off / 2))).toBeLessThan(1e-3);
      counts[blade]++;
    }
    expect(counts).toEqual(new Array(k).fill(n / k));
    // t = sqrt(u) makes r^2 uniform: a quarter of the points within half the radius.
    const inner = pts.filter(([x, y]) => Math.hypot(x, y) < 1).length / n;
    expect(Math.abs(inner - 0.25)).toBeLessThan(0.03);
  });

  it('grid: meshgrid (ij) of linspace(-lim, lim, m), with noise around it', async () => {
    const m = 6;
    const pts = await points('grid', { nSamplesPerDim: m, rangeLimit: 2, noise: 0 });
    const lin = (j: number) => -2 + (4 * j) / (m - 1);
    pts.forEach(([x, y], i) => {
      expect(x).toBeCloseTo(lin(Math.floor(i / m)), 5);
      expect(y).toBeCloseTo(lin(i % m), 5);
    });
    const noisy = await points('grid', { nSamplesPerDim: m, rangeLimit: 2, seed: 1 });
    const offsets = noisy.flatMap(([x, y], i) => [x - lin(Math.floor(i / m)), y - lin(i % m)]);
    expect(Math.max(...offsets.map(Math.abs))).toBeLessThan(5 * 0.01);
    // Shuffled on request: the same points in another order.
    const shuffled = await points('grid', { nSamplesPerDim: m, rangeLimit: 2, noise: 0, shuffle: true, seed: 1 });
    const key = (p: [number, number]) => p.map((v) => v.toFixed(4)).join(',');
    expect(shuffled.map(key)).not.toEqual(pts.map(key));
    expect(shuffled.map(key).sort()).toEqual(pts.map(key).sort());
  });

  it('swiss roll: (t cos t, t sin t), t uniform in arclength * pi * [1, 3], centred and scaled as TorchEBM', async () => {
    const [n, seed, arclength, noise] = [3000, 7, 3, 0.05];
    // The kernel's raw points (before the whole-set scaling), with the arguments makeDataset uses.
    const rt = ebm.getDevice();
    const rawT = ebm.zeros([n, 2]);
    datasetKernel(rt, rawT.buffer, { kind: 'swiss_roll', n, seedLo: seed, seedHi: 0, k: 8, shuffle: true, floats: [arclength], noise: 0 });
    const rawD = await rawT.data();
    rawT.dispose();
    const raw = Array.from({ length: n }, (_, i) => [rawD[2 * i]!, rawD[2 * i + 1]!] as [number, number]);
    const ts = raw.map(([x, y]) => Math.hypot(x, y));
    raw.forEach(([x, y], i) => {
      const t = ts[i]!;
      expect(t).toBeGreaterThanOrEqual(3 * Math.PI * 0.9999);
      expect(t).toBeLessThanOrEqual(9 * Math.PI * 1.0001);
      // On the spiral: the direction is (cos t, sin t).
      expect(Math.abs(x / t - Math.cos(t)) + Math.abs(y / t - Math.sin(t))).toBeLessThan(1e-4);
    });
    expect(Math.abs(mean(ts) - 6 * Math.PI)).toBeLessThan(0.3);
    // makeDataset = (raw - mean) / (2 * mean of the per-axis std), as TorchEBM.
    const pts = await points('swiss-roll', { nSamples: n, noise: 0, seed });
    const [xs, ys] = [raw.map((p) => p[0]), raw.map((p) => p[1])];
    const [mx, my, scale] = [mean(xs), mean(ys), (std(xs) + std(ys))];
    pts.forEach(([x, y], i) => {
      expect(x).toBeCloseTo((raw[i]![0] - mx) / scale, 4);
      expect(y).toBeCloseTo((raw[i]![1] - my) / scale, 4);
    });
    const noisy = await points('swiss-roll', { nSamples: n, noise, seed });
    const [nx, ny] = [noisy.map((p) => p[0]), noisy.map((p) => p[1])];
    expect(Math.abs(mean(nx)) + Math.abs(mean(ny))).toBeLessThan(1e-5);
    expect((std(nx) + std(ny)) / 2).toBeCloseTo(0.5, 4);
  });
});

describe('bad options', () => {
  it('name the dataset, the option and the value', () => {
    expect(() => makeDataset('moons' as never)).toThrow('makeDataset: unknown dataset "moons" (known: gaussian-mixture, eight-gaussians, two-moons, swiss-roll, circle, checkerboard, pinwheel, grid)');
    expect(() => makeDataset('two-moons', { n: 10 } as never)).toThrow("makeDataset('two-moons'): unknown option 'n' (known: nSamples, seed, shuffle, device, noise)");
    expect(() => makeDataset('circle', { nSamples: 0 })).toThrow("makeDataset('circle'): nSamples must be an integer >= 1, got 0");
    expect(() => makeDataset('eight-gaussians', { std: -1 })).toThrow("makeDataset('eight-gaussians'): std must be a finite number >= 0, got -1");
    expect(() => makeDataset('gaussian-mixture', { nComponents: 2.5 })).toThrow("makeDataset('gaussian-mixture'): nComponents must be an integer >= 1, got 2.5");
    expect(() => makeDataset('checkerboard', { rangeLimit: 0 })).toThrow("makeDataset('checkerboard'): rangeLimit must be a finite number > 0, got 0");
    expect(() => makeDataset('grid', { nSamples: 100 } as never)).toThrow("makeDataset('grid'): the size is nSamplesPerDim^2; set nSamplesPerDim instead of nSamples");
    expect(() => makeDataset('swiss-roll', { nSamples: 1 })).toThrow("makeDataset('swiss-roll'): nSamples must be at least 2");
    expect(() => makeDataset('circle', { seed: 1.5 })).toThrow("makeDataset('circle'): seed must be a non-negative safe integer, got 1.5");
  });
});
