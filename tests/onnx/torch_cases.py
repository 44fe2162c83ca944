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

# GridSample in every mode, padding mode and align_corners against torch's grid_sample (the grid reaches past
# [-1, 1] so the padding modes matter; torch in double: bicubic cancels in float), and RoiAlign against torchvision's roi_align (aligned = half_pixel).
def save_graph(name, nodes, ins, outs, opset=16):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    vi = lambda n, a: helper.make_tensor_value_info(n, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
    g = helper.make_graph(nodes, name, [vi(n, a) for n, a in ins], [vi(n, a) for n, a in outs])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), os.path.join(d, "model.onnx"))
    for k, (kind, vals) in enumerate((("input", ins), ("output", outs))):
        for i, (_, a) in enumerate(vals):
            with open(os.path.join(d, "test_data_set_0", "%s_%d.pb" % (kind, i)), "wb") as fh:
                fh.write(numpy_helper.from_array(a).SerializeToString())

img = torch.randn(2, 3, 5, 4)
grid = torch.rand(2, 6, 7, 2) * 2.6 - 1.3
for mode in ("bilinear", "nearest", "bicubic"):
    for pad in ("zeros", "border", "reflection"):
        for align in (0, 1):
            y = torch.nn.functional.grid_sample(img.double(), grid.double(), mode, pad, align_corners=bool(align)).float()
            node = helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=pad, align_corners=align)
            save_graph("gridsample_%s_%s_%d" % (mode, pad, align), [node], [("x", img.numpy()), ("g", grid.numpy())],
                       [("y", y.numpy())])
try:
    import torchvision
    fmap = torch.randn(2, 3, 12, 10)
    boxes = torch.tensor([[0, 1.0, 2.0, 9.5, 7.0], [1, -2.0, 3.0, 14.0, 30.0], [1, 4.0, 4.0, 4.5, 4.2]])
    for aligned in (False, True):
        for ratio in (0, 2):
            y = torchvision.ops.roi_align(fmap, boxes, (3, 4), 0.5, ratio, aligned)
            node = helper.make_node("RoiAlign", ["x", "r", "b"], ["y"], output_height=3, output_width=4, spatial_scale=0.5,
                                    sampling_ratio=ratio,
                                    coordinate_transformation_mode="half_pixel" if aligned else "output_half_pixel")
            save_graph("roialign_%d_%d" % (aligned, ratio), [node], [("x", fmap.numpy()), ("r", boxes[:, 1:].numpy()),
                       ("b", boxes[:, 0].long().numpy())], [("y", y.numpy())])
except ImportError:
    pass

# Random ops with a seed draw numpy's legacy generator (RandomState(seed)) once: uniform, normal, Bernoulli (u < p).
xp = np.random.RandomState(1).random_sample((2, 5)).astype(np.float32)
save_graph("random_seeded", [
    helper.make_node("RandomUniformLike", ["x"], ["a"], low=-2.0, high=3.0, seed=3.0),
    helper.make_node("RandomNormal", [], ["b"], shape=[3, 3], mean=1.0, scale=2.0, seed=7.0),
    helper.make_node("Bernoulli", ["x"], ["c"], seed=11.0, dtype=TensorProto.DOUBLE)], [("x", xp)],
    [("a", (np.random.RandomState(3).random_sample((2, 5)) * 5 - 2).astype(np.float32)),
     ("b", (np.random.RandomState(7).randn(3, 3) * 2 + 1).astype(np.float32)),
     ("c", (np.random.RandomState(11).random_sample((2, 5)).astype(np.float32) < xp).astype(np.float64))])

# A model that trains through GridSample (bicubic, reflection) w.r.t. both the image (a per-channel scale) and the
# grid (from a Gemm): torch_cases.sh checks the generated trainer against nn2c's interpreter epoch by epoch.
r = np.random.RandomState(0)
inits = [numpy_helper.from_array(r.uniform(0.5, 1.5, (1, 2, 1, 1)).astype(np.float32), "scale"),
         numpy_helper.from_array((r.randn(32, 18) * 0.3).astype(np.float32), "wg"),
         numpy_helper.from_array((r.randn(18, 3) * 0.3).astype(np.float32), "wo"),
         numpy_helper.from_array(np.array([-1, 3, 3, 2], dtype=np.int64), "gshape")]
nodes = [helper.make_node("Mul", ["x", "scale"], ["img"]), helper.make_node("Flatten", ["x"], ["fx"]),
         helper.make_node("Gemm", ["fx", "wg"], ["gl"]), helper.make_node("Tanh", ["gl"], ["gt"]),
         helper.make_node("Reshape", ["gt", "gshape"], ["grid"]),
         helper.make_node("GridSample", ["img", "grid"], ["s"], mode="bicubic", padding_mode="reflection"),
         helper.make_node("Flatten", ["s"], ["fs"]), helper.make_node("Gemm", ["fs", "wo"], ["z"]),
         helper.make_node("Softmax", ["z"], ["y"], axis=1)]
g = helper.make_graph(nodes, "warp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], inits)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 16)]), os.path.join(out, "..", "warp.onnx"))
