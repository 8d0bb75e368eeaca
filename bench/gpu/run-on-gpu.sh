#!/usr/bin/env bash
# Runs the GPU protocol on a GPU machine from the unpacked bundle (made by bench/gpu/make-bundle.sh), in
# one call that ends within RCAE_DEADLINE (480 s) of its start, and leaves three files in $OUT (./out when
# OUT is unset): run.log (everything printed), summary.md (the results in tables, bench/gpu/summary.ts)
# and results.tar.gz (results/: every JSON, table and log below). Both are rewritten after every step,
# so a call cut short still returns what the finished steps measured. Exits non-zero when a step failed
# or timed out, or no adapter matching RCAE_EXPECT_ADAPTER was found; later steps still run.
#
# Steps, by value (the order they run in): find a Vulkan loader under which Dawn lists the GPU;
# nvidia-smi; info (`rcae info` with the Dawn toggles); f32 and f16 (`rcae bench` at batch 256 with the
# per-layer profile, shipped heuristic tiles); torch (the PyTorch CUDA baseline: fp32 with TF32 off, TF32,
# fp16 autocast, channels_last, at 256 and 1024); big (`rcae bench` at 1024 per precision); tune
# (`rcae tune` per precision, into results/tune.json, which a second call can bring with --tune-cache).
#
# Usage: rcae-gpu-bundle/bench/gpu/run-on-gpu.sh [--loader LIST] [--tune-cache FILE] [STEP ...]
#   STEP          info, f32, f16, torch, big, tune (default: all six, in that order)
#   --loader LIST Vulkan loaders to try, comma-separated, until `rcae info --list-adapters` lists an
#                 adapter matching RCAE_EXPECT_ADAPTER: system (the libvulkan.so.1 ldconfig knows), root
#                 (the bundled .debs unpacked into / then ldconfig: the device machine's recipe), private
#                 (unpacked into a temporary prefix put on LD_LIBRARY_PATH; nothing written outside it).
#                 Default: system,private where ldconfig knows a loader, else root,private as root, else
#                 private. Each try logs VK_LOADER_DEBUG=error,warn and the libvulkan it loaded.
#   --tune-cache FILE  start from this tuning cache (tune.json from an earlier call's results): the
#                 bench steps then run the tuned tiles
# Environment (defaults in brackets):
#   RCAE_BATCHES [256] (f32, f16)   RCAE_BIG_BATCHES [1024] (big)   RCAE_TUNE_BATCH [256]
#   TORCH_BATCHES [256,1024]   RCAE_BENCH_ARGS, TORCH_ARGS, RCAE_TUNE_ARGS [--candidates 6]: extra flags
#   step limits in seconds: ADAPTERS_TIMEOUT [15] per loader tried (two at most count), SMI_TIMEOUT [10],
#   INFO_TIMEOUT [30], BENCH_TIMEOUT [70] and BIG_TIMEOUT [45] and TUNE_TIMEOUT [45] per precision,
#   TORCH_TIMEOUT [90]: 480 in all; RCAE_DEADLINE [480]: no step runs past this many seconds from the start
#   RCAE_EXPECT_ADAPTER [nvidia]: the adapter the loader must make Dawn list (case-insensitive)
#   PYTHON [python3], the one with CUDA PyTorch   RCAE_ADAPTER: adapter index or name substring for rcae
#   VK_DRIVER_FILES [/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json]
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$PWD/out}
LOADERS=
TUNE_FROM=
STEPS=()
while [ $# -gt 0 ]; do
  case $1 in
    --loader)
      [[ ${2:-} =~ ^(system|root|private)(,(system|root|private))*$ ]] || { echo "run-on-gpu: --loader takes a comma-separated list of system, root, private" >&2; exit 2; }
      LOADERS=$2; shift ;;
    --tune-cache)
      [ -f "${2:-}" ] || { echo "run-on-gpu: --tune-cache: no file '${2:-}'" >&2; exit 2; }
      TUNE_FROM=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift ;;
    info|f32|f16|torch|big|tune) STEPS+=("$1") ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-on-gpu: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#STEPS[@]} -gt 0 ] || STEPS=(info f32 f16 torch big tune)
if [ -z "$LOADERS" ]; then
  if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then LOADERS=system,private
  elif [ "$(id -u)" = 0 ]; then LOADERS=root,private
  else LOADERS=private
  fi
fi

ADAPTERS_TIMEOUT=${ADAPTERS_TIMEOUT:-15} SMI_TIMEOUT=${SMI_TIMEOUT:-10} INFO_TIMEOUT=${INFO_TIMEOUT:-30}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-70} TORCH_TIMEOUT=${TORCH_TIMEOUT:-90} BIG_TIMEOUT=${BIG_TIMEOUT:-45} TUNE_TIMEOUT=${TUNE_TIMEOUT:-45}
DEADLINE=${RCAE_DEADLINE:-480}
EXPECT=${RCAE_EXPECT_ADAPTER:-nvidia}
LOG_LIMIT=$((15 * 1024 * 1024))

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT/run.log" "$OUT/summary.md" "$OUT/results.tar.gz"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rcae-gpu-run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/results
mkdir -p "$R"
export PYTHONUNBUFFERED=1 XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
START=$(date +%s)
FAILED=()
NODE=

record() {  # record NAME STATUS SECONDS LIMIT NOTE: one line of results/steps.tsv
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >> "$R/steps.tsv"
}

trim_log() {  # keeps run.log under the 16 MiB a file may bring back: its first and last 7 MiB
  local log=$OUT/run.log size
  size=$(stat -c %s "$log" 2>/dev/null || echo 0)
  [ "$size" -gt "$LOG_LIMIT" ] || return 0
  { head -c $((7 * 1024 * 1024)) "$log"; printf '\n[... run.log trimmed to its first and last 7 MiB ...]\n'; tail -c $((7 * 1024 * 1024)) "$log"; } > "$WORK/log.trimmed"
  cat "$WORK/log.trimmed" > "$log"  # in place: tee keeps appending to the same file
  rm -f "$WORK/log.trimmed"
}

pack() {  # summary.md and results.tar.gz from what is in results/ now; each replaced by a rename
  if [ -n "$NODE" ] && timeout 30 "$NODE" "$ROOT/dist/bench/gpu/summary.js" "$R" --out "$OUT/summary.md.tmp"; then
    mv -f "$OUT/summary.md.tmp" "$OUT/summary.md"
  else
    rm -f "$OUT/summary.md.tmp"
    printf '# rcae GPU run\n\nNo summary: %s. The step log:\n\n' "${NODE:+bench/gpu/summary.js failed}${NODE:-no node binary}" > "$OUT/summary.md"
    cat "$R/steps.tsv" >> "$OUT/summary.md" 2>/dev/null
  fi
  tar -czf "$OUT/results.tar.gz.tmp" -C "$WORK" results && mv -f "$OUT/results.tar.gz.tmp" "$OUT/results.tar.gz"
  trim_log
}

limit_for() {  # the step limit $1, cut to what is left before the deadline
  local left=$((START + DEADLINE - $(date +%s)))
  echo $(($1 < left ? $1 : left))
}

# step NAME LIMIT OUTPUT COMMAND...: runs COMMAND for at most LIMIT s (cut to the deadline), its stdout
# also saved to OUTPUT; records the outcome, repacks the results. A failure is noted (in FAILED, unless
# STEP_FATAL=0: a loader try that another may make good), never fatal.
step() {
  local name=$1 limit output=$3 status started fatal=${STEP_FATAL:-1}
  limit=$(limit_for "$2")
  shift 3
  if [ "$limit" -lt 5 ]; then
    echo "== $name: skipped, under 5 s left before the ${DEADLINE} s deadline"
    record "$name" skipped 0 "$limit" "no time left before the ${DEADLINE} s deadline"
    [ "$fatal" = 0 ] || FAILED+=("$name")
    pack
    return 1
  fi
  echo "== $name (limit ${limit} s, $(date -u +%H:%M:%S))"
  started=$(date +%s)
  timeout -k 5 "$limit" "$@" | tee "$output"
  status=${PIPESTATUS[0]}
  case $status in
    0) record "$name" ok $(($(date +%s) - started)) "$limit" ;;
    124|137) echo "$name: timed out after ${limit} s"; record "$name" 'timed out' $(($(date +%s) - started)) "$limit" ;;
    *) echo "$name: exited with status $status"; record "$name" failed $(($(date +%s) - started)) "$limit" "exit status $status" ;;
  esac
  [ "$status" = 0 ] || [ "$fatal" = 0 ] || FAILED+=("$name")
  pack
  return "$status"
}

use_loader() {  # makes the next process load libvulkan.so.1 from loader $1 (system, root or private)
  local f
  export LD_LIBRARY_PATH=$BASE_LD_LIBRARY_PATH
  case $1 in
    root)
      if [ ! -f "$WORK/root-loader" ]; then
        [ "$(id -u)" = 0 ] || { echo "Vulkan loader root: not running as root"; return 1; }
        for f in "$ROOT"/vulkan-debs/*.deb; do dpkg -x "$f" / || return 1; done
        ldconfig
        touch "$WORK/root-loader"
      fi ;;
    private)
      if [ ! -d "$WORK/vulkan" ]; then
        for f in "$ROOT"/vulkan-debs/*.deb; do dpkg -x "$f" "$WORK/vulkan" || return 1; done
      fi
      export LD_LIBRARY_PATH="$WORK/vulkan/usr/lib/x86_64-linux-gnu${BASE_LD_LIBRARY_PATH:+:$BASE_LD_LIBRARY_PATH}" ;;
  esac
}

# Tries each loader in turn until Dawn lists an adapter matching $EXPECT; else keeps the first that listed
# any adapter. Two tries at most count towards the step limits.
find_loader() {
  local loader loaders listing loaded chosen= tried=()
  IFS=, read -r -a loaders <<< "$LOADERS"
  for loader in "${loaders[@]}"; do
    tried+=("$loader")
    echo "Vulkan loader: trying $loader"
    use_loader "$loader" || { record "adapters ($loader loader)" failed 0 0 "could not set up the $loader loader"; continue; }
    rm -rf "$WORK/ld-debug"; mkdir -p "$WORK/ld-debug"
    echo "== $loader loader" >> "$R/adapters.txt"
    # The loader's own complaints (VK_LOADER_DEBUG, on stderr) go with the listing; the dynamic linker's
    # log, to files, says which libvulkan and which driver were loaded.
    STEP_FATAL=0 step "adapters ($loader loader)" "$ADAPTERS_TIMEOUT" "$WORK/listing" \
      env VK_LOADER_DEBUG=error,warn LD_DEBUG=libs LD_DEBUG_OUTPUT="$WORK/ld-debug/list" bash -c '"$1" bin/rcae.js info --list-adapters 2>&1' _ "$NODE"
    # Adapter lines start with their index; an error message may well name nvidia_icd.json.
    listing=$(grep '^[0-9]' "$WORK/listing")
    loaded=$(grep -h 'calling init: .*\(libvulkan\|nvidia\|lvp\|vulkan_\)' "$WORK"/ld-debug/list.* 2>/dev/null | sed 's/^[[:space:]]*[0-9]*:[[:space:]]*//' | sort -u)
    echo "$loaded"
    { cat "$WORK/listing"; echo "$loaded"; } >> "$R/adapters.txt"
    if grep -qi -- "$EXPECT" <<< "$listing"; then
      record "vulkan loader" ok 0 0 "$loader: Dawn lists an adapter matching '$EXPECT'"
      return 0
    fi
    echo "Vulkan loader: no adapter matching '$EXPECT' with the $loader loader"
    [ -n "$chosen" ] || [ -z "$listing" ] || chosen=$loader
  done
  chosen=${chosen:-${tried[0]}}
  use_loader "$chosen"
  echo "Vulkan loader: none of ${tried[*]} shows an adapter matching '$EXPECT'; going on with $chosen"
  record "vulkan loader" failed 0 0 "no adapter matching '$EXPECT' with ${tried[*]}; went on with $chosen"
  FAILED+=("vulkan loader")
  pack
}

bench_step() {  # bench_step NAME LIMIT PRECISION BATCHES FILE-STEM EXTRA-FLAGS...
  local name=$1 limit=$2 p=$3 batches=$4 stem=$5
  shift 5
  # shellcheck disable=SC2086 # RCAE_BENCH_ARGS is a list of flags
  step "$name" "$limit" "$R/$stem.md" "$NODE" bin/rcae.js bench --precision "$p" --batch "$batches" --json "$R/$stem.json" "$@" ${RCAE_BENCH_ARGS:-}
}

torch_step() {
  local python=${PYTHON:-python3}
  if ! timeout 30 "$python" -c 'import torch' 2>/dev/null; then
    echo "== torch baseline: skipped, $python cannot import torch"
    record "torch baseline" skipped 0 0 "$python cannot import torch"
    pack
    return
  fi
  # shellcheck disable=SC2086 # TORCH_ARGS is a list of flags
  step "torch baseline" "$TORCH_TIMEOUT" "$R/torch-baseline.md" "$python" bench/gpu/torch_baseline.py \
    --device cuda --batches "${TORCH_BATCHES:-256,1024}" --json "$R/torch-baseline.json" ${TORCH_ARGS:-}
}

tune_step() {
  local p=$1 limit
  limit=$(limit_for "$TUNE_TIMEOUT")
  # Tuning stops itself 10 s before the limit and keeps what it timed (rcae tune --max-seconds); a few
  # candidates per layer, so that it reaches every layer.
  # shellcheck disable=SC2086 # RCAE_TUNE_ARGS is a list of flags
  step "tune $p" "$limit" "$R/tune-$p.json" "$NODE" bin/rcae.js tune --precision "$p" --batch "${RCAE_TUNE_BATCH:-256}" \
    --cache "$R/tune.json" --max-seconds $((limit > 20 ? limit - 10 : limit / 2)) --json ${RCAE_TUNE_ARGS---candidates 6}
}

main() {
  echo "rcae GPU run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -srm), bundle $ROOT"
  [ -f "$ROOT/BUNDLE.txt" ] && sed -n '1,4p' "$ROOT/BUNDLE.txt"
  echo "steps: ${STEPS[*]}; loaders: $LOADERS; step limits in all: $((2 * ADAPTERS_TIMEOUT + SMI_TIMEOUT + INFO_TIMEOUT + 2 * BENCH_TIMEOUT + TORCH_TIMEOUT + 2 * BIG_TIMEOUT + 2 * TUNE_TIMEOUT)) s; deadline ${DEADLINE} s after the start"

  NODE=$ROOT/node
  [ -x "$NODE" ] || NODE=$(command -v node) || { NODE=; echo "run-on-gpu: no node binary in $ROOT and none on PATH"; record node failed 0 0 "no node binary"; pack; return 1; }
  if ldd "$NODE" | grep -q 'not found'; then
    echo "run-on-gpu: $NODE cannot run here, a library is missing:"
    ldd "$NODE" | grep 'not found'
    record node failed 0 0 "$NODE cannot run: a library is missing"
    NODE=
    pack
    return 1
  fi

  # The driver's own libraries (libGLX_nvidia, the Vulkan ICD) live here on the device machine, and the
  # dynamic linker's cache there may not list them.
  local d p
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
  BASE_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
  [ -d /usr/local/nvidia/bin ] && export PATH="/usr/local/nvidia/bin:$PATH"
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
  [ -f "$VK_DRIVER_FILES" ] || echo "warning: no Vulkan ICD manifest at $VK_DRIVER_FILES; Dawn will find no NVIDIA adapter"

  cd "$ROOT" || return 1
  find_loader

  if command -v nvidia-smi >/dev/null; then
    step nvidia-smi "$SMI_TIMEOUT" "$R/nvidia-smi.txt" bash -c 'nvidia-smi -L; nvidia-smi'
  else
    echo "== nvidia-smi: not installed"
    record nvidia-smi skipped 0 0 'not installed'
  fi

  # The bench steps run the tiles of this cache: none in a first call (tuning comes last), the carried
  # ones with --tune-cache.
  export RCAE_TUNE_CACHE="$R/tune.json"
  [ -z "$TUNE_FROM" ] || cp "$TUNE_FROM" "$R/tune.json"
  for s in "${STEPS[@]}"; do
    case $s in
      info)
        step "rcae info" "$INFO_TIMEOUT" "$R/rcae-info.txt" bash -c '"$1" bin/rcae.js info --list-adapters && "$1" bin/rcae.js info && "$1" bin/rcae.js info --json > "$2"' _ "$NODE" "$R/rcae-info.json" ;;
      f32|f16)
        bench_step "bench $s" "$BENCH_TIMEOUT" "$s" "${RCAE_BATCHES:-256}" "rcae-bench-$s" ;;
      torch)
        torch_step ;;
      big)
        for p in f32 f16; do bench_step "bench $p big" "$BIG_TIMEOUT" "$p" "${RCAE_BIG_BATCHES:-1024}" "rcae-bench-$p-big" --no-profile; done ;;
      tune)
        for p in f32 f16; do tune_step "$p"; done ;;
    esac
  done

  pack
  echo "== summary.md"
  cat "$OUT/summary.md"
  echo "== $OUT ($(($(date +%s) - START)) s)"
  ls -l "$OUT"
  if [ ${#FAILED[@]} -gt 0 ]; then
    echo "failed: ${FAILED[*]}"
    return 1
  fi
}

main 2>&1 | tee -a "$OUT/run.log"
status=${PIPESTATUS[0]}
trim_log
exit "$status"
