#!/usr/bin/env python3
"""B7 in PyTorch: trains one cell of bench/paper.sh's table (a distortion and a model) with
PyTorch instead of swift-stn, on the same distorted images, to tell our trainer's results from
the protocol's.

  bench/b7_torch.py CELL [--seed S] [--stn BIN] [--work DIR] [--epochs N] [--threads T]

CELL is <distortion>-<model> as in bench/paper.sh: distortion r | rts | p | e, model cnn |
affine | projective | tps. The images come from swift-stn itself: `stn augment` of the cell's
pipeline writes the training set once per epoch (`--copies EPOCHS+1`: copy k is drawn as
epoch k, and `stn train` counts its epochs from 1, so copies 1..EPOCHS are its distortions)
and the test set once (`--split test`, drawn as `stn train`'s test set), into
WORK/<distortion>-seed<S>/{train-<EPOCHS>epochs,test}, reused by later calls. They are PNGs,
so every pixel is rounded to 8 bits, which the trainer's float pipeline does not do. The
model is scripts/stcnn.py's (the pipelines' `model:` in PyTorch: `classifier` or `STCNN` with
the cell's transform, at 28x28 or 42x42), initialized by PyTorch's defaults (the spatial
transformer's last layer at the identity, as swift-stn does), and trained with the MODEL.md
recipe: Adam 1e-3 (0.9, 0.999, 1e-8), batch 64 reshuffled every epoch, cross-entropy, inputs
normalized with mean 0.1307 and std 0.3081.

Prints one JSON line per epoch ({"cell", "seed", "epoch", "train_loss", "test_error",
"seconds"}), the last one being the result to set beside `stn train`'s for the same cell and
seed; the same lines go to WORK/<cell>-seed<S>.jsonl, and the trained weights to
WORK/<cell>-seed<S>.safetensors (a state dict swift-stn reads: `stn eval W.safetensors
--pipeline <the cell's pipeline> --input WORK/<distortion>-seed<S>/test`, `stn export
W.safetensors --pipeline ... --input ... --output sheet.png`). `stn eval RUN/last.safetensors
--input WORK/<distortion>-seed<S>/test` scores a swift-stn run on exactly this test set.

For a same-start comparison, --save-init FILE writes PyTorch's initial weights and --in-order
takes the batches in index order: then `stn train` of a copy of the pipeline with `batch:
{shuffle: false}` and `--init-from FILE` starts from the same weights and sees the same batches
(results in WORK/<cell>-seed<S>-in-order.*).

  bench/b7_torch.py --table RUNS [--work DIR]

prints, for every cell and seed in WORK (not the --in-order runs), the PyTorch run beside the swift-stn run of the same
cell and seed in RUNS (bench/paper.sh's OUT: RUNS/<cell> for seed 0, RUNS/<cell>-seed<S>):
training loss and test error % after the last epoch, and the test error averaged over the
last three epochs (the per-epoch test error moves by up to a few points between epochs); then,
for each ST-CNN cell, its error minus the CNN's of the same distortion and seed, per seed, for
each trainer, with the mean and its standard error.

Needs torch, safetensors and Pillow (a local peer, never a dependency of swift-stn).
"""
import argparse, json, os, statistics, subprocess, sys, time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from stcnn import STCNN, classifier  # noqa: E402

# Fashion-MNIST's classes in label order, as `stn augment` names their folders ("/" -> "_").
CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DISTORTIONS = ("r", "rts", "p", "e")
MODELS = ("cnn", "affine", "projective", "tps")


def data_pipeline(distortion):
    """The pipeline whose stages make a distortion's images (the CNN cell's; every model of a
    distortion shares its stages)."""
    if distortion == "rts":
        return os.path.join(ROOT, "pipelines", "fashion-mnist-rts-cnn.yaml")
    return os.path.join(ROOT, "pipelines", "paper", "fashion-mnist-%s-cnn.yaml" % distortion)


def augment(stn, pipeline, data, split, copies, seed, out):
    if os.path.isdir(out) and os.path.exists(out + ".done"):
        return
    command = [stn, "augment", pipeline, "--input", data, "--split", split, "--seed", str(seed), "--output", out]
    if copies > 1:
        command += ["--copies", str(copies)]
    if os.path.isdir(out):
        command.append("--skip-existing")  # an interrupted earlier call: finish it
    print("$ " + " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    open(out + ".done", "w").close()


def load(folder, copies):
    """(images uint8 (copies, N, H, W), labels (N,)) of a folder written by `stn augment`:
    <class>/<index>.png, or <class>/<index>_<k>.png with copies; cached as folder.npz."""
    cache = folder + ".npz"
    if os.path.exists(cache):
        stored = np.load(cache)
        return stored["images"], stored["labels"]
    entries = []
    for label, name in enumerate(CLASSES):
        for file in os.listdir(os.path.join(folder, name)):
            stem = file[:-len(".png")]
            index, copy = (stem.rsplit("_", 1) if copies > 1 else (stem, "0"))
            entries.append((int(index), int(copy), label, os.path.join(folder, name, file)))
    count = max(e[0] for e in entries) + 1
    first = np.asarray(Image.open(entries[0][3]))
    images = np.zeros((copies, count, *first.shape), np.uint8)
    labels = np.full(count, -1, np.int64)
    for index, copy, label, path in entries:
        images[copy, index] = np.asarray(Image.open(path))
        labels[index] = label
    if (labels < 0).any():
        sys.exit("error: %s lacks images %s..." % (folder, np.flatnonzero(labels < 0)[:5].tolist()))
    np.savez(cache, images=images, labels=labels)
    return images, labels


def tensor(images):
    return (torch.from_numpy(images).float().unsqueeze(1) / 255 - 0.1307) / 0.3081


def table(runs, work):
    """The markdown comparison of --table (see the module's text); False when no cell and seed
    has both runs finished. The --in-order runs (<cell>-seed<S>-in-order.jsonl) are left out."""
    import csv, re
    runs_of = []  # (cell, seed, path) of the shuffled PyTorch runs
    for name in os.listdir(work):
        match = re.fullmatch(r"(.+)-seed(\d+)\.jsonl", name)
        if match:
            runs_of.append((match[1], int(match[2]), os.path.join(work, name)))
    lines, results = [], {}  # results: (cell, seed) -> (ours error, PyTorch error, ours last 3, PyTorch last 3)
    for cell, seed, path in sorted(runs_of):
        theirs = [json.loads(line) for line in open(path)]
        metrics = os.path.join(runs, cell if seed == 0 else "%s-seed%d" % (cell, seed), "metrics.csv")
        if not os.path.exists(metrics):
            continue
        ours = list(csv.DictReader(open(metrics)))
        if len(ours) != len(theirs) or len(ours) < 3:
            continue  # one of the two runs is unfinished
        error = [100 - 100 * float(row["test_acc"]) for row in ours]
        row = (error[-1], theirs[-1]["test_error"], sum(error[-3:]) / 3, sum(t["test_error"] for t in theirs[-3:]) / 3)
        results[(cell, seed)] = row
        lines.append("| %s | %d | %.4f | %.4f | %.2f | %.2f | %.2f | %.2f |" % (
            cell, seed, float(ours[-1]["train_loss"]), theirs[-1]["train_loss"], *row))
    if not results:
        return False
    print("| cell | seed | swift-stn loss | PyTorch loss | swift-stn error | PyTorch error | swift-stn last 3 | PyTorch last 3 |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    differences(results)
    return True


def differences(results):
    """Under the table: for each ST-CNN cell, its test error minus the CNN's of the same
    distortion and seed, per seed, for each trainer, after the last epoch and over the last 3,
    with the mean and its standard error (the seeds where all four runs finished)."""
    def summary(values):
        if len(values) < 2:
            return "mean %+.2f (n=1)" % values[0]
        standard_error = statistics.stdev(values) / len(values) ** 0.5
        return "mean %+.2f, standard error %.2f (n=%d)" % (statistics.mean(values), standard_error, len(values))
    for cell in sorted({c for c, _ in results}):
        distortion, _, model_name = cell.partition("-")
        if model_name == "cnn":
            continue
        seeds = sorted(s for c, s in results if c == cell and (distortion + "-cnn", s) in results)
        if not seeds:
            continue
        print()
        print("%s minus %s-cnn, per seed %s:" % (cell, distortion, " ".join(map(str, seeds))))
        for column, name in enumerate(("swift-stn error", "PyTorch error", "swift-stn last 3", "PyTorch last 3")):
            values = [results[(cell, s)][column] - results[(distortion + "-cnn", s)][column] for s in seeds]
            print("  %-16s %s; %s" % (name, " ".join("%+.2f" % v for v in values), summary(values)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("cell", nargs="?", help="<distortion>-<model>, e.g. r-affine, e-tps")
    parser.add_argument("--table", metavar="RUNS", help="print the comparison with bench/paper.sh's runs in RUNS; train nothing")
    parser.add_argument("--seed", type=int, default=0, help="pipeline seed (distortions) and PyTorch seed (init, order)")
    parser.add_argument("--stn", default=os.path.join(ROOT, ".build", "release", "stn"), help="the stn binary that writes the images")
    parser.add_argument("--work", default="runs/b7-torch", help="folder for the images and the results")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="Fashion-MNIST's IDX folder")
    parser.add_argument("--epochs", type=int, default=10, help="epochs (MODEL.md: 10)")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads")
    parser.add_argument("--save-init", metavar="FILE", help="also write the initial weights (for `stn train --init-from FILE`)")
    parser.add_argument("--in-order", action="store_true", help="batches in index order, no shuffling (as `batch: {shuffle: false}`)")
    args = parser.parse_args()
    if args.table:
        for flag, folder in (("--table", args.table), ("--work", args.work)):
            if not os.path.isdir(folder):
                print("b7_torch.py: error: %s %s: no such folder" % (flag, folder), file=sys.stderr)
                sys.exit(2)
        if not table(args.table, args.work):
            sys.exit("b7_torch.py: no finished pair of runs: no cell and seed has both %s/<cell>-seed<S>.jsonl and its "
                     "stn train run in %s (<cell> for seed 0, <cell>-seed<S> otherwise)" % (args.work, args.table))
        return
    distortion, _, model_name = (args.cell or "").partition("-")
    if distortion not in DISTORTIONS or model_name not in MODELS:
        parser.error("CELL must be <%s>-<%s>, got %r" % ("|".join(DISTORTIONS), "|".join(MODELS), args.cell))
    if not os.access(args.stn, os.X_OK):
        parser.error("no stn binary at %s (swift build -c release --product stn, or --stn)" % args.stn)

    torch.set_num_threads(args.threads)
    folder = os.path.join(args.work, "%s-seed%d" % (distortion, args.seed))
    os.makedirs(folder, exist_ok=True)
    pipeline = data_pipeline(distortion)
    train_folder = os.path.join(folder, "train-%depochs" % args.epochs)
    augment(args.stn, pipeline, args.data, "train", args.epochs + 1, args.seed, train_folder)
    augment(args.stn, pipeline, args.data, "test", 1, args.seed, os.path.join(folder, "test"))
    train_images, train_labels = load(train_folder, args.epochs + 1)
    test_images, test_labels = load(os.path.join(folder, "test"), 1)
    size = train_images.shape[-1]

    torch.manual_seed(args.seed)
    model = classifier(10, size) if model_name == "cnn" else STCNN(10, model_name, 4, size)
    if args.save_init:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.save_init)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    order = torch.Generator().manual_seed(args.seed)
    labels = torch.from_numpy(train_labels)
    test_x, test_y = tensor(test_images[0]), torch.from_numpy(test_labels)
    run = "%s-seed%d%s" % (args.cell, args.seed, "-in-order" if args.in_order else "")
    log = open(os.path.join(args.work, run + ".jsonl"), "w")
    for epoch in range(args.epochs):
        start = time.perf_counter()
        model.train()
        epoch_images = tensor(train_images[epoch + 1])
        total, seen = 0.0, 0
        permutation = torch.arange(len(labels)) if args.in_order else torch.randperm(len(labels), generator=order)
        for index in permutation.split(64):
            out = model(epoch_images[index])
            logits = out[0] if isinstance(out, tuple) else out
            loss = F.cross_entropy(logits, labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, seen = total + loss.item() * len(index), seen + len(index)
        model.eval()
        wrong = 0
        with torch.no_grad():
            for first in range(0, len(test_y), 1000):
                out = model(test_x[first:first + 1000])
                logits = out[0] if isinstance(out, tuple) else out
                wrong += (logits.argmax(1) != test_y[first:first + 1000]).sum().item()
        line = json.dumps({"cell": args.cell, "seed": args.seed, "epoch": epoch + 1, "train_loss": round(total / seen, 4),
                           "test_error": round(100 * wrong / len(test_y), 2), "seconds": round(time.perf_counter() - start, 1)})
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              os.path.join(args.work, run + ".safetensors"))


if __name__ == "__main__":
    main()
