#!/usr/bin/python3
"""Real exported models through nn2c: torchvision's resnet18 and mobilenet_v2
and small LSTM and GRU classifiers, exported with torch.onnx.export (random
weights, fixed seed), compiled to C, built with the emitted Makefile and run
on a fixed input; the outputs must match PyTorch's.

usage: real_models.py NN2C WORK [--models LIST] [--interp LIST] [--dynamic LIST] [--harness FILE]
  --models  comma-separated, from resnet18,mobilenet_v2,lstm,gru,tokens (default all)
            and the torchvision models of ZOO below
  --interp  models also run through the interpreter (nn2c run): a list,
            "all" (the default; resnet18 takes ~10 s there) or "none"
  --dynamic models also exported with a symbolic batch (dynamic_axes) and
            run at batch 64 and batch 1 from one build
  --harness tests/onnx/infer_harness.c (default: next to this script)

Check: max |nn2c - torch| <= 1e-4 * max(1, max |torch|), i.e. 1e-4 absolute
for outputs of scale up to 1 and 1e-4 relative to the largest output beyond.
One line per model: errors, compile/build/run times. Exit 1 on a failure,
77 (skip) without python3-torch, python3-onnx or python3-torchvision.

Other scripts import this file for the models (bench/onnx_models.sh):
build(name) -> (module, example input), export(name, dir) -> model.onnx path.
"""
import argparse
import os
import re
import subprocess
import sys
import time
import warnings

try:
    import numpy as np
    import torch
    import torchvision
    from onnx import numpy_helper
except ImportError:
    if __name__ == "__main__":
        sys.exit(77)
    raise

MODELS = ["resnet18", "mobilenet_v2", "lstm", "gru", "tokens"]
# torchvision classification models (weights=None) beyond the two above, one or
# more of each family, with the opset each is exported at (vit needs 14+ for
# its attention's ops). The small ones run in CTest (onnx.torchvision_models);
# bench/torchvision.sh runs them all.
ZOO = {"squeezenet1_1": 13, "shufflenet_v2_x0_5": 13, "mnasnet0_5": 13, "mobilenet_v3_small": 13,
       "regnet_y_400mf": 13, "efficientnet_b0": 13, "googlenet": 13, "densenet121": 13,
       "mobilenet_v3_large": 13, "resnet50": 13, "regnet_x_400mf": 13, "squeezenet1_0": 13,
       "convnext_tiny": 14, "alexnet": 13, "vgg11": 13, "vit_b_16": 14}
TOL = 1e-4
DYNAMIC_BATCH = 64  # --dynamic: exported with a symbolic batch, run at 64 and 1 from one build


class RnnClassifier(torch.nn.Module):
    """x [N, T=16, 32] -> LSTM or GRU(64), batch_first -> last step -> Linear(10)."""

    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(32, 64, batch_first=True)
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


class TokenClassifier(torch.nn.Module):
    """x [N, 16, 32] -> a learned class token expanded to the batch and prepended
    (as vit does: its export reads the batch with Shape, Equal and Where) -> mean
    over the 17 tokens -> Linear(10)."""

    def __init__(self):
        super().__init__()
        self.token = torch.nn.Parameter(torch.randn(1, 1, 32))
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x):
        t = self.token.expand(x.shape[0], -1, -1)
        return self.fc(torch.cat([t, x], dim=1).mean(dim=1))


def build(name):
    """The model in eval mode with seeded random weights, and its batch-1 input."""
    torch.manual_seed(0)
    if name in ("resnet18", "mobilenet_v2") or name in ZOO:
        m = getattr(torchvision.models, name)(weights=None)
        # At initialization BatchNorm's running statistics are 0 and 1, and in
        # eval mode mobilenet_v2's activations then fade to ~1e-9 by the
        # output. Statistics from one train-mode batch keep them at scale 1.
        # Some heads start at zero (vit's): their outputs would be 0 whatever
        # the rest computes, so they get small random weights instead.
        with torch.no_grad():
            for p in m.parameters():
                if p.dim() >= 2 and not p.any():
                    p.normal_(0, 0.02)
        for b in m.modules():
            if isinstance(b, torch.nn.modules.batchnorm._BatchNorm):
                b.momentum = None
        with torch.no_grad():
            m.train()(torch.rand(4, 3, 224, 224))
        x = torch.rand(1, 3, 224, 224)
    elif name == "tokens":
        m, x = TokenClassifier(), torch.randn(1, 16, 32)
    elif name in ("lstm", "gru"):
        m = RnnClassifier(torch.nn.LSTM if name == "lstm" else torch.nn.GRU)
        x = torch.randn(1, 16, 32)
    else:
        raise ValueError(f"unknown model {name}")
    return m.eval(), x


def export(name, d, batch=0):
    """Writes d/NAME.onnx (opset 13, or the model's in ZOO), d/x.bin (raw f32),
    d/x.pb and d/want.bin (PyTorch's output); returns the model path. With
    batch > 0 the model's batch is symbolic (dynamic_axes) and x.bin holds a
    seeded input of that batch."""
    os.makedirs(d, exist_ok=True)
    m, x = build(name)
    dynamic = {"x": {0: "batch"}, "y": {0: "batch"}} if batch else None
    if batch:
        torch.manual_seed(1)
        x = (torch.rand if x.dim() == 4 else torch.randn)(batch, *x.shape[1:])
    path = os.path.join(d, name + ".onnx")
    # Exported with autograd on: under no_grad, torch 1.13's attention takes a
    # fused fast path (aten::_native_multi_head_attention) that has no ONNX form.
    with warnings.catch_warnings():  # the exporter's notes on RNN batch sizes
        warnings.simplefilter("ignore")
        torch.onnx.export(m, x, path, input_names=["x"], output_names=["y"], opset_version=ZOO.get(name, 13),
                          dynamic_axes=dynamic)
    with torch.no_grad():
        y = m(x).numpy()
    x.numpy().astype("<f4").tofile(os.path.join(d, "x.bin"))
    y.astype("<f4").tofile(os.path.join(d, "want.bin"))
    with open(os.path.join(d, "x.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x.numpy(), "x").SerializeToString())
    return path


def run(cmd, log, **kw):
    """Runs cmd with its output in log; returns seconds taken, or raises with the log's tail."""
    t0 = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, **kw)
    if rc != 0:
        with open(log) as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f"{' '.join(cmd)} failed with status {rc}:\n{tail}")
    return time.perf_counter() - t0


def compare(got, want):
    """(ok, max abs error, limit, max |want|) of nn2c's output against PyTorch's."""
    scale = float(np.abs(want).max())
    limit = TOL * max(1.0, scale)
    ok = got.shape == want.shape and bool(np.isfinite(got).all())
    err = float(np.abs(got - want).max()) if ok else float("inf")
    return ok and err <= limit, err, limit, scale


def check(name, nn2c, work, harness, interp, batch=0):
    """Exports, compiles, builds and runs one model; with batch > 0 its batch
    is symbolic and one build runs at that batch and at batch 1."""
    d = os.path.join(work, name + (f"_b{batch}" if batch else ""))
    t0 = time.perf_counter()
    model = export(name, d, batch)
    t_export = time.perf_counter() - t0
    gen = os.path.join(d, "gen")
    t_compile = run([nn2c, "compile", model, "-o", gen], os.path.join(d, "compile.log"))
    t_build = run(["make", "-C", gen], os.path.join(d, "make.log"))
    weights = os.path.join(gen, name + ".weights")
    has_weights = os.path.exists(weights)
    exe = os.path.join(d, "harness")
    # the harness with the emitted Makefile's CC, CFLAGS, OMP_FLAGS and LDLIBS (C11: aligned_alloc)
    rule = (f"{exe}: {harness} {name}.o\n\t$(CC) $(CFLAGS) -std=c11 -Werror $(OMP_FLAGS) -DM={name} "
            f"{'-DWEIGHTS ' if has_weights else ''}-include {name}.h {harness} {name}.o -o $@ $(LDLIBS)\n")
    with open(os.path.join(d, "harness.mk"), "w") as f:
        f.write(rule)
    run(["make", "-C", gen, "-f", "Makefile", "-f", os.path.join(d, "harness.mk"), exe], os.path.join(d, "harness.log"))
    out = os.path.join(d, "got.bin")
    t_run = run([exe, weights, os.path.join(d, "x.bin"), out] + ([str(batch)] if batch else []),
                os.path.join(d, "run.log"))
    want = np.fromfile(os.path.join(d, "want.bin"), dtype="<f4").astype(np.float64)
    got = np.fromfile(out, dtype="<f4").astype(np.float64)
    ok, err, limit, scale = compare(got, want)
    line = (f"{name}{f' batch {batch}' if batch else ''}: nn2c C max_abs_err={err:.3g} (limit {limit:.3g}, "
            f"max|y|={scale:.3g}) export={t_export:.1f}s compile={t_compile:.1f}s build={t_build:.1f}s "
            f"run={t_run:.2f}s weights_file={'yes' if has_weights else 'no'}")
    if batch:  # the same build at batch 1, on the first sample
        x = np.fromfile(os.path.join(d, "x.bin"), dtype="<f4")
        x[: x.size // batch].tofile(os.path.join(d, "x1.bin"))
        run([exe, weights, os.path.join(d, "x1.bin"), out, "1"], os.path.join(d, "run1.log"))
        ok1, err1, _, _ = compare(np.fromfile(out, dtype="<f4").astype(np.float64), want[: want.size // batch])
        ok = ok and ok1
        line += f" | batch 1 from the same build max_abs_err={err1:.3g}"
    if interp:
        t0 = time.perf_counter()
        r = subprocess.run([nn2c, "run", model, os.path.join(d, "x.pb")], capture_output=True, text=True)
        t_interp = time.perf_counter() - t0
        vals = re.sub(r"^[^:]*:", "", r.stdout.strip()).split() if r.returncode == 0 else []
        iv = np.array([float(v) for v in vals])
        ierr = float(np.abs(iv - want).max()) if iv.shape == want.shape else float("inf")
        ok = ok and ierr <= limit
        line += f" | interpreter max_abs_err={ierr:.3g} time={t_interp:.1f}s"
        if r.returncode != 0:
            line += " (nn2c run failed: " + r.stderr.strip()[-300:] + ")"
    print(("PASS " if ok else "FAIL ") + line, flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("nn2c")
    ap.add_argument("work")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--interp", default="all")
    ap.add_argument("--dynamic", default="")
    ap.add_argument("--harness", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "infer_harness.c"))
    a = ap.parse_args()
    models = [m for m in a.models.split(",") if m]
    interp = MODELS if a.interp == "all" else [] if a.interp == "none" else a.interp.split(",")
    dynamic = [m for m in a.dynamic.split(",") if m]
    for m in models + [m for m in interp if m] + dynamic:
        if m not in MODELS and m not in ZOO:
            sys.exit(f"real_models.py: unknown model '{m}' (known: {', '.join(MODELS + list(ZOO))})")
    torch.set_num_threads(1)
    ok = True
    runs = [(m, 0) for m in models] + [(m, DYNAMIC_BATCH) for m in dynamic]
    for m, batch in runs:
        try:
            ok = check(m, os.path.abspath(a.nn2c), os.path.abspath(a.work), a.harness, m in interp, batch) and ok
        except RuntimeError as e:
            print(f"FAIL {m}{f' batch {batch}' if batch else ''}: {e}", flush=True)
            ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
