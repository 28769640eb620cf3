"""Per-kernel times of the last STEPS decode steps in an ncu CSV (gpu__time_duration.sum per launch).

The steps are found from the end: a step starts at an embedding launch (embed_*), so the kernels after
the STEPS-th embed launch from the end are the batched steps a `fathom bench -b N` run ends with.
With --order, the kernels of the last whole step are listed first, one per line in launch order.
Usage: ncu_tail.py FILE.csv STEPS [--order]
"""
import collections
import csv
import sys

rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
head = rows[0]
k, v = head.index("Kernel Name"), head.index("Metric Value")
launches = []
for r in rows[1:]:
    try:
        launches.append((r[k], float(r[v].replace(",", ""))))
    except ValueError:
        pass
steps = int(sys.argv[2])
starts = [i for i, (name, _) in enumerate(launches) if name.startswith("embed_")]
tail = launches[starts[-steps]:] if len(starts) >= steps else launches
if "--order" in sys.argv[3:]:
    # The last whole step: the profiled window may cut the final one short.
    last = launches[starts[-2]:starts[-1]] if len(starts) >= 2 else launches
    for name, ns in last:
        print(f"{ns / 1e3:8.1f} us  {name[:70]}")
    print(f"{sum(ns for _, ns in last) / 1e3:8.1f} us  in one step ({len(last)} kernels)")
t, c = collections.defaultdict(float), collections.Counter()
for name, ns in tail:
    t[name[:70]] += ns
    c[name[:70]] += 1
total = sum(t.values())
for name, ns in sorted(t.items(), key=lambda x: -x[1]):
    print(f"{ns / 1e3 / steps:10.1f} us/step {c[name] // steps:4d}x {ns / total * 100:5.1f}%  {name}")
print(f"total {total / 1e3 / steps:.1f} us per step over {len(tail) // steps} kernels ({len(launches)} launches profiled)")
