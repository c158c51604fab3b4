/* test_mssd.c - the MSSD reader on a hand-written fixture
 * (tests/data/mssd_small.csv, invented ids) and, when present, on the real
 * 1,180-row sample in ../shared/data (read at run time, never copied).
 *
 * Fixture, counted by hand (and re-checked with a short python3 script):
 * 25 data rows (line 9 is blank), 10 rejected:
 *   8 bad boolean in skip_2, 11 empty track_id_clean, 12 skip flags not nested,
 *   17 duplicate position, 19 position out of order, 21 bad hour_of_day,
 *   22 bad date (2018-02-30), 23 bad session_position (0), 25 too few fields,
 *   26 bad boolean in premium.
 * 5 sessions, 15 plays: s_a 5 (pos 1-5), s_b 2 (pos 2,4), s_c 2 (pos 3,4),
 * s_d 4 (pos 1,2,4,5), s_f 2 (pos 1,3); s_e has no valid row.
 * Flag patterns of the 15 plays: listened 5, skip_1 (all three flags) 4,
 * skip_2+skip_3 3, skip_3 only 2, no flag at all 1. Hence skipped plays:
 * skip_1 rule 4, skip_2 rule 7, skip_3 rule 9, not_skipped rule 10. */
#include "sr_test.h"

#include <zlib.h>

#include "sr_mssd.h"

#define FIXTURE SR_SOURCE_DIR "/tests/data/mssd_small.csv"
#define SAMPLE SR_SHARED_DATA "/mssd-sample/mssd_full_training_sample_1180rows.csv"

/* ---- a sink that copies what it is given ----------------------------------- */
#define MAX_SESSIONS 256
#define MAX_PLAYS 32

typedef struct copied_play {
    char track[64];
    int64_t time;
    uint32_t context;
    uint16_t position;
    uint8_t feedback;
} copied_play;

typedef struct copied_session {
    char key[64];
    uint32_t n;
    copied_play plays[MAX_PLAYS];
} copied_session;

typedef struct collector {
    copied_session *s; /* [MAX_SESSIONS] */
    uint32_t n;        /* sessions seen */
    uint64_t plays, skipped;
    uint32_t stop_after; /* 0 = never stop */
} collector;

static sr_err collect(void *ud, const sr_session *s)
{
    collector *c = ud;
    for (uint32_t i = 0; i < s->n; i++)
        c->skipped += (s->plays[i].feedback & SR_FB_SKIPPED) != 0;
    c->plays += s->n;
    if (c->n < MAX_SESSIONS) {
        copied_session *d = &c->s[c->n];
        assert_true(s->key.len < sizeof d->key);
        memcpy(d->key, s->key.ptr, s->key.len);
        d->key[s->key.len] = '\0';
        d->n = s->n;
        for (uint32_t i = 0; i < s->n && i < MAX_PLAYS; i++) {
            const sr_play *p = &s->plays[i];
            assert_true(p->track.len < sizeof d->plays[i].track);
            memcpy(d->plays[i].track, p->track.ptr, p->track.len);
            d->plays[i].track[p->track.len] = '\0';
            d->plays[i].time = p->time;
            d->plays[i].context = p->context;
            d->plays[i].position = p->position;
            d->plays[i].feedback = p->feedback;
        }
    }
    c->n++;
    if (c->stop_after && c->n == c->stop_after)
        return sr_errorf(SR_ERR_CANCELLED, "stop requested");
    return SR_OK;
}

static void collector_init(collector *c)
{
    memset(c, 0, sizeof *c);
    c->s = calloc(MAX_SESSIONS, sizeof *c->s);
    assert_non_null(c->s);
}

static void collector_free(collector *c)
{
    free(c->s);
    c->s = NULL;
}

static sr_err read_with_rule(const char *path, sr_skip_rule rule, uint32_t max_len,
                             sr_rejects *rej, collector *col, sr_read_counts *counts)
{
    sr_mssd_opts o;
    sr_mssd_opts_default(&o);
    o.skip_rule = rule;
    o.max_session_len = max_len;
    return sr_mssd_read_file(path, &o, rej, collect, col, counts);
}

static void assert_positions(const copied_session *s, const char *key, const uint16_t *pos,
                             uint32_t n)
{
    assert_string_equal(s->key, key);
    assert_int_equal(s->n, n);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(s->plays[i].position, pos[i]);
}

static void test_mssd_fixture_sessions_counts_and_rejects_file(void **state)
{
    (void)state;
    const char *rpath = sr_test_path("fixture.rejects.tsv");
    sr_rejects *rej = NULL;
    assert_int_equal(sr_rejects_open(rpath, &rej), SR_OK);
    collector col;
    collector_init(&col);
    sr_read_counts counts;
    memset(&counts, 0, sizeof counts);
    assert_int_equal(read_with_rule(FIXTURE, SR_SKIP_RULE_SKIP_2, 0, rej, &col, &counts), SR_OK);
    assert_int_equal(sr_rejects_count(rej), 10);
    assert_int_equal(sr_rejects_close(&rej), SR_OK);

    struct stat sb;
    assert_int_equal(stat(FIXTURE, &sb), 0);
    assert_int_equal(counts.files, 1);
    assert_int_equal(counts.bytes, (uint64_t)sb.st_size);
    assert_int_equal(counts.rows, 25);
    assert_int_equal(counts.rejected, 10);
    assert_int_equal(counts.sessions, 5);
    assert_int_equal(counts.plays, 15);
    assert_int_equal(counts.truncated, 0);
    assert_int_equal(col.n, 5);
    assert_int_equal(col.skipped, 7);

    const uint16_t pa[] = { 1, 2, 3, 4, 5 }, pb[] = { 2, 4 }, pc[] = { 3, 4 },
                   pd[] = { 1, 2, 4, 5 }, pf[] = { 1, 3 };
    assert_positions(&col.s[0], "s_a", pa, 5);
    assert_positions(&col.s[1], "s_b", pb, 2);
    assert_positions(&col.s[2], "s_c", pc, 2);
    assert_positions(&col.s[3], "s_d", pd, 4);
    assert_positions(&col.s[4], "s_f", pf, 2);
    const char *ta[] = { "t_a", "t_b", "t_c", "t_a", "t_d" };
    for (int i = 0; i < 5; i++)
        assert_string_equal(col.s[0].plays[i].track, ta[i]);
    const char *td[] = { "t_a", "t_b", "t_d", "t_f" };
    for (int i = 0; i < 4; i++)
        assert_string_equal(col.s[3].plays[i].track, td[i]);
    assert_string_equal(col.s[4].plays[0].track, "t_j");
    assert_string_equal(col.s[4].plays[1].track, "t_a");

    /* the rejects file, line by line */
    const struct { unsigned line; const char *reason; } want[] = {
        { 8, "bad boolean in skip_2" }, { 11, "empty track_id_clean" },
        { 12, "skip flags not nested" }, { 17, "duplicate position" },
        { 19, "position out of order" }, { 21, "bad hour_of_day" }, { 22, "bad date" },
        { 23, "bad session_position" }, { 25, "too few fields" },
        { 26, "bad boolean in premium" },
    };
    FILE *fp = fopen(rpath, "r");
    assert_non_null(fp);
    char line[1024];
    size_t k = 0;
    while (fgets(line, sizeof line, fp)) {
        assert_true(k < SR_COUNTOF(want));
        char expect[256];
        snprintf(expect, sizeof expect, "%s\t%u\t%s\t", FIXTURE, want[k].line, want[k].reason);
        if (strncmp(line, expect, strlen(expect)) != 0)
            fail_msg("rejects line %zu: %s", k + 1, line);
        if (want[k].line == 25)
            assert_string_equal(line + strlen(expect), "s_f,2,3,t_k,True\n");
        k++;
    }
    fclose(fp);
    assert_int_equal(k, SR_COUNTOF(want));
    collector_free(&col);
}

static void test_mssd_each_skip_rule_on_fixture(void **state)
{
    (void)state;
    const struct { sr_skip_rule rule; uint64_t skipped; } rules[] = {
        { SR_SKIP_RULE_SKIP_1, 4 }, { SR_SKIP_RULE_SKIP_2, 7 },
        { SR_SKIP_RULE_SKIP_3, 9 }, { SR_SKIP_RULE_NOT_SKIPPED, 10 },
    };
    for (size_t r = 0; r < SR_COUNTOF(rules); r++) {
        collector col;
        collector_init(&col);
        sr_read_counts counts = { 0 };
        assert_int_equal(read_with_rule(FIXTURE, rules[r].rule, 0, NULL, &col, &counts), SR_OK);
        assert_int_equal(counts.plays, 15);
        assert_int_equal(counts.rejected, 10);
        assert_int_equal(col.skipped, rules[r].skipped);
        /* raw flags are kept whatever the rule: s_a is listened, skip_1,
         * skip_2, skip_3-only, none */
        const uint8_t raw[] = { SR_FB_NOT_SKIPPED, SR_FB_SKIP_1 | SR_FB_SKIP_2 | SR_FB_SKIP_3,
                                SR_FB_SKIP_2 | SR_FB_SKIP_3, SR_FB_SKIP_3, 0 };
        for (int i = 0; i < 5; i++) {
            uint8_t fb = col.s[0].plays[i].feedback;
            assert_int_equal(fb & ~SR_FB_SKIPPED, raw[i]);
            assert_int_equal((fb & SR_FB_SKIPPED) != 0, sr_skip_rule_apply(rules[r].rule, raw[i]));
        }
        collector_free(&col);
    }
}

static void test_mssd_context_and_time_of_plays(void **state)
{
    (void)state;
    collector col;
    collector_init(&col);
    assert_int_equal(read_with_rule(FIXTURE, SR_SKIP_RULE_SKIP_2, 0, NULL, &col, NULL), SR_OK);
    /* 2018-07-16 00:00 UTC = 1531699200 (python calendar.timegm) */
    const copied_play *a = col.s[0].plays;
    assert_int_equal(a[0].time, 1531699200 + 6 * 3600);
    assert_int_equal(a[0].context, sr_ctx_pack(SR_CTX_TYPE_RADIO, SR_REASON_CLICKROW,
                                               SR_REASON_TRACKDONE, false, true, false, 0, 6));
    assert_int_equal(a[3].time, 1531699200 + 7 * 3600);
    assert_int_equal(a[3].context, sr_ctx_pack(SR_CTX_TYPE_RADIO, SR_REASON_FWDBTN,
                                               SR_REASON_TRACKDONE, false, true, false, 1, 7));
    /* long pause (short and long both set) and a context switch */
    assert_int_equal(a[4].context, sr_ctx_pack(SR_CTX_TYPE_RADIO, SR_REASON_TRACKDONE,
                                               SR_REASON_ENDPLAY, false, true, true, 2, 7));
    /* s_b position 4: no pause flag at all -> unknown (3), context_switch "True" */
    const copied_play *b = col.s[1].plays;
    assert_int_equal(b[1].time, 1531699200 + 86400 + 23 * 3600);
    assert_int_equal(b[1].context, sr_ctx_pack(SR_CTX_TYPE_USER_COLLECTION, SR_REASON_TRACKDONE,
                                               SR_REASON_FWDBTN, true, false, true, 3, 23));
    /* s_c position 4: unknown context_type and reason_start map to 0 */
    const copied_play *c = col.s[2].plays;
    assert_int_equal(c[1].context, sr_ctx_pack(SR_CTX_TYPE_UNKNOWN, SR_REASON_UNKNOWN,
                                               SR_REASON_TRACKDONE, false, true, false, 0, 0));
    assert_int_equal(c[1].time, 1531699200 + 2 * 86400);
    collector_free(&col);
}

static void test_mssd_max_session_len_truncates_and_counts(void **state)
{
    (void)state;
    collector col;
    collector_init(&col);
    sr_read_counts counts = { 0 };
    assert_int_equal(read_with_rule(FIXTURE, SR_SKIP_RULE_SKIP_2, 3, NULL, &col, &counts), SR_OK);
    /* s_a loses positions 4 and 5, s_d loses 5; rejects are unchanged */
    assert_int_equal(counts.truncated, 3);
    assert_int_equal(counts.plays, 12);
    assert_int_equal(counts.sessions, 5);
    assert_int_equal(counts.rejected, 10);
    const uint16_t pa[] = { 1, 2, 3 }, pd[] = { 1, 2, 4 };
    assert_positions(&col.s[0], "s_a", pa, 3);
    assert_positions(&col.s[3], "s_d", pd, 3);
    collector_free(&col);
}

static const char *k_header =
    "session_id,session_position,session_length,track_id_clean,skip_1,skip_2,skip_3,"
    "not_skipped,context_switch,no_pause_before_play,short_pause_before_play,"
    "long_pause_before_play,hist_user_behavior_n_seekfwd,hist_user_behavior_n_seekback,"
    "hist_user_behavior_is_shuffle,hour_of_day,date,premium,context_type,"
    "hist_user_behavior_reason_start,hist_user_behavior_reason_end\n";

/* A row of session `sid` at position `pos`, listened. */
static void append_row(char *buf, size_t cap, const char *sid, int pos, const char *track)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n,
             "%s,%d,9,%s,False,False,False,True,0,1,0,0,0,0,False,1,2018-07-20,True,radio,"
             "trackdone,trackdone\n",
             sid, pos, track);
}

static void test_mssd_out_of_order_and_duplicate_positions_rejected(void **state)
{
    (void)state;
    char text[4096];
    snprintf(text, sizeof text, "%s", k_header);
    append_row(text, sizeof text, "x", 1, "t_a"); /* line 2 */
    append_row(text, sizeof text, "x", 3, "t_b"); /* 3 */
    append_row(text, sizeof text, "x", 3, "t_c"); /* 4: duplicate */
    append_row(text, sizeof text, "x", 2, "t_d"); /* 5: out of order */
    append_row(text, sizeof text, "x", 4, "t_e"); /* 6 */
    append_row(text, sizeof text, "y", 1, "t_f"); /* 7: new session may restart at 1 */
    append_row(text, sizeof text, "y", 1, "t_g"); /* 8: duplicate */
    const char *p = sr_test_path("order.csv");
    sr_test_write_text(p, text);
    sr_rejects *rej = NULL;
    assert_int_equal(sr_rejects_open(NULL, &rej), SR_OK);
    collector col;
    collector_init(&col);
    sr_read_counts counts = { 0 };
    assert_int_equal(read_with_rule(p, SR_SKIP_RULE_SKIP_2, 0, rej, &col, &counts), SR_OK);
    assert_int_equal(counts.rows, 7);
    assert_int_equal(counts.rejected, 3);
    assert_int_equal(counts.sessions, 2);
    const uint16_t px[] = { 1, 3, 4 }, py[] = { 1 };
    assert_positions(&col.s[0], "x", px, 3);
    assert_string_equal(col.s[0].plays[1].track, "t_b");
    assert_positions(&col.s[1], "y", py, 1);
    const char *reasons[4];
    uint64_t n[4];
    assert_int_equal(sr_rejects_summary(rej, reasons, n, 4), 2);
    assert_string_equal(reasons[0], "duplicate position");
    assert_int_equal(n[0], 2);
    assert_string_equal(reasons[1], "position out of order");
    assert_int_equal(n[1], 1);
    sr_rejects_abort(&rej);
    collector_free(&col);
}

static void test_mssd_overlong_ids_rejected(void **state)
{
    (void)state;
    /* ids up to 1024 bytes are accepted, longer ones rejected */
    static char text[8192], id_ok[1025], id_long[1026];
    memset(id_ok, 'k', 1024);
    memset(id_long, 'k', 1025);
    snprintf(text, sizeof text, "%s", k_header);
    append_row(text, sizeof text, "x", 1, id_ok);   /* line 2 */
    append_row(text, sizeof text, "x", 2, id_long); /* 3: track too long */
    append_row(text, sizeof text, id_long, 1, "t"); /* 4: session too long */
    const char *p = sr_test_path("long.csv");
    sr_test_write_text(p, text);
    sr_rejects *rej = NULL;
    assert_int_equal(sr_rejects_open(NULL, &rej), SR_OK);
    sr_read_counts counts = { 0 };
    collector col;
    collector_init(&col);
    col.n = MAX_SESSIONS; /* count only: the ids do not fit the copies */
    assert_int_equal(read_with_rule(p, SR_SKIP_RULE_SKIP_2, 0, rej, &col, &counts), SR_OK);
    assert_int_equal(counts.plays, 1);
    assert_int_equal(counts.rejected, 2);
    const char *reasons[4];
    uint64_t n[4];
    assert_int_equal(sr_rejects_summary(rej, reasons, n, 4), 2);
    assert_string_equal(reasons[0], "track_id_clean too long");
    assert_string_equal(reasons[1], "session_id too long");
    sr_rejects_abort(&rej);
    collector_free(&col);
}

static void test_mssd_missing_column_is_column_error_before_any_session(void **state)
{
    (void)state;
    const char *p = sr_test_path("noskip2.csv");
    sr_test_write_text(p,
                       "session_id,session_position,session_length,track_id_clean,skip_1,skip_3,"
                       "not_skipped,context_switch,no_pause_before_play,short_pause_before_play,"
                       "long_pause_before_play,hist_user_behavior_n_seekfwd,"
                       "hist_user_behavior_n_seekback,hist_user_behavior_is_shuffle,hour_of_day,date,"
                       "premium,context_type,hist_user_behavior_reason_start,"
                       "hist_user_behavior_reason_end\n"
                       "x,1,9,t_a,False,False,True,0,1,0,0,0,0,False,1,2018-07-20,True,radio,a,b\n");
    collector col;
    collector_init(&col);
    sr_read_counts counts = { 0 };
    assert_int_equal(read_with_rule(p, SR_SKIP_RULE_SKIP_2, 0, NULL, &col, &counts),
                     SR_ERR_COLUMN);
    char want[512];
    snprintf(want, sizeof want,
             "%s: missing column \"skip_2\"; found: session_id, session_position, "
             "session_length, track_id_clean, skip_1, skip_3,",
             p);
    if (strncmp(sr_errmsg(), want, strlen(want)) != 0)
        fail_msg("message: %s", sr_errmsg());
    assert_int_equal(col.n, 0);
    assert_int_equal(counts.sessions, 0);
    collector_free(&col);
}

static void test_mssd_columns_in_any_order_extra_ignored(void **state)
{
    (void)state;
    /* the 21 columns reversed, with two extra ones */
    const char *p = sr_test_path("reordered.csv");
    sr_test_write_text(p,
                       "extra_a,hist_user_behavior_reason_end,hist_user_behavior_reason_start,"
                       "context_type,premium,date,hour_of_day,hist_user_behavior_is_shuffle,"
                       "hist_user_behavior_n_seekback,hist_user_behavior_n_seekfwd,"
                       "long_pause_before_play,short_pause_before_play,no_pause_before_play,"
                       "context_switch,not_skipped,skip_3,skip_2,skip_1,track_id_clean,"
                       "session_length,session_position,session_id,extra_b\n"
                       "?,fwdbtn,clickrow,charts,False,2018-07-21,5,True,0,0,0,1,0,1,False,True,True,"
                       "False,t_z,2,1,q,?\n"
                       "?,trackdone,fwdbtn,charts,False,2018-07-21,5,True,0,0,0,0,1,0,True,False,False,"
                       "False,t_y,2,2,q,?\n");
    collector col;
    collector_init(&col);
    sr_read_counts counts = { 0 };
    assert_int_equal(read_with_rule(p, SR_SKIP_RULE_SKIP_2, 0, NULL, &col, &counts), SR_OK);
    assert_int_equal(counts.rejected, 0);
    assert_int_equal(col.n, 1);
    const uint16_t pq[] = { 1, 2 };
    assert_positions(&col.s[0], "q", pq, 2);
    const copied_play *a = col.s[0].plays;
    assert_string_equal(a[0].track, "t_z");
    assert_int_equal(a[0].feedback, SR_FB_SKIP_2 | SR_FB_SKIP_3 | SR_FB_SKIPPED);
    assert_int_equal(a[0].context, sr_ctx_pack(SR_CTX_TYPE_CHARTS, SR_REASON_CLICKROW,
                                               SR_REASON_FWDBTN, true, false, true, 1, 5));
    assert_int_equal(a[1].feedback, SR_FB_NOT_SKIPPED);
    assert_int_equal(a[1].context, sr_ctx_pack(SR_CTX_TYPE_CHARTS, SR_REASON_FWDBTN,
                                               SR_REASON_TRACKDONE, true, false, false, 0, 5));
    collector_free(&col);
}

/* Serialise everything the sink saw, to compare two reads. */
static void digest(const collector *c, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < c->n && i < MAX_SESSIONS; i++) {
        n += (size_t)snprintf(out + n, cap - n, "%s:", c->s[i].key);
        for (uint32_t j = 0; j < c->s[i].n && j < MAX_PLAYS; j++) {
            const copied_play *p = &c->s[i].plays[j];
            n += (size_t)snprintf(out + n, cap - n, "%u/%s/%u/%u/%lld,", p->position, p->track,
                                  p->feedback, p->context, (long long)p->time);
        }
        n += (size_t)snprintf(out + n, cap - n, ";");
        assert_true(n < cap);
    }
}

static void test_mssd_gzip_input_reads_like_plain(void **state)
{
    (void)state;
    FILE *fp = fopen(FIXTURE, "rb");
    assert_non_null(fp);
    char buf[16384];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    assert_true(len > 0 && len < sizeof buf);
    const char *gzp = sr_test_path("fixture.csv.gz");
    gzFile gz = gzopen(gzp, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, buf, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);

    collector plain, packed;
    collector_init(&plain);
    collector_init(&packed);
    sr_read_counts cp = { 0 }, cz = { 0 };
    assert_int_equal(read_with_rule(FIXTURE, SR_SKIP_RULE_SKIP_2, 0, NULL, &plain, &cp), SR_OK);
    assert_int_equal(read_with_rule(gzp, SR_SKIP_RULE_SKIP_2, 0, NULL, &packed, &cz), SR_OK);
    assert_int_equal(cz.bytes, len); /* uncompressed bytes */
    assert_int_equal(cz.rows, cp.rows);
    assert_int_equal(cz.rejected, cp.rejected);
    assert_int_equal(cz.sessions, 5);
    assert_int_equal(cz.plays, 15);
    static char d1[65536], d2[65536];
    digest(&plain, d1, sizeof d1);
    digest(&packed, d2, sizeof d2);
    assert_string_equal(d1, d2);
    collector_free(&plain);
    collector_free(&packed);
}

static void test_mssd_empty_file_is_empty_error_header_only_is_ok(void **state)
{
    (void)state;
    const char *p = sr_test_path("empty.csv");
    sr_test_write_text(p, "");
    collector col;
    collector_init(&col);
    sr_read_counts counts = { 0 };
    assert_int_equal(read_with_rule(p, SR_SKIP_RULE_SKIP_2, 0, NULL, &col, &counts), SR_ERR_EMPTY);
    assert_non_null(strstr(sr_errmsg(), "empty.csv"));
    const char *h = sr_test_path("header_only.csv");
    sr_test_write_text(h, k_header);
    assert_int_equal(read_with_rule(h, SR_SKIP_RULE_SKIP_2, 0, NULL, &col, &counts), SR_OK);
    assert_int_equal(col.n, 0);
    assert_int_equal(counts.rows, 0);
    assert_int_equal(counts.files, 2);
    assert_int_equal(read_with_rule(sr_test_path("absent.csv"), SR_SKIP_RULE_SKIP_2, 0, NULL, &col,
                                    &counts), SR_ERR_IO);
    assert_non_null(strstr(sr_errmsg(), "absent.csv"));
    collector_free(&col);
}

static void test_mssd_sink_error_stops_the_reader(void **state)
{
    (void)state;
    collector col;
    collector_init(&col);
    col.stop_after = 2;
    sr_read_counts counts = { 0 };
    assert_int_equal(read_with_rule(FIXTURE, SR_SKIP_RULE_SKIP_2, 0, NULL, &col, &counts),
                     SR_ERR_CANCELLED);
    assert_int_equal(col.n, 2);
    collector_free(&col);
}

static void test_mssd_counts_accumulate_over_calls(void **state)
{
    (void)state;
    collector col;
    collector_init(&col);
    sr_read_counts counts = { 0 };
    assert_int_equal(read_with_rule(FIXTURE, SR_SKIP_RULE_SKIP_2, 0, NULL, &col, &counts), SR_OK);
    assert_int_equal(read_with_rule(FIXTURE, SR_SKIP_RULE_SKIP_2, 0, NULL, &col, &counts), SR_OK);
    assert_int_equal(counts.files, 2);
    assert_int_equal(counts.rows, 50);
    assert_int_equal(counts.rejected, 20);
    assert_int_equal(counts.sessions, 10);
    assert_int_equal(counts.plays, 30);
    collector_free(&col);
}

/* Counts verified with python3 (csv module): 1180 rows, 169 consecutive
 * sessions with strictly increasing positions, flags nested everywhere;
 * skip_1 427, skip_2 579 (rate 0.491), skip_3 765, not_skipped False 782. */
static void test_mssd_real_sample_counts(void **state)
{
    (void)state;
    if (access(SAMPLE, R_OK) != 0)
        skip();
    const struct { sr_skip_rule rule; uint64_t skipped; } rules[] = {
        { SR_SKIP_RULE_SKIP_1, 427 }, { SR_SKIP_RULE_SKIP_2, 579 },
        { SR_SKIP_RULE_SKIP_3, 765 }, { SR_SKIP_RULE_NOT_SKIPPED, 782 },
    };
    for (size_t r = 0; r < SR_COUNTOF(rules); r++) {
        collector col;
        collector_init(&col);
        sr_read_counts counts = { 0 };
        sr_rejects *rej = NULL;
        assert_int_equal(sr_rejects_open(NULL, &rej), SR_OK);
        assert_int_equal(read_with_rule(SAMPLE, rules[r].rule, 0, rej, &col, &counts), SR_OK);
        assert_int_equal(counts.rows, 1180);
        assert_int_equal(counts.rejected, 0);
        assert_int_equal(sr_rejects_count(rej), 0);
        assert_int_equal(counts.sessions, 169);
        assert_int_equal(counts.plays, 1180);
        assert_int_equal(col.skipped, rules[r].skipped);
        sr_rejects_abort(&rej);
        collector_free(&col);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mssd_fixture_sessions_counts_and_rejects_file),
        cmocka_unit_test(test_mssd_each_skip_rule_on_fixture),
        cmocka_unit_test(test_mssd_context_and_time_of_plays),
        cmocka_unit_test(test_mssd_max_session_len_truncates_and_counts),
        cmocka_unit_test(test_mssd_out_of_order_and_duplicate_positions_rejected),
        cmocka_unit_test(test_mssd_overlong_ids_rejected),
        cmocka_unit_test(test_mssd_missing_column_is_column_error_before_any_session),
        cmocka_unit_test(test_mssd_columns_in_any_order_extra_ignored),
        cmocka_unit_test(test_mssd_gzip_input_reads_like_plain),
        cmocka_unit_test(test_mssd_empty_file_is_empty_error_header_only_is_ok),
        cmocka_unit_test(test_mssd_sink_error_stops_the_reader),
        cmocka_unit_test(test_mssd_counts_accumulate_over_calls),
        cmocka_unit_test(test_mssd_real_sample_counts),
    };
    return cmocka_run_group_tests(tests, sr_test_dir_setup, sr_test_dir_teardown);
}
