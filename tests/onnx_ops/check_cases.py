#!/usr/bin/python3
"""check_cases.py [--emit] NN2C OPS_DEF CASE_DIR... - runs ONNX backend node
test cases through nn2c without the ONNX importer: each single-node model
becomes an IR graph whose inputs are constants. By default
`--passes=shape,constfold` computes the node with the interpreter kernels and
the folded outputs are compared with the case's expected outputs (rtol 1e-3,
atol 1e-5). With --emit the graph is compiled to C without constfold, built
with cc -std=c99 -Wall -Wextra -Werror -pedantic and run through NAME_run.
Shape-like inputs become attributes named after the ONNX input, as
docs/contracts say. Needs python3-onnx; exits 77 (skip) without it.
Prints PASS/FAIL/UNSUPPORTED per case and a summary; exits 1 on a FAIL."""
import os, re, subprocess, sys
try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError:
    print("skip: python3-onnx is not installed")
    sys.exit(77)

# ONNX inputs that are compile-time parameters: position -> attribute name.
ATTR_INPUTS = {
    'Reshape': {1: 'shape'}, 'Expand': {1: 'shape'}, 'Tile': {1: 'repeats'},
    'Slice': {1: 'starts', 2: 'ends', 3: 'axes', 4: 'steps'},
    'Pad': {1: 'pads', 2: 'constant_value', 3: 'axes'}, 'Squeeze': {1: 'axes'},
    'Unsqueeze': {1: 'axes'}, 'Split': {1: 'split'}, 'OneHot': {1: 'depth', 2: 'values'},
    'Range': {0: 'start', 1: 'limit', 2: 'delta'}, 'Resize': {1: 'roi', 2: 'scales', 3: 'sizes'},
    'Upsample': {1: 'scales'}, 'ConstantOfShape': {0: 'input'}, 'Trilu': {1: 'k'},
}
DTYPES = {np.float32: 'f32', np.float64: 'f64', np.int8: 'i8', np.int16: 'i16', np.int32: 'i32',
          np.int64: 'i64', np.uint8: 'u8', np.uint16: 'u16', np.uint32: 'u32', np.uint64: 'u64',
          np.bool_: 'bool'}
LIST_ATTRS = {'axes', 'pads', 'shape', 'repeats', 'starts', 'ends', 'steps', 'split', 'values',
              'roi', 'scales', 'sizes', 'input'}


def num(v, isfloat):
    if isfloat:
        s = repr(float(v))
        return s if ('.' in s or 'e' in s or 'n' in s) else s + '.0'
    return str(int(v))


def attr_text(name, a):
    isfloat = a.dtype.kind == 'f'
    if a.ndim == 0 and name not in LIST_ATTRS:
        return f'{name}={num(a.item(), isfloat)}'
    return f'{name}=[' + ', '.join(num(x, isfloat) for x in a.flatten()) + ']'


def onnx_attr(a):
    v = onnx.helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return [f'{a.name}="{v.decode()}"']
    if isinstance(v, onnx.TensorProto):  # ConstantOfShape value: a scalar and its dtype
        t = numpy_helper.to_array(v)
        return [attr_text(a.name, t.reshape(())), f'dtype={v.data_type}']
    if isinstance(v, float):
        return [f'{a.name}={num(v, True)}']
    if isinstance(v, int):
        return [f'{a.name}={v}']
    if isinstance(v, list) and all(isinstance(x, int) for x in v):
        return [f'{a.name}=[' + ', '.join(map(str, v)) + ']']
    if isinstance(v, list) and all(isinstance(x, float) for x in v):
        return [f'{a.name}=[' + ', '.join(num(x, True) for x in v) + ']']
    raise ValueError(f'attribute {a.name}')


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, 'rb') as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def ir_ops(defs):
    ops = {}
    for line in open(defs):
        m = re.match(r'(?:EW|OP|SCRATCH_OP)\(\w+, (\w+), "(\w+)"', line)
        if m:
            ops[m.group(2)] = m.group(1)
    return ops


def build(case, ops):
    m = onnx.load(os.path.join(case, 'model.onnx'))
    g = m.graph
    if len(g.node) != 1:
        return None, 'several nodes'
    n = g.node[0]
    if n.op_type not in ops:
        return None, n.op_type
    if not EMIT and all(i in ATTR_INPUTS.get(n.op_type, {}) for i in range(len(n.input))):
        return None, 'no tensor inputs: constfold leaves generators alone (checked with --emit)'
    data = os.path.join(case, 'test_data_set_0')
    ins = [load_pb(os.path.join(data, f'input_{i}.pb')) for i in range(len(g.input))]
    vals = {vi.name: a for vi, a in zip(g.input, ins)}
    lines = ['graph t {', '  input dummy_: f32[1]']
    args, attrs = [], []
    conv = ATTR_INPUTS.get(n.op_type, {})
    for i, name in enumerate(n.input):
        if name == '':
            continue
        a = vals[name]
        if i in conv:
            attrs.append(attr_text(conv[i], a))
            if n.op_type in ('Range', 'OneHot') and i == len(n.input) - 1:
                attrs.append(f'dtype={onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype]}')
            continue
        if a.dtype.type not in DTYPES:
            return None, f'dtype {a.dtype}'
        shape = ','.join(map(str, a.shape))
        elems = ', '.join(num(x, a.dtype.kind == 'f') for x in a.flatten())
        if a.ndim == 0:
            elems = num(a.item(), a.dtype.kind == 'f')
        else:
            elems = '[' + elems + ']'
        lines.append(f'  const v_{i}: {DTYPES[a.dtype.type]}[{shape}] = {elems}')
        args.append(f'v_{i}')
    for a in n.attribute:
        attrs += onnx_attr(a)
    outs = [f'y_{k}' for k in range(len(n.output))]
    lines.append(f'  {", ".join(outs)} = {ops[n.op_type]}({", ".join(args + attrs)})')
    lines += [f'  output {o}' for o in outs]
    lines.append('}')
    expect = [load_pb(os.path.join(data, f'output_{k}.pb')) for k in range(len(n.output))]
    return '\n'.join(lines) + '\n', expect


def parse_consts(text):
    res = {}
    for m in re.finditer(r'const (\w+): (\w+)\[([^\]]*)\] = (\[[^\]]*\]|\S+)', text):
        body = m.group(4).strip('[]').replace('\n', ' ')
        items = [x for x in body.replace(',', ' ').split() if x]
        res[m.group(1)] = np.array([float(x) for x in items])
    return res


def harness(sizes):
    """A main() that runs t_run (the typed inference API) and writes each output's bytes."""
    n = len(sizes)
    bufs = ''.join(f'static unsigned char o{k}[{max(sz, 1)}];\n' for k, sz in enumerate(sizes))
    outs = ', '.join(f'o{k}' for k in range(n))
    writes = ''.join(f'  fwrite(o{k}, 1, {sz}, stdout);\n' for k, sz in enumerate(sizes))
    return f"""#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "t.h"
{bufs}int main(void) {{
  static float params[t_PARAM_FLOATS + 1], state[t_STATE_FLOATS + 1];
  t_Model m;
  memset(&m, 0, sizeof m);
  m.params = params, m.state = state, m.max_batch = 1;
  m.arena = aligned_alloc(64, (t_arena_bytes(1) + 63) / 64 * 64 + 64);
  float x[1] = {{0}};
  const void *in[1] = {{x}};
  void *out[{n}] = {{{outs}}};
  int rc = t_run(&m, in, out, 1);
{writes}  return rc;
}}
"""


def run_emitted(nn2c, text, expect, work):
    """Compiles the graph to C, runs it; returns ([outputs], why)."""
    os.makedirs(work, exist_ok=True)
    with open(f'{work}/t.ir', 'w') as f:
        f.write(text)
    r = subprocess.run([nn2c, 'compile', f'{work}/t.ir', '-o', f'{work}/src',
                        '--passes=shape,dce,schedule,memplan'], capture_output=True, text=True)
    if r.returncode:
        return None, 'compile: ' + (r.stderr.strip().splitlines() or ['?'])[-1]
    sizes = [e.size * e.dtype.itemsize for e in expect]
    with open(f'{work}/src/main.c', 'w') as f:
        f.write(harness(sizes))
    cc = os.environ.get('CC', 'cc')
    r = subprocess.run([cc, '-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-Wno-unused-parameter', '-O1',
                        '-D_ISOC11_SOURCE', '-o', f'{work}/run', f'{work}/src/main.c', f'{work}/src/t.c', '-lm'],
                       capture_output=True, text=True)
    if r.returncode:
        return None, 'cc: ' + ' | '.join(r.stderr.strip().splitlines()[:3])
    r = subprocess.run([f'{work}/run'], capture_output=True)
    if r.returncode:
        return None, f'step function returned {r.returncode}'
    outs, off = [], 0
    for e, sz in zip(expect, sizes):
        dt = np.uint8 if e.dtype == np.bool_ else e.dtype
        outs.append(np.frombuffer(r.stdout, dtype=dt, count=e.size, offset=off).astype(np.float64))
        off += sz
    return outs, None


def main():
    global EMIT
    emit = EMIT = len(sys.argv) > 1 and sys.argv[1] == '--emit'
    args = sys.argv[2:] if emit else sys.argv[1:]
    nn2c, defs, cases = args[0], args[1], args[2:]
    ops = ir_ops(defs)
    npass = nfail = nskip = 0
    tmp = os.environ.get('TMPDIR', '/tmp') + f'/nn2c_cases_{os.getpid()}.ir'
    for case in cases:
        name = os.path.basename(case.rstrip('/'))
        try:
            text, expect = build(case, ops)
        except (ValueError, KeyError, TypeError) as e:
            text, expect = None, str(e)
        if text is None:
            print(f'UNSUPPORTED {name}: {expect}')
            nskip += 1
            continue
        why = None
        if emit:
            outs, why = run_emitted(nn2c, text, expect, tmp + '.d')
            got = {f'y_{k}': o for k, o in enumerate(outs or [])}
        else:
            with open(tmp, 'w') as f:
                f.write(text)
            r = subprocess.run([nn2c, 'compile', tmp, '--emit=ir', '--passes=shape,constfold'],
                               capture_output=True, text=True)
            if r.returncode:
                why = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f'exit {r.returncode}'
            got = parse_consts(r.stdout) if not why else {}
        if not why:
            for k, e in enumerate(expect):
                g = got.get(f'y_{k}')
                ef = e.astype(np.float64).flatten()
                if g is None:
                    why = f'output {k} was not folded'
                elif g.shape != ef.shape:
                    why = f'output {k} has {g.size} elements, expected {ef.size}'
                elif not np.allclose(g, ef, rtol=1e-3, atol=1e-5, equal_nan=True):
                    i = int(np.argmax(np.abs(g - ef)))
                    why = f'output {k}[{i}] = {g[i]}, expected {ef[i]}'
                if why:
                    break
        if why:
            print(f'FAIL {name}: {why}')
            nfail += 1
        else:
            print(f'PASS {name}')
            npass += 1
    if os.path.exists(tmp):
        os.remove(tmp)
    subprocess.run(['rm', '-rf', tmp + '.d'])
    print(f'{npass} passed, {nfail} failed, {nskip} skipped')
    return 1 if nfail else 0


sys.exit(main())
