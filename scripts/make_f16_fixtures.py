#!/usr/bin/env python3
"""PyTorch oracle for f16 storage: test/fixtures/f16.safetensors.

Run from the repository root: python3 scripts/make_f16_fixtures.py

For each case ``cN``: f32 operands ``cN/a`` and ``cN/b``, the f32 product ``cN/c`` of
op(a) @ op(b) (torch.matmul in float32, what the f16 kernel is measured against), the
f32 value of each operand rounded to f16 (``cN/a16``, ``cN/b16``: what a cast must give), and
the gradients of sum(c * g) with respect to a and b for a random ``cN/g``, and ``cN/c16``: the
product of the f16-rounded operands computed in float64 (what f32 accumulation must reproduce). Metadata ``cases``
lists {id, a, b, transA, transB}.
"""
import json
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
CASES = [
    ([64, 48], [48, 40], False, False),  # vec4 path, nn
    ([7, 9], [9, 5], False, False),  # ragged: strided path
    ([32, 16], [24, 16], False, True),  # nt
    ([16, 32], [16, 24], True, False),  # tn
    ([5, 3], [6, 5], True, True),  # tt: strided
    ([2, 3, 8, 12], [12, 4], False, False),  # batched, broadcast B
    ([4, 1, 9, 8], [3, 8, 4], False, False),  # broadcast batch dims
]

tensors = {}
meta = []
for i, (ash, bsh, ta, tb) in enumerate(CASES):
    cid = f"c{i}"
    a = torch.randn(*ash, dtype=torch.float32)
    b = torch.randn(*bsh, dtype=torch.float32)
    a.requires_grad_(True)
    b.requires_grad_(True)
    opa = a.transpose(-1, -2) if ta else a
    opb = b.transpose(-1, -2) if tb else b
    c = torch.matmul(opa, opb)
    g = torch.randn_like(c)
    ga, gb = torch.autograd.grad((c * g).sum(), [a, b])
    # The exact product of the f16-rounded operands (float64, then rounded to f32 once): an f16
    # matmul with f32 accumulation must land within a few f32 ulps of it.
    a64 = a.detach().half().double()
    b64 = b.detach().half().double()
    c16 = torch.matmul(a64.transpose(-1, -2) if ta else a64, b64.transpose(-1, -2) if tb else b64).float()
    tensors.update({
        f"{cid}/a": a.detach(), f"{cid}/b": b.detach(), f"{cid}/c": c.detach(), f"{cid}/g": g,
        f"{cid}/a16": a.detach().half().float(), f"{cid}/b16": b.detach().half().float(),
        f"{cid}/ga": ga, f"{cid}/gb": gb, f"{cid}/c16": c16,
    })
    meta.append({"id": cid, "a": ash, "b": bsh, "transA": ta, "transB": tb})

# Casts: values around f16's edges (subnormals, ties, the largest finite) and their f16 rounding.
edge = torch.tensor([0.0, -0.0, 1.0, 1 / 3, -2.5, 65504.0, 6.1e-5, 5.96e-8, 1e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2049.0, 3.14159], dtype=torch.float32)
tensors["cast/x"] = edge
tensors["cast/x16"] = edge.half().float()

save_file({k: v.contiguous() for k, v in tensors.items()}, "test/fixtures/f16.safetensors", metadata={"cases": json.dumps(meta)})
print(f"wrote {len(meta)} matmul cases and {edge.numel()} cast values")
