#!/usr/bin/python3
"""bench/torch_onnx.py - PyTorch side of bench/onnx_models.sh.

  torch_onnx.py export NAME DIR        DIR/NAME.onnx and DIR/x.bin (the input);
                                       prints params=N (trainable floats) and
                                       input=D1,D2,.. (one sample's shape)
  torch_onnx.py infer NAME --threads T [--iters N] [--seconds S]

The models (resnet18, mobilenet_v2, lstm, gru) and their seeded random weights
come from tests/onnx/real_models.py, so both sides run the same network.

infer: eval mode, torch.inference_mode(), torch.set_num_threads(T), batch 1.
For the CNNs the faster memory format (NCHW or channels_last) is measured on
10 calls each and kept. Then 5 warm-up calls, and every call timed with
perf_counter_ns until N calls and S seconds have passed. Prints one line:
  torch NAME batch=1 threads=T iters=N median_us=.. p10_us=.. p90_us=.. format=..
"""
import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # onnx_models.sh sets it before start too

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "onnx"))
import real_models  # noqa: E402
import torch  # noqa: E402


def timed(m, x, n):
    t = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        m(x)
        t.append((time.perf_counter_ns() - t0) / 1e3)
    return sorted(t)


def infer(a):
    torch.set_num_threads(a.threads)
    m, x = real_models.build(a.name)
    fmt = "-"
    with torch.inference_mode():
        if x.dim() == 4:
            cl = (m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last))
            m0, x0 = real_models.build(a.name)
            t_nchw = timed(m0, x0, 10)[5]
            t_cl = timed(cl[0], cl[1], 10)[5]
            if t_cl < t_nchw:
                m, x, fmt = cl[0], cl[1], "channels_last"
            else:
                m, x, fmt = m0, x0, "nchw"
        timed(m, x, 5)
        t, end = [], time.perf_counter() + a.seconds
        while len(t) < a.iters or time.perf_counter() < end:
            t += timed(m, x, 1)
    t.sort()
    n = len(t)
    print(f"torch {a.name} batch=1 threads={a.threads} iters={n} median_us={t[n // 2]:.2f} "
          f"p10_us={t[n // 10]:.2f} p90_us={t[n * 9 // 10]:.2f} format={fmt}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("name", choices=real_models.MODELS)
    e.add_argument("dir")
    i = sub.add_parser("infer")
    i.add_argument("name", choices=real_models.MODELS)
    i.add_argument("--threads", type=int, default=1)
    i.add_argument("--iters", type=int, default=30)
    i.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    if a.cmd == "export":
        torch.set_num_threads(1)
        real_models.export(a.name, a.dir)
        m, x = real_models.build(a.name)
        print(f"params={sum(p.numel() for p in m.parameters())}")
        print("input=" + ",".join(str(d) for d in x.shape[1:]))
    else:
        infer(a)


if __name__ == "__main__":
    main()
