/* test_baseline.c - the popularity and sequential-rules baselines
 * (sr_baseline.h): weights computed by hand on tiny stores, the window and
 * max_rules limits, the popularity tie-break, save / load, the scorer view,
 * and the evaluator on a baseline by hand. */
#include "sr_test.h"
#include "sr_test_store.h"

#include "sr_baseline.h"
#include "sr_ckpt.h"
#include "sr_eval.h"
#include "sr_metrics.h"
#include "sr_rng.h"
#include "sr_store.h"

/* ---- stores ------------------------------------------------------------------ */

/* Sessions given as -2-terminated lists. */
static void build(sr_test_store *ts, int32_t I, const uint8_t *split, const int32_t *flat)
{
    memset(ts, 0, sizeof *ts);
    ts->I = I;
    int at = 0;
    for (const int32_t *p = flat; *p != -3; p++) {
        if (*p == -2) {
            ts->split[ts->n] = split[ts->n];
            ts->n++;
            continue;
        }
        ts->track[at++] = *p;
        ts->len[ts->n]++;
    }
}

/* The hand store, I = 5:
 *   s0 ALL   [0 1 2 1 3 4]  training part [0 1 2 1] (3, 4 held out)
 *   s1 ALL   [2 1 0 3]      training part [2 1]
 *   s2 TRAIN [1 2]          all of it
 *   s3 TEST  [4 4 4]        none
 * Training plays: 0: 1, 1: 2 + 1 + 1 = 4, 2: 1 + 1 + 1 = 3, 3: 0, 4: 0.
 * Rules, window 10 (pairs of each training part, weight 1 / distance):
 *   [0 1 2 1]: 0->1 1, 0->2 1/2, 0->1 1/3, 1->2 1, 1->1 1/2, 2->1 1
 *   [2 1]: 2->1 1     [1 2]: 1->2 1
 *   => 0->1 4/3, 0->2 1/2, 1->2 2, 1->1 1/2, 2->1 2
 * Window 1 keeps distance-1 pairs: 0->1 1, 1->2 2, 2->1 2.
 * Window 2 drops only 0->1's 1/3: 0->1 1, 0->2 1/2, 1->2 2, 1->1 1/2, 2->1 2.
 * Popularity term: eps * plays / (max_plays + 1) = 1e-6 * plays / 5. */
static const uint8_t hand_split[4] = { SR_SPLIT_ALL, SR_SPLIT_ALL, SR_SPLIT_TRAIN, SR_SPLIT_TEST };
static const int32_t hand_flat[] = { 0, 1, 2, 1, 3, 4, -2, 2, 1, 0, 3, -2, 1, 2, -2,
                                     4, 4, 4, -2, -3 };
static const uint32_t hand_plays[5] = { 1, 4, 3, 0, 0 };

static sr_store *hand_store(const char *name)
{
    sr_test_store ts;
    build(&ts, 5, hand_split, hand_flat);
    memcpy(ts.plays, hand_plays, sizeof hand_plays);
    ts.fb[4] = SR_FB_SKIPPED; /* s0's x5, its validation target */
    return sr_test_store_open(&ts, name);
}

static sr_baseline *fit(const sr_store *st, sr_baseline_kind kind, int window, int max_rules)
{
    sr_baseline_config c = sr_baseline_config_default(kind);
    c.window = window;
    c.max_rules = max_rules;
    sr_baseline *b = NULL;
    if (sr_baseline_fit(st, &c, NULL, NULL, &b) != SR_OK)
        fail_msg("fit: %s", sr_errmsg());
    return b;
}

/* expected[j] = rule weight + 1e-6 * plays / (max_plays + 1), rounded once */
static void assert_scores(const sr_baseline *b, const int32_t *session, int n,
                          const double *rule, const uint32_t *plays, uint32_t max_plays)
{
    const int32_t I = sr_baseline_items(b);
    float s[64];
    sr_baseline_score(b, session, n, s);
    for (int32_t j = 0; j < I; j++) {
        double want = rule[j] + 1e-6 * plays[j] / (max_plays + 1.0);
        /* one float rounding of the weight, one of the sum */
        if (!(fabs((double)s[j] - want) <= 2.5e-7 * fabs(want) + 1e-20))
            fail_msg("item %d: score %.9g, want %.9g", (int)j, (double)s[j], want);
    }
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_kind_names_and_defaults(void **state)
{
    (void)state;
    sr_baseline_kind k;
    assert_int_equal(sr_baseline_kind_parse(sr_str_c("sr"), &k), SR_OK);
    assert_int_equal(k, SR_BASELINE_RULES);
    assert_int_equal(sr_baseline_kind_parse(sr_str_c("pop"), &k), SR_OK);
    assert_int_equal(k, SR_BASELINE_POP);
    assert_int_equal(sr_baseline_kind_parse(sr_str_c("rules"), &k), SR_ERR_ARG);
    assert_string_equal(sr_baseline_kind_name(SR_BASELINE_RULES), "sr");
    assert_string_equal(sr_baseline_kind_name(SR_BASELINE_POP), "pop");
    sr_baseline_config c = sr_baseline_config_default(SR_BASELINE_RULES);
    assert_int_equal(c.kind, SR_BASELINE_RULES);
    assert_int_equal(c.window, 10);
    assert_int_equal(c.max_rules, 200);
}

/* pop = training plays; held-out plays (3 and 4 only occur there) count 0;
 * the session is ignored. */
static void test_pop_scores_are_training_plays(void **state)
{
    (void)state;
    sr_store *st = hand_store("pop.srs");
    sr_baseline *b = fit(st, SR_BASELINE_POP, 10, 200);
    assert_int_equal(sr_baseline_items(b), 5);
    float s[5];
    const int32_t sess[2] = { 2, 0 };
    sr_baseline_score(b, sess, 2, s);
    const float want[5] = { 1, 4, 3, 0, 0 };
    assert_memory_equal(s, want, sizeof want);
    sr_baseline_score(b, NULL, 0, s);
    assert_memory_equal(s, want, sizeof want);
    sr_baseline_free(&b);
    assert_null(b);
    sr_baseline_free(&b);
    sr_store_close(&st);
}

static void test_rules_weights_by_hand(void **state)
{
    (void)state;
    sr_store *st = hand_store("rules.srs");
    sr_baseline *b = fit(st, SR_BASELINE_RULES, 10, 200);
    const int32_t last0[1] = { 0 }, last1[2] = { 2, 1 }, last2[1] = { 2 }, last3[1] = { 3 };
    const double r0[5] = { 0, 4.0 / 3, 0.5, 0, 0 };
    const double r1[5] = { 0, 0.5, 2, 0, 0 };
    const double r2[5] = { 0, 2, 0, 0, 0 };
    const double none[5] = { 0 };
    assert_scores(b, last0, 1, r0, hand_plays, 4);
    assert_scores(b, last1, 2, r1, hand_plays, 4);
    assert_scores(b, last2, 1, r2, hand_plays, 4);
    assert_scores(b, last3, 1, none, hand_plays, 4);
    /* unknown plays are passed over: the last KNOWN play decides */
    const int32_t mixed[4] = { 1, 0, -1, 99 };
    assert_scores(b, mixed, 4, r0, hand_plays, 4);
    const int32_t unknown[2] = { -1, 5 };
    assert_scores(b, unknown, 2, none, hand_plays, 4);
    assert_scores(b, NULL, 0, none, hand_plays, 4);
    sr_baseline_free(&b);

    b = fit(st, SR_BASELINE_RULES, 1, 200);
    const double w1_0[5] = { 0, 1, 0, 0, 0 }, w1_1[5] = { 0, 0, 2, 0, 0 };
    assert_scores(b, last0, 1, w1_0, hand_plays, 4);
    assert_scores(b, last1, 2, w1_1, hand_plays, 4);
    assert_scores(b, last2, 1, r2, hand_plays, 4);
    sr_baseline_free(&b);

    b = fit(st, SR_BASELINE_RULES, 2, 200);
    const double w2_0[5] = { 0, 1, 0.5, 0, 0 };
    assert_scores(b, last0, 1, w2_0, hand_plays, 4);
    assert_scores(b, last1, 2, r1, hand_plays, 4);
    assert_int_equal(sr_baseline_config_of(b)->window, 2);
    sr_baseline_free(&b);
    sr_store_close(&st);
}

/* TRAIN sessions [0 3] [0 4] [0 2] [0 1] [0 4] [5 0] [3 5] [3 5] [2 5],
 * window 1:
 *   row 0: 0->4 2, 0->1 1, 0->2 1, 0->3 1
 *   plays: 0: 6, 1: 1, 2: 2, 3: 3, 4: 2, 5: 4 (max 6, term 1e-6 * plays / 7)
 * max_rules 200, last = 0, order: 4 (2), then the weight-1 ties by
 *   popularity 3 (3), 2 (2), 1 (1), then the items without a rule by
 *   popularity 0 (6), 5 (4):  4 3 2 1 0 5
 * max_rules 2 keeps 4 and, of the three ties at 1, the lowest item 1:
 *   4 1, then by popularity 0 (6), 5 (4), 3 (3), 2 (2):  4 1 0 5 3 2 */
static void test_max_rules_ties_and_popularity_tie_break(void **state)
{
    (void)state;
    const uint8_t split[9] = { 0 }; /* SR_SPLIT_TRAIN */
    const int32_t flat[] = { 0, 3, -2, 0, 4, -2, 0, 2, -2, 0, 1, -2, 0, 4, -2, 5, 0, -2,
                             3, 5, -2, 3, 5, -2, 2, 5, -2, -3 };
    sr_test_store ts;
    build(&ts, 6, split, flat);
    const uint32_t plays[6] = { 6, 1, 2, 3, 2, 4 };
    memcpy(ts.plays, plays, sizeof plays);
    sr_store *st = sr_test_store_open(&ts, "ties.srs");
    const int32_t last0[1] = { 0 };
    float s[6];
    int32_t top[6];

    sr_baseline *b = fit(st, SR_BASELINE_RULES, 1, 200);
    const double all[6] = { 0, 1, 1, 1, 2, 0 };
    assert_scores(b, last0, 1, all, plays, 6);
    sr_baseline_score(b, last0, 1, s);
    assert_int_equal(sr_topk(s, 6, NULL, 6, top, NULL), 6);
    const int32_t want_all[6] = { 4, 3, 2, 1, 0, 5 };
    assert_memory_equal(top, want_all, sizeof want_all);
    sr_baseline_free(&b);

    b = fit(st, SR_BASELINE_RULES, 1, 2);
    const double kept[6] = { 0, 1, 0, 0, 2, 0 };
    assert_scores(b, last0, 1, kept, plays, 6);
    sr_baseline_score(b, last0, 1, s);
    assert_int_equal(sr_topk(s, 6, NULL, 6, top, NULL), 6);
    const int32_t want_kept[6] = { 4, 1, 0, 5, 3, 2 };
    assert_memory_equal(top, want_kept, sizeof want_kept);
    sr_baseline_free(&b);

    b = fit(st, SR_BASELINE_RULES, 1, 1);
    const double one[6] = { 0, 0, 0, 0, 2, 0 };
    assert_scores(b, last0, 1, one, plays, 6);
    sr_baseline_free(&b);
    sr_store_close(&st);
}

static bool g_cancel;
static uint64_t g_done;
static bool fit_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    (void)ud;
    assert_string_equal(phase, "fit");
    assert_true(done <= total);
    g_done = done;
    return !g_cancel;
}

static void test_fit_errors_progress_and_cancel(void **state)
{
    (void)state;
    sr_store *st = hand_store("err.srs");
    sr_baseline *b = NULL;
    sr_baseline_config c = sr_baseline_config_default(SR_BASELINE_RULES);
    c.window = 0;
    assert_int_equal(sr_baseline_fit(st, &c, NULL, NULL, &b), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "window = 0"));
    c.window = 3;
    c.max_rules = 0;
    assert_int_equal(sr_baseline_fit(st, &c, NULL, NULL, &b), SR_ERR_ARG);
    c.max_rules = 5;
    g_cancel = false;
    assert_int_equal(sr_baseline_fit(st, &c, fit_progress, NULL, &b), SR_OK);
    assert_int_equal(g_done, 4);
    sr_baseline_free(&b);
    g_cancel = true;
    assert_int_equal(sr_baseline_fit(st, &c, fit_progress, NULL, &b), SR_ERR_CANCELLED);
    assert_null(b);
    sr_store_close(&st);

    /* only test sessions: nothing to train on */
    const uint8_t split[2] = { SR_SPLIT_TEST, SR_SPLIT_VALID };
    const int32_t flat[] = { 0, 1, 2, -2, 1, 1, -2, -3 };
    sr_test_store ts;
    build(&ts, 3, split, flat);
    st = sr_test_store_open(&ts, "none.srs");
    assert_int_equal(sr_baseline_fit(st, &c, NULL, NULL, &b), SR_ERR_EMPTY);
    assert_null(b);
    sr_store_close(&st);
}

/* A random store for the scorer and save / load checks. */
static sr_store *random_store(const char *name, int32_t I, uint64_t seed)
{
    sr_test_store ts;
    memset(&ts, 0, sizeof ts);
    ts.I = I;
    ts.n = 30;
    sr_rng r;
    sr_rng_seed(&r, seed);
    int at = 0;
    for (int s = 0; s < ts.n; s++) {
        ts.split[s] = sr_rng_below(&r, 2) ? SR_SPLIT_ALL : SR_SPLIT_TRAIN;
        ts.len[s] = 2 + (uint32_t)sr_rng_below(&r, 12);
        for (uint32_t p = 0; p < ts.len[s]; p++)
            ts.track[at++] = (int32_t)sr_rng_below(&r, (uint64_t)I);
    }
    for (int i = 0; i < I; i++)
        ts.plays[i] = (uint32_t)sr_rng_below(&r, 50);
    return sr_test_store_open(&ts, name);
}

static void save(const sr_baseline *b, const char *path)
{
    sr_ckpt_writer *w = NULL;
    assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
    assert_int_equal(sr_baseline_save(b, w), SR_OK);
    assert_int_equal(sr_ckpt_writer_write(w, path), SR_OK);
    sr_ckpt_writer_free(&w);
}

/* Save then load gives bit-identical scores for every last item (and none),
 * the same config and catalogue size, for both kinds. */
static void test_save_load_round_trip_is_identical(void **state)
{
    (void)state;
    const int32_t I = 31;
    sr_store *st = random_store("rt.srs", I, 5);
    for (int kind = 0; kind < 2; kind++) {
        sr_baseline *b = fit(st, (sr_baseline_kind)kind, 3, 4);
        const char *path = sr_test_path("baseline.ckpt");
        save(b, path);
        sr_ckpt *ck = NULL;
        assert_int_equal(sr_ckpt_open(path, &ck), SR_OK);
        sr_baseline *l = NULL;
        assert_int_equal(sr_baseline_load(ck, &l), SR_OK);
        sr_ckpt_close(&ck); /* the loaded copy owns its arrays */
        assert_int_equal(sr_baseline_items(l), I);
        assert_int_equal(sr_baseline_config_of(l)->kind, kind);
        assert_int_equal(sr_baseline_config_of(l)->window, 3);
        assert_int_equal(sr_baseline_config_of(l)->max_rules, 4);
        float a[31], c[31];
        for (int32_t last = -1; last < I; last++) {
            sr_baseline_score(b, &last, last >= 0, a);
            sr_baseline_score(l, &last, last >= 0, c);
            assert_memory_equal(a, c, sizeof a);
        }
        sr_baseline_free(&l);
        sr_baseline_free(&b);
    }
    sr_store_close(&st);
}

/* Damaged or foreign sections are refused as SR_ERR_FORMAT. */
static void test_load_refuses_inconsistent_sections(void **state)
{
    (void)state;
    const uint32_t cfg[2] = { 2, 2 };
    const uint32_t plays[3] = { 1, 2, 3 };
    const uint64_t off_ok[4] = { 0, 2, 2, 3 };
    const uint64_t off_long[4] = { 0, 3, 3, 3 };
    const int32_t items_ok[3] = { 1, 2, 0 };
    const int32_t items_unsorted[3] = { 2, 1, 0 };
    const int32_t items_out[3] = { 1, 2, 3 };
    const float w_ok[3] = { 1, 0.5f, 2 };
    const float w_neg[3] = { 1, -0.5f, 2 };
    struct {
        const char *kind;
        const uint64_t *off;
        const int32_t *items;
        const float *w;
        bool plays;
        sr_err want;
    } cases[] = {
        { "sr", off_ok, items_ok, w_ok, true, SR_OK },
        { "xx", off_ok, items_ok, w_ok, true, SR_ERR_FORMAT },
        { "sr", off_ok, items_ok, w_ok, false, SR_ERR_FORMAT },
        { "sr", NULL, items_ok, w_ok, true, SR_ERR_FORMAT },
        { "sr", off_long, items_ok, w_ok, true, SR_ERR_FORMAT },
        { "sr", off_ok, items_unsorted, w_ok, true, SR_ERR_FORMAT },
        { "sr", off_ok, items_out, w_ok, true, SR_ERR_FORMAT },
        { "sr", off_ok, items_ok, w_neg, true, SR_ERR_FORMAT },
        { "pop", NULL, NULL, NULL, true, SR_OK },
    };
    for (size_t i = 0; i < SR_COUNTOF(cases); i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.ckpt", i);
        const char *path = sr_test_path(name);
        sr_ckpt_writer *w = NULL;
        assert_int_equal(sr_ckpt_writer_new(&w), SR_OK);
        assert_int_equal(sr_ckpt_add_text(w, "baseline.kind", cases[i].kind), SR_OK);
        assert_int_equal(sr_ckpt_add(w, "baseline.config", SR_CKPT_U32, cfg, 2), SR_OK);
        if (cases[i].plays)
            assert_int_equal(sr_ckpt_add(w, "baseline.plays", SR_CKPT_U32, plays, 3), SR_OK);
        if (cases[i].off)
            assert_int_equal(sr_ckpt_add(w, "baseline.rule_offsets", SR_CKPT_U64, cases[i].off, 4),
                             SR_OK);
        if (cases[i].items) {
            assert_int_equal(
                sr_ckpt_add(w, "baseline.rule_items", SR_CKPT_I32, cases[i].items, 3), SR_OK);
            assert_int_equal(sr_ckpt_add(w, "baseline.rule_weights", SR_CKPT_F32, cases[i].w, 3),
                             SR_OK);
        }
        assert_int_equal(sr_ckpt_writer_write(w, path), SR_OK);
        sr_ckpt_writer_free(&w);
        sr_ckpt *ck = NULL;
        assert_int_equal(sr_ckpt_open(path, &ck), SR_OK);
        sr_baseline *b = NULL;
        sr_err e = sr_baseline_load(ck, &b);
        if (e != cases[i].want)
            fail_msg("case %zu: %s (%s)", i, sr_err_name(e), sr_errmsg());
        if (e == SR_OK) {
            /* case 0 by hand: row 0 = {1: 1, 2: 0.5}, max plays 3 */
            float s[3];
            const int32_t last = 0;
            sr_baseline_score(b, &last, 1, s);
            if (cases[i].off) {
                SR_ASSERT_NEAR(s[0], 1e-6 * 1 / 4, 1e-13);
                SR_ASSERT_NEAR(s[1], 1.0 + 1e-6 * 2 / 4, 1e-7);
                SR_ASSERT_NEAR(s[2], 0.5 + 1e-6 * 3 / 4, 1e-7);
            } else {
                assert_true(s[0] == 1 && s[1] == 2 && s[2] == 3);
            }
        } else {
            assert_null(b);
        }
        sr_baseline_free(&b);
        sr_ckpt_close(&ck);
    }
}

/* score_chunk equals sr_baseline_score bit for bit, for any chunking and
 * batch of queries. */
static void test_scorer_chunks_equal_whole_scores(void **state)
{
    (void)state;
    const int32_t I = 37;
    sr_store *st = random_store("chunks.srs", I, 9);
    for (int kind = 0; kind < 2; kind++) {
        sr_baseline *b = fit(st, (sr_baseline_kind)kind, 4, 3);
        sr_baseline_scorer *bs = NULL;
        assert_int_equal(sr_baseline_scorer_new(b, 5, &bs), SR_OK);
        const sr_scorer *sc = sr_baseline_scorer_get(bs);
        assert_int_equal(sc->n_items, I);
        int32_t tracks[15];
        uint8_t sk[15] = { 0 };
        const int64_t offsets[6] = { 0, 1, 4, 8, 9, 15 };
        for (int i = 0; i < 15; i++)
            tracks[i] = (i * 11 + 3) % I;
        sr_eval_queries q = { .Q = 5, .tracks = tracks, .skipped = sk, .offsets = offsets };
        assert_int_equal(sc->prepare(sc->self, &q), SR_OK);
        float want[5][37], got[5 * 37];
        for (int i = 0; i < 5; i++)
            sr_baseline_score(b, tracks + offsets[i], (int)(offsets[i + 1] - offsets[i]), want[i]);
        const int chunks[4] = { 1, 4, 36, 37 };
        for (int ci = 0; ci < 4; ci++) {
            for (int32_t c0 = 0; c0 < I; c0 += chunks[ci]) {
                int32_t C = I - c0 < chunks[ci] ? I - c0 : chunks[ci];
                assert_int_equal(sc->score_chunk(sc->self, c0, C, got), SR_OK);
                for (int i = 0; i < 5; i++)
                    assert_memory_equal(got + (size_t)i * C, want[i] + c0, sizeof(float) * C);
            }
        }
        assert_int_equal(sc->score_chunk(sc->self, 30, 8, got), SR_ERR_ARG);
        q.Q = 6;
        assert_int_equal(sc->prepare(sc->self, &q), SR_ERR_ARG);
        sr_baseline_scorer_free(&bs);
        assert_null(bs);
        sr_baseline_free(&b);
    }
    sr_store_close(&st);
}

/* The evaluator on the pop baseline of the hand store (scores 1 4 3 0 0):
 * validation: s0 input [0 1 2 1] target 3 (skipped), score 0 ties 4 and is
 *   below the rest -> rank 5; s1 input [2 1] target 0, score 1, with 1 (4)
 *   and 2 (3) above -> rank 3.
 *   HR@1 0, HR@5 1, NDCG@5 (1/log2 6 + 1/log2 4) / 2, MRR@5 (1/5 + 1/3) / 2,
 *   skip MRR@5 1/5, listened 1/3.
 * test: s0 target 4, s1 target 3, s3 (TEST, [4 4 4]) target 4, all score 0
 *   -> rank 5 each: HR@5 1, MRR@5 0.2. Top-2 is [1 2] for every query:
 *   coverage 2/5, mean popularity (4 + 3) / 2. */
static void test_evaluator_on_pop_by_hand(void **state)
{
    (void)state;
    sr_store *st = hand_store("evalpop.srs");
    sr_baseline *b = fit(st, SR_BASELINE_POP, 10, 200);
    sr_baseline_scorer *bs = NULL;
    assert_int_equal(sr_baseline_scorer_new(b, 4, &bs), SR_OK);
    sr_eval_config c = sr_eval_config_default();
    c.split = SR_SPLIT_VALID;
    c.batch = 4;
    c.chunk = 2;
    c.top_k = 2;
    sr_eval_result r;
    assert_int_equal(sr_eval_run(st, sr_baseline_scorer_get(bs), &c, NULL, NULL, &r), SR_OK);
    const sr_metrics_group_result *a = &r.metrics.group[SR_METRICS_GROUP_ALL];
    assert_int_equal(a->n_queries, 2);
    SR_ASSERT_NEAR(a->hr[0], 0.0, 0);
    SR_ASSERT_NEAR(a->hr[1], 1.0, 0);
    SR_ASSERT_NEAR(a->ndcg[1], (1 / log2(6.0) + 1 / log2(4.0)) / 2, 1e-15);
    SR_ASSERT_NEAR(a->mrr[1], (1.0 / 5 + 1.0 / 3) / 2, 1e-15);
    SR_ASSERT_NEAR(r.metrics.group[SR_METRICS_GROUP_SKIPPED].mrr[1], 0.2, 1e-15);
    SR_ASSERT_NEAR(r.metrics.group[SR_METRICS_GROUP_LISTENED].mrr[1], 1.0 / 3, 1e-15);

    c.split = SR_SPLIT_TEST;
    assert_int_equal(sr_eval_run(st, sr_baseline_scorer_get(bs), &c, NULL, NULL, &r), SR_OK);
    assert_int_equal(a->n_queries, 3);
    SR_ASSERT_NEAR(a->hr[0], 0.0, 0);
    SR_ASSERT_NEAR(a->hr[1], 1.0, 0);
    SR_ASSERT_NEAR(a->mrr[1], 0.2, 1e-15);
    SR_ASSERT_NEAR(r.coverage, 0.4, 1e-15);
    SR_ASSERT_NEAR(r.mean_pop, 3.5, 1e-15);
    sr_baseline_scorer_free(&bs);
    sr_baseline_free(&b);
    sr_store_close(&st);
}

/* The evaluator on the rules baseline equals ranking sr_baseline_score's
 * whole-catalogue scores, for several chunk sizes. */
static void test_evaluator_on_rules_matches_whole_scores(void **state)
{
    (void)state;
    const int32_t I = 29;
    sr_store *st = random_store("evalsr.srs", I, 13);
    sr_baseline *b = fit(st, SR_BASELINE_RULES, 3, 5);
    sr_baseline_scorer *bs = NULL;
    assert_int_equal(sr_baseline_scorer_new(b, 8, &bs), SR_OK);
    sr_metrics m = { 0 };
    float s[29];
    for (uint64_t i = 0; i < st->n_sessions; i++) {
        uint64_t off = st->session_offsets[i], n = st->session_offsets[i + 1] - off;
        if (st->session_split[i] != SR_SPLIT_ALL || n < 3)
            continue;
        sr_baseline_score(b, st->play_track + off, (int)(n - 1), s);
        assert_int_equal(sr_metrics_add(&m, sr_target_rank(s, I, st->play_track[off + n - 1]),
                                        false),
                         SR_OK);
    }
    sr_metrics_result want;
    sr_metrics_finish(&m, &want);
    const int chunks[3] = { 1, 7, 100 };
    for (int ci = 0; ci < 3; ci++) {
        sr_eval_config c = sr_eval_config_default();
        c.batch = 8;
        c.chunk = chunks[ci];
        sr_eval_result r;
        assert_int_equal(sr_eval_run(st, sr_baseline_scorer_get(bs), &c, NULL, NULL, &r), SR_OK);
        assert_true(want.group[0].n_queries > 5);
        assert_int_equal(r.metrics.group[0].n_queries, want.group[0].n_queries);
        for (int k = 0; k < SR_METRICS_N_K; k++) {
            assert_true(r.metrics.group[0].hr[k] == want.group[0].hr[k]);
            assert_true(r.metrics.group[0].mrr[k] == want.group[0].mrr[k]);
        }
    }
    sr_baseline_scorer_free(&bs);
    sr_baseline_free(&b);
    sr_store_close(&st);
}

/* The one parser of baseline settings (train --set, experiment specs). */
static void test_config_set_line(void **state)
{
    (void)state;
    sr_baseline_config c = sr_baseline_config_default(SR_BASELINE_RULES);
    assert_int_equal(sr_baseline_config_set_line(&c, sr_str_c("window=3")), SR_OK);
    assert_int_equal(sr_baseline_config_set_line(&c, sr_str_c(" max_rules = 7 ")), SR_OK);
    assert_int_equal(c.window, 3);
    assert_int_equal(c.max_rules, 7);
    const char *bad[] = { "window=0", "window=1001", "max_rules=0", "colour=1", "window=3x",
                          "window", "=3" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sr_baseline_config_set_line(&c, sr_str_c(bad[i])), SR_ERR_ARG);
        assert_non_null(strstr(sr_errmsg(), bad[i]));
    }
    assert_int_equal(c.window, 3);
    assert_int_equal(c.max_rules, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_set_line),
        cmocka_unit_test(test_kind_names_and_defaults),
        SR_TEST_IN_DIR(test_pop_scores_are_training_plays),
        SR_TEST_IN_DIR(test_rules_weights_by_hand),
        SR_TEST_IN_DIR(test_max_rules_ties_and_popularity_tie_break),
        SR_TEST_IN_DIR(test_fit_errors_progress_and_cancel),
        SR_TEST_IN_DIR(test_save_load_round_trip_is_identical),
        SR_TEST_IN_DIR(test_load_refuses_inconsistent_sections),
        SR_TEST_IN_DIR(test_scorer_chunks_equal_whole_scores),
        SR_TEST_IN_DIR(test_evaluator_on_pop_by_hand),
        SR_TEST_IN_DIR(test_evaluator_on_rules_matches_whole_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
