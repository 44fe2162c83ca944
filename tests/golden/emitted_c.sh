#!/bin/sh
# The emitted model C of every example (inference and training) and of a dozen imported ONNX
# cases is byte-identical to the hashes recorded beside this script. A refactor that only moves
# code keeps them; a change meant to alter the emitted C re-records them with --update and says
# why in its commit. Usage: emitted_c.sh NN2C ROOT [--update]
set -eu
nn2c=$(realpath "$1") root=$(realpath "$2") mode=${3:-check}
here=$root/tests/golden
cases=../shared/onnx-tests/node
cd "$root"   # relative model paths: the emitted header names its source
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# compile_and_hash MODEL TAG [FLAGS]: the hashes of the emitted model files (not the runtime copies)
compile_and_hash() {
  model=$1 tag=$2; shift 2
  "$nn2c" compile "$model" "$@" -o "$tmp/$tag" >/dev/null 2>&1 ||
    { echo "FAIL: nn2c compile $model $*" >&2; exit 1; }
  (cd "$tmp" && ls "$tag"/*.c "$tag"/*.h | grep -v "/nn2c_" | xargs sha256sum)
}

for model in examples/*.nn; do
  name=$(basename "$model" .nn)
  compile_and_hash "$model" "$name.infer"
  compile_and_hash "$model" "$name.train" --train
done >"$tmp/examples.sha256"

if [ -d "$cases" ]; then
  for c in conv_with_strides_padding conv_with_autopad_same maxpool_2d_pads averagepool_2d_pads \
           gemm_all_attributes batchnorm_epsilon lstm_with_initial_bias gru_with_initial_bias \
           rnn_seq_length convtranspose gru_defaults instancenorm_epsilon; do
    compile_and_hash "$cases/test_$c/model.onnx" "onnx.$c"
  done >"$tmp/onnx.sha256"
else
  echo "note: $cases missing; the ONNX import hashes are not checked"
fi

status=0
for set in examples onnx; do
  [ -f "$tmp/$set.sha256" ] || continue
  if [ "$mode" = --update ]; then
    cp "$tmp/$set.sha256" "$here/$set.sha256"; echo "recorded $(wc -l <"$here/$set.sha256") hashes in $here/$set.sha256"
  elif diff "$here/$set.sha256" "$tmp/$set.sha256" >"$tmp/diff"; then
    echo "ok: $(wc -l <"$here/$set.sha256") emitted files ($set) byte-identical to the recorded hashes"
  else
    echo "FAIL: emitted C ($set) differs from $here/$set.sha256 (< recorded, > now):"; cat "$tmp/diff"; status=1
  fi
done
[ $status = 0 ] || echo "If the change is meant, re-record: sh $0 NN2C ROOT --update"
exit $status
