"""qdq_nchw.py IN.onnx OUT.onnx - the same QDQ model with its layout moves on the int8 side.

nn2c's exporter writes NHWC models: each Conv and MaxPool sits between Transposes, and in a
QDQ model those Transposes separate a DequantizeLinear from its Conv (and a Reshape separates
one from its MatMul). ONNX Runtime fuses DQ -> op -> Q into integer kernels only when they are
adjacent, so on nn2c's q.onnx it computes in float. This rewrite computes the same function
(every move commutes with per-tensor Q/DQ and with Relu; a per-channel DQ's axis follows its
Transpose) with the moves applied to the int8 tensors instead, then cancels the Transpose pairs
that meet: ONNX Runtime then runs its QLinearConv / int8 MaxPool / QLinearMatMul kernels. Used by
bench/int8.sh to time ONNX Runtime's int8 path on the model nn2c runs.
"""
import sys

import onnx
from onnx import helper


def attr(n, name, default=None):
    for a in n.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def rewrite(g):
    users = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    prod = {o: n for n in g.node for o in n.output}
    outs = {o.name for o in g.output}

    def only(name):  # the single consumer of value name (not a graph output), else None
        u = users.get(name, [])
        return u[0] if len(u) == 1 and name not in outs else None

    for t in g.node:
        d = prod.get(t.input[0]) if t.input else None
        if t.op_type in ('Transpose', 'Reshape') and d is not None and only(d.output[0]) is t:
            # move: DQ -> T  becomes  T -> DQ
            if d.op_type == 'DequantizeLinear':
                per_tensor = all(len(init_dims(g, s)) == 0 for s in d.input[1:])
                if t.op_type == 'Reshape' and not per_tensor:
                    continue
                if t.op_type == 'Transpose' and not per_tensor:
                    perm = list(attr(t, 'perm'))
                    axis = attr(d, 'axis', 1)
                    keep = [a for a in d.attribute if a.name != 'axis']
                    del d.attribute[:]
                    d.attribute.extend(keep + [helper.make_attribute('axis', perm.index(axis))])
                x, y = d.input[0], t.output[0]
                t.input[0], t.output[0] = x, y + '_q8'
                d.input[0], d.output[0] = y + '_q8', y
                return True
            # move: T -> Relu / Q  becomes  Relu / Q -> T
        if t.op_type == 'Transpose':
            r = only(t.output[0])
            if r is not None and (r.op_type == 'Relu' or (r.op_type == 'QuantizeLinear' and
                                                           all(len(init_dims(g, s)) == 0 for s in r.input[1:]))):
                x, y = t.input[0], r.output[0]
                r.input[0], r.output[0] = x, y + '_pre'
                t.input[0], t.output[0] = y + '_pre', y
                return True
            if d is not None and d.op_type == 'Transpose' and only(d.output[0]) is t:
                p1, p2 = list(attr(d, 'perm')), list(attr(t, 'perm'))
                if [p1[i] for i in p2] == list(range(len(p1))) and t.output[0] not in outs:  # they cancel
                    for u in users.get(t.output[0], []):
                        for k, i in enumerate(u.input):
                            if i == t.output[0]:
                                u.input[k] = d.input[0]
                    g.node.remove(t)
                    g.node.remove(d)
                    return True
    return False


def init_dims(g, name):
    for i in g.initializer:
        if i.name == name:
            return list(i.dims)
    return []


def main():
    m = onnx.load(sys.argv[1])
    while rewrite(m.graph):
        pass
    order, done, pending = [], set(i.name for i in m.graph.input) | set(i.name for i in m.graph.initializer), list(
        m.graph.node)
    while pending:  # topological order again
        ready = [n for n in pending if all(i in done or not i for i in n.input)]
        if not ready:
            sys.exit('qdq_nchw.py: the rewritten graph has a cycle')
        for n in ready:
            order.append(n)
            done.update(n.output)
            pending.remove(n)
    m.graph.ClearField('node')
    m.graph.node.extend(order)
    onnx.checker.check_model(m)
    onnx.save(m, sys.argv[2])


if __name__ == '__main__':
    main()
