#!/usr/bin/env python3
"""make_corpus.py - writes the seed corpora of the runtime fuzz targets.

    python3 tests/fuzz/make_corpus.py [CORPUS_DIR]   (default: tests/fuzz/corpus)

Each target gets a few small valid files and near misses in CORPUS_DIR/<target>/.
fuzz_nn's and fuzz_onnx's seeds are copies of examples/*.nn and small ONNX
backend test models, made by hand; this script leaves them alone. The files
are checked in: rerun only to change the seeds."""
import gzip
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def gz(data):
    return gzip.compress(data, mtime=0)


# fuzz_ckpt: "NN2CCKPT", u32 version, u32 nsections, sections (u32 name
# length, name, u64 count, count f32), u64 FNV-1a 64 of every byte before it.
def fnv1a64(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def ckpt(sections, version=1):
    b = b"NN2CCKPT" + struct.pack("<II", version, len(sections))
    for name, vals in sections:
        b += struct.pack("<I", len(name)) + name.encode() + struct.pack("<Q", len(vals))
        b += struct.pack("<%df" % len(vals), *vals)
    return b + struct.pack("<Q", fnv1a64(b))


good = [("params", [0.1 * i for i in range(6)]), ("state", [0.0] * 6), ("step", [3.0, 0, 0, 0])]
put("fuzz_ckpt", "valid.ckpt", ckpt(good))
put("fuzz_ckpt", "wrong_count.ckpt", ckpt([("params", [1.0] * 3)] + good[1:]))
put("fuzz_ckpt", "wrong_name.ckpt", ckpt([("weights", [1.0] * 6)] + good[1:]))
put("fuzz_ckpt", "bad_hash.ckpt", ckpt(good)[:-1] + b"\0")
put("fuzz_ckpt", "truncated.ckpt", ckpt(good)[:40])
put("fuzz_ckpt", "version2.ckpt", ckpt(good, version=2))
put("fuzz_ckpt", "valid.ckpt.gz", gz(ckpt(good)))


# fuzz_idx: u16 length of the labels file, labels file, images file.
def idx(dims, payload):
    return struct.pack(">I", 0x800 + len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_pair(labels, images):
    return struct.pack("<H", len(labels)) + labels + images


lab = idx([3], bytes([7, 0, 9]))
put("fuzz_idx", "three_2x2", idx_pair(lab, idx([3, 2, 2], bytes(range(12)))))
put("fuzz_idx", "one_28x28", idx_pair(idx([1], b"\5"), idx([1, 28, 28], bytes(784))))
put("fuzz_idx", "gzip_both", idx_pair(gz(lab), gz(idx([3, 2, 2], bytes(range(12))))))
put("fuzz_idx", "label_out_of_range", idx_pair(idx([1], b"\x0a"), idx([1, 2, 2], bytes(4))))
put("fuzz_idx", "count_mismatch", idx_pair(lab, idx([2, 2, 2], bytes(8))))

# fuzz_cifar: 10000 records of a label byte and 3072 pixel bytes (gzip keeps it small).
rec = bytearray(10000 * 3073)
for r in range(10000):
    rec[r * 3073] = r % 10
put("fuzz_cifar", "test_batch.bin.gz", gz(bytes(rec)))
put("fuzz_cifar", "short.bin", bytes([3]) + bytes(3072))

# fuzz_imdb: lines "<0|1> <text>".
reviews = "1 The movie was good, and it's the best\n0 a BAD movie; bad bad bad\n1 <br />Great 10/10\n"
put("fuzz_imdb", "reviews.txt", reviews)
put("fuzz_imdb", "reviews.txt.gz", gz(reviews.encode()))
put("fuzz_imdb", "bad_label.txt", "2 neither\n")
put("fuzz_imdb", "no_text.txt", "1\n0 \n\n")

# fuzz_word_index: Keras's imdb_word_index.json shape, with escapes.
put("fuzz_word_index", "small.json", '{"the": 1, "and": 2, "a": 3, "movie": 17, "it\'s": 42}')
put("fuzz_word_index", "escapes.json", '{"caf\\u00e9": 5, "\\ud83d\\ude00": 6, "tab\\t": 7, "q\\"": 8}')
put("fuzz_word_index", "empty.json", "{}")
put("fuzz_word_index", "duplicate.json", '{"a": 1, "a": 2}')
put("fuzz_word_index", "big_rank.json", '{"a": 99999999999}')


# fuzz_wav: RIFF/WAVE, 16-bit PCM mono.
def wav(samples, rate=16000, bits=16, channels=1, fmt=1, extra=b""):
    data = struct.pack("<%dh" % len(samples), *samples) if bits == 16 else bytes(samples)
    f = struct.pack("<HHIIHH", fmt, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(f)) + f + extra + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


put("fuzz_wav", "tone.wav", wav([int(3000 * ((i % 20) - 10)) for i in range(64)]))
put("fuzz_wav", "list_chunk.wav", wav([1, -1, 2, -2], extra=b"LIST" + struct.pack("<I", 4) + b"INFO"))
put("fuzz_wav", "stereo.wav", wav([1, 2, 3, 4], channels=2))
put("fuzz_wav", "8bit.wav", wav([128, 129], bits=8))
put("fuzz_wav", "float.wav", wav([0, 0], fmt=3))
put("fuzz_wav", "truncated.wav", wav([5] * 16)[:50])

# fuzz_train_flags: one argument per line.
for name, args in [
    ("defaults", []),
    ("quiet_epochs", ["--quiet", "--epochs", "2"]),
    ("eqform", ["--epochs=0", "--batch=3", "--seed=9", "--lr=0.01"]),
    ("steps_limits", ["--steps", "5", "--limit-train", "3", "--limit-test", "2"]),
    ("save_load", ["--epochs", "0", "--save", "a.ckpt", "--load", "a.ckpt"]),
    ("threads", ["--threads", "4", "--quiet"]),
    ("help", ["--help"]),
    ("bad", ["--batch", "abc", "--frobnicate"]),
    ("huge", ["--batch", "99999999999", "--lr", "1e30"]),
    ("data", ["--data", "x"]),
]:
    put("fuzz_train_flags", name, "\n".join(args))


# fuzz_npy_csv: .npy files (magic, version, header length, dict, data) and CSV
# files behind one byte that picks the label column.
def npy(descr, shape, data, fortran="False", version=1):
    h = ("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)).encode()
    h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    size = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + size + h + data


put("fuzz_npy_csv", "f4.npy", npy("<f4", "(3, 2)", struct.pack("<6f", 0.5, 1, 2, 0, 1, 2)))
put("fuzz_npy_csv", "i8.npy", npy("<i8", "(3, 2)", struct.pack("<6q", 0, 1, 2, 0, 1, 2)))
put("fuzz_npy_csv", "be_f8_v2.npy", npy(">f8", "(2, 2)", struct.pack(">4d", 0, 1, 1, 0), version=2))
put("fuzz_npy_csv", "u1.npy", npy("|u1", "(2, 2)", bytes([0, 1, 2, 1])))
put("fuzz_npy_csv", "f2.npy", npy("<f2", "(2, 2)", bytes([0, 0x3C, 0, 0, 0, 0x40, 0, 0x3C])))
put("fuzz_npy_csv", "fortran.npy", npy("<f4", "(2, 2)", bytes(16), fortran="True"))
put("fuzz_npy_csv", "short.npy", npy("<f4", "(2, 2)", bytes(15)))
put("fuzz_npy_csv", "header.csv", "\x04a,b,label\n0.5,1,0\n2,3e-2,1\r\n\n1,1,2\n")
put("fuzz_npy_csv", "plain.csv", "\x00" + "0.1,0.2,1\n0.3,0.4,0\n")
put("fuzz_npy_csv", "quoted.csv", "\x05\x01" + '"a","b","c"\n1,2,0.5\n')
put("fuzz_npy_csv", "bad.csv", "\x01x,y\n1,nan,2\n")
