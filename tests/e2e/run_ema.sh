#!/bin/sh
# run_ema.sh NN2C MODEL.nn WORK - what `ema M` means, on the interpreter and
# the generated trainer:
# 1. checkpoints after steps 1..4 hold the moving average as their params and
#    the raw weights at the end of the state, following a_k = M a_(k-1) +
#    (1 - M) w_k from a_1 = w_1 (ema_check.py recurrence);
# 2. evaluation uses the average: the same model compiled without `ema`,
#    loaded with those params, prints the same final test loss and accuracy.
# MODEL must use sgd without momentum and no batchnorm or dropout (state = the
# mirror alone, so stripping it gives the plain model's checkpoint).
set -eu
nn2c=$1 model=$2 work=$3
py=/usr/bin/python3
[ -x "$py" ] || { echo "SKIP: no $py"; exit 77; }
here=$(dirname "$0")
rm -rf "$work" && mkdir -p "$work"
m=$(sed -n 's/^ *ema \([0-9.]*\).*/\1/p' "$model")
[ -n "$m" ] || { echo "FAIL: $model has no ema line"; exit 1; }
"$nn2c" compile "$model" --train -o "$work/src" 2>/dev/null
make -s -C "$work/src" CFLAGS="-O2 -std=c99" >/dev/null 2>&1
name=$(basename "$model" .nn)
grep -v '^ *ema ' "$model" >"$work/plain.nn"
for tool in interp c; do
  list=""
  for k in 1 2 3 4; do
    if [ $tool = interp ]; then run="$nn2c run $model"; else run="$work/src/${name}_train"; fi
    $run --steps $k --save "$work/$tool$k.ckpt" --quiet >"$work/$tool$k.out"
    list="$list $work/$tool$k.ckpt"
  done
  "$py" "$here/ema_check.py" recurrence "$m" $list
  "$py" "$here/ema_check.py" strip "$work/${tool}4.ckpt" "$work/plain$tool.ckpt"
  "$nn2c" run "$work/plain.nn" --load "$work/plain$tool.ckpt" --epochs 0 --quiet >"$work/plain$tool.out"
  a=$(grep '^final' "$work/${tool}4.out") b=$(grep '^final' "$work/plain$tool.out")
  [ "$a" = "$b" ] || { echo "FAIL ($tool): evaluated '$a', with the average as params '$b'"; exit 1; }
  echo "ok ($tool): $a"
done
