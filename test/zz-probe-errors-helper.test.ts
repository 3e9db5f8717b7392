import { it } from 'vitest';
import { device, ebm } from './helpers.js';

const tryit = (name: string, f: () => unknown) => {
  const before = ebm.memory().liveTensors;
  try { f(); console.log(name, 'NO THROW'); } catch (e) { console.log(name, '=>', (e as Error).message); }
  console.log('   leak', ebm.memory().liveTensors - before);
};

it('probe', async () => {
  const rt = await device();
  const x = ebm.tensor([1, 2]);
  tryit('grad nonscalar', () => ebm.grad((v: ebm.Tensor) => v.mul(2))(x));
  tryit('grad nonscalar tidy', () => ebm.tidy(() => ebm.grad((v: ebm.Tensor) => v.mul(2))(x)));
  const s = x.sum();
  s.dispose();
  const xr = ebm.tensor([1, 2], { requiresGrad: true });
  const y = xr.mul(2);
  tryit('seed disposed', () => { const g = ebm.ones([2]); g.dispose(); y.backward(g); });
  tryit('stack', () => ebm.stack([x, ebm.tensor([1, 2, 3])]));
  tryit('stack dim', () => ebm.stack([x, x], 2));
  tryit('assign', () => x.assign(ebm.tensor([1, 2, 3])));
  tryit('reqgrad', () => y.requiresGrad_());
  tryit('add str', () => x.add('a' as any));
  tryit('rand', () => ebm.rand([1.5]));
  tryit('eye', () => ebm.eye(-1));
  tryit('arange sign', () => ebm.arange(0, 5, -1));
  tryit('tensor neg', () => ebm.tensor(new Float32Array(0), [-1, 0]));
  tryit('mean rep', () => x.mean([0, 0]));
  tryit('slice 0d', () => s.slice(0));
  tryit('idx neg', () => x.indexSelect([-3]));
  tryit('idx frac', () => x.indexSelect([0.5]));
  tryit('clamp nan', () => x.clamp(NaN));
  tryit('expand fewer', () => ebm.zeros([2, 3]).expand([3]));
  tryit('matmul 0d left', () => ebm.tensor(2).matmul(ebm.zeros([2, 3])));
  tryit('reshape bad', () => x.reshape([-2, -1]));
  const buf = x.buffer;
  x.dispose();
  const z = ebm.tensor([5, 6]);
  console.log('reuse immediately', z.buffer === buf);
  console.log(JSON.stringify(rt.stats));
});
