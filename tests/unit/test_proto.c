/* test_proto.c - the wire format: the bounded MessagePack reader on
 * hand-assembled bytes (expected values worked out from the MessagePack
 * spec), request validation (one test per malformed case), request and reply
 * round trips, and the exact bytes of a few encoded messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_proto.h"

#define ERRCAP 256

/* ---- helpers -------------------------------------------------------------------- */

/* Parse `bytes` from an exactly-sized heap copy, so that ASan flags any read
 * past the end of the frame. */
static bool parse_exact(const uint8_t *bytes, size_t len, const sr_mp_limits *lim,
                        sr_mp_doc *doc, char *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, bytes, len);
    bool ok = sr_mp_parse(len ? copy : NULL, len, lim, doc, err, ERRCAP);
    /* nodes point into the frame: keep the copy alive only for the check */
    if (ok) {
        for (uint32_t i = 0; i < doc->n_nodes; i++) {
            if (doc->nodes[i].type == SR_MP_TYPE_STR || doc->nodes[i].type == SR_MP_TYPE_BIN ||
                doc->nodes[i].type == SR_MP_TYPE_EXT) {
                assert_true((const uint8_t *)doc->nodes[i].v.s >= copy);
                assert_true((const uint8_t *)doc->nodes[i].v.s + doc->nodes[i].n <= copy + len);
                /* re-point into the caller's bytes, which outlive the copy */
                doc->nodes[i].v.s = (const char *)bytes + ((const uint8_t *)doc->nodes[i].v.s - copy);
            }
        }
    }
    free(copy);
    return ok;
}

/* Parse a frame holding one scalar and return its single node. */
static sr_mp_node parse_one(const uint8_t *bytes, size_t len)
{
    sr_mp_doc doc;
    char err[ERRCAP];
    bool ok = parse_exact(bytes, len, NULL, &doc, err);
    if (!ok)
        fail_msg("parse failed: %s", err);
    assert_int_equal(doc.n_nodes, 1);
    sr_mp_node n = doc.nodes[0];
    assert_int_equal(n.span, 1);
    sr_mp_doc_free(&doc);
    return n;
}

static void expect_parse_fail(const uint8_t *bytes, size_t len, const sr_mp_limits *lim,
                              const char *needle)
{
    sr_mp_doc doc = { (sr_mp_node *)(uintptr_t)1, 99 }; /* must be reset on failure */
    char err[ERRCAP] = "";
    assert_false(parse_exact(bytes, len, lim, &doc, err));
    assert_null(doc.nodes);
    assert_int_equal(doc.n_nodes, 0);
    if (needle != NULL && strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* One request field for the table-driven builders. */
typedef struct tfield {
    const char *key;
    char kind;        /* u uint, i int, d double, s str, b bool, n nil, P array of 2 paths,
                       * S array of 2 "key=value" strs, T array of 3 track ids, B array of
                       * 3 bools (false, true, false) */
    uint64_t u;
    double d;
    const char *s;
} tfield;

static void pk_field(msgpack_packer *pk, const tfield *f)
{
    pk_str(pk, f->key);
    switch (f->kind) {
    case 'u': msgpack_pack_uint64(pk, f->u); break;
    case 'i': msgpack_pack_int64(pk, (int64_t)f->u); break;
    case 'd': msgpack_pack_double(pk, f->d); break;
    case 's': pk_str(pk, f->s); break;
    case 'b': if (f->u) msgpack_pack_true(pk); else msgpack_pack_false(pk); break;
    case 'n': msgpack_pack_nil(pk); break;
    case 'P':
        msgpack_pack_array(pk, 2);
        pk_str(pk, "logs/day1.csv");
        pk_str(pk, "logs/day2.csv.gz");
        break;
    case 'S':
        msgpack_pack_array(pk, 2);
        pk_str(pk, "lambda=0.5");
        pk_str(pk, "dim = 64");
        break;
    case 'T':
        msgpack_pack_array(pk, 3);
        pk_str(pk, "t_a");
        pk_str(pk, "t_b");
        pk_str(pk, "t_c");
        break;
    case 'B':
        msgpack_pack_array(pk, 3);
        msgpack_pack_false(pk);
        msgpack_pack_true(pk);
        msgpack_pack_false(pk);
        break;
    default: fail_msg("bad kind %c", f->kind);
    }
}

/* Complete valid requests, one per op, with every field set. */
static const tfield SYNTH_FIELDS[] = {
    { "v", 'u', 1, 0, NULL },           { "op", 's', 0, 0, "synth" },
    { "id", 'u', 77, 0, NULL },         { "out", 's', 0, 0, "synthetic/s1.csv.gz" },
    { "sessions", 'u', 5000, 0, NULL }, { "tracks", 'u', 900, 0, NULL },
    { "seed", 'u', 0, 0, NULL },        { "skips", 's', 0, 0, "random" },
};
static const tfield INGEST_FIELDS[] = {
    { "v", 'u', 1, 0, NULL },
    { "op", 's', 0, 0, "ingest" },
    { "id", 'u', 78, 0, NULL },
    { "name", 's', 0, 0, "mssd-mini_v2" },
    { "paths", 'P', 0, 0, NULL },
    { "format", 's', 0, 0, "events" },
    { "config", 's', 0, 0, "[columns]\nsession = sid\n" },
    { "split", 's', 0, 0, "temporal" },
    { "skip_rule", 's', 0, 0, "skip_3" },
    { "min_session_len", 'u', 3, 0, NULL },
    { "min_track_count", 'u', 5, 0, NULL },
    { "only_with_skip", 'b', 0, 0, NULL },
    { "max_reject_rate", 'd', 0, 0.05, NULL },
    { "valid_frac", 'd', 0, 0.125, NULL },
    { "test_frac", 'd', 0, 0.25, NULL },
    { "replace", 'b', 1, 0, NULL },
};
static const tfield STATS_FIELDS[] = {
    { "v", 'u', 1, 0, NULL },
    { "op", 's', 0, 0, "stats" },
    { "name", 's', 0, 0, "ds-1" },
};
static const tfield TRAIN_FIELDS[] = {
    { "v", 'u', 1, 0, NULL },           { "op", 's', 0, 0, "train" },
    { "id", 'u', 80, 0, NULL },         { "dataset", 's', 0, 0, "mssd-mini" },
    { "model", 's', 0, 0, "sasrec" },   { "preset", 's', 0, 0, "paper" },
    { "set", 'S', 0, 0, NULL },         { "max_steps", 'u', 5000, 0, NULL },
    { "epochs", 'u', 3, 0, NULL },      { "seed", 'u', 7, 0, NULL },
    { "name", 's', 0, 0, "sasrec-1" },
};
static const tfield JOBS_FIELDS[] = {
    { "v", 'u', 1, 0, NULL }, { "op", 's', 0, 0, "jobs" }, { "job", 'u', 4, 0, NULL },
};
static const tfield CANCEL_FIELDS[] = {
    { "v", 'u', 1, 0, NULL }, { "op", 's', 0, 0, "cancel" }, { "job", 'u', 5, 0, NULL },
};
static const tfield EVALUATE_FIELDS[] = {
    { "v", 'u', 1, 0, NULL },             { "op", 's', 0, 0, "evaluate" },
    { "model", 's', 0, 0, "sasrec-1" },   { "dataset", 's', 0, 0, "mssd-mini" },
    { "split", 's', 0, 0, "validation" }, { "protocol", 's', 0, 0, "sampled" },
    { "exclude", 's', 0, 0, "played" },   { "max_queries", 'u', 2000, 0, NULL },
};
static const tfield RECOMMEND_FIELDS[] = {
    { "v", 'u', 1, 0, NULL },           { "op", 's', 0, 0, "recommend" },
    { "model", 's', 0, 0, "sasrec-1" }, { "tracks", 'T', 0, 0, NULL },
    { "skipped", 'B', 0, 0, NULL },     { "k", 'u', 20, 0, NULL },
    { "exclude", 's', 0, 0, "none" },
};
static const tfield MODELS_FIELDS[] = {
    { "v", 'u', 1, 0, NULL }, { "op", 's', 0, 0, "models" }, { "name", 's', 0, 0, "m-1" },
};
#define EXP_SPEC "[experiment]\nseeds = 3\n\n[config sasrec+skip]\nmodel = sasrec\nset = lambda=0.5\nbase = sasrec\n"
static const tfield EXPERIMENT_FIELDS[] = {
    { "v", 'u', 1, 0, NULL },               { "op", 's', 0, 0, "experiment" },
    { "id", 'u', 81, 0, NULL },             { "spec", 's', 0, 0, EXP_SPEC },
    { "out", 's', 0, 0, "experiments/q1" }, { "dataset", 's', 0, 0, "mssd-mini" },
    { "name", 's', 0, 0, "skip-vs-plain.v1" },
};

/* Pack `fields` into a fresh buffer, replacing the field named `swap` by
 * `with` (when with != NULL) or dropping it (with == NULL). A `with` whose
 * key is not among the fields is appended. */
static void build(msgpack_sbuffer *sb, const tfield *fields, size_t n, const char *swap,
                  const tfield *with)
{
    msgpack_packer pk;
    uint32_t count = 0;
    bool found = false;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    for (size_t i = 0; i < n; i++) {
        bool hit = swap && strcmp(fields[i].key, swap) == 0;
        found |= hit;
        count += !(hit && with == NULL);
    }
    bool append = !found && with != NULL;
    msgpack_pack_map(&pk, count + append);
    for (size_t i = 0; i < n; i++) {
        if (swap && strcmp(fields[i].key, swap) == 0) {
            if (with != NULL)
                pk_field(&pk, with);
        } else {
            pk_field(&pk, &fields[i]);
        }
    }
    if (append)
        pk_field(&pk, with);
}

static sr_proto_code decode_sb(const msgpack_sbuffer *sb, sr_proto_request *req, char *err)
{
    /* exact-size copy: any over-read is an ASan error */
    char *copy = malloc(sb->size ? sb->size : 1);
    assert_non_null(copy);
    memcpy(copy, sb->data, sb->size);
    sr_proto_code c = sr_proto_request_decode(copy, sb->size, NULL, req, err, ERRCAP);
    free(copy);
    return c; /* strings in req dangle now: callers only look at codes and numbers */
}

static void expect_code(const tfield *fields, size_t n, const char *swap, const tfield *with,
                        sr_proto_code want, const char *needle)
{
    msgpack_sbuffer sb;
    sr_proto_request req;
    char err[ERRCAP] = "";
    build(&sb, fields, n, swap, with);
    sr_proto_code c = decode_sb(&sb, &req, err);
    msgpack_sbuffer_destroy(&sb);
    if (c != want)
        fail_msg("swap %s: got code %d (%s), want %d", swap ? swap : "-", (int)c, err, (int)want);
    if (needle != NULL && strstr(err, needle) == NULL)
        fail_msg("swap %s: error \"%s\" does not mention \"%s\"", swap ? swap : "-", err, needle);
}

#define EXPECT(fields, swap, with, code, needle) \
    expect_code(fields, SR_COUNTOF_T(fields), swap, with, code, needle)
#define SR_COUNTOF_T(a) (sizeof(a) / sizeof((a)[0]))

static void assert_pstr(sr_pstr s, const char *want)
{
    if (!sr_pstr_eq(s, want))
        fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.ptr ? s.ptr : "", want);
}

/* ---- sr_mp_parse: every format family ----------------------------------------------- */

static void test_mp_parse_nil_and_bool(void **state)
{
    (void)state;
    static const uint8_t nil[] = { 0xc0 }, f[] = { 0xc2 }, t[] = { 0xc3 };
    assert_int_equal(parse_one(nil, 1).type, SR_MP_TYPE_NIL);
    sr_mp_node n = parse_one(f, 1);
    assert_int_equal(n.type, SR_MP_TYPE_BOOL);
    assert_false(n.v.b);
    n = parse_one(t, 1);
    assert_int_equal(n.type, SR_MP_TYPE_BOOL);
    assert_true(n.v.b);
}

static void test_mp_parse_fixint_positive_and_negative(void **state)
{
    (void)state;
    static const uint8_t z[] = { 0x00 }, p[] = { 0x7f }, m1[] = { 0xff }, m32[] = { 0xe0 };
    sr_mp_node n = parse_one(z, 1);
    assert_int_equal(n.type, SR_MP_TYPE_UINT);
    assert_int_equal(n.v.u, 0);
    n = parse_one(p, 1);
    assert_int_equal(n.type, SR_MP_TYPE_UINT);
    assert_int_equal(n.v.u, 127);
    n = parse_one(m1, 1);
    assert_int_equal(n.type, SR_MP_TYPE_INT);
    assert_true(n.v.i == -1);
    n = parse_one(m32, 1);
    assert_int_equal(n.type, SR_MP_TYPE_INT);
    assert_true(n.v.i == -32);
}

static void test_mp_parse_uint8_to_uint64(void **state)
{
    (void)state;
    static const uint8_t u8[] = { 0xcc, 0xff };
    static const uint8_t u16[] = { 0xcd, 0x01, 0x00 };
    static const uint8_t u32[] = { 0xce, 0x00, 0x01, 0x00, 0x00 };
    static const uint8_t u64[] = { 0xcf, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
    static const uint8_t umax[] = { 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    sr_mp_node n = parse_one(u8, sizeof(u8));
    assert_int_equal(n.type, SR_MP_TYPE_UINT);
    assert_int_equal(n.v.u, 255);
    assert_int_equal(parse_one(u16, sizeof(u16)).v.u, 256);
    assert_int_equal(parse_one(u32, sizeof(u32)).v.u, 65536);
    assert_true(parse_one(u64, sizeof(u64)).v.u == 0x0102030405060708ull);
    n = parse_one(umax, sizeof(umax));
    assert_int_equal(n.type, SR_MP_TYPE_UINT);
    assert_true(n.v.u == UINT64_MAX);
}

static void test_mp_parse_int8_to_int64(void **state)
{
    (void)state;
    static const uint8_t i8[] = { 0xd0, 0x80 };
    static const uint8_t i16[] = { 0xd1, 0x80, 0x00 };
    static const uint8_t i16b[] = { 0xd1, 0xfe, 0xd4 }; /* -300 = 0x10000 - 300 = 0xfed4 */
    static const uint8_t i32[] = { 0xd2, 0x80, 0x00, 0x00, 0x00 };
    static const uint8_t i64[] = { 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0 };
    static const uint8_t i64m1[] = { 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    sr_mp_node n = parse_one(i8, sizeof(i8));
    assert_int_equal(n.type, SR_MP_TYPE_INT);
    assert_true(n.v.i == -128);
    assert_true(parse_one(i16, sizeof(i16)).v.i == -32768);
    assert_true(parse_one(i16b, sizeof(i16b)).v.i == -300);
    assert_true(parse_one(i32, sizeof(i32)).v.i == INT32_MIN);
    assert_true(parse_one(i64, sizeof(i64)).v.i == INT64_MIN);
    assert_true(parse_one(i64m1, sizeof(i64m1)).v.i == -1);
}

static void test_mp_parse_signed_format_holding_nonnegative_is_uint(void **state)
{
    (void)state;
    static const uint8_t i8[] = { 0xd0, 0x05 };
    static const uint8_t i64[] = { 0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    sr_mp_node n = parse_one(i8, sizeof(i8));
    assert_int_equal(n.type, SR_MP_TYPE_UINT);
    assert_int_equal(n.v.u, 5);
    n = parse_one(i64, sizeof(i64));
    assert_int_equal(n.type, SR_MP_TYPE_UINT);
    assert_true(n.v.u == (uint64_t)INT64_MAX);
}

static void test_mp_parse_float32_and_float64(void **state)
{
    (void)state;
    /* 1.5f = sign 0, exponent 127 (0x7f), mantissa 0.5 -> 0x3fc00000 */
    static const uint8_t f32[] = { 0xca, 0x3f, 0xc0, 0x00, 0x00 };
    /* 0.1f rounds to 0x3dcccccd */
    static const uint8_t f32b[] = { 0xca, 0x3d, 0xcc, 0xcc, 0xcd };
    /* 1.5 = 0x3ff8000000000000; -pi = 0xc00921fb54442d18 */
    static const uint8_t f64[] = { 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0 };
    static const uint8_t f64b[] = { 0xcb, 0xc0, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18 };
    static const uint8_t nan64[] = { 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0 };
    sr_mp_node n = parse_one(f32, sizeof(f32));
    assert_int_equal(n.type, SR_MP_TYPE_FLOAT);
    assert_true(n.v.f == 1.5);
    assert_true(parse_one(f32b, sizeof(f32b)).v.f == (double)0.1f);
    assert_true(parse_one(f64, sizeof(f64)).v.f == 1.5);
    assert_true(parse_one(f64b, sizeof(f64b)).v.f == -3.141592653589793);
    assert_true(isnan(parse_one(nan64, sizeof(nan64)).v.f)); /* the reader keeps NaN */
}

static void test_mp_parse_str_fix_8_16_32(void **state)
{
    (void)state;
    static const uint8_t fix[] = { 0xa3, 'a', 'b', 'c' };
    static const uint8_t s8[] = { 0xd9, 0x03, 'a', 'b', 'c' };
    static const uint8_t s16[] = { 0xda, 0x00, 0x03, 'a', 'b', 'c' };
    static const uint8_t s32[] = { 0xdb, 0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c' };
    static const uint8_t empty[] = { 0xa0 };
    const uint8_t *all[] = { fix, s8, s16, s32 };
    size_t lens[] = { sizeof(fix), sizeof(s8), sizeof(s16), sizeof(s32) };
    for (int i = 0; i < 4; i++) {
        sr_mp_node n = parse_one(all[i], lens[i]);
        assert_int_equal(n.type, SR_MP_TYPE_STR);
        assert_int_equal(n.n, 3);
        assert_memory_equal(n.v.s, "abc", 3);
        assert_ptr_equal(n.v.s, (const char *)all[i] + lens[i] - 3);
    }
    sr_mp_node n = parse_one(empty, 1);
    assert_int_equal(n.type, SR_MP_TYPE_STR);
    assert_int_equal(n.n, 0);
}

static void test_mp_parse_bin_8_16_32(void **state)
{
    (void)state;
    static const uint8_t b8[] = { 0xc4, 0x02, 0x00, 0xff };
    static const uint8_t b16[] = { 0xc5, 0x00, 0x02, 0x00, 0xff };
    static const uint8_t b32[] = { 0xc6, 0x00, 0x00, 0x00, 0x02, 0x00, 0xff };
    const uint8_t *all[] = { b8, b16, b32 };
    size_t lens[] = { sizeof(b8), sizeof(b16), sizeof(b32) };
    for (int i = 0; i < 3; i++) {
        sr_mp_node n = parse_one(all[i], lens[i]);
        assert_int_equal(n.type, SR_MP_TYPE_BIN);
        assert_int_equal(n.n, 2);
        assert_memory_equal(n.v.s, "\x00\xff", 2);
    }
}

static void test_mp_parse_fixext_and_ext_8_16_32(void **state)
{
    (void)state;
    /* fixext 1/2/4/8/16 (0xd4..0xd8): type byte, then 1/2/4/8/16 data bytes */
    static const uint8_t fe1[] = { 0xd4, 0x05, 0xaa };
    static const uint8_t fe2[] = { 0xd5, 0x05, 0xaa, 0xbb };
    static const uint8_t fe4[] = { 0xd6, 0x05, 1, 2, 3, 4 };
    static const uint8_t fe8[] = { 0xd7, 0xff, 1, 2, 3, 4, 5, 6, 7, 8 }; /* type -1 */
    static const uint8_t fe16[] = { 0xd8, 0x05, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    const uint8_t *fixes[] = { fe1, fe2, fe4, fe8, fe16 };
    size_t flen[] = { sizeof(fe1), sizeof(fe2), sizeof(fe4), sizeof(fe8), sizeof(fe16) };
    uint32_t fn[] = { 1, 2, 4, 8, 16 };
    int8_t ftype[] = { 5, 5, 5, -1, 5 };
    for (int i = 0; i < 5; i++) {
        sr_mp_node n = parse_one(fixes[i], flen[i]);
        assert_int_equal(n.type, SR_MP_TYPE_EXT);
        assert_int_equal(n.n, fn[i]);
        assert_ptr_equal(n.v.s, (const char *)fixes[i] + 2);
        assert_int_equal((int8_t)n.v.s[-1], ftype[i]);
    }
    /* ext 8/16/32: length, type byte, data; type 0xfe = -2 */
    static const uint8_t e8[] = { 0xc7, 0x03, 0xfe, 1, 2, 3 };
    static const uint8_t e16[] = { 0xc8, 0x00, 0x03, 0xfe, 1, 2, 3 };
    static const uint8_t e32[] = { 0xc9, 0x00, 0x00, 0x00, 0x03, 0xfe, 1, 2, 3 };
    static const uint8_t e0[] = { 0xc7, 0x00, 0x07 };
    const uint8_t *exts[] = { e8, e16, e32 };
    size_t elen[] = { sizeof(e8), sizeof(e16), sizeof(e32) };
    for (int i = 0; i < 3; i++) {
        sr_mp_node n = parse_one(exts[i], elen[i]);
        assert_int_equal(n.type, SR_MP_TYPE_EXT);
        assert_int_equal(n.n, 3);
        assert_memory_equal(n.v.s, "\x01\x02\x03", 3);
        assert_int_equal((int8_t)n.v.s[-1], -2);
    }
    sr_mp_node n = parse_one(e0, sizeof(e0));
    assert_int_equal(n.n, 0);
    assert_int_equal((int8_t)n.v.s[-1], 7);
}

static void test_mp_parse_array_fix_16_32(void **state)
{
    (void)state;
    static const uint8_t fix[] = { 0x92, 0x01, 0xa1, 'x' };
    static const uint8_t a16[] = { 0xdc, 0x00, 0x02, 0x01, 0xa1, 'x' };
    static const uint8_t a32[] = { 0xdd, 0x00, 0x00, 0x00, 0x02, 0x01, 0xa1, 'x' };
    static const uint8_t empty[] = { 0x90 };
    const uint8_t *all[] = { fix, a16, a32 };
    size_t lens[] = { sizeof(fix), sizeof(a16), sizeof(a32) };
    for (int i = 0; i < 3; i++) {
        sr_mp_doc doc;
        char err[ERRCAP];
        assert_true(parse_exact(all[i], lens[i], NULL, &doc, err));
        assert_int_equal(doc.n_nodes, 3);
        assert_int_equal(doc.nodes[0].type, SR_MP_TYPE_ARRAY);
        assert_int_equal(doc.nodes[0].n, 2);
        assert_int_equal(doc.nodes[0].span, 3);
        assert_int_equal(doc.nodes[1].v.u, 1);
        assert_int_equal(doc.nodes[2].type, SR_MP_TYPE_STR);
        assert_memory_equal(doc.nodes[2].v.s, "x", 1);
        sr_mp_doc_free(&doc);
    }
    sr_mp_node n = parse_one(empty, 1);
    assert_int_equal(n.type, SR_MP_TYPE_ARRAY);
    assert_int_equal(n.n, 0);
}

static void test_mp_parse_map_fix_16_32(void **state)
{
    (void)state;
    static const uint8_t fix[] = { 0x81, 0xa1, 'a', 0x07 };
    static const uint8_t m16[] = { 0xde, 0x00, 0x01, 0xa1, 'a', 0x07 };
    static const uint8_t m32[] = { 0xdf, 0x00, 0x00, 0x00, 0x01, 0xa1, 'a', 0x07 };
    const uint8_t *all[] = { fix, m16, m32 };
    size_t lens[] = { sizeof(fix), sizeof(m16), sizeof(m32) };
    for (int i = 0; i < 3; i++) {
        sr_mp_doc doc;
        char err[ERRCAP];
        assert_true(parse_exact(all[i], lens[i], NULL, &doc, err));
        assert_int_equal(doc.n_nodes, 3);
        assert_int_equal(doc.nodes[0].type, SR_MP_TYPE_MAP);
        assert_int_equal(doc.nodes[0].n, 1);
        assert_int_equal(doc.nodes[0].span, 3);
        const sr_mp_node *v = sr_mp_map_get(&doc, 0, "a");
        assert_non_null(v);
        assert_int_equal(v->v.u, 7);
        assert_null(sr_mp_map_get(&doc, 0, "b"));
        assert_null(sr_mp_map_get(&doc, 1, "a")); /* node 1 is not a map */
        sr_mp_doc_free(&doc);
    }
}

/* [1, [2, 3], {"k": [4]}, 5]: pre-order with spans
 * 0 array(4) span 10 | 1: 1 | 2 array(2) span 3 | 3: 2 | 4: 3 |
 * 5 map(1) span 4 | 6 "k" | 7 array(1) span 2 | 8: 4 | 9: 5 */
static void test_mp_parse_nested_preorder_spans(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x94, 0x01, 0x92, 0x02, 0x03, 0x81, 0xa1, 'k', 0x91, 0x04, 0x05 };
    static const uint32_t span[] = { 10, 1, 3, 1, 1, 4, 1, 2, 1, 1 };
    static const uint8_t type[] = { SR_MP_TYPE_ARRAY, SR_MP_TYPE_UINT, SR_MP_TYPE_ARRAY,
                                    SR_MP_TYPE_UINT, SR_MP_TYPE_UINT, SR_MP_TYPE_MAP,
                                    SR_MP_TYPE_STR, SR_MP_TYPE_ARRAY, SR_MP_TYPE_UINT,
                                    SR_MP_TYPE_UINT };
    sr_mp_doc doc;
    char err[ERRCAP];
    assert_true(parse_exact(b, sizeof(b), NULL, &doc, err));
    assert_int_equal(doc.n_nodes, 10);
    for (uint32_t i = 0; i < 10; i++) {
        assert_int_equal(doc.nodes[i].span, span[i]);
        assert_int_equal(doc.nodes[i].type, type[i]);
    }
    assert_int_equal(doc.nodes[9].v.u, 5);
    const sr_mp_node *k = sr_mp_map_get(&doc, 5, "k");
    assert_non_null(k);
    assert_int_equal(sr_mp_index(&doc, k), 7);
    assert_int_equal(doc.nodes[sr_mp_index(&doc, k) + 1].v.u, 4);
    sr_mp_doc_free(&doc);
    sr_mp_doc_free(&doc); /* freeing twice is harmless */
    sr_mp_doc_free(NULL);
}

/* ---- sr_mp_parse: malformed frames ---------------------------------------------------- */

static void test_mp_parse_empty_frame(void **state)
{
    (void)state;
    expect_parse_fail(NULL, 0, NULL, "empty frame");
}

static void test_mp_parse_invalid_byte_c1(void **state)
{
    (void)state;
    static const uint8_t alone[] = { 0xc1 };
    static const uint8_t inside[] = { 0x92, 0x01, 0xc1 };
    expect_parse_fail(alone, sizeof(alone), NULL, "0xc1 at offset 0");
    expect_parse_fail(inside, sizeof(inside), NULL, "0xc1 at offset 2");
}

static void test_mp_parse_str_length_beyond_frame(void **state)
{
    (void)state;
    static const uint8_t s8[] = { 0xd9, 0x10, 'a', 'b' };
    static const uint8_t fix[] = { 0xa5, 'a' };
    static const uint8_t s32[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' };
    static const uint8_t bin16[] = { 0xc5, 0x00, 0x03, 'a' };
    static const uint8_t ext8[] = { 0xc7, 0x01, 0x05 }; /* type byte present, data missing */
    sr_mp_limits lim;
    sr_mp_limits_default(&lim);
    lim.max_str = UINT32_MAX; /* so the bytes-left check, not the size limit, decides */
    expect_parse_fail(s8, sizeof(s8), &lim, "declares 16 bytes, only 2 left");
    expect_parse_fail(fix, sizeof(fix), &lim, "declares 5 bytes, only 1 left");
    expect_parse_fail(s32, sizeof(s32), &lim, "declares 4294967295 bytes");
    expect_parse_fail(bin16, sizeof(bin16), &lim, "bin at offset 0 declares 3 bytes");
    expect_parse_fail(ext8, sizeof(ext8), &lim, "ext at offset 0 declares 1 bytes, only 0 left");
}

static void test_mp_parse_str_longer_than_max_str(void **state)
{
    (void)state;
    static const uint8_t s[] = { 0xa4, 'a', 'b', 'c', 'd' };
    sr_mp_limits lim;
    sr_mp_limits_default(&lim);
    lim.max_str = 3;
    expect_parse_fail(s, sizeof(s), &lim, "exceeds the limit of 3");
    lim.max_str = 4;
    sr_mp_doc doc;
    char err[ERRCAP];
    assert_true(parse_exact(s, sizeof(s), &lim, &doc, err));
    sr_mp_doc_free(&doc);
}

/* msgpack-c's unpacker would reserve 2^32-1 objects for this 6-byte frame.
 * The count fails its check in the validation pass, before the only
 * allocation sr_mp_parse makes, and the doc stays empty. */
static void test_mp_parse_array32_count_max_in_6_byte_frame(void **state)
{
    (void)state;
    static const uint8_t a[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00 };
    static const uint8_t m[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0x00 };
    expect_parse_fail(a, sizeof(a), NULL, "declares 4294967295 elements, limit 65536");
    sr_mp_limits lim;
    sr_mp_limits_default(&lim);
    lim.max_items = UINT32_MAX; /* no item limit: the bytes-left check alone must stop it */
    expect_parse_fail(a, sizeof(a), &lim, "declares 4294967295 elements, only 1 bytes left");
    expect_parse_fail(m, sizeof(m), &lim, "declares 4294967295 pairs, only 1 bytes left");
    /* a map of n pairs needs 2n bytes: 1 pair in 1 byte fails too */
    static const uint8_t m1[] = { 0x81, 0x00 };
    expect_parse_fail(m1, sizeof(m1), &lim, "declares 1 pairs, only 1 bytes left");
}

static void test_mp_parse_count_over_max_items(void **state)
{
    (void)state;
    static const uint8_t a[] = { 0x93, 0x01, 0x02, 0x03 };
    sr_mp_limits lim;
    sr_mp_limits_default(&lim);
    lim.max_items = 2;
    expect_parse_fail(a, sizeof(a), &lim, "declares 3 elements, limit 2");
}

static void test_mp_parse_nesting_deeper_than_max_depth(void **state)
{
    (void)state;
    uint8_t b[40];
    sr_mp_doc doc;
    char err[ERRCAP];
    /* 16 nested one-element arrays around nil: depth 16 = the default limit */
    for (int i = 0; i < 16; i++)
        b[i] = 0x91;
    b[16] = 0xc0;
    assert_true(parse_exact(b, 17, NULL, &doc, err));
    assert_int_equal(doc.n_nodes, 17);
    assert_int_equal(doc.nodes[0].span, 17);
    assert_int_equal(doc.nodes[15].span, 2);
    sr_mp_doc_free(&doc);
    /* 17 levels: one too many, even when the innermost is empty */
    for (int i = 0; i < 16; i++)
        b[i] = 0x91;
    b[16] = 0x90;
    expect_parse_fail(b, 17, NULL, "nests deeper than the limit of 16");
    /* a limit above SR_MP_MAX_DEPTH acts as SR_MP_MAX_DEPTH */
    sr_mp_limits lim;
    sr_mp_limits_default(&lim);
    lim.max_depth = 1000;
    uint8_t deep[SR_MP_MAX_DEPTH + 2];
    memset(deep, 0x91, sizeof(deep));
    deep[SR_MP_MAX_DEPTH + 1] = 0xc0;
    expect_parse_fail(deep, sizeof(deep), &lim, "nests deeper than the limit of 64");
    assert_true(parse_exact(deep + 1, sizeof(deep) - 1, &lim, &doc, err));
    sr_mp_doc_free(&doc);
    /* max_depth 0: scalars only */
    lim.max_depth = 0;
    static const uint8_t one[] = { 0x01 }, arr[] = { 0x90 };
    assert_true(parse_exact(one, 1, &lim, &doc, err));
    sr_mp_doc_free(&doc);
    expect_parse_fail(arr, 1, &lim, "deeper than the limit of 0");
}

static void test_mp_parse_trailing_garbage(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x81, 0xa1, 'a', 0x01, 0xc0 };
    expect_parse_fail(b, sizeof(b), NULL, "trailing bytes: the object ends at offset 4");
}

static void test_mp_parse_truncated_headers(void **state)
{
    (void)state;
    static const uint8_t u32[] = { 0xce, 0x00, 0x01 };
    static const uint8_t f64[] = { 0xcb, 0x3f };
    static const uint8_t a16[] = { 0xdc, 0x00 };
    static const uint8_t arr[] = { 0x93, 0x01, 0x02 };
    expect_parse_fail(u32, sizeof(u32), NULL, "truncated uint at offset 0: needs 4 header bytes, 2 left");
    expect_parse_fail(f64, sizeof(f64), NULL, "truncated float");
    expect_parse_fail(a16, sizeof(a16), NULL, "truncated array");
    sr_mp_limits lim;
    sr_mp_limits_default(&lim);
    expect_parse_fail(arr, sizeof(arr), &lim, "declares 3 elements, only 2 bytes left");
}

/* ---- request decoding: round trips ------------------------------------------------- */

static void round_trip(const sr_proto_request *in, sr_proto_request *out, msgpack_sbuffer *sb)
{
    char err[ERRCAP] = "";
    msgpack_sbuffer_init(sb);
    assert_int_equal(sr_proto_request_encode(in, sb), 0);
    sr_proto_code c = sr_proto_request_decode(sb->data, sb->size, NULL, out, err, ERRCAP);
    if (c != SR_PROTO_CODE_OK)
        fail_msg("decode of encoded %s failed: %d %s", sr_proto_op_name(in->op), (int)c, err);
    assert_int_equal(out->version, 1);
    assert_int_equal(out->op, in->op);
    assert_true(out->id == in->id);
}

static sr_pstr P(const char *s)
{
    sr_pstr p = { s, (uint32_t)strlen(s) };
    return p;
}

static void test_request_round_trip_fieldless_ops(void **state)
{
    (void)state;
    sr_proto_op ops[] = { SR_PROTO_OP_STATUS, SR_PROTO_OP_DATASETS, SR_PROTO_OP_SHUTDOWN };
    for (int i = 0; i < 3; i++) {
        for (uint64_t id = 0; id < 2; id++) {
            sr_proto_request in, out;
            msgpack_sbuffer sb;
            memset(&in, 0, sizeof(in));
            in.op = ops[i];
            in.id = id ? UINT64_MAX : 0;
            round_trip(&in, &out, &sb);
            msgpack_sbuffer_destroy(&sb);
        }
    }
}

static void test_request_round_trip_synth(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_SYNTH;
    in.id = 12;
    in.u.synth.out = P("synthetic/a.csv.gz");
    in.u.synth.sessions = SR_PROTO_MAX_SESSIONS;
    in.u.synth.tracks = 20000;
    in.u.synth.seed = 0;
    in.u.synth.has_seed = true;
    in.u.synth.skips = P("informative");
    round_trip(&in, &out, &sb);
    assert_pstr(out.u.synth.out, "synthetic/a.csv.gz");
    assert_true(out.u.synth.sessions == SR_PROTO_MAX_SESSIONS);
    assert_int_equal(out.u.synth.tracks, 20000);
    assert_true(out.u.synth.has_seed);
    assert_int_equal(out.u.synth.seed, 0);
    assert_pstr(out.u.synth.skips, "informative");
    msgpack_sbuffer_destroy(&sb);

    /* minimal: optionals stay unset */
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_SYNTH;
    in.u.synth.out = P("x.csv");
    in.u.synth.sessions = 1;
    round_trip(&in, &out, &sb);
    assert_int_equal(out.u.synth.sessions, 1);
    assert_int_equal(out.u.synth.tracks, 0);
    assert_false(out.u.synth.has_seed);
    assert_int_equal(out.u.synth.skips.len, 0);
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_round_trip_ingest(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_INGEST;
    in.id = 1u << 20;
    sr_proto_ingest *g = &in.u.ingest;
    g->name = P("A.b_c-9");
    g->n_paths = SR_PROTO_MAX_PATHS;
    char paths[SR_PROTO_MAX_PATHS][24];
    for (int i = 0; i < SR_PROTO_MAX_PATHS; i++) {
        snprintf(paths[i], sizeof(paths[i]), "d/%02d.csv", i);
        g->paths[i] = P(paths[i]);
    }
    g->format = P("events");
    g->config = P("[columns]\nuser = u\n");
    g->split = P("temporal");
    g->skip_rule = P("not_skipped");
    g->min_session_len = 4;
    g->min_track_count = UINT32_MAX;
    g->only_with_skip = 0;
    g->max_reject_rate = 0.0;
    g->valid_frac = 0.1;
    g->test_frac = 0.2;
    g->replace = true;
    round_trip(&in, &out, &sb);
    const sr_proto_ingest *o = &out.u.ingest;
    assert_pstr(o->name, "A.b_c-9");
    assert_int_equal(o->n_paths, SR_PROTO_MAX_PATHS);
    for (int i = 0; i < SR_PROTO_MAX_PATHS; i++)
        assert_pstr(o->paths[i], paths[i]);
    assert_pstr(o->format, "events");
    assert_pstr(o->config, "[columns]\nuser = u\n");
    assert_pstr(o->split, "temporal");
    assert_pstr(o->skip_rule, "not_skipped");
    assert_int_equal(o->min_session_len, 4);
    assert_true(o->min_track_count == UINT32_MAX);
    assert_int_equal(o->only_with_skip, 0);
    assert_true(o->max_reject_rate == 0.0);
    assert_true(o->valid_frac == 0.1);
    assert_true(o->test_frac == 0.2);
    assert_true(o->replace);
    msgpack_sbuffer_destroy(&sb);

    /* minimal: unset optionals decode to the header's "unset" values */
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_INGEST;
    in.u.ingest.name = P("d");
    in.u.ingest.paths[0] = P("/data/x.csv");
    in.u.ingest.n_paths = 1;
    in.u.ingest.only_with_skip = -1;
    in.u.ingest.max_reject_rate = in.u.ingest.valid_frac = in.u.ingest.test_frac = -1.0;
    round_trip(&in, &out, &sb);
    o = &out.u.ingest;
    assert_int_equal(o->n_paths, 1);
    assert_pstr(o->paths[0], "/data/x.csv");
    assert_int_equal(o->format.len, 0);
    assert_int_equal(o->config.len, 0);
    assert_int_equal(o->split.len, 0);
    assert_int_equal(o->skip_rule.len, 0);
    assert_int_equal(o->min_session_len, 0);
    assert_int_equal(o->min_track_count, 0);
    assert_int_equal(o->only_with_skip, -1);
    assert_true(o->max_reject_rate < 0 && o->valid_frac < 0 && o->test_frac < 0);
    assert_false(o->replace);
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_round_trip_stats(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_STATS;
    in.id = 3;
    char name[SR_PROTO_MAX_NAME_LEN + 1];
    memset(name, 'n', SR_PROTO_MAX_NAME_LEN);
    name[SR_PROTO_MAX_NAME_LEN] = '\0';
    in.u.name = P(name);
    round_trip(&in, &out, &sb);
    assert_pstr(out.u.name, name);
    msgpack_sbuffer_destroy(&sb);
}

/* The table fixtures themselves must decode, or every "one field wrong"
 * test below would pass for the wrong reason. */
static void test_request_table_fixtures_are_valid(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    sr_proto_request r;
    char err[ERRCAP];
    build(&sb, SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), NULL, NULL);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_SYNTH);
    assert_int_equal(r.id, 77);
    assert_int_equal(r.u.synth.sessions, 5000);
    assert_int_equal(r.u.synth.tracks, 900);
    assert_true(r.u.synth.has_seed);
    assert_pstr(r.u.synth.skips, "random");
    msgpack_sbuffer_destroy(&sb);

    build(&sb, INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), NULL, NULL);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_INGEST);
    assert_int_equal(r.u.ingest.n_paths, 2);
    assert_pstr(r.u.ingest.paths[1], "logs/day2.csv.gz");
    assert_int_equal(r.u.ingest.only_with_skip, 0);
    assert_true(r.u.ingest.max_reject_rate == 0.05);
    assert_true(r.u.ingest.replace);
    msgpack_sbuffer_destroy(&sb);

    build(&sb, STATS_FIELDS, SR_COUNTOF_T(STATS_FIELDS), NULL, NULL);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_pstr(r.u.name, "ds-1");
    assert_int_equal(r.id, 0);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- request decoding: one test per malformed case ---------------------------------- */

static void test_request_empty_frame(void **state)
{
    (void)state;
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(NULL, 0, NULL, &r, err, ERRCAP), 400);
    assert_non_null(strstr(err, "empty frame"));
}

static void test_request_truncated_at_every_byte(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    build(&sb, INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), NULL, NULL);
    assert_true(sb.size > 100);
    for (size_t k = 0; k < sb.size; k++) {
        sr_proto_request r;
        char err[ERRCAP] = "";
        char *copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, sb.data, k);
        sr_proto_code c = sr_proto_request_decode(k ? copy : NULL, k, NULL, &r, err, ERRCAP);
        free(copy);
        if (c != SR_PROTO_CODE_BAD_REQUEST || strstr(err, "malformed MessagePack") == NULL)
            fail_msg("prefix of %zu/%zu bytes: code %d \"%s\"", k, sb.size, (int)c, err);
    }
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_top_level_not_a_map(void **state)
{
    (void)state;
    static const uint8_t arr[] = { 0x92, 0xa1, 'v', 0x01 };
    static const uint8_t str[] = { 0xa2, 'o', 'p' };
    static const uint8_t num[] = { 0x01 };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(arr, sizeof(arr), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "the request must be a map, got array");
    assert_int_equal(sr_proto_request_decode(str, sizeof(str), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "the request must be a map, got str");
    assert_int_equal(sr_proto_request_decode(num, sizeof(num), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "the request must be a map, got uint");
}

static void test_request_byte_c1(void **state)
{
    (void)state;
    /* {"v": 1, "op": <0xc1>} */
    static const uint8_t b[] = { 0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xc1 };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 400);
    assert_non_null(strstr(err, "invalid type byte 0xc1 at offset 7"));
}

static void test_request_str_length_beyond_frame(void **state)
{
    (void)state;
    /* {"v": 1, "op": str8 of 200 bytes, 6 present} */
    static const uint8_t b[] = { 0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xd9, 200, 's', 't', 'a',
                                 't', 'u', 's' };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 400);
    assert_non_null(strstr(err, "declares 200 bytes, only 6 left"));
}

static void test_request_array32_count_max_in_6_byte_frame(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x00 };
    sr_proto_request r;
    char err[ERRCAP];
    sr_mp_limits lim;
    sr_mp_limits_default(&lim);
    lim.max_items = UINT32_MAX;
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), &lim, &r, err, ERRCAP), 400);
    assert_non_null(strstr(err, "declares 4294967295 elements, only 1 bytes left"));
}

static void test_request_nesting_deeper_than_max_depth(void **state)
{
    (void)state;
    /* {"v":1,"op":"status","x":[[...[nil]...]]}: the map is depth 1, so 15
     * arrays reach the default limit of 16 and 16 arrays exceed it. */
    for (int arrays = 15; arrays <= 16; arrays++) {
        uint8_t b[64];
        size_t o = 0;
        static const uint8_t head[] = { 0x83, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa6, 's', 't',
                                        'a', 't', 'u', 's', 0xa1, 'x' };
        memcpy(b, head, sizeof(head));
        o = sizeof(head);
        for (int i = 0; i < arrays; i++)
            b[o++] = 0x91;
        b[o++] = 0xc0;
        sr_proto_request r;
        char err[ERRCAP] = "";
        sr_proto_code c = sr_proto_request_decode(b, o, NULL, &r, err, ERRCAP);
        if (arrays == 15) {
            assert_int_equal(c, SR_PROTO_CODE_OK);
        } else {
            assert_int_equal(c, 400);
            assert_non_null(strstr(err, "nests deeper than the limit of 16"));
        }
    }
}

static void test_request_trailing_garbage(void **state)
{
    (void)state;
    static const uint8_t b[] = { 0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa6, 's', 't', 'a', 't',
                                 'u', 's', 0x00 };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b) - 1, NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_STATUS);
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 400);
    assert_non_null(strstr(err, "trailing bytes"));
}

static void test_request_wrong_type_per_field(void **state)
{
    (void)state;
    static const struct {
        const tfield *fields;
        size_t n;
        tfield bad;
        const char *msg;
    } cases[] = {
        { SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), { "id", 's', 0, 0, "7" }, "field \"id\": expected uint, got str" },
        { SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), { "v", 's', 0, 0, "1" }, "field \"v\": expected uint, got str" },
        { SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), { "v", 'd', 0, 1.0, NULL }, "field \"v\": expected uint, got float" },
        { SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), { "op", 'u', 2, 0, NULL }, "field \"op\": expected str, got uint" },
        { SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), { "out", 'u', 1, 0, NULL }, "field \"out\": expected str, got uint" },
        { SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), { "sessions", 's', 0, 0, "10" }, "field \"sessions\": expected uint, got str" },
        { SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), { "sessions", 'd', 0, 10.0, NULL }, "field \"sessions\": expected uint, got float" },
        { SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), { "tracks", 'n', 0, 0, NULL }, "field \"tracks\": expected uint, got nil" },
        { SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), { "seed", 'b', 1, 0, NULL }, "field \"seed\": expected uint, got bool" },
        { SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), { "skips", 'u', 0, 0, NULL }, "field \"skips\": expected str, got uint" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "name", 'P', 0, 0, NULL }, "field \"name\": expected str, got array" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "paths", 's', 0, 0, "a.csv" }, "field \"paths\": expected array of str, got str" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "format", 'b', 0, 0, NULL }, "field \"format\": expected str, got bool" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "config", 'u', 5, 0, NULL }, "field \"config\": expected str, got uint" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "split", 'n', 0, 0, NULL }, "field \"split\": expected str, got nil" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "skip_rule", 'u', 2, 0, NULL }, "field \"skip_rule\": expected str, got uint" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "min_session_len", 's', 0, 0, "2" }, "field \"min_session_len\": expected uint, got str" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "min_track_count", 'd', 0, 2.0, NULL }, "field \"min_track_count\": expected uint, got float" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "only_with_skip", 'u', 1, 0, NULL }, "field \"only_with_skip\": expected bool, got uint" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "max_reject_rate", 's', 0, 0, "0.1" }, "field \"max_reject_rate\": expected float, got str" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "valid_frac", 'b', 1, 0, NULL }, "field \"valid_frac\": expected float, got bool" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "test_frac", 'n', 0, 0, NULL }, "field \"test_frac\": expected float, got nil" },
        { INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), { "replace", 's', 0, 0, "yes" }, "field \"replace\": expected bool, got str" },
        { STATS_FIELDS, SR_COUNTOF_T(STATS_FIELDS), { "name", 'u', 4, 0, NULL }, "field \"name\": expected str, got uint" },
    };
    for (size_t i = 0; i < SR_COUNTOF_T(cases); i++)
        expect_code(cases[i].fields, cases[i].n, cases[i].bad.key, &cases[i].bad,
                    SR_PROTO_CODE_BAD_REQUEST, cases[i].msg);
}

static void test_request_path_element_wrong_type(void **state)
{
    (void)state;
    /* {"v":1,"op":"ingest","name":"d","paths":["a", 7]} */
    static const uint8_t b[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa6, 'i', 'n', 'g', 'e',
                                 's', 't', 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'd', 0xa5, 'p', 'a',
                                 't', 'h', 's', 0x92, 0xa1, 'a', 0x07 };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "field \"paths\"[1]: expected str, got uint");
}

static void test_request_missing_required_fields(void **state)
{
    (void)state;
    EXPECT(SYNTH_FIELDS, "out", NULL, 400, "missing required field \"out\"");
    EXPECT(SYNTH_FIELDS, "sessions", NULL, 400, "missing required field \"sessions\"");
    EXPECT(INGEST_FIELDS, "name", NULL, 400, "missing required field \"name\"");
    EXPECT(INGEST_FIELDS, "paths", NULL, 400, "missing required field \"paths\"");
    EXPECT(INGEST_FIELDS, "config", NULL, 400, "missing required field \"config\""); /* events */
    EXPECT(STATS_FIELDS, "name", NULL, 400, "missing required field \"name\"");
    /* optional ones may go */
    EXPECT(SYNTH_FIELDS, "tracks", NULL, 0, NULL);
    EXPECT(SYNTH_FIELDS, "seed", NULL, 0, NULL);
    EXPECT(INGEST_FIELDS, "replace", NULL, 0, NULL);
    EXPECT(INGEST_FIELDS, "split", NULL, 0, NULL);
}

static void test_request_missing_op(void **state)
{
    (void)state;
    EXPECT(SYNTH_FIELDS, "op", NULL, 400, "missing required field \"op\"");
}

static void test_request_unknown_op(void **state)
{
    (void)state;
    tfield op = { "op", 's', 0, 0, "xyz" };
    EXPECT(STATS_FIELDS, "op", &op, 501, "unknown op \"xyz\"");
    tfield empty = { "op", 's', 0, 0, "" };
    EXPECT(STATS_FIELDS, "op", &empty, 501, "unknown op \"\"");
    tfield ctl = { "op", 's', 0, 0, "st\x1b[2Jatus" }; /* control bytes are escaped */
    EXPECT(STATS_FIELDS, "op", &ctl, 501, "unknown op \"st\\x1b[2Jatus\"");
    tfield caps = { "op", 's', 0, 0, "STATUS" }; /* op names are case-sensitive */
    EXPECT(STATS_FIELDS, "op", &caps, 501, "unknown op \"STATUS\"");
}

static void test_request_version_2(void **state)
{
    (void)state;
    tfield v2 = { "v", 'u', 2, 0, NULL };
    EXPECT(SYNTH_FIELDS, "v", &v2, 505, "unsupported protocol version 2");
    tfield v0 = { "v", 'u', 0, 0, NULL };
    EXPECT(SYNTH_FIELDS, "v", &v0, 505, "unsupported protocol version 0");
    tfield vneg = { "v", 'i', (uint64_t)-1, 0, NULL };
    EXPECT(SYNTH_FIELDS, "v", &vneg, 505, "unsupported protocol version -1");
}

static void test_request_missing_version(void **state)
{
    (void)state;
    EXPECT(SYNTH_FIELDS, "v", NULL, 400, "missing required field \"v\"");
}

static void test_request_duplicate_key(void **state)
{
    (void)state;
    /* {"v":1,"op":"status","op":"shutdown"} */
    static const uint8_t b[] = { 0x83, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa6, 's', 't', 'a', 't',
                                 'u', 's', 0xa2, 'o', 'p', 0xa8, 's', 'h', 'u', 't', 'd', 'o',
                                 'w', 'n' };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "duplicate key \"op\"");
}

/* Above 32 keys the duplicate check sorts instead of comparing all pairs. */
static void test_request_duplicate_key_in_large_map(void **state)
{
    (void)state;
    for (int dup = 0; dup < 2; dup++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        char key[16];
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2 + 40 + dup);
        pk_str(&pk, "v");
        msgpack_pack_uint8(&pk, 1);
        for (int i = 0; i < 40; i++) {
            snprintf(key, sizeof(key), "k%d", i);
            pk_str(&pk, key);
            msgpack_pack_int(&pk, i);
        }
        if (dup) {
            pk_str(&pk, "k17");
            msgpack_pack_nil(&pk);
        }
        pk_str(&pk, "op");
        pk_str(&pk, "datasets");
        sr_proto_request r;
        char err[ERRCAP] = "";
        sr_proto_code c = sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP);
        if (dup) {
            assert_int_equal(c, 400);
            assert_string_equal(err, "duplicate key \"k17\"");
        } else {
            assert_int_equal(c, 0); /* 40 unknown keys are ignored */
            assert_int_equal(r.op, SR_PROTO_OP_DATASETS);
        }
        msgpack_sbuffer_destroy(&sb);
    }
}

static void test_request_non_string_key(void **state)
{
    (void)state;
    /* {"v":1,"op":"status",5:nil} */
    static const uint8_t b[] = { 0x83, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa6, 's', 't', 'a', 't',
                                 'u', 's', 0x05, 0xc0 };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "key #3 of the request map is a uint, expected str");
}

static void test_request_nul_in_string(void **state)
{
    (void)state;
    static const uint8_t head[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p' };
    /* {"v":1,"op":"synth","out":"a\0b","sessions":1} */
    static const uint8_t body[] = { 0xa5, 's', 'y', 'n', 't', 'h', 0xa3, 'o', 'u', 't', 0xa3,
                                    'a', 0x00, 'b', 0xa8, 's', 'e', 's', 's', 'i', 'o', 'n',
                                    's', 0x01 };
    uint8_t b[64];
    size_t o = sizeof(head);
    memcpy(b, head, o);
    memcpy(b + o, body, sizeof(body));
    o += sizeof(body);
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, o, NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "field \"out\": embedded NUL byte at position 1");

    /* "op":"status\0" is not "status" with junk ignored */
    static const uint8_t op[] = { 0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa7, 's', 't', 'a', 't',
                                  'u', 's', 0x00 };
    assert_int_equal(sr_proto_request_decode(op, sizeof(op), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "field \"op\": embedded NUL byte at position 6");

    /* a NUL inside one of the paths */
    static const uint8_t p[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa6, 'i', 'n', 'g', 'e',
                                 's', 't', 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'd', 0xa5, 'p', 'a',
                                 't', 'h', 's', 0x91, 0xa2, 0x00, 'x' };
    assert_int_equal(sr_proto_request_decode(p, sizeof(p), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "field \"paths\"[0]: embedded NUL byte at position 0");
}

static void test_request_too_many_paths(void **state)
{
    (void)state;
    for (uint32_t n = SR_PROTO_MAX_PATHS; n <= SR_PROTO_MAX_PATHS + 1; n++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4);
        pk_str(&pk, "v");
        msgpack_pack_uint8(&pk, 1);
        pk_str(&pk, "op");
        pk_str(&pk, "ingest");
        pk_str(&pk, "name");
        pk_str(&pk, "d");
        pk_str(&pk, "paths");
        msgpack_pack_array(&pk, n);
        for (uint32_t i = 0; i < n; i++)
            pk_str(&pk, "f.csv");
        sr_proto_request r;
        char err[ERRCAP] = "";
        sr_proto_code c = sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP);
        if (n == SR_PROTO_MAX_PATHS) {
            assert_int_equal(c, 0);
            assert_int_equal(r.u.ingest.n_paths, SR_PROTO_MAX_PATHS);
        } else {
            assert_int_equal(c, 413);
            assert_string_equal(err, "field \"paths\": 65 paths exceeds the limit of 64");
        }
        msgpack_sbuffer_destroy(&sb);
    }
}

static void test_request_empty_paths(void **state)
{
    (void)state;
    /* {"v":1,"op":"ingest","name":"d","paths":[]} */
    static const uint8_t b[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa6, 'i', 'n', 'g', 'e',
                                 's', 't', 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'd', 0xa5, 'p', 'a',
                                 't', 'h', 's', 0x90 };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 422);
    assert_string_equal(err, "field \"paths\": must hold at least one path");
}

static void test_request_path_too_long(void **state)
{
    (void)state;
    char *longp = malloc(SR_PROTO_MAX_PATH_LEN + 2);
    assert_non_null(longp);
    memset(longp, 'p', SR_PROTO_MAX_PATH_LEN + 1);
    longp[SR_PROTO_MAX_PATH_LEN + 1] = '\0';
    tfield out = { "out", 's', 0, 0, longp };
    EXPECT(SYNTH_FIELDS, "out", &out, 413, "field \"out\": 4096 bytes exceeds the limit of 4095");
    longp[SR_PROTO_MAX_PATH_LEN] = '\0';
    EXPECT(SYNTH_FIELDS, "out", &out, 0, NULL);
    tfield empty = { "out", 's', 0, 0, "" };
    EXPECT(SYNTH_FIELDS, "out", &empty, 422, "field \"out\": must not be empty");
    free(longp);
}

static void test_request_huge_config(void **state)
{
    (void)state;
    char *cfg = malloc(SR_PROTO_MAX_CONFIG + 2);
    assert_non_null(cfg);
    memset(cfg, '#', SR_PROTO_MAX_CONFIG + 1);
    cfg[SR_PROTO_MAX_CONFIG + 1] = '\0';
    tfield c = { "config", 's', 0, 0, cfg };
    EXPECT(INGEST_FIELDS, "config", &c, 413, "field \"config\": 65537 bytes exceeds the limit of 65536");
    cfg[SR_PROTO_MAX_CONFIG] = '\0';
    EXPECT(INGEST_FIELDS, "config", &c, 0, NULL);
    free(cfg);
}

static void test_request_config_without_events_format(void **state)
{
    (void)state;
    tfield mssd = { "format", 's', 0, 0, "mssd" };
    EXPECT(INGEST_FIELDS, "format", &mssd, 422, "field \"config\": only valid with format \"events\"");
    EXPECT(INGEST_FIELDS, "format", NULL, 422, "only valid with format"); /* default is mssd */
}

static void test_request_sessions_out_of_range(void **state)
{
    (void)state;
    tfield zero = { "sessions", 'u', 0, 0, NULL };
    EXPECT(SYNTH_FIELDS, "sessions", &zero, 422, "field \"sessions\": must be in [1, 1000000000], got 0");
    tfield big = { "sessions", 'u', SR_PROTO_MAX_SESSIONS + 1, 0, NULL };
    EXPECT(SYNTH_FIELDS, "sessions", &big, 422, "got 1000000001");
    tfield neg = { "sessions", 'i', (uint64_t)-5, 0, NULL };
    EXPECT(SYNTH_FIELDS, "sessions", &neg, 422, "got -5");
    tfield max = { "sessions", 'u', SR_PROTO_MAX_SESSIONS, 0, NULL };
    EXPECT(SYNTH_FIELDS, "sessions", &max, 0, NULL);
    tfield tracks = { "tracks", 'u', SR_PROTO_MAX_TRACKS + 1, 0, NULL };
    EXPECT(SYNTH_FIELDS, "tracks", &tracks, 422, "field \"tracks\": must be in [1, 100000000]");
    tfield msl = { "min_session_len", 'u', 0, 0, NULL };
    EXPECT(INGEST_FIELDS, "min_session_len", &msl, 422, "field \"min_session_len\": must be in [1, 4294967295], got 0");
    tfield mtc = { "min_track_count", 'u', (uint64_t)UINT32_MAX + 1, 0, NULL };
    EXPECT(INGEST_FIELDS, "min_track_count", &mtc, 422, "got 4294967296");
}

static void test_request_bad_enum_values(void **state)
{
    (void)state;
    tfield skips = { "skips", 's', 0, 0, "sometimes" };
    EXPECT(SYNTH_FIELDS, "skips", &skips, 422,
           "field \"skips\": expected one of \"informative\", \"random\", got \"sometimes\"");
    tfield fmt = { "format", 's', 0, 0, "csv" };
    EXPECT(INGEST_FIELDS, "format", &fmt, 422, "field \"format\": expected one of \"mssd\", \"events\"");
    tfield split = { "split", 's', 0, 0, "random" };
    EXPECT(INGEST_FIELDS, "split", &split, 422, "field \"split\": expected one of \"leave-last\", \"temporal\"");
    tfield rule = { "skip_rule", 's', 0, 0, "skip_4" };
    EXPECT(INGEST_FIELDS, "skip_rule", &rule, 422, "got \"skip_4\"");
    tfield empty = { "skip_rule", 's', 0, 0, "" };
    EXPECT(INGEST_FIELDS, "skip_rule", &empty, 422, "field \"skip_rule\": must not be empty");
    /* a long value is just another wrong name, echoed cut to 48 bytes */
    char longv[101];
    memset(longv, 'z', 100);
    longv[100] = '\0';
    tfield lng = { "split", 's', 0, 0, longv };
    EXPECT(INGEST_FIELDS, "split", &lng, 422,
           "got \"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz...\"");
}

static void test_request_bad_name(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", ".", "..", ".hidden", "a/b", "a b", "caf\xc3\xa9",
        "x234567890123456789012345678901234567890123456789012345678901234", /* 64 */
    };
    for (size_t i = 0; i < SR_COUNTOF_T(bad); i++) {
        tfield n = { "name", 's', 0, 0, bad[i] };
        EXPECT(STATS_FIELDS, "name", &n, 422, "field \"name\"");
    }
    tfield slash = { "name", 's', 0, 0, "../etc" };
    EXPECT(INGEST_FIELDS, "name", &slash, 422,
           "field \"name\": \"../etc\" is not a valid name (1-63 of [A-Za-z0-9._-], not starting with '.')");
    tfield ok = { "name", 's', 0, 0, "a..b" };
    EXPECT(STATS_FIELDS, "name", &ok, 0, NULL);
}

static void test_request_fraction_out_of_range(void **state)
{
    (void)state;
    tfield nan_ = { "max_reject_rate", 'd', 0, NAN, NULL };
    EXPECT(INGEST_FIELDS, "max_reject_rate", &nan_, 422,
           "field \"max_reject_rate\": must be a finite number in [0, 1], got nan");
    tfield inf = { "valid_frac", 'd', 0, INFINITY, NULL };
    EXPECT(INGEST_FIELDS, "valid_frac", &inf, 422, "got inf");
    tfield big = { "test_frac", 'd', 0, 1.5, NULL };
    EXPECT(INGEST_FIELDS, "test_frac", &big, 422, "got 1.5");
    tfield neg = { "max_reject_rate", 'd', 0, -0.25, NULL };
    EXPECT(INGEST_FIELDS, "max_reject_rate", &neg, 422, "got -0.25");
    tfield negi = { "max_reject_rate", 'i', (uint64_t)-1, 0, NULL };
    EXPECT(INGEST_FIELDS, "max_reject_rate", &negi, 422, "got -1");
    tfield two = { "max_reject_rate", 'u', 2, 0, NULL };
    EXPECT(INGEST_FIELDS, "max_reject_rate", &two, 422, "got 2");
}

static void test_request_fraction_sum_at_least_one(void **state)
{
    (void)state;
    tfield v = { "valid_frac", 'd', 0, 0.75, NULL }; /* + test_frac 0.25 = 1 */
    EXPECT(INGEST_FIELDS, "valid_frac", &v, 422, "\"valid_frac\" + \"test_frac\" must be < 1");
}

static void test_request_float_fields_accept_integers(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    sr_proto_request r;
    char err[ERRCAP];
    tfield one = { "max_reject_rate", 'u', 1, 0, NULL };
    build(&sb, INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), "max_reject_rate", &one);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_true(r.u.ingest.max_reject_rate == 1.0);
    msgpack_sbuffer_destroy(&sb);
    tfield zero = { "valid_frac", 'u', 0, 0, NULL };
    build(&sb, INGEST_FIELDS, SR_COUNTOF_T(INGEST_FIELDS), "valid_frac", &zero);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_true(r.u.ingest.valid_frac == 0.0);
    msgpack_sbuffer_destroy(&sb);
    /* float32 0.25 (0x3e800000) is exact */
    static const uint8_t b[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa6, 'i', 'n', 'g', 'e',
                                 's', 't', 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'd', 0xa5, 'p', 'a',
                                 't', 'h', 's', 0x91, 0xa1, 'x' };
    uint8_t b2[64];
    memcpy(b2, b, sizeof(b));
    b2[0] = 0x85;
    static const uint8_t tail[] = { 0xa9, 't', 'e', 's', 't', '_', 'f', 'r', 'a', 'c',
                                    0xca, 0x3e, 0x80, 0x00, 0x00 };
    memcpy(b2 + sizeof(b), tail, sizeof(tail));
    assert_int_equal(sr_proto_request_decode(b2, sizeof(b) + sizeof(tail), NULL, &r, err, ERRCAP), 0);
    assert_true(r.u.ingest.test_frac == 0.25);
}

static void test_request_int_format_nonnegative_accepted(void **state)
{
    (void)state;
    /* {"v": int8 1, "op":"synth","out":"o","sessions": int16 300} */
    static const uint8_t b[] = { 0x84, 0xa1, 'v', 0xd0, 0x01, 0xa2, 'o', 'p', 0xa5, 's', 'y', 'n',
                                 't', 'h', 0xa3, 'o', 'u', 't', 0xa1, 'o', 0xa8, 's', 'e', 's',
                                 's', 'i', 'o', 'n', 's', 0xd1, 0x01, 0x2c };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.u.synth.sessions, 300);
}

static void test_request_unknown_keys_ignored(void **state)
{
    (void)state;
    /* {"v":1,"op":"shutdown","future":{"a":[1,2]},"id":9} */
    static const uint8_t b[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa8, 's', 'h', 'u', 't',
                                 'd', 'o', 'w', 'n', 0xa6, 'f', 'u', 't', 'u', 'r', 'e', 0x81,
                                 0xa1, 'a', 0x92, 0x01, 0x02, 0xa2, 'i', 'd', 0x09 };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_SHUTDOWN);
    assert_int_equal(r.id, 9);
    /* another op's fields are unknown keys for this op */
    tfield extra = { "sessions", 's', 0, 0, "not checked for stats" };
    EXPECT(STATS_FIELDS, "nonexistent", &extra, 0, NULL);
}

static void test_request_id_echoed_on_error(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    sr_proto_request r;
    char err[ERRCAP];
    tfield op = { "op", 's', 0, 0, "retrain" };
    build(&sb, SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), "op", &op);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 501);
    assert_int_equal(r.id, 77);
    msgpack_sbuffer_destroy(&sb);
    tfield v = { "v", 'u', 9, 0, NULL };
    build(&sb, SYNTH_FIELDS, SR_COUNTOF_T(SYNTH_FIELDS), "v", &v);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 505);
    assert_int_equal(r.id, 77);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- encoders: exact bytes ------------------------------------------------------------ */

static void test_request_encode_exact_bytes(void **state)
{
    (void)state;
    sr_proto_request r;
    msgpack_sbuffer sb;
    memset(&r, 0, sizeof(r));
    r.op = SR_PROTO_OP_STATUS;
    r.id = 3;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(sr_proto_request_encode(&r, &sb), 0);
    /* {"v":1,"op":"status","id":3} */
    static const uint8_t want[] = { 0x83, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa6, 's', 't', 'a',
                                    't', 'u', 's', 0xa2, 'i', 'd', 0x03 };
    assert_int_equal(sb.size, sizeof(want));
    assert_memory_equal(sb.data, want, sizeof(want));
    msgpack_sbuffer_destroy(&sb);

    r.op = (sr_proto_op)99;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(sr_proto_request_encode(&r, &sb), -1);
    assert_int_equal(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
}

static void test_reply_error_exact_bytes(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sr_proto_reply_error(&pk, 5, SR_PROTO_CODE_NOT_FOUND, "no");
    /* {"v":1,"id":5,"ok":false,"error":{"code":404,"kind":"not_found","message":"no"}} */
    static const uint8_t want[] = {
        0x84, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'k', 0xc2,
        0xa5, 'e', 'r', 'r', 'o', 'r', 0x83,
        0xa4, 'c', 'o', 'd', 'e', 0xcd, 0x01, 0x94,
        0xa4, 'k', 'i', 'n', 'd', 0xa9, 'n', 'o', 't', '_', 'f', 'o', 'u', 'n', 'd',
        0xa7, 'm', 'e', 's', 's', 'a', 'g', 'e', 0xa2, 'n', 'o',
    };
    assert_int_equal(sb.size, sizeof(want));
    assert_memory_equal(sb.data, want, sizeof(want));
    msgpack_sbuffer_destroy(&sb);
}

/* ---- replies: round trips and malformed ------------------------------------------------- */

static void test_reply_ok_round_trip(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sr_proto_reply_ok_begin(&pk, 42, 4);
    sr_proto_pack_kv_str(&pk, "state", "ready");
    sr_proto_pack_kv_u64(&pk, "sessions", 10000);
    sr_proto_pack_kv_f64(&pk, "skip_rate", 0.49);
    sr_proto_pack_kv_str(&pk, "none", NULL);

    sr_mp_doc doc;
    bool ok = false;
    const sr_mp_node *result = NULL;
    sr_proto_code code = SR_PROTO_CODE_INTERNAL;
    sr_pstr msg = { "x", 1 };
    uint64_t id = 0;
    char err[ERRCAP];
    assert_true(sr_proto_reply_decode(sb.data, sb.size, &doc, &ok, &result, &code, &msg, &id, err,
                                      ERRCAP));
    assert_true(ok);
    assert_int_equal(id, 42);
    assert_int_equal(code, 0);
    assert_int_equal(msg.len, 0);
    assert_non_null(result);
    assert_int_equal(result->type, SR_MP_TYPE_MAP);
    assert_int_equal(result->n, 4);
    uint32_t ri = sr_mp_index(&doc, result);
    const sr_mp_node *n = sr_mp_map_get(&doc, ri, "state");
    assert_non_null(n);
    assert_int_equal(n->type, SR_MP_TYPE_STR);
    assert_memory_equal(n->v.s, "ready", 5);
    n = sr_mp_map_get(&doc, ri, "sessions");
    assert_non_null(n);
    assert_int_equal(n->v.u, 10000);
    n = sr_mp_map_get(&doc, ri, "skip_rate");
    assert_non_null(n);
    assert_true(n->type == SR_MP_TYPE_FLOAT && n->v.f == 0.49);
    n = sr_mp_map_get(&doc, ri, "none");
    assert_non_null(n);
    assert_int_equal(n->type, SR_MP_TYPE_NIL);
    sr_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&sb);
}

static void test_reply_error_round_trip(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sr_proto_reply_error(&pk, UINT64_MAX, SR_PROTO_CODE_BUSY, "queue full, retry later");

    sr_mp_doc doc;
    bool ok = true;
    const sr_mp_node *result = (const sr_mp_node *)&doc;
    sr_proto_code code = SR_PROTO_CODE_OK;
    sr_pstr msg = { NULL, 0 };
    uint64_t id = 0;
    char err[ERRCAP];
    assert_true(sr_proto_reply_decode(sb.data, sb.size, &doc, &ok, &result, &code, &msg, &id, err,
                                      ERRCAP));
    assert_false(ok);
    assert_null(result);
    assert_int_equal(code, 429);
    assert_pstr(msg, "queue full, retry later");
    assert_true(id == UINT64_MAX);
    const sr_mp_node *e = sr_mp_map_get(&doc, 0, "error");
    assert_non_null(e);
    const sr_mp_node *kind = sr_mp_map_get(&doc, sr_mp_index(&doc, e), "kind");
    assert_non_null(kind);
    assert_memory_equal(kind->v.s, "busy", 4);
    sr_mp_doc_free(&doc);
    msgpack_sbuffer_destroy(&sb);
}

static void expect_reply_fail(const uint8_t *b, size_t len, const char *needle)
{
    sr_mp_doc doc;
    bool ok = true;
    char err[ERRCAP] = "";
    uint64_t id = 5;
    assert_false(sr_proto_reply_decode(b, len, &doc, &ok, NULL, NULL, NULL, &id, err, ERRCAP));
    assert_false(ok);
    assert_null(doc.nodes); /* nothing left to free on failure */
    assert_int_equal(id, 0);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_reply_decode_malformed(void **state)
{
    (void)state;
    static const uint8_t trunc[] = { 0x84, 0xa1, 'v' };
    static const uint8_t arr[] = { 0x90 };
    static const uint8_t v2[] = { 0x83, 0xa1, 'v', 0x02, 0xa2, 'o', 'k', 0xc3, 0xa6, 'r', 'e',
                                  's', 'u', 'l', 't', 0x80 };
    static const uint8_t no_ok[] = { 0x82, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x01 };
    static const uint8_t no_result[] = { 0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'k', 0xc3 };
    static const uint8_t bad_id[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0xff, 0xa2, 'o', 'k',
                                      0xc3, 0xa6, 'r', 'e', 's', 'u', 'l', 't', 0x80 };
    /* {"v":1,"ok":false,"error":{"code":99,"message":"m"}} */
    static const uint8_t bad_code[] = { 0x83, 0xa1, 'v', 0x01, 0xa2, 'o', 'k', 0xc2, 0xa5, 'e',
                                        'r', 'r', 'o', 'r', 0x82, 0xa4, 'c', 'o', 'd', 'e', 0x63,
                                        0xa7, 'm', 'e', 's', 's', 'a', 'g', 'e', 0xa1, 'm' };
    /* {"v":1,"ok":false,"error":{"code":500}} */
    static const uint8_t no_msg[] = { 0x83, 0xa1, 'v', 0x01, 0xa2, 'o', 'k', 0xc2, 0xa5, 'e', 'r',
                                      'r', 'o', 'r', 0x81, 0xa4, 'c', 'o', 'd', 'e', 0xcd, 0x01,
                                      0xf4 };
    expect_reply_fail(trunc, sizeof(trunc), "malformed reply");
    expect_reply_fail(arr, sizeof(arr), "reply is a array, expected map");
    expect_reply_fail(v2, sizeof(v2), "unsupported protocol version");
    expect_reply_fail(no_ok, sizeof(no_ok), "no bool \"ok\"");
    expect_reply_fail(no_result, sizeof(no_result), "no \"result\" map");
    expect_reply_fail(bad_id, sizeof(bad_id), "\"id\" is a int");
    expect_reply_fail(bad_code, sizeof(bad_code), "no \"code\" in [100, 999]");
    expect_reply_fail(no_msg, sizeof(no_msg), "no str \"message\"");
}

/* ---- train, jobs, cancel, evaluate, recommend, models ------------------------------------ */

/* Read a string list through the public iterator into want[] order. */
static void assert_strs(const sr_proto_strs *v, const char *const *want, uint32_t n)
{
    sr_proto_strs_iter it;
    sr_pstr s;
    uint32_t i = 0;
    assert_int_equal(v->n, n);
    sr_proto_strs_begin(v, &it);
    while (sr_proto_strs_next(&it, &s)) {
        assert_true(i < n);
        assert_pstr(s, want[i]);
        i++;
    }
    assert_int_equal(i, n);
}

static void test_request_round_trip_train(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_TRAIN;
    in.id = 99;
    sr_proto_train *t = &in.u.train;
    t->dataset = P("mssd-mini");
    t->model = P("bert4rec");
    t->preset = P("paper");
    char sets[SR_PROTO_MAX_SET][24];
    for (uint32_t i = 0; i < SR_PROTO_MAX_SET; i++) {
        snprintf(sets[i], sizeof(sets[i]), "key%u=%u", i, i * 3);
        t->set[i] = P(sets[i]);
    }
    t->n_set = SR_PROTO_MAX_SET;
    t->max_steps = SR_PROTO_MAX_COUNT;
    t->epochs = 1;
    t->seed = 0;
    t->has_seed = true;
    t->name = P("bert.v2");
    round_trip(&in, &out, &sb);
    const sr_proto_train *o = &out.u.train;
    assert_pstr(o->dataset, "mssd-mini");
    assert_pstr(o->model, "bert4rec");
    assert_pstr(o->preset, "paper");
    assert_int_equal(o->n_set, SR_PROTO_MAX_SET);
    for (uint32_t i = 0; i < SR_PROTO_MAX_SET; i++)
        assert_pstr(o->set[i], sets[i]);
    assert_true(o->max_steps == SR_PROTO_MAX_COUNT);
    assert_int_equal(o->epochs, 1);
    assert_true(o->has_seed);
    assert_int_equal(o->seed, 0);
    assert_pstr(o->name, "bert.v2");
    msgpack_sbuffer_destroy(&sb);

    /* only the required fields: every optional decodes as unset */
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_TRAIN;
    in.u.train.dataset = P("d");
    in.u.train.model = P("pop");
    round_trip(&in, &out, &sb);
    o = &out.u.train;
    assert_pstr(o->dataset, "d");
    assert_pstr(o->model, "pop");
    assert_int_equal(o->preset.len, 0);
    assert_int_equal(o->n_set, 0);
    assert_int_equal(o->max_steps, 0);
    assert_int_equal(o->epochs, 0);
    assert_false(o->has_seed);
    assert_int_equal(o->name.len, 0);
    /* {"v":1,"op":"train","dataset":"d","model":"pop"}: nothing else written */
    static const uint8_t want[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa5, 't', 'r', 'a',
                                    'i', 'n', 0xa7, 'd', 'a', 't', 'a', 's', 'e', 't', 0xa1, 'd',
                                    0xa5, 'm', 'o', 'd', 'e', 'l', 0xa3, 'p', 'o', 'p' };
    assert_int_equal(sb.size, sizeof(want));
    assert_memory_equal(sb.data, want, sizeof(want));
    msgpack_sbuffer_destroy(&sb);
}

/* max_steps and epochs: the contract says 0 means unset, so an explicit 0
 * on the wire is accepted and reads as absent. */
static void test_request_train_zero_counts_mean_unset(void **state)
{
    (void)state;
    tfield zs = { "max_steps", 'u', 0, 0, NULL };
    EXPECT(TRAIN_FIELDS, "max_steps", &zs, 0, NULL);
    tfield ze = { "epochs", 'u', 0, 0, NULL };
    EXPECT(TRAIN_FIELDS, "epochs", &ze, 0, NULL);
    tfield big = { "max_steps", 'u', SR_PROTO_MAX_COUNT + 1, 0, NULL };
    EXPECT(TRAIN_FIELDS, "max_steps", &big, 422,
           "field \"max_steps\": must be in [0, 4294967295], got 4294967296");
    tfield neg = { "epochs", 'i', (uint64_t)-2, 0, NULL };
    EXPECT(TRAIN_FIELDS, "epochs", &neg, 422, "field \"epochs\": must be in [0, 4294967295], got -2");
}

static void test_request_round_trip_jobs_cancel_models(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;

    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_JOBS;
    in.u.jobs.job = UINT64_MAX;
    round_trip(&in, &out, &sb);
    assert_true(out.u.jobs.job == UINT64_MAX);
    msgpack_sbuffer_destroy(&sb);
    in.u.jobs.job = 0; /* all jobs: no "job" member */
    round_trip(&in, &out, &sb);
    assert_int_equal(out.u.jobs.job, 0);
    /* {"v":1,"op":"jobs"} */
    static const uint8_t jobs_all[] = { 0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa4, 'j', 'o',
                                        'b', 's' };
    assert_int_equal(sb.size, sizeof(jobs_all));
    assert_memory_equal(sb.data, jobs_all, sizeof(jobs_all));
    msgpack_sbuffer_destroy(&sb);

    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_CANCEL;
    in.id = 5;
    in.u.cancel.job = 1;
    round_trip(&in, &out, &sb);
    assert_int_equal(out.u.cancel.job, 1);
    msgpack_sbuffer_destroy(&sb);

    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_MODELS;
    in.u.models.name = P("sasrec-mssd_1");
    round_trip(&in, &out, &sb);
    assert_pstr(out.u.models.name, "sasrec-mssd_1");
    msgpack_sbuffer_destroy(&sb);
    in.u.models.name = P("");
    round_trip(&in, &out, &sb);
    assert_int_equal(out.u.models.name.len, 0);
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_round_trip_evaluate(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_EVALUATE;
    in.id = 31;
    sr_proto_evaluate *e = &in.u.evaluate;
    e->model = P("sasrec-1");
    e->dataset = P("other.ds");
    e->split = P("validation");
    e->protocol = P("sampled");
    e->exclude = P("none");
    e->max_queries = SR_PROTO_MAX_COUNT;
    round_trip(&in, &out, &sb);
    const sr_proto_evaluate *o = &out.u.evaluate;
    assert_pstr(o->model, "sasrec-1");
    assert_pstr(o->dataset, "other.ds");
    assert_pstr(o->split, "validation");
    assert_pstr(o->protocol, "sampled");
    assert_pstr(o->exclude, "none");
    assert_true(o->max_queries == SR_PROTO_MAX_COUNT);
    msgpack_sbuffer_destroy(&sb);

    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_EVALUATE;
    in.u.evaluate.model = P("m");
    round_trip(&in, &out, &sb);
    o = &out.u.evaluate;
    assert_pstr(o->model, "m");
    assert_int_equal(o->dataset.len + o->split.len + o->protocol.len + o->exclude.len, 0);
    assert_int_equal(o->max_queries, 0);
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_round_trip_recommend(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    /* the largest session: 10000 plays of 256-byte ids, every 3rd skipped */
    uint32_t n = SR_PROTO_MAX_SESSION_PLAYS;
    char *ids = malloc((size_t)n * (SR_PROTO_MAX_TRACK_ID + 1));
    sr_pstr *tracks = malloc((size_t)n * sizeof(*tracks));
    bool *skipped = malloc(n * sizeof(*skipped));
    assert_true(ids && tracks && skipped);
    for (uint32_t i = 0; i < n; i++) {
        char *id = ids + (size_t)i * (SR_PROTO_MAX_TRACK_ID + 1);
        memset(id, 'a' + (char)(i % 26), SR_PROTO_MAX_TRACK_ID);
        int w = snprintf(id, 16, "t%u_", i);
        id[w] = '_'; /* snprintf's NUL replaced: the id stays 256 bytes */
        id[SR_PROTO_MAX_TRACK_ID] = '\0';
        tracks[i] = P(id);
        skipped[i] = i % 3 == 0;
    }
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_RECOMMEND;
    in.id = 7;
    sr_proto_recommend *r = &in.u.recommend;
    r->model = P("sasrec-1");
    r->n_sessions = 1;
    r->sessions[0].tracks.n = n;
    r->sessions[0].tracks.items = tracks;
    r->sessions[0].skipped.n = n;
    r->sessions[0].skipped.items = skipped;
    r->sessions[0].has_skipped = true;
    r->k = SR_PROTO_MAX_K;
    r->exclude = P("played");
    round_trip(&in, &out, &sb);
    const sr_proto_recommend *o = &out.u.recommend;
    assert_int_equal(o->n_sessions, 1);
    assert_false(o->batch);
    assert_pstr(o->model, "sasrec-1");
    /* decoded lists are views of the frame, not copies */
    assert_null(o->sessions[0].tracks.items);
    assert_non_null(o->sessions[0].tracks.raw);
    assert_true(o->sessions[0].tracks.raw > (const uint8_t *)sb.data &&
                o->sessions[0].tracks.raw + o->sessions[0].tracks.raw_len <=
                    (const uint8_t *)sb.data + sb.size);
    /* each 256-byte id is a str16 (3 header bytes: str8 holds at most 255) */
    assert_int_equal(o->sessions[0].tracks.raw_len, n * (3 + SR_PROTO_MAX_TRACK_ID));
    sr_proto_strs_iter it;
    sr_pstr s;
    uint32_t i = 0;
    sr_proto_strs_begin(&o->sessions[0].tracks, &it);
    while (sr_proto_strs_next(&it, &s)) {
        assert_true(i < n);
        assert_int_equal(s.len, SR_PROTO_MAX_TRACK_ID);
        assert_memory_equal(s.ptr, tracks[i].ptr, SR_PROTO_MAX_TRACK_ID);
        i++;
    }
    assert_int_equal(i, n);
    assert_true(o->sessions[0].has_skipped);
    assert_int_equal(o->sessions[0].skipped.n, n);
    assert_null(o->sessions[0].skipped.items);
    for (i = 0; i < n; i++)
        assert_int_equal(sr_proto_bools_at(&o->sessions[0].skipped, i), i % 3 == 0);
    assert_false(sr_proto_bools_at(&o->sessions[0].skipped, n)); /* out of range */
    assert_int_equal(o->k, SR_PROTO_MAX_K);
    assert_pstr(o->exclude, "played");

    /* re-encoding the decoded (raw) form gives the same bytes */
    msgpack_sbuffer sb2;
    msgpack_sbuffer_init(&sb2);
    assert_int_equal(sr_proto_request_encode(&out, &sb2), 0);
    assert_int_equal(sb2.size, sb.size);
    assert_memory_equal(sb2.data, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb2);
    msgpack_sbuffer_destroy(&sb);
    free(ids);
    free(tracks);
    free(skipped);

    /* only the required fields, with an empty session */
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_RECOMMEND;
    in.u.recommend.model = P("m");
    in.u.recommend.n_sessions = 1;
    round_trip(&in, &out, &sb);
    o = &out.u.recommend;
    assert_pstr(o->model, "m");
    assert_int_equal(o->sessions[0].tracks.n, 0);
    sr_proto_strs_begin(&o->sessions[0].tracks, &it);
    assert_false(sr_proto_strs_next(&it, &s));
    assert_false(o->sessions[0].has_skipped);
    assert_int_equal(o->sessions[0].skipped.n, 0);
    assert_int_equal(o->k, 0);
    assert_int_equal(o->exclude.len, 0);
    /* {"v":1,"op":"recommend","model":"m","tracks":[]} */
    static const uint8_t want[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa9, 'r', 'e', 'c',
                                    'o', 'm', 'm', 'e', 'n', 'd', 0xa5, 'm', 'o', 'd', 'e', 'l',
                                    0xa1, 'm', 0xa6, 't', 'r', 'a', 'c', 'k', 's', 0x90 };
    assert_int_equal(sb.size, sizeof(want));
    assert_memory_equal(sb.data, want, sizeof(want));
    msgpack_sbuffer_destroy(&sb);

    /* an empty session with an explicit empty "skipped" keeps it */
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_RECOMMEND;
    in.u.recommend.model = P("m");
    in.u.recommend.n_sessions = 1;
    in.u.recommend.sessions[0].has_skipped = true;
    round_trip(&in, &out, &sb);
    assert_true(out.u.recommend.sessions[0].has_skipped);
    assert_int_equal(out.u.recommend.sessions[0].skipped.n, 0);
    msgpack_sbuffer_destroy(&sb);
}

/* Track ids in each str format (msgpack-c only ever writes the shortest);
 * the raw reader must walk fixstr, str8, str16 and str32 headers. */
static void test_request_recommend_tracks_in_every_str_format(void **state)
{
    (void)state;
    /* {"v":1,"op":"recommend","model":"m","tracks":[fixstr "ab", str8 "cde",
     *  str16 "f", str32 "gh", fixstr ""x31], "skipped":[true,false,false,true,true]} */
    static const uint8_t b[] = {
        0x85, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa9, 'r', 'e', 'c', 'o', 'm', 'm', 'e', 'n', 'd',
        0xa5, 'm', 'o', 'd', 'e', 'l', 0xa1, 'm',
        0xa6, 't', 'r', 'a', 'c', 'k', 's', 0x95,
        0xa2, 'a', 'b',
        0xd9, 0x03, 'c', 'd', 'e',
        0xda, 0x00, 0x01, 'f',
        0xdb, 0x00, 0x00, 0x00, 0x02, 'g', 'h',
        0xbf, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '1', '2', '3', '4', '5', '6',
        '7', '8', '9', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'x',
        0xa7, 's', 'k', 'i', 'p', 'p', 'e', 'd', 0x95, 0xc3, 0xc2, 0xc2, 0xc3, 0xc3,
    };
    uint8_t *copy = malloc(sizeof(b)); /* exact size: over-reads are ASan errors */
    assert_non_null(copy);
    memcpy(copy, b, sizeof(b));
    sr_proto_request r;
    char err[ERRCAP] = "";
    sr_proto_code c = sr_proto_request_decode(copy, sizeof(b), NULL, &r, err, ERRCAP);
    if (c != SR_PROTO_CODE_OK)
        fail_msg("code %d: %s", (int)c, err);
    static const char *const want[] = { "ab", "cde", "f", "gh", "012345678901234567890123456789x" };
    assert_strs(&r.u.recommend.sessions[0].tracks, want, 5);
    /* the raw span: from the first element (after the array header at
     * offset 32) to the end of the 31-byte id */
    assert_true(r.u.recommend.sessions[0].tracks.raw == copy + 33);
    assert_int_equal(r.u.recommend.sessions[0].tracks.raw_len, 3 + 5 + 4 + 7 + 32);
    static const bool sk[] = { true, false, false, true, true };
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(sr_proto_bools_at(&r.u.recommend.sessions[0].skipped, i), sk[i]);
    assert_true(r.u.recommend.sessions[0].has_skipped);

    /* re-encoded with the shortest formats it is 7 bytes shorter (str8 "cde"
     * -> 1 byte less, str16 "f" -> 2, str32 "gh" -> 4) and decodes the same */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(sr_proto_request_encode(&r, &sb), 0);
    assert_int_equal(sb.size, sizeof(b) - 7);
    sr_proto_request r2;
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r2, err, ERRCAP), 0);
    assert_strs(&r2.u.recommend.sessions[0].tracks, want, 5);
    msgpack_sbuffer_destroy(&sb);
    free(copy);
}

static void test_strs_reader_items_form_and_garbage(void **state)
{
    (void)state;
    sr_pstr items[2] = { { "x", 1 }, { "yz", 2 } };
    sr_proto_strs v = { 2, items, NULL, 0 };
    static const char *const want[] = { "x", "yz" };
    assert_strs(&v, want, 2);
    /* raw bytes that are not strs, or that run past raw_len, end the walk */
    static const uint8_t notstr[] = { 0x01, 0xa1, 'a' };
    sr_proto_strs g = { 2, NULL, notstr, sizeof(notstr) };
    sr_proto_strs_iter it;
    sr_pstr s;
    sr_proto_strs_begin(&g, &it);
    assert_false(sr_proto_strs_next(&it, &s));
    static const uint8_t cut[] = { 0xa1, 'a', 0xd9, 0x05, 'b' };
    sr_proto_strs g2 = { 2, NULL, cut, sizeof(cut) };
    sr_proto_strs_begin(&g2, &it);
    assert_true(sr_proto_strs_next(&it, &s));
    assert_pstr(s, "a");
    assert_false(sr_proto_strs_next(&it, &s));
    static const uint8_t cut_hdr[] = { 0xdb, 0x00 };
    sr_proto_strs g3 = { 1, NULL, cut_hdr, sizeof(cut_hdr) };
    sr_proto_strs_begin(&g3, &it);
    assert_false(sr_proto_strs_next(&it, &s));
    bool bits[2] = { true, false };
    sr_proto_bools bv = { 2, bits, NULL };
    assert_true(sr_proto_bools_at(&bv, 0));
    assert_false(sr_proto_bools_at(&bv, 1));
    assert_false(sr_proto_bools_at(&bv, 2));
}

static void test_request_encode_refuses_bad_lists(void **state)
{
    (void)state;
    sr_proto_request r;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);

    memset(&r, 0, sizeof(r));
    r.op = SR_PROTO_OP_TRAIN;
    r.u.train.dataset = P("d");
    r.u.train.model = P("sr");
    r.u.train.n_set = SR_PROTO_MAX_SET + 1;
    assert_int_equal(sr_proto_request_encode(&r, &sb), -1);

    sr_pstr t[2] = { { "a", 1 }, { "b", 1 } };
    bool sk[1] = { true };
    memset(&r, 0, sizeof(r));
    r.op = SR_PROTO_OP_RECOMMEND;
    r.u.recommend.model = P("m");
    r.u.recommend.n_sessions = 1;
    r.u.recommend.sessions[0].tracks.n = 2; /* neither items nor raw */
    assert_int_equal(sr_proto_request_encode(&r, &sb), -1);
    r.u.recommend.sessions[0].tracks.items = t;
    r.u.recommend.sessions[0].skipped.n = 1; /* one label for two tracks */
    r.u.recommend.sessions[0].skipped.items = sk;
    r.u.recommend.sessions[0].has_skipped = true;
    assert_int_equal(sr_proto_request_encode(&r, &sb), -1);
    r.u.recommend.sessions[0].has_skipped = false; /* ignored when not flagged */
    static const uint8_t junk[] = { 0xa1, 'a', 0x07 };
    r.u.recommend.sessions[0].tracks.items = NULL;
    r.u.recommend.sessions[0].tracks.raw = junk; /* the second element is not a str */
    r.u.recommend.sessions[0].tracks.raw_len = sizeof(junk);
    assert_int_equal(sr_proto_request_encode(&r, &sb), -1);
    assert_int_equal(sb.size, 0); /* nothing written by any refusal */
    r.u.recommend.sessions[0].tracks.n = 1;
    assert_int_equal(sr_proto_request_encode(&r, &sb), 0);
    assert_true(sb.size > 0);
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_new_ops_table_fixtures_are_valid(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    sr_proto_request r;
    char err[ERRCAP];
    build(&sb, TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), NULL, NULL);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_TRAIN);
    assert_int_equal(r.id, 80);
    assert_int_equal(r.u.train.n_set, 2);
    assert_pstr(r.u.train.set[1], "dim = 64");
    assert_int_equal(r.u.train.max_steps, 5000);
    assert_int_equal(r.u.train.seed, 7);
    assert_pstr(r.u.train.name, "sasrec-1");
    msgpack_sbuffer_destroy(&sb);

    build(&sb, JOBS_FIELDS, SR_COUNTOF_T(JOBS_FIELDS), NULL, NULL);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_JOBS);
    assert_int_equal(r.u.jobs.job, 4);
    msgpack_sbuffer_destroy(&sb);

    build(&sb, CANCEL_FIELDS, SR_COUNTOF_T(CANCEL_FIELDS), NULL, NULL);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_CANCEL);
    assert_int_equal(r.u.cancel.job, 5);
    msgpack_sbuffer_destroy(&sb);

    build(&sb, EVALUATE_FIELDS, SR_COUNTOF_T(EVALUATE_FIELDS), NULL, NULL);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_EVALUATE);
    assert_pstr(r.u.evaluate.protocol, "sampled");
    assert_int_equal(r.u.evaluate.max_queries, 2000);
    msgpack_sbuffer_destroy(&sb);

    build(&sb, RECOMMEND_FIELDS, SR_COUNTOF_T(RECOMMEND_FIELDS), NULL, NULL);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_RECOMMEND);
    static const char *const want[] = { "t_a", "t_b", "t_c" };
    assert_int_equal(r.u.recommend.n_sessions, 1);
    assert_false(r.u.recommend.batch);
    assert_strs(&r.u.recommend.sessions[0].tracks, want, 3);
    assert_true(r.u.recommend.sessions[0].has_skipped);
    assert_false(sr_proto_bools_at(&r.u.recommend.sessions[0].skipped, 0));
    assert_true(sr_proto_bools_at(&r.u.recommend.sessions[0].skipped, 1));
    assert_int_equal(r.u.recommend.k, 20);
    msgpack_sbuffer_destroy(&sb);

    build(&sb, MODELS_FIELDS, SR_COUNTOF_T(MODELS_FIELDS), NULL, NULL);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_MODELS);
    assert_int_equal(r.u.models.action, SR_PROTO_MODELS_LIST); /* no "action": list */
    assert_pstr(r.u.models.name, "m-1");
    assert_int_equal(r.u.models.as.len, 0);
    assert_false(r.u.models.replace);
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_new_ops_wrong_type_per_field(void **state)
{
    (void)state;
    static const struct {
        const tfield *fields;
        size_t n;
        tfield bad;
        const char *msg;
    } cases[] = {
        { TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), { "dataset", 'u', 1, 0, NULL }, "field \"dataset\": expected str, got uint" },
        { TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), { "model", 'T', 0, 0, NULL }, "field \"model\": expected str, got array" },
        { TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), { "preset", 'b', 1, 0, NULL }, "field \"preset\": expected str, got bool" },
        { TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), { "set", 's', 0, 0, "lr=1" }, "field \"set\": expected array of str, got str" },
        { TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), { "set", 'B', 0, 0, NULL }, "field \"set\"[0]: expected str, got bool" },
        { TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), { "max_steps", 'd', 0, 10.0, NULL }, "field \"max_steps\": expected uint, got float" },
        { TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), { "epochs", 's', 0, 0, "3" }, "field \"epochs\": expected uint, got str" },
        { TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), { "seed", 'n', 0, 0, NULL }, "field \"seed\": expected uint, got nil" },
        { TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), { "name", 'u', 3, 0, NULL }, "field \"name\": expected str, got uint" },
        { JOBS_FIELDS, SR_COUNTOF_T(JOBS_FIELDS), { "job", 's', 0, 0, "4" }, "field \"job\": expected uint, got str" },
        { CANCEL_FIELDS, SR_COUNTOF_T(CANCEL_FIELDS), { "job", 'd', 0, 5.0, NULL }, "field \"job\": expected uint, got float" },
        { EVALUATE_FIELDS, SR_COUNTOF_T(EVALUATE_FIELDS), { "model", 'n', 0, 0, NULL }, "field \"model\": expected str, got nil" },
        { EVALUATE_FIELDS, SR_COUNTOF_T(EVALUATE_FIELDS), { "dataset", 'b', 0, 0, NULL }, "field \"dataset\": expected str, got bool" },
        { EVALUATE_FIELDS, SR_COUNTOF_T(EVALUATE_FIELDS), { "split", 'u', 1, 0, NULL }, "field \"split\": expected str, got uint" },
        { EVALUATE_FIELDS, SR_COUNTOF_T(EVALUATE_FIELDS), { "protocol", 'P', 0, 0, NULL }, "field \"protocol\": expected str, got array" },
        { EVALUATE_FIELDS, SR_COUNTOF_T(EVALUATE_FIELDS), { "exclude", 'd', 0, 1.0, NULL }, "field \"exclude\": expected str, got float" },
        { EVALUATE_FIELDS, SR_COUNTOF_T(EVALUATE_FIELDS), { "max_queries", 's', 0, 0, "10" }, "field \"max_queries\": expected uint, got str" },
        { RECOMMEND_FIELDS, SR_COUNTOF_T(RECOMMEND_FIELDS), { "model", 'u', 0, 0, NULL }, "field \"model\": expected str, got uint" },
        { RECOMMEND_FIELDS, SR_COUNTOF_T(RECOMMEND_FIELDS), { "tracks", 's', 0, 0, "t_a" }, "field \"tracks\": expected array of str, got str" },
        { RECOMMEND_FIELDS, SR_COUNTOF_T(RECOMMEND_FIELDS), { "tracks", 'B', 0, 0, NULL }, "field \"tracks\"[0]: expected str, got bool" },
        { RECOMMEND_FIELDS, SR_COUNTOF_T(RECOMMEND_FIELDS), { "skipped", 'b', 1, 0, NULL }, "field \"skipped\": expected array of bool, got bool" },
        { RECOMMEND_FIELDS, SR_COUNTOF_T(RECOMMEND_FIELDS), { "skipped", 'T', 0, 0, NULL }, "field \"skipped\"[0]: expected bool, got str" },
        { RECOMMEND_FIELDS, SR_COUNTOF_T(RECOMMEND_FIELDS), { "k", 'd', 0, 10.0, NULL }, "field \"k\": expected uint, got float" },
        { RECOMMEND_FIELDS, SR_COUNTOF_T(RECOMMEND_FIELDS), { "exclude", 'u', 0, 0, NULL }, "field \"exclude\": expected str, got uint" },
        { MODELS_FIELDS, SR_COUNTOF_T(MODELS_FIELDS), { "name", 'b', 0, 0, NULL }, "field \"name\": expected str, got bool" },
    };
    for (size_t i = 0; i < SR_COUNTOF_T(cases); i++)
        expect_code(cases[i].fields, cases[i].n, cases[i].bad.key, &cases[i].bad,
                    SR_PROTO_CODE_BAD_REQUEST, cases[i].msg);
}

static void test_request_new_ops_missing_required_fields(void **state)
{
    (void)state;
    EXPECT(TRAIN_FIELDS, "dataset", NULL, 400, "missing required field \"dataset\"");
    EXPECT(TRAIN_FIELDS, "model", NULL, 400, "missing required field \"model\"");
    EXPECT(CANCEL_FIELDS, "job", NULL, 400, "missing required field \"job\"");
    EXPECT(EVALUATE_FIELDS, "model", NULL, 400, "missing required field \"model\"");
    EXPECT(RECOMMEND_FIELDS, "tracks", NULL, 400,
           "missing required field \"tracks\" (one session) or \"sessions\" (many)");
    /* every optional one may go */
    static const char *const train_opt[] = { "id", "preset", "set", "max_steps", "epochs", "seed", "name" };
    for (size_t i = 0; i < SR_COUNTOF_T(train_opt); i++)
        EXPECT(TRAIN_FIELDS, train_opt[i], NULL, 0, NULL);
    static const char *const eval_opt[] = { "dataset", "split", "protocol", "exclude", "max_queries" };
    for (size_t i = 0; i < SR_COUNTOF_T(eval_opt); i++)
        EXPECT(EVALUATE_FIELDS, eval_opt[i], NULL, 0, NULL);
    /* model too: without it the daemon uses its default model */
    static const char *const rec_opt[] = { "model", "skipped", "k", "exclude" };
    for (size_t i = 0; i < SR_COUNTOF_T(rec_opt); i++)
        EXPECT(RECOMMEND_FIELDS, rec_opt[i], NULL, 0, NULL);
    EXPECT(JOBS_FIELDS, "job", NULL, 0, NULL);
    EXPECT(MODELS_FIELDS, "name", NULL, 0, NULL);
}

/* One "set" list of n entries, each `len` bytes long ("k=vvv..."). */
static void build_train_set(msgpack_sbuffer *sb, uint32_t n, uint32_t len)
{
    msgpack_packer pk;
    char *e = malloc(len + 1);
    assert_non_null(e);
    memset(e, 'v', len);
    e[0] = 'k';
    e[1] = '=';
    e[len] = '\0';
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pk_str(&pk, "v");
    msgpack_pack_uint8(&pk, 1);
    pk_str(&pk, "op");
    pk_str(&pk, "train");
    pk_str(&pk, "dataset");
    pk_str(&pk, "d");
    pk_str(&pk, "model");
    pk_str(&pk, "sasrec");
    pk_str(&pk, "set");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        pk_str(&pk, e);
    free(e);
}

static void test_request_train_set_limits(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    sr_proto_request r;
    char err[ERRCAP] = "";
    build_train_set(&sb, SR_PROTO_MAX_SET, SR_PROTO_MAX_SET_LEN);
    assert_int_equal(decode_sb(&sb, &r, err), 0);
    assert_int_equal(r.u.train.n_set, SR_PROTO_MAX_SET);
    msgpack_sbuffer_destroy(&sb);

    build_train_set(&sb, SR_PROTO_MAX_SET + 1, 4);
    assert_int_equal(decode_sb(&sb, &r, err), 413);
    assert_string_equal(err, "field \"set\": 65 entries exceeds the limit of 64");
    msgpack_sbuffer_destroy(&sb);

    build_train_set(&sb, 2, SR_PROTO_MAX_SET_LEN + 1);
    assert_int_equal(decode_sb(&sb, &r, err), 413);
    assert_string_equal(err, "field \"set\"[0]: 257 bytes exceeds the limit of 256");
    msgpack_sbuffer_destroy(&sb);

    build_train_set(&sb, 0, 4); /* an empty list is no override */
    assert_int_equal(decode_sb(&sb, &r, err), 0);
    assert_int_equal(r.u.train.n_set, 0);
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_train_set_entry_not_key_value(void **state)
{
    (void)state;
    static const struct {
        const char *entry;
        sr_proto_code code;
        const char *msg;
    } cases[] = {
        { "lr", 422, "field \"set\"[0]: expected \"key=value\", got \"lr\"" },
        { "=0.1", 422, "field \"set\"[0]: expected \"key=value\", got \"=0.1\"" },
        { "", 422, "field \"set\"[0]: must not be empty" },
        { "lr=", 0, NULL },      /* an empty value is the daemon's to judge */
        { "a=b=c", 0, NULL },
    };
    for (size_t i = 0; i < SR_COUNTOF_T(cases); i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        sr_proto_request r;
        char err[ERRCAP] = "";
        build(&sb, TRAIN_FIELDS, SR_COUNTOF_T(TRAIN_FIELDS), "set", NULL);
        /* append "set": [entry] to the map (fixmap header + 1) */
        ((uint8_t *)sb.data)[0]++;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        pk_str(&pk, "set");
        msgpack_pack_array(&pk, 1);
        pk_str(&pk, cases[i].entry);
        sr_proto_code c = decode_sb(&sb, &r, err);
        msgpack_sbuffer_destroy(&sb);
        if (c != cases[i].code || (cases[i].msg && strcmp(err, cases[i].msg) != 0))
            fail_msg("\"%s\": code %d \"%s\"", cases[i].entry, (int)c, err);
    }
}

/* n tracks of `len` bytes each; skipped with n_skipped entries when >= 0. */
static void build_session(msgpack_sbuffer *sb, uint32_t n, uint32_t len, int64_t n_skipped)
{
    msgpack_packer pk;
    char *e = malloc(len + 1);
    assert_non_null(e);
    memset(e, 't', len);
    e[len] = '\0';
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4 + (n_skipped >= 0));
    pk_str(&pk, "v");
    msgpack_pack_uint8(&pk, 1);
    pk_str(&pk, "op");
    pk_str(&pk, "recommend");
    pk_str(&pk, "model");
    pk_str(&pk, "m");
    pk_str(&pk, "tracks");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        pk_str(&pk, e);
    if (n_skipped >= 0) {
        pk_str(&pk, "skipped");
        msgpack_pack_array(&pk, (uint32_t)n_skipped);
        for (int64_t i = 0; i < n_skipped; i++)
            msgpack_pack_true(&pk);
    }
    free(e);
}

static void test_request_recommend_session_limits(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    sr_proto_request r;
    char err[ERRCAP] = "";
    build_session(&sb, SR_PROTO_MAX_SESSION_PLAYS, 8, SR_PROTO_MAX_SESSION_PLAYS);
    assert_int_equal(decode_sb(&sb, &r, err), 0);
    assert_int_equal(r.u.recommend.sessions[0].tracks.n, SR_PROTO_MAX_SESSION_PLAYS);
    msgpack_sbuffer_destroy(&sb);

    build_session(&sb, SR_PROTO_MAX_SESSION_PLAYS + 1, 8, -1);
    assert_int_equal(decode_sb(&sb, &r, err), 413);
    assert_string_equal(err, "field \"tracks\": 10001 tracks exceeds the limit of 10000");
    msgpack_sbuffer_destroy(&sb);

    build_session(&sb, 3, SR_PROTO_MAX_TRACK_ID + 1, -1);
    assert_int_equal(decode_sb(&sb, &r, err), 413);
    assert_string_equal(err, "field \"tracks\"[0]: 257 bytes exceeds the limit of 256");
    msgpack_sbuffer_destroy(&sb);

    build_session(&sb, 3, SR_PROTO_MAX_TRACK_ID, 3);
    assert_int_equal(decode_sb(&sb, &r, err), 0);
    msgpack_sbuffer_destroy(&sb);

    build_session(&sb, 2, 0, -1); /* empty ids */
    assert_int_equal(decode_sb(&sb, &r, err), 422);
    assert_string_equal(err, "field \"tracks\"[0]: must not be empty");
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_recommend_skipped_length_mismatch(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    sr_proto_request r;
    char err[ERRCAP] = "";
    build_session(&sb, 3, 4, 2);
    assert_int_equal(decode_sb(&sb, &r, err), 422);
    assert_string_equal(err, "field \"skipped\": 2 entries, expected one per track (3)");
    msgpack_sbuffer_destroy(&sb);
    build_session(&sb, 3, 4, 4);
    assert_int_equal(decode_sb(&sb, &r, err), 422);
    assert_string_equal(err, "field \"skipped\": 4 entries, expected one per track (3)");
    msgpack_sbuffer_destroy(&sb);
    build_session(&sb, 0, 4, 1);
    assert_int_equal(decode_sb(&sb, &r, err), 422);
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_recommend_nul_in_track_id(void **state)
{
    (void)state;
    /* {"v":1,"op":"recommend","model":"m","tracks":["ok","a\0"]} */
    static const uint8_t b[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa9, 'r', 'e', 'c', 'o',
                                 'm', 'm', 'e', 'n', 'd', 0xa5, 'm', 'o', 'd', 'e', 'l', 0xa1,
                                 'm', 0xa6, 't', 'r', 'a', 'c', 'k', 's', 0x92, 0xa2, 'o', 'k',
                                 0xa2, 'a', 0x00 };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "field \"tracks\"[1]: embedded NUL byte at position 1");
}

/* ---- recommend: the batch form ("sessions") and the optional model --------------------- */

/* Read session s of a decoded request back through the public readers and
 * compare it with want[n] ids (a trailing '!' in want marks a skipped play;
 * has_skipped says whether "skipped" was sent). */
static void assert_session(const sr_proto_session *s, const char *const *want, uint32_t n,
                           bool has_skipped)
{
    sr_proto_strs_iter it;
    sr_pstr id;
    uint32_t i = 0;
    assert_int_equal(s->tracks.n, n);
    assert_null(s->tracks.items); /* decoded: a raw view of the frame */
    assert_int_equal(s->has_skipped, has_skipped);
    assert_int_equal(s->skipped.n, has_skipped ? n : 0);
    sr_proto_strs_begin(&s->tracks, &it);
    while (sr_proto_strs_next(&it, &id)) {
        assert_true(i < n);
        size_t wl = strlen(want[i]);
        bool skip = wl > 0 && want[i][wl - 1] == '!';
        if (id.len != wl - skip || memcmp(id.ptr, want[i], id.len) != 0)
            fail_msg("play %u: got \"%.*s\", want \"%s\"", i, (int)id.len, id.ptr, want[i]);
        assert_int_equal(sr_proto_bools_at(&s->skipped, i), skip);
        i++;
    }
    assert_int_equal(i, n);
}

static void test_request_round_trip_recommend_batch(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    static const sr_pstr t0[] = { { "t_a", 3 }, { "t_b", 3 }, { "t_c", 3 } };
    static const bool k0[] = { false, true, false };
    static const sr_pstr t1[] = { { "x9", 2 } };
    static const sr_pstr t3[] = { { "t_c", 3 }, { "t_a", 3 } };
    static const bool k3[] = { true, true };
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_RECOMMEND;
    in.id = 21;
    sr_proto_recommend *r = &in.u.recommend;
    r->batch = true;
    r->n_sessions = 4;
    r->sessions[0] = (sr_proto_session){ { 3, t0, NULL, 0 }, { 3, k0, NULL }, true };
    r->sessions[1] = (sr_proto_session){ { 1, t1, NULL, 0 }, { 0, NULL, NULL }, false };
    r->sessions[2] = (sr_proto_session){ { 0, NULL, NULL, 0 }, { 0, NULL, NULL }, true };
    r->sessions[3] = (sr_proto_session){ { 2, t3, NULL, 0 }, { 2, k3, NULL }, true };
    r->k = 5;
    r->exclude = P("played"); /* no model: the daemon's default */
    round_trip(&in, &out, &sb);
    const sr_proto_recommend *o = &out.u.recommend;
    assert_true(o->batch);
    assert_int_equal(o->n_sessions, 4);
    assert_int_equal(o->model.len, 0);
    assert_int_equal(o->k, 5);
    assert_pstr(o->exclude, "played");
    static const char *const w0[] = { "t_a", "t_b!", "t_c" };
    static const char *const w1[] = { "x9" };
    static const char *const w3[] = { "t_c!", "t_a!" };
    assert_session(&o->sessions[0], w0, 3, true);
    assert_session(&o->sessions[1], w1, 1, false);
    assert_session(&o->sessions[2], NULL, 0, true);
    assert_session(&o->sessions[3], w3, 2, true);
    for (uint32_t i = 0; i < 4; i++) {
        const sr_proto_session *s = &o->sessions[i];
        if (s->tracks.n > 0)
            assert_true(s->tracks.raw > (const uint8_t *)sb.data &&
                        s->tracks.raw + s->tracks.raw_len <= (const uint8_t *)sb.data + sb.size);
    }
    /* the raw (decoded) form re-encodes to the same bytes */
    msgpack_sbuffer sb2;
    msgpack_sbuffer_init(&sb2);
    assert_int_equal(sr_proto_request_encode(&out, &sb2), 0);
    assert_int_equal(sb2.size, sb.size);
    assert_memory_equal(sb2.data, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb2);
    msgpack_sbuffer_destroy(&sb);

    /* exact bytes of a small batch: every session its own map, "skipped"
     * only where given, no model, k or exclude member */
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_RECOMMEND;
    in.u.recommend.batch = true;
    in.u.recommend.n_sessions = 2;
    static const sr_pstr a[] = { { "a", 1 } };
    in.u.recommend.sessions[0].tracks = (sr_proto_strs){ 1, a, NULL, 0 };
    in.u.recommend.sessions[1].has_skipped = true;
    round_trip(&in, &out, &sb);
    /* {"v":1,"op":"recommend","sessions":[{"tracks":["a"]},{"tracks":[],"skipped":[]}]} */
    static const uint8_t want[] = {
        0x83, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa9, 'r', 'e', 'c', 'o', 'm', 'm', 'e', 'n', 'd',
        0xa8, 's', 'e', 's', 's', 'i', 'o', 'n', 's', 0x92,
        0x81, 0xa6, 't', 'r', 'a', 'c', 'k', 's', 0x91, 0xa1, 'a',
        0x82, 0xa6, 't', 'r', 'a', 'c', 'k', 's', 0x90,
        0xa7, 's', 'k', 'i', 'p', 'p', 'e', 'd', 0x90,
    };
    assert_int_equal(sb.size, sizeof(want));
    assert_memory_equal(sb.data, want, sizeof(want));
    msgpack_sbuffer_destroy(&sb);

    /* a batch of one is still the batch form (its reply has "results") */
    in.u.recommend.n_sessions = 1;
    round_trip(&in, &out, &sb);
    assert_true(out.u.recommend.batch);
    assert_int_equal(out.u.recommend.n_sessions, 1);
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_recommend_model_optional(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    static const sr_pstr a[] = { { "a", 1 } };
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_RECOMMEND;
    in.u.recommend.n_sessions = 1;
    in.u.recommend.sessions[0].tracks = (sr_proto_strs){ 1, a, NULL, 0 };
    round_trip(&in, &out, &sb);
    assert_int_equal(out.u.recommend.model.len, 0);
    assert_false(out.u.recommend.batch);
    /* {"v":1,"op":"recommend","tracks":["a"]} */
    static const uint8_t want[] = { 0x83, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa9, 'r', 'e', 'c',
                                    'o', 'm', 'm', 'e', 'n', 'd', 0xa6, 't', 'r', 'a', 'c', 'k',
                                    's', 0x91, 0xa1, 'a' };
    assert_int_equal(sb.size, sizeof(want));
    assert_memory_equal(sb.data, want, sizeof(want));
    msgpack_sbuffer_destroy(&sb);
    /* an empty model name is not "the default": it is refused */
    tfield empty = { "model", 's', 0, 0, "" };
    EXPECT(RECOMMEND_FIELDS, "model", &empty, 422, "field \"model\": must not be empty");
}

static void test_request_encode_recommend_session_counts(void **state)
{
    (void)state;
    sr_proto_request r;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    memset(&r, 0, sizeof(r));
    r.op = SR_PROTO_OP_RECOMMEND;
    r.u.recommend.n_sessions = 0; /* single form: exactly one session */
    assert_int_equal(sr_proto_request_encode(&r, &sb), -1);
    r.u.recommend.n_sessions = 2;
    assert_int_equal(sr_proto_request_encode(&r, &sb), -1);
    r.u.recommend.batch = true;
    r.u.recommend.n_sessions = SR_PROTO_MAX_BATCH + 1; /* beyond sessions[] */
    assert_int_equal(sr_proto_request_encode(&r, &sb), -1);
    /* a bad list in any session refuses the whole request */
    r.u.recommend.n_sessions = 3;
    r.u.recommend.sessions[2].tracks.n = 1; /* neither items nor raw */
    assert_int_equal(sr_proto_request_encode(&r, &sb), -1);
    static const sr_pstr t[] = { { "a", 1 } };
    static const bool sk[] = { true, false };
    r.u.recommend.sessions[2].tracks.items = t;
    r.u.recommend.sessions[1].has_skipped = true; /* 1 label for 0 tracks */
    r.u.recommend.sessions[1].skipped = (sr_proto_bools){ 1, sk, NULL };
    assert_int_equal(sr_proto_request_encode(&r, &sb), -1);
    assert_int_equal(sb.size, 0); /* nothing written by any refusal */
    r.u.recommend.sessions[1].has_skipped = false;
    assert_int_equal(sr_proto_request_encode(&r, &sb), 0);
    /* an empty batch is encoded as given: the decoder refuses it (400) */
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_init(&sb);
    r.u.recommend.n_sessions = 0;
    assert_int_equal(sr_proto_request_encode(&r, &sb), 0);
    sr_proto_request d;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &d, err, ERRCAP), 400);
    assert_string_equal(err, "field \"sessions\": must hold at least one session");
    msgpack_sbuffer_destroy(&sb);
}

/* The batch of the largest size, packed by hand (not by the encoder): session
 * i holds i % 4 plays "s<i>_<j>", and "skipped" when i is even, with play j
 * skipped when (i + j) % 3 == 0. Every session must read back as sent. */
static void pack_big_batch(msgpack_sbuffer *sb, uint32_t n)
{
    msgpack_packer pk;
    char id[32];
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pk_str(&pk, "v");
    msgpack_pack_uint8(&pk, 1);
    pk_str(&pk, "op");
    pk_str(&pk, "recommend");
    pk_str(&pk, "model");
    pk_str(&pk, "m");
    pk_str(&pk, "sessions");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t plays = i % 4;
        bool sk = i % 2 == 0;
        msgpack_pack_map(&pk, 1 + sk);
        pk_str(&pk, "tracks");
        msgpack_pack_array(&pk, plays);
        for (uint32_t j = 0; j < plays; j++) {
            snprintf(id, sizeof(id), "s%u_%u", i, j);
            pk_str(&pk, id);
        }
        if (sk) {
            pk_str(&pk, "skipped");
            msgpack_pack_array(&pk, plays);
            for (uint32_t j = 0; j < plays; j++) {
                if ((i + j) % 3 == 0)
                    msgpack_pack_true(&pk);
                else
                    msgpack_pack_false(&pk);
            }
        }
    }
}

static void test_request_recommend_batch_limit(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    sr_proto_request *r = malloc(sizeof(*r));
    char err[ERRCAP] = "";
    char id[32];
    assert_non_null(r);
    pack_big_batch(&sb, SR_PROTO_MAX_BATCH);
    sr_proto_code c = sr_proto_request_decode(sb.data, sb.size, NULL, r, err, ERRCAP);
    if (c != SR_PROTO_CODE_OK)
        fail_msg("code %d: %s", (int)c, err);
    assert_true(r->u.recommend.batch);
    assert_int_equal(r->u.recommend.n_sessions, SR_PROTO_MAX_BATCH);
    for (uint32_t i = 0; i < SR_PROTO_MAX_BATCH; i++) {
        const sr_proto_session *s = &r->u.recommend.sessions[i];
        sr_proto_strs_iter it;
        sr_pstr t;
        uint32_t j = 0;
        assert_int_equal(s->tracks.n, i % 4);
        assert_int_equal(s->has_skipped, i % 2 == 0);
        sr_proto_strs_begin(&s->tracks, &it);
        while (sr_proto_strs_next(&it, &t)) {
            snprintf(id, sizeof(id), "s%u_%u", i, j);
            assert_pstr(t, id);
            assert_int_equal(sr_proto_bools_at(&s->skipped, j), s->has_skipped && (i + j) % 3 == 0);
            j++;
        }
        assert_int_equal(j, i % 4);
    }
    msgpack_sbuffer_destroy(&sb);

    pack_big_batch(&sb, SR_PROTO_MAX_BATCH + 1);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, r, err, ERRCAP), 413);
    assert_string_equal(err, "field \"sessions\": 1001 sessions exceeds the limit of 1000");
    msgpack_sbuffer_destroy(&sb);
    free(r);
}

/* One session of a hand-built batch, for the refusal cases. */
typedef struct tsession {
    char kind;          /* 'm' a map (the valid shape), 'a' an array, 's' a str */
    char tracks;        /* 'a' array (valid), 's' str, '-' absent */
    uint32_t n_tracks;  /* ids of id_len bytes ("tttt"), track 1 a uint when bad_track */
    uint32_t id_len;
    bool bad_track;
    bool nul_track;     /* track 0 is "t\0" */
    char skipped;       /* 'a' array of n_skipped bools, 's' a str, '-' absent */
    uint32_t n_skipped;
    bool bad_skip;      /* skipped[0] is a uint */
    const char *extra;  /* a further key (value nil), or NULL */
    bool int_key;       /* a further pair with the key 7 */
} tsession;

static const tsession TS_OK = { 'm', 'a', 3, 4, false, false, 'a', 3, false, NULL, false };

enum { TOP_TRACKS = 1, TOP_SKIPPED = 2, TOP_NO_SESSIONS = 4 };

/* {"v":1,"op":"recommend","sessions":[n sessions]} where session `at` is
 * *odd and the others TS_OK; `top` adds a top-level "tracks" or "skipped",
 * or leaves "sessions" out. */
static void build_batch(msgpack_sbuffer *sb, uint32_t n, uint32_t at, const tsession *odd, int top)
{
    msgpack_packer pk;
    char id[SR_PROTO_MAX_TRACK_ID + 2];
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2 + !(top & TOP_NO_SESSIONS) + !!(top & TOP_TRACKS) +
                              !!(top & TOP_SKIPPED));
    pk_str(&pk, "v");
    msgpack_pack_uint8(&pk, 1);
    pk_str(&pk, "op");
    pk_str(&pk, "recommend");
    if (top & TOP_TRACKS) {
        pk_str(&pk, "tracks");
        msgpack_pack_array(&pk, 1);
        pk_str(&pk, "a");
    }
    if (top & TOP_SKIPPED) {
        pk_str(&pk, "skipped");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_true(&pk);
    }
    if (top & TOP_NO_SESSIONS)
        return;
    pk_str(&pk, "sessions");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        const tsession *s = i == at && odd ? odd : &TS_OK;
        if (s->kind == 's') {
            pk_str(&pk, "t_a");
            continue;
        }
        if (s->kind == 'a') {
            msgpack_pack_array(&pk, 1);
            pk_str(&pk, "t_a");
            continue;
        }
        msgpack_pack_map(&pk, (s->tracks != '-') + (s->skipped != '-') + (s->extra != NULL) +
                                  s->int_key);
        if (s->tracks == 's') {
            pk_str(&pk, "tracks");
            pk_str(&pk, "t_a");
        } else if (s->tracks == 'a') {
            pk_str(&pk, "tracks");
            msgpack_pack_array(&pk, s->n_tracks);
            assert_true(s->id_len <= SR_PROTO_MAX_TRACK_ID + 1);
            memset(id, 't', s->id_len);
            id[s->id_len] = '\0';
            for (uint32_t j = 0; j < s->n_tracks; j++) {
                if (j == 1 && s->bad_track) {
                    msgpack_pack_uint8(&pk, 5);
                } else if (j == 0 && s->nul_track) {
                    msgpack_pack_str(&pk, 2);
                    msgpack_pack_str_body(&pk, "t\0", 2);
                } else {
                    pk_str(&pk, id);
                }
            }
        }
        if (s->skipped == 's') {
            pk_str(&pk, "skipped");
            pk_str(&pk, "yes");
        } else if (s->skipped == 'a') {
            pk_str(&pk, "skipped");
            msgpack_pack_array(&pk, s->n_skipped);
            for (uint32_t j = 0; j < s->n_skipped; j++) {
                if (j == 0 && s->bad_skip)
                    msgpack_pack_uint8(&pk, 1);
                else
                    msgpack_pack_false(&pk);
            }
        }
        if (s->extra) {
            pk_str(&pk, s->extra);
            msgpack_pack_nil(&pk);
        }
        if (s->int_key) {
            msgpack_pack_uint8(&pk, 7);
            msgpack_pack_nil(&pk);
        }
    }
}

static void expect_batch(uint32_t n, uint32_t at, const tsession *odd, int top,
                         sr_proto_code want, const char *msg)
{
    msgpack_sbuffer sb;
    sr_proto_request *r = malloc(sizeof(*r));
    char err[ERRCAP] = "";
    assert_non_null(r);
    build_batch(&sb, n, at, odd, top);
    sr_proto_code c = decode_sb(&sb, r, err);
    msgpack_sbuffer_destroy(&sb);
    free(r);
    if (c != want || (msg != NULL && strcmp(err, msg) != 0))
        fail_msg("got %d \"%s\", want %d \"%s\"", (int)c, err, (int)want, msg ? msg : "");
}

static void test_request_recommend_forms_exclusive(void **state)
{
    (void)state;
    expect_batch(2, 0, NULL, 0, 0, NULL); /* the fixture itself is valid */
    expect_batch(2, 0, NULL, TOP_TRACKS, 400,
                 "fields \"tracks\" and \"sessions\" are exclusive: one session in \"tracks\" or "
                 "many in \"sessions\"");
    expect_batch(0, 0, NULL, TOP_NO_SESSIONS, 400,
                 "missing required field \"tracks\" (one session) or \"sessions\" (many)");
    /* a top-level "skipped" beside "sessions" would go unused */
    expect_batch(2, 0, NULL, TOP_SKIPPED, 400,
                 "field \"skipped\": only valid with \"tracks\" (each of \"sessions\" carries its "
                 "own)");
    /* "skipped" alone is not a session either */
    expect_batch(0, 0, NULL, TOP_NO_SESSIONS | TOP_SKIPPED, 400,
                 "missing required field \"tracks\" (one session) or \"sessions\" (many)");
}

static void test_request_recommend_sessions_not_an_array_or_empty(void **state)
{
    (void)state;
    tfield str = { "sessions", 's', 0, 0, "t_a" };
    EXPECT(RECOMMEND_FIELDS, "tracks", &str, 400, NULL); /* with "skipped" still there */
    static const tfield NO_SKIP[] = {
        { "v", 'u', 1, 0, NULL }, { "op", 's', 0, 0, "recommend" }, { "k", 'u', 3, 0, NULL },
    };
    EXPECT(NO_SKIP, "sessions", &str, 400, "field \"sessions\": expected array of map, got str");
    tfield map = { "sessions", 'u', 1, 0, NULL };
    EXPECT(NO_SKIP, "sessions", &map, 400, "field \"sessions\": expected array of map, got uint");
    expect_batch(0, 0, NULL, 0, 400, "field \"sessions\": must hold at least one session");
}

static void test_request_recommend_session_element_refusals(void **state)
{
    (void)state;
    tsession s;

    s = TS_OK, s.kind = 'a';
    expect_batch(3, 1, &s, 0, 400, "field \"sessions\"[1]: expected map, got array");
    s = TS_OK, s.kind = 's';
    expect_batch(3, 2, &s, 0, 400, "field \"sessions\"[2]: expected map, got str");
    s = TS_OK, s.tracks = '-', s.skipped = '-';
    expect_batch(3, 2, &s, 0, 400, "missing required field \"sessions\"[2].\"tracks\"");
    s = TS_OK, s.tracks = 's';
    expect_batch(3, 0, &s, 0, 400,
                 "field \"sessions\"[0].\"tracks\": expected array of str, got str");
    /* unknown, duplicate and non-str keys inside a session */
    s = TS_OK, s.skipped = '-', s.extra = "skiped";
    expect_batch(3, 1, &s, 0, 400,
                 "field \"sessions\"[1]: unknown key \"skiped\" (a session holds \"tracks\" and "
                 "optionally \"skipped\")");
    s = TS_OK, s.extra = "k";
    expect_batch(2, 0, &s, 0, 400, "field \"sessions\"[0]: unknown key \"k\" (a session holds "
                                   "\"tracks\" and optionally \"skipped\")");
    s = TS_OK, s.extra = "tracks";
    expect_batch(2, 1, &s, 0, 400, "field \"sessions\"[1]: duplicate key \"tracks\"");
    s = TS_OK, s.int_key = true;
    expect_batch(2, 1, &s, 0, 400, "field \"sessions\"[1]: key #3 is a uint, expected str");
    /* the tracks rules of the single form, per element */
    s = TS_OK, s.n_tracks = SR_PROTO_MAX_SESSION_PLAYS + 1, s.skipped = '-';
    expect_batch(5, 3, &s, 0, 413,
                 "field \"sessions\"[3].\"tracks\": 10001 tracks exceeds the limit of 10000");
    s = TS_OK, s.n_tracks = SR_PROTO_MAX_SESSION_PLAYS, s.n_skipped = SR_PROTO_MAX_SESSION_PLAYS;
    expect_batch(2, 1, &s, 0, 0, NULL);
    s = TS_OK, s.id_len = SR_PROTO_MAX_TRACK_ID + 1;
    expect_batch(3, 1, &s, 0, 413,
                 "field \"sessions\"[1].\"tracks\"[0]: 257 bytes exceeds the limit of 256");
    s = TS_OK, s.id_len = SR_PROTO_MAX_TRACK_ID;
    expect_batch(3, 1, &s, 0, 0, NULL);
    s = TS_OK, s.id_len = 0;
    expect_batch(3, 2, &s, 0, 422, "field \"sessions\"[2].\"tracks\"[0]: must not be empty");
    s = TS_OK, s.bad_track = true;
    expect_batch(3, 0, &s, 0, 400, "field \"sessions\"[0].\"tracks\"[1]: expected str, got uint");
    s = TS_OK, s.nul_track = true;
    expect_batch(3, 0, &s, 0, 400,
                 "field \"sessions\"[0].\"tracks\"[0]: embedded NUL byte at position 1");
    /* skipped: one bool per track */
    s = TS_OK, s.n_skipped = 2;
    expect_batch(4, 3, &s, 0, 422,
                 "field \"sessions\"[3].\"skipped\": 2 entries, expected one per track (3)");
    s = TS_OK, s.n_skipped = 4;
    expect_batch(4, 0, &s, 0, 422,
                 "field \"sessions\"[0].\"skipped\": 4 entries, expected one per track (3)");
    s = TS_OK, s.bad_skip = true;
    expect_batch(2, 1, &s, 0, 400, "field \"sessions\"[1].\"skipped\"[0]: expected bool, got uint");
    s = TS_OK, s.skipped = 's';
    expect_batch(2, 1, &s, 0, 400,
                 "field \"sessions\"[1].\"skipped\": expected array of bool, got str");
    s = TS_OK, s.skipped = '-';
    expect_batch(2, 1, &s, 0, 0, NULL);
    s = TS_OK, s.n_tracks = 0, s.n_skipped = 0;
    expect_batch(2, 1, &s, 0, 0, NULL); /* an empty session is valid */
    /* the first bad session is the one named */
    s = TS_OK, s.id_len = 0;
    expect_batch(SR_PROTO_MAX_BATCH, SR_PROTO_MAX_BATCH - 1, &s, 0, 422,
                 "field \"sessions\"[999].\"tracks\"[0]: must not be empty");
}

/* ---- models: actions --------------------------------------------------------------------- */

static const tfield MODELS_SAVE_FIELDS[] = {
    { "v", 'u', 1, 0, NULL },         { "op", 's', 0, 0, "models" },
    { "id", 'u', 40, 0, NULL },       { "action", 's', 0, 0, "save" },
    { "name", 's', 0, 0, "sasrec-1" }, { "as", 's', 0, 0, "sasrec-1.bak" },
    { "replace", 'b', 1, 0, NULL },
};

static void test_request_round_trip_models_actions(void **state)
{
    (void)state;
    static const struct {
        sr_proto_models_action action;
        const char *name, *as;
        bool replace;
    } cases[] = {
        { SR_PROTO_MODELS_LIST, "", "", false },
        { SR_PROTO_MODELS_LIST, "m-1", "", false },
        { SR_PROTO_MODELS_LOAD, "m-1", "", false },
        { SR_PROTO_MODELS_SAVE, "m-1", "m-2", false },
        { SR_PROTO_MODELS_SAVE, "m-1", "m.2_x", true },
        { SR_PROTO_MODELS_DEFAULT, "m-1", "", false },
        { SR_PROTO_MODELS_DEFAULT, "", "", false },
        { SR_PROTO_MODELS_DROP, "m-1", "", false },
    };
    for (size_t i = 0; i < SR_COUNTOF_T(cases); i++) {
        sr_proto_request in, out;
        msgpack_sbuffer sb;
        memset(&in, 0, sizeof(in));
        in.op = SR_PROTO_OP_MODELS;
        in.id = 100 + i;
        in.u.models.action = cases[i].action;
        in.u.models.name = P(cases[i].name);
        in.u.models.as = P(cases[i].as);
        in.u.models.replace = cases[i].replace;
        round_trip(&in, &out, &sb);
        assert_int_equal(out.u.models.action, cases[i].action);
        assert_pstr(out.u.models.name, cases[i].name);
        assert_pstr(out.u.models.as, cases[i].as);
        assert_int_equal(out.u.models.replace, cases[i].replace);
        msgpack_sbuffer_destroy(&sb);
    }
    /* exact bytes: {"v":1,"op":"models","action":"save","name":"a","as":"b","replace":true} */
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_MODELS;
    in.u.models.action = SR_PROTO_MODELS_SAVE;
    in.u.models.name = P("a");
    in.u.models.as = P("b");
    in.u.models.replace = true;
    round_trip(&in, &out, &sb);
    static const uint8_t want[] = { 0x86, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa6, 'm', 'o', 'd',
                                    'e', 'l', 's', 0xa6, 'a', 'c', 't', 'i', 'o', 'n', 0xa4, 's',
                                    'a', 'v', 'e', 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'a', 0xa2, 'a',
                                    's', 0xa1, 'b', 0xa7, 'r', 'e', 'p', 'l', 'a', 'c', 'e', 0xc3 };
    assert_int_equal(sb.size, sizeof(want));
    assert_memory_equal(sb.data, want, sizeof(want));
    msgpack_sbuffer_destroy(&sb);
    /* list is the default: never written, and an explicit "list" decodes as it */
    tfield list = { "action", 's', 0, 0, "list" };
    msgpack_sbuffer_init(&sb);
    build(&sb, MODELS_FIELDS, SR_COUNTOF_T(MODELS_FIELDS), "action", &list);
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &out, err, ERRCAP), 0);
    assert_int_equal(out.u.models.action, SR_PROTO_MODELS_LIST);
    msgpack_sbuffer_destroy(&sb);
    /* an action outside the enum is not encoded */
    in.u.models.action = (sr_proto_models_action)5;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(sr_proto_request_encode(&in, &sb), -1);
    assert_int_equal(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
}

/* datasets: list (no fields, or "action": "list") and drop NAME; exact
 * bytes of a drop; the name belongs to drop alone. */
static void test_request_datasets_list_and_drop(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_DATASETS;
    round_trip(&in, &out, &sb);
    assert_int_equal(out.u.datasets.action, SR_PROTO_DATASETS_LIST);
    assert_int_equal(out.u.datasets.name.len, 0);
    msgpack_sbuffer_destroy(&sb);
    /* {"v":1,"op":"datasets","action":"drop","name":"d"} */
    in.u.datasets.action = SR_PROTO_DATASETS_DROP;
    in.u.datasets.name = P("d");
    round_trip(&in, &out, &sb);
    assert_int_equal(out.u.datasets.action, SR_PROTO_DATASETS_DROP);
    assert_pstr(out.u.datasets.name, "d");
    static const uint8_t want[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa8, 'd', 'a', 't',
                                    'a', 's', 'e', 't', 's', 0xa6, 'a', 'c', 't', 'i', 'o', 'n',
                                    0xa4, 'd', 'r', 'o', 'p', 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'd' };
    assert_int_equal(sb.size, sizeof(want));
    assert_memory_equal(sb.data, want, sizeof(want));
    msgpack_sbuffer_destroy(&sb);

    static const tfield DROP[] = { { "v", 'u', 1, 0, NULL }, { "op", 's', 0, 0, "datasets" },
                                   { "action", 's', 0, 0, "drop" }, { "name", 's', 0, 0, "d" } };
    EXPECT(DROP, NULL, NULL, 0, NULL);
    EXPECT(DROP, "name", NULL, 400, "missing required field \"name\"");
    tfield purge = { "action", 's', 0, 0, "purge" };
    EXPECT(DROP, "action", &purge, 422, "expected one of \"list\", \"drop\"");
    tfield dotdot = { "name", 's', 0, 0, ".." };
    EXPECT(DROP, "name", &dotdot, 422, NULL);
    /* a name with list (or no action) is refused, not ignored */
    EXPECT(DROP, "action", NULL, 400, "field \"name\": only valid with action \"drop\"");
}

static void test_request_models_action_refusals(void **state)
{
    (void)state;
    EXPECT(MODELS_SAVE_FIELDS, NULL, NULL, 0, NULL);
    tfield rename = { "action", 's', 0, 0, "rename" };
    EXPECT(MODELS_SAVE_FIELDS, "action", &rename, 422,
           "field \"action\": expected one of \"list\", \"load\", \"save\", \"default\", \"drop\", "
           "got \"rename\"");
    tfield caps = { "action", 's', 0, 0, "LOAD" };
    EXPECT(MODELS_FIELDS, "action", &caps, 422, "got \"LOAD\"");
    tfield num = { "action", 'u', 1, 0, NULL };
    EXPECT(MODELS_FIELDS, "action", &num, 400, "field \"action\": expected str, got uint");
    /* name is required for load, save and drop */
    static const char *const need_name[] = { "load", "save", "drop" };
    for (size_t i = 0; i < SR_COUNTOF_T(need_name); i++) {
        static const tfield BARE[] = { { "v", 'u', 1, 0, NULL }, { "op", 's', 0, 0, "models" } };
        tfield act = { "action", 's', 0, 0, need_name[i] };
        char msg[80];
        snprintf(msg, sizeof(msg), "missing required field \"name\" (action \"%s\")", need_name[i]);
        EXPECT(BARE, "action", &act, 400, msg);
    }
    /* ... but not for list and default */
    static const tfield BARE_DEFAULT[] = { { "v", 'u', 1, 0, NULL }, { "op", 's', 0, 0, "models" },
                                           { "action", 's', 0, 0, "default" } };
    EXPECT(BARE_DEFAULT, NULL, NULL, 0, NULL);
    /* save needs "as"; "as" and "replace" belong to save alone */
    EXPECT(MODELS_SAVE_FIELDS, "as", NULL, 400, "missing required field \"as\"");
    static const char *const others[] = { "list", "load", "default", "drop" };
    for (size_t i = 0; i < SR_COUNTOF_T(others); i++) {
        tfield act = { "action", 's', 0, 0, others[i] };
        static const tfield WITH_AS[] = {
            { "v", 'u', 1, 0, NULL }, { "op", 's', 0, 0, "models" }, { "name", 's', 0, 0, "m" },
            { "as", 's', 0, 0, "n" },
        };
        static const tfield WITH_REPLACE[] = {
            { "v", 'u', 1, 0, NULL }, { "op", 's', 0, 0, "models" }, { "name", 's', 0, 0, "m" },
            { "replace", 'b', 0, 0, NULL },
        };
        char msg[80];
        snprintf(msg, sizeof(msg), "field \"as\": only valid with action \"save\", not \"%s\"",
                 others[i]);
        EXPECT(WITH_AS, "action", &act, 400, msg);
        snprintf(msg, sizeof(msg), "field \"replace\": only valid with action \"save\", not \"%s\"",
                 others[i]);
        EXPECT(WITH_REPLACE, "action", &act, 400, msg); /* even replace: false */
    }
    /* the name rules apply to "as" and "name" alike */
    tfield dotdot = { "as", 's', 0, 0, ".." };
    EXPECT(MODELS_SAVE_FIELDS, "as", &dotdot, 422, "field \"as\": \"..\" is not a valid name");
    tfield slash = { "name", 's', 0, 0, "a/b" };
    EXPECT(MODELS_SAVE_FIELDS, "name", &slash, 422, "field \"name\": \"a/b\" is not a valid name");
    tfield as_num = { "as", 'u', 3, 0, NULL };
    EXPECT(MODELS_SAVE_FIELDS, "as", &as_num, 400, "field \"as\": expected str, got uint");
    tfield empty_as = { "as", 's', 0, 0, "" };
    EXPECT(MODELS_SAVE_FIELDS, "as", &empty_as, 422, "field \"as\": must not be empty");
    tfield rep_str = { "replace", 's', 0, 0, "yes" };
    EXPECT(MODELS_SAVE_FIELDS, "replace", &rep_str, 400,
           "field \"replace\": expected bool, got str");
    tfield rep_false = { "replace", 'b', 0, 0, NULL };
    EXPECT(MODELS_SAVE_FIELDS, "replace", &rep_false, 0, NULL);
}

static void test_request_new_ops_values_out_of_range(void **state)
{
    (void)state;
    tfield k0 = { "k", 'u', 0, 0, NULL };
    EXPECT(RECOMMEND_FIELDS, "k", &k0, 422, "field \"k\": must be in [1, 1000], got 0");
    tfield k1001 = { "k", 'u', SR_PROTO_MAX_K + 1, 0, NULL };
    EXPECT(RECOMMEND_FIELDS, "k", &k1001, 422, "got 1001");
    tfield kneg = { "k", 'i', (uint64_t)-1, 0, NULL };
    EXPECT(RECOMMEND_FIELDS, "k", &kneg, 422, "got -1");
    tfield k1000 = { "k", 'u', SR_PROTO_MAX_K, 0, NULL };
    EXPECT(RECOMMEND_FIELDS, "k", &k1000, 0, NULL);
    tfield k1 = { "k", 'u', 1, 0, NULL };
    EXPECT(RECOMMEND_FIELDS, "k", &k1, 0, NULL);
    tfield job0 = { "job", 'u', 0, 0, NULL };
    EXPECT(CANCEL_FIELDS, "job", &job0, 422, "field \"job\": must be in [1, 18446744073709551615], got 0");
    EXPECT(JOBS_FIELDS, "job", &job0, 0, NULL); /* 0 = all jobs */
    tfield jobneg = { "job", 'i', (uint64_t)-3, 0, NULL };
    EXPECT(JOBS_FIELDS, "job", &jobneg, 422, "got -3");
    tfield mq0 = { "max_queries", 'u', 0, 0, NULL };
    EXPECT(EVALUATE_FIELDS, "max_queries", &mq0, 422,
           "field \"max_queries\": must be in [1, 4294967295], got 0");
    tfield mqbig = { "max_queries", 'u', SR_PROTO_MAX_COUNT + 1, 0, NULL };
    EXPECT(EVALUATE_FIELDS, "max_queries", &mqbig, 422, "got 4294967296");
    tfield seed = { "seed", 'u', UINT64_MAX, 0, NULL };
    EXPECT(TRAIN_FIELDS, "seed", &seed, 0, NULL);
}

static void test_request_new_ops_bad_enum_values(void **state)
{
    (void)state;
    tfield model = { "model", 's', 0, 0, "gru4rec" };
    EXPECT(TRAIN_FIELDS, "model", &model, 422,
           "field \"model\": expected one of \"sasrec\", \"bert4rec\", \"pop\", \"sr\", got \"gru4rec\"");
    tfield caps = { "model", 's', 0, 0, "SASRec" };
    EXPECT(TRAIN_FIELDS, "model", &caps, 422, "got \"SASRec\"");
    tfield empty = { "model", 's', 0, 0, "" };
    EXPECT(TRAIN_FIELDS, "model", &empty, 422, "field \"model\": must not be empty");
    tfield preset = { "preset", 's', 0, 0, "slow" };
    EXPECT(TRAIN_FIELDS, "preset", &preset, 422,
           "field \"preset\": expected one of \"paper\", \"fast\", got \"slow\"");
    tfield split = { "split", 's', 0, 0, "train" };
    EXPECT(EVALUATE_FIELDS, "split", &split, 422,
           "field \"split\": expected one of \"test\", \"validation\", got \"train\"");
    tfield proto = { "protocol", 's', 0, 0, "popular" };
    EXPECT(EVALUATE_FIELDS, "protocol", &proto, 422,
           "field \"protocol\": expected one of \"full\", \"sampled\", got \"popular\"");
    tfield ex = { "exclude", 's', 0, 0, "listened" };
    EXPECT(EVALUATE_FIELDS, "exclude", &ex, 422,
           "field \"exclude\": expected one of \"none\", \"played\", \"skipped\", got \"listened\"");
    EXPECT(RECOMMEND_FIELDS, "exclude", &ex, 422,
           "field \"exclude\": expected one of \"skipped\", \"played\", \"none\", got \"listened\"");
    /* every listed value is accepted */
    static const char *const ok_models[] = { "sasrec", "bert4rec", "pop", "sr" };
    for (size_t i = 0; i < SR_COUNTOF_T(ok_models); i++) {
        tfield m = { "model", 's', 0, 0, ok_models[i] };
        EXPECT(TRAIN_FIELDS, "model", &m, 0, NULL);
    }
    tfield fast = { "preset", 's', 0, 0, "fast" };
    EXPECT(TRAIN_FIELDS, "preset", &fast, 0, NULL);
    tfield test = { "split", 's', 0, 0, "test" };
    EXPECT(EVALUATE_FIELDS, "split", &test, 0, NULL);
    tfield full = { "protocol", 's', 0, 0, "full" };
    EXPECT(EVALUATE_FIELDS, "protocol", &full, 0, NULL);
    static const char *const ok_ex[] = { "none", "played", "skipped" };
    for (size_t i = 0; i < SR_COUNTOF_T(ok_ex); i++) {
        tfield e = { "exclude", 's', 0, 0, ok_ex[i] };
        EXPECT(EVALUATE_FIELDS, "exclude", &e, 0, NULL);
        EXPECT(RECOMMEND_FIELDS, "exclude", &e, 0, NULL);
    }
}

static void test_request_new_ops_bad_names(void **state)
{
    (void)state;
    static const char *const bad[] = {
        ".", "..", ".hidden", "a/b", "a b",
        "x234567890123456789012345678901234567890123456789012345678901234", /* 64 */
    };
    for (size_t i = 0; i < SR_COUNTOF_T(bad); i++) {
        tfield d = { "dataset", 's', 0, 0, bad[i] };
        EXPECT(TRAIN_FIELDS, "dataset", &d, 422, "field \"dataset\": \"");
        EXPECT(EVALUATE_FIELDS, "dataset", &d, 422, "field \"dataset\": \"");
        tfield n = { "name", 's', 0, 0, bad[i] };
        EXPECT(TRAIN_FIELDS, "name", &n, 422, "field \"name\": \"");
        EXPECT(MODELS_FIELDS, "name", &n, 422, "field \"name\": \"");
        tfield m = { "model", 's', 0, 0, bad[i] };
        EXPECT(EVALUATE_FIELDS, "model", &m, 422, "field \"model\": \"");
        EXPECT(RECOMMEND_FIELDS, "model", &m, 422, "field \"model\": \"");
    }
    tfield empty = { "name", 's', 0, 0, "" };
    EXPECT(TRAIN_FIELDS, "name", &empty, 422, "field \"name\": must not be empty");
    EXPECT(MODELS_FIELDS, "name", &empty, 422, "field \"name\": must not be empty");
}

/* ---- experiment ------------------------------------------------------------------------ */

static void test_request_round_trip_experiment(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_EXPERIMENT;
    in.id = 41;
    sr_proto_experiment *x = &in.u.experiment;
    /* any bytes but NUL: comments, tabs, UTF-8 */
    x->spec = P("; caf\xc3\xa9\n[experiment]\r\n\tseeds = 5\n[config pop]\nmodel = pop\n");
    x->out = P("/var/lib/seqrec/data/exp/run 1");
    x->dataset = P("mssd-mini");
    x->name = P("exp_1.b");
    round_trip(&in, &out, &sb);
    const sr_proto_experiment *o = &out.u.experiment;
    assert_pstr(o->spec, "; caf\xc3\xa9\n[experiment]\r\n\tseeds = 5\n[config pop]\nmodel = pop\n");
    assert_pstr(o->out, "/var/lib/seqrec/data/exp/run 1");
    assert_pstr(o->dataset, "mssd-mini");
    assert_pstr(o->name, "exp_1.b");
    msgpack_sbuffer_destroy(&sb);

    /* only the required fields: the optional ones decode as unset and are
     * not written: {"v":1,"op":"experiment","spec":"[e]\n","out":"exp/q"} */
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_EXPERIMENT;
    in.u.experiment.spec = P("[e]\n");
    in.u.experiment.out = P("exp/q");
    round_trip(&in, &out, &sb);
    o = &out.u.experiment;
    assert_pstr(o->spec, "[e]\n");
    assert_pstr(o->out, "exp/q");
    assert_int_equal(o->dataset.len, 0);
    assert_int_equal(o->name.len, 0);
    static const uint8_t want[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xaa, 'e', 'x', 'p',
                                    'e', 'r', 'i', 'm', 'e', 'n', 't', 0xa4, 's', 'p', 'e', 'c',
                                    0xa4, '[', 'e', ']', '\n', 0xa3, 'o', 'u', 't', 0xa5, 'e',
                                    'x', 'p', '/', 'q' };
    assert_int_equal(sb.size, sizeof(want));
    assert_memory_equal(sb.data, want, sizeof(want));
    msgpack_sbuffer_destroy(&sb);
}

/* A spec of exactly the limit goes through the encoder (as a str32) and back. */
static void test_request_round_trip_experiment_spec_at_limit(void **state)
{
    (void)state;
    sr_proto_request in, out;
    msgpack_sbuffer sb;
    char *spec = malloc(SR_PROTO_MAX_CONFIG);
    assert_non_null(spec);
    for (uint32_t i = 0; i < SR_PROTO_MAX_CONFIG; i++)
        spec[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
    memset(&in, 0, sizeof(in));
    in.op = SR_PROTO_OP_EXPERIMENT;
    in.u.experiment.spec.ptr = spec;
    in.u.experiment.spec.len = SR_PROTO_MAX_CONFIG;
    in.u.experiment.out = P("e");
    round_trip(&in, &out, &sb);
    assert_int_equal(out.u.experiment.spec.len, SR_PROTO_MAX_CONFIG);
    assert_memory_equal(out.u.experiment.spec.ptr, spec, SR_PROTO_MAX_CONFIG);
    /* 65536 does not fit a str16: the header is 0xdb and a 4-byte length */
    const uint8_t *hdr = (const uint8_t *)out.u.experiment.spec.ptr - 5;
    assert_int_equal(hdr[0], 0xdb);
    assert_int_equal((hdr[1] << 24) | (hdr[2] << 16) | (hdr[3] << 8) | hdr[4], 65536);
    msgpack_sbuffer_destroy(&sb);
    free(spec);
}

static void test_request_experiment_fixture_is_valid(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    sr_proto_request r;
    char err[ERRCAP];
    build(&sb, EXPERIMENT_FIELDS, SR_COUNTOF_T(EXPERIMENT_FIELDS), NULL, NULL);
    assert_int_equal(sr_proto_request_decode(sb.data, sb.size, NULL, &r, err, ERRCAP), 0);
    assert_int_equal(r.op, SR_PROTO_OP_EXPERIMENT);
    assert_int_equal(r.id, 81);
    assert_pstr(r.u.experiment.spec, EXP_SPEC);
    assert_pstr(r.u.experiment.out, "experiments/q1");
    assert_pstr(r.u.experiment.dataset, "mssd-mini");
    assert_pstr(r.u.experiment.name, "skip-vs-plain.v1");
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_experiment_wrong_type_per_field(void **state)
{
    (void)state;
    static const tfield bad[] = {
        { "spec", 'b', 1, 0, NULL },   { "spec", 'T', 0, 0, NULL }, { "out", 'u', 7, 0, NULL },
        { "out", 'P', 0, 0, NULL },    { "dataset", 'n', 0, 0, NULL },
        { "name", 'd', 0, 1.5, NULL },
    };
    static const char *const msg[] = {
        "field \"spec\": expected str, got bool",    "field \"spec\": expected str, got array",
        "field \"out\": expected str, got uint",     "field \"out\": expected str, got array",
        "field \"dataset\": expected str, got nil",  "field \"name\": expected str, got float",
    };
    for (size_t i = 0; i < SR_COUNTOF_T(bad); i++)
        EXPECT(EXPERIMENT_FIELDS, bad[i].key, &bad[i], 400, msg[i]);
    /* a spec sent as bin (the file's raw bytes) is not a str */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    sr_proto_request r;
    char err[ERRCAP] = "";
    build(&sb, EXPERIMENT_FIELDS, SR_COUNTOF_T(EXPERIMENT_FIELDS), "spec", NULL);
    ((uint8_t *)sb.data)[0]++;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pk_str(&pk, "spec");
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "[e]", 3);
    assert_int_equal(decode_sb(&sb, &r, err), 400);
    assert_string_equal(err, "field \"spec\": expected str, got bin");
    msgpack_sbuffer_destroy(&sb);
}

static void test_request_experiment_missing_required_fields(void **state)
{
    (void)state;
    EXPECT(EXPERIMENT_FIELDS, "spec", NULL, 400, "missing required field \"spec\"");
    EXPECT(EXPERIMENT_FIELDS, "out", NULL, 400, "missing required field \"out\"");
    static const char *const opt[] = { "id", "dataset", "name" };
    for (size_t i = 0; i < SR_COUNTOF_T(opt); i++)
        EXPECT(EXPERIMENT_FIELDS, opt[i], NULL, 0, NULL);
    /* {"v":1,"op":"experiment"}: spec is checked first */
    static const uint8_t b[] = { 0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xaa, 'e', 'x', 'p',
                                 'e', 'r', 'i', 'm', 'e', 'n', 't' };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "missing required field \"spec\"");
}

static void test_request_experiment_spec_size(void **state)
{
    (void)state;
    char *spec = malloc(SR_PROTO_MAX_CONFIG + 2);
    assert_non_null(spec);
    memset(spec, ';', SR_PROTO_MAX_CONFIG + 1);
    spec[SR_PROTO_MAX_CONFIG + 1] = '\0';
    tfield big = { "spec", 's', 0, 0, spec };
    EXPECT(EXPERIMENT_FIELDS, "spec", &big, 413,
           "field \"spec\": 65537 bytes exceeds the limit of 65536");
    spec[SR_PROTO_MAX_CONFIG] = '\0';
    EXPECT(EXPERIMENT_FIELDS, "spec", &big, 0, NULL);
    free(spec);
    tfield empty = { "spec", 's', 0, 0, "" };
    EXPECT(EXPERIMENT_FIELDS, "spec", &empty, 422, "field \"spec\": must not be empty");
}

static void test_request_experiment_out_path_size(void **state)
{
    (void)state;
    char *longp = malloc(SR_PROTO_MAX_PATH_LEN + 2);
    assert_non_null(longp);
    memset(longp, 'd', SR_PROTO_MAX_PATH_LEN + 1);
    longp[SR_PROTO_MAX_PATH_LEN + 1] = '\0';
    tfield out = { "out", 's', 0, 0, longp };
    EXPECT(EXPERIMENT_FIELDS, "out", &out, 413,
           "field \"out\": 4096 bytes exceeds the limit of 4095");
    longp[SR_PROTO_MAX_PATH_LEN] = '\0';
    EXPECT(EXPERIMENT_FIELDS, "out", &out, 0, NULL);
    free(longp);
    tfield empty = { "out", 's', 0, 0, "" };
    EXPECT(EXPERIMENT_FIELDS, "out", &empty, 422, "field \"out\": must not be empty");
    /* a path is not a name: slashes, dots and spaces are the daemon's to judge */
    tfield rel = { "out", 's', 0, 0, "../outside/ x" };
    EXPECT(EXPERIMENT_FIELDS, "out", &rel, 0, NULL);
}

static void test_request_experiment_nul_in_spec_or_out(void **state)
{
    (void)state;
    /* {"v":1,"op":"experiment","spec":"[e]\0x","out":"o"} */
    static const uint8_t b[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xaa, 'e', 'x', 'p',
                                 'e', 'r', 'i', 'm', 'e', 'n', 't', 0xa4, 's', 'p', 'e', 'c',
                                 0xa5, '[', 'e', ']', 0x00, 'x', 0xa3, 'o', 'u', 't', 0xa1, 'o' };
    sr_proto_request r;
    char err[ERRCAP];
    assert_int_equal(sr_proto_request_decode(b, sizeof(b), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "field \"spec\": embedded NUL byte at position 3");
    /* the same with the NUL moved into "out" */
    static const uint8_t c[] = { 0x84, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xaa, 'e', 'x', 'p',
                                 'e', 'r', 'i', 'm', 'e', 'n', 't', 0xa4, 's', 'p', 'e', 'c',
                                 0xa3, '[', 'e', ']', 0xa3, 'o', 'u', 't', 0xa3, 'o', 0x00, 'p' };
    assert_int_equal(sr_proto_request_decode(c, sizeof(c), NULL, &r, err, ERRCAP), 400);
    assert_string_equal(err, "field \"out\": embedded NUL byte at position 1");
}

static void test_request_experiment_bad_names(void **state)
{
    (void)state;
    static const char *const bad[] = {
        ".", "..", ".hidden", "a/b", "a b", "sasrec+skip", "exp\xc3\xa9",
        "x234567890123456789012345678901234567890123456789012345678901234", /* 64 */
    };
    for (size_t i = 0; i < SR_COUNTOF_T(bad); i++) {
        tfield d = { "dataset", 's', 0, 0, bad[i] };
        EXPECT(EXPERIMENT_FIELDS, "dataset", &d, 422, "field \"dataset\": \"");
        tfield n = { "name", 's', 0, 0, bad[i] };
        EXPECT(EXPERIMENT_FIELDS, "name", &n, 422, "field \"name\": \"");
    }
    tfield empty = { "name", 's', 0, 0, "" };
    EXPECT(EXPERIMENT_FIELDS, "name", &empty, 422, "field \"name\": must not be empty");
    tfield empty_ds = { "dataset", 's', 0, 0, "" };
    EXPECT(EXPERIMENT_FIELDS, "dataset", &empty_ds, 422, "field \"dataset\": must not be empty");
    /* 63 bytes, every allowed character class */
    tfield ok = { "name", 's', 0, 0,
                  "A-z_0.9x2345678901234567890123456789012345678901234567890123456" };
    assert_int_equal(strlen(ok.s), SR_PROTO_MAX_NAME_LEN);
    EXPECT(EXPERIMENT_FIELDS, "name", &ok, 0, NULL);
    tfield ds = { "dataset", 's', 0, 0, "synth.v2-a_b" };
    EXPECT(EXPERIMENT_FIELDS, "dataset", &ds, 0, NULL);
}

/* ---- small API pieces -------------------------------------------------------------------- */

static void test_pstr_eq_and_copy(void **state)
{
    (void)state;
    sr_pstr s = { "abcdef", 3 };
    char buf[4];
    assert_true(sr_pstr_eq(s, "abc"));
    assert_false(sr_pstr_eq(s, "abcd"));
    assert_false(sr_pstr_eq(s, "ab"));
    sr_pstr empty = { NULL, 0 };
    assert_true(sr_pstr_eq(empty, ""));
    assert_true(sr_pstr_copy(s, buf, sizeof(buf)));
    assert_string_equal(buf, "abc");
    sr_pstr four = { "abcd", 4 };
    assert_false(sr_pstr_copy(four, buf, sizeof(buf))); /* needs 5 with the NUL */
    assert_string_equal(buf, "");
    sr_pstr nul = { "a\0b", 3 };
    assert_false(sr_pstr_copy(nul, buf, sizeof(buf)));
    assert_false(sr_pstr_copy(s, buf, 0));
    assert_true(sr_pstr_copy(empty, buf, 1));
    assert_string_equal(buf, "");
}

static void test_code_and_op_names(void **state)
{
    (void)state;
    assert_string_equal(sr_proto_code_name(SR_PROTO_CODE_BAD_REQUEST), "bad_request");
    assert_string_equal(sr_proto_code_name(SR_PROTO_CODE_FORBIDDEN), "forbidden");
    assert_string_equal(sr_proto_code_name(SR_PROTO_CODE_NOT_FOUND), "not_found");
    assert_string_equal(sr_proto_code_name(SR_PROTO_CODE_CONFLICT), "conflict");
    assert_string_equal(sr_proto_code_name(SR_PROTO_CODE_TOO_LARGE), "too_large");
    assert_string_equal(sr_proto_code_name(SR_PROTO_CODE_INVALID), "invalid");
    assert_string_equal(sr_proto_code_name(SR_PROTO_CODE_BUSY), "busy");
    assert_string_equal(sr_proto_code_name(SR_PROTO_CODE_INTERNAL), "internal");
    assert_string_equal(sr_proto_code_name(SR_PROTO_CODE_UNKNOWN_OP), "unknown_op");
    assert_string_equal(sr_proto_code_name(SR_PROTO_CODE_VERSION), "version");
    assert_string_equal(sr_proto_code_name((sr_proto_code)418), "unknown");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_STATUS), "status");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_SYNTH), "synth");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_INGEST), "ingest");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_STATS), "stats");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_DATASETS), "datasets");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_SHUTDOWN), "shutdown");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_TRAIN), "train");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_JOBS), "jobs");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_CANCEL), "cancel");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_EVALUATE), "evaluate");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_RECOMMEND), "recommend");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_MODELS), "models");
    assert_string_equal(sr_proto_op_name(SR_PROTO_OP_EXPERIMENT), "experiment");
    /* appended after shutdown: the first six keep their values */
    assert_int_equal(SR_PROTO_OP_SHUTDOWN, 6);
    assert_int_equal(SR_PROTO_OP_TRAIN, 7);
    assert_int_equal(SR_PROTO_OP_MODELS, 12);
    assert_int_equal(SR_PROTO_OP_EXPERIMENT, 13);
    assert_string_equal(sr_proto_op_name((sr_proto_op)0), "unknown");
    assert_string_equal(sr_proto_op_name((sr_proto_op)14), "unknown");
}

/* The fuzz seeds say in their names what they are (make_corpus.py): ok_*
 * requests decode, reply_* replies decode, bad_<code>_* requests are refused
 * with exactly that code. Keeps the corpus honest as the decoder changes. */
static void test_fuzz_corpus_seeds_decode_as_named(void **state)
{
    (void)state;
    char dir[1024], path[1400];
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus", SR_SOURCE_DIR);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int seen = 0, ok_seen = 0, bad_seen = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static uint8_t buf[1 << 16];
        size_t len = fread(buf, 1, sizeof(buf), f);
        assert_true(feof(f));
        fclose(f);
        sr_proto_request r;
        char err[ERRCAP] = "";
        seen++;
        if (strncmp(e->d_name, "ok_", 3) == 0) {
            sr_proto_code c = sr_proto_request_decode(buf, len, NULL, &r, err, ERRCAP);
            if (c != SR_PROTO_CODE_OK)
                fail_msg("%s: code %d \"%s\"", e->d_name, (int)c, err);
            ok_seen++;
        } else if (strncmp(e->d_name, "bad_", 4) == 0) {
            int want = atoi(e->d_name + 4);
            sr_proto_code c = sr_proto_request_decode(buf, len, NULL, &r, err, ERRCAP);
            if ((int)c != want)
                fail_msg("%s: code %d \"%s\", want %d", e->d_name, (int)c, err, want);
            bad_seen++;
        } else if (strncmp(e->d_name, "reply_", 6) == 0) {
            sr_mp_doc doc;
            bool ok;
            assert_true(sr_proto_reply_decode(buf, len, &doc, &ok, NULL, NULL, NULL, NULL, err, ERRCAP));
            sr_mp_doc_free(&doc);
        } else {
            fail_msg("%s: seed name says neither ok_, bad_<code>_ nor reply_", e->d_name);
        }
    }
    closedir(d);
    assert_true(seen >= 30 && ok_seen >= 6 && bad_seen >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp_parse_nil_and_bool),
        cmocka_unit_test(test_mp_parse_fixint_positive_and_negative),
        cmocka_unit_test(test_mp_parse_uint8_to_uint64),
        cmocka_unit_test(test_mp_parse_int8_to_int64),
        cmocka_unit_test(test_mp_parse_signed_format_holding_nonnegative_is_uint),
        cmocka_unit_test(test_mp_parse_float32_and_float64),
        cmocka_unit_test(test_mp_parse_str_fix_8_16_32),
        cmocka_unit_test(test_mp_parse_bin_8_16_32),
        cmocka_unit_test(test_mp_parse_fixext_and_ext_8_16_32),
        cmocka_unit_test(test_mp_parse_array_fix_16_32),
        cmocka_unit_test(test_mp_parse_map_fix_16_32),
        cmocka_unit_test(test_mp_parse_nested_preorder_spans),
        cmocka_unit_test(test_mp_parse_empty_frame),
        cmocka_unit_test(test_mp_parse_invalid_byte_c1),
        cmocka_unit_test(test_mp_parse_str_length_beyond_frame),
        cmocka_unit_test(test_mp_parse_str_longer_than_max_str),
        cmocka_unit_test(test_mp_parse_array32_count_max_in_6_byte_frame),
        cmocka_unit_test(test_mp_parse_count_over_max_items),
        cmocka_unit_test(test_mp_parse_nesting_deeper_than_max_depth),
        cmocka_unit_test(test_mp_parse_trailing_garbage),
        cmocka_unit_test(test_mp_parse_truncated_headers),
        cmocka_unit_test(test_request_round_trip_fieldless_ops),
        cmocka_unit_test(test_request_round_trip_synth),
        cmocka_unit_test(test_request_round_trip_ingest),
        cmocka_unit_test(test_request_round_trip_stats),
        cmocka_unit_test(test_request_table_fixtures_are_valid),
        cmocka_unit_test(test_request_empty_frame),
        cmocka_unit_test(test_request_truncated_at_every_byte),
        cmocka_unit_test(test_request_top_level_not_a_map),
        cmocka_unit_test(test_request_byte_c1),
        cmocka_unit_test(test_request_str_length_beyond_frame),
        cmocka_unit_test(test_request_array32_count_max_in_6_byte_frame),
        cmocka_unit_test(test_request_nesting_deeper_than_max_depth),
        cmocka_unit_test(test_request_trailing_garbage),
        cmocka_unit_test(test_request_wrong_type_per_field),
        cmocka_unit_test(test_request_path_element_wrong_type),
        cmocka_unit_test(test_request_missing_required_fields),
        cmocka_unit_test(test_request_missing_op),
        cmocka_unit_test(test_request_unknown_op),
        cmocka_unit_test(test_request_version_2),
        cmocka_unit_test(test_request_missing_version),
        cmocka_unit_test(test_request_duplicate_key),
        cmocka_unit_test(test_request_duplicate_key_in_large_map),
        cmocka_unit_test(test_request_non_string_key),
        cmocka_unit_test(test_request_nul_in_string),
        cmocka_unit_test(test_request_too_many_paths),
        cmocka_unit_test(test_request_empty_paths),
        cmocka_unit_test(test_request_path_too_long),
        cmocka_unit_test(test_request_huge_config),
        cmocka_unit_test(test_request_config_without_events_format),
        cmocka_unit_test(test_request_sessions_out_of_range),
        cmocka_unit_test(test_request_bad_enum_values),
        cmocka_unit_test(test_request_bad_name),
        cmocka_unit_test(test_request_fraction_out_of_range),
        cmocka_unit_test(test_request_fraction_sum_at_least_one),
        cmocka_unit_test(test_request_float_fields_accept_integers),
        cmocka_unit_test(test_request_int_format_nonnegative_accepted),
        cmocka_unit_test(test_request_unknown_keys_ignored),
        cmocka_unit_test(test_request_id_echoed_on_error),
        cmocka_unit_test(test_request_encode_exact_bytes),
        cmocka_unit_test(test_reply_error_exact_bytes),
        cmocka_unit_test(test_reply_ok_round_trip),
        cmocka_unit_test(test_reply_error_round_trip),
        cmocka_unit_test(test_reply_decode_malformed),
        cmocka_unit_test(test_request_round_trip_train),
        cmocka_unit_test(test_request_train_zero_counts_mean_unset),
        cmocka_unit_test(test_request_round_trip_jobs_cancel_models),
        cmocka_unit_test(test_request_round_trip_evaluate),
        cmocka_unit_test(test_request_round_trip_recommend),
        cmocka_unit_test(test_request_recommend_tracks_in_every_str_format),
        cmocka_unit_test(test_strs_reader_items_form_and_garbage),
        cmocka_unit_test(test_request_encode_refuses_bad_lists),
        cmocka_unit_test(test_request_new_ops_table_fixtures_are_valid),
        cmocka_unit_test(test_request_new_ops_wrong_type_per_field),
        cmocka_unit_test(test_request_new_ops_missing_required_fields),
        cmocka_unit_test(test_request_train_set_limits),
        cmocka_unit_test(test_request_train_set_entry_not_key_value),
        cmocka_unit_test(test_request_recommend_session_limits),
        cmocka_unit_test(test_request_recommend_skipped_length_mismatch),
        cmocka_unit_test(test_request_recommend_nul_in_track_id),
        cmocka_unit_test(test_request_round_trip_recommend_batch),
        cmocka_unit_test(test_request_recommend_model_optional),
        cmocka_unit_test(test_request_encode_recommend_session_counts),
        cmocka_unit_test(test_request_recommend_batch_limit),
        cmocka_unit_test(test_request_recommend_forms_exclusive),
        cmocka_unit_test(test_request_recommend_sessions_not_an_array_or_empty),
        cmocka_unit_test(test_request_recommend_session_element_refusals),
        cmocka_unit_test(test_request_round_trip_models_actions),
        cmocka_unit_test(test_request_models_action_refusals),
        cmocka_unit_test(test_request_datasets_list_and_drop),
        cmocka_unit_test(test_request_new_ops_values_out_of_range),
        cmocka_unit_test(test_request_new_ops_bad_enum_values),
        cmocka_unit_test(test_request_new_ops_bad_names),
        cmocka_unit_test(test_request_round_trip_experiment),
        cmocka_unit_test(test_request_round_trip_experiment_spec_at_limit),
        cmocka_unit_test(test_request_experiment_fixture_is_valid),
        cmocka_unit_test(test_request_experiment_wrong_type_per_field),
        cmocka_unit_test(test_request_experiment_missing_required_fields),
        cmocka_unit_test(test_request_experiment_spec_size),
        cmocka_unit_test(test_request_experiment_out_path_size),
        cmocka_unit_test(test_request_experiment_nul_in_spec_or_out),
        cmocka_unit_test(test_request_experiment_bad_names),
        cmocka_unit_test(test_pstr_eq_and_copy),
        cmocka_unit_test(test_code_and_op_names),
        cmocka_unit_test(test_fuzz_corpus_seeds_decode_as_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
