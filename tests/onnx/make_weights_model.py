#!/usr/bin/python3
"""Writes tests/onnx/weights/small_cnn.onnx and input_0.pb (run once; the
outputs are checked in): Conv 2->4 3x3 + Relu + MaxPool 2 + Flatten + Gemm
to 3 + a scalar Mul, every weight an f32 initializer; input x f32[batch,2,6,6];
and input_0.pb / input_0.bin (raw f32), one sample, for weights_file.sh."""
import os, sys
import numpy as np
import onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "weights")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
f32 = lambda *s: rng.standard_normal(s).astype(np.float32)
inits = [nh.from_array(f32(4, 2, 3, 3), "w1"), nh.from_array(f32(4), "b1"),
         nh.from_array(f32(3, 36), "w2"), nh.from_array(f32(3), "b2"),
         nh.from_array(np.array(0.5, np.float32), "scale")]
nodes = [h.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1]),
         h.make_node("Relu", ["c"], ["r"]),
         h.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
         h.make_node("Flatten", ["p"], ["f"]),
         h.make_node("Gemm", ["f", "w2", "b2"], ["g"], transB=1),
         h.make_node("Mul", ["g", "scale"], ["y"])]
g = h.make_graph(nodes, "small_cnn", [h.make_tensor_value_info("x", T.FLOAT, ["batch", 2, 6, 6])],
                 [h.make_tensor_value_info("y", T.FLOAT, ["batch", 3])], initializer=inits)
m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
onnx.checker.check_model(m)
onnx.save(m, os.path.join(out, "small_cnn.onnx"))
x = f32(1, 2, 6, 6)
with open(os.path.join(out, "input_0.pb"), "wb") as f:
    f.write(nh.from_array(x, "x").SerializeToString())
x.astype("<f4").tofile(os.path.join(out, "input_0.bin"))
