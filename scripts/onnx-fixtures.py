#!/usr/bin/python3
"""Writes core/src/test/resources/onnx/: a ResNet-20-shaped network (He et al.'s CIFAR ResNet: 3 stages of
3 basic blocks, 16/32/64 maps, 1x1 projection shortcuts with batch normalisation) built and trained
for 30 steps in PyTorch on random data (so that its running statistics are its own), exported by
torch.onnx.export (opset 13, eval mode, dynamic batch), and an input with PyTorch's outputs for it
(torch-resnet20-io.bin: 2x3x32x32 inputs then 2x10 outputs, float32 little-endian), and the same
for a small net of depthwise-separable convolutions with SiLU, GELU and the pooling options
(torch-mobile), for OnnxImportTest.

Run with Debian's PyTorch: /usr/bin/python3 scripts/onnx-fixtures.py"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(20261205)
torch.set_num_threads(2)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in [(16, 1), (32, 2), (64, 2)]:
            for i in range(3):
                layers.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


model = ResNet20()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for step in range(30):
    x = torch.randn(32, 3, 32, 32)
    y = torch.randint(0, 10, (32,))
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
out = os.path.join(os.path.dirname(__file__), "..", "core", "src", "test", "resources", "onnx")
os.makedirs(out, exist_ok=True)


def write(model, x, name):
    """name.onnx (opset 13, eval mode, dynamic batch) and name-io.bin: x, then the model's outputs for it."""
    model.eval()
    torch.onnx.export(model, x, os.path.join(out, name + ".onnx"), opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    with torch.no_grad():
        y = model(x)
    with open(os.path.join(out, name + "-io.bin"), "wb") as f:
        f.write(x.numpy().astype("<f4").tobytes() + y.numpy().astype("<f4").tobytes())
    print("wrote", os.path.normpath(os.path.join(out, name + ".onnx")), "torch", torch.__version__)


write(model, torch.randn(2, 3, 32, 32), "torch-resnet20")


class Mobile(nn.Module):
    """Depthwise-separable convolutions with SiLU and GELU, a max pooling in ceil mode and an average
    pooling that leaves its padding out: what torch.onnx.export writes for them (Conv's group,
    Sigmoid·x, the Erf form of GELU, ceil_mode, count_include_pad)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.depthwise = nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.pointwise = nn.Conv2d(8, 16, 1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = F.silu(self.bn1(self.stem(x)))
        x = F.gelu(self.bn2(self.depthwise(x)))
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        x = F.relu(self.pointwise(x))
        x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# After ResNet-20, so that its random numbers (and files) stay as they were.
mobile = Mobile()
optimizer = torch.optim.SGD(mobile.parameters(), lr=0.05, momentum=0.9)
for step in range(20):
    optimizer.zero_grad()
    F.cross_entropy(mobile(torch.randn(16, 3, 20, 20)), torch.randint(0, 5, (16,))).backward()
    optimizer.step()
write(mobile, torch.randn(2, 3, 20, 20), "torch-mobile")


class Padded(nn.Module):
    """Zero padding that differs between the sides, F.pad and nn.ZeroPad2d: PyTorch 1.13 writes its pads
    as a computation of int64 constants (ConstantOfShape, Concat, Reshape, Slice with step -1,
    Transpose, Reshape, Cast) before the Pad."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3)
        self.pad = nn.ZeroPad2d((0, 1, 2, 1))
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = F.relu(self.conv1(F.pad(x, (1, 0, 2, 1))))
        x = F.relu(self.conv2(self.pad(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# After the two above, so that their random numbers (and files) stay as they were.
write(Padded(), torch.randn(2, 3, 12, 11), "torch-padded")
