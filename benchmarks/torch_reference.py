#!/usr/bin/python3
"""PyTorch's side of benchmarks/run: the built-in cnn4j models with identical layers and shapes,
timed as cnn4j's TrainStepBenchmark times them -- a training step (zero_grad, forward,
cross-entropy, backward, SGD-momentum step) and an inference pass (forward and the predicted
classes read back) -- warm-up first, then the median of timed windows. The training step is timed
on a batch already on the device ("train") and fed, each step's batch first copied from host
memory (page-locked on a GPU, non_blocking) into the step's input ("fed"). Training steps do not
read their loss back one by one (that would make the host wait for the device every step): each
window ends by waiting for the device and reading the last loss, as cnn4j reads its step log.
On a GPU it times eager mode and the whole step captured as one CUDA graph (torch.cuda.CUDAGraph),
with cudnn.benchmark on, in TF32 (as PyTorch's convolution default) or strict float32 (--fp32).
With --channels-last the model's parameters and batches are NHWC (torch.channels_last), the
rows' implementation ends in "-nhwc": PyTorch's side of bin/cnn4j-conv-layouts.

Usage: /usr/bin/python3 benchmarks/torch_reference.py --device cpu|cuda [--windows 5] [--steps 5]
       [--models fmnist-cnn:256,vgg-small:128,lenet5:256,resnet20:128] [--fp32] [--channels-last] --out FILE.csv
Writes CSV rows: implementation,device,model,batch,mode,ms_per_step,images_per_second,peak_mib
"""
import argparse
import csv
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ScaledTanh(nn.Module):
    """LeCun's 1.7159 * tanh(2x/3)."""

    def forward(self, x):
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """LeNet-style subsampling (Bouvrie's notes, §3.2): beta * (sum of each block) + b, per map."""

    def __init__(self, channels, block):
        super().__init__()
        self.block = block
        self.beta = nn.Parameter(torch.full((1, channels, 1, 1), 1.0 / (block * block)))
        self.b = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x):
        return F.avg_pool2d(x, self.block) * (self.block * self.block) * self.beta + self.b


def fmnist_cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10)), (1, 28, 28)


def lenet5():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), ScaledTanh(), Subsampling(6, 2), ScaledTanh(),
                         nn.Conv2d(6, 16, 5), ScaledTanh(), Subsampling(16, 2), ScaledTanh(),
                         nn.Conv2d(16, 120, 5), ScaledTanh(), nn.Flatten(), nn.Linear(120, 84), ScaledTanh(),
                         nn.Linear(84, 10)), (1, 28, 28)


def vgg_small():
    layers, c = [], 3
    for widths in ((64, 64), (128, 128), (256, 256)):
        for k in widths:
            layers += [nn.Conv2d(c, k, 3, padding=1), nn.ReLU()]
            c = k
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(256 * 4 * 4, 10)), (3, 32, 32)


class BasicBlock(nn.Module):
    """A ResNet basic block: two 3x3 convolutions with batch norm, a 1x1 projection where the shape changes."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


def resnet20():
    """He et al. 2016, 4.2, with projection shortcuts: cnn4j's Models.resnet20 at 3x32x32 (272,474 parameters)."""
    layers, c = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for stage, width in enumerate((16, 32, 64)):
        for i in range(3):
            layers.append(BasicBlock(c, width, 2 if stage > 0 and i == 0 else 1))
            c = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)), (3, 32, 32)


MODELS = {"fmnist-cnn": fmnist_cnn, "lenet5": lenet5, "vgg-small": vgg_small, "resnet20": resnet20}


def median_seconds(step, windows, steps, finish=lambda: None):
    """Median over windows of the mean time per step; finish() ends each window inside the clock."""
    for _ in range(max(3, steps)):
        step()
    finish()
    times = []
    for _ in range(windows):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        finish()
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def peak_mib(device):
    """torch.cuda.max_memory_allocated since the last reset, in MiB ('' on the CPU)."""
    return f"{torch.cuda.max_memory_allocated(device) / 2**20:.1f}" if device.type == "cuda" else ""


def measure(name, batch, device, windows, steps, channels_last=False):
    """Rows (implementation, mode, seconds, peak MiB of device memory: after the eager training
    step for eager, after capturing and replaying the graphs for graphed; '' for inference)."""
    torch.manual_seed(1)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model, shape = MODELS[name]()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=layout)
    x = torch.randn(batch, *shape, device=device).contiguous(memory_format=layout)
    y = torch.randint(0, 10, (batch,), device=device)
    # Two batches in host memory (page-locked on a GPU, as a DataLoader with pin_memory gives them)
    # for the "fed" rows: each step first copies the next one into x and y, as in training.
    pin = device.type == "cuda"
    host = [(torch.randn(batch, *shape).contiguous(memory_format=layout).pin_memory() if pin
             else torch.randn(batch, *shape).contiguous(memory_format=layout),
             torch.randint(0, 10, (batch,)).pin_memory() if pin else torch.randint(0, 10, (batch,))) for _ in range(2)]
    turn = [0]

    def feed():
        hx, hy = host[turn[0] & 1]
        turn[0] += 1
        x.copy_(hx, non_blocking=True)
        y.copy_(hy, non_blocking=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    last = {}

    def train():
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        last["loss"] = loss

    def finish():
        last["loss"].item()  # waits for the device

    def infer():
        with torch.no_grad():
            return model(x).argmax(1).cpu()

    def fed():
        feed()
        train()

    rows = [("pytorch-eager", "train", median_seconds(train, windows, steps, finish), peak_mib(device))]
    rows.append(("pytorch-eager", "fed", median_seconds(fed, windows, steps, finish), ""))
    rows.append(("pytorch-eager", "infer", median_seconds(infer, windows, steps), ""))
    if device.type == "cuda":
        rows += graphed(model, opt, x, y, feed, windows, steps, device)
    return rows


def graphed(model, opt, x, y, feed, windows, steps, device):
    """The whole training step, and the inference pass, captured once as CUDA graphs and replayed."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=False)
            F.cross_entropy(model(x), y).backward()
            opt.step()
    torch.cuda.current_stream().wait_stream(side)
    # PyTorch's documented whole-network capture: gradients set to None before the capture, so
    # that backward inside the graph writes them afresh and a replay needs no zero_grad launches.
    train_graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(train_graph):
        static_loss = F.cross_entropy(model(x), y)
        static_loss.backward()
        opt.step()
    infer_graph = torch.cuda.CUDAGraph()
    with torch.no_grad():
        with torch.cuda.graph(infer_graph):
            static_classes = model(x).argmax(1)

    def train():
        train_graph.replay()

    def finish():
        static_loss.item()  # waits for the device

    def infer():
        infer_graph.replay()
        return static_classes.cpu()

    def fed():
        feed()
        train_graph.replay()

    train_seconds = median_seconds(train, windows, steps, finish)
    return [("pytorch-graph", "train", train_seconds, peak_mib(device)),
            ("pytorch-graph", "fed", median_seconds(fed, windows, steps, finish), ""),
            ("pytorch-graph", "infer", median_seconds(infer, windows, steps), "")]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--models", default="fmnist-cnn:256,vgg-small:128,lenet5:256,resnet20:128")
    p.add_argument("--fp32", action="store_true", help="strict float32 convolutions on the GPU (no TF32)")
    p.add_argument("--channels-last", action="store_true", help="NHWC parameters and batches (torch.channels_last)")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    device = torch.device(a.device)
    if device.type == "cpu":
        torch.set_num_threads(os.cpu_count())
    else:
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = not a.fp32
        torch.backends.cuda.matmul.allow_tf32 = False
    # The math mode is part of a GPU label, so the report compares like with like.
    label = "cpu" if device.type == "cpu" else torch.cuda.get_device_name(device) + (" FP32" if a.fp32 else " TF32")
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["implementation", "device", "model", "batch", "mode", "ms_per_step", "images_per_second", "peak_mib"])
        for spec in a.models.split(","):
            name, batch = spec.split(":")
            for impl, mode, seconds, peak in measure(name, int(batch), device, a.windows, a.steps, a.channels_last):
                impl += "-nhwc" if a.channels_last else ""
                w.writerow([impl, label, name, batch, mode, f"{seconds * 1e3:.3f}", f"{int(batch) / seconds:.1f}", peak])
                print(f"{impl:14s} {label:10s} {name:10s} batch {batch:>4s} {mode}  {seconds * 1e3:8.2f} ms/step  "
                      f"{int(batch) / seconds:9.0f} images/s", flush=True)


if __name__ == "__main__":
    main()
