#!/usr/bin/python3
"""torch_ddp.py - PyTorch DistributedDataParallel (Gloo) on the tutorial's CNN, for bench/mpi.sh.

    torch_ddp.py --dataset mnist|cifar10 --data DIR --procs P --batch B --limit-train N
                 [--warmup W] [--format nchw|channels_last]

P processes on this machine, 1 intra-op thread each, Gloo over TCP on
127.0.0.1. The model, data and optimizer are bench/torch_cnn.py's (Adam, the
weights' moving average); each process takes a contiguous slice of B samples
of every global batch of P x B (as nn2c's MPI trainer does with --batch P x B),
DDP averages the gradients in its buckets overlapped with backward. W warm-up
steps (not timed), then one timed epoch over the first N samples in a seeded
order. Rank 0 prints:
    torch_ddp DATASET procs=P batch=B samples/s=.. time=..s
with samples/s counting the global samples.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_cnn  # noqa: E402


def worker(rank, args, port):
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=args.procs)
    torch.manual_seed(1)
    x, y = torch_cnn.tensors(args.dataset, args.data, 0, args.limit_train)
    fmt = torch_cnn.FORMATS[args.format]
    model = torch_cnn.make_model(args.dataset).to(memory_format=fmt)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch_cnn.make_optimizer(ddp)
    avg = torch_cnn.Average(model, 0.99)
    gb, lo = args.batch * args.procs, args.batch * rank
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(7))

    def step(b):
        idx = order[b * gb + lo: b * gb + lo + args.batch]
        xb, yb = x[idx].contiguous(memory_format=fmt), y[idx]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(ddp(xb), yb)
        loss.backward()
        opt.step()
        avg.update()

    for b in range(args.warmup):
        step(b)
    dist.barrier()
    t0 = time.perf_counter()
    nb = len(x) // gb
    for b in range(nb):
        step(b)
    dist.barrier()
    dt = time.perf_counter() - t0
    if rank == 0:
        print(f"torch_ddp {args.dataset} procs={args.procs} batch={args.batch} "
              f"samples/s={nb * gb / dt:.1f} time={dt:.2f}s", flush=True)
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", required=True, choices=["mnist", "cifar10"])
    p.add_argument("--data", required=True)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--limit-train", type=int, default=6400)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--format", default="channels_last", choices=list(torch_cnn.FORMATS))
    args = p.parse_args()
    port = 29500 + os.getpid() % 1000
    mp.spawn(worker, args=(args, port), nprocs=args.procs, join=True)


if __name__ == "__main__":
    main()
