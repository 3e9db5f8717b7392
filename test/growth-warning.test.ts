// Issue 10, item 4: a synchronous loop that makes tensors outside tidy() and never disposes
// them gets one warning naming tidy/dispose once the live tensors pile up.
import { afterEach, beforeAll, expect, it, vi } from 'vitest';
import { device, ebm } from './helpers.js';
import { GROWTH_TENSORS } from '../src/tensor/tensor.js';

beforeAll(async () => {
  await device();
});

afterEach(() => {
  vi.restoreAllMocks();
});

it('no warning for a loop whose steps run in tidy, however many tensors it makes', () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const x = ebm.ones([4]);
  for (let step = 0; step < 3; step++) ebm.tidy(() => {
    for (let i = 0; i < GROWTH_TENSORS; i++) x.reshape([2, 2]);
  });
  expect(warn).not.toHaveBeenCalled();
  x.dispose();
});

it(`past ${GROWTH_TENSORS} live tensors made outside tidy: one warning that names tidy and dispose`, () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const x = ebm.ones([4]);
  const leaked: ebm.Tensor[] = [];
  // Views make tensors without GPU work: the count is what matters here.
  for (let i = 0; i < GROWTH_TENSORS - 10; i++) leaked.push(x.reshape([2, 2]));
  expect(warn).not.toHaveBeenCalled();
  for (let i = 0; i < 2 * GROWTH_TENSORS; i++) leaked.push(x.reshape([2, 2]));
  expect(warn).toHaveBeenCalledTimes(1);
  const message = String(warn.mock.calls[0]![0]);
  expect(message).toMatch(/made outside tidy\(\) are alive/);
  expect(message).toMatch(/ebm\.tidy\(/);
  expect(message).toMatch(/dispose\(\)/);
  for (const t of leaked) t.dispose();
  x.dispose();
});
