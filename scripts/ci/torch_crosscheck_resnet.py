"""PyTorch side of TestResNetTorchCrossCheck (ml/resnet_test.go): reads the
engine's model (spec, weights, input batch, labels) from IN.json, rebuilds
it in plain torch.nn (scripts/bench/resnet_params.py), runs one training
forward pass (BatchNorm batch statistics), cross-entropy loss and backward
in float32, and writes the loss, logits, gradients and BatchNorm running
statistics to OUT.json in the engine's layouts (Linear weights are In x Out
in the engine, Out x In in torch).

    /usr/bin/python3 scripts/ci/torch_crosscheck_resnet.py IN.json OUT.json"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from resnet_params import build  # noqa: E402

torch.set_num_threads(1)
src = json.load(open(sys.argv[1]))
model = build(src["spec"]).float()
model.train()
state = model.state_dict()
linear = {n + ".weight" for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
names = set()
with torch.no_grad():
    for p in src["params"]:
        t = torch.tensor(p["data"], dtype=torch.float32)
        name = p["name"]
        if name not in state:
            sys.exit("engine tensor %s not in the torch model" % name)
        if name in linear:
            t = t.reshape(p["shape"]).t()
        state[name].copy_(t.reshape(state[name].shape))
        names.add(name)
missing = [n for n in state if n not in names and not n.endswith("num_batches_tracked")]
if missing:
    sys.exit("torch tensors %s not in the engine model" % missing)
x = torch.tensor(src["x"], dtype=torch.float32).reshape(src["shape"])
y = torch.tensor(src["labels"])
logits = model(x)
loss = torch.nn.functional.cross_entropy(logits, y)
loss.backward()
out = {"loss": loss.item(), "logits": logits.detach().reshape(-1).tolist(), "grads": {}, "buffers": {}}
params = dict(model.named_parameters())
for name, p in params.items():
    g = p.grad.detach()
    if name in linear:
        g = g.t()
    out["grads"][name] = g.reshape(-1).tolist()
for name, b in model.named_buffers():
    if not name.endswith("num_batches_tracked"):
        out["buffers"][name] = b.reshape(-1).tolist()
json.dump(out, open(sys.argv[2], "w"))
