#!/usr/bin/python3
"""Small PyTorch CNNs in the shapes the layout pass is for, exported with
torch.onnx.export (opset 13, batch 2) for tests/onnx/layout_cases.sh:
  resblock   conv-bn-relu-conv-bn + residual add + relu, a stride-2 block
             with a 1x1 downsampling conv, global average pool, linear;
             batch_norm kept as BatchNormalization nodes (TrainingMode.PRESERVE)
  resfused   the same model exported as usual (batch_norm folded into the convs)
  mobile     mobilenet_v2-style inverted residual: 1x1 expand, depthwise 3x3,
             1x1 project, batch_norm, ReLU6 (Clip), residual add, pool, linear
  swish      the same with SiLU (exported as x * sigmoid(x)), as in efficientnet
Per model: OUT/NAME/model.onnx, x.bin (raw f32), x.pb (TensorProto) and y.txt
(PyTorch's output, one number a line). Exit 77 (skip) without torch or onnx.
usage: layout_cases.py OUT_DIR"""
import os, sys
try:
    import numpy as np, torch
    from onnx import numpy_helper
except ImportError:
    sys.exit(77)
nn = torch.nn

def cbr(cin, cout, k, s=1, groups=1, act=nn.ReLU):
    return [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)] + ([act()] if act else [])

class Block(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.body = nn.Sequential(*cbr(cin, cout, 3, stride), *cbr(cout, cout, 3, act=None))
        s.down = nn.Sequential(*cbr(cin, cout, 1, stride, act=None)) if stride > 1 or cin != cout else None
    def forward(s, x):
        return torch.relu(s.body(x) + (s.down(x) if s.down else x))

class ResNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = nn.Sequential(*cbr(3, 8, 3))
        s.blocks = nn.Sequential(Block(8, 8, 1), Block(8, 16, 2))
        s.fc = nn.Linear(16, 5)
    def forward(s, x):
        y = nn.functional.adaptive_avg_pool2d(s.blocks(nn.functional.max_pool2d(s.stem(x), 2)), 1)
        return s.fc(torch.flatten(y, 1))

class Inverted(nn.Module):
    def __init__(s, c, e, act):
        super().__init__()
        s.body = nn.Sequential(*cbr(c, c * e, 1, act=act), *cbr(c * e, c * e, 3, groups=c * e, act=act),
                               *cbr(c * e, c, 1, act=None))
    def forward(s, x):
        return x + s.body(x)

class Mobile(nn.Module):
    def __init__(s, act=nn.ReLU6):
        super().__init__()
        s.stem = nn.Sequential(*cbr(3, 8, 3, 2, act=act))
        s.blocks = nn.Sequential(Inverted(8, 4, act), Inverted(8, 2, act))
        s.fc = nn.Linear(8, 5)
    def forward(s, x):
        return s.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(s.blocks(s.stem(x)), 1), 1))

def randomize(model):  # non-trivial batch_norm statistics, as after training
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2), m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()

def save(out, name, model, x, mode):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    torch.onnx.export(model, x, os.path.join(d, "model.onnx"), input_names=["x"], output_names=["y"],
                      opset_version=13, training=mode)
    x.numpy().astype("<f4").tofile(os.path.join(d, "x.bin"))
    with open(os.path.join(d, "x.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x.numpy()).SerializeToString())
    with torch.no_grad():
        np.savetxt(os.path.join(d, "y.txt"), model(x).numpy().reshape(-1), fmt="%.9g")

torch.manual_seed(0)
out = sys.argv[1]
res = randomize(ResNet())
x = torch.randn(2, 3, 12, 12)
save(out, "resblock", res, x, torch.onnx.TrainingMode.PRESERVE)
save(out, "resfused", res, x, torch.onnx.TrainingMode.EVAL)
save(out, "mobile", randomize(Mobile()), torch.randn(2, 3, 12, 12), torch.onnx.TrainingMode.PRESERVE)
save(out, "swish", randomize(Mobile(nn.SiLU)), torch.randn(2, 3, 12, 12), torch.onnx.TrainingMode.EVAL)
