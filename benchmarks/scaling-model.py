#!/usr/bin/python3
"""The scaling model behind docs/scaling.md: data-parallel training's efficiency from each model's
per-sample work and gradient bytes (printed by `cnn4j summary MODEL`), a single GPU's throughput,
and a ring all-reduce's time on the links. Every assumption is a constant below; replace the
GPU figures with measured step times (benchmarks/train-step on the GPU) when a GPU run has them.

Run: /usr/bin/python3 benchmarks/scaling-model.py"""

# model: (parameters, multiply-accumulates per sample forward), from `cnn4j summary`, and the
# per-sample batch used for the single-GPU estimate
MODELS = {
    "fmnist-cnn": (225_034, 2_631_040),
    "resnet20": (272_474, 41_218_688),
    "vgg-small": (1_186_378, 152_805_376),
    "resnet18": (11_173_962, 556_659_712),
}
# A training step is about three forward passes of work: 6 FLOPs per MAC per sample.
FLOPS_PER_MAC = 6
# Sustained H200 throughput in TF32 on these layers (an estimate until a GPU run: the dense TF32
# peak is about 495 TFLOP/s; small CIFAR-sized convolutions reach a few percent of it), FLOP/s.
SUSTAINED = {"fmnist-cnn": 5e12, "resnet20": 20e12, "vgg-small": 60e12, "resnet18": 80e12}
# The least time a step takes however small the batch: kernel launches (about 60-200 per step,
# fewer replayed as a CUDA graph) and the optimizer, seconds.
FLOOR = {"fmnist-cnn": 150e-6, "resnet20": 600e-6, "vgg-small": 300e-6, "resnet18": 800e-6}
# Links: NCCL ring all-reduce bus bandwidth and per-hop latency.
NVLINK = (400e9, 5e-6)          # within an 8-GPU node (NVLink 4, NVSwitch): bytes/s achieved, s per hop
NETWORK = (40e9, 10e-6)         # between nodes, per GPU: one 400 Gb/s NIC per GPU, 80 % achieved
# The host path (--collectives mpi, or where NCCL does not load): each gradient copied to the host and
# back over PCIe, reduced by MPI
# through shared memory within the node.
PCIE = 25e9                     # bytes/s achieved each way, PCIe 5 x16
SHARED_MEMORY = (10e9, 2e-6)    # Open MPI's shared-memory all-reduce within a node


def step_time(model, batch):
    params, macs = MODELS[model]
    return max(FLOOR[model], FLOPS_PER_MAC * macs * batch / SUSTAINED[model])


def ring(bytes_, ranks, link):
    bandwidth, latency = link
    return 0.0 if ranks == 1 else 2 * (ranks - 1) / ranks * bytes_ / bandwidth + 2 * (ranks - 1) * latency


def all_reduce(model, nodes, gpus):
    """Hierarchical all-reduce of the gradients: reduce-scatter and all-gather over NVLink within
    each node, an all-reduce of each GPU's 1/gpus share between the nodes."""
    g = 4 * MODELS[model][0]
    return ring(g, gpus, NVLINK) + ring(g / gpus, nodes, NETWORK)


def host_all_reduce(model, gpus):
    """The host path within one node: device to host, MPI over shared memory, host to device."""
    g = 4 * MODELS[model][0]
    return 2 * g / PCIE + ring(g, gpus, SHARED_MEMORY)


def efficiency(model, batch, nodes, gpus, host=False):
    t = step_time(model, batch)
    comm = host_all_reduce(model, gpus) if host else all_reduce(model, nodes, gpus)
    return t / (t + comm)  # no overlap of the reduction with the backward pass


def batch_for(model, nodes, gpus, target=0.8):
    b = 1
    while efficiency(model, b, nodes, gpus) < target and b < 1 << 20:
        b *= 2
    return b


if __name__ == "__main__":
    layouts = [(1, 8)] + [(n, 8) for n in (2, 4, 8, 16)]
    print("model       grad MiB  step@128 ms  host 1x8  " + "  ".join(f"{n}x{g:<2} eff@128" for n, g in layouts) + "   per-GPU batch for 80 %")
    for m in MODELS:
        row = f"{m:<11} {4 * MODELS[m][0] / 2**20:8.2f}  {step_time(m, 128) * 1e3:11.3f}  {100 * efficiency(m, 128, 1, 8, True):6.0f} %  "
        row += "  ".join(f"{100 * efficiency(m, 128, n, g):10.0f} %" for n, g in layouts)
        row += "   " + ", ".join(f"{n}x{g}: {batch_for(m, n, g)}" for n, g in layouts)
        print(row)
