#!/usr/bin/env python3
"""PyTorch oracle for the fused linear layer: test/fixtures/linear.safetensors.

Run from the repository root: python3 scripts/make_linear_fixtures.py

Case ``cN``: x, weight ([out, in], PyTorch's layout), optional bias, y = act(F.linear(x, w, b)),
a random upstream gradient g and the gradients of sum(y * g) with respect to x, weight and bias;
plus, for the double-backward check, ``cN/hvp_x`` = d/dx sum(d sum(y*g)/dx * v) for a random v.
Computed in float64 from float32 inputs, stored as float32. Metadata ``cases`` lists
{id, activation, slope, bias, x, out}.
"""
import json
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
F64 = torch.float64
ACTS = {
    "none": lambda z, s: z,
    "relu": lambda z, s: F.relu(z),
    "leakyRelu": lambda z, s: F.leaky_relu(z, s),
    "silu": lambda z, s: F.silu(z),
    "tanh": lambda z, s: torch.tanh(z),
    "gelu": lambda z, s: F.gelu(z),
    "sigmoid": lambda z, s: torch.sigmoid(z),
}
SHAPES = [([7, 5], 3, True), ([2, 3, 8], 12, True), ([64, 32], 16, False), ([9, 12], 8, True)]

tensors, meta = {}, []
i = 0
for act, fn in ACTS.items():
    for xs, out, has_bias in SHAPES:
        slope = 0.2 if act == "leakyRelu" else 0.01
        cid = f"c{i}"
        i += 1
        x = torch.randn(*xs)
        w = torch.randn(out, xs[-1]) / xs[-1] ** 0.5
        b = torch.randn(out) * 0.5 if has_bias else None
        # Normal draws put no pre-activation exactly on a kink; the lattice cases below do.
        xd = x.to(F64).requires_grad_(True)
        wd = w.to(F64).requires_grad_(True)
        bd = b.to(F64).requires_grad_(True) if has_bias else None
        y = fn(F.linear(xd, wd, bd), slope)
        g = torch.randn(*y.shape)
        grads = torch.autograd.grad((y * g.to(F64)).sum(), [xd, wd] + ([bd] if has_bias else []), create_graph=True)
        v = torch.randn(*xs)
        (hvp_x,) = torch.autograd.grad((grads[0] * v.to(F64)).sum(), xd, allow_unused=True)
        if hvp_x is None:
            hvp_x = torch.zeros_like(xd)
        tensors.update({f"{cid}/x": x, f"{cid}/w": w, f"{cid}/y": y.detach().float(), f"{cid}/g": g, f"{cid}/v": v,
                        f"{cid}/gx": grads[0].detach().float(), f"{cid}/gw": grads[1].detach().float(), f"{cid}/hvp_x": hvp_x.detach().float()})
        if has_bias:
            tensors[f"{cid}/b"] = b
            tensors[f"{cid}/gb"] = grads[2].detach().float()
        meta.append({"id": cid, "activation": act, "slope": slope, "bias": has_bias, "x": xs, "out": out})

# Pre-activations exactly AT the kinks of relu and leakyRelu: x, W and b on lattices (integers,
# halves), so x Wᵀ + b is exact in f32 and many entries are exactly 0, where PyTorch's
# conventions decide the gradient (relu'(0) = 0, leaky_relu'(0) = negative_slope).
for act in ["relu", "leakyRelu"]:
    slope = 0.2 if act == "leakyRelu" else 0.01
    cid = f"c{i}"
    i += 1
    xs, out = [6, 8], 5
    x = torch.randint(-1, 2, xs).float()
    w = torch.randint(-1, 2, (out, xs[-1])).float() * (torch.rand(out, xs[-1]) < 0.4).float() * 0.5
    b = torch.randint(-1, 2, (out,)).float() * 0.5
    xd = x.to(F64).requires_grad_(True)
    wd = w.to(F64).requires_grad_(True)
    bd = b.to(F64).requires_grad_(True)
    z = F.linear(xd, wd, bd)
    assert (z == 0).sum() >= 5, "the lattice must put pre-activations on the kink"
    y = ACTS[act](z, slope)
    g = torch.randn(*y.shape)
    grads = torch.autograd.grad((y * g.to(F64)).sum(), [xd, wd, bd], create_graph=True)
    v = torch.randn(*xs)
    (hvp_x,) = torch.autograd.grad((grads[0] * v.to(F64)).sum(), xd, allow_unused=True)
    if hvp_x is None:
        hvp_x = torch.zeros_like(xd)
    tensors.update({f"{cid}/x": x, f"{cid}/w": w, f"{cid}/b": b, f"{cid}/y": y.detach().float(), f"{cid}/g": g, f"{cid}/v": v,
                    f"{cid}/gx": grads[0].detach().float(), f"{cid}/gw": grads[1].detach().float(), f"{cid}/gb": grads[2].detach().float(),
                    f"{cid}/hvp_x": hvp_x.detach().float()})
    meta.append({"id": cid, "activation": act, "slope": slope, "bias": True, "x": xs, "out": out, "kinks": int((z == 0).sum())})

save_file({k: v.contiguous() for k, v in tensors.items()}, "test/fixtures/linear.safetensors", metadata={"cases": json.dumps(meta)})
print(f"wrote {len(meta)} cases")
