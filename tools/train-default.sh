#!/usr/bin/env bash
# Trains and packages the bundled default model in one command (CPU, about 85 minutes on 2 cores):
# tools/train.py with the published recipe at base width 8, then `rcae convert` to safetensors, the
# training record beside it, and the loss curve picture. Afterwards, tools/evaluate-default.sh
# calibrates the thresholds and measures the detector.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work=.cache/train-w8-e6
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 tools/train.py --width 8 --epochs 6 --minutes 95 --out "$work"
node bin/rcae.js convert "$work/model.ckpt" -o models/default.safetensors
cp "$work/training.json" models/default.training.json
cp "$work/loss.csv" models/default.loss.csv
node tools/plot-loss.mjs models/default.loss.csv docs/training-loss.png
