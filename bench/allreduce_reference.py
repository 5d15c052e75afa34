"""The reference for `bench training`'s all-reduce table: torch.distributed's all_reduce over Gloo between two
processes on this machine (what DistributedDataParallel runs on CPUs), at the same sizes and repetitions.
Prints one line per size: floats, milliseconds per all-reduce (median)."""
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def rank_main(rank, port, sizes, reps):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    for n in sizes:
        t = torch.ones(n)
        dist.all_reduce(t)   # warm-up: connections, buffers
        times = []
        for _ in range(reps):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - start)
        if rank == 0:
            print(n, statistics.median(times) * 1e3, flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    port, reps = int(sys.argv[1]), int(sys.argv[2])
    sizes = [int(s) for s in sys.argv[3].split(",")]
    mp.spawn(rank_main, args=(port, sizes, reps), nprocs=2)
