#!/usr/bin/env python3
"""Build the fathom-demo training corpus from openly licensed Debian packages.

Standard library only (Python >= 3.9). Steps:

  1. ``apt-get download PKG=VERSION`` for every package in packages.tsv (into --work),
     then ``dpkg-deb -x`` each one into a scratch tree. If the pinned version is no
     longer on the mirror the current one is taken and a warning is printed.
  2. Extract plain text from each source (fortune files, SWORD OSIS verses, R data
     vectors, reST, HTML, roff man pages, text dumps), strip markup and boilerplate,
     normalise whitespace (NFC, LF newlines, no trailing blanks, at most one blank
     line in a row).
  3. Cut long documents into chunks of at most ~4 KB at paragraph boundaries,
     drop exact duplicate chunks, and assign every chunk to a split by a hash of
     its source, document name and chunk number:
     heldout (never trained on), calib (never trained on; for quantization work),
     train (everything else).
  4. Add chat-formatted copies of some short train-split items (DeepSeek-V3 chat
     template: <｜User｜>prompt<｜Assistant｜>answer<｜end▁of▁sentence｜>), so the
     demo model has seen the template.

Outputs in --out: train.jsonl.gz, calib.jsonl.gz, heldout.jsonl.gz (one JSON object
per line: {"src", "lang", "text"}), heldout.txt (held-out chunks joined by a blank
line), calib.txt, stats.json. The result is deterministic for fixed package versions.

Usage:  python3 tools/train-demo/build_corpus.py --work /tmp/fathom-corpus --out .corpus
"""
import argparse
import bz2
import gzip
import hashlib
import html
import html.parser
import io
import json
import lzma
import os
import re
import struct
import subprocess
import sys
import unicodedata
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

HELDOUT_FRACTION = 0.0065
CALIB_FRACTION = 0.0065
CHUNK_CHARS = 4000

USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
EOS = "<｜end▁of▁sentence｜>"


# ----------------------------------------------------------------------------- packages

def read_packages():
    pkgs = []
    with open(os.path.join(HERE, "packages.tsv"), encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, version, licence, what = line.rstrip("\n").split("\t")
            pkgs.append((name, version))
    return pkgs


def fetch_packages(work):
    debs = os.path.join(work, "debs")
    root = os.path.join(work, "x")
    os.makedirs(debs, exist_ok=True)
    os.makedirs(root, exist_ok=True)
    used = {}
    for name, version in read_packages():
        dest = os.path.join(root, name)
        stamp = os.path.join(dest, ".extracted")
        if os.path.exists(stamp):
            with open(stamp) as f:
                used[name] = f.read().strip()
            continue
        have = [d for d in os.listdir(debs) if d.startswith(name + "_")]
        if not have:
            r = subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=debs,
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"warning: {name}={version} not available ({r.stderr.strip()[-200:]}); "
                      f"taking the current version, the corpus may differ", file=sys.stderr)
                subprocess.run(["apt-get", "download", name], cwd=debs, check=True)
            have = [d for d in os.listdir(debs) if d.startswith(name + "_")]
        deb = os.path.join(debs, sorted(have)[-1])
        got = subprocess.run(["dpkg-deb", "-f", deb, "Version"], capture_output=True, text=True,
                             check=True).stdout.strip()
        if got != version:
            print(f"warning: {name}: using version {got}, packages.tsv pins {version}", file=sys.stderr)
        os.makedirs(dest, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", deb, dest], check=True)
        with open(stamp, "w") as f:
            f.write(got)
        used[name] = got
    return root, used


# ----------------------------------------------------------------------------- cleaning

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b\ufeff]")


def clean(text):
    text = ANSI.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\u00a0", " ")
    out = []
    for line in text.split("\n"):
        line = line.expandtabs(8)
        line = CTRL.sub("", line).rstrip()
        out.append(line)
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


def paragraphs(text):
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def unwrap(par):
    """Join the hard-wrapped lines of a prose paragraph; keep lists and code as they are."""
    lines = par.split("\n")
    if len(lines) < 2:
        return par.strip()
    ind = {len(l) - len(l.lstrip(" ")) for l in lines}
    bullet = re.compile(r"^\s*([*•+\-]|\d+[.)]|\$|#|>>>|\|)\s")
    if len(ind) == 1 and not any(bullet.match(l) for l in lines) and \
            all(len(l.strip()) > 0 for l in lines) and max(len(l) for l in lines) >= 40:
        return " ".join(l.strip() for l in lines)
    m = min(ind)
    return "\n".join(l[m:] for l in lines)


def drop_list_runs(pars, min_run=5, max_len=50):
    """Drop runs of >= min_run consecutive one-line short paragraphs (tables of contents, indexes)."""
    out, run = [], []
    for p in pars:
        if "\n" not in p.strip() and len(p.strip()) < max_len:
            run.append(p)
            continue
        if len(run) < min_run:
            out.extend(run)
        run = []
        out.append(p)
    if len(run) < min_run:
        out.extend(run)
    return out


def is_table(par):
    ls = [l for l in par.split("\n") if l.strip()]
    n = sum(1 for l in ls if l.lstrip().startswith(("|", "+-", "+=")))
    return n * 2 > len(ls)


def cjk_ratio(text):
    n = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    m = sum(1 for c in text if not c.isspace())
    return n / max(m, 1)


# ----------------------------------------------------------------------------- extractors
# Each extractor yields (doc_name, text). Text is cleaned afterwards.

def ex_fortunes(root, pkg, files):
    base = os.path.join(root, pkg, "usr/share/games/fortunes")
    for fn in files:
        with open(os.path.join(base, fn), encoding="utf-8", errors="replace") as f:
            data = f.read()
        for i, item in enumerate(re.split(r"\n%\n", "\n" + data + "\n")):
            yield f"{fn}/{i}", item


FORTUNE_SKIP = {"art", "ascii-art", "translate-me"}


def ex_fortunes_en(root):
    base = os.path.join(root, "fortunes", "usr/share/games/fortunes")
    files = sorted(f for f in os.listdir(base)
                   if not f.endswith((".dat", ".u8")) and f not in FORTUNE_SKIP
                   and os.path.isfile(os.path.join(base, f)) and not os.path.islink(os.path.join(base, f)))
    yield from ex_fortunes(root, "fortunes", files)


def ex_anarchism(root):
    yield from ex_fortunes(root, "fortune-anarchism", ["anarchism"])


def ex_fortunes_zh(root):
    yield from ex_fortunes(root, "fortunes-zh", ["chinese", "tang300", "song100"])


def ex_dhammapada(root):
    base = os.path.join(root, "display-dhammapada", "usr/share/display-dhammapada")
    for fn in ["dhammapada-english-transl.txt", "dhammapada-alternate.txt"]:
        with open(os.path.join(base, fn), encoding="latin-1") as f:
            text = f.read()
        # drop the FTP / etext preamble up to the first rule line
        if "-----" in text[:2000]:
            text = text[text.index("\n", text.index("-----")) + 1:]
        pars = [unwrap(p) for p in paragraphs(clean(text))]
        pars = [p for p in pars if not re.search(r"(etext|ftp|FTP|gopher|Internet -|CompuServe)", p)]
        yield fn, "\n\n".join(pars)


OSIS_TAG = re.compile(r"<[^>]+>")
USFM = re.compile(r"\\\+?[a-z]+\d*\*?\s?")


def osis_verse(v):
    v = re.sub(r"<note\b.*?</note>", "", v, flags=re.S)
    title = ""
    m = re.search(r'<title[^>]*canonical="true"[^>]*>(.*?)</title>', v, flags=re.S)
    if m:
        title = OSIS_TAG.sub("", m.group(1)).strip()
    v = re.sub(r"<title\b.*?</title>", "", v, flags=re.S)
    v = re.sub(r"<divineName>(.*?)</divineName>", lambda mm: OSIS_TAG.sub("", mm.group(1)).upper(), v, flags=re.S)
    v = OSIS_TAG.sub("", v)
    v = USFM.sub("", v)
    v = html.unescape(v).replace("\u00b6", "")
    v = re.sub(r"\s+", " ", v).strip()
    title = USFM.sub("", html.unescape(title)).strip()
    return title, v


def ex_kjv(root):
    base = os.path.join(root, "sword-text-kjv", "usr/share/sword/modules/texts/ztext/engKJV2006eb")
    book, chap, verses = None, None, []

    def flush():
        if book and chap and verses:
            return f"{book}/{chap}", f"{book} {chap}\n\n" + "\n".join(verses)
        return None

    for testament in ["ot", "nt"]:
        bzs = open(os.path.join(base, testament + ".bzs"), "rb").read()
        bzv = open(os.path.join(base, testament + ".bzv"), "rb").read()
        bzz = open(os.path.join(base, testament + ".bzz"), "rb").read()
        blocks = [struct.unpack("<III", bzs[i:i + 12]) for i in range(0, len(bzs), 12)]
        cache = {}
        for k in range(len(bzv) // 10):
            b, o, s = struct.unpack("<IIH", bzv[k * 10:k * 10 + 10])
            if not s:
                continue
            if b not in cache:
                cache.clear()
                off, sz, _ = blocks[b]
                cache[b] = zlib.decompress(bzz[off:off + sz])
            raw = cache[b][o:o + s].decode("utf-8")
            mb = re.search(r'<milestone n="([^"]+)" type="x-usfm-h"/>', raw)
            if mb:
                r = flush()
                if r:
                    yield r
                book, chap, verses = mb.group(1), None, []
            mc = re.search(r'<chapter n="(\d+)"[^>]*sID="[^"]*"[^>]*/>', raw)
            if mc:
                r = flush()
                if r:
                    yield r
                chap, verses = mc.group(1), []
                raw = raw[mc.end():]
            title, text = osis_verse(raw)
            if title:
                verses.append(title)
            if text:
                verses.append(text)
    r = flush()
    if r:
        yield r


class RReader:
    """Minimal reader for R's XDR serialization (enough for character vectors and lists)."""

    def __init__(self, data):
        self.d = data
        self.p = 0
        self.refs = []

    def int(self):
        v = struct.unpack(">i", self.d[self.p:self.p + 4])[0]
        self.p += 4
        return v

    def length(self):
        n = self.int()
        if n == -1:
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        return n

    def header(self):
        assert self.d[:2] == b"X\n", "not XDR serialization"
        self.p = 2
        version = self.int()
        self.int()
        self.int()
        if version == 3:
            n = self.int()
            self.p += n

    def item(self):
        flags = self.int()
        t = flags & 0xFF
        has_attr = flags & (1 << 9)
        has_tag = flags & (1 << 10)
        if t == 254:                      # NILVALUE
            return None
        if t in (242, 241, 253, 252, 251, 250):
            return None
        if t == 255:                      # REFSXP
            idx = flags >> 8
            if idx == 0:
                idx = self.int()
            return self.refs[idx - 1]
        if t == 1:                        # SYMSXP
            name = self.item()
            self.refs.append(name)
            return name
        if t in (2, 6, 3, 5, 17, 239, 240):   # pairlists
            out = []
            if has_attr:
                self.item()
            tag = self.item() if has_tag else None
            car = self.item()
            out.append((tag, car))
            cdr = self.item()
            if isinstance(cdr, list) and cdr and isinstance(cdr[0], tuple):
                out.extend(cdr)
            return out
        if t == 9:                        # CHARSXP
            n = self.int()
            if n == -1:
                return None
            s = self.d[self.p:self.p + n]
            self.p += n
            return s.decode("utf-8", errors="replace")
        if t in (10, 13):                 # LGLSXP, INTSXP
            n = self.length()
            v = list(struct.unpack(f">{n}i", self.d[self.p:self.p + 4 * n]))
            self.p += 4 * n
        elif t == 14:                     # REALSXP
            n = self.length()
            v = list(struct.unpack(f">{n}d", self.d[self.p:self.p + 8 * n]))
            self.p += 8 * n
        elif t == 16:                     # STRSXP
            n = self.length()
            v = [self.item() for _ in range(n)]
        elif t in (19, 20):               # VECSXP, EXPRSXP
            n = self.length()
            v = [self.item() for _ in range(n)]
        elif t == 24:                     # RAWSXP
            n = self.length()
            v = self.d[self.p:self.p + n]
            self.p += n
        elif t == 238:                    # ALTREP
            info = self.item()
            state = self.item()
            self.item()
            cls = info[0][1] if info else None
            if cls == "compact_intseq":
                n, start, step = int(state[0]), int(state[1]), int(state[2])
                return [start + i * step for i in range(n)]
            if isinstance(state, list) and state and isinstance(state[0], tuple):
                return state[0][1]
            return state
        else:
            raise ValueError(f"unsupported R SEXP type {t}")
        if has_attr:
            attrs = self.item()
            if isinstance(attrs, list):
                for tag, val in attrs:
                    if tag == "names" and isinstance(v, list) and isinstance(val, list):
                        return dict(zip(val, v))
        return v


def r_unserialize(data):
    r = RReader(data)
    r.header()
    return r.item()


def r_lazydata(root, pkg, rpkg):
    """Yield (name, value) for every object of an installed R package's lazy-load data base."""
    base = os.path.join(root, pkg, "usr/lib/R/site-library", rpkg, "data")
    rdx = open(os.path.join(base, "Rdata.rdx"), "rb").read()
    idx = r_unserialize(gzip.decompress(rdx) if rdx[:2] == b"\x1f\x8b" else zlib.decompress(rdx))
    rdb = open(os.path.join(base, "Rdata.rdb"), "rb").read()
    for name in sorted(idx["variables"]):
        off, ln = (int(x) for x in idx["variables"][name])
        blob = rdb[off:off + ln]
        kind = blob[4:5]
        if kind == b"Z":
            raw = lzma.decompress(blob[5:])
        elif kind == b"2":
            raw = bz2.decompress(blob[5:])
        elif kind == b"0":
            raw = blob[5:]
        else:
            raw = zlib.decompress(blob[4:])
        yield name, r_unserialize(raw)


def ex_austen(root):
    for name, lines in r_lazydata(root, "r-cran-janeaustenr", "janeaustenr"):
        if not isinstance(lines, list):
            continue
        text = "\n".join("" if l is None else l for l in lines)
        pars = [unwrap(p) for p in paragraphs(clean(text))]
        # split into chapters so that each one is a document
        chap, cur, k = "front", [], 0
        for p in pars:
            if re.match(r"^(CHAPTER|Chapter)\s+[0-9IVXLC]+\.?$", p.strip()):
                if cur:
                    yield f"{name}/{k}", "\n\n".join(cur)
                    k += 1
                cur = [p.strip()]
            else:
                cur.append(p)
        if cur:
            yield f"{name}/{k}", "\n\n".join(cur)


def ex_mobydick(root):
    for name, val in r_lazydata(root, "r-cran-tokenizers", "tokenizers"):
        if name != "mobydick":
            continue
        text = list(val.values())[0] if isinstance(val, dict) else val[0]
        text = clean(text)
        text = text[text.index("\n", text.index("*** START OF")) + 1:]
        text = text[:text.index("End of Project Gutenberg")]
        text = text[text.rindex("CHAPTER 1. Loomings."):]
        pars = [unwrap(p) for p in paragraphs(text)]
        cur, k = [], 0
        for p in pars:
            if re.match(r"^(CHAPTER \d+\.|Epilogue)", p.strip()) and cur:
                yield f"mobydick/{k}", "\n\n".join(cur)
                k += 1
                cur = []
            cur.append(p)
        if cur:
            yield f"mobydick/{k}", "\n\n".join(cur)


def ex_jargon(root):
    path = os.path.join(root, "jargon-text", "usr/share/doc/jargon-text/jargon.txt.gz")
    text = clean(gzip.decompress(open(path, "rb").read()).decode("utf-8"))
    pars = drop_list_runs([unwrap(p) for p in paragraphs(text)])
    # documents: chapters and lexicon letters
    doc, cur, k = 0, [], 0
    for p in pars:
        if re.match(r"^(Chapter \d+\.|Glossary$)", p.strip()) and cur:
            yield f"jargon/{k}", "\n\n".join(cur)
            k += 1
            cur = []
        cur.append(p)
    if cur:
        yield f"jargon/{k}", "\n\n".join(cur)


def ex_textdump(root, pkg, relpath, split_re):
    path = os.path.join(root, pkg, relpath)
    text = clean(gzip.decompress(open(path, "rb").read()).decode("utf-8"))
    pars = drop_list_runs([unwrap(p) for p in paragraphs(text)])
    cur, k = [], 0
    for p in pars:
        if re.match(split_re, p.strip()) and cur:
            yield f"{pkg}/{k}", "\n\n".join(cur)
            k += 1
            cur = []
        cur.append(p)
    if cur:
        yield f"{pkg}/{k}", "\n\n".join(cur)


def ex_debref_en(root):
    yield from ex_textdump(root, "debian-reference-en", "usr/share/debian-reference/debian-reference.en.txt.gz",
                           r"^(Chapter \d+\.|Appendix [A-Z]\.|\d+\.\d+\. )")


def ex_debref_zh(root):
    yield from ex_textdump(root, "debian-reference-zh-cn",
                           "usr/share/debian-reference/debian-reference.zh-cn.txt.gz",
                           r"^(第 ?\d+ ?章|附录 ?[A-Z]|\d+\.\d+\. )")


RST_ROLE = re.compile(r":[a-zA-Z:+-]+:`([^`]*)`")


def rst_role(m):
    inner = m.group(1)
    mm = re.match(r"^(.*?)\s*<[^>]*>$", inner, flags=re.S)
    if mm and mm.group(1):
        inner = mm.group(1)
    if inner.startswith("~"):
        inner = inner[1:].split(".")[-1]
    return inner.lstrip("!")


def rst_to_text(src):
    out = []
    lines = src.split("\n")
    i = 0
    skip_indent = None
    while i < len(lines):
        line = lines[i]
        if skip_indent is not None:
            if line.strip() == "" or (len(line) - len(line.lstrip())) > skip_indent:
                i += 1
                continue
            skip_indent = None
        m = re.match(r"^(\s*)\.\. ([\w:-]+)::(.*)$", line)
        if m:
            ind, directive, arg = len(m.group(1)), m.group(2), m.group(3).strip()
            if directive in ("code-block", "code", "sourcecode", "doctest", "testcode", "testoutput"):
                out.append("")
                i += 1
                while i < len(lines) and re.match(r"^\s+:[\w-]+:", lines[i]):
                    i += 1
                continue
            if directive in ("note", "warning", "seealso", "versionadded", "versionchanged",
                             "deprecated", "impl-detail", "attention", "tip", "important"):
                label = {"note": "Note:", "warning": "Warning:", "seealso": "See also:",
                         "versionadded": "New in version", "versionchanged": "Changed in version",
                         "deprecated": "Deprecated since version", "impl-detail": "CPython implementation detail:",
                         "attention": "Attention:", "tip": "Tip:", "important": "Important:"}[directive]
                out.append(" " * ind + (label + " " + arg).strip())
                i += 1
                continue
            if directive in ("function", "method", "class", "attribute", "data", "exception",
                             "classmethod", "staticmethod", "decorator", "opcode", "describe",
                             "cmdoption", "envvar", "coroutinefunction", "coroutinemethod",
                             "abstractmethod", "decoratormethod", "productionlist", "option"):
                out.append(" " * ind + arg)
                i += 1
                continue
            # any other directive (toctree, index, module, highlight, image, ...) is dropped with its body
            skip_indent = ind
            i += 1
            continue
        if re.match(r"^\s*\.\. ", line) or line.strip() == "..":
            skip_indent = len(line) - len(line.lstrip())
            i += 1
            continue
        if re.match(r"^([=\-~^\"'`#*+<>]){3,}\s*$", line.strip()):
            i += 1
            continue
        if re.match(r"^\s*:[\w -]+:\s*", line) and not line.strip().startswith(":param"):
            # field lists like :mod:, :synopsis:, :platform: at block level
            if re.match(r"^\s*:(synopsis|platform|noindex|module|deprecated|audit-event|sectionauthor|"
                        r"moduleauthor|linenos|emphasize-lines|caption|name|class|no-typesetting|"
                        r"nosignatures|options|tocdepth|maxdepth|numbered|hidden|titlesonly|glob)\b", line):
                i += 1
                continue
        out.append(line)
        i += 1
    text = "\n".join(out)
    text = RST_ROLE.sub(rst_role, text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`<]+?)\s*<[^>]+>`_+", r"\1", text)
    text = re.sub(r"`([^`]+)`_+", r"\1", text)
    text = re.sub(r"\*\*([^*\n]+)\*\*", r"\1", text)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    text = re.sub(r"\|(\w[\w-]*)\|", r"\1", text)
    text = text.replace("\\ ", "")
    text = re.sub(r"::\s*$", ":", text, flags=re.M)
    text = re.sub(r"^\s*:\s*$", "", text, flags=re.M)
    return text


def ex_python_doc(root):
    base = os.path.join(root, "python3.11-doc", "usr/share/doc/python3.11/html/_sources")
    for sub in ["tutorial", "reference", "library", "howto", "faq", "using", "extending"]:
        d = os.path.join(base, sub)
        for fn in sorted(os.listdir(d)):
            if not fn.endswith(".rst.txt"):
                continue
            src = open(os.path.join(d, fn), encoding="utf-8").read()
            text = clean(rst_to_text(src))
            pars = [p for p in paragraphs(text)]
            # dedent each paragraph, keep code layout
            out = []
            for p in pars:
                ls = p.split("\n")
                m = min(len(l) - len(l.lstrip(" ")) for l in ls if l.strip())
                ls = [l[m:] for l in ls]
                p2 = "\n".join(ls)
                out.append(unwrap(p2) if not any(l.startswith((">>>", "...", "    ")) for l in ls) else p2)
            yield f"{sub}/{fn[:-8]}", "\n\n".join(out)


class HTMLText(html.parser.HTMLParser):
    BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "tr", "table", "pre",
             "blockquote", "section", "br", "ul", "ol", "dl", "title", "td", "th", "hr", "figure"}
    SKIP = {"script", "style", "head", "nav"}
    SKIP_CLASSES = {"navheader", "navfooter", "toc", "footnotes", "docnav", "breadcrumbs", "legalnotice",
                    "list-of-tables", "list-of-figures", "list-of-examples", "titlepage", "index"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.stack = []   # (tag, skipping)
        self.skip = 0
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = set((a.get("class") or "").split())
        skipping = tag in self.SKIP or bool(cls & self.SKIP_CLASSES)
        if tag in ("br", "hr", "img", "meta", "link", "input"):
            if tag == "br" and not self.skip:
                self.parts.append("\n")
            return
        self.stack.append((tag, skipping))
        if skipping:
            self.skip += 1
        if tag == "pre":
            self.pre += 1
        if tag in self.BLOCK and not self.skip:
            self.parts.append("\n\n" if tag not in ("td", "th", "li", "dd") else "\n")
        if tag == "li" and not self.skip:
            self.parts.append("* ")

    def handle_endtag(self, tag):
        while self.stack:
            t, skipping = self.stack.pop()
            if skipping:
                self.skip -= 1
            if t == "pre":
                self.pre -= 1
            if t in self.BLOCK and not self.skip:
                self.parts.append("\n\n" if t not in ("td", "th", "li", "dd") else "\n")
            if t == tag:
                break

    def handle_data(self, data):
        if self.skip:
            return
        if self.pre:
            self.parts.append(data)
        else:
            self.parts.append(re.sub(r"\s+", " ", data))

    def text(self):
        t = "".join(self.parts)
        t = "\n".join(l.strip() if not l.startswith("    ") else l.rstrip() for l in t.split("\n"))
        return t


def html_to_text(src):
    p = HTMLText()
    p.feed(src)
    p.close()
    return p.text()


def ex_html_dir(root, pkg, rel, pattern):
    d = os.path.join(root, pkg, rel)
    for fn in sorted(os.listdir(d)):
        if not re.match(pattern, fn):
            continue
        src = open(os.path.join(d, fn), encoding="utf-8", errors="replace").read()
        text = clean(html_to_text(src))
        pars = drop_list_runs(paragraphs(text))
        yield f"{pkg}/{fn}", "\n\n".join(pars)


def ex_debian_faq_zh(root):
    yield from ex_html_dir(root, "debian-faq-zh-cn", "usr/share/doc/debian/FAQ/zh-cn", r".*\.zh-cn\.html$")


def ex_maint_guide_zh(root):
    yield from ex_html_dir(root, "maint-guide-zh-cn", "usr/share/doc/maint-guide-zh-cn/html", r".*\.zh-cn\.html$")


def ex_handbook_zh(root):
    yield from ex_html_dir(root, "debian-handbook", "usr/share/doc/debian-handbook/html/zh-CN", r".*\.html$")


ROFF_ESC = [
    (r"\\f(\[[^\]]*\]|\(..|.)", ""), (r"\\s[+-]?\d+", ""), (r"\\\(em", "—"), (r"\\\(en", "–"),
    (r"\\\(co", "©"), (r"\\\(aq", "'"), (r"\\\(dq", '"'), (r"\\\(lq", "“"), (r"\\\(rq", "”"),
    (r"\\\(oq", "‘"), (r"\\\(cq", "’"), (r"\\\(bu", "•"), (r"\\\(\w\w", ""), (r"\\\[[^\]]*\]", ""),
    (r"\\\*\(..", ""), (r"\\\*.", ""), (r"\\-", "-"), (r"\\e", "\\\\"), (r"\\&", ""), (r"\\ ", " "),
    (r"\\[|^,/c%]", ""), (r"\\0", " "), (r"\\\"", ""), (r"\\n\(..", ""), (r"\\n.", ""),
]


def roff_inline(s):
    for a, b in ROFF_ESC:
        s = re.sub(a, b, s)
    return s.replace("\\\\", "\\")


def roff_to_text(src):
    out, fill = [], True
    for line in src.split("\n"):
        if line.startswith((".\\\"", "'\\\"", '.\\"')) or line.strip() in (".", "'"):
            continue
        if line.startswith((".", "'")):
            m = re.match(r"^[.'](\w+)\s*(.*)$", line)
            if not m:
                continue
            mac, arg = m.group(1), m.group(2)
            if mac in ("SH", "SS"):
                out.append("")
                out.append(roff_inline(arg.strip('"')))
                out.append("")
            elif mac in ("PP", "LP", "P", "TP", "IP", "HP", "sp", "br", "RS", "RE", "in", "ti", "TQ"):
                out.append("")
                if mac == "IP" and arg:
                    a = re.findall(r'"[^"]*"|\S+', arg)
                    if a and a[0].strip('"') not in ("", "\\(bu", "\\[bu]"):
                        out.append(roff_inline(a[0].strip('"')))
            elif mac in ("nf", "EX"):
                fill = False
                out.append("")
            elif mac in ("fi", "EE"):
                fill = True
                out.append("")
            elif mac in ("B", "I", "SM", "SB"):
                out.append(roff_inline(arg.strip('"')))
            elif mac in ("BR", "BI", "IB", "IR", "RB", "RI"):
                a = re.findall(r'"[^"]*"|\S+', arg)
                out.append(roff_inline("".join(x.strip('"') for x in a)))
            elif mac == "UR" or mac == "MT":
                out.append(roff_inline(arg))
            continue
        t = roff_inline(line)
        out.append(t if fill else "    " + t)
    text = "\n".join(out)
    # join filled lines inside paragraphs (Chinese text gets no space, Latin text a space)
    pars = []
    for p in re.split(r"\n\s*\n", text):
        ls = [l for l in p.split("\n") if l.strip()]
        if not ls:
            continue
        if any(l.startswith("    ") for l in ls):
            pars.append("\n".join(ls))
            continue
        acc = ls[0].strip()
        for l in ls[1:]:
            l = l.strip()
            if acc and (ord(acc[-1]) > 0x2e80 or ord(l[0]) > 0x2e80):
                acc += l
            else:
                acc += " " + l
        pars.append(acc)
    return "\n\n".join(pars)


def ex_manpages_zh(root):
    base = os.path.join(root, "manpages-zh", "usr/share/man/zh_CN")
    for sec in ["man1", "man2", "man4", "man5", "man6", "man7", "man8"]:
        d = os.path.join(base, sec)
        if not os.path.isdir(d):
            continue
        for fn in sorted(os.listdir(d)):
            path = os.path.join(d, fn)
            if os.path.islink(path) or not fn.endswith(".gz"):
                continue
            src = gzip.decompress(open(path, "rb").read()).decode("utf-8", errors="replace")
            if src.lstrip().startswith(".so "):
                continue
            yield f"{sec}/{fn[:-3]}", roff_to_text(src)


SOURCES = [
    # name, lang, extractor, min cjk ratio for a chunk (zh sources)
    ("austen", "en", ex_austen, None),
    ("mobydick", "en", ex_mobydick, None),
    ("kjv", "en", ex_kjv, None),
    ("fortunes", "en", ex_fortunes_en, None),
    ("anarchism", "en", ex_anarchism, None),
    ("dhammapada", "en", ex_dhammapada, None),
    ("jargon", "en", ex_jargon, None),
    ("python-doc", "en", ex_python_doc, None),
    ("debian-reference-en", "en", ex_debref_en, None),
    ("fortunes-zh", "zh", ex_fortunes_zh, 0.2),
    ("debian-reference-zh", "zh", ex_debref_zh, 0.1),
    ("debian-faq-zh", "zh", ex_debian_faq_zh, 0.1),
    ("maint-guide-zh", "zh", ex_maint_guide_zh, 0.1),
    ("debian-handbook-zh", "zh", ex_handbook_zh, 0.1),
    ("manpages-zh", "zh", ex_manpages_zh, 0.1),
]


# ----------------------------------------------------------------------------- chunks, splits, chat

def chunks_of(text, limit=CHUNK_CHARS):
    pars = [p for p in paragraphs(text) if not is_table(p)]
    cur, n = [], 0
    for p in pars:
        if cur and n + len(p) > limit:
            yield "\n\n".join(cur)
            cur, n = [], 0
        cur.append(p)
        n += len(p) + 2
    if cur:
        yield "\n\n".join(cur)


def unit(key):
    h = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64


CHAT_PROMPTS = {
    "fortunes": ["Tell me a fortune.", "Say something clever.", "Give me a quotation.", "Cheer me up."],
    "anarchism": ["Give me a quotation.", "Say something about freedom."],
    "dhammapada": ["Share a verse of the Dhammapada.", "Say something wise."],
    "kjv": ["Read me a passage from the Bible.", "Recite some verses of the King James Bible."],
    "austen": ["Tell me a story.", "Write a passage in the style of Jane Austen."],
    "mobydick": ["Tell me a story about the sea.", "Write a passage in the style of Herman Melville."],
    "fortunes-zh/tang300": ["背一首唐诗。", "请给我念一首唐诗。"],
    "fortunes-zh/song100": ["背一首宋词。", "请给我念一首宋词。"],
    "fortunes-zh/chinese": ["说一句有意思的话。", "给我讲一段话。"],
}


def chat_copy(src, doc, text):
    key = src
    if src == "fortunes-zh":
        key = "fortunes-zh/" + doc.split("/")[0]
    prompts = CHAT_PROMPTS.get(key)
    if not prompts or len(text) > 1500:
        return None
    u = unit("chat\x00" + src + "\x00" + doc)
    if u >= 0.3:
        return None
    prompt = prompts[int(u / 0.3 * len(prompts)) % len(prompts)]
    return USER + prompt + ASSISTANT + text + EOS


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/fathom-corpus", help="scratch folder for .deb files and their contents")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", ".corpus"), help="output folder")
    args = ap.parse_args()
    root, used = fetch_packages(args.work)
    os.makedirs(args.out, exist_ok=True)

    splits = {"train": [], "calib": [], "heldout": []}
    stats = {"packages": used, "sources": {}}
    seen = set()
    for name, lang, fn, min_cjk in SOURCES:
        st = {"docs": 0, "chunks": 0, "chars": {"train": 0, "calib": 0, "heldout": 0},
              "dropped_dup": 0, "dropped_lang": 0, "dropped_short": 0}
        for doc, raw in fn(root):
            text = clean(raw)
            if len(text) < 20:
                st["dropped_short"] += 1
                continue
            st["docs"] += 1
            for ci, ch in enumerate(chunks_of(text)):
                if len(ch) < 20:
                    st["dropped_short"] += 1
                    continue
                if min_cjk is not None and cjk_ratio(ch) < min_cjk:
                    st["dropped_lang"] += 1
                    continue
                h = hashlib.sha256(ch.encode("utf-8")).hexdigest()
                if h in seen:
                    st["dropped_dup"] += 1
                    continue
                seen.add(h)
                u = unit(f"{name}\x00{doc}\x00{ci}")
                split = "heldout" if u < HELDOUT_FRACTION else \
                    "calib" if u < HELDOUT_FRACTION + CALIB_FRACTION else "train"
                splits[split].append({"src": name, "lang": lang, "doc": doc, "text": ch})
                st["chunks"] += 1
                st["chars"][split] += len(ch)
                if split == "train":
                    c = chat_copy(name, doc, ch)
                    if c:
                        splits["train"].append({"src": "chat:" + name, "lang": lang, "doc": doc, "text": c})
                        st.setdefault("chat_copies", 0)
                        st["chat_copies"] += 1
        stats["sources"][name] = st
        print(f"{name:22s} docs {st['docs']:6d} chunks {st['chunks']:6d} chars {st['chars']}", flush=True)

    for split, items in splits.items():
        with gzip.GzipFile(os.path.join(args.out, f"{split}.jsonl.gz"), "wb", mtime=0) as g:
            for it in items:
                g.write((json.dumps(it, ensure_ascii=False) + "\n").encode("utf-8"))
        stats[split] = {"items": len(items), "chars": sum(len(i["text"]) for i in items),
                        "bytes": sum(len(i["text"].encode("utf-8")) for i in items)}
    for split in ("heldout", "calib"):
        with open(os.path.join(args.out, f"{split}.txt"), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n\n".join(i["text"] for i in splits[split]) + "\n")
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1, ensure_ascii=False)
    print(json.dumps({k: stats[k] for k in ("train", "calib", "heldout")}))


if __name__ == "__main__":
    main()
