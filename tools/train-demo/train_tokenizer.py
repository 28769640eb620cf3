#!/usr/bin/env python3
"""Train the fathom-demo byte-level BPE tokenizer with HF `tokenizers`.

The pipeline is DeepSeek-V3's (deepseek_v3_tokenizer_pipeline.json: empty normalizer, the three
Split regexes + ByteLevel(add_prefix_space=false, use_regex=false), ByteLevel decoder and
post-processor). Special tokens are DeepSeek-V3's, with the same `special`/`normalized` flags,
at ids 0.. (BOS 0, EOS 1, pad 2, ...), plus <think>/</think> as non-special added tokens.
The BPE is trained on the train split only (chat-formatted copies excluded).

Usage: python3 train_tokenizer.py --corpus .corpus/train.jsonl.gz --vocab-size 4096 --out DIR
"""
import argparse
import gzip
import json
import os

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))

SPECIALS = [
    # content, special, normalized (as in DeepSeek-V3's tokenizer.json; <think> pair as in later releases)
    ("<｜begin▁of▁sentence｜>", True, False),
    ("<｜end▁of▁sentence｜>", True, False),
    ("<｜▁pad▁｜>", True, False),
    ("<｜fim▁hole｜>", False, True),
    ("<｜fim▁begin｜>", False, True),
    ("<｜fim▁end｜>", False, True),
    ("<｜User｜>", False, True),
    ("<｜Assistant｜>", False, True),
    ("<|EOT|>", True, True),
    ("<｜tool▁calls▁begin｜>", False, True),
    ("<｜tool▁calls▁end｜>", False, True),
    ("<｜tool▁call▁begin｜>", False, True),
    ("<｜tool▁call▁end｜>", False, True),
    ("<｜tool▁outputs▁begin｜>", False, True),
    ("<｜tool▁outputs▁end｜>", False, True),
    ("<｜tool▁output▁begin｜>", False, True),
    ("<｜tool▁output▁end｜>", False, True),
    ("<｜tool▁sep｜>", False, True),
    ("<think>", False, True),
    ("</think>", False, True),
]


def check_flags_against_deepseek(pipe):
    ds = {a["content"]: a for a in pipe["added_tokens_deepseek_v3"]}
    for content, special, normalized in SPECIALS:
        if content in ds:
            assert ds[content]["special"] == special, content
            assert ds[content]["normalized"] == normalized, content


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--min-frequency", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    pipe = json.load(open(os.path.join(HERE, "deepseek_v3_tokenizer_pipeline.json"), encoding="utf-8"))
    check_flags_against_deepseek(pipe)

    texts = []
    with gzip.open(args.corpus, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if not d["src"].startswith("chat:"):
                texts.append(d["text"])

    splits = [p for p in pipe["pre_tokenizer"]["pretokenizers"] if p["type"] == "Split"]
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(s["pattern"]["Regex"]), behavior="isolated", invert=False) for s in splits]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=args.vocab_size, min_frequency=args.min_frequency, show_progress=False,
        special_tokens=[AddedToken(c, special=s, normalized=n) for c, s, n in SPECIALS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))

    trained = json.loads(tok.to_str())
    vocab = trained["model"]["vocab"]
    merges = trained["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    for i, (c, _, _) in enumerate(SPECIALS):
        assert vocab[c] == i, (c, vocab.get(c))
    added = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": n, "special": s} for i, (c, s, n) in enumerate(SPECIALS)]
    out = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": pipe["normalizer"],
        "pre_tokenizer": pipe["pre_tokenizer"],
        "post_processor": pipe["post_processor"],
        "decoder": pipe["decoder"],
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": dict(sorted(vocab.items(), key=lambda kv: kv[1])),
            "merges": merges,
        },
    }
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=2)
        f.write("\n")

    # round trip through the written file
    t2 = Tokenizer.from_file(path)
    for s in ["Once upon a time", "The Lord is my shepherd", "def fibonacci(n):", "人生", "床前明月光，疑是地上霜。",
              "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜>"]:
        enc = t2.encode(s, add_special_tokens=False)
        assert t2.decode(enc.ids, skip_special_tokens=False) == s, s
        print(json.dumps({"text": s, "ids": enc.ids, "tokens": enc.tokens}, ensure_ascii=False))
    print(f"vocab {t2.get_vocab_size()} merges {len(merges)} -> {path}")


if __name__ == "__main__":
    main()
