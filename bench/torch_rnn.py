"""bench/torch_rnn.py - PyTorch side of bench/rnn.sh: the same recurrent
classifiers as examples/lstm_classifier.nn and examples/imdb_lstm.nn, trained
with Adam on random data, timed per step after a warm-up.

  torch_rnn.py lstm|imdb --threads T --steps S
prints `samples/s=X` (training samples per second over the timed steps).
Keras's init scheme: glorot_uniform input kernels, orthogonal recurrent
kernels, zero biases with the LSTM's forget-gate bias at one, embeddings
uniform(-0.05, 0.05); Adam lr 1e-3, eps 1e-7 (Keras's)."""
import argparse
import time

import torch


class Model(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        if kind == "imdb":
            self.emb = torch.nn.Embedding(10000, 128)
            torch.nn.init.uniform_(self.emb.weight, -0.05, 0.05)
            feat, hidden = 128, 64
        else:
            feat, hidden = 1, 50
        self.lstm = torch.nn.LSTM(feat, hidden, batch_first=True)
        # PyTorch stores W_ih [4H, F] with gates i f g o, as Keras's [F, 4H] transposed
        torch.nn.init.xavier_uniform_(self.lstm.weight_ih_l0)
        torch.nn.init.orthogonal_(self.lstm.weight_hh_l0)
        with torch.no_grad():
            self.lstm.bias_ih_l0.zero_()
            self.lstm.bias_hh_l0.zero_()
            self.lstm.bias_ih_l0[hidden:2 * hidden] = 1.0
        self.dense = torch.nn.Linear(hidden, 1)
        torch.nn.init.xavier_uniform_(self.dense.weight)
        torch.nn.init.zeros_(self.dense.bias)

    def forward(self, x):
        if self.kind == "imdb":
            x = self.emb(x)
        _, (h, _) = self.lstm(x)
        return torch.sigmoid(self.dense(h[0]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["lstm", "imdb"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Model(a.kind)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.BCELoss()
    nb = 8  # distinct random batches, cycled
    if a.kind == "imdb":
        xs = [torch.randint(0, 10000, (a.batch, 100)) for _ in range(nb)]
    else:
        xs = [torch.rand(a.batch, 10, 1) for _ in range(nb)]
    ys = [torch.randint(0, 2, (a.batch, 1)).float() for _ in range(nb)]

    def step(i):
        opt.zero_grad()
        loss = loss_fn(model(xs[i % nb]), ys[i % nb])
        loss.backward()
        opt.step()
        return loss

    for i in range(5):
        step(i)
    t0 = time.perf_counter()
    for i in range(a.steps):
        step(i)
    dt = time.perf_counter() - t0
    print(f"torch {a.kind} threads={a.threads} steps={a.steps} samples/s={a.steps * a.batch / dt:.1f}")


if __name__ == "__main__":
    main()
