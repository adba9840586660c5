#!/usr/bin/python3
"""How far a convolution may lie from the exact one when cuDNN runs it as an FFT or a Winograd
transform, in strict float32 and in TF32, and how that compounds over training: the ground for the
GPU suite's tolerances (CudaBackendSuite: STRICT_CONVOLUTION, TF32 and its training checks).

cuDNN picks the fastest algorithm it finds; with the FMA math type (no tensor cores) that may be
an implicit GEMM (a sum of products, as the CPU computes), an FFT or a Winograd transform. This
script computes, on the suite's stride-1 convolutions and data (uniform in [-1, 1], batch 5), the
forward pass, the data gradient (a convolution of dy with the filters flipped and transposed) and
the filter gradient (a correlation of x with dy, whose "filter" is dy: simulated by FFT alone) in
float32 as each of these algorithms does, and prints the worst error against float64 as a multiple
of the suite's tolerance, 3e-5·(max(1, |max expected|) + |expected|): under 1 passes. The Winograd
transforms F(2×2, 3×3), F(4×4, 3×3) and F(6×6, 3×3) are built by Toom-Cook at the points 0, ±1,
±2, ±1/2 (and infinity); the FFT is one transform of the whole padded plane, as cuDNN's FFT
algorithm does (its tiled variant uses 32×32 tiles and errs less).

With --tf32, the same for convolutions that may use TF32 tensor cores (the default math type): the
operands of the products rounded to 10 mantissa bits, and for Winograd the transformed ones, since
cuDNN's WINOGRAD_NONFUSED may run its products on tensor cores and its output transform then
amplifies their rounding. Figures are multiples of the suite's TF32 tolerance, 5e-2 of the scale.
(FFTs run in float32 either way.)

With --training, how such errors compound over training: fmnist-cnn (two 3×3 convolutions, 1→32 and
32→64 maps, each with ReLU and 2×2 max pooling, then dense 1600→128→10) trained 20 steps at batch 64
from the same weights, on images of 10 random prototypes with Gaussian noise, with SGD (0.05,
momentum 0.9, weight decay 5e-4) and with Adam (1e-3), its convolutions computed by each algorithm,
against the same in float32 with a sum of products (the CPU's way). Printed: the worst loss
difference at steps 1, 5, 12 and 20 as a multiple of the GPU suite's rule for strict training, 1e-3
+ 5e-3·|loss|. Adam divides each gradient by its running magnitude, so an algorithm's rounding grows
fastest under it.

Usage: python3 scripts/convolution-error.py [--seeds N] [--tf32 | --training]"""
import argparse

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
# The suite's convolutions with stride 1 and no dilation (FFT and Winograd need both):
# (channels, height, width, filters, filter size, padding).
SHAPES = [(1, 28, 28, 32, 3, 0), (32, 13, 13, 64, 3, 0), (3, 32, 32, 64, 3, 1), (3, 12, 12, 5, 3, 0), (16, 7, 7, 8, 1, 0)]


def toom_cook(m, r, points):
    """B^T, G, A^T of Winograd's F(m, r) at the given finite points and infinity (a = m + r - 1 in all)."""
    a = m + r - 1
    assert len(points) == a - 1
    at, g = np.zeros((m, a)), np.zeros((a, r))
    for j, p in enumerate(points):
        f = np.prod([p - q for q in points if q != p])
        at[:, j] = [p ** i for i in range(m)]
        g[j] = [p ** k / f for k in range(r)]
    at[m - 1, a - 1] = g[a - 1, r - 1] = 1
    # B^T solves y_i = sum_k g_k d_{i+k} = sum_j A^T_ij (G g)_j (B^T d)_j for every d and g.
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for s in range(a):
                row = np.zeros((a, a))
                row[:, s] = at[i, :] * g[:, k]
                rows.append(row.ravel())
                rhs.append(1.0 if s == i + k else 0.0)
    solution = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    assert np.abs(np.array(rows) @ solution - rhs).max() < 1e-9, "no exact B^T"
    return solution.reshape(a, a), g, at


WINOGRAD = {"winograd F(2,3)": toom_cook(2, 3, [0, 1, -1]), "winograd F(4,3)": toom_cook(4, 3, [0, 1, -1, 2, -2]),
            "winograd F(6,3)": toom_cook(6, 3, [0, 1, -1, 2, -2, 0.5, -0.5])}


def tf32(t):
    """t rounded to TF32 (10 mantissa bits, to nearest) and held in float32, as tensor cores read float32."""
    bits = t.float().contiguous().view(torch.int32)
    return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)


def exact_of_tf32(x, w, pad):
    """A sum of products of the operands rounded to TF32, in float64: what an implicit GEMM on tensor cores computes."""
    return F.conv2d(tf32(x).double(), tf32(w).double(), padding=pad)


def winograd(x, w, pad, transform, operands=lambda t: t):
    """Correlation of x (n, c, h, w) with 3×3 filters w (k, c, 3, 3) in float32, tile by tile; the
    transformed filters and tiles pass through `operands` before their products (tf32 for tensor cores)."""
    bt, g, at = (torch.tensor(t, dtype=torch.float32) for t in transform)
    m, a = at.shape
    x = F.pad(x, (pad,) * 4)
    p, q = x.shape[2] - 2, x.shape[3] - 2
    tiles_p, tiles_q = -(-p // m), -(-q // m)
    x = F.pad(x, (0, tiles_q * m + 2 - x.shape[3], 0, tiles_p * m + 2 - x.shape[2]))
    u = operands(g @ w @ g.T)
    y = torch.zeros(x.shape[0], w.shape[0], tiles_p * m, tiles_q * m)
    for i in range(tiles_p):
        for j in range(tiles_q):
            v = operands(bt @ x[:, :, i * m:i * m + a, j * m:j * m + a] @ bt.T)
            y[:, :, i * m:(i + 1) * m, j * m:(j + 1) * m] = at @ torch.einsum("kcab,ncab->nkab", u, v) @ at.T
    return y[:, :, :p, :q]


def fft(x, w, pad):
    """Correlation of x with w in float32 through one FFT of the padded plane."""
    x = F.pad(x, (pad,) * 4)
    size = x.shape[2:]
    spectrum = torch.einsum("nchw,kchw->nkhw", torch.fft.rfft2(x, s=size), torch.fft.rfft2(torch.flip(w, (2, 3)), s=size))
    y = torch.fft.irfft2(spectrum, s=size)
    return y[:, :, w.shape[2] - 1:, w.shape[3] - 1:]


def worst(expected, actual, tolerance=1e-5):
    """The largest |actual − expected| as a multiple of tolerance·(max(1, max |expected|) + |expected|)."""
    scale = max(1.0, expected.abs().max().item())
    return ((actual.double() - expected).abs() / (tolerance * (scale + expected.abs()))).max().item()


def training(seeds):
    """Loss differences of 20 training steps of fmnist-cnn with each convolution algorithm, against float32 sums of
    products: the worst of `seeds` draws of data and weights."""
    algorithms = {"winograd F(4,3)": lambda x, w: winograd(x, w, 0, WINOGRAD["winograd F(4,3)"]),
                  "winograd F(6,3)": lambda x, w: winograd(x, w, 0, WINOGRAD["winograd F(6,3)"]),
                  "products (tf32)": lambda x, w: F.conv2d(tf32(x), tf32(w)),
                  "winograd F(6,3) (tf32)": lambda x, w: winograd(x, w, 0, WINOGRAD["winograd F(6,3)"], tf32)}
    worst_ratio = {}
    for seed in range(seeds):
        for (optimizer, name), ratio in training_draw(seed, algorithms).items():
            worst_ratio[optimizer, name] = np.maximum(worst_ratio.get((optimizer, name), 0), ratio)
    print(f"loss difference from float32 sums of products as a multiple of 1e-3 + 5e-3·|loss|, worst of {seeds} draws")
    print(f"{'':<30} {'step 1':>7} {'5':>7} {'12':>7} {'20':>7}")
    for (optimizer, name), ratio in worst_ratio.items():
        print(f"{optimizer:<5} {name:<24} " + " ".join(f"{ratio[i]:7.3f}" for i in (0, 4, 11, 19)))


def training_draw(seed, algorithms):
    """One draw of data and weights: each (optimizer, algorithm)'s loss differences as multiples of the rule, by step."""
    gen = torch.Generator().manual_seed(seed)
    prototypes = torch.rand(10, 1, 28, 28, generator=gen)
    labels = torch.randint(0, 10, (20 * 64,), generator=gen)
    images = prototypes[labels] + 0.5 * torch.randn(20 * 64, 1, 28, 28, generator=gen)
    start = []
    for shape, fan in [((32, 1, 3, 3), 9), ((32,), 9), ((64, 32, 3, 3), 288), ((64,), 288), ((128, 1600), 1600), ((128,), 1600),
                       ((10, 128), 128), ((10,), 128)]:
        start.append((torch.rand(shape, generator=gen) * 2 - 1) / fan ** 0.5)

    def losses(conv, adam):
        p = [t.clone().requires_grad_() for t in start]
        opt = torch.optim.Adam(p, 1e-3) if adam else torch.optim.SGD(p, 0.05, momentum=0.9, weight_decay=5e-4)
        out = []
        for step in range(20):
            x, y = images[step * 64:(step + 1) * 64], labels[step * 64:(step + 1) * 64]
            h = F.max_pool2d(F.relu(conv(x, p[0]) + p[1].view(1, -1, 1, 1)), 2)
            h = F.max_pool2d(F.relu(conv(h, p[2]) + p[3].view(1, -1, 1, 1)), 2)
            loss = F.cross_entropy(F.relu(h.flatten(1) @ p[4].T + p[5]) @ p[6].T + p[7], y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss.item())
        return np.array(out)

    ratios = {}
    for adam in (False, True):
        expected = losses(F.conv2d, adam)
        for name, conv in algorithms.items():
            ratios["Adam" if adam else "SGD", name] = np.abs(losses(conv, adam) - expected) / (1e-3 + 5e-3 * np.abs(expected))
    return ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="random draws per shape or training run (the worst is printed)")
    parser.add_argument("--tf32", action="store_true", help="products on tensor cores, against the TF32 tolerance")
    parser.add_argument("--training", action="store_true", help="how the errors compound over 20 training steps")
    args = parser.parse_args()
    if args.training:
        training(args.seeds)
        return
    tolerance = 5e-2 if args.tf32 else 3e-5
    rounding = tf32 if args.tf32 else (lambda t: t)
    sums = "products (tf32)" if args.tf32 else "products"
    algorithms = [sums, "fft"] + list(WINOGRAD)
    print(f"worst error as a multiple of the suite's tolerance, {tolerance:g}·(max(1, max |expected|) + |expected|): under 1 passes")
    print(f"{'convolution':<28} {'pass':<15} " + " ".join(f"{a:>16}" for a in algorithms))
    overall = 0.0
    for c, h, wd, k, r, pad in SHAPES:
        figures = {}
        for seed in range(args.seeds):
            gen = torch.Generator().manual_seed(seed)
            x = torch.rand(5, c, h, wd, generator=gen) * 2 - 1
            w = torch.rand(k, c, r, r, generator=gen) * 2 - 1
            y = F.conv2d(x.double(), w.double(), padding=pad)
            dy = torch.rand(y.shape, generator=gen) * 2 - 1
            # data gradient: dy padded by r-1-pad, correlated with the flipped, transposed filters;
            # filter gradient: x (channels as the batch) correlated with dy (batch as channels).
            passes = {"forward": (x, w, pad),
                      "data gradient": (dy, torch.flip(w, (2, 3)).transpose(0, 1).contiguous(), r - 1 - pad),
                      "filter gradient": (x.transpose(0, 1).contiguous(), dy.transpose(0, 1).contiguous(), pad)}
            for name, (inp, fil, p) in passes.items():
                exact = F.conv2d(inp.double(), fil.double(), padding=p)
                results = {sums: exact_of_tf32(inp, fil, p) if args.tf32 else F.conv2d(inp, fil, padding=p), "fft": fft(inp, fil, p)}
                if name == "filter gradient":
                    exact, results = exact.transpose(0, 1), {a: v.transpose(0, 1) for a, v in results.items()}
                elif r == 3:
                    results.update({n: winograd(inp, fil, p, t, rounding) for n, t in WINOGRAD.items()})
                for a, v in results.items():
                    figures[name, a] = max(figures.get((name, a), 0.0), worst(exact, v, tolerance))
        for name in ["forward", "data gradient", "filter gradient"]:
            row = " ".join(f"{figures[name, a]:>16.3f}" if (name, a) in figures else f"{'-':>16}" for a in algorithms)
            print(f"{f'{c}×{h}×{wd} → {k}, {r}×{r} pad {pad}':<28} {name:<15} {row}")
        overall = max(overall, max(figures.values()))
    print(f"worst of all: {overall:.3f} of the tolerance")


if __name__ == "__main__":
    main()
