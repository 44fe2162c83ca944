#!/usr/bin/python3
"""torch_cnn.py - the tutorial's CNN in PyTorch, for bench/run.sh to compare against nn2c.

    torch_cnn.py info
    torch_cnn.py train  --dataset mnist|cifar10 --data DIR --limit-train N --limit-test M
                        --threads T [--epochs E] [--warmup W] [--seed S] [--ema M]
    torch_cnn.py infer  --dataset mnist|cifar10 --data DIR --threads T --batch B
                        [--iters N] [--seconds S]
    torch_cnn.py export --dataset mnist|cifar10 --data DIR --out DIR

The model is examples/mnist_cnn.nn / examples/cifar10_cnn.nn in PyTorch's NCHW
layout: Conv2d(C,32,3) ReLU MaxPool2d(2) Conv2d(32,64,3) ReLU MaxPool2d(2)
Conv2d(64,64,3) ReLU Flatten Linear(F,64) ReLU Linear(64,10); glorot-uniform
(xavier_uniform_) weights and zero biases as Keras and nn2c; training uses
CrossEntropyLoss on the logits (log_softmax + nll, what nn2c's fused softmax +
sparse categorical cross-entropy computes) and Adam(lr=1e-3, eps=1e-7), batch 32,
with the examples' moving average of the weights (`ema 0.99`; --ema 0 turns it
off): after each step a = w on the first step, else a = 0.99 a + 0.01 w, with
torch._foreach ops; the test set is evaluated with the average.

Data: the same files the nn2c trainer reads (MNIST IDX, plain or .gz; CIFAR-10
binary batches), loaded with numpy, scaled to [0,1], cut to the first N
training and M test samples like the trainer's --limit-train/--limit-test.

Memory format: PyTorch's best setting is measured, not assumed. With --format
auto (the default) each subcommand times a few calls in NCHW (contiguous) and in
channels_last on throw-away copies and keeps the faster; the choice is printed
as format=... (the weights and the math are the same in both).

train: W warm-up steps per format on throw-away copies of the model and
optimizer (not timed; they also pick the format), then one timed epoch over
the slice in a seeded random order: batch gather, forward, loss, backward,
Adam step, and the running loss/accuracy the nn2c trainer also keeps. The test slice is evaluated after the timer stops, as
the nn2c trainer does. Prints the nn2c trainer's epoch line format:
    epoch 1: train_loss=.. train_accuracy=.. test_loss=.. test_accuracy=.. time=..s samples/s=.. format=..

infer: the model with a softmax on top (nn2c's forward returns probabilities),
eval mode, torch.inference_mode(), a batch of B test images; 5 warm-up calls,
then every call timed with perf_counter_ns until N calls and S seconds passed.
Prints: torch DATASET batch=B threads=T iters=N median_us=.. p10_us=.. p90_us=.. format=..

export: writes DIR/DATASET.onnx (input x: float32[N,C,H,W], dynamic batch;
output y: softmax probabilities) for ONNX Runtime, and DIR/DATASET_nchw.f32 and
DIR/DATASET_nhwc.f32: the first 64 test images as raw float32, for the
ONNX Runtime and nn2c latency harnesses.
"""
import argparse
import copy
import gzip
import os
import sys
import time

# OpenBLAS's own threads would fight torch's intra-op pool; run.sh sets this
# too, before the process starts, which is what counts.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


# ---- data ---------------------------------------------------------------

def _open(path):
    """Opens path or path.gz, whichever exists."""
    if os.path.exists(path):
        return open(path, "rb")
    if os.path.exists(path + ".gz"):
        return gzip.open(path + ".gz", "rb")
    sys.exit(f"torch_cnn.py: error: {path}[.gz] not found")


def _idx(path, magic):
    with _open(path) as f:
        raw = f.read()
    head = np.frombuffer(raw[:4], dtype=">u4")[0]
    if head != magic:
        sys.exit(f"torch_cnn.py: error: {path}: bad IDX magic {head}")
    ndim = raw[3]
    dims = np.frombuffer(raw[4:4 + 4 * ndim], dtype=">u4").astype(np.int64)
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def _cifar(paths):
    """Reads the record files into one buffer (no second copy of the set)."""
    sizes = [os.path.getsize(p) for p in paths]
    for p, n in zip(paths, sizes):
        if n % 3073:
            sys.exit(f"torch_cnn.py: error: {p}: size {n} is not a multiple of 3073")
    r = np.empty((sum(sizes) // 3073, 3073), dtype=np.uint8)
    row = 0
    for p, n in zip(paths, sizes):
        with open(p, "rb") as f:
            f.readinto(memoryview(r[row:row + n // 3073]).cast("B"))
        row += n // 3073
    return r[:, 1:].reshape(-1, 3, 32, 32), r[:, 0]


def load(dataset, data_dir, split):
    """Returns (x uint8 [n,C,H,W], y uint8 [n]) for split 'train' or 'test'."""
    if dataset == "mnist":
        pre = "train" if split == "train" else "t10k"
        x = _idx(os.path.join(data_dir, f"{pre}-images-idx3-ubyte"), 2051)
        y = _idx(os.path.join(data_dir, f"{pre}-labels-idx1-ubyte"), 2049)
        return x[:, None, :, :], y
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    return _cifar([os.path.join(data_dir, n) for n in names])


def tensors(dataset, data_dir, split, limit):
    x, y = load(dataset, data_dir, split)
    if limit:
        x, y = x[:limit], y[:limit]
    xt = torch.from_numpy(x.astype(np.float32) / np.float32(255.0))
    yt = torch.from_numpy(y.astype(np.int64))
    return xt.contiguous(), yt


# ---- model --------------------------------------------------------------

def make_model(dataset):
    c, h, w = SHAPES[dataset]
    s = ((h - 2) // 2 - 2) // 2 - 2  # the last conv's output size
    model = nn.Sequential(
        nn.Conv2d(c, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * s * s, 64), nn.ReLU(),
        nn.Linear(64, 10),
    )
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


FORMATS = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}
FORMAT_NAMES = {v: k for k, v in FORMATS.items()}


def pick_format(choice, run, count):
    """The memory format to use: the one named, or for 'auto' the faster of
    the two over `count` calls of run(fmt, count) -> seconds, best of two
    alternating rounds (PyTorch 1.13 on CPU is several times faster on some of
    these shapes in channels_last, slower on none we saw; measuring is cheap)."""
    if choice != "auto":
        return FORMATS[choice]
    best = {}
    for _ in range(2):
        for f in FORMATS.values():
            t = run(f, count)
            best[f] = min(best.get(f, t), t)
    return min(best, key=best.get)


def make_optimizer(model):
    return torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)


class Average:
    """The weights' moving average, as nn2c's `ema M` (Keras's use_ema)."""

    def __init__(self, model, momentum):
        self.params = list(model.parameters())
        self.avg = [p.detach().clone() for p in self.params]
        self.m, self.started = momentum, False

    @torch.no_grad()
    def update(self):
        if not self.m:
            return
        if not self.started:
            for a, p in zip(self.avg, self.params):
                a.copy_(p)
            self.started = True
            return
        torch._foreach_mul_(self.avg, self.m)
        torch._foreach_add_(self.avg, self.params, alpha=1 - self.m)

    @torch.no_grad()
    def swap(self):
        """Exchanges the weights and the average (twice restores them)."""
        if not self.m or not self.started:
            return
        for a, p in zip(self.avg, self.params):
            t = p.detach().clone()
            p.copy_(a)
            a.copy_(t)


def train_step(model, opt, avg, xb, yb):
    opt.zero_grad(set_to_none=True)
    logits = model(xb)
    loss = F.cross_entropy(logits, yb)
    loss.backward()
    opt.step()
    avg.update()
    return logits, loss


# ---- subcommands ----------------------------------------------------------

def cmd_info(_args):
    print(f"torch {torch.__version__} numpy {np.__version__} threads={torch.get_num_threads()} "
          f"mkldnn={torch.backends.mkldnn.is_available()}")
    for line in torch.__config__.show().splitlines():
        if "BLAS" in line or "CPU capability" in line or "USE_MKLDNN" in line or "OpenMP" in line:
            print("  " + line.strip())


def cmd_train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr, ytr = tensors(args.dataset, args.data, "train", args.limit_train)
    xte, yte = tensors(args.dataset, args.data, "test", args.limit_test)
    model = make_model(args.dataset)
    bs = args.batch

    # warm-up on copies, not timed: first-call allocations, kernel selection,
    # and the choice of memory format (the faster one when --format auto)
    def steps(fmt, count):
        wm = copy.deepcopy(model).to(memory_format=fmt)
        wo, wa = make_optimizer(wm), Average(wm, args.ema)
        xb, yb = xtr[:bs].contiguous(memory_format=fmt), ytr[:bs]
        train_step(wm, wo, wa, xb, yb)
        t0 = time.perf_counter()
        for _ in range(count):
            train_step(wm, wo, wa, xb, yb)
        return time.perf_counter() - t0

    fmt = pick_format(args.format, steps, args.warmup)
    model = model.to(memory_format=fmt)
    xtr = xtr.contiguous(memory_format=fmt)
    opt, avg = make_optimizer(model), Average(model, args.ema)

    gen = torch.Generator().manual_seed(args.seed)
    n = len(xtr)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        t0 = time.perf_counter()
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            xb = xtr.index_select(0, idx).contiguous(memory_format=fmt)
            yb = ytr.index_select(0, idx)
            logits, loss = train_step(model, opt, avg, xb, yb)
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
        train_time = time.perf_counter() - t0
        model.eval()
        avg.swap()
        with torch.inference_mode():
            tl, tc = 0.0, 0
            for start in range(0, len(xte), bs):
                out = model(xte[start:start + bs].contiguous(memory_format=fmt))
                tl += F.cross_entropy(out, yte[start:start + bs], reduction="sum").item()
                tc += int((out.argmax(1) == yte[start:start + bs]).sum())
        avg.swap()
        print(f"epoch {epoch + 1}: train_loss={loss_sum / n:.6f} train_accuracy={correct / n:.4f} "
              f"test_loss={tl / len(xte):.6f} test_accuracy={tc / len(xte):.4f} "
              f"time={time.perf_counter() - t0:.2f}s samples/s={n / train_time:.1f} "
              f"format={FORMAT_NAMES[fmt]}", flush=True)


def inference_model(dataset):
    return nn.Sequential(make_model(dataset), nn.Softmax(dim=1)).eval()


def cmd_infer(args):
    torch.set_num_threads(args.threads)
    x0, _ = tensors(args.dataset, args.data, "test", args.batch)
    model0 = inference_model(args.dataset)

    def calls(fmt, count):
        m, xf = copy.deepcopy(model0).to(memory_format=fmt), x0.contiguous(memory_format=fmt)
        with torch.inference_mode():
            m(xf)
            t0 = time.perf_counter()
            for _ in range(count):
                m(xf)
        return time.perf_counter() - t0

    fmt = pick_format(args.format, calls, 5)
    model, x = model0.to(memory_format=fmt), x0.contiguous(memory_format=fmt)
    times = []
    with torch.inference_mode():
        for _ in range(5):
            model(x)
        end = time.perf_counter() + args.seconds
        while len(times) < args.iters or time.perf_counter() < end:
            t0 = time.perf_counter_ns()
            model(x)
            times.append((time.perf_counter_ns() - t0) / 1e3)
    times.sort()
    n = len(times)
    print(f"torch {args.dataset} batch={args.batch} threads={args.threads} iters={n} "
          f"median_us={times[n // 2]:.2f} p10_us={times[n // 10]:.2f} p90_us={times[n * 9 // 10]:.2f} "
          f"format={FORMAT_NAMES[fmt]}")


def cmd_export(args):
    os.makedirs(args.out, exist_ok=True)
    x, _ = tensors(args.dataset, args.data, "test", 64)
    x.numpy().astype("<f4").tofile(os.path.join(args.out, f"{args.dataset}_nchw.f32"))
    x.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(
        os.path.join(args.out, f"{args.dataset}_nhwc.f32"))
    model = inference_model(args.dataset)
    path = os.path.join(args.out, f"{args.dataset}.onnx")
    with torch.no_grad():
        torch.onnx.export(model, x[:1], path, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=13)
    print(f"wrote {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cmd", choices=["info", "train", "infer", "export"])
    p.add_argument("--dataset", choices=sorted(SHAPES), default="mnist")
    p.add_argument("--data", default=".")
    p.add_argument("--limit-train", type=int, default=0)
    p.add_argument("--limit-test", type=int, default=512)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ema", type=float, default=0.99)
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--out", default=".")
    p.add_argument("--format", choices=["auto"] + sorted(FORMATS), default="auto",
                   help="memory format: auto (default) times both and keeps the faster")
    args = p.parse_args()
    {"info": cmd_info, "train": cmd_train, "infer": cmd_infer, "export": cmd_export}[args.cmd](args)


if __name__ == "__main__":
    main()
