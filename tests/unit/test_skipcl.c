/* test_skipcl.c - the skip-contrastive InfoNCE term (core/sr_skipcl.h,
 * SPEC.md section 4, docs/skip-term.md).
 *
 * Hand-computed cases use D = 2 vectors at known angles; their arithmetic is
 * written next to each case (the values were re-derived with python3's math
 * module while writing the test). Random cases are checked against finite
 * differences (sr_gradcheck.h) and against a naive reference written here
 * from the SPEC text: explicit "next listened" search, an explicit list of
 * negatives and a direct -log(softmax).
 *
 * Labels below: 'L' listened (valid, skipped 0), 'S' skipped (valid,
 * skipped 1), '.' invalid (valid 0; its skipped byte is 0xFF garbage).
 */
#include "sr_test.h"

#include <math.h>
#include <omp.h>

#include "sr_gradcheck.h"
#include "sr_rng.h"
#include "sr_skipcl.h"

/* cmocka 1.1.5's assert_float_equal rounds both sides to float and passes
 * when either is NaN or Inf; this check is in double and fails on both. */
#define assert_near(a, b, tol) assert_near_at((a), (b), (tol), #a, __LINE__)

static void assert_near_at(double a, double b, double tol, const char *what, int line)
{
    if (!isfinite(a) || !isfinite(b) || !(fabs(a - b) <= tol))
        fail_msg("line %d: %s = %.12g, expected %.12g (tolerance %g)", line, what, a, b, tol);
}

/* ---- batches ------------------------------------------------------------------ */

typedef struct batch {
    int B, L, D;
    float tau;
    float *ctx, *key;     /* [B, L, D] */
    float *gctx, *gkey;   /* [B, L, D] */
    uint8_t *skip, *valid; /* [B, L] */
} batch;

static batch batch_new(int B, int L, int D, float tau)
{
    batch b = { B, L, D, tau, NULL, NULL, NULL, NULL, NULL, NULL };
    size_t n = (size_t)B * (size_t)L * (size_t)D;
    b.ctx = calloc(n, sizeof(float));
    b.key = calloc(n, sizeof(float));
    b.gctx = calloc(n, sizeof(float));
    b.gkey = calloc(n, sizeof(float));
    b.skip = calloc((size_t)B * (size_t)L, 1);
    b.valid = calloc((size_t)B * (size_t)L, 1);
    assert_true(b.ctx && b.key && b.gctx && b.gkey && b.skip && b.valid);
    return b;
}

static void batch_free(batch *b)
{
    free(b->ctx);
    free(b->key);
    free(b->gctx);
    free(b->gkey);
    free(b->skip);
    free(b->valid);
}

static size_t nfl(const batch *b)
{
    return (size_t)b->B * (size_t)b->L * (size_t)b->D;
}

/* Labels of session s from a string of 'L', 'S' and '.' of length L. */
static void set_labels(batch *b, int s, const char *lab)
{
    assert_int_equal((int)strlen(lab), b->L);
    for (int t = 0; t < b->L; t++) {
        size_t i = (size_t)s * (size_t)b->L + (size_t)t;
        b->valid[i] = lab[t] != '.';
        b->skip[i] = lab[t] == 'S' ? 1 : lab[t] == 'L' ? 0 : 0xFF;
    }
}

static size_t at(const batch *b, int s, int t)
{
    return ((size_t)s * (size_t)b->L + (size_t)t) * (size_t)b->D;
}

static float *row(float *x, const batch *b, int s, int t)
{
    return x + at(b, s, t);
}

static void set2(float *x, const batch *b, int s, int t, float x0, float x1)
{
    float *r = row(x, b, s, t);
    r[0] = x0;
    r[1] = x1;
}

/* Random vectors everywhere and random labels: each position is invalid with
 * probability p_invalid, else skipped with probability p_skip. */
static void fill_random(batch *b, sr_rng *r, double p_invalid, double p_skip)
{
    sr_gc_fill(r, b->ctx, nfl(b), -1.0f, 1.0f);
    sr_gc_fill(r, b->key, nfl(b), -1.0f, 1.0f);
    for (size_t i = 0; i < (size_t)b->B * (size_t)b->L; i++) {
        b->valid[i] = sr_rng_uniform(r) >= p_invalid;
        b->skip[i] = b->valid[i] ? (sr_rng_uniform(r) < p_skip) : 0xFF;
    }
}

static float run(batch *b)
{
    return sr_skip_contrastive(b->ctx, b->key, b->skip, b->valid, b->B, b->L, b->D, b->tau,
                               b->gctx, b->gkey);
}

static void assert_all_zero(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f)
            fail_msg("entry %zu is %g, expected exactly 0", i, (double)x[i]);
}

static void assert_rows_zero(const float *x, const batch *b, int s, int t)
{
    const float *r = x + at(b, s, t);
    for (int d = 0; d < b->D; d++)
        if (r[d] != 0.0f)
            fail_msg("row (%d, %d) entry %d is %g, expected exactly 0", s, t, d, (double)r[d]);
}

/* ---- an independent reference, written from SPEC.md section 4 ----------------- */

static double ref_cos(const float *a, const float *k, int D)
{
    double ab = 0, aa = 0, kk = 0;
    for (int d = 0; d < D; d++) {
        ab += (double)a[d] * k[d];
        aa += (double)a[d] * a[d];
        kk += (double)k[d] * k[d];
    }
    double e2 = SR_SKIPCL_NORM_EPS * SR_SKIPCL_NORM_EPS;
    return ab / (sqrt(aa + e2) * sqrt(kk + e2));
}

static double ref_loss(const batch *b)
{
    double sum = 0;
    long anchors = 0;
    for (int s = 0; s < b->B; s++) {
        const uint8_t *v = b->valid + (size_t)s * (size_t)b->L;
        const uint8_t *y = b->skip + (size_t)s * (size_t)b->L;
        int neg[256], nneg = 0;
        assert_true(b->L <= 256);
        for (int u = 0; u < b->L; u++)
            if (v[u] && y[u])
                neg[nneg++] = u;
        for (int t = 0; t < b->L; t++) {
            if (!v[t] || y[t])
                continue;
            int p = -1;
            for (int u = t + 1; u < b->L && p < 0; u++)
                if (v[u] && !y[u])
                    p = u;
            if (p < 0 || nneg == 0)
                continue;
            const float *c = row(b->ctx, b, s, t);
            double pos = exp(ref_cos(c, row(b->key, b, s, p), b->D) / b->tau);
            double den = pos;
            for (int j = 0; j < nneg; j++)
                den += exp(ref_cos(c, row(b->key, b, s, neg[j]), b->D) / b->tau);
            sum += -log(pos / den);
            anchors++;
        }
    }
    return anchors ? sum / (double)anchors : 0.0;
}

/* ---- hand-computed cases -------------------------------------------------------- */

/* Session "L S L", tau = 1. Anchor 0: positive 2, negative 1.
 * c_0 = (2, 0); k_2 = (3, 0) at 0 degrees: cos 1; k_1 = (0, 5) at 90 degrees: cos 0.
 * l = -log(e^1 / (e^1 + e^0)) = log(1 + e^-1) = 0.31326168751822286.
 * Gradient: softmax (e/(e+1), 1/(e+1)) = (0.7310585786, 0.2689414214), so
 * dl/ds_pos = -0.2689414214, dl/ds_neg = +0.2689414214 (tau = 1).
 * dcos/dc = k/(|c||k|) - cos c/|c|^2:  for k_2: (3,0)/6 - (2,0)/4 = 0;
 *                                      for k_1: (0,5)/10 - 0 = (0, 0.5).
 *   -> grad c_0 = 0.2689414214 * (0, 0.5) = (0, 0.13447071068499755).
 * dcos/dk = c/(|c||k|) - cos k/|k|^2:  for k_2: (2,0)/6 - (3,0)/9 = 0;
 *                                      for k_1: (2,0)/10 - 0 = (0.2, 0).
 *   -> grad k_1 = (0.053788284273999024, 0); grad k_2 = 0.
 * Vectors at non-anchor context rows and the anchor's key row are decoys. */
static void test_skipcl_one_anchor_hand_value_and_gradient(void **state)
{
    (void)state;
    batch b = batch_new(1, 3, 2, 1.0f);
    set_labels(&b, 0, "LSL");
    set2(b.ctx, &b, 0, 0, 2, 0);
    set2(b.ctx, &b, 0, 1, -7, 1);
    set2(b.ctx, &b, 0, 2, 4, 4);
    set2(b.key, &b, 0, 0, 9, -9);
    set2(b.key, &b, 0, 1, 0, 5);
    set2(b.key, &b, 0, 2, 3, 0);
    float l = run(&b);
    assert_near(l, 0.31326168751822286, 1e-6);
    assert_near(row(b.gctx, &b, 0, 0)[0], 0.0, 1e-7);
    assert_near(row(b.gctx, &b, 0, 0)[1], 0.13447071068499755, 1e-6);
    assert_near(row(b.gkey, &b, 0, 1)[0], 0.053788284273999024, 1e-6);
    assert_near(row(b.gkey, &b, 0, 1)[1], 0.0, 1e-7);
    assert_near(row(b.gkey, &b, 0, 2)[0], 0.0, 1e-7);
    assert_near(row(b.gkey, &b, 0, 2)[1], 0.0, 1e-7);
    /* rows that are neither the anchor's context nor a key are exactly 0 */
    assert_rows_zero(b.gctx, &b, 0, 1);
    assert_rows_zero(b.gctx, &b, 0, 2);
    assert_rows_zero(b.gkey, &b, 0, 0);
    batch_free(&b);
}

/* Session "L L S L", tau = 0.5. Anchors 0 (positive 1) and 1 (positive 3);
 * position 3 has no later listened play. The one negative is 2.
 * Anchor 0: c = (1,0), k_1 = (1/2, sqrt(3)/2) at 60 deg: s = 0.5/0.5 = 1;
 *           k_2 = (0,1) at 90 deg: s = 0.  l_0 = log(1 + e^-1) = 0.31326168751822286
 * Anchor 1: c = (1,0), k_3 = (-1,0) at 180 deg: s = -1/0.5 = -2; k_2: s = 0.
 *           l_1 = -log(e^-2 / (e^-2 + 1)) = log(1 + e^2) = 2.1269280110429727
 * loss = (l_0 + l_1) / 2 = 1.2200948492805979 */
static void test_skipcl_two_anchors_hand_value(void **state)
{
    (void)state;
    batch b = batch_new(1, 4, 2, 0.5f);
    set_labels(&b, 0, "LLSL");
    set2(b.ctx, &b, 0, 0, 1, 0);
    set2(b.ctx, &b, 0, 1, 1, 0);
    set2(b.ctx, &b, 0, 2, 0.3f, 0.1f);
    set2(b.ctx, &b, 0, 3, -2, 5);
    set2(b.key, &b, 0, 0, 1, 1);
    set2(b.key, &b, 0, 1, 0.5f, 0.8660254037844386f);
    set2(b.key, &b, 0, 2, 0, 1);
    set2(b.key, &b, 0, 3, -1, 0);
    assert_near(run(&b), 1.2200948492805979, 1e-6);
    sr_skipcl_counts c;
    sr_skipcl_count(b.skip, b.valid, 1, 4, &c);
    assert_int_equal(c.anchors, 2);
    assert_int_equal(c.negatives, 1);
    assert_int_equal(c.pairs, 2);
    assert_int_equal(c.sessions, 1);
    assert_int_equal(c.anchors_unused, 0);
    batch_free(&b);
}

/* Session "S L L", tau = 1: the negative lies BEFORE the anchor (SPEC: all
 * skipped tracks of the session). Anchor 1, positive 2, negative 0.
 * c_1 = (1,0); k_2 = (0,1): s = 0; k_0 = (1,1): s = 1/sqrt(2).
 * l = -log(1 / (1 + e^0.70710678)) = 1.1079403076572498 */
static void test_skipcl_negative_before_anchor_is_used(void **state)
{
    (void)state;
    batch b = batch_new(1, 3, 2, 1.0f);
    set_labels(&b, 0, "SLL");
    set2(b.ctx, &b, 0, 0, 3, 3);
    set2(b.ctx, &b, 0, 1, 1, 0);
    set2(b.ctx, &b, 0, 2, 0, 2);
    set2(b.key, &b, 0, 0, 1, 1);
    set2(b.key, &b, 0, 1, 5, 0);
    set2(b.key, &b, 0, 2, 0, 1);
    assert_near(run(&b), 1.1079403076572498, 1e-6);
    assert_true(row(b.gkey, &b, 0, 0)[1] != 0.0f); /* the earlier negative gets a gradient */
    batch_free(&b);
}

/* Two sessions, tau = 1, no empty negative slots (SPEC 6 item 3):
 * session 0 "L S S L": anchor 0, positive 3 = (1,0): s = 1; negatives
 *   k_1 = (0,1): s = 0 and k_2 = (-1,0): s = -1.
 *   l = log(1 + e^-1 + e^-2) = 0.4076059644443804
 * session 1 "L S L .": anchor 0, positive 2 = (1,0): s = 1; negative k_1 = (0,1): s = 0.
 *   l = log(1 + e^-1) = 0.31326168751822286
 * loss = 0.36043382598130164. Padding session 1 to two negative slots with a
 * zero vector would add e^0 and give log(2 + e^-1) = 0.862 for session 1. */
static void test_skipcl_unequal_negative_counts_use_no_padding_slots(void **state)
{
    (void)state;
    batch b = batch_new(2, 4, 2, 1.0f);
    set_labels(&b, 0, "LSSL");
    set_labels(&b, 1, "LSL.");
    set2(b.ctx, &b, 0, 0, 1, 0);
    set2(b.key, &b, 0, 1, 0, 1);
    set2(b.key, &b, 0, 2, -1, 0);
    set2(b.key, &b, 0, 3, 1, 0);
    set2(b.ctx, &b, 1, 0, 1, 0);
    set2(b.key, &b, 1, 1, 0, 1);
    set2(b.key, &b, 1, 2, 1, 0);
    assert_near(run(&b), 0.36043382598130164, 1e-6);
    sr_skipcl_counts c;
    sr_skipcl_count(b.skip, b.valid, 2, 4, &c);
    assert_int_equal(c.anchors, 2);
    assert_int_equal(c.negatives, 3);
    assert_int_equal(c.pairs, 3);
    assert_int_equal(c.sessions, 2);
    batch_free(&b);
}

/* Session "L S L S", tau = 1. The last listened play (2) has no later
 * listened play: it is not an anchor, and its positive never wraps around to
 * position 0 (SPEC 6 item 4). Only anchor 0 counts: positive 2 = (0,1): s = 0;
 * negatives k_1 = (1,0): s = 1 and k_3 = (-1,0): s = -1 (c_0 = (1,0)).
 * l = -log(1 / (1 + e + e^-1)) = 1.4076059644443801.
 * With wrap-around, anchor 2 would pair with key 0: grad key 0 would not be 0. */
static void test_skipcl_last_listened_play_does_not_wrap_around(void **state)
{
    (void)state;
    batch b = batch_new(1, 4, 2, 1.0f);
    set_labels(&b, 0, "LSLS");
    set2(b.ctx, &b, 0, 0, 1, 0);
    set2(b.ctx, &b, 0, 2, 0.4f, -0.7f);
    set2(b.key, &b, 0, 0, 0.6f, 0.3f);
    set2(b.key, &b, 0, 1, 1, 0);
    set2(b.key, &b, 0, 2, 0, 1);
    set2(b.key, &b, 0, 3, -1, 0);
    assert_near(run(&b), 1.4076059644443801, 1e-6);
    assert_rows_zero(b.gctx, &b, 0, 2);
    assert_rows_zero(b.gkey, &b, 0, 0);
    sr_skipcl_counts c;
    sr_skipcl_count(b.skip, b.valid, 1, 4, &c);
    assert_int_equal(c.anchors, 1);
    batch_free(&b);
}

/* Item-embedding context (context == keys == X, SPEC 4), tau = 1,
 * X_0 = (1,0), X_1 = (0,1), X_2 = (1,1), X_3 = (-1,0).
 * "L S L S": anchor 0, positive 2 (cos 1/sqrt 2), negatives 1 (cos 0), 3 (cos -1):
 *   l = -log(e^0.7071 / (e^0.7071 + 1 + e^-1)) = 0.5154898449817333
 * "S L S L" (labels swapped): anchor 1, positive 3 (cos 0), negatives 0 (cos 0),
 *   2 (cos 1/sqrt 2): l = -log(1 / (2 + e^0.7071)) = 1.3932985200416172
 * Inverted labels (SPEC 6 item 1) would turn the first value into the second. */
static void test_skipcl_swapping_skip_labels_changes_loss(void **state)
{
    (void)state;
    batch b = batch_new(1, 4, 2, 1.0f);
    set2(b.ctx, &b, 0, 0, 1, 0);
    set2(b.ctx, &b, 0, 1, 0, 1);
    set2(b.ctx, &b, 0, 2, 1, 1);
    set2(b.ctx, &b, 0, 3, -1, 0);
    set_labels(&b, 0, "LSLS");
    float a = sr_skip_contrastive(b.ctx, b.ctx, b.skip, b.valid, 1, 4, 2, 1.0f, NULL, NULL);
    set_labels(&b, 0, "SLSL");
    float s = sr_skip_contrastive(b.ctx, b.ctx, b.skip, b.valid, 1, 4, 2, 1.0f, NULL, NULL);
    assert_near(a, 0.5154898449817333, 1e-6);
    assert_near(s, 1.3932985200416172, 1e-6);
    batch_free(&b);
}

/* ---- sessions that contribute nothing -------------------------------------------- */

/* "L L L" (anchors, no negative), "S S L" and "L S S" (no anchor: no later
 * listened play), all padding: the loss is exactly 0 (not 0/0), gradients are
 * overwritten with exact zeros, and the accumulating form adds nothing. */
static void test_skipcl_batch_without_counted_anchor_is_exactly_zero(void **state)
{
    (void)state;
    batch b = batch_new(4, 3, 3, 0.1f);
    sr_rng r;
    sr_rng_seed(&r, 7);
    sr_gc_fill(&r, b.ctx, nfl(&b), -1, 1);
    sr_gc_fill(&r, b.key, nfl(&b), -1, 1);
    set_labels(&b, 0, "LLL");
    set_labels(&b, 1, "SSL");
    set_labels(&b, 2, "LSS");
    set_labels(&b, 3, "...");
    for (size_t i = 0; i < nfl(&b); i++)
        b.gctx[i] = b.gkey[i] = 7.0f;
    float l = run(&b);
    assert_true(l == 0.0f && !signbit(l));
    assert_all_zero(b.gctx, nfl(&b));
    assert_all_zero(b.gkey, nfl(&b));

    for (size_t i = 0; i < nfl(&b); i++)
        b.gctx[i] = b.gkey[i] = 7.0f;
    double la = sr_skipcl_loss_acc(b.ctx, b.key, b.skip, b.valid, 4, 3, 3, 0.1f, 1.0f, b.gctx,
                                   b.gkey);
    assert_true(la == 0.0);
    for (size_t i = 0; i < nfl(&b); i++)
        assert_true(b.gctx[i] == 7.0f && b.gkey[i] == 7.0f);

    sr_skipcl_counts c;
    sr_skipcl_count(b.skip, b.valid, 4, 3, &c);
    assert_int_equal(c.anchors, 0);
    assert_int_equal(c.anchors_unused, 2); /* "L L L": anchors 0 and 1 */
    assert_int_equal(c.negatives, 0);
    assert_int_equal(c.pairs, 0);
    assert_int_equal(c.sessions, 0);

    /* empty shapes */
    assert_true(sr_skip_contrastive(NULL, NULL, NULL, NULL, 0, 20, 8, 0.1f, NULL, NULL) == 0.0f);
    batch_free(&b);
}

/* A session without skips beside one with skips: with the authors' tiling
 * (SPEC 6 item 2), its anchors would borrow the other session's negatives.
 * Here it adds nothing: the loss equals the other session's alone, bit for
 * bit, and its gradient rows are exactly 0. */
static void test_skipcl_session_without_skips_borrows_no_negatives(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 11);
    batch two = batch_new(2, 6, 4, 0.2f);
    fill_random(&two, &r, 0.0, 0.0);
    set_labels(&two, 0, "LLLLLL");
    set_labels(&two, 1, "LSLSSL");
    batch one = batch_new(1, 6, 4, 0.2f);
    memcpy(one.ctx, row(two.ctx, &two, 1, 0), 6 * 4 * sizeof(float));
    memcpy(one.key, row(two.key, &two, 1, 0), 6 * 4 * sizeof(float));
    set_labels(&one, 0, "LSLSSL");
    float l2 = run(&two), l1 = run(&one);
    assert_true(l1 > 0.0f);
    assert_memory_equal(&l2, &l1, sizeof l1);
    for (int t = 0; t < 6; t++) {
        assert_rows_zero(two.gctx, &two, 0, t);
        assert_rows_zero(two.gkey, &two, 0, t);
    }
    assert_memory_equal(row(two.gctx, &two, 1, 0), one.gctx, 6 * 4 * sizeof(float));
    assert_memory_equal(row(two.gkey, &two, 1, 0), one.gkey, 6 * 4 * sizeof(float));
    batch_free(&two);
    batch_free(&one);
}

/* Session A "L S L L S L" has 3 anchors (0, 2, 3), session B "S L L S . ." has
 * 1 (anchor 1). The batch mean weights sessions by anchors:
 *   loss(A,B) = (3 loss(A) + 1 loss(B)) / 4, grad_A(batch) = 3/4 grad_A(alone).
 * Changing B's vectors (same labels) leaves A's gradient rows bit-identical and
 * moves the loss by exactly (loss(B') - loss(B)) / 4. */
static void test_skipcl_batch_mean_weights_sessions_by_anchor_count(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 21);
    const int L = 6, D = 5;
    const size_t S = (size_t)L * D;
    batch ab = batch_new(2, L, D, 0.3f);
    fill_random(&ab, &r, 0.0, 0.0);
    set_labels(&ab, 0, "LSLLSL");
    set_labels(&ab, 1, "SLLS..");
    batch a = batch_new(1, L, D, 0.3f), bb = batch_new(1, L, D, 0.3f);
    memcpy(a.ctx, ab.ctx, S * sizeof(float));
    memcpy(a.key, ab.key, S * sizeof(float));
    memcpy(bb.ctx, ab.ctx + S, S * sizeof(float));
    memcpy(bb.key, ab.key + S, S * sizeof(float));
    set_labels(&a, 0, "LSLLSL");
    set_labels(&bb, 0, "SLLS..");
    sr_skipcl_counts c;
    sr_skipcl_count(ab.skip, ab.valid, 2, L, &c);
    assert_int_equal(c.anchors, 4);

    double lab = run(&ab), la = run(&a), lb = run(&bb);
    assert_near(lab, (3.0 * la + lb) / 4.0, 1e-6);
    assert_near(la, ref_loss(&a), 1e-6);
    for (size_t i = 0; i < S; i++) {
        assert_near(ab.gctx[i], 0.75 * a.gctx[i], 1e-7 + 1e-6 * fabs(a.gctx[i]));
        assert_near(ab.gkey[i], 0.75 * a.gkey[i], 1e-7 + 1e-6 * fabs(a.gkey[i]));
        assert_near(ab.gctx[S + i], 0.25 * bb.gctx[i], 1e-7 + 1e-6 * fabs(bb.gctx[i]));
    }

    /* new vectors for session B only */
    float *keep_gctx = malloc(S * sizeof(float)), *keep_gkey = malloc(S * sizeof(float));
    assert_true(keep_gctx && keep_gkey);
    memcpy(keep_gctx, ab.gctx, S * sizeof(float));
    memcpy(keep_gkey, ab.gkey, S * sizeof(float));
    sr_gc_fill(&r, ab.ctx + S, S, -1, 1);
    sr_gc_fill(&r, ab.key + S, S, -1, 1);
    memcpy(bb.ctx, ab.ctx + S, S * sizeof(float));
    memcpy(bb.key, ab.key + S, S * sizeof(float));
    double lab2 = run(&ab), lb2 = run(&bb);
    assert_true(fabs(lb2 - lb) > 1e-3);
    assert_near(lab2 - lab, (lb2 - lb) / 4.0, 1e-6);
    assert_memory_equal(ab.gctx, keep_gctx, S * sizeof(float));
    assert_memory_equal(ab.gkey, keep_gkey, S * sizeof(float));
    free(keep_gctx);
    free(keep_gkey);
    batch_free(&ab);
    batch_free(&a);
    batch_free(&bb);
}

/* ---- invalid positions ---------------------------------------------------------- */

/* Labels and vectors at valid == 0 (padding, held-out plays) are never used:
 * garbage labels (0xFF, 0x01, 0x00) and NaN vectors there give bit-identical
 * losses and gradients, and the gradient rows there are exactly 0. Interior
 * invalid positions are skipped over when looking for the next listened play. */
static void test_skipcl_invalid_positions_are_never_used(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 5);
    batch b = batch_new(5, 9, 4, 0.25f);
    fill_random(&b, &r, 0.3, 0.45);
    set_labels(&b, 0, "L.S.L.L..");  /* interior gaps: anchor 0 -> positive 4 */
    float l0 = run(&b);
    assert_true(isfinite(l0) && l0 > 0.0f);
    assert_near(l0, ref_loss(&b), 1e-6);
    float *g0c = malloc(nfl(&b) * sizeof(float)), *g0k = malloc(nfl(&b) * sizeof(float));
    assert_true(g0c && g0k);
    memcpy(g0c, b.gctx, nfl(&b) * sizeof(float));
    memcpy(g0k, b.gkey, nfl(&b) * sizeof(float));

    static const uint8_t garbage[] = { 0xFF, 0x01, 0x00 };
    for (size_t gi = 0; gi < SR_COUNTOF(garbage); gi++) {
        for (size_t i = 0; i < (size_t)b.B * (size_t)b.L; i++) {
            if (b.valid[i])
                continue;
            b.skip[i] = garbage[gi];
            for (int d = 0; d < b.D; d++) {
                b.ctx[i * (size_t)b.D + (size_t)d] = NAN;
                b.key[i * (size_t)b.D + (size_t)d] = gi == 1 ? INFINITY : NAN;
            }
        }
        float l = run(&b);
        assert_memory_equal(&l, &l0, sizeof l);
        assert_memory_equal(b.gctx, g0c, nfl(&b) * sizeof(float));
        assert_memory_equal(b.gkey, g0k, nfl(&b) * sizeof(float));
    }
    for (int s = 0; s < b.B; s++)
        for (int t = 0; t < b.L; t++)
            if (!b.valid[(size_t)s * (size_t)b.L + (size_t)t]) {
                assert_rows_zero(b.gctx, &b, s, t);
                assert_rows_zero(b.gkey, &b, s, t);
            }
    free(g0c);
    free(g0k);
    batch_free(&b);
}

/* ---- agreement with the naive reference and finite differences ------------------ */

static void test_skipcl_matches_naive_reference_on_random_batches(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 99);
    int checked = 0;
    for (int rep = 0; rep < 40; rep++) {
        int B = 1 + (int)sr_rng_below(&r, 6), L = 1 + (int)sr_rng_below(&r, 12);
        int D = 1 + (int)sr_rng_below(&r, 9);
        float tau = 0.05f + 0.5f * (float)sr_rng_uniform(&r);
        batch b = batch_new(B, L, D, tau);
        fill_random(&b, &r, 0.2, 0.5);
        double ref = ref_loss(&b);
        double got = sr_skipcl_loss_acc(b.ctx, b.key, b.skip, b.valid, B, L, D, tau, 1.0f,
                                        NULL, NULL);
        assert_near(got, ref, 1e-9 * (1 + fabs(ref)));
        assert_true(run(&b) == (float)got);
        checked += ref > 0;
        batch_free(&b);
    }
    assert_true(checked >= 20); /* most batches have counted anchors */
}

typedef struct gc_ctx {
    batch *b;
    int shared; /* context == keys */
} gc_ctx;

static double gc_loss(void *p)
{
    gc_ctx *g = p;
    batch *b = g->b;
    return sr_skipcl_loss_acc(b->ctx, g->shared ? b->ctx : b->key, b->skip, b->valid, b->B,
                              b->L, b->D, b->tau, 1.0f, NULL, NULL);
}

/* Finite differences of both gradients over every entry, padding included
 * (numeric and analytic are both 0 there), at tau = 0.5 and tau = 0.1. */
static void test_skipcl_gradients_match_finite_differences(void **state)
{
    (void)state;
    static const float taus[] = { 0.5f, 0.1f };
    for (size_t k = 0; k < SR_COUNTOF(taus); k++) {
        sr_rng r;
        sr_rng_seed(&r, 31 + k);
        batch b = batch_new(3, 6, 4, taus[k]);
        fill_random(&b, &r, 0.0, 0.0);
        set_labels(&b, 0, "LSLLS.");
        set_labels(&b, 1, "SLSL..");
        set_labels(&b, 2, ".LLSLS");
        float l = run(&b);
        assert_true(l > 0.0f);
        /* sr_gc_check's "diff > tol" test is false for NaN: check finiteness here */
        for (size_t i = 0; i < nfl(&b); i++)
            assert_true(isfinite(b.gctx[i]) && isfinite(b.gkey[i]));
        gc_ctx g = { &b, 0 };
        double tol = taus[k] < 0.2f ? 5e-3 : 1e-3;
        sr_gc_check("dcontext", b.ctx, b.gctx, nfl(&b), gc_loss, &g, 1e-3f, 2e-4, tol, 1000);
        sr_gc_check("dkeys", b.key, b.gkey, nfl(&b), gc_loss, &g, 1e-3f, 2e-4, tol, 1000);
        batch_free(&b);
    }
}

/* context == keys == X and grad_context == grad_keys == G: G is dLoss/dX, the
 * sum of the two partial gradients. Checked by finite differences on X and
 * against separate buffers (gctx + gkey). */
static void test_skipcl_shared_pointer_gradients_are_summed(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 77);
    batch b = batch_new(3, 7, 3, 0.3f);
    fill_random(&b, &r, 0.15, 0.4);
    set_labels(&b, 0, "LSLSLL.");
    size_t n = nfl(&b);
    float *G = malloc(n * sizeof(float));
    assert_non_null(G);
    for (size_t i = 0; i < n; i++)
        G[i] = 3.0f; /* overwritten */
    float ls = sr_skip_contrastive(b.ctx, b.ctx, b.skip, b.valid, 3, 7, 3, 0.3f, G, G);
    float lsep = sr_skip_contrastive(b.ctx, b.ctx, b.skip, b.valid, 3, 7, 3, 0.3f, b.gctx,
                                     b.gkey);
    assert_true(ls > 0.0f);
    assert_memory_equal(&ls, &lsep, sizeof ls);
    for (size_t i = 0; i < n; i++)
        assert_near(G[i], b.gctx[i] + b.gkey[i], 1e-6);
    for (size_t i = 0; i < n; i++)
        assert_true(isfinite(G[i]));
    gc_ctx g = { &b, 1 };
    sr_gc_check("dX shared", b.ctx, G, n, gc_loss, &g, 1e-3f, 2e-4, 1e-3, 1000);
    free(G);
    batch_free(&b);
}

/* The accumulating form adds grad_scale * gradient (0.5 is exact in float, so
 * from zero it is exactly half of the written gradient) and leaves what was
 * in the buffer. */
static void test_skipcl_loss_acc_adds_scaled_gradient(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 3);
    batch b = batch_new(2, 8, 6, 0.2f);
    fill_random(&b, &r, 0.1, 0.5);
    set_labels(&b, 1, "LSLLSLSL");
    size_t n = nfl(&b);
    float l = run(&b);
    float *acc = calloc(n, sizeof(float)), *acck = calloc(n, sizeof(float));
    assert_true(acc && acck);
    double la = sr_skipcl_loss_acc(b.ctx, b.key, b.skip, b.valid, 2, 8, 6, 0.2f, 0.5f, acc,
                                   acck);
    assert_true((float)la == l);
    for (size_t i = 0; i < n; i++) {
        assert_true(acc[i] == 0.5f * b.gctx[i]);
        assert_true(acck[i] == 0.5f * b.gkey[i]);
    }
    for (size_t i = 0; i < n; i++)
        acc[i] = 1.0f;
    sr_skipcl_loss_acc(b.ctx, b.key, b.skip, b.valid, 2, 8, 6, 0.2f, 2.0f, acc, NULL);
    for (size_t i = 0; i < n; i++)
        assert_near(acc[i], 1.0f + 2.0f * b.gctx[i], 1e-6);
    free(acc);
    free(acck);
    batch_free(&b);
}

/* ---- numerics and determinism ----------------------------------------------------- */

/* tau = 1e-3 makes the logits +-1000: exp() of them overflows without the
 * max subtraction. Positive at 180 degrees, negative at 0 degrees:
 * l = -log(e^-1000 / (e^-1000 + e^1000)) = 2000 + log(1 + e^-2000) = 2000.
 * A zero context vector has cos 0 with everything: l = log(2), finite grads. */
static void test_skipcl_extreme_temperature_and_zero_vector_stay_finite(void **state)
{
    (void)state;
    batch b = batch_new(1, 3, 2, 1e-3f);
    set_labels(&b, 0, "LSL");
    set2(b.ctx, &b, 0, 0, 1, 0);
    set2(b.key, &b, 0, 1, 2, 0);
    set2(b.key, &b, 0, 2, -1, 0);
    float l = run(&b);
    /* 2 / tau with tau the float nearest 1e-3 */
    assert_near(l, 2.0 / (double)1e-3f, 1e-3);
    for (size_t i = 0; i < nfl(&b); i++)
        assert_true(isfinite(b.gctx[i]) && isfinite(b.gkey[i]));

    b.tau = 1.0f;
    set2(b.ctx, &b, 0, 0, 0, 0);
    l = run(&b);
    assert_near(l, 0.6931471805599453, 1e-6); /* log 2 */
    for (size_t i = 0; i < nfl(&b); i++)
        assert_true(isfinite(b.gctx[i]) && isfinite(b.gkey[i]));
    batch_free(&b);
}

/* 150 sessions x 20 positions x D = 32 take the parallel path: 1, 2 and 3
 * threads give the same bits for the loss and both gradients. */
static void test_skipcl_result_independent_of_thread_count(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 2024);
    batch b = batch_new(150, 20, 32, 0.1f);
    fill_random(&b, &r, 0.1, 0.5);
    size_t n = nfl(&b);
    float *gc1 = malloc(n * sizeof(float)), *gk1 = malloc(n * sizeof(float));
    assert_true(gc1 && gk1);
    int keep = omp_get_max_threads();
    omp_set_num_threads(1);
    double l1 = sr_skipcl_loss_acc(b.ctx, b.key, b.skip, b.valid, b.B, b.L, b.D, b.tau, 1.0f,
                                   NULL, NULL);
    float f1 = run(&b);
    memcpy(gc1, b.gctx, n * sizeof(float));
    memcpy(gk1, b.gkey, n * sizeof(float));
    assert_near(l1, ref_loss(&b), 1e-9);
    for (int th = 2; th <= 3; th++) {
        omp_set_num_threads(th);
        double l = sr_skipcl_loss_acc(b.ctx, b.key, b.skip, b.valid, b.B, b.L, b.D, b.tau,
                                      1.0f, NULL, NULL);
        float f = run(&b);
        assert_memory_equal(&l, &l1, sizeof l);
        assert_memory_equal(&f, &f1, sizeof f);
        assert_memory_equal(b.gctx, gc1, n * sizeof(float));
        assert_memory_equal(b.gkey, gk1, n * sizeof(float));
    }
    omp_set_num_threads(keep);
    free(gc1);
    free(gk1);
    batch_free(&b);
}

static void test_skipcl_check_args_rejects_bad_values(void **state)
{
    (void)state;
    assert_int_equal(sr_skipcl_check_args(64, 20, 128, 0.1f), SR_OK);
    assert_int_equal(sr_skipcl_check_args(0, 0, 1, 0.1f), SR_OK);
    assert_int_equal(sr_skipcl_check_args(64, 20, 128, 0.0f), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "tau=0"));
    assert_int_equal(sr_skipcl_check_args(64, 20, 128, -0.5f), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "tau=-0.5"));
    assert_int_equal(sr_skipcl_check_args(64, 20, 128, NAN), SR_ERR_ARG);
    assert_int_equal(sr_skipcl_check_args(64, 20, 128, INFINITY), SR_ERR_ARG);
    assert_int_equal(sr_skipcl_check_args(64, 20, 0, 0.1f), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "D=0"));
    assert_int_equal(sr_skipcl_check_args(-1, 20, 8, 0.1f), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "B=-1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skipcl_one_anchor_hand_value_and_gradient),
        cmocka_unit_test(test_skipcl_two_anchors_hand_value),
        cmocka_unit_test(test_skipcl_negative_before_anchor_is_used),
        cmocka_unit_test(test_skipcl_unequal_negative_counts_use_no_padding_slots),
        cmocka_unit_test(test_skipcl_last_listened_play_does_not_wrap_around),
        cmocka_unit_test(test_skipcl_swapping_skip_labels_changes_loss),
        cmocka_unit_test(test_skipcl_batch_without_counted_anchor_is_exactly_zero),
        cmocka_unit_test(test_skipcl_session_without_skips_borrows_no_negatives),
        cmocka_unit_test(test_skipcl_batch_mean_weights_sessions_by_anchor_count),
        cmocka_unit_test(test_skipcl_invalid_positions_are_never_used),
        cmocka_unit_test(test_skipcl_matches_naive_reference_on_random_batches),
        cmocka_unit_test(test_skipcl_gradients_match_finite_differences),
        cmocka_unit_test(test_skipcl_shared_pointer_gradients_are_summed),
        cmocka_unit_test(test_skipcl_loss_acc_adds_scaled_gradient),
        cmocka_unit_test(test_skipcl_extreme_temperature_and_zero_vector_stay_finite),
        cmocka_unit_test(test_skipcl_result_independent_of_thread_count),
        cmocka_unit_test(test_skipcl_check_args_rejects_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
