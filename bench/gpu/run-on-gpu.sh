#!/usr/bin/env bash
# Runs the GPU protocol on a GPU machine from the unpacked bundle (made by bench/gpu/make-bundle.sh), in
# one call of at most ~9 minutes: nvidia-smi; `rcae info` with the Dawn toggles (subgroup-matrix
# configs, shader-f16, workgroup storage, subgroup sizes); `rcae tune` per precision (the winners go
# to $OUT/tune.json, which the bench then uses); `rcae bench` per precision with the per-layer profile;
# the PyTorch CUDA baseline (fp32 with TF32 off, TF32, fp16 autocast, channels_last) on the same
# architecture. Everything lands in $OUT (./out when OUT is unset): run.log, nvidia-smi.txt,
# rcae-info.txt + .json, tune-<precision>.json, tune.json (the cache), rcae-bench-<precision>.json
# + .md, torch-baseline.json + .md. Exits non-zero when any step failed; later steps still run.
#
# Usage: rcae-gpu-bundle/bench/gpu/run-on-gpu.sh [--loader auto|private|root] [STEP ...]
#   STEP      info, tune, rcae, torch (default: all four, in that order)
#   --loader  where the Vulkan loader comes from: auto (default) uses the system's libvulkan.so.1 when
#             ldconfig knows one, else does what private does; private unpacks the bundled .debs into a
#             temporary prefix put on LD_LIBRARY_PATH, writing nothing outside it; root unpacks them into /
#             and runs ldconfig (the device machine's own recipe)
# Environment (defaults in brackets):
#   RCAE_PRECISIONS [f32,f16]   RCAE_BATCHES [64,256,1024]   RCAE_TUNE_BATCH [256]
#   TORCH_BATCHES [1,8,32,128,256,512,1024]
#   INFO_TIMEOUT [60], TUNE_TIMEOUT [75], RCAE_TIMEOUT [110] (per precision) and TORCH_TIMEOUT [100]
#   seconds per step; RCAE_BENCH_ARGS, RCAE_TUNE_ARGS, TORCH_ARGS: extra flags
#   PYTHON [python3], the one with CUDA PyTorch   RCAE_ADAPTER: adapter index or name substring for rcae
#   VK_DRIVER_FILES [/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json]
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$PWD/out}
LOADER=auto
STEPS=()
while [ $# -gt 0 ]; do
  case $1 in
    --loader)
      [[ ${2:-} =~ ^(auto|private|root)$ ]] || { echo "run-on-gpu: --loader takes auto, private or root" >&2; exit 2; }
      LOADER=$2; shift ;;
    info|tune|rcae|torch) STEPS+=("$1") ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-on-gpu: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#STEPS[@]} -gt 0 ] || STEPS=(info tune rcae torch)

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export PYTHONUNBUFFERED=1

FAILED=()
step() {  # step NAME TIMEOUT_S OUTPUT_FILE COMMAND...: one step, its stdout also saved; a failure is noted, not fatal
  local name=$1 limit=$2 output=$3 status; shift 3
  echo "== $name ($(date -u +%H:%M:%S))"
  timeout -k 10 "$limit" "$@" | tee "$output"
  status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then
    if [ "$status" -eq 124 ]; then echo "$name: timed out after ${limit}s"; else echo "$name: exited with status $status"; fi
    FAILED+=("$name")
  fi
}

main() {
  echo "rcae GPU run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -srm), bundle $ROOT"
  [ -f "$ROOT/BUNDLE.txt" ] && sed -n '1,4p' "$ROOT/BUNDLE.txt"

  local node=$ROOT/node
  [ -x "$node" ] || node=$(command -v node) || { echo "run-on-gpu: no node binary in $ROOT and none on PATH"; return 1; }
  if ldd "$node" | grep -q 'not found'; then
    echo "run-on-gpu: $node cannot run here, a library is missing:"
    ldd "$node" | grep 'not found'
    return 1
  fi

  # The driver's own libraries (libGLX_nvidia, the Vulkan ICD) live here on the device machine, and the
  # dynamic linker's cache there may not list them.
  local d f
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
  [ -d /usr/local/nvidia/bin ] && export PATH="/usr/local/nvidia/bin:$PATH"
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
  [ -f "$VK_DRIVER_FILES" ] || echo "warning: no Vulkan ICD manifest at $VK_DRIVER_FILES; Dawn will find no NVIDIA adapter"

  if [ "$LOADER" = auto ] && ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
    echo "Vulkan loader: the system's"
  elif [ "$LOADER" = root ]; then
    for f in "$ROOT"/vulkan-debs/*.deb; do dpkg -x "$f" / || return 1; done
    ldconfig
    echo "Vulkan loader: unpacked into / from $ROOT/vulkan-debs"
  else
    local prefix
    prefix=$(mktemp -d "${TMPDIR:-/tmp}/rcae-vulkan.XXXXXX")
    trap "rm -rf '$prefix'" EXIT  # main runs in its own subshell (the pipe into tee): this fires when it ends
    for f in "$ROOT"/vulkan-debs/*.deb; do dpkg -x "$f" "$prefix" || return 1; done
    export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "Vulkan loader: unpacked into $prefix (LD_LIBRARY_PATH)"
  fi

  echo "== nvidia-smi"
  nvidia-smi 2>&1 | tee "$OUT/nvidia-smi.txt" || echo "nvidia-smi failed"

  cd "$ROOT" || return 1
  # The tuned tiles of this run, and nothing from an earlier one, are what the bench uses.
  export RCAE_TUNE_CACHE="$OUT/tune.json"
  local s p precisions
  IFS=, read -r -a precisions <<< "${RCAE_PRECISIONS:-f32,f16}"
  for s in "${STEPS[@]}"; do
    case $s in
      info)
        step "rcae info" "${INFO_TIMEOUT:-60}" "$OUT/rcae-info.txt" bash -c '"$1" bin/rcae.js info --list-adapters && "$1" bin/rcae.js info && "$1" bin/rcae.js info --json > "$2"' _ "$node" "$OUT/rcae-info.json" ;;
      tune)
        for p in "${precisions[@]}"; do
          # shellcheck disable=SC2086 # RCAE_TUNE_ARGS is a list of flags
          step "rcae tune $p" "${TUNE_TIMEOUT:-75}" "$OUT/tune-$p.json" "$node" bin/rcae.js tune --precision "$p" \
            --batch "${RCAE_TUNE_BATCH:-256}" --json ${RCAE_TUNE_ARGS:-}
        done ;;
      rcae)
        for p in "${precisions[@]}"; do
          # shellcheck disable=SC2086 # RCAE_BENCH_ARGS is a list of flags
          step "rcae bench $p" "${RCAE_TIMEOUT:-110}" "$OUT/rcae-bench-$p.md" "$node" bin/rcae.js bench --precision "$p" \
            --batch "${RCAE_BATCHES:-64,256,1024}" --json "$OUT/rcae-bench-$p.json" ${RCAE_BENCH_ARGS:-}
        done ;;
      torch)
        # shellcheck disable=SC2086 # TORCH_ARGS is a list of flags
        step "torch baseline" "${TORCH_TIMEOUT:-100}" "$OUT/torch-baseline.md" "${PYTHON:-python3}" bench/gpu/torch_baseline.py \
          --device cuda --batches "${TORCH_BATCHES:-1,8,32,128,256,512,1024}" --json "$OUT/torch-baseline.json" ${TORCH_ARGS:-} ;;
    esac
  done

  echo "== results in $OUT"
  ls -l "$OUT"
  if [ ${#FAILED[@]} -gt 0 ]; then
    echo "failed: ${FAILED[*]}"
    return 1
  fi
}

main 2>&1 | tee -a "$OUT/run.log"
exit "${PIPESTATUS[0]}"
