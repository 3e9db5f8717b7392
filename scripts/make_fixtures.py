#!/usr/bin/env python3
"""Generate PyTorch oracle fixtures for the webgpu-ebm test suite.

Run from the repository root:

    python3 scripts/make_fixtures.py

Produces
  test/fixtures/ops.safetensors  per-op forward/backward cases (see below)
  test/fixtures/hvp.safetensors  double-backward (Hessian-vector product) oracle

ops.safetensors layout
----------------------
Every tensor is float32. Case ``cNNN`` stores its tensor inputs under
``cNNN/in0``, ``cNNN/in1``, ... (in order of appearance, list members included),
the forward output under ``cNNN/out`` and, when at least one input has
``grad: true``, a random upstream gradient ``cNNN/gout`` (same shape as out) and
for each grad input ``<input key>/grad`` = d(sum(out * gout)) / d(input).

The safetensors ``__metadata__`` has one key, ``cases``: a JSON list of
``{"id", "name", "op", "call", "args", "tol"?, "elementwise"?}`` (``elementwise``: a
relative tolerance for each element against itself, for values spanning many decades). In ``args``, a tensor input is
``{"tensor": key, "grad": bool}``, an array of tensors is ``{"list": [...]}``,
and anything else (numbers, bools, lists of numbers, null) is passed verbatim.
``call == "method"`` means ``args[0].<op>(...args[1:])``; ``"function"`` means
``ebm.<op>(...args)``.

Inputs are drawn in float32 (what the TS side sees exactly), the oracle is
computed in float64 from those exact values, and results are rounded back to
float32. Everything is seeded so the files are byte-for-byte reproducible.
"""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file, load_file
from safetensors import safe_open

F32 = torch.float32
F64 = torch.float64

# Tolerances (relative). Default on the TS side is 1e-5; we only set looser ones
# where float32 GPU math legitimately differs more from a float64 oracle.
TOL_TRANSCENDENTAL = 1e-4  # exp/log/tanh/erf/pow ... (WGSL builtins are a few ULP)
TOL_TRIG = 1e-3  # WGSL sin/cos only promise ~2^-11 absolute error on [-pi, pi]
TOL_ACCUM = 1e-4  # sums / matmul: float32 accumulation order differs from torch


# --------------------------------------------------------------------------- #
# Input generators (all return float32 tensors)
# --------------------------------------------------------------------------- #

def randn(*shape, scale=1.0, offset=0.0):
    return (torch.randn(tuple(shape), dtype=F32) * scale + offset).to(F32)


def uniform(shape, lo, hi):
    return (torch.rand(tuple(shape), dtype=F32) * (hi - lo) + lo).to(F32)


def away(x, points, margin=0.05):
    """Push values at least `margin` away from each kink point.

    Keeps relu/abs/clamp/... far from their non-differentiable points so the
    choice of subgradient (and any finite-difference check) never matters.
    Points must be spaced more than 2*margin apart.
    """
    x = x.clone()
    for p in points:
        d = x - p
        x = torch.where(d >= 0, torch.clamp(x, min=p + margin), torch.clamp(x, max=p - margin))
    return x.to(F32)


def grid(*shape, step=0.25, offset=0.0):
    """Values on the lattice offset + k*step. Two tensors drawn on lattices
    offset by step/2 can never tie (|a-b| >= step/2), whatever broadcasting
    pairs up; tensors on the same lattice tie often (good for eq/le/ge)."""
    return (torch.round(torch.randn(tuple(shape), dtype=F64) * 1.5 / step) * step + offset).to(F32)


def distinct(*shape, spacing=0.01):
    """A random permutation of well-separated values: no ties anywhere, so the
    max/min reductions have a unique arg-extremum in every slice."""
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n).to(F64)
    vals = (perm - (n - 1) / 2) * spacing
    return vals.reshape(shape).to(F32)


# --------------------------------------------------------------------------- #
# Case builder
# --------------------------------------------------------------------------- #

class T:
    """A tensor argument. `grad` => test sets requiresGrad and checks its grad."""

    def __init__(self, data: torch.Tensor, grad: bool = True):
        assert data.dtype == F32
        self.data = data.contiguous().clone()
        self.grad = grad


class L:
    """A list-of-tensors argument (concat / stack)."""

    def __init__(self, items):
        self.items = list(items)


class Fixtures:
    def __init__(self):
        self.tensors: dict[str, torch.Tensor] = {}
        self.cases: list[dict] = []

    def add(self, name, op, call, args, ref, tol=None, elementwise=None):
        """Record one case.

        ref(*resolved_args) must compute the float64 oracle with torch, where
        resolved_args mirrors `args` with T -> float64 leaf tensor and
        L -> python list of such tensors.
        """
        cid = f"c{len(self.cases):03d}"
        counter = [0]
        grad_leaves: list[tuple[str, torch.Tensor]] = []

        def resolve(a):
            if isinstance(a, T):
                key = f"{cid}/in{counter[0]}"
                counter[0] += 1
                self.tensors[key] = a.data
                leaf = a.data.to(F64).requires_grad_(a.grad)
                if a.grad:
                    grad_leaves.append((key, leaf))
                return {"tensor": key, "grad": a.grad}, leaf
            if isinstance(a, L):
                pairs = [resolve(t) for t in a.items]
                return {"list": [p[0] for p in pairs]}, [p[1] for p in pairs]
            # Plain JSON value, passed as-is to both sides.
            json.dumps(a)
            return a, a

        resolved = [resolve(a) for a in args]
        json_args = [r[0] for r in resolved]
        torch_args = [r[1] for r in resolved]

        out = ref(*torch_args)
        assert out.dtype == F64, (name, out.dtype)
        assert torch.isfinite(out).all(), f"non-finite oracle output in {name}"
        self.tensors[f"{cid}/out"] = out.detach().to(F32).contiguous().clone()

        if grad_leaves:
            gout = torch.randn(tuple(out.shape), dtype=F32)
            self.tensors[f"{cid}/gout"] = gout
            loss = (out * gout.to(F64)).sum()
            grads = torch.autograd.grad(loss, [leaf for _, leaf in grad_leaves], allow_unused=True)
            for (key, leaf), g in zip(grad_leaves, grads):
                if g is None:
                    g = torch.zeros_like(leaf)
                assert torch.isfinite(g).all(), f"non-finite grad in {name}"
                self.tensors[f"{key}/grad"] = g.detach().to(F32).contiguous().clone()

        case = {"id": cid, "name": name, "op": op, "call": call, "args": json_args}
        if tol is not None:
            case["tol"] = tol
        if elementwise is not None:
            case["elementwise"] = elementwise
        self.cases.append(case)


# --------------------------------------------------------------------------- #
# Reference semantics shared by method and function forms
# --------------------------------------------------------------------------- #

def as_t(v, like):
    """Numbers become float64 0-d tensors so torch.maximum/pow/... accept them."""
    if isinstance(v, torch.Tensor):
        return v
    return torch.tensor(float(v), dtype=F64)


def norm_axes(x, axis):
    nd = x.dim()
    if axis is None:
        return list(range(nd))
    if isinstance(axis, int):
        axis = [axis]
    return [a % nd for a in axis]


def reduce_ref(fn):
    """Wrap a torch reduction taking (x, dims, keepdim). Rank-0 inputs are
    reduced as a 1-element vector and reshaped back to rank 0 (reducing a
    scalar over 'all axes' is the identity for sum/max/..., and keepdim can't
    add dims to a rank-0 tensor)."""

    def ref(x, axis=None, keepdim=False, *rest):
        if x.dim() == 0:
            return fn(x.reshape(1), [0], False, *rest).reshape(())
        return fn(x, norm_axes(x, axis), keepdim, *rest)

    return ref


REF = {
    # unary
    "neg": lambda x: -x,
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "square": torch.square,
    "reciprocal": torch.reciprocal,
    "sin": torch.sin,
    "cos": torch.cos,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "leakyRelu": lambda x, slope=0.01: F.leaky_relu(x, slope),
    "elu": lambda x, alpha=1.0: F.elu(x, alpha),
    "gelu": lambda x: F.gelu(x),  # exact erf form (approximate='none')
    "silu": F.silu,
    "softplus": lambda x, beta=1.0, threshold=20.0: F.softplus(x, beta, threshold),
    "erf": torch.erf,
    "erfc": torch.erfc,
    "expm1": torch.expm1,
    "log1p": torch.log1p,
    "sign": torch.sign,
    # Heaviside step: 1 where x > threshold (torch.heaviside's convention at the threshold differs,
    # so the oracle is the comparison itself).
    "step": lambda x, t=0.0: (x > t).to(F64),
    "clamp": lambda x, lo=None, hi=None: torch.clamp(x, lo, hi),
    # binary (either side may be a python number)
    "add": lambda a, b: as_t(a, b) + as_t(b, a),
    "sub": lambda a, b: as_t(a, b) - as_t(b, a),
    "mul": lambda a, b: as_t(a, b) * as_t(b, a),
    "div": lambda a, b: as_t(a, b) / as_t(b, a),
    "pow": lambda a, b: torch.pow(as_t(a, b), as_t(b, a)),
    "maximum": lambda a, b: torch.maximum(as_t(a, b), as_t(b, a)),
    "minimum": lambda a, b: torch.minimum(as_t(a, b), as_t(b, a)),
    # comparisons -> float 0/1
    "eq": lambda a, b: torch.eq(as_t(a, b), as_t(b, a)).to(F64),
    "ne": lambda a, b: torch.ne(as_t(a, b), as_t(b, a)).to(F64),
    "lt": lambda a, b: torch.lt(as_t(a, b), as_t(b, a)).to(F64),
    "le": lambda a, b: torch.le(as_t(a, b), as_t(b, a)).to(F64),
    "gt": lambda a, b: torch.gt(as_t(a, b), as_t(b, a)).to(F64),
    "ge": lambda a, b: torch.ge(as_t(a, b), as_t(b, a)).to(F64),
    "where": lambda c, a, b: torch.where(c != 0, a, b),
    "matmul": torch.matmul,
    "concat": lambda xs, dim=0: torch.cat(xs, dim),
    "stack": lambda xs, dim=0: torch.stack(xs, dim),
    # reductions
    "sum": reduce_ref(lambda x, d, k: torch.sum(x, dim=d, keepdim=k)),
    "mean": reduce_ref(lambda x, d, k: torch.mean(x, dim=d, keepdim=k)),
    "max": reduce_ref(lambda x, d, k: torch.amax(x, dim=d, keepdim=k)),
    "min": reduce_ref(lambda x, d, k: torch.amin(x, dim=d, keepdim=k)),
    "logsumexp": reduce_ref(lambda x, d, k: torch.logsumexp(x, dim=d, keepdim=k)),
    "var": reduce_ref(lambda x, d, k, c=1: torch.var(x, dim=d, keepdim=k, correction=c)),
    # shape
    "reshape": lambda x, shape: x.reshape(tuple(shape)),
    "permute": lambda x, dims: x.permute(tuple(dims)),
    "transpose": lambda x, d0, d1: x.transpose(d0, d1),
    "expand": lambda x, shape: x.expand(tuple(shape)),
    "squeeze": lambda x, dim=None: x.squeeze() if dim is None else x.squeeze(dim),
    "unsqueeze": lambda x, dim: x.unsqueeze(dim),
    "slice": lambda x, dim, start, end, step=1: x[
        tuple([slice(None)] * (dim % x.dim()) + [slice(start, end, step)])
    ],
    "indexSelect": lambda x, idx: torch.index_select(x, 0, torch.tensor(idx, dtype=torch.long)),
}


def method(fx, name, op, args, tol=None, elementwise=None):
    fx.add(name, op, "method", args, REF[op], tol, elementwise)


def function(fx, name, op, args, tol=None):
    fx.add(name, op, "function", args, REF[op], tol)


def shp(t):
    if isinstance(t, T):
        return list(t.data.shape)
    return t


# --------------------------------------------------------------------------- #
# Op families
# --------------------------------------------------------------------------- #

# Shapes cycled through by elementwise ops: rank 0..4, size-1 dims, odd sizes.
UNARY_SHAPES = [(7, 33), (), (129,), (3, 1, 5), (2, 3, 1, 4)]


def unary_cases(fx):
    # (op, generator(shape), extra args, tol). Domains keep each function
    # smooth and well-conditioned; kinked ops stay >=0.05 from their kinks.
    def gen_randn(s):
        return randn(*s)

    def gen_pos(s):
        return uniform(s, 0.5, 3.0)

    def gen_kink0(s):
        return away(randn(*s), [0.0])

    specs = [
        ("neg", gen_randn, [], None, 3),
        ("abs", gen_kink0, [], None, 3),
        ("exp", gen_randn, [], TOL_TRANSCENDENTAL, 3),
        ("log", gen_pos, [], TOL_TRANSCENDENTAL, 3),
        ("sqrt", gen_pos, [], TOL_TRANSCENDENTAL, 3),
        ("rsqrt", gen_pos, [], TOL_TRANSCENDENTAL, 3),
        ("square", gen_randn, [], None, 3),
        ("reciprocal", gen_pos, [], TOL_TRANSCENDENTAL, 3),
        ("sin", lambda s: randn(*s, scale=1.5), [], TOL_TRIG, 3),
        ("cos", lambda s: randn(*s, scale=1.5), [], TOL_TRIG, 3),
        ("tanh", lambda s: randn(*s, scale=1.5), [], TOL_TRANSCENDENTAL, 3),
        ("sigmoid", lambda s: randn(*s, scale=2.0), [], TOL_TRANSCENDENTAL, 3),
        ("relu", gen_kink0, [], None, 3),
        ("silu", lambda s: randn(*s, scale=2.0), [], TOL_TRANSCENDENTAL, 3),
        ("gelu", lambda s: randn(*s, scale=2.0), [], TOL_TRANSCENDENTAL, 3),
        ("erf", lambda s: randn(*s, scale=1.5), [], TOL_TRANSCENDENTAL, 3),
    ]
    k = 0
    for op, gen, extra, tol, n in specs:
        for i in range(n):
            s = UNARY_SHAPES[(k + i) % len(UNARY_SHAPES)]
            method(fx, f"{op} {list(s)}", op, [T(gen(s))] + extra, tol)
        k += 1

    # leakyRelu(slope): kink at 0.
    for s, slope in [((7, 33), 0.01), ((3, 1, 5), 0.2), ((), 0.1)]:
        method(fx, f"leakyRelu({slope}) {list(s)}", "leakyRelu", [T(gen_kink0(s)), slope])

    # elu(alpha=1): default alpha and explicit alphas. Kink (for alpha!=1) at 0.
    method(fx, "elu() [7,33]", "elu", [T(gen_kink0((7, 33)))], TOL_TRANSCENDENTAL)
    method(fx, "elu(0.5) [2,3,1,4]", "elu", [T(gen_kink0((2, 3, 1, 4))), 0.5], TOL_TRANSCENDENTAL)
    method(fx, "elu(1.5) [129]", "elu", [T(gen_kink0((129,))), 1.5], TOL_TRANSCENDENTAL)

    # softplus(beta=1, threshold=20): torch returns x when beta*x > threshold.
    # The linear branch is exercised with inputs well past the threshold; values
    # are kept >=1 away from threshold/beta where the branch switch jumps.
    method(fx, "softplus() [7,33]", "softplus", [T(randn(7, 33, scale=3.0))], TOL_TRANSCENDENTAL)
    big = away(uniform((5, 9), -30.0, 30.0), [20.0], margin=1.0)
    method(fx, "softplus() [5,9] incl. x>threshold", "softplus", [T(big)], TOL_TRANSCENDENTAL)
    method(fx, "softplus(2) [3,1,5]", "softplus", [T(randn(3, 1, 5, scale=2.0)), 2.0], TOL_TRANSCENDENTAL)
    x = away(uniform((4, 6), -6.0, 6.0), [2.5], margin=0.5)  # threshold/beta = 5/2
    method(fx, "softplus(2, 5) [4,6] incl. beta*x>threshold", "softplus", [T(x), 2.0, 5.0], TOL_TRANSCENDENTAL)

    # pow(number): positive base for fractional/negative exponents, signed base
    # for integer exponents (GPU pow(x<0, y) is NaN, so this must be handled).
    for s, e in [((7, 33), 2), ((129,), 3), ((3, 1, 5), 0.5), ((2, 3, 1, 4), -1.5)]:
        method(fx, f"pow({e}) {list(s)} positive base", "pow", [T(gen_pos(s)), e], TOL_TRANSCENDENTAL)
    method(fx, "pow(2) [7,33] signed base", "pow", [T(randn(7, 33)), 2], TOL_TRANSCENDENTAL)
    method(fx, "pow(3) [] signed base", "pow", [T(torch.tensor(-1.25, dtype=F32)), 3], TOL_TRANSCENDENTAL)
    method(fx, "pow(3) [4,5] signed base", "pow", [T(randn(4, 5)), 3], TOL_TRANSCENDENTAL)

    # clamp(min, max) / clamp(min, null) / clamp(null, max); stay off the bounds.
    method(fx, "clamp(-0.5, 0.75) [7,33]", "clamp", [T(away(randn(7, 33), [-0.5, 0.75])), -0.5, 0.75])
    method(fx, "clamp(0, null) [3,1,5]", "clamp", [T(away(randn(3, 1, 5), [0.0])), 0.0, None])
    method(fx, "clamp(null, 0.25) [129]", "clamp", [T(away(randn(129), [0.25])), None, 0.25])
    method(fx, "clamp(-1, 1) []", "clamp", [T(torch.tensor(1.5, dtype=F32)), -1.0, 1.0])


# Broadcast pairs: same shape, both-sided broadcast, rank-mismatch both ways,
# rank 0, rank 4.
BINARY_PAIRS = [
    ((7, 33), (7, 33)),
    ((7, 1), (1, 33)),
    ((33,), (4, 7, 33)),
    ((1,), (2, 3)),
    ((2, 3, 1, 4), (3, 5, 1)),
    ((), (3, 4)),
    ((4, 1, 5), ()),
]


def binary_cases(fx):
    def signed_away(*s):
        # |x| in [0.5, 3] with random sign: safe denominator.
        mag = uniform(s, 0.5, 3.0)
        sign = torch.where(torch.rand(tuple(s)) < 0.5, -1.0, 1.0).to(F32)
        return (mag * sign).to(F32)

    # (op, gen_a, gen_b, tol, pair indices, number operands)
    specs = [
        ("add", randn, randn, None, [0, 1, 2, 4, 5], [2.5]),
        ("sub", randn, randn, None, [1, 2, 3, 6], [-0.75]),
        ("mul", randn, randn, None, [0, 1, 2, 4, 5], [-2.0]),
        ("div", randn, signed_away, 2e-5, [0, 1, 3, 4, 6], [4.0]),
    ]
    for op, ga, gb, tol, idxs, nums in specs:
        for i in idxs:
            sa, sb = BINARY_PAIRS[i]
            method(fx, f"{op} {list(sa)},{list(sb)}", op, [T(ga(*sa)), T(gb(*sb))], tol)
        for n in nums:
            method(fx, f"{op} [5,7] with number {n}", op, [T(randn(5, 7)), n], tol)

    # pow tensor ^ tensor with positive base; and tensor ^ number.
    for i in [0, 1, 2, 5]:
        sa, sb = BINARY_PAIRS[i]
        a = uniform(sa, 0.5, 2.0)
        b = randn(*sb)
        method(fx, f"pow {list(sa)}^{list(sb)} positive base", "pow", [T(a), T(b)], TOL_TRANSCENDENTAL)

    # maximum/minimum: operands on interleaved lattices never tie.
    for op in ["maximum", "minimum"]:
        for i in [0, 1, 2, 4, 5]:
            sa, sb = BINARY_PAIRS[i]
            a = grid(*sa, step=0.25)
            b = grid(*sb, step=0.25, offset=0.125)
            method(fx, f"{op} {list(sa)},{list(sb)}", op, [T(a), T(b)])
        method(fx, f"{op} [5,7] with number 0.5", op, [T(grid(5, 7, step=0.25, offset=0.125)), 0.5])

    # Comparisons: same lattice -> many exact ties, so eq/le/ge are exercised.
    # Forward only (inputs grad=false, no gout stored).
    for op in ["eq", "ne", "lt", "le", "gt", "ge"]:
        for i in [1, 2]:
            sa, sb = BINARY_PAIRS[i]
            a = grid(*sa, step=0.5)
            b = grid(*sb, step=0.5)
            method(fx, f"{op} {list(sa)},{list(sb)}", op, [T(a, False), T(b, False)])
        method(fx, f"{op} [6,5] with number 0.5", op, [T(grid(6, 5, step=0.5), False), 0.5])


def function_cases(fx):
    """ebm.<op>(a, b) where a or b may be a plain number."""
    function(fx, "ebm.add [7,1],[1,33]", "add", [T(randn(7, 1)), T(randn(1, 33))])
    function(fx, "ebm.add(x, 1.5) [4,5]", "add", [T(randn(4, 5)), 1.5])
    function(fx, "ebm.add(-2, x) [3,1,5]", "add", [-2, T(randn(3, 1, 5))])
    function(fx, "ebm.sub(2.5, x) [7,33]", "sub", [2.5, T(randn(7, 33))])
    function(fx, "ebm.sub [33],[4,7,33]", "sub", [T(randn(33)), T(randn(4, 7, 33))])
    function(fx, "ebm.mul(x, 3) [2,3,1,4]", "mul", [T(randn(2, 3, 1, 4)), 3])
    function(fx, "ebm.mul(0.5, x) []", "mul", [0.5, T(randn())])
    x = away(randn(7, 33), [0.0], margin=0.5)
    function(fx, "ebm.div(1.5, x) [7,33]", "div", [1.5, T(x)], 2e-5)
    function(fx, "ebm.div [1],[2,3]", "div", [T(randn(1)), T(uniform((2, 3), 0.5, 3.0))], 2e-5)
    function(fx, "ebm.pow(2, x) [5,9]", "pow", [2, T(randn(5, 9, scale=2.0))], TOL_TRANSCENDENTAL)
    function(fx, "ebm.pow(x, 3) [5,9]", "pow", [T(randn(5, 9)), 3], TOL_TRANSCENDENTAL)
    function(fx, "ebm.pow [3,1]^[1,4]", "pow", [T(uniform((3, 1), 0.5, 2.0)), T(randn(1, 4))], TOL_TRANSCENDENTAL)
    function(fx, "ebm.maximum [7,1],[1,33]", "maximum",
             [T(grid(7, 1)), T(grid(1, 33, offset=0.125))])
    function(fx, "ebm.maximum(0.5, x) [5,7]", "maximum", [0.5, T(grid(5, 7, offset=0.125))])
    function(fx, "ebm.minimum [2,3,1,4],[3,5,1]", "minimum",
             [T(grid(2, 3, 1, 4)), T(grid(3, 5, 1, offset=0.125))])
    function(fx, "ebm.minimum(x, -0.5) [129]", "minimum", [T(grid(129, offset=0.125)), -0.5])
    function(fx, "ebm.gt [7,1],[1,33]", "gt", [T(grid(7, 1, step=0.5), False), T(grid(1, 33, step=0.5), False)])
    function(fx, "ebm.le(0, x) [6,5]", "le", [0, T(grid(6, 5, step=0.5), False)])
    function(fx, "ebm.eq [33],[4,7,33]", "eq", [T(grid(33, step=0.5), False), T(grid(4, 7, 33, step=0.5), False)])


def where_cases(fx):
    def cond(*s):
        return (torch.rand(tuple(s)) < 0.5).to(F32)

    function(fx, "where [7,33] all same shape", "where",
             [T(cond(7, 33), False), T(randn(7, 33)), T(randn(7, 33))])
    function(fx, "where cond [4,1], a [1,5], b []", "where",
             [T(cond(4, 1), False), T(randn(1, 5)), T(randn())])
    function(fx, "where cond [3,1,5], a [4,5], b [1]", "where",
             [T(cond(3, 1, 5), False), T(randn(4, 5)), T(randn(1))])
    function(fx, "where cond [33], a [2,7,1], b [2,1,33]", "where",
             [T(cond(33), False), T(randn(2, 7, 1)), T(randn(2, 1, 33))])


def matmul_cases(fx):
    pairs = [
        ((7, 33), (33, 129)),
        ((5,), (5, 9)),  # 1-D x 2-D
        ((9, 5), (5,)),  # 2-D x 1-D
        ((33,), (33,)),  # 1-D x 1-D -> rank 0
        ((2, 3, 7, 5), (5, 9)),  # batched x 2-D
        ((4, 1, 7, 5), (3, 5, 6)),  # broadcast batch dims
        ((1, 1), (1, 1)),  # tiny
        ((5,), (2, 5, 3)),  # 1-D x batched
        ((2, 4, 5), (5,)),  # batched x 1-D
    ]
    for sa, sb in pairs:
        function(fx, f"ebm.matmul {list(sa)}x{list(sb)}", "matmul", [T(randn(*sa)), T(randn(*sb))], TOL_ACCUM)
    for sa, sb in [((7, 33), (33, 5)), ((2, 3, 4), (2, 4, 6)), ((4,), (4, 3))]:
        method(fx, f"matmul method {list(sa)}x{list(sb)}", "matmul", [T(randn(*sa)), T(randn(*sb))], TOL_ACCUM)


def concat_stack_cases(fx):
    function(fx, "concat [2,3],[4,3] dim 0", "concat", [L([T(randn(2, 3)), T(randn(4, 3))]), 0])
    function(fx, "concat [3,2],[3,5],[3,1] dim 1", "concat",
             [L([T(randn(3, 2)), T(randn(3, 5)), T(randn(3, 1))]), 1])
    function(fx, "concat [2,3,4],[2,3,7] dim -1", "concat", [L([T(randn(2, 3, 4)), T(randn(2, 3, 7))]), -1])
    function(fx, "concat [7],[33],[1] dim 0", "concat", [L([T(randn(7)), T(randn(33)), T(randn(1))]), 0])
    function(fx, "concat [2,1,3,4],[2,2,3,4] dim 1", "concat", [L([T(randn(2, 1, 3, 4)), T(randn(2, 2, 3, 4))]), 1])

    function(fx, "stack 3x[3,4] dim 0", "stack", [L([T(randn(3, 4)) for _ in range(3)]), 0])
    function(fx, "stack 2x[3,4] dim 2", "stack", [L([T(randn(3, 4)) for _ in range(2)]), 2])
    function(fx, "stack 2x[2,3,5] dim -1", "stack", [L([T(randn(2, 3, 5)) for _ in range(2)]), -1])
    function(fx, "stack 4x[] dim 0", "stack", [L([T(randn()) for _ in range(4)]), 0])
    function(fx, "stack 2x[7,1] dim 1", "stack", [L([T(randn(7, 1)) for _ in range(2)]), 1])


# (shape, axis, keepdim): rank 0..4, null/single/negative/multi axes, keepdim both.
REDUCE_SPECS = [
    ((), None, False),
    ((129,), 0, False),
    ((7, 33), None, False),
    ((7, 33), 1, True),
    ((7, 33), -2, False),
    ((4, 7, 33), [0, 2], False),
    ((3, 1, 5), 1, True),
    ((2, 3, 4, 5), [1, -1], True),
    ((2, 3, 4, 5), -3, False),
    ((2, 3, 4, 5), None, True),
]


def reduction_cases(fx):
    def specs_at(idxs):
        return [REDUCE_SPECS[i] for i in idxs]

    def label(op, s, axis, keepdim, extra=""):
        return f"{op}(axis={json.dumps(axis)}, keepdim={str(keepdim).lower()}{extra}) {list(s)}"

    for s, axis, kd in REDUCE_SPECS:
        method(fx, label("sum", s, axis, kd), "sum", [T(randn(*s)), axis, kd], TOL_ACCUM)
    method(fx, "sum() no args [4,5]", "sum", [T(randn(4, 5))], TOL_ACCUM)

    for s, axis, kd in specs_at([0, 2, 3, 5, 7, 8]):
        method(fx, label("mean", s, axis, kd), "mean", [T(randn(*s)), axis, kd], TOL_ACCUM)
    method(fx, "mean(1) keepdim omitted [4,5]", "mean", [T(randn(4, 5)), 1], TOL_ACCUM)

    # max/min: all-distinct inputs so there is never a tie.
    for op in ["max", "min"]:
        for s, axis, kd in specs_at([0, 1, 3, 4, 5, 7, 9]):
            method(fx, label(op, s, axis, kd), op, [T(distinct(*s)), axis, kd])

    for s, axis, kd in specs_at([0, 2, 3, 5, 6, 8]):
        method(fx, label("logsumexp", s, axis, kd), "logsumexp", [T(randn(*s, scale=2.0)), axis, kd],
               TOL_TRANSCENDENTAL)
    # Large offsets: naive exp() overflows float32; needs max-subtraction.
    method(fx, "logsumexp(axis=1) [5,9] values ~ +100 (overflow guard)", "logsumexp",
           [T(randn(5, 9, scale=3.0, offset=100.0)), 1, False], TOL_TRANSCENDENTAL)

    # var: correction default (1, arg omitted), 0 and 2. Never reduce over a
    # slice with <= correction elements (that would be inf/nan).
    for s, axis, kd in specs_at([2, 3, 5, 7, 8]):
        method(fx, label("var", s, axis, kd), "var", [T(randn(*s)), axis, kd], TOL_ACCUM)
    method(fx, label("var", (7, 33), 1, False, ", correction=0"), "var", [T(randn(7, 33)), 1, False, 0], TOL_ACCUM)
    method(fx, label("var", (4, 7, 33), -1, True, ", correction=2"), "var",
           [T(randn(4, 7, 33)), -1, True, 2], TOL_ACCUM)
    method(fx, label("var", (), None, False, ", correction=0"), "var", [T(randn()), None, False, 0], TOL_ACCUM)
    method(fx, label("var", (2, 3, 4, 5), None, False, ", correction=0"), "var",
           [T(randn(2, 3, 4, 5)), None, False, 0], TOL_ACCUM)


def shape_cases(fx):
    for s, to in [((7, 33), [33, 7]), ((2, 3, 4), [-1, 4]), ((24,), [2, 3, 4]), ((), [1]), ((1,), []),
                  ((2, 3, 4, 5), [6, -1])]:
        method(fx, f"reshape {list(s)}->{to}", "reshape", [T(randn(*s)), to])

    for s, dims in [((7, 33), [1, 0]), ((2, 3, 4), [2, 0, 1]), ((2, 3, 4, 5), [3, 1, 0, 2]),
                    ((3, 1, 5), [1, 2, 0])]:
        method(fx, f"permute {list(s)} {dims}", "permute", [T(randn(*s)), dims])

    for s, d0, d1 in [((7, 33), 0, 1), ((2, 3, 4), -1, -3), ((2, 3, 4, 5), 1, 3), ((3, 1, 5), 0, 1)]:
        method(fx, f"transpose {list(s)} ({d0},{d1})", "transpose", [T(randn(*s)), d0, d1])

    for s, to in [((7, 1), [7, 33]), ((3,), [2, 4, 3]), ((3, 1), [2, -1, 4]), ((), [2, 3]),
                  ((1, 5, 1), [2, 3, 5, 7])]:
        method(fx, f"expand {list(s)}->{to}", "expand", [T(randn(*s)), to])

    for s, dim in [((1, 7, 1, 3), None), ((1, 7, 1, 3), 2), ((1, 7, 1, 3), -4), ((1,), None), ((4, 1), -1)]:
        method(fx, f"squeeze({json.dumps(dim)}) {list(s)}", "squeeze", [T(randn(*s)), dim])

    for s, dim in [((7, 33), 0), ((7, 33), 2), ((7, 33), -1), ((), 0), ((2, 3, 4), -2)]:
        method(fx, f"unsqueeze({dim}) {list(s)}", "unsqueeze", [T(randn(*s)), dim])

    # slice(dim, start, end, step) with Python slice semantics on one dim.
    for s, dim, st, en, step in [
        ((10, 7), 0, 2, 8, 1),
        ((10, 7), 1, -5, -1, 2),
        ((4, 9, 5), -2, 1, 9, 3),
        ((33,), 0, 0, 33, 4),
        ((7, 33), 1, -40, 100, 5),  # out-of-range start/end clamp like Python
        ((2, 3, 4, 5), 3, 1, 4, 1),
    ]:
        method(fx, f"slice(dim={dim}, {st}:{en}:{step}) {list(s)}", "slice", [T(randn(*s)), dim, st, en, step])

    for s, idx in [((7, 5), [0, 3, 3, 6, 1]), ((4, 3, 2), [3, 0]), ((5,), [4, 4, 0, 2]), ((6, 1, 3), [5, 1, 5])]:
        method(fx, f"indexSelect {idx} {list(s)}", "indexSelect", [T(randn(*s)), idx])


def with_exact(x, points, every=3):
    """x with every `every`-th element set exactly to one of `points` (cycled): the inputs AT
    the kinks, where only PyTorch's convention decides the (sub)gradient."""
    flat = x.clone().reshape(-1)
    for j, i in enumerate(range(0, flat.numel(), every)):
        flat[i] = points[j % len(points)]
    return flat.reshape(x.shape).to(F32)


def kink_cases(fx):
    """Inputs exactly at the kinks: PyTorch's conventions there (relu'(0) = 0, leaky'(0) =
    slope, abs'(0) = 0, elu'(0) = alpha, clamp's gradient is 1 AT its bounds, step(0) = 0,
    sign(0) = 0, softplus exactly at its threshold takes the log branch; maximum/minimum split
    a tie half and half; amax/amin split it evenly among the tied)."""
    method(fx, "relu at exact 0 [7,33]", "relu", [T(with_exact(randn(7, 33), [0.0]))])
    for slope in [0.01, 0.2]:
        method(fx, f"leakyRelu({slope}) at exact 0 [129]", "leakyRelu", [T(with_exact(randn(129), [0.0])), slope])
    method(fx, "abs at exact 0 [3,1,5]", "abs", [T(with_exact(randn(3, 1, 5), [0.0]))])
    method(fx, "elu(0.5) at exact 0 [7,33]", "elu", [T(with_exact(randn(7, 33), [0.0])), 0.5], TOL_TRANSCENDENTAL)
    method(fx, "clamp(-0.5, 0.75) at exact bounds [7,33]", "clamp",
           [T(with_exact(randn(7, 33), [-0.5, 0.75], every=2)), -0.5, 0.75])
    method(fx, "clamp(0, null) at exact bound [129]", "clamp", [T(with_exact(randn(129), [0.0])), 0.0, None])
    method(fx, "clamp(null, 0.25) at exact bound [2,3,1,4]", "clamp", [T(with_exact(randn(2, 3, 1, 4), [0.25])), None, 0.25])
    # softplus(beta=2, threshold=5): beta * x == threshold exactly at x = 2.5 takes the log branch.
    method(fx, "softplus(2, 5) at exactly threshold/beta [4,6]", "softplus",
           [T(with_exact(uniform((4, 6), -4.0, 4.0), [2.5])), 2.0, 5.0], TOL_TRANSCENDENTAL)
    method(fx, "step(0) at exact 0 [7,33]", "step", [T(with_exact(randn(7, 33), [0.0]), False), 0.0])
    method(fx, "step(0.5) at exact 0.5 [129]", "step", [T(with_exact(randn(129), [0.5]), False), 0.5])
    method(fx, "sign at exact 0 [7,33]", "sign", [T(with_exact(randn(7, 33), [0.0]), False)])
    # Ties: both operands on one coarse lattice, so many pairs are equal.
    for op in ["maximum", "minimum"]:
        method(fx, f"{op} with ties [7,33],[7,33]", op, [T(grid(7, 33, step=0.5)), T(grid(7, 33, step=0.5))])
    for op in ["max", "min"]:
        method(fx, f"{op}(axis=1) with ties [6,9]", op, [T(grid(6, 9, step=1.0)), 1, False])
        method(fx, f"{op}() with ties [4,5]", op, [T(grid(4, 5, step=1.0)), None, False])


def reference_cases(fx):
    """Forward values of erfc, expm1, log1p, sign and step (the gradient checks only test the
    gradient against our own forward, so log1p = log(1 + x) would pass them): near 0, where
    the naive formulas cancel, and in erfc's tail. The `elementwise` flag makes the test
    compare each element relative to itself, since these values span many decades."""
    tiny = (torch.sign(randn(7, 33)) * torch.exp(uniform((7, 33), -16.0, -2.0).to(F64)).to(F32)).to(F32)
    for op in ["expm1", "log1p"]:
        method(fx, f"{op} near 0 (|x| in [1e-7, 0.14]) [7,33]", op, [T(tiny)], elementwise=1e-5)
        method(fx, f"{op} [129]", op, [T(uniform((129,), -0.9, 3.0))], elementwise=1e-5)
    method(fx, "erfc [7,33]", "erfc", [T(randn(7, 33, scale=1.5))], elementwise=1e-5)
    method(fx, "erfc tail (x in [2, 9]) [129]", "erfc", [T(uniform((129,), 2.0, 9.0))], elementwise=1e-5)
    method(fx, "erfc negative side (x in [-6, -1]) [33]", "erfc", [T(uniform((33,), -6.0, -1.0))], elementwise=1e-5)
    method(fx, "sign [129]", "sign", [T(randn(129), False)])
    method(fx, "step(-0.25) [7,33]", "step", [T(grid(7, 33, step=0.25, offset=0.125), False), -0.25])


# --------------------------------------------------------------------------- #
# Hessian-vector product oracle
# --------------------------------------------------------------------------- #

def make_hvp(path):
    torch.manual_seed(1)
    x = randn(5, 3)
    W1 = randn(3, 16, scale=0.5)
    b1 = randn(16, scale=0.1)
    W2 = randn(16, 1, scale=0.5)
    b2 = randn(1, scale=0.1)
    v = randn(5, 3)

    xd = x.to(F64).requires_grad_(True)
    W1d = W1.to(F64).requires_grad_(True)
    b1d, W2d, b2d, vd = (t.to(F64) for t in (b1, W2, b2, v))

    f = F.softplus(F.silu(xd @ W1d + b1d) @ W2d + b2d).sum()
    (grad_x,) = torch.autograd.grad(f, xd, create_graph=True)
    gv = (grad_x * vd).sum()
    hvp, hvp_W1 = torch.autograd.grad(gv, [xd, W1d])

    tensors = {
        "x": x, "W1": W1, "b1": b1, "W2": W2, "b2": b2, "v": v,
        "f": f.detach().to(F32).reshape(()),
        "grad_x": grad_x.detach().to(F32),
        "hvp": hvp.detach().to(F32),
        "hvp_W1": hvp_W1.detach().to(F32),
    }
    tensors = {k: t.contiguous().clone() for k, t in tensors.items()}
    save_file(tensors, path, metadata={
        "description": "f(x)=sum(softplus(silu(x@W1+b1)@W2+b2)); hvp=d/dx sum(grad_x*v); hvp_W1=d/dW1 sum(grad_x*v)",
    })
    return tensors


# --------------------------------------------------------------------------- #

def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = os.path.join(root, "test", "fixtures")
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)

    fx = Fixtures()
    unary_cases(fx)
    binary_cases(fx)
    function_cases(fx)
    where_cases(fx)
    matmul_cases(fx)
    concat_stack_cases(fx)
    reduction_cases(fx)
    shape_cases(fx)
    kink_cases(fx)
    reference_cases(fx)

    ops_path = os.path.join(outdir, "ops.safetensors")
    save_file(fx.tensors, ops_path, metadata={"cases": json.dumps(fx.cases)})
    hvp_path = os.path.join(outdir, "hvp.safetensors")
    make_hvp(hvp_path)

    # Round-trip check: every referenced key exists with the right dtype.
    loaded = load_file(ops_path)
    with safe_open(ops_path, "pt") as fh:
        cases = json.loads(fh.metadata()["cases"])
    assert len(cases) == len(fx.cases)
    for c in cases:
        assert f"{c['id']}/out" in loaded
        for t in loaded.values():
            assert t.dtype == F32
    load_file(hvp_path)

    ops = sorted({c["op"] for c in cases})
    print(f"{len(cases)} cases, {len(ops)} ops, {len(loaded)} tensors")
    print(f"{ops_path}: {os.path.getsize(ops_path)} bytes")
    print(f"{hvp_path}: {os.path.getsize(hvp_path)} bytes")


if __name__ == "__main__":
    sys.exit(main())
