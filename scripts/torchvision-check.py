#!/usr/bin/python3
"""Exports torchvision's classifiers with torch.onnx.export, has cnn4j classify two images with each
(`cnn4j predict`), and compares its class probabilities with PyTorch's: an independent check of the
ONNX import on the networks people train. A model cnn4j refuses is listed with its reason.

Usage: /usr/bin/python3 scripts/torchvision-check.py [MODEL ...]
(default: resnet18 resnext50_32x4d densenet121 googlenet squeezenet1_0 regnet_x_400mf mnasnet0_5 mobilenet_v2
efficientnet_b0). Each model is built with seed 0 and 10 classes, its batch normalisation given
statistics by three forward passes in training mode, its last layer's weights scaled by 30 (an
untrained model's probabilities are all about 1/10), and exported at opset 13 for 64×64 RGB inputs."""
import csv, os, subprocess, sys, tempfile

import numpy as np
import torch
import torchvision
from PIL import Image

torch.set_num_threads(2)
DEFAULT = ["resnet18", "resnext50_32x4d", "densenet121", "googlenet", "squeezenet1_0", "regnet_x_400mf", "mnasnet0_5", "mobilenet_v2", "efficientnet_b0"]
CNN4J = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cnn4j")


def exported(name, folder):
    torch.manual_seed(0)
    extra = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    model = getattr(torchvision.models, name)(weights=None, num_classes=10, **extra)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, 64, 64))
    model.eval()
    last = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
    with torch.no_grad():
        last.weight *= 30  # logits far apart, so that the probabilities differ and their errors show
    path = os.path.join(folder, name + ".onnx")
    torch.onnx.export(model, torch.randn(1, 3, 64, 64), path, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}})
    return model, path


def main():
    names = sys.argv[1:] or DEFAULT
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(1)
        images = []
        for i in range(2):
            images.append(os.path.join(folder, "image%d.png" % i))
            Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(images[-1])
        x = torch.stack([torch.from_numpy(np.asarray(Image.open(f), dtype=np.float32) / 255).permute(2, 0, 1) for f in images])
        failed = False
        for name in names:
            model, path = exported(name, folder)
            with torch.no_grad():
                expected = torch.softmax(model(x), 1).numpy()
            table = os.path.join(folder, name + ".csv")
            run = subprocess.run([CNN4J, "predict", path, *images, "--top", "10", "--device", "cpu", "--csv", table], capture_output=True, text=True)
            if run.returncode != 0:
                print("%-20s refused: %s" % (name, run.stderr.strip().splitlines()[-1]))
                continue
            rows = list(csv.reader(open(table)))[1:]
            worst = max(abs(float(r[2 + 2 * k]) - expected[i, int(r[1 + 2 * k])]) for i, r in enumerate(rows) for k in range(10))
            verdict = "agrees" if worst < 1e-5 else "DIFFERS"
            failed |= worst >= 1e-5
            print("%-20s %s: largest probability difference %.2e (probabilities %.3f to %.3f)" % (name, verdict, worst, expected.min(), expected.max()))
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
