#!/bin/sh
# Keeps compiler/ and runtime/ small: fails when their C sources exceed the budget.
# The budget was the size after the restructuring of issue 19 (21,513 lines, after
# clang-format) plus 10%; raised on 2026-12-07 to the size after MPI training,
# microcontroller builds, the trainer's metrics/data/callbacks, summary/dot/plot/
# export and the ONNX coverage work (27,523 lines) plus 10%, so it constrains;
# raised on 2026-12-08 from 30,300 to 31,800 for the int8 kernels' fused
# requantization and percentile calibration (issue 14), GridSample and RoiAlign
# (issue 18) and linear-time planning (issue 16), at 30,410 lines;
# raise it deliberately (and say why in the commit), never silently.
set -eu
root=$1 budget=${2:-31800}
lines=$(cat "$root"/compiler/*.[ch] "$root"/compiler/*/*.[ch] "$root"/runtime/*.[ch] | wc -l)
echo "compiler + runtime: $lines lines (budget $budget)"
[ "$lines" -le "$budget" ] || { echo "FAIL: over the line budget"; exit 1; }
