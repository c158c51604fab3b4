#!/bin/sh
# Ingestion benchmark (docs/benchmarks.md): generate synthetic MSSD-format logs
# of ROWS rows in FILES files, then ingest them with 1 and 2 threads, each run
# in its own process so peak RSS is per run. Prints one JSON line per run.
#   bench/ingest.sh BUILD_DIR ROWS FILES [WORK_DIR]
# Needs about 155 bytes of disk per row (100M rows: ~16 GB) plus the store.
set -eu
BUILD=${1:?build dir}
ROWS=${2:?rows}
FILES=${3:?files}
WORK=${4:-$(mktemp -d /tmp/seqrec-bench.XXXXXX)}
BIN="$BUILD/bench/bench_ingest"
[ -x "$BIN" ] || { echo "bench: build $BIN first (make build)" >&2; exit 1; }
trap 'rm -rf "$WORK"' EXIT
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
"$BIN" gen "$WORK/logs" "$ROWS" "$FILES"
for t in 1 2; do
    # Warm the page cache the same way for each run, so both read from memory
    # when the logs fit and from disk when they do not.
    cat "$WORK"/logs/*.csv >/dev/null
    "$BIN" run "$WORK/logs" "$t" "$WORK/bench.store"
    rm -f "$WORK/bench.store"
done
