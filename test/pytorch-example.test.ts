// examples/pytorch/train_image_ebm.py writes a model.safetensors that webgpu-ebm takes as it is:
// the committed checkpoint (test/fixtures/pytorch-example/, made on the CPU by
//   python examples/pytorch/train_image_ebm.py --channels 4,8 --steps 5 --batch-size 16 \
//     --langevin-steps 5 --buffer-size 256 --out test/fixtures/pytorch-example --reference
// ) builds a ConvEnergyModel from its metadata, loads strictly (every name and shape matches), and
// gives PyTorch's energies for the same images (digits, chains and noise) to 1e-5.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { device, ebm, expectClose, loadFixture } from './helpers.js';

const DIR = join(import.meta.dirname, 'fixtures', 'pytorch-example');

beforeAll(async () => {
  await device();
});

test('the PyTorch example checkpoint loads into ConvEnergyModel and matches its energies to 1e-5', async () => {
  const bytes = new Uint8Array(readFileSync(join(DIR, 'model.safetensors')));
  const { metadata } = ebm.parseSafetensors(bytes);
  const M = ebm.CHECKPOINT_METADATA;
  expect(metadata[M.kind]).toBe('model');
  expect(metadata[M.model]).toBe('ConvEnergyModel');
  expect(metadata[M.source]).toBe('pytorch');
  const config = JSON.parse(metadata[M.config]!) as { inputChannels: number; imageSize: number; channels: number[]; kernelSize: number; activation: string };
  expect(config).toEqual({ inputChannels: 1, imageSize: 28, channels: [4, 8], kernelSize: 3, activation: 'silu' });
  const model = new ebm.ConvEnergyModel(config as ebm.ConvEnergyModelOptions);
  await ebm.loadSafetensors(model, bytes, { strict: true });
  const ref = loadFixture('pytorch-example/reference.safetensors');
  const images = ref.get('images');
  expect(images.shape).toEqual([8, 1, 28, 28]);
  const e = ebm.noGrad(() => model.forward(images));
  // PyTorch's f32 energies on the CPU against ours on the GPU: 1e-5 of the energies' scale.
  expectClose(await e.data(), ref.values('energies'), 1e-5, 'energies');
  // The images are what the test claims: 4 training digits, 2 chains, 2 uniform-noise images, all in [-1, 1].
  const x = await images.data();
  expect(x.every((v) => v >= -1 && v <= 1)).toBe(true);
  e.dispose();
  images.dispose();
});
