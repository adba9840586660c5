#!/usr/bin/python3
"""Reads a cnn4j model file with nothing but Python, numpy and PyTorch, rebuilds the model in
PyTorch from the architecture in its metadata, and reports its accuracy on an IDX test set: an
independent check of the file format and of cnn4j's inference (compare with `cnn4j eval`).

Usage: /usr/bin/python3 scripts/torch-check-model.py MODEL.safetensors [IDX_DIR]
(default IDX_DIR: /usr/share/datasets/fashion-mnist). Layers: Conv2d (with groups and dilation), Dense,
BatchNorm2d/1d (with the file's running statistics), MaxPool2d and AvgPool2d (in every mode cnn4j has:
ceil mode, padding in or out of the divisor, a max pooling's dilation, padding that differs between the
sides), ZeroPad2d, Dropout, GlobalAvgPool2d, ReLU, LeakyReLU, SiLU, GELU, Sigmoid, Tanh, Flatten, Identity, Add and
Concat, in a graph of named nodes (format 2) or a chain (format 1): fmnist-cnn, vgg-small, resnet20,
resnet18, and what `cnn4j train --model` makes of an ONNX file of these."""
import gzip, json, os, struct, sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[8 + n + begin:8 + n + end], dtype="<f4").copy().reshape(info["shape"]))
    return meta, tensors


def module(spec, tensors):
    """The PyTorch module of one cnn4j layer, with its weights and state; None for Add and Concat (which join inputs)."""
    kind, name = spec["type"], spec["name"]
    if kind == "Conv2d":
        m = torch.nn.Conv2d(spec["in"], spec["out"], tuple(spec["kernel"]), stride=tuple(spec["stride"]),
                            padding=tuple(spec["padding"]), dilation=tuple(spec["dilation"]), groups=spec.get("groups", 1),
                            bias=spec["bias"])
    elif kind == "Dense":
        m = torch.nn.Linear(spec["in"], spec["out"], bias=spec["bias"])
    elif kind in ("BatchNorm2d", "BatchNorm1d"):
        m = getattr(torch.nn, kind)(spec["features"], eps=spec["eps"], momentum=spec["momentum"])
        m.running_mean.data = tensors[name + ".running_mean"]
        m.running_var.data = tensors[name + ".running_var"]
    elif kind in ("MaxPool2d", "AvgPool2d"):
        return Pool(kind == "MaxPool2d", spec)
    elif kind == "ZeroPad2d":
        return torch.nn.ZeroPad2d(tuple(spec["padding"]))   # left, right, top, bottom, as PyTorch's
    elif kind == "GlobalAvgPool2d":
        return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    elif kind == "Dropout":
        return torch.nn.Identity()   # at inference
    elif kind in ("ReLU", "SiLU", "GELU", "Sigmoid", "Tanh", "Identity", "Flatten"):
        return getattr(torch.nn, kind)()
    elif kind == "LeakyReLU":
        return torch.nn.LeakyReLU(spec["slope"])
    elif kind in ("Add", "Concat"):
        return None
    else:
        sys.exit("this check knows Conv2d, Dense, BatchNorm2d/1d, MaxPool2d, AvgPool2d, ZeroPad2d, Dropout, GlobalAvgPool2d, "
                 "ReLU, LeakyReLU, SiLU, GELU, Sigmoid, Tanh, Flatten, Identity, Add and Concat, not " + kind)
    m.weight.data = tensors[name + ".weight"]
    if getattr(m, "bias", None) is not None:
        m.bias.data = tensors[name + ".bias"]
    return torch.nn.Sequential(torch.nn.Flatten(), m) if kind == "Dense" else m


class Pool(torch.nn.Module):
    """MaxPool2d or AvgPool2d as cnn4j's settings give it; padding that differs between the sides (from an
    ONNX file) is added explicitly (-inf for a max, zeros for an average, and for an average that leaves
    it out of the divisor, a count of the taps inside the input)."""

    def __init__(self, is_max, spec):
        super().__init__()
        self.is_max, self.window, self.stride = is_max, tuple(spec["window"]), tuple(spec["stride"])
        self.dilation = tuple(spec.get("dilation", (1, 1)))
        self.ceil, self.count_pad = spec.get("ceilMode", False), spec.get("countIncludePad", True)
        pad = spec["padding"]
        self.pad = tuple(pad) if len(pad) == 2 else None
        self.sides = None if len(pad) == 2 else (pad[1], pad[3], pad[0], pad[2])   # F.pad's order: left, right, top, bottom
        if self.sides is not None and self.ceil:
            sys.exit("this check does not take a pooling in ceil mode with padding that differs between the sides")

    def forward(self, x):
        if self.sides is None:
            if self.is_max:
                return F.max_pool2d(x, self.window, self.stride, self.pad, self.dilation, ceil_mode=self.ceil)
            return F.avg_pool2d(x, self.window, self.stride, self.pad, ceil_mode=self.ceil, count_include_pad=self.count_pad)
        if self.is_max:
            return F.max_pool2d(F.pad(x, self.sides, value=float("-inf")), self.window, self.stride, 0, self.dilation)
        y = F.avg_pool2d(F.pad(x, self.sides), self.window, self.stride)
        if self.count_pad:
            return y
        ones = F.pad(torch.ones(1, 1, *x.shape[2:], dtype=x.dtype), self.sides)
        return y / F.avg_pool2d(ones, self.window, self.stride)


class Graph(torch.nn.Module):
    """cnn4j's graph in PyTorch: nodes in order, each taking its named inputs (format 1: the node before)."""

    def __init__(self, architecture, tensors):
        super().__init__()
        self.nodes, self.layers, previous = [], torch.nn.ModuleDict(), "input"
        for spec in architecture["layers"]:
            inputs = spec.get("inputs", [previous])
            m = module(spec, tensors)
            if m is not None:
                self.layers[spec["name"].replace(".", "_")] = m
            self.nodes.append((spec["name"], inputs, spec["type"] if m is None else None))
            previous = spec["name"]

    def forward(self, x):
        values = {"input": x}
        for name, inputs, join in self.nodes:
            xs = [values[i] for i in inputs]
            if join == "Add":
                values[name] = sum(xs)
            elif join == "Concat":
                values[name] = torch.cat(xs, 1)
            else:
                values[name] = self.layers[name.replace(".", "_")](xs[0])
        return values[self.nodes[-1][0]]


def build(architecture, tensors):
    return Graph(architecture, tensors).eval()


def idx(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    rank = raw[3]
    dims = struct.unpack(">" + "i" * rank, raw[4:4 + 4 * rank])
    return np.frombuffer(raw[4 + 4 * rank:], dtype=np.uint8).reshape(dims)


def find(directory, name):
    for candidate in (name, name + ".gz"):
        if os.path.exists(os.path.join(directory, candidate)):
            return os.path.join(directory, candidate)
    sys.exit("no " + name + " in " + directory)


def main():
    model_file = sys.argv[1]
    directory = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
    meta, tensors = read_safetensors(model_file)
    model = build(json.loads(meta["cnn4j.architecture"]), tensors)
    data = json.loads(meta["cnn4j.data"])
    images = idx(find(directory, "t10k-images-idx3-ubyte")).astype(np.float64) / 255.0
    labels = idx(find(directory, "t10k-labels-idx1-ubyte")).astype(np.int64)
    x = torch.from_numpy(((images - data["mean"][0]) / data["std"][0]).astype(np.float32)).unsqueeze(1)
    with torch.no_grad():
        logits = torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels)).item()
    accuracy = (logits.argmax(1).numpy() == labels).mean()
    print(f"PyTorch {torch.__version__} on {model_file}: test loss {loss:.4f}, accuracy {100 * accuracy:.2f}% ({len(labels)} images)")


if __name__ == "__main__":
    main()
