#!/usr/bin/python3
"""Exports classifiers with this machine's PyTorch (torch.onnx.export, its default exporter unless
--exporter says otherwise), has cnn4j classify two images with each (`cnn4j predict`), and compares
its class probabilities with PyTorch's: an independent check of the ONNX import on the networks
people train, as the PyTorch at hand writes them (1.x: the TorchScript exporter; 2.9 and newer:
the torch.export-based one, weights beside the file as external data). A model cnn4j refuses is
listed with its reason.

Usage: python3 scripts/torch-onnx-check.py [--cnn4j LAUNCHER] [--exporter default|legacy|dynamo] [MODEL ...]
MODEL: "small-resnet" or "small-resnet-log-softmax" (built here from torch alone; the second ends
in F.log_softmax) or a torchvision classifier's name (default: both small ones, resnet18
resnext50_32x4d densenet121 googlenet squeezenet1_0 regnet_x_400mf mnasnet0_5 mobilenet_v2
efficientnet_b0; those need torchvision, and are skipped without it). Each model is
built with seed 0 and 10 classes, its batch normalisation given statistics by three forward passes
in training mode, its last layer's weights scaled by 30 (an untrained model's probabilities are
all about 1/10), and exported for 64×64 RGB inputs. Needs torch alone: the images are written as
PNG here. Exit code 1 if cnn4j's probabilities differ from PyTorch's by 1e-5 or more."""
import argparse, csv, os, struct, subprocess, sys, tempfile, zlib

import torch

torch.set_num_threads(min(torch.get_num_threads(), 8))
TORCHVISION = ["resnet18", "resnext50_32x4d", "densenet121", "googlenet", "squeezenet1_0", "regnet_x_400mf", "mnasnet0_5",
               "mobilenet_v2", "efficientnet_b0"]
SIZE = 64


class SmallResNet(torch.nn.Module):
    """A stem, two residual blocks (one downsampling through a 1×1 shortcut), x.mean((2, 3)) and a linear
    layer; with log_softmax, the pooling and flattening many ResNets write (adaptive_avg_pool2d, then
    x.view(x.size(0), -1)) and F.log_softmax at the end, as PyTorch's MNIST example has it."""

    def __init__(self, classes=10, log_softmax=False):
        super().__init__()
        self.log_softmax = log_softmax
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1, bias=False), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
                                        torch.nn.MaxPool2d(3, 2, 1))
        self.a1, self.b1 = self.unit(16, 16, 1), self.unit(16, 16, 1)
        self.a2, self.b2 = self.unit(16, 32, 2), self.unit(32, 32, 1)
        self.short = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 1, stride=2, bias=False), torch.nn.BatchNorm2d(32))
        self.fc = torch.nn.Linear(32, classes)

    @staticmethod
    def unit(cin, cout, stride):
        return torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), torch.nn.BatchNorm2d(cout))

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(self.b1(torch.relu(self.a1(x))) + x)
        x = torch.relu(self.b2(torch.relu(self.a2(x))) + self.short(x))
        if not self.log_softmax:
            return self.fc(x.mean((2, 3)))
        x = torch.nn.functional.adaptive_avg_pool2d(x, 1)
        return torch.log_softmax(self.fc(x.view(x.size(0), -1)), 1)


def build(name):
    torch.manual_seed(0)
    if name.startswith("small-resnet"):
        model = SmallResNet(log_softmax=name.endswith("log-softmax"))
    else:
        import torchvision
        extra = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
        model = getattr(torchvision.models, name)(weights=None, num_classes=10, **extra)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, SIZE, SIZE))
    model.eval()
    last = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
    with torch.no_grad():
        last.weight *= 30  # logits far apart, so that the probabilities differ and their errors show
    return model


def version():
    """PyTorch's major and minor version."""
    major, minor = torch.__version__.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def export(model, path, exporter):
    """The TorchScript exporter at opset 13 with a dynamic batch; the torch.export-based one with its own defaults."""
    options = {"input_names": ["input"], "output_names": ["logits"]}
    if exporter != "default":
        options["dynamo"] = exporter == "dynamo"
    if exporter == "legacy" or (exporter == "default" and version() < (2, 9)):
        options.update(opset_version=13, dynamic_axes={"input": {0: "batch"}})
    torch.onnx.export(model, (torch.randn(1, 3, SIZE, SIZE),), path, **options)


def png(path, pixels):
    """An 8-bit RGB PNG of SIZE × SIZE from a list of rows of (r, g, b) bytes."""
    raw = b"".join(b"\0" + bytes(v for pixel in row for v in pixel) for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cnn4j", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "cnn4j"))
    parser.add_argument("--exporter", choices=["default", "legacy", "dynamo"], default="default")
    parser.add_argument("models", nargs="*", default=["small-resnet", "small-resnet-log-softmax"] + TORCHVISION)
    args = parser.parse_args()
    try:
        import torchvision
        print("PyTorch %s, torchvision %s, exporter: %s" % (torch.__version__, torchvision.__version__, args.exporter))
    except ImportError:
        torchvision = None
        print("PyTorch %s, no torchvision (its models are skipped), exporter: %s" % (torch.__version__, args.exporter))
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        generator = torch.Generator().manual_seed(1)
        pixels = torch.randint(0, 256, (2, SIZE, SIZE, 3), generator=generator, dtype=torch.uint8)
        images = [os.path.join(folder, "image%d.png" % i) for i in range(2)]
        for i, f in enumerate(images):
            png(f, pixels[i].tolist())
        x = pixels.permute(0, 3, 1, 2).float() / 255
        for name in args.models:
            if not name.startswith("small-resnet") and torchvision is None:
                continue
            model = build(name)
            path = os.path.join(folder, name + ".onnx")
            note = ""
            try:
                export(model, path, args.exporter)
            except Exception as e:  # an exporter that cannot write this model: say so, try the TorchScript one, go on
                reason = "%s: %s" % (type(e).__name__, (str(e).strip().splitlines() or [""])[0][:200])
                if args.exporter != "default" or version() < (2, 9):
                    print("%-24s not exported: %s" % (name, reason))
                    continue
                try:
                    export(model, path, "legacy")
                    note = " [TorchScript exporter; the default one failed: %s]" % reason
                except Exception as again:
                    print("%-24s not exported: %s; TorchScript exporter: %s: %s" % (name, reason, type(again).__name__,
                                                                                     (str(again).strip().splitlines() or [""])[0][:200]))
                    continue
            beside = " (weights beside it in %s)" % os.path.basename(path + ".data") if os.path.exists(path + ".data") else ""
            beside += note
            with torch.no_grad():
                expected = torch.softmax(model(x), 1)
            table = os.path.join(folder, name + ".csv")
            try:
                run = subprocess.run([args.cnn4j, "predict", path, *images, "--top", "10", "--device", "cpu", "--csv", table],
                                     capture_output=True, text=True, timeout=120)
            except subprocess.TimeoutExpired:
                print("%-24s cnn4j predict took more than 120 s" % name)
                failed = True
                continue
            if run.returncode != 0:
                print("%-24s refused%s: %s" % (name, beside, (run.stderr.strip().splitlines() or ["exit code %d" % run.returncode])[-1]))
                continue
            rows = list(csv.reader(open(table)))[1:]
            worst = max(abs(float(r[2 + 2 * k]) - expected[i, int(r[1 + 2 * k])].item()) for i, r in enumerate(rows) for k in range(10))
            failed |= worst >= 1e-5
            print("%-24s %s%s: largest probability difference %.2e (probabilities %.3f to %.3f)"
                  % (name, "agrees" if worst < 1e-5 else "DIFFERS", beside, worst, expected.min().item(), expected.max().item()))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
