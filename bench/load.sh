#!/bin/sh
# bench/load.sh - seqrecd under load: requests/s and latency of single-session
# recommendations over ipc and tcp on loopback, with and without a training
# job running, and the daemon's memory over a long run (docs/benchmarks.md,
# "Serving under load"). A benchmark run by hand, never a test. Synthetic data.
#
# What it does, in a temporary directory (removed at the end unless KEEP=1):
#  1. starts $BUILD/daemon/seqrecd on an ipc:// socket with a private data
#     root and state directory;
#  2. synthesises SESSIONS sessions over TRACKS tracks, ingests them, checks
#     how many tracks survived (the model scores exactly those), and trains a
#     SASRec model briefly (STEPS steps, sampled softmax: accuracy does not
#     matter here, the shapes do; PRESET paper = D 128, L 20, 2 blocks);
#  3. writes QUERIES sessions of the log (every play but the last, ":s" on
#     skipped plays) as bench_load's sessions file;
#  4. over each transport in TRANSPORTS (the daemon is restarted on
#     tcp://127.0.0.1:PORT with the same state directory for tcp): closed
#     loop with each of CLIENTS_LIST clients, open loop at each of RATES
#     requests/s (OPEN_CLIENTS client threads);
#     and closed loop with BATCH_CLIENTS clients sending BATCHES sessions per
#     request (the "sessions" form; a daemon without it fails these points,
#     which are recorded as failed and skipped);
#  5. over ipc: the open-loop TRAIN_RATE point again, then while a training
#     job (SASRec, the daemon's default preset, on a second dataset) runs;
#  6. over ipc, on a freshly started daemon (so that VmHWM is the serving
#     peak, not the training's): a long open-loop run (LONG_S seconds at
#     LONG_RATE req/s) with the daemon's VmRSS and VmHWM sampled every
#     SAMPLE_S seconds;
#  7. appends everything as JSON lines to OUT (first line: machine, date,
#     commit, settings; the daemon's status reply after each start and at the
#     end) and prints markdown tables.
#
# usage: bench/load.sh [OUT]        (default OUT: load-<date>.jsonl here; a new file)
#        bench/load.sh --table OUT  (the tables of an earlier run again)
# Builds nothing: make build (Release) first. Settings (environment):
#   BUILD=build  TRACKS=100000  SESSIONS=300000  STEPS=300  PRESET=paper
#   QUERIES=10000  K=10  POINT_S=10  WARMUP_S=2  CLIENTS_LIST="1 4 16 64"
#   RATES="1000 2000 3000 4000"  OPEN_CLIENTS=4  TRANSPORTS="ipc tcp"  PORT=(free)
#   BATCHES="16 64"  BATCH_CLIENTS=2
#   TRAIN_RATE=2000  LONG_S=600  LONG_RATE=2000  SAMPLE_S=5
#   DAEMON_ARGS=""  (extra seqrecd options, e.g. "--threads 4")  KEEP=0
#   SEQRECD, SEQRECCTL, BENCH_LOAD (binaries; default under $BUILD)
# A quick look (about 6 minutes in all; the data takes ~1.1 GB under /tmp):
#   POINT_S=3 WARMUP_S=1 LONG_S=60 bench/load.sh /tmp/load-short.jsonl
set -eu

BUILD=${BUILD:-build}
TRACKS=${TRACKS:-100000}
SESSIONS=${SESSIONS:-300000}
STEPS=${STEPS:-300}
PRESET=${PRESET:-paper}
QUERIES=${QUERIES:-10000}
K=${K:-10}
POINT_S=${POINT_S:-10}
WARMUP_S=${WARMUP_S:-2}
CLIENTS_LIST=${CLIENTS_LIST:-1 4 16 64}
RATES=${RATES:-1000 2000 3000 4000}
OPEN_CLIENTS=${OPEN_CLIENTS:-4}
BATCHES=${BATCHES-16 64}
BATCH_CLIENTS=${BATCH_CLIENTS:-2}
TRANSPORTS=${TRANSPORTS:-ipc tcp}
TRAIN_RATE=${TRAIN_RATE:-2000}
LONG_S=${LONG_S:-600}
LONG_RATE=${LONG_RATE:-2000}
SAMPLE_S=${SAMPLE_S:-5}
DAEMON_ARGS=${DAEMON_ARGS:-}
KEEP=${KEEP:-0}
SEQRECD=${SEQRECD:-$BUILD/daemon/seqrecd}
SEQRECCTL=${SEQRECCTL:-$BUILD/client/seqrecctl}
BENCH_LOAD=${BENCH_LOAD:-$BUILD/bench/bench_load}
OUT=${1:-load-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
SRC=$(cd "$(dirname "$0")/.." && pwd)

# table FILE: markdown tables of a results file
table() {
python3 - "$1" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
meta = [r for r in rows if r["bench"] == "load-meta"][-1]
model = [r for r in rows if r["bench"] == "load-model"]
print(f"{meta['date']}, {meta['cpu_model']} x {meta['cpus']} CPUs, L3 {meta['l3']}, "
      f"kernel {meta['kernel']}, commit {meta['commit'][:12]}"
      + (f" + {meta['dirty_files']} modified files" if meta["dirty_files"] else "")
      + f", load1 at start {meta['load1']:.2f}")
print(f"command: {meta['command']}  settings: {json.dumps(meta['settings'])}")
if model:
    m = model[-1]
    print(f"model: {m['kind']} D {m['dim']}, {m['layers']} blocks, {m['heads']} heads, L {m['max_len']}, "
          f"{m['head']} head, scoring {m['items']:,} tracks (dataset: {m['dataset_tracks']:,} tracks, "
          f"{m['dataset_sessions']:,} sessions); trained {m['train_seconds']} s")
print()
print("| point | transport | training | clients | offered req/s | req/s | ok/s | sessions/s | 429 "
      "| other err | lost | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | daemon CPU | client CPU | load1 |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
      "| ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    if r["bench"] != "load":
        continue
    l = r["lat_us"]
    d = r.get("daemon", {})
    cpu = f"{100 * d['cpu_s'] / r['duration_s']:.0f}%" if d else ""
    print(f"| {r['label']} | {r['transport']} | {'yes' if r['training'] else 'no'} | {r['clients']} "
          f"| {r['rate']:.0f} | {r['req_per_s']:.0f} | {r['ok_per_s']:.0f} "
          f"| {r['sessions_per_s']:.0f} | {r['busy']} "
          f"| {r['errors'] - r['busy']} | {r['unanswered'] + r['send_fail']} "
          f"| {l['p50'] / 1000:.2f} | {l['p90'] / 1000:.2f} | {l['p99'] / 1000:.2f} "
          f"| {l['p999'] / 1000:.2f} | {l['max'] / 1000:.2f} | {cpu} "
          f"| {100 * r['client_cpu_s'] / r['duration_s']:.0f}% | {r['load1_at_start']:.1f} |")
for r in rows:
    if r["bench"] == "load-failed":
        print(f"| {r['label']} | {r['transport']} | failed: {r['stderr'][:120]} |")
rss = [r for r in rows if r["bench"] == "load-rss"]
if rss:
    mid = rss[len(rss) // 2]
    print()
    print("| daemon memory during the long run | t (s) | VmRSS MiB | RssAnon MiB | RssFile MiB "
          "| VmHWM MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in (("start", rss[0]), ("middle", mid), ("end", rss[-1])):
        print(f"| {name} | {r['t_s']} | {r['rss_kib'] / 1024:.1f} | {r.get('anon_kib', 0) / 1024:.1f} "
              f"| {r.get('file_kib', 0) / 1024:.1f} | {r['hwm_kib'] / 1024:.1f} |")
EOF
}

if [ "${1:-}" = --table ]; then
    table "${2:?usage: bench/load.sh --table FILE}"
    exit 0
fi
if [ -s "$OUT" ]; then
    echo "load.sh: $OUT exists: name a new results file" >&2
    exit 2
fi
for b in "$SEQRECD" "$SEQRECCTL" "$BENCH_LOAD"; do
    [ -x "$b" ] || { echo "load.sh: $b not found: build first (make build)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "load.sh: needs python3" >&2; exit 2; }
if [ -z "${PORT:-}" ]; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

WORK=$(mktemp -d /tmp/seqrec-load.XXXXXX)
mkdir -p "$WORK/data" "$WORK/state"
DPID=
SAMPLER=
cleanup() {
    if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null || true; fi
    if [ -n "$DPID" ]; then
        kill "$DPID" 2>/dev/null || true
        wait "$DPID" 2>/dev/null || true
    fi
    if [ "$KEEP" = 1 ]; then echo "load.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "load.sh: $*" >&2; }
ctl() { "$SEQRECCTL" --endpoint "$EP" "$@"; }

# start_daemon ENDPOINT LOGNAME: sets EP and DPID, waits until it answers
start_daemon() {
    EP=$1
    # shellcheck disable=SC2086 # DAEMON_ARGS is a word list on purpose
    "$SEQRECD" --endpoint "$EP" --data-root "$WORK/data" --state-dir "$WORK/state" \
        $DAEMON_ARGS 2>"$WORK/$2.log" &
    DPID=$!
    i=0
    until ctl --timeout 1 status >/dev/null 2>&1; do
        kill -0 "$DPID" 2>/dev/null || { cat "$WORK/$2.log" >&2; exit 1; }
        i=$((i + 1))
        [ $i -lt 150 ] || { say "seqrecd did not answer on $EP"; exit 1; }
        sleep 0.2
    done
    daemon_status "$2"
}

# daemon_status WHEN: the daemon's status reply -> OUT
daemon_status() {
    ctl --json status >"$WORK/status.json"
    python3 - "$WORK/status.json" "$1" "$EP" >>"$OUT" <<'EOF'
import json, sys
print(json.dumps({"bench": "load-daemon", "when": sys.argv[2], "endpoint": sys.argv[3],
                  "status": json.load(open(sys.argv[1]))}))
EOF
}

stop_daemon() {
    ctl --timeout 10 shutdown >/dev/null 2>&1 || kill "$DPID" 2>/dev/null || true
    wait "$DPID" 2>/dev/null || true
    DPID=
}

# point LABEL TRANSPORT [bench_load options...]: one measurement -> OUT; a
# failed point is recorded with bench_load's message and the run goes on
point() {
    label=$1
    transport=$2
    shift 2
    say "$label ($transport)"
    if "$BENCH_LOAD" --endpoint "$EP" --model "$MODEL" --sessions "$WORK/sessions.txt" \
        --k "$K" --pid "$DPID" --json --label "$label" "$@" >"$WORK/point.json" \
        2>"$WORK/point.err"; then
        python3 - "$WORK/point.json" "$transport" "$TRAINING" >>"$OUT" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["transport"] = sys.argv[2]
p["training"] = sys.argv[3] == "1"
print(json.dumps(p))
EOF
    else
        say "bench_load failed: $label: $(cat "$WORK/point.err")"
        python3 - "$WORK/point.err" "$label" "$transport" "$*" >>"$OUT" <<'EOF'
import json, sys
print(json.dumps({"bench": "load-failed", "label": sys.argv[2], "transport": sys.argv[3],
                  "args": sys.argv[4], "stderr": open(sys.argv[1]).read().strip()}))
EOF
    fi
}

# ---- provenance ---------------------------------------------------------------
COMMIT=$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)
DIRTY=$(GIT_OPTIONAL_LOCKS=0 git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null | wc -l)
python3 - "$COMMIT" "$DIRTY" "$0 $*" >>"$OUT" <<EOF
import json, os, platform, subprocess, sys, time
def lscpu(key):
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.split(":")[0].strip() == key:
            return line.split(":", 1)[1].strip()
    return None
mem = [l for l in open("/proc/meminfo") if l.startswith("MemTotal")][0].split()[1]
print(json.dumps({"bench": "load-meta", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": sys.argv[1], "dirty_files": int(sys.argv[2]), "command": sys.argv[3],
    "cpu_model": lscpu("Model name"), "cpus": os.cpu_count(), "l3": lscpu("L3 cache"),
    "mem_kib": int(mem), "kernel": platform.release(), "load1": os.getloadavg()[0],
    "settings": {"BUILD": "$BUILD", "TRACKS": $TRACKS, "SESSIONS": $SESSIONS, "STEPS": $STEPS,
        "PRESET": "$PRESET", "QUERIES": $QUERIES, "K": $K, "POINT_S": $POINT_S,
        "WARMUP_S": $WARMUP_S, "CLIENTS_LIST": "$CLIENTS_LIST", "RATES": "$RATES",
        "OPEN_CLIENTS": $OPEN_CLIENTS, "TRANSPORTS": "$TRANSPORTS", "PORT": $PORT,
        "BATCHES": "$BATCHES", "BATCH_CLIENTS": $BATCH_CLIENTS,
        "TRAIN_RATE": $TRAIN_RATE, "LONG_S": $LONG_S, "LONG_RATE": $LONG_RATE,
        "SAMPLE_S": $SAMPLE_S, "DAEMON_ARGS": "$DAEMON_ARGS"}}))
EOF

# ---- data and model -------------------------------------------------------------
TRAINING=0
MODEL=load-sasrec
start_daemon "ipc://$WORK/seqrecd.sock" seqrecd-ipc
say "synth $SESSIONS sessions over $TRACKS tracks"
ctl synth --out load.csv --sessions "$SESSIONS" --tracks "$TRACKS" --seed 1 >/dev/null
ctl ingest load.csv --name load >/dev/null
ctl --json stats load >"$WORK/stats.json"
say "synth a second dataset for the training job"
ctl synth --out train2.csv --sessions 100000 --tracks "$TRACKS" --seed 2 >/dev/null
ctl ingest train2.csv --name train2 >/dev/null
say "train $MODEL ($PRESET preset, $STEPS steps, sampled softmax)"
T0=$(date +%s)
ctl train load --model sasrec --preset "$PRESET" --max-steps "$STEPS" --set loss=sampled \
    --set negatives=1000 --set eval_every="$STEPS" --set valid_queries=1000 \
    --name "$MODEL" --wait >/dev/null
T1=$(date +%s)
ctl --json models "$MODEL" >"$WORK/model.json"
python3 - "$WORK/stats.json" "$WORK/model.json" $((T1 - T0)) "$TRACKS" >>"$OUT" <<'EOF'
import json, sys
st = json.load(open(sys.argv[1]))["stats"]
m = json.load(open(sys.argv[2]))["models"][0]
cfg = dict(l.split(" = ", 1) for l in m["config"].splitlines() if " = " in l)
out = {"bench": "load-model", "name": m["name"], "kind": m["kind"], "dataset_tracks": st["tracks"],
       "dataset_sessions": st["sessions"], "items": int(cfg["items"]), "dim": int(cfg["dim"]),
       "layers": int(cfg["layers"]), "heads": int(cfg["heads"]), "max_len": int(cfg["max_len"]),
       "head": cfg["head"], "train_seconds": int(sys.argv[3])}
print(json.dumps(out))
if out["items"] < 0.95 * int(sys.argv[4]):
    print("load.sh: the model scores only %d of %s tracks: raise SESSIONS" % (out["items"], sys.argv[4]),
          file=sys.stderr)
EOF
python3 - "$WORK/data/load.csv" "$QUERIES" >"$WORK/sessions.txt" <<'EOF'
import csv, sys
n, want, cur, plays = 0, int(sys.argv[2]), None, []
def flush():
    global n
    if len(plays) >= 2:
        print(" ".join(plays[:-1]))
        n += 1
with open(sys.argv[1], newline="") as f:
    r = csv.reader(f)
    h = next(r)
    si, ti, ki = h.index("session_id"), h.index("track_id_clean"), h.index("skip_2")
    for row in r:
        if row[si] != cur:
            flush()
            cur, plays = row[si], []
            if n >= want:
                break
        plays.append(row[ti] + (":s" if row[ki] == "True" else ""))
    else:
        flush()
EOF
say "$(wc -l <"$WORK/sessions.txt") query sessions"

# ---- the grid, per transport -------------------------------------------------------
for tr in $TRANSPORTS; do
    if [ "$tr" = tcp ]; then
        stop_daemon
        start_daemon "tcp://127.0.0.1:$PORT" seqrecd-tcp
    elif [ "$tr" != ipc ]; then
        say "unknown transport $tr"
        exit 2
    fi
    for n in $CLIENTS_LIST; do
        point "closed $n" "$tr" --clients "$n" --duration "$POINT_S" --warmup "$WARMUP_S"
    done
    for r in $RATES; do
        point "open $r" "$tr" --clients "$OPEN_CLIENTS" --rate "$r" --duration "$POINT_S" \
            --warmup "$WARMUP_S"
    done
    for b in $BATCHES; do
        point "closed $BATCH_CLIENTS, batch $b" "$tr" --clients "$BATCH_CLIENTS" --batch "$b" \
            --duration "$POINT_S" --warmup "$WARMUP_S"
    done
done

# ---- with a training job, and the long run: over ipc ------------------------------
if [ "$(echo "$EP" | cut -c1-6)" != "ipc://" ]; then
    stop_daemon
    start_daemon "ipc://$WORK/seqrecd.sock" seqrecd-ipc2
fi
point "open $TRAIN_RATE, before training" ipc --clients "$OPEN_CLIENTS" --rate "$TRAIN_RATE" \
    --duration "$POINT_S" --warmup "$WARMUP_S"
say "start a training job on train2"
JOB=$(ctl --json train train2 --model sasrec --max-steps 1000000 --name bg |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["job"])')
# wait until it is past its set-up and stepping
i=0
until ctl --json jobs "$JOB" | python3 -c 'import json,sys; j=json.load(sys.stdin); j=j.get("jobs",[j])[0]; sys.exit(0 if j.get("state")=="running" and (j.get("step") or 0)>=5 else 1)'; do
    i=$((i + 1))
    [ $i -lt 300 ] || { say "training job $JOB did not start"; exit 1; }
    sleep 1
done
TRAINING=1
point "open $TRAIN_RATE, training" ipc --clients "$OPEN_CLIENTS" --rate "$TRAIN_RATE" \
    --duration "$POINT_S" --warmup "$WARMUP_S"
TRAINING=0
ctl --json jobs "$JOB" >"$WORK/job.json"
ctl cancel "$JOB" >/dev/null || true
python3 - "$WORK/job.json" >>"$OUT" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j = j.get("jobs", [j])[0]
print(json.dumps({"bench": "load-train-job", "job": j.get("job"), "state": j.get("state"),
                  "step": j.get("step"), "seq_per_s": j.get("seq_per_s")}))
EOF
# the job checkpoints on cancel: wait until it has stopped
i=0
until ctl --json jobs "$JOB" | python3 -c 'import json,sys; j=json.load(sys.stdin); j=j.get("jobs",[j])[0]; sys.exit(0 if j.get("state") not in ("running","queued") else 1)'; do
    i=$((i + 1))
    [ $i -lt 120 ] || break
    sleep 1
done

stop_daemon
start_daemon "ipc://$WORK/seqrecd.sock" seqrecd-long
# load the model before the first memory sample (a short unrecorded run)
"$BENCH_LOAD" --endpoint "$EP" --model "$MODEL" --sessions "$WORK/sessions.txt" --k "$K" \
    --duration 0.5 --warmup 0 >/dev/null
say "long run: $LONG_S s at $LONG_RATE req/s, memory every $SAMPLE_S s"
(
    t0=$(date +%s)
    while kill -0 "$DPID" 2>/dev/null; do
        awk -v t=$(($(date +%s) - t0)) '/^VmRSS/ { r = $2 } /^VmHWM/ { h = $2 }
            /^RssAnon/ { a = $2 } /^RssFile/ { f = $2 }
            END { printf "{\"bench\":\"load-rss\",\"t_s\":%d,\"rss_kib\":%d,\"hwm_kib\":%d,\"anon_kib\":%d,\"file_kib\":%d}\n", t, r, h, a, f }' \
            "/proc/$DPID/status"
        sleep "$SAMPLE_S"
    done
) >"$WORK/rss.jsonl" &
SAMPLER=$!
point "long $LONG_RATE" ipc --clients "$OPEN_CLIENTS" --rate "$LONG_RATE" --duration "$LONG_S" \
    --warmup "$WARMUP_S" --timeout-ms 5000
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=
cat "$WORK/rss.jsonl" >>"$OUT"
daemon_status "after the long run"
stop_daemon

table "$OUT"
say "results in $OUT"
