#!/usr/bin/env bash
# Side-by-side benchmarks: each of our `stn bench ...` figures alternated with its peers
# (bench/peers.py) for ROUNDS rounds, then one markdown table of medians across rounds.
#
# Usage: bench/run-all.sh [STN_BINARY]      (default .build/release/stn; builds nothing)
# Environment knobs (defaults in brackets):
#   ROUNDS [3]  THREADS [2]  INPUT [/work/photos]  B3_LIMIT [1280]  B4_LIMIT [1200]
#   B5_LIMIT [1280]  B8_LIMIT [0: all 2,400]  OMP_WAIT_POLICY [PASSIVE]  KEEP [unset: keep the raw JSON lines folder]
# Use B3_LIMIT=0 / B4_LIMIT=0 / B5_LIMIT=0 for the whole corpus / a whole epoch (slow).
set -euo pipefail

STN=${1:-.build/release/stn}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
INPUT=${INPUT:-/work/photos}
B3_LIMIT=${B3_LIMIT:-1280}
B4_LIMIT=${B4_LIMIT:-1200}
B5_LIMIT=${B5_LIMIT:-1280}
B8_LIMIT=${B8_LIMIT:-0}
# NOTE: PyTorch's OpenMP threads spin-wait between parallel regions. On a machine shared with
# other busy processes the spinning is counted as CPU time and the spinners get preempted, which
# made B2 about 20x slower here; PASSIVE makes waiting threads sleep. Set OMP_WAIT_POLICY=ACTIVE
# (or an empty value) to measure PyTorch's defaults on an idle machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY-PASSIVE}
[ -n "$OMP_WAIT_POLICY" ] || unset OMP_WAIT_POLICY

HERE=$(cd "$(dirname "$0")" && pwd)
PEERS="$HERE/peers.py"
if [ ! -x "$STN" ]; then
  echo "error: no stn binary at $STN (build it: swift build -c release --product stn)" >&2
  exit 2
fi
[ -d "$INPUT" ] || { echo "error: no photos corpus at $INPUT (shared/bench/make_photos.py makes one)" >&2; exit 2; }

OUT=$(mktemp -d "${TMPDIR:-/tmp}/stn-bench.XXXXXX")
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$OUT"' EXIT; fi

limit_flag() { if [ "$1" -gt 0 ]; then echo "--limit $1"; fi; }

# record SIDE ROUND BENCH CMD...: runs CMD, wraps each JSON line of its stdout as
# {"side":…,"round":…,"tag":…,"line":{…}}; a failure (e.g. a command not implemented yet)
# becomes {"side":…,"tag":…,"error":"<last stderr line>"}.
record() {
  local side=$1 round=$2 tag=$3
  shift 3
  echo "  [$side] $*" >&2
  local rc=0
  "$@" > "$OUT/stdout" 2> "$OUT/stderr" || rc=$?
  grep '^{' "$OUT/stdout" | while IFS= read -r line; do
    printf '{"side":"%s","round":%d,"tag":"%s","line":%s}\n' "$side" "$round" "$tag" "$line"
  done >> "$RESULTS" || true
  if [ "$rc" -ne 0 ]; then
    python3 -c 'import json,sys; print(json.dumps({"side":sys.argv[1],"round":int(sys.argv[2]),"tag":sys.argv[3],"error":sys.argv[4]}))' \
      "$side" "$round" "$tag" "$(grep -v '^\s*$' "$OUT/stderr" "$OUT/stdout" | tail -1 | cut -d: -f2- | cut -c1-200)" >> "$RESULTS"
  fi
}

# Flags our `stn bench train` accepts (it may still be a stub).
TRAIN_FLAGS=()
TRAIN_HELP=$("$STN" bench train --help 2>&1 || true)
grep -q -- '--threads' <<< "$TRAIN_HELP" && TRAIN_FLAGS+=(--threads "$THREADS")
if [ "$B5_LIMIT" -gt 0 ] && grep -q -- '--limit' <<< "$TRAIN_HELP"; then TRAIN_FLAGS+=(--limit "$B5_LIMIT"); fi
grep -q -- '--runs' <<< "$TRAIN_HELP" && TRAIN_FLAGS+=(--runs 1)

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r/$ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  record ours "$r" B1 "$STN" bench warp --threads "$THREADS"
  record peer "$r" B1 python3 "$PEERS" B1 --threads "$THREADS"
  record peer "$r" B1 python3 "$PEERS" B1-uint8 --threads "$THREADS"
  record ours "$r" B2 "$STN" bench stn-grad --threads "$THREADS"
  record peer "$r" B2 python3 "$PEERS" B2 --threads "$THREADS"
  record ours "$r" B2F "$STN" bench stn-grad --transform all --threads "$THREADS"
  # shellcheck disable=SC2046
  record ours "$r" B3 "$STN" bench pipeline --input "$INPUT" --threads "$THREADS" --runs 1 $(limit_flag "$B3_LIMIT")
  # shellcheck disable=SC2046
  record peer "$r" B3 python3 "$PEERS" B3 --threads "$THREADS" --runs 1 --input "$INPUT" $(limit_flag "$B3_LIMIT")
  # shellcheck disable=SC2046
  record ours "$r" B4 "$STN" bench decode --input "$INPUT" --runs 3 $(limit_flag "$B4_LIMIT")
  # shellcheck disable=SC2046
  record peer "$r" B4 python3 "$PEERS" B4 --runs 3 --input "$INPUT" $(limit_flag "$B4_LIMIT")
  for format in png jpeg; do
    # shellcheck disable=SC2046
    record ours "$r" B8 "$STN" bench augment --input "$INPUT" --format "$format" --threads "$THREADS" --runs 1 $(limit_flag "$B8_LIMIT")
    # shellcheck disable=SC2046
    record peer "$r" B8 python3 "$PEERS" B8 --format "$format" --threads "$THREADS" --runs 1 --input "$INPUT" $(limit_flag "$B8_LIMIT")
  done
  record ours "$r" B5 "$STN" bench train "${TRAIN_FLAGS[@]}"
  # shellcheck disable=SC2046
  record peer "$r" B5 python3 "$PEERS" B5 --threads "$THREADS" --runs 1 $(limit_flag "$B5_LIMIT")
done
ELAPSED=$(( $(date +%s) - START ))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

CPU_NAME=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
if grep -qm1 avx512f /proc/cpuinfo; then SIMD=AVX-512; elif grep -qm1 avx2 /proc/cpuinfo; then SIMD=AVX2; else SIMD="no AVX2"; fi

python3 - "$RESULTS" <<PY
import json, statistics, sys

ROWS = [
    # figure, unit, higher is better, ours (tag, path or None), peer (tag, peer, path), ANCHORS.md figure
    ("B1 warp float32 NCHW", "img/s", True, ("B1", "float32"), ("B1", "torch", "float32"), 1005),
    ("B1 warp float32 NCHW", "img/s", True, ("B1", "float32"), ("B1", "kornia", "float32"), 1035),
    ("B1 warp uint8 -> normalized float32 (fused)", "img/s", True, ("B1", "uint8-fused"), ("B1", "opencv", "uint8"), 6895),
    ("B1 warp uint8 -> uint8", "img/s", True, ("B1", "uint8"), ("B1", "opencv", "uint8"), 6895),
    ("B1 warp uint8 -> uint8", "img/s", True, ("B1", "uint8"), ("B1", "albumentations", "uint8"), 4280),
    ("B2 affine_grid+grid_sample fwd+bwd 64x1x42x42", "ms/batch", False, ("B2", "fused"), ("B2", "torch", "fwd+bwd"), 2.17),
    ("B3 decode->affine->resize->normalize->batch", "img/s", True, ("B3", None), ("B3", "torchvision", None), 237),
    ("B3 decode->affine->resize->normalize->batch", "img/s", True, ("B3", None), ("B3", "albumentations", None), 738),
    ("B4 JPEG decode, 1 thread", "img/s", True, ("B4", None), ("B4", "torchvision", None), 1858),
    ("B4 JPEG decode, 1 thread", "img/s", True, ("B4", None), ("B4", "opencv", None), 1876),
    ("B4 JPEG decode, 1 thread", "img/s", True, ("B4", None), ("B4", "pillow", None), 1705),
    ("B8 folder -> folder, PNG (ours: fast; peer: OpenCV default)", "img/s", True, ("B8", "png"), ("B8", "opencv+albumentations", "cv2.imread+A.Affine+A.Resize+cv2.imwrite png"), 626),
    ("B8 folder -> folder, JPEG q90", "img/s", True, ("B8", "jpeg"), ("B8", "opencv+albumentations", "cv2.imread+A.Affine+A.Resize+cv2.imwrite jpeg"), 1168),
    ("B5 ST-CNN training epoch", "s/epoch", False, ("B5", None), ("B5", "torch", "st-cnn"), 71),
    ("B5 plain CNN training epoch (peer only)", "s/epoch", False, None, ("B5", "torch", "cnn"), 46.5),
]

records = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]

def metrics(line):
    """(wall figure, CPU figure) in the row's unit: img/s and img per CPU-s, ms/batch, s/epoch."""
    # Epoch figures first: both sides also report images/s, which is not the row's unit.
    if "seconds_per_epoch" in line:
        return line["seconds_per_epoch"], line.get("cpu_seconds_per_epoch")
    if "s_per_epoch" in line:
        return line["s_per_epoch"], line.get("cpu_s_per_epoch")
    if "images_per_s" in line:
        cpu = line.get("images_per_cpu_s")
        if cpu is None and line.get("cpu_ms") and line.get("images"):
            cpu = line["images"] / (line["cpu_ms"] / 1000)
        return line["images_per_s"], cpu
    if "ms_per_batch" in line:
        return line["ms_per_batch"], line.get("cpu_ms_per_batch")
    if "s_per_epoch" in line:
        return line["s_per_epoch"], line.get("cpu_s_per_epoch")
    return None, None

def pick(side, tag, peer=None, path=None):
    walls, cpus, errors = [], [], []
    for rec in records:
        if rec["side"] != side or rec["tag"] != tag:
            continue
        if "error" in rec:
            errors.append(rec["error"].strip())
            continue
        line = rec["line"]
        if peer is not None and line.get("peer") != peer:
            continue
        if path is not None and line.get("path") != path:
            continue
        w, c = metrics(line)
        if w is not None:
            walls.append(w)
        if c is not None:
            cpus.append(c)
    med = lambda xs: statistics.median(xs) if xs else None
    return med(walls), med(cpus), len(walls), (errors[-1] if errors else None)

def fmt(x):
    if x is None:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"

def ratio(ours, peer, higher):
    if ours is None or peer is None or ours == 0 or peer == 0:
        return "-"
    return f"{(ours / peer if higher else peer / ours):.2f}x"

print("| figure | unit | ours | peer | peer | ours/peer (wall) | ours CPU | peer CPU | ours/peer (CPU) | ANCHORS.md peer | peer here / anchor |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for figure, unit, higher, ours_sel, peer_sel, anchor in ROWS:
    if ours_sel:
        ow, oc, on, oerr = pick("ours", ours_sel[0], path=ours_sel[1])
    else:
        ow = oc = oerr = None
        on = 0
    pw, pc, pn, perr = pick("peer", peer_sel[0], peer=peer_sel[1], path=peer_sel[2])
    cpu_unit = {"img/s": "img/CPU-s", "ms/batch": "CPU-ms/batch", "s/epoch": "CPU-s/epoch"}[unit]
    ours_cell = fmt(ow) if ow is not None else ("n/a: " + oerr if oerr else ("-" if not ours_sel else "missing"))
    print(f"| {figure} | {unit} ({cpu_unit}) | {ours_cell} | {peer_sel[1]} | {fmt(pw) if pw is not None else (perr or 'missing')} "
          f"| {ratio(ow, pw, higher)} | {fmt(oc)} | {fmt(pc)} | {ratio(oc, pc, higher)} | {fmt(anchor)} "
          f"| {ratio(pw, anchor, higher)} |")

# B8 also has a size target: total output bytes, ours against the peer's (medians over rounds).
for fmt_ in ("png", "jpeg"):
    ours = [r["line"]["output_bytes"] for r in records if r["side"] == "ours" and r["tag"] == "B8" and "line" in r and r["line"].get("path") == fmt_]
    peer = [r["line"]["output_bytes"] for r in records if r["side"] == "peer" and r["tag"] == "B8" and "line" in r and r["line"].get("format") == fmt_]
    if ours and peer:
        o, p = statistics.median(ours), statistics.median(peer)
        print(f"\nB8 {fmt_} output bytes: ours {o:,.0f}, peer {p:,.0f} (ours/peer {o / p:.3f})", end="")
print()

# B2 for the other transformer families (issue 12): projective and TPS fused samplers against
# the affine one, alternated run by run inside each "stn bench stn-grad --transform all".
def b2f(family, key):
    # key of every B2F line about family that has it (ms_per_batch: the timing lines;
    # vs_affine, cpu_vs_affine: the comparison lines).
    return [r["line"][key] for r in records if r["side"] == "ours" and r["tag"] == "B2F" and "line" in r
            and r["line"].get("transform") == family and key in r["line"]]

for family in ("projective", "tps"):
    walls, cpus, ms = b2f(family, "vs_affine"), b2f(family, "cpu_vs_affine"), b2f(family, "ms_per_batch")
    if walls:
        print(f"B2 {family} fwd+bwd 64x1x42x42: {statistics.median(ms):.3g} ms/batch, "
              f"{statistics.median(walls):.2f}x affine's time (CPU {statistics.median(cpus):.2f}x; target <= 1.5x)")
PY
cat <<EOF

Ratios: >1 means ours is faster (higher img/s, or lower ms/batch or s/epoch). Medians over $ROUNDS
rounds of each command's own median; ours and its peers alternate within each round.
CPU columns: work per process-CPU second (B3 includes the DataLoader worker processes).
B3 on $( [ "$B3_LIMIT" -gt 0 ] && echo "the first $B3_LIMIT images" || echo "the whole corpus" ) of $INPUT,
B4 on $( [ "$B4_LIMIT" -gt 0 ] && echo "the first $B4_LIMIT" || echo "all" ) JPEGs,
B5 peer: $( [ "$B5_LIMIT" -gt 0 ] && echo "$B5_LIMIT images, extrapolated to 60,000" || echo "a whole epoch" ).
Machine: $(nproc) CPUs, $CPU_NAME, best SIMD $SIMD (ANCHORS.md 2026-12-04: AVX-512 Zen 4; anchor = middle of its range). Threads $THREADS,
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}. Load average before: $LOAD_BEFORE, after: $LOAD_AFTER.
Total run time: ${ELAPSED} s. stn: $STN.
EOF
if [ -n "${KEEP:-}" ]; then echo "Raw JSON lines: $RESULTS"; fi
