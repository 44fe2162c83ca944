#!/usr/bin/python3
"""pb.py - writes the small ONNX files the shell tests need without
python3-onnx: a protobuf encoder for the few ModelProto and TensorProto
fields they use (numbers as in onnx.proto).

  pb.py relu OUT.onnx D0,D1,...          y = Relu(x), x f32 of that shape
  pb.py ext OUT.onnx LOCATION [OFFSET [LENGTH]]
                                         y = Add(x, w), x and w f32[2,3], w
                                         in external data at LOCATION
  pb.py tensor OUT.pb DTYPE D0,D1,...    a TensorProto of zeros (DTYPE: f32, i64)
"""
import struct, sys


def varint(n):
    if n < 0:  # int64 as two's complement, ten bytes
        n += 1 << 64
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, value):
    """value: int (varint), bytes or str (length-delimited)."""
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


FLOAT, INT64 = 1, 7


def tensor(name, dtype, dims, raw=None, external=None):
    t = b''.join(field(1, d) for d in dims) + field(2, dtype) + field(8, name)
    if raw is not None:
        t += field(9, raw)
    if external:
        for k, v in external:
            t += field(13, field(1, k) + field(2, v))
        t += field(14, 1)  # data_location EXTERNAL
    return t


def value_info(name, dtype, dims):
    shape = b''.join(field(1, field(1, d)) for d in dims)
    return field(1, name) + field(2, field(1, field(1, dtype) + field(2, shape)))


def node(op, ins, outs, name):
    return b''.join(field(1, i) for i in ins) + b''.join(field(2, o) for o in outs) + field(3, name) + field(4, op)


def model(nodes, inputs, outputs, inits=()):
    g = b''.join(field(1, n) for n in nodes) + field(2, 'g')
    g += b''.join(field(5, t) for t in inits)
    g += b''.join(field(11, v) for v in inputs) + b''.join(field(12, v) for v in outputs)
    return field(1, 8) + field(7, g) + field(8, field(1, '') + field(2, 13))


def dims_of(s):
    return [int(d) for d in s.split(',')]


def main():
    kind, out = sys.argv[1], sys.argv[2]
    if kind == 'relu':
        d = dims_of(sys.argv[3])
        data = model([node('Relu', ['x'], ['y'], 'r')], [value_info('x', FLOAT, d)], [value_info('y', FLOAT, d)])
    elif kind == 'ext':
        ext = [('location', sys.argv[3])]
        if len(sys.argv) > 4:
            ext.append(('offset', sys.argv[4]))
        if len(sys.argv) > 5:
            ext.append(('length', sys.argv[5]))
        w = tensor('w', FLOAT, [2, 3], external=ext)
        data = model([node('Add', ['x', 'w'], ['y'], 'a')], [value_info('x', FLOAT, [2, 3])],
                     [value_info('y', FLOAT, [2, 3])], [w])
    elif kind == 'tensor':
        dtype = {'f32': (FLOAT, 4), 'i64': (INT64, 8)}[sys.argv[3]]
        d = dims_of(sys.argv[4])
        n = 1
        for x in d:
            n *= x
        data = tensor('t', dtype[0], d, raw=b'\0' * (n * dtype[1]))
    else:
        sys.exit('pb.py: unknown kind ' + kind)
    with open(out, 'wb') as f:
        f.write(data)


if __name__ == '__main__':
    main()
