#!/usr/bin/python3
"""Prints the PIL reference values that ImagePreprocessorTests hard-codes.

Run with Debian's /usr/bin/python3 (PIL 9.4). The input is a deterministic 7x9 grayscale pattern; the outputs are
PIL's bicubic resizes (what timm's transforms use) to 4x5 (down) and 12x10 (up), and PIL's RGB->L conversion.
"""
import numpy as np
from PIL import Image

h, w = 7, 9
src = np.array([[(x * 37 + y * 91) % 256 for x in range(w)] for y in range(h)], dtype=np.uint8)
img = Image.fromarray(src, mode="L")
for (oh, ow) in [(4, 5), (12, 10)]:
    out = np.asarray(img.resize((ow, oh), Image.BICUBIC))
    print(f"// PIL bicubic {h}x{w} -> {oh}x{ow}")
    print("new byte[] { " + ", ".join(str(v) for v in out.flatten()) + " }")

rgb = np.stack([src, np.flipud(src), np.fliplr(src)], axis=-1)
gray = np.asarray(Image.fromarray(rgb, mode="RGB").convert("L"))
print("// PIL RGB->L of (src, flipud(src), fliplr(src))")
print("new byte[] { " + ", ".join(str(v) for v in gray.flatten()) + " }")
