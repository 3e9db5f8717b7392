#!/usr/bin/env python3
"""PyTorch's side of the safetensors checkpoint tests (test/safetensors.test.ts).

Run from the repository root: python3 scripts/make_safetensors_fixtures.py

1. Writes test/fixtures/safetensors-reference.safetensors with safetensors.torch.save_file:
   F32, F16 and BF16 tensors whose names exercise the header's sort order (dtype, then name in
   UTF-8 byte order; '0', uppercase, '_', non-ASCII, astral, JSON escapes), a 0-d and a
   zero-size tensor, special values (NaN with payloads, +-inf, -0, subnormals, the largest
   finite) as raw bits, and ``rounding.f32`` with torch's own .half() and .bfloat16() of it
   (``rounding.as_f16``, ``rounding.as_bf16``): what webgpu-ebm's rounding must give. One
   metadata key only: safetensors writes ``__metadata__`` in hash order, which changes from run
   to run, so with two keys there is no single reference byte string to match.
   The test suite checks that webgpu-ebm's serializer writes this file byte for byte.

2. Loads the files the test suite wrote (WRITE_FIXTURES=1 npx vitest run test/safetensors.test.ts)
   with safetensors.torch.load_file and checks them:
   - written-by-webgpu-ebm.safetensors: every F32 and F16 reference tensor, round-tripped
     through GPU tensors and saveSafetensors: the same names, dtypes, shapes and bits; and
     safetensors' own save() of what it loaded gives the same bytes.
   - written-by-webgpu-ebm-bf16.safetensors: saveSafetensors(..., { dtype: 'bf16' }) of f32
     tensors: rounding.f32 rounded to bf16 equals torch's .bfloat16() (NaNs compared as NaN,
     since torch writes one canonical NaN), and specials.bf16 widened to f32 and narrowed back is
     bit-exact.
"""
import hashlib
import os
import sys

import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save, save_file

FIXTURES = "test/fixtures"
REFERENCE = f"{FIXTURES}/safetensors-reference.safetensors"
WRITTEN = f"{FIXTURES}/written-by-webgpu-ebm.safetensors"
WRITTEN_BF16 = f"{FIXTURES}/written-by-webgpu-ebm-bf16.safetensors"
WRITTEN_METADATA = {"written_by": "webgpu-ebm test/safetensors.test.ts"}

INT_VIEW = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}


def f32_bits(*bits):
    return torch.tensor([b - (1 << 32) if b >= 1 << 31 else b for b in bits], dtype=torch.int32).view(torch.float32)


def i16_bits(dtype, *bits):
    return torch.tensor([b - (1 << 16) if b >= 1 << 15 else b for b in bits], dtype=torch.int16).view(dtype)


def reference_tensors():
    g = torch.Generator().manual_seed(0)
    t = {
        # PyTorch-style names; "network.10" sorts before "network.2" (byte order, not numeric).
        "network.0.weight": torch.randn(4, 3, generator=g),
        "network.0.bias": torch.randn(4, generator=g),
        "network.2.weight": torch.randn(1, 4, generator=g),
        "network.10.weight": torch.randn(2, 2, generator=g),
        "Network.upper": torch.randn(3, generator=g),
        "_private": torch.randn(2, generator=g),
        "0": torch.randn(2, generator=g),  # integer-like: a JS object would list it first
        'quote"back\\slash': torch.randn(1, generator=g),
        "tab\tand\x01ctl\x7f": torch.randn(1, generator=g),
        "\u00e9t\u00e9": torch.randn(1, generator=g),
        "\uf8ff private use": torch.randn(1, generator=g),  # before U+1D465 in UTF-8, after it in UTF-16
        "\U0001d465 astral": torch.randn(1, generator=g),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "half.weight": torch.randn(3, 5, generator=g).half(),
        "half.empty": torch.zeros(0, dtype=torch.float16),
        "bf16.weight": torch.randn(2, 3, generator=g).bfloat16(),
        # 0, -0, inf, -inf, qNaN, -NaN with payload, sNaN, smallest and largest subnormal,
        # smallest normal, largest finite, its negative, 1, 1/3.
        "specials.f32": f32_bits(0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001,
                                 0x00000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000, 0x3EAAAAAB),
        "specials.f16": i16_bits(torch.float16, 0, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0xFE01, 0x7C01,
                                 0x0001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x3C00, 0x3555),
        "specials.bf16": i16_bits(torch.bfloat16, 0, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1, 0x7F81,
                                  0x0001, 0x007F, 0x0080, 0x7F7F, 0xFF7F, 0x3F80, 0x3EAB),
    }
    e = 2.0
    edges = torch.tensor([
        # f16: ties to even (down, up), just above a tie, the largest finite, overflow at the
        # 65520 tie, underflow at the 2^-25 tie, subnormal ties, the subnormal/normal boundary.
        1 + e ** -11, 1 + 3 * e ** -11, 1 + e ** -11 + e ** -23, 65504, 65519, 65520, 65536, 1e-8,
        e ** -25, e ** -25 * (1 + e ** -20), 3 * e ** -25, 5 * e ** -25, e ** -14 - e ** -25, 6.1e-5,
        # bf16: ties (down, up), the largest finite f32 (rounds to inf), small subnormals.
        1 + e ** -8, 1 + 3 * e ** -8, 3.4028234e38, -3.4028234e38, 1e-40, -1e-45,
        0.0, -0.0, float("inf"), float("-inf"), float("nan"),
    ], dtype=torch.float32)
    scales = torch.tensor([1e-6, 1e-3, 1.0, 1e3, 1e5]).repeat_interleave(20)
    rounding = torch.cat([edges, torch.randn(100, generator=g) * scales])
    t["rounding.f32"] = rounding
    t["rounding.as_f16"] = rounding.half()
    t["rounding.as_bf16"] = rounding.bfloat16()
    return t


def bits(x):
    return x.view(INT_VIEW[x.dtype])


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(bits(a), bits(b))


def same_except_nan(a, b):
    if a.dtype != b.dtype or a.shape != b.shape or not torch.equal(a.isnan(), b.isnan()):
        return False
    keep = ~a.isnan()
    return torch.equal(bits(a)[keep], bits(b)[keep])


def check(ok, what):
    print(f"  {'ok' if ok else 'MISMATCH'}: {what}")
    return ok


def check_written(ref):
    print(f"{WRITTEN}:")
    loaded = load_file(WRITTEN)
    with safe_open(WRITTEN, framework="pt") as f:
        meta = f.metadata()
    want = {k: v for k, v in ref.items() if v.dtype in (torch.float32, torch.float16)}
    good = check(sorted(loaded) == sorted(want), f"{len(loaded)} tensors, the reference's {len(want)} F32 and F16 names")
    bad = [k for k in want if k in loaded and not same_bits(loaded[k], want[k])]
    good &= check(not bad, "every tensor has the reference's dtype, shape and bits" + (f" (not: {bad})" if bad else ""))
    n16 = sum(v.dtype == torch.float16 for v in loaded.values())
    print(f"  ({len(loaded) - n16} F32 and {n16} F16 tensors, {sum(v.numel() for v in loaded.values())} values)")
    good &= check(meta == WRITTEN_METADATA, f"__metadata__ {meta}")
    with open(WRITTEN, "rb") as f:
        ours = f.read()
    good &= check(save(loaded, metadata=meta) == ours, f"safetensors.torch.save of the loaded tensors gives the same {len(ours)} bytes")
    return good


def check_written_bf16(ref):
    print(f"{WRITTEN_BF16}:")
    loaded = load_file(WRITTEN_BF16)
    good = check(sorted(loaded) == ["rounding.as_bf16", "specials.bf16"], f"names {sorted(loaded)}")
    r = loaded.get("rounding.as_bf16")
    good &= check(r is not None and same_except_nan(r, ref["rounding.as_bf16"]),
                  f"rounding.f32 ({ref['rounding.f32'].numel()} values) rounded to bf16 by webgpu-ebm equals torch's .bfloat16()")
    s = loaded.get("specials.bf16")
    good &= check(s is not None and same_bits(s, ref["specials.bf16"]), "specials.bf16 through f32 and back: bit-exact (NaN payloads too)")
    with open(WRITTEN_BF16, "rb") as f:
        ours = f.read()
    with safe_open(WRITTEN_BF16, framework="pt") as f:
        meta = f.metadata()
    good &= check(save(loaded, metadata=meta) == ours, f"safetensors.torch.save of the loaded tensors gives the same {len(ours)} bytes")
    return good


def main():
    print(f"torch {torch.__version__}, safetensors {safetensors.__version__}")
    ref = reference_tensors()
    save_file(ref, REFERENCE, metadata={"format": "pt"})
    with open(REFERENCE, "rb") as f:
        data = f.read()
    header_len = int.from_bytes(data[:8], "little")
    print(f"wrote {REFERENCE}: {len(ref)} tensors, {len(data)} bytes, header {header_len} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}")
    missing = [p for p in (WRITTEN, WRITTEN_BF16) if not os.path.exists(p)]
    if missing:
        print(f"not found: {', '.join(missing)}; make them with WRITE_FIXTURES=1 npx vitest run test/safetensors.test.ts")
        return 1
    good = check_written(ref) & check_written_bf16(ref)
    print("PyTorch loads the files webgpu-ebm wrote: all matched" if good else "MISMATCHES above")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
