#!/usr/bin/env python3
"""PyTorch's NaN semantics as fixtures: test/fixtures/nan.safetensors.

Run from the repository root: python3 scripts/make_nan_fixtures.py

Inputs containing NaN for the ops whose NaN behaviour differs between a naive GPU kernel (WGSL's
max/min may return the non-NaN operand) and PyTorch: the max/min reductions (torch.max() with no
axis and torch.amax/amin over axes have different gradient rules at NaN, and both are kept),
maximum/minimum, clamp with one or two bounds, relu, leakyRelu, logsumexp and the comparisons.

Layout, as in ops.safetensors (scripts/make_fixtures.py): case ``cNN`` stores its tensor inputs as
``cNN/in0``, ``cNN/in1``, the output as ``cNN/out`` and, when an input has ``grad: true``, an
upstream gradient ``cNN/gout`` and ``<input key>/grad`` = d sum(out * gout) / d input. The
``cases`` metadata is a JSON list of ``{"id", "name", "op", "call", "args"}``; ``call`` is
``method`` (args[0].op(...rest)) or ``function`` (ebm.op(...args)). Inputs are float32 values;
the oracle runs in float64 and is rounded to float32. Seeded, so the file is reproducible.
"""

from __future__ import annotations

import json

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

F32 = torch.float32
F64 = torch.float64
NAN = float('nan')

torch.manual_seed(1010)

tensors: dict[str, torch.Tensor] = {}
cases: list[dict] = []


def t(values):
    return torch.tensor(values, dtype=F32)


def with_nans(shape, positions):
    x = torch.randn(shape, dtype=F32)
    flat = x.view(-1)
    for p in positions:
        flat[p] = NAN
    return x


def case(name, op, call, inputs, extra, fn):
    """inputs: list of (float32 tensor or number, requires_grad); extra: non-tensor args after them."""
    cid = f'c{len(cases):02d}'
    args, leaves, keys = [], [], []
    for i, (v, grad) in enumerate(inputs):
        if isinstance(v, torch.Tensor):
            key = f'{cid}/in{i}'
            tensors[key] = v.contiguous()
            args.append({'tensor': key, 'grad': grad})
            leaf = v.to(F64).requires_grad_(grad)
            leaves.append(leaf)
            keys.append((key, leaf, grad))
        else:
            args.append(v)
            leaves.append(v)
    out = fn(*leaves, *extra)
    tensors[f'{cid}/out'] = out.detach().to(F32).contiguous()
    if any(grad for _, _, grad in keys):
        gout = torch.randn(out.shape, dtype=F32)
        tensors[f'{cid}/gout'] = gout
        (out * gout.to(F64)).sum().backward()
        for key, leaf, grad in keys:
            if grad:
                tensors[f'{key}/grad'] = leaf.grad.to(F32).contiguous()
    cases.append({'id': cid, 'name': name, 'op': op, 'call': call, 'args': args + list(extra)})


# Our reductions with no axis are torch.max() / torch.min(): the gradient is split among the NaN
# inputs. With axes they are torch.amax / torch.amin: NaN over a slice whose result is NaN.
case('max all, one NaN', 'max', 'method', [(t([1, NAN, 3]), True)], [], lambda x: x.max())
case('max all, two NaNs split the gradient', 'max', 'method', [(t([1, NAN, NAN]), True)], [], lambda x: x.max())
case('min all, 2-d', 'min', 'method', [(t([[2, NAN], [1, 0]]), True)], [], lambda x: x.min())
case('max all, no NaN, ties', 'max', 'method', [(t([3, 1, 3, 2]), True)], [], lambda x: x.max())
case('max axis 1 (amax)', 'max', 'method', [(t([[1, NAN, NAN], [1, 3, 3]]), True)], [1], lambda x, a: torch.amax(x, a))
case('min axis 0 (amin)', 'min', 'method', [(with_nans((3, 4), [5]), True)], [0], lambda x, a: torch.amin(x, a))
case('max axes [0, 2] keepdim', 'max', 'method', [(with_nans((2, 3, 4), [7]), True)], [[0, 2], True], lambda x, a, k: torch.amax(x, a, k))
case('min axes [0, 1] (every axis given)', 'min', 'method', [(with_nans((2, 3), [4]), True)], [[0, 1]], lambda x, a: torch.amin(x, a))
case('max axis -1, long rows (workgroup schedule)', 'max', 'method', [(with_nans((2, 1000), [500]), True)], [-1], lambda x, a: torch.amax(x, a))
case('min axis 0, long columns, NaN last', 'min', 'method', [(with_nans((700, 2), [1399]), True)], [0], lambda x, a: torch.amin(x, a))
case('max all, long, NaN first', 'max', 'method', [(with_nans((3000,), [0]), True)], [], lambda x: x.max())
case('maximum, NaN on either side and both', 'maximum', 'method', [(t([NAN, 2, NAN, 1, 5]), True), (t([2, NAN, NAN, 1, 4]), True)], [], torch.maximum)
case('minimum, broadcast [3, 1] x [4]', 'minimum', 'method', [(t([[NAN], [0.5], [2]]), True), (t([1, NAN, 0.5, -1]), True)], [], torch.minimum)
case('maximum with a number', 'maximum', 'method', [(t([NAN, 1, 3]), True), (2.0, False)], [], lambda x, s: torch.maximum(x, torch.tensor(s, dtype=F64)))
case('minimum, number first', 'minimum', 'function', [(2.0, False), (t([NAN, 1, 3]), True)], [], lambda s, x: torch.minimum(torch.tensor(s, dtype=F64), x))
case('clamp both bounds', 'clamp', 'method', [(t([NAN, 1, 3, -1]), True)], [0, 2], lambda x, lo, hi: torch.clamp(x, lo, hi))
case('clamp min only', 'clamp', 'method', [(t([NAN, 1, 3, -1]), True)], [0], lambda x, lo: torch.clamp(x, min=lo))
case('clamp max only', 'clamp', 'method', [(t([NAN, 1, 3, -1]), True)], [None, 2], lambda x, lo, hi: torch.clamp(x, max=hi))
case('relu', 'relu', 'method', [(t([NAN, 1, -3, 0, 0.5]), True)], [], torch.relu)
case('leakyRelu', 'leakyRelu', 'method', [(t([NAN, 1, -3, 0.5]), True)], [0.1], lambda x, s: F.leaky_relu(x, s))
case('logsumexp axis 1', 'logsumexp', 'method', [(t([[NAN, 1, 2], [0, 1, 2]]), True)], [1], lambda x, a: torch.logsumexp(x, a))
for op, fn in [('eq', torch.eq), ('ne', torch.ne), ('lt', torch.lt), ('le', torch.le), ('gt', torch.gt), ('ge', torch.ge)]:
    case(f'{op} with NaN', op, 'method', [(t([NAN, 1, NAN, 2]), False), (t([NAN, NAN, 1, 2]), False)], [], lambda a, b, fn=fn: fn(a, b).to(F64))

save_file(tensors, 'test/fixtures/nan.safetensors', metadata={'cases': json.dumps(cases)})
print(f'wrote test/fixtures/nan.safetensors: {len(cases)} cases')
