#!/usr/bin/env python3
"""PyTorch peer for B5 on this machine: seconds per 60k-image epoch of the MODEL.md ST-CNN.

Trains on the first --limit Fashion-MNIST images (RTS-distorted on the fly with affine_grid /
grid_sample, batch 64, Adam 1e-3, 2 threads) and extrapolates to 60,000 images, so the Swift
figure (`stn bench train --limit N`) can be compared in one sitting on the same machine.
"""
import argparse, gzip, math, sys, time
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from stcnn import STCNN


def load(folder):
    with gzip.open(folder + "/train-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(folder + "/train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


def rts(batch, generator):
    n = batch.shape[0]
    x = F.pad(batch, (7, 7, 7, 7))
    angle = (torch.rand(n, generator=generator) * 90 - 45) * math.pi / 180
    scale = torch.rand(n, generator=generator) * 0.5 + 0.7
    room = (1 - scale * 28 / 42).clamp(min=0)
    tx = (torch.rand(n, generator=generator) * 2 - 1) * room
    ty = (torch.rand(n, generator=generator) * 2 - 1) * room
    c, s = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([c, -s, -tx], 1), torch.stack([s, c, -ty], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x, grid, align_corners=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=60000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images, labels = load(args.data)
    images = torch.from_numpy(images[: args.limit].astype(np.float32) / 255)
    labels = torch.from_numpy(labels[: args.limit].astype(np.int64))
    model = STCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(images), generator=generator)
    start = time.perf_counter()
    for first in range(0, len(images), 64):
        index = order[first:first + 64]
        x = (rts(images[index], generator) - 0.1307) / 0.3081
        logits, _ = model(x)
        loss = F.cross_entropy(logits, labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    print('{"bench":"B5","peer":"pytorch","seconds_per_epoch":%.2f,"images":%d,"threads":%d,"extrapolated":%s}'
          % (seconds * 60000 / len(images), len(images), args.threads, "true" if len(images) < 60000 else "false"))


if __name__ == "__main__":
    main()
