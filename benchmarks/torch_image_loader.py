#!/usr/bin/python3
"""torchvision's half of benchmarks/image-loader: ImageFolder with a DataLoader of 2 workers over the
same folder, as images/s: a first epoch (Resize + CenterCrop, as cnn4j reads a folder) and a
training epoch (AUGMENT crop: the same plus RandomCrop with padding and RandomHorizontalFlip; rrc:
RandomResizedCrop and RandomHorizontalFlip; torchvision decodes every epoch, it has no cache).

Usage: torch_image_loader.py DIR CHANNELS SIZE BATCH EPOCHS AUGMENT"""
import sys
import time

import torch
import torchvision
import torchvision.transforms as T

torch.set_num_threads(2)
folder, c, size, batch, epochs, augment = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
grey = [T.Grayscale()] if c == 1 else []
first = torchvision.datasets.ImageFolder(folder, T.Compose([T.Resize(size), T.CenterCrop(size)] + grey + [T.ToTensor()]))
crops = [T.Resize(size), T.CenterCrop(size), T.RandomCrop(size, padding=size // 8)] if augment == "crop" else [T.RandomResizedCrop(size)]
train = torchvision.datasets.ImageFolder(folder, T.Compose(crops + grey + [T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize([0.5] * c, [0.25] * c)]))


def epoch(ds):
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=2)
    t = time.perf_counter()
    seen = sum(x.shape[0] for x, _ in loader)
    return seen, time.perf_counter() - t


n, s = epoch(first)
print(f"torchvision first-epoch {n} images {s:.3f} s {n / s:.0f} images/s")
best = min(epoch(train)[1] for _ in range(epochs))
print(f"torchvision cached-epoch {n} images {best:.3f} s {n / best:.0f} images/s")
