#!/bin/sh
# bn_checkpoint.sh NN2C SRC WORKDIR - a model with batch normalization
# (tests/e2e/models/e2e_batchnorm.nn) used from C after training, as
# examples/classify.c uses the MNIST CNN: its trainer trains 30 epochs and
# saves a checkpoint; the model compiled without --train, with
# NAME_load_checkpoint (params) and NAME_load_checkpoint_state (the running
# mean and variance), gives the outputs the trainer prints for its inline
# samples (its evaluation, with the running statistics) and `nn2c run`'s
# (the interpreter) within 1e-5. Without the state the outputs differ (the
# statistics matter), and the state loader's error codes are right.
set -u
nn2c=$1 src=$2 dir=$3
model=$src/tests/e2e/models/e2e_batchnorm.nn
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
"$nn2c" compile "$model" --train -o tr 2>log && make -s -C tr >>log 2>&1 || fail "trainer build: $(tail log)"
tr/e2e_batchnorm_train --epochs 30 --save bn.ckpt >train.out 2>&1 || fail "training: $(cat train.out)"
grep '^output\[' train.out >trainer.txt
"$nn2c" run "$model" --epochs 30 --load bn.ckpt >run.out 2>&1 || fail "nn2c run: $(cat run.out)"
grep '^output\[' run.out >interp.txt
"$nn2c" compile "$model" -o inf 2>log && make -s -C inf >>log 2>&1 || fail "inference build: $(tail log)"
grep -q 'int e2e_batchnorm_load_checkpoint_state(float \*state, const char \*path);' inf/e2e_batchnorm.h ||
  fail "the inference header has no load_checkpoint_state"
cat >infer.c <<'C'
/* infer CHECKPOINT [--no-state]: the inline samples through the model, as the trainer prints them */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_batchnorm.h"

static const float x[6][4] = {{0.1f, 0.2f, -0.3f, 0.4f}, {0.5f, -0.6f, 0.7f, 0.8f}, {-0.9f, 1.0f, 0.1f, -0.2f},
                              {0.3f, 0.3f, 0.3f, -0.3f}, {1.0f, -1.0f, 0.5f, 0.0f}, {-0.4f, -0.2f, 0.6f, 0.9f}};

int main(int argc, char **argv) {
  static float params[e2e_batchnorm_PARAM_FLOATS], state[e2e_batchnorm_STATE_FLOATS], out[3];
  e2e_batchnorm_Model m = {params, state, NULL, 1, 0, 0, 1};
  int i, j, rc;
  e2e_batchnorm_init_state(state);
  if ((rc = e2e_batchnorm_load_checkpoint(params, argv[1])) != 0 ||
      (argc < 3 && (rc = e2e_batchnorm_load_checkpoint_state(state, argv[1])) != 0))
    return printf("%d %s\n", rc, e2e_batchnorm_checkpoint_error(rc)), 1;
  m.arena = aligned_alloc(64, (e2e_batchnorm_arena_bytes(1) + 63) / 64 * 64);
  for (i = 0; i < 6; i++) {
    if (!m.arena || e2e_batchnorm_forward(&m, x[i], out, 1) != 0) return printf("inference failed\n"), 1;
    printf("output[%d] =", i);
    for (j = 0; j < 3; j++)
      printf(" %.6g", out[j]);
    printf("\n");
  }
  free(m.arena);
  return 0;
}
C
omp=$(grep -q -- '-fopenmp' inf/e2e_batchnorm.pc && echo -fopenmp)
cc -std=c11 -Wall -Wextra -Werror -pedantic -Iinf infer.c inf/libe2e_batchnorm.a $omp -lm -o infer 2>log ||
  fail "infer.c: $(cat log)"
./infer bn.ckpt >c.txt || fail "infer: $(cat c.txt)"
./infer bn.ckpt --no-state >nostate.txt || fail "infer --no-state: $(cat nostate.txt)"
cat c.txt
# same NAME.txt OTHER.txt: every output within 1e-5 (6 significant digits printed)
same() {
  paste -d' ' "$1" "$2" | awk '{ n = (NF - 4) / 2; if (n != 3) bad = 1
    for (i = 3; i <= 2 + n; i++) { d = $i - $(i + n + 2); if (d < 0) d = -d; if (d > 1e-5) bad = 1 } }
    END { exit bad }'
}
[ "$(wc -l <c.txt)" = 6 ] && [ "$(wc -l <trainer.txt)" = 6 ] && [ "$(wc -l <interp.txt)" = 6 ] || fail "6 outputs each"
same c.txt trainer.txt || fail "C after load_checkpoint_state vs the trainer: $(paste c.txt trainer.txt)"
same c.txt interp.txt || fail "C vs nn2c run: $(paste c.txt interp.txt)"
same nostate.txt trainer.txt && fail "the running statistics do not change the outputs: the test shows nothing"

# the state loader's codes: a checkpoint without state, a state section too short
command -v python3 >/dev/null 2>&1 || { echo "bn checkpoint: ok (the error codes skipped: no python3)"; exit 0; }
python3 - "$src/tests/tools" <<'PY' || fail "writing the crafted checkpoints"
import sys
sys.path.insert(0, sys.argv[1])
import nn2c_ckpt
version, s = nn2c_ckpt.read("bn.ckpt")
nn2c_ckpt.write("nostate.ckpt", version, [("params", s["params"]), ("step", s["step"])])
nn2c_ckpt.write("short.ckpt", version, [("params", s["params"]), ("state", s["state"][:16])])
PY
[ "$(./infer nostate.ckpt)" = "11 no state section" ] || fail "no state: $(./infer nostate.ckpt)"
[ "$(./infer short.ckpt)" = "6 wrong parameter count: a checkpoint of another model" ] ||
  fail "short state: $(./infer short.ckpt)"
echo "bn checkpoint: the inference build with the running statistics computes the trainer's outputs"
