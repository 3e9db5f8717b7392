// The fixture-driven suites take their case lists from the fixtures' metadata, so a truncated
// or regenerated-with-fewer-cases fixture would silently drop tests. This pins the case ids each
// fixture script writes; a script that adds cases updates its row here.
import { describe, expect, test } from 'vitest';
import { loadFixture } from './helpers.js';

const ids = (prefix: string, n: number, width: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(width, '0')}`);

const EXPECTED: [file: string, key: string, field: 'id' | 'name', ids: string[]][] = [
  ['ops.safetensors', 'cases', 'id', ids('c', 285, 3)],
  ['optim.safetensors', 'cases', 'id', ['sgd', 'sgd_momentum', 'sgd_nesterov', 'sgd_damp_wd', 'sgd_maximize', 'adam', 'adam_wd', 'adam_amsgrad', 'adam_maximize', 'adamw', 'adamw_amsgrad', 'adam_exponential_lr']],
  ['conv2d.safetensors', 'cases', 'id', ids('c', 26, 2)],
  ['conv2d.safetensors', 'double', 'id', ids('d', 4, 2)],
  ['conv2d.safetensors', 'fused', 'id', ids('f', 6, 2)],
  ['linear.safetensors', 'cases', 'id', ids('c', 30, 1)],
  ['f16.safetensors', 'cases', 'id', ids('c', 7, 1)],
  ['nan.safetensors', 'cases', 'id', ids('c', 27, 2)],
  ['spectral-norm.safetensors', 'cases', 'name', ['linear_33x17', 'linear_128x2', 'linear_64x96', 'conv_8x3x3x3', 'conv_16x5x5x5']],
  ['nn-spectral-norm.safetensors', 'cases', 'name', ['linear', 'linear_nobias_n3', 'conv', 'mlp']],
];

describe('fixtures hold every case their scripts write', () => {
  test.each(EXPECTED)('%s %s', (file, key, field, expected) => {
    const raw = loadFixture(file).metadata[key];
    expect(raw, `${file} has metadata '${key}'`).toBeTypeOf('string');
    const cases = JSON.parse(raw!) as Record<string, string>[];
    expect(cases.map((c) => c[field])).toEqual(expected);
  });
});
