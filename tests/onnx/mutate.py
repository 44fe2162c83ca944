#!/usr/bin/env python3
"""Byte-wise mutations of ONNX models (stdlib only, seeded): flipped bytes,
truncations, inserted and overwritten runs, large varints.
usage: mutate.py SEED COUNT OUT_DIR MODEL..."""
import os, random, sys

seed, count, out, models = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
rng = random.Random(seed)
os.makedirs(out, exist_ok=True)
blobs = [open(m, "rb").read() for m in models]
for i in range(count):
    b = bytearray(rng.choice(blobs))
    for _ in range(rng.randint(1, 4)):
        kind, p = rng.randrange(5), rng.randrange(max(len(b), 1))
        if kind == 0:
            b[p] = rng.randrange(256)
        elif kind == 1:
            del b[p:]
        elif kind == 2:
            b[p:p] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 3:
            b[p:p + 5] = b"\xff\xff\xff\xff\x0f"  # a huge length or dimension
        else:
            b[p] ^= 1 << rng.randrange(8)
    with open(os.path.join(out, "m%04d.onnx" % i), "wb") as f:
        f.write(bytes(b))
