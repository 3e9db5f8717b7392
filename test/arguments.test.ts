// Run-time argument checks (issue 10, item 5): plain JavaScript gets the one-line error a
// TypeScript user gets from the compiler: naming the function, the argument, what it got and
// what is valid, with nothing allocated by the failed call. First the cases, then a
// table over the public tensor API's creation functions, shape, axis, dtype and options arguments.
import { beforeAll, describe, expect, it } from 'vitest';
import { device, ebm } from './helpers.js';

let rt: ebm.Runtime;

beforeAll(async () => {
  rt = await device();
});

/** fn's error message, asserting it threw an Error and left no tensor or byte behind. */
function errorOf(fn: () => unknown): string {
  const before = ebm.memory(rt);
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected the call to throw').toBeInstanceOf(Error);
  const after = ebm.memory(rt);
  expect(after.liveTensors, `live tensors after: ${(err as Error).message}`).toBe(before.liveTensors);
  expect(after.liveBytes, `live bytes after: ${(err as Error).message}`).toBe(before.liveBytes);
  const message = (err as Error).message;
  expect(message, 'one line').not.toMatch(/\n/);
  return message;
}

/** Calls with any arguments, as plain JavaScript would. */
const js = <F>(f: F) => f as unknown as (...args: unknown[]) => ebm.Tensor;

describe("issue 10's cases", () => {
  it("tensor('abc') is an error, not a [3] tensor of NaN", () => {
    expect(errorOf(() => js(ebm.tensor)('abc'))).toMatch(/^tensor: values must be a number, a \(nested\) array of numbers or a typed array, got the string "abc"$/);
  });

  it('tensor({a: 1}) is an error, not an empty tensor', () => {
    expect(errorOf(() => js(ebm.tensor)({ a: 1 }))).toMatch(/^tensor: values must be .*, got an object with keys \{a\}$/);
  });

  it('tensor(null) names null', () => {
    expect(errorOf(() => js(ebm.tensor)(null))).toMatch(/^tensor: values must be .*, got null$/);
  });

  it('zeros(5) says the shape is an array and how to write it', () => {
    expect(errorOf(() => js(ebm.zeros)(5))).toBe('zeros: shape must be an array of non-negative integers (write [5] for one dim), got the number 5');
  });

  it("x.sum('x') names the axis argument and what is valid", () => {
    const x = ebm.zeros([2, 3]);
    expect(errorOf(() => js(x.sum).call(x, 'x'))).toBe('sum: axis must be an integer, an array of integers, or null/undefined for every axis, got the string "x"');
    x.dispose();
  });

  it('backward({ createGraph: true }) takes the options object in the first position', async () => {
    const x = ebm.tensor([1, 2, 3], { requiresGrad: true });
    const y = x.pow(3).sum();
    y.backward({ createGraph: true });
    expect([...(await x.grad!.data())]).toEqual([3, 12, 27]);
    // The graph was recorded: the gradient of sum(dy/dx) is 6x.
    const g = x.grad!;
    x.grad = null;
    g.sum().backward();
    expect([...(await x.grad!.data())]).toEqual([6, 12, 18]);
    expect(errorOf(() => y.backward({ createGrpah: true } as never))).toBe("backward: unknown option 'createGrpah' in options (valid: createGraph)");
    expect(errorOf(() => y.backward('yes' as never))).toMatch(/^backward: gradient must be a Tensor of shape \[\] .*, got the string "yes"$/);
  });

  it('tidy refuses to return tensors inside a Set or a class instance, naming the type', () => {
    const before = ebm.memory(rt).liveTensors;
    expect(() => ebm.tidy(() => new Set([ebm.ones([2])]))).toThrow(
      /^tidy: the function returned a Set holding tensor #\d+ of shape \[2\].*made inside tidy; tidy only looks into arrays, plain objects and Maps.*Return the tensors in an array, object or Map, or keep\(\) them$/,
    );
    class Result {
      constructor(readonly value: ebm.Tensor) {}
    }
    expect(() => ebm.tidy(() => new Result(ebm.ones([3])))).toThrow(/^tidy: the function returned a Result holding tensor #\d+ of shape \[3\]/);
    expect(ebm.memory(rt).liveTensors).toBe(before);
  });

  it('tidy still returns what it can see, and class instances holding kept or outside tensors', async () => {
    const outside = ebm.ones([2]);
    class Box {
      constructor(readonly t: ebm.Tensor) {}
    }
    const box = ebm.tidy(() => new Box(outside));
    expect(box.t).toBe(outside);
    const kept = ebm.tidy(() => new Set([ebm.keep(ebm.ones([2]).add(1))]));
    expect([...(await [...kept][0]!.data())]).toEqual([2, 2]);
    const map = ebm.tidy(() => new Map([['a', ebm.ones([1])]]));
    expect([...(await map.get('a')!.data())]).toEqual([1]);
    for (const t of [outside, ...kept, ...map.values()]) t.dispose();
  });
});

const x23 = () => ebm.zeros([2, 3]);

/** [call, expected message]: each row a bad argument to one public function. */
const SWEEP: [string, () => unknown, RegExp][] = [
  // creation
  ['tensor: a Set', () => js(ebm.tensor)(new Set([1])), /^tensor: values must be .*, got a Set$/],
  ['tensor: undefined', () => js(ebm.tensor)(undefined), /^tensor: values must be .*, got undefined$/],
  ['tensor: a string inside', () => js(ebm.tensor)([1, 'a']), /^tensor: expected a number at \[1\], got string$/],
  ['tensor: shape is a number', () => js(ebm.tensor)([1, 2], 2), /^tensor: shape must be an array of non-negative integers \(write \[2\] for one dim\), got the number 2$/],
  ['tensor: unknown option', () => js(ebm.tensor)([1], { requiresgrad: true }), /^tensor: unknown option 'requiresgrad' in options \(valid: device, requiresGrad, dtype\)$/],
  ['tensor: bad dtype', () => js(ebm.tensor)([1], { dtype: 'float32' }), /^tensor: dtype must be one of f32, f16, got the string "float32"$/],
  ['tensor: requiresGrad not boolean', () => js(ebm.tensor)([1], { requiresGrad: 'yes' }), /^tensor: requiresGrad must be a boolean, got the string "yes"$/],
  ['ones: shape holds a string', () => js(ebm.ones)([2, '3']), /^ones: shape must hold non-negative integers, got \[2, 3\] \(the string "3" at position 1\)$/],
  ['ones: shape is null', () => js(ebm.ones)(null), /^ones: shape must be an array of non-negative integers, got null$/],
  ['full: value is a string', () => js(ebm.full)([2], '1'), /^full: value must be a number, got the string "1"$/],
  ['full: options not an object', () => js(ebm.full)([2], 1, 'f16'), /^full: options must be an object with keys among \{device, requiresGrad, dtype\}, got the string "f16"$/],
  ['zeros: unknown option', () => js(ebm.zeros)([2], { dtyp: 'f16' }), /^zeros: unknown option 'dtyp' in options \(valid: device, requiresGrad, dtype\)$/],
  ['arange: start is a string', () => js(ebm.arange)('5'), /^arange: start must be a number, got the string "5"$/],
  ['arange: end is an object', () => js(ebm.arange)(0, { n: 5 }), /^arange: end must be a number \(or omitted: arange\(n\) is \[0, n\)\), got an object with keys \{n\}$/],
  ['arange: infinite end', () => js(ebm.arange)(0, Infinity), /^arange: start and end must be finite, got 0 and Infinity$/],
  ['linspace: steps is a string', () => js(ebm.linspace)(0, 1, '5'), /^linspace: steps must be a non-negative integer, got the string "5"$/],
  ['linspace: end missing', () => js(ebm.linspace)(0), /^linspace: end must be a number, got undefined$/],
  ['eye: n is 2.5', () => js(ebm.eye)(2.5), /^eye: size must hold non-negative integers, got \[2.5, 2.5\] \(the number 2.5 at position 0\)$/],
  ['eye: m is a string', () => js(ebm.eye)(2, '3'), /^eye: m must be a non-negative integer, got the string "3"$/],
  ['rand: shape is a number', () => js(ebm.rand)(3), /^rand: shape must be an array of non-negative integers \(write \[3\] for one dim\), got the number 3$/],
  ['rand: randn option', () => js(ebm.rand)([3], { std: 2 }), /^rand: unknown option 'std' in options \(valid: device, requiresGrad, dtype, seed, low, high\)$/],
  ['rand: low is a string', () => js(ebm.rand)([3], { low: '0' }), /^rand: low must be a number, got the string "0"$/],
  ['randn: rand option', () => js(ebm.randn)([3], { high: 2 }), /^randn: unknown option 'high' in options \(valid: device, requiresGrad, dtype, seed, mean, std\)$/],
  ['randn: seed negative', () => js(ebm.randn)([3], { seed: -1 }), /^randn: seed must be a non-negative safe integer, got -1$/],
  // shape arguments
  ['reshape: a number', () => js(x23().reshape).call(x23(), 6), /^reshape: shape must be an array of integers \(-1 for one inferred dim\) \(write \[6\] for one dim\), got the number 6$/],
  ['reshape: a string dim', () => x23().reshape(['6'] as never), /^reshape: invalid dim the string "6" in \[6\] \(position 0; dims are non-negative integers, or -1 once\)$/],
  ['view: a string', () => x23().view('6' as never), /^reshape: shape must be an array of integers .*, got the string "6"$/],
  ['permute: a number', () => x23().permute(1 as never), /^permute: dims \(the number 1\) must list each of the 2 dims of shape \[2, 3\] once, as an array$/],
  ['permute: a string axis', () => x23().permute(['1', 0] as never), /^permute: axis must be an integer from -2 to 1, got the string "1"$/],
  ['transpose: a string dim', () => x23().transpose('0' as never, 1), /^transpose: axis must be an integer from -2 to 1, got the string "0"$/],
  ['expand: a number', () => ebm.zeros([1]).expand(3 as never), /^expand: shape must be an array of non-negative integers \(-1 keeps a dim\), got the number 3$/],
  ['expand: a string dim', () => ebm.zeros([1]).expand(['3'] as never), /^expand: invalid dim the string "3" in \[3\]/],
  ['squeeze: a string dim', () => x23().squeeze('0' as never), /^squeeze: axis must be an integer from -2 to 1, got the string "0"$/],
  ['unsqueeze: undefined', () => js(x23().unsqueeze).call(x23()), /^unsqueeze: axis must be an integer from -3 to 2, got undefined$/],
  ['flatten: a string dim', () => x23().flatten('1' as never), /^flatten: axis must be an integer from -2 to 1, got the string "1"$/],
  ['slice: dim a string', () => x23().slice('0' as never, 0, 1), /^slice: axis must be an integer from -2 to 1, got the string "0"$/],
  ['slice: start a string', () => x23().slice(0, '1' as never), /^slice: start must be an integer, got the string "1"$/],
  ['slice: end 1.5', () => x23().slice(0, 0, 1.5), /^slice: end must be an integer or null \(to the end\), got 1.5$/],
  ['slice: step 0', () => x23().slice(0, 0, 2, 0), /^slice: step must be a positive integer, got 0$/],
  ['indexSelect: a number', () => x23().indexSelect(1 as never), /^indexSelect: indices must be an array, Int32Array or Uint32Array of integers, got the number 1$/],
  ['indexSelect: a string', () => x23().indexSelect('01' as never), /^indexSelect: indices must be an array.*, got the string "01"$/],
  ['indexSelect: a string index', () => x23().indexSelect([0, '1'] as never), /^indexSelect: indices must hold integers, got the string "1" at position 1$/],
  ['concat: not an array', () => js(ebm.concat)(x23()), /^concat: expected a non-empty array of tensors, got a Tensor$/],
  ['concat: a number inside', () => js(ebm.concat)([x23(), 1]), /^concat \(tensor 1\): expected a Tensor, got the number 1$/],
  ['concat: dim a string', () => ebm.concat([x23(), x23()], '0' as never), /^concat: axis must be an integer from -2 to 1, got the string "0"$/],
  ['stack: a Set', () => js(ebm.stack)(new Set([x23()])), /^stack: expected a non-empty array of tensors, got a Set$/],
  // axes of reductions
  ['mean: an object', () => x23().mean({ dim: 0 } as never), /^mean: axis must be an integer, an array of integers, or null\/undefined for every axis, got an object with keys \{dim\}$/],
  ['max: a string in the list', () => x23().max([0, '1'] as never), /^max: axis must be an integer from -2 to 1, got the string "1"$/],
  ['min: keepdim a number', () => x23().min(0, 1 as never), /^min: keepdim must be a boolean, got the number 1$/],
  ['logsumexp: a boolean axis', () => x23().logsumexp(true as never), /^logsumexp: axis must be an integer, an array of integers, or null\/undefined for every axis, got the boolean true$/],
  ['var: correction a string', () => x23().var(0, false, '1' as never), /^var: correction must be a finite number, got the string "1"$/],
  ['sum (function): not a tensor', () => js(ebm.sum)([1, 2]), /^sum: expected a Tensor, got the array \[1, 2\]$/],
  // operands and parameters
  ['matmul: an array', () => x23().matmul([1, 2] as never), /^matmul: b must be a Tensor, got the array \[1, 2\]$/],
  ['where: cond a number', () => ebm.where(1 as never, x23(), 0), /^where: cond must be a Tensor, got the number 1$/],
  ['clamp: min a string', () => x23().clamp('0' as never), /^clamp: min must be a number, got the string "0"$/],
  ['leakyRelu: slope a string', () => x23().leakyRelu('0.1' as never), /^leakyRelu: negativeSlope must be a number, got the string "0.1"$/],
  ['step: threshold a string', () => x23().step('a' as never), /^step: threshold must be a number, got the string "a"$/],
  // dtypes
  ['to: a torch dtype', () => x23().to('float16' as never), /^to: unknown dtype 'float16' \(valid: f32, f16\)$/],
  // options objects
  ['backward: options not an object', () => ebm.tensor([1], { requiresGrad: true }).sum().backward(undefined, 'createGraph' as never), /^backward: options must be an object with keys among \{createGraph\}, got the string "createGraph"$/],
  ['backward: createGraph not boolean', () => ebm.tensor([1], { requiresGrad: true }).sum().backward({ createGraph: 1 } as never), /^backward: createGraph must be a boolean, got the number 1$/],
  ['grad: unknown option', () => ebm.grad((t: ebm.Tensor) => t.sum(), { argnum: 1 } as never), /^grad: unknown option 'argnum' in options \(valid: createGraph, argnums\)$/],
  ['grad: argnums a string', () => ebm.grad((t: ebm.Tensor) => t.sum(), { argnums: '0' } as never), /^grad: argnums must be a non-negative integer or an array of them, got the string "0"$/],
  ['grad: not a function', () => js(ebm.grad)(x23()), /^grad: f must be a function returning a scalar Tensor, got a Tensor$/],
  ['keep: an array', () => js(ebm.keep)([x23()]), /^keep: expected a Tensor \(keep each tensor of a container\), got an array of length 1$/],
  ['tidy: not a function', () => js(ebm.tidy)(x23()), /^tidy: expected a function, got a Tensor$/],
];

describe('argument checks across the tensor API', () => {
  it.each(SWEEP)('%s', (_name, call, pattern) => {
    // The row's own inputs are made inside tidy, so only what the failed call made would count.
    expect(errorOf(() => ebm.tidy(() => void call()))).toMatch(pattern);
  });
});
