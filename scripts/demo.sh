#!/bin/sh
# The main job on the embedded default (synthetic data calibrated to MSSD):
# start seqrecd on a private socket, synthesise a listening log, ingest it,
# train SASRec without and with the skip term and the popularity baseline,
# evaluate all three with full-catalogue ranking, print a comparison table,
# recommend for one session, stop the daemon.
# Usage: scripts/demo.sh [BUILD_DIR]. Sizes: DEMO_SESSIONS, DEMO_TRACKS,
# DEMO_EPOCHS. Every number this prints is about SYNTHETIC data.
set -eu
BUILD=${1:-build}
SESSIONS=${DEMO_SESSIONS:-15000}
TRACKS=${DEMO_TRACKS:-5000}
EPOCHS=${DEMO_EPOCHS:-6}
SEQRECD="$BUILD/daemon/seqrecd"
SEQRECCTL="$BUILD/client/seqrecctl"
[ -x "$SEQRECD" ] && [ -x "$SEQRECCTL" ] || { echo "demo: build first (make build)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/seqrec-demo.XXXXXX)
mkdir -p "$WORK/data" "$WORK/state"
export SEQREC_ENDPOINT="ipc://$WORK/seqrecd.sock"
DPID=""
cleanup() {
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        kill "$DPID" 2>/dev/null || true
        wait "$DPID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "== starting seqrecd on $SEQREC_ENDPOINT"
"$SEQRECD" --endpoint "$SEQREC_ENDPOINT" --data-root "$WORK/data" --state-dir "$WORK/state" \
    2>"$WORK/seqrecd.log" &
DPID=$!
i=0
until "$SEQRECCTL" --timeout 1 status >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -ge 50 ] || ! kill -0 "$DPID" 2>/dev/null; then
        echo "demo: seqrecd did not start; its log:" >&2
        cat "$WORK/seqrecd.log" >&2
        exit 1
    fi
    sleep 0.2
done
"$SEQRECCTL" status

echo
echo "== synthesising $SESSIONS sessions over $TRACKS tracks (synthetic, informative skips)"
"$SEQRECCTL" synth --out synth.csv --sessions "$SESSIONS" --tracks "$TRACKS" --seed 42 \
    --skips informative

echo
echo "== ingesting (MSSD format, skip rule skip_2, leave-last split)"
"$SEQRECCTL" ingest synth.csv --name synth

echo
echo "== stored dataset statistics"
"$SEQRECCTL" stats synth

echo
echo "== training (preset fast, $EPOCHS epochs at most, early stopping on validation NDCG@10)"
echo "-- SASRec without the skip term (lambda = 0)"
"$SEQRECCTL" train synth --model sasrec --preset fast --epochs "$EPOCHS" --set lambda=0 \
    --name sasrec-plain --wait
echo "-- SASRec with the skip term (lambda = 1, tau = 0.1)"
"$SEQRECCTL" train synth --model sasrec --preset fast --epochs "$EPOCHS" --set lambda=1 \
    --name sasrec-skip --wait
echo "-- most-popular baseline"
"$SEQRECCTL" train synth --model pop --name pop --wait

echo
echo "== evaluating on the test split (full ranking over the whole catalogue)"
for m in pop sasrec-plain sasrec-skip; do
    "$SEQRECCTL" --json evaluate "$m" >"$WORK/eval-$m.json"
done
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
rows = [("pop", "most popular"), ("sasrec-plain", "SASRec"), ("sasrec-skip", "SASRec + skip term")]
keys = ["hr@1", "hr@10", "ndcg@10", "mrr@10", "skip_mrr@10", "coverage@10"]
print("%-20s" % "model" + "".join("%13s" % k for k in keys) + "%10s" % "queries")
for name, label in rows:
    r = json.load(open("%s/eval-%s.json" % (work, name)))
    m = r["metrics"]
    cells = "".join("%13s" % ("-" if m.get(k) is None else "%.4f" % m[k]) for k in keys)
    print("%-20s" % label + cells + "%10d" % m["n_queries"])
print("(synthetic data; skip_mrr@10: MRR@10 of queries whose target was skipped - lower is better)")
PY

echo
SESSION=$(awk -F, 'NR > 1 && $1 == first { printf "%s%s%s", sep, $4, ($6 == "True" ? ":skip" : ""); sep = "," }
                   NR == 2 { first = $1; printf "%s%s", $4, ($6 == "True" ? ":skip" : ""); sep = "," }
                   NR > 9 { exit }' "$WORK/data/synth.csv")
echo "== recommending for one session: $SESSION"
"$SEQRECCTL" recommend sasrec-skip --session "$SESSION" -k 10

echo
echo "== stopping seqrecd"
"$SEQRECCTL" shutdown
wait "$DPID"
DPID=""
echo "demo: done (all figures above are on synthetic data)"
