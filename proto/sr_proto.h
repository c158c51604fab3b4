/* sr_proto.h - the seqrec wire format, shared by seqrecd and seqrecctl.
 * Documented with examples in docs/protocol.md.
 *
 * Every request and every reply is ONE ZeroMQ frame holding ONE MessagePack
 * map. Requests: {"v": 1, "op": "<name>", "id": <uint, optional>, ...op fields}.
 * Replies:       {"v": 1, "id": <echoed>, "ok": true,  "result": {...}}
 *           or   {"v": 1, "id": <echoed>, "ok": false,
 *                 "error": {"code": <uint>, "kind": "<name>", "message": "<text>"}}
 *
 * Decoding never trusts a count read off the wire: sr_mp_parse() validates the
 * whole frame (every length against the bytes remaining, depth and per-field
 * limits) before it allocates, and then allocates one node array whose size is
 * bounded by the frame length (each node consumes at least one input byte).
 * msgpack-c is used for encoding only (its decoder reserves memory from counts
 * on the wire; see STYLE.md). This module knows nothing of core/.
 */
#ifndef SR_PROTO_H
#define SR_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define SR_PROTO_VERSION 1u

/* A length-delimited string pointing into a decoded frame. Not NUL-terminated. */
typedef struct sr_pstr {
    const char *ptr;
    uint32_t len;
} sr_pstr;

bool sr_pstr_eq(sr_pstr s, const char *c);
/* Copy into dst[cap] with a NUL; false when it does not fit or holds a NUL. */
bool sr_pstr_copy(sr_pstr s, char *dst, size_t cap);

/* ---- error codes carried in replies (HTTP-like classes) --------------------- */
typedef enum sr_proto_code {
    SR_PROTO_CODE_OK = 0,
    SR_PROTO_CODE_BAD_REQUEST = 400,   /* not MessagePack, not a map, wrong type, missing field */
    SR_PROTO_CODE_FORBIDDEN = 403,     /* path outside the data root / state dir */
    SR_PROTO_CODE_NOT_FOUND = 404,     /* unknown dataset, file or job */
    SR_PROTO_CODE_CONFLICT = 409,      /* name already exists */
    SR_PROTO_CODE_TOO_LARGE = 413,     /* over a configured limit */
    SR_PROTO_CODE_INVALID = 422,       /* well-formed but invalid values or input data */
    SR_PROTO_CODE_BUSY = 429,          /* queue full: retry later */
    SR_PROTO_CODE_INTERNAL = 500,
    SR_PROTO_CODE_UNKNOWN_OP = 501,
    SR_PROTO_CODE_VERSION = 505        /* unsupported protocol version */
} sr_proto_code;

const char *sr_proto_code_name(sr_proto_code c); /* "bad_request", ...; "unknown" for others */

/* ---- bounded MessagePack reader ------------------------------------------------ */
typedef enum sr_mp_type {
    SR_MP_TYPE_NIL = 0,
    SR_MP_TYPE_BOOL,
    SR_MP_TYPE_UINT,   /* non-negative integers */
    SR_MP_TYPE_INT,    /* negative integers */
    SR_MP_TYPE_FLOAT,
    SR_MP_TYPE_STR,
    SR_MP_TYPE_BIN,
    SR_MP_TYPE_ARRAY,
    SR_MP_TYPE_MAP,
    SR_MP_TYPE_EXT
} sr_mp_type;

/* Nodes are stored in pre-order. A container's first child is at index+1 and
 * each node's `span` is the number of nodes in its subtree (itself included),
 * so the next sibling of node i is i + span. A map with n pairs has 2n
 * children: key, value, key, value... */
typedef struct sr_mp_node {
    uint8_t type;   /* sr_mp_type */
    uint32_t n;     /* str/bin/ext: byte length; array: elements; map: pairs */
    uint32_t span;
    uint32_t off;   /* offset of the object's first (type) byte in the frame */
    union {
        bool b;
        uint64_t u;
        int64_t i;
        double f;
        const char *s; /* str/bin/ext bytes, inside the frame; for ext the
                        * type code is the byte before: (int8_t)v.s[-1] */
    } v;
} sr_mp_node;

/* Hard ceiling on sr_mp_limits.max_depth: the reader keeps its container
 * stack in a fixed array so that validating a frame allocates nothing. Larger
 * max_depth values act as this one. */
#define SR_MP_MAX_DEPTH 64

typedef struct sr_mp_limits {
    uint32_t max_depth;   /* containers nested at most this deep (a top-level
                           * map is depth 1), default 16 */
    uint32_t max_str;     /* longest str/bin/ext, default 1 MiB */
    uint32_t max_items;   /* largest array/map count, default 65536 */
} sr_mp_limits;

typedef struct sr_mp_doc {
    sr_mp_node *nodes;    /* [n_nodes], n_nodes <= frame length */
    uint32_t n_nodes;
} sr_mp_doc;

void sr_mp_limits_default(sr_mp_limits *l);

/* Parse exactly one object filling the whole frame (trailing bytes are an
 * error). On failure returns false and writes a reason to err[errcap]. */
bool sr_mp_parse(const void *buf, size_t len, const sr_mp_limits *lim,
                 sr_mp_doc *doc, char *err, size_t errcap);
void sr_mp_doc_free(sr_mp_doc *doc);

/* Value node of `key` in the map at node index `map`, or NULL. */
const sr_mp_node *sr_mp_map_get(const sr_mp_doc *doc, uint32_t map, const char *key);
/* Index of a node pointer inside doc (for nested look-ups). */
uint32_t sr_mp_index(const sr_mp_doc *doc, const sr_mp_node *node);

/* ---- typed requests ------------------------------------------------------------ */
typedef enum sr_proto_op {
    SR_PROTO_OP_STATUS = 1,
    SR_PROTO_OP_SYNTH,
    SR_PROTO_OP_INGEST,
    SR_PROTO_OP_STATS,
    SR_PROTO_OP_DATASETS,
    SR_PROTO_OP_SHUTDOWN,
    SR_PROTO_OP_TRAIN,
    SR_PROTO_OP_JOBS,
    SR_PROTO_OP_CANCEL,
    SR_PROTO_OP_EVALUATE,
    SR_PROTO_OP_RECOMMEND,
    SR_PROTO_OP_MODELS,
    SR_PROTO_OP_EXPERIMENT
} sr_proto_op;

const char *sr_proto_op_name(sr_proto_op op); /* "status", ...; "unknown" outside the enum */

#define SR_PROTO_MAX_PATHS 64
/* Request field limits (docs/protocol.md, "Limits"). Exceeding a size limit
 * is 413, any other out-of-range value 422. */
#define SR_PROTO_MAX_PATH_LEN 4095u            /* bytes in one path (PATH_MAX - 1) */
#define SR_PROTO_MAX_CONFIG (64u * 1024u)      /* bytes of events config text, and of an
                                                * experiment spec */
#define SR_PROTO_MAX_NAME_LEN 63u              /* dataset names [A-Za-z0-9._-], no leading '.' */
#define SR_PROTO_MAX_SESSIONS 1000000000ull    /* synth: sessions in [1, this] */
#define SR_PROTO_MAX_TRACKS 100000000ull       /* synth: tracks in [1, this] */
#define SR_PROTO_MAX_SET 64u                   /* train: "set" entries (413 above) */
#define SR_PROTO_MAX_SET_LEN 256u              /* train: bytes in one "key=value" (413) */
#define SR_PROTO_MAX_SESSION_PLAYS 10000u      /* recommend: "tracks" entries (413) */
#define SR_PROTO_MAX_TRACK_ID 256u             /* recommend: bytes in one track id (413) */
#define SR_PROTO_MAX_K 1000u                   /* recommend: k in [1, this] (422) */
#define SR_PROTO_MAX_COUNT 4294967295ull       /* max_steps, epochs, max_queries: at most
                                                * this (422); the daemon may cap lower */

/* Unset optional fields: integers 0, strings len 0, floats < 0, tri-state -1. */
typedef struct sr_proto_synth {
    sr_pstr out;          /* path under the data root (required) */
    uint64_t sessions;    /* required, >= 1 */
    uint64_t tracks;
    uint64_t seed;
    bool has_seed;
    sr_pstr skips;        /* "informative" | "random" */
} sr_proto_synth;

typedef struct sr_proto_ingest {
    sr_pstr name;                       /* dataset name (required) [A-Za-z0-9._-]{1,63} */
    sr_pstr paths[SR_PROTO_MAX_PATHS];  /* required, >= 1; under the data root */
    uint32_t n_paths;
    sr_pstr format;                     /* "mssd" (default) | "events" */
    sr_pstr config;                     /* events: the column-mapping INI *text* (the client reads
                                         * the file locally and sends it; <= 64 KiB) */
    sr_pstr split;                      /* "leave-last" (default) | "temporal" */
    sr_pstr skip_rule;                  /* "skip_1" | "skip_2" | "skip_3" | "not_skipped" */
    uint64_t min_session_len;
    uint64_t min_track_count;
    int8_t only_with_skip;              /* -1 unset, 0, 1 */
    double max_reject_rate;
    double valid_frac, test_frac;
    bool replace;                       /* overwrite an existing dataset */
} sr_proto_ingest;

/* train: queue a training job (daemon answers at once with the job id). */
typedef struct sr_proto_train {
    sr_pstr dataset;                    /* required: a dataset name (see SR_PROTO_MAX_NAME_LEN) */
    sr_pstr model;                      /* required: "sasrec" | "bert4rec" | "pop" | "sr" */
    sr_pstr preset;                     /* "paper" | "fast"; unset: the daemon's default */
    sr_pstr set[SR_PROTO_MAX_SET];      /* "key=value" overrides, in order; each at most
                                         * SR_PROTO_MAX_SET_LEN bytes with a '=' after a
                                         * non-empty key (the daemon parses the rest) */
    uint32_t n_set;
    uint64_t max_steps;                 /* 0 = unset (a wire value of 0 also means unset) */
    uint64_t epochs;                    /* 0 = unset (likewise) */
    uint64_t seed;
    bool has_seed;
    sr_pstr name;                       /* model name to create; unset: chosen by the daemon */
} sr_proto_train;

/* jobs: list jobs, or only one. */
typedef struct sr_proto_jobs {
    uint64_t job;                       /* 0 = all (absent, or 0 on the wire) */
} sr_proto_jobs;

/* cancel: stop a queued or running job. */
typedef struct sr_proto_cancel {
    uint64_t job;                       /* required, >= 1 */
} sr_proto_cancel;

/* evaluate: score a model on a split (synchronous; may take minutes). */
typedef struct sr_proto_evaluate {
    sr_pstr model;                      /* required: a model name */
    sr_pstr dataset;                    /* a dataset name; unset: the model's own */
    sr_pstr split;                      /* "test" | "validation" */
    sr_pstr protocol;                   /* "full" | "sampled" */
    sr_pstr exclude;                    /* "none" | "played" | "skipped" */
    uint64_t max_queries;               /* 0 = unset (all); on the wire 1..SR_PROTO_MAX_COUNT */
} sr_proto_evaluate;

/* A list of strings or of bools carried by a request without being copied
 * out of the frame, so that decoding a 10000-play session allocates nothing
 * beyond the node array (which sr_proto_request_decode frees before it
 * returns). It has two forms:
 *  - encoder input: `items` points to n caller-owned values (`raw` NULL);
 *  - decoder output: `items` is NULL and `raw` points into the frame at the
 *    list's first element - for strs n MessagePack str objects back to back
 *    (raw_len bytes in all), for bools n bytes each 0xc2 (false) or 0xc3
 *    (true). The decoder has validated every element, so the readers below
 *    never fail on a decoded list; like every sr_pstr of the request, `raw`
 *    is valid while the frame buffer is.
 * Read either form with sr_proto_strs_next() (in order, O(1) per string) and
 * sr_proto_bools_at() (random access, O(1)); the encoder accepts both:
 *     sr_proto_strs_iter it;
 *     sr_pstr id;
 *     sr_proto_strs_begin(&r->tracks, &it);
 *     for (uint32_t i = 0; sr_proto_strs_next(&it, &id); i++)
 *         use(id, sr_proto_bools_at(&r->skipped, i)); (false when absent) */
typedef struct sr_proto_strs {
    uint32_t n;
    const sr_pstr *items;
    const uint8_t *raw;
    uint32_t raw_len;
} sr_proto_strs;

typedef struct sr_proto_bools {
    uint32_t n;
    const bool *items;
    const uint8_t *raw;
} sr_proto_bools;

typedef struct sr_proto_strs_iter {
    const sr_proto_strs *v;
    uint32_t i;    /* index of the next string */
    uint32_t off;  /* raw form: byte offset of the next str object */
} sr_proto_strs_iter;

void sr_proto_strs_begin(const sr_proto_strs *v, sr_proto_strs_iter *it);
/* The next string in *out; false after the last one (or on raw bytes that
 * are not a str within raw_len, which a decoded list never has). */
bool sr_proto_strs_next(sr_proto_strs_iter *it, sr_pstr *out);
/* Element i (false when i >= n). */
bool sr_proto_bools_at(const sr_proto_bools *v, uint32_t i);

/* One session of a recommend request. */
typedef struct sr_proto_session {
    sr_proto_strs tracks;               /* the session's track ids in play order,
                                         * 0..SR_PROTO_MAX_SESSION_PLAYS of 1..256 bytes */
    sr_proto_bools skipped;             /* skip label per play; meaningful when has_skipped,
                                         * and then skipped.n == tracks.n */
    bool has_skipped;                   /* absent: no play was skipped */
} sr_proto_session;

#define SR_PROTO_MAX_BATCH 1000u        /* recommend: sessions in one request (413 above) */

/* recommend: next tracks for one session ("tracks"/"skipped" at the top
 * level of the request) or for many ("sessions": an array of 1..MAX_BATCH
 * maps, each with "tracks" and optional "skipped"; the reply then carries
 * one result per session). The two forms are exclusive (400 when both or
 * neither are given). Decoded, both fill sessions[0..n_sessions). */
typedef struct sr_proto_recommend {
    sr_pstr model;                      /* a model name; len 0 = the daemon's default model */
    sr_proto_session sessions[SR_PROTO_MAX_BATCH];
    uint32_t n_sessions;                /* 1..SR_PROTO_MAX_BATCH (1 for the single form) */
    bool batch;                         /* the "sessions" form (the encoder writes it for any
                                         * n_sessions when set; single form needs n_sessions 1) */
    uint64_t k;                         /* 0 = unset (the daemon's default, 10); else 1..1000 */
    sr_pstr exclude;                    /* "skipped" | "played" | "none"; unset: "skipped" */
} sr_proto_recommend;

/* datasets: list the datasets, or drop one. */
typedef enum sr_proto_datasets_action {
    SR_PROTO_DATASETS_LIST = 0,         /* "list" (default) */
    SR_PROTO_DATASETS_DROP              /* "drop": delete dataset `name` (its store and rejects) */
} sr_proto_datasets_action;

typedef struct sr_proto_datasets {
    sr_proto_datasets_action action;    /* from the "action" str; absent = list */
    sr_pstr name;                       /* drop: the dataset (required, 400 when missing);
                                         * refused with list (400) */
} sr_proto_datasets;

/* models: list trained models, or act on one. */
typedef enum sr_proto_models_action {
    SR_PROTO_MODELS_LIST = 0,           /* "list" (default): all models, or only `name` */
    SR_PROTO_MODELS_LOAD,               /* "load": load `name` into memory now (warm it) */
    SR_PROTO_MODELS_SAVE,               /* "save": snapshot `name` under the new name `as` */
    SR_PROTO_MODELS_DEFAULT,            /* "default": make `name` the default model (recommend
                                         * without a model); len 0 name = show the default */
    SR_PROTO_MODELS_DROP                /* "drop": delete `name` (file and memory) */
} sr_proto_models_action;

typedef struct sr_proto_models {
    sr_proto_models_action action;      /* from the "action" str; absent = list */
    sr_pstr name;                       /* a model name; len 0 = all (list) / unset; required
                                         * for load, save and drop (400 when missing) */
    sr_pstr as;                         /* save: the new name (required for save, 400 otherwise
                                         * when missing; refused for other actions: 400) */
    bool replace;                       /* save: overwrite an existing `as` (else 409) */
} sr_proto_models;

/* experiment: queue an experiment job - every (configuration, seed) run of
 * the spec trained and evaluated on one dataset, results and report written
 * under `out` (docs/experiments.md). The daemon answers at once. */
typedef struct sr_proto_experiment {
    sr_pstr spec;                       /* required: the spec file's INI *text* (the client reads
                                         * the file locally and sends it), 1..SR_PROTO_MAX_CONFIG
                                         * bytes (413 above) */
    sr_pstr out;                        /* required: output directory, a path under the data root,
                                         * 1..SR_PROTO_MAX_PATH_LEN bytes (413 above) */
    sr_pstr dataset;                    /* a dataset name; overrides the spec's; len 0 = unset */
    sr_pstr name;                       /* experiment name (see SR_PROTO_MAX_NAME_LEN); len 0 =
                                         * unset: chosen by the daemon */
} sr_proto_experiment;

typedef struct sr_proto_request {
    uint32_t version;
    sr_proto_op op;
    uint64_t id;          /* echoed in the reply; 0 when absent */
    union {
        sr_proto_synth synth;
        sr_proto_ingest ingest;
        sr_pstr name;     /* STATS: the dataset name (required) */
        sr_proto_train train;
        sr_proto_jobs jobs;
        sr_proto_cancel cancel;
        sr_proto_evaluate evaluate;
        sr_proto_recommend recommend;
        sr_proto_models models;
        sr_proto_datasets datasets;
        sr_proto_experiment experiment;
    } u;
} sr_proto_request;

/* Decode and validate a request frame. Strings and lists (sr_proto_strs,
 * sr_proto_bools) in *req point into `buf`, which must outlive *req; nothing
 * else is kept (the node array is freed before returning). On failure
 * returns the reply code to send, with a message in err[errcap] naming the
 * offending field; req->id is still filled when it could be read, so the
 * error reply can echo it. */
sr_proto_code sr_proto_request_decode(const void *buf, size_t len,
                                      const sr_mp_limits *lim,
                                      sr_proto_request *req,
                                      char *err, size_t errcap);

/* Encode a request (the client side), appending to `out`. Unset optional
 * fields are omitted, so decoding the frame gives back *req. Returns 0, or -1
 * for an op outside the enum, n_paths > SR_PROTO_MAX_PATHS,
 * n_set > SR_PROTO_MAX_SET, a list with n > 0 and neither items nor raw, a
 * recommend session whose skipped.n differs from tracks.n (with has_skipped),
 * a recommend with n_sessions > SR_PROTO_MAX_BATCH or (single form)
 * n_sessions != 1, a models action outside the enum, raw bytes that are not
 * n strs, or a failed buffer write (in the first cases nothing is written). Values are not otherwise checked: a bad value is
 * encoded as given, and the decoder refuses the frame. */
int sr_proto_request_encode(const sr_proto_request *req, msgpack_sbuffer *out);

/* ---- replies ------------------------------------------------------------------- */
/* Begin an OK reply: writes {"v","id","ok":true,"result": <map header of n
 * entries>}; the caller then packs exactly n key/value pairs. */
void sr_proto_reply_ok_begin(msgpack_packer *pk, uint64_t id, uint32_t n);
/* A complete error reply. */
void sr_proto_reply_error(msgpack_packer *pk, uint64_t id, sr_proto_code code,
                          const char *message);
/* Pack helpers for result members. */
void sr_proto_pack_str(msgpack_packer *pk, const char *s);
void sr_proto_pack_kv_str(msgpack_packer *pk, const char *key, const char *val);
void sr_proto_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t val);
void sr_proto_pack_kv_f64(msgpack_packer *pk, const char *key, double val);

/* Client side: parse a reply frame. On success *ok says which kind it is;
 * result (ok) or code/message (error) are filled. `doc` owns the nodes. */
bool sr_proto_reply_decode(const void *buf, size_t len, sr_mp_doc *doc, bool *ok,
                           const sr_mp_node **result, sr_proto_code *code,
                           sr_pstr *message, uint64_t *id, char *err, size_t errcap);

#endif /* SR_PROTO_H */
