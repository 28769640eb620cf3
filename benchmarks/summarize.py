#!/usr/bin/env python3
"""Medians of benchmarks/results/*.json, per format: all repetitions, and the quiet ones (other processes
took under 10% of the machine's CPU while they ran).  Usage: benchmarks/summarize.py [GLOB_PREFIX]"""
import glob, json, statistics, sys

prefix = sys.argv[1] if len(sys.argv) > 1 else ""
groups = {}
for path in sorted(glob.glob(f"benchmarks/results/{prefix}*.json")):
    report = json.load(open(path))
    if not isinstance(report, dict) or report.get("benchmark") not in ("fathom bench", "fathom bench-memory"):
        continue  # llama-bench's JSON (a list of tests), serving and quantization reports have their own shapes
    # DATE_MACHINE_FORMAT_rN.json; the format may itself hold underscores (q8_0, q4_k).
    kind = path.rsplit("/", 1)[-1].rsplit("_r", 1)[0].split("_", 2)[2]
    groups.setdefault(kind, []).append(report)


def line(reports, key, scale=1.0, unit=""):
    share_key = key.replace("tokens_per_s", "other_cpu").replace("bytes_per_s", "other_cpu") + "_runs"
    runs = [(v, s) for r in reports for v, s in zip(r.get(key + "_runs") or [], r.get(share_key) or [])]
    if not runs:
        return ""
    def fmt(values):
        return f"{statistics.median(values) / scale:.1f}{unit} (n={len(values)}, {min(values) / scale:.1f}-{max(values) / scale:.1f})" if values else "-"
    quiet = [v for v, s in runs if s is not None and s < 0.1]
    return f"  {key}: all {fmt([v for v, _ in runs])}, quiet {fmt(quiet)}"


for kind, reports in groups.items():
    print(kind, "rounds:", len(reports), "version:", ",".join(sorted({r["fathom_version"] for r in reports})))
    if reports[0]["benchmark"] == "fathom bench-memory":
        print(line(reports, "triad_bytes_per_s", 1e9, " GB/s"))
        print(line(reports, "read_bytes_per_s", 1e9, " GB/s"))
        continue
    print(line(reports, "prefill_tokens_per_s"))
    print(line(reports, "decode_tokens_per_s"))
    print(f"  weight_bytes_per_token {reports[0]['weight_bytes_per_token'] / 1e9:.3f} GB,"
          f" peak_rss {max(r['peak_rss_bytes'] for r in reports) / 1e9:.2f} GB")
