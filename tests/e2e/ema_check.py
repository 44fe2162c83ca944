"""ema_check.py - the parameters' moving average (`ema` in a train section).

  ema_check.py recurrence MOMENTUM CKPT_1 ... CKPT_K
      checkpoints after steps 1..K of one run: each holds the average as its
      params and the raw weights at the end of its state (the mirror). Checks
      a_1 = w_1 and a_k = e a_(k-1) + (1 - e) w_k, and that the average has
      moved away from the raw weights (else the test would prove nothing).
  ema_check.py strip CKPT OUT
      writes CKPT without the mirror: a checkpoint of the same model compiled
      without `ema`, whose params are the average.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from nn2c_ckpt import read, write  # noqa: E402


def split(ck):
    p, s = ck["params"], ck["state"]
    return p, s[len(s) - len(p):]


def recurrence(e, paths):
    prev, moved = None, 0.0
    for k, path in enumerate(paths, 1):
        avg, raw = split(read(path)[1])
        want = raw if k == 1 else [e * a + (1 - e) * w for a, w in zip(prev, raw)]
        worst = max(abs(a - b) / (1e-6 + abs(b)) for a, b in zip(avg, want))
        if worst > 1e-5:
            sys.exit(f"FAIL: step {k}: the average is off by {worst:.3g} (relative)")
        moved = max(moved, max(abs(a - w) for a, w in zip(avg, raw)))
        prev = avg
    if moved < 1e-4:
        sys.exit(f"FAIL: the average never left the raw weights (max gap {moved:.3g})")
    print(f"ok: {len(paths)} steps follow the recurrence; largest gap to the raw weights {moved:.3g}")


def strip(src, out):
    version, ck = read(src)
    p, s = ck["params"], ck["state"]
    write(out, version, [("params", p), ("state", s[:len(s) - len(p)]), ("step", ck["step"])])


if __name__ == "__main__":
    if sys.argv[1] == "recurrence":
        recurrence(float(sys.argv[2]), sys.argv[3:])
    else:
        strip(sys.argv[2], sys.argv[3])
