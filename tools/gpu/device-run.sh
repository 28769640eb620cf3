#!/usr/bin/env bash
# Runs on the GPU machine from the repository root: unpacks the self-contained fathom-gpuhost carried in
# .devcarry/, then the stages named on the command line:
#   tests        the [CudaFact]/[CudaTheory] tests, those whose names contain $TESTS if set (log: $OUT/gpu-tests.log)
#   cpu-tests    the CPU kernel and format tests on this machine's CPU, AVX-512 paths included (log: $OUT/cpu-tests.log)
#   bench-bf16   random V2-Lite-shaped bf16 checkpoint: fathom bench + HF transformers baseline
#   bench-fp8    the same shape in FP8
#   quick        a 4-layer V2-Lite-shaped bf16 checkpoint, decode only (smoke test)
#   profile / profile-prefill   ncu time per kernel name on that checkpoint: decode steps / a 2048-token prefill
#   profile-bN-DTYPE   ncu time of each kernel of batch-N decode steps (4-layer DTYPE checkpoint), own clocks
#   detail-bN-DTYPE   ncu's full sections for the kernels matching $KERNELS (default mma_moe) in batch-N decode
#                steps of the 4-layer DTYPE checkpoint ($SKIP and $COUNT launches; text report in $OUT)
#   steps-DTYPE  ncu time of each kernel of a batch-1 decode step (4-layer DTYPE checkpoint) at the GPU's own
#                clocks with warm caches: their sum is within a few percent of the measured step time
#   knobs-DTYPE / knobs-DTYPE-LLAYERS   decode at batches $BATCH (default 1; -p 0 -n $GEN -r $REPS, default 64, 3) of the DTYPE checkpoint (full size,
#                or LAYERS layers) under each configuration of $KNOBS, alternating over $ROUNDS rounds (default
#                2, the order reversed every other round): KNOBS="base pdl-off:FATHOM_CUDA_PDL=0
#                one-row-off:FATHOM_CUDA_ONE_ROW=0" (name[:VAR=VALUE[,VAR=VALUE...]]); one line per run
#   sizes        SASS instructions per kernel (nvcc for sm_90 with PDL and the stream hint on, the sources in CudaContext's order):
#                a decode step's once-through launches may wait on fetching their code (log: $OUT/sass-sizes.txt)
#   ab-decode-DTYPE   decode only at batches $BATCHES (default 1,32,64) of the full checkpoint, the old build and this
#                one alternating (see ab-DTYPE for the old build)
#   ab-bf16 / ab-fp8   prefill 2048 and decode at batch 1, 32, 128 of the full checkpoint, the build in
#                .devcarry/host-old (a copy of the host with .devcarry/app-old.tar.xz from
#                `pack-host.sh --old` unpacked over it) and this one, alternating (old new new old)
set -uo pipefail
export NCCL_NVLS_ENABLE=0
root=$(pwd)
host=$root/.devcarry/host
if [ ! -x "$host/fathom-gpuhost" ]; then
  mkdir -p "$host" && tar -xJf "$root/.devcarry/gpuhost.tar.xz" -C "$host" || exit 1
fi
for lib in libnvrtc.so.13 libcublasLt.so.13; do
  if ! ldconfig -p | grep -q "$lib"; then
    found=$(find /usr/local /opt /usr/lib -name "$lib*" 2>/dev/null | head -1)
    [ -n "$found" ] && export LD_LIBRARY_PATH="$(dirname "$found"):${LD_LIBRARY_PATH:-}"
  fi
done
echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
ldconfig -p | grep -E "libcublasLt.so.13|libnvrtc.so.13" | head -2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fathom() { "$host/fathom-gpuhost" fathom "$@"; }
old=$root/.devcarry/host-old
if [ -f "$root/.devcarry/app-old.tar.xz" ] && [ ! -x "$old/fathom-gpuhost" ]; then
  rm -rf "$old" && cp -a "$host" "$old" && tar -xJf "$root/.devcarry/app-old.tar.xz" -C "$old"
fi
out=${OUT:-/tmp/out}
mkdir -p "$out"
for stage in "$@"; do
  echo "=== $stage $(date +%T)"
  case $stage in
    tests)
      "$host/fathom-gpuhost" test ${TESTS:-} 2>&1 | tee -a "$out/gpu-tests.log" | grep -E "^(FAIL|PASS)|passed" ;;
    cpu-tests)
      "$host/fathom-gpuhost" cpu-tests 2>&1 | tee "$out/cpu-tests.log" | grep -E "^(CPU|FAIL|SKIP)|passed" ;;
    quick)
      fathom create-random --like v2-lite --layers 4 --dtype bf16 -o /tmp/v2l-quick --force 2>&1 | tail -2
      fathom bench --device cuda -m /tmp/v2l-quick -p 256 -n 32 -r 2 -b 1,8 2>&1 | tail -20 ;;
    profile|profile-prefill)
      [ -f /tmp/v2l-quick/config.json ] || fathom create-random --like v2-lite --layers 4 --dtype bf16 -o /tmp/v2l-quick --force 2>&1 | tail -1
      if [ $stage = profile ]; then window="--launch-skip 700 --launch-count 160"; args="-p 0 -n 16"; else window="--launch-count 400"; args="-p 2048 -n 1"; fi
      ncu --metrics gpu__time_duration.sum $window --csv "$host/fathom-gpuhost" fathom bench --device cuda -m /tmp/v2l-quick $args -r 1 --no-warmup > "$out/ncu-$stage.csv" 2> "$out/ncu-$stage.err"
      python3 - "$out/ncu-$stage.csv" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
head = rows[0]; k = head.index("Kernel Name"); v = head.index("Metric Value")
t = collections.defaultdict(float); c = collections.Counter()
for r in rows[1:]:
    try: t[r[k]] += float(r[v].replace(",", "")); c[r[k]] += 1
    except ValueError: pass
total = sum(t.values())
for name, ns in sorted(t.items(), key=lambda x: -x[1]): print(f"{ns/1e3:10.1f} us {c[name]:4d}x {ns/total*100:5.1f}%  {name[:60]}")
print(f"total {total/1e3:.1f} us over {sum(c.values())} kernels")
PY
      ;;
    profile-b*)
      # ncu time of every kernel of a few batched decode steps (profile-bN-DTYPE: batch N, 4-layer DTYPE
      # checkpoint) at the GPU's own clocks with warm caches: per-name totals of the batched steps (the
      # kernels after the last one-token step) and the whole CSV in $OUT.
      spec=${stage#profile-b}; batch=${spec%%-*}; dtype=${spec#*-}
      dir=/tmp/v2l-quick-$dtype
      [ -f "$dir/config.json" ] || fathom create-random --like v2-lite --layers 4 --dtype "$dtype" -o "$dir" --force 2>&1 | tail -1
      ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --launch-count 4000 --csv \
        "$host/fathom-gpuhost" fathom bench --device cuda -m "$dir" -p 0 -n 3 -b "$batch" -r 1 --no-warmup > "$out/ncu-$stage.csv" 2> "$out/ncu-$stage.err"
      python3 "$root/tools/gpu/ncu_tail.py" "$out/ncu-$stage.csv" 3 --order ;;
    detail-b*)
      # ncu's full sections (throughput, occupancy, warp stalls, memory) for the kernels matching $KERNELS
      # (default mma_moe: the tensor-core expert products) in batch-N decode steps of the 4-layer DTYPE
      # checkpoint, GPU clocks, warm caches; text report in $OUT/ncu-$stage.txt, key lines printed.
      spec=${stage#detail-b}; batch=${spec%%-*}; dtype=${spec#*-}
      dir=/tmp/v2l-quick-$dtype
      [ -f "$dir/config.json" ] || fathom create-random --like v2-lite --layers 4 --dtype "$dtype" -o "$dir" --force 2>&1 | tail -1
      ncu --clock-control none --cache-control none --set full --import-source no --kernel-name "regex:${KERNELS:-mma_moe}" \
        --launch-skip "${SKIP:-8}" --launch-count "${COUNT:-4}" \
        "$host/fathom-gpuhost" fathom bench --device cuda -m "$dir" -p 0 -n 3 -b "$batch" -r 1 --no-warmup > "$out/ncu-$stage.txt" 2> "$out/ncu-$stage.err"
      grep -E "^  [a-z_0-9]+|Duration|DRAM Throughput|Memory Throughput|L2 Hit Rate|L1/TEX Hit|Achieved Occupancy|Theoretical Occupancy|Registers Per|Block Limit Reg|Waves Per SM|Issue Slots Busy|Eligible Warps|Warp Cycles Per Issued|No Eligible|One or More" "$out/ncu-$stage.txt" | head -80 ;;
    steps-bf16|steps-fp8)
      # ncu at the GPU's own clocks and with warm caches (as the kernels run in a decode step, not as ncu's
      # defaults of base clocks and flushed caches): one batch-1 step of a 4-layer checkpoint, kernel by
      # kernel in launch order, then the per-name totals of two steps.
      dtype=${stage#steps-}
      dir=/tmp/v2l-quick-$dtype
      [ -f "$dir/config.json" ] || fathom create-random --like v2-lite --layers 4 --dtype "$dtype" -o "$dir" --force 2>&1 | tail -1
      ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --launch-skip 700 --launch-count 240 --csv \
        "$host/fathom-gpuhost" fathom bench --device cuda -m "$dir" -p 0 -n 24 -r 1 --no-warmup > "$out/ncu-$stage.csv" 2> "$out/ncu-$stage.err"
      python3 "$root/tools/gpu/ncu_tail.py" "$out/ncu-$stage.csv" 2 --order ;;
    knobs-*)
      spec=${stage#knobs-}; dtype=${spec%%-*}; layers=""; [ "$spec" != "$dtype" ] && layers=${spec#*-L}
      dir=/tmp/v2l-$dtype${layers:+-$layers}
      [ -f "$dir/config.json" ] || fathom create-random --like v2-lite ${layers:+--layers $layers} --dtype "$dtype" -o "$dir" --force 2>&1 | tail -1
      configs=${KNOBS:-base}
      for round in $(seq 1 "${ROUNDS:-2}"); do
        order=$configs; [ $((round % 2)) = 0 ] && order=$(echo $configs | tr ' ' '\n' | tac | tr '\n' ' ')
        for config in $order; do
          name=${config%%:*}; vars=""; [ "$name" != "$config" ] && vars=$(echo "${config#*:}" | tr ',' ' ')
          env $vars "$host/fathom-gpuhost" fathom bench --device cuda -m "$dir" -p 0 -n "${GEN:-64}" -r "${REPS:-3}" -b "${BATCH:-1}" --json 2>/dev/null | tail -1 > /tmp/knob.json
          python3 -c "import json,sys; d=json.load(open('/tmp/knob.json')); b=d.get('decode_batch_tokens_per_s') or {}; print(sys.argv[1], 'r' + sys.argv[2], d['decode_tokens_per_s'], d['decode_tokens_per_s_runs'], d['gpu']['decode_fraction_of_floor'], ' '.join(f'b{k} {v}' for k, v in b.items()))" "$dtype${layers:+-L$layers} $name" "$round"
        done
      done | tee -a "$out/knobs.txt" ;;
    sizes)
      kdir=$root/src/Fathom.Backends.Cuda/Kernels
      order=$(grep -o 'Sources = \[[^]]*\]' "$root/src/Fathom.Backends.Cuda/CudaContext.cs" | grep -o '"[^"]*"' | tr -d '"')
      for f in $order; do cat "$kdir/$f"; done > /tmp/fathom-all.cu
      nvcc -cubin -arch=sm_90 -std=c++17 -DFATHOM_PDL=1 -DFATHOM_STREAM_HINT=2 -o /tmp/fathom-all.cubin /tmp/fathom-all.cu 2>&1 | grep -iv warning | head -5
      cuobjdump -sass /tmp/fathom-all.cubin | awk '/Function :/ {name = $3} /\/\*[0-9a-f]+\*\// {n[name]++} END {for (f in n) printf "%7d %s\n", n[f], f}' \
        | sort -rn | tee "$out/sass-sizes.txt" | head -40 ;;
    ab-bf16|ab-fp8|ab-decode-bf16|ab-decode-fp8)
      # The old build and this one alternating over two rounds (old new, new old) on the full checkpoint:
      # ab-DTYPE prefill 2048 and decode at batch 1, 32, 128; ab-decode-DTYPE decode only at $BATCHES
      # (default 1,32,64), one line per run.
      dtype=${stage##*-}
      dir=/tmp/v2l-$dtype
      [ -f "$dir/config.json" ] || fathom create-random --like v2-lite --dtype "$dtype" -o "$dir" --force 2>&1 | tail -1
      for round in 1 2; do
        order="old new"; [ $round = 2 ] && order="new old"
        for build in $order; do
          exe=$host/fathom-gpuhost; [ $build = old ] && exe=$old/fathom-gpuhost
          if [ "${stage#ab-decode}" = "$stage" ]; then
            "$exe" fathom bench --device cuda -m "$dir" -p 2048 -n 32 -r 2 -b 1,32,128 -o "$out/ab-$dtype-$build-r$round.json" 2>&1 | tail -8 | sed "s/^/$build r$round: /"
            continue
          fi
          json=$out/ab-decode-$dtype-$build-r$round.json
          "$exe" fathom bench --device cuda -m "$dir" -p 0 -n 32 -r 2 -b "${BATCHES:-1,32,64}" --json 2>/dev/null | tail -1 > "$json"
          python3 -c "import json,sys; d=json.load(open(sys.argv[1])); b=d.get('decode_batch_tokens_per_s') or {}; print(sys.argv[2], 'b1', d['decode_tokens_per_s'], ' '.join(f'b{k} {v}' for k, v in b.items()))" "$json" "$build r$round"
        done
      done | tee -a "$out/ab.txt" ;;
    bench-bf16|bench-fp8)
      dtype=${stage#bench-}
      dir=/tmp/v2l-$dtype
      [ -f "$dir/config.json" ] || fathom create-random --like v2-lite --dtype "$dtype" -o "$dir" --force 2>&1 | tail -1
      fathom bench --device cuda -m "$dir" -p 2048 -n 64 -r 3 -b 1,8,32,128 -o "$out/bench-$dtype.json" 2>&1 | tail -16
      if [ "$dtype" = bf16 ]; then
        PYTHONUNBUFFERED=1 timeout 400 python3 "$root/tools/gpu/hf_decode_bench.py" "$dir" 32 8 > "$out/hf-bf16.json" 2> "$out/hf-bf16.err"; tail -3 "$out/hf-bf16.err"; cat "$out/hf-bf16.json"
      fi ;;
  esac
done
