#!/usr/bin/env bash
# GPU smoke check, run once by a maintainer with a CUDA GPU (about 5-10 min):
#   1. tools/benchmark.py in fp32 and AMP at 256x256, batch 1 and 4 (ours and
#      mmagic's CycleGAN, paper settings; train s/iter, inference img/s, peak
#      GPU memory);
#   2. the paper's networks for 200 iterations on the built-in set at 256 px
#      (configs/uagit_1xb1-200iters_synthetic256.py, with --amp; phase 2
#      from iteration 60): 100 iterations, stop, --resume to 200;
#   3. tools/test.py on the last checkpoint (attention metrics).
# Everything goes into one results file, OUT_DIR/results.md (default
# work_dirs/gpu_check/results.md), with the card's name and the versions.
#
# usage: tools/dev/gpu_check.sh [OUT_DIR]
#   PYTHON=...   interpreter (default .venv/bin/python)
#   DRY_RUN=1    print the commands instead of running them (no GPU needed)
#   SKIP_BENCHMARK=1  leave out step 1 (to rerun training and testing only)
#
# Without a GPU it stops with exit code 2 before doing anything; on the CPU
# use tools/benchmark.py and the CPU configs (docs/training.md, "Mixed precision").
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-.venv/bin/python}
OUT=${1:-work_dirs/gpu_check}
DATA=$OUT/data/synthetic256
CONFIG=configs/uagit_1xb1-200iters_synthetic256.py
RESULTS=$OUT/results.md
DRY_RUN=${DRY_RUN:-0}

if [ ! -x "$PY" ] && ! command -v "$PY" >/dev/null 2>&1; then
    echo "gpu_check: no Python at $PY (run tools/install.sh, or set PYTHON)" >&2
    exit 2
fi
GPU=$("$PY" -c 'import torch
print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' \
    2>/dev/null || true)
if [ -z "$GPU" ] && [ "$DRY_RUN" != 1 ]; then
    echo "gpu_check: no CUDA GPU visible to torch ($("$PY" -c \
'import torch; print("torch", torch.__version__, "CUDA build", torch.version.cuda)' \
        2>/dev/null || echo 'torch not importable')); nothing was run." >&2
    echo "gpu_check: this script is for a machine with a GPU. On the CPU," \
         "use tools/benchmark.py and tools/train.py --amp (bfloat16)." >&2
    exit 2
fi

run() {  # the command into the results file, then its output (filtered)
    echo "\$ $*" | tee -a "$RESULTS"
    if [ "$DRY_RUN" = 1 ]; then
        return 0
    fi
    local start=$SECONDS rc
    set +e
    "$@" 2>&1 | tee -a "$OUT/full.log" \
        | grep --line-buffered -E '^(\||device:|tools/)' | tee -a "$RESULTS"
    rc=${PIPESTATUS[0]}
    set -e
    echo "(exit $rc, $((SECONDS - start)) s)" | tee -a "$RESULTS"
    return "$rc"
}

mkdir -p "$OUT"
: > "$RESULTS"
: > "$OUT/full.log"
{
    echo "# uagit_mm GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "GPU: ${GPU:-none (dry run)}"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    "$PY" -c 'import torch, mmengine, mmagic
print("torch", torch.__version__, "CUDA", torch.version.cuda,
      "| mmengine", mmengine.__version__, "| mmagic", mmagic.__version__)' \
        2>/dev/null || true
    if command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi --query-gpu=name,memory.total,driver_version \
            --format=csv,noheader || true
    fi
    echo
} | tee -a "$RESULTS"
TOTAL_START=$SECONDS

FAILED=0
[ "${SKIP_BENCHMARK:-0}" = 1 ] || \
    echo "## 1. benchmark (256x256; fp32 vs AMP)" | tee -a "$RESULTS"
[ "${SKIP_BENCHMARK:-0}" = 1 ] || for BATCH in 1 4; do
    run "$PY" tools/benchmark.py --device cuda --setting paper --size 256 \
        --batch "$BATCH" --variants fp32 amp --repeats 5 --iters 5 \
        --warmup 3 --infer-iters 10 || FAILED=1
done

echo "## 2. train 100 + resume to 200 iterations (--amp)" | tee -a "$RESULTS"
if [ ! -d "$DATA/testB_mask" ]; then
    run "$PY" tools/make_synthetic_dataset.py "$DATA" --size 256 \
        --num-train 200 --num-test 50 --seed 0
fi
WORK=$OUT/train
OPTS=(--cfg-options "data_root=$DATA" randomness.seed=0)
run "$PY" tools/train.py "$CONFIG" --work-dir "$WORK" --amp \
    "${OPTS[@]}" train_cfg.max_iters=100
run "$PY" tools/train.py "$CONFIG" --work-dir "$WORK" --amp --resume \
    "${OPTS[@]}"
if [ "$DRY_RUN" != 1 ]; then
    grep -hE 'Iter\(train\) \[ *(100|200)/' "$OUT/full.log" \
        | sed 's/^.*Iter(train)/Iter(train)/' | tee -a "$RESULTS" || true
fi

echo "## 3. test metrics (last checkpoint)" | tee -a "$RESULTS"
run "$PY" tools/test.py "$CONFIG" "$WORK/iter_200.pth" --work-dir "$WORK" \
    --out-metrics "$OUT/metrics.json" --cfg-options "data_root=$DATA" \
    || FAILED=1
if [ "$DRY_RUN" != 1 ] && [ -f "$OUT/metrics.json" ]; then
    echo '```' >> "$RESULTS"
    cat "$OUT/metrics.json" >> "$RESULTS"
    echo '```' >> "$RESULTS"
fi
echo "total: $((SECONDS - TOTAL_START)) s; results in $RESULTS, full log" \
     "in $OUT/full.log" | tee -a "$RESULTS"
exit "$FAILED"
