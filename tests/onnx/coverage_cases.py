#!/usr/bin/python3
"""coverage_cases.py - writes ONNX backend-style test cases (DIR/NAME/model.onnx,
DIR/NAME/test_data_set_0/{input,output}_K.pb) for the forms issue 18 added:
variadic ops past 16 inputs, MatMul stacks that broadcast, old opsets, 3-D
and 1-D convolution and pooling, If and Loop. Needs neither python3-onnx nor
numpy: the protobuf is written by hand (field numbers as in onnx.proto) and
the expected outputs are computed here in plain Python, from definitions
written for this test.

  coverage_cases.py OUT_DIR            every case
  coverage_cases.py OUT_DIR NAME...    the named ones
  coverage_cases.py --model OUT.onnx NAME   one model of MODELS (no data)
"""
import math, os, struct, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pb import field, varint  # noqa: E402  (the shared protobuf encoder)

# ---- protobuf encoding ----


def f32_field(num, v):
    return varint(num << 3 | 5) + struct.pack('<f', v)


FLOAT, UINT8, INT8, INT32, BOOL, INT64 = 1, 2, 3, 6, 9, 7


def numel(dims):
    n = 1
    for d in dims:
        n *= d
    return n


def tensor(name, dims, data, dtype=FLOAT):
    raw = {FLOAT: lambda: struct.pack('<%df' % len(data), *data),
           UINT8: lambda: struct.pack('<%dB' % len(data), *data),
           INT8: lambda: struct.pack('<%db' % len(data), *data),
           INT32: lambda: struct.pack('<%di' % len(data), *data),
           INT64: lambda: struct.pack('<%dq' % len(data), *data),
           BOOL: lambda: bytes(1 if v else 0 for v in data)}[dtype]()
    return b''.join(field(1, d) for d in dims) + field(2, dtype) + field(8, name) + field(9, raw)


def value_info(name, dims, dtype=FLOAT):
    shape = b''.join(field(1, field(2, d) if isinstance(d, str) else field(1, d)) for d in dims)
    return field(1, name) + field(2, field(1, field(1, dtype) + field(2, shape)))


def attr(name, v):
    """int, float, str, list of ints, a graph (bytes tagged ('g', b))."""
    if isinstance(v, tuple) and v[0] == 'g':
        return field(1, name) + field(6, v[1]) + field(20, 5)
    if isinstance(v, bool) or isinstance(v, int):
        return field(1, name) + field(3, int(v)) + field(20, 2)
    if isinstance(v, float):
        return field(1, name) + f32_field(2, v) + field(20, 1)
    if isinstance(v, str):
        return field(1, name) + field(4, v) + field(20, 3)
    if isinstance(v, list) and all(isinstance(x, int) for x in v):
        return field(1, name) + b''.join(field(8, x) for x in v) + field(20, 7)
    if isinstance(v, list) and all(isinstance(x, float) for x in v):
        return field(1, name) + b''.join(f32_field(7, x) for x in v) + field(20, 6)
    raise ValueError(name)


def node(op, ins, outs, **attrs):
    n = b''.join(field(1, i) for i in ins) + b''.join(field(2, o) for o in outs)
    n += field(3, outs[0] + '_node') + field(4, op)
    return n + b''.join(field(5, attr(k, v)) for k, v in sorted(attrs.items()))


def graph(nodes, inputs, outputs, inits=(), name='g'):
    g = b''.join(field(1, n) for n in nodes) + field(2, name)
    g += b''.join(field(5, t) for t in inits)
    return g + b''.join(field(11, v) for v in inputs) + b''.join(field(12, v) for v in outputs)


def model(g, opset):
    return field(1, 7) + field(7, g) + field(8, field(1, '') + field(2, opset))


# ---- plain-Python tensors: (dims, flat list) ----


def values(dims, seed):
    """Deterministic values in [-1, 1), different per seed."""
    out, s = [], seed * 7919 + 17
    for _ in range(numel(dims)):
        s = (s * 1103515245 + 12345) % (1 << 31)
        out.append(round((s / (1 << 31)) * 2 - 1, 4))
    return out


def strides(dims):
    st, acc = [], 1
    for d in reversed(dims):
        st.insert(0, acc)
        acc *= d
    return st


def index_of(dims, flat):
    idx = []
    for d in reversed(dims):
        idx.insert(0, flat % d)
        flat //= d
    return idx


def broadcast_get(dims, data, idx):
    """data (dims) read at idx of a larger broadcast shape (right-aligned)."""
    off = len(idx) - len(dims)
    st, f = strides(dims), 0
    for i, d in enumerate(dims):
        f += (0 if d == 1 else idx[off + i]) * st[i]
    return data[f]


def bshape(a, b):
    r = max(len(a), len(b))
    a = [1] * (r - len(a)) + list(a)
    b = [1] * (r - len(b)) + list(b)
    return [max(x, y) for x, y in zip(a, b)]


def matmul(ad, a, bd, b):
    """numpy matmul for ranks >= 2."""
    m, k, n = ad[-2], ad[-1], bd[-1]
    stack = bshape(ad[:-2], bd[:-2])
    out = []
    for s in range(numel(stack)):
        si = index_of(stack, s)
        for i in range(m):
            for j in range(n):
                acc = 0.0
                for p in range(k):
                    acc += broadcast_get(ad, a, si + [i, p]) * broadcast_get(bd, b, si + [p, j])
                out.append(acc)
    return stack + [m, n], out


# ---- the cases ----
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def write(dirname, name, g, opset, ins, outs):
    d = os.path.join(dirname, name)
    os.makedirs(os.path.join(d, 'test_data_set_0'), exist_ok=True)
    with open(os.path.join(d, 'model.onnx'), 'wb') as f:
        f.write(model(g, opset))
    for kind, ts in (('input', ins), ('output', outs)):
        for k, t in enumerate(ts):
            with open(os.path.join(d, 'test_data_set_0', '%s_%d.pb' % (kind, k)), 'wb') as f:
                f.write(tensor(t[0], t[1], t[2], t[3] if len(t) > 3 else FLOAT))


def variadic(out_dir, name, op, combine, n=20):
    x, y = values([2, 3], 1), values([2, 3], 2)
    names = ['x' if i % 2 == 0 else 'y' for i in range(n)]
    res = [combine([x[e] if i % 2 == 0 else y[e] for i in range(n)]) for e in range(6)]
    g = graph([node(op, names, ['z'])], [value_info('x', [2, 3]), value_info('y', [2, 3])],
              [value_info('z', [2, 3])])
    write(out_dir, name, g, 13, [('x', [2, 3], x), ('y', [2, 3], y)], [('z', [2, 3], res)])


@case
def sum_20_inputs(d):
    variadic(d, 'sum_20_inputs', 'Sum', sum)


@case
def mean_40_inputs(d):
    variadic(d, 'mean_40_inputs', 'Mean', lambda v: sum(v) / len(v), 40)


@case
def max_20_inputs(d):
    variadic(d, 'max_20_inputs', 'Max', max)


@case
def min_300_inputs(d):
    variadic(d, 'min_300_inputs', 'Min', min, 300)


@case
def concat_33_inputs(d):
    parts = [values([2, 1 + i], i) for i in range(3)]
    dims = [[2, 1 + i] for i in range(3)]
    width = sum(dims[i % 3][1] for i in range(33))
    names = ['x%d' % (i % 3) for i in range(33)]  # three inputs, reused in order
    g = graph([node('Concat', names, ['z'], axis=1)], [value_info('x%d' % i, dims[i]) for i in range(3)],
              [value_info('z', [2, width])])
    res = []
    for r in range(2):
        for i in range(33):
            dd, p = dims[i % 3], parts[i % 3]
            res += p[r * dd[1]:(r + 1) * dd[1]]
    write(d, 'concat_33_inputs', g, 13, [('x%d' % i, dims[i], parts[i]) for i in range(3)],
          [('z', [2, width], res)])


def matmul_case(d, name, ad, bd):
    a, b = values(ad, 3), values(bd, 4)
    ad2 = [1] + ad if len(ad) == 1 else ad
    bd2 = bd + [1] if len(bd) == 1 else bd
    yd, y = matmul(ad2, a, bd2, b)
    if len(bd) == 1:
        yd = yd[:-1]
    if len(ad) == 1:
        yd = yd[:-2] + yd[-1:] if len(bd) > 1 else yd[:-1]
    g = graph([node('MatMul', ['a', 'b'], ['y'])], [value_info('a', ad), value_info('b', bd)], [value_info('y', yd)])
    write(d, name, g, 13, [('a', ad, a), ('b', bd, b)], [('y', yd, y)])


@case
def matmul_broadcast_stack(d):
    matmul_case(d, 'matmul_broadcast_stack', [2, 1, 3, 4], [3, 4, 5])


@case
def matmul_vector_stack(d):
    matmul_case(d, 'matmul_vector_stack', [4], [2, 4, 5])


@case
def matmul_stack_vector(d):
    matmul_case(d, 'matmul_stack_vector', [2, 3, 4], [4])


# ---- convolution and pooling references (any spatial rank) ----


def window_geometry(xd, k, strides, pads, dil, auto_pad='NOTSET', ceil=False):
    """Output sizes and the pads actually used."""
    S = len(xd) - 2
    pads, outs = list(pads), []
    for i in range(S):
        n, span = xd[2 + i], (k[i] - 1) * dil[i] + 1
        if auto_pad in ('SAME_UPPER', 'SAME_LOWER'):
            o = -(-n // strides[i])
            total = max(0, (o - 1) * strides[i] + span - n)
            small, big = total // 2, total - total // 2
            pads[i], pads[S + i] = (small, big) if auto_pad == 'SAME_UPPER' else (big, small)
        elif auto_pad == 'VALID':
            pads[i] = pads[S + i] = 0
        full = n + pads[i] + pads[S + i] - span
        o = (-(-full // strides[i]) if ceil else full // strides[i]) + 1
        if ceil and (o - 1) * strides[i] >= n + pads[i]:
            o -= 1  # the last window must start inside the input or its begin padding
        outs.append(o)
    return outs, pads


def conv_ref(xd, x, wd, w, b, strides, pads, dil, group=1, auto_pad='NOTSET'):
    S = len(xd) - 2
    outs, pads = window_geometry(xd, wd[2:], strides, pads, dil, auto_pad)
    N, C, O, Cg = xd[0], xd[1], wd[0], wd[1]
    xs, ws, y = strides_of(xd), strides_of(wd), []
    for n in range(N):
        for o in range(O):
            g = o // (O // group)
            for pos in range(numel(outs)):
                p = index_of(outs, pos)
                acc = b[o] if b else 0.0
                for c in range(Cg):
                    for t in range(numel(wd[2:])):
                        kt = index_of(wd[2:], t)
                        src = [p[i] * strides[i] + kt[i] * dil[i] - pads[i] for i in range(S)]
                        if all(0 <= src[i] < xd[2 + i] for i in range(S)):
                            xi = n * xs[0] + (g * Cg + c) * xs[1] + sum(src[i] * xs[2 + i] for i in range(S))
                            wi = o * ws[0] + c * ws[1] + sum(kt[i] * ws[2 + i] for i in range(S))
                            acc += x[xi] * w[wi]
                y.append(acc)
    return [N, O] + outs, y


def pool_ref(xd, x, kind, k, strides, pads, dil, auto_pad='NOTSET', ceil=False, count_include_pad=False):
    S = len(xd) - 2
    outs, pads = window_geometry(xd, k, strides, pads, dil, auto_pad, ceil)
    xs, y = strides_of(xd), []
    for nc in range(xd[0] * xd[1]):
        for pos in range(numel(outs)):
            p = index_of(outs, pos)
            vals, padded = [], 0
            for t in range(numel(k)):
                kt = index_of(k, t)
                src = [p[i] * strides[i] + kt[i] * dil[i] - pads[i] for i in range(S)]
                if all(0 <= src[i] < xd[2 + i] for i in range(S)):
                    vals.append(x[nc * xs[1] + sum(src[i] * xs[2 + i] for i in range(S))])
                elif all(-pads[i] <= src[i] < xd[2 + i] + pads[S + i] for i in range(S)):
                    padded += 1
            if kind == 'max':
                y.append(max(vals))
            else:
                y.append(sum(vals) / (len(vals) + (padded if count_include_pad else 0)))
    return xd[:2] + outs, y


def strides_of(dims):
    return strides(dims)


def conv_case(d, name, xd, wd, bias=False, opset=13, **at):
    x, w = values(xd, 11), values(wd, 12)
    b = values([wd[0]], 13) if bias else None
    S = len(xd) - 2
    yd, y = conv_ref(xd, x, wd, w, b, at.get('strides', [1] * S), at.get('pads', [0] * 2 * S),
                     at.get('dilations', [1] * S), at.get('group', 1), at.get('auto_pad', 'NOTSET'))
    ins = [('x', xd, x), ('w', wd, w)] + ([('b', [wd[0]], b)] if bias else [])
    g = graph([node('Conv', [t[0] for t in ins], ['y'], **at)], [value_info(t[0], t[1]) for t in ins],
              [value_info('y', yd)])
    write(d, name, g, opset, ins, [('y', yd, y)])


def pool_case(d, name, op, xd, k, opset=13, **at):
    x = values(xd, 14)
    S = len(xd) - 2
    yd, y = pool_ref(xd, x, 'max' if op == 'MaxPool' else 'avg', k, at.get('strides', [1] * S),
                     at.get('pads', [0] * 2 * S), at.get('dilations', [1] * S), at.get('auto_pad', 'NOTSET'),
                     bool(at.get('ceil_mode', 0)), bool(at.get('count_include_pad', 0)))
    g = graph([node(op, ['x'], ['y'], kernel_shape=k, **at)], [value_info('x', xd)], [value_info('y', yd)])
    write(d, name, g, opset, [('x', xd, x)], [('y', yd, y)])


@case
def maxpool_2d_stride_pad_dilation(d):
    pool_case(d, 'maxpool_2d_stride_pad_dilation', 'MaxPool', [1, 2, 8, 7], [3, 2], strides=[2, 2],
              pads=[1, 1, 2, 1], dilations=[2, 3])


@case
def maxpool_1d_stride_pad_dilation(d):
    pool_case(d, 'maxpool_1d_stride_pad_dilation', 'MaxPool', [2, 2, 11], [3], strides=[2], pads=[2, 1], dilations=[2])


@case
def maxpool_2d_dilation_ceil(d):
    pool_case(d, 'maxpool_2d_dilation_ceil', 'MaxPool', [1, 1, 8, 8], [2, 2], strides=[3, 3], dilations=[2, 2],
              ceil_mode=1)


@case
def maxpool_3d_pads_ceil(d):
    pool_case(d, 'maxpool_3d_pads_ceil', 'MaxPool', [1, 2, 5, 6, 5], [2, 3, 2], strides=[2, 2, 2],
              pads=[1, 0, 1, 0, 1, 0], ceil_mode=1)


@case
def avgpool_3d_same_upper(d):
    pool_case(d, 'avgpool_3d_same_upper', 'AveragePool', [1, 2, 5, 4, 6], [3, 2, 3], strides=[2, 1, 2],
              auto_pad='SAME_UPPER')


@case
def avgpool_3d_pads_include(d):
    pool_case(d, 'avgpool_3d_pads_include', 'AveragePool', [1, 1, 4, 5, 4], [3, 3, 2], strides=[1, 2, 2],
              pads=[1, 1, 0, 1, 1, 1], count_include_pad=1)


@case
def avgpool_1d_same_lower_stride(d):
    pool_case(d, 'avgpool_1d_same_lower_stride', 'AveragePool', [1, 3, 9], [4], strides=[2], auto_pad='SAME_LOWER')


@case
def conv_3d_stride_pad_dilation(d):
    conv_case(d, 'conv_3d_stride_pad_dilation', [2, 3, 5, 6, 5], [4, 3, 2, 3, 2], bias=True, strides=[2, 1, 2],
              pads=[1, 1, 0, 0, 1, 1], dilations=[1, 2, 2])


@case
def conv_3d_groups_same(d):
    conv_case(d, 'conv_3d_groups_same', [1, 4, 4, 5, 3], [6, 2, 3, 3, 1], group=2, strides=[1, 2, 1],
              auto_pad='SAME_UPPER')


@case
def conv_1d_stride_pad_dilation(d):
    conv_case(d, 'conv_1d_stride_pad_dilation', [2, 3, 12], [4, 3, 3], bias=True, strides=[2], pads=[2, 1],
              dilations=[3])


@case
def conv_1d_same_lower(d):
    conv_case(d, 'conv_1d_same_lower', [1, 2, 9], [3, 2, 4], strides=[2], auto_pad='SAME_LOWER')


# ---- older opsets ----


@case
def prelu_opset6_channel_slope(d):
    xd = [2, 3, 2, 2]
    x, sl = values(xd, 15), values([3], 16)
    y = [v if v >= 0 else v * sl[index_of(xd, i)[1]] for i, v in enumerate(x)]
    g = graph([node('PRelu', ['x', 'slope'], ['y'])], [value_info('x', xd), value_info('slope', [3])],
              [value_info('y', xd)])
    write(d, 'prelu_opset6_channel_slope', g, 6, [('x', xd, x), ('slope', [3], sl)], [('y', xd, y)])


def legacy_binary(d, name, op, fn, ad, bd, axis=None):
    a, b = values(ad, 17), values(bd, 18)
    off = len(ad) - len(bd) if axis is None else axis
    y = []
    for i in range(numel(ad)):
        idx = index_of(ad, i)[off:off + len(bd)]
        y.append(fn(a[i], b[sum(j * s for j, s in zip(idx, strides(bd)))]))
    at = {'broadcast': 1}
    if axis is not None:
        at['axis'] = axis
    g = graph([node(op, ['a', 'b'], ['y'], **at)], [value_info('a', ad), value_info('b', bd)], [value_info('y', ad)])
    write(d, name, g, 6, [('a', ad, a), ('b', bd, b)], [('y', ad, y)])


@case
def add_opset6_axis1(d):
    legacy_binary(d, 'add_opset6_axis1', 'Add', lambda u, v: u + v, [2, 3, 4, 5], [3], axis=1)


@case
def mul_opset6_axis0(d):
    legacy_binary(d, 'mul_opset6_axis0', 'Mul', lambda u, v: u * v, [2, 3, 4], [2, 3], axis=0)


@case
def sub_opset6_suffix(d):
    legacy_binary(d, 'sub_opset6_suffix', 'Sub', lambda u, v: u - v, [2, 3, 4], [3, 4])


@case
def gemm_opset6_broadcast(d):
    ad, bd = [3, 4], [4, 5]
    a, b, c = values(ad, 19), values(bd, 20), values([5], 21)
    yd, y = matmul(ad, a, bd, b)
    y = [0.5 * v + 2.0 * c[i % 5] for i, v in enumerate(y)]
    g = graph([node('Gemm', ['a', 'b', 'c'], ['y'], alpha=0.5, beta=2.0, broadcast=1)],
              [value_info('a', ad), value_info('b', bd), value_info('c', [5])], [value_info('y', yd)])
    write(d, 'gemm_opset6_broadcast', g, 6, [('a', ad, a), ('b', bd, b), ('c', [5], c)], [('y', yd, y)])


# ---- control flow ----


def if_case(d, name, cond):
    x = values([2, 3], 25)
    two = tensor('two', [], [2.0])
    then_b = graph([node('Mul', ['x', 'two'], ['t'])], [], [value_info('t', [2, 3])], [two], 'then')
    else_b = graph([node('Neg', ['x'], ['e'])], [], [value_info('e', [2, 3])], name='else')
    g = graph([node('If', ['c'], ['y'], then_branch=('g', then_b), else_branch=('g', else_b))],
              [value_info('c', [], BOOL), value_info('x', [2, 3])], [value_info('y', [2, 3])])
    y = [2 * v for v in x] if cond else [-v for v in x]
    write(d, name, g, 13, [('c', [], [cond], BOOL), ('x', [2, 3], x)], [('y', [2, 3], y)])


@case
def if_runtime_true(d):
    if_case(d, 'if_runtime_true', True)


@case
def if_runtime_false(d):
    if_case(d, 'if_runtime_false', False)


@case
def if_constant_folds(d):
    """The branch not taken holds an op nn2c does not know: only the taken one is imported."""
    x = values([4], 26)
    then_b = graph([node('Relu', ['x'], ['t'])], [], [value_info('t', [4])], name='then')
    else_b = graph([node('NoSuchOp', ['x'], ['e'])], [], [value_info('e', [4])], name='else')
    g = graph([node('Constant', [], ['c'], value_int=1), node('Cast', ['c'], ['cb'], to=BOOL),
               node('If', ['cb'], ['y'], then_branch=('g', then_b), else_branch=('g', else_b))],
              [value_info('x', [4])], [value_info('y', [4])])
    write(d, 'if_constant_folds', g, 13, [('x', [4], x)], [('y', [4], [max(v, 0.0) for v in x])])


@case
def loop_unrolled(d):
    """s = s * 1.5 + i for i in 0..3, scan output s after each step; M and cond constants."""
    x = values([3], 27)
    body = graph([node('Identity', ['cond_in'], ['cond_out']), node('Cast', ['i'], ['fi'], to=FLOAT),
                  node('Mul', ['s_in', 'k'], ['m']), node('Add', ['m', 'fi'], ['s_out']),
                  node('Identity', ['s_out'], ['scan'])],
                 [value_info('i', [], INT64), value_info('cond_in', [], BOOL), value_info('s_in', [3])],
                 [value_info('cond_out', [], BOOL), value_info('s_out', [3]), value_info('scan', [3])], name='body')
    inits = [tensor('M', [], [4], INT64), tensor('go', [], [True], BOOL), tensor('k', [], [1.5])]
    g = graph([node('Loop', ['M', 'go', 'x'], ['s', 'all'], body=('g', body))], [value_info('x', [3])],
              [value_info('s', [3]), value_info('all', [4, 3])], inits)
    s, rows = list(x), []
    for i in range(4):
        s = [f32(v * 1.5) + i for v in s]
        rows += s
    write(d, 'loop_unrolled', g, 13, [('x', [3], x)], [('s', [3], s), ('all', [4, 3], rows)])


def f32(v):
    return struct.unpack('<f', struct.pack('<f', v))[0]


@case
def scan_reverse_axis1(d):
    """Running sums over x's columns from the last, scan outputs stacked on axis 1."""
    init, x = values([2], 28), values([2, 3], 29)
    body = graph([node('Add', ['sum_in', 'next'], ['sum_out']), node('Identity', ['sum_out'], ['scan_out'])],
                 [value_info('sum_in', [2]), value_info('next', [2])],
                 [value_info('sum_out', [2]), value_info('scan_out', [2])], name='body')
    g = graph([node('Scan', ['init', 'x'], ['y', 'z'], body=('g', body), num_scan_inputs=1, scan_input_axes=[1],
                    scan_input_directions=[1], scan_output_axes=[1])],
              [value_info('init', [2]), value_info('x', [2, 3])], [value_info('y', [2]), value_info('z', [2, 3])])
    acc, cols = list(init), []
    for t in (2, 1, 0):
        acc = [acc[r] + x[r * 3 + t] for r in range(2)]
        cols.append(list(acc))
    z = [cols[t][r] for r in range(2) for t in range(3)]
    write(d, 'scan_reverse_axis1', g, 13, [('init', [2], init), ('x', [2, 3], x)], [('y', [2], acc), ('z', [2, 3], z)])


@case
def sequence_split_insert_concat(d):
    """x [5,2] split [2,3] on axis 0, y inserted at 1, the last erased, joined: x[0:2] then y."""
    x, y = values([5, 2], 30), values([1, 2], 31)
    inits = [tensor('sizes', [2], [2, 3], INT64), tensor('one', [], [1], INT64), tensor('last', [], [-1], INT64)]
    g = graph([node('SplitToSequence', ['x', 'sizes'], ['s1']), node('SequenceInsert', ['s1', 'y', 'one'], ['s2']),
               node('SequenceErase', ['s2', 'last'], ['s3']), node('SequenceLength', ['s3'], ['n']),
               node('ConcatFromSequence', ['s3'], ['z'], axis=0)],
              [value_info('x', [5, 2]), value_info('y', [1, 2])], [value_info('z', [3, 2]), value_info('n', [], INT64)],
              inits)
    write(d, 'sequence_split_insert_concat', g, 13, [('x', [5, 2], x), ('y', [1, 2], y)],
          [('z', [3, 2], x[:4] + y), ('n', [], [2], INT64)])


def seq_value_info(name, dims):
    tt = field(1, field(1, FLOAT) + field(2, b''.join(field(1, field(1, x)) for x in dims)))
    return field(1, name) + field(2, field(4, field(1, tt)))


@case
def sequence_input_map(d):
    """A sequence input of 3 tensors [2] (a SequenceProto data file), SequenceMap doubling each, as output."""
    items = [values([2], 32 + i) for i in range(3)]
    body = graph([node('Mul', ['e', 'two'], ['r'])], [value_info('e', [2])], [value_info('r', [2])],
                 [tensor('two', [], [2.0])], 'body')
    g = graph([node('SequenceMap', ['xs'], ['ys'], body=('g', body))], [seq_value_info('xs', [2])],
              [seq_value_info('ys', [2])])
    write(d, 'sequence_input_map', g, 17, [], [])
    for kind, name, vals in (('input', 'xs', items), ('output', 'ys', [[2 * v for v in it] for it in items])):
        seq = field(1, name) + field(2, 1) + b''.join(field(3, tensor('', [2], v)) for v in vals)
        with open(os.path.join(d, 'sequence_input_map', 'test_data_set_0', kind + '_0.pb'), 'wb') as f:
            f.write(seq)


@case
def matmul_integer_per_row(d):
    """int8 A [3,4] with a zero point per row, uint8 B [4,2] with one per column -> int32."""
    a = [(i * 37) % 256 - 128 for i in range(12)]
    b = [(i * 53 + 7) % 256 for i in range(8)]
    azp, bzp = [-3, 5, 100], [7, 200]
    y = [sum((a[i * 4 + k] - azp[i]) * (b[k * 2 + j] - bzp[j]) for k in range(4)) for i in range(3) for j in range(2)]
    g = graph([node('MatMulInteger', ['a', 'b', 'azp', 'bzp'], ['y'])],
              [value_info('a', [3, 4], INT8), value_info('b', [4, 2], UINT8), value_info('azp', [3], INT8),
               value_info('bzp', [2], UINT8)], [value_info('y', [3, 2], INT32)])
    write(d, 'matmul_integer_per_row', g, 13, [('a', [3, 4], a, INT8), ('b', [4, 2], b, UINT8),
                                               ('azp', [3], azp, INT8), ('bzp', [2], bzp, UINT8)],
          [('y', [3, 2], y, INT32)])


@case
def unique_nonzero_constant(d):
    """Unique (axis 1, sorted) and NonZero of a constant: computed at import."""
    c = [3.0, 1.0, 3.0, 0.0, 2.0, 0.0, 3.0, 2.0]  # [2,4]: columns (3,2) (1,0) (3,3) (0,2)
    g = graph([node('Unique', ['c'], ['y', 'idx', 'inv', 'cnt'], axis=1), node('NonZero', ['c'], ['nz']),
               node('Identity', ['x'], ['x2'])], [value_info('x', [1])],
              [value_info('y', [2, 4]), value_info('idx', [4], INT64), value_info('inv', [4], INT64),
               value_info('cnt', [4], INT64), value_info('nz', [2, 6], INT64), value_info('x2', [1])],
              [tensor('c', [2, 4], c)])
    y = [0.0, 1.0, 3.0, 3.0, 2.0, 0.0, 2.0, 3.0]  # columns sorted: (0,2) (1,0) (3,2) (3,3)
    nz = [0, 0, 0, 1, 1, 1, 0, 1, 2, 0, 2, 3]
    write(d, 'unique_nonzero_constant', g, 13, [('x', [1], [0.5])],
          [('y', [2, 4], y), ('idx', [4], [3, 1, 0, 2], INT64), ('inv', [4], [2, 1, 3, 0], INT64),
           ('cnt', [4], [1, 1, 1, 1], INT64), ('nz', [2, 6], nz, INT64), ('x2', [1], [0.5])])


def tfidf_ref(row, grams, skips, lo, hi):
    """Counts of each n-gram in row: windows s + 1 apart, skips 0..skips (unigrams once)."""
    out = []
    for g in grams:
        n, c = len(g), 0
        if lo <= n <= hi:
            for s in range(skips + 1 if n > 1 else 1):
                for i in range(len(row) - (n - 1) * (s + 1)):
                    c += all(row[i + k * (s + 1)] == g[k] for k in range(n))
        out.append(c)
    return out


@case
def tfidf_weighted_batch(d):
    """TFIDF mode with weights on int64 [2,7] ids; the output order set by ngram_indexes."""
    x = [1, 2, 1, 2, 2, 3, 1, 2, 2, 1, 3, 1, 1, 2]
    grams, idx, w = [[1], [2], [1, 2], [2, 1]], [3, 0, 1, 2], [0.5, 2.0, 3.0, 1.5]
    y = []
    for r in range(2):
        c = tfidf_ref(x[r * 7:(r + 1) * 7], grams, 1, 1, 2)
        row = [0.0] * 4
        for g in range(4):
            row[idx[g]] = c[g] * w[g]
        y += row
    g = graph([node('TfIdfVectorizer', ['x'], ['y'], mode='TFIDF', min_gram_length=1, max_gram_length=2,
                    max_skip_count=1, ngram_counts=[0, 2], ngram_indexes=idx, pool_int64s=[1, 2, 1, 2, 2, 1],
                    weights=w)],
              [value_info('x', [2, 7], INT64)], [value_info('y', [2, 4])])
    write(d, 'tfidf_weighted_batch', g, 13, [('x', [2, 7], x, INT64)], [('y', [2, 4], y)])


@case
def dft_onesided_padded(d):
    """A real [2,5,1] signal zero-padded to dft_length 6, onesided: [2,4,2]."""
    x = values([2, 5, 1], 40)
    y = []
    for b in range(2):
        sig = x[b * 5:(b + 1) * 5] + [0.0]
        for k in range(4):
            re = sum(sig[n] * math.cos(2 * math.pi * k * n / 6) for n in range(6))
            im = -sum(sig[n] * math.sin(2 * math.pi * k * n / 6) for n in range(6))
            y += [re, im]
    g = graph([node('DFT', ['x', 'len'], ['y'], axis=1, onesided=1)], [value_info('x', [2, 5, 1])],
              [value_info('y', [2, 4, 2])], [tensor('len', [], [6], INT64)])
    write(d, 'dft_onesided_padded', g, 17, [('x', [2, 5, 1], x)], [('y', [2, 4, 2], y)])


@case
def mel_weight_matrix_edges(d):
    """MelWeightMatrix(5 bins, dft 20, 16 kHz, 300..6000 Hz) from constants: [11,5]."""
    mels, dft, sr, lo, hi = 5, 20, 16000, 300.0, 6000.0
    ml, mh = 2595 * math.log10(1 + lo / 700), 2595 * math.log10(1 + hi / 700)
    step = (mh - ml) / (mels + 2)
    edge = [int(((dft + 1) * (700 * (10 ** ((i * step + ml) / 2595) - 1))) // sr) for i in range(mels + 2)]
    w = [0.0] * (11 * mels)
    for i in range(mels):
        l, c, r = edge[i], edge[i + 1], edge[i + 2]
        for j in range(l, c + 1):
            w[j * mels + i] = 1.0 if c == l else (j - l) / (c - l)
        for j in range(c, r):
            w[j * mels + i] = (r - j) / (r - c)
    inits = [tensor('m', [], [mels], INT64), tensor('n', [], [dft], INT64), tensor('sr', [], [sr], INT64),
             tensor('lo', [], [lo]), tensor('hi', [], [hi])]
    g = graph([node('MelWeightMatrix', ['m', 'n', 'sr', 'lo', 'hi'], ['w']), node('Identity', ['x'], ['x2'])],
              [value_info('x', [1])], [value_info('w', [11, mels]), value_info('x2', [1])], inits)
    write(d, 'mel_weight_matrix_edges', g, 17, [('x', [1], [1.0])], [('w', [11, mels], w), ('x2', [1], [1.0])])


MODELS = {}


def model_only(fn):
    MODELS[fn.__name__] = fn
    return fn


@model_only
def matmul_train():
    """x [N,8] through MatMuls with trainable weights: [N,8] x [8,4], then
    [N,4] x [4,3] and (reshaped) [N,2,2] x [2,3]: the batch N inside
    MatMul's operands of a training graph."""
    inits = [tensor('wa', [8, 4], values([8, 4], 5)), tensor('wb', [4, 3], values([4, 3], 6)),
             tensor('wc', [2, 3], values([2, 3], 7)), tensor('shape', [3], [0, 2, 2], INT64)]
    g = graph([node('MatMul', ['x', 'wa'], ['h']), node('MatMul', ['h', 'wb'], ['a']),
               node('Reshape', ['h', 'shape'], ['h3']), node('MatMul', ['h3', 'wc'], ['c3']),
               node('ReduceSum', ['c3'], ['c'], axes=[1], keepdims=0), node('Add', ['a', 'c'], ['s']),
               node('Softmax', ['s'], ['y'], axis=1)],
              [value_info('x', ['N', 8])], [value_info('y', ['N', 3])], inits)
    return model(g, 13)


@model_only
def conv3d_train():
    """x [N,2,4,4,4] -> 3-D Conv (pads 1, depth stride 2) -> Relu -> 3-D MaxPool
    -> Flatten -> Gemm -> Softmax, all weights trainable."""
    inits = [tensor('w', [3, 2, 3, 3, 3], values([3, 2, 3, 3, 3], 22)), tensor('b', [3], values([3], 23)),
             tensor('fc', [12, 4], values([12, 4], 24))]
    g = graph([node('Conv', ['x', 'w', 'b'], ['c'], pads=[1, 1, 1, 1, 1, 1], strides=[2, 1, 1]),
               node('Relu', ['c'], ['r']), node('MaxPool', ['r'], ['p'], kernel_shape=[2, 2, 2], strides=[2, 2, 2]),
               node('Flatten', ['p'], ['f']), node('Gemm', ['f', 'fc'], ['h']), node('Softmax', ['h'], ['y'], axis=1)],
              [value_info('x', ['N', 2, 4, 4, 4])], [value_info('y', ['N', 4])], inits)
    return model(g, 13)


@model_only
def nonzero_runtime():
    """NonZero of a graph input: its result's shape is not known at compile time."""
    return model(graph([node('NonZero', ['x'], ['y'])], [value_info('x', [4])], [value_info('y', [1, 'n'], INT64)]), 13)


BATCH_W, BATCH_FC = values([3, 2, 3, 3], 8), values([3, 4], 9)


@model_only
def batch_cnn():
    """x [N,2,5,5] and z [N,4], both with the symbolic batch 'batch': Conv
    (pads 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> + z."""
    inits = [tensor('w', [3, 2, 3, 3], BATCH_W), tensor('fc', [3, 4], BATCH_FC)]
    g = graph([node('Conv', ['x', 'w'], ['c'], pads=[1, 1, 1, 1]), node('Relu', ['c'], ['r']),
               node('GlobalAveragePool', ['r'], ['p']), node('Flatten', ['p'], ['f']),
               node('Gemm', ['f', 'fc'], ['h']), node('Add', ['h', 'z'], ['y'])],
              [value_info('x', ['batch', 2, 5, 5]), value_info('z', ['batch', 4])], [value_info('y', ['batch', 4])],
              inits)
    return model(g, 13)


@model_only
def symbolic_inner_dim():
    """x [3, len]: a symbolic dimension that is not the batch needs --dim."""
    return model(graph([node('Relu', ['x'], ['y'])], [value_info('x', [3, 'len'])], [value_info('y', [3, 'len'])]), 13)


def batch_cnn_reference(batch):
    """batch_cnn's outputs on batch_harness.c's inputs, computed here."""
    f32 = lambda v: struct.unpack('<f', struct.pack('<f', v))[0]
    x = [f32(math.sin(0.37 * i)) for i in range(batch * 50)]
    z = [f32(math.cos(0.11 * i)) for i in range(batch * 4)]
    out = []
    for b in range(batch):
        pooled = []
        for o in range(3):
            acc = 0.0
            for i in range(5):
                for j in range(5):
                    v = 0.0
                    for c in range(2):
                        for di in range(3):
                            for dj in range(3):
                                ii, jj = i + di - 1, j + dj - 1
                                if 0 <= ii < 5 and 0 <= jj < 5:
                                    v += x[b * 50 + c * 25 + ii * 5 + jj] * BATCH_W[((o * 2 + c) * 3 + di) * 3 + dj]
                    acc += max(v, 0.0)
            pooled.append(acc / 25)
        for k in range(4):
            out.append(sum(pooled[o] * BATCH_FC[o * 4 + k] for o in range(3)) + z[b * 4 + k])
    return out


def main():
    if sys.argv[1] == '--check-batch':  # --check-batch OUT.txt: batch_harness's output against the reference
        got = [float(l) for l in open(sys.argv[2])]
        want = batch_cnn_reference(64)
        worst = max(abs(g - w) / max(1.0, abs(w)) for g, w in zip(got, want)) if len(got) == len(want) else 1e9
        print('batch_cnn at batch 64: %d outputs, largest relative error %.3g' % (len(got), worst))
        sys.exit(0 if worst <= 1e-5 else 1)
    if sys.argv[1] == '--model':  # --model OUT.onnx NAME: one model without data
        with open(sys.argv[2], 'wb') as f:
            f.write(MODELS[sys.argv[3]]())
        return
    out = sys.argv[1]
    names = sys.argv[2:] or sorted(CASES)
    for n in names:
        CASES[n](out)


main()
