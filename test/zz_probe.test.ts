import { it, expect } from 'vitest';
import { device, ebm } from './helpers.js';
it('probe', async () => {
  await device();
  console.log(ebm.registeredOps().join(' '));
  const t0 = performance.now();
  const x = ebm.tensor([1, 2, 3], { requiresGrad: true });
  for (let i = 0; i < 200; i++) { const y = x.mul(2); y.dispose(); }
  await x.data();
  console.log('200 dispatches ms', performance.now() - t0);
  const r = await ebm.rand([4], { seed: 0 }).data();
  console.log([...r].map((v) => Math.floor(v * 2 ** 24).toString(16)));
  console.log(ebm.memory());
  expect(1).toBe(1);
});
