#!/usr/bin/env python3
"""Writes core/src/test/resources/torch-fixtures.txt: reference values computed by PyTorch in float64,
an implementation independent of cnn4j, for convolution, pooling, dense, softmax cross-entropy,
the optimizers, batch normalisation and the activations LeakyReLU, SiLU and GELU. TorchFixtureTest compares both cnn4j CPU backends against them.

Run with Debian's PyTorch (apt-get install python3-torch): /usr/bin/python3 scripts/torch-fixtures.py

Format, one record per line:
  case NAME key=value ...        starts a case; its parameters follow
  tensor NAME d0,d1,... v v v    a tensor of that shape, row-major
  end
"""
import os
import torch
import torch.nn.functional as F

torch.manual_seed(20261123)
torch.set_default_dtype(torch.float64)
out = []


def case(name, **params):
    out.append("case " + name + "".join(f" {k}={v}" for k, v in params.items()))


def tensor(name, t):
    t = t.detach().contiguous()
    out.append(f"tensor {name} {','.join(str(d) for d in t.shape)} " + " ".join(repr(float(v)) for v in t.flatten()))


def end():
    out.append("end")


def conv(name, n, c, h, w, k, r, s, pad=(0, 0), stride=(1, 1), dil=(1, 1)):
    x = torch.randn(n, c, h, w, requires_grad=True)
    wt = torch.randn(k, c, r, s, requires_grad=True)
    b = torch.randn(k, requires_grad=True)
    y = F.conv2d(x, wt, b, stride=stride, padding=pad, dilation=dil)
    dy = torch.randn_like(y)
    y.backward(dy)
    case(name, padH=pad[0], padW=pad[1], strideH=stride[0], strideW=stride[1], dilationH=dil[0], dilationW=dil[1])
    for nm, t in [("x", x), ("w", wt), ("b", b), ("y", y), ("dy", dy), ("dx", x.grad), ("dw", wt.grad), ("db", b.grad)]:
        tensor(nm, t)
    end()


def pool(name, kind, n, c, h, w, win, stride, pad=(0, 0)):
    x = torch.randn(n, c, h, w, requires_grad=True)
    if kind == "max":
        y = F.max_pool2d(x, win, stride, pad)
    else:
        y = F.avg_pool2d(x, win, stride, pad, count_include_pad=True)
    dy = torch.randn_like(y)
    y.backward(dy)
    case(name, kind=kind, windowH=win[0], windowW=win[1], strideH=stride[0], strideW=stride[1], padH=pad[0], padW=pad[1])
    for nm, t in [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)]:
        tensor(nm, t)
    end()


def dense(name, n, i, o):
    x = torch.randn(n, i, requires_grad=True)
    wt = torch.randn(o, i, requires_grad=True)
    b = torch.randn(o, requires_grad=True)
    y = F.linear(x, wt, b)
    dy = torch.randn_like(y)
    y.backward(dy)
    case(name)
    for nm, t in [("x", x), ("w", wt), ("b", b), ("y", y), ("dy", dy), ("dx", x.grad), ("dw", wt.grad), ("db", b.grad)]:
        tensor(nm, t)
    end()


def cross_entropy(name, n, classes):
    x = (3 * torch.randn(n, classes)).requires_grad_(True)
    labels = torch.randint(0, classes, (n,))
    loss = F.cross_entropy(x, labels)
    loss.backward()
    case(name)
    tensor("logits", x)
    tensor("labels", labels.double())
    tensor("loss", loss.reshape(1))
    tensor("dlogits", x.grad)
    end()


def optimizer(name, make, steps=4, **params):
    w0 = torch.randn(3, 5)
    grads = [torch.randn(3, 5) for _ in range(steps)]
    w = w0.clone().requires_grad_(True)
    opt = make([w])
    for g in grads:
        w.grad = g.clone()
        opt.step()
    case(name, steps=steps, **params)
    tensor("w0", w0)
    for i, g in enumerate(grads):
        tensor(f"g{i}", g)
    tensor("w", w)
    end()


def batch_norm(name, shape, steps=3, momentum=0.1, eps=1e-5):
    c = shape[1]
    bn = (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(c, eps=eps, momentum=momentum)
    with torch.no_grad():
        bn.weight.copy_(torch.randn(c))
        bn.bias.copy_(torch.randn(c))
    earlier = [3 * torch.randn(*shape) + 1 for _ in range(steps - 1)]
    bn.train()
    with torch.no_grad():
        for x in earlier:
            bn(x)                                       # the running statistics move with each batch
    x = (3 * torch.randn(*shape) + 1).requires_grad_(True)
    y = bn(x)
    dy = torch.randn_like(y)
    y.backward(dy)
    bn.eval()
    with torch.no_grad():
        y_inference = bn(x)
    case(name, steps=steps, momentum=momentum, eps=eps)
    for i, e in enumerate(earlier):
        tensor(f"x{i}", e)
    for nm, t in [("x", x), ("weight", bn.weight), ("bias", bn.bias), ("y", y), ("dy", dy), ("dx", x.grad),
                  ("dweight", bn.weight.grad), ("dbias", bn.bias.grad), ("running_mean", bn.running_mean),
                  ("running_var", bn.running_var), ("y_inference", y_inference)]:
        tensor(nm, t)
    end()


conv("conv_basic", 2, 3, 7, 6, 4, 3, 3)
conv("conv_pad_stride", 2, 3, 9, 8, 5, 3, 3, pad=(1, 1), stride=(2, 2))
conv("conv_rect_dilated", 1, 2, 10, 9, 3, 2, 3, pad=(2, 1), stride=(1, 2), dil=(2, 3))
conv("conv_1x1", 3, 6, 5, 4, 4, 1, 1)
conv("conv_stride3_unaligned", 2, 2, 11, 10, 3, 4, 2, pad=(0, 1), stride=(3, 3))
pool("max_2x2", "max", 2, 3, 8, 8, (2, 2), (2, 2))
pool("max_overlap", "max", 2, 2, 9, 7, (3, 3), (2, 2))
pool("max_nondivisible_pad", "max", 1, 3, 7, 10, (3, 2), (2, 3), pad=(1, 1))
pool("avg_2x2", "avg", 2, 3, 8, 8, (2, 2), (2, 2))
pool("avg_overlap_pad", "avg", 2, 2, 9, 7, (3, 3), (2, 1), pad=(1, 1))
dense("dense", 5, 7, 4)
cross_entropy("cross_entropy", 6, 5)
optimizer("sgd", lambda p: torch.optim.SGD(p, lr=0.1), lr=0.1, momentum=0, weightDecay=0, nesterov="false")
optimizer("sgd_momentum_decay", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
          lr=0.05, momentum=0.9, weightDecay=0.01, nesterov="false")
optimizer("sgd_nesterov", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, weight_decay=0.001, nesterov=True),
          lr=0.05, momentum=0.8, weightDecay=0.001, nesterov="true")
optimizer("adam", lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.02),
          lr=0.01, beta1=0.9, beta2=0.99, eps=1e-6, weightDecay=0.02, decoupled="false")
optimizer("adamw", lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.8, 0.999), eps=1e-8, weight_decay=0.1),
          lr=0.01, beta1=0.8, beta2=0.999, eps=1e-8, weightDecay=0.1, decoupled="true")

# Appended after the cases above, so that their random numbers (and values) stay as they were.
batch_norm("batchnorm_2d", (4, 3, 3, 2))
batch_norm("batchnorm_1d", (6, 5), steps=4, momentum=0.3, eps=1e-3)

def activation(name, module, **params):
    """An activation's output and input gradient on x with its kinks and tails: 0, ±1e-3, ±10, -30.
    Its own generator, so that the random numbers of the cases above and of the step below stay as they were."""
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    x = 3 * torch.randn(4, 29, generator=g)
    x.view(-1)[:7] = torch.tensor([0.0, 1e-3, -1e-3, 10.0, -10.0, -30.0, 2.5])
    x.requires_grad_(True)
    y = module(x)
    dy = torch.randn(x.shape, generator=g)
    y.backward(dy)
    case(name, **params)
    for nm, t in [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)]:
        tensor(nm, t)
    end()


activation("act_leaky_relu", torch.nn.LeakyReLU(0.2), kind="LEAKY_RELU", slope=0.2)
activation("act_leaky_relu_negative", torch.nn.LeakyReLU(-0.3), kind="LEAKY_RELU", slope=-0.3)
activation("act_silu", torch.nn.SiLU(), kind="SILU", slope=0)
activation("act_gelu", torch.nn.GELU(), kind="GELU", slope=0)


def grouped_conv(name, n, c, h, w, k, r, s, groups, pad=(0, 0), stride=(1, 1), dil=(1, 1)):
    """A convolution with channel groups (groups = c = k: depthwise), as the layer Conv2d computes it.
    Its own generator, so that the random numbers of the cases above and of the step below stay as they were."""
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    x = torch.randn(n, c, h, w, generator=g).requires_grad_(True)
    wt = torch.randn(k, c // groups, r, s, generator=g).requires_grad_(True)
    b = torch.randn(k, generator=g).requires_grad_(True)
    y = F.conv2d(x, wt, b, stride=stride, padding=pad, dilation=dil, groups=groups)
    dy = torch.randn(y.shape, generator=g)
    y.backward(dy)
    case(name, groups=groups, padH=pad[0], padW=pad[1], strideH=stride[0], strideW=stride[1], dilationH=dil[0], dilationW=dil[1])
    for nm, t in [("x", x), ("w", wt), ("b", b), ("y", y), ("dy", dy), ("dx", x.grad), ("dw", wt.grad), ("db", b.grad)]:
        tensor(nm, t)
    end()


grouped_conv("grouped_conv_2", 2, 4, 7, 6, 6, 3, 3, 2, pad=(1, 1), stride=(2, 1))
grouped_conv("grouped_conv_depthwise", 2, 3, 6, 5, 3, 3, 3, 3, pad=(1, 1))
grouped_conv("grouped_conv_multiplier", 1, 2, 5, 7, 4, 2, 3, 2, pad=(0, 1), dil=(1, 2))


def pool_layer(name, kind, n, c, h, w, win, stride, pad=(0, 0), ceil=False, count_include_pad=True):
    """MaxPool2d / AvgPool2d with ceil_mode and count_include_pad, as the layers compute them (their own generator)."""
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    x = torch.randn(n, c, h, w, generator=g).requires_grad_(True)
    if kind == "max":
        y = F.max_pool2d(x, win, stride, pad, ceil_mode=ceil)
    else:
        y = F.avg_pool2d(x, win, stride, pad, ceil_mode=ceil, count_include_pad=count_include_pad)
    dy = torch.randn(y.shape, generator=g)
    y.backward(dy)
    case(name, kind=kind, windowH=win[0], windowW=win[1], strideH=stride[0], strideW=stride[1], padH=pad[0], padW=pad[1],
         ceil=str(ceil).lower(), countIncludePad=str(count_include_pad).lower())
    for nm, t in [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)]:
        tensor(nm, t)
    end()


pool_layer("pool_layer_max_ceil", "max", 2, 3, 7, 8, (3, 3), (2, 2), ceil=True)
pool_layer("pool_layer_max_ceil_pad", "max", 1, 2, 10, 9, (3, 2), (2, 2), pad=(1, 1), ceil=True)
pool_layer("pool_layer_avg_ceil", "avg", 2, 3, 7, 8, (3, 3), (2, 2), ceil=True)
pool_layer("pool_layer_avg_ceil_pad", "avg", 1, 2, 10, 9, (3, 3), (2, 2), pad=(1, 1), ceil=True)
pool_layer("pool_layer_avg_padding_not_counted", "avg", 2, 2, 9, 7, (3, 3), (2, 2), pad=(1, 1), count_include_pad=False)
pool_layer("pool_layer_avg_ceil_padding_not_counted", "avg", 1, 3, 6, 7, (3, 3), (2, 2), pad=(1, 1), ceil=True, count_include_pad=False)
# divisors 9 and 12: a rescaling by 4/3, which float cannot hold exactly
pool_layer("pool_layer_avg_padding_not_counted_thirds", "avg", 2, 2, 6, 7, (3, 4), (1, 4), pad=(0, 1), count_include_pad=False)
# ceil mode: windows of 4 larger than 3 rows and than 1 column padded by 1, one window holding it all
pool_layer("pool_layer_max_ceil_larger_than_input", "max", 2, 2, 3, 1, (4, 4), (2, 2), pad=(0, 1), ceil=True)
pool_layer("pool_layer_avg_ceil_larger_than_input", "avg", 2, 2, 3, 1, (4, 4), (2, 2), pad=(0, 1), ceil=True)
pool_layer("pool_layer_avg_ceil_larger_than_input_not_counted", "avg", 2, 2, 3, 1, (4, 4), (2, 2), pad=(0, 1), ceil=True,
           count_include_pad=False)


def pool_asymmetric(name, kind, n, c, h, w, win, stride, pads, count_include_pad=True):
    """Pooling with padding that differs between the sides, pads = (top, left, bottom, right), as an ONNX
    file gives it: PyTorch pads explicitly (-inf for a max, zeros for an average, which count in its
    divisor when count_include_pad, else the divisor counts the input's taps), then pools unpadded."""
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    x = torch.randn(n, c, h, w, generator=g).requires_grad_(True)
    t, l, b, r = pads
    if kind == "max":
        y = F.max_pool2d(F.pad(x, (l, r, t, b), value=float("-inf")), win, stride)
    elif count_include_pad:
        y = F.avg_pool2d(F.pad(x, (l, r, t, b)), win, stride)
    else:
        ones = F.pad(torch.ones(1, 1, h, w, dtype=x.dtype), (l, r, t, b))
        y = F.avg_pool2d(F.pad(x, (l, r, t, b)), win, stride, divisor_override=1) / F.avg_pool2d(ones, win, stride, divisor_override=1)
    dy = torch.randn(y.shape, generator=g)
    y.backward(dy)
    case(name, kind=kind, windowH=win[0], windowW=win[1], strideH=stride[0], strideW=stride[1], padH=t, padW=l, padBottom=b, padRight=r,
         ceil="false", countIncludePad=str(count_include_pad).lower())
    for nm, tt in [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)]:
        tensor(nm, tt)
    end()


pool_asymmetric("pool_layer_max_asymmetric", "max", 2, 2, 7, 8, (2, 3), (1, 2), (0, 1, 1, 0))
pool_asymmetric("pool_layer_avg_asymmetric", "avg", 1, 3, 6, 7, (3, 2), (2, 1), (1, 0, 0, 1))
pool_asymmetric("pool_layer_avg_asymmetric_not_counted", "avg", 2, 2, 7, 6, (3, 3), (2, 2), (0, 1, 1, 1), count_include_pad=False)


def max_pool_dilated(name, n, c, h, w, win, stride, pad, dil, ceil=False):
    """MaxPool2d with its taps apart (dilation), as the layer computes it (its own generator)."""
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    x = torch.randn(n, c, h, w, generator=g).requires_grad_(True)
    y = F.max_pool2d(x, win, stride, pad, dilation=dil, ceil_mode=ceil)
    dy = torch.randn(y.shape, generator=g)
    y.backward(dy)
    case(name, kind="max", windowH=win[0], windowW=win[1], strideH=stride[0], strideW=stride[1], padH=pad[0], padW=pad[1],
         dilationH=dil[0], dilationW=dil[1], ceil=str(ceil).lower(), countIncludePad="true")
    for nm, tt in [("x", x), ("y", y), ("dy", dy), ("dx", x.grad)]:
        tensor(nm, tt)
    end()


max_pool_dilated("pool_layer_max_dilated", 2, 2, 9, 10, (3, 2), (1, 2), (0, 0), (2, 3))
max_pool_dilated("pool_layer_max_dilated_pad_ceil", 1, 3, 11, 9, (3, 3), (2, 2), (1, 1), (2, 2), ceil=True)

def write_safetensors(path, tensors, metadata):
    """A safetensors file of float32 tensors (cnn4j reads F32), written with nothing but struct."""
    import json, struct
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class BasicBlock(torch.nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c_out)
        self.conv2 = torch.nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = torch.nn.Sequential(torch.nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), torch.nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet20(torch.nn.Module):
    """He et al. 2016, 4.2, projection shortcuts, named as cnn4j's Models.resnet20 (torchvision's names)."""

    def __init__(self, channels, classes):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, 16, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(16)
        c, stages = 16, []
        for stage, width in enumerate((16, 32, 64)):
            blocks = []
            for i in range(3):
                blocks.append(BasicBlock(c, width, 2 if stage > 0 and i == 0 else 1))
                c = width
            stages.append(torch.nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = torch.nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def resnet20_step(path, n=4, channels=1, size=8, classes=10):
    """One training step of a whole resnet20: weights, input and labels in; loss, every gradient and the
    running statistics after the step out. Values are float32 (rounded from float64 where computed)."""
    model = ResNet20(channels, classes)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p).float().double() * 0.3)   # exact in float32
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn_like(b).float().double() * 0.1)
            elif name.endswith("running_var"):
                b.copy_((1 + 0.5 * torch.rand_like(b)).float().double())
    tensors = {"param/" + k: v.clone() for k, v in model.state_dict().items() if "num_batches_tracked" not in k}
    x = torch.randn(n, channels, size, size).float().double()
    labels = torch.randint(0, classes, (n,))
    model.train()
    loss = F.cross_entropy(model(x), labels)
    loss.backward()
    tensors["x"] = x
    tensors["labels"] = labels.double()
    tensors["loss"] = loss.detach().reshape(1)
    for k, p in model.named_parameters():
        tensors["grad/" + k] = p.grad
    for k, b in model.named_buffers():
        if "running" in k:
            tensors["after/" + k] = b
    write_safetensors(path, tensors, {"generator": "scripts/torch-fixtures.py, PyTorch " + torch.__version__ + ", float64"})


path = os.path.join(os.path.dirname(__file__), "..", "core", "src", "test", "resources", "torch-fixtures.txt")
with open(path, "w") as f:
    f.write(f"# Generated by scripts/torch-fixtures.py with PyTorch {torch.__version__}, float64. Do not edit.\n")
    f.write("\n".join(out) + "\n")
print("wrote", os.path.normpath(path))
step_path = os.path.join(os.path.dirname(__file__), "..", "core", "src", "test", "resources", "resnet20-step.safetensors")
resnet20_step(step_path)
print("wrote", os.path.normpath(step_path))
