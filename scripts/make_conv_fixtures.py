#!/usr/bin/env python3
"""Generate the PyTorch oracle for conv2d: test/fixtures/conv2d.safetensors.

Run from the repository root:

    python3 scripts/make_conv_fixtures.py

Layout
------
Every tensor is float32. Inputs are drawn in float32 (what the TS side sees exactly); the oracle
is torch.nn.functional.conv2d and autograd in float64 on those exact values, rounded back.

Case ``cNN`` (listed in the ``__metadata__`` key ``cases``, a JSON list of ``{"id", "name",
"stride", "padding", "dilation", "bias"}``) stores ``cNN/x`` [N, C, H, W], ``cNN/w``
[O, C, KH, KW], ``cNN/b`` [O] when ``bias``, the output ``cNN/out``, a random upstream gradient
``cNN/gout`` and the gradients of sum(out * gout): ``cNN/gx``, ``cNN/gw``, ``cNN/gb``.

Double-backward case ``dNN`` (metadata key ``double``, same fields, no bias) stores ``dNN/x``,
``dNN/w`` and direction tensors ``dNN/v`` (x-shaped) and ``dNN/u`` (w-shaped). With
f = sum(conv2d(x, w)^2), gx = df/dx and gw = df/dw (both with create_graph):
``dNN/gx``, ``dNN/gw``, then ``dNN/gx_v_x`` = d<gx, v>/dx, ``dNN/gx_v_w`` = d<gx, v>/dw,
``dNN/gw_u_x`` = d<gw, u>/dx and ``dNN/gw_u_w`` = d<gw, u>/dw.

Fused case ``fNN`` (metadata key ``fused``, with ``activation`` (torch.nn.functional's name)
and its ``param``): see make_fused.

Also test/fixtures/conv-energy.safetensors: ConvEnergyModel as the seed's PyTorch class builds it
(metadata ``cases``: ``{"id", "inputChannels", "imageSize", "channels", "seedClass"}``), with its
state dict under ``ID/sd/KEY``, a batch ``ID/x``, its energies ``ID/energy`` and dE/dx
``ID/grad_x``. ``seedClass`` true: the seed's class verbatim (its feature-size formula,
image_size // 2^len(channels), is right there); false: the seed's class with the feature size
from the conv arithmetic, for sizes where the seed's formula is wrong (its forward would fail).
"""

from __future__ import annotations

import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

F32 = torch.float32
F64 = torch.float64


def randn(*shape):
    return torch.randn(tuple(shape), dtype=F32)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# (name, N, C, O, (H, W), (KH, KW), stride, padding, dilation, bias)
CASES = [
    ("b1 3->5 7x9 k3 s1 p0 bias", 1, 3, 5, (7, 9), 3, 1, 0, 1, True),
    ("b3 3->5 7x9 k3 s1 p1", 3, 3, 5, (7, 9), 3, 1, 1, 1, False),
    ("b3 5->3 7x9 k3 s2 p1 bias", 3, 5, 3, (7, 9), 3, 2, 1, 1, True),
    ("b1 5->4 9x7 k3 s2 p0", 1, 5, 4, (9, 7), 3, 2, 0, 1, False),
    ("b3 3->5 7x9 k3 s1 p[1,2] bias", 3, 3, 5, (7, 9), 3, 1, [1, 2], 1, True),
    ("b1 3->5 7x9 k3 s[2,1] p[1,2] d2 bias", 1, 3, 5, (7, 9), 3, [2, 1], [1, 2], 2, True),
    ("b3 5->3 9x9 k5 s1 p2 bias", 3, 5, 3, (9, 9), 5, 1, 2, 1, True),
    ("b1 3->5 7x9 k5 s2 p1", 1, 3, 5, (7, 9), 5, 2, 1, 1, False),
    ("b3 3->5 7x9 k1 s1 p0 bias", 3, 3, 5, (7, 9), 1, 1, 0, 1, True),
    ("b3 5->5 7x9 k1 s2 p0", 3, 5, 5, (7, 9), 1, 2, 0, 1, False),
    ("b1 3->3 11x13 k3 s2 p1 d2 bias", 1, 3, 3, (11, 13), 3, 2, 1, 2, True),
    ("b3 3->5 7x9 k3 s2 p1 d2", 3, 3, 5, (7, 9), 3, 2, 1, 2, False),
    ("b3 3->5 13x11 k3 s3 p1 d2 bias", 3, 3, 5, (13, 11), 3, 3, 1, 2, True),
    ("b1 3->5 7x9 k[3,5] s[1,2] p[1,2] d[2,1]", 1, 3, 5, (7, 9), (3, 5), [1, 2], [1, 2], [2, 1], False),
    ("b1 3->5 3x3 k5 p1 (kernel larger than the image)", 1, 3, 5, (3, 3), 5, 1, 1, 1, True),
    ("b3 3->37 7x9 k3 s1 p1 bias (several channel blocks)", 3, 3, 37, (7, 9), 3, 1, 1, 1, True),
    ("b2 21->5 8x8 k3 s2 p1 (several input-channel blocks)", 2, 21, 5, (8, 8), 3, 2, 1, 1, False),
    ("b2 4->8 24x24 k3 s1 p1 bias (chunked weight gradient)", 2, 4, 8, (24, 24), 3, 1, 1, 1, True),
    ("b3 6->7 19x17 k3 s2 p1 (chunked, strided)", 3, 6, 7, (19, 17), 3, 2, 1, 1, False),
    ("b2 65->66 5x6 k[1,2] s1 p[0,1] bias (even kernel, several 64-wide tiles)", 2, 65, 66, (5, 6), (1, 2), 1, [0, 1], 1, True),
    # First layers (Cin <= 3, output pixels a multiple of 4 per image: the direct forward).
    ("b3 1->10 12x12 k3 s2 p1 bias (Cin = 1, direct forward)", 3, 1, 10, (12, 12), 3, 2, 1, 1, True),
    ("b2 3->8 8x8 k3 s1 p1 (Cin = 3, direct forward)", 2, 3, 8, (8, 8), 3, 1, 1, 1, False),
    ("b2 2->5 9x10 k[3,2] s[2,1] p[1,0] d[1,2] bias (direct forward, odd geometry)", 2, 2, 5, (9, 10), (3, 2), [2, 1], [1, 0], [1, 2], True),
    # Several 16-row blocks of the subgroup GEMM in fwd (33 outputs) and dgrad (20 inputs).
    ("b2 20->33 9x7 k3 s1 p1 bias (several subgroup row blocks)", 2, 20, 33, (9, 7), 3, 1, 1, 1, True),
    ("b3 17->18 11x9 k3 s2 p1 (subgroup blocks, strided)", 3, 17, 18, (11, 9), 3, 2, 1, 1, False),
    ("b3 1->20 20x20 k3 s1 p1 bias (direct forward, several pixel blocks per invocation)", 3, 1, 20, (20, 20), 3, 1, 1, 1, True),
]

# (name, N, C, O, (H, W), (KH, KW), stride, padding, dilation)
DOUBLE = [
    ("b2 3->4 7x9 k3 s1 p1", 2, 3, 4, (7, 9), 3, 1, 1, 1),
    ("b1 3->5 7x9 k3 s2 p[1,2] d2", 1, 3, 5, (7, 9), 3, 2, [1, 2], 2),
    ("b2 1->6 8x8 k3 s2 p1 (Cin = 1, direct forward)", 2, 1, 6, (8, 8), 3, 2, 1, 1),
    ("b2 9->17 7x6 k3 s1 p1 (subgroup row blocks)", 2, 9, 17, (7, 6), 3, 1, 1, 1),
]

# The fused epilogue: y = act(conv2d(x, w, b)). (name, N, C, O, (H, W), K, stride, padding,
# activation (torch.nn.functional name, the activation table's `functional`), its parameter or None)
FUSED = [
    ("b2 3->5 7x9 k3 s1 p1 relu", 2, 3, 5, (7, 9), 3, 1, 1, "relu", None),
    ("b2 1->6 8x8 k3 s2 p1 silu (direct forward)", 2, 1, 6, (8, 8), 3, 2, 1, "silu", None),
    ("b2 9->17 7x6 k3 s2 p1 tanh", 2, 9, 17, (7, 6), 3, 2, 1, "tanh", None),
    ("b2 5->4 6x6 k3 s1 p0 leaky_relu 0.2", 2, 5, 4, (6, 6), 3, 1, 0, "leaky_relu", 0.2),
    ("b1 4->6 5x7 k3 s1 p1 softplus beta 2", 1, 4, 6, (5, 7), 3, 1, 1, "softplus", 2.0),
    ("b2 3->4 6x6 k3 s2 p1 gelu", 2, 3, 4, (6, 6), 3, 2, 1, "gelu", None),
]


def activation(name, param):
    if name == "leaky_relu":
        return lambda t: F.leaky_relu(t, param)
    if name == "softplus":
        return lambda t: F.softplus(t, beta=param)
    return getattr(F, name)


def conv(x, w, b, stride, padding, dilation):
    return F.conv2d(x, w, b, stride=pair(stride), padding=pair(padding), dilation=pair(dilation))


def make_cases(tensors):
    meta = []
    for i, (name, n, c, o, (h, wd), k, stride, padding, dilation, has_bias) in enumerate(CASES):
        cid = f"c{i:02d}"
        kh, kw = pair(k)
        x, w = randn(n, c, h, wd), randn(o, c, kh, kw)
        b = randn(o) if has_bias else None
        xd = x.to(F64).requires_grad_(True)
        wd64 = w.to(F64).requires_grad_(True)
        bd = b.to(F64).requires_grad_(True) if b is not None else None
        out = conv(xd, wd64, bd, stride, padding, dilation)
        gout = randn(*out.shape)
        leaves = [xd, wd64] + ([bd] if bd is not None else [])
        grads = torch.autograd.grad((out * gout.to(F64)).sum(), leaves)
        tensors[f"{cid}/x"] = x
        tensors[f"{cid}/w"] = w
        tensors[f"{cid}/out"] = out.detach().to(F32)
        tensors[f"{cid}/gout"] = gout
        tensors[f"{cid}/gx"] = grads[0].to(F32)
        tensors[f"{cid}/gw"] = grads[1].to(F32)
        if b is not None:
            tensors[f"{cid}/b"] = b
            tensors[f"{cid}/gb"] = grads[2].to(F32)
        meta.append({"id": cid, "name": name, "stride": stride, "padding": padding, "dilation": dilation, "bias": has_bias})
    return meta


def make_double(tensors):
    meta = []
    for i, (name, n, c, o, (h, wd), k, stride, padding, dilation) in enumerate(DOUBLE):
        did = f"d{i:02d}"
        kh, kw = pair(k)
        x, w = randn(n, c, h, wd), randn(o, c, kh, kw)
        v, u = randn(n, c, h, wd), randn(o, c, kh, kw)
        xd = x.to(F64).requires_grad_(True)
        w64 = w.to(F64).requires_grad_(True)
        f = conv(xd, w64, None, stride, padding, dilation).square().sum()
        gx, gw = torch.autograd.grad(f, [xd, w64], create_graph=True)
        gx_v_x, gx_v_w = torch.autograd.grad((gx * v.to(F64)).sum(), [xd, w64], retain_graph=True)
        gw_u_x, gw_u_w = torch.autograd.grad((gw * u.to(F64)).sum(), [xd, w64])
        for key, t in {"x": x, "w": w, "v": v, "u": u, "gx": gx, "gw": gw, "gx_v_x": gx_v_x, "gx_v_w": gx_v_w, "gw_u_x": gw_u_x, "gw_u_w": gw_u_w}.items():
            tensors[f"{did}/{key}"] = t.detach().to(F32)
        meta.append({"id": did, "name": name, "stride": stride, "padding": padding, "dilation": dilation})
    return meta


def make_fused(tensors):
    """Case fNN: x, w, b, out = act(conv2d(x, w, b)), gout, the gradients gx, gw, gb of
    sum(out * gout), and for f = sum(out^2) with v (x-shaped): ggx = df/dx, hv = d<df/dx, v>/dx."""
    meta = []
    for i, (name, n, c, o, (h, wd), k, stride, padding, act, param) in enumerate(FUSED):
        fid = f"f{i:02d}"
        kh, kw = pair(k)
        x, w, b, v = randn(n, c, h, wd), randn(o, c, kh, kw), randn(o), randn(n, c, h, wd)
        fn = activation(act, param)
        xd, w64, bd = (t.to(F64).requires_grad_(True) for t in (x, w, b))
        out = fn(conv(xd, w64, bd, stride, padding, 1))
        gout = randn(*out.shape)
        gx, gw, gb = torch.autograd.grad((out * gout.to(F64)).sum(), [xd, w64, bd])
        ggx = torch.autograd.grad(fn(conv(xd, w64, bd, stride, padding, 1)).square().sum(), [xd], create_graph=True)[0]
        hv = torch.autograd.grad((ggx * v.to(F64)).sum(), [xd])[0]
        for key, t in {"x": x, "w": w, "b": b, "v": v, "out": out, "gout": gout, "gx": gx, "gw": gw, "gb": gb, "ggx": ggx, "hv": hv}.items():
            tensors[f"{fid}/{key}"] = t.detach().to(F32)
        meta.append({"id": fid, "name": name, "stride": stride, "padding": padding, "dilation": 1, "activation": act, "param": param})
    return meta


class SeedConvEnergyModel(torch.nn.Module):
    """The seed's ConvEnergyModel (shared/seed/models-implementation.md), verbatim but for
    `true_size`, which sizes fc from the convolutions' real output instead of the seed's formula."""

    def __init__(self, input_channels, image_size, channels, kernel_size=3, activation=None, true_size=False):
        super().__init__()
        nn = torch.nn
        self.input_channels = input_channels
        self.image_size = image_size
        self.activation = activation or nn.LeakyReLU(0.2)
        layers = []
        in_channels = input_channels
        for out_channels in channels:
            layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=2, padding=kernel_size // 2))
            layers.append(self.activation)
            in_channels = out_channels
        self.conv_net = nn.Sequential(*layers)
        feature_size = image_size // (2 ** len(channels))
        if true_size:
            feature_size = image_size
            for _ in channels:
                feature_size = (feature_size + 2 * (kernel_size // 2) - kernel_size) // 2 + 1
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * feature_size * feature_size, 128), self.activation, nn.Linear(128, 1))

    def forward(self, x):
        if len(x.shape) == 2:
            x = x.view(-1, self.input_channels, self.image_size, self.image_size)
        return self.fc(self.conv_net(x)).squeeze(-1)


# (id, input_channels, image_size, channels, batch, seed class as written)
ENERGY_MODELS = [
    ("mnist-32-64", 1, 28, [32, 64], 3, True),
    ("mnist-32-64-128", 1, 28, [32, 64, 128], 2, False),
]


def make_energy_models(root):
    tensors, meta = {}, []
    for mid, c, size, channels, batch, seed_class in ENERGY_MODELS:
        model = SeedConvEnergyModel(c, size, channels, true_size=not seed_class)
        for k, t in model.state_dict().items():
            tensors[f"{mid}/sd/{k}"] = t.detach().to(F32)
        x = torch.rand(batch, c, size, size, dtype=F32)
        m64 = model.to(F64)
        xd = x.to(F64).requires_grad_(True)
        e = m64(xd)
        (gx,) = torch.autograd.grad(e.sum(), [xd])
        tensors[f"{mid}/x"] = x
        tensors[f"{mid}/energy"] = e.detach().to(F32)
        tensors[f"{mid}/grad_x"] = gx.to(F32)
        meta.append({"id": mid, "inputChannels": c, "imageSize": size, "channels": channels, "seedClass": seed_class, "keys": list(model.state_dict().keys())})
    path = os.path.join(root, "test", "fixtures", "conv-energy.safetensors")
    save_file({k: t.contiguous().clone() for k, t in tensors.items()}, path, metadata={"cases": json.dumps(meta)})
    print(f"{len(meta)} ConvEnergyModel cases -> {path}")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "test", "fixtures", "conv2d.safetensors")
    torch.manual_seed(0)
    tensors: dict[str, torch.Tensor] = {}
    cases = make_cases(tensors)
    double = make_double(tensors)
    fused = make_fused(tensors)
    tensors = {k: t.contiguous().clone() for k, t in tensors.items()}
    save_file(tensors, path, metadata={"cases": json.dumps(cases), "double": json.dumps(double), "fused": json.dumps(fused)})
    loaded = load_file(path)
    assert all(t.dtype == F32 for t in loaded.values())
    print(f"{len(cases)} cases, {len(double)} double-backward cases, {len(fused)} fused cases, {len(loaded)} tensors -> {path}")
    make_energy_models(root)


if __name__ == "__main__":
    main()
