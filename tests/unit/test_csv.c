/* test_csv.c - the streaming CSV reader and the field parsers. Expected
 * values are written out by hand (dates checked with Python's calendar.timegm). */
#include "sr_test.h"

#include <zlib.h>

#include "sr_csv.h"

static void write_gz(const char *path, const char *data, size_t len)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    size_t done = 0;
    while (done < len) {
        unsigned chunk = (unsigned)SR_MIN(len - done, (size_t)1 << 20);
        assert_int_equal(gzwrite(gz, data + done, chunk), (int)chunk);
        done += chunk;
    }
    assert_int_equal(gzclose(gz), Z_OK);
}

static void assert_field(const sr_str *f, uint32_t i, const char *want)
{
    if (!sr_str_eqc(f[i], want))
        fail_msg("field %u: got \"%.*s\", want \"%s\"", i, (int)f[i].len, f[i].ptr, want);
}

/* Read the next record and compare it with want[0..n). */
static void expect_record(sr_csv *c, uint64_t line, const char *const *want, uint32_t n)
{
    const sr_str *f;
    uint32_t nf;
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
    assert_int_equal(nf, n);
    for (uint32_t i = 0; i < n; i++)
        assert_field(f, i, want[i]);
    assert_int_equal(sr_csv_lineno(c), line);
}

static void expect_eof(sr_csv *c)
{
    const sr_str *f;
    uint32_t nf = 99;
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
    assert_int_equal(nf, 0);
}

static void test_csv_plain_fields_lines_and_bytes(void **state)
{
    (void)state;
    const char *text = "a,b,c\n1,22,333\n";
    const char *p = sr_test_path("plain.csv");
    sr_test_write_file(p, text, strlen(text));
    sr_csv *c = NULL;
    assert_int_equal(sr_csv_open(p, 0, &c), SR_OK);
    assert_string_equal(sr_csv_path(c), p);
    const char *h[] = { "a", "b", "c" }, *r[] = { "1", "22", "333" };
    expect_record(c, 1, h, 3);
    assert_int_equal(sr_csv_bytes(c), 6);
    expect_record(c, 2, r, 3);
    sr_str raw = sr_csv_raw(c);
    assert_true(sr_str_eqc(raw, "1,22,333"));
    expect_eof(c);
    assert_int_equal(sr_csv_bytes(c), strlen(text));
    sr_csv_free(&c);
    assert_null(c);
    sr_csv_free(&c); /* NULL-safe */
}

static void test_csv_gzip_detected_by_magic_not_name(void **state)
{
    (void)state;
    const char *text = "x,y\nfoo,bar\n";
    const char *p = sr_test_path("really_gzip.csv");
    write_gz(p, text, strlen(text));
    sr_csv *c = NULL;
    assert_int_equal(sr_csv_open(p, 0, &c), SR_OK);
    const char *h[] = { "x", "y" }, *r[] = { "foo", "bar" };
    expect_record(c, 1, h, 2);
    expect_record(c, 2, r, 2);
    expect_eof(c);
    assert_int_equal(sr_csv_bytes(c), strlen(text));
    sr_csv_free(&c);
}

/* Lines of varying length over several 1 MiB blocks, plain and gzip: every
 * line must come back whole, including those cut by a block boundary. */
static void check_many_lines(const char *path, uint32_t n_lines)
{
    sr_csv *c = NULL;
    assert_int_equal(sr_csv_open(path, ',', &c), SR_OK);
    for (uint32_t i = 0; i < n_lines; i++) {
        const sr_str *f;
        uint32_t nf;
        assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
        assert_int_equal(nf, 3);
        int64_t a, b;
        assert_true(sr_parse_i64(f[0], &a));
        assert_int_equal(a, i);
        assert_int_equal(f[1].len, i % 97);
        for (size_t k = 0; k < f[1].len; k++)
            assert_int_equal(f[1].ptr[k], 'a' + (char)(i % 26));
        assert_true(sr_parse_i64(f[2], &b));
        assert_int_equal(b, (int64_t)i * 7);
        assert_int_equal(sr_csv_lineno(c), i + 1);
    }
    expect_eof(c);
    sr_csv_free(&c);
}

static void test_csv_lines_across_block_boundaries_plain_and_gzip(void **state)
{
    (void)state;
    const uint32_t n_lines = 60000; /* ~3.4 MB: several refills */
    size_t cap = (size_t)n_lines * 130, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (uint32_t i = 0; i < n_lines; i++) {
        len += (size_t)sprintf(text + len, "%u,", i);
        memset(text + len, 'a' + (int)(i % 26), i % 97);
        len += i % 97;
        len += (size_t)sprintf(text + len, ",%u\n", i * 7);
    }
    assert_true(len > 3u << 20);
    sr_test_write_file(sr_test_path("many.csv"), text, len);
    write_gz(sr_test_path("many.csv.gz"), text, len);
    free(text);
    check_many_lines(sr_test_path("many.csv"), n_lines);
    check_many_lines(sr_test_path("many.csv.gz"), n_lines);
}

static void test_csv_truncated_gzip_is_io_error(void **state)
{
    (void)state;
    size_t len = 200000;
    char *text = malloc(len);
    assert_non_null(text);
    for (size_t i = 0; i < len; i++)
        text[i] = (i % 40 == 39) ? '\n' : (char)('a' + (i * 7919) % 26);
    const char *p = sr_test_path("trunc.csv.gz");
    write_gz(p, text, len);
    free(text);
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    char buf[4096];
    size_t got = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    assert_true(got > 1000);
    sr_test_write_file(p, buf, got / 2);
    sr_csv *c = NULL;
    assert_int_equal(sr_csv_open(p, 0, &c), SR_OK);
    sr_err err = SR_OK;
    for (;;) {
        const sr_str *f;
        uint32_t nf;
        err = sr_csv_read(c, &f, &nf);
        if (err != SR_OK || nf == 0)
            break;
    }
    assert_int_equal(err, SR_ERR_IO);
    assert_non_null(strstr(sr_errmsg(), "trunc.csv.gz"));
    sr_csv_free(&c);
}

static void test_csv_quoted_fields(void **state)
{
    (void)state;
    const char *text =
        "\"a,b\",\"say \"\"hi\"\"\",plain,\"\",x\"y\n"
        "\"ab\"cd,e\n"
        "\"unterminated,z\n"
        "\"last\"\n"
        /* quotes found only after some fields were split: in a later
         * 16-byte block, and in the bytes after the last whole block */
        "0123456789abcdef,0123,\"x,y\",0123456789abcdef\n"
        "0123456789abcdef,0123456789abcdef,\"x,y\"\n";
    const char *p = sr_test_path("quoted.csv");
    sr_test_write_file(p, text, strlen(text));
    sr_csv *c = NULL;
    assert_int_equal(sr_csv_open(p, 0, &c), SR_OK);
    const char *r1[] = { "a,b", "say \"hi\"", "plain", "", "x\"y" };
    expect_record(c, 1, r1, 5);
    assert_true(sr_str_eqc(sr_csv_raw(c), "\"a,b\",\"say \"\"hi\"\"\",plain,\"\",x\"y"));
    const char *r2[] = { "abcd", "e" };
    expect_record(c, 2, r2, 2);
    const char *r3[] = { "unterminated,z" };
    expect_record(c, 3, r3, 1);
    const char *r4[] = { "last" };
    expect_record(c, 4, r4, 1);
    const char *r5[] = { "0123456789abcdef", "0123", "x,y", "0123456789abcdef" };
    expect_record(c, 5, r5, 4);
    const char *r6[] = { "0123456789abcdef", "0123456789abcdef", "x,y" };
    expect_record(c, 6, r6, 3);
    expect_eof(c);
    sr_csv_free(&c);
}

static void test_csv_crlf_empty_lines_bom_and_missing_final_newline(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBFh1,h2\r\n\r\n\n1,2\r\n,\n3,4";
    const char *p = sr_test_path("crlf.csv");
    sr_test_write_file(p, text, strlen(text));
    sr_csv *c = NULL;
    assert_int_equal(sr_csv_open(p, 0, &c), SR_OK);
    const char *h[] = { "h1", "h2" }, *r1[] = { "1", "2" }, *r2[] = { "", "" }, *r3[] = { "3", "4" };
    expect_record(c, 1, h, 2);
    expect_record(c, 4, r1, 2);
    assert_true(sr_str_eqc(sr_csv_raw(c), "1,2"));
    expect_record(c, 5, r2, 2);
    expect_record(c, 6, r3, 2);
    expect_eof(c);
    assert_int_equal(sr_csv_bytes(c), strlen(text));
    sr_csv_free(&c);
}

static void test_csv_line_at_max_accepted_over_max_is_format_error(void **state)
{
    (void)state;
    size_t n = SR_CSV_MAX_LINE;
    char *text = malloc(n + 16);
    assert_non_null(text);
    /* line 1 "h", line 2 exactly SR_CSV_MAX_LINE bytes, line 3 one more */
    text[0] = 'h';
    text[1] = '\n';
    memset(text + 2, 'x', n);
    text[2 + n] = '\n';
    sr_test_write_file(sr_test_path("atmax.csv"), text, n + 3);
    sr_csv *c = NULL;
    const sr_str *f;
    uint32_t nf;
    assert_int_equal(sr_csv_open(sr_test_path("atmax.csv"), 0, &c), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
    assert_int_equal(nf, 1);
    assert_int_equal(f[0].len, n);
    expect_eof(c);
    sr_csv_free(&c);

    text[2 + n] = 'x';
    text[3 + n] = '\n';
    sr_test_write_file(sr_test_path("overmax.csv"), text, n + 4);
    assert_int_equal(sr_csv_open(sr_test_path("overmax.csv"), 0, &c), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "overmax.csv:2: line longer than"));
    sr_csv_free(&c);

    /* the same without a final newline: the line ends at end of file */
    sr_test_write_file(sr_test_path("overmax_eof.csv"), text, n + 3);
    assert_int_equal(sr_csv_open(sr_test_path("overmax_eof.csv"), 0, &c), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "overmax_eof.csv:2:"));
    sr_csv_free(&c);
    free(text);
}

static void test_csv_too_many_fields_is_format_error(void **state)
{
    (void)state;
    char text[2048];
    size_t len = 0;
    text[len++] = 'h';
    text[len++] = '\n';
    for (int i = 0; i < SR_CSV_MAX_FIELDS; i++)
        text[len++] = ',';
    text[len++] = '\n';
    sr_test_write_file(sr_test_path("wide.csv"), text, len);
    sr_csv *c = NULL;
    const sr_str *f;
    uint32_t nf;
    assert_int_equal(sr_csv_open(sr_test_path("wide.csv"), 0, &c), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "wide.csv:2: more than 256 fields"));
    sr_csv_free(&c);

    /* the same through the quoted-field path: "q" and 256 more fields */
    char quoted[2048];
    memcpy(quoted, "h\n\"q\"", 6);
    memcpy(quoted + 6, text + 2, len - 2);
    sr_test_write_file(sr_test_path("wide_quoted.csv"), quoted, len + 4);
    assert_int_equal(sr_csv_open(sr_test_path("wide_quoted.csv"), 0, &c), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "wide_quoted.csv:2: more than 256 fields"));
    sr_csv_free(&c);

    /* exactly SR_CSV_MAX_FIELDS fields is fine */
    len -= 2;
    text[len++] = '\n';
    sr_test_write_file(sr_test_path("wide_ok.csv"), text, len);
    assert_int_equal(sr_csv_open(sr_test_path("wide_ok.csv"), 0, &c), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
    assert_int_equal(sr_csv_read(c, &f, &nf), SR_OK);
    assert_int_equal(nf, SR_CSV_MAX_FIELDS);
    sr_csv_free(&c);
}

static void test_csv_tab_delimiter_by_extension_or_explicit(void **state)
{
    (void)state;
    const char *text = "a\tb,c\n1\t2,3\n";
    const char *h_tab[] = { "a", "b,c" }, *h_comma[] = { "a\tb", "c" };
    sr_csv *c = NULL;
    sr_test_write_file(sr_test_path("t.tsv"), text, strlen(text));
    assert_int_equal(sr_csv_open(sr_test_path("t.tsv"), 0, &c), SR_OK);
    expect_record(c, 1, h_tab, 2);
    sr_csv_free(&c);
    write_gz(sr_test_path("t.tsv.gz"), text, strlen(text));
    assert_int_equal(sr_csv_open(sr_test_path("t.tsv.gz"), 0, &c), SR_OK);
    expect_record(c, 1, h_tab, 2);
    sr_csv_free(&c);
    assert_int_equal(sr_csv_open(sr_test_path("t.tsv"), ',', &c), SR_OK);
    expect_record(c, 1, h_comma, 2);
    sr_csv_free(&c);
    sr_test_write_file(sr_test_path("t.csv"), text, strlen(text));
    assert_int_equal(sr_csv_open(sr_test_path("t.csv"), 0, &c), SR_OK);
    expect_record(c, 1, h_comma, 2);
    sr_csv_free(&c);
}

static void test_csv_trailing_delimiter_gives_empty_field(void **state)
{
    (void)state;
    sr_test_write_file(sr_test_path("trail.csv"), "a,b,\n,\n", 7);
    sr_csv *c = NULL;
    assert_int_equal(sr_csv_open(sr_test_path("trail.csv"), 0, &c), SR_OK);
    const char *r1[] = { "a", "b", "" }, *r2[] = { "", "" };
    expect_record(c, 1, r1, 3);
    expect_record(c, 2, r2, 2);
    expect_eof(c);
    sr_csv_free(&c);
}

static void test_csv_empty_file_gives_eof_and_missing_file_io_error(void **state)
{
    (void)state;
    sr_test_write_file(sr_test_path("empty.csv"), "", 0);
    sr_csv *c = NULL;
    assert_int_equal(sr_csv_open(sr_test_path("empty.csv"), 0, &c), SR_OK);
    expect_eof(c);
    sr_csv_free(&c);
    assert_int_equal(sr_csv_open(sr_test_path("nope.csv"), 0, &c), SR_ERR_IO);
    assert_null(c);
    assert_non_null(strstr(sr_errmsg(), "nope.csv"));
}

static void test_csv_columns_any_order_and_optional(void **state)
{
    (void)state;
    sr_str hdr[] = { sr_str_c("c"), sr_str_c("a"), sr_str_c("b") };
    const char *names[] = { "a", "b", "c", "d" };
    const bool optional[] = { false, false, false, true };
    int32_t ix[4];
    assert_int_equal(sr_csv_columns("f.csv", hdr, 3, names, optional, 4, ix), SR_OK);
    assert_int_equal(ix[0], 1);
    assert_int_equal(ix[1], 2);
    assert_int_equal(ix[2], 0);
    assert_int_equal(ix[3], -1);
}

static void test_csv_columns_missing_column_message(void **state)
{
    (void)state;
    sr_str hdr[] = { sr_str_c("session_id"), sr_str_c("session_position"), sr_str_c("skip_1") };
    const char *names[] = { "session_id", "skip_2" };
    int32_t ix[2];
    assert_int_equal(sr_csv_columns("file.csv", hdr, 3, names, NULL, 2, ix), SR_ERR_COLUMN);
    assert_string_equal(sr_errmsg(),
                        "file.csv: missing column \"skip_2\"; found: session_id, session_position, skip_1");
}

static void test_parse_bool_accepts_and_rejects(void **state)
{
    (void)state;
    const char *yes[] = { "True", "true", "1" }, *no[] = { "False", "false", "0" };
    const char *bad[] = { "", "TRUE", "yes", "2", "Tru", "False ", " 1", "-1", "t" };
    bool b;
    for (size_t i = 0; i < 3; i++) {
        b = false;
        assert_true(sr_parse_bool(sr_str_c(yes[i]), &b));
        assert_true(b);
        b = true;
        assert_true(sr_parse_bool(sr_str_c(no[i]), &b));
        assert_false(b);
    }
    for (size_t i = 0; i < SR_COUNTOF(bad); i++) {
        b = true;
        if (sr_parse_bool(sr_str_c(bad[i]), &b))
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(b); /* untouched */
    }
}

static void test_parse_i64_accepts_and_rejects(void **state)
{
    (void)state;
    struct { const char *s; int64_t v; } ok[] = {
        { "0", 0 }, { "-5", -5 }, { "+7", 7 }, { "0042", 42 },
        { "9223372036854775807", INT64_MAX }, { "-9223372036854775808", INT64_MIN },
    };
    const char *bad[] = { "", "-", "+", "1a", " 1", "1 ", "9223372036854775808",
                          "-9223372036854775809", "1.0", "1e3", "99999999999999999999" };
    for (size_t i = 0; i < SR_COUNTOF(ok); i++) {
        int64_t v = 0;
        assert_true(sr_parse_i64(sr_str_c(ok[i].s), &v));
        assert_int_equal(v, ok[i].v);
    }
    for (size_t i = 0; i < SR_COUNTOF(bad); i++) {
        int64_t v = 123;
        if (sr_parse_i64(sr_str_c(bad[i]), &v))
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(v, 123);
    }
}

static void test_parse_f64_accepts_and_rejects(void **state)
{
    (void)state;
    struct { const char *s; double v; } ok[] = {
        { "0", 0.0 }, { "0.5", 0.5 }, { "-2.25", -2.25 }, { "+3", 3.0 }, { ".5", 0.5 },
        { "5.", 5.0 }, { "1e3", 1000.0 }, { "1.5E-2", 0.015 }, { "0.1", 0.1 },
        { "123456789012345678", 123456789012345678.0 }, { "46186", 46186.0 },
        { "0.30000000000000004", 0.30000000000000004 },
    };
    const char *bad[] = { "", "abc", "inf", "nan", "-inf", "1e999", "0x10", " 1", "1 ",
                          "1,5", "1.2.3", ".", "-", "e5", "1e" };
    for (size_t i = 0; i < SR_COUNTOF(ok); i++) {
        double v = -1;
        if (!sr_parse_f64(sr_str_c(ok[i].s), &v))
            fail_msg("rejected \"%s\"", ok[i].s);
        /* exact: both sides are the correctly rounded double */
        if (v != ok[i].v)
            fail_msg("\"%s\" -> %.17g, want %.17g", ok[i].s, v, ok[i].v);
    }
    for (size_t i = 0; i < SR_COUNTOF(bad); i++) {
        double v = 7;
        if (sr_parse_f64(sr_str_c(bad[i]), &v))
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(v == 7);
    }
}

static void test_parse_date_accepts_and_rejects(void **state)
{
    (void)state;
    struct { const char *s; int64_t v; } ok[] = {
        { "1970-01-01", 0 }, { "2018-07-16", 1531699200 }, { "20180716", 1531699200 },
        { "2000-02-29", 951782400 }, { "1969-12-31", -86400 }, { "2018-07-15", 1531612800 },
    };
    const char *bad[] = { "", "2001-02-29", "1900-02-29", "2018-13-01", "2018-00-10",
                          "2018-07-32", "2018-07-00", "2018-7-16", "2018/07/16",
                          "2018-07-16 ", "201807161", "2018-07-1x" };
    for (size_t i = 0; i < SR_COUNTOF(ok); i++) {
        int64_t v = 1;
        assert_true(sr_parse_date(sr_str_c(ok[i].s), &v));
        assert_int_equal(v, ok[i].v);
    }
    for (size_t i = 0; i < SR_COUNTOF(bad); i++) {
        int64_t v = 1;
        if (sr_parse_date(sr_str_c(bad[i]), &v))
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

static void test_parse_datetime_accepts_and_rejects(void **state)
{
    (void)state;
    const char *ok[] = { "2022-04-10 08:59:09", "2022-04-10T08:59:09", "2022-04-10T08:59:09Z",
                         "2022-04-10 08:59:09.287", "2022-04-10T08:59:09.5Z" };
    const char *bad[] = { "", "2022-04-10", "2022-04-10 08:59", "2022-04-10 24:00:00",
                          "2022-04-10 08:60:00", "2022-04-10_08:59:09", "2022-04-10 08:59:09+01",
                          "2022-04-10 08:59:09.", "2022-04-31 08:59:09", "20220410 08:59:09" };
    for (size_t i = 0; i < SR_COUNTOF(ok); i++) {
        int64_t v = 0;
        if (!sr_parse_datetime(sr_str_c(ok[i]), &v))
            fail_msg("rejected \"%s\"", ok[i]);
        assert_int_equal(v, 1649581149);
    }
    for (size_t i = 0; i < SR_COUNTOF(bad); i++) {
        int64_t v = 0;
        if (sr_parse_datetime(sr_str_c(bad[i]), &v))
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_plain_fields_lines_and_bytes),
        cmocka_unit_test(test_csv_gzip_detected_by_magic_not_name),
        cmocka_unit_test(test_csv_lines_across_block_boundaries_plain_and_gzip),
        cmocka_unit_test(test_csv_truncated_gzip_is_io_error),
        cmocka_unit_test(test_csv_quoted_fields),
        cmocka_unit_test(test_csv_crlf_empty_lines_bom_and_missing_final_newline),
        cmocka_unit_test(test_csv_line_at_max_accepted_over_max_is_format_error),
        cmocka_unit_test(test_csv_too_many_fields_is_format_error),
        cmocka_unit_test(test_csv_tab_delimiter_by_extension_or_explicit),
        cmocka_unit_test(test_csv_trailing_delimiter_gives_empty_field),
        cmocka_unit_test(test_csv_empty_file_gives_eof_and_missing_file_io_error),
        cmocka_unit_test(test_csv_columns_any_order_and_optional),
        cmocka_unit_test(test_csv_columns_missing_column_message),
        cmocka_unit_test(test_parse_bool_accepts_and_rejects),
        cmocka_unit_test(test_parse_i64_accepts_and_rejects),
        cmocka_unit_test(test_parse_f64_accepts_and_rejects),
        cmocka_unit_test(test_parse_date_accepts_and_rejects),
        cmocka_unit_test(test_parse_datetime_accepts_and_rejects),
    };
    return cmocka_run_group_tests(tests, sr_test_dir_setup, sr_test_dir_teardown);
}
