#!/bin/bash
# The full run on one GPU: train for a fixed wall-clock budget, export (FP8 + a bf16 copy for
# comparison), evaluate, and leave the results in $OUT. Run from the repository root with .corpus/
# present and models/fathom-demo/tokenizer*.json in place.
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
BUDGET=${BUDGET:-410}
T=tools/train-demo
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/train.log"
python3 $T/train.py --out /tmp/run --time-budget "$BUDGET" --warmup 300 --eval-every 250 2>&1 | tee -a "$OUT/train.log"
python3 $T/export.py --ckpt /tmp/run/best.pt --out /tmp/exp8 2>&1 | tee /tmp/run/export.log
python3 $T/export.py --ckpt /tmp/run/best.pt --out /tmp/exp16 --no-fp8 2>&1 | tee -a /tmp/run/export.log
sha256sum /tmp/exp8/model.safetensors | tee /tmp/run/model.sha256
split -b 13000000 -d /tmp/exp8/model.safetensors "$OUT/model.safetensors.part"
tar czf "$OUT/run.tgz" -C /tmp run/loss_curve.csv run/train_summary.json run/export.log run/model.sha256 \
  exp8/config.json exp8/generation_config.json
python3 $T/eval.py --model /tmp/exp8 --compare /tmp/exp16 --heldout tests/TestData/fathom-demo/heldout.txt \
  --text-file-name heldout.txt --train-corpus .corpus/train.jsonl.gz --out /tmp/ev 2>&1 | tee "$OUT/eval.log"
tar czf "$OUT/results.tgz" -C /tmp ev
ls -la "$OUT"
