"""PyTorch side of scripts/bench/train_vs_torch.sh: the same GEMMs and
training loops as enginebench, one JSON object per line."""
import json
import os
import sys
import time

import torch
import torch.nn as nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
min_time = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
only = sys.argv[3] if len(sys.argv) > 3 else ""  # run only this benchmark
torch.set_num_threads(threads)
torch.manual_seed(1)


def blas_kernel():
    """The OpenBLAS build and core kernel this process loaded (what
    OpenBLAS chose, or what OPENBLAS_CORETYPE forced), read from the
    library itself."""
    import ctypes
    import os
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))  # make sure BLAS is loaded
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return "%s, core %s (OPENBLAS_CORETYPE=%s)" % (
                lib.openblas_get_config().decode(), lib.openblas_get_corename().decode(),
                os.environ.get("OPENBLAS_CORETYPE", "unset"))
        except (OSError, AttributeError):
            continue
    return "no OpenBLAS loaded (%s)" % torch.__config__.show().splitlines()[0]


# Convolutions run on oneDNN (MKL-DNN) when torch has it, not on OpenBLAS;
# POUWD_TORCH_MKLDNN=0 turns it off (then im2col + OpenBLAS, like pouwd).
if os.environ.get("POUWD_TORCH_MKLDNN") == "0":
    torch.backends.mkldnn.enabled = False
print("peer: PyTorch %s, %d thread(s), BLAS %s, oneDNN convolutions %s" % (
    torch.__version__, torch.get_num_threads(), blas_kernel(),
    "on" if torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled else "off"),
      file=sys.stderr, flush=True)


def emit(name, value, unit, per_cpu):
    print(json.dumps({"name": name, "threads": threads, "value": value, "unit": unit,
                      "per_cpu_second": per_cpu}), flush=True)


for name, m, n, k in [("gemm_1024x1024x1024", 1024, 1024, 1024), ("gemm_512x784x128", 512, 128, 784)]:
    if only and name != only:
        continue
    a, b = torch.randn(m, k), torch.randn(k, n)
    c = torch.empty(m, n)
    torch.mm(a, b, out=c)
    best = 0.0
    deadline = time.perf_counter() + min_time
    c0, runs = time.process_time(), 0
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        runs += 1
        best = max(best, 2 * m * n * k / (time.perf_counter() - t0) / 1e9)
    emit(name, best, "GFLOP/s", 2 * m * n * k * runs / (time.process_time() - c0) / 1e9)


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def resnet20():
    # The same architecture as pouwd's resnet:3x32x32-resnet20-10 (option B
    # shortcuts), built in plain torch.nn by resnet_params.py.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from resnet_params import build
    return build("resnet:3x32x32-resnet20-10")


def spec_model(spec, builder):
    # pouwd's spec built in plain torch.nn by resnet_params.py or
    # transformer_params.py (the same layouts, parameter counts tested).
    def make():
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        mod = __import__(builder)
        return mod.build(spec)
    return make


TRANSFORMER = "transformer:128-256-4x256x8-256,causal,head=last"
for name, build, batch, shape, classes in [
        ("mlp_784-256-10_b64", mlp, 64, (784,), 10),
        ("mlp_784-256-10_b256", mlp, 256, (784,), 10),
        ("cnn_small_b64", cnn, 64, (1, 28, 28), 10),
        ("resnet20_b128", resnet20, 128, (3, 32, 32), 10),
        ("resnet50_64px_b32", spec_model("resnet:3x64x64-resnet50-10", "resnet_params"), 32, (3, 64, 64), 10),
        ("transformer_d256_l4_s128_b32", spec_model(TRANSFORMER, "transformer_params"), 32, (128,), 256),
        ("vit_d192_l6_b64", spec_model("vit:3x32x32-4-6x192x3-10", "transformer_params"), 64, (3, 32, 32), 10)]:
    if only and name != only:
        continue
    n = 1024 if len(shape) == 3 and shape[0] > 1 else 8192  # CIFAR-sized samples: a smaller pool
    if name.startswith("transformer"):
        X = torch.randint(0, 256, (n, *shape))  # token ids
    else:
        X = torch.rand(n, *shape)
    Y = torch.randint(0, classes, (n,))
    model = build()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    perm = torch.randperm(n)
    pos = [0]

    def step():
        i = pos[0]
        if i + batch > n:
            i = 0
        idx = perm[i:i + batch]
        pos[0] = i + batch
        x, y = X.index_select(0, idx), Y.index_select(0, idx)
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(2 if batch >= 128 else 5):
        step()
    best = 0.0
    c0, total = time.process_time(), 0
    for _ in range(3):
        steps = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < min_time / 3:
            step()
            steps += 1
        total += steps * batch
        best = max(best, steps * batch / (time.perf_counter() - t0))
    emit(name, best, "samples/s", total / (time.process_time() - c0))
