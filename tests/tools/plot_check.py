#!/usr/bin/python3
"""plot_check.py SVG NSERIES [PNG] - checks an `nn2c plot` SVG: it parses as XML
(xml.etree), has NSERIES polylines in the series colours and the titles and
legend texts; with PNG (the SVG rendered by a browser), every series colour
covers enough pixels that its curve was drawn. Exit 1 with the reason."""
import struct, sys, zlib
import xml.etree.ElementTree as ET

COLORS = {'train': (0x1f, 0x77, 0xb4), 'validation': (0xff, 0x7f, 0x0e), 'test': (0x2c, 0xa0, 0x2c)}
NS = '{http://www.w3.org/2000/svg}'


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA non-interlaced PNG."""
    data = open(path, 'rb').read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        fail(path + ': not a PNG')
    pos, idat = 8, b''
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    if depth != 8 or ctype not in (2, 6) or interlace:
        fail(f'{path}: PNG depth {depth} colour type {ctype} interlace {interlace} not handled')
    bpp = 3 if ctype == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a, b, c = line[i - bpp] if i >= bpp else 0, prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def main():
    svg, nseries = sys.argv[1], int(sys.argv[2])
    root = ET.parse(svg).getroot()
    if root.tag != NS + 'svg':
        fail(f'root element is {root.tag}')
    lines = root.findall(NS + 'polyline')
    strokes = sorted(l.get('stroke') for l in lines)
    if len(lines) != nseries:
        fail(f'{len(lines)} polylines, expected {nseries}: {strokes}')
    texts = {t.text for t in root.iter(NS + 'text')}
    for want in ('loss', 'accuracy', 'epoch', 'train'):
        if want not in texts:
            fail(f'no text "{want}"')
    print(f'svg ok: {len(lines)} curves {strokes}')
    if len(sys.argv) < 4:
        return
    w, h, rows = png_pixels(sys.argv[3])
    used = {'#%02x%02x%02x' % c: name for name, c in COLORS.items()}
    for stroke in set(strokes):
        rgb = COLORS[used[stroke]]
        n = sum(1 for r in rows for p in r if all(abs(p[k] - rgb[k]) <= 24 for k in range(3)))
        print(f'png: {used[stroke]} {stroke}: {n} pixels')
        if n < 150:
            fail(f'the {used[stroke]} curve is not in the rendered image ({n} pixels of {stroke})')


main()
