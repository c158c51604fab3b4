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
    SR_PROTO_OP_SHUTDOWN
} sr_proto_op;

const char *sr_proto_op_name(sr_proto_op op); /* "status", ...; "unknown" outside the enum */

#define SR_PROTO_MAX_PATHS 64
/* Request field limits (docs/protocol.md, "Limits"). Exceeding a size limit
 * is 413, any other out-of-range value 422. */
#define SR_PROTO_MAX_PATH_LEN 4095u            /* bytes in one path (PATH_MAX - 1) */
#define SR_PROTO_MAX_CONFIG (64u * 1024u)      /* bytes of events config text */
#define SR_PROTO_MAX_NAME_LEN 63u              /* dataset names [A-Za-z0-9._-], no leading '.' */
#define SR_PROTO_MAX_SESSIONS 1000000000ull    /* synth: sessions in [1, this] */
#define SR_PROTO_MAX_TRACKS 100000000ull       /* synth: tracks in [1, this] */

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

typedef struct sr_proto_request {
    uint32_t version;
    sr_proto_op op;
    uint64_t id;          /* echoed in the reply; 0 when absent */
    union {
        sr_proto_synth synth;
        sr_proto_ingest ingest;
        sr_pstr name;     /* STATS */
    } u;
} sr_proto_request;

/* Decode and validate a request frame. Strings in *req point into `buf`,
 * which must outlive *req. On failure returns the reply code to send, with a
 * message in err[errcap] naming the offending field; req->id is still filled
 * when it could be read, so the error reply can echo it. */
sr_proto_code sr_proto_request_decode(const void *buf, size_t len,
                                      const sr_mp_limits *lim,
                                      sr_proto_request *req,
                                      char *err, size_t errcap);

/* Encode a request (the client side), appending to `out`. Unset optional
 * fields are omitted, so decoding the frame gives back *req. Returns 0, or -1
 * for an op outside the enum, n_paths > SR_PROTO_MAX_PATHS or a failed
 * buffer write. */
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
