"""One training step rate of a large pouwd Transformer spec in plain torch
(transformer_params.build: the same layout and parameter count), AdamW,
fp32, on random token ids; prints JSON {"samples_per_second": ...}.

    /usr/bin/python3 scripts/bench/large_torch.py SPEC BATCH STEPS THREADS

Used by large_vs_torch.sh beside `pouwd ml train` on the same spec."""
import json
import os
import sys
import time

import torch

spec, batch, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from transformer_params import build, count, parse  # noqa: E402

model = build(spec)
cfg = parse(spec)
seq = int(spec.split(":")[1].split("-")[0])
opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
lossf = torch.nn.CrossEntropyLoss()
X = torch.randint(0, 256, (batch * 4, seq))
Y = torch.randint(0, 256, (batch * 4,))


def step(i):
    x, y = X[(i % 4) * batch:(i % 4 + 1) * batch], Y[(i % 4) * batch:(i % 4 + 1) * batch]
    opt.zero_grad()
    lossf(model(x), y).backward()
    opt.step()


step(0)  # warm-up: allocations, AdamW state
best = 0.0
for i in range(steps):
    t0 = time.perf_counter()
    step(i + 1)
    best = max(best, batch / (time.perf_counter() - t0))
print(json.dumps({"spec": spec, "params": count(model), "batch": batch, "threads": threads, "samples_per_second": best,
                  "torch": torch.__version__, "blas": torch.__config__.show().count("OpenBLAS") > 0}))
