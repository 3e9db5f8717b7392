// Issue 10, item 4 (the bytes threshold): a synchronous loop outside tidy() that makes a few big
// tensors a step gets one warning naming tidy/dispose once they hold 256 MiB, however few they
// are; big tensors made once (a dataset, a model) do not warn. In a file of its own: the warning
// is shown once per device, and test/growth-warning.test.ts checks the tensor-count threshold.
import { afterEach, beforeAll, expect, it, vi } from 'vitest';
import { device, ebm } from './helpers.js';
import { GROWTH_BYTES, GROWTH_REPEATS } from '../src/tensor/tensor.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const MiB = 2 ** 20;

it(`big tensors made once (a 200 MiB dataset, ${GROWTH_REPEATS - 1} tensors of one size holding over ${GROWTH_BYTES / MiB} MiB together, a small model) do not warn`, () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const data = ebm.zeros([(200 * MiB) / 4]);
  const same = Array.from({ length: GROWTH_REPEATS - 1 }, () => ebm.zeros([Math.ceil(GROWTH_BYTES / (GROWTH_REPEATS - 1) / 4) + MiB]));
  const params = Array.from({ length: 20 }, (_, i) => ebm.zeros([64, 64 + i]));
  expect(warn).not.toHaveBeenCalled();
  for (const t of [data, ...same, ...params]) t.dispose();
});

it(`a loop making a 16 MiB tensor a step outside tidy warns once, naming tidy and dispose, past ${GROWTH_BYTES / MiB} MiB`, () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const leaked: ebm.Tensor[] = [];
  const steps = GROWTH_BYTES / (16 * MiB);
  // A step's tensor (a fill: the cheapest GPU work that makes one): `steps` of them hold exactly the threshold.
  const step = () => leaked.push(ebm.full([(16 * MiB) / 4], leaked.length));
  for (let i = 0; i < steps; i++) step();
  expect(warn).not.toHaveBeenCalled();
  for (let i = 0; i < 4; i++) step();
  expect(warn).toHaveBeenCalledTimes(1);
  const message = String(warn.mock.calls[0]![0]);
  expect(message).toMatch(/^webgpu-ebm: \d+ tensors \(\d+\.\d MiB\) made outside tidy\(\) are alive/);
  expect(message).toMatch(/ebm\.tidy\(/);
  expect(message).toMatch(/dispose\(\)/);
  for (const t of leaked) t.dispose();
});
