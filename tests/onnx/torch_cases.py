#!/usr/bin/python3
"""Exports small PyTorch models with torch.onnx.export into backend-test
layout (model.onnx, test_data_set_0/input_0.pb, output_0.pb holding PyTorch's
result), for nn2c test-onnx. Exit 77 (skip) without torch or onnx.
usage: torch_cases.py OUT_DIR"""
import os, sys
try:
    import numpy as np, torch
    from onnx import numpy_helper
except ImportError:
    sys.exit(77)

class Cnn(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.c = torch.nn.Conv2d(3, 8, 3, padding=1)
        s.b = torch.nn.BatchNorm2d(8)
        s.l = torch.nn.Linear(8 * 4 * 4, 10)
    def forward(s, x):
        y = torch.nn.functional.max_pool2d(torch.relu(s.c(x)), 2)
        return torch.softmax(s.l(y.reshape(y.shape[0], -1)), 1)  # Shape -> Gather -> Reshape chain

class Vol(torch.nn.Module):  # 3-D ConvTranspose (strides, pads, dilations) and 3-D pools
    def __init__(s):
        super().__init__()
        s.t = torch.nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1, output_padding=1, dilation=2)
    def forward(s, x):
        y = s.t(x)
        a = torch.nn.functional.max_pool3d(y, 3, stride=2, padding=1, dilation=2)
        b = torch.nn.functional.avg_pool3d(y, 2, stride=2, padding=1, count_include_pad=False)
        return torch.cat([a.flatten(), b.flatten()])

def save(out, name, model, x):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    model.eval()
    torch.onnx.export(model, x, os.path.join(d, "model.onnx"), input_names=["x"], output_names=["y"], opset_version=13)
    y = model(x).detach().numpy()
    for f, a in (("input_0.pb", x.numpy()), ("output_0.pb", y)):
        with open(os.path.join(d, "test_data_set_0", f), "wb") as fh:
            fh.write(numpy_helper.from_array(a).SerializeToString())

torch.manual_seed(0)
out = sys.argv[1]
mlp = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.Tanh(), torch.nn.Linear(32, 16), torch.nn.ReLU(),
                          torch.nn.Linear(16, 4), torch.nn.LogSoftmax(1))
save(out, "torch_mlp", mlp, torch.randn(5, 20))
save(out, "torch_cnn", Cnn(), torch.randn(2, 3, 8, 8))
save(out, "torch_vol", Vol(), torch.randn(1, 2, 3, 4, 3))

# float16 without torch: a float16 initializer reshaped at run time (emitted as its bits) and Max with the input.
import onnx
from onnx import helper, TensorProto
c = np.array([[0.5, -1.25], [3.0, 65504]], dtype=np.float16)
g = helper.make_graph([helper.make_node("Reshape", ["c", "s"], ["r"]), helper.make_node("Max", ["x", "r"], ["y"])], "half",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [4])],
                      [numpy_helper.from_array(c, "c"), numpy_helper.from_array(np.array([4], dtype=np.int64), "s")])
d = os.path.join(out, "half_const")
os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(d, "model.onnx"))
x = np.array([1.0, -2.0, 2.5, 7.0], dtype=np.float16)
for f, a in (("input_0.pb", x), ("output_0.pb", np.maximum(x, c.reshape(4)))):
    with open(os.path.join(d, "test_data_set_0", f), "wb") as fh:
        fh.write(numpy_helper.from_array(a).SerializeToString())
