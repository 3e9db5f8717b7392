#!/usr/bin/env bash
# Sets up a fresh Debian bookworm machine for webgpu-ebm: the system packages WebGPU needs
# (Mesa's lavapipe from bookworm-backports, for machines without a GPU) and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-system
npm ci --no-audit --no-fund
