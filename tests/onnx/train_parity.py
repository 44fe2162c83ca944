#!/usr/bin/python3
"""Training parity with PyTorch (tests/onnx/train_parity.sh).
  train_parity.py prepare OUT_DIR   exports an MLP and a small CNN (dynamic batch), fixed batches
                                    and the weights after STEPS plain-SGD steps in PyTorch
  train_parity.py check DIR NAME    trained.onnx: onnx.checker, weights vs PyTorch's, and
                                    nn2c run's output (DIR/NAME/run.txt) vs the trained PyTorch model
Exit 77 (skip) without torch or onnx."""
import os, sys
try:
    import numpy as np, torch, onnx
    from onnx import numpy_helper
except ImportError:
    sys.exit(77)

STEPS, BATCH, LR = 5, 4, 0.1

def mlp():
    return torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8), torch.nn.ReLU(),
                               torch.nn.Linear(8, 5), torch.nn.Softmax(1))

class Cnn(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.c = torch.nn.Conv2d(2, 4, 3, padding=1)
        s.l = torch.nn.Linear(4 * 3 * 3, 3)
    def forward(s, x):
        y = torch.nn.functional.max_pool2d(torch.relu(s.c(x)), 2)
        return torch.sigmoid(s.l(torch.flatten(y, 1)))

# name, model, sample shape, loss (nn2c name), targets
CASES = [("mlp", mlp, (12,), "sparse_categorical_crossentropy"), ("cnn", Cnn, (2, 6, 6), "mse")]

def loss_fn(kind, p, y):
    if kind == "mse":
        return ((p - y) ** 2).mean()
    return -torch.log(torch.clamp(p, 1e-7, 1.0)).gather(1, y.long().view(-1, 1)).mean()

def prepare(out):
    for i, (name, make, shape, loss) in enumerate(CASES):
        torch.manual_seed(10 + i)
        model, d = make(), os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        probe = torch.randn(2, *shape)
        torch.onnx.export(model, probe, os.path.join(d, "model.onnx"), input_names=["x"], output_names=["y"],
                          opset_version=13, dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
        nout = model(probe).shape[1]
        x = torch.randn(STEPS * BATCH, *shape)
        y = torch.randint(0, nout, (STEPS * BATCH,)) if loss != "mse" else torch.rand(STEPS * BATCH, nout)
        x.numpy().astype("<f4").tofile(os.path.join(d, "x.bin"))
        (y.numpy().astype("<i4") if loss != "mse" else y.numpy().astype("<f4")).tofile(os.path.join(d, "y.bin"))
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        for s in range(STEPS):
            opt.zero_grad()
            loss_fn(loss, model(x[s * BATCH:(s + 1) * BATCH]), y[s * BATCH:(s + 1) * BATCH]).backward()
            opt.step()
        np.savez(os.path.join(d, "expected.npz"), **{k: v.detach().numpy() for k, v in model.state_dict().items()})
        with open(os.path.join(d, "probe.pb"), "wb") as f:
            f.write(numpy_helper.from_array(probe.numpy()).SerializeToString())
        np.save(os.path.join(d, "probe_out.npy"), model(probe).detach().numpy())
        with open(os.path.join(d, "loss"), "w") as f:
            f.write(loss)

def check(d, name):
    d = os.path.join(d, name)
    m = onnx.load(os.path.join(d, "trained.onnx"))
    onnx.checker.check_model(m)
    got = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    exp, worst = np.load(os.path.join(d, "expected.npz")), 0.0
    orig = {t.name: numpy_helper.to_array(t) for t in onnx.load(os.path.join(d, "model.onnx")).graph.initializer}
    for k in exp.files:
        if k not in got:
            sys.exit(f"{name}: trained.onnx lacks initializer {k}")
        worst = max(worst, float(np.abs(got[k] - exp[k]).max()))
        moved = float(np.abs(orig[k] - exp[k]).max())
        if moved < 1e-5:
            sys.exit(f"{name}: {k} did not move in PyTorch; the test would not show training")
    vals = [float(v) for v in open(os.path.join(d, "run.txt")).read().split(":", 1)[1].split()]
    out_diff = float(np.abs(np.array(vals, dtype=np.float64) - np.load(os.path.join(d, "probe_out.npy")).ravel()).max())
    print(f"{name}: {len(exp.files)} tensors after {STEPS} SGD steps: max |nn2c - torch| = {worst:.3g}; "
          f"nn2c run trained.onnx vs torch: {out_diff:.3g}; onnx.checker ok")
    if worst > 1e-4 or out_diff > 1e-4:
        sys.exit(f"{name}: exceeds 1e-4")

if sys.argv[1] == "prepare":
    prepare(sys.argv[2])
else:
    check(sys.argv[2], sys.argv[3])
