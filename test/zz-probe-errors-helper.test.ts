import { it } from 'vitest';
import { device, ebm } from './helpers.js';

const tryit = (name: string, f: () => unknown) => {
  const before = ebm.memory().liveTensors;
  try { f(); console.log(name, 'NO THROW'); } catch (e) { console.log(name, '=>', (e as Error).message); }
  console.log('   leak', ebm.memory().liveTensors - before);
};

it('probe', async () => {
  const rt = await device();
  const a = ebm.tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
  const b = ebm.tensor([1, 2], { requiresGrad: true });
  tryit('add', () => a.add(b));
  tryit('where', () => ebm.where(ebm.tensor([1, 0]), a, ebm.tensor([1, 2, 3, 4])));
  tryit('where scalar', () => ebm.where(ebm.tensor([1, 0, 1, 1]), 1, a));
  tryit('matmul 1d', () => ebm.matmul(b, a.T.T.reshape([3, 2])));
  tryit('matmul 1d bad', () => ebm.matmul(ebm.tensor([1, 2, 3, 4]), a));
  tryit('matmul inner', () => a.matmul(a));
  tryit('matmul batch', () => ebm.zeros([2, 2, 3]).matmul(ebm.zeros([3, 3, 4])));
  tryit('matmul 0d', () => a.matmul(ebm.tensor(3)));
  tryit('sum', () => a.sum(2));
  tryit('squeeze', () => a.squeeze(2));
  tryit('unsqueeze', () => a.unsqueeze(3));
  tryit('transpose', () => a.transpose(0, 2));
  tryit('permute', () => a.permute([0, 2]));
  tryit('permute short', () => a.permute([0]));
  tryit('concat', () => ebm.concat([a, a], 2));
  tryit('concat shape', () => ebm.concat([a, b.reshape([1, 2])], 0));
  tryit('slice', () => a.slice(2, 0, 1));
  tryit('reshape', () => a.reshape([4]));
  tryit('reshape -1', () => a.reshape([-1, -1]));
  tryit('reshape -1 bad', () => a.reshape([-1, 4]));
  tryit('expand', () => a.expand([4, 3]));
  tryit('backward ns', () => a.mul(2).backward());
  tryit('backward seed', () => a.mul(2).backward(ebm.ones([3])));
  tryit('backward nograd', () => ebm.tensor([1]).sum().backward());
  tryit('indexSelect', () => a.indexSelect([0, 5]));
  tryit('ragged', () => ebm.tensor([[1, 2], [3]]));
  tryit('ragged2', () => ebm.tensor([[1, 2], 3] as any));
  tryit('size', () => ebm.tensor([1, 2, 3], [2, 2]));
  tryit('size f32', () => ebm.tensor(new Float32Array(3), [2, 2]));
  tryit('neg shape', () => ebm.zeros([2, -1]));
  tryit('neg randn', () => ebm.randn([-2]));
  tryit('arange', () => ebm.arange(0, 5, 0));
  tryit('linspace', () => ebm.linspace(0, 1, 2.5));
  tryit('clamp', () => a.clamp());
  tryit('tidy', () => ebm.tidy((async () => ebm.ones([2])) as any));
  const d = ebm.tensor([1, 2]);
  d.dispose();
  tryit('disposed op', () => d.exp());
  tryit('disposed add', () => a.add(d));
  tryit('disposed backward', () => d.sum().backward());
  try { await d.data(); } catch (e) { console.log('data', (e as Error).message); }
  try { await a.item(); } catch (e) { console.log('item', (e as Error).message); }
  // disposed intermediate
  const x = ebm.tensor([1, 2], { requiresGrad: true });
  const y = x.exp();
  const z = y.sum();
  y.dispose();
  tryit('disposed intermediate', () => z.backward());
  console.log('x.grad', x.grad, y.grad);
  const rt2 = await ebm.createDevice();
  const o = ebm.tensor([1, 2], { device: rt2 });
  tryit('2dev add', () => b.add(o));
  tryit('2dev where', () => ebm.where(o, b, 1));
  tryit('2dev where2', () => ebm.where(b, 1, o));
  tryit('2dev matmul', () => b.matmul(o));
  tryit('2dev concat', () => ebm.concat([b, o]));
  tryit('2dev seed', () => b.mul(2).backward(o));
  rt2.destroy();
  try { await rt.pipelines.validate('broken.wgsl', 'fn f() {\n  let a = 1;\n  let b: f32 = nope;\n}\n'); } catch (e) { console.log('wgsl', (e as Error).message); }
  console.log([...rt.info.features], rt.info.description);
});
