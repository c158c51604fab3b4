/* test_layers.c - embedding lookup, positional embedding, dropout and the
 * residual add (core/sr_layers.c): hand-computed cases, finite differences
 * (sr_gradcheck.h), naive reference loops, and bit-identical results across
 * thread counts. */
#include "sr_test.h"
#include "sr_gradcheck.h"

#include <math.h>
#include <omp.h>

#include "sr_layers.h"
#include "sr_rng.h"

static float *falloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

static float *fzalloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

/* ---- embedding ------------------------------------------------------------------ */

static void test_embedding_forward_gathers_rows_and_zeroes_padding(void **state)
{
    (void)state;
    enum { I = 4, D = 3, T = 5 };
    float table[I * D];
    for (int i = 0; i < I; i++)
        for (int d = 0; d < D; d++)
            table[i * D + d] = (float)(10 * i + d) + 0.5f;
    const int32_t idx[T] = { 2, -1, 0, 2, 3 };
    float out[T * D];
    for (int e = 0; e < T * D; e++)
        out[e] = NAN;
    sr_embedding_forward(table, idx, T, D, I, out);
    const float want[T * D] = { 20.5f, 21.5f, 22.5f, 0, 0, 0,    0.5f,  1.5f,
                                2.5f,  20.5f, 21.5f, 22.5f, 30.5f, 31.5f, 32.5f };
    assert_memory_equal(out, want, sizeof want);
}

/* idx = (3, pad, 3, 1, pad), dout[t] = ((t+1)^2, -(t+1)):
 * row 3 += (1 + 9, -1 - 3) = (10, -4); row 1 += (16, -4); rows 0, 2, 4 keep
 * their prior values. touched: rows 1 and 3 set, row 4's prior 1 left alone. */
static void test_embedding_backward_scatter_adds_and_marks_touched(void **state)
{
    (void)state;
    enum { I = 5, D = 2, T = 5 };
    const int32_t idx[T] = { 3, -1, 3, 1, -7 };
    float dout[T * D];
    for (int t = 0; t < T; t++) {
        dout[t * D] = (float)((t + 1) * (t + 1));
        dout[t * D + 1] = (float)-(t + 1);
    }
    float dtable[I * D];
    for (int e = 0; e < I * D; e++)
        dtable[e] = 100.0f + (float)e;
    uint8_t touched[I] = { 0, 0, 0, 0, 1 };
    sr_embedding_backward(dout, idx, T, D, I, dtable, touched);
    const float want[I * D] = { 100, 101, 102 + 16, 103 - 4, 104, 105,
                                106 + 10, 107 - 4, 108, 109 };
    assert_memory_equal(dtable, want, sizeof want);
    const uint8_t want_touched[I] = { 0, 1, 0, 1, 1 };
    assert_memory_equal(touched, want_touched, sizeof want_touched);
    /* touched is optional */
    sr_embedding_backward(dout, idx, T, D, I, dtable, NULL);
    assert_true(dtable[3 * D] == 106.0f + 20.0f);
}

typedef struct emb_ctx {
    const float *table;
    const int32_t *idx;
    int T, D, I;
    float *out;
    const float *w;
} emb_ctx;

static double emb_loss(void *p)
{
    emb_ctx *c = p;
    sr_embedding_forward(c->table, c->idx, c->T, c->D, c->I, c->out);
    return sr_gc_dot(c->out, c->w, (size_t)c->T * (size_t)c->D);
}

static void test_embedding_backward_matches_finite_differences(void **state)
{
    (void)state;
    enum { I = 6, D = 4, T = 9 };
    /* repeats (2 three times), padding, and rows never used (1, 4) */
    const int32_t idx[T] = { 2, 0, -1, 2, 5, 3, -1, 2, 0 };
    float *table = falloc(I * D), *out = falloc(T * D), *w = falloc(T * D);
    float *dtable = fzalloc(I * D);
    sr_rng r;
    sr_rng_seed(&r, 201);
    sr_gc_fill(&r, table, I * D, -1, 1);
    sr_gc_fill(&r, w, T * D, -1, 1);
    emb_ctx c = { table, idx, T, D, I, out, w };
    sr_embedding_backward(w, idx, T, D, I, dtable, NULL);
    sr_gc_check("dtable", table, dtable, I * D, emb_loss, &c, 1e-2f, 1e-5, 1e-3, 1000);
    for (int d = 0; d < D; d++)
        assert_true(dtable[1 * D + d] == 0.0f && dtable[4 * D + d] == 0.0f);
    free(table);
    free(out);
    free(w);
    free(dtable);
}

/* Floats with magnitudes spread over 1e-4 .. 1e4, so that summing them in
 * another order almost surely changes the rounding. */
static void fill_wide(sr_rng *r, float *x, size_t n)
{
    for (size_t e = 0; e < n; e++) {
        double mag = pow(10.0, -4.0 + 8.0 * sr_rng_uniform(r));
        x[e] = (float)(sr_rng_uniform(r) < 0.5 ? -mag : mag);
    }
}

/* The scatter-add with 1, 2 and 3 threads equals, bit for bit, the serial
 * loop in increasing t; the same loop in decreasing t differs, so the
 * comparison is sensitive to the order of additions. */
static void test_embedding_backward_bit_identical_across_thread_counts(void **state)
{
    (void)state;
    enum { I = 37, D = 24, T = 4000 };
    int32_t *idx = malloc(T * sizeof *idx);
    assert_non_null(idx);
    sr_rng r;
    sr_rng_seed(&r, 211);
    for (int t = 0; t < T; t++) {
        /* skewed: low rows far more often; every tenth a padding slot */
        double u = sr_rng_uniform(&r);
        idx[t] = t % 10 == 9 ? -1 : (int32_t)(I * u * u);
    }
    float *dout = falloc((size_t)T * D);
    fill_wide(&r, dout, (size_t)T * D);
    float *serial = fzalloc(I * D), *reverse = fzalloc(I * D);
    for (int t = 0; t < T; t++)
        if (idx[t] >= 0)
            for (int d = 0; d < D; d++)
                serial[idx[t] * D + d] += dout[(size_t)t * D + d];
    for (int t = T - 1; t >= 0; t--)
        if (idx[t] >= 0)
            for (int d = 0; d < D; d++)
                reverse[idx[t] * D + d] += dout[(size_t)t * D + d];
    assert_memory_not_equal(serial, reverse, I * D * sizeof(float));

    int saved = omp_get_max_threads();
    for (int nth = 1; nth <= 3; nth++) {
        float *dtable = fzalloc(I * D);
        uint8_t touched[I] = { 0 };
        omp_set_num_threads(nth);
        sr_embedding_backward(dout, idx, T, D, I, dtable, touched);
        assert_memory_equal(dtable, serial, I * D * sizeof(float));
        for (int i = 0; i < I; i++) {
            int used = 0;
            for (int t = 0; t < T; t++)
                used |= idx[t] == i;
            assert_int_equal(touched[i], used);
        }
        free(dtable);
    }
    omp_set_num_threads(saved);
    free(idx);
    free(dout);
    free(serial);
    free(reverse);
}

static void test_embedding_check_rejects_out_of_range_index(void **state)
{
    (void)state;
    const int32_t ok[4] = { 0, -1, 4, -100 };
    assert_int_equal(sr_embedding_check(ok, 4, 5), SR_OK);
    const int32_t bad[4] = { 0, -1, 5, 1 };
    assert_int_equal(sr_embedding_check(bad, 4, 5), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "index 5 at position 2"));
    assert_int_equal(sr_embedding_check(bad, 2, 5), SR_OK); /* only T entries are read */
    assert_int_equal(sr_embedding_check(ok, 0, 0), SR_OK);
    assert_int_equal(sr_embedding_check(ok, 1, 0), SR_ERR_ARG); /* no rows at all */
}

/* ---- positional embedding ----------------------------------------------------------- */

/* B = 2, L = 3, D = 2; x[b, l, d] = 100 b + 10 l + d, pos[l, d] = (l + 1) / 2
 * + d; position (1, 2) padded: copied unchanged. */
static void test_posemb_forward_adds_positions_and_skips_padding(void **state)
{
    (void)state;
    enum { B = 2, L = 3, D = 2 };
    float x[B * L * D], pos[L * D], y[B * L * D];
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            for (int d = 0; d < D; d++)
                x[(b * L + l) * D + d] = (float)(100 * b + 10 * l + d);
    for (int l = 0; l < L; l++)
        for (int d = 0; d < D; d++)
            pos[l * D + d] = (float)(l + 1) / 2.0f + (float)d;
    const uint8_t valid[B * L] = { 1, 1, 1, 1, 1, 0 };
    sr_posemb_forward(x, pos, valid, B, L, D, y);
    const float want[B * L * D] = { 0.5f,   2.5f,   11.0f,  13.0f,  21.5f, 23.5f,
                                    100.5f, 102.5f, 111.0f, 113.0f, 120,   121 };
    assert_memory_equal(y, want, sizeof want);
    /* in place, no mask: every row gets its position */
    sr_posemb_forward(x, pos, NULL, B, L, D, x);
    assert_true(x[(1 * L + 2) * D] == 121.5f);
    assert_memory_equal(x, want, 10 * sizeof(float));
}

typedef struct pos_ctx {
    const float *x, *pos;
    const uint8_t *valid;
    int B, L, D;
    float *y;
    const float *w;
} pos_ctx;

static double pos_loss(void *p)
{
    pos_ctx *c = p;
    sr_posemb_forward(c->x, c->pos, c->valid, c->B, c->L, c->D, c->y);
    return sr_gc_dot(c->y, c->w, (size_t)c->B * c->L * c->D);
}

static void test_posemb_backward_matches_finite_differences(void **state)
{
    (void)state;
    enum { B = 3, L = 4, D = 5 };
    const uint8_t valid[B * L] = { 1, 1, 1, 0, /**/ 1, 1, 0, 0, /**/ 0, 0, 0, 0 };
    const size_t n = (size_t)B * L * D;
    float *x = falloc(n), *pos = falloc(L * D), *y = falloc(n), *w = falloc(n);
    float *dx = fzalloc(n), *dpos = fzalloc(L * D);
    sr_rng r;
    sr_rng_seed(&r, 221);
    sr_gc_fill(&r, x, n, -1, 1);
    sr_gc_fill(&r, pos, L * D, -1, 1);
    sr_gc_fill(&r, w, n, -1, 1);
    pos_ctx c = { x, pos, valid, B, L, D, y, w };
    sr_posemb_backward(w, valid, B, L, D, dx, dpos);
    sr_gc_check("dx", x, dx, n, pos_loss, &c, 1e-2f, 1e-5, 1e-3, 1000);
    sr_gc_check("dpos", pos, dpos, L * D, pos_loss, &c, 1e-2f, 1e-5, 1e-3, 1000);
    /* position 3 is padded in every sequence: no gradient reaches pos[3] */
    for (int d = 0; d < D; d++)
        assert_true(dpos[3 * D + d] == 0.0f);
    free(x);
    free(pos);
    free(y);
    free(w);
    free(dx);
    free(dpos);
}

/* dpos equals the naive loop over b in order, bit for bit, for 1 and 2
 * threads; it accumulates onto what dpos held. */
static void test_posemb_backward_sums_batch_in_order(void **state)
{
    (void)state;
    enum { B = 64, L = 20, D = 16 };
    const size_t n = (size_t)B * L * D;
    float *dy = falloc(n), *want = falloc(L * D);
    sr_rng r;
    sr_rng_seed(&r, 231);
    fill_wide(&r, dy, n);
    for (int e = 0; e < L * D; e++)
        want[e] = 1.0f;
    for (int b = 0; b < B; b++)
        for (int e = 0; e < L * D; e++)
            want[e] += dy[(size_t)b * L * D + e];
    int saved = omp_get_max_threads();
    for (int nth = 1; nth <= 2; nth++) {
        float *dpos = falloc(L * D);
        for (int e = 0; e < L * D; e++)
            dpos[e] = 1.0f;
        omp_set_num_threads(nth);
        sr_posemb_backward(dy, NULL, B, L, D, NULL, dpos);
        assert_memory_equal(dpos, want, L * D * sizeof(float));
        free(dpos);
    }
    omp_set_num_threads(saved);
    free(dy);
    free(want);
}

/* ---- dropout ----------------------------------------------------------------------- */

static uint8_t *mask_alloc(size_t n)
{
    uint8_t *m = malloc(n ? n : 1);
    assert_non_null(m);
    return m;
}

static double mask_rate(const uint8_t *m, size_t n)
{
    size_t dropped = 0;
    for (size_t e = 0; e < n; e++)
        dropped += m[e] == 0;
    return (double)dropped / (double)n;
}

static double mask_agreement(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t same = 0;
    for (size_t e = 0; e < n; e++)
        same += a[e] == b[e];
    return (double)same / (double)n;
}

/* Same (seed, step, site): same mask. Changing any of them gives a mask that
 * agrees with the first only by chance: p^2 + (1-p)^2 = 0.68 at p = 0.2. */
static void test_dropout_same_seed_same_mask_other_keys_differ(void **state)
{
    (void)state;
    const size_t n = 50000;
    const float p = 0.2f;
    uint8_t *a = mask_alloc(n), *b = mask_alloc(n);
    sr_dropout_mask(a, n, p, 42, 7, 3);
    sr_dropout_mask(b, n, p, 42, 7, 3);
    assert_memory_equal(a, b, n);
    const uint64_t keys[5][3] = { { 43, 7, 3 }, { 42, 8, 3 }, { 42, 7, 4 }, { 7, 42, 3 },
                                  { 42, 3, 7 } };
    for (int k = 0; k < 5; k++) {
        sr_dropout_mask(b, n, p, keys[k][0], keys[k][1], keys[k][2]);
        double agree = mask_agreement(a, b, n);
        if (fabs(agree - 0.68) > 0.02)
            fail_msg("key %d: agreement %.4f, expected ~0.68 for independent masks", k, agree);
    }
    free(a);
    free(b);
}

/* The mask depends on the element index only: 1, 2 and 3 threads give the
 * same bits, and a shorter mask is a prefix of a longer one. */
static void test_dropout_mask_independent_of_thread_count(void **state)
{
    (void)state;
    const size_t n = 100003; /* not a multiple of SR_DROPOUT_BLOCK */
    uint8_t *m1 = mask_alloc(n), *m = mask_alloc(n);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    sr_dropout_mask(m1, n, 0.3f, 9, 100, 1);
    for (int nth = 2; nth <= 3; nth++) {
        omp_set_num_threads(nth);
        memset(m, 0xAA, n);
        sr_dropout_mask(m, n, 0.3f, 9, 100, 1);
        assert_memory_equal(m, m1, n);
    }
    omp_set_num_threads(saved);
    memset(m, 0xAA, n);
    sr_dropout_mask(m, 1000, 0.3f, 9, 100, 1);
    assert_memory_equal(m, m1, 1000);
    assert_int_equal(m[1000], 0xAA);
    free(m1);
    free(m);
}

/* The dropped fraction is within 5 standard deviations of p; neighbouring
 * blocks are independent (agreement ~ p^2 + (1-p)^2, not 1), so the block
 * seeding really uses the block index. */
static void test_dropout_rate_within_tolerance(void **state)
{
    (void)state;
    const size_t n = 200000;
    uint8_t *m = mask_alloc(n);
    const float ps[3] = { 0.1f, 0.2f, 0.5f };
    for (int k = 0; k < 3; k++) {
        double p = ps[k];
        sr_dropout_mask(m, n, ps[k], 1234, 5, 0);
        double rate = mask_rate(m, n);
        double tol = 5.0 * sqrt(p * (1.0 - p) / (double)n);
        if (fabs(rate - p) > tol)
            fail_msg("p = %.2f: dropped fraction %.5f outside +-%.5f", p, rate, tol);
        for (int e = 0; e < (int)n; e++)
            assert_true(m[e] <= 1);
        double agree = mask_agreement(m, m + SR_DROPOUT_BLOCK, n - SR_DROPOUT_BLOCK);
        double want = p * p + (1 - p) * (1 - p);
        if (fabs(agree - want) > 0.01)
            fail_msg("p = %.2f: block e and e + BLOCK agree %.4f, expected %.4f", p, agree,
                     want);
    }
    free(m);
}

/* p = 0 keeps everything; evaluation (mask NULL) is the identity, bit for
 * bit, in place or not; the backward then adds dy. */
static void test_dropout_p0_and_eval_are_identity(void **state)
{
    (void)state;
    const size_t n = 1000;
    uint8_t *m = mask_alloc(n);
    float *x = falloc(n), *y = falloc(n), *dx = falloc(n);
    sr_rng r;
    sr_rng_seed(&r, 241);
    fill_wide(&r, x, n);
    sr_dropout_mask(m, n, 0.0f, 1, 2, 3);
    for (size_t e = 0; e < n; e++)
        assert_int_equal(m[e], 1);
    sr_dropout_forward(x, m, n, 0.0f, y);
    assert_memory_equal(x, y, n * sizeof(float));
    memset(y, 0, n * sizeof(float));
    sr_dropout_forward(x, NULL, n, 0.3f, y);
    assert_memory_equal(x, y, n * sizeof(float));
    sr_dropout_forward(y, NULL, n, 0.3f, y);
    assert_memory_equal(x, y, n * sizeof(float));
    for (size_t e = 0; e < n; e++)
        dx[e] = 1.0f;
    sr_dropout_backward(x, NULL, n, 0.3f, dx);
    for (size_t e = 0; e < n; e++)
        assert_true(dx[e] == 1.0f + x[e]);
    free(m);
    free(x);
    free(y);
    free(dx);
}

/* Kept values are scaled by 1 / (1 - p) = 1.25 at p = 0.2, dropped ones are
 * exactly 0 (even NaN inputs), and the mean of y over x = 1 stays ~1
 * (inverted dropout is unbiased). */
static void test_dropout_forward_scales_kept_and_zeroes_dropped(void **state)
{
    (void)state;
    const size_t n = 200000;
    const float p = 0.2f;
    uint8_t *m = mask_alloc(n);
    float *x = falloc(n), *y = falloc(n);
    sr_dropout_mask(m, n, p, 77, 1, 2);
    for (size_t e = 0; e < n; e++)
        x[e] = m[e] ? 1.0f : NAN;
    sr_dropout_forward(x, m, n, p, y);
    for (size_t e = 0; e < n; e++)
        assert_true(y[e] == (m[e] ? 1.25f : 0.0f));
    for (size_t e = 0; e < n; e++)
        x[e] = 1.0f;
    sr_dropout_forward(x, m, n, p, x); /* in place */
    double mean = 0.0;
    for (size_t e = 0; e < n; e++)
        mean += x[e];
    mean /= (double)n;
    /* sd of the mean: 1.25 * sqrt(p (1 - p) / n) = 0.00112 */
    assert_true(fabs(mean - 1.0) < 5 * 0.00112);
    free(m);
    free(x);
    free(y);
}

typedef struct drop_ctx {
    const float *x;
    const uint8_t *mask;
    size_t n;
    float p;
    float *y;
    const float *w;
} drop_ctx;

static double drop_loss(void *p)
{
    drop_ctx *c = p;
    sr_dropout_forward(c->x, c->mask, c->n, c->p, c->y);
    return sr_gc_dot(c->y, c->w, c->n);
}

static void test_dropout_backward_matches_finite_differences_with_fixed_mask(void **state)
{
    (void)state;
    const size_t n = 300;
    const float p = 0.3f;
    uint8_t *m = mask_alloc(n);
    float *x = falloc(n), *y = falloc(n), *w = falloc(n), *dx = falloc(n);
    sr_rng r;
    sr_rng_seed(&r, 251);
    sr_gc_fill(&r, x, n, -2, 2);
    sr_gc_fill(&r, w, n, -1, 1);
    sr_dropout_mask(m, n, p, 5, 6, 7);
    double rate = mask_rate(m, n);
    assert_true(rate > 0.1 && rate < 0.5); /* both kinds of entries are checked */
    float *prior = falloc(n);
    sr_gc_fill(&r, prior, n, -1, 1);
    memcpy(dx, prior, n * sizeof(float));
    sr_dropout_backward(w, m, n, p, dx);
    /* check the increment, and that backward accumulated onto prior */
    for (size_t e = 0; e < n; e++)
        dx[e] -= prior[e];
    drop_ctx c = { x, m, n, p, y, w };
    sr_gc_check("dx", x, dx, n, drop_loss, &c, 1e-2f, 1e-5, 1e-3, 1000);
    for (size_t e = 0; e < n; e++)
        if (!m[e])
            assert_true(fabsf(dx[e]) < 1e-6f);
    free(m);
    free(x);
    free(y);
    free(w);
    free(dx);
    free(prior);
}

/* ---- residual ----------------------------------------------------------------------- */

static void test_residual_forward_and_backward(void **state)
{
    (void)state;
    float a[4] = { 1, 2, 3, 4 }, b[4] = { 0.5f, -2, 10, 0 }, y[4];
    sr_residual_forward(a, b, 4, y);
    const float want[4] = { 1.5f, 0, 13, 4 };
    assert_memory_equal(y, want, sizeof want);
    sr_residual_forward(a, b, 4, a); /* in place */
    assert_memory_equal(a, want, sizeof want);
    const float dy[4] = { 1, -1, 2, -2 };
    float da[4] = { 10, 10, 10, 10 }, db[4] = { 0, 0, 0, 0 };
    sr_residual_backward(dy, 4, da, db);
    const float want_da[4] = { 11, 9, 12, 8 };
    assert_memory_equal(da, want_da, sizeof want_da);
    assert_memory_equal(db, dy, sizeof db);
    sr_residual_backward(dy, 4, NULL, db);
    assert_true(db[2] == 4.0f && da[2] == 12.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding_forward_gathers_rows_and_zeroes_padding),
        cmocka_unit_test(test_embedding_backward_scatter_adds_and_marks_touched),
        cmocka_unit_test(test_embedding_backward_matches_finite_differences),
        cmocka_unit_test(test_embedding_backward_bit_identical_across_thread_counts),
        cmocka_unit_test(test_embedding_check_rejects_out_of_range_index),
        cmocka_unit_test(test_posemb_forward_adds_positions_and_skips_padding),
        cmocka_unit_test(test_posemb_backward_matches_finite_differences),
        cmocka_unit_test(test_posemb_backward_sums_batch_in_order),
        cmocka_unit_test(test_dropout_same_seed_same_mask_other_keys_differ),
        cmocka_unit_test(test_dropout_mask_independent_of_thread_count),
        cmocka_unit_test(test_dropout_rate_within_tolerance),
        cmocka_unit_test(test_dropout_p0_and_eval_are_identity),
        cmocka_unit_test(test_dropout_forward_scales_kept_and_zeroes_dropped),
        cmocka_unit_test(test_dropout_backward_matches_finite_differences_with_fixed_mask),
        cmocka_unit_test(test_residual_forward_and_backward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
