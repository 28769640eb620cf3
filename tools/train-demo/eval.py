#!/usr/bin/env python3
"""Evaluate an exported fathom-demo folder the way an inference engine reads it.

FP8 weights are dequantized as value x block scale (float32 multiply, 128x128 blocks), bf16
tensors are widened exactly. The main model runs in Hugging Face transformers'
DeepseekV3ForCausalLM (eager attention; float32, and float64 for the greedy references), built
from the folder's config.json without quantization_config and loaded with the dequantized
tensors; the MTP tensors model.layers.{N}.* are left out for transformers and run with this
repository's own MTP code (model.py) on the same dequantized weights.

Perplexity (sliding window): the held-out file is read as UTF-8 and tokenised as one stream
x = [BOS] + encode(text) of N tokens. Windows [b, e) with b = 0, S, 2S, ... and e = min(b+W, N)
are independent forward passes (positions 0..e-b-1). Window k scores the targets x_p for
p in [max(e_{k-1}, b+1), e) (e_{-1} = 0), i.e. those not scored by the previous window, each
predicted from x[b..p-1]. Stop after the window with e = N.
perplexity = exp(sum of -ln p(x_p | context) / number of scored targets), scored targets = N-1.

MTP acceptance: in the same windows, for every scored target p with p-2 >= b, let i = p-2. The MTP
head's draft d_i = argmax MTP(Emb(x_{i+1}), h_i) (h = main model's final hidden state after
model.norm) is accepted iff it equals the main model's greedy prediction at position i+1,
argmax logits_{i+1} (the token a speculative decoder would accept). acceptance = accepted / counted.

Unigram baseline: p(v) = (count_train(v) + 1) / (total_train + V) from the token counts of the
train split's documents (encode(text), no BOS/EOS), V = tokenizer vocabulary size; scored on the
same targets x_1..x_{N-1}.
"""
import argparse
import copy
import gzip
import json
import math
import os
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import DemoModel, load_hf_tensors  # noqa: E402
from export import dequantize_fp8_blocks  # noqa: E402

BOS, EOS = 0, 1

GREEDY_PROMPTS = [
    {"prompt": "Once upon a time"},
    {"prompt": "The Lord is my shepherd"},
    {"prompt": "def fibonacci(n):"},
    {"prompt": "人生"},
    {"prompt": "It is a truth universally acknowledged"},
    {"prompt": "床前明月光"},
    {"prompt": "Call me Ishmael."},
    {"messages": [{"role": "user", "content": "Tell me a fortune."}]},
    {"messages": [{"role": "user", "content": "背一首唐诗。"}]},
]

SAMPLE_PROMPTS = [
    {"prompt": "Once upon a time"},
    {"prompt": "It was a dark and stormy night"},
    {"prompt": "In the beginning"},
    {"prompt": "Python is"},
    {"prompt": "人生"},
    {"prompt": "春风"},
    {"messages": [{"role": "user", "content": "Tell me a fortune."}]},
    {"messages": [{"role": "user", "content": "背一首唐诗。"}]},
]


def load_exported(folder):
    from safetensors.torch import load_file
    cfg = json.load(open(os.path.join(folder, "config.json")))
    idx = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    raw = {}
    for fn in files:
        raw.update(load_file(os.path.join(folder, fn)))
    sd, kinds = {}, {}
    for name, t in raw.items():
        if name.endswith("_scale_inv"):
            continue
        if t.dtype == torch.float8_e4m3fn:
            sd[name] = dequantize_fp8_blocks(t, raw[name + "_scale_inv"])
        else:
            sd[name] = t.float()
        kinds[str(t.dtype)] = kinds.get(str(t.dtype), 0) + 1
    return cfg, sd, kinds


def build_hf(cfg, sd, device, dtype):
    from safetensors.torch import save_file
    from transformers import DeepseekV3ForCausalLM
    tmp = tempfile.mkdtemp(prefix="fathom-demo-hf-")
    hcfg = dict(cfg)
    hcfg.pop("quantization_config", None)
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(hcfg, f, indent=2)
    n = cfg["num_hidden_layers"]
    main = {k: v.contiguous() for k, v in sd.items() if not k.startswith(f"model.layers.{n}.")}
    save_file(main, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
    kw = dict(attn_implementation="eager", output_loading_info=True)
    try:
        model, info = DeepseekV3ForCausalLM.from_pretrained(tmp, dtype=dtype, **kw)
    except TypeError:
        model, info = DeepseekV3ForCausalLM.from_pretrained(tmp, torch_dtype=dtype, **kw)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        raise RuntimeError(f"transformers did not load the checkpoint cleanly: {bad}")
    if hasattr(model, "set_experts_implementation"):
        try:
            model.set_experts_implementation("eager")
        except Exception as e:  # noqa: BLE001
            print(f"note: set_experts_implementation: {e}")
    return model.to(device=device, dtype=dtype).eval()


def render_chat(tok_cfg, messages):
    import jinja2.sandbox
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    bos = tok_cfg["bos_token"]["content"] if isinstance(tok_cfg["bos_token"], dict) else tok_cfg["bos_token"]
    return env.from_string(tok_cfg["chat_template"]).render(messages=messages, bos_token=bos,
                                                              add_generation_prompt=True)


def prompt_ids(tok, tok_cfg, case):
    if "messages" in case:
        text = render_chat(tok_cfg, case["messages"])
        return text, tok.encode(text, add_special_tokens=False).ids
    return case["prompt"], [BOS] + tok.encode(case["prompt"], add_special_tokens=False).ids


@torch.no_grad()
def windows_eval(hf, mine, ids, W, S, device, unigram_lp=None):
    x = torch.tensor(ids, device=device)
    n = len(ids)
    nll = 0.0
    scored = 0
    uni = 0.0
    acc = {"mtp_counted": 0, "mtp_accepted": 0, "mtp_correct": 0, "main_correct": 0}
    prev_end, b, nwin = 0, 0, 0
    while True:
        e = min(b + W, n)
        first = max(prev_end, b + 1)
        out = hf.model(input_ids=x[b:e][None])
        h = out.last_hidden_state
        logits = hf.lm_head(h)[0]
        lp = torch.log_softmax(logits.double(), dim=-1)
        tgt = x[first:e]
        nll += -lp[first - 1 - b:e - 1 - b].gather(1, tgt[:, None]).sum().item()
        scored += e - first
        pred = logits.argmax(-1)
        acc["main_correct"] += (pred[first - 1 - b:e - 1 - b] == tgt).sum().item()
        if unigram_lp is not None:
            uni += -unigram_lp[tgt].sum().item()
        if mine is not None and e - b >= 3:
            mlog = mine.mtp_logits(x[b + 1:e][None], h[:, :e - b - 1].to(next(mine.parameters()).dtype))[0]
            draft = mlog.argmax(-1)                       # draft[j] predicts x_{b+j+2}
            lo = max(first, b + 2)
            if lo < e:
                p = torch.arange(lo, e, device=device)
                i = p - 2
                d = draft[i - b]
                g = pred[i + 1 - b]
                acc["mtp_counted"] += p.numel()
                acc["mtp_accepted"] += (d == g).sum().item()
                acc["mtp_correct"] += (d == x[p]).sum().item()
        nwin += 1
        prev_end = e
        if e == n:
            break
        b += S
    res = {"tokens": n, "scored_tokens": scored, "windows": nwin, "nll": nll, "perplexity": math.exp(nll / scored),
           "main_top1_accuracy": acc["main_correct"] / scored}
    if unigram_lp is not None:
        res["unigram_perplexity"] = math.exp(uni / scored)
    if mine is not None:
        res.update(mtp_acceptance=acc["mtp_accepted"] / max(1, acc["mtp_counted"]),
                   mtp_counted=acc["mtp_counted"], mtp_top1_accuracy=acc["mtp_correct"] / max(1, acc["mtp_counted"]))
    return res


def routing_gaps(mine, ids, device):
    """Smallest margins of the expert and group choices (main layers, all positions of one forward
    pass over ids), computed in float64 with this repository's router on the exported weights."""
    gaps = {"expert": float("inf"), "group": float("inf")}
    hooks = []

    def hook(mod, args, output):
        xx = args[0].double()
        s = torch.sigmoid(xx @ mod.weight.double().t())
        sfc = s + mod.e_score_correction_bias.double()
        e, g, kg, k = mod.e, mod.g, mod.kg, mod.k
        gs = sfc.view(-1, g, e // g).topk(2, dim=-1)[0].sum(-1)
        if kg < g:
            srt = gs.sort(dim=-1, descending=True).values
            gaps["group"] = min(gaps["group"], (srt[:, kg - 1] - srt[:, kg]).min().item())
        _, masked = mod.select(s)
        srt = masked.double().sort(dim=-1, descending=True).values
        gaps["expert"] = min(gaps["expert"], (srt[:, k - 1] - srt[:, k]).min().item())

    for layer in mine.model.layers:
        if layer.is_moe:
            hooks.append(layer.mlp.gate.register_forward_hook(hook))
    with torch.no_grad():
        mine.logits_and_hidden(torch.tensor([ids], device=device))
    for h in hooks:
        h.remove()
    return gaps


@torch.no_grad()
def greedy(model, ids, n_new, device):
    ids = list(ids)
    out, gap = [], float("inf")
    for _ in range(n_new):
        logits = model(input_ids=torch.tensor([ids], device=device)).logits[0, -1]
        top = logits.topk(2)
        gap = min(gap, (top.values[0] - top.values[1]).item())
        t = int(top.indices[0])
        out.append(t)
        ids.append(t)
    return out, gap


@torch.no_grad()
def sample(model, ids, n_new, temperature, top_p, gen, device):
    ids = list(ids)
    out = []
    for _ in range(n_new):
        logits = model(input_ids=torch.tensor([ids], device=device)).logits[0, -1].float() / temperature
        probs = torch.softmax(logits, -1)
        sp, si = probs.sort(descending=True)
        cum = sp.cumsum(-1)
        sp[(cum - sp) > top_p] = 0.0
        t = int(si[torch.multinomial(sp / sp.sum(), 1, generator=gen)])
        if t == EOS:
            break
        out.append(t)
        ids.append(t)
    return out


def unigram_logprobs(tok, corpus, vocab, device):
    texts = []
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if not d["src"].startswith("chat:"):
                texts.append(d["text"])
    counts = torch.zeros(vocab, dtype=torch.float64)
    for i in range(0, len(texts), 4096):
        for e in tok.encode_batch(texts[i:i + 4096], add_special_tokens=False):
            counts += torch.bincount(torch.tensor(e.ids, dtype=torch.int64), minlength=vocab).double()
    lp = torch.log((counts + 1) / (counts.sum() + vocab))
    return lp.to(device), int(counts.sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="exported folder (FP8)")
    ap.add_argument("--compare", default=None, help="a second exported folder (e.g. bf16) for perplexity only")
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--text-file-name", default=None, help="name written into perplexity.json")
    ap.add_argument("--train-corpus", default=None)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--stride", type=int, default=256)
    ap.add_argument("--max-heldout-chars", type=int, default=0, help="smoke tests: evaluate a prefix only")
    ap.add_argument("--greedy-new", type=int, default=32)
    ap.add_argument("--sample-new", type=int, default=120)
    ap.add_argument("--min-gap", type=float, default=1e-3)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    import transformers
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tok_cfg = json.load(open(os.path.join(args.model, "tokenizer_config.json"), encoding="utf-8"))
    report = {"transformers": transformers.__version__, "torch": torch.__version__, "device": str(device),
              "window": args.window, "stride": args.stride}

    cfg, sd, kinds = load_exported(args.model)
    report["stored_dtypes"] = kinds
    hf = build_hf(cfg, sd, device, torch.float32)
    mine = DemoModel(cfg).to(device).float().eval()
    load_hf_tensors(mine, sd, strict=True)
    print(f"loaded in {time.time() - t0:.1f}s; transformers {transformers.__version__}", flush=True)

    with open(args.heldout, encoding="utf-8", newline="") as f:
        text = f.read()
    if args.max_heldout_chars:
        text = text[:args.max_heldout_chars]
    ids = [BOS] + tok.encode(text, add_special_tokens=False).ids

    # transformers vs this repository's implementation on the same weights (main model)
    with torch.no_grad():
        xw = torch.tensor([ids[:args.window]], device=device)
        ref = hf(input_ids=xw).logits[0].double()
        got, _ = mine.logits_and_hidden(xw)
        got = got[0].double()
        report["impl_check"] = {"max_abs_diff": (ref - got).abs().max().item(),
                                "rel_l2": ((ref - got).norm() / ref.norm()).item(),
                                "argmax_agree": (ref.argmax(-1) == got.argmax(-1)).float().mean().item()}
    print("impl check", report["impl_check"], flush=True)

    unigram = None
    if args.train_corpus:
        unigram, ntrain = unigram_logprobs(tok, args.train_corpus, tok.get_vocab_size(), device)
        report["unigram_train_tokens"] = ntrain
    res = windows_eval(hf, mine, ids, args.window, args.stride, device, unigram)
    report["heldout_fp8"] = res
    print("held-out (FP8 export):", json.dumps(res), flush=True)
    with open(os.path.join(args.out, "perplexity.json"), "w") as f:
        json.dump({"text_file": args.text_file_name or os.path.basename(args.heldout), "window": args.window,
                   "stride": args.stride, "tokens": res["tokens"], "scored_tokens": res["scored_tokens"],
                   "nll": res["nll"], "perplexity": res["perplexity"], "bos_prepended": True,
                   "dtype": "float32", "model": "models/fathom-demo"}, f, indent=2)
        f.write("\n")

    if args.compare:
        ccfg, csd, ckinds = load_exported(args.compare)
        chf = build_hf(ccfg, csd, device, torch.float32)
        cres = windows_eval(chf, None, ids, args.window, args.stride, device, None)
        report["heldout_compare"] = {"folder": args.compare, "stored_dtypes": ckinds, **cres}
        print("held-out (compare):", json.dumps(cres), flush=True)
        del chf

    # AutoTokenizer agreement (informational)
    try:
        from transformers import AutoTokenizer
        at = AutoTokenizer.from_pretrained(args.model)
        s = "Once upon a time, 人生 def f(x):\n  return 42"
        msgs = [{"role": "user", "content": "Tell me a fortune."}]
        at_chat = at.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
        if isinstance(at_chat, dict) or hasattr(at_chat, "keys"):
            at_chat = at_chat["input_ids"]
        at_ids = list(at(s)["input_ids"])
        report["autotokenizer"] = {
            "class": type(at).__name__,
            "encode_agrees": at_ids == [BOS] + tok.encode(s, add_special_tokens=False).ids,
            "encode_ids": at_ids[:8],
            "chat_agrees": list(at_chat) == prompt_ids(tok, tok_cfg, {"messages": msgs})[1]}
    except Exception as e:  # noqa: BLE001
        report["autotokenizer"] = {"error": repr(e)[:300]}
    print("autotokenizer", report["autotokenizer"], flush=True)

    # greedy references in float64
    hf64 = copy.deepcopy(hf).to(torch.float64)
    mine64 = copy.deepcopy(mine).to(torch.float64)
    cases = []
    for case in GREEDY_PROMPTS:
        ptext, pids = prompt_ids(tok, tok_cfg, case)
        out64, gap64 = greedy(hf64, pids, args.greedy_new, device)
        out32, _ = greedy(hf, pids, args.greedy_new, device)
        rg = routing_gaps(mine64, pids + out64, device)
        c = {"prompt": ptext, "input_ids": pids, "output_ids": out64, "min_top1_top2_gap": gap64,
             "routing_min_expert_gap": rg["expert"], "routing_min_group_gap": rg["group"],
             "float32_agrees": out32 == out64, "text": tok.decode(out64, skip_special_tokens=False)}
        if "messages" in case:
            c["messages"] = case["messages"]
        cases.append(c)
        print(json.dumps(c, ensure_ascii=False), flush=True)
    keep = [c for c in cases if c["min_top1_top2_gap"] > args.min_gap and c["routing_min_expert_gap"] > 1e-5
            and c["routing_min_group_gap"] > 1e-5]
    report["greedy_all"] = cases
    with open(os.path.join(args.out, "greedy.json"), "w", encoding="utf-8") as f:
        json.dump({"model": "models/fathom-demo", "dtype": "float64", "max_new_tokens": args.greedy_new,
                   "stop_at_eos": False,
                   "cases": [{k: c[k] for k in ("prompt", "input_ids", "output_ids", "min_top1_top2_gap",
                                                "routing_min_expert_gap", "routing_min_group_gap")}
                             | ({"messages": c["messages"]} if "messages" in c else {}) for c in keep]},
                  f, ensure_ascii=False, indent=1)
        f.write("\n")
    del hf64, mine64

    gen = torch.Generator(device=device)
    gen.manual_seed(2024)
    samples = []
    for case in SAMPLE_PROMPTS:
        ptext, pids = prompt_ids(tok, tok_cfg, case)
        out = sample(hf, pids, args.sample_new, 0.8, 0.95, gen, device)
        s = {"prompt": case.get("prompt") or case["messages"][0]["content"], "chat": "messages" in case,
             "completion": tok.decode(out, skip_special_tokens=True)}
        samples.append(s)
        print(json.dumps(s, ensure_ascii=False), flush=True)
    report["samples"] = {"temperature": 0.8, "top_p": 0.95, "seed": 2024, "items": samples}
    report["seconds"] = time.time() - t0
    with open(os.path.join(args.out, "eval.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)
    print(json.dumps({k: report[k] for k in ("impl_check", "heldout_fp8")}, ensure_ascii=False))
    print(f"eval done in {report['seconds']:.0f}s", flush=True)


if __name__ == "__main__":
    main()
