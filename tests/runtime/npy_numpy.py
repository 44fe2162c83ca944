#!/usr/bin/python3
"""npy_numpy.py NPY_DUMP SOFTMAX_TRAIN LOGISTIC_TRAIN WORKDIR

Your own data (issue 17 #5): the runtime's .npy reader against files numpy
writes, and the trainer on .npy and CSV files.
  - every dtype the reader accepts, both byte orders, format versions 1-3:
    npy_dump's values equal numpy's exactly;
  - Fortran order, other dtypes and broken headers are refused with the reason;
  - the trainers (2 inputs; int labels and float labels) learn the 8 points of
    inline_softmax from --data DIR, from --train-x..., and from CSV files;
  - shapes, labels and flags that do not fit are errors naming the file;
  - --validation-split holds out the last samples, as Keras does.
Exit 77 (skipped) without numpy."""
import os
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("skipped: numpy is not installed (Debian: python3-numpy)")
    sys.exit(77)

dump, softmax, logistic, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    return p.returncode, p.stdout


def path(name):
    return os.path.join(work, name)


# ---- 1. dtypes and versions against numpy -----------------------------------
values = {
    "f": [0.0, -1.5, 3.25, 1e-3, 65504.0, -2.0, 0.1, 7.0, 1.0 / 3, 100.0, -0.0, 2.5],
    "i": [0, -1, 1, -128, 127, 5, -7, 42, 3, -3, 9, -100],
    "u": [0, 1, 2, 255, 128, 7, 9, 42, 3, 100, 200, 11],
    "b": [0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0],
}
dtypes = ["<f2", "<f4", "<f8", ">f4", ">f8", ">f2", "|i1", "<i2", "<i4", "<i8", ">i2", ">i8",
          "|u1", "<u2", "<u4", "<u8", ">u4", "|b1"]
for dt in dtypes:
    a = np.array(values[dt[1]], dtype=dt).reshape(3, 4)
    if dt[1] == "u" and dt[2] == "8":
        a[0, 0] = 2**63 + 2**20  # beyond int64, exact in a double
    for version in [(1, 0), (2, 0), (3, 0)]:
        f = path("dt_%s_%d.npy" % (dt.replace("<", "le").replace(">", "be").replace("|", ""), version[0]))
        with open(f, "wb") as out:
            np.lib.format.write_array(out, a, version=version)
        rc, text = run([dump, f])
        lines = text.split("\n")
        head = "%s %d %s 2 3 4" % (dt[1], int(dt[2]), "big" if dt[0] == ">" else "little")
        check(rc == 0 and lines[0] == head, "%s v%d: header %r, expected %r" % (dt, version[0], lines[0], head))
        got = [float(v) for v in lines[1:13]] if rc == 0 else []
        want = [float(v) for v in a.ravel()]
        check(got == want, "%s v%d: values %s, numpy %s" % (dt, version[0], got, want))
# more dimensions and an empty-sized header field
a = np.arange(24, dtype="<f4").reshape(2, 3, 4)
np.save(path("dims3.npy"), a)
rc, text = run([dump, path("dims3.npy")])
check(rc == 0 and text.split("\n")[0] == "f 4 little 3 2 3 4", "3-D header: " + text[:40])

# ---- 2. refused files ------------------------------------------------------
def refused(name, data, message):
    f = path(name)
    if isinstance(data, bytes):
        open(f, "wb").write(data)
    else:
        np.save(f, data)
    rc, text = run([dump, f])
    check(rc == 1 and message in text, "%s: expected exit 1 and %r, got %d %r" % (name, message, rc, text))


def header(d, version=1, pad=True):
    h = d.encode()
    if pad:
        h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY" + bytes([version, 0]) + len(h).to_bytes(2, "little") + h


good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
refused("fortran.npy", np.asfortranarray(np.zeros((3, 2), "<f8")), "Fortran order; save it in C order")
refused("complex.npy", np.zeros(3, "<c8"), "dtype '<c8' is not supported")
refused("strings.npy", np.array(["ab", "c"]), "is not supported")
refused("structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]), "structured dtypes are not supported")
refused("float128.npy", header("{'descr': '<f16', 'fortran_order': False, 'shape': (1,), }") + bytes(16),
        "dtype '<f16' is not supported")
refused("magic.npy", b"\x93NUMPX\x01\x00" + bytes(80), "not a .npy file")
refused("empty.npy", b"", "not a .npy file")
refused("version.npy", header(good, version=4) + bytes(8), "format version 4 is not supported")
refused("short_header.npy", header(good)[:40], "truncated .npy header")
refused("not_dict.npy", header("[1, 2]") + bytes(8), "it is not a dict")
refused("no_shape.npy", header("{'descr': '<f4', 'fortran_order': False}") + bytes(8), "shape missing")
refused("bad_shape.npy", header("{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }") + bytes(8), "shape")
refused("neg_shape.npy", header("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }") + bytes(8), "shape")
refused("fortran_text.npy", header("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }") + bytes(8), "fortran_order")
refused("extra_key.npy", header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}") + bytes(8),
        "unexpected key 'x'")
refused("twice.npy", header("{'descr': '<f4', 'descr': '<f4', 'shape': (2,), }") + bytes(8), "unexpected key 'descr'")
refused("data_short.npy", header(good) + bytes(7), "the shape says 8 bytes of data but the file holds 7")
refused("data_long.npy", header(good) + bytes(9), "the shape says 8 bytes of data but the file holds 9")
refused("huge.npy", header("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }"),
        "the shape holds too many elements")

# ---- 3. training on .npy files ----------------------------------------------
x = np.array([0.1, 0.2, 0.3, 0.1, 0.2, 0.4, 0.0, 0.5, 0.9, 0.8, 0.7, 1.0, 1.0, 0.6, 0.8, 0.9], "<f8").reshape(8, 2)
y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
d = path("data")
os.makedirs(d, exist_ok=True)
for name, arr in [("x_train", x), ("y_train", y.astype("<i8")), ("x_test", x.astype(">f4")), ("y_test", y.astype("|u1"))]:
    np.save(os.path.join(d, name + ".npy"), arr)
rc, text = run([softmax, "--data", d, "--quiet"])
check(rc == 0 and "final: test_loss=" in text and "test_accuracy=1.0000" in text, "softmax on --data: " + text)
np.save(path("y_bool.npy"), y.astype(bool))
np.save(path("y_float.npy"), y.astype("<f4"))
np.save(path("x_rows.npy"), x.reshape(8, 1, 2))  # any shape of 2 values a sample
flags = ["--train-x", path("x_rows.npy"), "--train-y", path("y_bool.npy"), "--test-x", os.path.join(d, "x_test.npy"),
         "--test-y", path("y_float.npy")]
rc, text = run([softmax, "--quiet"] + flags)
check(rc == 0 and "test_accuracy=1.0000" in text, "softmax on --train-x ...: " + text)
rc, text = run([logistic, "--quiet", "--data", d])  # float labels from int class ids
check(rc == 0 and "test_accuracy=1.0000" in text, "logistic on --data: " + text)

def fails(cmd, message, what):
    rc, text = run(cmd)
    check(rc == 1 and message in text, "%s: expected exit 1 and %r, got %d %r" % (what, message, rc, text))

np.save(path("x3.npy"), np.zeros((8, 3), "<f4"))
np.save(path("y9.npy"), np.array([0, 0, 0, 0, 1, 1, 1, 2]))
np.save(path("y_frac.npy"), np.array([0, 0, 0, 0, 1, 1, 1, 0.5]))
np.save(path("y7.npy"), y[:7])
np.save(path("x_nan.npy"), np.where(x > 0.95, np.nan, x))
np.save(path("y2.npy"), np.zeros((8, 2), "<f4"))
def own(xf, yf):
    return [softmax, "--train-x", xf, "--train-y", yf, "--test-x", xf, "--test-y", os.path.join(d, "y_test.npy")]
fails(own(path("x3.npy"), os.path.join(d, "y_train.npy")),
      "x3.npy: samples of shape (3) hold 3 values, but model inline_softmax takes 2", "3 values a sample")
fails(own(os.path.join(d, "x_train.npy"), path("y9.npy")), "y9.npy: the label of sample 7 is 2, not a class 0..1", "label 2")
fails(own(os.path.join(d, "x_train.npy"), path("y_frac.npy")), "the label of sample 7 is 0.5, not a class", "label 0.5")
fails(own(os.path.join(d, "x_train.npy"), path("y7.npy")), "y7.npy: 7 labels for the 8 samples", "7 labels")
fails(own(path("x_nan.npy"), os.path.join(d, "y_train.npy")), "x_nan.npy: sample 5 holds a value that is not a finite",
      "NaN sample")
fails(own(os.path.join(d, "x_train.npy"), path("y2.npy")), "2 label values per sample, but model inline_softmax takes one class id",
      "2 labels a sample")
fails(own(path("fortran.npy"), os.path.join(d, "y_train.npy")), "Fortran order", "Fortran order in the trainer")
fails([softmax, "--train-x", path("x3.npy")], "--train-y is missing", "--train-x alone")
fails([softmax, "--data", d, "--train-x", path("x3.npy")], "give one source of data", "--data and --train-x")
os.makedirs(path("half"), exist_ok=True)
np.save(os.path.join(path("half"), "x_train.npy"), x)
fails([softmax, "--data", path("half")], "half/y_train.npy: missing", "--data without y_train.npy")

# ---- 4. --validation-split ---------------------------------------------------
rc, text = run([softmax, "--data", d, "--epochs", "2", "--validation-split", "0.25", "--metrics", path("val.csv")])
check(rc == 0 and "validation: the last 2 of 8 training samples (--validation-split 0.25)" in text, "split line: " + text)
check(" val_loss=" in text and " val_accuracy=" in text, "no val_ in the epoch line: " + text)
rows = open(path("val.csv")).read().split("\n")
check(len(rows) > 2 and rows[1].split(",")[5] != "" and rows[1].split(",")[6] != "", "val columns empty: " + rows[1])
# the held-out samples are the last ones: with their labels swapped, only validation accuracy drops to 0
np.save(path("y_swapped.npy"), np.array([0, 0, 0, 0, 1, 1, 0, 0]))
rc, text = run([softmax, "--train-x", os.path.join(d, "x_train.npy"), "--train-y", path("y_swapped.npy"), "--test-x",
                os.path.join(d, "x_test.npy"), "--test-y", os.path.join(d, "y_test.npy"), "--validation-split", "0.25",
                "--epochs", "60"])
last = [l for l in text.split("\n") if l.startswith("epoch 60:")]
check(last and "val_accuracy=0.0000" in last[0] and "test_accuracy=1.0000" in last[0], "last samples held out: " + text[-400:])
fails([softmax, "--data", d, "--validation-split", "1e-17"],
      "--validation-split 1e-17 of 8 training samples leaves 8 to train on and 0", "split too small")
fails([softmax, "--data", d, "--validation-split", "0.99"],
      "--validation-split 0.99 of 8 training samples leaves 0 to train on and 8", "split too large")
fails([softmax, "--data", d, "--validation-split", "1"], "--validation-split: expected a fraction between 0 and 1", "split 1")

# ---- 5. CSV ------------------------------------------------------------------
def write_csv(name, text):
    open(path(name), "w").write(text)
    return path(name)

body = "".join("%g,%g,%d\n" % (a, b, c) for (a, b), c in zip(x, y))
train_csv = write_csv("train.csv", '"first","second","label"\r\n' + body.replace("\n", "\r\n") + "\n")
test_csv = write_csv("test.csv", body)
rc, text = run([softmax, "--quiet", "--train-csv", train_csv, "--test-csv", test_csv])
check(rc == 0 and "test_accuracy=1.0000" in text, "CSV, label last: " + text)
first = write_csv("first.csv", "label,a,b\n" + "".join("%d,%g,%g\n" % (c, a, b) for (a, b), c in zip(x, y)))
rc, text = run([softmax, "--quiet", "--train-csv", first, "--test-csv", first, "--label-column", "label"])
check(rc == 0 and "test_accuracy=1.0000" in text, "CSV, label named: " + text)
rc, text = run([softmax, "--quiet", "--train-csv", first, "--test-csv", first, "--label-column", "0"])
check(rc == 0 and "test_accuracy=1.0000" in text, "CSV, label column 0: " + text)
fails([softmax, "--train-csv", first, "--test-csv", test_csv, "--label-column", "klass"],
      "first.csv: --label-column klass: no column has that name in the header", "unknown column name")
fails([softmax, "--train-csv", test_csv, "--test-csv", test_csv, "--label-column", "label"],
      "test.csv: --label-column label: the file has no header line to name it", "name without header")
fails([softmax, "--train-csv", test_csv, "--test-csv", test_csv, "--label-column", "3"],
      "--label-column 3: the file has columns 0..2", "column 3")
bad = write_csv("bad.csv", "a,b,label\n0.1,0.2,0\n0.3,x,1\n")
fails([softmax, "--train-csv", bad, "--test-csv", test_csv], "bad.csv:3: column 1: 'x' is not a finite float", "bad value")
ragged = write_csv("ragged.csv", "0.1,0.2,0\n0.3,1\n")
fails([softmax, "--train-csv", ragged, "--test-csv", test_csv], "ragged.csv:2: 2 columns, but the first line has 3", "ragged")
wide = write_csv("wide.csv", "1,2,3,0\n")
fails([softmax, "--train-csv", wide, "--test-csv", test_csv], "wide.csv: 3 value columns (and the label), but model inline_softmax takes 2",
      "too many columns")
fails([softmax, "--train-csv", write_csv("head.csv", "a,b,c\n"), "--test-csv", test_csv], "head.csv: no samples", "header only")
fails([softmax, "--train-csv", train_csv], "--test-csv is missing", "--train-csv alone")
fails([softmax, "--data", d, "--label-column", "0"], "--label-column: it chooses a column of --train-csv", "label column without CSV")

if failures:
    print("%d checks failed" % len(failures))
    sys.exit(1)
print("npy and CSV data: ok")
