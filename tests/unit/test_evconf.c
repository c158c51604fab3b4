/* test_evconf.c - the events column-mapping INI (daemon/srd_evconf.c): the
 * shipped configs give the documented structs, and each kind of mistake is
 * refused with the line it is on. */
#include "sr_test.h"

#include "srd_evconf.h"

static sr_err parse_c(const char *text, sr_events_config *c)
{
    return srd_evconf_parse(text, strlen(text), c);
}

/* The message names `line` and contains `what`. */
static void assert_error_at(const char *text, int line, const char *what)
{
    sr_events_config c;
    assert_int_equal(parse_c(text, &c), SR_ERR_ARG);
    char want[32];
    snprintf(want, sizeof want, "line %d:", line);
    if (!strstr(sr_errmsg(), want) || !strstr(sr_errmsg(), what))
        fail_msg("expected '%s' and '%s' in: %s", want, what, sr_errmsg());
}

static void test_kuairand_ini_gives_expected_config(void **state)
{
    (void)state;
    size_t len;
    char *text = sr_test_read_file(SR_SOURCE_DIR "/configs/kuairand.ini", &len);
    assert_true(len > 0);
    sr_events_config c;
    assert_int_equal(srd_evconf_parse(text, len, &c), SR_OK);
    free(text);
    assert_string_equal(c.user_col, "user_id");
    assert_string_equal(c.session_col, "");
    assert_string_equal(c.track_col, "video_id");
    assert_string_equal(c.time_col, "time_ms");
    assert_int_equal(c.time_format, SR_TIME_FORMAT_UNIX_MS);
    assert_int_equal(c.delim, '\t');
    assert_string_equal(c.flag_col, "");
    assert_string_equal(c.rating_col, "label");
    assert_true(c.rating_skip_below == 0.5);
    assert_string_equal(c.played_col, "play_time_ms");
    assert_string_equal(c.duration_col, "duration_ms");
    assert_true(c.played_unit_s == 0.001);
    assert_true(c.min_played_frac == 0.2);
    assert_true(c.min_played_s == 0.0);
    assert_int_equal(c.session_gap_s, 30 * 60);
    assert_int_equal(c.max_session_len, 200);
}

static void test_lastfm_ini_gives_expected_config(void **state)
{
    (void)state;
    size_t len;
    char *text = sr_test_read_file(SR_SOURCE_DIR "/configs/lastfm.ini", &len);
    assert_true(len > 0);
    sr_events_config c;
    assert_int_equal(srd_evconf_parse(text, len, &c), SR_OK);
    free(text);
    assert_string_equal(c.user_col, "user");
    assert_string_equal(c.track_col, "track");
    assert_string_equal(c.time_col, "timestamp");
    assert_int_equal(c.time_format, SR_TIME_FORMAT_ISO8601);
    assert_int_equal(c.delim, '\t');
    assert_string_equal(c.played_col, "ms_played");
    assert_string_equal(c.duration_col, "duration");
    assert_true(c.played_unit_s == 0.001);
    assert_true(c.min_played_s == 30.0);
    assert_true(c.min_played_frac == 0.5);
    assert_string_equal(c.rating_col, "");
    assert_string_equal(c.flag_col, "");
    assert_int_equal(c.session_gap_s, 1800);
    assert_int_equal(c.max_session_len, 200);
}

/* Keys not given keep sr_events_config_default()'s values; session id,
 * seconds, comma and a flag column map as documented. */
static void test_minimal_config_keeps_defaults(void **state)
{
    (void)state;
    sr_events_config c, d;
    sr_events_config_default(&d);
    assert_int_equal(parse_c("[columns]\nsession = sid\ntrack = t\ntime = ts\n"
                             "time_format = unix_s\ndelimiter = comma\n"
                             "[skip]\nflag = skipped\n", &c), SR_OK);
    assert_string_equal(c.session_col, "sid");
    assert_string_equal(c.user_col, "");
    assert_string_equal(c.flag_col, "skipped");
    assert_int_equal(c.delim, ',');
    assert_int_equal(c.time_format, SR_TIME_FORMAT_UNIX_S);
    assert_int_equal(c.session_gap_s, d.session_gap_s);
    assert_int_equal(c.max_session_len, d.max_session_len);
    assert_true(c.played_unit_s == d.played_unit_s);
    assert_true(c.partition_bytes == d.partition_bytes);
}

static void test_delimiter_absent_means_by_extension(void **state)
{
    (void)state;
    sr_events_config c;
    assert_int_equal(parse_c("[columns]\nuser=u\ntrack=t\ntime=ts\n[skip]\nflag=f\n", &c), SR_OK);
    assert_int_equal(c.delim, 0);
}

static void test_unknown_key_names_its_line(void **state)
{
    (void)state;
    assert_error_at("[columns]\nuser = u\n; comment\nbogus = 1\n", 4, "bogus");
}

static void test_unknown_section_names_its_line(void **state)
{
    (void)state;
    /* inih reports the first key of the section */
    assert_error_at("[columns]\nuser = u\n[colums]\ntrack = t\n", 4, "colums");
}

static void test_bad_number_names_its_line(void **state)
{
    (void)state;
    assert_error_at("[columns]\nuser=u\ntrack=t\ntime=x\n[skip]\nrating=r\n"
                    "rating_skip_below = abc\n", 7, "abc");
    assert_error_at("[skip]\nmin_played_fraction = 1.5\n", 2, "min_played_fraction");
    assert_error_at("[sessions]\ngap_minutes = 0\n", 2, "gap_minutes");
    assert_error_at("[sessions]\nmax_length = 12x\n", 2, "max_length");
    assert_error_at("[skip]\nmin_played_seconds = nan\n", 2, "min_played_seconds");
}

static void test_bad_time_format_names_its_line(void **state)
{
    (void)state;
    assert_error_at("[columns]\nuser = u\ntime_format = unix_us\n", 3, "unix_us");
}

static void test_bad_enum_values_name_their_line(void **state)
{
    (void)state;
    assert_error_at("[columns]\ndelimiter = semicolon\n", 2, "semicolon");
    assert_error_at("\n[skip]\nplayed_unit = min\n", 3, "min");
}

static void test_syntax_error_names_its_line(void **state)
{
    (void)state;
    assert_error_at("[columns]\nuser = u\nthis line has no equals sign\n", 3, "syntax");
}

static void test_first_error_is_reported(void **state)
{
    (void)state;
    assert_error_at("[columns]\nfirst_bad = 1\nsecond_bad = 2\n", 2, "first_bad");
}

static void test_inconsistent_config_is_refused(void **state)
{
    (void)state;
    sr_events_config c;
    /* parses, but has no skip signal: sr_events_config_check() refuses it */
    assert_int_equal(parse_c("[columns]\nuser=u\ntrack=t\ntime=ts\n", &c), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "skip signal"));
    /* both user and session */
    assert_int_equal(parse_c("[columns]\nuser=u\nsession=s\ntrack=t\ntime=ts\n[skip]\nflag=f\n",
                             &c), SR_ERR_ARG);
}

static void test_text_is_length_delimited(void **state)
{
    (void)state;
    /* Only the first len bytes count: the tail would be an unknown key. */
    const char *text = "[columns]\nuser=u\ntrack=t\ntime=ts\n[skip]\nflag=f\nbogus=1\n";
    size_t len = strlen(text) - strlen("bogus=1\n");
    assert_true(len > 0);
    sr_events_config c;
    assert_int_equal(srd_evconf_parse(text, len, &c), SR_OK);
    assert_string_equal(c.flag_col, "f");
}

static void test_nul_byte_and_oversize_are_refused(void **state)
{
    (void)state;
    sr_events_config c;
    const char text[] = "[columns]\nuser=u\0x\n";
    assert_int_equal(srd_evconf_parse(text, sizeof text - 1, &c), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "NUL"));
    size_t big = SRD_EVCONF_MAX_BYTES + 1;
    char *b = malloc(big);
    assert_non_null(b);
    memset(b, '\n', big);
    assert_int_equal(srd_evconf_parse(b, big, &c), SR_ERR_ARG);
    free(b);
}

static void test_long_column_name_is_refused(void **state)
{
    (void)state;
    char text[256];
    snprintf(text, sizeof text, "[columns]\nuser = %064d\n", 7); /* 64 chars, max is 63 */
    assert_error_at(text, 2, "column name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kuairand_ini_gives_expected_config),
        cmocka_unit_test(test_lastfm_ini_gives_expected_config),
        cmocka_unit_test(test_minimal_config_keeps_defaults),
        cmocka_unit_test(test_delimiter_absent_means_by_extension),
        cmocka_unit_test(test_unknown_key_names_its_line),
        cmocka_unit_test(test_unknown_section_names_its_line),
        cmocka_unit_test(test_bad_number_names_its_line),
        cmocka_unit_test(test_bad_time_format_names_its_line),
        cmocka_unit_test(test_bad_enum_values_name_their_line),
        cmocka_unit_test(test_syntax_error_names_its_line),
        cmocka_unit_test(test_first_error_is_reported),
        cmocka_unit_test(test_inconsistent_config_is_refused),
        cmocka_unit_test(test_text_is_length_delimited),
        cmocka_unit_test(test_nul_byte_and_oversize_are_refused),
        cmocka_unit_test(test_long_column_name_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
