#!/usr/bin/python3
"""The bad-inputs table (issue 16): every case must exit with status 1 and print a message naming the
place (the file, line, flag or node), never crash (a signal), hang (a timeout) or exit 0.

usage: run_bad_inputs.py NN2C SRC_DIR WORK [NAME_PATTERN]

Cases come from
  tests/bad_inputs/cases.txt    one a line: NAME | COMMAND | FRAGMENT. COMMAND runs under sh; FRAGMENT
                                is text the output must contain. In both, $NN2C is nn2c, $TRAIN a trainer
                                nn2c generated (tests/runtime/guard_mnist.nn, built here), $F the folder
                                of files fixtures.py writes, $T a fresh folder per case, $SRC the checkout;
  tests/errors/*.nn, *.args     run by tests/errors/run_error_test.sh (its '# ERROR:' lines);
  tests/onnx/bad/*.onnx         `nn2c compile M --emit=ir`, with the text of M's .expect file.
The count of each kind and the total are printed; fewer than 100 cases is a failure too."""
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

TIMEOUT = 20  # seconds; a case still running then is a hang
FORBIDDEN = ("internal error", "AddressSanitizer", "LeakSanitizer", "runtime error:", "Assertion")


def run(cmd, cwd, shell=False, timeout=TIMEOUT):
    """(status, output); status None after a timeout. The case's process group is killed then."""
    p = subprocess.Popen(cmd, cwd=cwd, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return None, out.decode("utf-8", "replace")


def verdict(status, out, fragment):
    """None when the case behaved, else what went wrong."""
    if status is None:
        return "hang (killed after %d s)" % TIMEOUT
    if status < 0:
        return "crash: signal %s" % signal.Signals(-status).name
    if status != 1:
        return "exit status %d, expected 1" % status
    if fragment not in out:
        return "the output lacks: " + fragment
    bad = [f for f in FORBIDDEN if f in out]
    return "the output contains: " + bad[0] if bad else None


def read_cases(path):
    cases = []
    for lineno, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        if len(parts) != 3 or not all(parts):
            sys.exit("%s:%d: expected NAME | COMMAND | FRAGMENT" % (path, lineno))
        cases.append(parts)
    names = [c[0] for c in cases]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        sys.exit("%s: duplicate case names: %s" % (path, ", ".join(dup)))
    return cases


def build_trainer(nn2c, src, work):
    gen = os.path.join(work, "gen")
    st, out = run([nn2c, "compile", os.path.join(src, "tests/runtime/guard_mnist.nn"), "--train", "-o", gen,
                   "--quiet"], work)
    if st == 0:
        st, out = run(["make", "-s", "-C", gen], work, timeout=600)  # slow under the sanitizers' wrappers
    if st != 0:
        sys.exit("FAIL: building the guard trainer (status %s):\n%s" % (st, out))
    return os.path.join(gen, "guard_mnist_train")


def good_checkpoint(train, F, work):
    path = os.path.join(F, "ckpt", "good.ckpt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    st, out = run([train, "--data", F + "/mnist_ok", "--save", path, "--quiet"], work, timeout=600)
    if st != 0:
        sys.exit("FAIL: training for a good checkpoint:\n" + out)
    return open(path, "rb").read()


def onnx_fixtures(src, F, work):
    pb = os.path.join(src, "tests/onnx/pb.py")
    d = F + "/onnx/"
    os.makedirs(d + "outside", exist_ok=True)
    steps = [["relu", d + "relu.onnx", "3,4"], ["tensor", d + "wrongtype.pb", "i64", "3,4"],
             ["tensor", d + "small.pb", "f32", "2"], ["ext", d + "fifo.onnx", "fifo.bin"],
             ["ext", d + "link.onnx", "link.bin"], ["ext", d + "dir.onnx", "adir"],
             ["ext", d + "abs.onnx", "/etc/passwd"], ["ext", d + "dotdot.onnx", "../outside/w.bin"],
             ["ext", d + "offset.onnx", "w.bin", "1e3"], ["ext", d + "short.onnx", "short.bin"]]
    for s in steps:
        st, out = run([sys.executable, pb] + s, work)
        if st != 0:
            sys.exit("FAIL: pb.py %s:\n%s" % (" ".join(s), out))
    fixtures.write(d + "w.bin", fixtures.f32([1, 2, 3, 4, 5, 6]))
    fixtures.write(d + "short.bin", fixtures.f32([1, 2]))
    fixtures.write(d + "outside/w.bin", fixtures.f32([1, 2, 3, 4, 5, 6]))
    fixtures.write(d + "garbage.pb", b"\xff\xff\xff\xff\x0f garbage")
    relu = open(d + "relu.onnx", "rb").read()
    fixtures.write(d + "truncated.onnx", relu[: len(relu) // 2])
    fixtures.write(d + "empty.onnx", b"")
    os.mkfifo(d + "fifo.bin")
    fixtures.write(F + "/secret.bin", fixtures.f32([1, 2, 3, 4, 5, 6]))
    os.symlink("../secret.bin", d + "link.bin")
    os.makedirs(d + "adir", exist_ok=True)
    os.makedirs(d + "dir.onnx.d", exist_ok=True)


def expand(text, env):
    return re.sub(r"\$(NN2C|TRAIN|SRC|F|T)\b", lambda m: env[m.group(1)], text)


def main():
    nn2c, src, work = (os.path.abspath(a) for a in sys.argv[1:4])
    pattern = sys.argv[4] if len(sys.argv) > 4 else "*"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    F = os.path.join(work, "f")
    fixtures.make(F)
    onnx_fixtures(src, F, work)
    train = build_trainer(nn2c, src, work)
    fixtures.ckpt_fixtures(F, good_checkpoint(train, F, work))

    counts, failures = {}, []

    def record(kind, name, problem, out):
        counts[kind] = counts.get(kind, 0) + 1
        if os.environ.get("BAD_INPUTS_VERBOSE"):
            print("%s %s: %s" % ("FAIL" if problem else "ok", name, out.strip().replace("\n", " / ")[:300]))
        if problem:
            failures.append(name)
            print("FAIL %s: %s\n    %s" % (name, problem, out.strip().replace("\n", "\n    ")[:2000]))

    for name, cmd, frag in read_cases(os.path.join(src, "tests/bad_inputs/cases.txt")):
        if not fnmatch.fnmatch(name, pattern):
            continue
        T = os.path.join(work, "t", name)
        os.makedirs(T)
        env = {"NN2C": nn2c, "TRAIN": train, "SRC": src, "F": F, "T": T}
        st, out = run(expand(cmd, env), T, shell=True)
        record(name.split(".")[0], name, verdict(st, out, expand(frag, env)), out)

    errors_dir = os.path.join(src, "tests/errors")
    for f in sorted(os.listdir(errors_dir)):
        if f.endswith((".nn", ".args")) and fnmatch.fnmatch("errors." + f, pattern):
            st, out = run(["sh", os.path.join(errors_dir, "run_error_test.sh"), nn2c, os.path.join(errors_dir, f)],
                          src)
            record("errors/", "errors/" + f, None if st == 0 else "run_error_test.sh failed", out)

    bad_dir = os.path.join(src, "tests/onnx/bad")
    for f in sorted(os.listdir(bad_dir)) if os.path.isdir(bad_dir) else []:
        if f.endswith(".onnx") and fnmatch.fnmatch("onnx_bad." + f, pattern):
            path = os.path.join(bad_dir, f)
            expect = open(path[:-5] + ".expect", encoding="utf-8").read().strip()
            st, out = run([nn2c, "compile", path, "--emit=ir"], work)
            problem = verdict(st, out, expect) or (None if path in out else "the output does not name the file")
            record("onnx/bad", "onnx/bad/" + f, problem, out)

    total = sum(counts.values())
    print("bad inputs by kind: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    print("bad inputs: %d cases, %d refused with exit status 1 and a message naming the place, %d failed"
          % (total, total - len(failures), len(failures)))
    if failures:
        return 1
    if pattern == "*" and total < 100:
        print("FAIL: fewer than 100 cases")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
