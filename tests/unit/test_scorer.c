/* test_scorer.c - the micro-batching recommend scorer (daemon/srd_scorer.h)
 * against the model's own one-session scoring (sr_model_score + sr_topk on a
 * second model built from the same seed, so with the same parameters). */
#include "sr_test.h"

#include <math.h>
#include <pthread.h>

#include "sr_dnnl.h"
#include "sr_eval.h"
#include "sr_model.h"
#include "srd_scorer.h"

#define TI 300  /* catalogue */
#define TL 6    /* window */
#define TK 20   /* top k */
#define TS 24   /* sessions per thread */

static sr_model_config small_config(int kind)
{
    sr_model_config mc = sr_model_config_paper((sr_model_kind)kind);
    mc.I = TI;
    mc.D = 16;
    mc.layers = 2;
    mc.heads = 2;
    mc.F = 24;
    mc.L = TL;
    mc.dropout = 0.0f;
    mc.feedback = true;
    mc.init_std = 0.3f;
    mc.seed = 11 + (uint64_t)kind;
    return mc;
}

/* The model the scorer serves and a reference built from the same seed
 * (so with the same parameters) that scores one session at a time. */
typedef struct pair {
    sr_model *m, *ref;
    sr_dnnl_ctx *ctx, *rctx;
} pair;

static void pair_new(pair *p, int kind)
{
    sr_model_config mc = small_config(kind);
    memset(p, 0, sizeof *p);
    assert_int_equal(sr_model_new(&mc, 16, &p->m), SR_OK);
    assert_int_equal(sr_model_new(&mc, 1, &p->ref), SR_OK);
    assert_int_equal(sr_dnnl_ctx_new(0, &p->ctx), SR_OK);
    assert_int_equal(sr_dnnl_ctx_new(0, &p->rctx), SR_OK);
}

static void pair_free(pair *p)
{
    sr_model_free(&p->m);
    sr_model_free(&p->ref);
    sr_dnnl_ctx_free(&p->ctx);
    sr_dnnl_ctx_free(&p->rctx);
}

/* A session: lengths 1..2L (longer than the window too), some skips, and
 * exclusions of its skipped plays. */
typedef struct sess {
    int32_t tracks[2 * TL];
    uint8_t skipped[2 * TL];
    int n;
    int32_t excl[2 * TL];
    int n_excl;
    int32_t items[TK];
    float scores[TK];
} sess;

static void make_session(sess *s, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    s->n = 1 + (int)(seed % (2 * TL));
    s->n_excl = 0;
    for (int t = 0; t < s->n; t++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        s->tracks[t] = (int32_t)((x * 0x2545F4914F6CDD1Dull >> 33) % TI);
        s->skipped[t] = (uint8_t)((x >> 7) & 1);
        if (s->skipped[t])
            s->excl[s->n_excl++] = s->tracks[t];
    }
}

static srd_score_item item_of(sess *s)
{
    return (srd_score_item){ s->tracks, s->skipped, s->n, s->excl, s->n_excl, TK,
                             s->items, s->scores, 0 };
}

/* The reference: full scores of one session, excluded items masked, top k. */
static void reference(sr_model *m, sr_dnnl_ctx *ctx, const sess *s, int32_t *items,
                      float *scores, float *full)
{
    uint8_t mask[TI] = { 0 };
    assert_int_equal(sr_model_score(m, ctx, s->tracks, s->skipped, s->n, full), SR_OK);
    for (int j = 0; j < s->n_excl; j++)
        mask[s->excl[j]] = 1;
    assert_int_equal(sr_topk(full, TI, mask, TK, items, scores), TK);
}

/* f32: the same top k as the reference up to rounding: scores within 1e-4,
 * and the same item at each rank unless its reference score is within 1e-4
 * of a neighbour's (the two products round differently).
 * bf16: every score within tol = 2^-6 (1 + max |score|) of the f32 one, and
 * the r-th item returned is within 2 tol of the true r-th best (what a
 * perturbation of at most tol per score allows).
 * Both: excluded items absent. */
static void check_session(sr_model *ref, sr_dnnl_ctx *ctx, const sess *s,
                          srd_scorer_precision prec)
{
    int32_t items[TK];
    float scores[TK], full[TI];
    reference(ref, ctx, s, items, scores, full);
    if (prec == SRD_SCORER_BF16) {
        float mx = 0.0f;
        for (int i = 0; i < TI; i++)
            mx = fmaxf(mx, fabsf(full[i]));
        double tol = 0x1p-6 * (1.0 + mx);
        for (int r = 0; r < TK; r++) {
            SR_ASSERT_NEAR(s->scores[r], full[s->items[r]], tol);
            SR_ASSERT_NEAR(full[s->items[r]], scores[r], 2 * tol);
            for (int j = 0; j < s->n_excl; j++)
                assert_int_not_equal(s->items[r], s->excl[j]);
        }
        return;
    }
    for (int r = 0; r < TK; r++) {
        SR_ASSERT_NEAR(s->scores[r], scores[r], 1e-4);
        bool near_tie = (r > 0 && fabsf(scores[r] - scores[r - 1]) < 1e-4f) ||
                        (r + 1 < TK && fabsf(scores[r] - scores[r + 1]) < 1e-4f);
        if (!near_tie)
            assert_int_equal(s->items[r], items[r]);
        SR_ASSERT_NEAR(full[s->items[r]], s->scores[r], 1e-4);
        for (int j = 0; j < s->n_excl; j++)
            assert_int_not_equal(s->items[r], s->excl[j]);
    }
}

/* One call with 20 sessions and batch 8 on one thread: passes of 8, 8, 4,
 * results equal to scoring each session alone, for both model kinds. */
static void test_scorer_one_call_matches_model_score(void **state)
{
    (void)state;
    for (int kp = 0; kp < 4; kp++) {
        int kind = kp % 2;
        srd_scorer_precision prec = kp < 2 ? SRD_SCORER_F32 : SRD_SCORER_BF16;
        pair p;
        pair_new(&p, kind);
        srd_scorer *sc = NULL;
        assert_int_equal(srd_scorer_new(p.m, p.ctx, 2, 2, 32, prec, &sc), SR_OK);
        sess ss[20];
        srd_score_item it[20];
        for (int i = 0; i < 20; i++) {
            make_session(&ss[i], (uint64_t)(i + 100 * kind));
            it[i] = item_of(&ss[i]);
        }
        assert_int_equal(srd_scorer_run(sc, it, 20, 8), SR_OK);
        srd_scorer_stats st;
        srd_scorer_get_stats(sc, &st);
        assert_int_equal(st.sessions, 20);
        assert_int_equal(st.passes, 3);
        assert_int_equal(st.max_batch, 8);
        for (int i = 0; i < 20; i++) {
            assert_int_equal(it[i].n_items, TK);
            check_session(p.ref, p.rctx, &ss[i], prec);
        }
        srd_scorer_free(&sc);
        assert_null(sc);
        pair_free(&p);
    }
}

typedef struct worker_arg {
    srd_scorer *sc;
    int id;
    sess ss[TS];
    sr_err rc;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    a->rc = SR_OK;
    /* calls of 1..3 sessions, as requests would bring them */
    for (int i = 0; i < TS && a->rc == SR_OK;) {
        int n = 1 + (i + a->id) % 3;
        if (n > TS - i)
            n = TS - i;
        srd_score_item it[3];
        for (int j = 0; j < n; j++)
            it[j] = item_of(&a->ss[i + j]);
        a->rc = srd_scorer_run(a->sc, it, n, 16);
        for (int j = 0; j < n && a->rc == SR_OK; j++)
            if (it[j].n_items != TK)
                a->rc = SR_ERR_INTERNAL;
        i += n;
    }
    return NULL;
}

/* Eight threads at once on two lanes: every session gets its own answer
 * (none swapped between concurrent calls), all counted once. f32, so that
 * a swapped answer cannot hide in the bf16 tolerance. */
static void test_scorer_concurrent_calls_get_their_own_answers(void **state)
{
    (void)state;
    pair p;
    pair_new(&p, 0);
    srd_scorer *sc = NULL;
    assert_int_equal(srd_scorer_new(p.m, p.ctx, 2, 2, 16, SRD_SCORER_F32, &sc), SR_OK);
    enum { NT = 8 };
    static worker_arg args[NT];
    pthread_t th[NT];
    for (int t = 0; t < NT; t++) {
        args[t].sc = sc;
        args[t].id = t;
        for (int i = 0; i < TS; i++)
            make_session(&args[t].ss[i], (uint64_t)(1000 + t * TS + i));
        assert_int_equal(pthread_create(&th[t], NULL, worker, &args[t]), 0);
    }
    for (int t = 0; t < NT; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < NT; t++) {
        assert_int_equal(args[t].rc, SR_OK);
        for (int i = 0; i < TS; i++)
            check_session(p.ref, p.rctx, &args[t].ss[i], SRD_SCORER_F32);
    }
    srd_scorer_stats st;
    srd_scorer_get_stats(sc, &st);
    assert_int_equal(st.sessions, NT * TS);
    assert_true(st.passes >= (NT * TS + 15) / 16 && st.passes <= NT * TS);
    /* a call of 3 sessions is queued at once and taken whole (a pass takes
     * up to 16 consecutive queued sessions), so some pass had >= 3 */
    assert_true(st.max_batch >= 3 && st.max_batch <= 16);
    srd_scorer_free(&sc);
    pair_free(&p);
}

/* Exclusions that leave fewer than k items; bad items refused whole. */
static void test_scorer_limits_and_refusals(void **state)
{
    (void)state;
    sr_model_config mc = small_config(0);
    mc.I = 12;
    sr_model *m = NULL;
    sr_dnnl_ctx *ctx = NULL;
    assert_int_equal(sr_model_new(&mc, 4, &m), SR_OK);
    assert_int_equal(sr_dnnl_ctx_new(0, &ctx), SR_OK);
    srd_scorer *sc = NULL;
    assert_int_equal(srd_scorer_new(m, ctx, 0, 1, 4, SRD_SCORER_BF16, &sc), SR_ERR_ARG);
    assert_int_equal(srd_scorer_new(m, ctx, 1, 1, 0, SRD_SCORER_BF16, &sc), SR_ERR_ARG);
    assert_int_equal(srd_scorer_new(m, ctx, 1, 2, 4, SRD_SCORER_BF16, &sc), SR_OK);
    int32_t tracks[3] = { 1, 2, 3 };
    int32_t excl[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 8 }; /* 9 distinct */
    int32_t items[TK];
    float scores[TK];
    srd_score_item it = { tracks, NULL, 3, excl, 10, TK, items, scores, 0 };
    assert_int_equal(srd_scorer_run(sc, &it, 1, 4), SR_OK);
    assert_int_equal(it.n_items, 3); /* 12 - 9 */
    for (int r = 0; r < 3; r++)
        assert_true(items[r] >= 9 && items[r] <= 11);
    srd_score_item bad = it;
    int32_t out_of_range[1] = { 12 };
    bad.tracks = out_of_range;
    bad.n = 1;
    assert_int_equal(srd_scorer_run(sc, &bad, 1, 4), SR_ERR_ARG);
    bad = it;
    bad.k = 0;
    assert_int_equal(srd_scorer_run(sc, &bad, 1, 4), SR_ERR_ARG);
    bad = it;
    bad.n = 0;
    assert_int_equal(srd_scorer_run(sc, &bad, 1, 4), SR_ERR_ARG);
    assert_int_equal(srd_scorer_run(sc, NULL, 0, 4), SR_OK);
    srd_scorer_stats st;
    srd_scorer_get_stats(sc, &st);
    assert_int_equal(st.sessions, 1);
    srd_scorer_free(&sc);
    srd_scorer_free(&sc); /* NULL-safe */
    sr_model_free(&m);
    sr_dnnl_ctx_free(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scorer_one_call_matches_model_score),
        cmocka_unit_test(test_scorer_concurrent_calls_get_their_own_answers),
        cmocka_unit_test(test_scorer_limits_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
