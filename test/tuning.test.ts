// rt.tuning: every family's forced choice is read through forcedChoice (src/kernels/tuning.ts),
// so a misspelt value throws, naming the key, the choices and the value, instead of quietly
// running the default schedule.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { forcedChoice } from '../src/kernels/tuning.js';
import { caught, device, ebm } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

afterEach(() => {
  for (const k of ['matmul', 'f16', 'reduce', 'convGemm']) delete rt.tuning[k];
});

describe('forcedChoice', () => {
  it('is undefined unset or auto, the value when it is a choice, and throws otherwise', () => {
    expect(forcedChoice({}, 'reduce', ['chunked', 'single'])).toBeUndefined();
    expect(forcedChoice({ reduce: 'auto' }, 'reduce', ['chunked', 'single'])).toBeUndefined();
    expect(forcedChoice({ reduce: 'single' }, 'reduce', ['chunked', 'single'])).toBe('single');
    expect(() => forcedChoice({ reduce: 'chunky' }, 'reduce', ['chunked', 'single'])).toThrow("rt.tuning.reduce must be 'auto' or one of chunked, single, got 'chunky'");
  });

  it.each([
    ['matmul', 'vec4', () => ebm.ones([4, 4]).matmul(ebm.ones([4, 4])), "rt.tuning.matmul must be 'auto' or one of subgroup, register, tiled, scalar, got 'vec4'"],
    ['reduce', 'chunky', () => ebm.ones([3, 40000]).sum(1), "rt.tuning.reduce must be 'auto' or one of chunked, single, got 'chunky'"],
    ['convGemm', 'pixels', () => ebm.conv2d(ebm.ones([1, 4, 6, 6]), ebm.ones([8, 4, 3, 3]), null, { tiling: 'subgroup' }), "rt.tuning.convGemm must be 'auto' or one of pixel-rows, channel-rows, got 'pixels'"],
  ] as const)('a misspelt rt.tuning.%s (%s) makes the op throw by name, and nothing stays allocated', async (key, value, op, message) => {
    const before = ebm.memory(rt);
    rt.tuning[key] = value;
    // tidy disposes the inputs the op made; the failed op itself leaves nothing behind.
    expect(caught(() => ebm.tidy(op)).message).toContain(message);
    delete rt.tuning[key];
    const after = ebm.memory(rt);
    expect([after.liveTensors, after.liveBytes]).toEqual([before.liveTensors, before.liveBytes]);
  });
});
