#!/bin/bash
# Short check on the GPU machine: train the tokenizer, time a few dozen steps (eager and compiled),
# export (FP8 and bf16), evaluate on a held-out prefix. Run from the repository root with .corpus/ present.
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
T=tools/train-demo
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, transformers, tokenizers, safetensors; print('torch', torch.__version__, 'transformers', transformers.__version__, 'tokenizers', tokenizers.__version__, 'safetensors', safetensors.__version__)"
python3 $T/train_tokenizer.py --corpus .corpus/train.jsonl.gz --out /tmp/tok 2>&1 | tee "$OUT/tokenizer.log"
cp /tmp/tok/tokenizer.json "$OUT/tokenizer.json"
cp /tmp/tok/tokenizer.json models/fathom-demo/tokenizer.json
python3 $T/train.py --out /tmp/run_eager --compile 0 --max-steps 25 --probe-steps 20 --log-every 5 \
  --token-cache /tmp/tokens.pt 2>&1 | tee "$OUT/train_eager.log"
python3 $T/train.py --out /tmp/run --max-steps ${SMOKE_STEPS:-80} --probe-steps 60 --log-every 5 --eval-every 40 \
  --token-cache /tmp/tokens.pt 2>&1 | tee "$OUT/train.log"
python3 $T/export.py --ckpt /tmp/run/final.pt --out /tmp/exp8 2>&1 | tee "$OUT/export.log"
python3 $T/export.py --ckpt /tmp/run/final.pt --out /tmp/exp16 --no-fp8 2>&1 | tee -a "$OUT/export.log"
ls -la /tmp/exp8 | tee -a "$OUT/export.log"
python3 $T/eval.py --model /tmp/exp8 --compare /tmp/exp16 --heldout .corpus/heldout.txt --max-heldout-chars 20000 \
  --train-corpus .corpus/train.jsonl.gz --greedy-new 8 --sample-new 24 --out /tmp/ev 2>&1 | tee "$OUT/eval.log"
tar czf "$OUT/results.tgz" -C /tmp ev run/loss_curve.csv run/train_summary.json exp8/config.json exp8/generation_config.json
