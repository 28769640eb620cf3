"""DeepSeek-V3 architecture in plain PyTorch, for training the fathom-demo model.

Module and parameter names follow Hugging Face transformers' DeepseekV3ForCausalLM so that the
export is a renaming, except for the MoE experts, which are stored fused for speed:
``w_gate``/``w_up`` hold the routed experts' gate_proj/up_proj rows one expert after another
followed by the shared expert's rows, and ``w_down`` the matching down_proj columns.

Semantics (all as in transformers' DeepseekV3 and the DeepSeek-V3 checkpoints):
  * MLA with q-LoRA: q = q_b(RMSNorm(q_a(x))), rows per head [nope | rope];
    kv_a(x) = [latent | k_pe], RMSNorm on the latent only; kv_b rows per head [k_nope | v].
  * RoPE on interleaved pairs (x[2i], x[2i+1]) of q_pe and the shared k_pe, YaRN frequencies
    from rope_scaling; softmax scale (nope+rope)^-0.5 * (0.1*mscale_all_dim*ln(factor)+1)^2.
  * Router: sigmoid scores; +e_score_correction_bias for selection only; group score = sum of
    the top-2 biased scores per group; keep topk_group groups (others masked to 0.0); top-k;
    weights = unbiased scores of the chosen experts, normalised, times routed_scaling_factor;
    shared expert added unweighted.
  * MTP module (layer index num_hidden_layers): x = eh_proj([enorm(Emb(t_{i+1})) ; hnorm(h_i)]),
    h_i = the main model's final hidden state after model.norm; one decoder layer; logits of
    t_{i+2} = lm_head(shared_head.norm(x)). Embedding and head are shared in training.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        xf = x.to(torch.promote_types(dt, torch.float32))
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * xf.to(dt)


def yarn_mscale(scale, mscale):
    if scale <= 1:
        return 1.0
    return 0.1 * mscale * math.log(scale) + 1.0


def rope_tables(cfg, positions):
    """cos/sin tables [T, d/2] (float32) of the YaRN RoPE used by DeepSeek-V3 for the given positions."""
    d = cfg["qk_rope_head_dim"]
    base = float(cfg["rope_theta"])
    rs = cfg.get("rope_scaling")
    pos_freqs = base ** (torch.arange(0, d, 2, dtype=torch.int64).to(torch.float32) / d)
    inv_freq = 1.0 / pos_freqs
    attn_factor = 1.0
    if rs:
        factor = float(rs["factor"])
        l0 = float(rs["original_max_position_embeddings"])
        beta_fast = float(rs.get("beta_fast", 32))
        beta_slow = float(rs.get("beta_slow", 1))

        def corr_dim(r):
            return (d * math.log(l0 / (r * 2 * math.pi))) / (2 * math.log(base))

        low = max(math.floor(corr_dim(beta_fast)), 0)
        high = min(math.ceil(corr_dim(beta_slow)), d - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(d // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
        extra = 1 - ramp
        inv_freq = (1.0 / (factor * pos_freqs)) * (1 - extra) + inv_freq * extra
        ms, msa = rs.get("mscale"), rs.get("mscale_all_dim")
        attn_factor = yarn_mscale(factor, ms) / yarn_mscale(factor, msa) if ms and msa else yarn_mscale(factor, 1.0)
    freqs = positions.to(torch.float32)[:, None] * inv_freq.to(positions.device)[None, :]
    return freqs.cos() * attn_factor, freqs.sin() * attn_factor


def softmax_scale(cfg):
    s = (cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"]) ** -0.5
    rs = cfg.get("rope_scaling")
    if rs and rs.get("mscale_all_dim"):
        m = yarn_mscale(float(rs["factor"]), float(rs["mscale_all_dim"]))
        s = s * m * m
    return s


def apply_rope_interleaved(x, cos, sin):
    """x [B, T, H, d]; rotate pairs (x[2i], x[2i+1]) by angle pos*inv_freq[i] (complex multiply)."""
    xf = x.to(torch.promote_types(x.dtype, torch.float32)).unflatten(-1, (-1, 2))
    x0, x1 = xf[..., 0], xf[..., 1]
    c = cos[None, :, None, :].to(xf.dtype)
    s = sin[None, :, None, :].to(xf.dtype)
    y = torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
    return y.flatten(-2).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, h = cfg["hidden_size"], cfg["num_attention_heads"]
        self.h = h
        self.nope, self.rope, self.vd = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
        self.kv_lora = cfg["kv_lora_rank"]
        eps = cfg["rms_norm_eps"]
        self.q_a_proj = nn.Linear(d, cfg["q_lora_rank"], bias=False)
        self.q_a_layernorm = RMSNorm(cfg["q_lora_rank"], eps)
        self.q_b_proj = nn.Linear(cfg["q_lora_rank"], h * (self.nope + self.rope), bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(d, self.kv_lora + self.rope, bias=False)
        self.kv_a_layernorm = RMSNorm(self.kv_lora, eps)
        self.kv_b_proj = nn.Linear(self.kv_lora, h * (self.nope + self.vd), bias=False)
        self.o_proj = nn.Linear(h * self.vd, d, bias=False)
        self.scale = softmax_scale(cfg)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x))).view(b, t, self.h, self.nope + self.rope)
        q_nope, q_pe = q.split([self.nope, self.rope], dim=-1)
        kv = self.kv_a_proj_with_mqa(x)
        c, k_pe = kv.split([self.kv_lora, self.rope], dim=-1)
        kvb = self.kv_b_proj(self.kv_a_layernorm(c)).view(b, t, self.h, self.nope + self.vd)
        k_nope, v = kvb.split([self.nope, self.vd], dim=-1)
        q_pe = apply_rope_interleaved(q_pe, cos, sin)
        k_pe = apply_rope_interleaved(k_pe.reshape(b, t, 1, self.rope), cos, sin).expand(b, t, self.h, self.rope)
        q = torch.cat((q_nope, q_pe), dim=-1).transpose(1, 2)
        k = torch.cat((k_nope, k_pe), dim=-1).transpose(1, 2)
        v = v.transpose(1, 2)
        qd = self.nope + self.rope
        if self.vd < qd:
            v = F.pad(v, (0, qd - self.vd))
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
        o = o[..., :self.vd].transpose(1, 2).reshape(b, t, self.h * self.vd)
        return self.o_proj(o)


class DenseMLP(nn.Module):
    def __init__(self, d, inter):
        super().__init__()
        self.gate_proj = nn.Linear(d, inter, bias=False)
        self.up_proj = nn.Linear(d, inter, bias=False)
        self.down_proj = nn.Linear(inter, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Router(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.e = cfg["n_routed_experts"]
        self.k = cfg["num_experts_per_tok"]
        self.g = cfg["n_group"]
        self.kg = cfg["topk_group"]
        self.norm = cfg["norm_topk_prob"]
        self.rsf = float(cfg["routed_scaling_factor"])
        self.weight = nn.Parameter(torch.empty(self.e, cfg["hidden_size"]))
        self.register_buffer("e_score_correction_bias", torch.zeros(self.e, dtype=torch.float32))

    def select(self, scores):
        """Expert choice exactly as transformers' DeepseekV3TopkRouter (biased scores, masked with 0.0)."""
        n = scores.shape[0]
        sfc = scores.detach() + self.e_score_correction_bias.unsqueeze(0)
        gs = sfc.view(n, self.g, self.e // self.g).topk(2, dim=-1)[0].sum(dim=-1)
        gidx = torch.topk(gs, k=self.kg, dim=-1, sorted=False)[1]
        gmask = torch.zeros_like(gs).scatter_(1, gidx, 1)
        smask = gmask.unsqueeze(-1).expand(n, self.g, self.e // self.g).reshape(n, self.e)
        sfc = sfc.masked_fill(~smask.bool(), 0.0)
        return torch.topk(sfc, k=self.k, dim=-1, sorted=False)[1], sfc

    def forward(self, x):
        xd = x.to(torch.promote_types(x.dtype, torch.float32))
        with torch.autocast(x.device.type, enabled=False):
            logits = F.linear(xd, self.weight.to(xd.dtype))
        scores = logits.sigmoid()
        idx, _ = self.select(scores)
        w = scores.gather(1, idx)
        if self.norm:
            w = w / (w.sum(dim=-1, keepdim=True) + 1e-20)
        return idx, w * self.rsf, scores


class MoE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.e = cfg["n_routed_experts"]
        self.k = cfg["num_experts_per_tok"]
        self.inter = cfg["moe_intermediate_size"]
        self.shared = cfg["n_shared_experts"] * self.inter
        width = self.e * self.inter + self.shared
        self.gate = Router(cfg)
        self.w_gate = nn.Parameter(torch.empty(width, d))
        self.w_up = nn.Parameter(torch.empty(width, d))
        self.w_down = nn.Parameter(torch.empty(d, width))

    def forward(self, x):
        b, t, d = x.shape
        xf = x.reshape(b * t, d)
        n = xf.shape[0]
        idx, w, scores = self.gate(xf)
        chosen = torch.zeros(n, self.e, dtype=torch.float32, device=x.device).scatter(1, idx, 1.0)
        route = torch.zeros(n, self.e, dtype=w.dtype, device=x.device).scatter(1, idx, w)
        n_sh = self.shared // self.inter
        if n_sh:
            route = torch.cat((route, torch.ones(n, n_sh, dtype=route.dtype, device=x.device)), dim=1)
        a = F.silu(F.linear(xf, self.w_gate)) * F.linear(xf, self.w_up)
        a = (a.view(n, -1, self.inter) * route.unsqueeze(-1).to(a.dtype)).view(n, -1)
        y = F.linear(a, self.w_down).view(b, t, d)
        # sequence-wise balance statistics (DeepSeek-V3 eqs. 17-20) and the per-expert load
        counts = chosen.view(b, t, self.e).sum(1)                                # [b, E]
        load = counts.sum(0)
        f = counts * (self.e / (self.k * t))
        p = (scores / scores.sum(-1, keepdim=True)).view(b, t, self.e).mean(1)  # [b, E]
        bal = (f * p).sum(-1).mean()
        return y, load, bal


class DecoderLayer(nn.Module):
    def __init__(self, cfg, layer_idx, dropout=0.0):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(d, eps)
        self.is_moe = layer_idx >= cfg["first_k_dense_replace"]
        self.mlp = MoE(cfg) if self.is_moe else DenseMLP(d, cfg["intermediate_size"])
        self.drop = nn.Dropout(dropout)

    def forward(self, x, cos, sin):
        x = x + self.drop(self.self_attn(self.input_layernorm(x), cos, sin))
        if self.is_moe:
            m, load, bal = self.mlp(self.post_attention_layernorm(x))
        else:
            m, load, bal = self.mlp(self.post_attention_layernorm(x)), None, None
        return x + self.drop(m), load, bal


class Backbone(nn.Module):
    def __init__(self, cfg, dropout):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(cfg, i, dropout) for i in range(cfg["num_hidden_layers"])])
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class MTP(nn.Module):
    def __init__(self, cfg, dropout):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
        self.enorm = RMSNorm(d, eps)
        self.hnorm = RMSNorm(d, eps)
        self.eh_proj = nn.Linear(2 * d, d, bias=False)
        self.layer = DecoderLayer(cfg, cfg["num_hidden_layers"], dropout)
        self.shared_head_norm = RMSNorm(d, eps)

    def forward(self, emb_next, h, cos, sin):
        x = self.eh_proj(torch.cat((self.enorm(emb_next), self.hnorm(h)), dim=-1))
        x, load, bal = self.layer(x, cos, sin)
        return self.shared_head_norm(x), load, bal


class DemoModel(nn.Module):
    def __init__(self, cfg, dropout=0.0):
        super().__init__()
        self.cfg = cfg
        self.model = Backbone(cfg, dropout)
        self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)
        self.mtp = MTP(cfg, dropout) if cfg.get("num_nextn_predict_layers", 0) else None
        self.drop = nn.Dropout(dropout)

    def init_weights(self, seed):
        g = torch.Generator().manual_seed(seed)
        std = self.cfg["initializer_range"]
        n_layers = self.cfg["num_hidden_layers"] + 1
        for name, p in self.named_parameters():
            if p.dim() == 1:
                nn.init.ones_(p) if name.endswith("weight") else nn.init.zeros_(p)
                continue
            s = std
            if name.endswith(("o_proj.weight", "down_proj.weight", "w_down")):
                s = std / math.sqrt(2 * n_layers)
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g) * s)
        for m in self.modules():
            if isinstance(m, Router):
                m.e_score_correction_bias.zero_()

    def rope(self, t, device):
        cos, sin = rope_tables(self.cfg, torch.arange(t, device=device))
        return cos, sin

    def backbone(self, ids, cos, sin):
        x = self.drop(self.model.embed_tokens(ids))
        loads, bals = [], []
        for layer in self.model.layers:
            x, load, bal = layer(x, cos, sin)
            if load is not None:
                loads.append(load)
                bals.append(bal)
        return self.model.norm(x), loads, bals

    def forward(self, tokens, mtp_weight=0.3, bal_weight=0.0):
        """tokens [B, T+2]: main model reads tokens[:, :T] and predicts tokens[:, 1:T+1];
        the MTP module reads Emb(tokens[:, 1:T+1]) with the main hidden states and predicts tokens[:, 2:T+2]."""
        b, t2 = tokens.shape
        t = t2 - 2
        cos, sin = self.rope(t, tokens.device)
        h, loads, bals = self.backbone(tokens[:, :t], cos, sin)
        logits = self.lm_head(h).float()
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), tokens[:, 1:t + 1].reshape(-1))
        mtp_loss = torch.zeros((), device=tokens.device)
        if self.mtp is not None:
            e_next = self.drop(self.model.embed_tokens(tokens[:, 1:t + 1]))
            y, load, bal = self.mtp(e_next, h, cos, sin)
            loads.append(load)
            bals.append(bal)
            mlog = self.lm_head(y).float()
            mtp_loss = F.cross_entropy(mlog.view(-1, mlog.shape[-1]), tokens[:, 2:t + 2].reshape(-1))
        bal_loss = torch.stack(bals).sum() if bals else torch.zeros((), device=tokens.device)
        total = loss + mtp_weight * mtp_loss + bal_weight * bal_loss
        return total, loss.detach(), mtp_loss.detach(), bal_loss.detach(), torch.stack(loads)

    @torch.no_grad()
    def logits_and_hidden(self, ids):
        cos, sin = self.rope(ids.shape[1], ids.device)
        h, _, _ = self.backbone(ids, cos, sin)
        return self.lm_head(h), h

    @torch.no_grad()
    def mtp_logits(self, ids_next, h):
        """ids_next [B, T] = t_{i+1}; h [B, T, D] = main hidden after model.norm at positions i (0..T-1)."""
        cos, sin = self.rope(ids_next.shape[1], ids_next.device)
        y, _, _ = self.mtp(self.model.embed_tokens(ids_next), h, cos, sin)
        return self.lm_head(y)

    def moe_modules(self):
        mods = [l.mlp for l in self.model.layers if l.is_moe]
        if self.mtp is not None:
            mods.append(self.mtp.layer.mlp)
        return mods


# ----------------------------------------------------------------------------- HF naming

def layer_tensors(prefix, layer):
    """(hf_name, tensor) pairs of one decoder layer, experts unfused."""
    out = []
    a = layer.self_attn
    for n in ["q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"]:
        out.append((f"{prefix}.self_attn.{n}.weight", getattr(a, n).weight))
    out.append((f"{prefix}.self_attn.q_a_layernorm.weight", a.q_a_layernorm.weight))
    out.append((f"{prefix}.self_attn.kv_a_layernorm.weight", a.kv_a_layernorm.weight))
    out.append((f"{prefix}.input_layernorm.weight", layer.input_layernorm.weight))
    out.append((f"{prefix}.post_attention_layernorm.weight", layer.post_attention_layernorm.weight))
    m = layer.mlp
    if not layer.is_moe:
        for n in ["gate_proj", "up_proj", "down_proj"]:
            out.append((f"{prefix}.mlp.{n}.weight", getattr(m, n).weight))
        return out
    out.append((f"{prefix}.mlp.gate.weight", m.gate.weight))
    out.append((f"{prefix}.mlp.gate.e_score_correction_bias", m.gate.e_score_correction_bias))
    i = m.inter
    for e in range(m.e):
        out.append((f"{prefix}.mlp.experts.{e}.gate_proj.weight", m.w_gate[e * i:(e + 1) * i]))
        out.append((f"{prefix}.mlp.experts.{e}.up_proj.weight", m.w_up[e * i:(e + 1) * i]))
        out.append((f"{prefix}.mlp.experts.{e}.down_proj.weight", m.w_down[:, e * i:(e + 1) * i]))
    if m.shared:
        s = m.e * i
        out.append((f"{prefix}.mlp.shared_experts.gate_proj.weight", m.w_gate[s:]))
        out.append((f"{prefix}.mlp.shared_experts.up_proj.weight", m.w_up[s:]))
        out.append((f"{prefix}.mlp.shared_experts.down_proj.weight", m.w_down[:, s:]))
    return out


def hf_tensors(model):
    """All tensors under their DeepSeek-V3 / transformers names (MTP as model.layers.{N}.*)."""
    cfg = model.cfg
    out = [("model.embed_tokens.weight", model.model.embed_tokens.weight)]
    for i, layer in enumerate(model.model.layers):
        out += layer_tensors(f"model.layers.{i}", layer)
    out.append(("model.norm.weight", model.model.norm.weight))
    out.append(("lm_head.weight", model.lm_head.weight))
    if model.mtp is not None:
        p = f"model.layers.{cfg['num_hidden_layers']}"
        out.append((f"{p}.embed_tokens.weight", model.model.embed_tokens.weight))
        out.append((f"{p}.enorm.weight", model.mtp.enorm.weight))
        out.append((f"{p}.hnorm.weight", model.mtp.hnorm.weight))
        out.append((f"{p}.eh_proj.weight", model.mtp.eh_proj.weight))
        out += layer_tensors(p, model.mtp.layer)
        out.append((f"{p}.shared_head.norm.weight", model.mtp.shared_head_norm.weight))
        out.append((f"{p}.shared_head.head.weight", model.lm_head.weight))
    return out


@torch.no_grad()
def load_hf_tensors(model, sd, strict=True):
    """Inverse of hf_tensors: copy a {hf_name: tensor} dict into the model (MTP embed/head copies are
    checked against the main ones but the model keeps one shared copy)."""
    used = set()
    for name, dst in hf_tensors(model):
        if name not in sd:
            if strict:
                raise KeyError(name)
            continue
        src = sd[name]
        if tuple(src.shape) != tuple(dst.shape):
            raise ValueError(f"{name}: {tuple(src.shape)} vs {tuple(dst.shape)}")
        dst.copy_(src.to(dst.dtype))
        used.add(name)
    N = model.cfg["num_hidden_layers"]
    for a, b in [(f"model.layers.{N}.embed_tokens.weight", "model.embed_tokens.weight"),
                 (f"model.layers.{N}.shared_head.head.weight", "lm_head.weight")]:
        if a in sd and not torch.equal(sd[a].float(), sd[b].float()):
            print(f"note: {a} differs from {b}; the main copy is used")
    extra = set(sd) - used
    if strict and extra:
        raise KeyError(f"unused tensors: {sorted(extra)[:8]}")
