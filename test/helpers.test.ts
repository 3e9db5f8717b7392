// The comparison helpers the suite leans on hold what their docs say: expectClose measures
// against the tensor's own scale (so a tensor of small values is held to relative precision,
// not to an absolute rtol), and expectElementwiseClose against each element.
import { describe, expect, test } from 'vitest';
import { expectClose, expectElementwiseClose, SCALE_FLOOR } from './helpers.js';

describe('expectClose', () => {
  test('passes within rtol of the largest |expected|', () => {
    expectClose([1.000005, 0.5, -2.00001], [1, 0.5, -2], 1e-5);
    expectClose([0.5, 1e-9], [0.5, 0], 1e-5);
  });

  test('holds a tensor of small values to the same relative precision (no absolute floor of 1)', () => {
    // 1e-3 relative error on values of order 1e-3: an absolute 1e-5 would pass it.
    expect(() => expectClose([1.001e-3, 2e-3], [1e-3, 2e-3], 1e-5)).toThrow(/element 0 is 0.001001, expected 0.001/);
    expectClose([1.00000001e-3, 2e-3], [1e-3, 2e-3], 1e-5);
  });

  test('an all-zero expectation must come out zero to within f32 rounding', () => {
    expectClose([0, SCALE_FLOOR * 1e-6], [0, 0], 1e-5);
    expect(() => expectClose([0, 1e-9], [0, 0], 1e-5)).toThrow(/element 1/);
  });

  test('NaN and infinities must match exactly', () => {
    expectClose([NaN, Infinity, 1], [NaN, Infinity, 1], 1e-5);
    expect(() => expectClose([1, 2], [NaN, 2], 1e-5)).toThrow(/element 0 is 1, expected NaN/);
  });
});

describe('expectElementwiseClose', () => {
  test('holds each element to rtol of itself', () => {
    expectElementwiseClose([1e-30 * (1 + 5e-6), 1], [1e-30, 1], 1e-5);
    expect(() => expectElementwiseClose([1.1e-30, 1], [1e-30, 1], 1e-5)).toThrow(/element 0 is 1.1e-30, expected 1e-30 \(relative error (9.99e-2|1.00e-1)/);
  });
});
