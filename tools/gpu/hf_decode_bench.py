"""Hugging Face transformers decoding a checkpoint at batch 1 on the GPU: the baseline `fathom bench
--device cuda` is compared with. Usage: hf_decode_bench.py MODEL_DIR [GEN_TOKENS] [PROMPT_TOKENS]
Prints one JSON line: decode tokens/s (median of 3 runs), with the same untimed short prompt first."""
import json
import statistics
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM

path = sys.argv[1]
gen = int(sys.argv[2]) if len(sys.argv) > 2 else 32
prompt = int(sys.argv[3]) if len(sys.argv) > 3 else 8
# transformers 5 validates config fields strictly: a float field written as an integer (0 rather than
# 0.0) is refused, so the model is opened through a folder of links with those fields made floats.
import os, tempfile
view = tempfile.mkdtemp(prefix="hf-view-")
for name in os.listdir(path):
    if name != "config.json":
        os.symlink(os.path.join(os.path.abspath(path), name), os.path.join(view, name))
config = json.load(open(os.path.join(path, "config.json")))
for key in ("attention_dropout", "initializer_range", "rms_norm_eps", "rope_theta", "routed_scaling_factor"):
    if isinstance(config.get(key), int):
        config[key] = float(config[key])
json.dump(config, open(os.path.join(view, "config.json"), "w"))
start = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(view, dtype=torch.bfloat16, device_map="cuda")
model.eval()
load = time.perf_counter() - start
generator = torch.Generator(device="cpu").manual_seed(0)
ids = torch.randint(0, model.config.vocab_size, (1, prompt), generator=generator).cuda()
feed = torch.randint(0, model.config.vocab_size, (gen + 4,), generator=generator).cuda()


def decode(steps):
    out = model(ids, use_cache=True)
    past = out.past_key_values
    torch.cuda.synchronize()
    t = time.perf_counter()
    for i in range(steps):
        out = model(feed[i : i + 1].view(1, 1), past_key_values=past, use_cache=True)
        past = out.past_key_values
        out.logits[:, -1].float().cpu()
    torch.cuda.synchronize()
    return steps / (time.perf_counter() - t)


with torch.no_grad():
    decode(4)
    rates = [decode(gen) for _ in range(3)]
print(json.dumps({
    "benchmark": "hf transformers decode",
    "model": path,
    "transformers": transformers.__version__,
    "torch": torch.__version__,
    "device": torch.cuda.get_device_name(0),
    "dtype": "bfloat16",
    "batch": 1,
    "prompt_tokens": prompt,
    "gen_tokens": gen,
    "load_seconds": round(load, 1),
    "decode_tokens_per_s": round(statistics.median(rates), 3),
    "decode_tokens_per_s_runs": [round(r, 3) for r in rates],
    "max_memory_allocated_bytes": torch.cuda.max_memory_allocated(),
}))
