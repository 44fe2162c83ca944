"""nn2c_ckpt.py - nn2c checkpoints (format in runtime/nn2c_rt.h) for the Python test scripts.

read(path) -> (version bytes, {section name: [floats]})
write(path, version bytes, [(name, [floats]), ...]), with the FNV-1a 64 checksum.
"""
import struct


def read(path):
    b = open(path, "rb").read()
    assert b[:8] == b"NN2CCKPT", path + ": not an nn2c checkpoint"
    _, n = struct.unpack_from("<II", b, 8)
    pos, out = 16, {}
    for _ in range(n):
        (ln,) = struct.unpack_from("<I", b, pos)
        name = b[pos + 4:pos + 4 + ln].decode()
        (cnt,) = struct.unpack_from("<Q", b, pos + 4 + ln)
        pos += 12 + ln
        out[name] = list(struct.unpack_from(f"<{cnt}f", b, pos))
        pos += 4 * cnt
    return b[8:12], out


def write(path, version, sections):
    body = b"NN2CCKPT" + version + struct.pack("<I", len(sections))
    for name, vals in sections:
        body += struct.pack("<I", len(name)) + name.encode() + struct.pack("<Q", len(vals))
        body += struct.pack(f"<{len(vals)}f", *vals)
    h = 0xCBF29CE484222325
    for byte in body:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    open(path, "wb").write(body + struct.pack("<Q", h))
