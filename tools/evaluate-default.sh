#!/usr/bin/env bash
# Reproduces the figures of docs/results.md for the bundled default model from the shared datasets:
# the calibrated thresholds (models/default.thresholds.json), the evaluation against noise, each
# synthetic manipulation and Tiny ImageNet 32, and the pictures in docs/. Run from anywhere after
# `npm run setup`; about 20 minutes on lavapipe (2 cores). Results: JSON per evaluation in OUT.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
data="${RCAE_DATASETS:-$root/../shared/datasets}"
out="${1:-$root/.cache/default-eval}"
model=models/default.safetensors
rcae() { node bin/rcae.js "$@"; }
mkdir -p "$out" docs

rcae calibrate --model "$model" --real "$data/cifar10-test.tar.gz" --synthetic noise \
  -o models/default.thresholds.json --plot docs/calibration.png
rcae eval --model "$model" --thresholds models/default.thresholds.json --real "$data/cifar10-test.tar.gz" \
  --synthetic noise --json "$out/noise.json" --plot "$out/eval-noise"
rcae eval --model "$model" --thresholds models/default.thresholds.json --real "$data/cifar10-test.tar.gz" \
  --fake "$data/tinyimagenet32-val.tar.gz" --json "$out/tinyimagenet.json" --plot docs/eval-tinyimagenet
# Manipulations on a class-balanced fifth of CIFAR-10 test (the archive is sorted by class).
for kind in blur jpeg patch-shuffle splice color-shift upscale; do
  rcae eval --model "$model" --real "$data/cifar10-test.tar.gz" --every 5 --synthetic "$kind" --json "$out/$kind.json"
done
# One image of each CIFAR-10 class (the archive holds 1,000 per class, in class order).
rcae reconstruct --model "$model" --every 1000 --grid docs/reconstructions.png "$data/cifar10-test.tar.gz"
rcae detect --model "$model" --thresholds models/default.thresholds.json --format table samples > "$out/demo.txt"
node tools/summarize-eval.mjs "$out" > "$out/summary.md"
cat "$out/summary.md"
