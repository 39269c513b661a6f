"""Plain torch.nn builds of pouwd's resnet: and cnn: model specs (ml/resnet.go,
ml/model.go), with the engine's parameter names, and their parameter counts.

    /usr/bin/python3 scripts/bench/resnet_params.py > ml/testdata/resnet_params.json

prints {"spec": trainable parameter count, ...} for SPECS; TestResNetParamCounts
(ml/resnet_test.go) checks that ml.NewModel(spec).NumParams() equals each.
torch_crosscheck_resnet.py imports build() from here. No torchvision: the
layout is written out (torchvision's ResNet v1.5, bias-free convolutions,
BatchNorm everywhere, option B 1x1 projection shortcuts)."""
import json
import sys

import torch.nn as nn

SPECS = [
    "resnet:3x32x32-resnet20-10",
    "resnet:3x32x32-resnet32-10",
    "resnet:3x32x32-resnet44-10",
    "resnet:3x32x32-resnet56-10",
    "resnet:3x32x32-resnet110-10",
    "resnet:3x32x32-resnet20-100,width=4",
    "resnet:3x32x32-basic-3.3.3-16-10",
    "resnet:3x8x8-basic-1.1-4-5",
    "resnet:3x8x8-bottleneck-1.1-2-5",
    "resnet:1x28x28-basic-2.2-8-10,stem=imagenet",
    "resnet:3x224x224-resnet18-1000",
    "resnet:3x224x224-resnet34-1000",
    "resnet:3x224x224-resnet50-1000",
    "resnet:3x224x224-resnet101-1000",
    "resnet:3x224x224-bottleneck-3.4.6.3-64-1000",
    "resnet:3x64x64-resnet18-200,width=2",
    "resnet:3x224x224-resnet50-1000,width=2",
    "resnet:3x224x224-resnet50-1000,width=3",
    "cnn:1x28x28-2x8-10",
    "cnn:3x32x32-3x16-10,bn,fc=64",
    "cnn:3x32x32-3x16-10,bn,width=4",
    "cnn:3x64x64-4x64-1000,bn,fc=4096,width=4",
]

PRESETS = {
    "resnet20": ("basic", [3, 3, 3], 16, "cifar"),
    "resnet32": ("basic", [5, 5, 5], 16, "cifar"),
    "resnet44": ("basic", [7, 7, 7], 16, "cifar"),
    "resnet56": ("basic", [9, 9, 9], 16, "cifar"),
    "resnet110": ("basic", [18, 18, 18], 16, "cifar"),
    "resnet18": ("basic", [2, 2, 2, 2], 64, "imagenet"),
    "resnet34": ("basic", [3, 4, 6, 3], 64, "imagenet"),
    "resnet50": ("bottleneck", [3, 4, 6, 3], 64, "imagenet"),
    "resnet101": ("bottleneck", [3, 4, 23, 3], 64, "imagenet"),
    "resnet152": ("bottleneck", [3, 8, 36, 3], 64, "imagenet"),
}


def parse(spec):
    kind, rest = spec.split(":", 1)
    parts = rest.split(",")
    head = parts[0].split("-")
    opts = dict((p.split("=", 1) + [""])[:2] for p in parts[1:])
    inp = [int(v) for v in head[0].split("x")]
    classes = int(head[-1])
    mul = int(opts.get("width", "1"))
    if kind == "cnn":
        depth, width = (int(v) for v in head[1].split("x"))
        return dict(kind=kind, input=inp, classes=classes, depth=depth, width=width * mul,
                    bn="bn" in opts, pool=opts.get("pool", "max"), fc=int(opts.get("fc", "0")))
    if len(head) == 3:
        block, stages, width, stem = PRESETS[head[1]]
    else:
        block, stages, width = head[1], [int(v) for v in head[2].split(".")], int(head[3])
        stem = "imagenet" if len(stages) >= 4 else "cifar"
    stem = opts.get("stem", stem)
    return dict(kind=kind, input=inp, classes=classes, block=block, stages=stages, width=width * mul, stem=stem)


class Block(nn.Module):
    def __init__(self, block, cin, planes, stride):
        super().__init__()
        self.block = block
        self.relu = nn.ReLU()
        if block == "basic":
            out = planes
            self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
        else:
            out = 4 * planes
            self.conv1 = nn.Conv2d(cin, planes, 1, 1, 0, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, out, 1, 1, 0, bias=False)
            self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, 0, bias=False), nn.BatchNorm2d(out))
        self.out = out

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.block == "bottleneck":
            y = self.bn3(self.conv3(self.relu(y)))
        s = x if self.downsample is None else self.downsample(x)
        return self.relu(y + s)


class ResNet(nn.Module):
    def __init__(self, p):
        super().__init__()
        w = p["width"]
        if p["stem"] == "imagenet":
            self.conv1 = nn.Conv2d(p["input"][0], w, 7, 2, 3, bias=False)
            self.pool = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv2d(p["input"][0], w, 3, 1, 1, bias=False)
            self.pool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU()
        ch = w
        for i, n in enumerate(p["stages"]):
            blocks = []
            for b in range(n):
                blk = Block(p["block"], ch, w << i, 2 if i > 0 and b == 0 else 1)
                ch = blk.out
                blocks.append(blk)
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*blocks))
        self.nstages = len(p["stages"])
        self.fc = nn.Linear(ch, p["classes"])

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.nstages):
            x = getattr(self, "layer%d" % (i + 1))(x)
        return self.fc(x.mean(dim=(2, 3)))


def cnn(p):
    layers, ch, h, w = [], p["input"][0], p["input"][1], p["input"][2]
    for i in range(p["depth"]):
        out = p["width"] << i
        layers.append(nn.Conv2d(ch, out, 3, 1, 1))
        if p["bn"]:
            layers.append(nn.BatchNorm2d(out))
        layers += [nn.ReLU(), nn.MaxPool2d(2) if p["pool"] == "max" else nn.AvgPool2d(2)]
        ch, h, w = out, h // 2, w // 2
    layers.append(nn.Flatten())
    feat = ch * h * w
    if p["fc"]:
        layers += [nn.Linear(feat, p["fc"]), nn.ReLU()]
        feat = p["fc"]
    layers.append(nn.Linear(feat, p["classes"]))
    return nn.Sequential(*layers)


def build(spec):
    p = parse(spec)
    return cnn(p) if p["kind"] == "cnn" else ResNet(p)


def count(model):
    return sum(t.numel() for t in model.parameters())


if __name__ == "__main__":
    specs = sys.argv[1:] or SPECS
    json.dump({s: count(build(s)) for s in specs}, sys.stdout, indent=1)
    print()
