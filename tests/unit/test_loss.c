/* test_loss.c - next-item targets on hand tables; full (chunked), sampled
 * and BCE losses against hand-computed cases and naive double references;
 * finite differences of every gradient; edge cases (huge logits, rows
 * without a target, accidental hits, the log-Q sign); the authors' preset
 * against their own formulation; determinism across thread counts. */
#include "sr_test.h"
#include "sr_gradcheck.h"

#include <float.h>
#include <math.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "sr_loss.h"
#include "sr_rng.h"
#include "sr_sampler.h"

/* ---- targets ---------------------------------------------------------------- */

/* Four sessions of L = 6 written out by hand (99 and -7 sit at invalid
 * positions; their labels are "listened" on purpose, to catch any read):
 *  s0: all valid, trailing skips        s1: right padding after a skip
 *  s2: left padding, an unknown track   s3: an invalid gap in the middle */
#define TB 4
#define TL 6
static const int32_t tg_tracks[TB * TL] = {
    10, 11, 12, 13, 14, 15,
    20, 21, 22, 23, 99, 99,
    -7, 99, 30, -1, 32, 33,
    40, 41, 42, 43, 44, 45,
};
static const uint8_t tg_skipped[TB * TL] = {
    0, 1, 0, 0, 1, 1,
    1, 1, 0, 1, 0, 0,
    0, 0, 0, 0, 1, 0,
    0, 1, 0, 1, 0, 0,
};
static const uint8_t tg_valid[TB * TL] = {
    1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 0, 0,
    0, 0, 1, 1, 1, 1,
    1, 1, 0, 1, 1, 0,
};
static const int32_t tg_next_play[TB * TL] = {
    11, 12, 13, 14, 15, -1, /* the last play has no successor: no wrap-around */
    21, 22, 23, -1, -1, -1, /* 23's successor is padding */
    -1, -1, -1, 32, 33, -1, /* 30's successor is an unknown track */
    41, -1, -1, 44, -1, -1, /* an invalid successor breaks the chain */
};
static const int32_t tg_next_listened[TB * TL] = {
    12, 12, 13, -1, -1, -1, /* trailing skips: no listened play after 13 */
    22, 22, -1, -1, -1, -1, /* padding labelled "listened" is not a target */
    -1, -1, -1, 33, 33, -1, /* 30's next listened play is the unknown track */
    44, 44, -1, 44, -1, -1, /* the gap is stepped over, its label unread */
};

static void test_targets_next_play_hand_table(void **state)
{
    (void)state;
    int32_t got[TB * TL];
    int n = sr_targets_next(tg_tracks, tg_skipped, tg_valid, TB, TL, SR_TARGET_MODE_NEXT_PLAY, got);
    assert_memory_equal(got, tg_next_play, sizeof got);
    assert_int_equal(n, 12);
    assert_int_equal(sr_targets_count(got, TB * TL), 12);
}

static void test_targets_next_listened_hand_table(void **state)
{
    (void)state;
    int32_t got[TB * TL];
    int n = sr_targets_next(tg_tracks, tg_skipped, tg_valid, TB, TL, SR_TARGET_MODE_NEXT_LISTENED,
                            got);
    assert_memory_equal(got, tg_next_listened, sizeof got);
    assert_int_equal(n, 10);
}

static void test_targets_ignore_labels_and_tracks_of_invalid_positions(void **state)
{
    (void)state;
    int32_t tracks[TB * TL];
    uint8_t skipped[TB * TL];
    memcpy(tracks, tg_tracks, sizeof tracks);
    memcpy(skipped, tg_skipped, sizeof skipped);
    for (int i = 0; i < TB * TL; i++) {
        if (!tg_valid[i]) {
            skipped[i] = (uint8_t)(1 - skipped[i]);
            tracks[i] = 1000 + i;
        }
    }
    int32_t got[TB * TL];
    sr_targets_next(tracks, skipped, tg_valid, TB, TL, SR_TARGET_MODE_NEXT_LISTENED, got);
    assert_memory_equal(got, tg_next_listened, sizeof got);
    sr_targets_next(tracks, skipped, tg_valid, TB, TL, SR_TARGET_MODE_NEXT_PLAY, got);
    assert_memory_equal(got, tg_next_play, sizeof got);
}

static void test_target_mode_parse_and_name(void **state)
{
    (void)state;
    sr_target_mode m = SR_TARGET_MODE_NEXT_PLAY;
    assert_int_equal(sr_target_mode_parse(sr_str_c("next_listened"), &m), SR_OK);
    assert_int_equal(m, SR_TARGET_MODE_NEXT_LISTENED);
    assert_int_equal(sr_target_mode_parse(sr_str_c("next_play"), &m), SR_OK);
    assert_int_equal(m, SR_TARGET_MODE_NEXT_PLAY);
    assert_string_equal(sr_target_mode_name(SR_TARGET_MODE_NEXT_LISTENED), "next_listened");
    assert_string_equal(sr_target_mode_name((sr_target_mode)7), "unknown");
    assert_int_equal(sr_target_mode_parse(sr_str_c("next"), &m), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "\"next\""));
}

/* ---- full cross-entropy ---------------------------------------------------- */

/* Naive reference in double: mean over rows with a target of
 * log(sum_i exp(x_i)) - x_target, with the max subtracted; grad[T, I] gets
 * (softmax - onehot) / n. */
static double ref_ce(const float *x, const int32_t *tg, int T, int I, double *grad)
{
    int n = 0;
    for (int t = 0; t < T; t++)
        n += tg[t] >= 0;
    double sum = 0.0;
    for (int t = 0; t < T; t++) {
        const float *r = x + (size_t)t * I;
        if (grad)
            for (int i = 0; i < I; i++)
                grad[(size_t)t * I + i] = 0.0;
        if (tg[t] < 0)
            continue;
        double m = -INFINITY;
        for (int i = 0; i < I; i++)
            m = fmax(m, r[i]);
        double z = 0.0;
        for (int i = 0; i < I; i++)
            z += exp(r[i] - m);
        sum += m + log(z) - r[tg[t]];
        if (grad)
            for (int i = 0; i < I; i++)
                grad[(size_t)t * I + i] = (exp(r[i] - m) / z - (i == tg[t])) / n;
    }
    return n ? sum / n : 0.0;
}

/* Scratch for running the chunked API over a full [T, I] logit matrix. */
#define CE_TMAX 16
#define CE_IMAX 64
typedef struct ce_run {
    float chunk[CE_TMAX * CE_IMAX];
    float dchunk[CE_TMAX * CE_IMAX];
    float row_max[CE_TMAX];
    double row_sumexp[CE_TMAX];
    float target_logit[CE_TMAX];
} ce_run;

static void ce_copy_chunk(float *dst, const float *x, int T, int I, int i0, int c)
{
    for (int t = 0; t < T; t++)
        memcpy(dst + (size_t)t * c, x + (size_t)t * I + i0, (size_t)c * sizeof *dst);
}

/* Loss through the chunked API with chunks of C items (the last one
 * shorter when C does not divide I); grad[T, I] (or NULL) gets the
 * gradient with scale 1/n, written chunk by chunk. */
static double ce_chunked(ce_run *w, const float *x, const int32_t *tg, int T, int I, int C,
                         float *grad, int *n_out)
{
    assert_true(T <= CE_TMAX && I <= CE_IMAX);
    sr_ce_full_init(T, w->row_max, w->row_sumexp, w->target_logit);
    for (int i0 = 0; i0 < I; i0 += C) {
        int c = SR_MIN(C, I - i0);
        ce_copy_chunk(w->chunk, x, T, I, i0, c);
        sr_ce_full_stats(w->chunk, T, c, i0, tg, w->row_max, w->row_sumexp, w->target_logit);
    }
    int n = 0;
    double loss = sr_ce_full_loss(T, tg, w->row_max, w->row_sumexp, w->target_logit, &n);
    if (n_out)
        *n_out = n;
    if (grad) {
        float scale = n ? 1.0f / (float)n : 0.0f;
        for (int i0 = 0; i0 < I; i0 += C) {
            int c = SR_MIN(C, I - i0);
            ce_copy_chunk(w->chunk, x, T, I, i0, c);
            sr_ce_full_grad(w->chunk, T, c, i0, tg, w->row_max, w->row_sumexp, scale, false,
                            w->dchunk);
            for (int t = 0; t < T; t++)
                memcpy(grad + (size_t)t * I + i0, w->dchunk + (size_t)t * c,
                       (size_t)c * sizeof *grad);
        }
    }
    return loss;
}

static void test_ce_full_hand_case(void **state)
{
    (void)state;
    /* T = 2, I = 3.
     * row 0: logits (1, 2, 3), target 2:
     *   loss = log(e + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2) = 0.40760596444
     *   softmax = (e^-2, e^-1, 1) / (1 + e^-1 + e^-2) = (0.0900306, 0.2447285, 0.6652410)
     * row 1: logits (0, 0, 0), target 0: loss = log 3 = 1.09861228867,
     *   softmax = 1/3 each
     * mean = 0.75310912656; gradient = (softmax - onehot) / 2. */
    const float x[6] = { 1, 2, 3, 0, 0, 0 };
    const int32_t tg[2] = { 2, 0 };
    const float want_g[6] = { 0.0450152866f, 0.1223642355f, -0.1673795221f,
                              -0.3333333333f, 0.1666666667f, 0.1666666667f };
    static ce_run w;
    float g[6];
    int n = -1;
    for (int C = 1; C <= 3; C++) {
        double loss = ce_chunked(&w, x, tg, 2, 3, C, g, &n);
        assert_int_equal(n, 2);
        assert_true(fabs(loss - 0.753109126556245) < 1e-9);
        for (int i = 0; i < 6; i++)
            assert_true(fabsf(g[i] - want_g[i]) < 1e-7f);
    }
}

static void ce_fill(sr_rng *r, float *x, int T, int I)
{
    sr_gc_fill(r, x, (size_t)T * I, -3.0f, 3.0f);
}

static void test_ce_full_chunked_matches_unchunked_and_reference(void **state)
{
    (void)state;
    enum { T = 5, I = 11 };
    float x[T * I];
    sr_rng r;
    sr_rng_seed(&r, 7);
    ce_fill(&r, x, T, I);
    const int32_t tg[T] = { 0, 10, -1, 4, 4 }; /* both catalogue ends, no target, a repeat */
    double ref_g[T * I];
    double ref = ref_ce(x, tg, T, I, ref_g);
    static ce_run w;
    float full_g[T * I], g[T * I];
    double full = ce_chunked(&w, x, tg, T, I, I, full_g, NULL);
    assert_true(fabs(full - ref) < 1e-12);
    const int sizes[] = { 1, 2, 3, 4, 5, 7, 10 }; /* only 1 divides 11 */
    for (size_t s = 0; s < SR_COUNTOF(sizes); s++) {
        int n = 0;
        double loss = ce_chunked(&w, x, tg, T, I, sizes[s], g, &n);
        assert_int_equal(n, 4);
        if (fabs(loss - full) > 1e-12)
            fail_msg("C=%d: loss %.17g, unchunked %.17g", sizes[s], loss, full);
        for (int i = 0; i < T * I; i++) {
            if (fabsf(g[i] - full_g[i]) > 1e-7f || fabs(g[i] - ref_g[i]) > 1e-7)
                fail_msg("C=%d: grad[%d] %.9g, unchunked %.9g, reference %.9g", sizes[s], i,
                         g[i], full_g[i], ref_g[i]);
        }
    }
    /* the row without a target got an exact zero gradient */
    for (int i = 0; i < I; i++)
        assert_true(g[2 * I + i] == 0.0f);
}

typedef struct ce_gc {
    ce_run *w;
    float *x;
    const int32_t *tg;
    int T, I, C;
} ce_gc;

static double ce_gc_loss(void *ctx)
{
    ce_gc *c = ctx;
    return ce_chunked(c->w, c->x, c->tg, c->T, c->I, c->C, NULL, NULL);
}

static void test_ce_full_grad_finite_differences(void **state)
{
    (void)state;
    enum { T = 4, I = 9 };
    float x[T * I], g[T * I];
    sr_rng r;
    sr_rng_seed(&r, 11);
    ce_fill(&r, x, T, I);
    const int32_t tg[T] = { 3, -1, 8, 0 };
    static ce_run w;
    ce_chunked(&w, x, tg, T, I, 4, g, NULL);
    ce_gc c = { &w, x, tg, T, I, 4 };
    sr_gc_check("ce_full dlogits", x, g, (size_t)T * I, ce_gc_loss, &c, 1e-3f, 1e-6, 1e-4, 1000);
}

static void test_ce_full_huge_logits_stay_finite(void **state)
{
    (void)state;
    /* Shifting a row by a constant changes nothing: (1e4, 1e4 - 1, 1e4 - 2,
     * -1e4) must give the loss of (0, -1, -2, -2e4) = log(1 + e^-1 + e^-2) + 1
     * for target 1 (exp(1e4) alone would overflow even a double). */
    const float x[8] = { 1e4f, 1e4f - 1, 1e4f - 2, -1e4f, 1e4f, -1e4f, -1e4f, -1e4f };
    const int32_t tg[2] = { 1, 3 };
    static ce_run w;
    float g[8];
    double loss = ce_chunked(&w, x, tg, 2, 4, 3, g, NULL);
    /* row 1: target -1e4 against 1e4: loss 2e4 + log(1 + 3 e^-2e4) = 2e4 */
    double want = (log(1 + exp(-1.0) + exp(-2.0)) + 1.0 + 2e4) / 2;
    assert_true(isfinite(loss));
    assert_true(fabs(loss - want) < 1e-9 * want);
    for (int i = 0; i < 8; i++)
        assert_true(isfinite(g[i]));
    assert_true(fabsf(g[4] - 0.5f) < 1e-7f);  /* row 1: softmax is onehot at item 0 */
    assert_true(fabsf(g[7] + 0.5f) < 1e-7f);  /* minus the onehot at the target */
}

static void test_ce_full_minus_inf_logits_count_as_zero_probability(void **state)
{
    (void)state;
    /* A chunk whose logits are all -inf (e.g. masked items) comes first:
     * the result must equal the loss over the finite items alone,
     * log(e^0 + e^1) - 0 = log(1 + e). */
    const float x[4] = { -INFINITY, -INFINITY, 0.0f, 1.0f };
    const int32_t tg[1] = { 2 };
    static ce_run w;
    float g[4];
    double loss = ce_chunked(&w, x, tg, 1, 4, 2, g, NULL);
    assert_true(fabs(loss - log(1 + exp(1.0))) < 1e-12);
    assert_true(g[0] == 0.0f && g[1] == 0.0f);
}

static void test_ce_full_no_target_gives_zero_without_nan(void **state)
{
    (void)state;
    float x[6] = { 1, 2, 3, 4, 5, 6 };
    const int32_t tg[2] = { -1, -1 };
    float row_max[2];
    double row_sumexp[2];
    float tl[2];
    sr_ce_full_init(2, row_max, row_sumexp, tl);
    sr_ce_full_stats(x, 2, 3, 0, tg, row_max, row_sumexp, tl);
    int n = -1;
    double loss = sr_ce_full_loss(2, tg, row_max, row_sumexp, tl, &n);
    assert_int_equal(n, 0);
    assert_true(loss == 0.0);
    float g[6] = { 9, 9, 9, 9, 9, 9 };
    sr_ce_full_grad(x, 2, 3, 0, tg, row_max, row_sumexp, 0.0f, true, g);
    for (int i = 0; i < 6; i++)
        assert_true(g[i] == 9.0f); /* accumulate: untouched */
    sr_ce_full_grad(x, 2, 3, 0, tg, row_max, row_sumexp, 0.0f, false, g);
    for (int i = 0; i < 6; i++)
        assert_true(g[i] == 0.0f); /* overwrite: zeroed */
}

static void test_ce_full_target_outside_chunks_gives_nan(void **state)
{
    (void)state;
    const float x[3] = { 0, 1, 2 };
    const int32_t tg[1] = { 3 }; /* I = 3: item 3 is in no chunk */
    static ce_run w;
    assert_true(isnan(ce_chunked(&w, x, tg, 1, 3, 2, NULL, NULL)));
}

static void test_ce_full_grad_accumulates_and_works_in_place(void **state)
{
    (void)state;
    enum { T = 3, C = 5 };
    float x[T * C];
    sr_rng r;
    sr_rng_seed(&r, 3);
    ce_fill(&r, x, T, C);
    const int32_t tg[T] = { 1, -1, 4 };
    float row_max[T], tl[T];
    double row_sumexp[T];
    sr_ce_full_init(T, row_max, row_sumexp, tl);
    sr_ce_full_stats(x, T, C, 0, tg, row_max, row_sumexp, tl);
    float once[T * C], twice[T * C];
    sr_ce_full_grad(x, T, C, 0, tg, row_max, row_sumexp, 0.5f, false, once);
    memset(twice, 0, sizeof twice);
    sr_ce_full_grad(x, T, C, 0, tg, row_max, row_sumexp, 0.5f, true, twice);
    sr_ce_full_grad(x, T, C, 0, tg, row_max, row_sumexp, 0.5f, true, twice);
    for (int i = 0; i < T * C; i++)
        assert_true(twice[i] == 2.0f * once[i]);
    /* in place: the logits buffer becomes the gradient */
    float inplace[T * C];
    memcpy(inplace, x, sizeof x);
    sr_ce_full_grad(inplace, T, C, 0, tg, row_max, row_sumexp, 0.5f, false, inplace);
    assert_memory_equal(inplace, once, sizeof once);
}

/* ---- sampled softmax ---------------------------------------------------------- */

/* Naive reference: the corrected logits written out with log(), per row. */
static double ref_sampled(const float *pos, const float *neg, const int32_t *tg,
                          const int32_t *items, const float *qp, const float *qn, int T, int N,
                          sr_sampled_opts o, double *dpos, double *dneg)
{
    int n = 0;
    for (int t = 0; t < T; t++)
        n += tg[t] >= 0;
    double sum = 0.0;
    double z[64];
    assert_true(N < 64);
    for (int t = 0; t < T; t++) {
        if (dpos)
            dpos[t] = 0.0;
        for (int j = 0; j < N; j++)
            if (dneg)
                dneg[t * N + j] = 0.0;
        if (tg[t] < 0)
            continue;
        z[0] = pos[t] - (o.log_q ? log(qp[t]) : 0.0);
        double m = z[0];
        for (int j = 0; j < N; j++) {
            bool hit = o.remove_hits && items[j] == tg[t];
            z[1 + j] = hit ? -INFINITY : neg[t * N + j] - (o.log_q ? log(qn[j]) : 0.0);
            m = fmax(m, z[1 + j]);
        }
        double s = 0.0;
        for (int j = 0; j <= N; j++)
            s += exp(z[j] - m);
        sum += m + log(s) - z[0];
        if (dpos)
            dpos[t] = (exp(z[0] - m) / s - 1.0) / n;
        if (dneg)
            for (int j = 0; j < N; j++)
                dneg[t * N + j] = exp(z[1 + j] - m) / s / n;
    }
    return n ? sum / n : 0.0;
}

static void test_sampled_softmax_log_q_sign_hand_case(void **state)
{
    (void)state;
    /* One row, all logits 0, q(target) = 1/2, q(negatives) = 1/4, 1/4.
     * Corrected: z = (0 - log 1/2, 0 - log 1/4, 0 - log 1/4) = (log 2, log 4, log 4)
     *   loss = log(2 + 4 + 4) - log 2 = log 5 = 1.60943791243
     *   dpos = 2/10 - 1 = -0.8, dneg = 4/10 = 0.4 each
     * Uncorrected: log 3 = 1.09861228867. The wrong sign (adding log q)
     * would give log(1/2 + 1/4 + 1/4) - log(1/2) = log 2 = 0.69314718056. */
    const float pos[1] = { 0 }, neg[2] = { 0, 0 }, qp[1] = { 0.5f }, qn[2] = { 0.25f, 0.25f };
    const int32_t tg[1] = { 7 }, items[2] = { 3, 5 };
    float dpos[1] = { 0 }, dneg[2] = { 0, 0 };
    int n = 0;
    double loss = sr_sampled_softmax(pos, neg, tg, items, qp, qn, 1, 2, sr_sampled_opts_standard(),
                                     1.0f, dpos, dneg, &n);
    assert_int_equal(n, 1);
    assert_true(fabs(loss - log(5.0)) < 1e-12);
    assert_true(fabsf(dpos[0] + 0.8f) < 1e-7f);
    assert_true(fabsf(dneg[0] - 0.4f) < 1e-7f && fabsf(dneg[1] - 0.4f) < 1e-7f);
    sr_sampled_opts plain = { .log_q = false, .remove_hits = true };
    loss = sr_sampled_softmax(pos, neg, tg, items, NULL, NULL, 1, 2, plain, 1.0f, NULL, NULL, NULL);
    assert_true(fabs(loss - log(3.0)) < 1e-12);
}

static void test_sampled_softmax_accidental_hits_excluded(void **state)
{
    (void)state;
    /* Row 0's target 5 is also negative 1: with remove_hits the loss is the
     * one over (target, negatives 0 and 2) only, and negative 1 gets no
     * gradient; without it, the hit counts as a negative. Row 1 has no hit. */
    const float pos[2] = { 1.0f, 0.5f };
    const float neg[6] = { 0.2f, 3.0f, -1.0f, 0.0f, 0.1f, 0.2f };
    const int32_t tg[2] = { 5, 8 }, items[3] = { 2, 5, 9 };
    float dpos[2] = { 0 }, dneg[6] = { 0 };
    sr_sampled_opts o = { .log_q = false, .remove_hits = true };
    double loss = sr_sampled_softmax(pos, neg, tg, items, NULL, NULL, 2, 3, o, 0.5f, dpos, dneg,
                                     NULL);
    double r0 = log(exp(1.0) + exp(0.2) + exp(-1.0)) - 1.0;
    double r1 = log(exp(0.5) + exp(0.0) + exp(0.1) + exp(0.2)) - 0.5;
    assert_true(fabs(loss - (r0 + r1) / 2) < 1e-7);
    assert_true(dneg[1] == 0.0f);
    assert_true(dneg[4] != 0.0f);
    o.remove_hits = false;
    double with_hit = sr_sampled_softmax(pos, neg, tg, items, NULL, NULL, 2, 3, o, 0.5f, NULL,
                                         NULL, NULL);
    double h0 = log(exp(1.0) + exp(0.2) + exp(3.0) + exp(-1.0)) - 1.0;
    assert_true(fabs(with_hit - (h0 + r1) / 2) < 1e-7);
}

static void sampled_random_case(sr_rng *r, float *pos, float *neg, int32_t *tg, int32_t *items,
                                float *qp, float *qn, int T, int N)
{
    sr_gc_fill(r, pos, (size_t)T, -2.0f, 2.0f);
    sr_gc_fill(r, neg, (size_t)T * N, -2.0f, 2.0f);
    for (int j = 0; j < N; j++) {
        items[j] = (int32_t)sr_rng_below(r, 6);
        qn[j] = 0.01f + 0.3f * (float)sr_rng_uniform(r);
    }
    for (int t = 0; t < T; t++) {
        tg[t] = (int32_t)sr_rng_below(r, 6); /* 6 items: hits are common */
        qp[t] = 0.01f + 0.3f * (float)sr_rng_uniform(r);
    }
    tg[1] = -1;
}

static void test_sampled_softmax_matches_naive_reference(void **state)
{
    (void)state;
    enum { T = 6, N = 7 };
    float pos[T], neg[T * N], qp[T], qn[N];
    int32_t tg[T], items[N];
    sr_rng r;
    sr_rng_seed(&r, 21);
    sampled_random_case(&r, pos, neg, tg, items, qp, qn, T, N);
    const sr_sampled_opts opts[4] = { { false, false }, { false, true }, { true, false },
                                      { true, true } };
    for (int k = 0; k < 4; k++) {
        double rdp[T], rdn[T * N];
        double ref = ref_sampled(pos, neg, tg, items, qp, qn, T, N, opts[k], rdp, rdn);
        float dp[T] = { 0 }, dn[T * N] = { 0 };
        int n = 0;
        double loss = sr_sampled_softmax(pos, neg, tg, items, qp, qn, T, N, opts[k], 1.0f / 5, dp,
                                         dn, &n);
        assert_int_equal(n, 5);
        if (fabs(loss - ref) > 1e-12)
            fail_msg("opts %d: loss %.17g, reference %.17g", k, loss, ref);
        for (int t = 0; t < T; t++)
            assert_true(fabs(dp[t] - rdp[t]) < 1e-7);
        for (int i = 0; i < T * N; i++)
            assert_true(fabs(dn[i] - rdn[i]) < 1e-7);
    }
}

typedef struct sampled_gc {
    float *pos, *neg, *qp, *qn;
    int32_t *tg, *items;
    int T, N;
    sr_sampled_opts o;
} sampled_gc;

static double sampled_gc_loss(void *ctx)
{
    sampled_gc *c = ctx;
    return sr_sampled_softmax(c->pos, c->neg, c->tg, c->items, c->qp, c->qn, c->T, c->N, c->o,
                              0.0f, NULL, NULL, NULL);
}

static void test_sampled_softmax_finite_differences(void **state)
{
    (void)state;
    enum { T = 5, N = 6 };
    float pos[T], neg[T * N], qp[T], qn[N];
    int32_t tg[T], items[N];
    sr_rng r;
    sr_rng_seed(&r, 33);
    sampled_random_case(&r, pos, neg, tg, items, qp, qn, T, N);
    const sr_sampled_opts opts[2] = { { true, true }, { false, false } };
    for (int k = 0; k < 2; k++) {
        float dp[T] = { 0 }, dn[T * N] = { 0 };
        int n = 0;
        sr_sampled_softmax(pos, neg, tg, items, qp, qn, T, N, opts[k], 0.0f, NULL, NULL, &n);
        sr_sampled_softmax(pos, neg, tg, items, qp, qn, T, N, opts[k], 1.0f / (float)n, dp, dn,
                           NULL);
        sampled_gc c = { pos, neg, qp, qn, tg, items, T, N, opts[k] };
        sr_gc_check("sampled dpos", pos, dp, T, sampled_gc_loss, &c, 1e-3f, 1e-6, 1e-4, 100);
        sr_gc_check("sampled dneg", neg, dn, (size_t)T * N, sampled_gc_loss, &c, 1e-3f, 1e-6, 1e-4,
                    100);
    }
}

static void test_sampled_softmax_huge_logits_and_tiny_q_stay_finite(void **state)
{
    (void)state;
    /* logits 1e4 apart, and q down to 0 (read as FLT_MIN): the loss is
     * about the logit gap, never inf or NaN */
    const float pos[2] = { -1e4f, 1e4f }, neg[4] = { 1e4f, -1e4f, 1e4f, 1e4f };
    const float qp[2] = { 0.5f, 0.0f }, qn[2] = { 0.5f, 1e-30f };
    const int32_t tg[2] = { 1, 2 }, items[2] = { 3, 4 };
    float dp[2] = { 0 }, dn[4] = { 0 };
    double loss = sr_sampled_softmax(pos, neg, tg, items, qp, qn, 2, 2, sr_sampled_opts_standard(),
                                     0.5f, dp, dn, NULL);
    assert_true(isfinite(loss));
    /* row 0: z = (-1e4 - log .5, 1e4 - log .5, -1e4 - log 1e-30): loss = 2e4;
     * row 1: z = (1e4 - log FLT_MIN, 1e4 - log .5, 1e4 - log 1e-30): the target
     * dominates, loss = log(1 + FLT_MIN/.5 + FLT_MIN/1e-30) ~ 1.18e-8 */
    double r1 = log1p((double)FLT_MIN / 0.5 + (double)FLT_MIN / (double)1e-30f);
    assert_true(fabs(loss - (2e4 + r1) / 2) < 1e-6);
    for (int i = 0; i < 2; i++)
        assert_true(isfinite(dp[i]));
    for (int i = 0; i < 4; i++)
        assert_true(isfinite(dn[i]));
    assert_true(fabsf(dp[0] + 0.5f) < 1e-7f);
}

static void test_sampled_softmax_no_target_gives_zero(void **state)
{
    (void)state;
    const float pos[2] = { 1, 2 }, neg[2] = { 3, 4 };
    const int32_t tg[2] = { -1, -1 }, items[1] = { 0 };
    float dp[2] = { 5, 5 }, dn[2] = { 5, 5 };
    int n = -1;
    double loss = sr_sampled_softmax(pos, neg, tg, items, NULL, NULL, 2, 1,
                                     sr_sampled_opts_authors(), 1.0f, dp, dn, &n);
    assert_true(loss == 0.0);
    assert_int_equal(n, 0);
    assert_true(dp[0] == 5 && dp[1] == 5 && dn[0] == 5 && dn[1] == 5);
}

/* The authors' loss written their way: softmax over the candidate list
 * cand[0, nc) (distinct batch targets + negatives), label = the target's
 * own column, rows without a target ignored; compared with the preset over
 * [target, cand] with hits removed. */
static void test_sampled_softmax_authors_preset_equals_their_formulation(void **state)
{
    (void)state;
    enum { T = 8, I = 40, D = 4, NNEG = 12 };
    sr_rng r;
    sr_rng_seed(&r, 99);
    float h[T * D], E[I * D];
    sr_gc_fill(&r, h, T * D, -1.0f, 1.0f);
    sr_gc_fill(&r, E, I * D, -1.0f, 1.0f);
    const int32_t tg[T] = { 5, 17, 5, -1, 39, 0, 17, 22 };
    int32_t cand[T + NNEG];
    int nd = 0, nc = 0;
    assert_int_equal(sr_sampler_candidates_authors(tg, T, I, NNEG, &r, cand, T + NNEG, &nd, &nc),
                     SR_OK);
    assert_int_equal(nd, 5);
    assert_int_equal(nc, 5 + NNEG);
    float pos[T], neg[T * (T + NNEG)];
    double theirs = 0.0;
    int n = 0;
    double their_g[T * (T + NNEG)];
    for (int t = 0; t < T; t++) {
        int32_t it = tg[t] >= 0 ? tg[t] : 0;
        pos[t] = 0;
        for (int d = 0; d < D; d++)
            pos[t] += h[t * D + d] * E[it * D + d];
        for (int j = 0; j < nc; j++) {
            float s = 0;
            for (int d = 0; d < D; d++)
                s += h[t * D + d] * E[cand[j] * D + d];
            neg[t * nc + j] = s;
        }
    }
    for (int t = 0; t < T; t++) {
        if (tg[t] < 0)
            continue;
        n++;
    }
    for (int t = 0; t < T; t++) {
        for (int j = 0; j < nc; j++)
            their_g[t * nc + j] = 0.0;
        if (tg[t] < 0)
            continue;
        int label = -1;
        double m = -INFINITY, s = 0.0;
        for (int j = 0; j < nc; j++) {
            if (cand[j] == tg[t])
                label = j;
            m = fmax(m, neg[t * nc + j]);
        }
        assert_true(label >= 0 && label < nd); /* the target is among the distinct targets */
        for (int j = 0; j < nc; j++)
            s += exp(neg[t * nc + j] - m);
        theirs += m + log(s) - neg[t * nc + label];
        for (int j = 0; j < nc; j++)
            their_g[t * nc + j] = (exp(neg[t * nc + j] - m) / s - (j == label)) / n;
    }
    theirs /= n;
    float dp[T] = { 0 }, dn[T * (T + NNEG)] = { 0 };
    double ours = sr_sampled_softmax(pos, neg, tg, cand, NULL, NULL, T, nc,
                                     sr_sampled_opts_authors(), 1.0f / (float)n, dp, dn, NULL);
    assert_true(fabs(ours - theirs) < 1e-9);
    for (int t = 0; t < T; t++) {
        if (tg[t] < 0)
            continue;
        for (int j = 0; j < nc; j++) {
            /* their label column is our dpos; our copy of it is a removed hit */
            double got = cand[j] == tg[t] ? dp[t] : dn[t * nc + j];
            if (cand[j] == tg[t])
                assert_true(dn[t * nc + j] == 0.0f);
            if (fabs(got - their_g[t * nc + j]) > 1e-6)
                fail_msg("row %d cand %d: grad %.9g, theirs %.9g", t, j, got, their_g[t * nc + j]);
        }
    }
}

/* ---- BCE ---------------------------------------------------------------------- */

static void test_bce_hand_case(void **state)
{
    (void)state;
    /* s_pos = 0, s_neg = (0, log 3):
     *   -log sigmoid(0) = log 2; -log(1 - sigmoid(0)) = log 2;
     *   -log(1 - sigmoid(log 3)) = -log(1 - 3/4) = log 4
     *   loss = 4 log 2 = 2.77258872224 (one row: the mean is the row)
     *   dpos = sigmoid(0) - 1 = -0.5, dneg = (sigmoid(0), sigmoid(log 3)) = (0.5, 0.75) */
    const float pos[1] = { 0 }, neg[2] = { 0, (float)log(3.0) };
    const int32_t tg[1] = { 4 };
    float dp[1] = { 0 }, dn[2] = { 0 };
    int n = 0;
    double loss = sr_bce_negatives(pos, neg, tg, NULL, 1, 2, 1.0f, dp, dn, &n);
    assert_int_equal(n, 1);
    assert_true(fabs(loss - 4 * log(2.0)) < 1e-7);
    assert_true(fabsf(dp[0] + 0.5f) < 1e-7f);
    assert_true(fabsf(dn[0] - 0.5f) < 1e-7f && fabsf(dn[1] - 0.75f) < 1e-7f);
}

static double ref_bce(const float *pos, const float *neg, const int32_t *tg, const int32_t *items,
                      int T, int N)
{
    double sum = 0.0;
    int n = 0;
    for (int t = 0; t < T; t++) {
        if (tg[t] < 0)
            continue;
        n++;
        sum -= log(1.0 / (1.0 + exp(-(double)pos[t])));
        for (int j = 0; j < N; j++) {
            if (items && items[t * N + j] == tg[t])
                continue;
            sum -= log(1.0 - 1.0 / (1.0 + exp(-(double)neg[t * N + j])));
        }
    }
    return n ? sum / n : 0.0;
}

typedef struct bce_gc {
    float *pos, *neg;
    int32_t *tg, *items;
    int T, N;
} bce_gc;

static double bce_gc_loss(void *ctx)
{
    bce_gc *c = ctx;
    return sr_bce_negatives(c->pos, c->neg, c->tg, c->items, c->T, c->N, 0.0f, NULL, NULL, NULL);
}

static void test_bce_matches_reference_and_finite_differences(void **state)
{
    (void)state;
    enum { T = 6, N = 3 };
    float pos[T], neg[T * N];
    int32_t tg[T] = { 1, -1, 2, 0, 3, 1 }, items[T * N];
    sr_rng r;
    sr_rng_seed(&r, 5);
    sr_gc_fill(&r, pos, T, -3.0f, 3.0f);
    sr_gc_fill(&r, neg, T * N, -3.0f, 3.0f);
    for (int i = 0; i < T * N; i++)
        items[i] = (int32_t)sr_rng_below(&r, 4); /* hits happen */
    int hits = 0;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < N; j++)
            hits += tg[t] >= 0 && items[t * N + j] == tg[t];
    assert_true(hits > 0);
    int n = 0;
    double loss = sr_bce_negatives(pos, neg, tg, items, T, N, 0.0f, NULL, NULL, &n);
    assert_int_equal(n, 5);
    assert_true(fabs(loss - ref_bce(pos, neg, tg, items, T, N)) < 1e-9);
    /* without neg_items the hits count as negatives: a different loss */
    double all = sr_bce_negatives(pos, neg, tg, NULL, T, N, 0.0f, NULL, NULL, NULL);
    assert_true(fabs(all - ref_bce(pos, neg, tg, NULL, T, N)) < 1e-9);
    assert_true(all > loss);
    float dp[T] = { 0 }, dn[T * N] = { 0 };
    sr_bce_negatives(pos, neg, tg, items, T, N, 1.0f / (float)n, dp, dn, NULL);
    bce_gc c = { pos, neg, tg, items, T, N };
    sr_gc_check("bce dpos", pos, dp, T, bce_gc_loss, &c, 1e-3f, 1e-6, 1e-4, 100);
    sr_gc_check("bce dneg", neg, dn, T * N, bce_gc_loss, &c, 1e-3f, 1e-6, 1e-4, 100);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < N; j++)
            if (tg[t] < 0 || items[t * N + j] == tg[t])
                assert_true(dn[t * N + j] == 0.0f);
}

static void test_bce_huge_logits_stay_finite(void **state)
{
    (void)state;
    /* row 0: the worst case, pos -1e4 and neg +1e4: loss 1e4 + 1e4 (the
     * naive log(sigmoid) would be log(0) = -inf); row 1: the best case,
     * loss log1p(e^-1e4) * 2 = 0 */
    const float pos[2] = { -1e4f, 1e4f }, neg[2] = { 1e4f, -1e4f };
    const int32_t tg[2] = { 0, 0 };
    float dp[2] = { 0 }, dn[2] = { 0 };
    double loss = sr_bce_negatives(pos, neg, tg, NULL, 2, 1, 0.5f, dp, dn, NULL);
    assert_true(fabs(loss - 1e4) < 1e-9);
    assert_true(dp[0] == -0.5f && dn[0] == 0.5f && dp[1] == 0.0f && dn[1] == 0.0f);
}

static void test_bce_no_target_gives_zero(void **state)
{
    (void)state;
    const float pos[1] = { 1 }, neg[1] = { 1 };
    const int32_t tg[1] = { -1 };
    float dp[1] = { 3 }, dn[1] = { 3 };
    int n = -1;
    assert_true(sr_bce_negatives(pos, neg, tg, NULL, 1, 1, 1.0f, dp, dn, &n) == 0.0);
    assert_int_equal(n, 0);
    assert_true(dp[0] == 3 && dn[0] == 3);
}

/* ---- threads ---------------------------------------------------------------- */

/* Big enough to run in parallel (> 32768 logits): gradients must be
 * bit-identical for 1 and 2 threads; losses identical when repeated with
 * the same thread count (full CE: for any count) and equal to 1e-12 across
 * thread counts. */
static void test_losses_deterministic_across_thread_counts(void **state)
{
    (void)state;
#ifndef _OPENMP
    skip();
#else
    enum { T = 64, N = 1024, NL = 3 };
    float *pos = malloc(T * sizeof *pos), *neg = malloc((size_t)T * N * sizeof *neg);
    float *qp = malloc(T * sizeof *qp), *qn = malloc(N * sizeof *qn);
    int32_t *tg = malloc(T * sizeof *tg), *items = malloc(N * sizeof *items);
    assert_true(pos && neg && qp && qn && tg && items);
    float *g[2][NL];
    float dp[2][NL][T];
    double loss[2][NL];
    memset(dp, 0, sizeof dp);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < NL; i++) {
            g[k][i] = calloc((size_t)T * N, sizeof(float));
            assert_non_null(g[k][i]);
        }
    }
    sr_rng r;
    sr_rng_seed(&r, 77);
    sr_gc_fill(&r, pos, T, -4.0f, 4.0f);
    sr_gc_fill(&r, neg, (size_t)T * N, -4.0f, 4.0f);
    sr_gc_fill(&r, qp, T, 1e-4f, 1e-2f);
    sr_gc_fill(&r, qn, N, 1e-4f, 1e-2f);
    for (int t = 0; t < T; t++)
        tg[t] = t % 9 == 0 ? -1 : (int32_t)sr_rng_below(&r, 500);
    for (int j = 0; j < N; j++)
        items[j] = (int32_t)sr_rng_below(&r, 500);
    int keep = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        float row_max[T], tl[T];
        double row_sumexp[T];
        sr_ce_full_init(T, row_max, row_sumexp, tl);
        sr_ce_full_stats(neg, T, N, 0, tg, row_max, row_sumexp, tl);
        loss[k][0] = sr_ce_full_loss(T, tg, row_max, row_sumexp, tl, NULL);
        sr_ce_full_grad(neg, T, N, 0, tg, row_max, row_sumexp, 0.01f, false, g[k][0]);
        loss[k][1] = sr_sampled_softmax(pos, neg, tg, items, qp, qn, T, N,
                                        sr_sampled_opts_standard(), 0.01f, dp[k][1], g[k][1],
                                        NULL);
        double again = sr_sampled_softmax(pos, neg, tg, items, qp, qn, T, N,
                                          sr_sampled_opts_standard(), 0.0f, NULL, NULL, NULL);
        assert_true(again == loss[k][1]);
        loss[k][2] = sr_bce_negatives(pos, neg, tg, NULL, T, N, 0.01f, dp[k][2], g[k][2], NULL);
        again = sr_bce_negatives(pos, neg, tg, NULL, T, N, 0.0f, NULL, NULL, NULL);
        assert_true(again == loss[k][2]);
    }
    omp_set_num_threads(keep);
    for (int i = 0; i < NL; i++) {
        assert_memory_equal(g[0][i], g[1][i], (size_t)T * N * sizeof(float));
        assert_memory_equal(dp[0][i], dp[1][i], sizeof dp[0][i]);
        assert_true(fabs(loss[0][i] - loss[1][i]) <= 1e-12 * fabs(loss[0][i]));
    }
    assert_true(loss[0][0] == loss[1][0]);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < NL; i++)
            free(g[k][i]);
    free(pos);
    free(neg);
    free(qp);
    free(qn);
    free(tg);
    free(items);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_next_play_hand_table),
        cmocka_unit_test(test_targets_next_listened_hand_table),
        cmocka_unit_test(test_targets_ignore_labels_and_tracks_of_invalid_positions),
        cmocka_unit_test(test_target_mode_parse_and_name),
        cmocka_unit_test(test_ce_full_hand_case),
        cmocka_unit_test(test_ce_full_chunked_matches_unchunked_and_reference),
        cmocka_unit_test(test_ce_full_grad_finite_differences),
        cmocka_unit_test(test_ce_full_huge_logits_stay_finite),
        cmocka_unit_test(test_ce_full_minus_inf_logits_count_as_zero_probability),
        cmocka_unit_test(test_ce_full_no_target_gives_zero_without_nan),
        cmocka_unit_test(test_ce_full_target_outside_chunks_gives_nan),
        cmocka_unit_test(test_ce_full_grad_accumulates_and_works_in_place),
        cmocka_unit_test(test_sampled_softmax_log_q_sign_hand_case),
        cmocka_unit_test(test_sampled_softmax_accidental_hits_excluded),
        cmocka_unit_test(test_sampled_softmax_matches_naive_reference),
        cmocka_unit_test(test_sampled_softmax_finite_differences),
        cmocka_unit_test(test_sampled_softmax_huge_logits_and_tiny_q_stay_finite),
        cmocka_unit_test(test_sampled_softmax_no_target_gives_zero),
        cmocka_unit_test(test_sampled_softmax_authors_preset_equals_their_formulation),
        cmocka_unit_test(test_bce_hand_case),
        cmocka_unit_test(test_bce_matches_reference_and_finite_differences),
        cmocka_unit_test(test_bce_huge_logits_stay_finite),
        cmocka_unit_test(test_bce_no_target_gives_zero),
        cmocka_unit_test(test_losses_deterministic_across_thread_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
