#!/usr/bin/env bash
# README command 1: install (if needed), make the built-in dataset, train the
# quick CPU config (300 iterations, both phases), test the checkpoint, and
# leave translated images and attention masks in the work dir.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/install.sh
PY="${UAGIT_VENV:-$ROOT/.venv}/bin/python"
CONFIG=configs/uagit_cpu_1xb1-300iters_synthetic64.py
DATA="${DATA:-data/synthetic64}"
WORK="${WORK:-work_dirs/quickstart}"

"$PY" tools/make_synthetic_dataset.py "$DATA"
# --resume: a finished run is not repeated, an interrupted one continues
"$PY" -W ignore tools/train.py "$CONFIG" --work-dir "$WORK" --resume \
    --cfg-options data_root="$DATA"
CKPT="$(cat "$WORK/last_checkpoint")"
"$PY" -W ignore tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK" \
    --cfg-options data_root="$DATA"
OUT="$(ls -d "$WORK"/*/translations | sort | tail -n 1)"
echo
echo "Checkpoint:                     $CKPT"
echo "Translations and attention masks: $OUT"
for d in "$OUT"/*/; do
    echo "  $(basename "$d"): $(ls "$d" | grep -vc '_mask.png') images, $(ls "$d" | grep -c '_mask.png') masks"
done
