#!/bin/sh
# Peak memory of a training job at a large catalogue, through the real
# daemon: synthesise SESSIONS sessions over TRACKS tracks, ingest, train
# SASRec (paper shapes, sampled softmax with 1000 popularity negatives -
# the full softmax over 1M tracks costs ~40 s a step on 2 cores) for STEPS
# steps with a validation and checkpoints, and report the daemon's peak
# RSS (VmHWM) before and after training. Synthetic data.
# usage: bench/train_job.sh [BUILD_DIR [TRACKS [SESSIONS [STEPS]]]]
set -eu
BUILD=${1:-build}
TRACKS=${2:-1000000}
SESSIONS=${3:-300000}
STEPS=${4:-40}
WORK=$(mktemp -d /tmp/seqrec-bench.XXXXXX)
mkdir -p "$WORK/data" "$WORK/state"
export SEQREC_ENDPOINT="ipc://$WORK/seqrecd.sock"
CTL="$BUILD/client/seqrecctl"
"$BUILD/daemon/seqrecd" --endpoint "$SEQREC_ENDPOINT" --data-root "$WORK/data" --state-dir "$WORK/state" --ckpt-every 20 \
    2>"$WORK/seqrecd.log" &
DPID=$!
trap 'kill $DPID 2>/dev/null; wait $DPID 2>/dev/null; rm -rf "$WORK"' EXIT
until "$CTL" --timeout 1 status >/dev/null 2>&1; do kill -0 $DPID || { cat "$WORK/seqrecd.log"; exit 1; }; sleep 0.2; done
"$CTL" synth --out s.csv --sessions "$SESSIONS" --tracks "$TRACKS" --seed 1 >/dev/null
"$CTL" ingest s.csv --name big >/dev/null
"$CTL" --json stats big | python3 -c 'import json,sys; s=json.load(sys.stdin)["stats"]; print("tracks", s["tracks"], "sessions", s["sessions"], "plays", s["interactions"])'
hwm() { awk '/VmHWM|VmRSS/ { printf "%s %d MiB  ", $1, $2 / 1024 }' /proc/$DPID/status; echo; }
echo "before training: $(hwm)"
T0=$(date +%s)
"$CTL" train big --model sasrec --preset paper --max-steps "$STEPS" --set loss=sampled \
    --set negatives=1000 --set sampler=popularity --set log_q=true \
    --set eval_every="$STEPS" --set valid_queries=2000 --name big-sasrec --wait >/dev/null
T1=$(date +%s)
echo "after training ($STEPS steps, $((T1 - T0)) s): $(hwm)"
ls -l "$WORK/state/models" "$WORK/state/jobs" | grep -v '^total'
