/* sr_proto.c - the seqrec wire format: a bounded MessagePack reader, request
 * validation, and the request/reply encoders (docs/protocol.md).
 *
 * Decoding is hand-written on purpose: msgpack-c 4.0's unpacker reserves
 * memory from counts read off the wire (a 6-byte frame can ask for 1 GiB), so
 * sr_mp_parse() first walks the frame checking every length against the bytes
 * that remain, and only then allocates - one node per object actually present,
 * which is at most one node per input byte. msgpack-c's packer is used for
 * encoding only. Layering: libc + msgpack-c, nothing from core/.
 */
#include "sr_proto.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---------------------------------------------------------- */

bool sr_pstr_eq(sr_pstr s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

bool sr_pstr_copy(sr_pstr s, char *dst, size_t cap)
{
    if (cap == 0)
        return false;
    dst[0] = '\0';
    if ((size_t)s.len >= cap)
        return false;
    if (s.len > 0 && memchr(s.ptr, '\0', s.len) != NULL)
        return false;
    if (s.len > 0)
        memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
    return true;
}

static void sr_proto_msg(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sr_proto_msg(char *err, size_t errcap, const char *fmt, ...)
{
    if (err == NULL || errcap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

/* Render wire bytes for an error message: printable ASCII as is, the rest as
 * \xNN, cut at 48 bytes - the text goes back to a client and into logs, so it
 * must stay short and must not smuggle control characters or broken UTF-8. */
static const char *sr_proto_quote(const char *p, uint32_t len, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    uint32_t shown = len > 48 ? 48 : len;
    for (uint32_t i = 0; i < shown && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            buf[o++] = (char)c;
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    if (shown < len && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

const char *sr_proto_code_name(sr_proto_code c)
{
    switch (c) {
    case SR_PROTO_CODE_OK: return "ok";
    case SR_PROTO_CODE_BAD_REQUEST: return "bad_request";
    case SR_PROTO_CODE_FORBIDDEN: return "forbidden";
    case SR_PROTO_CODE_NOT_FOUND: return "not_found";
    case SR_PROTO_CODE_CONFLICT: return "conflict";
    case SR_PROTO_CODE_TOO_LARGE: return "too_large";
    case SR_PROTO_CODE_INVALID: return "invalid";
    case SR_PROTO_CODE_BUSY: return "busy";
    case SR_PROTO_CODE_INTERNAL: return "internal";
    case SR_PROTO_CODE_UNKNOWN_OP: return "unknown_op";
    case SR_PROTO_CODE_VERSION: return "version";
    }
    return "unknown";
}

static const char *const sr_proto_op_names[] = {
    [SR_PROTO_OP_STATUS] = "status",
    [SR_PROTO_OP_SYNTH] = "synth",
    [SR_PROTO_OP_INGEST] = "ingest",
    [SR_PROTO_OP_STATS] = "stats",
    [SR_PROTO_OP_DATASETS] = "datasets",
    [SR_PROTO_OP_SHUTDOWN] = "shutdown",
    [SR_PROTO_OP_TRAIN] = "train",
    [SR_PROTO_OP_JOBS] = "jobs",
    [SR_PROTO_OP_CANCEL] = "cancel",
    [SR_PROTO_OP_EVALUATE] = "evaluate",
    [SR_PROTO_OP_RECOMMEND] = "recommend",
    [SR_PROTO_OP_MODELS] = "models",
    [SR_PROTO_OP_EXPERIMENT] = "experiment",
};
#define SR_PROTO_N_OPS (sizeof(sr_proto_op_names) / sizeof(sr_proto_op_names[0]))

static bool sr_proto_op_valid(sr_proto_op op)
{
    return (unsigned)op >= 1 && (unsigned)op < SR_PROTO_N_OPS;
}

const char *sr_proto_op_name(sr_proto_op op)
{
    return sr_proto_op_valid(op) ? sr_proto_op_names[op] : "unknown";
}

/* ---- bounded MessagePack reader ---------------------------------------------- */

void sr_mp_limits_default(sr_mp_limits *l)
{
    l->max_depth = 16;
    l->max_str = 1u << 20;
    l->max_items = 65536;
}

static const char *sr_mp_type_name(uint8_t t)
{
    switch ((sr_mp_type)t) {
    case SR_MP_TYPE_NIL: return "nil";
    case SR_MP_TYPE_BOOL: return "bool";
    case SR_MP_TYPE_UINT: return "uint";
    case SR_MP_TYPE_INT: return "int";
    case SR_MP_TYPE_FLOAT: return "float";
    case SR_MP_TYPE_STR: return "str";
    case SR_MP_TYPE_BIN: return "bin";
    case SR_MP_TYPE_ARRAY: return "array";
    case SR_MP_TYPE_MAP: return "map";
    case SR_MP_TYPE_EXT: return "ext";
    }
    return "?";
}

/* Big-endian unsigned of w (<= 8) bytes, by shifts: no unaligned loads. */
static uint64_t sr_mp_be(const uint8_t *p, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++)
        v = (v << 8) | p[i];
    return v;
}

/* How the bytes after a type byte are laid out. */
typedef enum sr_mp_form {
    SR_MP_FORM_NONE,     /* nothing follows (nil, bool, fix ints) */
    SR_MP_FORM_UINT,     /* w-byte unsigned */
    SR_MP_FORM_INT,      /* w-byte two's complement */
    SR_MP_FORM_F32,
    SR_MP_FORM_F64,
    SR_MP_FORM_BYTES,    /* w-byte length (or fixed length when w == 0), then data */
    SR_MP_FORM_EXT,      /* w-byte length (or fixed), one type byte, then data */
    SR_MP_FORM_COUNT     /* w-byte element count (or fixed), elements follow */
} sr_mp_form;

/* Read the object starting at buf[*pos] (the caller guarantees *pos < len):
 * its header and, for str/bin/ext, its payload. Fills node (span left to the
 * caller) and *children (child nodes that follow: n for an array, 2n for a
 * map). Every length is checked against the bytes left before it is used. */
static bool sr_mp_read_one(const uint8_t *buf, size_t len, size_t *pos,
                           const sr_mp_limits *lim, sr_mp_node *node,
                           uint64_t *children, char *err, size_t errcap)
{
    size_t at = *pos;
    uint8_t b = buf[at];
    size_t left = len - at - 1; /* bytes after the type byte */
    sr_mp_form form = SR_MP_FORM_NONE;
    unsigned w = 0;        /* width of the length/value field */
    uint64_t fixed = 0;    /* fix* formats: the count/length in the type byte */

    memset(node, 0, sizeof(*node));
    *children = 0;

    if (b <= 0x7f) {
        node->type = SR_MP_TYPE_UINT;
        node->v.u = b;
    } else if (b <= 0x8f) {
        node->type = SR_MP_TYPE_MAP;
        form = SR_MP_FORM_COUNT;
        fixed = b & 0x0f;
    } else if (b <= 0x9f) {
        node->type = SR_MP_TYPE_ARRAY;
        form = SR_MP_FORM_COUNT;
        fixed = b & 0x0f;
    } else if (b <= 0xbf) {
        node->type = SR_MP_TYPE_STR;
        form = SR_MP_FORM_BYTES;
        fixed = b & 0x1f;
    } else if (b >= 0xe0) {
        node->type = SR_MP_TYPE_INT;
        node->v.i = (int64_t)b - 256;
    } else {
        switch (b) {
        case 0xc0: node->type = SR_MP_TYPE_NIL; break;
        case 0xc1:
            sr_proto_msg(err, errcap, "invalid type byte 0xc1 at offset %zu", at);
            return false;
        case 0xc2: case 0xc3:
            node->type = SR_MP_TYPE_BOOL;
            node->v.b = b == 0xc3;
            break;
        case 0xc4: case 0xc5: case 0xc6:
            node->type = SR_MP_TYPE_BIN;
            form = SR_MP_FORM_BYTES;
            w = 1u << (b - 0xc4);
            break;
        case 0xc7: case 0xc8: case 0xc9:
            node->type = SR_MP_TYPE_EXT;
            form = SR_MP_FORM_EXT;
            w = 1u << (b - 0xc7);
            break;
        case 0xca: node->type = SR_MP_TYPE_FLOAT; form = SR_MP_FORM_F32; w = 4; break;
        case 0xcb: node->type = SR_MP_TYPE_FLOAT; form = SR_MP_FORM_F64; w = 8; break;
        case 0xcc: case 0xcd: case 0xce: case 0xcf:
            node->type = SR_MP_TYPE_UINT;
            form = SR_MP_FORM_UINT;
            w = 1u << (b - 0xcc);
            break;
        case 0xd0: case 0xd1: case 0xd2: case 0xd3:
            node->type = SR_MP_TYPE_INT;
            form = SR_MP_FORM_INT;
            w = 1u << (b - 0xd0);
            break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            node->type = SR_MP_TYPE_EXT;
            form = SR_MP_FORM_EXT;
            fixed = 1u << (b - 0xd4);
            break;
        case 0xd9: case 0xda: case 0xdb:
            node->type = SR_MP_TYPE_STR;
            form = SR_MP_FORM_BYTES;
            w = 1u << (b - 0xd9);
            break;
        case 0xdc: case 0xdd:
            node->type = SR_MP_TYPE_ARRAY;
            form = SR_MP_FORM_COUNT;
            w = b == 0xdc ? 2 : 4;
            break;
        default: /* 0xde, 0xdf */
            node->type = SR_MP_TYPE_MAP;
            form = SR_MP_FORM_COUNT;
            w = b == 0xde ? 2 : 4;
            break;
        }
    }

    if (w > left) {
        sr_proto_msg(err, errcap, "truncated %s at offset %zu: needs %u header bytes, %zu left",
                     sr_mp_type_name(node->type), at, w, left);
        return false;
    }
    const uint8_t *p = buf + at + 1;
    uint64_t x = w > 0 ? sr_mp_be(p, w) : fixed;
    p += w;
    left -= w;

    switch (form) {
    case SR_MP_FORM_NONE:
        break;
    case SR_MP_FORM_UINT:
        node->v.u = x;
        break;
    case SR_MP_FORM_INT: {
        uint64_t mask = w == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * w)) - 1;
        uint64_t sign = (uint64_t)1 << (8 * w - 1);
        if (x & sign) {
            /* -(complement) - 1 stays inside int64_t for every width. */
            node->v.i = -(int64_t)(~x & mask) - 1;
        } else {
            /* A non-negative value in an int format is still a uint: callers
             * test one type for "non-negative integer". */
            node->type = SR_MP_TYPE_UINT;
            node->v.u = x;
        }
        break;
    }
    case SR_MP_FORM_F32: {
        uint32_t bits = (uint32_t)x;
        float f;
        memcpy(&f, &bits, sizeof(f));
        node->v.f = (double)f;
        break;
    }
    case SR_MP_FORM_F64: {
        double d;
        memcpy(&d, &x, sizeof(d));
        node->v.f = d;
        break;
    }
    case SR_MP_FORM_BYTES:
    case SR_MP_FORM_EXT: {
        size_t need = form == SR_MP_FORM_EXT ? 1 : 0;
        if (x > lim->max_str) {
            sr_proto_msg(err, errcap, "%s of %llu bytes at offset %zu exceeds the limit of %u",
                         sr_mp_type_name(node->type), (unsigned long long)x, at, lim->max_str);
            return false;
        }
        if (left < need || x > left - need) {
            sr_proto_msg(err, errcap, "%s at offset %zu declares %llu bytes, only %zu left in the frame",
                         sr_mp_type_name(node->type), at, (unsigned long long)x,
                         left < need ? 0 : left - need);
            return false;
        }
        node->n = (uint32_t)x;
        node->v.s = (const char *)(p + need);
        left -= need + (size_t)x;
        break;
    }
    case SR_MP_FORM_COUNT: {
        uint64_t kids = node->type == SR_MP_TYPE_MAP ? 2 * x : x;
        if (x > lim->max_items) {
            sr_proto_msg(err, errcap, "%s at offset %zu declares %llu %s, limit %u",
                         sr_mp_type_name(node->type), at, (unsigned long long)x,
                         node->type == SR_MP_TYPE_MAP ? "pairs" : "elements", lim->max_items);
            return false;
        }
        /* Each child takes at least one byte: a count beyond the bytes left
         * can never be satisfied, so it fails here, before anything trusts it. */
        if (kids > left) {
            sr_proto_msg(err, errcap, "%s at offset %zu declares %llu %s, only %zu bytes left",
                         sr_mp_type_name(node->type), at, (unsigned long long)x,
                         node->type == SR_MP_TYPE_MAP ? "pairs" : "elements", left);
            return false;
        }
        node->n = (uint32_t)x;
        *children = kids;
        break;
    }
    }
    *pos = len - left;
    return true;
}

typedef struct sr_mp_level {
    uint64_t left;   /* children of this container still to read */
    uint32_t start;  /* node index of the container */
} sr_mp_level;

/* One walk over the frame. Pass 1 (out == NULL) validates and counts; pass 2
 * fills out[cap] in pre-order with spans. The same code runs both times, so
 * the two passes cannot disagree about the structure. */
static bool sr_mp_walk(const uint8_t *buf, size_t len, const sr_mp_limits *lim,
                       sr_mp_node *out, uint32_t cap, uint32_t *n_out,
                       char *err, size_t errcap)
{
    sr_mp_level stack[SR_MP_MAX_DEPTH];
    uint32_t max_depth = lim->max_depth < SR_MP_MAX_DEPTH ? lim->max_depth : SR_MP_MAX_DEPTH;
    uint32_t depth = 0;
    uint32_t n = 0;
    size_t pos = 0;

    for (;;) {
        if (pos >= len) {
            sr_proto_msg(err, errcap, "truncated frame: %llu more object(s) expected at offset %zu",
                         depth > 0 ? (unsigned long long)stack[depth - 1].left : 1ull, pos);
            return false;
        }
        size_t at = pos;
        sr_mp_node node;
        uint64_t children;
        if (!sr_mp_read_one(buf, len, &pos, lim, &node, &children, err, errcap))
            return false;
        uint32_t idx = n++;
        node.span = 1;
        node.off = (uint32_t)at; /* len <= UINT32_MAX was checked by sr_mp_parse */
        if (out != NULL) {
            if (idx >= cap) { /* defensive: pass 1 counted fewer nodes */
                sr_proto_msg(err, errcap, "internal: node count changed between passes");
                return false;
            }
            out[idx] = node;
        }
        if (node.type == SR_MP_TYPE_ARRAY || node.type == SR_MP_TYPE_MAP) {
            if (depth >= max_depth) {
                sr_proto_msg(err, errcap, "%s at offset %zu nests deeper than the limit of %u",
                             sr_mp_type_name(node.type), at, max_depth);
                return false;
            }
            if (children > 0) {
                stack[depth].left = children;
                stack[depth].start = idx;
                depth++;
                continue;
            }
        }
        /* node is complete: close every container it completes */
        while (depth > 0) {
            if (--stack[depth - 1].left > 0)
                break;
            depth--;
            if (out != NULL)
                out[stack[depth].start].span = n - stack[depth].start;
        }
        if (depth == 0)
            break;
    }
    if (pos != len) {
        sr_proto_msg(err, errcap, "trailing bytes: the object ends at offset %zu, the frame has %zu bytes",
                     pos, len);
        return false;
    }
    *n_out = n;
    return true;
}

bool sr_mp_parse(const void *buf, size_t len, const sr_mp_limits *lim,
                 sr_mp_doc *doc, char *err, size_t errcap)
{
    sr_mp_limits dflt;
    uint32_t n = 0, n2 = 0;

    doc->nodes = NULL;
    doc->n_nodes = 0;
    if (lim == NULL) {
        sr_mp_limits_default(&dflt);
        lim = &dflt;
    }
    if (len == 0 || buf == NULL) {
        sr_proto_msg(err, errcap, "empty frame");
        return false;
    }
    /* Node indices and spans are uint32_t; n_nodes <= len keeps them exact. */
    if (len > UINT32_MAX) {
        sr_proto_msg(err, errcap, "frame of %zu bytes is larger than 4 GiB", len);
        return false;
    }
    if (!sr_mp_walk(buf, len, lim, NULL, 0, &n, err, errcap))
        return false;
    sr_mp_node *nodes = calloc(n, sizeof(*nodes));
    if (nodes == NULL) {
        sr_proto_msg(err, errcap, "out of memory for %u nodes", n);
        return false;
    }
    if (!sr_mp_walk(buf, len, lim, nodes, n, &n2, err, errcap) || n2 != n) {
        if (n2 != n)
            sr_proto_msg(err, errcap, "internal: node count changed between passes");
        free(nodes);
        return false;
    }
    doc->nodes = nodes;
    doc->n_nodes = n;
    return true;
}

void sr_mp_doc_free(sr_mp_doc *doc)
{
    if (doc == NULL)
        return;
    free(doc->nodes);
    doc->nodes = NULL;
    doc->n_nodes = 0;
}

const sr_mp_node *sr_mp_map_get(const sr_mp_doc *doc, uint32_t map, const char *key)
{
    if (doc == NULL || map >= doc->n_nodes || doc->nodes[map].type != SR_MP_TYPE_MAP)
        return NULL;
    uint32_t i = map + 1;
    for (uint32_t k = 0; k < doc->nodes[map].n; k++) {
        const sr_mp_node *kn = &doc->nodes[i];
        uint32_t vi = i + kn->span;
        if (kn->type == SR_MP_TYPE_STR) {
            sr_pstr ks = { kn->v.s, kn->n };
            if (sr_pstr_eq(ks, key))
                return &doc->nodes[vi];
        }
        i = vi + doc->nodes[vi].span;
    }
    return NULL;
}

uint32_t sr_mp_index(const sr_mp_doc *doc, const sr_mp_node *node)
{
    return (uint32_t)(node - doc->nodes);
}

/* ---- request decoding --------------------------------------------------------- */

typedef struct sr_rq {
    const sr_mp_doc *doc;
    char *err;
    size_t errcap;
} sr_rq;

static sr_pstr sr_rq_pstr(const sr_mp_node *n)
{
    sr_pstr s = { n->v.s, n->n };
    return s;
}

static sr_proto_code sr_rq_type_error(sr_rq *rq, const char *field, const char *want,
                                      const sr_mp_node *n)
{
    sr_proto_msg(rq->err, rq->errcap, "field \"%s\": expected %s, got %s", field, want,
                 sr_mp_type_name(n->type));
    return SR_PROTO_CODE_BAD_REQUEST;
}

static sr_proto_code sr_rq_missing(sr_rq *rq, const char *field)
{
    sr_proto_msg(rq->err, rq->errcap, "missing required field \"%s\"", field);
    return SR_PROTO_CODE_BAD_REQUEST;
}

/* Unsigned field in [min, max]. *present says whether it was there. */
static sr_proto_code sr_rq_uint(sr_rq *rq, const char *field, bool required,
                                uint64_t min, uint64_t max, uint64_t *out, bool *present)
{
    const sr_mp_node *n = sr_mp_map_get(rq->doc, 0, field);
    *present = n != NULL;
    if (n == NULL)
        return required ? sr_rq_missing(rq, field) : SR_PROTO_CODE_OK;
    if (n->type == SR_MP_TYPE_INT) {
        sr_proto_msg(rq->err, rq->errcap, "field \"%s\": must be in [%llu, %llu], got %lld",
                     field, (unsigned long long)min, (unsigned long long)max, (long long)n->v.i);
        return SR_PROTO_CODE_INVALID;
    }
    if (n->type != SR_MP_TYPE_UINT)
        return sr_rq_type_error(rq, field, "uint", n);
    if (n->v.u < min || n->v.u > max) {
        sr_proto_msg(rq->err, rq->errcap, "field \"%s\": must be in [%llu, %llu], got %llu",
                     field, (unsigned long long)min, (unsigned long long)max,
                     (unsigned long long)n->v.u);
        return SR_PROTO_CODE_INVALID;
    }
    *out = n->v.u;
    return SR_PROTO_CODE_OK;
}

/* A str node's checks shared by fields and array elements: no NUL, not
 * empty, at most max bytes (413 beyond). `what` names it in messages. */
static sr_proto_code sr_rq_str_node(sr_rq *rq, const char *what, const sr_mp_node *n,
                                    uint32_t max, sr_pstr *out)
{
    if (n->type != SR_MP_TYPE_STR) {
        sr_proto_msg(rq->err, rq->errcap, "%s: expected str, got %s", what,
                     sr_mp_type_name(n->type));
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    if (n->n > 0 && memchr(n->v.s, '\0', n->n) != NULL) {
        sr_proto_msg(rq->err, rq->errcap, "%s: embedded NUL byte at position %ld", what,
                     (long)((const char *)memchr(n->v.s, '\0', n->n) - n->v.s));
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    if (n->n == 0) {
        sr_proto_msg(rq->err, rq->errcap, "%s: must not be empty", what);
        return SR_PROTO_CODE_INVALID;
    }
    if (n->n > max) {
        sr_proto_msg(rq->err, rq->errcap, "%s: %u bytes exceeds the limit of %u", what, n->n, max);
        return SR_PROTO_CODE_TOO_LARGE;
    }
    *out = sr_rq_pstr(n);
    return SR_PROTO_CODE_OK;
}

static sr_proto_code sr_rq_str(sr_rq *rq, const char *field, bool required, uint32_t max,
                               sr_pstr *out)
{
    char what[48];
    const sr_mp_node *n = sr_mp_map_get(rq->doc, 0, field);
    if (n == NULL)
        return required ? sr_rq_missing(rq, field) : SR_PROTO_CODE_OK;
    snprintf(what, sizeof(what), "field \"%s\"", field);
    return sr_rq_str_node(rq, what, n, max, out);
}

/* Optional str that must be one of `allowed` (NULL-terminated). */
static sr_proto_code sr_rq_enum(sr_rq *rq, const char *field, const char *const *allowed,
                                sr_pstr *out)
{
    sr_pstr s = { NULL, 0 };
    /* no size limit here: a long value is simply not one of the names (422) */
    sr_proto_code c = sr_rq_str(rq, field, false, UINT32_MAX, &s);
    if (c != SR_PROTO_CODE_OK || s.len == 0)
        return c;
    for (size_t i = 0; allowed[i] != NULL; i++) {
        if (sr_pstr_eq(s, allowed[i])) {
            *out = s;
            return SR_PROTO_CODE_OK;
        }
    }
    char q[200], list[160];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; allowed[i] != NULL && o < sizeof(list); i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"", i ? ", " : "", allowed[i]);
    sr_proto_msg(rq->err, rq->errcap, "field \"%s\": expected one of %s, got \"%s\"", field, list,
                 sr_proto_quote(s.ptr, s.len, q, sizeof(q)));
    return SR_PROTO_CODE_INVALID;
}

/* Dataset names become file names on the daemon: [A-Za-z0-9._-]{1,63} and no
 * leading '.', which rules out ".", ".." and hidden files. */
static sr_proto_code sr_rq_name(sr_rq *rq, const char *field, bool required, sr_pstr *out)
{
    sr_pstr s = { NULL, 0 };
    char q[200];
    sr_proto_code c = sr_rq_str(rq, field, required, UINT32_MAX, &s);
    if (c != SR_PROTO_CODE_OK || s.len == 0)
        return c;
    bool ok = s.len <= SR_PROTO_MAX_NAME_LEN && s.ptr[0] != '.';
    for (uint32_t i = 0; ok && i < s.len; i++) {
        char ch = s.ptr[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '.' || ch == '_' || ch == '-';
    }
    if (!ok) {
        sr_proto_msg(rq->err, rq->errcap,
                     "field \"%s\": \"%s\" is not a valid name (1-%u of [A-Za-z0-9._-], not starting with '.')",
                     field, sr_proto_quote(s.ptr, s.len, q, sizeof(q)), SR_PROTO_MAX_NAME_LEN);
        return SR_PROTO_CODE_INVALID;
    }
    *out = s;
    return SR_PROTO_CODE_OK;
}

static sr_proto_code sr_rq_bool(sr_rq *rq, const char *field, bool *out, bool *present)
{
    const sr_mp_node *n = sr_mp_map_get(rq->doc, 0, field);
    *present = n != NULL;
    if (n == NULL)
        return SR_PROTO_CODE_OK;
    if (n->type != SR_MP_TYPE_BOOL)
        return sr_rq_type_error(rq, field, "bool", n);
    *out = n->v.b;
    return SR_PROTO_CODE_OK;
}

/* Optional fraction: float or integer, finite, in [0, 1]. Unset stays -1. */
static sr_proto_code sr_rq_frac(sr_rq *rq, const char *field, double *out)
{
    const sr_mp_node *n = sr_mp_map_get(rq->doc, 0, field);
    double v;
    if (n == NULL)
        return SR_PROTO_CODE_OK;
    if (n->type == SR_MP_TYPE_FLOAT)
        v = n->v.f;
    else if (n->type == SR_MP_TYPE_UINT)
        v = (double)n->v.u;
    else if (n->type == SR_MP_TYPE_INT)
        v = (double)n->v.i;
    else
        return sr_rq_type_error(rq, field, "float", n);
    if (!isfinite(v) || v < 0.0 || v > 1.0) {
        sr_proto_msg(rq->err, rq->errcap, "field \"%s\": must be a finite number in [0, 1], got %g",
                     field, v);
        return SR_PROTO_CODE_INVALID;
    }
    *out = v;
    return SR_PROTO_CODE_OK;
}

static int sr_rq_key_cmp(const void *a, const void *b)
{
    const sr_pstr *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->len == 0 ? 0 : memcmp(x->ptr, y->ptr, x->len);
}

/* Top-level keys must be strings and unique: with duplicates, which value
 * wins would depend on the reader, and a proxy and the daemon could disagree. */
static sr_proto_code sr_rq_check_keys(sr_rq *rq)
{
    const sr_mp_doc *doc = rq->doc;
    uint32_t pairs = doc->nodes[0].n;
    sr_pstr *keys = NULL;
    sr_pstr small[32];
    sr_proto_code code = SR_PROTO_CODE_OK;
    char q[200];

    if (pairs > sizeof(small) / sizeof(small[0])) {
        keys = malloc((size_t)pairs * sizeof(*keys));
        if (keys == NULL) {
            sr_proto_msg(rq->err, rq->errcap, "out of memory checking %u keys", pairs);
            return SR_PROTO_CODE_INTERNAL;
        }
    } else {
        keys = small;
    }
    uint32_t i = 1;
    for (uint32_t k = 0; k < pairs; k++) {
        const sr_mp_node *kn = &doc->nodes[i];
        if (kn->type != SR_MP_TYPE_STR) {
            sr_proto_msg(rq->err, rq->errcap, "key #%u of the request map is a %s, expected str",
                         k + 1, sr_mp_type_name(kn->type));
            code = SR_PROTO_CODE_BAD_REQUEST;
            goto done;
        }
        keys[k] = sr_rq_pstr(kn);
        uint32_t vi = i + kn->span;
        i = vi + doc->nodes[vi].span;
    }
    qsort(keys, pairs, sizeof(*keys), sr_rq_key_cmp);
    for (uint32_t k = 1; k < pairs; k++) {
        if (sr_rq_key_cmp(&keys[k - 1], &keys[k]) == 0) {
            sr_proto_msg(rq->err, rq->errcap, "duplicate key \"%s\"",
                         sr_proto_quote(keys[k].ptr, keys[k].len, q, sizeof(q)));
            code = SR_PROTO_CODE_BAD_REQUEST;
            goto done;
        }
    }
done:
    if (keys != small)
        free(keys);
    return code;
}

static sr_proto_code sr_rq_synth(sr_rq *rq, sr_proto_synth *s)
{
    static const char *const skips[] = { "informative", "random", NULL };
    sr_proto_code c;
    bool present;

    if ((c = sr_rq_str(rq, "out", true, SR_PROTO_MAX_PATH_LEN, &s->out)) != SR_PROTO_CODE_OK)
        return c;
    if ((c = sr_rq_uint(rq, "sessions", true, 1, SR_PROTO_MAX_SESSIONS, &s->sessions, &present)))
        return c;
    if ((c = sr_rq_uint(rq, "tracks", false, 1, SR_PROTO_MAX_TRACKS, &s->tracks, &present)))
        return c;
    if ((c = sr_rq_uint(rq, "seed", false, 0, UINT64_MAX, &s->seed, &s->has_seed)))
        return c;
    return sr_rq_enum(rq, "skips", skips, &s->skips);
}

static sr_proto_code sr_rq_ingest(sr_rq *rq, sr_proto_ingest *g)
{
    static const char *const formats[] = { "mssd", "events", NULL };
    static const char *const splits[] = { "leave-last", "temporal", NULL };
    static const char *const rules[] = { "skip_1", "skip_2", "skip_3", "not_skipped", NULL };
    sr_proto_code c;
    bool present;

    if ((c = sr_rq_name(rq, "name", true, &g->name)))
        return c;

    const sr_mp_node *pn = sr_mp_map_get(rq->doc, 0, "paths");
    if (pn == NULL)
        return sr_rq_missing(rq, "paths");
    if (pn->type != SR_MP_TYPE_ARRAY)
        return sr_rq_type_error(rq, "paths", "array of str", pn);
    if (pn->n == 0) {
        sr_proto_msg(rq->err, rq->errcap, "field \"paths\": must hold at least one path");
        return SR_PROTO_CODE_INVALID;
    }
    if (pn->n > SR_PROTO_MAX_PATHS) {
        sr_proto_msg(rq->err, rq->errcap, "field \"paths\": %u paths exceeds the limit of %u",
                     pn->n, SR_PROTO_MAX_PATHS);
        return SR_PROTO_CODE_TOO_LARGE;
    }
    uint32_t ei = sr_mp_index(rq->doc, pn) + 1;
    for (uint32_t k = 0; k < pn->n; k++) {
        char what[32];
        snprintf(what, sizeof(what), "field \"paths\"[%u]", k);
        const sr_mp_node *en = &rq->doc->nodes[ei];
        if ((c = sr_rq_str_node(rq, what, en, SR_PROTO_MAX_PATH_LEN, &g->paths[k])))
            return c;
        ei += en->span;
    }
    g->n_paths = pn->n;

    if ((c = sr_rq_enum(rq, "format", formats, &g->format)))
        return c;
    if ((c = sr_rq_str(rq, "config", false, SR_PROTO_MAX_CONFIG, &g->config)))
        return c;
    bool events = sr_pstr_eq(g->format, "events");
    if (events && g->config.len == 0)
        return sr_rq_missing(rq, "config");
    if (!events && g->config.len > 0) {
        sr_proto_msg(rq->err, rq->errcap,
                     "field \"config\": only valid with format \"events\"");
        return SR_PROTO_CODE_INVALID;
    }
    if ((c = sr_rq_enum(rq, "split", splits, &g->split)))
        return c;
    if ((c = sr_rq_enum(rq, "skip_rule", rules, &g->skip_rule)))
        return c;
    if ((c = sr_rq_uint(rq, "min_session_len", false, 1, UINT32_MAX, &g->min_session_len, &present)))
        return c;
    if ((c = sr_rq_uint(rq, "min_track_count", false, 1, UINT32_MAX, &g->min_track_count, &present)))
        return c;
    bool b = false;
    if ((c = sr_rq_bool(rq, "only_with_skip", &b, &present)))
        return c;
    if (present)
        g->only_with_skip = b ? 1 : 0;
    if ((c = sr_rq_frac(rq, "max_reject_rate", &g->max_reject_rate)))
        return c;
    if ((c = sr_rq_frac(rq, "valid_frac", &g->valid_frac)))
        return c;
    if ((c = sr_rq_frac(rq, "test_frac", &g->test_frac)))
        return c;
    if (g->valid_frac >= 0.0 && g->test_frac >= 0.0 && g->valid_frac + g->test_frac >= 1.0) {
        sr_proto_msg(rq->err, rq->errcap,
                     "fields \"valid_frac\" + \"test_frac\" must be < 1, got %g + %g",
                     g->valid_frac, g->test_frac);
        return SR_PROTO_CODE_INVALID;
    }
    if ((c = sr_rq_bool(rq, "replace", &g->replace, &present)))
        return c;
    return SR_PROTO_CODE_OK;
}

/* An array field: present and an array (400 otherwise), at most max_n
 * entries (413). *node is NULL when an optional field is absent. */
static sr_proto_code sr_rq_array(sr_rq *rq, const char *field, bool required, const char *want,
                                 uint32_t max_n, const char *noun, const sr_mp_node **node)
{
    const sr_mp_node *n = sr_mp_map_get(rq->doc, 0, field);
    *node = NULL;
    if (n == NULL)
        return required ? sr_rq_missing(rq, field) : SR_PROTO_CODE_OK;
    if (n->type != SR_MP_TYPE_ARRAY)
        return sr_rq_type_error(rq, field, want, n);
    if (n->n > max_n) {
        sr_proto_msg(rq->err, rq->errcap, "field \"%s\": %u %s exceeds the limit of %u", field,
                     n->n, noun, max_n);
        return SR_PROTO_CODE_TOO_LARGE;
    }
    *node = n;
    return SR_PROTO_CODE_OK;
}

/* A required str that must be one of `allowed`. */
static sr_proto_code sr_rq_enum_required(sr_rq *rq, const char *field,
                                         const char *const *allowed, sr_pstr *out)
{
    if (sr_mp_map_get(rq->doc, 0, field) == NULL)
        return sr_rq_missing(rq, field);
    return sr_rq_enum(rq, field, allowed, out);
}

static sr_proto_code sr_rq_train(sr_rq *rq, sr_proto_train *t)
{
    static const char *const models[] = { "sasrec", "bert4rec", "pop", "sr", NULL };
    static const char *const presets[] = { "paper", "fast", NULL };
    sr_proto_code c;
    bool present;
    char q[200];

    if ((c = sr_rq_name(rq, "dataset", true, &t->dataset)))
        return c;
    if ((c = sr_rq_enum_required(rq, "model", models, &t->model)))
        return c;
    if ((c = sr_rq_enum(rq, "preset", presets, &t->preset)))
        return c;

    const sr_mp_node *an;
    if ((c = sr_rq_array(rq, "set", false, "array of str", SR_PROTO_MAX_SET, "entries", &an)))
        return c;
    if (an != NULL) {
        uint32_t ei = sr_mp_index(rq->doc, an) + 1;
        for (uint32_t k = 0; k < an->n; k++) {
            char what[32];
            const sr_mp_node *en = &rq->doc->nodes[ei];
            sr_pstr e = { NULL, 0 };
            snprintf(what, sizeof(what), "field \"set\"[%u]", k);
            if ((c = sr_rq_str_node(rq, what, en, SR_PROTO_MAX_SET_LEN, &e)))
                return c;
            /* Only the shape is checked here; keys and values are the
             * daemon's (its config table names and ranges them). */
            const char *eq = memchr(e.ptr, '=', e.len);
            if (eq == NULL || eq == e.ptr) {
                sr_proto_msg(rq->err, rq->errcap, "%s: expected \"key=value\", got \"%s\"", what,
                             sr_proto_quote(e.ptr, e.len, q, sizeof(q)));
                return SR_PROTO_CODE_INVALID;
            }
            t->set[k] = e;
            ei += en->span;
        }
        t->n_set = an->n;
    }
    if ((c = sr_rq_uint(rq, "max_steps", false, 0, SR_PROTO_MAX_COUNT, &t->max_steps, &present)))
        return c;
    if ((c = sr_rq_uint(rq, "epochs", false, 0, SR_PROTO_MAX_COUNT, &t->epochs, &present)))
        return c;
    if ((c = sr_rq_uint(rq, "seed", false, 0, UINT64_MAX, &t->seed, &t->has_seed)))
        return c;
    return sr_rq_name(rq, "name", false, &t->name);
}

static sr_proto_code sr_rq_evaluate(sr_rq *rq, sr_proto_evaluate *e)
{
    static const char *const splits[] = { "test", "validation", NULL };
    static const char *const protocols[] = { "full", "sampled", NULL };
    static const char *const excludes[] = { "none", "played", "skipped", NULL };
    sr_proto_code c;
    bool present;

    if ((c = sr_rq_name(rq, "model", true, &e->model)))
        return c;
    if ((c = sr_rq_name(rq, "dataset", false, &e->dataset)))
        return c;
    if ((c = sr_rq_enum(rq, "split", splits, &e->split)))
        return c;
    if ((c = sr_rq_enum(rq, "protocol", protocols, &e->protocol)))
        return c;
    if ((c = sr_rq_enum(rq, "exclude", excludes, &e->exclude)))
        return c;
    return sr_rq_uint(rq, "max_queries", false, 1, SR_PROTO_MAX_COUNT, &e->max_queries, &present);
}

/* One session map's keys: str, "tracks" or "skipped", each at most once.
 * Unlike the request map (where unknown keys are ignored for forward
 * compatibility), a session holds nothing else: a misspelt "skiped" would
 * otherwise silently drop the skip labels. `at` names the map
 * ("sessions"[3]) in messages. */
static sr_proto_code sr_rq_session_keys(sr_rq *rq, uint32_t map, const char *at)
{
    const sr_mp_doc *doc = rq->doc;
    bool seen[2] = { false, false };
    char q[200];
    uint32_t i = map + 1;
    for (uint32_t k = 0; k < doc->nodes[map].n; k++) {
        const sr_mp_node *kn = &doc->nodes[i];
        if (kn->type != SR_MP_TYPE_STR) {
            sr_proto_msg(rq->err, rq->errcap, "field %s: key #%u is a %s, expected str", at, k + 1,
                         sr_mp_type_name(kn->type));
            return SR_PROTO_CODE_BAD_REQUEST;
        }
        sr_pstr ks = sr_rq_pstr(kn);
        int which = sr_pstr_eq(ks, "tracks") ? 0 : sr_pstr_eq(ks, "skipped") ? 1 : -1;
        if (which < 0 || seen[which]) {
            sr_proto_msg(rq->err, rq->errcap,
                         which < 0 ? "field %s: unknown key \"%s\" (a session holds \"tracks\" and "
                                     "optionally \"skipped\")"
                                   : "field %s: duplicate key \"%s\"",
                         at, sr_proto_quote(ks.ptr, ks.len, q, sizeof(q)));
            return SR_PROTO_CODE_BAD_REQUEST;
        }
        seen[which] = true;
        uint32_t vi = i + kn->span;
        i = vi + doc->nodes[vi].span;
    }
    return SR_PROTO_CODE_OK;
}

/* A session's "tracks" and "skipped" in the map at node `map`; `at` is the
 * prefix naming the map in messages: "" for the request itself (single
 * form: field "tracks"), "\"sessions\"[3]." for an element of the batch form
 * (field "sessions"[3]."tracks"). The lists are kept as raw views of the
 * frame, and elements are checked without formatting anything unless one is
 * bad, so that a 1000 x 10000 batch costs one pass over its nodes. */
static sr_proto_code sr_rq_session(sr_rq *rq, const uint8_t *frame, uint32_t map, const char *at,
                                   sr_proto_session *s)
{
    const sr_mp_doc *doc = rq->doc;
    char what[80];
    sr_proto_code c;

    const sr_mp_node *an = sr_mp_map_get(doc, map, "tracks");
    if (an == NULL) {
        sr_proto_msg(rq->err, rq->errcap, "missing required field %s\"tracks\"", at);
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    if (an->type != SR_MP_TYPE_ARRAY) {
        sr_proto_msg(rq->err, rq->errcap, "field %s\"tracks\": expected array of str, got %s", at,
                     sr_mp_type_name(an->type));
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    if (an->n > SR_PROTO_MAX_SESSION_PLAYS) {
        sr_proto_msg(rq->err, rq->errcap, "field %s\"tracks\": %u tracks exceeds the limit of %u",
                     at, an->n, SR_PROTO_MAX_SESSION_PLAYS);
        return SR_PROTO_CODE_TOO_LARGE;
    }
    uint32_t first = sr_mp_index(doc, an) + 1, ei = first;
    for (uint32_t k = 0; k < an->n; k++) {
        const sr_mp_node *en = &doc->nodes[ei];
        if (en->type != SR_MP_TYPE_STR || en->n == 0 || en->n > SR_PROTO_MAX_TRACK_ID ||
            memchr(en->v.s, '\0', en->n) != NULL) {
            sr_pstr e = { NULL, 0 };
            snprintf(what, sizeof(what), "field %s\"tracks\"[%u]", at, k);
            if ((c = sr_rq_str_node(rq, what, en, SR_PROTO_MAX_TRACK_ID, &e)) != SR_PROTO_CODE_OK)
                return c;
        }
        ei += en->span; /* 1: a str */
    }
    s->tracks.n = an->n;
    if (an->n > 0) {
        /* The elements lie back to back: from the first one's type byte to
         * the end of the last one's bytes. */
        const sr_mp_node *last = &doc->nodes[ei - 1];
        s->tracks.raw = frame + doc->nodes[first].off;
        s->tracks.raw_len = (uint32_t)((const uint8_t *)last->v.s + last->n - s->tracks.raw);
    }

    an = sr_mp_map_get(doc, map, "skipped");
    if (an == NULL)
        return SR_PROTO_CODE_OK;
    if (an->type != SR_MP_TYPE_ARRAY) {
        sr_proto_msg(rq->err, rq->errcap, "field %s\"skipped\": expected array of bool, got %s", at,
                     sr_mp_type_name(an->type));
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    first = sr_mp_index(doc, an) + 1;
    for (uint32_t k = 0; k < an->n; k++) {
        const sr_mp_node *en = &doc->nodes[first + k];
        if (en->type != SR_MP_TYPE_BOOL) {
            sr_proto_msg(rq->err, rq->errcap, "field %s\"skipped\"[%u]: expected bool, got %s", at,
                         k, sr_mp_type_name(en->type));
            return SR_PROTO_CODE_BAD_REQUEST;
        }
    }
    if (an->n != s->tracks.n) {
        sr_proto_msg(rq->err, rq->errcap,
                     "field %s\"skipped\": %u entries, expected one per track (%u)", at, an->n,
                     s->tracks.n);
        return SR_PROTO_CODE_INVALID;
    }
    /* A bool is one byte on the wire (0xc2/0xc3), so the list is n bytes. */
    s->has_skipped = true;
    s->skipped.n = an->n;
    if (an->n > 0)
        s->skipped.raw = frame + doc->nodes[first].off;
    return SR_PROTO_CODE_OK;
}

static sr_proto_code sr_rq_recommend(sr_rq *rq, const uint8_t *frame, sr_proto_recommend *r)
{
    static const char *const excludes[] = { "skipped", "played", "none", NULL };
    const sr_mp_doc *doc = rq->doc;
    sr_proto_code c;
    bool present;

    if ((c = sr_rq_name(rq, "model", false, &r->model)))
        return c;

    const sr_mp_node *tn = sr_mp_map_get(doc, 0, "tracks");
    const sr_mp_node *sn = sr_mp_map_get(doc, 0, "sessions");
    if (tn != NULL && sn != NULL) {
        sr_proto_msg(rq->err, rq->errcap,
                     "fields \"tracks\" and \"sessions\" are exclusive: one session in \"tracks\" "
                     "or many in \"sessions\"");
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    if (tn == NULL && sn == NULL) {
        sr_proto_msg(rq->err, rq->errcap,
                     "missing required field \"tracks\" (one session) or \"sessions\" (many)");
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    if (tn != NULL) {
        if ((c = sr_rq_session(rq, frame, 0, "", &r->sessions[0])))
            return c;
        r->n_sessions = 1;
    } else {
        /* A top-level "skipped" beside "sessions" would be silently unused:
         * each session carries its own. */
        if (sr_mp_map_get(doc, 0, "skipped") != NULL) {
            sr_proto_msg(rq->err, rq->errcap,
                         "field \"skipped\": only valid with \"tracks\" (each of \"sessions\" "
                         "carries its own)");
            return SR_PROTO_CODE_BAD_REQUEST;
        }
        if (sn->type != SR_MP_TYPE_ARRAY)
            return sr_rq_type_error(rq, "sessions", "array of map", sn);
        if (sn->n == 0) {
            sr_proto_msg(rq->err, rq->errcap, "field \"sessions\": must hold at least one session");
            return SR_PROTO_CODE_BAD_REQUEST;
        }
        if (sn->n > SR_PROTO_MAX_BATCH) {
            sr_proto_msg(rq->err, rq->errcap,
                         "field \"sessions\": %u sessions exceeds the limit of %u", sn->n,
                         SR_PROTO_MAX_BATCH);
            return SR_PROTO_CODE_TOO_LARGE;
        }
        uint32_t ei = sr_mp_index(doc, sn) + 1;
        for (uint32_t k = 0; k < sn->n; k++) {
            char at[40];
            const sr_mp_node *en = &doc->nodes[ei];
            snprintf(at, sizeof(at), "\"sessions\"[%u]", k);
            if (en->type != SR_MP_TYPE_MAP) {
                sr_proto_msg(rq->err, rq->errcap, "field %s: expected map, got %s", at,
                             sr_mp_type_name(en->type));
                return SR_PROTO_CODE_BAD_REQUEST;
            }
            if ((c = sr_rq_session_keys(rq, ei, at)))
                return c;
            snprintf(at, sizeof(at), "\"sessions\"[%u].", k);
            if ((c = sr_rq_session(rq, frame, ei, at, &r->sessions[k])))
                return c;
            ei += en->span;
        }
        r->n_sessions = sn->n;
        r->batch = true;
    }
    if ((c = sr_rq_uint(rq, "k", false, 1, SR_PROTO_MAX_K, &r->k, &present)))
        return c;
    return sr_rq_enum(rq, "exclude", excludes, &r->exclude);
}

static const char *const sr_proto_models_actions[] = {
    [SR_PROTO_MODELS_LIST] = "list",
    [SR_PROTO_MODELS_LOAD] = "load",
    [SR_PROTO_MODELS_SAVE] = "save",
    [SR_PROTO_MODELS_DEFAULT] = "default",
    [SR_PROTO_MODELS_DROP] = "drop",
    NULL,
};
#define SR_PROTO_N_MODELS_ACTIONS \
    (sizeof(sr_proto_models_actions) / sizeof(sr_proto_models_actions[0]) - 1)

static sr_proto_code sr_rq_models(sr_rq *rq, sr_proto_models *m)
{
    sr_proto_code c;
    sr_pstr action = { NULL, 0 };
    bool present;

    if ((c = sr_rq_enum(rq, "action", sr_proto_models_actions, &action)))
        return c;
    m->action = SR_PROTO_MODELS_LIST;
    for (unsigned k = 0; k < SR_PROTO_N_MODELS_ACTIONS; k++)
        if (sr_pstr_eq(action, sr_proto_models_actions[k]))
            m->action = (sr_proto_models_action)k;
    const char *an = sr_proto_models_actions[m->action];
    bool save = m->action == SR_PROTO_MODELS_SAVE;

    if ((c = sr_rq_name(rq, "name", false, &m->name)))
        return c;
    if (m->name.len == 0 && (m->action == SR_PROTO_MODELS_LOAD || save ||
                             m->action == SR_PROTO_MODELS_DROP)) {
        sr_proto_msg(rq->err, rq->errcap, "missing required field \"name\" (action \"%s\")", an);
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    /* "as" and "replace" mean something only to save: refused elsewhere
     * rather than ignored, so a mistyped action cannot drop them silently. */
    if (!save && sr_mp_map_get(rq->doc, 0, "as") != NULL) {
        sr_proto_msg(rq->err, rq->errcap,
                     "field \"as\": only valid with action \"save\", not \"%s\"", an);
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    if (!save && sr_mp_map_get(rq->doc, 0, "replace") != NULL) {
        sr_proto_msg(rq->err, rq->errcap,
                     "field \"replace\": only valid with action \"save\", not \"%s\"", an);
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    if ((c = sr_rq_name(rq, "as", save, &m->as)))
        return c;
    return sr_rq_bool(rq, "replace", &m->replace, &present);
}

static const char *const sr_proto_datasets_actions[] = { "list", "drop", NULL };

static sr_proto_code sr_rq_datasets(sr_rq *rq, sr_proto_datasets *d)
{
    sr_proto_code c;
    sr_pstr action = { NULL, 0 };

    if ((c = sr_rq_enum(rq, "action", sr_proto_datasets_actions, &action)))
        return c;
    d->action = sr_pstr_eq(action, "drop") ? SR_PROTO_DATASETS_DROP : SR_PROTO_DATASETS_LIST;
    bool drop = d->action == SR_PROTO_DATASETS_DROP;
    if (!drop && sr_mp_map_get(rq->doc, 0, "name") != NULL) {
        sr_proto_msg(rq->err, rq->errcap, "field \"name\": only valid with action \"drop\"");
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    return sr_rq_name(rq, "name", drop, &d->name);
}

static sr_proto_code sr_rq_experiment(sr_rq *rq, sr_proto_experiment *x)
{
    sr_proto_code c;

    /* The spec is INI text like an events config: the same size limit, and
     * its content is the daemon's to parse. */
    if ((c = sr_rq_str(rq, "spec", true, SR_PROTO_MAX_CONFIG, &x->spec)))
        return c;
    if ((c = sr_rq_str(rq, "out", true, SR_PROTO_MAX_PATH_LEN, &x->out)))
        return c;
    if ((c = sr_rq_name(rq, "dataset", false, &x->dataset)))
        return c;
    return sr_rq_name(rq, "name", false, &x->name);
}

/* ---- string and bool lists ------------------------------------------------------ */

void sr_proto_strs_begin(const sr_proto_strs *v, sr_proto_strs_iter *it)
{
    it->v = v;
    it->i = 0;
    it->off = 0;
}

bool sr_proto_strs_next(sr_proto_strs_iter *it, sr_pstr *out)
{
    const sr_proto_strs *v = it->v;
    if (v == NULL || it->i >= v->n)
        return false;
    if (v->items != NULL) {
        *out = v->items[it->i++];
        return true;
    }
    if (v->raw == NULL || it->off >= v->raw_len)
        return false;
    const uint8_t *p = v->raw + it->off;
    uint32_t left = v->raw_len - it->off;
    uint32_t hdr, len;
    if (p[0] >= 0xa0 && p[0] <= 0xbf) {
        hdr = 1;
        len = p[0] & 0x1fu;
    } else if (p[0] >= 0xd9 && p[0] <= 0xdb) {
        unsigned w = 1u << (p[0] - 0xd9);
        hdr = 1 + w;
        if (left < hdr)
            return false;
        len = (uint32_t)sr_mp_be(p + 1, w);
    } else {
        return false;
    }
    if (left < hdr || len > left - hdr)
        return false;
    out->ptr = (const char *)p + hdr;
    out->len = len;
    it->off += hdr + len;
    it->i++;
    return true;
}

bool sr_proto_bools_at(const sr_proto_bools *v, uint32_t i)
{
    if (v == NULL || i >= v->n)
        return false;
    if (v->items != NULL)
        return v->items[i];
    return v->raw != NULL && v->raw[i] == 0xc3;
}

sr_proto_code sr_proto_request_decode(const void *buf, size_t len,
                                      const sr_mp_limits *lim,
                                      sr_proto_request *req,
                                      char *err, size_t errcap)
{
    sr_mp_doc doc = { NULL, 0 };
    sr_rq rq = { &doc, err, errcap };
    sr_proto_code code = SR_PROTO_CODE_OK;
    char perr[160], q[200];

    memset(req, 0, sizeof(*req));
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (!sr_mp_parse(buf, len, lim, &doc, perr, sizeof(perr))) {
        sr_proto_msg(err, errcap, "malformed MessagePack: %s", perr);
        code = SR_PROTO_CODE_BAD_REQUEST;
        goto done;
    }
    if (doc.nodes[0].type != SR_MP_TYPE_MAP) {
        sr_proto_msg(err, errcap, "the request must be a map, got %s",
                     sr_mp_type_name(doc.nodes[0].type));
        code = SR_PROTO_CODE_BAD_REQUEST;
        goto done;
    }

    /* id first, so that every later error reply can echo it. */
    const sr_mp_node *n = sr_mp_map_get(&doc, 0, "id");
    if (n != NULL) {
        if (n->type != SR_MP_TYPE_UINT) {
            code = sr_rq_type_error(&rq, "id", "uint", n);
            goto done;
        }
        req->id = n->v.u;
    }
    if ((code = sr_rq_check_keys(&rq)) != SR_PROTO_CODE_OK)
        goto done;

    n = sr_mp_map_get(&doc, 0, "v");
    if (n == NULL) {
        code = sr_rq_missing(&rq, "v");
        goto done;
    }
    if (n->type == SR_MP_TYPE_INT || (n->type == SR_MP_TYPE_UINT && n->v.u != SR_PROTO_VERSION)) {
        if (n->type == SR_MP_TYPE_INT)
            sr_proto_msg(err, errcap, "unsupported protocol version %lld (this side speaks %u)",
                         (long long)n->v.i, SR_PROTO_VERSION);
        else
            sr_proto_msg(err, errcap, "unsupported protocol version %llu (this side speaks %u)",
                         (unsigned long long)n->v.u, SR_PROTO_VERSION);
        code = SR_PROTO_CODE_VERSION;
        goto done;
    }
    if (n->type != SR_MP_TYPE_UINT) {
        code = sr_rq_type_error(&rq, "v", "uint", n);
        goto done;
    }
    req->version = SR_PROTO_VERSION;

    sr_pstr op = { NULL, 0 };
    n = sr_mp_map_get(&doc, 0, "op");
    if (n == NULL) {
        code = sr_rq_missing(&rq, "op");
        goto done;
    }
    if ((code = sr_rq_str_node(&rq, "field \"op\"", n, UINT32_MAX, &op)) != SR_PROTO_CODE_OK) {
        if (code != SR_PROTO_CODE_BAD_REQUEST) { /* empty: just not an op */
            sr_proto_msg(err, errcap, "unknown op \"%s\"", sr_proto_quote(n->v.s, n->n, q, sizeof(q)));
            code = SR_PROTO_CODE_UNKNOWN_OP;
        }
        goto done;
    }
    for (unsigned k = 1; k < SR_PROTO_N_OPS; k++) {
        if (sr_pstr_eq(op, sr_proto_op_names[k]))
            req->op = (sr_proto_op)k;
    }
    if (req->op == 0) {
        sr_proto_msg(err, errcap, "unknown op \"%s\"", sr_proto_quote(op.ptr, op.len, q, sizeof(q)));
        code = SR_PROTO_CODE_UNKNOWN_OP;
        goto done;
    }

    switch (req->op) {
    case SR_PROTO_OP_SYNTH:
        code = sr_rq_synth(&rq, &req->u.synth);
        break;
    case SR_PROTO_OP_INGEST:
        req->u.ingest.only_with_skip = -1;
        req->u.ingest.max_reject_rate = -1.0;
        req->u.ingest.valid_frac = -1.0;
        req->u.ingest.test_frac = -1.0;
        code = sr_rq_ingest(&rq, &req->u.ingest);
        break;
    case SR_PROTO_OP_STATS:
        code = sr_rq_name(&rq, "name", true, &req->u.name);
        break;
    case SR_PROTO_OP_TRAIN:
        code = sr_rq_train(&rq, &req->u.train);
        break;
    case SR_PROTO_OP_JOBS: {
        bool present;
        code = sr_rq_uint(&rq, "job", false, 0, UINT64_MAX, &req->u.jobs.job, &present);
        break;
    }
    case SR_PROTO_OP_CANCEL: {
        bool present;
        code = sr_rq_uint(&rq, "job", true, 1, UINT64_MAX, &req->u.cancel.job, &present);
        break;
    }
    case SR_PROTO_OP_EVALUATE:
        code = sr_rq_evaluate(&rq, &req->u.evaluate);
        break;
    case SR_PROTO_OP_RECOMMEND:
        code = sr_rq_recommend(&rq, buf, &req->u.recommend);
        break;
    case SR_PROTO_OP_MODELS:
        code = sr_rq_models(&rq, &req->u.models);
        break;
    case SR_PROTO_OP_EXPERIMENT:
        code = sr_rq_experiment(&rq, &req->u.experiment);
        break;
    case SR_PROTO_OP_DATASETS:
        code = sr_rq_datasets(&rq, &req->u.datasets);
        break;
    case SR_PROTO_OP_STATUS:
    case SR_PROTO_OP_SHUTDOWN:
        break;
    }
done:
    sr_mp_doc_free(&doc);
    return code;
}

/* ---- encoding ----------------------------------------------------------------- */

static int sr_pk_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    if (msgpack_pack_str(pk, n) != 0)
        return -1;
    return msgpack_pack_str_body(pk, s, n);
}

static int sr_pk_pstr(msgpack_packer *pk, sr_pstr s)
{
    if (msgpack_pack_str(pk, s.len) != 0)
        return -1;
    return s.len == 0 ? 0 : msgpack_pack_str_body(pk, s.ptr, s.len);
}

static int sr_pk_kv_pstr(msgpack_packer *pk, const char *key, sr_pstr s)
{
    return sr_pk_cstr(pk, key) || sr_pk_pstr(pk, s) ? -1 : 0;
}

static int sr_pk_kv_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
    return sr_pk_cstr(pk, key) || msgpack_pack_uint64(pk, v) ? -1 : 0;
}

static int sr_pk_kv_f64(msgpack_packer *pk, const char *key, double v)
{
    return sr_pk_cstr(pk, key) || msgpack_pack_double(pk, v) ? -1 : 0;
}

static int sr_pk_kv_bool(msgpack_packer *pk, const char *key, bool v)
{
    if (sr_pk_cstr(pk, key) != 0)
        return -1;
    return v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

/* A list the encoder can read: empty, or with items or raw bytes. */
static bool sr_pk_list_ok(uint32_t n, const void *items, const uint8_t *raw)
{
    return n == 0 || items != NULL || raw != NULL;
}

/* Raw str lists are walked once before anything is written, so that a bad
 * one fails with `out` untouched. */
static bool sr_pk_strs_ok(const sr_proto_strs *v)
{
    sr_proto_strs_iter it;
    sr_pstr s;
    uint32_t got = 0;
    if (!sr_pk_list_ok(v->n, v->items, v->raw))
        return false;
    sr_proto_strs_begin(v, &it);
    while (sr_proto_strs_next(&it, &s))
        got++;
    return got == v->n;
}

/* A session the encoder can write: its lists readable, one skip label per
 * track when labels are given. */
static bool sr_pk_session_ok(const sr_proto_session *s)
{
    return sr_pk_strs_ok(&s->tracks) &&
           (!s->has_skipped || (s->skipped.n == s->tracks.n &&
                                sr_pk_list_ok(s->skipped.n, s->skipped.items, s->skipped.raw)));
}

/* "tracks" (and "skipped") members of a session: into the request map for
 * the single form, into the session's own map for the batch form. */
static int sr_pk_session(msgpack_packer *pk, const sr_proto_session *s)
{
    sr_proto_strs_iter it;
    sr_pstr tr;
    int rc = sr_pk_cstr(pk, "tracks") | msgpack_pack_array(pk, s->tracks.n);
    sr_proto_strs_begin(&s->tracks, &it);
    while (sr_proto_strs_next(&it, &tr))
        rc |= sr_pk_pstr(pk, tr);
    if (s->has_skipped) {
        rc |= sr_pk_cstr(pk, "skipped") | msgpack_pack_array(pk, s->skipped.n);
        for (uint32_t i = 0; i < s->skipped.n; i++)
            rc |= sr_proto_bools_at(&s->skipped, i) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    return rc;
}

/* Each optional member is written only when set, so decode(encode(r)) == r. */
int sr_proto_request_encode(const sr_proto_request *req, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    uint32_t n = 2 + (req->id != 0);
    int rc = 0;

    if (!sr_proto_op_valid(req->op))
        return -1;
    const sr_proto_synth *s = &req->u.synth;
    const sr_proto_ingest *g = &req->u.ingest;
    const sr_proto_train *t = &req->u.train;
    const sr_proto_evaluate *e = &req->u.evaluate;
    const sr_proto_recommend *r = &req->u.recommend;
    const sr_proto_models *m = &req->u.models;
    const sr_proto_experiment *x = &req->u.experiment;
    switch (req->op) {
    case SR_PROTO_OP_SYNTH:
        n += 2 + (s->tracks != 0) + s->has_seed + (s->skips.len != 0);
        break;
    case SR_PROTO_OP_INGEST:
        if (g->n_paths > SR_PROTO_MAX_PATHS)
            return -1;
        n += 2 + (g->format.len != 0) + (g->config.len != 0) + (g->split.len != 0) +
             (g->skip_rule.len != 0) + (g->min_session_len != 0) + (g->min_track_count != 0) +
             (g->only_with_skip >= 0) + (g->max_reject_rate >= 0.0) + (g->valid_frac >= 0.0) +
             (g->test_frac >= 0.0) + g->replace;
        break;
    case SR_PROTO_OP_STATS:
        n += 1;
        break;
    case SR_PROTO_OP_TRAIN:
        if (t->n_set > SR_PROTO_MAX_SET)
            return -1;
        n += 2 + (t->preset.len != 0) + (t->n_set != 0) + (t->max_steps != 0) +
             (t->epochs != 0) + t->has_seed + (t->name.len != 0);
        break;
    case SR_PROTO_OP_JOBS:
        n += req->u.jobs.job != 0;
        break;
    case SR_PROTO_OP_CANCEL:
        n += 1;
        break;
    case SR_PROTO_OP_EVALUATE:
        n += 1 + (e->dataset.len != 0) + (e->split.len != 0) + (e->protocol.len != 0) +
             (e->exclude.len != 0) + (e->max_queries != 0);
        break;
    case SR_PROTO_OP_RECOMMEND:
        /* sessions[] has MAX_BATCH slots; the single form holds one session */
        if (r->n_sessions > SR_PROTO_MAX_BATCH || (!r->batch && r->n_sessions != 1))
            return -1;
        for (uint32_t i = 0; i < r->n_sessions; i++)
            if (!sr_pk_session_ok(&r->sessions[i]))
                return -1;
        n += (r->model.len != 0) + 1 + (!r->batch && r->sessions[0].has_skipped) + (r->k != 0) +
             (r->exclude.len != 0);
        break;
    case SR_PROTO_OP_DATASETS:
        if ((unsigned)req->u.datasets.action > SR_PROTO_DATASETS_DROP)
            return -1;
        n += (req->u.datasets.action != SR_PROTO_DATASETS_LIST) + (req->u.datasets.name.len != 0);
        break;
    case SR_PROTO_OP_MODELS:
        if ((unsigned)m->action >= SR_PROTO_N_MODELS_ACTIONS)
            return -1;
        n += (m->action != SR_PROTO_MODELS_LIST) + (m->name.len != 0) + (m->as.len != 0) +
             m->replace;
        break;
    case SR_PROTO_OP_EXPERIMENT:
        n += 2 + (x->dataset.len != 0) + (x->name.len != 0);
        break;
    default:
        break;
    }

    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    rc |= msgpack_pack_map(&pk, n);
    rc |= sr_pk_kv_u64(&pk, "v", SR_PROTO_VERSION);
    rc |= sr_pk_cstr(&pk, "op") | sr_pk_cstr(&pk, sr_proto_op_names[req->op]);
    if (req->id != 0)
        rc |= sr_pk_kv_u64(&pk, "id", req->id);
    switch (req->op) {
    case SR_PROTO_OP_SYNTH:
        rc |= sr_pk_kv_pstr(&pk, "out", s->out);
        rc |= sr_pk_kv_u64(&pk, "sessions", s->sessions);
        if (s->tracks != 0)
            rc |= sr_pk_kv_u64(&pk, "tracks", s->tracks);
        if (s->has_seed)
            rc |= sr_pk_kv_u64(&pk, "seed", s->seed);
        if (s->skips.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "skips", s->skips);
        break;
    case SR_PROTO_OP_INGEST:
        rc |= sr_pk_kv_pstr(&pk, "name", g->name);
        rc |= sr_pk_cstr(&pk, "paths") | msgpack_pack_array(&pk, g->n_paths);
        for (uint32_t i = 0; i < g->n_paths; i++)
            rc |= sr_pk_pstr(&pk, g->paths[i]);
        if (g->format.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "format", g->format);
        if (g->config.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "config", g->config);
        if (g->split.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "split", g->split);
        if (g->skip_rule.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "skip_rule", g->skip_rule);
        if (g->min_session_len != 0)
            rc |= sr_pk_kv_u64(&pk, "min_session_len", g->min_session_len);
        if (g->min_track_count != 0)
            rc |= sr_pk_kv_u64(&pk, "min_track_count", g->min_track_count);
        if (g->only_with_skip >= 0)
            rc |= sr_pk_kv_bool(&pk, "only_with_skip", g->only_with_skip != 0);
        if (g->max_reject_rate >= 0.0)
            rc |= sr_pk_kv_f64(&pk, "max_reject_rate", g->max_reject_rate);
        if (g->valid_frac >= 0.0)
            rc |= sr_pk_kv_f64(&pk, "valid_frac", g->valid_frac);
        if (g->test_frac >= 0.0)
            rc |= sr_pk_kv_f64(&pk, "test_frac", g->test_frac);
        if (g->replace)
            rc |= sr_pk_kv_bool(&pk, "replace", true);
        break;
    case SR_PROTO_OP_STATS:
        rc |= sr_pk_kv_pstr(&pk, "name", req->u.name);
        break;
    case SR_PROTO_OP_TRAIN:
        rc |= sr_pk_kv_pstr(&pk, "dataset", t->dataset);
        rc |= sr_pk_kv_pstr(&pk, "model", t->model);
        if (t->preset.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "preset", t->preset);
        if (t->n_set != 0) {
            rc |= sr_pk_cstr(&pk, "set") | msgpack_pack_array(&pk, t->n_set);
            for (uint32_t i = 0; i < t->n_set; i++)
                rc |= sr_pk_pstr(&pk, t->set[i]);
        }
        if (t->max_steps != 0)
            rc |= sr_pk_kv_u64(&pk, "max_steps", t->max_steps);
        if (t->epochs != 0)
            rc |= sr_pk_kv_u64(&pk, "epochs", t->epochs);
        if (t->has_seed)
            rc |= sr_pk_kv_u64(&pk, "seed", t->seed);
        if (t->name.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "name", t->name);
        break;
    case SR_PROTO_OP_JOBS:
        if (req->u.jobs.job != 0)
            rc |= sr_pk_kv_u64(&pk, "job", req->u.jobs.job);
        break;
    case SR_PROTO_OP_CANCEL:
        rc |= sr_pk_kv_u64(&pk, "job", req->u.cancel.job);
        break;
    case SR_PROTO_OP_EVALUATE:
        rc |= sr_pk_kv_pstr(&pk, "model", e->model);
        if (e->dataset.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "dataset", e->dataset);
        if (e->split.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "split", e->split);
        if (e->protocol.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "protocol", e->protocol);
        if (e->exclude.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "exclude", e->exclude);
        if (e->max_queries != 0)
            rc |= sr_pk_kv_u64(&pk, "max_queries", e->max_queries);
        break;
    case SR_PROTO_OP_RECOMMEND:
        if (r->model.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "model", r->model);
        if (r->batch) {
            rc |= sr_pk_cstr(&pk, "sessions") | msgpack_pack_array(&pk, r->n_sessions);
            for (uint32_t i = 0; i < r->n_sessions; i++) {
                rc |= msgpack_pack_map(&pk, 1 + r->sessions[i].has_skipped);
                rc |= sr_pk_session(&pk, &r->sessions[i]);
            }
        } else {
            rc |= sr_pk_session(&pk, &r->sessions[0]);
        }
        if (r->k != 0)
            rc |= sr_pk_kv_u64(&pk, "k", r->k);
        if (r->exclude.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "exclude", r->exclude);
        break;
    case SR_PROTO_OP_DATASETS:
        if (req->u.datasets.action != SR_PROTO_DATASETS_LIST)
            rc |= sr_pk_cstr(&pk, "action") |
                  sr_pk_cstr(&pk, sr_proto_datasets_actions[req->u.datasets.action]);
        if (req->u.datasets.name.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "name", req->u.datasets.name);
        break;
    case SR_PROTO_OP_MODELS:
        if (m->action != SR_PROTO_MODELS_LIST)
            rc |= sr_pk_cstr(&pk, "action") | sr_pk_cstr(&pk, sr_proto_models_actions[m->action]);
        if (m->name.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "name", m->name);
        if (m->as.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "as", m->as);
        if (m->replace)
            rc |= sr_pk_kv_bool(&pk, "replace", true);
        break;
    case SR_PROTO_OP_EXPERIMENT:
        rc |= sr_pk_kv_pstr(&pk, "spec", x->spec);
        rc |= sr_pk_kv_pstr(&pk, "out", x->out);
        if (x->dataset.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "dataset", x->dataset);
        if (x->name.len != 0)
            rc |= sr_pk_kv_pstr(&pk, "name", x->name);
        break;
    default:
        break;
    }
    return rc != 0 ? -1 : 0;
}

/* ---- replies ------------------------------------------------------------------ */

static void sr_proto_reply_head(msgpack_packer *pk, uint64_t id, bool ok)
{
    msgpack_pack_map(pk, 4);
    sr_pk_kv_u64(pk, "v", SR_PROTO_VERSION);
    sr_pk_kv_u64(pk, "id", id);
    sr_pk_kv_bool(pk, "ok", ok);
}

void sr_proto_reply_ok_begin(msgpack_packer *pk, uint64_t id, uint32_t n)
{
    sr_proto_reply_head(pk, id, true);
    sr_pk_cstr(pk, "result");
    msgpack_pack_map(pk, n);
}

void sr_proto_reply_error(msgpack_packer *pk, uint64_t id, sr_proto_code code,
                          const char *message)
{
    sr_proto_reply_head(pk, id, false);
    sr_pk_cstr(pk, "error");
    msgpack_pack_map(pk, 3);
    sr_pk_kv_u64(pk, "code", (uint64_t)code);
    sr_proto_pack_kv_str(pk, "kind", sr_proto_code_name(code));
    sr_proto_pack_kv_str(pk, "message", message);
}

void sr_proto_pack_str(msgpack_packer *pk, const char *s)
{
    if (s == NULL)
        msgpack_pack_nil(pk);
    else
        sr_pk_cstr(pk, s);
}

void sr_proto_pack_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
    sr_pk_cstr(pk, key);
    sr_proto_pack_str(pk, val);
}

void sr_proto_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t val)
{
    sr_pk_kv_u64(pk, key, val);
}

void sr_proto_pack_kv_f64(msgpack_packer *pk, const char *key, double val)
{
    sr_pk_kv_f64(pk, key, val);
}

bool sr_proto_reply_decode(const void *buf, size_t len, sr_mp_doc *doc, bool *ok,
                           const sr_mp_node **result, sr_proto_code *code,
                           sr_pstr *message, uint64_t *id, char *err, size_t errcap)
{
    char perr[160];
    const sr_mp_node *n;

    *ok = false;
    if (result != NULL)
        *result = NULL;
    if (code != NULL)
        *code = SR_PROTO_CODE_OK;
    if (message != NULL) {
        message->ptr = NULL;
        message->len = 0;
    }
    if (id != NULL)
        *id = 0;
    /* Replies carry results (dataset lists...) that may be larger than any
     * request, but the same bounded reader applies. */
    if (!sr_mp_parse(buf, len, NULL, doc, perr, sizeof(perr))) {
        sr_proto_msg(err, errcap, "malformed reply: %s", perr);
        return false;
    }
    if (doc->nodes[0].type != SR_MP_TYPE_MAP) {
        sr_proto_msg(err, errcap, "reply is a %s, expected map", sr_mp_type_name(doc->nodes[0].type));
        goto fail;
    }
    n = sr_mp_map_get(doc, 0, "v");
    if (n == NULL || n->type != SR_MP_TYPE_UINT || n->v.u != SR_PROTO_VERSION) {
        sr_proto_msg(err, errcap, "reply has %s protocol version (expected %u)",
                     n == NULL ? "no" : "an unsupported", SR_PROTO_VERSION);
        goto fail;
    }
    n = sr_mp_map_get(doc, 0, "id");
    if (n != NULL) {
        if (n->type != SR_MP_TYPE_UINT) {
            sr_proto_msg(err, errcap, "reply \"id\" is a %s, expected uint", sr_mp_type_name(n->type));
            goto fail;
        }
        if (id != NULL)
            *id = n->v.u;
    }
    n = sr_mp_map_get(doc, 0, "ok");
    if (n == NULL || n->type != SR_MP_TYPE_BOOL) {
        sr_proto_msg(err, errcap, "reply has no bool \"ok\"");
        goto fail;
    }
    if (n->v.b) {
        n = sr_mp_map_get(doc, 0, "result");
        if (n == NULL || n->type != SR_MP_TYPE_MAP) {
            sr_proto_msg(err, errcap, "ok reply has no \"result\" map");
            goto fail;
        }
        if (result != NULL)
            *result = n;
        *ok = true;
        return true;
    }
    n = sr_mp_map_get(doc, 0, "error");
    if (n == NULL || n->type != SR_MP_TYPE_MAP) {
        sr_proto_msg(err, errcap, "error reply has no \"error\" map");
        goto fail;
    }
    uint32_t ei = sr_mp_index(doc, n);
    const sr_mp_node *cn = sr_mp_map_get(doc, ei, "code");
    if (cn == NULL || cn->type != SR_MP_TYPE_UINT || cn->v.u < 100 || cn->v.u > 999) {
        sr_proto_msg(err, errcap, "error reply has no \"code\" in [100, 999]");
        goto fail;
    }
    const sr_mp_node *mn = sr_mp_map_get(doc, ei, "message");
    if (mn == NULL || mn->type != SR_MP_TYPE_STR) {
        sr_proto_msg(err, errcap, "error reply has no str \"message\"");
        goto fail;
    }
    if (code != NULL)
        *code = (sr_proto_code)cn->v.u;
    if (message != NULL)
        *message = sr_rq_pstr(mn);
    return true;
fail:
    sr_mp_doc_free(doc);
    if (id != NULL)
        *id = 0;
    return false;
}
