#!/bin/bash
# Serving throughput at concurrency 1 and 8 on one server (issue: batching must pay): starts
# `fathom serve` on the bench model, waits until /health says ready, then `fathom bench-serve` at
# concurrency 1 (4 requests) and 8 (16 requests), 64 random prompt ids and 128 greedy tokens each.
# Reports go to benchmarks/results/PREFIX_serve_NAME_c{1,8}.json.
#
#   benchmarks/serve-rounds.sh PREFIX MODEL_DIR NAME [fathom serve options, e.g. --quantize q4_k]
#   e.g. benchmarks/serve-rounds.sh 2026-12-07_epyc-zen3-2c /work/bench-models/v2lite-6l-bf16 q4_k --quantize q4_k
#
# Build first: dotnet build src/Fathom.Cli -c Release.
set -e
PREFIX=$1; MODEL=$2; NAME=$3; shift 3
cd "$(dirname "$0")/.."
FATHOM="dotnet src/Fathom.Cli/bin/Release/net10.0/fathom.dll"
OUT=benchmarks/results
PORT=${PORT:-8011}
$FATHOM serve --model "$MODEL" --port "$PORT" --max-batch 8 --kv-cache-memory 1GiB -t 2 --load memory "$@" > /tmp/fathom-serve-$PORT.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for i in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$PORT/health" > /dev/null; then break; fi
  kill -0 $server 2>/dev/null || { cat /tmp/fathom-serve-$PORT.log; exit 1; }
  sleep 1
done
for c in 1 8; do
  n=$((c == 1 ? 4 : 16))
  $FATHOM bench-serve --url "http://127.0.0.1:$PORT" --concurrency $c --requests $n --prompt-tokens 64 --gen-tokens 128 \
    --output $OUT/${PREFIX}_serve_${NAME}_c$c.json | tail -6
done
