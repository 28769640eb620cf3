#!/usr/bin/env bash
# Quantizes the bundled demo model in every format and method, then measures each copy on the demo's
# held-out text against the original: perplexity, cosine similarity, relative error, top-1 agreement and
# KL divergence (fathom eval), size of the weights on disk, and decode speed (fathom bench).
#
#   dotnet build src/Fathom.Cli -c Release
#   benchmarks/quantization.sh benchmarks/results/DATE_MACHINE_quantization.json [WORK_DIR]
#
# WORK_DIR (default: a temporary folder, removed at the end) keeps the quantized models and the raw
# reports; a step whose report is already there is not run again, so an interrupted session resumes.
# NICE=19 runs every step niced (on a shared machine; the speeds are then rough figures).
# INT4 uses groups of 128 with q_b_proj kept in BF16 (its 192 inputs are not a multiple of 128);
# calibration (AWQ, GPTQ) reads models/fathom-demo/calibration.txt, the corpus's calibration split.
set -euo pipefail
out=${1:?usage: benchmarks/quantization.sh OUTPUT.json}
cd "$(dirname "$0")/.."
fathom() { nice -n "${NICE:-0}" ${FATHOM:-dotnet src/Fathom.Cli/bin/Release/net10.0/fathom.dll} "$@" < /dev/null; }
model=models/fathom-demo
text=tests/TestData/fathom-demo/heldout.txt
if [[ -n ${2:-} ]]; then
  work=$2; mkdir -p "$work"
else
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fi

variants=(${VARIANTS:-original int8:rtn int4:rtn int4:awq int4:gptq fp8:rtn int8:awq int8:gptq})
for v in "${variants[@]}"; do
  name=${v/:/-}
  dir=$model
  if [[ $v != original ]]; then
    format=${v%%:*}; method=${v##*:}
    extra=()
    [[ $format == int4 ]] && extra=(--group-size 128 --keep q_b_proj)
    dir=$work/$name
    if [[ ! -s $work/$name.quantize.json ]]; then
      echo "== quantize $name" >&2
      rm -rf "$dir"
      start=$(date +%s.%N)
      fathom quantize --model $model --out "$dir" --format "$format" --method "$method" "${extra[@]}" --json > "$work/$name.quantize.tmp"
      echo "$(date +%s.%N) - $start" | bc > "$work/$name.seconds"
      mv "$work/$name.quantize.tmp" "$work/$name.quantize.json"
    fi
  fi
  if [[ ! -s $work/$name.eval.json ]]; then
    echo "== eval $name" >&2
    fathom eval --model "$dir" --reference $model --text $text --json > "$work/$name.eval.tmp"
    mv "$work/$name.eval.tmp" "$work/$name.eval.json"
  fi
  if [[ ! -s $work/$name.bench.json ]]; then
    echo "== bench $name" >&2
    fathom bench --model "$dir" --load memory -p 0 -n 128 -r 3 --json 2>/dev/null | tail -1 > "$work/$name.bench.tmp"
    mv "$work/$name.bench.tmp" "$work/$name.bench.json"
  fi
  du -cb "$dir"/*.safetensors | tail -1 | cut -f1 > "$work/$name.bytes"
done

python3 - "$work" "$out" "${variants[@]}" <<'PY'
import json, sys, os
work, out, variants = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = []
for v in variants:
    name = v.replace(":", "-")
    if not os.path.exists(os.path.join(work, name + ".bench.json")):
        continue
    e = json.load(open(os.path.join(work, name + ".eval.json")))
    b = json.load(open(os.path.join(work, name + ".bench.json")))
    row = {
        "variant": name,
        "format": "fp8 (release)" if v == "original" else v.split(":")[0],
        "method": "-" if v == "original" else v.split(":")[1],
        "group_size": 128 if v.startswith("int4") else None,
        "weight_bytes": int(open(os.path.join(work, name + ".bytes")).read()),
        "perplexity": e["perplexity"],
        "reference_perplexity": e["reference_perplexity"],
        "perplexity_change": e["perplexity_change"],
        "cosine_mean": e["cosine_mean"], "cosine_worst": e["cosine_worst"],
        "relative_error_mean": e["relative_error_mean"], "relative_error_worst": e["relative_error_worst"],
        "top1_agreement": e["top1_agreement"], "kl_divergence": e["kl_divergence"],
        "tokens": e["tokens"],
        "decode_tokens_per_s": b["decode_tokens_per_s"], "decode_other_cpu_runs": b.get("decode_other_cpu_runs"),
        "linear_weight_bytes_by_type": b.get("linear_weight_bytes_by_type"),
    }
    q = os.path.join(work, name + ".quantize.json")
    if os.path.exists(q):
        row["quantize"] = json.load(open(q))
        row["quantize_seconds"] = float(open(os.path.join(work, name + ".seconds")).read().strip().splitlines()[-1])
    rows.append(row)
machine = b.get("machine")
json.dump({"benchmark": "quantization of models/fathom-demo", "text": "tests/TestData/fathom-demo/heldout.txt",
           "machine": machine, "rows": rows}, open(out, "w"), indent=2)
open(out, "a").write("\n")
print("| format | method | weights MiB | perplexity | Δ ppl | cos mean | cos worst | rel. err | top-1 | KL | decode tok/s |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print("| %s | %s | %.1f | %.4f | %+.2f%% | %.5f | %.4f | %.4f | %.2f%% | %.5f | %.1f |" % (
        r["format"], r["method"], r["weight_bytes"] / 1048576, r["perplexity"], 100 * r["perplexity_change"],
        r["cosine_mean"], r["cosine_worst"], r["relative_error_mean"], 100 * r["top1_agreement"],
        r["kl_divergence"], r["decode_tokens_per_s"]))
PY
