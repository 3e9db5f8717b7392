#!/usr/bin/env bash
# Runs the bench on a machine with an NVIDIA GPU and no Node, in under 8 minutes, from the kit
# that ../shared/gpu/make-kit.sh builds into .gpu-kit/ (a node binary, the CLI bundled with tfjs
# and jax-js, Dawn's linux-x64 binding, the Vulkan loader's .deb). Dawn runs on Vulkan with the
# NVIDIA ICD there. Reports matmul [4096,4096]@[4096,4096] in f32 and f16 as fractions of the
# card's peak, then conv2d, conv2d-backward, langevin, image-langevin, image-train, mlp-step and train-step
# against tfjs and jax-js on the same adapter, each suite under its own time limit.
#
#   ../shared/gpu/make-kit.sh                 here, from the project root (after npm ci)
#   bench/gpu/run.sh                          there, from the project root, .gpu-kit carried
#   bench/gpu/run.sh --quick --local          here, on lavapipe: small sizes, this tree's build
#
# Options: --quick (N = 256 and the cheap suites only, short limits), --local (use this
# machine's node and dist/ from `npm run build` instead of the kit), --only S1,S2 (run only
# these suites of the plan), --budget SECONDS (the whole run's, default 450, quick 300: keep it
# under 480 there; each suite's own limit scales with it), --out DIR (default $OUT,
# else ./gpu-bench-out), --peak-f32 T and --peak-f16 T (TFLOP/s; env PEAK_F32_TFLOPS and
# PEAK_F16_TFLOPS; defaults are an H200 SXM's non-tensor peaks, 67 and 134: WGSL has no tensor
# cores, and our f16 matmul accumulates in f32), --size N (the large matmul's side, 4096).
# Output: DIR/bench.jsonl (every result line), DIR/summary.md (the table), DIR/log.txt.
set -uo pipefail

quick=0 local=0 size= only= budget=
out=${OUT:-./gpu-bench-out}
peak_f32=${PEAK_F32_TFLOPS:-67} peak_f16=${PEAK_F16_TFLOPS:-134}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --local) local=1 ;;
    --out) out=$2; shift ;;
    --peak-f32) peak_f32=$2; shift ;;
    --peak-f16) peak_f16=$2; shift ;;
    --size) size=$2; shift ;;
    --only) only=$2; shift ;;
    --budget) budget=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench/gpu/run.sh: unknown option '$1' (valid: --quick --local --only S1,S2 --budget SECONDS --out DIR --peak-f32 T --peak-f16 T --size N)" >&2; exit 2 ;;
  esac
  shift
done
size=${size:-$([ "$quick" = 1 ] && echo 256 || echo 4096)}
default_budget=$([ "$quick" = 1 ] && echo 300 || echo 450)
budget=${budget:-$default_budget}
for v in "$peak_f32" "$peak_f16" "$size" "$budget"; do
  [[ "$v" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "bench/gpu/run.sh: peaks, --size and --budget must be positive numbers, got '$v'" >&2; exit 2; }
done

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
log="$out/log.txt"; : > "$log"
start=$(date +%s)
# The whole run must end inside 8 minutes: each step gets at most what is left, minus a margin.
budget=${budget%.*}
left() { echo $((budget - ($(date +%s) - start))); }
say() { echo "$*" | tee -a "$log"; }

if [ "$local" = 1 ]; then
  node=$(command -v node) || { echo "bench/gpu/run.sh --local: no node on PATH" >&2; exit 1; }
  cli=("$node" "$root/bin/webgpu-ebm.js")
  [ -f "$root/dist/src/cli/main.js" ] || { echo "bench/gpu/run.sh --local: run npm run build first" >&2; exit 1; }
else
  kit="$root/.gpu-kit"
  [ -f "$kit/node.xz" ] && [ -f "$kit/app.tar.xz" ] || { echo "bench/gpu/run.sh: no kit at $kit (build it here with ../shared/gpu/make-kit.sh and carry .gpu-kit)" >&2; exit 1; }
  dest=${KIT_DIR:-/tmp/ebm-gpu-kit}
  rm -rf "$dest"; mkdir -p "$dest/bin" "$dest/app" "$dest/root"
  xz -dc "$kit/node.xz" > "$dest/bin/node" && chmod +x "$dest/bin/node"
  tar -C "$dest/app" -xJf "$kit/app.tar.xz"
  # The Vulkan loader, unpacked beside the kit rather than into / (the device notes warn that
  # unpacking into / can break it); found through LD_LIBRARY_PATH.
  for f in "$kit"/*.deb; do [ -e "$f" ] && dpkg -x "$f" "$dest/root"; done
  export LD_LIBRARY_PATH="$dest/root/usr/lib/x86_64-linux-gnu:$dest/root/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  node="$dest/bin/node"
  cli=("$node" "$dest/app/webgpu-ebm.mjs")
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=${VK_DRIVER_FILES:-$icd}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}

say "node $("$node" --version); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}; budget ${budget}s"
timeout 60 "${cli[@]}" info 2>&1 | grep -v '^Warning: max' | tee -a "$log"

if [ "$quick" = 1 ]; then
  # suite, seconds at most, extra arguments
  plan=("matmul-large 60 --repeat 2 --warmup 1" "conv2d 90 --repeat 1 --warmup 1" "langevin 90 --repeat 1 --warmup 1")
  compare=jax
else
  plan=("matmul-large 90" "conv2d 70" "langevin 50" "conv2d-backward 60" "image-langevin 50" "image-train 40" "mlp-step 30" "train-step 60")
  compare=tfjs,jax
fi
export EBM_BENCH_MATMUL_SIZE=$size
: > "$out/bench.jsonl"
for step in "${plan[@]}"; do
  read -r suite cap extra <<< "$step"
  if [ -n "$only" ] && [[ ",$only," != *",$suite,"* ]]; then continue; fi
  cap=$((cap * budget / default_budget))
  t=$(left); t=$((t - 20 < cap ? t - 20 : cap))
  if [ "$t" -lt 10 ]; then say "suite $suite: not run (the 8-minute budget is spent)"; continue; fi
  say "suite $suite: up to ${t}s"
  # shellcheck disable=SC2086
  timeout -k 5 "$t" "${cli[@]}" bench "$suite" --json --compare "$compare" $extra > "$out/$suite.jsonl" 2>> "$log"
  rc=$?
  cat "$out/$suite.jsonl" >> "$out/bench.jsonl"
  rm -f "$out/$suite.jsonl"
  [ "$rc" = 0 ] || say "suite $suite: exit status $rc$([ "$rc" = 124 ] && echo ' (hit its time limit; the lines before it are kept)')"
done

"$node" "$here/summary.mjs" "$out/bench.jsonl" "$peak_f32" "$peak_f16" | tee "$out/summary.md"
say "done in $(( $(date +%s) - start ))s"
