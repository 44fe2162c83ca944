#!/usr/bin/env python3
"""imdb_ref.py IMDB_DUMP IMDB_DIR - encodes every 4th review of both IMDB splits
with a Python version of the rules in docs/nn-format.md (json word index,
re.findall, list slicing for pad_sequences) and checks that nn2c's loader
(through imdb_dump) gives the same ids. Exits 77 (skipped) without the data."""
import gzip
import json
import os
import re
import subprocess
import sys

NUM_WORDS, MAXLEN = 20000, 200
EVERY = 4  # every review once took 50 s on a busy 2-core machine; all of them agreed


def encode(text, index):
    text = "".join(c.lower() if "A" <= c <= "Z" else c for c in text)  # ASCII only, as nn2c
    ids = [1]
    for token in re.findall(r"[a-z0-9']+", text):
        token = token.strip("'")
        if token:
            rank = index.get(token)
            ids.append(rank + 3 if rank is not None and rank + 3 < NUM_WORDS else 2)
    ids = ids[-MAXLEN:]
    return [0] * (MAXLEN - len(ids)) + ids


def main():
    dump, root = sys.argv[1], sys.argv[2]
    if not os.path.isdir(root):
        print("skipped: %s is missing" % root)
        sys.exit(77)
    with open(os.path.join(root, "imdb_word_index.json"), encoding="utf-8") as f:
        index = json.load(f)
    for split, name in ((0, "train"), (1, "test")):
        with gzip.open(os.path.join(root, name + ".txt.gz"), "rt", encoding="utf-8", newline="\n") as f:
            want = ["%s %s" % (line[0], " ".join(map(str, encode(line[2:].rstrip("\n"), index))))
                    if i % EVERY == 0 else None for i, line in enumerate(f)]
        got = subprocess.run([dump, root, str(split), str(NUM_WORDS), str(MAXLEN)], check=True,
                             capture_output=True, text=True).stdout.splitlines()
        if len(got) != len(want):
            print("FAIL: %s: nn2c gives %d reviews, Python %d" % (name, len(got), len(want)))
            sys.exit(1)
        bad = [i for i in range(0, len(want), EVERY) if got[i] != want[i]]
        if bad:
            print("FAIL: %s: %d reviews differ, the first is line %d:\n  nn2c   %s\n  Python %s"
                  % (name, len(bad), bad[0] + 1, got[bad[0]], want[bad[0]]))
            sys.exit(1)
        print("%s: %d of %d reviews checked, all encode alike (num_words %d, maxlen %d)"
              % (name, len(range(0, len(want), EVERY)), len(want), NUM_WORDS, MAXLEN))


main()
