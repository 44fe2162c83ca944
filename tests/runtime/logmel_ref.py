#!/usr/bin/env python3
"""logmel_ref.py LOGMEL_DUMP SPEECH_DIR - checks nn2c's log-mel features
against this numpy version of the documented recipe (runtime/nn2c_rt.h,
nn2c_logmel_opts) on a few real clips and several option sets. The WAV is
read with Python's wave module, not nn2c's reader. Exits 77 (skipped) without
numpy or without the clips."""
import os
import subprocess
import sys
import wave

try:
    import numpy as np
except ImportError:
    print("skipped: numpy is not installed")
    sys.exit(77)


def read_clip(path):
    with wave.open(path, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 16000
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768
    return np.pad(x[:16000], (0, max(0, 16000 - len(x))))


def htk_mel_filters(n_mels, n_fft, fmin, fmax):
    to_mel = lambda f: 2595 * np.log10(1 + f / 700)
    edges = 700 * (10 ** (np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2) / 2595) - 1)
    freqs = np.arange(n_fft // 2 + 1) * 16000 / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lo) / (mid - lo)
    falling = (hi - freqs[None, :]) / (hi - mid)
    return np.maximum(0, np.minimum(rising, falling))


def logmel(x, n_mels=20, frames=80, window=400, hop=200, n_fft=None, fmin=0, fmax=8000, normalize=1):
    n_fft = n_fft or 1 << (window - 1).bit_length()
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)
    padded = np.pad(x, (0, frames * hop + window))
    segs = np.stack([padded[t * hop:t * hop + window] * hann for t in range(frames)])
    power = np.abs(np.fft.rfft(segs, n=n_fft, axis=1)) ** 2
    out = np.log(htk_mel_filters(n_mels, n_fft, fmin, fmax) @ power.T + 1e-6)
    return (out - out.mean()) / out.std() if normalize else out


def main():
    dump, root = sys.argv[1], os.path.join(sys.argv[2], "speech_commands_v0.01")
    if not os.path.isdir(root):
        print("skipped: %s is missing" % root)
        sys.exit(77)
    clips = ["bed/62581901_nohash_0.wav", "zero/2f813234_nohash_1.wav", "sheila/6a27a9bf_nohash_0.wav"]
    clips = [c for c in clips if os.path.exists(os.path.join(root, c))] or sorted(
        os.path.join(d, f) for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))
        for f in os.listdir(os.path.join(root, d)))[:3]
    settings = [{}, {"normalize": 0},
                {"n_mels": 40, "frames": 98, "window": 480, "hop": 160, "n_fft": 1024,
                 "fmin": 20, "fmax": 7600, "normalize": 0}]
    worst = 0.0
    for clip in clips:
        x = read_clip(os.path.join(root, clip))
        for opts in settings:
            arg = " ".join("%s=%d" % kv for kv in opts.items())
            got = np.loadtxt(subprocess.run([dump, os.path.join(root, clip), arg], check=True,
                                            capture_output=True, text=True).stdout.splitlines(), ndmin=2)
            want = logmel(x, **opts)
            assert got.shape == want.shape, (clip, arg, got.shape, want.shape)
            err = np.max(np.abs(got - want))
            worst = max(worst, err)
            print("%-32s %-70s max |C - numpy| = %.2e" % (clip, arg or "(defaults)", err))
            if err > 1e-4:
                print("FAIL: differs by more than 1e-4")
                sys.exit(1)
    print("all within 1e-4 (worst %.2e)" % worst)


main()
