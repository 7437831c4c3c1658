#!/usr/bin/env python3
"""Builds the image-decoding fixtures for STNImageIOTests (run from anywhere; writes next to itself).

For every JPEG/PNG layout the decoder supports, writes a small odd-sized image (97x61) and the
pixels Pillow decodes from it, as raw 8-bit files:
  <name>.<ext>        the image
  <name>.L.u8         expected gray pixels   (H*W bytes, row-major)
  <name>.RGB.u8       expected RGB pixels    (H*W*3 bytes, interleaved)
and manifest.json listing them. Expected values are Pillow's `Image.open(f).convert("L")` /
`convert("RGB")`, except for 16-bit PNGs: Pillow clips 16-bit samples to 8 bits, while the
project scales them like libpng's png_set_scale_16, round(v/257); for those the expected values
are computed from the 16-bit source here (gray: Pillow's luma formula applied to the scaled RGB).
Also writes bad/: a few damaged files (the tests generate many more from the good ones).

usage: python3 make_fixtures.py        (needs numpy and Pillow)
"""
import io, json, os, struct, zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 97, 61
rng = np.random.default_rng(20261124)


# MARK: - source pictures

def smooth_rgb():
    """A photo-like picture: gradients, a disc, some texture and noise (JPEG-realistic)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 128 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)
    g = 255 * x / (W - 1)
    b = 255 * y / (H - 1)
    disc = (x - 60) ** 2 + (y - 25) ** 2 < 15 ** 2
    r[disc], g[disc], b[disc] = 230, 40, 60
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (H, W, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def random16(channels):
    return rng.integers(0, 65536, (H, W, channels), dtype=np.uint32).astype(np.uint16)


def luma(rgb):
    """Pillow's rgb2l: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16."""
    rgb = rgb.astype(np.uint32)
    return ((rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


def scale16(v):
    """round(v/257), which is libpng's png_set_scale_16."""
    return np.rint(v.astype(np.float64) / 257.0).astype(np.uint8)


# MARK: - raw PNG writer (16-bit, gray+alpha, low bit depths, Adam7 interlace)

def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_rows(samples, bit_depth):
    """samples (h, w, c) -> list of filter-0 scanlines."""
    h = samples.shape[0]
    rows = []
    for yy in range(h):
        row = samples[yy].reshape(-1)
        if bit_depth == 16:
            raw = row.astype(">u2").tobytes()
        elif bit_depth == 8:
            raw = row.astype(np.uint8).tobytes()
        else:
            per = 8 // bit_depth
            padded = np.zeros(((len(row) + per - 1) // per) * per, dtype=np.uint8)
            padded[: len(row)] = row
            packed = np.zeros(len(padded) // per, dtype=np.uint8)
            for k in range(per):
                packed |= (padded[k::per] << (8 - bit_depth * (k + 1))).astype(np.uint8)
            raw = packed.tobytes()
        rows.append(b"\x00" + raw)
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def raw_png(samples, color_type, bit_depth, interlace=False, palette=None, trns=None):
    h, w = samples.shape[:2]
    if interlace:
        data = b""
        for xs, ys, dx, dy in ADAM7:
            sub = samples[ys::dy, xs::dx]
            if sub.shape[0] and sub.shape[1]:
                data += b"".join(pack_rows(sub, bit_depth))
    else:
        data = b"".join(pack_rows(samples, bit_depth))
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(data, 9))
    out += chunk(b"IEND", b"")
    return out


# MARK: - fixtures

manifest = []


def save(name, ext, data, expected_l, expected_rgb, layout):
    with open(os.path.join(HERE, f"{name}.{ext}"), "wb") as f:
        f.write(data)
    with open(os.path.join(HERE, f"{name}.L.u8"), "wb") as f:
        f.write(np.ascontiguousarray(expected_l, dtype=np.uint8).tobytes())
    with open(os.path.join(HERE, f"{name}.RGB.u8"), "wb") as f:
        f.write(np.ascontiguousarray(expected_rgb, dtype=np.uint8).tobytes())
    manifest.append({"file": f"{name}.{ext}", "layout": layout, "width": W, "height": H,
                     "gray": f"{name}.L.u8", "rgb": f"{name}.RGB.u8"})


def save_with_pillow_expectation(name, ext, data, layout):
    """Expected values: what Pillow decodes from these exact bytes."""
    im = Image.open(io.BytesIO(data))
    im.load()
    assert im.size == (W, H), (name, im.size)
    save(name, ext, data, np.asarray(im.convert("L")), np.asarray(im.convert("RGB")), layout)


def pillow_bytes(im, fmt, **params):
    buffer = io.BytesIO()
    im.save(buffer, fmt, **params)
    return buffer.getvalue()


def main():
    rgb = smooth_rgb()
    gray = luma(rgb)
    rgb_im = Image.fromarray(rgb, "RGB")
    gray_im = Image.fromarray(gray, "L")

    # JPEG (Pillow's bundled libjpeg-turbo; the project links Debian's: same islow IDCT and
    # fancy upsampling, so values must agree exactly)
    save_with_pillow_expectation("jpeg_baseline_444", "jpg", pillow_bytes(rgb_im, "JPEG", quality=90, subsampling=0), "JPEG baseline 4:4:4")
    save_with_pillow_expectation("jpeg_baseline_422", "jpg", pillow_bytes(rgb_im, "JPEG", quality=85, subsampling=1), "JPEG baseline 4:2:2")
    save_with_pillow_expectation("jpeg_baseline_420", "jpg", pillow_bytes(rgb_im, "JPEG", quality=75, subsampling=2), "JPEG baseline 4:2:0")
    save_with_pillow_expectation("jpeg_progressive_420", "jpg", pillow_bytes(rgb_im, "JPEG", quality=80, progressive=True), "JPEG progressive 4:2:0")
    save_with_pillow_expectation("jpeg_gray", "jpg", pillow_bytes(gray_im, "JPEG", quality=90), "JPEG grayscale")
    save_with_pillow_expectation("jpeg_gray_progressive", "jpg", pillow_bytes(gray_im, "JPEG", quality=90, progressive=True), "JPEG grayscale progressive")
    save_with_pillow_expectation("jpeg_cmyk_adobe", "jpeg", pillow_bytes(rgb_im.convert("CMYK"), "JPEG", quality=90), "JPEG CMYK (Adobe, inverted)")

    # PNG 8-bit and low bit depths (Pillow decodes these without loss)
    save_with_pillow_expectation("png_gray8", "png", pillow_bytes(gray_im, "PNG"), "PNG gray 8-bit")
    save_with_pillow_expectation("png_rgb8", "png", pillow_bytes(rgb_im, "PNG"), "PNG RGB 8-bit")
    alpha = rng.integers(0, 256, (H, W), dtype=np.uint8)
    save_with_pillow_expectation("png_rgba8", "png", pillow_bytes(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG"), "PNG RGBA 8-bit")
    save_with_pillow_expectation("png_gray_alpha8", "png", raw_png(np.dstack([gray, alpha]), 4, 8), "PNG gray+alpha 8-bit")
    palette_im = rgb_im.quantize(colors=37)
    save_with_pillow_expectation("png_palette", "png", pillow_bytes(palette_im, "PNG"), "PNG palette (37 colours)")
    palette_im.info["transparency"] = 3
    save_with_pillow_expectation("png_palette_trns", "png", pillow_bytes(palette_im, "PNG", transparency=3), "PNG palette with tRNS")
    save_with_pillow_expectation("png_interlaced_rgb8", "png", raw_png(rgb, 2, 8, interlace=True), "PNG RGB 8-bit Adam7")
    for depth in (1, 2, 4):
        values = rng.integers(0, 1 << depth, (H, W), dtype=np.uint8)
        save_with_pillow_expectation(f"png_gray{depth}", "png", raw_png(values[..., None], 0, depth), f"PNG gray {depth}-bit")
    values = rng.integers(0, 2, (H, W), dtype=np.uint8)
    save_with_pillow_expectation("png_gray1_interlaced", "png", raw_png(values[..., None], 0, 1, interlace=True), "PNG gray 1-bit Adam7")
    palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    indices = rng.integers(0, 16, (H, W), dtype=np.uint8)
    save_with_pillow_expectation("png_palette4", "png", raw_png(indices[..., None], 3, 4, palette=palette), "PNG palette 4-bit")

    # PNG 16-bit: expected = round(v/257) (png_set_scale_16), not Pillow's clipping
    for name, color_type, channels, interlace in [("png_gray16", 0, 1, False), ("png_gray_alpha16", 4, 2, False),
                                                  ("png_rgb16", 2, 3, False), ("png_rgba16", 6, 4, False),
                                                  ("png_rgb16_interlaced", 2, 3, True)]:
        samples = random16(channels)
        scaled = scale16(samples)
        colour = scaled[..., :1].repeat(3, axis=2) if channels <= 2 else scaled[..., :3]
        expected_l = scaled[..., 0] if channels <= 2 else luma(colour)
        save(name, "png", raw_png(samples, color_type, 16, interlace=interlace), expected_l, colour,
             f"PNG {name[4:]} (16-bit, scaled round(v/257))")

    # IDX: 6 images of 7x5 with labels 0, 2, 4, 1, 2, 0 (so class "3" exists but is empty),
    # raw and gzip-compressed, named like the MNIST files so IDXDataset.locate finds them
    idx = os.path.join(HERE, "idx")
    os.makedirs(idx, exist_ok=True)
    pixels = (np.arange(6 * 5 * 7) * 7 % 256).astype(np.uint8)
    images = b"\x00\x00\x08\x03" + struct.pack(">III", 6, 5, 7) + pixels.tobytes()
    labels = b"\x00\x00\x08\x01" + struct.pack(">I", 6) + bytes([0, 2, 4, 1, 2, 0])
    for name, data in [("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)]:
        with open(os.path.join(idx, name), "wb") as f:
            f.write(data)
    import gzip
    for name, data in [("t10k-images-idx3-ubyte.gz", images), ("t10k-labels-idx1-ubyte.gz", labels)]:
        with open(os.path.join(idx, name), "wb") as f:
            f.write(gzip.compress(data, mtime=0))

    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)

    # MARK: - a few committed bad files (tests generate many more)
    bad = os.path.join(HERE, "bad")
    os.makedirs(bad, exist_ok=True)
    good_jpeg = pillow_bytes(rgb_im, "JPEG", quality=90)
    good_png = pillow_bytes(rgb_im, "PNG")
    files = {
        "empty.jpg": b"",
        "text.png": b"this is not an image, whatever the name says\n",
        "truncated.jpg": good_jpeg[: len(good_jpeg) * 2 // 3],
        "truncated.png": good_png[: len(good_png) // 2],
        # SOF0 claims 65000x65000 (4.2 Gpx): over the pixel limit, rejected from the header
        "bomb.jpg": forge_jpeg_size(good_jpeg, 65000, 65000),
        # IHDR claims 200000x200000 with a valid CRC
        "bomb.png": raw_png_header_only(200000, 200000),
        # IDX header claims 60000 images of 200000x200000, followed by nothing
        "bomb-images-idx3-ubyte": b"\x00\x00\x08\x03" + struct.pack(">III", 60000, 200000, 200000),
    }
    for name, data in files.items():
        with open(os.path.join(bad, name), "wb") as f:
            f.write(data)
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, fs in os.walk(HERE) for n in fs)
    print(f"wrote {len(manifest)} fixtures and {len(files)} bad files, {total} bytes in all")


def forge_jpeg_size(data, width, height):
    """Rewrites the frame header's height/width fields."""
    i = 2
    while i < len(data):
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            out = bytearray(data)
            out[i + 5 : i + 9] = struct.pack(">HH", height, width)
            return bytes(out)
        i += 2 + length
    raise ValueError("no SOF marker")


def raw_png_header_only(width, height):
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    main()
