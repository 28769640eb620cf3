#!/usr/bin/env python3
"""Write an INT8 (SGLang w8a8_int8) or INT4 (AutoAWQ "gemm") checkpoint from a BF16/F16/F32 DeepSeek
checkpoint, following the published layouts independently of Fathom's own writer (Python standard
library only), plus an expectations file with the dequantized values of a few tensors.

  python3 tools/quantized-reference/write_quantized.py --model tests/TestData/tiny-v3/model \
      --out tests/TestData/tiny-v3-int8 --format int8
  python3 tools/quantized-reference/write_quantized.py --model tests/TestData/tiny-v3/model \
      --out tests/TestData/tiny-v3-awq --format awq --group-size 32

Layouts, for a linear layer weight W [out, in]:
  w8a8_int8: <name>.weight int8 [out, in], <name>.weight_scale float32 [out, 1];
             W = weight * weight_scale (symmetric, scale = max|row| / 127).
  awq:       <name>.qweight int32 [in, out/8], <name>.qzeros int32 [in/g, out/8], <name>.scales f16 [in/g, out];
             W[o, i] = (q[i, o] - z[i/g, o]) * s[i/g, o]; int32 column j packs outputs 8j + ORDER[k] in
             bits 4k..4k+3 with ORDER = [0, 2, 4, 6, 1, 3, 5, 7]; scale = (max - min) / 15 per group,
             zero = clamp(-round(min / scale), 0, 15).
Only the attention and MLP/expert projections are quantized; embeddings, norms, router and head are copied.
Writes <out>/model/{config.json, model.safetensors, tokenizer files} and <out>/expected.safetensors.
"""
import argparse
import json
import os
import re
import shutil
import struct

AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
LINEAR = re.compile(r"model\.layers\.\d+\.(self_attn\.(q_a_proj|q_b_proj|q_proj|kv_a_proj_with_mqa|kv_b_proj|o_proj)"
                    r"|mlp\.(gate_proj|up_proj|down_proj)|mlp\.experts\.\d+\.(gate_proj|up_proj|down_proj)"
                    r"|mlp\.shared_experts\.(gate_proj|up_proj|down_proj))\.weight$")
EXPECT = ["model.layers.0.self_attn.q_b_proj.weight", "model.layers.1.mlp.experts.3.down_proj.weight",
          "model.layers.2.self_attn.kv_b_proj.weight"]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        tensors[name] = (info["dtype"], info["shape"], data[begin:end])
    return tensors


def to_floats(dtype, raw):
    if dtype == "BF16":
        return [struct.unpack("<f", b"\x00\x00" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
    if dtype == "F16":
        return list(struct.unpack("<%de" % (len(raw) // 2), raw))
    if dtype == "F32":
        return list(struct.unpack("<%df" % (len(raw) // 4), raw))
    raise SystemExit("unsupported dtype %s" % dtype)


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def f16(x):
    return struct.unpack("<e", struct.pack("<e", x))[0]


def int8(w, rows, cols):
    codes, scales, deq = bytearray(rows * cols), [], []
    for r in range(rows):
        row = w[r * cols:(r + 1) * cols]
        scale = max(abs(v) for v in row) / 127.0 or 1.0
        scale = struct.unpack("<f", struct.pack("<f", scale))[0]
        scales.append(scale)
        for c, v in enumerate(row):
            q = max(-127, min(127, round(v / scale)))
            codes[r * cols + c] = q & 0xFF
            deq.append(q * scale)
    return codes, scales, deq


def awq(w, rows, cols, group):
    groups = cols // group
    q = [[0] * rows for _ in range(cols)]            # [in, out]
    z = [[0] * rows for _ in range(groups)]          # [in/g, out]
    s = [[0.0] * rows for _ in range(groups)]        # [in/g, out]
    deq = [0.0] * (rows * cols)
    for o in range(rows):
        for g in range(groups):
            part = w[o * cols + g * group:o * cols + (g + 1) * group]
            lo, hi = min(part), max(part)
            scale = f16(max((hi - lo) / 15.0, 1e-5))
            zero = max(0, min(15, -round(lo / scale)))
            s[g][o], z[g][o] = scale, zero
            for k, v in enumerate(part):
                i = g * group + k
                code = max(0, min(15, round(v / scale) + zero))
                q[i][o] = code
                deq[o * cols + i] = (code - zero) * scale

    def pack(matrix):
        out = []
        for line in matrix:
            for j in range(rows // 8):
                word = 0
                for k in range(8):
                    word |= (line[8 * j + AWQ_ORDER[k]] & 0xF) << (4 * k)
                out.append(word)
        return struct.pack("<%dI" % len(out), *out)

    scales = struct.pack("<%de" % (groups * rows), *[v for line in s for v in line])
    return pack(q), pack(z), scales, deq


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=["int8", "awq"], required=True)
    p.add_argument("--group-size", type=int, default=128)
    a = p.parse_args()

    source = read_safetensors(os.path.join(a.model, "model.safetensors"))
    out, expected = {}, {}
    for name in sorted(source):
        dtype, shape, raw = source[name]
        if not LINEAR.match(name):
            out[name] = (dtype, shape, raw)
            continue
        rows, cols = shape
        w = to_floats(dtype, raw)
        stem = name[:-len(".weight")]
        if a.format == "int8":
            codes, scales, deq = int8(w, rows, cols)
            out[name] = ("I8", [rows, cols], bytes(codes))
            out[name + "_scale"] = ("F32", [rows, 1], struct.pack("<%df" % rows, *scales))
        else:
            if cols % a.group_size or rows % 8:
                raise SystemExit("%s [%d, %d]: group %d must divide the inputs, outputs must be a multiple of 8"
                                 % (name, rows, cols, a.group_size))
            qweight, qzeros, scales, deq = awq(w, rows, cols, a.group_size)
            out[stem + ".qweight"] = ("I32", [cols, rows // 8], qweight)
            out[stem + ".qzeros"] = ("I32", [cols // a.group_size, rows // 8], qzeros)
            out[stem + ".scales"] = ("F16", [cols // a.group_size, rows], scales)
        if name in EXPECT:
            expected[name] = ("F32", [rows, cols], struct.pack("<%df" % len(deq), *deq))

    model_dir = os.path.join(a.out, "model")
    os.makedirs(model_dir, exist_ok=True)
    write_safetensors(os.path.join(model_dir, "model.safetensors"), out)
    write_safetensors(os.path.join(a.out, "expected.safetensors"), expected)
    with open(os.path.join(a.model, "config.json")) as f:
        config = json.load(f)
    config["quantization_config"] = {"quant_method": "w8a8_int8"} if a.format == "int8" else {
        "quant_method": "awq", "bits": 4, "group_size": a.group_size, "zero_point": True, "version": "gemm",
        "modules_to_not_convert": None}
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    for extra in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        if os.path.exists(os.path.join(a.model, extra)):
            shutil.copy(os.path.join(a.model, extra), os.path.join(model_dir, extra))


if __name__ == "__main__":
    main()
