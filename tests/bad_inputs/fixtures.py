"""Bad (and a few good) input files for run_bad_inputs.py, written into one folder.

Each function writes one kind of file; make(F) writes them all. Names in cases.txt refer to these
paths as $F/..., so a case's expected message can name the exact file."""
import gzip
import json
import os
import struct


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- MNIST IDX: a folder of train-/t10k- images and labels ----

def idx_images(n, rows=28, cols=28, magic=0x803):
    return struct.pack(">IIII", magic, n, rows, cols) + bytes((i * 7) % 256 for i in range(n * rows * cols))


def idx_labels(n, top=10, magic=0x801):
    return struct.pack(">II", magic, n) + bytes(i % top for i in range(n))


def mnist_dir(d, n=8, **bad):
    """A good MNIST folder with n samples per split; bad maps a file name to its replacement bytes
    (None: the file is left out)."""
    files = {"train-images-idx3-ubyte": idx_images(n), "train-labels-idx1-ubyte": idx_labels(n),
             "t10k-images-idx3-ubyte": idx_images(n), "t10k-labels-idx1-ubyte": idx_labels(n)}
    files.update(bad)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        if data is not None:
            write(os.path.join(d, name), data)


def mnist_fixtures(F):
    img, lab = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
    mnist_dir(F + "/mnist_ok")
    mnist_dir(F + "/idx_empty", **{img: b""})
    mnist_dir(F + "/idx_short_header", **{img: b"\0\0\x08\x03\0\0"})
    mnist_dir(F + "/idx_bad_magic", **{img: idx_images(8, magic=0x1234)})
    mnist_dir(F + "/idx_labels_magic", **{lab: idx_labels(8, magic=0x803)})
    mnist_dir(F + "/idx_zero_dim", **{img: struct.pack(">IIII", 0x803, 8, 0, 28)})
    mnist_dir(F + "/idx_truncated", **{img: idx_images(8)[:-100]})
    mnist_dir(F + "/idx_trailing", **{img: idx_images(8) + b"junk"})
    mnist_dir(F + "/idx_label_range", **{lab: struct.pack(">II", 0x801, 8) + bytes([1, 2, 3, 42, 4, 5, 6, 7])})
    mnist_dir(F + "/idx_count_mismatch", **{lab: idx_labels(7)})
    mnist_dir(F + "/idx_32x32", **{img: idx_images(8, 32, 32)})
    mnist_dir(F + "/idx_huge", **{img: struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFF, 0xFFFF)})
    mnist_dir(F + "/idx_missing_labels", **{lab: None})
    mnist_dir(F + "/idx_bad_test", **{"t10k-images-idx3-ubyte": idx_images(8, 20, 20)})
    gz = gzip.compress(idx_images(8))
    mnist_dir(F + "/idx_gz_truncated", **{img: None})
    write(F + "/idx_gz_truncated/" + img + ".gz", gz[: len(gz) // 2])
    mnist_dir(F + "/idx_gz_corrupt", **{img: None})
    write(F + "/idx_gz_corrupt/" + img + ".gz", b"\x1f\x8b\x08\0\0\0\0\0\0\x03" + b"\xff" * 64)
    os.makedirs(F + "/idx_dir_as_file/" + img, exist_ok=True)
    mnist_dir(F + "/idx_dir_as_file", **{img: None})
    mnist_dir(F + "/idx_fifo", **{img: None})
    os.mkfifo(F + "/idx_fifo/" + img)
    mnist_dir(F + "/idx_dev_zero", **{img: None})
    os.symlink("/dev/zero", F + "/idx_dev_zero/" + img)
    write(F + "/not_a_dir", b"a file where a folder is expected\n")


# ---- CIFAR-10 binary: data_batch_1..5.bin and test_batch.bin, 10000 records of 3073 bytes ----

CIFAR_BYTES = 10000 * 3073


def cifar_fixtures(F):
    write(F + "/cifar_short/data_batch_1.bin", b"\x01" * 3073 * 2 + b"\x05")
    write(F + "/cifar_empty/data_batch_1.bin", b"")
    os.makedirs(F + "/cifar_missing", exist_ok=True)
    d = F + "/cifar_label/data_batch_1.bin"  # full size (sparse: zeros), one label 12
    write(d, b"")
    with open(d, "r+b") as f:
        f.truncate(CIFAR_BYTES)
        f.seek(3073 * 5)
        f.write(b"\x0c")


# ---- IMDB: imdb_word_index.json, train.txt.gz, test.txt.gz ("<label> <text>" lines) ----

def imdb_dir(d, index=None, train=None, test=None):
    good_index = json.dumps({"the": 1, "movie": 2, "good": 3, "bad": 4})
    good_text = "1 a good movie\n0 the bad movie\n"
    write(d + "/imdb_word_index.json", good_index if index is None else index)
    write(d + "/train.txt", good_text if train is None else train)  # the loader tries train.txt.gz, then this
    write(d + "/test.txt", good_text if test is None else test)


def imdb_fixtures(F):
    imdb_dir(F + "/imdb_index_not_json", index="not json at all")
    imdb_dir(F + "/imdb_index_truncated", index='{"the": 1, "movie":')
    imdb_dir(F + "/imdb_index_duplicate", index='{"the": 1, "the": 2}')
    imdb_dir(F + "/imdb_index_rank", index='{"the": "one"}')
    imdb_dir(F + "/imdb_index_trailing", index='{"the": 1} {"x": 2}')
    imdb_dir(F + "/imdb_label", train="1 a good movie\n7 the bad movie\n")
    imdb_dir(F + "/imdb_no_space", train="1a good movie\n")
    imdb_dir(F + "/imdb_empty", train="")
    imdb_dir(F + "/imdb_bad_test", test="one good movie\n")
    imdb_dir(F + "/imdb_gz_corrupt")
    os.remove(F + "/imdb_gz_corrupt/train.txt")
    write(F + "/imdb_gz_corrupt/train.txt.gz", b"\x1f\x8b\x08\0\0\0\0\0\0\x03" + b"\xff" * 64)
    imdb_dir(F + "/imdb_missing_index")
    os.remove(F + "/imdb_missing_index/imdb_word_index.json")


# ---- WAV (speech_commands): subset_manifest.tsv and 16-bit mono 16 kHz clips ----

def wav(rate=16000, channels=1, bits=16, fmt=1, n=1600, fmt_size=16, data=True, riff_extra=0):
    align = channels * bits // 8
    body = struct.pack("<HHIIHH", fmt, channels, rate, rate * align, align, bits)[:fmt_size]
    chunks = b"fmt " + struct.pack("<I", fmt_size) + body
    if data:
        chunks += b"data" + struct.pack("<I", n * align) + b"\0" * (n * align)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + riff_extra) + b"WAVE" + chunks


def speech_dir(d, clip=None, manifest=None, name="yes/a.wav"):
    """Two words, a clip each in train and test; clip replaces the bytes of the train clip `name`."""
    rows = ["path\tlabel\tsplit", "yes/a.wav\tyes\ttrain", "no/b.wav\tno\ttrain", "yes/c.wav\tyes\ttest",
            "no/d.wav\tno\ttest"]
    write(d + "/subset_manifest.tsv", "\n".join(rows) + "\n" if manifest is None else manifest)
    for p in ("yes/a.wav", "no/b.wav", "yes/c.wav", "no/d.wav"):
        write(d + "/" + p, wav())
    if clip is not None:
        write(d + "/" + name, clip)


def speech_fixtures(F):
    speech_dir(F + "/wav_ok")
    speech_dir(F + "/wav_not_riff", clip=b"ID3\x03" + b"\0" * 60)
    speech_dir(F + "/wav_stereo", clip=wav(channels=2))
    speech_dir(F + "/wav_8bit", clip=wav(bits=8))
    speech_dir(F + "/wav_float", clip=wav(fmt=3, bits=32))
    speech_dir(F + "/wav_8khz", clip=wav(rate=8000))
    speech_dir(F + "/wav_no_data", clip=wav(data=False))
    speech_dir(F + "/wav_short_fmt", clip=wav(fmt_size=8))
    speech_dir(F + "/wav_riff_size", clip=wav(riff_extra=1000))
    speech_dir(F + "/wav_truncated_chunk", clip=wav()[:40] + b"da")
    speech_dir(F + "/wav_empty", clip=b"")
    speech_dir(F + "/wav_manifest_header", manifest="file\tword\tset\nyes/a.wav\tyes\ttrain\n")
    speech_dir(F + "/wav_manifest_fields", manifest="path\tlabel\tsplit\nyes/a.wav\tyes\n")
    speech_dir(F + "/wav_manifest_split", manifest="path\tlabel\tsplit\nyes/a.wav\tyes\ttraining\n")
    speech_dir(F + "/wav_no_test",
               manifest="path\tlabel\tsplit\nyes/a.wav\tyes\ttrain\nno/b.wav\tno\ttrain\n")
    speech_dir(F + "/wav_missing_clip",
               manifest="path\tlabel\tsplit\nyes/gone.wav\tyes\ttrain\nno/b.wav\tno\ttrain\n")
    speech_dir(F + "/wav_escape",
               manifest="path\tlabel\tsplit\n../wav_not_riff/yes/a.wav\tyes\ttrain\nno/b.wav\tno\ttrain\n")
    os.makedirs(F + "/wav_no_manifest", exist_ok=True)


# ---- NumPy .npy ----

def npy(descr, shape, data, fortran=False, version=1, header=None):
    h = header if header is not None else \
        "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    size = 10 if version == 1 else 12
    pad = (64 - (size + len(h) + 1) % 64) % 64
    h = h + " " * pad + "\n"
    hl = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + hl + h.encode() + data


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def npy_fixtures(F):
    d = F + "/npy/"
    write(d + "x.npy", npy("<f4", "(4, 784)", f32([0.5] * 4 * 784)))
    write(d + "y.npy", npy("|u1", "(4,)", bytes([0, 1, 2, 3])))
    write(d + "not_npy.npy", b"PK\x03\x04 this is a zip file")
    write(d + "version9.npy", npy("<f4", "(4, 784)", f32([0.5] * 4 * 784), version=9))
    write(d + "short_header.npy", b"\x93NUMPY\x01\x00\xff\x00{'descr'")
    write(d + "header_list.npy", npy("", "", b"", header="['<f4', False, (4, 784)]"))
    write(d + "fortran.npy", npy("<f4", "(4, 784)", f32([0.5] * 4 * 784), fortran=True))
    write(d + "complex.npy", npy("<c8", "(4, 784)", b"\0" * 8 * 4 * 784))
    write(d + "structured.npy", npy("", "", b"", header="{'descr': [('a', '<f4')], 'fortran_order': False, "
                                                          "'shape': (4,), }"))
    write(d + "size_mismatch.npy", npy("<f4", "(4, 784)", f32([0.5] * 100)))
    write(d + "wrong_sample.npy", npy("<f4", "(4, 5)", f32([0.5] * 20)))
    write(d + "scalar.npy", npy("<f4", "()", f32([0.5])))
    write(d + "nan.npy", npy("<f4", "(4, 784)", f32([0.5] * 784 + [float("nan")] + [0.5] * (3 * 784 - 1))))
    write(d + "extra_key.npy", npy("", "", b"", header="{'descr': '<f4', 'fortran_order': False, 'shape': (4, 784),"
                                                        " 'color': 1, }"))
    write(d + "missing_shape.npy", npy("", "", b"", header="{'descr': '<f4', 'fortran_order': False, }"))
    write(d + "y3.npy", npy("|u1", "(3,)", bytes([0, 1, 2])))
    write(d + "y_range.npy", npy("|u1", "(4,)", bytes([0, 1, 12, 3])))
    write(d + "y_fraction.npy", npy("<f4", "(4,)", f32([0, 1, 1.5, 3])))
    write(d + "y_two.npy", npy("|u1", "(4, 2)", bytes(8)))
    write(d + "y_string.npy", npy("<U3", "(4,)", b"\0" * 48))
    os.makedirs(F + "/npy_dir_no_y_test", exist_ok=True)
    for n, src in (("x_train", "x"), ("y_train", "y"), ("x_test", "x")):
        write(F + "/npy_dir_no_y_test/%s.npy" % n, open(d + src + ".npy", "rb").read())


# ---- CSV (784 value columns and a label) ----

def csv_fixtures(F):
    d = F + "/csv/"
    row = lambda label, v="0.5": ",".join([v] * 784 + [str(label)])
    write(d + "ok.csv", "\n".join(row(i % 10) for i in range(4)) + "\n")
    write(d + "ragged.csv", row(1) + "\n" + ",".join(["0.5"] * 300) + "\n")
    write(d + "word.csv", row(1) + "\n" + ",".join(["0.5"] * 10 + ["abc"] + ["0.5"] * 773 + ["2"]) + "\n")
    write(d + "inf.csv", row(1) + "\n" + row(2, "inf") + "\n")
    write(d + "overflow.csv", row(1) + "\n" + row(2, "1e39") + "\n")
    write(d + "empty.csv", "")
    write(d + "header_only.csv", ",".join("p%d" % i for i in range(784)) + ",label\n")
    write(d + "one_column.csv", "1\n2\n")
    write(d + "narrow.csv", "0.5,0.5,1\n0.5,0.5,2\n")
    write(d + "label_range.csv", row(1) + "\n" + row(11) + "\n")
    write(d + "label_fraction.csv", row(1) + "\n" + row(2.5) + "\n")


def make(F):
    os.makedirs(F, exist_ok=True)
    mnist_fixtures(F)
    cifar_fixtures(F)
    imdb_fixtures(F)
    speech_fixtures(F)
    npy_fixtures(F)
    csv_fixtures(F)
    model_fixtures(F)


# ---- small models whose data sets are the files above (nn2c run reads them through the runtime) ----

MODELS = {
    "cifar_small.nn": "model cifar_small\ninput 32 32 3\nflatten\ndense 10 activation=softmax\ntrain {\n"
                      "  loss sparse_categorical_crossentropy\n  dataset cifar10\n}\n",
    "imdb_small.nn": "model imdb_small\ninput 20\nembedding 100 4\nflatten\ndense 1 activation=sigmoid\ntrain {\n"
                     "  loss binary_crossentropy\n  dataset imdb num_words=100 maxlen=20\n}\n",
    "speech_small.nn": "model speech_small\ninput 20 80 1\nflatten\ndense 2 activation=softmax\ntrain {\n"
                       "  loss sparse_categorical_crossentropy\n  dataset speech_commands n_mels=20 frames=80\n}\n",
    "speech_classes.nn": "model speech_classes\ninput 20 80 1\nflatten\ndense 3 activation=softmax\ntrain {\n"
                         "  loss sparse_categorical_crossentropy\n  dataset speech_commands n_mels=20 frames=80\n}\n",
    "empty.nn": "",
    "binary.nn": "model m\ninput 4\n\0\x01\x02dense 2\n",
    "latin1.nn": "model m\ninput 4\ndense 2 activation=r\xe9lu\n",
}


def model_fixtures(F):
    for name, text in MODELS.items():
        write(F + "/models/" + name, text.encode("latin-1"))
    os.makedirs(F + "/models/dir.nn", exist_ok=True)
    os.mkfifo(F + "/models/fifo.nn")
    os.symlink("/dev/zero", F + "/models/zero.nn")


# ---- checkpoints, derived from a good one (FNV-1a 64 checksum over everything before it) ----

def fnv1a(data):
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def resum(body):
    return body + struct.pack("<Q", fnv1a(body))


def ckpt_fixtures(F, good):
    """good: the bytes of a checkpoint the guard trainer wrote."""
    d = F + "/ckpt/"
    body = good[:-8]
    write(d + "empty.ckpt", b"")
    write(d + "magic.ckpt", b"NOTCKPT!" + good[8:])
    write(d + "header.ckpt", good[:12])
    write(d + "version.ckpt", good[:8] + struct.pack("<I", 99) + good[12:])
    write(d + "truncated.ckpt", good[: len(good) // 2])
    write(d + "trailing.ckpt", good + b"\0\0\0\0")
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    write(d + "flipped.ckpt", bytes(flipped))
    # the first section renamed (same length) with a fresh checksum: a checkpoint of another model
    nlen = struct.unpack("<I", body[16:20])[0]
    write(d + "renamed.ckpt", resum(body[:20] + b"Z" * nlen + body[20 + nlen:]))
    # one section fewer in the count, checksum fixed: the walk ends early and bytes are left over
    nsec = struct.unpack("<I", body[12:16])[0]
    write(d + "sections.ckpt", resum(body[:12] + struct.pack("<I", nsec + 1) + body[16:]))
    write(d + "huge_count.ckpt", resum(body[:20 + nlen] + struct.pack("<Q", 1 << 62) + body[28 + nlen:]))
    os.makedirs(d + "dir.ckpt", exist_ok=True)
    os.mkfifo(d + "fifo.ckpt")
