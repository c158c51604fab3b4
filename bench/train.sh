#!/bin/sh
# Training-step benchmark (docs/benchmarks.md, "Training step"): seqrec's
# sr_optim_step (bench_train) beside the same step in PyTorch
# (bench/torch_train.py), at I = 100k and 1M tracks, without and with the
# skip term, on 1 and 2 threads. Prints every JSON line, then a table with
# the ratio of step times PyTorch / ours (= our speed-up).
#   bench/train.sh BUILD_DIR [WARMUP [REPS]]      (defaults 3 and 10)
# Needs ~5 GB of memory at 1M tracks (ours ~2.2 GB, PyTorch ~2.5 GB, in turn).
set -eu
BUILD=${1:?build dir}
WARMUP=${2:-3}
REPS=${3:-10}
BIN="$BUILD/bench/bench_train"
HERE=$(dirname "$0")
[ -x "$BIN" ] || { echo "bench: build $BIN first (make build)" >&2; exit 1; }
OUT=$(mktemp /tmp/seqrec-train.XXXXXX)
trap 'rm -f "$OUT"' EXIT
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for I in 100000 1000000; do
    "$BIN" "$I" "$WARMUP" "$REPS" | tee -a "$OUT"
    # OPENBLAS_CORETYPE is unset for PyTorch only, so it picks its own kernels
    env -u OPENBLAS_CORETYPE /usr/bin/python3 "$HERE/torch_train.py" "$I" "$WARMUP" "$REPS" |
        tee -a "$OUT"
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
t = {(r["impl"], r["I"], r["threads"], r["skip"]): r for r in rows if "median_ms" in r}
s = {(r["impl"], r["I"], r["threads"]): r["skip_share"] for r in rows if "skip_share" in r}
print()
print("| I | threads | skip term | ours ms | ours seq/s | PyTorch ms | PyTorch seq/s | ours / PyTorch speed |")
print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
for (impl, I, th, sk), r in sorted(t.items()):
    if impl != "seqrec" or ("torch", I, th, sk) not in t:
        continue
    p = t[("torch", I, th, sk)]
    print(f"| {I:,} | {th} | {'on' if sk else 'off'} | {r['median_ms']:.1f} | {r['seq_per_s']:.0f} "
          f"| {p['median_ms']:.1f} | {p['seq_per_s']:.0f} | {p['median_ms'] / r['median_ms']:.2f}x |")
print()
print("| I | threads | skip share ours | skip share PyTorch |")
print("| ---: | ---: | ---: | ---: |")
for (impl, I, th), v in sorted(s.items()):
    if impl == "seqrec":
        print(f"| {I:,} | {th} | {100 * v:.1f}% | {100 * s.get(('torch', I, th), float('nan')):.1f}% |")
PY
