#!/usr/bin/env python3
"""Train the fathom-demo DeepSeek-V3-architecture model (main model + one MTP module).

Loss = CE(main, t_{i+1}) + mtp_weight * CE(MTP, t_{i+2}) + bal_weight * sequence-wise balance loss.
After every optimizer step each MoE layer's e_score_correction_bias is moved by
bias_e += u * sign(mean_load - load_e) (DeepSeek-V3's auxiliary-loss-free balancing).

Data: documents of the train split, each as [BOS] + tokens + [EOS], shuffled with the seed and
concatenated into one stream; training windows of seq_len+2 tokens start at random offsets.
The calibration split is only evaluated (no gradients); the weights with the lowest calibration
loss (checked every --eval-every steps and at the end) are written as best.pt.

Usage (one GPU):
  python3 tools/train-demo/train.py --out /tmp/run --time-budget 420
  python3 tools/train-demo/train.py --out /tmp/run --resume          # continue a run
"""
import argparse
import csv
import gzip
import hashlib
import json
import math
import os
import random
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import DemoModel  # noqa: E402

BOS, EOS = 0, 1


def load_docs(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def tokenize_docs(tok, docs):
    enc = tok.encode_batch([d["text"] for d in docs], add_special_tokens=False)
    out = []
    for e in enc:
        ids = [BOS] + e.ids
        if ids[-1] != EOS:
            ids.append(EOS)
        out.append(ids)
    return out


def lr_at(step, total, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    p = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
    return args.lr * (args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))


@torch.no_grad()
def evaluate(model, windows, batch, mtp_weight):
    model.eval()
    tot, mt, n = 0.0, 0.0, 0
    for i in range(0, windows.shape[0], batch):
        w = windows[i:i + batch]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            _, loss, mtp, _, _ = model(w, mtp_weight)
        tot += loss.item() * w.shape[0]
        mt += mtp.item() * w.shape[0]
        n += w.shape[0]
    model.train()
    return tot / n, mt / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(HERE, "config.json"))
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "..", "..", "models", "fathom-demo", "tokenizer.json"))
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "..", ".corpus"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--mtp-weight", type=float, default=0.3)
    ap.add_argument("--bal-weight", type=float, default=1e-4)
    ap.add_argument("--bias-update", type=float, default=1e-3)
    ap.add_argument("--steps", type=int, default=0, help="total steps of the LR schedule (0: from --time-budget)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (smoke tests)")
    ap.add_argument("--time-budget", type=float, default=420.0, help="wall-clock seconds for the training loop")
    ap.add_argument("--probe-steps", type=int, default=40, help="steps timed to size the schedule")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--ckpt-every", type=float, default=120.0, help="seconds between resumable checkpoints")
    ap.add_argument("--compile", type=int, default=1)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--token-cache", default="", help="file to cache the tokenized stream in")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dev = torch.device("cuda")

    cfg = json.load(open(args.config))
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(args.tokenizer)
    assert tok.get_vocab_size() <= cfg["vocab_size"], (tok.get_vocab_size(), cfg["vocab_size"])
    assert tok.token_to_id("<｜begin▁of▁sentence｜>") == BOS and tok.token_to_id("<｜end▁of▁sentence｜>") == EOS

    t0 = time.time()
    h = hashlib.sha256(open(args.tokenizer, "rb").read())
    for fn in ("train.jsonl.gz", "calib.jsonl.gz"):
        h.update(open(os.path.join(args.corpus, fn), "rb").read())
    h.update(str(args.seed).encode())
    key = h.hexdigest()
    cache = args.token_cache
    if cache and os.path.exists(cache) and torch.load(cache, weights_only=False)["key"] == key:
        c = torch.load(cache, weights_only=False)
        stream, cstream, n_docs = c["stream"], c["cstream"], c["n_docs"]
    else:
        train_docs = load_docs(os.path.join(args.corpus, "train.jsonl.gz"))
        calib_docs = load_docs(os.path.join(args.corpus, "calib.jsonl.gz"))
        train_ids = tokenize_docs(tok, train_docs)
        calib_ids = tokenize_docs(tok, calib_docs)
        order = list(range(len(train_ids)))
        random.Random(args.seed).shuffle(order)
        stream = torch.tensor([t for i in order for t in train_ids[i]], dtype=torch.int64)
        cstream = torch.tensor([t for ids in calib_ids for t in ids], dtype=torch.int64)
        n_docs = len(train_docs)
        if cache:
            torch.save({"key": key, "stream": stream, "cstream": cstream, "n_docs": n_docs}, cache)
    T = args.seq_len
    nwin = cstream.numel() // (T + 2)
    calib_windows = cstream[:nwin * (T + 2)].view(nwin, T + 2).to(dev)
    stream = stream.to(dev)
    n_train_tokens = stream.numel()
    print(f"data: {n_docs} train docs, {n_train_tokens} tokens; calib {cstream.numel()} tokens "
          f"({nwin} windows); tokenized in {time.time() - t0:.1f}s", flush=True)

    model = DemoModel(cfg, dropout=args.dropout).to(dev)
    model.init_weights(args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters (embedding and head shared with the MTP module)", flush=True)

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "embed_tokens" not in name else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)

    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed)
    step, elapsed_before, total_steps = 0, 0.0, args.steps
    log, evals = [], []
    best = {"calib_loss": float("inf"), "step": -1}
    ckpt_path = os.path.join(args.out, "ckpt.pt")
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=dev, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"].cpu() if hasattr(ck["gen"], "cpu") else ck["gen"])
        torch.set_rng_state(ck["cpu_rng"].cpu())
        torch.cuda.set_rng_state(ck["cuda_rng"].cpu())
        step, elapsed_before, total_steps = ck["step"], ck["elapsed"], ck["total_steps"]
        log, evals, best = ck["log"], ck["evals"], ck["best"]
        print(f"resumed at step {step} ({elapsed_before:.0f}s done, schedule {total_steps} steps)", flush=True)

    fwd = torch.compile(model) if args.compile else model
    moe = model.moe_modules()

    def save_ckpt():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                    "cpu_rng": torch.get_rng_state(), "cuda_rng": torch.cuda.get_rng_state(),
                    "step": step, "elapsed": elapsed_before + (time.time() - t_start), "total_steps": total_steps,
                    "log": log, "evals": evals, "best": best, "cfg": cfg, "args": vars(args)}, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    def run_eval():
        cl, cm = evaluate(model, calib_windows, 16, args.mtp_weight)
        evals.append({"step": step, "calib_loss": cl, "calib_mtp_loss": cm,
                      "elapsed": elapsed_before + time.time() - t_start})
        print(f"eval step {step}: calib loss {cl:.4f} (ppl {math.exp(cl):.2f}) mtp {cm:.4f}", flush=True)
        if cl < best["calib_loss"]:
            best.update(calib_loss=cl, step=step)
            torch.save({"model": model.state_dict(), "cfg": cfg, "step": step, "calib_loss": cl},
                       os.path.join(args.out, "best.pt"))

    model.train()
    t_start = time.time()
    last_ckpt = t_start
    acc = torch.zeros(4, device=dev)
    acc_n = 0
    probe_t0 = None
    tokens_per_step = args.batch * T
    offs = torch.arange(T + 2, device=dev)
    while True:
        now = time.time()
        elapsed = elapsed_before + now - t_start
        if total_steps and step >= total_steps:
            break
        if args.max_steps and step >= args.max_steps:
            break
        if elapsed >= args.time_budget:
            print(f"time budget reached at step {step}", flush=True)
            break
        if not total_steps and step == args.probe_steps // 2:
            probe_t0 = now
        if not total_steps and step == args.probe_steps:
            dt = (now - probe_t0) / (args.probe_steps - args.probe_steps // 2)
            remaining = args.time_budget - elapsed
            n_evals = remaining / dt / args.eval_every
            n_ckpts = remaining / args.ckpt_every
            total_steps = step + int((0.97 * remaining - 0.6 * n_evals - 1.5 * n_ckpts - 5.0) / dt)
            print(f"step time {dt * 1000:.1f} ms ({tokens_per_step / dt / 1e3:.0f}k tok/s); "
                  f"schedule set to {total_steps} steps", flush=True)
        lr = lr_at(step, total_steps or 10 ** 9, args)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, n_train_tokens - (T + 2), (args.batch,), device=dev, generator=gen)
        batch = stream[starts[:, None] + offs[None, :]]
        with torch.autocast("cuda", dtype=torch.bfloat16):
            total, loss, mtp, bal, loads = fwd(batch, args.mtp_weight, args.bal_weight)
        total.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            loads = loads.float()
            for m, ld in zip(moe, loads):
                m.gate.e_score_correction_bias.add_(args.bias_update * torch.sign(ld.mean() - ld))
            acc += torch.stack([loss, mtp, bal, gnorm.float()])
            acc_n += 1
        step += 1
        if step % args.log_every == 0 or step == 1:
            a = (acc / acc_n).tolist()
            imb = (loads.max(dim=1).values / loads.mean(dim=1)).max().item()
            el = elapsed_before + time.time() - t_start
            rec = {"step": step, "tokens": step * tokens_per_step, "loss": a[0], "mtp_loss": a[1], "bal": a[2],
                   "grad_norm": a[3], "lr": lr, "max_load_over_mean": imb, "elapsed": el}
            log.append(rec)
            print(json.dumps(rec), flush=True)
            acc.zero_()
            acc_n = 0
        if step % args.eval_every == 0:
            run_eval()
        if time.time() - last_ckpt > args.ckpt_every:
            save_ckpt()
            last_ckpt = time.time()

    if not evals or evals[-1]["step"] != step:
        run_eval()
    save_ckpt()
    torch.save({"model": model.state_dict(), "cfg": cfg, "step": step}, os.path.join(args.out, "final.pt"))
    el = elapsed_before + time.time() - t_start
    with open(os.path.join(args.out, "loss_curve.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(log[0].keys()))
        w.writeheader()
        w.writerows(log)
    summary = {"steps": step, "schedule_steps": total_steps, "tokens_seen": step * tokens_per_step,
               "train_tokens": n_train_tokens, "epochs": step * tokens_per_step / n_train_tokens,
               "train_seconds": el, "tokens_per_second": step * tokens_per_step / max(el, 1e-9),
               "final_train_loss": log[-1]["loss"], "final_train_mtp_loss": log[-1]["mtp_loss"],
               "best": best, "evals": evals, "params": n_params, "args": vars(args),
               "bias_range": [[float(m.gate.e_score_correction_bias.min()), float(m.gate.e_score_correction_bias.max())]
                              for m in moe]}
    with open(os.path.join(args.out, "train_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: summary[k] for k in ("steps", "tokens_seen", "epochs", "train_seconds",
                                              "tokens_per_second", "final_train_loss", "best")}), flush=True)


if __name__ == "__main__":
    main()
