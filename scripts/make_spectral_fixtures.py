#!/usr/bin/env python3
"""PyTorch oracle for ebm.spectralNorm (torch.nn.utils.spectral_norm).

Run from the repository root:

    python3 scripts/make_spectral_fixtures.py

Produces test/fixtures/spectral-norm.safetensors. For each case (an nn.Linear or nn.Conv2d
weight) it stores, all float32:

  <case>/weight, <case>/u0, <case>/v0   the weight_orig, weight_u and weight_v fed in
  <case>/G                              a random upstream gradient of the weight's shape
  <case>/<mode>/sigma                   0-d: dot(u, mv(W, v)) with the u, v the module used
  <case>/<mode>/u, <case>/<mode>/v      weight_u and weight_v after the forward
  <case>/<mode>/weight_sn               the module's normalised weight
  <case>/<mode>/grad                    d sum(weight_sn * G) / d weight_orig

for <mode> in n1 and n5 (training, 1 and 5 power iterations) and eval (no iteration; u and v
are unchanged). The metadata key "cases" is a JSON list of {"name", "kind", "shape"}.

The inputs are drawn in float32 (what the TS side sees exactly); the module then runs in
float64 on those exact values, and results are rounded back to float32. u0 and v0 are
normalised random vectors, as spectral_norm initialises them; they replace the module's own
weight_u / weight_v so both sides start from the same vectors.
"""

from __future__ import annotations

import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

F32 = torch.float32
F64 = torch.float64

# (name, kind, weight shape). Conv2d weights are [out, in, kh, kw]; spectral_norm reads them
# as [out, in*kh*kw]. linear_64x96 is large enough to need several workgroups per stage.
CASES = [
    ("linear_33x17", "linear", (33, 17)),
    ("linear_128x2", "linear", (128, 2)),
    ("linear_64x96", "linear", (64, 96)),
    ("conv_8x3x3x3", "conv2d", (8, 3, 3, 3)),
    ("conv_16x5x5x5", "conv2d", (16, 5, 5, 5)),
]

MODES = [("n1", True, 1), ("n5", True, 5), ("eval", False, 1)]


def make_module(kind: str, shape: tuple[int, ...]) -> nn.Module:
    if kind == "linear":
        return nn.Linear(shape[1], shape[0])
    return nn.Conv2d(shape[1], shape[0], (shape[2], shape[3]))


def dummy_input(kind: str, shape: tuple[int, ...]) -> torch.Tensor:
    """Any input: the forward only triggers the spectral-norm pre-hook."""
    if kind == "linear":
        return torch.zeros(1, shape[1], dtype=F64)
    return torch.zeros(1, shape[1], shape[2], shape[3], dtype=F64)


def run_mode(kind, shape, weight, u0, v0, G, training, n_iter):
    """One forward of a float64 spectral_norm module started from (weight, u0, v0)."""
    mod = nn.utils.spectral_norm(make_module(kind, shape).to(F64), n_power_iterations=n_iter, eps=1e-12)
    with torch.no_grad():
        mod.weight_orig.copy_(weight.to(F64))
        mod.weight_u.copy_(u0.to(F64))
        mod.weight_v.copy_(v0.to(F64))
    mod.train(training)
    mod(dummy_input(kind, shape))
    w_sn = mod.weight
    u, v = mod.weight_u.detach().clone(), mod.weight_v.detach().clone()
    # The module's own sigma: computed with the u, v it just wrote (they were cloned from them).
    sigma = torch.dot(u, torch.mv(mod.weight_orig.detach().reshape(shape[0], -1), v))
    (w_sn * G.to(F64)).sum().backward()
    return {
        "sigma": sigma,
        "u": u,
        "v": v,
        "weight_sn": w_sn.detach(),
        "grad": mod.weight_orig.grad.detach(),
    }


def main():
    torch.manual_seed(0)
    tensors: dict[str, torch.Tensor] = {}
    meta = []
    for name, kind, shape in CASES:
        weight = make_module(kind, shape).weight.detach().to(F32).contiguous()
        m = shape[0]
        k = weight.numel() // m
        u0 = F.normalize(torch.randn(m, dtype=F32), dim=0, eps=1e-12)
        v0 = F.normalize(torch.randn(k, dtype=F32), dim=0, eps=1e-12)
        G = torch.randn(shape, dtype=F32)
        tensors.update({f"{name}/weight": weight, f"{name}/u0": u0, f"{name}/v0": v0, f"{name}/G": G})
        for mode, training, n_iter in MODES:
            out = run_mode(kind, shape, weight, u0, v0, G, training, n_iter)
            for key, t in out.items():
                tensors[f"{name}/{mode}/{key}"] = t.to(F32).contiguous()
        # Eval must leave u and v exactly as given.
        assert torch.equal(tensors[f"{name}/eval/u"], u0) and torch.equal(tensors[f"{name}/eval/v"], v0)
        meta.append({"name": name, "kind": kind, "shape": list(shape)})

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "test", "fixtures", "spectral-norm.safetensors")
    save_file(tensors, path, metadata={"cases": json.dumps(meta)})
    loaded = load_file(path)
    assert set(loaded) == set(tensors)
    print(f"wrote {path}: {len(meta)} cases, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
