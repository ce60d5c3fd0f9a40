#!/usr/bin/env bash
# README command 1: install (if needed), make the built-in dataset, train the
# quick-start config (1,000 iterations, both phases of the schedule; in
# bfloat16 where the CPU has native support, float32 elsewhere), test the
# checkpoint, and print the metrics per direction, a picture of test images
# (input | mask | translation) and where every translation and mask is.
#   DATA, WORK       the dataset and the work dir (data/synthetic64,
#                    work_dirs/quickstart)
#   DATA_OPTIONS     more options of tools/make_synthetic_dataset.py
#   QUICKSTART_OPTIONS  more --cfg-options for training and testing
# (the last two let the tests run it small).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/install.sh
PY="${UAGIT_VENV:-$ROOT/.venv}/bin/python"
CONFIG=configs/uagit_cpu_1xb1-1000iters_synthetic64.py
FULL_CONFIG=configs/uagit_cpu_1xb1-2500iters_synthetic64.py
DATA="${DATA:-data/synthetic64}"
WORK="${WORK:-work_dirs/quickstart}"
read -r -a DATA_OPTS <<< "${DATA_OPTIONS:-}"
read -r -a CFG_OPTS <<< "${QUICKSTART_OPTIONS:-}"

"$PY" tools/make_synthetic_dataset.py "$DATA" ${DATA_OPTS[@]+"${DATA_OPTS[@]}"}
# --resume: a finished run is not repeated, an interrupted one continues;
# --amp-auto: bfloat16 only where the CPU runs it natively (else slower)
"$PY" -W ignore tools/train.py "$CONFIG" --work-dir "$WORK" --resume \
    --amp-auto --cfg-options data_root="$DATA" \
    ${CFG_OPTS[@]+"${CFG_OPTS[@]}"}
CKPT="$(cat "$WORK/last_checkpoint")"
"$PY" -W ignore tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK" \
    --out-metrics "$WORK/test_metrics.json" --cfg-options data_root="$DATA" \
    ${CFG_OPTS[@]+"${CFG_OPTS[@]}"}
OUT="$(ls -d "$WORK"/*/translations | sort | tail -n 1)"
echo
echo "Quick start: $CONFIG, tested on the built-in test set ($DATA)"
"$PY" -W ignore tools/quickstart_report.py "$WORK/test_metrics.json" "$OUT" \
    --data "$DATA" --domains smooth striped --out "$WORK/quickstart.png"
echo
echo "Checkpoint:                       $CKPT"
echo "Translations and attention masks: $OUT"
for d in "$OUT"/*/; do
    echo "  $(basename "$d"): $(ls "$d" | grep -vc '_mask.png') images, $(ls "$d" | grep -c '_mask.png') masks"
done
echo
echo "Train the full model (2,500 iterations; about 15 minutes on 2 cores in"
echo "float32) with:"
echo "  ${UAGIT_VENV:-.venv}/bin/python tools/train.py $FULL_CONFIG --amp-auto"
