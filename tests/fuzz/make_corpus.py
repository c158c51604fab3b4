#!/usr/bin/env python3
"""Regenerate tests/fuzz/corpus: seed inputs for fuzz_proto_request.

Valid requests for every op (minimal and with every field), a few replies, and
a handful of malformed frames that each stop in a different check. Names say
what each seed is: ok_* decode, reply_* are replies, bad_<code>_* must be
refused with that reply code (test_proto.c checks this). The
MessagePack encoder below is written by hand (no python msgpack dependency) and
can force any wire format, so the seeds also cover the formats msgpack-c's
packer never emits (int8 holding a positive value, float32, str8 for short
strings, bin, ext, array16/map16...).

Usage: python3 tests/fuzz/make_corpus.py [OUTDIR]   (default: corpus/ beside this file)
The directory is emptied first so removed seeds do not linger.
"""
import os
import struct
import sys


class Raw:
    """Bytes copied as they are (for malformed frames and forced formats)."""

    def __init__(self, b):
        self.b = b


class M:
    """A map given as a list of (key, value) pairs: allows duplicate keys and
    keeps the order."""

    def __init__(self, *pairs):
        self.pairs = pairs


def f32(x):
    return Raw(b"\xca" + struct.pack(">f", x))


def i8(x):
    return Raw(b"\xd0" + struct.pack(">b", x))


def str8(s):
    b = s.encode()
    return Raw(b"\xd9" + struct.pack(">B", len(b)) + b)


def pack(o):
    if isinstance(o, Raw):
        return o.b
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o <= 0x7F:
            return struct.pack(">B", o)
        if -32 <= o < 0:
            return struct.pack(">b", o)
        if o >= 0:
            for code, fmt, lim in ((0xCC, ">B", 1 << 8), (0xCD, ">H", 1 << 16),
                                   (0xCE, ">I", 1 << 32), (0xCF, ">Q", 1 << 64)):
                if o < lim:
                    return bytes([code]) + struct.pack(fmt, o)
        for code, fmt, lim in ((0xD0, ">b", 1 << 7), (0xD1, ">h", 1 << 15),
                               (0xD2, ">i", 1 << 31), (0xD3, ">q", 1 << 63)):
            if o >= -lim:
                return bytes([code]) + struct.pack(fmt, o)
        raise ValueError(o)
    if isinstance(o, float):
        return b"\xcb" + struct.pack(">d", o)
    if isinstance(o, str):
        b = o.encode()
        n = len(b)
        if n < 32:
            return bytes([0xA0 | n]) + b
        if n < 1 << 8:
            return b"\xd9" + struct.pack(">B", n) + b
        if n < 1 << 16:
            return b"\xda" + struct.pack(">H", n) + b
        return b"\xdb" + struct.pack(">I", n) + b
    if isinstance(o, bytes):
        n = len(o)
        if n < 1 << 8:
            return b"\xc4" + struct.pack(">B", n) + o
        return b"\xc5" + struct.pack(">H", n) + o
    if isinstance(o, list):
        n = len(o)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(pack(x) for x in o)
    if isinstance(o, dict):
        o = M(*o.items())
    if isinstance(o, M):
        n = len(o.pairs)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(pack(k) + pack(v) for k, v in o.pairs)
    raise TypeError(type(o))


def req(op, **fields):
    d = {"v": 1, "op": op}
    d.update(fields)
    return d


EXP_SPEC = """[experiment]
title = Skip-contrastive term against plain training
dataset = synth
seeds = 5
split = test
protocols = full, sampled

[config sasrec]
model = sasrec
preset = fast
set = lambda=0

[config sasrec+skip]
model = sasrec
preset = fast
set = lambda=0.5
base = sasrec

[config pop]
model = pop
"""

SEEDS = {
    # ---- valid requests, every op ------------------------------------------------
    "ok_status": req("status"),
    "ok_status_id": req("status", id=1),
    "ok_datasets_id64": req("datasets", id=(1 << 64) - 1),
    "ok_shutdown": req("shutdown", id=7),
    "ok_stats": req("stats", id=2, name="mssd-mini"),
    "ok_synth_min": req("synth", out="synthetic/s.csv", sessions=1),
    "ok_synth_full": req("synth", id=3, out="synthetic/s.csv.gz", sessions=1000000000,
                         tracks=20000, seed=0, skips="random"),
    "ok_synth_informative": req("synth", out="a.csv", sessions=10000, seed=42,
                                skips="informative"),
    "ok_ingest_min": req("ingest", name="d", paths=["logs/x.csv"]),
    "ok_ingest_full_mssd": req("ingest", id=4, name="mssd_v1.2", paths=["a.csv", "b.csv.gz"],
                               format="mssd", split="leave-last", skip_rule="skip_2",
                               min_session_len=2, min_track_count=5, only_with_skip=True,
                               max_reject_rate=0.01, replace=True),
    "ok_ingest_events": req("ingest", id=5, name="events-1", paths=["ev/"], format="events",
                            config="[columns]\nsession = sid\ntrack = tid\nskipped = skip\n",
                            split="temporal", valid_frac=0.1, test_frac=0.2,
                            only_with_skip=False, skip_rule="not_skipped"),
    "ok_ingest_64_paths": req("ingest", name="many", paths=["p%02d.csv" % i for i in range(64)]),
    "ok_train_min": req("train", dataset="mssd-mini", model="sasrec"),
    "ok_train_full": req("train", id=10, dataset="d1", model="bert4rec", preset="paper",
                         set=["lambda=0.5", "dim = 64", "lr=0.001"], max_steps=5000, epochs=3,
                         seed=0, name="bert-d1.v2"),
    "ok_train_zero_means_unset": req("train", dataset="d", model="pop", max_steps=0, epochs=0),
    "ok_jobs_all": req("jobs", id=11),
    "ok_jobs_one": req("jobs", job=3),
    "ok_cancel": req("cancel", id=12, job=(1 << 64) - 1),
    "ok_evaluate_min": req("evaluate", model="m"),
    "ok_evaluate_full": req("evaluate", id=13, model="sasrec-1", dataset="d2", split="validation",
                            protocol="sampled", exclude="played", max_queries=2000),
    "ok_recommend_min": req("recommend", model="m", tracks=[]),
    # track ids in every str format (the decoder keeps them as raw wire bytes)
    "ok_recommend_full": M(("v", 1), ("op", "recommend"), ("id", 14), ("model", "sasrec-1"),
                           ("tracks", ["t_a", str8("t_b"), Raw(b"\xda\x00\x03t_c"),
                                       Raw(b"\xdb\x00\x00\x00\x03t_d"), "x" * 40]),
                           ("skipped", [False, True, False, True, False]), ("k", 1000),
                           ("exclude", "none")),
    "ok_recommend_empty_skipped": req("recommend", model="m", tracks=[], skipped=[], k=1),
    # no model: the daemon's default one
    "ok_recommend_no_model": req("recommend", tracks=["t_a"], k=3),
    # the batch form: one map per session, "skipped" where given, ids in several str formats
    "ok_recommend_batch": req("recommend", id=17, model="sasrec-1", k=5, exclude="played",
                              sessions=[{"tracks": ["t_a", "t_b"], "skipped": [False, True]},
                                        {"tracks": []},
                                        M(("skipped", [True]), ("tracks", [str8("t_c")])),
                                        {"tracks": [], "skipped": []}]),
    "ok_recommend_batch_one": req("recommend", sessions=[{"tracks": ["a"]}]),
    # the largest batch (array16 of 1000 maps)
    "ok_recommend_batch_1000": req("recommend", model="m",
                                   sessions=[{"tracks": ["t%d" % i]} for i in range(1000)]),
    "ok_models_all": req("models"),
    "ok_models_one": req("models", id=15, name="sasrec-1"),
    "ok_models_list_explicit": req("models", action="list"),
    "ok_models_load": req("models", id=18, action="load", name="sasrec-1"),
    "ok_models_save": req("models", action="save", name="sasrec-1", **{"as": "sasrec-1.bak"}),
    "ok_models_save_replace": req("models", action="save", name="a", replace=True, **{"as": "b"}),
    "ok_models_default_set": req("models", action="default", name="sasrec-1"),
    "ok_models_default_show": req("models", action="default"),
    "ok_models_drop": req("models", id=19, action="drop", name="old.v1"),
    "ok_datasets_drop": req("datasets", id=20, action="drop", name="mssd-old"),
    "ok_datasets_list_explicit": req("datasets", id=21, action="list"),
    "ok_experiment_min": req("experiment", spec="[experiment]\nseeds = 2\n[config pop]\nmodel = pop\n",
                             out="exp/q"),
    # a spec over 255 bytes (str16), every field, the spec as the daemon documents it
    "ok_experiment_full": req("experiment", id=16, spec=EXP_SPEC, out="experiments/skip-vs-plain",
                              dataset="mssd-mini", name="skip-vs-plain.v1"),
    # floats as integers and float32, int8 holding a positive value, str8 op
    "ok_ingest_number_forms": M(("v", i8(1)), ("op", str8("ingest")), ("name", "n"),
                                ("paths", ["x"]), ("max_reject_rate", 0), ("valid_frac", f32(0.25)),
                                ("test_frac", 1 - 1), ("min_session_len", Raw(b"\xcd\x00\x03"))),
    # unknown keys of every format are ignored
    "ok_unknown_keys": M(("v", 1), ("op", "status"), ("future", {"a": [1, -2, 2.5, None]}),
                         ("bin", b"\x00\xff"), ("ext", Raw(b"\xd6\x01abcd")),
                         ("ext8", Raw(b"\xc7\x02\xfeab")), ("neg", -100000),
                         ("big", Raw(b"\xdc\x00\x01\x01")), ("m16", Raw(b"\xde\x00\x00"))),
    # more than 32 keys: the duplicate-key check sorts instead of comparing pairs
    "ok_40_unknown_keys": M(("v", 1), ("op", "datasets"), *(("k%d" % i, i) for i in range(40))),
    # ---- replies (the client's decoder) -------------------------------------------
    "reply_ok": {"v": 1, "id": 3, "ok": True,
                 "result": {"state": "ready", "sessions": 10000, "skip_rate": 0.49}},
    "reply_experiment": {"v": 1, "id": 16, "ok": True,
                         "result": {"job": 7, "name": "skip-vs-plain.v1",
                                    "out": "/var/lib/seqrec/data/experiments/skip-vs-plain"}},
    "reply_jobs_experiment": {"v": 1, "id": 17, "ok": True, "result": {"jobs": [
        {"job": 7, "kind": "experiment", "state": "running", "phase": "train",
         "dataset": "mssd-mini", "model": "skip-vs-plain.v1", "run": 2, "runs": 20,
         "current": "sasrec+skip seed 3", "step": 120, "total_steps": 5000, "eta_s": 3600.5,
         "elapsed_s": 61.0, "loss": None, "message": ""}]}},
    "reply_recommend_batch": {"v": 1, "id": 17, "ok": True, "result": {"model": "sasrec-1", "results": [
        {"fallback": False, "items": [{"track": "t_x", "score": 11.5}, {"track": "t_y", "score": 9.25}],
         "warnings": []},
        {"fallback": True, "items": [{"track": "t_pop", "score": 0.0}],
         "warnings": ["1 of 1 tracks is not in the model's catalogue: t_q"]}]}},
    "reply_models_list_default": {"v": 1, "id": 15, "ok": True, "result": {
        "models": [{"name": "sasrec-1", "created": 1700000000, "kind": "sasrec", "dataset": "d"}],
        "default": "sasrec-1"}},
    "reply_models_load": {"v": 1, "id": 18, "ok": True, "result": {
        "model": "sasrec-1", "kind": "sasrec", "tracks": 20000, "seconds": 0.42}},
    "reply_models_default_none": {"v": 1, "id": 20, "ok": True, "result": {"default": None}},
    "reply_error": {"v": 1, "id": 4, "ok": False,
                    "error": {"code": 404, "kind": "not_found", "message": "no dataset \"x\""}},
    # ---- malformed, one check each: bad_<reply code>_<case> -----------------------
    "bad_400_empty": Raw(b""),
    "bad_400_c1": Raw(b"\x82\xa1v\x01\xa2op\xc1"),
    "bad_400_not_map": ["v", 1],
    "bad_400_truncated": Raw(pack(req("stats", name="abc"))[:-2]),
    "bad_400_trailing": Raw(pack(req("status")) + b"\x00"),
    "bad_400_array32_huge": Raw(b"\xdd\xff\xff\xff\xff\x00"),
    "bad_400_str32_beyond": Raw(b"\x81\xa2op\xdb\x7f\xff\xff\xffab"),
    "bad_400_deep": Raw(b"\x83\xa1v\x01\xa2op\xa6status\xa1x" + b"\x91" * 20 + b"\xc0"),
    "bad_505_version_2": req("status") | {"v": 2},
    "bad_400_missing_v": {"op": "status"},
    "bad_501_unknown_op": req("retrain", id=9),
    "bad_400_dup_key": M(("v", 1), ("op", "status"), ("op", "shutdown")),
    "bad_400_nul_name": req("stats", name="a\x00b"),
    "bad_400_wrong_type_sessions": req("synth", out="o", sessions="10"),
    "bad_422_sessions_zero": req("synth", out="o", sessions=0),
    "bad_413_65_paths": req("ingest", name="d", paths=["p"] * 65),
    "bad_422_name_dotdot": req("ingest", name="..", paths=["x"]),
    "bad_422_frac_nan": req("ingest", name="d", paths=["x"], valid_frac=float("nan")),
    "bad_400_dup_key_large": M(("v", 1), ("op", "datasets"), *(("k%d" % (i % 39), i) for i in range(40))),
    "bad_400_non_str_key": M(("v", 1), ("op", "status"), (5, None)),
    "bad_422_config_mssd": req("ingest", name="d", paths=["x"], config="[c]\n"),
    "bad_400_train_missing_model": req("train", dataset="d"),
    "bad_422_train_unknown_model": req("train", dataset="d", model="gru4rec"),
    "bad_400_train_set_not_array": req("train", dataset="d", model="sr", set="lr=1"),
    "bad_413_train_65_set": req("train", dataset="d", model="sr", set=["a=1"] * 65),
    "bad_422_train_set_no_key": req("train", dataset="d", model="sr", set=["=1"]),
    "bad_400_cancel_no_job": req("cancel"),
    "bad_422_cancel_job_zero": req("cancel", job=0),
    "bad_400_jobs_job_str": req("jobs", job="3"),
    "bad_422_evaluate_split": req("evaluate", model="m", split="train"),
    "bad_422_evaluate_max_queries_zero": req("evaluate", model="m", max_queries=0),
    "bad_400_recommend_no_tracks": req("recommend", model="m"),
    "bad_400_recommend_track_uint": req("recommend", model="m", tracks=["a", 5]),
    "bad_413_recommend_track_257": req("recommend", model="m", tracks=["t" * 257]),
    "bad_422_recommend_skipped_short": req("recommend", model="m", tracks=["a", "b"],
                                           skipped=[True]),
    "bad_400_recommend_skipped_int": req("recommend", model="m", tracks=["a"], skipped=[1]),
    "bad_422_recommend_k_1001": req("recommend", model="m", tracks=["a"], k=1001),
    "bad_400_recommend_both_forms": req("recommend", tracks=["a"], sessions=[{"tracks": ["b"]}]),
    "bad_400_recommend_batch_empty": req("recommend", sessions=[]),
    "bad_400_recommend_sessions_not_array": req("recommend", sessions={"tracks": ["a"]}),
    "bad_400_recommend_session_not_map": req("recommend", sessions=[{"tracks": ["a"]}, ["b"]]),
    "bad_400_recommend_session_no_tracks": req("recommend", sessions=[{"skipped": []}]),
    "bad_400_recommend_session_unknown_key": req("recommend",
                                                 sessions=[{"tracks": ["a"], "skiped": [True]}]),
    "bad_400_recommend_session_dup_key": req("recommend", sessions=[
        M(("tracks", ["a"]), ("tracks", ["b"]))]),
    "bad_400_recommend_sessions_and_skipped": req("recommend", sessions=[{"tracks": ["a"]}],
                                                  skipped=[True]),
    "bad_400_recommend_session_skipped_int": req("recommend", sessions=[
        {"tracks": ["a"], "skipped": [0]}]),
    "bad_413_recommend_batch_1001": req("recommend",
                                        sessions=[{"tracks": ["t"]} for _ in range(1001)]),
    "bad_413_recommend_session_track_257": req("recommend", sessions=[
        {"tracks": ["a"]}, {"tracks": ["t" * 257]}]),
    "bad_422_recommend_session_skipped_short": req("recommend", sessions=[
        {"tracks": ["a"]}, {"tracks": ["a", "b", "c"], "skipped": [True, False]}]),
    "bad_422_recommend_empty_model": req("recommend", model="", tracks=["a"]),
    "bad_422_models_bad_name": req("models", name="../x"),
    "bad_422_models_action_rename": req("models", action="rename", name="a"),
    "bad_400_models_action_uint": req("models", action=1),
    "bad_400_models_load_no_name": req("models", action="load"),
    "bad_400_models_drop_no_name": req("models", action="drop"),
    "bad_400_datasets_drop_no_name": req("datasets", action="drop"),
    "bad_400_datasets_list_with_name": req("datasets", name="d"),
    "bad_422_datasets_action_purge": req("datasets", action="purge", name="d"),
    "bad_400_models_save_no_as": req("models", action="save", name="a"),
    "bad_400_models_as_with_load": req("models", action="load", name="a", **{"as": "b"}),
    "bad_400_models_replace_with_list": req("models", replace=False),
    "bad_422_models_save_as_dotdot": req("models", action="save", name="a", **{"as": ".."}),
    "bad_400_experiment_no_spec": req("experiment", out="exp/q"),
    "bad_400_experiment_no_out": req("experiment", spec="[e]\n"),
    "bad_400_experiment_spec_bin": req("experiment", spec=b"[e]\n", out="exp/q"),
    "bad_400_experiment_nul_out": req("experiment", spec="[e]\n", out="exp\x00q"),
    "bad_413_experiment_out_4096": req("experiment", spec="[e]\n", out="d" * 4096),
    "bad_422_experiment_empty_spec": req("experiment", spec="", out="exp/q"),
    "bad_422_experiment_name_plus": req("experiment", spec="[e]\n", out="exp/q",
                                        name="sasrec+skip"),
    "bad_422_experiment_dataset_dotdot": req("experiment", spec="[e]\n", out="exp/q",
                                             dataset=".."),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    for name, obj in sorted(SEEDS.items()):
        with open(os.path.join(out, name + ".mp"), "wb") as fh:
            fh.write(pack(obj))
    print("make_corpus: wrote %d seeds to %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
