#!/usr/bin/env python3
"""Writes Tests/Fixtures/torchvision: torchvision's own outputs for the pipeline stages whose
semantics the README says equal torchvision's (run once; the output is committed).

    python3 scripts/make_torchvision_fixtures.py [OUT_DIR]

Every case comes from one table (CASES): each operation is turned both into the torchvision call
(on a CHW tensor, as a torchvision user writes it) and into the pipeline YAML stage the Swift test
runs (`PipelineConfig.parse` + `SampleProcessor`), so the two sides cannot drift apart.

Input: Tests/STNPipelineFixtures/photo0.jpg (a real 200x150 photo) decoded with Pillow, then a
crop of it, a mirror tiling of it up to 500x375 (pure index arithmetic, repeated in the test), or
a flat colour. The FNV-1a hash of Pillow's decode is recorded so the test can check that our
decoder gives the same bytes.

Output:
  cases.json            one entry per case: input, YAML stages, dtype, output file/tensor name
  <case>.png            uint8 outputs (RGB, or gray for one-channel inputs, lossless): torchvision rounds float results with
                        torch.round before casting back to uint8
  float.safetensors     float32 (C,H,W) outputs of the float cases (input = uint8 / 255)

Fill: when an affine is given a fill (and RandomAffine always gives one on tensors, 0 by
default), torchvision's tensor path blends it as img * mask + (1 - mask) * fill, where img is
already zero-padded and mask is the interpolated in-image weight, so pixels whose taps straddle
the image edge are darkened twice (pytorch/vision#8083, #6517, not fixed in this version). The
pipeline samples the fill as if it were painted outside the image instead. For those cases two
more files are written:
  <case>_interior.png   255 where torchvision's mask is 1 (no tap outside the image): there the
                        outputs must agree; 0 on the edge band where the blend applies
  <case>_fill_outside.png  torchvision's F.affine (fill=None) of the image padded with the fill,
                        cropped back: "the fill painted outside", which the pipeline must equal
                        everywhere
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
import torchvision.transforms.v2.functional as F2
from PIL import Image
from safetensors.torch import save_file
from torchvision.transforms import InterpolationMode

PHOTO = "Tests/STNPipelineFixtures/photo0.jpg"
CROP = {"crop": [52, 39, 96, 72]}          # x, y, width, height within the 200x150 photo
SMALL = {"crop": [76, 57, 48, 36]}
TINY = {"crop": [90, 60, 24, 18]}
TILE = {"mirror_tile": [500, 375]}         # width, height
FLAT = {"flat": [10, 10, 200, 100, 50]}    # width, height, r, g, b
PERSP = {"crop": [84, 63, 32, 24]}
PERSP_GRAY = {"crop": [84, 63, 32, 24], "channel": 1}   # one channel (green) of the crop: a gray image
CORNERS = [[0, 0], [31, 0], [31, 23], [0, 23]]          # a 32x24 image's corner pixels


def affine(angle=0.0, translate=(0, 0), scale=1.0, shear=(0.0, 0.0), fill=None):
    return {"affine": {"angle": angle, "translate": list(translate), "scale": scale, "shear": list(shear), "fill": fill}}


def random_affine(degrees, scale, shear):
    """RandomAffine with ranges that hold one value, so its draw is known."""
    return {"random_affine": {"degrees": list(degrees), "scale": list(scale), "shear": list(shear)}}


def perspective(startpoints, endpoints):
    """F.perspective(img, startpoints, endpoints) (bilinear, fill=None: zeros outside)."""
    return {"perspective": {"startpoints": startpoints, "endpoints": endpoints}}


CASES = [
    # F.affine on uint8 (positive angle: clockwise on screen, as torchvision documents).
    ("affine_rotate30", CROP, "uint8", [affine(angle=30)]),
    ("affine_rotate_minus45", CROP, "uint8", [affine(angle=-45)]),
    ("affine_translate", CROP, "uint8", [affine(translate=(7, -4))]),
    ("affine_translate_subpixel", CROP, "uint8", [affine(translate=(2.5, -1.25))]),
    ("affine_scale07", CROP, "uint8", [affine(scale=0.7)]),
    ("affine_scale13", CROP, "uint8", [affine(scale=1.3)]),
    ("affine_shear_x", CROP, "uint8", [affine(shear=(20, 0))]),
    ("affine_shear_xy", CROP, "uint8", [affine(shear=(10, -15))]),
    ("affine_mix", CROP, "uint8", [affine(angle=25, translate=(4, 2), scale=0.9, shear=(8, 5))]),
    ("affine_mix_fill", CROP, "uint8", [affine(angle=-60, translate=(-3, 5), scale=1.1, shear=(0, 12), fill=[200, 100, 50])]),
    # RandomAffine's parameter ranges (shear as 2 numbers: x only; as 4: x and y).
    ("random_affine_shear2", CROP, "uint8", [random_affine((25, 25), (0.9, 0.9), (8, 8))]),
    ("random_affine_shear4", CROP, "uint8", [random_affine((-40, -40), (1.2, 1.2), (8, 8, 5, 5))]),
    # F.affine on float tensors in [0, 1].
    ("float_affine_rotate30", SMALL, "float", [affine(angle=30)]),
    ("float_affine_shear_xy", SMALL, "float", [affine(shear=(10, -15))]),
    ("float_affine_mix", SMALL, "float", [affine(angle=25, translate=(4, 2), scale=0.9, shear=(8, 5))]),
    # Resize(size, BILINEAR, antialias=True), up and down, edges included.
    ("resize_up_224", CROP, "uint8", [{"resize": [224, 224]}]),
    ("resize_down_224", TILE, "uint8", [{"resize": [224, 224]}]),
    ("resize_down_64x48", TILE, "uint8", [{"resize": [48, 64]}]),
    ("resize_shorter_64", TILE, "uint8", [{"resize": 64}]),
    ("resize_flat_up_32", FLAT, "uint8", [{"resize": [32, 32]}]),
    ("resize_then_center_crop", TILE, "uint8", [{"resize": 80}, {"center_crop": [64, 64]}]),
    ("pad_then_resize", CROP, "uint8", [{"pad": {"padding": [6, 4], "fill": [200, 100, 50]}}, {"resize": [56, 56]}]),
    ("resize_then_pad", CROP, "uint8", [{"resize": [40, 50]}, {"pad": {"padding": [5, 3, 2, 7], "fill": [200, 100, 50]}}]),
    ("float_resize_down_64x48", TILE, "float", [{"resize": [48, 64]}]),
    ("float_resize_up_56", TINY, "float", [{"resize": [56, 56]}]),
    # F.perspective (tensor path: coefficients endpoints -> startpoints in float32, grid at pixel
    # centres x + 0.5, grid_sample bilinear with align_corners=False, zeros outside), uint8 RGB and gray.
    ("perspective_tilt", PERSP, "uint8", [perspective(CORNERS, [[3, 2], [29, 1], [30, 22], [1, 20]])]),
    ("perspective_zoom_in", PERSP, "uint8", [perspective([[2, 3], [28, 2], [29, 20], [4, 21]], CORNERS)]),
    ("perspective_expand", PERSP, "uint8", [perspective(CORNERS, [[-4, -3], [35, 0], [33, 27], [-2, 25]])]),
    ("perspective_tilt_gray", PERSP_GRAY, "uint8", [perspective(CORNERS, [[3, 2], [29, 1], [30, 22], [1, 20]])]),
    ("perspective_subpixel_gray", PERSP_GRAY, "uint8", [perspective(CORNERS, [[1.5, 0.25], [30, 2.75], [28.5, 21], [2.25, 23.5]])]),
    ("float_perspective_tilt", PERSP, "float", [perspective(CORNERS, [[3, 2], [29, 1], [30, 22], [1, 20]])]),
]


def fnv1a64(data: bytes) -> str:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def make_input(photo: np.ndarray, spec: dict) -> np.ndarray:
    """HWC uint8 input of a case (the Swift test builds the same from its own decode)."""
    if "crop" in spec:
        x, y, w, h = spec["crop"]
        crop = photo[y:y + h, x:x + w]
        if "channel" in spec:
            crop = crop[:, :, spec["channel"]:spec["channel"] + 1]
        return crop.copy()
    if "mirror_tile" in spec:
        w, h = spec["mirror_tile"]
        ph, pw = photo.shape[:2]

        def mirror(i, n):
            m = i % (2 * n)
            return m if m < n else 2 * n - 1 - m
        ys = [mirror(i, ph) for i in range(h)]
        xs = [mirror(i, pw) for i in range(w)]
        return photo[np.ix_(ys, xs)].copy()
    if "flat" in spec:
        w, h, r, g, b = spec["flat"]
        return np.tile(np.array([r, g, b], dtype=np.uint8), (h, w, 1))
    raise ValueError(spec)


def yaml_number(v):
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def yaml_list(values):
    return "[" + ", ".join(yaml_number(v) for v in values) + "]"


def yaml_stage(op: dict) -> str:
    """The pipeline stage that claims to equal the torchvision call of `op`."""
    (name, p), = op.items()
    if name == "affine":
        text = (f"affine: {{rotate: {yaml_number(p['angle'])}, translate: {yaml_list(p['translate'])}, "
                f"scale: {yaml_number(p['scale'])}, shear: {yaml_list(p['shear'])}")
        if p["fill"] is not None:
            text += f", fill: {yaml_list(p['fill'])}"
        return text + "}"
    if name == "random_affine":
        return (f"random_affine: {{degrees: {yaml_list(p['degrees'])}, scale: {yaml_list(p['scale'])}, "
                f"shear: {yaml_list(p['shear'])}}}")
    if name == "resize":
        return f"resize: {{size: {yaml_list(p) if isinstance(p, list) else yaml_number(p)}}}"
    if name == "center_crop":
        return f"center_crop: {{size: {yaml_list(p)}}}"
    if name == "perspective":
        def points(ps):
            return "[" + ", ".join(yaml_list(q) for q in ps) + "]"
        return f"perspective: {{startpoints: {points(p['startpoints'])}, endpoints: {points(p['endpoints'])}}}"
    if name == "pad":
        return f"pad: {{padding: {yaml_list(p['padding'])}, fill: {yaml_list(p['fill'])}}}"
    raise ValueError(name)


def apply(op: dict, img: torch.Tensor, unit: float) -> torch.Tensor:
    """torchvision on a CHW tensor; `unit` is 255 for uint8 and 1 for float (scales fill)."""
    (name, p), = op.items()
    bilinear = InterpolationMode.BILINEAR
    if name == "affine":
        fill = None if p["fill"] is None else [f * unit / 255 for f in p["fill"]]
        return F.affine(img, angle=p["angle"], translate=p["translate"], scale=p["scale"], shear=p["shear"],
                        interpolation=bilinear, fill=fill)
    if name == "random_affine":
        return T.RandomAffine(degrees=p["degrees"], scale=p["scale"], shear=p["shear"], interpolation=bilinear)(img)
    if name == "resize":
        return T.Resize(p, interpolation=bilinear, antialias=True)(img)
    if name == "center_crop":
        return T.CenterCrop(p)(img)
    if name == "perspective":
        return F.perspective(img, p["startpoints"], p["endpoints"], interpolation=bilinear, fill=None)
    if name == "pad":
        # v2's pad takes one fill value per channel on tensors.
        return F2.pad(img, padding=p["padding"], fill=[f * unit / 255 for f in p["fill"]])
    raise ValueError(name)


def affine_parameters(op: dict, width: int, height: int):
    """The F.affine arguments of an affine or (fixed-range) random_affine op."""
    (name, p), = op.items()
    if name == "affine":
        return dict(angle=p["angle"], translate=p["translate"], scale=p["scale"], shear=p["shear"]), p["fill"] or [0, 0, 0]
    t = T.RandomAffine(degrees=p["degrees"], scale=p["scale"], shear=p["shear"])
    angle, translate, scale, shear = t.get_params(t.degrees, t.translate, t.scale, t.shear, [width, height])
    return dict(angle=angle, translate=list(translate), scale=scale, shear=list(shear)), [0, 0, 0]


def fill_reference(op: dict, img: torch.Tensor):
    """(interior mask, "fill painted outside" output) of a uint8 affine case with a fill."""
    _, height, width = img.shape
    args, fill = affine_parameters(op, width, height)
    bilinear = InterpolationMode.BILINEAR
    mask = F.affine(torch.ones(1, height, width), **args, interpolation=bilinear)
    interior = (mask[0] > 1 - 1e-6).to(torch.uint8) * 255
    # Symmetric padding keeps torchvision's centre ((W-1)/2 in pixel centres) where it was.
    border = max(width, height)
    padded = F2.pad(img, padding=[border], fill=[float(f) for f in fill])
    outside = F.affine(padded, **args, interpolation=bilinear)[:, border:border + height, border:border + width]
    return interior, outside


def main(out: str) -> None:
    os.makedirs(out, exist_ok=True)
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    floats = {}
    manifest = {
        "generator": "scripts/make_torchvision_fixtures.py",
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "photo": PHOTO, "photo_width": photo.shape[1], "photo_height": photo.shape[0],
        "photo_fnv1a64": fnv1a64(photo.tobytes()),
        "cases": [],
    }
    for name, spec, dtype, ops in CASES:
        hwc = make_input(photo, spec)
        img = torch.from_numpy(hwc).permute(2, 0, 1).contiguous()
        unit = 255.0
        if dtype == "float":
            img = img.float() / 255
            unit = 1.0
        source = img
        for op in ops:
            img = apply(op, img, unit)
        entry = {"name": name, "input": spec, "dtype": dtype,
                 "stages": [yaml_stage(op) for op in ops],
                 "height": int(img.shape[1]), "width": int(img.shape[2])}
        if dtype == "uint8":
            assert img.dtype == torch.uint8
            entry["file"] = name + ".png"
            pixels = img.permute(1, 2, 0).numpy()
            if pixels.shape[2] == 1:
                entry["channels"] = 1
                Image.fromarray(pixels[:, :, 0], "L").save(os.path.join(out, entry["file"]), optimize=True)
            else:
                Image.fromarray(pixels, "RGB").save(os.path.join(out, entry["file"]), optimize=True)
            (kind, p), = ops[0].items()
            if kind == "random_affine" or (kind == "affine" and p["fill"] is not None):
                assert len(ops) == 1, "fill references are written for single-affine cases"
                interior, outside = fill_reference(ops[0], source)
                entry["interior_file"] = name + "_interior.png"
                entry["fill_outside_file"] = name + "_fill_outside.png"
                Image.fromarray(interior.numpy(), "L").save(os.path.join(out, entry["interior_file"]), optimize=True)
                Image.fromarray(outside.permute(1, 2, 0).numpy(), "RGB").save(os.path.join(out, entry["fill_outside_file"]), optimize=True)
        else:
            entry["tensor"] = name
            floats[name] = img.contiguous()
        manifest["cases"].append(entry)
    save_file(floats, os.path.join(out, "float.safetensors"))
    cases = manifest.pop("cases")
    with open(os.path.join(out, "cases.json"), "w") as f:
        # One case per line, so a regenerated set diffs readably.
        header = json.dumps(manifest, indent=1)[:-2]
        f.write(header + ',\n "cases": [\n  ' + ",\n  ".join(json.dumps(c) for c in cases) + "\n ]\n}\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/torchvision")
