#!/usr/bin/python3
"""Writes core/src/test/resources/random-networks.txt: small networks drawn at random, each with one
training step computed by PyTorch in float64 (an implementation independent of cnn4j), for
RandomNetworksTest and the CUDA backend's suite. A network is an input of 1 to 4 channels and 4 to 16
pixels a side, 1 to 4 blocks drawn from: a convolution (kernel 1 to 4, stride 1 to 3, padding 0 to 2,
dilation 1 or 2, grouped or depthwise or neither, with or without bias), a max pooling (ceil mode or
not, padding, dilation) or an average pooling (ceil mode or not, padding counted in the divisor or
not), batch normalisation in training mode (from random running statistics), an activation (ReLU,
LeakyReLU, Sigmoid, Tanh, SiLU, GELU), a residual 3x3 convolution added to its input, a 3x3
convolution whose maps join its input's (torch.cat along the channels); then global average pooling
or flattening, a hidden dense layer with batch normalisation and ReLU or none, and a dense layer to
2 to 6 classes. The step: the mean softmax
cross-entropy of 2 to 5 images against random labels, every parameter's gradient, and the running
statistics after it.

Run with Debian's PyTorch: /usr/bin/python3 scripts/random-networks.py [COUNT [SEED [FILE]]]
(default 32 networks, seed 20261206, the test resource). A larger draw into another file is checked
by scripts/test -Dtest=RandomNetworksTest -Dcnn4j.testArgs=-Dcnn4j.randomNetworks=FILE.

Format, one record per line:
  network NAME C H W             starts a network of input (C, H, W)
  conv NAME IN OUT K STRIDE PAD DILATION GROUPS BIAS
  maxpool NAME K STRIDE PAD DILATION CEIL
  avgpool NAME K STRIDE PAD CEIL COUNT_INCLUDE_PAD
  batchnorm NAME C EPS
  act NAME KIND                  (PyTorch's class name)
  residual NAME C                (NAME a 3x3 convolution, padding 1, added to the block's input)
  concat NAME C OUT              (NAME a 3x3 convolution, padding 1, C to OUT maps, joined after the input's C)
  globalavg NAME | flatten NAME
  dense NAME IN OUT
  batchnorm1d NAME FEATURES EPS
  tensor NAME d0,d1,... v v v    (param/NAME before the step, x, labels, loss, grad/NAME, after/NAME)
  end
Names are PyTorch's (layers.0.weight, ...), which cnn4j's layers take too.
"""
import os
import random
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.set_default_dtype(torch.float64)

count = int(sys.argv[1]) if len(sys.argv) > 1 else 32
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20261206
path = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "..", "core", "src", "test", "resources",
                                                            "random-networks.txt")
rnd = random.Random(seed)
torch.manual_seed(seed)


def conv_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def pool_size(n, k, s, p, d, ceil):
    """PyTorch's output size: in ceil mode, a last window that would start in the padding is dropped."""
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


class Net(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.layers = nn.ModuleList(m for m, _ in blocks)
        self.kinds = [k for _, k in blocks]

    def forward(self, x):
        for m, kind in zip(self.layers, self.kinds):
            if kind == "residual":
                x = x + m(x)
            elif kind == "concat":
                x = torch.cat([x, m(x)], 1)
            elif kind == "globalavg":
                x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
            elif kind == "flatten":
                x = torch.flatten(x, 1)
            else:
                x = m(x)
        return x


def tensor(name, t):
    t = t.detach().contiguous()
    return f"tensor {name} {','.join(str(d) for d in t.shape) or '1'} " + " ".join(repr(float(v)) for v in t.flatten())


def draw(index):
    """One network's records, or None where the draw leaves no output or too many features."""
    c, h, w = rnd.randint(1, 4), rnd.randint(4, 16), rnd.randint(4, 16)
    shape = (c, h, w)
    blocks, lines = [], [f"network n{index} {c} {h} {w}"]
    for _ in range(rnd.randint(1, 4)):
        name = f"layers.{len(blocks)}"
        kind = rnd.choice(["conv", "conv", "pool", "pool", "batchnorm", "batchnorm", "act", "residual", "concat"])
        if kind == "conv":
            k, s, p, d = rnd.randint(1, 4), rnd.randint(1, 3), rnd.randint(0, 2), rnd.randint(1, 2)
            g = rnd.choice([1, 1, c])
            out = g * rnd.randint(1, 2) if g > 1 else rnd.randint(1, 6)
            bias = rnd.random() < 0.7
            oh, ow = conv_size(h, k, s, p, d), conv_size(w, k, s, p, d)
            if oh < 1 or ow < 1:
                return None
            blocks.append((nn.Conv2d(c, out, k, s, p, d, groups=g, bias=bias), kind))
            lines.append(f"conv {name} {c} {out} {k} {s} {p} {d} {g} {int(bias)}")
            c, h, w = out, oh, ow
        elif kind == "pool":
            is_max = rnd.random() < 0.5
            k, s, ceil = rnd.randint(1, 3), rnd.randint(1, 3), rnd.random() < 0.5
            p, d = rnd.randint(0, k // 2), rnd.randint(1, 2) if is_max else 1
            oh, ow = pool_size(h, k, s, p, d, ceil), pool_size(w, k, s, p, d, ceil)
            if oh < 1 or ow < 1:
                return None
            if is_max:
                m = nn.MaxPool2d(k, s, p, d, ceil_mode=ceil)
                with torch.no_grad():
                    if not torch.isfinite(m(torch.zeros(1, 1, h, w))).all():
                        return None  # a window of taps apart that holds no input (cnn4j refuses it)
                blocks.append((m, kind))
                lines.append(f"maxpool {name} {k} {s} {p} {d} {int(ceil)}")
            else:
                counted = rnd.random() < 0.5
                blocks.append((nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=counted), kind))
                lines.append(f"avgpool {name} {k} {s} {p} {int(ceil)} {int(counted)}")
            h, w = oh, ow
        elif kind == "batchnorm":
            eps = rnd.choice([1e-5, 1e-3])
            bn = nn.BatchNorm2d(c, eps=eps)
            with torch.no_grad():
                bn.running_mean.copy_(0.3 * torch.randn(c))
                bn.running_var.copy_(0.5 + torch.rand(c))
                bn.weight.copy_(torch.randn(c))
                bn.bias.copy_(torch.randn(c))
            blocks.append((bn, kind))
            lines.append(f"batchnorm {name} {c} {eps}")
        elif kind == "act":
            act = rnd.choice(["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "SiLU", "GELU"])
            blocks.append((getattr(nn, act)(), kind))
            lines.append(f"act {name} {act}")
        elif kind == "residual":
            blocks.append((nn.Conv2d(c, c, 3, 1, 1), kind))
            lines.append(f"residual {name} {c}")
        else:
            out = rnd.randint(1, 3)
            blocks.append((nn.Conv2d(c, out, 3, 1, 1), kind))
            lines.append(f"concat {name} {c} {out}")
            c += out
    classes = rnd.randint(2, 6)
    if rnd.random() < 0.5:
        blocks.append((nn.Identity(), "globalavg"))
        lines.append(f"globalavg layers.{len(blocks) - 1}")
        features = c
    else:
        blocks.append((nn.Identity(), "flatten"))
        lines.append(f"flatten layers.{len(blocks) - 1}")
        features = c * h * w
    if features > 600:
        return None
    if rnd.random() < 0.3:  # a hidden layer: dense, batch normalisation, ReLU
        hidden, eps = rnd.randint(2, 8), rnd.choice([1e-5, 1e-3])
        bn = nn.BatchNorm1d(hidden, eps=eps)
        with torch.no_grad():
            bn.running_mean.copy_(0.3 * torch.randn(hidden))
            bn.running_var.copy_(0.5 + torch.rand(hidden))
        blocks += [(nn.Linear(features, hidden), "dense"), (bn, "batchnorm1d"), (nn.ReLU(), "act")]
        lines += [f"dense layers.{len(blocks) - 3} {features} {hidden}", f"batchnorm1d layers.{len(blocks) - 2} {hidden} {eps}",
                  f"act layers.{len(blocks) - 1} ReLU"]
        features = hidden
    blocks.append((nn.Linear(features, classes), "dense"))
    lines.append(f"dense layers.{len(blocks) - 1} {features} {classes}")
    net = Net(blocks).train()
    n = rnd.randint(2, 5)
    x, labels = torch.randn(n, *shape), torch.randint(0, classes, (n,))
    before = {k: v.clone() for k, v in net.state_dict().items() if "num_batches" not in k}
    loss = F.cross_entropy(net(x), labels)
    loss.backward()
    lines += [tensor("x", x), tensor("labels", labels.double()), tensor("loss", loss.reshape(1))]
    lines += [tensor("param/" + k, v) for k, v in before.items()]
    lines += [tensor("grad/" + k, p.grad) for k, p in net.named_parameters()]
    lines += [tensor("after/" + k, v) for k, v in net.state_dict().items() if "running" in k]
    return lines + ["end"]


records = []
while len(records) < count:
    drawn = draw(len(records))
    if drawn is not None:
        records.append(drawn)
with open(path, "w") as f:
    f.write(f"# Generated by scripts/random-networks.py with PyTorch {torch.__version__}, float64, seed {seed}. Do not edit.\n")
    for r in records:
        f.write("\n".join(r) + "\n")
print("wrote", count, "networks to", os.path.normpath(path))
