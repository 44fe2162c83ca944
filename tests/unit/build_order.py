#!/usr/bin/env python3
"""Fails when one C call has two or more arguments that build IR.

C leaves the order in which a call's arguments are evaluated unspecified. IR builders
(calls taking the graph: `f(g, ...)`, `f(L->g, ...)`, `f(I->g, ...)`, and the K()/MUL()-style
macros over them) create values whose names come from a counter, so `add(g, mul(g, a, b),
mul(g, c, d))` names its values in an order that depends on the compiler that built nn2c
(gcc evaluates right to left, clang left to right), and so does the IR and the emitted C.
Each such argument must be built in its own statement first.
Usage: build_order.py ROOT"""
import re, sys, pathlib

BUILDER = re.compile(r'\b([A-Za-z_]\w*)\s*\(\s*(?:(?:[A-Za-z_]\w*->)?g|I|L)\b|\b(K|MUL|ADD|SUB|DIV)\s*\(')

# Functions that take the graph (or a `g` that is not one) but build nothing.
READERS = {'graph_block_layout', 'graph_find', 'L'}

def builds(arg):
    return any(m.group(1) not in READERS for m in BUILDER.finditer(arg))

def strip(text):
    """Comments and string literals blanked, offsets kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith('/*', i):
            j = text.find('*/', i + 2); j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif text.startswith('//', i):
            j = text.find('\n', i); j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j
        elif text[i] in '"\'':
            q, j = text[i], i + 1
            while j < n and text[j] != q:
                j += 2 if text[j] == '\\' else 1
            out.append(q + ' ' * (j - i - 1) + q); i = j + 1
        else:
            out.append(text[i]); i += 1
    return ''.join(out)

def args_of(text, open_paren):
    """The top-level argument strings of the call whose '(' is at open_paren."""
    depth, start, args = 0, open_paren + 1, []
    for i in range(open_paren, len(text)):
        c = text[i]
        if c in '([{': depth += 1
        elif c in ')]}':
            depth -= 1
            if depth == 0:
                args.append(text[start:i]); return args
        elif c == ',' and depth == 1:
            args.append(text[start:i]); start = i + 1
    return args

def scan(path):
    text = strip(path.read_text())
    found = []
    for m in re.finditer(r'\b([A-Za-z_]\w*)\s*\(', text):
        if m.group(1) in ('if', 'while', 'for', 'switch', 'return', 'sizeof'): continue
        args = args_of(text, m.end() - 1)
        if sum(1 for a in args if builds(a)) >= 2:
            found.append((text.count('\n', 0, m.start()) + 1, m.group(1)))
    return found

root = pathlib.Path(sys.argv[1])
bad = []
for f in sorted((root / 'compiler').rglob('*.c')):
    for line, name in scan(f):
        bad.append(f'{f.relative_to(root)}:{line}: {name}(...) builds IR in two or more arguments')
for b in bad: print(b)
if bad:
    print(f'FAIL: {len(bad)} calls whose IR depends on the argument evaluation order of the host compiler')
    sys.exit(1)
print('ok: no call builds IR in two arguments')
