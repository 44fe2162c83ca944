#!/bin/bash
# bench/torchvision.sh - every torchvision classification family of issue 18
# through nn2c: exported by torch.onnx.export (weights=None, seeded, eval,
# batch 1, 3x224x224; opset 13, vit_b_16 and convnext_tiny at 14), compiled,
# built with the emitted Makefile and run; the output must match PyTorch's
# within 1e-4 * max(1, max|y|) (tests/onnx/real_models.py does the work).
# Then the DYNAMIC models again, exported with a symbolic batch and run at
# batch 64 and 1 from one build.
#
#   bench/torchvision.sh                       # all 18 models + the dynamic ones, about 10 minutes idle
#   MODELS=vgg11,alexnet DYNAMIC= bench/torchvision.sh
#
# Settings: MODELS (comma-separated; default: resnet18, mobilenet_v2 and
# every model of real_models.py's ZOO), DYNAMIC (default
# resnet18,shufflenet_v2_x0_5,lstm,gru,tokens), WORK (/tmp/nn2c-torchvision),
# NN2C (default build/compiler/nn2c of this tree). CTest's
# onnx.torchvision_models runs the small ones.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/nn2c-torchvision}
. "$ROOT/bench/common.sh" # cpu_line
NN2C=${NN2C:-$ROOT/build/compiler/nn2c}
PY=/usr/bin/python3
ZOO=$($PY -c "import sys; sys.path.insert(0, '$ROOT/tests/onnx'); import real_models as r; print(','.join(r.ZOO))") ||
  { echo "torchvision.sh: $PY needs torch, torchvision and onnx (apt-get install python3-torch python3-torchvision python3-onnx)" >&2; exit 1; }
MODELS=${MODELS:-resnet18,mobilenet_v2,$ZOO}
DYNAMIC=${DYNAMIC-resnet18,shufflenet_v2_x0_5,lstm,gru,tokens}
[ -x "$NN2C" ] || { echo "torchvision.sh: no nn2c at $NN2C (build it first)" >&2; exit 1; }
cpu_line
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); torch $($PY -c 'import torch, torchvision; print(torch.__version__, "torchvision", torchvision.__version__)')"
rm -rf "$WORK" && mkdir -p "$WORK"
$PY "$ROOT/tests/onnx/real_models.py" "$NN2C" "$WORK" --interp none --models "$MODELS" --dynamic "$DYNAMIC" 2>/dev/null |
  tee "$WORK/results.txt"
pass=$(grep -c '^PASS' "$WORK/results.txt") fail=$(grep -c '^FAIL' "$WORK/results.txt")
echo "torchvision.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
