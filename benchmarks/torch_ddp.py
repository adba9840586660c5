#!/usr/bin/python3
"""PyTorch's side of benchmarks/data-parallel: a built-in model (as torch_reference.py defines it)
trained on random data on the CPU, alone or by several processes under DistributedDataParallel
(gloo), each on its slice of every global batch, timed as cnn4j's DataParallelBenchmark times it:
after five warm-up windows, each window of steps starts at a barrier and ends with the last loss read;
the median window, reported by rank 0 as a line of text and a CSV row
(data-parallel,pytorch,model,global batch,processes,threads,ms per step,images per second).

Usage: /usr/bin/python3 benchmarks/torch_ddp.py MODEL GLOBAL_BATCH WINDOWS STEPS PROCESSES THREADS
"""
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import MODELS  # noqa: E402  (the same layers and shapes as cnn4j's models)


def run(rank, name, batch, windows, steps, processes, threads):
    torch.set_num_threads(threads)
    if processes > 1:
        dist.init_process_group("gloo", rank=rank, world_size=processes)
    torch.manual_seed(1)
    model, shape = MODELS[name]()
    if processes > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    local = batch // processes
    torch.manual_seed(1 + rank)
    x = torch.randn(local, *shape)
    y = torch.randint(0, 10, (local,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(5 * steps):  # the same warm-up as cnn4j's: five windows
        step()
    times = []
    for _ in range(windows):
        if processes > 1:
            dist.barrier()
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step()
        loss.item()
        times.append((time.perf_counter() - t0) / steps)
    median = statistics.median(times)
    if rank == 0:
        print(f"{name:<10} batch {batch:4d} = {processes} x {local:<4d} {processes} process(es) x {threads} thread(s): "
              f"{median * 1e3:8.2f} ms/step {batch / median:8.0f} images/s")
        print(f"data-parallel,pytorch,{name},{batch},{processes},{threads},{median * 1e3:.3f},{batch / median:.1f}")
    if processes > 1:
        dist.destroy_process_group()


def main():
    name, batch, windows, steps, processes, threads = sys.argv[1], *map(int, sys.argv[2:7])
    if batch % processes:
        sys.exit(f"a global batch of {batch} does not split over {processes} processes")
    if processes == 1:
        run(0, name, batch, windows, steps, 1, threads)
    else:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29517")
        mp.spawn(run, args=(name, batch, windows, steps, processes, threads), nprocs=processes)


if __name__ == "__main__":
    main()
