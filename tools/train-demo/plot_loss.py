#!/usr/bin/env python3
"""Draw the loss curve (train main/MTP loss, calibration loss) as a small SVG. Standard library only.

Usage: python3 plot_loss.py results/loss_curve.csv results/train_summary.json out.svg
"""
import csv
import json
import sys


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    evals = json.load(open(sys.argv[2]))["evals"]
    w, h, ml, mr, mt, mb = 640, 360, 50, 20, 20, 40
    xmax = max(int(r["step"]) for r in rows)
    ymin, ymax = 2.0, 6.0

    def px(step):
        return ml + (w - ml - mr) * step / xmax

    def py(v):
        v = min(max(v, ymin), ymax)
        return mt + (h - mt - mb) * (ymax - v) / (ymax - ymin)

    def line(points, colour, width=1.2):
        pts = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in points)
        return f'<polyline fill="none" stroke="{colour}" stroke-width="{width}" points="{pts}"/>'

    sub = rows[::5] + [rows[-1]]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    for v in range(int(ymin), int(ymax) + 1):
        out.append(f'<line x1="{ml}" x2="{w - mr}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{ml - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v}</text>')
    for s in range(0, xmax + 1, 2000):
        out.append(f'<text x="{px(s):.1f}" y="{h - mb + 16}" text-anchor="middle">{s}</text>')
    out.append(f'<text x="{(w + ml) / 2}" y="{h - 6}" text-anchor="middle">step (32,768 tokens each)</text>')
    out.append(line([(int(r["step"]), float(r["loss"])) for r in sub], "#1f77b4"))
    out.append(line([(int(r["step"]), float(r["mtp_loss"])) for r in sub], "#ff7f0e"))
    out.append(line([(e["step"], e["calib_loss"]) for e in evals], "#2ca02c", 2))
    for i, (name, colour) in enumerate([("train loss (main, nats/token)", "#1f77b4"), ("train loss (MTP, t+2)", "#ff7f0e"),
                                        ("calibration loss (main, not trained on)", "#2ca02c")]):
        y = mt + 14 + 16 * i
        out.append(f'<line x1="{w - 270}" x2="{w - 250}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{w - 245}" y="{y}">{name}</text>')
    out.append("</svg>")
    open(sys.argv[3], "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
