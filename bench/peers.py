#!/usr/bin/env python3
"""Peer benchmarks: the PyTorch / Kornia / OpenCV / Albumentations / Pillow figures of
shared/bench/ANCHORS.md, measured on this machine, one JSON line per figure.

Each line has the shape of our `stn bench ...` lines (bench, images_per_s or ms_per_batch or
s_per_epoch) plus "peer", "path", wall and process-CPU figures, and the run count. Figures are
the median of --runs timed runs after an untimed warm-up.

CPU time: time.process_time() (every thread of this process) plus, for B3, the CPU time of the
DataLoader worker processes (getrusage(RUSAGE_CHILDREN), counted once the workers are reaped at
the end of each epoch). On a shared machine CPU time is steadier than wall time.

Usage: peers.py B1|B1-uint8|B2|B3|B4|B5|B8 [--threads N] [--runs R] [--input DIR] [--limit N] [--format png|jpeg]
                [--work affine|perspective]
"""

import argparse
import io
import json
import math
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network check on import
# The B5 models are defined once, in scripts/stcnn.py (the ST-CNN and CNN swift-stn builds).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))

PHOTOS = "/work/photos"
FASHION = "/usr/share/datasets/fashion-mnist"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# MARK: - timing and output

def cpu_now(children=False):
    """Process CPU seconds (all threads); with children, plus reaped child processes."""
    t = time.process_time()
    if children:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        t += ru.ru_utime + ru.ru_stime
    return t


def measure(body, runs, warmup=1, children=False, warmup_body=None):
    """Runs warmup (untimed) then `runs` timed calls of body; returns (wall list, cpu list)."""
    for _ in range(max(warmup, 0)):
        (warmup_body or body)()
    walls, cpus = [], []
    for _ in range(max(runs, 1)):
        c0, w0 = cpu_now(children), time.perf_counter()
        body()
        walls.append(time.perf_counter() - w0)
        cpus.append(cpu_now(children) - c0)
    return walls, cpus


def emit(**fields):
    """One JSON line, floats rounded to 4 significant-ish decimals."""
    out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in fields.items()}
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out), flush=True)


def per_images(bench, peer, path, images, walls, cpus, threads, runs, **extra):
    """A throughput line: images per wall second and per CPU second (medians)."""
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    emit(bench=bench, peer=peer, path=path, images_per_s=images / wall, images_per_cpu_s=images / cpu,
         median_ms=wall * 1000, cpu_ms=cpu * 1000, min_ms=min(walls) * 1000,
         images=images, runs=runs, threads=threads, **extra)


def set_threads(n):
    import torch
    torch.set_num_threads(n)
    try:
        import cv2
        cv2.setNumThreads(n)
    except ImportError:
        pass


# MARK: - B1: affine warp of 64 images 224x224x3, rotation +-30 deg, scale 0.8-1.2

def b1_params(n, seed=1):
    """Per-image (angle degrees, scale), uniform in [-30, 30] x [0.8, 1.2]."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return rng.uniform(-30, 30, n), rng.uniform(0.8, 1.2, n)


def bench_b1(args):
    import torch
    import torch.nn.functional as F
    import kornia
    set_threads(args.threads)
    n, side = 64, 224
    angles, scales = b1_params(n)
    torch.manual_seed(2)
    x = torch.rand(n, 3, side, side)
    # Output->input sampling theta in normalized coordinates (square image, align_corners=False):
    # the forward map is scale*rotation about the centre, so sampling uses its inverse.
    theta = torch.zeros(n, 2, 3)
    for i in range(n):
        a = math.radians(angles[i])
        c, s = math.cos(a) / scales[i], math.sin(a) / scales[i]
        theta[i] = torch.tensor([[c, s, 0.0], [-s, c, 0.0]])
    size = [n, 3, side, side]
    sink = [0.0]

    def torch_warp():
        with torch.no_grad():
            grid = F.affine_grid(theta, size, align_corners=False)
            out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        sink[0] += float(out[0, 0, side // 2, side // 2])

    walls, cpus = measure(torch_warp, args.runs)
    per_images("B1", "torch", "float32", n, walls, cpus, args.threads, args.runs,
               work="affine_grid+grid_sample bilinear zeros, 64x3x224x224")

    center = torch.full((n, 2), (side - 1) / 2.0)
    matrix = kornia.geometry.transform.get_rotation_matrix2d(
        center, torch.tensor(angles, dtype=torch.float32),
        torch.tensor(scales, dtype=torch.float32).unsqueeze(1).repeat(1, 2))

    def kornia_warp():
        with torch.no_grad():
            out = kornia.geometry.transform.warp_affine(x, matrix, dsize=(side, side), mode="bilinear",
                                                        padding_mode="zeros", align_corners=False)
        sink[0] += float(out[0, 0, side // 2, side // 2])

    walls, cpus = measure(kornia_warp, args.runs)
    per_images("B1", "kornia", "float32", n, walls, cpus, args.threads, args.runs,
               work="kornia warp_affine bilinear zeros, 64x3x224x224")


def bench_b1_uint8(args):
    import cv2
    import numpy as np
    import albumentations as A
    set_threads(args.threads)
    n, side = 64, 224
    angles, scales = b1_params(n)
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(n)]
    center = ((side - 1) / 2.0, (side - 1) / 2.0)
    matrices = [cv2.getRotationMatrix2D(center, float(angles[i]), float(scales[i])) for i in range(n)]
    outputs = [np.empty_like(images[0]) for _ in range(n)]

    def cv_warp():
        for i in range(n):
            cv2.warpAffine(images[i], matrices[i], (side, side), dst=outputs[i], flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    walls, cpus = measure(cv_warp, args.runs)
    per_images("B1", "opencv", "uint8", n, walls, cpus, args.threads, args.runs,
               work="cv2.warpAffine INTER_LINEAR uint8 HWC 224x224x3, one image per call",
               cv2_threads=cv2.getNumThreads())

    affine = A.Affine(rotate=(-30, 30), scale=(0.8, 1.2), interpolation=cv2.INTER_LINEAR,
                      border_mode=cv2.BORDER_CONSTANT, fill=0, p=1.0)
    affine.set_random_seed(3) if hasattr(affine, "set_random_seed") else None

    def albu_warp():
        for i in range(n):
            outputs[i] = affine(image=images[i])["image"]

    walls, cpus = measure(albu_warp, args.runs)
    per_images("B1", "albumentations", "uint8", n, walls, cpus, args.threads, args.runs,
               work="albumentations Affine(rotate +-30, scale 0.8-1.2) uint8 HWC 224x224x3",
               cv2_threads=cv2.getNumThreads())


# MARK: - B2: affine_grid + grid_sample forward+backward, 64x1x42x42

def bench_b2(args):
    import torch
    import torch.nn.functional as F
    set_threads(args.threads)
    repeats = 20
    torch.manual_seed(3)
    size = [64, 1, 42, 42]
    x = torch.randn(size, requires_grad=True)
    grad_out = torch.randn(size)
    theta0 = torch.eye(2, 3).repeat(64, 1, 1) + torch.empty(64, 2, 3).uniform_(-0.3, 0.3)
    theta = theta0.clone().requires_grad_(True)
    sink = [0.0]

    def batches():
        for _ in range(repeats):
            x.grad = None
            theta.grad = None
            grid = F.affine_grid(theta, size, align_corners=False)
            out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            out.backward(grad_out)
            sink[0] += float(theta.grad[0, 0, 0]) + float(x.grad[0, 0, 0, 0])

    walls, cpus = measure(batches, args.runs, warmup=2)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    emit(bench="B2", peer="torch", path="fwd+bwd", ms_per_batch=wall * 1000 / repeats,
         cpu_ms_per_batch=cpu * 1000 / repeats, min_ms_per_batch=min(walls) * 1000 / repeats,
         batches_per_run=repeats, runs=args.runs, threads=args.threads, shape="64x1x42x42",
         work="affine_grid+grid_sample bilinear zeros, grads to input and theta")


# MARK: - B3: decode -> random affine -> resize 224 -> normalize -> batches of 64, 2 workers

def worker_init(_):
    """Each DataLoader worker: one torch thread (DataLoader's default too) and one OpenCV thread,
    so 2 workers use the 2 cores without oversubscription."""
    import torch
    torch.set_num_threads(1)
    import cv2
    cv2.setNumThreads(1)


class AlbumentationsFolder:
    """root/<class>/<image> read with OpenCV and transformed with an Albumentations Compose."""

    def __init__(self, root, transform, limit=None):
        from torchvision.datasets import ImageFolder
        self.samples = ImageFolder(root).samples[: limit or None]
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        import cv2
        path, label = self.samples[index]
        image = cv2.imread(path, cv2.IMREAD_COLOR_RGB if hasattr(cv2, "IMREAD_COLOR_RGB") else cv2.IMREAD_COLOR)
        if not hasattr(cv2, "IMREAD_COLOR_RGB"):
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return self.transform(image=image)["image"], label


def bench_b3(args):
    import torch
    from torch.utils.data import DataLoader, Subset
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2
    import albumentations as A
    from albumentations.pytorch import ToTensorV2
    import cv2
    set_threads(args.threads)
    root = args.input or PHOTOS

    def run_epoch(dataset, limit=None):
        data = Subset(dataset, range(min(limit, len(dataset)))) if limit else dataset
        loader = DataLoader(data, batch_size=64, shuffle=True, num_workers=2, worker_init_fn=worker_init)
        count, checksum = 0, 0.0
        for images, labels in loader:
            count += labels.shape[0]
            checksum += float(images[0, 0, 0, 0])
        return count

    tv_transform = v2.Compose([
        v2.ToImage(),
        v2.RandomAffine(degrees=30, translate=(0.1, 0.1), scale=(0.8, 1.2)),
        v2.Resize((224, 224), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    tv_data = ImageFolder(root, transform=tv_transform)
    if args.limit:
        tv_data = Subset(tv_data, range(min(args.limit, len(tv_data))))
    counted = [0]

    def tv_epoch():
        counted[0] = run_epoch(tv_data)

    # Warm-up: a short epoch (starts workers, fills the page cache), then whole timed epochs.
    walls, cpus = measure(tv_epoch, args.runs, children=True, warmup_body=lambda: run_epoch(tv_data, 256))
    per_images("B3", "torchvision", "ImageFolder+transforms.v2", counted[0], walls, cpus, args.threads, args.runs,
               workers=2, work="PIL decode, v2.RandomAffine(30, translate 0.1, scale 0.8-1.2), Resize 224 antialias, "
                               "ToDtype+Normalize, batch 64 shuffled")

    albu_transform = A.Compose([
        A.Affine(rotate=(-30, 30), translate_percent=(-0.1, 0.1), scale=(0.8, 1.2),
                 interpolation=cv2.INTER_LINEAR, border_mode=cv2.BORDER_CONSTANT, fill=0, p=1.0),
        A.Resize(224, 224, interpolation=cv2.INTER_LINEAR),
        A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD, max_pixel_value=255.0),
        ToTensorV2(),
    ])
    albu_data = AlbumentationsFolder(root, albu_transform, args.limit)

    def albu_epoch():
        counted[0] = run_epoch(albu_data)

    walls, cpus = measure(albu_epoch, args.runs, children=True, warmup_body=lambda: run_epoch(albu_data, 256))
    per_images("B3", "albumentations", "opencv+albumentations", counted[0], walls, cpus, args.threads, args.runs,
               workers=2, work="cv2.imread RGB, A.Affine(+-30, translate 0.1, scale 0.8-1.2), A.Resize 224, "
                               "A.Normalize, ToTensorV2, batch 64 shuffled")


# MARK: - B4: JPEG decode to RGB from memory, 1 thread

def bench_b4(args):
    import cv2
    import numpy as np
    import torch
    import torchvision.io as tio
    from PIL import Image
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    root = args.input or PHOTOS
    paths = sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files
                   if f.lower().endswith((".jpg", ".jpeg")))
    if args.limit:
        paths = paths[: args.limit]
    if not paths:
        sys.exit(f"no JPEG files under {root}")
    blobs = []
    for p in paths:
        with open(p, "rb") as f:
            blobs.append(f.read())
    n = len(blobs)
    tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
    arrays = [np.frombuffer(b, dtype=np.uint8) for b in blobs]
    rgb_flag = cv2.IMREAD_COLOR_RGB if hasattr(cv2, "IMREAD_COLOR_RGB") else cv2.IMREAD_COLOR

    def tv_decode():
        for t in tensors:
            tio.decode_jpeg(t, mode=tio.ImageReadMode.RGB)

    def cv_decode():
        for a in arrays:
            cv2.imdecode(a, rgb_flag)

    def pil_decode():
        for b in blobs:
            with Image.open(io.BytesIO(b)) as im:
                im.convert("RGB").load()

    for peer, path, body in (("torchvision", "decode_jpeg", tv_decode), ("opencv", "imdecode", cv_decode),
                             ("pillow", "Image.open+convert RGB", pil_decode)):
        walls, cpus = measure(body, args.runs)
        per_images("B4", peer, path, n, walls, cpus, 1, args.runs, work="JPEG decode to 8-bit RGB from memory")


# MARK: - B5: training epoch of the benchmark ST-CNN (MODEL.md)

def classifier():
    """MODEL.md's CNN (scripts/stcnn.py)."""
    from stcnn import classifier as cnn
    return cnn()


def st_cnn():
    """MODEL.md's ST-CNN (scripts/stcnn.py); its forward returns (logits, theta)."""
    from stcnn import STCNN
    return STCNN()


def rts_data(n, seed=0):
    """n RTS-distorted 42x42 Fashion-MNIST training images (rotation +-45, scale 0.7-1.2, random
    placement), normalized; random noise digits when the IDX files are missing. Untimed."""
    import gzip
    import numpy as np
    import torch
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(seed)
    path = os.path.join(FASHION, "train-images-idx3-ubyte.gz")
    try:
        with gzip.open(path, "rb") as f:
            raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(os.path.join(FASHION, "train-labels-idx1-ubyte.gz"), "rb") as f:
            labels = torch.from_numpy(np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int64))
        idx = torch.arange(n) % raw.shape[0]
        small = torch.from_numpy(raw.copy())[idx].float().div(255).unsqueeze(1)
        labels = labels[idx]
        source = "fashion-mnist"
    except OSError:
        small = torch.rand(n, 1, 28, 28, generator=g)
        labels = torch.randint(0, 10, (n,), generator=g)
        source = "random"
    canvas = F.pad(small, (7, 7, 7, 7))
    angle = torch.empty(n).uniform_(-math.pi / 4, math.pi / 4, generator=g)
    scale = torch.empty(n).uniform_(0.7, 1.2, generator=g)
    # Keep the (rotated, scaled) 28x28 box inside the canvas: shift by at most the slack.
    extent = scale * 28 * (angle.cos().abs() + angle.sin().abs()) / 2
    slack = (21 - extent).clamp(min=0) / 21
    tx = (torch.rand(n, generator=g) * 2 - 1) * slack
    ty = (torch.rand(n, generator=g) * 2 - 1) * slack
    c, s = angle.cos() / scale, angle.sin() / scale
    theta = torch.stack([torch.stack([c, s, -(c * tx + s * ty)], 1), torch.stack([-s, c, s * tx - c * ty], 1)], 1)
    with torch.no_grad():
        grid = F.affine_grid(theta, [n, 1, 42, 42], align_corners=False)
        images = F.grid_sample(canvas, grid, align_corners=False)
    return (images - 0.1307) / 0.3081, labels, source


def bench_b5(args):
    import torch
    import torch.nn.functional as F
    set_threads(args.threads)
    epoch_images = 60000
    n = min(args.limit or epoch_images, epoch_images)
    images, labels, source = rts_data(n)
    for name, model in (("st-cnn", st_cnn()), ("cnn", classifier())):
        torch.manual_seed(0)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
        model.train()

        def epoch(count=n):
            order = torch.randperm(count)
            for start in range(0, count, 64):
                batch = order[start:start + 64]
                optimizer.zero_grad(set_to_none=True)
                out = model(images[batch])
                logits = out[0] if isinstance(out, tuple) else out  # the ST-CNN also returns theta
                loss = F.cross_entropy(logits, labels[batch])
                loss.backward()
                optimizer.step()

        walls, cpus = measure(epoch, args.runs, warmup_body=lambda: epoch(min(n, 320)))
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        emit(bench="B5", peer="torch", path=name, s_per_epoch=wall * epoch_images / n,
             cpu_s_per_epoch=cpu * epoch_images / n, images_run=n, extrapolated=n < epoch_images,
             images_per_s=n / wall, runs=args.runs, threads=args.threads, data=source,
             work="Adam 1e-3, batch 64, fwd+bwd+step, 1x42x42 RTS Fashion-MNIST")


# MARK: - B8: folder -> augment -> folder of files (the main job), multiprocessing.Pool

_B8 = {}


# B8's spatial step: the built-in work (random affine), or --work perspective, the peer of
# bench/pipelines/photos-perspective.yaml (random_perspective, distortion 0.5, then resize).
B8_WORK = {
    "affine": ("A.Affine", "A.Affine(+-30, translate 0.1, scale 0.8-1.2)"),
    "perspective": ("A.Perspective", "A.Perspective(scale 0.05-0.1, keep_size)"),
}


def b8_init(out_root, fmt, work="affine"):
    """Each pool worker: one OpenCV thread, its own Albumentations pipeline."""
    import cv2
    import albumentations as A
    cv2.setNumThreads(1)
    if work == "perspective":
        spatial = A.Perspective(scale=(0.05, 0.1), keep_size=True, fit_output=False, interpolation=cv2.INTER_LINEAR,
                                border_mode=cv2.BORDER_CONSTANT, fill=0, p=1.0)
    else:
        spatial = A.Affine(rotate=(-30, 30), translate_percent=(-0.1, 0.1), scale=(0.8, 1.2),
                           interpolation=cv2.INTER_LINEAR, border_mode=cv2.BORDER_CONSTANT, fill=0, p=1.0)
    _B8["transform"] = A.Compose([spatial, A.Resize(224, 224, interpolation=cv2.INTER_LINEAR)])
    _B8["out"], _B8["fmt"] = out_root, fmt


def b8_one(job):
    """cv2.imread -> Albumentations -> cv2.imwrite (JPEG q90, or PNG at OpenCV's default)."""
    import cv2
    source, relative = job
    image = cv2.imread(source, cv2.IMREAD_COLOR)
    image = _B8["transform"](image=image)["image"]
    stem = os.path.splitext(relative)[0]
    path = os.path.join(_B8["out"], stem + (".jpg" if _B8["fmt"] == "jpeg" else ".png"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if _B8["fmt"] == "jpeg":
        cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    else:
        cv2.imwrite(path, image)
    return 1


def bench_b8(args):
    import multiprocessing
    import shutil
    import tempfile
    root = args.input or PHOTOS
    jobs = []
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if name.lower().endswith((".jpg", ".jpeg", ".png")):
                full = os.path.join(folder, name)
                jobs.append((full, os.path.relpath(full, root)))
    jobs = jobs[: args.limit or None]
    scratch = tempfile.mkdtemp(prefix="peer-b8-")
    for fmt in args.formats:
        out = os.path.join(scratch, "out")

        def run():
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            with multiprocessing.Pool(args.threads, initializer=b8_init, initargs=(out, fmt, args.work)) as pool:
                return sum(pool.imap_unordered(b8_one, jobs, chunksize=16))

        walls, cpus = measure(run, args.runs, children=True)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
        name, described = B8_WORK[args.work]
        per_images("B8", "opencv+albumentations", f"cv2.imread+{name}+A.Resize+cv2.imwrite {fmt}", len(jobs), walls, cpus,
                   args.threads, args.runs, workers=args.threads, format=fmt, output_bytes=size,
                   work=f"folder -> cv2.imread -> {described} -> A.Resize 224 -> "
                        + ("cv2.imwrite JPEG q90" if fmt == "jpeg" else "cv2.imwrite PNG (OpenCV default level)")
                        + ", multiprocessing.Pool")
    shutil.rmtree(scratch, ignore_errors=True)


# MARK: - main

BENCHES = {"B1": (bench_b1, 7), "B1-uint8": (bench_b1_uint8, 7), "B2": (bench_b2, 21), "B3": (bench_b3, 3),
           "B4": (bench_b4, 3), "B5": (bench_b5, 1), "B8": (bench_b8, 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", choices=sorted(BENCHES))
    parser.add_argument("--threads", type=int, default=2, help="threads (B4 always uses 1)")
    parser.add_argument("--runs", type=int, help="timed runs after the warm-up (default per bench)")
    parser.add_argument("--input", help=f"photos corpus folder for B3/B4 (default {PHOTOS})")
    parser.add_argument("--limit", type=int, help="B3/B4/B8: at most N images; B5: train on N images, extrapolate")
    parser.add_argument("--format", dest="formats", action="append", choices=["png", "jpeg"],
                        help="B8: output format (repeatable; default png and jpeg)")
    parser.add_argument("--work", choices=sorted(B8_WORK), default="affine",
                        help="B8: the spatial step (default affine, the built-in B8 work; perspective: the peer of "
                             "bench/pipelines/photos-perspective.yaml)")
    args = parser.parse_args()
    body, default_runs = BENCHES[args.bench]
    args.runs = args.runs or default_runs
    args.formats = args.formats or ["png", "jpeg"]
    if args.threads < 1 or args.runs < 1 or (args.limit is not None and args.limit < 1):
        parser.error("--threads, --runs and --limit must be >= 1")
    body(args)


if __name__ == "__main__":
    main()
