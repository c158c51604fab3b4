#!/bin/sh
# Run experiments/quick.spec on the three datasets of docs/results.md, each with its own
# report: synthetic sessions with informative skips, the same with random skips (the
# control: the skip term should only help where skips carry information), and the real
# KuaiRand like/hate events (CC BY-SA 4.0, Gao et al., CIKM 2022) read from
# ../shared/data through the generic reader. Starts a private daemon.
# usage: experiments/run-quick.sh [BUILD_DIR [RESULTS_DIR [SPEC]]]
#   QUICK_DATASETS="synth-informative ..." runs only those of the three datasets.
#   RESULTS_DIR (default ./quick-results) receives <dataset>/REPORT.md, summary.csv,
#   results.csv, figures/ and runs/*.history.csv (not the model files).
set -eu
BUILD=${1:-build}
RESULTS=${2:-quick-results}
SPEC=${3:-experiments/quick.spec}
SHARED=${SEQREC_SHARED:-../shared/data}
SESSIONS=${QUICK_SESSIONS:-8000}
TRACKS=${QUICK_TRACKS:-2000}
SEQRECD="$BUILD/daemon/seqrecd"
CTL="$BUILD/client/seqrecctl"
[ -x "$SEQRECD" ] && [ -x "$CTL" ] || { echo "run-quick: build first (make build)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/seqrec-quick.XXXXXX)
mkdir -p "$WORK/data" "$WORK/state" "$RESULTS"
export SEQREC_ENDPOINT="ipc://$WORK/seqrecd.sock"
DPID=""
cleanup() {
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then kill "$DPID"; wait "$DPID" || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
"$SEQRECD" --endpoint "$SEQREC_ENDPOINT" --data-root "$WORK/data" --state-dir "$WORK/state" \
    2>"$WORK/seqrecd.log" &
DPID=$!
until "$CTL" --timeout 1 status >/dev/null 2>&1; do
    kill -0 "$DPID" 2>/dev/null || { cat "$WORK/seqrecd.log" >&2; exit 1; }
    sleep 0.2
done

echo "== data: synthetic ($SESSIONS sessions, $TRACKS tracks) with informative and random skips"
"$CTL" synth --out inf.csv --sessions "$SESSIONS" --tracks "$TRACKS" --seed 7 --skips informative >/dev/null
"$CTL" ingest inf.csv --name synth-informative >/dev/null
"$CTL" synth --out rnd.csv --sessions "$SESSIONS" --tracks "$TRACKS" --seed 7 --skips random >/dev/null
"$CTL" ingest rnd.csv --name synth-random >/dev/null
DATASETS="synth-informative synth-random"
if [ -f "$SHARED/kuairand-like-hate/kuairand27k_like_hate_kcore15.tsv" ]; then
    echo "== data: KuaiRand like/hate (real, CC BY-SA 4.0), temporal split"
    cp "$SHARED/kuairand-like-hate/kuairand27k_like_hate_kcore15.tsv" "$WORK/data/"
    "$CTL" ingest kuairand27k_like_hate_kcore15.tsv --name kuairand --format events \
        --config configs/kuairand.ini --split leave-last >/dev/null
    DATASETS="$DATASETS kuairand"
else
    echo "run-quick: $SHARED/kuairand-like-hate not found; KuaiRand skipped" >&2
fi
"$CTL" datasets
DATASETS=${QUICK_DATASETS:-$DATASETS}

for d in $DATASETS; do
    echo "== experiment on $d"
    T0=$(date +%s)
    "$CTL" experiment run "$SPEC" --out "quick-$d" --dataset "$d" --name "quick-$d" --wait >/dev/null
    T1=$(date +%s)
    echo "   $d: $((T1 - T0)) s"
    mkdir -p "$RESULTS/$d/runs"
    cp "$WORK/data/quick-$d/REPORT.md" "$WORK/data/quick-$d/summary.csv" \
        "$WORK/data/quick-$d/results.csv" "$RESULTS/$d/"
    cp -r "$WORK/data/quick-$d/figures" "$RESULTS/$d/"
    cp "$WORK/data/quick-$d/runs/"*.history.csv "$RESULTS/$d/runs/" 2>/dev/null || true
    echo "$d $((T1 - T0))" >>"$RESULTS/timings.txt"
done
echo "run-quick: reports in $RESULTS/<dataset>/REPORT.md"
