#!/bin/sh
# make_models.sh DIR LAYERS STEPS: writes DIR/deep.nn (LAYERS dense layers in a row),
# DIR/deep_train.nn (the same with a train section) and DIR/lstm.nn (an LSTM unrolled over
# STEPS steps), the models that measure how compile time and memory grow with model size
# (bench/compile_scale.sh, tests/scale).
set -eu
dir=$1 layers=$2 steps=$3
mkdir -p "$dir"
awk -v n="$layers" 'BEGIN {
  print "model deep"; print "input 16"
  for (i = 0; i < n; i++) print "dense 16 activation=relu"
  print "dense 2 activation=softmax"
}' >"$dir/deep.nn"
{ cat "$dir/deep.nn"; printf 'train {\n  loss sparse_categorical_crossentropy\n  optimizer adam lr=0.001\n  batch 32\n}\n'; } >"$dir/deep_train.nn"
cat >"$dir/lstm.nn" <<NN
model long_lstm
input $steps 1
lstm 8
dense 1 activation=sigmoid
NN
