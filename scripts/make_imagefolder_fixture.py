#!/usr/bin/env python3
"""Writes Tests/STNImageIOTests/Fixtures/imagefolder_torchvision.json: the classes and the sample
order torchvision.datasets.ImageFolder gives for a folder layout (names chosen for the ordering
rules: case, digits, spaces, non-ASCII, nested folders). ImageFolderTests builds the same layout
and compares our ImageFolder with it. Only files torchvision also reads (.jpg/.jpeg/.png in any
case) and no root files, hidden files or empty classes, where the two differ on purpose (see the
README's "Image folders").

Usage: python3 scripts/make_imagefolder_fixture.py   (needs torchvision)
"""
import json
import os
import tempfile

import torchvision

FILES = [
    "dog/b.JPG", "dog/a.png", "dog/deeper/c.jpeg", "dog/deeper/zz/d.png", "dog/Deeper2/e.jpg", "dog/deeper-x/f.png",
    "cat/1.Png", "cat/10.jpg", "cat/2.jpg", "Zebra/z.jpg", "\u00e4-umlaut/u.jpg", "a b/x.jpeg", "_under/y.png", "A/1.jpg",
]

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "Tests", "STNImageIOTests", "Fixtures", "imagefolder_torchvision.json")
    with tempfile.TemporaryDirectory() as root:
        for name in FILES:
            path = os.path.join(root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "wb").close()  # ImageFolder lists files; it does not open them
        dataset = torchvision.datasets.ImageFolder(root)
        samples = [[os.path.relpath(path, root), label] for path, label in dataset.samples]
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"torchvision": torchvision.__version__, "files": FILES, "classes": dataset.classes, "samples": samples},
                  f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", out)

if __name__ == "__main__":
    main()
