#!/usr/bin/env python3
"""Builds the EXIF orientation fixtures for STNImageIOTests (writes exif/ next to itself).

One small odd-sized picture (23x15, every pixel different) saved as a JPEG per EXIF
Orientation value 1...8, the tag written with Pillow's Image.Exif (Pillow 13 writes a
big-endian "MM" TIFF block), plus hand-made little-endian ("II") blocks, one of them holding
the tag as a LONG instead of a SHORT, and a PNG with an eXIf chunk. Next to each,
<name>.upright.png holds what Pillow shows: ImageOps.exif_transpose(Image.open(f)).convert("RGB"),
saved losslessly; the project's decoder (Pillow-exact on these JPEGs without the option) must
give exactly those pixels with DecodeOptions(exifOrientation: true).

Also parser_cases.json: TIFF blocks (hand-made oddities, every truncation of two real ones,
seeded random damage) with the orientation Pillow's Image.Exif reads from each, mapped as
ImageOps.exif_transpose maps it (an integer 1...8, else 1; where Pillow raises, 1). Cases where
Pillow reads a non-integer that still selects a transpose (a FLOAT or RATIONAL 6.0) are left out:
the project reads integer types only.

usage: python3 make_exif_fixtures.py        (needs numpy and Pillow)
"""
import os, struct

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "exif")
W, H = 23, 15
ORIENTATION = 0x0112


def picture():
    """Smooth enough for JPEG, asymmetric enough that all eight orientations differ."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 255 * x / (W - 1)
    g = 255 * y / (H - 1)
    b = 128 + 100 * np.sin(x / 3.0 + y / 5.0)
    b[2:5, 3:9] = 20  # a dark block near the top-left corner
    return Image.fromarray(np.clip(np.rint(np.stack([r, g, b], -1)), 0, 255).astype(np.uint8))


def little_endian_exif(value, long=False):
    """"Exif\\0\\0" + an II TIFF block whose IFD0 holds an unrelated entry (ImageWidth) and
    the Orientation entry, a SHORT (or a LONG)."""
    tiff = b"II\x2a\x00" + struct.pack("<I", 8) + struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 0x0100, 4, 1, W)
    if long:
        tiff += struct.pack("<HHII", ORIENTATION, 4, 1, value)
    else:
        tiff += struct.pack("<HHIHH", ORIENTATION, 3, 1, value, 0)
    return b"Exif\x00\x00" + tiff + struct.pack("<I", 0)


def save_expected(path):
    upright = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    upright.save(os.path.splitext(path)[0] + ".upright.png")
    return upright


def main():
    os.makedirs(OUT, exist_ok=True)
    image = picture()
    shapes = {}
    for value in range(1, 9):
        exif = Image.Exif()
        exif[ORIENTATION] = value
        path = os.path.join(OUT, f"orientation_{value}.jpg")
        image.save(path, quality=95, exif=exif.tobytes())
        assert Image.open(path).getexif()[ORIENTATION] == value
        shapes[value] = save_expected(path).size
    for value, name, long in ((3, "ii", False), (6, "ii", False), (5, "ii_long", True)):
        path = os.path.join(OUT, f"orientation_{value}_{name}.jpg")
        image.save(path, quality=95, exif=little_endian_exif(value, long))
        assert Image.open(path).getexif()[ORIENTATION] == value
        save_expected(path)
    exif = Image.Exif()
    exif[ORIENTATION] = 8
    path = os.path.join(OUT, "orientation_8_exif_chunk.png")
    image.save(path, exif=exif.tobytes())
    assert Image.open(path).getexif()[ORIENTATION] == 8
    save_expected(path)
    assert shapes[1] == (W, H) and shapes[6] == (H, W)
    write_parser_cases()
    print("wrote", len(os.listdir(OUT)), "files to", OUT)


# MARK: - parser cases judged by Pillow

def tiff_block(entries, endian="<", count=None, magic=42):
    """IFD0 at offset 8 holding (tag, type, count, value) entries with inline values."""
    t = (b"II" if endian == "<" else b"MM") + struct.pack(endian + "HI", magic, 8)
    t += struct.pack(endian + "H", len(entries) if count is None else count)
    for tag, typ, n, value in entries:
        if typ in (1, 2, 6, 7):
            inline = bytes([value & 255, 0, 0, 0])
        elif typ in (3, 8):
            inline = struct.pack(endian + "HH", value & 0xFFFF, 0)
        else:
            inline = struct.pack(endian + "I", value & 0xFFFFFFFF)
        t += struct.pack(endian + "HHI", tag, typ, n) + inline
    return t + b"\0\0\0\0"


def pillow_orientation(tiff):
    """What exif_transpose would apply: None for a case to leave out."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exif = Image.Exif()
            exif.load(b"Exif\x00\x00" + tiff)
            value = exif.get(ORIENTATION, 1)
        except Exception:
            return 1
    if type(value) is int:
        return value if 1 <= value <= 8 else 1
    try:
        selects = value in range(2, 9) or value in (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
    except TypeError:
        selects = False
    return None if selects else 1


def write_parser_cases():
    import json, random
    O = ORIENTATION
    cases = {
        "short ii": tiff_block([(O, 3, 1, 6)]),
        "short mm": tiff_block([(O, 3, 1, 6)], ">"),
        "long mm": tiff_block([(O, 4, 1, 7)], ">"),
        "byte (bytes in Pillow)": tiff_block([(O, 1, 1, 6)]),
        "signed byte": tiff_block([(O, 6, 1, 6)]),
        "signed short": tiff_block([(O, 8, 1, 2)], ">"),
        "signed short negative": tiff_block([(O, 8, 1, 0xFFFA)]),
        "signed long": tiff_block([(O, 9, 1, 5)]),
        "ifd type": tiff_block([(O, 13, 1, 4)]),
        "undefined": tiff_block([(O, 7, 1, 6)]),
        "ascii": tiff_block([(O, 2, 1, 0x36)]),
        "short count 2": tiff_block([(O, 3, 2, 6)]),
        "short count 3 at a bad offset": tiff_block([(O, 3, 3, 6)]),
        "count 0 then valid": tiff_block([(O, 3, 0, 3), (O, 3, 1, 6)]),
        "unknown type then valid": tiff_block([(O, 14, 1, 3), (O, 3, 1, 6)]),
        "first of two decides": tiff_block([(O, 3, 1, 3), (O, 3, 1, 6)]),
        "invalid first of two": tiff_block([(O, 3, 1, 42), (O, 3, 1, 6)]),
        "among other tags": tiff_block([(0x0100, 4, 1, 640), (0x0101, 4, 1, 480), (O, 3, 1, 8)], ">"),
        "value 0": tiff_block([(O, 3, 1, 0)]),
        "value 9": tiff_block([(O, 3, 1, 9)]),
        "entry count past the end": tiff_block([(O, 3, 1, 6)], count=500),
        "magic 43": tiff_block([(O, 3, 1, 6)], magic=43),
        "magic 0": tiff_block([(O, 3, 1, 6)], magic=0),
        "magic byte-swapped ii": b"II\x00\x2a" + tiff_block([(O, 3, 1, 6)])[4:],
        "magic byte-swapped mm": b"MM\x2a\x00" + tiff_block([(O, 3, 1, 3)], ">")[4:],
        "bad byte order": b"IM" + tiff_block([(O, 3, 1, 6)])[2:],
        "ifd offset past the end": b"II*\x00\xf0\xff\xff\x7f" + tiff_block([(O, 3, 1, 6)])[8:],
        "empty": b"",
    }
    real = [tiff_block([(O, 3, 1, 6)], ">"), tiff_block([(0x0100, 4, 1, W), (O, 4, 1, 5)])]
    for k, block in enumerate(real):
        for cut in range(len(block)):
            cases[f"real {k} cut at {cut}"] = block[:cut]
    rng = random.Random(1404)
    for n in range(300):
        block = bytearray(real[n % 2])
        for _ in range(rng.randint(1, 3)):
            block[rng.randrange(len(block))] = rng.randrange(256)
        cases[f"random damage {n}"] = bytes(block)
    out = []
    for name, block in cases.items():
        expected = pillow_orientation(block)
        if expected is not None:
            out.append({"name": name, "tiff": block.hex(), "orientation": expected})
    with open(os.path.join(OUT, "parser_cases.json"), "w") as f:
        json.dump(out, f, indent=0)
    print(len(out), "parser cases,", len(cases) - len(out), "left out")


if __name__ == "__main__":
    main()
