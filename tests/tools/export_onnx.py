#!/usr/bin/python3
"""export_onnx.py NN2C INTERP_FORWARD SRC WORK - `nn2c export MODEL.nn` for
every example model: the ONNX file passes onnx.checker (full check, shape
inference included), and a small evaluator of the ONNX ops written here from
the ONNX specification (numpy, float64) computes the same outputs as nn2c's
interpreter on the .nn model (tests/tools/interp_forward.c, same initial
weights) within 1e-4 * max(1, max |output|). A checkpoint's trained weights
are what the export holds. Exits 77 (skip) without python3-onnx; the ONNX
Runtime and onnx.reference are not in Debian's python3-onnx 1.12.
"""
import os, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError:
    print("skip: python3-onnx (and numpy) are not installed")
    sys.exit(77)
import nn2c_ckpt


def conv(x, w, b, a):
    s, d = a.get('strides', [1, 1]), a.get('dilations', [1, 1])
    p = a.get('pads', [0, 0, 0, 0])
    assert a.get('group', 1) == 1
    x = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    kh, kw = w.shape[2], w.shape[3]
    oh = (x.shape[2] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (x.shape[3] - d[1] * (kw - 1) - 1) // s[1] + 1
    y = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i * d[0]:i * d[0] + s[0] * (oh - 1) + 1:s[0], j * d[1]:j * d[1] + s[1] * (ow - 1) + 1:s[1]]
            y += np.einsum('nchw,oc->nohw', patch, w[:, :, i, j])
    return y if b is None else y + b[None, :, None, None]


def pool(x, a, kind):
    k, s = a['kernel_shape'], a.get('strides', [1, 1])
    p = a.get('pads', [0, 0, 0, 0])
    fill = -np.inf if kind == 'max' else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])), constant_values=fill)
    valid = np.pad(np.ones_like(x), ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])))
    oh, ow = (xp.shape[2] - k[0]) // s[0] + 1, (xp.shape[3] - k[1]) // s[1] + 1
    win = lambda t, i, j: t[:, :, i:i + s[0] * (oh - 1) + 1:s[0], j:j + s[1] * (ow - 1) + 1:s[1]]
    parts = [(win(xp, i, j), win(valid, i, j)) for i in range(k[0]) for j in range(k[1])]
    if kind == 'max':
        return np.max([v for v, _ in parts], axis=0)
    return sum(v for v, _ in parts) / sum(c for _, c in parts)  # count_include_pad=0


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def reshape(x, shape):
    shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(shape)


def run_node(n, v):
    a = {at.name: onnx.helper.get_attribute_value(at) for at in n.attribute}
    x = [v[i] if i else None for i in n.input]
    op = n.op_type
    unary = {'Relu': lambda t: np.maximum(t, 0), 'Sigmoid': lambda t: 1 / (1 + np.exp(-t)), 'Tanh': np.tanh,
             'Identity': lambda t: t, 'Exp': np.exp, 'Log': np.log, 'Neg': np.negative, 'Abs': np.abs,
             'Sqrt': np.sqrt, 'LeakyRelu': lambda t: np.where(t >= 0, t, a.get('alpha', 0.01) * t)}
    binary = {'Add': np.add, 'Sub': np.subtract, 'Mul': np.multiply, 'Div': np.divide, 'MatMul': np.matmul}
    if op in unary: return [unary[op](x[0])]
    if op in binary: return [binary[op](x[0], x[1])]
    if op == 'Transpose': return [np.transpose(x[0], a['perm'])]
    if op == 'Conv': return [conv(x[0], x[1], x[2] if len(x) > 2 else None, a)]
    if op == 'MaxPool': return [pool(x[0], a, 'max')]
    if op == 'AveragePool': return [pool(x[0], a, 'avg')]
    if op == 'Softmax': return [softmax(x[0], a.get('axis', -1))]
    if op == 'LogSoftmax': return [np.log(softmax(x[0], a.get('axis', -1)))]
    if op == 'Reshape': return [reshape(x[0], list(x[1]))]
    if op == 'Cast': return [x[0].astype(np.int64)]
    if op == 'Gather': return [np.take(x[0], x[1], axis=a.get('axis', 0))]
    if op == 'Split': return np.split(x[0], np.cumsum(x[1])[:-1], axis=a.get('axis', 0))
    if op == 'Squeeze': return [np.squeeze(x[0], axis=tuple(x[1]))]
    if op == 'Unsqueeze': return [np.expand_dims(x[0], axis=tuple(x[1]))]
    if op == 'Concat': return [np.concatenate(x, axis=a['axis'])]
    raise SystemExit(f"FAIL: the test's evaluator lacks {op}")


def evaluate(model, feed):
    v = {t.name: numpy_helper.to_array(t).astype(np.float64) if t.data_type == 1 else numpy_helper.to_array(t)
         for t in model.graph.initializer}
    v.update(feed)
    for n in model.graph.node:
        for name, val in zip(n.output, run_node(n, v)):
            v[name] = val
    return v[model.graph.output[0].name]


def check_model(nn2c, forward, path, work, batch=3):
    name = os.path.basename(path)[:-3]
    out = os.path.join(work, name + '.onnx')
    subprocess.run([nn2c, 'export', path, '-o', out, '--quiet'], check=True)
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    inp = model.graph.input[0]
    shape = [batch if d.dim_param == 'N' else d.dim_value for d in inp.type.tensor_type.shape.dim]
    rng = np.random.default_rng(7)
    casts = [n.output[0] for n in model.graph.node if n.op_type == 'Cast' and n.input[0] == inp.name]
    tables = {t.name: t.dims[0] for t in model.graph.initializer if t.dims}
    vocab = min([tables[n.input[0]] for n in model.graph.node if n.op_type == 'Gather' and n.input[1] in casts] or [0])
    x = (rng.integers(0, vocab, shape) if vocab else rng.uniform(-1, 1, shape)).astype(np.float32)
    x.tofile(os.path.join(work, name + '.in'))
    subprocess.run([forward, path, str(batch), os.path.join(work, name + '.in'), os.path.join(work, name + '.out')],
                   check=True)
    got = np.fromfile(os.path.join(work, name + '.out'), dtype=np.float32)
    ref = evaluate(model, {inp.name: x.astype(np.float64)}).reshape(-1)
    err = float(np.max(np.abs(got - ref))) if ref.size == got.size else float('inf')
    tol = 1e-4 * max(1.0, float(np.max(np.abs(ref))))
    print(f"{name}: {len(model.graph.node)} ONNX nodes, max |nn2c - reference| = {err:.2e} (tolerance {tol:.0e})")
    return err <= tol


def check_checkpoint(nn2c, src, work):
    """xor trained 30 epochs: its export holds the checkpoint's params, not the initial ones."""
    ckpt = os.path.join(work, 'xor.ckpt')
    subprocess.run([nn2c, 'run', os.path.join(src, 'examples/xor.nn'), '--epochs', '30', '--save', ckpt, '--quiet'],
                   check=True, stdout=subprocess.DEVNULL)
    out = os.path.join(work, 'xor_trained.onnx')
    subprocess.run([nn2c, 'export', os.path.join(src, 'examples/xor.nn'), ckpt, '-o', out, '--quiet'], check=True)
    params = nn2c_ckpt.read(ckpt)[1]['params']
    init = onnx.load(os.path.join(work, 'xor.onnx')).graph.initializer
    trained = onnx.load(out).graph.initializer
    off, ok = 0, True
    for t0, t in zip(init, trained):
        w, w0 = numpy_helper.to_array(t).reshape(-1), numpy_helper.to_array(t0).reshape(-1)
        ok = ok and np.array_equal(w, np.array(params[off:off + w.size], dtype=np.float32)) and not np.array_equal(w, w0)
        off += (w.size + 15) // 16 * 16  # the param block aligns each tensor to 16 floats
    print(f"xor with a checkpoint: trained weights exported: {ok}")
    return ok


# Layer models of tests/e2e with what the examples lack: batch normalization (its
# running statistics are state), bidirectional and plain LSTMs, strided, padded and
# 1x1 convolutions, average pooling, dropout (gone at inference).
E2E_MODELS = ['e2e_batchnorm', 'e2e_bidir', 'e2e_lstm', 'e2e_conv', 'e2e_conv1x1', 'e2e_dropout', 'e2e_fuse_pool',
              'e2e_softmax', 'e2e_winograd']


def main():
    nn2c, forward, src, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    models = sorted(os.path.join(src, 'examples', f) for f in os.listdir(os.path.join(src, 'examples'))
                    if f.endswith('.nn'))
    models += [os.path.join(src, 'tests/e2e/models', f + '.nn') for f in E2E_MODELS]
    ok = all([check_model(nn2c, forward, f, work) for f in models])
    ok = check_checkpoint(nn2c, src, work) and ok
    bad = subprocess.run([nn2c, 'export', os.path.join(src, 'tests/e2e/models/e2e_branch.nn'), '-o',
                          os.path.join(work, 'branch.onnx')], capture_output=True, text=True)
    said = bad.stderr.strip()
    print(f"e2e_branch (a slice, which the exporter lacks): exit {bad.returncode}: {said}")
    ok = ok and bad.returncode == 1 and "op slice (computing 's') has no ONNX form" in said
    ok = ok and not os.path.exists(os.path.join(work, 'branch.onnx'))
    print("ok: every example exports to ONNX that checks and computes nn2c's outputs" if ok else "FAIL")
    sys.exit(0 if ok else 1)


main()
