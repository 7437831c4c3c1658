#!/usr/bin/env python3
"""Checks the project's fast PNG encoder (Sources/CPNG/stn_png_fast.c) with Pillow, a reader
that shares no code with it. Three steps, run from anywhere (files live in png_encoder/ here):

  python3 check_png_encoder.py make      # source rasters <name>.u8 and manifest.json
  STN_WRITE_PNG_ENCODER_FIXTURES=1 swift test --filter ImageCodecTests/testFastPNGMatchesPillowCheckedFiles
                                         # the encoder writes <name>.png next to each raster
  python3 check_png_encoder.py check     # Pillow must decode every <name>.png to <name>.u8

Without the variable, that Swift test re-encodes every raster and requires the committed .png
bytes exactly, so the files Pillow checked are the ones the encoder still produces. Rerun the
three steps whenever the encoder's output changes on purpose.

The rasters cover the encoder's paths: a photo with black corners (literals and long runs),
gray and RGB, noise (stored blocks), flat (runs only), 1x1, a single column, runs of every
length around deflate's 258 limit.

usage: python3 check_png_encoder.py make|check        (needs numpy and Pillow)
"""
import json, os, sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "png_encoder")


def rotated_with_black_corners(pixels, degrees):
    """Nearest-neighbour rotation about the centre, zeros outside: a stand-in for an augmented photo."""
    h, w = pixels.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    t = np.deg2rad(degrees)
    sx = np.rint(cx + (x - cx) * np.cos(t) + (y - cy) * np.sin(t)).astype(int)
    sy = np.rint(cy - (x - cx) * np.sin(t) + (y - cy) * np.cos(t)).astype(int)
    inside = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
    out = np.zeros_like(pixels)
    out[inside] = pixels[sy[inside], sx[inside]]
    return out


def sources():
    rng = np.random.default_rng(20261204)
    rgb = np.fromfile(os.path.join(HERE, "jpeg_baseline_420.RGB.u8"), np.uint8).reshape(61, 97, 3)
    gray = np.fromfile(os.path.join(HERE, "jpeg_baseline_420.L.u8"), np.uint8).reshape(61, 97)
    runs = []
    value = 0
    for length in list(range(1, 12)) + [255, 256, 257, 258, 259, 260, 515, 516, 517, 1000]:
        runs += [value] * length
        value = (value * 37 + 11) % 256
    runs = np.array(runs[: (len(runs) // 3) * 3], np.uint8)
    return {
        "rgb_photo_corners": rotated_with_black_corners(rgb, 25),
        "gray_photo_corners": rotated_with_black_corners(gray, -17),
        "rgb_noise": rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
        "gray_noise": rng.integers(0, 256, (31, 29), dtype=np.uint8),
        "gray_flat": np.full((17, 33), 255, np.uint8),
        "rgb_flat_black": np.zeros((40, 50, 3), np.uint8),
        "rgb_1x1": np.array([[[200, 10, 77]]], np.uint8),
        "gray_column": (np.arange(300) % 256).astype(np.uint8).reshape(300, 1),
        "rgb_runs": runs.reshape(1, -1, 3),
    }


def make():
    os.makedirs(OUT, exist_ok=True)
    manifest = []
    for name, pixels in sources().items():
        pixels.tofile(os.path.join(OUT, name + ".u8"))
        h, w = pixels.shape[:2]
        manifest.append({"name": name, "width": w, "height": h, "channels": 1 if pixels.ndim == 2 else 3})
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("wrote", len(manifest), "rasters to", OUT)


def check():
    with open(os.path.join(OUT, "manifest.json")) as f:
        manifest = json.load(f)
    failures = 0
    for entry in manifest:
        name = entry["name"]
        expected = np.fromfile(os.path.join(OUT, name + ".u8"), np.uint8)
        image = Image.open(os.path.join(OUT, name + ".png"))
        image.load()
        mode = "L" if entry["channels"] == 1 else "RGB"
        decoded = np.asarray(image).reshape(-1)
        ok = image.mode == mode and image.size == (entry["width"], entry["height"]) and np.array_equal(decoded, expected)
        failures += not ok
        print(("ok  " if ok else "BAD "), name, image.mode, image.size)
    if failures:
        sys.exit(f"{failures} file(s) differ from their rasters")
    print("Pillow decodes all", len(manifest), "files byte-exactly")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1] if len(sys.argv) > 1 else "check"]()
