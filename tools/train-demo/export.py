#!/usr/bin/env python3
"""Write a trained checkpoint in the Hugging Face / DeepSeek-V3 layout.

FP8 mode (default), as DeepSeek ships V3: every linear weight of attention, the dense FFN, the
routed experts and the shared expert (also inside the MTP layer's decoder block) is stored as
float8_e4m3fn with a float32 `<name>_scale_inv` of shape [ceil(out/128), ceil(in/128)]: per
128x128 block (edge blocks partial), scale = amax/448 and q = round_to_e4m3(W / scale), so
W ~= q * scale_inv. The router weight, norms, embeddings, lm_head and the MTP projections
(eh_proj, enorm, hnorm, shared_head.*, embed_tokens) are bfloat16; e_score_correction_bias is
float32. With --no-fp8 all those linear weights are bfloat16 instead (for comparison).

Usage: python3 export.py --ckpt RUN/best.pt --out DIR [--no-fp8] [--tokenizer-dir models/fathom-demo]
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import DemoModel, hf_tensors  # noqa: E402

FP8_MODULES = ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj",
               "gate_proj", "up_proj", "down_proj")
BLOCK = 128
FP8_MAX = 448.0


def is_fp8_weight(name):
    parts = name.split(".")
    return name.endswith(".weight") and len(parts) >= 2 and parts[-2] in FP8_MODULES


def quantize_fp8_blocks(w):
    """w: float32 [M, K] -> (float8_e4m3fn [M, K], float32 scale_inv [ceil(M/128), ceil(K/128)])."""
    w = w.float()
    m, k = w.shape
    bm, bk = math.ceil(m / BLOCK), math.ceil(k / BLOCK)
    wp = F.pad(w, (0, bk * BLOCK - k, 0, bm * BLOCK - m))
    blocks = wp.view(bm, BLOCK, bk, BLOCK)
    amax = blocks.abs().amax(dim=(1, 3))
    scale = torch.where(amax > 0, amax / FP8_MAX, torch.ones_like(amax)).float()
    q = (blocks / scale[:, None, :, None]).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    q = q.view(bm * BLOCK, bk * BLOCK)[:m, :k].contiguous()
    return q, scale.contiguous()


def dequantize_fp8_blocks(q, scale_inv):
    m, k = q.shape
    s = scale_inv.float().repeat_interleave(BLOCK, 0).repeat_interleave(BLOCK, 1)[:m, :k]
    return q.float() * s


def export(model, out, fp8=True, tokenizer_dir=None, gen_cfg=None):
    from safetensors.torch import save_file
    cfg = dict(model.cfg)
    os.makedirs(out, exist_ok=True)
    tensors = {}
    for name, t in hf_tensors(model):
        t = t.detach().float().cpu()
        if name.endswith("e_score_correction_bias"):
            tensors[name] = t.contiguous()
        elif is_fp8_weight(name) and fp8:
            q, s = quantize_fp8_blocks(t)
            tensors[name] = q
            tensors[name + "_scale_inv"] = s
        else:
            tensors[name] = t.to(torch.bfloat16).contiguous()
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    if not fp8:
        cfg.pop("quantization_config", None)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    gen = gen_cfg or {"bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"],
                      "do_sample": True, "temperature": 0.8, "top_p": 0.95,
                      "transformers_version": cfg.get("transformers_version", "5.17.0")}
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
        f.write("\n")
    if tokenizer_dir:
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            src = os.path.join(tokenizer_dir, fn)
            if os.path.exists(src) and os.path.abspath(src) != os.path.abspath(os.path.join(out, fn)):
                shutil.copyfile(src, os.path.join(out, fn))
    return tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-fp8", action="store_true")
    ap.add_argument("--tokenizer-dir", default=os.path.join(HERE, "..", "..", "models", "fathom-demo"))
    args = ap.parse_args()
    ck = torch.load(args.ckpt, map_location="cpu", weights_only=False)
    model = DemoModel(ck["cfg"])
    model.load_state_dict(ck["model"])
    tensors = export(model, args.out, fp8=not args.no_fp8, tokenizer_dir=args.tokenizer_dir)
    nbytes = sum(t.numel() * t.element_size() for t in tensors.values())
    worst = 0.0
    if not args.no_fp8:
        for name, t in hf_tensors(model):
            if is_fp8_weight(name):
                w = t.detach().float()
                d = dequantize_fp8_blocks(tensors[name], tensors[name + "_scale_inv"])
                worst = max(worst, ((d - w).norm() / w.norm()).item())
    print(json.dumps({"out": args.out, "tensors": len(tensors), "bytes": nbytes, "fp8": not args.no_fp8,
                      "step": ck.get("step"), "worst_rel_fp8_error": worst}))


if __name__ == "__main__":
    main()
