"""Plain torch.nn builds of pouwd's transformer: and vit: model specs
(ml/transformer.go, ml/attention.go, grammar in ml/model.go ParseSpec), with
the engine's parameter names, and their parameter counts.

    /usr/bin/python3 scripts/bench/transformer_params.py > ml/testdata/transformer_params.json

prints {"spec": trainable parameter count, ...} for SPECS;
TestTransformerParamCounts (ml/transformer_torch_test.go) checks that
ml.NewModel(spec).NumParams() equals each. torch_crosscheck_transformer.py
imports build() from here.

The layout is written out (no nn.TransformerEncoderLayer, nn.MultiheadAttention
or timm): token embedding tok_emb (or for vit a PATCHxPATCH stride-PATCH
Conv2d patch_embed with bias, patches as tokens in row-major order),
positions (learned pos_emb [SEQ, DIM], or the fixed sinusoidal table with
pos=sin: sin at even, cos at odd columns, frequency 10000^(-2i/DIM)),
LAYERS pre-LayerNorm blocks

    x = x + proj(attn(qkv(ln1(x))))       qkv per token [Q | K | V], DIM each
    x = x + fc2(gelu(fc1(ln2(x))))        exact (erf) GELU, MLP·DIM hidden

with LayerNorm eps 1e-5 and scaled dot-product attention (1/sqrt(dh), head h
at columns h·dh..(h+1)·dh-1 of each third, optional causal mask), then ln_f,
the mean over tokens (or the last token with head=last) and the Linear head.
The head is not tied to tok_emb (so the GPT-2-small-like spec counts
163M, GPT-2's 124M plus an untied 50257x768 head and its bias)."""
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

SPECS = [
    # the cross-check's models (TestTransformerTorchCrossCheck)
    "transformer:6-11-1x8x2-11",
    "transformer:7-13-2x12x3-13,causal,head=last,mlp=2",
    "transformer:5-9-1x8x4-3,pos=sin",
    "transformer:5-9-1x9x3-3,pos=sin",
    "vit:3x8x8-4-1x8x2-5",
    # the golden-test models (ml/transformer_golden_test.go)
    "transformer:12-16-2x16x4-16,causal,head=last,dropout=0.1",
    "vit:3x8x8-4-2x16x2-10,mlp=2",
    "vit:1x28x28-7-4x64x4-10",
    "vit:3x32x32-4-6x192x3-10",
    "transformer:64-256-4x256x8-256,causal,head=last",
    # GPT-2 small (untied head), BERT-base-like encoder (2 classes, mean pool)
    "transformer:1024-50257-12x768x12-50257,causal,head=last",
    "transformer:512-30522-12x768x12-2",
    # ViT-B/16 and ViT-S/16 on ImageNet (mean pooling, no class token)
    "vit:3x224x224-16-12x768x12-1000",
    "vit:3x224x224-16-12x384x6-1000",
    # 24 layers (GPT-2-medium depth at a smaller width), a sinusoidal model
    "transformer:256-8192-24x512x8-8192,causal,head=last",
    "transformer:512-32000-6x512x8-32000,pos=sin,causal,head=last",
    "transformer:128-1000-3x96x4-10,mlp=8,pos=sin",
]


def parse(spec):
    kind, rest = spec.split(":", 1)
    parts = rest.split(",")
    head = parts[0].split("-")
    opts = dict((p.split("=", 1) + [""])[:2] for p in parts[1:])
    if kind not in ("transformer", "vit") or len(head) != 4:
        raise ValueError("not a transformer or vit spec: %r" % spec)
    layers, dim, heads = (int(v) for v in head[2].split("x"))
    p = dict(kind=kind, classes=int(head[3]), layers=layers, dim=dim, heads=heads,
             mlp=int(opts.get("mlp", "4")), pos=opts.get("pos", "learned"),
             causal="causal" in opts, head=opts.get("head", "mean"),
             dropout=float(opts.get("dropout", "0")))
    if kind == "transformer":
        p["seq"], p["vocab"] = int(head[0]), int(head[1])
    else:
        p["input"] = [int(v) for v in head[0].split("x")]
        p["patch"] = int(head[1])
        p["seq"] = (p["input"][1] // p["patch"]) * (p["input"][2] // p["patch"])
    return p


def sinusoidal(t, d):
    """The fixed position table: P[t, 2i] = sin(t·f_i), P[t, 2i+1] =
    cos(t·f_i), f_i = 10000^(-2i/d) (an odd d's last column is a sin),
    computed in float64 and rounded once."""
    tab = torch.zeros(t, d, dtype=torch.float64)
    pos = torch.arange(t, dtype=torch.float64)
    for i in range((d + 1) // 2):
        f = math.exp(-(2 * i / d) * math.log(10000))
        tab[:, 2 * i] = torch.sin(pos * f)
        if 2 * i + 1 < d:
            tab[:, 2 * i + 1] = torch.cos(pos * f)
    return tab.float()


class Attention(nn.Module):
    """Multi-head self-attention: qkv (D -> 3D), per-head softmax(Q·Kᵀ/sqrt(dh))·V, proj."""

    def __init__(self, p):
        super().__init__()
        d = p["dim"]
        self.heads, self.causal = p["heads"], p["causal"]
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        n, t, d = x.shape
        h = self.heads
        dh = d // h
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (z.reshape(n, t, h, dh).transpose(1, 2) for z in (q, k, v))  # [n, h, t, dh]
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))
        if self.causal:
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            s = s.masked_fill(mask, float("-inf"))
        o = F.softmax(s, dim=-1) @ v  # [n, h, t, dh]
        return self.proj(o.transpose(1, 2).reshape(n, t, d))


class MLP(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.fc1 = nn.Linear(p["dim"], p["mlp"] * p["dim"])
        self.fc2 = nn.Linear(p["mlp"] * p["dim"], p["dim"])

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class Block(nn.Module):
    def __init__(self, p):
        super().__init__()
        d = p["dim"]
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = Attention(p)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = MLP(p)
        self.drop = nn.Dropout(p["dropout"])

    def forward(self, x):
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.mlp(self.ln2(x)))


class Transformer(nn.Module):
    def __init__(self, p):
        super().__init__()
        d = p["dim"]
        self.kind, self.last = p["kind"], p["head"] == "last"
        if self.kind == "transformer":
            self.tok_emb = nn.Embedding(p["vocab"], d)
        else:
            self.patch_embed = nn.Conv2d(p["input"][0], d, p["patch"], stride=p["patch"])
        if p["pos"] == "sin":
            self.register_buffer("pos_table", sinusoidal(p["seq"], d), persistent=False)
            self.pos_emb = None
        else:
            self.pos_emb = nn.Parameter(torch.zeros(p["seq"], d))
        self.drop = nn.Dropout(p["dropout"])
        self.blocks = nn.ModuleList(Block(p) for _ in range(p["layers"]))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.head = nn.Linear(d, p["classes"])

    def forward(self, x):
        if self.kind == "transformer":
            x = self.tok_emb(x)  # [n, t] ids -> [n, t, d]
        else:
            x = self.patch_embed(x).flatten(2).transpose(1, 2)  # [n, d, h, w] -> [n, h·w, d]
        x = x + (self.pos_table if self.pos_emb is None else self.pos_emb)
        x = self.drop(x)
        for b in self.blocks:
            x = b(x)
        x = self.ln_f(x)
        x = x[:, -1] if self.last else x.mean(dim=1)
        return self.head(x)


def build(spec):
    return Transformer(parse(spec))


def count(model):
    return sum(t.numel() for t in model.parameters())


if __name__ == "__main__":
    specs = sys.argv[1:] or SPECS
    out = {}
    for s in specs:
        try:
            with torch.device("meta"):  # shapes only (torch >= 2.0): no 160M-float allocations
                out[s] = count(build(s))
        except (AttributeError, TypeError):  # torch 1.x (Debian 12's python3-torch): real tensors
            out[s] = count(build(s))
    json.dump(out, sys.stdout, indent=1)
    print()
