#!/usr/bin/python3
"""int8_cases.py OUT_DIR - writes ONNX test cases (OUT_DIR/NAME/model.onnx and
test_data_set_0/) for nn2c's int8 kernels at their edges: zero points at the
ends of the ranges, saturation, requantization scales above 1 (short shifts)
and below 2^-32 (the longest shift), per-channel weight scales, ties in
QuantizeLinear, padding, strides, dilations and groups. Expected outputs
follow ONNX's definitions, computed here in exact arithmetic (fractions)
with the f32 roundings ONNX's reference makes; nn2c test-onnx checks the
interpreter and the emitted C against them (integers exactly), so the two
agree bit for bit. Needs neither python3-onnx nor numpy.

  int8_cases.py bad OUT_DIR  models that must be refused: scales 0 and NaN
"""
import os, random, struct, sys
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pb import field, varint  # noqa: E402

FLOAT, UINT8, INT8, INT32 = 1, 2, 3, 6
PACK = {FLOAT: 'f', UINT8: 'B', INT8: 'b', INT32: 'i'}
RANGE = {UINT8: (0, 255), INT8: (-128, 127)}


def f32(v):
    return struct.unpack('<f', struct.pack('<f', v))[0]


def tensor(name, dtype, dims, data):
    raw = struct.pack('<%d%s' % (len(data), PACK[dtype]), *data)
    return b''.join(field(1, d) for d in dims) + field(2, dtype) + field(8, name) + field(9, raw)


def value_info(name, dtype, dims):
    shape = b''.join(field(1, field(1, d)) for d in dims)
    return field(1, name) + field(2, field(1, field(1, dtype) + field(2, shape)))


def attr(name, v):
    if isinstance(v, int):
        return field(1, name) + field(3, v) + field(20, 2)
    return field(1, name) + b''.join(field(8, i) for i in v) + field(20, 7)


def node(op, ins, outs, **attrs):
    return (b''.join(field(1, i) for i in ins) + b''.join(field(2, o) for o in outs) + field(4, op) +
            b''.join(field(5, attr(k, v)) for k, v in attrs.items()))


def write(out, name, nd, inputs, inits, outputs):
    """inputs, inits, outputs: (name, dtype, dims, data)."""
    g = field(1, nd) + field(2, name)
    g += b''.join(field(5, tensor(*t)) for t in inits)
    g += b''.join(field(11, value_info(n, t, d)) for n, t, d, _ in inputs)
    g += b''.join(field(12, value_info(n, t, d)) for n, t, d, _ in outputs)
    m = field(1, 8) + field(7, g) + field(8, field(1, '') + field(2, 13))
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, 'test_data_set_0'), exist_ok=True)
    with open(os.path.join(d, 'model.onnx'), 'wb') as f:
        f.write(m)
    for kind, vals in (('input', inputs), ('output', outputs)):
        for k, t in enumerate(vals):
            with open(os.path.join(d, 'test_data_set_0', '%s_%d.pb' % (kind, k)), 'wb') as f:
                f.write(tensor(*t))


def sat(v, dtype):
    lo, hi = RANGE[dtype]
    return max(lo, min(hi, v))


def requant(acc, scale, zp, dtype):
    """ONNX: round_half_even(acc * scale) + zp, saturated; scale is an f32 value."""
    return sat(round(Fraction(acc) * Fraction(scale)) + zp, dtype)


def rand(rng, dtype, n):
    lo, hi = RANGE[dtype]
    return [rng.randint(lo, hi) for _ in range(n)]


def matmul(a, b, m, k, n, za, zb):
    return [sum((a[i * k + p] - za[i]) * (b[p * n + j] - zb[j]) for p in range(k)) for i in range(m) for j in range(n)]


def qlinear_matmul(out, name, m, k, n, ta, tb, ty, za, zb, zy, a_s, b_s, y_s, seed):
    rng = random.Random(seed)
    a, b = rand(rng, ta, m * k), rand(rng, tb, k * n)
    b_s = [f32(s) for s in b_s]
    acc = matmul(a, b, m, k, n, [za] * m, [zb] * n)
    ys = [f32(f32(f32(a_s) * s) / f32(y_s)) for s in b_s]
    y = [requant(acc[i], ys[i % n if len(ys) > 1 else 0], zy, ty) for i in range(m * n)]
    ins = ['a', 'a_scale', 'a_zero_point', 'b', 'b_scale', 'b_zero_point', 'y_scale', 'y_zero_point']
    write(out, name, node('QLinearMatMul', ins, ['y']), [('a', ta, [m, k], a)],
          [('a_scale', FLOAT, [], [a_s]), ('a_zero_point', ta, [], [za]), ('b', tb, [k, n], b),
           ('b_scale', FLOAT, [len(b_s)] if len(b_s) > 1 else [], b_s), ('b_zero_point', tb, [], [zb]),
           ('y_scale', FLOAT, [], [y_s]), ('y_zero_point', ty, [], [zy])], [('y', ty, [m, n], y)])


def conv(x, w, N, C, H, W, F, KH, KW, s, p, dl, groups, zx, zw):
    """NCHW x, OIHW w; sums of (x - zx)(w - zw[f]) over valid taps (padding adds 0)."""
    OH = (H + p[0] + p[2] - dl[0] * (KH - 1) - 1) // s[0] + 1
    OW = (W + p[1] + p[3] - dl[1] * (KW - 1) - 1) // s[1] + 1
    cg, fg = C // groups, F // groups
    y = []
    for nb in range(N):
        for f in range(F):
            g = f // fg
            for oh in range(OH):
                for ow in range(OW):
                    acc = 0
                    for c in range(cg):
                        for kh in range(KH):
                            for kw in range(KW):
                                ih, iw = oh * s[0] + kh * dl[0] - p[0], ow * s[1] + kw * dl[1] - p[1]
                                if 0 <= ih < H and 0 <= iw < W:
                                    xv = x[((nb * C + g * cg + c) * H + ih) * W + iw] - zx
                                    acc += xv * (w[((f * cg + c) * KH + kh) * KW + kw] - zw[f])
                    y.append(acc)
    return y, OH, OW


def qlinear_conv(out, name, tx, tw, ty, shape, F, K, s, p, dl, groups, zx, zw, zy, x_s, w_s, y_s, bias, seed):
    rng = random.Random(seed)
    N, C, H, W = shape
    x, w = rand(rng, tx, N * C * H * W), rand(rng, tw, F * C // groups * K[0] * K[1])
    acc, OH, OW = conv(x, w, N, C, H, W, F, K[0], K[1], s, p, dl, groups, zx, [zw] * F)
    w_s = [f32(v) for v in w_s]
    b = [rng.randint(-5000, 5000) for _ in range(F)] if bias else [0] * F
    ys = [f32(f32(f32(x_s) * v) / f32(y_s)) for v in w_s]
    y = [requant(acc[i] + b[i // (OH * OW) % F], ys[i // (OH * OW) % F if len(ys) > 1 else 0], zy, ty)
         for i in range(len(acc))]
    ins = ['x', 'x_scale', 'x_zero_point', 'w', 'w_scale', 'w_zero_point', 'y_scale', 'y_zero_point']
    inits = [('x_scale', FLOAT, [], [x_s]), ('x_zero_point', tx, [], [zx]), ('w', tw, [F, C // groups] + K, w),
             ('w_scale', FLOAT, [len(w_s)] if len(w_s) > 1 else [], w_s), ('w_zero_point', tw, [], [zw]),
             ('y_scale', FLOAT, [], [y_s]), ('y_zero_point', ty, [], [zy])]
    if bias:
        ins.append('B')
        inits.append(('B', INT32, [F], b))
    nd = node('QLinearConv', ins, ['y'], strides=s, pads=p, dilations=dl, group=groups)
    write(out, name, nd, [('x', tx, shape, x)], inits, [('y', ty, [N, F, OH, OW], y)])


def integer_cases(out):
    rng = random.Random(7)
    m, k, n = 5, 37, 19  # odd sizes: every tail of a vector loop
    a, b = rand(rng, UINT8, m * k), rand(rng, INT8, k * n)
    za, zb = [0, 255, 128, 1, 254], [rng.randint(-128, 127) for _ in range(n)]
    write(out, 'int8_matmulinteger_row_col_zp', node('MatMulInteger', ['a', 'b', 'za', 'zb'], ['y']),
          [('a', UINT8, [m, k], a), ('za', UINT8, [m], za)], [('b', INT8, [k, n], b), ('zb', INT8, [n], zb)],
          [('y', INT32, [m, n], matmul(a, b, m, k, n, za, zb))])
    x, w = rand(rng, INT8, 2 * 4 * 6 * 5), rand(rng, INT8, 6 * 2 * 3 * 3)
    y, OH, OW = conv(x, w, 2, 4, 6, 5, 6, 3, 3, [2, 1], [1, 2, 0, 1], [1, 2], 2, -128, [127] * 6)
    write(out, 'int8_convinteger_groups_dilated', node('ConvInteger', ['x', 'w', 'zx', 'zw'], ['y'], strides=[2, 1],
                                                      pads=[1, 2, 0, 1], dilations=[1, 2], group=2),
          [('x', INT8, [2, 4, 6, 5], x)], [('w', INT8, [6, 2, 3, 3], w), ('zx', INT8, [], [-128]),
                                           ('zw', INT8, [], [127])], [('y', INT32, [2, 6, OH, OW], y)])


def quantize_cases(out):
    # ties of both signs (x / 0.5 = k + 0.5), saturation both ends, per-axis
    x = [f32(v) for v in (-1.25, -0.75, -0.25, 0.25, 0.75, 1.25, 100.0, -100.0, 63.75, -64.25, 0.0, 2.0)]
    scale, zp = [0.5, 0.25, 1.5], [-1, 127, -128]
    # x / scale rounded to f32 as ONNX's reference divides (exact in double first: the
    # double rounding is harmless for a quotient of two floats)
    y = [sat(round(Fraction(f32(x[i] / scale[i // 4]))) + zp[i // 4], INT8) for i in range(12)]
    write(out, 'int8_quantizelinear_ties_axis', node('QuantizeLinear', ['x', 's', 'z'], ['y'], axis=0),
          [('x', FLOAT, [3, 4], x)], [('s', FLOAT, [3], scale), ('z', INT8, [3], zp)], [('y', INT8, [3, 4], y)])
    xi = [-2147483000, -5, 0, 7, 2147483000, 123456789]
    yf = [f32(f32(float(f32(v)) - float(f32(3))) * f32(0.125)) for v in xi]
    write(out, 'int8_dequantizelinear_int32', node('DequantizeLinear', ['x', 's', 'z'], ['y']),
          [('x', INT32, [6], xi)], [('s', FLOAT, [], [0.125]), ('z', INT32, [], [3])], [('y', FLOAT, [6], yf)])


def all_cases(out):
    qlinear_matmul(out, 'int8_qlinearmatmul_ends', 6, 33, 17, INT8, INT8, INT8, -128, 127, -128, 0.05, [0.02],
                   0.01, 1)
    qlinear_matmul(out, 'int8_qlinearmatmul_saturate_big_scale', 4, 20, 9, UINT8, INT8, UINT8, 255, -128, 0, 0.9,
                   [0.7], 0.001, 2)  # scale 630: a shift of 21
    qlinear_matmul(out, 'int8_qlinearmatmul_tiny_scale', 3, 16, 5, INT8, UINT8, INT8, 0, 0, 127, 1e-6, [1e-6],
                   1000.0, 3)  # scale 1e-15: the longest shift, mostly the zero point
    qlinear_matmul(out, 'int8_qlinearmatmul_per_column', 7, 64, 33, UINT8, INT8, INT8, 128, 0, 3, 0.02,
                   [0.001 * (j + 1) for j in range(33)], 0.05, 4)
    qlinear_matmul(out, 'int8_qlinearmatmul_long_k', 3, 150, 6, INT8, INT8, UINT8, -128, 0, 255, 0.01, [0.002],
                   0.5, 9)  # 150 = 2 x 64 + 22 (VNNI's masked tail) = 4 x 32 + 16 + 6 (AVX-VNNI, AVX2, scalar)
    qlinear_conv(out, 'int8_qlinearconv_signed_x', INT8, INT8, INT8, [1, 7, 5, 4], 3, [3, 3], [1, 2],
                 [2, 1, 1, 0], [1, 1], 1, -128, 0, -128, 0.05, [0.01, 0.03, 0.02], 0.3, True, 10)
    qlinear_conv(out, 'int8_qlinearconv_per_channel_bias', UINT8, INT8, UINT8, [1, 3, 7, 6], 5, [3, 3], [1, 1],
                 [1, 1, 1, 1], [1, 1], 1, 255, 0, 0, 0.02, [0.01, 0.02, 0.03, 0.004, 0.05], 0.1, True, 5)
    qlinear_conv(out, 'int8_qlinearconv_stride_groups', INT8, INT8, INT8, [2, 4, 9, 8], 8, [3, 2], [2, 2],
                 [0, 1, 2, 0], [2, 1], 2, -128, 0, 127, 0.05, [0.01], 0.2, False, 6)
    qlinear_conv(out, 'int8_qlinearconv_depthwise', UINT8, INT8, UINT8, [1, 4, 5, 5], 4, [3, 3], [1, 1],
                 [1, 1, 1, 1], [1, 1], 4, 3, 0, 128, 0.1, [0.05, 0.01, 0.02, 0.07], 0.03, True, 8)
    # 72 channels: a block of 64 and one of 8 (each tile width), 84 pixels (4-row blocks, no tail), K = 45;
    # power-of-two scales: many ties in the fused requantization
    qlinear_conv(out, 'int8_qlinearconv_wide_ties', UINT8, INT8, INT8, [2, 5, 6, 7], 72, [3, 3], [1, 1],
                 [1, 1, 1, 1], [1, 1], 1, 7, 0, -3, 0.5, [2.0 ** -(j % 5 + 2) for j in range(72)], 8.0, True, 11)
    integer_cases(out)
    quantize_cases(out)
    qdq_model(out)
    qdq_model(out, 'int8_qdq_cnn_relu6', True)


def qdq_model(out, name='int8_qdq_cnn', relu6=False):
    """A QDQ network as quantization tools write it: Q/DQ around Conv(+bias)+Relu
    (relu6: Clip(0, 6), clamped in int8 at q(0) and q(6)), MaxPool, Flatten and
    Gemm-style MatMul+Add. Scales are powers of two, so the float graph is exact
    and nn2c's int8 kernels (the qdq_fold pass) must give the same bytes."""
    rng = random.Random(11)
    N, C, H, W, F, K = 2, 2, 6, 6, 3, 3
    sx, zx, sw, sy, zy = 2.0 ** -4, 128, [2.0 ** -5, 2.0 ** -6, 2.0 ** -4], 2.0 ** -3, 3
    x = [rng.randint(-300, 300) / 32.0 for _ in range(N * C * H * W)]  # ties and saturation
    wq = [rng.randint(-127, 127) for _ in range(F * C * K * K)]
    bq = [rng.randint(-200, 200) for _ in range(F)]
    xq = [sat(round(Fraction(v) / Fraction(sx)) + zx, UINT8) for v in x]
    acc, OH, OW = conv(xq, wq, N, C, H, W, F, K, K, [1, 1], [1, 1, 1, 1], [1, 1], 1, zx, [0] * F)
    top = sat(round(Fraction(6) / Fraction(sy)) + zy, UINT8) if relu6 else 255
    yq = [min(max(sat(round((acc[i] + bq[i // (OH * OW) % F]) * Fraction(sx) * Fraction(sw[i // (OH * OW) % F]) /
                            Fraction(sy)) + zy, UINT8), zy), top) for i in range(len(acc))]
    PH, PW = OH // 2, OW // 2
    pq = [max(yq[((nb * F + f) * OH + 2 * ph + a) * OW + 2 * pw + b] for a in range(2) for b in range(2))
          for nb in range(N) for f in range(F) for ph in range(PH) for pw in range(PW)]
    D, M = F * PH * PW, 4
    w2 = [rng.randint(-127, 127) for _ in range(D * M)]
    s2, b2, so, zo = [2.0 ** -6, 2.0 ** -7, 2.0 ** -5, 2.0 ** -6], [rng.randint(-99, 99) for _ in range(M)], 2.0 ** -2, -5
    z = [sum((pq[nb * D + k] - zy) * w2[k * M + m] for k in range(D)) for nb in range(N) for m in range(M)]
    oq = [sat(round((z[i] + b2[i % M]) * Fraction(sy) * Fraction(s2[i % M]) / Fraction(so)) + zo, INT8)
          for i in range(len(z))]
    y = [float((v - zo) * Fraction(so)) for v in oq]
    nodes = [node('QuantizeLinear', ['x', 'sx', 'zx'], ['xq']), node('DequantizeLinear', ['xq', 'sx', 'zx'], ['xd']),
             node('DequantizeLinear', ['wq', 'sw'], ['wd'], axis=0),
             node('Conv', ['xd', 'wd', 'b'], ['c'], pads=[1, 1, 1, 1]),
             node('Clip', ['c', 'c0', 'c6'], ['r']) if relu6 else node('Relu', ['c'], ['r']),
             node('QuantizeLinear', ['r', 'sy', 'zy'], ['rq']), node('DequantizeLinear', ['rq', 'sy', 'zy'], ['rd']),
             node('MaxPool', ['rd'], ['p'], kernel_shape=[2, 2], strides=[2, 2]),
             node('QuantizeLinear', ['p', 'sy', 'zy'], ['pq']), node('DequantizeLinear', ['pq', 'sy', 'zy'], ['pd']),
             node('Flatten', ['pd'], ['fl']), node('DequantizeLinear', ['w2q', 's2'], ['w2d'], axis=1),
             node('MatMul', ['fl', 'w2d'], ['mm']), node('Add', ['mm', 'b2'], ['a']),
             node('QuantizeLinear', ['a', 'so', 'zo'], ['aq']), node('DequantizeLinear', ['aq', 'so', 'zo'], ['y'])]
    b_f = [f32(bq[f] * sx * sw[f]) for f in range(F)]
    b2_f = [f32(b2[m] * sy * s2[m]) for m in range(M)]
    inits = [('sx', FLOAT, [], [sx]), ('zx', UINT8, [], [zx]), ('wq', INT8, [F, C, K, K], wq),
             ('sw', FLOAT, [F], sw), ('b', FLOAT, [F], b_f), ('sy', FLOAT, [], [sy]), ('zy', UINT8, [], [zy]),
             ('w2q', INT8, [D, M], w2), ('s2', FLOAT, [M], s2), ('b2', FLOAT, [M], b2_f), ('so', FLOAT, [], [so]),
             ('zo', INT8, [], [zo])] + ([('c0', FLOAT, [], [0.0]), ('c6', FLOAT, [], [6.0])] if relu6 else [])
    g = b''.join(field(1, n) for n in nodes) + field(2, name)
    g += b''.join(field(5, tensor(*t)) for t in inits)
    g += field(11, value_info('x', FLOAT, [N, C, H, W])) + field(12, value_info('y', FLOAT, [N, M]))
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, 'test_data_set_0'), exist_ok=True)
    with open(os.path.join(d, 'model.onnx'), 'wb') as f:
        f.write(field(1, 8) + field(7, g) + field(8, field(1, '') + field(2, 13)))
    for kind, t in (('input', ('x', FLOAT, [N, C, H, W], x)), ('output', ('y', FLOAT, [N, M], y))):
        with open(os.path.join(d, 'test_data_set_0', kind + '_0.pb'), 'wb') as f:
            f.write(tensor(*t))


def bad_cases(out):
    os.makedirs(out, exist_ok=True)
    for name, s in (('scale_zero', 0.0), ('scale_nan', float('nan'))):
        g = field(1, node('QuantizeLinear', ['x', 's'], ['y'])) + field(2, name)
        g += field(5, tensor('s', FLOAT, [], [s])) + field(11, value_info('x', FLOAT, [4]))
        g += field(12, value_info('y', UINT8, [4]))
        with open(os.path.join(out, name + '.onnx'), 'wb') as f:
            f.write(field(1, 8) + field(7, g) + field(8, field(1, '') + field(2, 13)))
    ins = ['a', 'a_scale', 'a_zero_point', 'b', 'b_scale', 'b_zero_point', 'y_scale', 'y_zero_point']
    g = field(1, node('QLinearMatMul', ins, ['y'])) + field(2, 'qlinear_zero_scale')
    for t in (('a_scale', FLOAT, [], [0.1]), ('a_zero_point', UINT8, [], [0]), ('b', UINT8, [2, 2], [1, 2, 3, 4]),
              ('b_scale', FLOAT, [], [0.0]), ('b_zero_point', UINT8, [], [0]), ('y_scale', FLOAT, [], [1.0]),
              ('y_zero_point', UINT8, [], [0])):
        g += field(5, tensor(*t))
    g += field(11, value_info('a', UINT8, [2, 2])) + field(12, value_info('y', UINT8, [2, 2]))
    with open(os.path.join(out, 'qlinear_zero_scale.onnx'), 'wb') as f:
        f.write(field(1, 8) + field(7, g) + field(8, field(1, '') + field(2, 13)))


if __name__ == '__main__':
    if sys.argv[1] == 'bad':
        bad_cases(sys.argv[2])
    else:
        all_cases(sys.argv[1])
