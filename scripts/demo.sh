#!/usr/bin/env bash
# The `make demo` job: Fashion-MNIST, a short ST-CNN training run, its evaluation, a sheet of
# what the trained spatial transformer does, and an augmentation of samples/ with a contact sheet.
#
#   scripts/demo.sh                  (after `swift build -c release --product stn`)
#   DEMO_IMAGES=60000 scripts/demo.sh   train on a full epoch instead of the default subset
#
# Everything goes to runs/demo/ (git-ignored). Takes about two minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

STN=${STN:-.build/release/stn}
DATA=${DEMO_DATA:-/usr/share/datasets/fashion-mnist}
OUT=${DEMO_OUT:-runs/demo}
IMAGES=${DEMO_IMAGES:-12000}
THREADS=${DEMO_THREADS:-2}

# (a) the dataset, from Debian, when missing.
if [ ! -e "$DATA/train-images-idx3-ubyte.gz" ] && [ ! -e "$DATA/train-images-idx3-ubyte" ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  echo "== installing dataset-fashion-mnist"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends dataset-fashion-mnist
fi
if [ ! -x "$STN" ]; then
  echo "== building stn (release)"
  swift build -c release --product stn
fi
mkdir -p "$OUT"

# (b) a short training run of the benchmark ST-CNN (MODEL.md), validation split kept.
echo "== training the ST-CNN on $IMAGES RTS-distorted images"
rm -rf "$OUT/stn"
"$STN" train pipelines/fashion-mnist-rts-stn.yaml --epochs 1 --limit "$IMAGES" --val-fraction 0.1 --no-test \
  --threads "$THREADS" --out "$OUT/stn"

# (c) the RTS test set, built explicitly: the 10k test images distorted once (seed 0, the
# pipeline's), written as an image folder; then the evaluation on it. (stn eval applies only
# deterministic stages, so it does not distort this folder again.)
echo "== building the RTS test set and evaluating on it"
rm -rf "$OUT/rts-test"
"$STN" augment pipelines/fashion-mnist-rts.yaml --input "$DATA" --split test --output "$OUT/rts-test" --threads "$THREADS"
"$STN" eval "$OUT/stn/best.safetensors" --input "$OUT/rts-test" --threads "$THREADS" | tee "$OUT/eval.txt"

# (d) inputs beside what the trained transformer made of them, with the predicted class.
echo "== sheet of inputs / transformed / predicted class"
"$STN" export "$OUT/stn/best.safetensors" --input "$OUT/rts-test" --output "$OUT/stn-sheet.png" --count 24 --overwrite

# (e) the augmentation pipeline on samples/ and its contact sheet.
SAMPLES=${DEMO_SAMPLES:-samples/images}
if [ -d "$SAMPLES" ] && [ -f pipelines/photos-augment.yaml ]; then
  echo "== augmenting $SAMPLES with pipelines/photos-augment.yaml"
  rm -rf "$OUT/augmented"
  "$STN" augment pipelines/photos-augment.yaml --input "$SAMPLES" --output "$OUT/augmented" --threads "$THREADS"
  "$STN" export pipelines/photos-augment.yaml --input "$SAMPLES" --output "$OUT/contact-sheet.png" --overwrite
fi

echo "== done: $OUT (metrics: $OUT/stn/metrics.csv, curves: $OUT/stn/curves.png, sheets: $OUT/*.png)"
