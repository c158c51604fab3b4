/* test_ckpt.c - sr_ckpt: round trips of every dtype, look-ups, name rules,
 * refusal of every damaged file (each byte flipped, each truncation, hostile
 * tables behind valid checksums) and the atomic write.
 *
 * The layout constants below are restated from docs/formats.md ("Checkpoint
 * and model files") rather than taken from sr_ckpt.c, so these tests also
 * check the document; reseal() recomputes the checksums as the document
 * defines them, which lets a test plant a bad table behind valid checksums. */
#include "sr_test.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/resource.h>
#include <xxhash.h>

#include "sr_ckpt.h"

/* ---- layout, from docs/formats.md -------------------------------------------- */
#define HDR_SIZE 64
#define ENTRY_SIZE 64
#define OFF_VERSION 8
#define OFF_BOM 12
#define OFF_N_SECTIONS 16
#define OFF_FILE_SIZE 24
#define OFF_TABLE_CHECKSUM 48
#define OFF_HEADER_CHECKSUM 56
#define E_NAME 0
#define E_DTYPE 39
#define E_OFFSET 40
#define E_BYTES 48
#define E_CHECKSUM 56

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Recompute the table and header checksums of b (n bytes) as documented,
 * using n_sections from the header, bounded by the buffer. */
static void reseal(uint8_t *b, size_t n)
{
    uint64_t ns = rd32(b + OFF_N_SECTIONS);
    uint64_t tl = ns * ENTRY_SIZE;
    if (HDR_SIZE + tl > n)
        tl = n - HDR_SIZE;
    wr64(b + OFF_TABLE_CHECKSUM, XXH3_64bits(b + HDR_SIZE, (size_t)tl));
    wr64(b + OFF_HEADER_CHECKSUM, XXH3_64bits(b, OFF_HEADER_CHECKSUM));
}

/* Is `path` mapped in this process? A refused file must leave no mapping. */
static bool is_mapped(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (strstr(line, path))
            found = true;
    fclose(f);
    return found;
}

/* Open must fail with `want` (0 = any of corrupt/version/format), leaving
 * *out NULL and nothing mapped; the message must contain `part` if given. */
static void assert_refused(const char *path, sr_err want, const char *part)
{
    sr_ckpt *c = (sr_ckpt *)&c; /* must be reset to NULL */
    sr_err e = sr_ckpt_open(path, &c);
    if (want != SR_OK) {
        if (e != want)
            fail_msg("%s: %s (%s), expected %s", path, sr_err_name(e), sr_errmsg(),
                     sr_err_name(want));
    } else if (e != SR_ERR_CORRUPT && e != SR_ERR_VERSION && e != SR_ERR_FORMAT) {
        fail_msg("%s: %s (%s), expected corrupt, version or format", path, sr_err_name(e),
                 sr_errmsg());
    }
    assert_null(c);
    assert_false(is_mapped(path));
    if (part && !strstr(sr_errmsg(), part))
        fail_msg("message \"%s\" lacks \"%s\"", sr_errmsg(), part);
}

/* ---- a sample file ------------------------------------------------------------- */

static const float s_f32[5] = { 1.5f, -0.0f, 3.25e-30f, 65504.0f, -7.0f };
static const int64_t s_i64[3] = { INT64_MIN, -1, INT64_MAX };
static const uint32_t s_u32[2] = { 0, UINT32_MAX };
static const uint8_t s_u8[3] = { 0, 0x7f, 0xff };
static const int32_t s_i32[4] = { INT32_MIN, 0, 1, INT32_MAX };
static const uint64_t s_u64[1] = { UINT64_MAX };
static const double s_f64[2] = { 0.1, -1e300 };
static const char s_text[] = "{\"model\": \"sasrec\", \"d\": 128}\n\xce\xb3";

/* name, dtype, data, count: the sections in table order */
typedef struct sample_sec {
    const char *name;
    sr_ckpt_dtype dtype;
    const void *data;
    uint64_t count;
} sample_sec;
static const sample_sec sample[] = {
    { "model.emb", SR_CKPT_F32, s_f32, 5 },
    { "state.i64", SR_CKPT_I64, s_i64, 3 },
    { "empty.u8", SR_CKPT_U8, NULL, 0 },
    { "x.u32", SR_CKPT_U32, s_u32, 2 },
    { "bytes_3", SR_CKPT_U8, s_u8, 3 },
    { "config", SR_CKPT_TEXT, s_text, sizeof s_text - 1 },
    { "ints-32", SR_CKPT_I32, s_i32, 4 },
    { "big", SR_CKPT_U64, s_u64, 1 },
    { "f64", SR_CKPT_F64, s_f64, 2 },
    { "empty.text", SR_CKPT_TEXT, "", 0 },
    { "empty.last", SR_CKPT_F32, NULL, 0 },
};
#define N_SAMPLE ((int)SR_COUNTOF(sample))

static void write_sample(const char *path)
{
    sr_ckpt_writer *w = NULL;
    assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
    for (int i = 0; i < N_SAMPLE; i++) {
        if (sample[i].dtype == SR_CKPT_TEXT)
            assert_int_equal(sr_ckpt_add_text(w, sample[i].name, sample[i].data), SR_OK);
        else
            assert_int_equal(sr_ckpt_add(w, sample[i].name, sample[i].dtype, sample[i].data,
                                         sample[i].count),
                             SR_OK);
    }
    assert_int_equal(sr_ckpt_writer_write(w, path), SR_OK);
    sr_ckpt_writer_free(&w);
    assert_null(w);
}

/* A small file: three short sections (one empty) for the byte-flip test. */
static void write_small(const char *path)
{
    sr_ckpt_writer *w = NULL;
    assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
    assert_int_equal(sr_ckpt_add(w, "a", SR_CKPT_U8, s_u8, 3), SR_OK);
    assert_int_equal(sr_ckpt_add(w, "e", SR_CKPT_I32, NULL, 0), SR_OK);
    assert_int_equal(sr_ckpt_add(w, "w", SR_CKPT_F32, s_f32, 2), SR_OK);
    assert_int_equal(sr_ckpt_add_text(w, "t", "ok"), SR_OK);
    assert_int_equal(sr_ckpt_writer_write(w, path), SR_OK);
    sr_ckpt_writer_free(&w);
}

/* ---- round trips ------------------------------------------------------------------- */

static void test_ckpt_dtype_sizes(void **state)
{
    (void)state;
    assert_int_equal(sr_ckpt_dtype_size(SR_CKPT_TEXT), 1);
    assert_int_equal(sr_ckpt_dtype_size(SR_CKPT_U8), 1);
    assert_int_equal(sr_ckpt_dtype_size(SR_CKPT_I32), 4);
    assert_int_equal(sr_ckpt_dtype_size(SR_CKPT_U32), 4);
    assert_int_equal(sr_ckpt_dtype_size(SR_CKPT_F32), 4);
    assert_int_equal(sr_ckpt_dtype_size(SR_CKPT_I64), 8);
    assert_int_equal(sr_ckpt_dtype_size(SR_CKPT_U64), 8);
    assert_int_equal(sr_ckpt_dtype_size(SR_CKPT_F64), 8);
}

static void test_ckpt_round_trip_every_dtype_and_empty_sections(void **state)
{
    (void)state;
    const char *path = sr_test_path("all.ckpt");
    write_sample(path);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    assert_int_equal(sr_ckpt_section_count(c), N_SAMPLE);
    for (int i = 0; i < N_SAMPLE; i++) {
        assert_string_equal(sr_ckpt_section_name(c, (size_t)i), sample[i].name);
        const void *p = NULL;
        uint64_t n = 99;
        assert_int_equal(sr_ckpt_get(c, sample[i].name, sample[i].dtype, &p, &n), SR_OK);
        assert_int_equal(n, sample[i].count);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 64, 0);
        if (n > 0)
            assert_memory_equal(p, sample[i].data, n * sr_ckpt_dtype_size(sample[i].dtype));
    }
    /* -0.0f kept bit for bit */
    const void *p = NULL;
    assert_int_equal(sr_ckpt_get_exact(c, "model.emb", SR_CKPT_F32, &p, 5), SR_OK);
    assert_true(signbit(((const float *)p)[1]));
    sr_str t = { NULL, 1 };
    assert_int_equal(sr_ckpt_get_text(c, "config", &t), SR_OK);
    assert_int_equal(t.len, sizeof s_text - 1);
    assert_memory_equal(t.ptr, s_text, t.len);
    assert_int_equal(sr_ckpt_get_text(c, "empty.text", &t), SR_OK);
    assert_int_equal(t.len, 0);
    sr_ckpt_close(&c);
    assert_null(c);
    sr_ckpt_close(&c); /* NULL-safe */
    sr_ckpt_close(NULL);
}

/* The bytes on disk follow docs/formats.md: header fields, canonical offsets,
 * zero padding, checksums recomputed here. */
static void test_ckpt_layout_matches_documentation(void **state)
{
    (void)state;
    const char *path = sr_test_path("layout.ckpt");
    write_sample(path);
    size_t n = 0;
    uint8_t *b = sr_test_read_file(path, &n);
    assert_memory_equal(b, "SRCKPT\0\0", 8);
    assert_int_equal(rd32(b + OFF_VERSION), 1);
    assert_int_equal(rd32(b + OFF_BOM), 0x01020304u);
    assert_int_equal(b[OFF_BOM], 0x04); /* little-endian on disk */
    assert_int_equal(rd32(b + OFF_N_SECTIONS), N_SAMPLE);
    assert_int_equal(rd32(b + 20), 0);
    assert_int_equal(rd64(b + OFF_FILE_SIZE), n);
    assert_int_equal(n % 64, 0);
    for (int i = 32; i < 48; i++)
        assert_int_equal(b[i], 0);
    uint64_t table_end = HDR_SIZE + (uint64_t)N_SAMPLE * ENTRY_SIZE;
    assert_true(rd64(b + OFF_TABLE_CHECKSUM) == XXH3_64bits(b + HDR_SIZE, table_end - HDR_SIZE));
    assert_true(rd64(b + OFF_HEADER_CHECKSUM) == XXH3_64bits(b, 56));
    uint8_t *covered = calloc(n, 1);
    assert_non_null(covered);
    memset(covered, 1, table_end);
    uint64_t end = table_end;
    for (int i = 0; i < N_SAMPLE; i++) {
        const uint8_t *e = b + HDR_SIZE + (size_t)i * ENTRY_SIZE;
        char name[40] = { 0 };
        memcpy(name, e + E_NAME, 39);
        assert_string_equal(name, sample[i].name);
        for (size_t k = strlen(name); k < 39; k++)
            assert_int_equal(e[E_NAME + k], 0);
        assert_int_equal(e[E_DTYPE], (unsigned)sample[i].dtype);
        uint64_t off = rd64(e + E_OFFSET), bytes = rd64(e + E_BYTES);
        assert_int_equal(off, (end + 63) / 64 * 64);
        assert_int_equal(bytes, sample[i].count * sr_ckpt_dtype_size(sample[i].dtype));
        assert_true(rd64(e + E_CHECKSUM) == XXH3_64bits(b + off, bytes));
        if (bytes)
            assert_memory_equal(b + off, sample[i].data, bytes);
        memset(covered + off, 1, bytes);
        end = off + bytes;
    }
    assert_int_equal(n, (end + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++)
        if (!covered[i] && b[i] != 0)
            fail_msg("padding byte %zu is 0x%02x", i, b[i]);
    /* dtype codes, as documented */
    assert_int_equal(SR_CKPT_TEXT, 0);
    assert_int_equal(SR_CKPT_U8, 1);
    assert_int_equal(SR_CKPT_I32, 2);
    assert_int_equal(SR_CKPT_U32, 3);
    assert_int_equal(SR_CKPT_I64, 4);
    assert_int_equal(SR_CKPT_U64, 5);
    assert_int_equal(SR_CKPT_F32, 6);
    assert_int_equal(SR_CKPT_F64, 7);
    free(covered);
    free(b);
}

static void test_ckpt_zero_sections_is_header_only(void **state)
{
    (void)state;
    const char *path = sr_test_path("none.ckpt");
    sr_ckpt_writer *w = NULL;
    assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
    assert_int_equal(sr_ckpt_writer_write(w, path), SR_OK);
    sr_ckpt_writer_free(&w);
    sr_ckpt_writer_free(&w); /* NULL-safe */
    sr_ckpt_writer_free(NULL);
    size_t n = 0;
    free(sr_test_read_file(path, &n));
    assert_int_equal(n, 64);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    assert_int_equal(sr_ckpt_section_count(c), 0);
    const void *p;
    uint64_t k;
    assert_int_equal(sr_ckpt_get(c, "x", SR_CKPT_U8, &p, &k), SR_ERR_NOTFOUND);
    sr_ckpt_close(&c);
}

static void test_ckpt_name_of_39_bytes_fills_the_field(void **state)
{
    (void)state;
    const char *path = sr_test_path("long.ckpt");
    const char *name39 = "abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJ_0";
    assert_int_equal(strlen(name39), 39);
    sr_ckpt_writer *w = NULL;
    assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
    assert_int_equal(sr_ckpt_add(w, name39, SR_CKPT_I32, s_i32, 4), SR_OK);
    assert_int_equal(sr_ckpt_writer_write(w, path), SR_OK);
    sr_ckpt_writer_free(&w);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    assert_string_equal(sr_ckpt_section_name(c, 0), name39);
    const void *p = NULL;
    assert_int_equal(sr_ckpt_get_exact(c, name39, SR_CKPT_I32, &p, 4), SR_OK);
    assert_memory_equal(p, s_i32, sizeof s_i32);
    sr_ckpt_close(&c);
}

/* ---- look-ups ------------------------------------------------------------------------ */

static void test_ckpt_get_exact_requires_count(void **state)
{
    (void)state;
    const char *path = sr_test_path("exact.ckpt");
    write_sample(path);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    const void *p = NULL;
    assert_int_equal(sr_ckpt_get_exact(c, "state.i64", SR_CKPT_I64, &p, 3), SR_OK);
    assert_memory_equal(p, s_i64, sizeof s_i64);
    p = NULL;
    assert_int_equal(sr_ckpt_get_exact(c, "state.i64", SR_CKPT_I64, &p, 4), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "state.i64"));
    assert_null(p);
    assert_int_equal(sr_ckpt_get_exact(c, "state.i64", SR_CKPT_I64, &p, 2), SR_ERR_FORMAT);
    assert_int_equal(sr_ckpt_get_exact(c, "empty.u8", SR_CKPT_U8, &p, 0), SR_OK);
    assert_int_equal(sr_ckpt_get_exact(c, "empty.u8", SR_CKPT_U8, &p, 1), SR_ERR_FORMAT);
    assert_int_equal(sr_ckpt_get_exact(c, "nope", SR_CKPT_U8, &p, 0), SR_ERR_NOTFOUND);
    sr_ckpt_close(&c);
}

static void test_ckpt_wrong_dtype_is_format_naming_both(void **state)
{
    (void)state;
    const char *path = sr_test_path("dtype.ckpt");
    write_sample(path);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    const void *p = NULL;
    uint64_t n = 0;
    /* same element size, other type */
    assert_int_equal(sr_ckpt_get(c, "model.emb", SR_CKPT_I32, &p, &n), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "f32"));
    assert_non_null(strstr(sr_errmsg(), "i32"));
    assert_int_equal(sr_ckpt_get(c, "bytes_3", SR_CKPT_TEXT, &p, &n), SR_ERR_FORMAT);
    sr_str t;
    assert_int_equal(sr_ckpt_get_text(c, "bytes_3", &t), SR_ERR_FORMAT);
    assert_int_equal(sr_ckpt_get_exact(c, "big", SR_CKPT_I64, &p, 1), SR_ERR_FORMAT);
    sr_ckpt_close(&c);
}

static void test_ckpt_missing_section_and_file_not_found(void **state)
{
    (void)state;
    const char *path = sr_test_path("miss.ckpt");
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_ERR_NOTFOUND);
    assert_null(c);
    write_sample(path);
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    const void *p = NULL;
    uint64_t n = 0;
    assert_int_equal(sr_ckpt_get(c, "model.Emb", SR_CKPT_F32, &p, &n), SR_ERR_NOTFOUND);
    assert_non_null(strstr(sr_errmsg(), "model.Emb"));
    assert_int_equal(sr_ckpt_get(c, "model", SR_CKPT_F32, &p, &n), SR_ERR_NOTFOUND);
    sr_str t;
    assert_int_equal(sr_ckpt_get_text(c, "conf", &t), SR_ERR_NOTFOUND);
    sr_ckpt_close(&c);
}

/* ---- writer refusals ---------------------------------------------------------------- */

static void test_ckpt_add_refuses_bad_names_duplicates_and_too_many(void **state)
{
    (void)state;
    sr_ckpt_writer *w = NULL;
    assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
    static const char *const bad[] = { "",   "a b", "a/b",        "caf\xc3\xa9", "x\ty",
                                       "a:b", "..!", "0123456789012345678901234567890123456789" };
    for (size_t i = 0; i < SR_COUNTOF(bad); i++)
        assert_int_equal(sr_ckpt_add(w, bad[i], SR_CKPT_U8, s_u8, 1), SR_ERR_ARG);
    assert_int_equal(sr_ckpt_add(w, NULL, SR_CKPT_U8, s_u8, 1), SR_ERR_ARG);
    assert_int_equal(sr_ckpt_add_text(w, NULL, "x"), SR_ERR_ARG);
    assert_int_equal(sr_ckpt_add_text(w, "t", NULL), SR_ERR_ARG);
    assert_int_equal(sr_ckpt_add(w, "d", (sr_ckpt_dtype)8, s_u8, 1), SR_ERR_ARG);
    assert_int_equal(sr_ckpt_add(w, "d", (sr_ckpt_dtype)-1, s_u8, 1), SR_ERR_ARG);
    assert_int_equal(sr_ckpt_add(w, "d", SR_CKPT_U8, NULL, 1), SR_ERR_ARG);
    assert_int_equal(sr_ckpt_add(w, "ok", SR_CKPT_U8, s_u8, 1), SR_OK);
    assert_int_equal(sr_ckpt_add(w, "ok", SR_CKPT_F32, s_f32, 1), SR_ERR_ARG); /* duplicate */
    assert_non_null(strstr(sr_errmsg(), "ok"));
    assert_int_equal(sr_ckpt_add(w, "huge", SR_CKPT_F64, s_f64, UINT64_MAX / 4), SR_ERR_LIMIT);
    for (int i = 1; i < SR_CKPT_MAX_SECTIONS; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        assert_int_equal(sr_ckpt_add(w, name, SR_CKPT_U8, s_u8, 1), SR_OK);
    }
    assert_int_equal(sr_ckpt_add(w, "one.more", SR_CKPT_U8, s_u8, 1), SR_ERR_LIMIT);
    /* the refused sections left no trace: exactly 64 sections written */
    const char *path = sr_test_path("many.ckpt");
    assert_int_equal(sr_ckpt_writer_write(w, path), SR_OK);
    sr_ckpt_writer_free(&w);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    assert_int_equal(sr_ckpt_section_count(c), SR_CKPT_MAX_SECTIONS);
    assert_string_equal(sr_ckpt_section_name(c, 0), "ok");
    assert_string_equal(sr_ckpt_section_name(c, 63), "s63");
    sr_ckpt_close(&c);
}

/* ---- damaged files ---------------------------------------------------------------------- */

static void test_ckpt_every_byte_flip_refused(void **state)
{
    (void)state;
    char path[SR_TEST_PATH_MAX], bad[SR_TEST_PATH_MAX];
    sr_test_path_buf(path, sizeof path, "small.ckpt");
    sr_test_path_buf(bad, sizeof bad, "flipped.ckpt");
    write_small(path);
    size_t n = 0;
    uint8_t *b = sr_test_read_file(path, &n);
    assert_int_equal(n, 64 + 4 * 64 + 3 * 64); /* header, table, 3 padded payloads + empty */
    static const uint8_t masks[] = { 0x01, 0x80, 0xff };
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < SR_COUNTOF(masks); m++) {
            b[i] ^= masks[m];
            sr_test_write_file(bad, b, n);
            sr_ckpt *c = NULL;
            sr_err e = sr_ckpt_open(bad, &c);
            if (e != SR_ERR_CORRUPT && e != SR_ERR_VERSION && e != SR_ERR_FORMAT)
                fail_msg("byte %zu ^ 0x%02x: %s (%s)", i, masks[m], sr_err_name(e),
                         sr_errmsg());
            assert_null(c);
            b[i] ^= masks[m];
        }
    /* and the unmodified bytes still open */
    sr_test_write_file(bad, b, n);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(bad, &c), SR_OK);
    sr_ckpt_close(&c);
    assert_false(is_mapped(bad));
    free(b);
}

static void test_ckpt_every_truncation_refused(void **state)
{
    (void)state;
    char path[SR_TEST_PATH_MAX], cut[SR_TEST_PATH_MAX];
    sr_test_path_buf(path, sizeof path, "full.ckpt");
    sr_test_path_buf(cut, sizeof cut, "cut.ckpt");
    write_sample(path);
    size_t n = 0;
    uint8_t *b = sr_test_read_file(path, &n);
    for (size_t len = 0; len < n; len++) {
        sr_test_write_file(cut, b, len);
        assert_refused(cut, SR_ERR_CORRUPT, len < 64 ? "truncated" : NULL);
    }
    free(b);
}

static void test_ckpt_trailing_bytes_refused(void **state)
{
    (void)state;
    const char *path = sr_test_path("trail.ckpt");
    write_small(path);
    size_t n = 0;
    uint8_t *b = sr_test_read_file(path, &n);
    uint8_t *c = calloc(n + 64, 1);
    assert_non_null(c);
    memcpy(c, b, n);
    sr_test_write_file(path, c, n + 1);
    assert_refused(path, SR_ERR_CORRUPT, "trailing");
    sr_test_write_file(path, c, n + 64); /* a whole zero block too */
    assert_refused(path, SR_ERR_CORRUPT, "trailing");
    free(c);
    free(b);
}

static void test_ckpt_not_a_checkpoint_is_format(void **state)
{
    (void)state;
    const char *path = sr_test_path("text.ckpt");
    sr_test_write_text(path, "session_id,session_position,session_length,track_id_clean,skip_1\n"
                             "a,1,2,t,False\n");
    assert_refused(path, SR_ERR_FORMAT, "not a seqrec checkpoint");
    sr_test_write_text(path, "abc");
    assert_refused(path, SR_ERR_FORMAT, "not a seqrec checkpoint");
    sr_test_write_text(path, "SRCKPx");
    assert_refused(path, SR_ERR_FORMAT, NULL);
    /* a directory is no file at all */
    char dir[SR_TEST_PATH_MAX];
    sr_test_path_buf(dir, sizeof dir, "adir");
    assert_int_equal(mkdir(dir, 0755), 0);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(dir, &c), SR_ERR_IO);
    assert_null(c);
}

static void test_ckpt_other_version_and_byte_order_refused(void **state)
{
    (void)state;
    const char *path = sr_test_path("ver.ckpt");
    write_small(path);
    size_t n = 0;
    uint8_t *b = sr_test_read_file(path, &n);
    wr32(b + OFF_VERSION, 2);
    reseal(b, n);
    sr_test_write_file(path, b, n);
    assert_refused(path, SR_ERR_VERSION, "version 2");
    wr32(b + OFF_VERSION, 1);
    wr32(b + OFF_BOM, 0x04030201u);
    reseal(b, n);
    sr_test_write_file(path, b, n);
    assert_refused(path, SR_ERR_VERSION, "byte order");
    /* resealed but otherwise unchanged: opens (reseal follows the document) */
    wr32(b + OFF_BOM, 0x01020304u);
    reseal(b, n);
    sr_test_write_file(path, b, n);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    sr_ckpt_close(&c);
    free(b);
}

/* Table damage behind valid checksums: each must be refused as corrupt. */
typedef void (*damage_fn)(uint8_t *b, size_t n);

static uint8_t *entry(uint8_t *b, int i) { return b + HDR_SIZE + (size_t)i * ENTRY_SIZE; }

/* small file: a (u8 x3) @ 320, e (i32 x0) @ 384, w (f32 x2) @ 384, t (text 2) @ 448, size 512 */
static void dmg_offset_past_end(uint8_t *b, size_t n) { wr64(entry(b, 2) + E_OFFSET, n + 64); }
static void dmg_offset_huge(uint8_t *b, size_t n) { wr64(entry(b, 3) + E_OFFSET, UINT64_MAX - 63); }
static void dmg_bytes_huge(uint8_t *b, size_t n) { wr64(entry(b, 3) + E_BYTES, UINT64_MAX); }
static void dmg_bytes_past_end(uint8_t *b, size_t n) { wr64(entry(b, 3) + E_BYTES, 65); }
static void dmg_misaligned(uint8_t *b, size_t n) { wr64(entry(b, 2) + E_OFFSET, 388); }
static void dmg_overlap(uint8_t *b, size_t n) { wr64(entry(b, 2) + E_OFFSET, 320); }
static void dmg_into_table(uint8_t *b, size_t n) { wr64(entry(b, 0) + E_OFFSET, 256); }
static void dmg_empty_moved(uint8_t *b, size_t n) { wr64(entry(b, 1) + E_OFFSET, 448); }
static void dmg_partial_element(uint8_t *b, size_t n) { wr64(entry(b, 2) + E_BYTES, 7); }
static void dmg_dtype(uint8_t *b, size_t n) { entry(b, 1)[E_DTYPE] = 8; }
static void dmg_name_empty(uint8_t *b, size_t n) { entry(b, 0)[0] = 0; }
static void dmg_name_char(uint8_t *b, size_t n) { entry(b, 0)[0] = '/'; }
static void dmg_name_after_nul(uint8_t *b, size_t n) { entry(b, 0)[5] = 'x'; }
static void dmg_name_high_byte(uint8_t *b, size_t n) { entry(b, 0)[1] = 0xc3; }
static void dmg_name_duplicate(uint8_t *b, size_t n) { entry(b, 3)[0] = 'a'; }
static void dmg_too_many(uint8_t *b, size_t n) { wr32(b + OFF_N_SECTIONS, 65); }
static void dmg_table_past_end(uint8_t *b, size_t n) { wr32(b + OFF_N_SECTIONS, 20); }
static void dmg_reserved(uint8_t *b, size_t n) { b[40] = 1; }
static void dmg_reserved0(uint8_t *b, size_t n) { b[21] = 1; }
static void dmg_padding(uint8_t *b, size_t n) { b[320 + 3] = 1; }
static void dmg_tail_padding(uint8_t *b, size_t n) { b[n - 1] = 1; }
static void dmg_payload(uint8_t *b, size_t n) { b[448] ^= 1; }
static void dmg_file_size(uint8_t *b, size_t n) { wr64(b + OFF_FILE_SIZE, n - 64); }
static void dmg_fewer_sections(uint8_t *b, size_t n) { wr32(b + OFF_N_SECTIONS, 3); }

static void test_ckpt_hostile_table_behind_valid_checksums_refused(void **state)
{
    (void)state;
    char path[SR_TEST_PATH_MAX], bad[SR_TEST_PATH_MAX];
    sr_test_path_buf(path, sizeof path, "base.ckpt");
    sr_test_path_buf(bad, sizeof bad, "hostile.ckpt");
    write_small(path);
    size_t n = 0;
    uint8_t *orig = sr_test_read_file(path, &n);
    assert_int_equal(n, 512);
    /* the offsets the damage functions assume */
    assert_int_equal(rd64(entry(orig, 0) + E_OFFSET), 320);
    assert_int_equal(rd64(entry(orig, 1) + E_OFFSET), 384);
    assert_int_equal(rd64(entry(orig, 2) + E_OFFSET), 384);
    assert_int_equal(rd64(entry(orig, 3) + E_OFFSET), 448);
    static const struct {
        const char *what;
        damage_fn fn;
    } cases[] = {
        { "offset past end", dmg_offset_past_end },
        { "offset near UINT64_MAX", dmg_offset_huge },
        { "bytes UINT64_MAX", dmg_bytes_huge },
        { "bytes past end", dmg_bytes_past_end },
        { "misaligned", dmg_misaligned },
        { "overlapping", dmg_overlap },
        { "payload inside the table", dmg_into_table },
        { "empty section moved forward", dmg_empty_moved },
        { "partial element", dmg_partial_element },
        { "dtype 8", dmg_dtype },
        { "empty name", dmg_name_empty },
        { "bad name character", dmg_name_char },
        { "bytes after the name's NUL", dmg_name_after_nul },
        { "non-ASCII name byte", dmg_name_high_byte },
        { "duplicate name", dmg_name_duplicate },
        { "65 sections", dmg_too_many },
        { "table past end", dmg_table_past_end },
        { "reserved header bytes", dmg_reserved },
        { "reserved header u32", dmg_reserved0 },
        { "padding between payloads", dmg_padding },
        { "padding after the last payload", dmg_tail_padding },
        { "payload byte", dmg_payload },
        { "file size", dmg_file_size },
        { "fewer sections than payloads", dmg_fewer_sections },
    };
    uint8_t *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < SR_COUNTOF(cases); i++) {
        memcpy(b, orig, n);
        cases[i].fn(b, n);
        reseal(b, n);
        sr_test_write_file(bad, b, n);
        sr_ckpt *c = NULL;
        sr_err e = sr_ckpt_open(bad, &c);
        if (e != SR_ERR_CORRUPT)
            fail_msg("%s: %s (%s), expected corrupt", cases[i].what, sr_err_name(e), sr_errmsg());
        assert_null(c);
    }
    free(b);
    free(orig);
}

/* A payload moved one block later, with zero padding before it and every
 * size and checksum consistent, is still refused: the layout is canonical. */
static void test_ckpt_gap_before_payload_refused(void **state)
{
    (void)state;
    const char *path = sr_test_path("gap.ckpt");
    sr_ckpt_writer *w = NULL;
    assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
    assert_int_equal(sr_ckpt_add(w, "a", SR_CKPT_U8, s_u8, 3), SR_OK);
    assert_int_equal(sr_ckpt_writer_write(w, path), SR_OK);
    sr_ckpt_writer_free(&w);
    size_t n = 0;
    uint8_t *b = sr_test_read_file(path, &n);
    assert_int_equal(n, 192); /* header, one entry, payload at 128 */
    uint8_t g[256] = { 0 };
    memcpy(g, b, 128);
    memcpy(g + 192, b + 128, 3);
    wr64(g + HDR_SIZE + E_OFFSET, 192);
    wr64(g + OFF_FILE_SIZE, 256);
    reseal(g, sizeof g);
    sr_test_write_file(path, g, sizeof g);
    assert_refused(path, SR_ERR_CORRUPT, "expected offset 128");
    free(b);
}

/* ---- atomic writing ------------------------------------------------------------------- */

static void test_ckpt_write_into_missing_directory_fails_cleanly(void **state)
{
    (void)state;
    char path[SR_TEST_PATH_MAX];
    sr_test_path_buf(path, sizeof path, "no/such/dir/m.ckpt");
    sr_ckpt_writer *w = NULL;
    assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
    assert_int_equal(sr_ckpt_add(w, "a", SR_CKPT_U8, s_u8, 3), SR_OK);
    assert_int_equal(sr_ckpt_writer_write(w, path), SR_ERR_IO);
    assert_non_null(strstr(sr_errmsg(), "no/such/dir/m.ckpt.tmp"));
    sr_ckpt_writer_free(&w);
    assert_int_equal(sr_test_count_entries(sr_test_dir(), NULL, 0), 0);
}

static void test_ckpt_write_over_directory_fails_and_leaves_no_tmp(void **state)
{
    (void)state;
    char path[SR_TEST_PATH_MAX], inner[SR_TEST_PATH_MAX];
    sr_test_path_buf(path, sizeof path, "m.ckpt");
    sr_test_path_buf(inner, sizeof inner, "m.ckpt/keep");
    assert_int_equal(mkdir(path, 0755), 0);
    sr_test_write_text(inner, "keep me");
    sr_ckpt_writer *w = NULL;
    assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
    assert_int_equal(sr_ckpt_add(w, "a", SR_CKPT_U8, s_u8, 3), SR_OK);
    assert_int_equal(sr_ckpt_writer_write(w, path), SR_ERR_IO);
    assert_non_null(strstr(sr_errmsg(), "rename"));
    sr_ckpt_writer_free(&w);
    /* only the directory, with its file */
    assert_int_equal(sr_test_count_entries(sr_test_dir(), NULL, 0), 1);
    char *kept = sr_test_read_file(inner, NULL);
    assert_string_equal(kept, "keep me");
    free(kept);
}

/* A write that fails half-way (the file size limit makes write() fail with
 * EFBIG) leaves no .tmp and the previous file as it was. */
static void test_ckpt_failed_write_keeps_existing_file(void **state)
{
    (void)state;
    char path[SR_TEST_PATH_MAX];
    sr_test_path_buf(path, sizeof path, "keep.ckpt");
    write_small(path);
    size_t n0 = 0;
    uint8_t *before = sr_test_read_file(path, &n0);
    static float big[4096];
    for (int i = 0; i < 4096; i++)
        big[i] = (float)i;
    sr_ckpt_writer *w = NULL;
    assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
    assert_int_equal(sr_ckpt_add(w, "big", SR_CKPT_F32, big, 4096), SR_OK);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    struct rlimit lim = old;
    lim.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    sr_err e = sr_ckpt_writer_write(w, path);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(e, SR_ERR_IO);
    assert_non_null(strstr(sr_errmsg(), "keep.ckpt.tmp"));
    sr_ckpt_writer_free(&w);
    size_t n1 = 0;
    uint8_t *after = sr_test_read_file(path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    assert_int_equal(sr_test_count_entries(sr_test_dir(), NULL, 0), 1);
    free(before);
    free(after);
}

static void test_ckpt_planted_tmp_symlink_does_not_redirect(void **state)
{
    (void)state;
    char path[SR_TEST_PATH_MAX], tmp[SR_TEST_PATH_MAX], victim[SR_TEST_PATH_MAX];
    sr_test_path_buf(path, sizeof path, "m.ckpt");
    sr_test_path_buf(tmp, sizeof tmp, "m.ckpt.tmp");
    sr_test_path_buf(victim, sizeof victim, "victim");
    sr_test_write_text(victim, "precious");
    assert_int_equal(symlink(victim, tmp), 0);
    write_small(path);
    char *v = sr_test_read_file(victim, NULL);
    assert_string_equal(v, "precious");
    free(v);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(lstat(tmp, &st), -1); /* the link is gone, no .tmp left */
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    assert_int_equal(sr_ckpt_section_count(c), 4);
    sr_ckpt_close(&c);
    /* a stale regular .tmp is replaced too */
    sr_test_write_text(tmp, "stale");
    write_sample(path);
    assert_false(sr_test_exists(tmp));
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    assert_int_equal(sr_ckpt_section_count(c), N_SAMPLE);
    sr_ckpt_close(&c);
    assert_int_equal(sr_test_count_entries(sr_test_dir(), NULL, 0), 2); /* m.ckpt, victim */
}

/* Rewriting replaces the file; a reader that opened the old one keeps
 * seeing it (the rename swaps the name, the mapping stays). */
static void test_ckpt_rewrite_replaces_file_open_reader_unaffected(void **state)
{
    (void)state;
    const char *path = sr_test_path("re.ckpt");
    write_small(path);
    sr_ckpt *old = NULL;
    assert_int_equal(sr_ckpt_open(path, &old), SR_OK);
    write_sample(path);
    sr_ckpt *c = NULL;
    assert_int_equal(sr_ckpt_open(path, &c), SR_OK);
    assert_int_equal(sr_ckpt_section_count(c), N_SAMPLE);
    assert_int_equal(sr_ckpt_section_count(old), 4);
    sr_str t;
    assert_int_equal(sr_ckpt_get_text(old, "t", &t), SR_OK);
    assert_int_equal(t.len, 2);
    assert_memory_equal(t.ptr, "ok", 2);
    sr_ckpt_close(&old);
    sr_ckpt_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ckpt_dtype_sizes),
        SR_TEST_IN_DIR(test_ckpt_round_trip_every_dtype_and_empty_sections),
        SR_TEST_IN_DIR(test_ckpt_layout_matches_documentation),
        SR_TEST_IN_DIR(test_ckpt_zero_sections_is_header_only),
        SR_TEST_IN_DIR(test_ckpt_name_of_39_bytes_fills_the_field),
        SR_TEST_IN_DIR(test_ckpt_get_exact_requires_count),
        SR_TEST_IN_DIR(test_ckpt_wrong_dtype_is_format_naming_both),
        SR_TEST_IN_DIR(test_ckpt_missing_section_and_file_not_found),
        SR_TEST_IN_DIR(test_ckpt_add_refuses_bad_names_duplicates_and_too_many),
        SR_TEST_IN_DIR(test_ckpt_every_byte_flip_refused),
        SR_TEST_IN_DIR(test_ckpt_every_truncation_refused),
        SR_TEST_IN_DIR(test_ckpt_trailing_bytes_refused),
        SR_TEST_IN_DIR(test_ckpt_not_a_checkpoint_is_format),
        SR_TEST_IN_DIR(test_ckpt_other_version_and_byte_order_refused),
        SR_TEST_IN_DIR(test_ckpt_hostile_table_behind_valid_checksums_refused),
        SR_TEST_IN_DIR(test_ckpt_gap_before_payload_refused),
        SR_TEST_IN_DIR(test_ckpt_write_into_missing_directory_fails_cleanly),
        SR_TEST_IN_DIR(test_ckpt_write_over_directory_fails_and_leaves_no_tmp),
        SR_TEST_IN_DIR(test_ckpt_failed_write_keeps_existing_file),
        SR_TEST_IN_DIR(test_ckpt_planted_tmp_symlink_does_not_redirect),
        SR_TEST_IN_DIR(test_ckpt_rewrite_replaces_file_open_reader_unaffected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
