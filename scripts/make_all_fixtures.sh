#!/usr/bin/env bash
# Regenerates every PyTorch fixture under test/fixtures/ (`npm run fixtures`): each script is
# seeded, so an unchanged script rewrites the same tensors and metadata (two files, conv2d and
# nn-spectral-norm, carry several metadata keys, which safetensors writes in hash order, so their
# bytes may differ while their contents do not). Needs `pip install torch numpy safetensors` (CPU torch).
# make_safetensors_fixtures.py also checks the files the suite wrote when they exist
# (WRITE_FIXTURES=1 npx vitest run test/safetensors.test.ts); without them it only writes its own.
set -euo pipefail
cd "$(dirname "$0")/.."
for script in scripts/make_*.py; do
  echo "== $script"
  python3 "$script"
done
