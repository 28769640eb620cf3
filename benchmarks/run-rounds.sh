#!/bin/bash
# Interleaved benchmark rounds on a shared machine: bandwidth, bf16, fp8 (each in its own process,
# 2 threads, weights read into memory), every step started once the machine has been >= 85% idle for
# 3 s (at most 4 minutes of waiting). Reports go to benchmarks/results/PREFIX_{memory,bf16,fp8}_rN.json.
#
#   benchmarks/run-rounds.sh PREFIX FIRST_ROUND LAST_ROUND [MODELS_DIR]
#   e.g. benchmarks/run-rounds.sh 2026-11-23_epyc-zen5-2c 1 6 /work/bench-models
#
# Build first: dotnet build src/Fathom.Cli -c Release. Extra bench options (e.g. --quantize q8_0 with a
# FORMATS="bf16:q8_0" entry) go in FORMATS as model-suffix[:quantize] pairs; "fp8:fp8" (the FP8 checkpoint
# with --quantize fp8, which puts its BF16 head in FP8 too) reports as fp8-fp8-all.
#
# With LLAMA_BENCH (a llama.cpp llama-bench binary) and GGUF_DIR (the same checkpoint converted to
# v2lite-6l-{bf16,q8_0,q4_k_m}.gguf), each Fathom format with a llama.cpp counterpart is preceded by
# `llama-bench -p 512 -n 128 -t 2 -r 3 --load-mode none -o json` on its GGUF (PREFIX_llama-FORMAT_rN.json).
set -e
PREFIX=$1; FIRST=$2; LAST=$3; MODELS=${4:-/work/bench-models}
FORMATS=${FORMATS:-"bf16 fp8"}
cd "$(dirname "$0")/.."
FATHOM="dotnet src/Fathom.Cli/bin/Release/net10.0/fathom.dll"
OUT=benchmarks/results
idle() { read -r _ u n s i w q sq st _ < /proc/stat; t1=$((u+n+s+i+w+q+sq+st)); i1=$((i+w)); sleep 3;
         read -r _ u n s i w q sq st _ < /proc/stat; t2=$((u+n+s+i+w+q+sq+st)); i2=$((i+w));
         echo $(( 100 * (i2-i1) / (t2-t1) )); }
wait_idle() { for k in $(seq 1 80); do p=$(idle); if [ "$p" -ge 85 ]; then echo "idle ${p}% after $((k*3)) s"; return; fi; done; echo "NOT idle (${p}%) after 240 s"; }
for round in $(seq "$FIRST" "$LAST"); do
  echo "== round $round $(uptime)"
  wait_idle
  $FATHOM bench-memory -t 2 --size-mib 1024 -r 3 --output $OUT/${PREFIX}_memory_r$round.json
  for entry in $FORMATS; do
    model=${entry%%:*}; quantize=${entry#*:}
    if [ "$quantize" = "$entry" ]; then quantize=""; name=$model; else name=$quantize; fi
    [ "$quantize" = "$model" ] && name=$model-$quantize-all   # e.g. fp8:fp8, the FP8 checkpoint with its BF16 head in FP8 too
    gguf=""
    case $name in bf16) gguf=bf16;; q8_0) gguf=q8_0;; q4_k) gguf=q4_k_m;; esac
    if [ -n "${LLAMA_BENCH:-}" ] && [ -n "$gguf" ] && [ -f "$GGUF_DIR/v2lite-6l-$gguf.gguf" ]; then
      wait_idle
      "$LLAMA_BENCH" -m "$GGUF_DIR/v2lite-6l-$gguf.gguf" -p 512 -n 128 -t 2 -r 3 --load-mode none -o json \
        > $OUT/${PREFIX}_llama-${name}_r$round.json 2> /tmp/llama-bench.err || tail -3 /tmp/llama-bench.err
    fi
    wait_idle
    $FATHOM bench --model "$MODELS/v2lite-6l-$model" ${quantize:+--quantize $quantize} --load memory -t 2 -p 512 -n 128 -r 2 \
      --output $OUT/${PREFIX}_${name}_r$round.json
  done
done
