// inferArchitecture / inferMLPArchitecture (src/nn/checkpoint-model.ts), the one reading of a
// model from state-dict names and shapes that the CLI and the browser demo share: PyTorch-made
// files of the seed's classes (test/fixtures/zoo-*.safetensors) give their constructor options,
// and names that fit no class, or shapes that do not chain, give a one-line reason. Headers only:
// no GPU.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { inferArchitecture, inferMLPArchitecture, isModelTensor, parseSafetensors, type NamedShapes } from '../src/index.js';

const fixture = (name: string) => parseSafetensors(new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.safetensors`)))).tensors;
const shapes = (o: Record<string, number[]>): NamedShapes => new Map(Object.entries(o).map(([k, shape]) => [k, { shape }]));

describe('checkpoint architecture', () => {
  test("PyTorch's MLPEnergyModel, plain and under spectral norm, and ResNetEnergyModel", () => {
    expect(inferArchitecture(fixture('zoo-mlp'))).toEqual({ model: 'MLPEnergyModel', options: { inputDim: 2, hiddenDims: [32, 32], useSpectralNorm: false } });
    expect(inferArchitecture(fixture('zoo-mlp-sn'))).toEqual({ model: 'MLPEnergyModel', options: { inputDim: 2, hiddenDims: [32, 32], useSpectralNorm: true } });
    expect(inferArchitecture(fixture('zoo-resnet'))).toEqual({ model: 'ResNetEnergyModel', options: { inputDim: 4, hiddenDim: 16, nBlocks: 2 } });
  });

  test('names that fit no class: null, or the MLP reading says why', () => {
    expect(inferArchitecture(shapes({ 'input_proj.0.weight': [4, 2] }))).toBeNull();
    expect(() => inferMLPArchitecture(fixture('zoo-resnet'))).toThrow(/^not an MLPEnergyModel checkpoint: expected network\.0\.weight \.\.\. output_layer\.weight, found blocks\./);
    expect(() => inferMLPArchitecture(shapes({ 'network.0.weight': [8, 2], 'network.1.weight': [8, 8], 'output_layer.weight': [1, 8] }))).toThrow(
      'not an MLPEnergyModel checkpoint: its Linear layers are network.0, network.1 (expected network.0, network.2, ...)',
    );
  });

  test('shapes that do not chain are named', () => {
    expect(() => inferArchitecture(shapes({ 'network.0.weight': [8, 2], 'network.2.weight': [4, 6], 'output_layer.weight': [1, 4] }))).toThrow(
      "network.2's weight [4, 6] does not follow network.0's [8, 2]",
    );
    expect(() => inferArchitecture(shapes({ 'network.0.weight': [8, 2], 'output_layer.weight': [1, 3] }))).toThrow("output_layer's weight has shape [1, 3], expected [1, 8]");
  });

  test("a training checkpoint's optimizer and trainer tensors are not the model's", () => {
    expect(['network.0.weight', 'optimizer.state.0.exp_avg', 'trainer.buffer'].filter(isModelTensor)).toEqual(['network.0.weight']);
  });
});
