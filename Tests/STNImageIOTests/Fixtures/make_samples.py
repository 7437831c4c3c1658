#!/usr/bin/env python3
"""Builds samples/images (the repository's small real-image folder, ImageFolder layout):
crops of the photographs in Debian's mate-backgrounds package (colour JPEG/PNG, one gray JPEG)
and two Fashion-MNIST sneakers from dataset-fashion-mnist (gray PNG, 28x28).

usage: make_samples.py REPO_ROOT MATE_NATURE_DIR
  MATE_NATURE_DIR: usr/share/backgrounds/mate/nature from `apt-get download mate-backgrounds; dpkg -x`
"""
import gzip, os, sys

import numpy as np
from PIL import Image


def crop(src, box, size):
    return Image.open(src).convert("RGB").crop(box).resize(size, Image.LANCZOS)


def main(root, nature):
    out = os.path.join(root, "samples", "images")
    for d in ("flower", "insect", "sneaker"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    def photo(name):
        return os.path.join(nature, name)
    def centre_box(path, fraction):
        w, h = Image.open(path).size
        cw, ch = int(w * fraction), int(w * fraction * 0.75)
        return ((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2)
    crop(photo("YellowFlower.jpg"), centre_box(photo("YellowFlower.jpg"), 0.5), (160, 120)).save(
        os.path.join(out, "flower", "yellow.jpg"), quality=85)
    crop(photo("FreshFlower.jpg"), centre_box(photo("FreshFlower.jpg"), 0.45), (80, 60)).save(
        os.path.join(out, "flower", "fresh.png"), optimize=True)
    crop(photo("LadyBird.jpg"), centre_box(photo("LadyBird.jpg"), 0.5), (160, 120)).save(
        os.path.join(out, "insect", "ladybird.jpg"), quality=85)
    crop(photo("TwoWings.jpg"), centre_box(photo("TwoWings.jpg"), 0.5), (160, 120)).convert("L").save(
        os.path.join(out, "insect", "wings-gray.jpg"), quality=85)
    # Fashion-MNIST test images: the first two with label 7 (sneaker).
    folder = "/usr/share/datasets/fashion-mnist"
    with gzip.open(os.path.join(folder, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    with gzip.open(os.path.join(folder, "t10k-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    for k, index in enumerate(np.nonzero(labels == 7)[0][:2]):
        Image.fromarray(images[index], "L").save(os.path.join(out, "sneaker", f"{k}.png"), optimize=True)
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, fs in os.walk(out) for n in fs)
    print(f"samples: {total} bytes")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
