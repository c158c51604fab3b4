/* test_ingest.c - logs -> session store: filters, splits, stats, rejects,
 * determinism across thread counts, and the real MSSD sample's known counts.
 *
 * Fixtures are written by the tests themselves (invented ids); expected
 * numbers are counted by hand from those rows. */
#include "sr_test.h"

#include "sr_ingest.h"
#include "sr_store.h"

#define MSSD_HEADER                                                                          \
    "session_id,session_position,session_length,track_id_clean,skip_1,skip_2,skip_3,"        \
    "not_skipped,context_switch,no_pause_before_play,short_pause_before_play,"               \
    "long_pause_before_play,hist_user_behavior_n_seekfwd,hist_user_behavior_n_seekback,"     \
    "hist_user_behavior_is_shuffle,hour_of_day,date,premium,context_type,"                   \
    "hist_user_behavior_reason_start,hist_user_behavior_reason_end\n"

/* Append one MSSD row. skip level: 0 listened (not_skipped), 1 = skip_1..3
 * all true (skipped under every rule), 2 = skip_2 and skip_3 only, 3 = skip_3
 * only (listened under the default rule). */
static void mssd_row(FILE *fp, const char *session, int pos, int len, const char *track,
                     int level, const char *date, int hour)
{
    const char *t = "True", *F = "False";
    const char *s1 = level == 1 ? t : F;
    const char *s2 = (level == 1 || level == 2) ? t : F;
    const char *s3 = level >= 1 ? t : F;
    const char *ns = level == 0 ? t : F;
    fprintf(fp, "%s,%d,%d,%s,%s,%s,%s,%s,0,1,0,0,0,0,False,%d,%s,True,radio,trackdone,%s\n",
            session, pos, len, track, s1, s2, s3, ns, hour, date,
            level ? "fwdbtn" : "trackdone");
}

/* Write an MSSD file: the header, then whatever `fill` appends. */
static void write_mssd(const char *path, void (*fill)(FILE *))
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(MSSD_HEADER, fp);
    fill(fp);
    assert_int_equal(fclose(fp), 0);
}

/* Four sessions, hand-counted:
 *  A: 5 plays t1 t2 t3 t1 t4, levels 0 2 0 1 0  -> 2 skipped (skip_2 rule)
 *  B: 3 plays t2 t5 t2, levels 0 0 3           -> 0 skipped (skip_3-only is listened)
 *  C: 1 play  t6                                -> too short (min 2)
 *  D: 4 plays t1 t7 t8 t2, levels 2 0 0 0       -> 1 skipped
 * Kept with defaults: A, B, D = 12 plays, 3 skipped; tracks t1 t2 t3 t4 t5 t7 t8 = 7. */
static void fill_basic(FILE *fp)
{
    mssd_row(fp, "sA", 1, 5, "t1", 0, "2018-07-15", 10);
    mssd_row(fp, "sA", 2, 5, "t2", 2, "2018-07-15", 10);
    mssd_row(fp, "sA", 3, 5, "t3", 0, "2018-07-15", 10);
    mssd_row(fp, "sA", 4, 5, "t1", 1, "2018-07-15", 10);
    mssd_row(fp, "sA", 5, 5, "t4", 0, "2018-07-15", 10);
    mssd_row(fp, "sB", 1, 3, "t2", 0, "2018-07-16", 8);
    mssd_row(fp, "sB", 2, 3, "t5", 0, "2018-07-16", 8);
    mssd_row(fp, "sB", 3, 3, "t2", 3, "2018-07-16", 8);
    mssd_row(fp, "sC", 1, 1, "t6", 0, "2018-07-17", 9);
    mssd_row(fp, "sD", 1, 4, "t1", 2, "2018-07-18", 20);
    mssd_row(fp, "sD", 2, 4, "t7", 0, "2018-07-18", 20);
    mssd_row(fp, "sD", 3, 4, "t8", 0, "2018-07-18", 20);
    mssd_row(fp, "sD", 4, 4, "t2", 0, "2018-07-18", 20);
}

static sr_err ingest_one(const char *in, const sr_ingest_opts *o, const char *store,
                         sr_store_stats *st)
{
    const char *paths[1] = { in };
    return sr_ingest_run(paths, 1, o, store, st, NULL);
}

static void test_ingest_basic_counts_and_leave_last_split(void **state)
{
    (void)state;
    char in[256], store[256];
    sr_test_path_buf(in, sizeof in, "basic.csv");
    sr_test_path_buf(store, sizeof store, "basic.store");
    write_mssd(in, fill_basic);

    sr_ingest_opts o;
    sr_ingest_opts_default(&o);
    sr_store_stats st;
    assert_int_equal(ingest_one(in, &o, store, &st), SR_OK);
    assert_int_equal(st.input_rows, 13);
    assert_int_equal(st.rejected_rows, 0);
    assert_int_equal(st.sessions_read, 4);
    assert_int_equal(st.removed_short_sessions, 1);
    assert_int_equal(st.sessions, 3);
    assert_int_equal(st.interactions, 12);
    assert_int_equal(st.skipped, 3);
    assert_int_equal(st.tracks, 7);
    SR_ASSERT_NEAR(st.skip_rate, 3.0 / 12.0, 1e-12);
    /* leave-last: train needs n >= 4 (A, D), valid n >= 3 (A, B, D), test all */
    assert_int_equal(st.train_sessions, 2);
    assert_int_equal(st.train_interactions, (5 - 2) + (4 - 2));
    assert_int_equal(st.valid_sessions, 3);
    assert_int_equal(st.test_sessions, 3);

    sr_store *s = NULL;
    assert_int_equal(sr_store_open(store, &s), SR_OK);
    assert_int_equal(s->n_sessions, 3);
    assert_int_equal(s->n_plays, 12);
    assert_int_equal(s->n_tracks, 7);
    assert_int_equal(s->stats.interactions, 12);
    /* first-seen order: t1 t2 t3 t4 t5 t7 t8 */
    const char *ids[7] = { "t1", "t2", "t3", "t4", "t5", "t7", "t8" };
    for (int i = 0; i < 7; i++)
        assert_true(sr_str_eqc(sr_store_track_id(s, i), ids[i]));
    /* session A: tracks 0 1 2 0 3; feedback skipped on plays 2 and 4 */
    const int32_t a_tracks[5] = { 0, 1, 2, 0, 3 };
    for (int i = 0; i < 5; i++) {
        assert_int_equal(s->play_track[i], a_tracks[i]);
        assert_int_equal(s->play_position[i], i + 1);
        assert_int_equal(s->session_split[0], SR_SPLIT_ALL);
    }
    assert_true(s->play_feedback[1] & SR_FB_SKIPPED);
    assert_true(s->play_feedback[3] & SR_FB_SKIPPED);
    assert_false(s->play_feedback[0] & SR_FB_SKIPPED);
    /* B's third play is skip_3 only: listened under skip_2, raw flag kept */
    assert_false(s->play_feedback[7] & SR_FB_SKIPPED);
    assert_true(s->play_feedback[7] & SR_FB_SKIP_3);
    /* time = date + hour: 2018-07-15 10:00 UTC */
    assert_int_equal(s->play_time[0], INT64_C(1531612800) + 10 * 3600);
    assert_int_equal(sr_ctx_type(s->play_context[0]), SR_CTX_TYPE_RADIO);
    assert_int_equal(sr_ctx_hour(s->play_context[0]), 10);
    /* track counts cover the training prefixes only (x_1..x_{n-2}):
     * A: t1 t2 t3, B: t2, D: t1 t7 -> t1:2 t2:2 t3:1 t4:0 t5:0 t7:1 t8:0 */
    const uint32_t plays[7] = { 2, 2, 1, 0, 0, 1, 0 };
    const uint32_t skips[7] = { 1, 1, 0, 0, 0, 0, 0 }; /* A's t2 (skip), D's t1 (skip) */
    for (int i = 0; i < 7; i++) {
        assert_int_equal(s->track_plays[i], plays[i]);
        assert_int_equal(s->track_skips[i], skips[i]);
    }
    sr_store_close(&s);
    assert_null(s);
}

static void test_ingest_skip_rules_change_labels(void **state)
{
    (void)state;
    char in[256], store[256];
    sr_test_path_buf(in, sizeof in, "rules.csv");
    sr_test_path_buf(store, sizeof store, "rules.store");
    write_mssd(in, fill_basic);
    /* kept plays by level: level 0: 7, level 1: 1, level 2: 2, level 3: 1 (sC dropped) */
    const struct {
        sr_skip_rule rule;
        uint64_t skipped;
    } cases[] = {
        { SR_SKIP_RULE_SKIP_1, 1 },      /* level 1 */
        { SR_SKIP_RULE_SKIP_2, 3 },      /* levels 1, 2 */
        { SR_SKIP_RULE_SKIP_3, 4 },      /* levels 1, 2, 3 */
        { SR_SKIP_RULE_NOT_SKIPPED, 4 }, /* not level 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sr_ingest_opts o;
        sr_ingest_opts_default(&o);
        o.skip_rule = cases[i].rule;
        sr_store_stats st;
        assert_int_equal(ingest_one(in, &o, store, &st), SR_OK);
        assert_int_equal(st.skipped, cases[i].skipped);
        sr_store *s = NULL;
        assert_int_equal(sr_store_open(store, &s), SR_OK);
        assert_int_equal(s->meta.skip_rule, cases[i].rule);
        sr_store_close(&s);
    }
}

static void test_ingest_filters(void **state)
{
    (void)state;
    char in[256], store[256];
    sr_test_path_buf(in, sizeof in, "filters.csv");
    sr_test_path_buf(store, sizeof store, "filters.store");
    write_mssd(in, fill_basic);
    sr_ingest_opts o;
    sr_store_stats st;

    /* only sessions with a skip: B has none */
    sr_ingest_opts_default(&o);
    o.only_with_skip = true;
    assert_int_equal(ingest_one(in, &o, store, &st), SR_OK);
    assert_int_equal(st.removed_noskip_sessions, 1);
    assert_int_equal(st.sessions, 2);
    assert_int_equal(st.interactions, 9);

    /* min length 4: B and C go */
    sr_ingest_opts_default(&o);
    o.min_session_len = 4;
    assert_int_equal(ingest_one(in, &o, store, &st), SR_OK);
    assert_int_equal(st.removed_short_sessions, 2);
    assert_int_equal(st.sessions, 2);

    /* min track count 2 over kept sessions (A, B, D): t1 x3, t2 x4 survive;
     * A -> t1 t2 t1 (3), B -> t2 t2 (2), D -> t1 t2 (2); 5 plays dropped */
    sr_ingest_opts_default(&o);
    o.min_track_count = 2;
    assert_int_equal(ingest_one(in, &o, store, &st), SR_OK);
    assert_int_equal(st.removed_rare_track_plays, 5);
    assert_int_equal(st.sessions, 3);
    assert_int_equal(st.interactions, 7);
    assert_int_equal(st.tracks, 2);

    /* with min length 3 the filtered B and D become too short */
    o.min_session_len = 3;
    assert_int_equal(ingest_one(in, &o, store, &st), SR_OK);
    assert_int_equal(st.sessions, 1);
    assert_int_equal(st.removed_short_sessions, 1 + 2); /* C, then B and D */
}

/* Ten one-day sessions of 3 plays on consecutive days; tracks: session k
 * plays "c" (common), "u<k>" (unique) and "c" again. */
static void fill_days(FILE *fp)
{
    for (int k = 0; k < 10; k++) {
        char sid[16], uniq[16], date[16];
        snprintf(sid, sizeof sid, "d%d", k);
        snprintf(uniq, sizeof uniq, "u%d", k);
        snprintf(date, sizeof date, "2018-07-%02d", 10 + k);
        mssd_row(fp, sid, 1, 3, "c", 0, date, 12);
        mssd_row(fp, sid, 2, 3, uniq, k % 2 ? 1 : 0, date, 12);
        mssd_row(fp, sid, 3, 3, "c", 0, date, 12);
    }
}

static void test_ingest_temporal_split_keeps_test_out_of_training(void **state)
{
    (void)state;
    char in[256], store[256];
    sr_test_path_buf(in, sizeof in, "days.csv");
    sr_test_path_buf(store, sizeof store, "days.store");
    write_mssd(in, fill_days);
    sr_ingest_opts o;
    sr_ingest_opts_default(&o);
    o.split = SR_SPLIT_KIND_TEMPORAL;
    o.valid_frac = 0.2;
    o.test_frac = 0.2;
    sr_store_stats st;
    assert_int_equal(ingest_one(in, &o, store, &st), SR_OK);
    /* days 0-5 train, 6-7 valid, 8-9 test */
    assert_int_equal(st.train_sessions, 6);
    assert_int_equal(st.valid_sessions, 2);
    assert_int_equal(st.test_sessions, 2);
    assert_int_equal(st.train_interactions, 18);
    /* vocabulary from training only: c, u0..u5 */
    assert_int_equal(st.tracks, 7);
    assert_int_equal(st.unseen_tracks, 4);
    assert_int_equal(st.unseen_plays, 4);

    sr_store *s = NULL;
    assert_int_equal(sr_store_open(store, &s), SR_OK);
    assert_int_equal(s->meta.split, SR_SPLIT_KIND_TEMPORAL);
    int64_t last_train = INT64_MIN, first_test = INT64_MAX;
    uint32_t counted[7] = { 0 };
    for (uint64_t i = 0; i < s->n_sessions; i++) {
        uint8_t sp = s->session_split[i];
        if (sp == SR_SPLIT_TRAIN && s->session_start[i] > last_train)
            last_train = s->session_start[i];
        if (sp == SR_SPLIT_TEST && s->session_start[i] < first_test)
            first_test = s->session_start[i];
        for (uint64_t j = s->session_offsets[i]; j < s->session_offsets[i + 1]; j++) {
            int32_t t = s->play_track[j];
            if (sp == SR_SPLIT_TRAIN) {
                assert_true(t >= 0 && t < 7);
                counted[t]++;
            }
            /* the middle play of valid/test sessions is unseen */
            if (sp != SR_SPLIT_TRAIN && j == s->session_offsets[i] + 1)
                assert_int_equal(t, SR_TRACK_UNSEEN);
        }
    }
    assert_true(last_train < first_test);
    /* popularity counts come from training sessions only */
    for (int t = 0; t < 7; t++)
        assert_int_equal(s->track_plays[t], counted[t]);
    assert_int_equal(s->track_plays[0], 12); /* "c" twice in each of 6 sessions */
    sr_store_close(&s);
}

static void fill_bad(FILE *fp)
{
    mssd_row(fp, "sA", 1, 3, "t1", 0, "2018-07-15", 10);
    mssd_row(fp, "sA", 2, 3, "t2", 0, "2018-07-15", 10);
    mssd_row(fp, "sA", 2, 3, "t3", 0, "2018-07-15", 10); /* duplicate position */
    fprintf(fp, "sA,3,3,t4,Maybe,False,False,True,0,1,0,0,0,0,False,10,2018-07-15,True,"
                "radio,trackdone,trackdone\n");            /* bad boolean */
    mssd_row(fp, "sB", 1, 2, "t1", 0, "2018-07-16", 10);
    mssd_row(fp, "sB", 2, 2, "t5", 0, "2018-07-16", 10);
}

static void test_ingest_reject_rate_fails_and_keeps_rejects(void **state)
{
    (void)state;
    char in[256], store[256], rej[300], failed[320];
    sr_test_path_buf(in, sizeof in, "bad.csv");
    sr_test_path_buf(store, sizeof store, "bad.store");
    snprintf(rej, sizeof rej, "%s.rejects.tsv", store);
    snprintf(failed, sizeof failed, "%s.rejects.failed.tsv", store);
    write_mssd(in, fill_bad);
    sr_ingest_opts o;
    sr_ingest_opts_default(&o);
    sr_store_stats st;
    /* 2 of 6 rows rejected: 33% > 1% */
    assert_int_equal(ingest_one(in, &o, store, &st), SR_ERR_REJECTS);
    assert_non_null(strstr(sr_errmsg(), "2 of 6 rows rejected"));
    assert_int_equal(access(store, F_OK), -1); /* no store */
    assert_int_equal(access(failed, F_OK), 0); /* but the rejects are kept, */
    assert_int_equal(access(rej, F_OK), -1);   /* apart from a good run's */
    assert_non_null(strstr(sr_errmsg(), "rejects.failed.tsv"));

    o.max_reject_rate = 0.5;
    const char *paths[1] = { in };
    sr_ingest_reasons why;
    assert_int_equal(sr_ingest_run(paths, 1, &o, store, &st, &why), SR_OK);
    assert_int_equal(st.rejected_rows, 2);
    assert_int_equal(why.n, 2); /* duplicate position, bad boolean: one each */
    assert_int_equal(why.count[0] + why.count[1], 2);
    assert_int_equal(st.sessions, 2);
    assert_int_equal(st.interactions, 4);
    /* the rejects file names the input and the line numbers (header = line 1) */
    char *buf = sr_test_read_file(rej, NULL);
    assert_non_null(strstr(buf, "bad.csv\t4\t"));
    assert_non_null(strstr(buf, "bad.csv\t5\t"));
    free(buf);
}

static void fill_nothing(FILE *fp)
{
    (void)fp;
}

static void test_ingest_empty_input_is_an_error(void **state)
{
    (void)state;
    char in[256], store[256];
    sr_test_path_buf(in, sizeof in, "empty.csv");
    sr_test_path_buf(store, sizeof store, "empty.store");
    write_mssd(in, fill_nothing); /* header only */
    sr_ingest_opts o;
    sr_ingest_opts_default(&o);
    sr_store_stats st;
    assert_int_equal(ingest_one(in, &o, store, &st), SR_ERR_EMPTY);
    assert_int_equal(access(store, F_OK), -1);

    sr_test_write_file(in, "", 0); /* zero bytes */
    assert_int_equal(ingest_one(in, &o, store, &st), SR_ERR_EMPTY);
}

static void test_ingest_missing_column_names_file_and_column(void **state)
{
    (void)state;
    char in[256], store[256];
    sr_test_path_buf(in, sizeof in, "nocol.csv");
    sr_test_path_buf(store, sizeof store, "nocol.store");
    sr_test_write_text(in, "session_id,session_position,track_id_clean,skip_1,skip_3\n"
                           "x,1,t,False,False\n");
    sr_ingest_opts o;
    sr_ingest_opts_default(&o);
    sr_store_stats st;
    assert_int_equal(ingest_one(in, &o, store, &st), SR_ERR_COLUMN);
    assert_non_null(strstr(sr_errmsg(), "nocol.csv"));
    assert_non_null(strstr(sr_errmsg(), "session_length"));
    assert_non_null(strstr(sr_errmsg(), "track_id_clean")); /* listed among those found */
}

/* Two stores hold the same data, array by array, and their files are
 * byte-identical apart from the `created` time (header offset 80) and the
 * header checksum that covers it (offset 248): docs/data.md. */
static void assert_same_store(const char *p1, const char *p2)
{
    sr_store *a = NULL, *b = NULL;
    assert_int_equal(sr_store_open(p1, &a), SR_OK);
    assert_int_equal(sr_store_open(p2, &b), SR_OK);
    assert_int_equal(a->n_sessions, b->n_sessions);
    assert_int_equal(a->n_plays, b->n_plays);
    assert_int_equal(a->n_tracks, b->n_tracks);
    uint64_t S = a->n_sessions, P = a->n_plays, T = a->n_tracks;
    assert_memory_equal(a->session_offsets, b->session_offsets, (S + 1) * 8);
    assert_memory_equal(a->session_split, b->session_split, S);
    assert_memory_equal(a->session_start, b->session_start, S * 8);
    assert_memory_equal(a->play_track, b->play_track, P * sizeof *a->play_track);
    assert_memory_equal(a->play_feedback, b->play_feedback, P);
    assert_memory_equal(a->play_position, b->play_position, P * 2);
    assert_memory_equal(a->play_time, b->play_time, P * 8);
    assert_memory_equal(a->play_context, b->play_context, P * 4);
    if (T > 0) {
        assert_memory_equal(a->track_plays, b->track_plays, T * 4);
        assert_memory_equal(a->track_skips, b->track_skips, T * 4);
    }
    for (uint32_t t = 0; t < a->n_tracks; t++)
        assert_true(sr_str_eq(sr_store_track_id(a, (int32_t)t), sr_store_track_id(b, (int32_t)t)));
    assert_memory_equal(&a->stats, &b->stats, sizeof a->stats);
    sr_store_close(&a);
    sr_store_close(&b);

    size_t na, nb;
    uint8_t *x = sr_test_read_file(p1, &na);
    uint8_t *y = sr_test_read_file(p2, &nb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        if ((i >= 80 && i < 88) || (i >= 248 && i < 256))
            continue;
        if (x[i] != y[i])
            fail_msg("%s and %s differ at byte %zu", p1, p2, i);
    }
    free(x);
    free(y);
}

/* Many files -> same store whatever the thread count (merge in file order). */
static void test_ingest_threads_do_not_change_the_store(void **state)
{
    (void)state;
    char dir[256];
    sr_test_path_buf(dir, sizeof dir, "many");
    assert_int_equal(mkdir(dir, 0700), 0);
    for (int k = 0; k < 6; k++) {
        char p[320];
        snprintf(p, sizeof p, "%s/log_%d.csv", dir, k);
        FILE *fp = fopen(p, "w");
        assert_non_null(fp);
        fputs(MSSD_HEADER, fp);
        for (int s = 0; s < 50; s++) {
            char sid[32];
            snprintf(sid, sizeof sid, "f%ds%d", k, s);
            for (int i = 1; i <= 6; i++) {
                char t[16];
                snprintf(t, sizeof t, "t%d", (k * 7 + s * 3 + i * 5) % 97);
                mssd_row(fp, sid, i, 6, t, (s + i) % 3 == 0 ? 2 : 0, "2018-07-15", 3);
            }
        }
        fclose(fp);
    }
    const char *inputs[1] = { dir };
    char **paths = NULL;
    size_t n = 0;
    assert_int_equal(sr_ingest_expand(inputs, 1, &paths, &n), SR_OK);
    assert_int_equal(n, 6);
    assert_non_null(strstr(paths[0], "log_0.csv"));
    assert_non_null(strstr(paths[5], "log_5.csv"));

    char s1[256], s2[256];
    sr_test_path_buf(s1, sizeof s1, "t1.store");
    sr_test_path_buf(s2, sizeof s2, "t2.store");
    sr_ingest_opts o;
    sr_ingest_opts_default(&o);
    o.threads = 1;
    sr_store_stats st1, st2;
    assert_int_equal(sr_ingest_run((const char *const *)paths, n, &o, s1, &st1, NULL), SR_OK);
    o.threads = 2;
    assert_int_equal(sr_ingest_run((const char *const *)paths, n, &o, s2, &st2, NULL), SR_OK);
    sr_ingest_paths_free(paths, n);
    assert_int_equal(st1.sessions, 300);
    assert_int_equal(st1.interactions, 1800);
    assert_int_equal(st1.input_files, 6);

    sr_store *a = NULL, *b = NULL;
    assert_int_equal(sr_store_open(s1, &a), SR_OK);
    assert_int_equal(sr_store_open(s2, &b), SR_OK);
    assert_int_equal(a->n_tracks, b->n_tracks);
    assert_int_equal(a->n_plays, b->n_plays);
    assert_memory_equal(a->play_track, b->play_track, a->n_plays * sizeof *a->play_track);
    assert_memory_equal(a->play_feedback, b->play_feedback, a->n_plays);
    for (uint32_t t = 0; t < a->n_tracks; t++)
        assert_true(sr_str_eq(sr_store_track_id(a, (int32_t)t), sr_store_track_id(b, (int32_t)t)));
    /* each file is its own part: part k's first session is 50 k, first play 300 k */
    for (int k = 0; k < 6; k++) {
        assert_int_equal(a->session_offsets[50 * k], 300 * k);
        assert_int_equal(a->session_start[50 * k], INT64_C(1531612800) + 3 * 3600);
    }
    sr_store_close(&a);
    sr_store_close(&b);
    assert_memory_equal(&st1, &st2, sizeof st1);
    /* every array, and the file but for its creation time */
    assert_same_store(s1, s2);
}

/* Six files for the filter + thread tests: file k, session s has
 * 3 + (k + s) % 5 plays; play i is skipped (skip_2) when (s + i + k) % 4 == 0.
 * Tracks "t<(11k + 7s + 13i) % 61>", except file 2's odd plays and all of
 * file 5's, which are unique ("r.." / "q..") and so rare.
 * Counted independently (python, replaying these rules) for
 * only_with_skip + min_track_count 3, leave-last: 1200 rows, 12 sessions
 * without a skip, 302 rare plays removed, after which 44 sessions are too
 * short and 16 lost their last skip; 168 sessions (file 5 keeps none),
 * 816 plays, 220 skipped, 61 tracks, train_sessions 128, train_interactions
 * 448 (sessions of 4+ plays); the first tracks are t20, t33, t46 with 9, 10, 9 training plays and
 * 3, 2, 3 training skips. */
static void write_filter_files(const char *dir)
{
    assert_int_equal(mkdir(dir, 0700), 0);
    for (int k = 0; k < 6; k++) {
        char p[320];
        snprintf(p, sizeof p, "%s/log_%d.csv", dir, k);
        FILE *fp = fopen(p, "w");
        assert_non_null(fp);
        fputs(MSSD_HEADER, fp);
        for (int s = 0; s < 40; s++) {
            char sid[32], date[16];
            snprintf(sid, sizeof sid, "f%ds%d", k, s);
            snprintf(date, sizeof date, "2018-07-%02d", 15 + s % 10);
            int n = 3 + (k + s) % 5;
            for (int i = 1; i <= n; i++) {
                char t[32];
                if (k == 5)
                    snprintf(t, sizeof t, "q%d_%d", s, i);
                else if (k == 2 && i % 2 == 1)
                    snprintf(t, sizeof t, "r%d_%d", s, i);
                else
                    snprintf(t, sizeof t, "t%d", (k * 11 + s * 7 + i * 13) % 61);
                mssd_row(fp, sid, i, n, t, (s + i + k) % 4 == 0 ? 2 : 0, date, k);
            }
        }
        fclose(fp);
    }
}

/* With the rare-track filter each part's kept sessions come from the scan,
 * some parts keep few or none, and the store is still the same on 1, 2 and
 * 3 threads, with the independently counted numbers. */
static void test_ingest_filters_same_store_on_1_2_3_threads(void **state)
{
    (void)state;
    char dir[256];
    sr_test_path_buf(dir, sizeof dir, "filt");
    write_filter_files(dir);
    const char *inputs[1] = { dir };
    char **paths = NULL;
    size_t n = 0;
    assert_int_equal(sr_ingest_expand(inputs, 1, &paths, &n), SR_OK);
    assert_int_equal(n, 6);
    char s1[256], s2[256], s3[256];
    sr_test_path_buf(s1, sizeof s1, "f1.store");
    sr_test_path_buf(s2, sizeof s2, "f2.store");
    sr_test_path_buf(s3, sizeof s3, "f3.store");
    sr_ingest_opts o;
    sr_ingest_opts_default(&o);
    o.only_with_skip = true;
    o.min_track_count = 3;
    sr_store_stats st;
    o.threads = 1;
    assert_int_equal(sr_ingest_run((const char *const *)paths, n, &o, s1, &st, NULL), SR_OK);
    assert_int_equal(st.input_rows, 1200);
    assert_int_equal(st.removed_noskip_sessions, 12 + 16);
    assert_int_equal(st.removed_rare_track_plays, 302);
    assert_int_equal(st.removed_short_sessions, 44);
    assert_int_equal(st.sessions, 168);
    assert_int_equal(st.interactions, 816);
    assert_int_equal(st.skipped, 220);
    assert_int_equal(st.tracks, 61);
    assert_int_equal(st.train_sessions, 128);
    assert_int_equal(st.train_interactions, 448);
    o.threads = 2;
    assert_int_equal(sr_ingest_run((const char *const *)paths, n, &o, s2, &st, NULL), SR_OK);
    o.threads = 3;
    assert_int_equal(sr_ingest_run((const char *const *)paths, n, &o, s3, &st, NULL), SR_OK);
    assert_same_store(s1, s2);
    assert_same_store(s1, s3);
    sr_store *s = NULL;
    assert_int_equal(sr_store_open(s2, &s), SR_OK);
    const char *first[3] = { "t20", "t33", "t46" };
    const uint32_t plays[3] = { 9, 10, 9 }, skips[3] = { 3, 2, 3 };
    for (int i = 0; i < 3; i++) {
        assert_true(sr_str_eqc(sr_store_track_id(s, i), first[i]));
        assert_int_equal(s->track_plays[i], plays[i]);
        assert_int_equal(s->track_skips[i], skips[i]);
    }
    sr_store_close(&s);

    /* temporal split on top: cut-offs and vocabulary from scans, same store */
    o.split = SR_SPLIT_KIND_TEMPORAL;
    o.threads = 1;
    assert_int_equal(sr_ingest_run((const char *const *)paths, n, &o, s1, &st, NULL), SR_OK);
    /* starts: day 15 + s % 10, hour k; cut-offs at the 134th and 151st of
     * the 168 sorted starts (python, same rules) */
    assert_int_equal(st.sessions, 168);
    assert_int_equal(st.train_sessions, 134);
    assert_int_equal(st.valid_sessions, 16);
    assert_int_equal(st.test_sessions, 18);
    assert_int_equal(st.train_interactions, 634);
    o.threads = 2;
    assert_int_equal(sr_ingest_run((const char *const *)paths, n, &o, s2, &st, NULL), SR_OK);
    assert_same_store(s1, s2);
    sr_ingest_paths_free(paths, n);
}

static bool cancel_at_write(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    (void)done, (void)total;
    int *calls = ud;
    (*calls)++;
    return strcmp(phase, "write") != 0;
}

/* Cancelled while writing: SR_ERR_CANCELLED, and no store, temporary file,
 * part spool or (nothing was rejected) rejects file is left. */
static void test_ingest_cancelled_write_leaves_no_store(void **state)
{
    (void)state;
    char dir[256];
    sr_test_path_buf(dir, sizeof dir, "cancel");
    write_filter_files(dir);
    const char *inputs[1] = { dir };
    char **paths = NULL;
    size_t n = 0;
    assert_int_equal(sr_ingest_expand(inputs, 1, &paths, &n), SR_OK);
    char out[256], store[300], first[256] = "";
    sr_test_path_buf(out, sizeof out, "out");
    assert_int_equal(mkdir(out, 0700), 0);
    snprintf(store, sizeof store, "%s/c.store", out);
    sr_ingest_opts o;
    sr_ingest_opts_default(&o);
    o.threads = 2;
    int calls = 0;
    o.progress = cancel_at_write;
    o.progress_ud = &calls;
    sr_store_stats st;
    assert_int_equal(sr_ingest_run((const char *const *)paths, n, &o, store, &st, NULL),
                     SR_ERR_CANCELLED);
    assert_true(calls >= 1);
    sr_ingest_paths_free(paths, n);
    assert_int_equal(sr_test_count_entries(out, first, sizeof first), 0);
}

static void test_ingest_expand_refuses_missing_and_empty(void **state)
{
    (void)state;
    char missing[256], emptydir[256];
    sr_test_path_buf(missing, sizeof missing, "nope.csv");
    sr_test_path_buf(emptydir, sizeof emptydir, "emptydir");
    assert_int_equal(mkdir(emptydir, 0700), 0);
    char **paths = NULL;
    size_t n = 0;
    const char *a[1] = { missing };
    assert_int_equal(sr_ingest_expand(a, 1, &paths, &n), SR_ERR_NOTFOUND);
    const char *b[1] = { emptydir };
    assert_int_equal(sr_ingest_expand(b, 1, &paths, &n), SR_ERR_EMPTY);
}

/* The real MSSD sample (research-only: read from ../shared, never copied). */
static void test_ingest_mssd_sample_known_counts(void **state)
{
    (void)state;
    const char *in = SR_SHARED_DATA "/mssd-sample/mssd_full_training_sample_1180rows.csv";
    if (access(in, R_OK) != 0)
        skip();
    char store[256];
    sr_test_path_buf(store, sizeof store, "mssd.store");
    sr_ingest_opts o;
    sr_ingest_opts_default(&o);
    sr_store_stats st;
    assert_int_equal(ingest_one(in, &o, store, &st), SR_OK);
    assert_int_equal(st.input_rows, 1180);
    assert_int_equal(st.rejected_rows, 0);
    assert_int_equal(st.sessions, 169);
    assert_int_equal(st.interactions, 1180);
    assert_int_equal(st.skipped, 579);        /* skip_2 == True rows, counted with python csv */
    SR_ASSERT_NEAR(st.skip_rate, 0.4907, 0.0001);
    assert_int_equal(st.tracks, 917);
    assert_int_equal(st.test_sessions, 169);  /* every session has 4..9 plays */
    assert_int_equal(st.train_interactions, 1180 - 2 * 169);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SR_TEST_IN_DIR(test_ingest_basic_counts_and_leave_last_split),
        SR_TEST_IN_DIR(test_ingest_skip_rules_change_labels),
        SR_TEST_IN_DIR(test_ingest_filters),
        SR_TEST_IN_DIR(test_ingest_temporal_split_keeps_test_out_of_training),
        SR_TEST_IN_DIR(test_ingest_reject_rate_fails_and_keeps_rejects),
        SR_TEST_IN_DIR(test_ingest_empty_input_is_an_error),
        SR_TEST_IN_DIR(test_ingest_missing_column_names_file_and_column),
        SR_TEST_IN_DIR(test_ingest_threads_do_not_change_the_store),
        SR_TEST_IN_DIR(test_ingest_filters_same_store_on_1_2_3_threads),
        SR_TEST_IN_DIR(test_ingest_cancelled_write_leaves_no_store),
        SR_TEST_IN_DIR(test_ingest_expand_refuses_missing_and_empty),
        SR_TEST_IN_DIR(test_ingest_mssd_sample_known_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
