#!/usr/bin/env python3
"""PyTorch oracle for the nn-level spectralNorm(module) (torch.nn.utils.spectral_norm).

Run from the repository root:

    python3 scripts/make_nn_spectral_fixtures.py

Produces test/fixtures/nn-spectral-norm.safetensors. For each case, a module wrapped with
torch.nn.utils.spectral_norm, it stores (all float32):

  <case>/state/<key>      the module's initial state dict (bias, weight_orig, weight_u,
                          weight_v, ... under PyTorch's keys)
  <case>/G                a random upstream gradient of the output's shape
  <case>/train<i>/x       the input of training-mode forward i (i = 0, 1, 2)
  <case>/train<i>/y       the output
  <case>/train<i>/<p>_u, <case>/train<i>/<p>_v
                          every spectral-norm module's weight_u / weight_v after the forward
                          (<p> is the module's prefix: 'weight' or '0.weight', '2.weight')
  <case>/train<i>/grad/<key>
                          d sum(y * G) / d parameter, for every parameter (grads zeroed per step)
  <case>/eval/x, <case>/eval/y, <case>/eval/<p>_u, <case>/eval/<p>_v
                          one eval-mode forward after the three training ones (u, v unchanged)

The metadata key "cases" is a JSON list of {"name", "kind", "keys", "sn", "nPowerIterations",
"input", "output", ...}; "keys" is the state dict's key order and "sn" the spectral-norm
prefixes. The modules are built and initialised in float32 (so the state dict is what the TS
side loads exactly) and then run in float64; results are rounded back to float32.
"""

from __future__ import annotations

import json
import os

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

F32 = torch.float32
F64 = torch.float64
SN = nn.utils.spectral_norm


def make_cases():
    """(name, meta, module, input shape). Built in float32 from the seeded generator."""
    cases = []
    lin = SN(nn.Linear(5, 7))
    cases.append(("linear", {"kind": "linear", "in": 5, "out": 7, "nPowerIterations": 1, "sn": ["weight"]}, lin, (6, 5)))

    lin3 = SN(nn.Linear(9, 4, bias=False), n_power_iterations=3)
    cases.append(("linear_nobias_n3", {"kind": "linear", "in": 9, "out": 4, "bias": False, "nPowerIterations": 3, "sn": ["weight"]}, lin3, (3, 9)))

    conv = SN(nn.Conv2d(3, 4, 3, stride=2, padding=1))
    cases.append(("conv", {"kind": "conv2d", "in": 3, "out": 4, "kernel": 3, "stride": 2, "padding": 1, "nPowerIterations": 1, "sn": ["weight"]}, conv, (2, 3, 6, 6)))

    # A Sequential MLP whose Linear + SiLU pair the TS side fuses into one dispatch.
    mlp = nn.Sequential(SN(nn.Linear(3, 16)), nn.SiLU(), SN(nn.Linear(16, 1)))
    cases.append(("mlp", {"kind": "mlp", "in": 3, "hidden": 16, "nPowerIterations": 1, "sn": ["0.weight", "2.weight"]}, mlp, (8, 3)))
    return cases


def buffer(mod: nn.Module, dotted: str) -> torch.Tensor:
    return mod.get_buffer(dotted)


def main():
    torch.manual_seed(0)
    tensors: dict[str, torch.Tensor] = {}
    meta = []
    for name, info, mod, in_shape in make_cases():
        state = mod.state_dict()
        keys = list(state.keys())
        for k, v in state.items():
            tensors[f"{name}/state/{k}"] = v.detach().to(F32).contiguous().clone()
        mod = mod.to(F64)
        mod.train()
        out_shape = None
        G = None
        for i in range(3):
            x = torch.randn(in_shape, dtype=F32)
            for p in mod.parameters():
                p.grad = None
            y = mod(x.to(F64))
            if G is None:
                out_shape = tuple(y.shape)
                G = torch.randn(out_shape, dtype=F32)
                tensors[f"{name}/G"] = G
            (y * G.to(F64)).sum().backward()
            tensors[f"{name}/train{i}/x"] = x
            tensors[f"{name}/train{i}/y"] = y.detach().to(F32).contiguous()
            for p in info["sn"]:
                tensors[f"{name}/train{i}/{p}_u"] = buffer(mod, f"{p}_u").detach().to(F32).clone()
                tensors[f"{name}/train{i}/{p}_v"] = buffer(mod, f"{p}_v").detach().to(F32).clone()
            for k, p in mod.named_parameters():
                tensors[f"{name}/train{i}/grad/{k}"] = p.grad.detach().to(F32).contiguous().clone()
        mod.eval()
        before = {p: (buffer(mod, f"{p}_u").clone(), buffer(mod, f"{p}_v").clone()) for p in info["sn"]}
        x = torch.randn(in_shape, dtype=F32)
        with torch.no_grad():
            y = mod(x.to(F64))
        tensors[f"{name}/eval/x"] = x
        tensors[f"{name}/eval/y"] = y.to(F32).contiguous()
        for p in info["sn"]:
            u, v = buffer(mod, f"{p}_u"), buffer(mod, f"{p}_v")
            assert torch.equal(u, before[p][0]) and torch.equal(v, before[p][1]), "eval must not change u, v"
            tensors[f"{name}/eval/{p}_u"] = u.to(F32).clone()
            tensors[f"{name}/eval/{p}_v"] = v.to(F32).clone()
        meta.append({"name": name, **info, "keys": keys, "input": list(in_shape), "output": list(out_shape)})

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "test", "fixtures", "nn-spectral-norm.safetensors")
    save_file(tensors, path, metadata={"cases": json.dumps(meta), "torch": torch.__version__})
    loaded = load_file(path)
    assert set(loaded) == set(tensors)
    print(f"wrote {path}: {len(meta)} cases, {len(tensors)} tensors")
    for m in meta:
        print(f"  {m['name']}: keys {m['keys']}")


if __name__ == "__main__":
    main()
