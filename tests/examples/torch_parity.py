"""torch_parity.py - examples/lstm_classifier.nn trained by nn2c and by PyTorch
from the same initial weights on the same batch must give the same losses.

  torch_parity.py data OUT.nn EXAMPLE.nn   writes the example's layers with an
                                           inline dataset of 32 random samples
  torch_parity.py check MODEL.h INIT.ckpt TRAIN.out
                                           replays the 20 Adam steps in PyTorch

With 32 samples and batch 32 every epoch is one step on the same batch, so
epoch k's train_loss is the loss before update k and its test_loss the loss
after it. The update is Keras's Adam, which nn2c implements (eps added to
sqrt(v) before the bias correction); torch.optim.Adam places eps after it,
a difference of about 1e-7 relative here, so the step is written out.
Exit status: 0 pass, 1 fail, 77 (skip) without torch."""
import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import nn2c_ckpt  # noqa: E402

N, T, H = 32, 10, 50


def write_data(out, example):
    layers = []
    for line in open(example):
        if line.startswith("train"):
            break
        layers.append(line)
    rnd = random.Random(5)
    x = [[[round(rnd.random(), 4)] for _ in range(T)] for _ in range(N)]
    y = [[rnd.randint(0, 1)] for _ in range(N)]
    with open(out, "w") as f:
        f.write("".join(layers))
        f.write("train {\n  loss binary_crossentropy\n  optimizer adam lr=0.001\n  batch 32\n"
                "  epochs 20\n  seed 9\n  dataset inline\n}\n")
        f.write(f"data {{\n  x = {x}\n  y = {y}\n}}\n")


def read_ckpt(path):
    return nn2c_ckpt.read(path)[1]


def check(header, ckpt, train_out):
    try:
        import torch
    except ImportError:
        print("SKIP: python3-torch is not installed")
        return 77
    torch.set_default_dtype(torch.float32)
    params = read_ckpt(ckpt)["params"]
    floats = int(re.search(r"_PARAM_FLOATS (\d+)", open(header).read()).group(1))
    assert len(params) == floats, "params section size"
    # the params block: graph order, each tensor at a multiple of 16 floats
    shapes = [("w", (1, 4 * H)), ("u", (H, 4 * H)), ("b", (4 * H,)), ("dw", (H, 1)), ("db", (1,))]
    p, off = {}, 0
    for name, shape in shapes:
        n = 1
        for d in shape:
            n *= d
        p[name] = torch.tensor(params[off:off + n]).reshape(shape).requires_grad_(True)
        off = (off + n + 15) // 16 * 16
    rnd = random.Random(5)
    x = torch.tensor([[[round(rnd.random(), 4)] for _ in range(T)] for _ in range(N)])
    y = torch.tensor([[float(rnd.randint(0, 1))] for _ in range(N)])
    lstm = torch.nn.LSTM(1, H, batch_first=True)  # gates i f g o, as Keras's i f c o
    eps, b1, b2, lr = 1e-7, 0.9, 0.999, 1e-3

    def loss_fn():
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(p["w"].t())
            lstm.weight_hh_l0.copy_(p["u"].t())
            lstm.bias_ih_l0.copy_(p["b"])
            lstm.bias_hh_l0.zero_()
        for t in lstm.parameters():
            t.grad = None
        _, (h, _) = lstm(x)
        prob = torch.sigmoid(h[0] @ p["dw"] + p["db"]).clamp(eps, 1 - eps)
        loss = -(y * torch.log(prob) + (1 - y) * torch.log(1 - prob)).mean()
        return loss, h

    m = {k: torch.zeros_like(v) for k, v in p.items()}
    v = {k: torch.zeros_like(t) for k, t in p.items()}
    torch_losses = []
    for step in range(1, 21):
        loss, _ = loss_fn()
        torch_losses.append(loss.item())
        grads = torch.autograd.grad(loss, [p["dw"], p["db"]], retain_graph=True)
        loss.backward()
        g = {"dw": grads[0], "db": grads[1], "w": lstm.weight_ih_l0.grad.t(), "u": lstm.weight_hh_l0.grad.t(),
             "b": lstm.bias_ih_l0.grad + lstm.bias_hh_l0.grad}
        lr_t = lr * (1 - b2 ** step) ** 0.5 / (1 - b1 ** step)
        with torch.no_grad():
            for k in p:
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                p[k] -= lr_t * m[k] / (v[k].sqrt() + eps)
    final = loss_fn()[0].item()
    ours = [(float(a), float(b)) for a, b in
            re.findall(r"^epoch \d+: train_loss=([-0-9.e]+) .*?test_loss=([-0-9.e]+)", open(train_out).read(), re.M)]
    if len(ours) != 20:
        print(f"FAIL: expected 20 epoch lines from the nn2c trainer, got {len(ours)}")
        return 1
    worst = max(abs(a - b) for (a, _), b in zip(ours, torch_losses))
    worst = max(worst, abs(ours[-1][1] - final))
    print(f"losses: nn2c {ours[0][0]:.6f} -> {ours[-1][1]:.6f}, PyTorch {torch_losses[0]:.6f} -> {final:.6f}; "
          f"largest difference over the 20 steps and the final loss {worst:.2e}")
    if worst > 1e-4 or abs(ours[0][0] - ours[-1][1]) < 1e-3:
        print("FAIL: losses differ by more than 1e-4 (or training did not move)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "data":
        write_data(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(check(*sys.argv[2:5]))
