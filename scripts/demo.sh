#!/bin/sh
# The main job on the embedded default (synthetic data calibrated to MSSD):
# start seqrecd on a private socket, synthesise a log, ingest it, print the
# dataset's statistics, stop the daemon. Usage: scripts/demo.sh [BUILD_DIR]
# Every number this prints is about SYNTHETIC data.
set -eu
BUILD=${1:-build}
SESSIONS=${DEMO_SESSIONS:-20000}
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
echo "== synthesising $SESSIONS sessions (synthetic, informative skips)"
"$SEQRECCTL" synth --out synth.csv --sessions "$SESSIONS" --seed 42 --skips informative

echo
echo "== ingesting (MSSD format, skip rule skip_2, leave-last split)"
"$SEQRECCTL" ingest synth.csv --name synth

echo
echo "== stored dataset statistics"
"$SEQRECCTL" stats synth

echo
echo "== stopping seqrecd"
"$SEQRECCTL" shutdown
wait "$DPID"
DPID=""
echo "demo: done (all figures above are on synthetic data)"
