// MNIST digits: the committed browser asset holds exactly the mnist package's digits; loadMnist's
// images, labels, range and fixed stratified split; the same digits from the package (Node) and
// from the asset (what the browser loads); and the errors for a bad asset or bad options.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, test } from 'vitest';
import { device, ebm } from './helpers.js';
import { readMnistPackage } from '../src/train/datasets/mnist-package.js';

const ASSET = join(import.meta.dirname, '..', 'demo', 'assets', 'mnist-digits.bin');
const require = createRequire(import.meta.url);

/** Byte equality of two large arrays (vitest's toEqual walks millions of elements slowly). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

beforeAll(async () => {
  await device();
});

describe('the browser asset (demo/assets/mnist-digits.bin)', () => {
  test('holds the package digits, byte for byte, and is compact', async () => {
    const bytes = new Uint8Array(readFileSync(ASSET));
    // Gzipped uint8: well under the package's 21 MB of JSON and its 7.8 MB of raw bytes.
    expect(bytes.length).toBeLessThan(2_000_000);
    const d = await ebm.decodeMnistAsset(bytes);
    expect([d.rows, d.cols, d.labels.length, d.pixels.length]).toEqual([28, 28, 10000, 10000 * 784]);
    // Against the package's JSON itself (not through readMnistPackage): digit d's k-th image is
    // the asset's image at (count of digits < d) + k, and each JSON value is round(p / 255, 3).
    let at = 0;
    let mismatches = 0;
    for (let digit = 0; digit < 10; digit++) {
      const data = (require(`mnist/src/digits/${digit}.json`) as { data: number[] }).data;
      const n = data.length / 784;
      for (let k = 0; k < n; k++) if (d.labels[at + k] !== digit) mismatches++;
      for (let i = 0; i < data.length; i++) if (Math.round((d.pixels[at * 784 + i]! / 255) * 1000) / 1000 !== data[i]) mismatches++;
      at += n;
    }
    expect(at).toBe(10000);
    expect(mismatches).toBe(0);
  });

  test('decodes whether it arrives gzipped or already inflated, and refuses anything else', async () => {
    const gz = new Uint8Array(readFileSync(ASSET));
    const d = await ebm.decodeMnistAsset(gz);
    const inflated = ebm.encodeMnistAsset(d);
    const again = await ebm.decodeMnistAsset(inflated);
    expect(sameBytes(again.pixels, d.pixels)).toBe(true);
    expect(sameBytes(again.labels, d.labels)).toBe(true);
    await expect(ebm.decodeMnistAsset(new Uint8Array([1, 2, 3]), 'x.bin')).rejects.toThrow(/x\.bin is not an MNIST asset/);
    await expect(ebm.decodeMnistAsset(inflated.subarray(0, inflated.length - 5), 'cut.bin')).rejects.toThrow(/cut\.bin holds 7850019 bytes; 10000 digits of 28x28 need 7850024 \(truncated\?\)/);
    await expect(ebm.decodeMnistAsset(new Uint8Array(gzipSync(new Uint8Array([9, 9]))), 'gz.bin')).rejects.toThrow(/not an MNIST asset/);
  });
});

describe('loadMnist', () => {
  test('the fixed split: 9,001 training and 999 held-out digits, disjoint, stratified, deterministic', async () => {
    const d = await ebm.loadMnistDigits();
    const { train, heldOut } = ebm.mnistSplit(d.labels);
    expect([train.length, heldOut.length]).toEqual([9001, 999]);
    const all = new Set([...train, ...heldOut]);
    expect(all.size).toBe(10000);
    // Per class, exactly round(10%) held out.
    for (let c = 0; c < 10; c++) {
      const n = d.labels.filter((l) => l === c).length;
      const held = [...heldOut].filter((i) => d.labels[i] === c).length;
      expect(held, `class ${c}`).toBe(Math.round(0.1 * n));
    }
    expect(ebm.mnistSplit(d.labels).heldOut).toEqual(heldOut);
    // Shuffled: not in class order (the first 100 training digits hold several classes).
    expect(new Set([...train.subarray(0, 100)].map((i) => d.labels[i])).size).toBeGreaterThan(5);
  });

  test('images [n, 1, 28, 28] in [-1, 1] (byte p -> p / 127.5 - 1) or [0, 1], with their labels', async () => {
    const d = await ebm.loadMnist({ split: 'heldOut', limit: 20 });
    expect(d.images.shape).toEqual([20, 1, 28, 28]);
    expect(d.range).toEqual({ min: -1, max: 1 });
    const raw = await ebm.loadMnistDigits();
    const x = await d.images.data();
    let worst = 0;
    for (let r = 0; r < 20; r++) {
      expect(d.labels[r]).toBe(raw.labels[d.index[r]!]);
      for (let i = 0; i < 784; i++) worst = Math.max(worst, Math.abs(x[r * 784 + i]! - (raw.pixels[d.index[r]! * 784 + i]! / 127.5 - 1)));
    }
    // f32 round-off of p * (2 / 255) - 1.
    expect(worst).toBeLessThan(1e-6);
    expect(Math.min(...x)).toBe(-1);
    expect(Math.max(...x)).toBeCloseTo(1, 6);
    const u = await ebm.loadMnist({ split: 'heldOut', limit: 20, range: 'unit' });
    const ux = await u.images.data();
    for (let i = 0; i < ux.length; i += 37) expect(ux[i]).toBeCloseTo((x[i]! + 1) / 2, 6);
    d.images.dispose();
    u.images.dispose();
  });

  test('the asset (what the browser loads) gives the same images as the package', async () => {
    const fromPackage = await ebm.loadMnist({ limit: 64 });
    const fromAsset = await ebm.loadMnist({ limit: 64, source: ASSET });
    expect(fromAsset.index).toEqual(fromPackage.index);
    expect(fromAsset.labels).toEqual(fromPackage.labels);
    expect(sameBytes(await fromAsset.images.data(), await fromPackage.images.data())).toBe(true);
    const pkg = await readMnistPackage();
    const asset = await ebm.decodeMnistAsset(new Uint8Array(readFileSync(ASSET)));
    expect(sameBytes(pkg.pixels, asset.pixels) && sameBytes(pkg.labels, asset.labels)).toBe(true);
    fromPackage.images.dispose();
    fromAsset.images.dispose();
  });

  test('bad options name the option and what is allowed', async () => {
    await expect(ebm.loadMnist({ split: 'test' as never })).rejects.toThrow(/loadMnist: split must be 'train', 'heldOut' or 'all', got "test"/);
    await expect(ebm.loadMnist({ range: [-1, 1] as never })).rejects.toThrow(/loadMnist: range must be 'signed' \(\[-1, 1\]\) or 'unit' \(\[0, 1\]\)/);
    await expect(ebm.loadMnist({ limit: 0 })).rejects.toThrow(/loadMnist: limit must be an integer >= 1, got 0/);
    await expect(ebm.loadMnist({ lmit: 3 } as never)).rejects.toThrow(/loadMnist: unknown option 'lmit'/);
    await expect(ebm.loadMnist({ source: '/nonexistent/digits.bin' })).rejects.toThrow(/loadMnist: could not read '\/nonexistent\/digits\.bin'/);
  });
});
