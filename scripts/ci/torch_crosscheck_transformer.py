"""PyTorch side of TestTransformerTorchCrossCheck (ml/transformer_torch_test.go):
reads the engine's model (spec, weights, input batch, labels) from IN.json,
rebuilds it with plain torch.nn modules and torch.nn.functional written out
(scripts/bench/transformer_params.py build(): pre-LayerNorm blocks, packed
[Q | K | V] projection, scaled dot-product attention with the optional causal
mask, exact GELU, learned or sinusoidal positions, mean or last-token
pooling; vit: a stride-PATCH Conv2d patch embedding), runs one training
forward pass (dropout must be 0), cross-entropy loss and backward in
float32, and writes the loss, logits and every parameter gradient to
OUT.json in the engine's layouts (the engine stores Linear weights In x Out:
y = x·W + b; torch Out x In).

    /usr/bin/python3 scripts/ci/torch_crosscheck_transformer.py IN.json OUT.json"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from transformer_params import build, parse  # noqa: E402

torch.set_num_threads(1)
src = json.load(open(sys.argv[1]))
if parse(src["spec"])["dropout"] != 0:
    sys.exit("spec %s has dropout: the engine's masks cannot be reproduced here" % src["spec"])
model = build(src["spec"]).float()
model.train()
params = dict(model.named_parameters())
linear = {n + ".weight" for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
names = set()
with torch.no_grad():
    for p in src["params"]:
        name = p["name"]
        if name not in params:
            sys.exit("engine tensor %s not in the torch model" % name)
        t = torch.tensor(p["data"], dtype=torch.float32).reshape(p["shape"])
        if name in linear:
            t = t.t()
        if t.numel() != params[name].numel():
            sys.exit("engine tensor %s has %d values, torch %d" % (name, t.numel(), params[name].numel()))
        params[name].copy_(t.reshape(params[name].shape))
        names.add(name)
missing = [n for n in params if n not in names]
if missing:
    sys.exit("torch parameters %s not in the engine model" % missing)
x = torch.tensor(src["x"], dtype=torch.float32).reshape(src["shape"])
if "tok_emb.weight" in params:
    ids = x.long()
    if not torch.equal(ids.float(), x):
        sys.exit("token ids are not integers")
    x = ids
y = torch.tensor(src["labels"])
logits = model(x)
loss = torch.nn.functional.cross_entropy(logits, y)
loss.backward()
out = {"loss": loss.item(), "logits": logits.detach().reshape(-1).tolist(), "grads": {}}
for name, p in params.items():
    g = p.grad.detach() if p.grad is not None else torch.zeros_like(p)
    if name in linear:
        g = g.t()
    out["grads"][name] = g.reshape(-1).tolist()
json.dump(out, open(sys.argv[2], "w"))
