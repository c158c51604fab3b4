/* test_events.c - the generic event-log reader: sessionisation of
 * interleaved users (gap and length cuts), each skip signal, rejects, the
 * hash-partitioned spill (many partitions == one), time formats, several
 * files as one log, and, when present, the KuaiRand file in ../shared/data.
 *
 * Fixture tests/data/events_small.csv (times are 1700000000 + offset):
 *   u1: 0 t_b (flag), 100 t_a, 200 t_c (played 100 of 300), 2200 t_d,
 *       2300 t_e, 4100 t_b (gap exactly 1800: no cut), 6000 t_g (gap 1900: cut)
 *   u2: 50 t_a (played 10 of 240), 60 t_b, 70 t_c, 80 t_d, 90 t_e (flag)
 *   u3: 500 t_x (duration 0), 500 t_y (rating 2): tie broken by line order
 *   and rows that are rejected depending on which signals are enabled:
 *   line 8 empty user, 12 empty track, 13 bad time, 14 flag "maybe",
 *   17 played "abc", 18 empty rating, 21 duration -1.
 * The expected sessions below were worked out by hand and re-checked with a
 * short python3 script applying the same rules. */
#include "sr_test.h"

#include "sr_events.h"

#define FIXTURE SR_SOURCE_DIR "/tests/data/events_small.csv"
#define KUAIRAND SR_SHARED_DATA "/kuairand-like-hate/kuairand27k_like_hate_kcore15.tsv"

/* ---- a sink rendering each session as "key:track[*],track..." ----------------- */
typedef struct collector {
    char **s;        /* [cap] rendered sessions */
    size_t n, cap;
    uint64_t plays, skipped, users, sessions;
    uint64_t checksum; /* order-independent: sum of per-session FNV-1a */
    bool keep;         /* keep the strings (off for the large file) */
    uint32_t stop_after;
    int64_t times[64]; /* times and contexts of the first plays seen */
    uint32_t ctx[64];
    uint32_t n_times;
} collector;

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static sr_err collect(void *ud, const sr_session *s)
{
    collector *c = ud;
    char buf[4096];
    size_t len = 0;
    assert_true(s->n > 0);
    assert_true(s->key.len < 200);
    len += (size_t)snprintf(buf, sizeof buf, "%.*s:", (int)s->key.len, s->key.ptr);
    uint64_t h = 1469598103934665603ull;
    h = fnv1a(h, s->key.ptr, s->key.len);
    for (uint32_t i = 0; i < s->n; i++) {
        const sr_play *p = &s->plays[i];
        /* positions 1..n, times non-decreasing, context: only the hour known */
        assert_int_equal(p->position, i + 1);
        if (i > 0)
            assert_true(p->time >= s->plays[i - 1].time);
        int64_t hour = ((p->time % 86400) + 86400) % 86400 / 3600;
        assert_int_equal(p->context, sr_ctx_pack(0, 0, 0, false, false, false, 3, (uint32_t)hour));
        assert_int_equal(p->feedback & ~SR_FB_SKIPPED, 0);
        bool sk = (p->feedback & SR_FB_SKIPPED) != 0;
        c->skipped += sk;
        h = fnv1a(h, p->track.ptr, p->track.len);
        h = fnv1a(h, &p->time, sizeof p->time);
        h = fnv1a(h, &sk, 1);
        if (c->keep && len + p->track.len + 4 < sizeof buf)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%.*s%s", i ? "," : "",
                                    (int)p->track.len, p->track.ptr, sk ? "*" : "");
        if (c->n_times < 64) {
            c->times[c->n_times] = p->time;
            c->ctx[c->n_times] = p->context;
            c->n_times++;
        }
    }
    c->checksum += h;
    c->plays += s->n;
    c->sessions++;
    if (s->key.len >= 2 && s->key.ptr[s->key.len - 2] == '#' && s->key.ptr[s->key.len - 1] == '1')
        c->users++;
    if (c->keep) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->s = realloc(c->s, c->cap * sizeof *c->s);
            assert_non_null(c->s);
        }
        c->s[c->n] = strdup(buf);
        assert_non_null(c->s[c->n]);
        c->n++;
    }
    if (c->stop_after && c->sessions == c->stop_after)
        return sr_errorf(SR_ERR_CANCELLED, "stop requested");
    return SR_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collector_free(collector *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->s[i]);
    free(c->s);
    memset(c, 0, sizeof *c);
}

/* Sessions sorted by key (emission order follows the hash partitions). */
static void assert_sessions(collector *c, const char *const *want, size_t n)
{
    qsort(c->s, c->n, sizeof *c->s, cmp_str);
    for (size_t i = 0; i < n && i < c->n; i++)
        assert_string_equal(c->s[i], want[i]);
    assert_int_equal(c->n, n);
}

static void fixture_config(sr_events_config *c)
{
    sr_events_config_default(c);
    strcpy(c->user_col, "user");
    strcpy(c->track_col, "track");
    strcpy(c->time_col, "ts");
    c->time_format = SR_TIME_FORMAT_UNIX_S;
}

/* every signal on: flag, played < 30 s, played/duration < 0.5, rating < 2.5 */
static void all_signals(sr_events_config *c)
{
    fixture_config(c);
    strcpy(c->flag_col, "skipped");
    strcpy(c->played_col, "played");
    strcpy(c->duration_col, "duration");
    c->min_played_s = 30;
    c->min_played_frac = 0.5;
    strcpy(c->rating_col, "rating");
    c->rating_skip_below = 2.5;
}

static sr_err read_one(const char *path, const sr_events_config *cfg, sr_rejects *rej,
                       collector *col, sr_read_counts *counts)
{
    const char *paths[] = { path };
    col->keep = true;
    return sr_events_read(paths, 1, cfg, rej, collect, col, counts);
}

static void test_events_config_default_values(void **state)
{
    (void)state;
    sr_events_config c;
    memset(&c, 0x5a, sizeof c);
    sr_events_config_default(&c);
    assert_int_equal(c.session_gap_s, 1800);
    assert_int_equal(c.max_session_len, 200);
    assert_int_equal(c.partition_bytes, (size_t)256 << 20);
    assert_true(c.played_unit_s == 1.0);
    assert_true(c.rating_skip_below == 0.0);
    assert_true(c.min_played_s == 0.0 && c.min_played_frac == 0.0);
    assert_int_equal(c.delim, 0);
    assert_int_equal(c.time_format, SR_TIME_FORMAT_UNIX_S);
    assert_null(c.tmp_dir);
    assert_string_equal(c.user_col, "");
    assert_string_equal(c.flag_col, "");
    /* no skip signal yet */
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
}

static void test_events_config_check_rejects_inconsistent_configs(void **state)
{
    (void)state;
    sr_events_config c;
    all_signals(&c);
    assert_int_equal(sr_events_config_check(&c), SR_OK);

    all_signals(&c);
    c.track_col[0] = '\0';
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "track_col"));
    all_signals(&c);
    c.time_col[0] = '\0';
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    all_signals(&c);
    strcpy(c.session_col, "sid"); /* both user and session */
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    all_signals(&c);
    c.user_col[0] = '\0'; /* neither */
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    fixture_config(&c); /* no signal */
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "skip signal"));
    fixture_config(&c);
    strcpy(c.played_col, "played"); /* played without a threshold */
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    fixture_config(&c);
    strcpy(c.played_col, "played");
    c.min_played_frac = 0.2; /* fraction without duration */
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "duration_col"));
    all_signals(&c);
    c.min_played_frac = 1.5;
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    all_signals(&c);
    c.played_unit_s = 0;
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    all_signals(&c);
    c.max_session_len = 0;
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    all_signals(&c);
    c.max_session_len = 70000;
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    all_signals(&c);
    c.session_gap_s = 0;
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    all_signals(&c);
    c.partition_bytes = 0;
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    all_signals(&c);
    c.time_format = (sr_time_format)7;
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    all_signals(&c);
    memset(c.rating_col, 'x', sizeof c.rating_col); /* not terminated */
    assert_int_equal(sr_events_config_check(&c), SR_ERR_ARG);
    /* an explicit session column needs no gap */
    all_signals(&c);
    c.user_col[0] = '\0';
    strcpy(c.session_col, "user");
    c.session_gap_s = 0;
    assert_int_equal(sr_events_config_check(&c), SR_OK);
}

static void test_events_all_signals_interleaved_users_gap_cut_and_rejects(void **state)
{
    (void)state;
    sr_events_config cfg;
    all_signals(&cfg);
    char rpath[256];
    sr_test_path_buf(rpath, sizeof rpath, "events.rejects.tsv");
    sr_rejects *rej = NULL;
    assert_int_equal(sr_rejects_open(rpath, &rej), SR_OK);
    collector col = { 0 };
    sr_read_counts counts = { 0 };
    assert_int_equal(read_one(FIXTURE, &cfg, rej, &col, &counts), SR_OK);
    assert_int_equal(sr_rejects_close(&rej), SR_OK);
    const char *want[] = {
        "u1#1:t_b*,t_a,t_c*", "u1#2:t_d,t_e,t_b", "u1#3:t_g",
        "u2#1:t_a*,t_b,t_c,t_d,t_e*", "u3#1:t_x,t_y*",
    };
    assert_sessions(&col, want, SR_COUNTOF(want));
    struct stat sb;
    assert_int_equal(stat(FIXTURE, &sb), 0);
    assert_int_equal(counts.files, 1);
    assert_int_equal(counts.bytes, (uint64_t)sb.st_size);
    assert_int_equal(counts.rows, 21);
    assert_int_equal(counts.rejected, 7);
    assert_int_equal(counts.sessions, 5);
    assert_int_equal(counts.plays, 14);
    assert_int_equal(counts.truncated, 0);
    assert_int_equal(col.skipped, 5);

    const struct { unsigned line; const char *reason; } rejects[] = {
        { 8, "empty user" }, { 12, "empty track" }, { 13, "bad time in ts" },
        { 14, "bad boolean in skipped" }, { 17, "bad number in played" },
        { 18, "bad number in rating" }, { 21, "bad number in duration" },
    };
    FILE *fp = fopen(rpath, "r");
    assert_non_null(fp);
    char line[1024];
    size_t k = 0;
    while (fgets(line, sizeof line, fp)) {
        assert_true(k < SR_COUNTOF(rejects));
        char expect[512];
        snprintf(expect, sizeof expect, "%s\t%u\t%s\t", FIXTURE, rejects[k].line, rejects[k].reason);
        if (strncmp(line, expect, strlen(expect)) != 0)
            fail_msg("rejects line %zu: %s (want %s)", k + 1, line, expect);
        k++;
    }
    fclose(fp);
    assert_int_equal(k, SR_COUNTOF(rejects));
    collector_free(&col);
}

static void test_events_flag_signal_only(void **state)
{
    (void)state;
    sr_events_config cfg;
    fixture_config(&cfg);
    strcpy(cfg.flag_col, "skipped");
    collector col = { 0 };
    sr_read_counts counts = { 0 };
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &col, &counts), SR_OK);
    /* only user, track, time and flag are parsed: lines 17, 18, 21 are valid */
    const char *want[] = {
        "u1#1:t_b*,t_a,t_c", "u1#2:t_d,t_e,t_b", "u1#3:t_f,t_f,t_g",
        "u2#1:t_a,t_b,t_c,t_d,t_e*,t_f", "u3#1:t_x,t_y",
    };
    assert_sessions(&col, want, SR_COUNTOF(want));
    assert_int_equal(counts.rejected, 4);
    assert_int_equal(counts.plays, 17);
    assert_int_equal(col.skipped, 2);
    collector_free(&col);
}

static void test_events_played_seconds_signal_only_and_unit(void **state)
{
    (void)state;
    sr_events_config cfg;
    fixture_config(&cfg);
    strcpy(cfg.played_col, "played");
    cfg.min_played_s = 30;
    collector col = { 0 };
    sr_read_counts counts = { 0 };
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &col, &counts), SR_OK);
    /* line 14's flag is not read now: t_a (line 14) and t_e (line 22) tie at
     * 2300 and keep their input order */
    const char *want[] = {
        "u1#1:t_b,t_a,t_c", "u1#2:t_d,t_a,t_e,t_b", "u1#3:t_f,t_g",
        "u2#1:t_a*,t_b,t_c,t_d,t_e,t_f", "u3#1:t_x,t_y",
    };
    assert_sessions(&col, want, SR_COUNTOF(want));
    assert_int_equal(counts.rejected, 4); /* 8, 12, 13, 17 */
    assert_int_equal(col.skipped, 1);
    collector_free(&col);

    /* played in tenths of a second: < 15 s means played < 150 */
    cfg.played_unit_s = 0.1;
    cfg.min_played_s = 15;
    memset(&counts, 0, sizeof counts);
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &col, &counts), SR_OK);
    const char *want_unit[] = {
        "u1#1:t_b,t_a,t_c*", "u1#2:t_d*,t_a*,t_e*,t_b*", "u1#3:t_f*,t_g*",
        "u2#1:t_a*,t_b,t_c,t_d,t_e,t_f", "u3#1:t_x*,t_y*",
    };
    assert_sessions(&col, want_unit, SR_COUNTOF(want_unit));
    assert_int_equal(col.skipped, 10);
    collector_free(&col);
}

static void test_events_played_fraction_signal_duration_zero_is_silent(void **state)
{
    (void)state;
    sr_events_config cfg;
    fixture_config(&cfg);
    strcpy(cfg.played_col, "played");
    strcpy(cfg.duration_col, "duration");
    cfg.min_played_frac = 0.5;
    collector col = { 0 };
    sr_read_counts counts = { 0 };
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &col, &counts), SR_OK);
    /* u3's t_x has duration 0 and played 100: not skipped; t_c 100/300 and
     * u2's t_a 10/240 are; line 21 (duration -1) is rejected */
    const char *want[] = {
        "u1#1:t_b,t_a,t_c*", "u1#2:t_d,t_a,t_e,t_b", "u1#3:t_f,t_g",
        "u2#1:t_a*,t_b,t_c,t_d,t_e", "u3#1:t_x,t_y",
    };
    assert_sessions(&col, want, SR_COUNTOF(want));
    assert_int_equal(counts.rejected, 5);
    assert_int_equal(col.skipped, 2);
    collector_free(&col);
}

static void test_events_rating_signal_only(void **state)
{
    (void)state;
    sr_events_config cfg;
    fixture_config(&cfg);
    strcpy(cfg.rating_col, "rating");
    cfg.rating_skip_below = 2.5;
    collector col = { 0 };
    sr_read_counts counts = { 0 };
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &col, &counts), SR_OK);
    const char *want[] = {
        "u1#1:t_b,t_a,t_c", "u1#2:t_d,t_a,t_e,t_b", "u1#3:t_f,t_g",
        "u2#1:t_a,t_b,t_c,t_d,t_e,t_f", "u3#1:t_x,t_y*",
    };
    assert_sessions(&col, want, SR_COUNTOF(want));
    assert_int_equal(counts.rejected, 4); /* 8, 12, 13, 18 */
    assert_int_equal(col.skipped, 1);
    collector_free(&col);
}

static void test_events_max_session_len_cuts_runs(void **state)
{
    (void)state;
    sr_events_config cfg;
    all_signals(&cfg);
    cfg.max_session_len = 2;
    collector col = { 0 };
    sr_read_counts counts = { 0 };
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &col, &counts), SR_OK);
    const char *want[] = {
        "u1#1:t_b*,t_a", "u1#2:t_c*", "u1#3:t_d,t_e", "u1#4:t_b", "u1#5:t_g",
        "u2#1:t_a*,t_b", "u2#2:t_c,t_d", "u2#3:t_e*", "u3#1:t_x,t_y*",
    };
    assert_sessions(&col, want, SR_COUNTOF(want));
    assert_int_equal(counts.plays, 14);
    assert_int_equal(counts.truncated, 0); /* cut, not dropped */
    collector_free(&col);
}

static void test_events_session_column_groups_without_gap_cut(void **state)
{
    (void)state;
    sr_events_config cfg;
    all_signals(&cfg);
    cfg.user_col[0] = '\0';
    strcpy(cfg.session_col, "user");
    collector col = { 0 };
    sr_read_counts counts = { 0 };
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &col, &counts), SR_OK);
    const char *want[] = {
        "u1#1:t_b*,t_a,t_c*,t_d,t_e,t_b,t_g", "u2#1:t_a*,t_b,t_c,t_d,t_e*", "u3#1:t_x,t_y*",
    };
    assert_sessions(&col, want, SR_COUNTOF(want));
    collector_free(&col);
    /* still cut by length */
    cfg.max_session_len = 4;
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &col, &counts), SR_OK);
    const char *want4[] = {
        "u1#1:t_b*,t_a,t_c*,t_d", "u1#2:t_e,t_b,t_g", "u2#1:t_a*,t_b,t_c,t_d", "u2#2:t_e*",
        "u3#1:t_x,t_y*",
    };
    assert_sessions(&col, want4, SR_COUNTOF(want4));
    collector_free(&col);
}

static void test_events_many_partitions_same_sessions_as_one(void **state)
{
    (void)state;
    char spill[256];
    sr_test_path_buf(spill, sizeof spill, "spill");
    assert_int_equal(mkdir(spill, 0700), 0);
    sr_events_config cfg;
    all_signals(&cfg);
    cfg.max_session_len = 2;
    collector one = { 0 }, many = { 0 };
    sr_read_counts c1 = { 0 }, cn = { 0 };
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &one, &c1), SR_OK);
    cfg.partition_bytes = 64; /* ~12 partitions for the ~750-byte fixture */
    cfg.tmp_dir = spill;
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &many, &cn), SR_OK);
    assert_int_equal(one.n, 9);
    assert_int_equal(many.n, one.n);
    qsort(one.s, one.n, sizeof *one.s, cmp_str);
    qsort(many.s, many.n, sizeof *many.s, cmp_str);
    for (size_t i = 0; i < one.n; i++)
        assert_string_equal(many.s[i], one.s[i]);
    assert_int_equal(many.checksum, one.checksum);
    assert_int_equal(cn.rows, c1.rows);
    assert_int_equal(cn.rejected, c1.rejected);
    assert_int_equal(cn.plays, c1.plays);
    assert_int_equal(sr_test_count_entries(spill, NULL, 0), 0); /* no spill file left */
    collector_free(&one);
    collector_free(&many);

    /* a sink failure in pass 2 also leaves nothing behind */
    collector stop = { 0 };
    stop.stop_after = 3;
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &stop, NULL), SR_ERR_CANCELLED);
    assert_int_equal(stop.sessions, 3);
    assert_int_equal(sr_test_count_entries(spill, NULL, 0), 0);
    collector_free(&stop);

    /* an unusable spill directory is an I/O error naming it */
    cfg.tmp_dir = "/nonexistent/sr_spill";
    assert_int_equal(read_one(FIXTURE, &cfg, NULL, &stop, NULL), SR_ERR_IO);
    assert_non_null(strstr(sr_errmsg(), "/nonexistent/sr_spill"));
    collector_free(&stop);
}

/* The same three plays with times as ISO 8601, unix ms and fractional unix
 * seconds: 2023-11-14 22:13:20 = 1700000000, then +1801 s (a cut) and +1 s. */
static void test_events_time_formats_iso_ms_and_seconds(void **state)
{
    (void)state;
    const struct { sr_time_format fmt; const char *text; } cases[] = {
        { SR_TIME_FORMAT_ISO8601,
          "u\ts\tt\tf\na\tt1\t2023-11-14 22:13:20\t0\na\tt2\t2023-11-14T22:43:21Z\t1\n"
          "a\tt3\t2023-11-14 22:43:22.5\t0\n" },
        { SR_TIME_FORMAT_UNIX_MS,
          "u\ts\tt\tf\na\tt1\t1700000000000\t0\na\tt2\t1700001801000\t1\na\tt3\t1700001802500\t0\n" },
        { SR_TIME_FORMAT_UNIX_S,
          "u\ts\tt\tf\na\tt1\t1700000000\t0\na\tt2\t1700001801\t1\na\tt3\t1700001802.5\t0\n" },
    };
    for (size_t i = 0; i < SR_COUNTOF(cases); i++) {
        char path[256];
        sr_test_path_buf(path, sizeof path, "times.tsv");
        sr_test_write_text(path, cases[i].text);
        sr_events_config cfg;
        sr_events_config_default(&cfg);
        strcpy(cfg.user_col, "u");
        strcpy(cfg.track_col, "s");
        strcpy(cfg.time_col, "t");
        strcpy(cfg.flag_col, "f");
        cfg.time_format = cases[i].fmt;
        collector col = { 0 };
        sr_read_counts counts = { 0 };
        assert_int_equal(read_one(path, &cfg, NULL, &col, &counts), SR_OK);
        assert_int_equal(counts.rejected, 0);
        const char *want[] = { "a#1:t1", "a#2:t2*,t3" };
        assert_sessions(&col, want, 2);
        /* the sink saw a#1 then a#2 (one user, one partition) */
        assert_int_equal(col.n_times, 3);
        assert_int_equal(col.times[0], 1700000000);
        assert_int_equal(col.times[1], 1700001801);
        assert_int_equal(col.times[2], 1700001802);
        for (int k = 0; k < 3; k++)
            assert_int_equal(sr_ctx_hour(col.ctx[k]), 22);
        collector_free(&col);
    }
}

static void test_events_several_files_read_as_one_log(void **state)
{
    (void)state;
    char a[256], b[256];
    sr_test_path_buf(a, sizeof a, "part_a.csv");
    sr_test_path_buf(b, sizeof b, "part_b.csv");
    /* columns in a different order in each file */
    sr_test_write_text(a, "user,ts,track,skipped\nu1,0,t_a,0\nu1,100,t_b,1\nu2,10,t_z,0\n");
    sr_test_write_text(b, "track,skipped,user,ts\nt_c,0,u1,50\nt_d,0,u1,3000\nt_y,0,u2,5\n");
    sr_events_config cfg;
    fixture_config(&cfg);
    strcpy(cfg.flag_col, "skipped");
    const char *paths[] = { a, b };
    collector col = { 0 };
    col.keep = true;
    sr_read_counts counts = { 0 };
    assert_int_equal(sr_events_read(paths, 2, &cfg, NULL, collect, &col, &counts), SR_OK);
    const char *want[] = { "u1#1:t_a,t_c,t_b*", "u1#2:t_d", "u2#1:t_y,t_z" };
    assert_sessions(&col, want, SR_COUNTOF(want));
    assert_int_equal(counts.files, 2);
    assert_int_equal(counts.rows, 6);
    collector_free(&col);
}

static void test_events_overlong_ids_and_short_rows_rejected(void **state)
{
    (void)state;
    static char text[8192], id_long[1026];
    memset(id_long, 'k', 1025);
    snprintf(text, sizeof text,
             "user,track,ts,skipped\n"
             "u1,t_a,10,0\n"  /* 2: fine */
             "%s,t_a,20,0\n"  /* 3: user too long */
             "u1,%s,30,0\n"   /* 4: track too long */
             "u1,t_b,40\n",   /* 5: too few fields */
             id_long, id_long);
    char p[256];
    sr_test_path_buf(p, sizeof p, "long.csv");
    sr_test_write_text(p, text);
    sr_events_config cfg;
    fixture_config(&cfg);
    strcpy(cfg.flag_col, "skipped");
    sr_rejects *rej = NULL;
    assert_int_equal(sr_rejects_open(NULL, &rej), SR_OK);
    collector col = { 0 };
    sr_read_counts counts = { 0 };
    assert_int_equal(read_one(p, &cfg, rej, &col, &counts), SR_OK);
    const char *want[] = { "u1#1:t_a" };
    assert_sessions(&col, want, 1);
    assert_int_equal(counts.rejected, 3);
    const char *reasons[4];
    uint64_t n[4];
    assert_int_equal(sr_rejects_summary(rej, reasons, n, 4), 3);
    assert_string_equal(reasons[0], "user too long");
    assert_string_equal(reasons[1], "track too long");
    assert_string_equal(reasons[2], "too few fields");
    sr_rejects_abort(&rej);
    collector_free(&col);
}

static void test_events_missing_column_and_empty_file_errors(void **state)
{
    (void)state;
    char p[256];
    sr_test_path_buf(p, sizeof p, "norating.csv");
    sr_test_write_text(p, "user,track,ts\nu1,t_a,5\n");
    sr_events_config cfg;
    fixture_config(&cfg);
    strcpy(cfg.rating_col, "rating");
    collector col = { 0 };
    assert_int_equal(read_one(p, &cfg, NULL, &col, NULL), SR_ERR_COLUMN);
    char want[512];
    snprintf(want, sizeof want, "%s: missing column \"rating\"; found: user, track, ts", p);
    assert_string_equal(sr_errmsg(), want);
    assert_int_equal(col.sessions, 0);
    sr_test_path_buf(p, sizeof p, "empty.csv");
    sr_test_write_text(p, "");
    assert_int_equal(read_one(p, &cfg, NULL, &col, NULL), SR_ERR_EMPTY);
    assert_non_null(strstr(sr_errmsg(), "empty.csv"));
    assert_int_equal(sr_events_read(NULL, 0, &cfg, NULL, collect, &col, NULL), SR_ERR_EMPTY);
    collector_free(&col);
}

/* KuaiRand (like/hate): expected values from an independent python3 script
 * (csv module, delimiter TAB): for each row, skip = label < 0.5 or
 * (duration_ms > 0 and Fraction(play_time_ms, duration_ms) < Fraction(1, 5)) - exact
 * rational arithmetic, so the one row at exactly 1480/7400 ms is not a skip;
 * group rows by user_id, sort each user's rows by (time_ms, line), start a
 * new session when the user changes, when time_ms - previous > 1800 * 1000,
 * or when 200 plays are reached. Result: 41,828 rows and plays, 664 users,
 * 20,756 sessions (every cut is a gap cut), 11,933 skipped plays. */
static void kuairand_config(sr_events_config *cfg)
{
    sr_events_config_default(cfg);
    strcpy(cfg->user_col, "user_id");
    strcpy(cfg->track_col, "video_id");
    strcpy(cfg->time_col, "time_ms");
    cfg->time_format = SR_TIME_FORMAT_UNIX_MS;
    strcpy(cfg->rating_col, "label");
    cfg->rating_skip_below = 0.5;
    strcpy(cfg->played_col, "play_time_ms");
    strcpy(cfg->duration_col, "duration_ms");
    cfg->played_unit_s = 0.001;
    cfg->min_played_frac = 0.2;
    cfg->session_gap_s = 1800;
    cfg->max_session_len = 200;
}

static void test_events_kuairand_like_hate_sessions_and_skips(void **state)
{
    (void)state;
    if (access(KUAIRAND, R_OK) != 0)
        skip();
    sr_events_config cfg;
    kuairand_config(&cfg);
    sr_rejects *rej = NULL;
    assert_int_equal(sr_rejects_open(NULL, &rej), SR_OK);
    const char *paths[] = { KUAIRAND };
    collector one = { 0 };
    sr_read_counts counts = { 0 };
    assert_int_equal(sr_events_read(paths, 1, &cfg, rej, collect, &one, &counts), SR_OK);
    assert_int_equal(counts.rows, 41828);
    assert_int_equal(counts.rejected, 0);
    assert_int_equal(sr_rejects_count(rej), 0);
    assert_int_equal(counts.plays, 41828);
    assert_int_equal(one.users, 664);
    assert_int_equal(counts.sessions, 20756);
    assert_int_equal(one.skipped, 11933);
    sr_rejects_abort(&rej);

    /* 8 partitions of ~0.5 MB give the same sessions */
    char spill[256];
    sr_test_path_buf(spill, sizeof spill, "kspill");
    assert_int_equal(mkdir(spill, 0700), 0);
    cfg.partition_bytes = 512 << 10;
    cfg.tmp_dir = spill;
    collector many = { 0 };
    sr_read_counts cm = { 0 };
    assert_int_equal(sr_events_read(paths, 1, &cfg, NULL, collect, &many, &cm), SR_OK);
    assert_int_equal(cm.sessions, 20756);
    assert_int_equal(many.skipped, 11933);
    assert_int_equal(many.checksum, one.checksum);
    assert_int_equal(sr_test_count_entries(spill, NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_config_default_values),
        cmocka_unit_test(test_events_config_check_rejects_inconsistent_configs),
        cmocka_unit_test(test_events_all_signals_interleaved_users_gap_cut_and_rejects),
        cmocka_unit_test(test_events_flag_signal_only),
        cmocka_unit_test(test_events_played_seconds_signal_only_and_unit),
        cmocka_unit_test(test_events_played_fraction_signal_duration_zero_is_silent),
        cmocka_unit_test(test_events_rating_signal_only),
        cmocka_unit_test(test_events_max_session_len_cuts_runs),
        cmocka_unit_test(test_events_session_column_groups_without_gap_cut),
        cmocka_unit_test(test_events_many_partitions_same_sessions_as_one),
        cmocka_unit_test(test_events_time_formats_iso_ms_and_seconds),
        cmocka_unit_test(test_events_several_files_read_as_one_log),
        cmocka_unit_test(test_events_overlong_ids_and_short_rows_rejected),
        cmocka_unit_test(test_events_missing_column_and_empty_file_errors),
        cmocka_unit_test(test_events_kuairand_like_hate_sessions_and_skips),
    };
    return cmocka_run_group_tests(tests, sr_test_dir_setup, sr_test_dir_teardown);
}
