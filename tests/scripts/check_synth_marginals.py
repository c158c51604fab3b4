#!/usr/bin/env python3
"""Independent checker for seqrec's synthetic MSSD-format logs (core/sr_synth.c).

Reads a generated CSV (or .csv.gz) with nothing but the standard library and
checks the calibration targets of docs/data.md, "Synthetic data":

  - the 21-column header, every row well formed, positions 1..length contiguous;
  - session length in [10, 20] with 45% +- 3% at 20;
  - skip_2 0.49 +- 0.02 overall, lower at position 1 than at positions >= 10;
  - skip_1 0.36 +- 0.04, skip_3 0.65 +- 0.04, nesting skip_1 => skip_2 => skip_3,
    not_skipped == not skip_3;
  - context_type mix within +- 0.03 of MSSD's;
  - popularity: the top 1% of tracks receive more than 10% of plays;
  - with --expect informative|random: the co-occurrence lift between a play's
    track and the session's other listened tracks, listened plays over skipped
    plays, is > --min-lift (informative) or within --random-tol of 1 (random).

Usage: check_synth_marginals.py FILE [--expect informative|random] [--quiet]
Exit status 0 when every check passes, 1 otherwise.
"""
import argparse
import collections
import csv
import gzip
import io
import re
import sys

HEADER = ("session_id,session_position,session_length,track_id_clean,skip_1,skip_2,"
          "skip_3,not_skipped,context_switch,no_pause_before_play,short_pause_before_play,"
          "long_pause_before_play,hist_user_behavior_n_seekfwd,hist_user_behavior_n_seekback,"
          "hist_user_behavior_is_shuffle,hour_of_day,date,premium,context_type,"
          "hist_user_behavior_reason_start,hist_user_behavior_reason_end").split(",")
CONTEXT_MIX = {"user_collection": 0.37, "editorial_playlist": 0.24, "catalog": 0.21,
               "radio": 0.12, "personalized_playlist": 0.04, "charts": 0.02}
SESSION_RE = re.compile(r"^s_[0-9a-f]{16}$")
TRACK_RE = re.compile(r"^t_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BOOL = {"True": True, "False": False}


def read_sessions(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="ascii", newline="")
        reader = csv.reader(text)
        header = next(reader)
        if header != HEADER:
            raise ValueError("header differs: %r" % header)
        sessions = []
        cur_id = None
        for lineno, row in enumerate(reader, start=2):
            if len(row) != 21:
                raise ValueError("line %d: %d fields" % (lineno, len(row)))
            sid = row[0]
            if not SESSION_RE.match(sid) or not TRACK_RE.match(row[3]):
                raise ValueError("line %d: bad id %r / %r" % (lineno, sid, row[3]))
            if not DATE_RE.match(row[16]):
                raise ValueError("line %d: bad date %r" % (lineno, row[16]))
            flags = [BOOL[row[i]] for i in (4, 5, 6, 7, 14, 17)]
            play = (int(row[1]), int(row[2]), row[3], flags[0], flags[1], flags[2], flags[3],
                    row[18])
            if sid != cur_id:
                sessions.append([])
                cur_id = sid
            sessions[-1].append(play)
    return sessions


def lift_ratio(sessions):
    """Mean co-occurrence lift of a play's track with the session's other
    listened tracks (leave-this-session-out counts), listened over skipped."""
    n_sess = len(sessions)
    df = collections.Counter()
    pair = collections.Counter()
    sets = []
    for s in sessions:
        ts = sorted(set(p[2] for p in s))
        sets.append(ts)
        df.update(ts)
        for i in range(len(ts)):
            for j in range(i + 1, len(ts)):
                pair[(ts[i], ts[j])] += 1
    acc = {True: [0.0, 0], False: [0.0, 0]}
    for s in sessions:
        for idx, p in enumerate(s):
            a = p[2]
            tot, cnt = 0.0, 0
            for k, q in enumerate(s):
                b = q[2]
                if k == idx or q[4] or b == a:
                    continue
                na, nb = df[a] - 1, df[b] - 1
                if na <= 0 or nb <= 0:
                    continue
                c = pair[(a, b) if a < b else (b, a)] - 1
                tot += c * (n_sess - 1) / (na * nb)
                cnt += 1
            if cnt:
                acc[p[4]][0] += tot / cnt
                acc[p[4]][1] += 1
    mean_listened = acc[False][0] / max(acc[False][1], 1)
    mean_skipped = acc[True][0] / max(acc[True][1], 1)
    return mean_listened / mean_skipped if mean_skipped > 0 else float("inf")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("path")
    ap.add_argument("--expect", choices=["informative", "random"])
    ap.add_argument("--min-lift", type=float, default=1.08)
    ap.add_argument("--random-tol", type=float, default=0.03)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    failures = []

    def check(name, ok, value):
        if not args.quiet or not ok:
            print("%-4s %-40s %s" % ("ok" if ok else "FAIL", name, value))
        if not ok:
            failures.append(name)

    try:
        sessions = read_sessions(args.path)
    except (ValueError, KeyError) as e:
        print("FAIL parse: %s" % e)
        return 1

    rows = [p for s in sessions for p in s]
    n = len(rows)
    contiguous = all([p[0] for p in s] == list(range(1, len(s) + 1)) and
                     all(p[1] == len(s) for p in s) for s in sessions)
    check("positions 1..length contiguous", contiguous, "%d sessions" % len(sessions))
    lengths = [len(s) for s in sessions]
    check("lengths in [10, 20]", min(lengths) >= 10 and max(lengths) <= 20,
          "%d..%d" % (min(lengths), max(lengths)))
    f20 = sum(1 for x in lengths if x == 20) / len(lengths)
    check("length 20 fraction 0.45 +- 0.03", abs(f20 - 0.45) <= 0.03, "%.4f" % f20)

    s1 = sum(p[3] for p in rows) / n
    s2 = sum(p[4] for p in rows) / n
    s3 = sum(p[5] for p in rows) / n
    check("skip_2 rate 0.49 +- 0.02", abs(s2 - 0.49) <= 0.02, "%.4f" % s2)
    check("skip_1 rate 0.36 +- 0.04", abs(s1 - 0.36) <= 0.04, "%.4f" % s1)
    check("skip_3 rate 0.65 +- 0.04", abs(s3 - 0.65) <= 0.04, "%.4f" % s3)
    nested = all((not p[3] or p[4]) and (not p[4] or p[5]) and (p[6] == (not p[5]))
                 for p in rows)
    check("nesting and not_skipped == !skip_3", nested, "")
    first = [p[4] for p in rows if p[0] == 1]
    late = [p[4] for p in rows if p[0] >= 10]
    r1, r10 = sum(first) / len(first), sum(late) / len(late)
    check("skip_2 at position 1 < at >= 10", r1 < r10, "%.4f < %.4f" % (r1, r10))

    ctx = collections.Counter(s[0][7] for s in sessions)
    ctx_const = all(all(p[7] == s[0][7] for p in s) for s in sessions)
    check("context_type constant per session", ctx_const, "")
    for name, target in CONTEXT_MIX.items():
        frac = ctx[name] / len(sessions)
        check("context %s %.2f +- 0.03" % (name, target), abs(frac - target) <= 0.03,
              "%.4f" % frac)

    plays = collections.Counter(p[2] for p in rows)
    counts = sorted(plays.values(), reverse=True)
    top = max(1, len(counts) // 100)
    share = sum(counts[:top]) / n
    check("top 1% of tracks > 10% of plays", share > 0.10,
          "%.4f (%d of %d tracks)" % (share, top, len(counts)))

    if args.expect:
        ratio = lift_ratio(sessions)
        if args.expect == "informative":
            check("lift listened/skipped > %.2f" % args.min_lift, ratio > args.min_lift,
                  "%.4f" % ratio)
        else:
            check("lift listened/skipped = 1 +- %.2f" % args.random_tol,
                  abs(ratio - 1.0) <= args.random_tol, "%.4f" % ratio)

    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    if not args.quiet:
        print("all checks passed (%d sessions, %d rows)" % (len(sessions), n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
