// Issue 10, item 7: after device loss every call says the device was lost and how to recover,
// init() makes a fresh device, and the old tensors say they belong to the lost one.
import { expect, it } from 'vitest';
import { caught, ebm, rejection } from './helpers.js';

const LOST = /GPU device #\d+ was lost \(destroyed.*\).*await ebm\.init\(\)/;

it('every call after loss says the device was lost and how to recover; init() makes a fresh device', async () => {
  const rt = await ebm.init();
  const a = ebm.ones([4]).add(1);
  expect([...(await a.data())]).toEqual([2, 2, 2, 2]);
  // Simulate a loss the runtime did not cause (a driver reset reads the same).
  rt.device.destroy();
  await rt.device.lost;
  expect(rt.isLost).toBe(true);
  // Not only the first call: every one, sync and async, with the same clear message.
  for (let i = 0; i < 3; i++) {
    expect(caught(() => a.add(1)).message).toMatch(LOST);
    expect((await rejection(a.data())).message).toMatch(LOST);
  }
  expect(caught(() => ebm.zeros([2])).message).toMatch(/default GPU device was lost; `await ebm.init\(\)` makes a fresh one/);
  expect((await rejection(rt.sync())).message).toMatch(LOST);

  const fresh = await ebm.init();
  expect(fresh).not.toBe(rt);
  expect(fresh.isLost).toBe(false);
  expect(ebm.getDevice()).toBe(fresh);
  const b = ebm.ones([4]).mul(3);
  expect([...(await b.data())]).toEqual([3, 3, 3, 3]);
  // The old tensor still names the lost device, not the fresh one.
  const err = await rejection(a.data());
  expect(err.message).toMatch(LOST);
  expect(err.message).toContain(`#${rt.id}`);
  a.dispose();
  b.dispose();
  ebm.shutdown();
});

it('a loss while a readback is in flight rejects it with the lost-device message, not a bare AbortError', async () => {
  const rt = await ebm.createDevice();
  try {
    const x = ebm.randn([1024], { device: rt });
    const pending = x.data();
    rt.device.destroy();
    const err = await rejection(pending);
    expect(err.message).toMatch(LOST);
  } finally {
    rt.destroy();
  }
});
