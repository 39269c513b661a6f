"""PyTorch eager fp32 training throughput on a GPU, TF32 off: the peer of
pouwd's resident training (ml/devtrain's BenchmarkResidentFamilies) in
scripts/gpu-check.sh. One JSON object per model on stdout:

    {"name": "resnet20_b128", "spec": ..., "batch": 128, "device": ...,
     "samples_per_second": ..., "step_ms": ...}

    python3 scripts/bench/torch_gpu_train.py [DEVICE [STEPS [ONLY]]]

DEVICE defaults to cuda (cpu runs the same loop, for a smoke test where
there is no GPU); STEPS (default 20) timed steps after 3 warm-up steps;
ONLY runs one model by name. The models are pouwd's specs built in plain
torch.nn by resnet_params.py and transformer_params.py (the same layouts,
their parameter counts tested against ml.NewModel), trained like
BenchmarkResidentFamilies: SGD with momentum 0.9, lr 0.01, cross-entropy,
on random inputs. The rate is the mean over the STEPS timed steps
(wall clock from a synchronize to a synchronize), as the Go benchmark's is
over its b.N steps."""
import json
import os
import sys
import time

import torch
import torch.nn as nn

device = sys.argv[1] if len(sys.argv) > 1 else "cuda"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
only = sys.argv[3] if len(sys.argv) > 3 else ""

# The proof path has no TF32 and no reduced-precision reductions; the peer
# gets the same arithmetic class (cuDNN may still pick any fp32 algorithm,
# benchmark mode on: its best).
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True
try:
    torch.set_float32_matmul_precision("highest")
except AttributeError:
    pass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# name, spec, builder module, batch, input shape, classes, token ids
MODELS = [
    ("resnet20_b128", "resnet:3x32x32-resnet20-10", "resnet_params", 128, (3, 32, 32), 10, False),
    ("transformer_d512_l6_s256_b32", "transformer:256-256-6x512x8-256,causal,head=last",
     "transformer_params", 32, (256,), 256, True),
]

dev = torch.device(device)
if dev.type == "cuda":
    name = torch.cuda.get_device_name(dev)
else:
    name = "cpu, %d threads" % torch.get_num_threads()
print("peer: PyTorch %s eager fp32 on %s (TF32 off, cuDNN %s)" % (
    torch.__version__, name, torch.backends.cudnn.version() if dev.type == "cuda" else "-"), file=sys.stderr, flush=True)


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


for label, spec, builder, batch, shape, classes, tokens in MODELS:
    if only and label != only:
        continue
    torch.manual_seed(1)
    model = __import__(builder).build(spec).to(dev)
    pool = 4 * batch
    if tokens:
        X = torch.randint(0, 256, (pool, *shape), device=dev)
    else:
        X = torch.rand(pool, *shape, device=dev)
    Y = torch.randint(0, classes, (pool,), device=dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = nn.CrossEntropyLoss()

    def step(i):
        lo = (i % 4) * batch
        opt.zero_grad(set_to_none=False)
        loss = lossf(model(X[lo:lo + batch]), Y[lo:lo + batch])
        loss.backward()
        opt.step()

    for i in range(3):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    sync()
    mean = (time.perf_counter() - t0) / steps
    print(json.dumps({"name": label, "spec": spec, "batch": batch, "device": name,
                      "params": sum(p.numel() for p in model.parameters()),
                      "samples_per_second": batch / mean, "step_ms": 1000 * mean}), flush=True)
