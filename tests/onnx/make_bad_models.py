#!/usr/bin/python3
"""Writes the hand-made malformed models of tests/onnx/bad/ (run once; the
outputs are checked in). Each NAME.onnx has NAME.expect: text the error must contain."""
import os, sys
import onnx
from onnx import helper as h, TensorProto as T

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "bad")
os.makedirs(out, exist_ok=True)

def vi(name, t=T.FLOAT, shape=(2, 3)):
    return h.make_tensor_value_info(name, t, list(shape))

def save(name, graph, expect, opset=13, check=False):
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())
    with open(os.path.join(out, name + ".expect"), "w") as f:
        f.write(expect + "\n")

save("wrong_dtype", h.make_graph([h.make_node("Add", ["x", "i"], ["y"], name="add1")], "g",
     [vi("x"), vi("i", T.INT64)], [vi("y")]), "node 'add1' (Add)")
save("missing_initializer", h.make_graph([h.make_node("Mul", ["x", "w"], ["y"], name="mul1")], "g",
     [vi("x")], [vi("y")]), "node 'mul1' (Mul): input 'w' is not defined")
save("dangling_output", h.make_graph([h.make_node("Relu", ["x"], ["y"], name="r")], "g",
     [vi("x")], [vi("z")]), "graph output 'z' is not computed")
save("cycle", h.make_graph([h.make_node("Relu", ["b"], ["a"], name="first"), h.make_node("Relu", ["a"], ["b"], name="second")],
     "g", [vi("x")], [vi("b")]), "node 'first' (Relu): input 'b' is not defined")
save("huge_dims", h.make_graph([h.make_node("Relu", ["x"], ["y"], name="r")], "g",
     [vi("x", shape=(1 << 40, 1 << 40))], [vi("y")]), "element count overflows")
save("unknown_domain", h.make_graph([h.make_node("Frobnicate", ["x"], ["y"], name="f1", domain="com.example")], "g",
     [vi("x")], [vi("y")]), "unsupported op Frobnicate (com.example, opset -1) at node f1")
save("unknown_op", h.make_graph([h.make_node("Frobnicate", ["x"], ["y"], name="f2")], "g",
     [vi("x")], [vi("y")]), "unsupported op Frobnicate (ai.onnx, opset 13) at node f2")
bad = T(); bad.name = "w"; bad.data_type = T.FLOAT; bad.dims.extend([2, 3]); bad.raw_data = b"\0" * 7
save("raw_data_size", h.make_graph([h.make_node("Add", ["x", "w"], ["y"], name="a")], "g",
     [vi("x")], [vi("y")], initializer=[bad]), "raw_data has 7 bytes, its shape needs 24")
ext = T(); ext.name = "w"; ext.data_type = T.FLOAT; ext.dims.extend([2, 3])
ext.data_location = T.EXTERNAL
e = ext.external_data.add(); e.key = "location"; e.value = "no_such_file.bin"
save("external_missing", h.make_graph([h.make_node("Add", ["x", "w"], ["y"], name="a")], "g",
     [vi("x")], [vi("y")], initializer=[ext]), "cannot read 24 bytes")
e.value = "../../etc/passwd"
save("external_escape", h.make_graph([h.make_node("Add", ["x", "w"], ["y"], name="a")], "g",
     [vi("x")], [vi("y")], initializer=[ext]), "relative location inside the model's folder")
save("no_op_type", h.make_graph([h.make_node("", ["x", "x"], ["y"], name="n1")], "g",
     [vi("x", shape=(3, 4))], [vi("y", shape=(3, 4))]), "node 'n1' (): node without an op type")
save("symbolic_inner_dim", h.make_graph([h.make_node("Relu", ["x"], ["y"], name="r")], "g",
     [vi("x", shape=(3, "len"))], [vi("y")]), "fix it with --dim len=VALUE")
# ../symbolic_dim.onnx (x [batch, 3], a valid model since the batch N) was made here as "symbolic_dim"
save("shape_mismatch", h.make_graph([h.make_node("Add", ["x", "z"], ["y"], name="add2")], "g",
     [vi("x", shape=(2, 3)), vi("z", shape=(4, 5))], [vi("y")]), "node 'add2' (Add): shapes [2,3] and [4,5] do not broadcast")
save("dynamic_reshape", h.make_graph([h.make_node("Reshape", ["x", "s"], ["y"], name="rs")], "g",
     [vi("x"), vi("s", T.INT64, (2,))], [vi("y")]), "node 'rs' (Reshape): the shape input must be a constant")
save("string_input", h.make_graph([h.make_node("Identity", ["x"], ["y"], name="id")], "g",
     [vi("x", T.STRING)], [vi("y")]), "dtype string")
with open(os.path.join(out, "not_protobuf.onnx"), "wb") as f:
    f.write(b"this is not a protobuf \xff\xff\xff\xff")
with open(os.path.join(out, "not_protobuf.expect"), "w") as f:
    f.write("not a valid ONNX model\n")
# Shape of a batch-N value may be moved into Reshape's shape, but not computed with
i64 = lambda name, v: h.make_tensor(name, T.INT64, [len(v)] if isinstance(v, list) else [], v if isinstance(v, list) else [v])
save("batch_arithmetic", h.make_graph(
    [h.make_node("Shape", ["x"], ["s"], name="shape"), h.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
     h.make_node("Mul", ["n", "four"], ["n4"], name="times4"), h.make_node("Unsqueeze", ["n4", "axes"], ["u"], name="unsq"),
     h.make_node("Concat", ["u", "three"], ["shp"], name="cat", axis=0), h.make_node("Reshape", ["x", "shp"], ["y"], name="rs")],
    "g", [vi("x", shape=("N", 4, 3))], [vi("y", shape=("M", 3))],
    initializer=[i64("zero", 0), i64("four", 4), i64("axes", [0]), i64("three", [3])]),
    "node 'times4' (Mul): mul of the batch N (from Shape; fix the batch with --dim)")
save("bernoulli_no_seed", h.make_graph([h.make_node("Bernoulli", ["x"], ["y"], name="coin")], "g", [vi("x")], [vi("y")]),
     "node 'coin' (Bernoulli): Bernoulli without a seed attribute (new values on every call) is not supported", opset=15)
save("gridsample_bad_mode", h.make_graph([h.make_node("GridSample", ["x", "g"], ["y"], name="gs", mode="spline")], "g",
     [vi("x", shape=(1, 2, 4, 4)), vi("g", shape=(1, 3, 3, 2))], [vi("y")]), "node 'gs' (GridSample): unknown mode or padding_mode", opset=16)
save("roialign_bad_rois", h.make_graph([h.make_node("RoiAlign", ["x", "r", "b"], ["y"], name="ra")], "g",
     [vi("x", shape=(1, 2, 4, 4)), vi("r", shape=(3, 5)), vi("b", T.INT64, shape=(3,))], [vi("y")]),
     "node 'ra' (RoiAlign): rois must be [R,4] of X's dtype", opset=16)
