/* test_attention.c - the multi-head attention core (core/sr_attention.c)
 * against hand-computed cases, a naive double-precision reference (explicit
 * softmax, explicit softmax Jacobian in the backward), finite differences,
 * and the masking guarantees: causal never sees the future, padded keys never
 * reach an output, rows without keys give zeros, any thread count gives the
 * same bits. */
#include "sr_test.h"
#include "sr_gradcheck.h"

#include <limits.h>
#include <math.h>
#include <omp.h>

#include "sr_attention.h"
#include "sr_rng.h"

/* ---- helpers ---------------------------------------------------------------- */

typedef struct att_case {
    int B, L, D, H;
    sr_attn_mode mode;
    float *q, *k, *v;  /* [B, L, D] */
    uint8_t *valid;    /* [B, L] or NULL */
    float *att;        /* [B, H, L, L] */
    float *out;        /* [B, L, D] */
    float *w;          /* [B, L, D] upstream weights: loss = sum w * out */
    float *dq, *dk, *dv;
} att_case;

static size_t att_n(const att_case *c)
{
    return (size_t)c->B * (size_t)c->L * (size_t)c->D;
}

static size_t att_natt(const att_case *c)
{
    return (size_t)c->B * (size_t)c->H * (size_t)c->L * (size_t)c->L;
}

/* Random q, k, v in [-1, 1] (scaled so scores are O(1)), w in [-1, 1];
 * valid copied from valid_in (B * L entries) or NULL. */
static void att_case_init(att_case *c, int B, int L, int D, int H, sr_attn_mode mode,
                          const uint8_t *valid_in, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->B = B;
    c->L = L;
    c->D = D;
    c->H = H;
    c->mode = mode;
    size_t n = att_n(c);
    c->q = malloc(n * sizeof(float));
    c->k = malloc(n * sizeof(float));
    c->v = malloc(n * sizeof(float));
    c->out = malloc(n * sizeof(float));
    c->w = malloc(n * sizeof(float));
    c->dq = calloc(n, sizeof(float));
    c->dk = calloc(n, sizeof(float));
    c->dv = calloc(n, sizeof(float));
    c->att = malloc(att_natt(c) * sizeof(float));
    assert_non_null(c->q);
    assert_non_null(c->k);
    assert_non_null(c->v);
    assert_non_null(c->out);
    assert_non_null(c->w);
    assert_non_null(c->dq);
    assert_non_null(c->dk);
    assert_non_null(c->dv);
    assert_non_null(c->att);
    if (valid_in) {
        c->valid = malloc((size_t)B * (size_t)L);
        assert_non_null(c->valid);
        memcpy(c->valid, valid_in, (size_t)B * (size_t)L);
    }
    sr_rng r;
    sr_rng_seed(&r, seed);
    sr_gc_fill(&r, c->q, n, -1.5f, 1.5f);
    sr_gc_fill(&r, c->k, n, -1.5f, 1.5f);
    sr_gc_fill(&r, c->v, n, -1.0f, 1.0f);
    sr_gc_fill(&r, c->w, n, -1.0f, 1.0f);
}

static void att_case_free(att_case *c)
{
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->out);
    free(c->w);
    free(c->dq);
    free(c->dk);
    free(c->dv);
    free(c->att);
    free(c->valid);
    memset(c, 0, sizeof *c);
}

static void att_forward(att_case *c)
{
    sr_attention_forward(c->q, c->k, c->v, c->valid, c->B, c->L, c->D, c->H, c->mode, c->att,
                         c->out);
}

/* backward with dout = w */
static void att_backward(att_case *c)
{
    sr_attention_backward(c->q, c->k, c->v, c->valid, c->att, c->w, c->B, c->L, c->D, c->H,
                          c->mode, c->dq, c->dk, c->dv);
}

static int ref_allowed(const att_case *c, int b, int i, int j)
{
    if (c->mode == SR_ATTN_MODE_CAUSAL && j > i)
        return 0;
    return !c->valid || c->valid[(size_t)b * c->L + j];
}

/* Naive double reference of forward and backward (dout = w). att: [B,H,L,L],
 * out, dq, dk, dv: [B,L,D], all double, overwritten. The backward uses the
 * explicit softmax Jacobian dP_ik/ds_ij = P_ik (delta_kj - P_ij) rather than
 * the kernel's row-dot shortcut. */
static void ref_attention(const att_case *c, double *att, double *out, double *dq, double *dk,
                          double *dv)
{
    const int B = c->B, L = c->L, D = c->D, H = c->H, Dh = D / H;
    const double scale = 1.0 / sqrt((double)Dh);
    double *s = malloc((size_t)L * sizeof(double));
    double *dp = malloc((size_t)L * sizeof(double));
    double *ds = malloc((size_t)L * sizeof(double));
    assert_non_null(s);
    assert_non_null(dp);
    assert_non_null(ds);
    size_t n = att_n(c);
    for (size_t e = 0; e < n; e++)
        out[e] = dq[e] = dk[e] = dv[e] = 0.0;
#define IDX(b, l, d) (((size_t)(b) * L + (size_t)(l)) * D + (size_t)(d))
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            for (int i = 0; i < L; i++) {
                double *P = att + (((size_t)b * H + h) * L + i) * L;
                double m = -INFINITY;
                for (int j = 0; j < L; j++) {
                    s[j] = -INFINITY;
                    if (!ref_allowed(c, b, i, j))
                        continue;
                    double acc = 0.0;
                    for (int d = 0; d < Dh; d++)
                        acc += (double)c->q[IDX(b, i, h * Dh + d)] * c->k[IDX(b, j, h * Dh + d)];
                    s[j] = acc * scale;
                    if (s[j] > m)
                        m = s[j];
                }
                double sum = 0.0;
                for (int j = 0; j < L; j++) {
                    P[j] = m == -INFINITY || s[j] == -INFINITY ? 0.0 : exp(s[j] - m);
                    sum += P[j];
                }
                for (int j = 0; j < L; j++)
                    P[j] = sum > 0 ? P[j] / sum : 0.0;
                for (int d = 0; d < Dh; d++) {
                    double acc = 0.0;
                    for (int j = 0; j < L; j++)
                        if (P[j] != 0.0)
                            acc += P[j] * c->v[IDX(b, j, h * Dh + d)];
                    out[IDX(b, i, h * Dh + d)] = acc;
                }
                /* backward */
                for (int j = 0; j < L; j++) {
                    dp[j] = 0.0;
                    if (!ref_allowed(c, b, i, j))
                        continue;
                    for (int d = 0; d < Dh; d++)
                        dp[j] += (double)c->w[IDX(b, i, h * Dh + d)] * c->v[IDX(b, j, h * Dh + d)];
                }
                for (int j = 0; j < L; j++) {
                    ds[j] = 0.0;
                    for (int kk = 0; kk < L; kk++)
                        ds[j] += dp[kk] * P[kk] * ((kk == j ? 1.0 : 0.0) - P[j]);
                }
                for (int j = 0; j < L; j++) {
                    if (!ref_allowed(c, b, i, j))
                        continue;
                    for (int d = 0; d < Dh; d++) {
                        size_t ei = IDX(b, i, h * Dh + d), ej = IDX(b, j, h * Dh + d);
                        dq[ei] += scale * ds[j] * c->k[ej];
                        dk[ej] += scale * ds[j] * c->q[ei];
                        dv[ej] += P[j] * c->w[ei];
                    }
                }
            }
        }
    }
#undef IDX
    free(s);
    free(dp);
    free(ds);
}

/* |got - want| <= atol + rtol * |want| for every entry, else fail naming the
 * worst. */
static void assert_close(const char *what, const float *got, const double *want, size_t n,
                         double atol, double rtol)
{
    size_t bad = 0, worst = 0;
    double worst_excess = 0.0;
    for (size_t e = 0; e < n; e++) {
        double diff = fabs((double)got[e] - want[e]);
        double lim = atol + rtol * fabs(want[e]);
        if (!(diff <= lim)) {
            if (bad == 0 || diff - lim > worst_excess) {
                worst = e;
                worst_excess = diff - lim;
            }
            bad++;
        }
    }
    if (bad)
        fail_msg("%s: %zu of %zu entries off; worst [%zu] got %.9g want %.9g", what, bad, n,
                 worst, (double)got[worst], want[worst]);
}

/* Forward and backward against the double reference. */
static void check_against_reference(int B, int L, int D, int H, sr_attn_mode mode,
                                    const uint8_t *valid, uint64_t seed)
{
    att_case c;
    att_case_init(&c, B, L, D, H, mode, valid, seed);
    size_t n = att_n(&c), na = att_natt(&c);
    double *ratt = malloc(na * sizeof(double));
    double *rout = malloc(n * sizeof(double));
    double *rdq = malloc(n * sizeof(double));
    double *rdk = malloc(n * sizeof(double));
    double *rdv = malloc(n * sizeof(double));
    assert_non_null(ratt);
    assert_non_null(rout);
    assert_non_null(rdq);
    assert_non_null(rdk);
    assert_non_null(rdv);
    /* poison outputs: the forward must overwrite every entry */
    for (size_t e = 0; e < n; e++)
        c.out[e] = NAN;
    for (size_t e = 0; e < na; e++)
        c.att[e] = NAN;
    att_forward(&c);
    att_backward(&c);
    ref_attention(&c, ratt, rout, rdq, rdk, rdv);
    assert_close("att", c.att, ratt, na, 1e-6, 1e-5);
    assert_close("out", c.out, rout, n, 1e-6, 1e-5);
    assert_close("dq", c.dq, rdq, n, 1e-6, 1e-4);
    assert_close("dk", c.dk, rdk, n, 1e-6, 1e-4);
    assert_close("dv", c.dv, rdv, n, 1e-6, 1e-4);
    free(ratt);
    free(rout);
    free(rdq);
    free(rdk);
    free(rdv);
    att_case_free(&c);
}

/* ---- hand-computed cases ------------------------------------------------------ */

/* L = 2, D = 2, H = 2 (Dh = 1, so scale = 1). Head 0 (column 0): q = 1 at
 * both positions, k = (0, ln 3), v = (4, 8): scores (0, ln 3), softmax
 * (1/4, 3/4), out = 4/4 + 8*3/4 = 7. Head 1 (column 1): q = 1, k = (ln 3, 0),
 * v = (4, 8): softmax (3/4, 1/4), out = 3 + 2 = 5. Causal: row 0 sees only key
 * 0, so out = v_0 = 4 in both heads; row 1 equals the bidirectional row. */
static void test_attention_hand_computed_two_heads(void **state)
{
    (void)state;
    const float ln3 = (float)log(3.0);
    /* [B=1, L=2, D=2] */
    const float q[4] = { 1, 1, 1, 1 };
    const float k[4] = { 0, ln3, ln3, 0 };
    const float v[4] = { 4, 4, 8, 8 };
    float att[8], out[4];

    sr_attention_forward(q, k, v, NULL, 1, 2, 2, 2, SR_ATTN_MODE_BIDIRECTIONAL, att, out);
    const float want_bi[4] = { 7, 5, 7, 5 };
    for (int e = 0; e < 4; e++)
        SR_ASSERT_NEAR(out[e], want_bi[e], 1e-5);
    /* att[h][i][j]: head 0 rows (1/4, 3/4), head 1 rows (3/4, 1/4) */
    const float want_att[8] = { 0.25f, 0.75f, 0.25f, 0.75f, 0.75f, 0.25f, 0.75f, 0.25f };
    for (int e = 0; e < 8; e++)
        SR_ASSERT_NEAR(att[e], want_att[e], 1e-6);

    sr_attention_forward(q, k, v, NULL, 1, 2, 2, 2, SR_ATTN_MODE_CAUSAL, att, out);
    const float want_causal[4] = { 4, 4, 7, 5 };
    for (int e = 0; e < 4; e++)
        SR_ASSERT_NEAR(out[e], want_causal[e], 1e-5);
    assert_true(att[1] == 0.0f && att[5] == 0.0f); /* row 0 never weighs key 1 */

    /* key 1 padded: every row sees key 0 only, out = 4 exactly */
    const uint8_t valid[2] = { 1, 0 };
    sr_attention_forward(q, k, v, valid, 1, 2, 2, 2, SR_ATTN_MODE_BIDIRECTIONAL, att, out);
    for (int e = 0; e < 4; e++)
        assert_true(out[e] == 4.0f);
}

/* L = 1: the only key gets probability exactly 1, so out == v bit for bit
 * and dq = dk = 0 (a one-element softmax is constant). */
static void test_attention_single_position_copies_values(void **state)
{
    (void)state;
    att_case c;
    att_case_init(&c, 3, 1, 8, 2, SR_ATTN_MODE_CAUSAL, NULL, 7);
    att_forward(&c);
    assert_memory_equal(c.out, c.v, att_n(&c) * sizeof(float));
    for (size_t e = 0; e < att_natt(&c); e++)
        assert_true(c.att[e] == 1.0f);
    att_backward(&c);
    for (size_t e = 0; e < att_n(&c); e++) {
        assert_true(c.dq[e] == 0.0f);
        assert_true(c.dk[e] == 0.0f);
        assert_true(c.dv[e] == c.w[e]);
    }
    att_case_free(&c);
}

/* ---- against the naive reference ------------------------------------------------ */

static void test_attention_matches_reference_small_shapes(void **state)
{
    (void)state;
    /* seq 0 right-padded, seq 1 left-padded (its causal rows 0, 1 have no key) */
    const uint8_t valid25[10] = { 1, 1, 1, 0, 0, 0, 0, 1, 1, 1 };
    for (int m = 0; m < 2; m++) {
        sr_attn_mode mode = m ? SR_ATTN_MODE_BIDIRECTIONAL : SR_ATTN_MODE_CAUSAL;
        check_against_reference(2, 5, 8, 2, mode, valid25, 11);
        check_against_reference(2, 5, 8, 2, mode, NULL, 12);
        check_against_reference(1, 1, 4, 1, mode, NULL, 13);          /* L = 1 */
        check_against_reference(2, 6, 6, 1, mode, NULL, 14);          /* H = 1 */
        check_against_reference(4, 3, 12, 12, mode, NULL, 15);        /* Dh = 1 */
    }
}

static void test_attention_matches_reference_with_all_padded_sequence(void **state)
{
    (void)state;
    /* [B=3, L=7]: seq 2 has no valid key at all */
    const uint8_t valid[21] = { 1, 1, 1, 1, 1, 1, 1, /**/ 1, 0, 1, 1, 0, 1, 0,
                                0, 0, 0, 0, 0, 0, 0 };
    for (int m = 0; m < 2; m++) {
        sr_attn_mode mode = m ? SR_ATTN_MODE_BIDIRECTIONAL : SR_ATTN_MODE_CAUSAL;
        check_against_reference(3, 7, 12, 3, mode, valid, 21 + (uint64_t)m);
    }
}

static void test_attention_matches_reference_paper_shape(void **state)
{
    (void)state;
    /* B = 3, L = 20, D = 128, H = 8 (Dh = 16); sessions of length 20, 13, 1
     * right-padded as the batcher builds them */
    enum { B = 3, L = 20 };
    uint8_t valid[B * L];
    const int len[B] = { 20, 13, 1 };
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            valid[b * L + l] = l < len[b];
    check_against_reference(B, L, 128, 8, SR_ATTN_MODE_CAUSAL, valid, 31);
    check_against_reference(B, L, 128, 8, SR_ATTN_MODE_BIDIRECTIONAL, valid, 32);
}

/* Probabilities of every row with a key sum to 1; masked entries are 0. */
static void test_attention_rows_are_distributions(void **state)
{
    (void)state;
    const uint8_t valid[12] = { 0, 1, 1, 0, 1, 1, /**/ 1, 1, 1, 1, 1, 1 };
    att_case c;
    att_case_init(&c, 2, 6, 8, 4, SR_ATTN_MODE_CAUSAL, valid, 41);
    att_forward(&c);
    for (int b = 0; b < 2; b++)
        for (int h = 0; h < 4; h++)
            for (int i = 0; i < 6; i++) {
                const float *P = c.att + (((size_t)b * 4 + h) * 6 + i) * 6;
                double sum = 0.0;
                int any = 0;
                for (int j = 0; j < 6; j++) {
                    if (j > i || !valid[b * 6 + j])
                        assert_true(P[j] == 0.0f);
                    else
                        any = 1;
                    assert_true(P[j] >= 0.0f);
                    sum += P[j];
                }
                if (any)
                    assert_true(fabs(sum - 1.0) < 1e-6);
                else
                    assert_true(sum == 0.0);
            }
    att_case_free(&c);
}

/* Huge scores (|s| ~ 1e4) stay finite: the row max is subtracted. */
static void test_attention_large_scores_stay_finite(void **state)
{
    (void)state;
    att_case c;
    att_case_init(&c, 2, 5, 4, 1, SR_ATTN_MODE_BIDIRECTIONAL, NULL, 51);
    for (size_t e = 0; e < att_n(&c); e++) {
        c.q[e] *= 100.0f;
        c.k[e] *= 100.0f;
    }
    att_forward(&c);
    att_backward(&c);
    for (size_t e = 0; e < att_n(&c); e++) {
        assert_true(isfinite(c.out[e]));
        assert_true(isfinite(c.dq[e]) && isfinite(c.dk[e]) && isfinite(c.dv[e]));
    }
    att_case_free(&c);
}

/* ---- finite differences -------------------------------------------------------- */

static double att_loss(void *ctx)
{
    att_case *c = ctx;
    att_forward(c);
    return sr_gc_dot(c->out, c->w, att_n(c));
}

static void gradcheck_case(int B, int L, int D, int H, sr_attn_mode mode, const uint8_t *valid,
                           uint64_t seed)
{
    att_case c;
    att_case_init(&c, B, L, D, H, mode, valid, seed);
    att_forward(&c);
    att_backward(&c);
    size_t n = att_n(&c);
    /* float kernels: eps 1e-2 keeps the rounding noise of the loss (~1e-7
     * relative) far below the tolerance; curvature error is O(eps^2). */
    sr_gc_check("dq", c.q, c.dq, n, att_loss, &c, 1e-2f, 2e-4, 1e-2, 400);
    sr_gc_check("dk", c.k, c.dk, n, att_loss, &c, 1e-2f, 2e-4, 1e-2, 400);
    sr_gc_check("dv", c.v, c.dv, n, att_loss, &c, 1e-2f, 2e-4, 1e-2, 400);
    att_case_free(&c);
}

static void test_attention_backward_matches_finite_differences_causal_padded(void **state)
{
    (void)state;
    /* right-padded, left-padded (rows 0, 1 without keys), all padded */
    const uint8_t valid[15] = { 1, 1, 1, 0, 0, /**/ 0, 0, 1, 1, 1, /**/ 0, 0, 0, 0, 0 };
    gradcheck_case(3, 5, 6, 2, SR_ATTN_MODE_CAUSAL, valid, 61);
}

static void test_attention_backward_matches_finite_differences_bidirectional_padded(void **state)
{
    (void)state;
    const uint8_t valid[15] = { 1, 1, 1, 0, 0, /**/ 0, 1, 0, 1, 1, /**/ 0, 0, 0, 0, 0 };
    gradcheck_case(3, 5, 6, 2, SR_ATTN_MODE_BIDIRECTIONAL, valid, 62);
}

static void test_attention_backward_matches_finite_differences_unmasked(void **state)
{
    (void)state;
    gradcheck_case(2, 4, 8, 1, SR_ATTN_MODE_CAUSAL, NULL, 63);
    gradcheck_case(2, 4, 8, 4, SR_ATTN_MODE_BIDIRECTIONAL, NULL, 64);
}

/* Backward adds to what the buffers hold (sr_tensor.h). */
static void test_attention_backward_accumulates(void **state)
{
    (void)state;
    att_case c;
    att_case_init(&c, 2, 5, 8, 2, SR_ATTN_MODE_CAUSAL, NULL, 71);
    size_t n = att_n(&c);
    att_forward(&c);
    att_backward(&c);
    float *g0 = malloc(3 * n * sizeof(float));
    assert_non_null(g0);
    memcpy(g0, c.dq, n * sizeof(float));
    memcpy(g0 + n, c.dk, n * sizeof(float));
    memcpy(g0 + 2 * n, c.dv, n * sizeof(float));
    float *prior = malloc(n * sizeof(float));
    assert_non_null(prior);
    sr_rng r;
    sr_rng_seed(&r, 72);
    sr_gc_fill(&r, prior, n, -3.0f, 3.0f);
    memcpy(c.dq, prior, n * sizeof(float));
    memcpy(c.dk, prior, n * sizeof(float));
    memcpy(c.dv, prior, n * sizeof(float));
    att_backward(&c);
    int nonzero = 0;
    for (size_t e = 0; e < n; e++) {
        SR_ASSERT_NEAR(c.dq[e], prior[e] + g0[e], 1e-5);
        SR_ASSERT_NEAR(c.dk[e], prior[e] + g0[n + e], 1e-5);
        SR_ASSERT_NEAR(c.dv[e], prior[e] + g0[2 * n + e], 1e-5);
        nonzero += g0[e] != 0.0f;
    }
    assert_true(nonzero > (int)n / 2);
    /* NULL gradients are skipped; the others still accumulate */
    memcpy(c.dv, prior, n * sizeof(float));
    sr_attention_backward(c.q, c.k, c.v, c.valid, c.att, c.w, c.B, c.L, c.D, c.H, c.mode, NULL,
                          NULL, c.dv);
    for (size_t e = 0; e < n; e++)
        SR_ASSERT_NEAR(c.dv[e], prior[e] + g0[2 * n + e], 1e-5);
    free(g0);
    free(prior);
    att_case_free(&c);
}

/* ---- masking guarantees ------------------------------------------------------------ */

/* Causal attention never sees the future: changing q, k, v at position j
 * (in every sequence) leaves att and out at positions i < j bit-identical -
 * checked with NaN and with a finite shift. With the finite shift and no
 * upstream gradient from j on (a loss that stops at j - 1), dq, dk, dv at
 * positions i < j are bit-identical too. (With NaN they are not, and need
 * not be: key i < j does receive gradient from query j, and NaN * 0 is NaN.)
 * Bidirectional attention, run the same way, does change the earlier rows,
 * so the comparison can fail. */
static void test_causal_attention_never_sees_the_future(void **state)
{
    (void)state;
    enum { B = 2, L = 8, D = 16, H = 4 };
    const uint8_t valid[B * L] = { 1, 1, 1, 1, 1, 1, 1, 1, /**/ 1, 1, 1, 1, 1, 0, 0, 0 };
    for (int m = 0; m < 2; m++) {
        const sr_attn_mode mode = m ? SR_ATTN_MODE_BIDIRECTIONAL : SR_ATTN_MODE_CAUSAL;
        att_case base, pert;
        att_case_init(&base, B, L, D, H, mode, valid, 81);
        att_case_init(&pert, B, L, D, H, mode, valid, 81);
        const size_t n = att_n(&base);
        int changed_before_j = 0;
        for (int j = 1; j < L; j++) {
            for (int use_nan = 0; use_nan < 2; use_nan++) {
                memcpy(pert.q, base.q, n * sizeof(float));
                memcpy(pert.k, base.k, n * sizeof(float));
                memcpy(pert.v, base.v, n * sizeof(float));
                for (int b = 0; b < B; b++)
                    for (int d = 0; d < D; d++) {
                        size_t e = ((size_t)b * L + j) * D + d;
                        pert.q[e] = use_nan ? NAN : pert.q[e] + 5.0f;
                        pert.k[e] = use_nan ? NAN : pert.k[e] - 3.0f;
                        pert.v[e] = use_nan ? NAN : pert.v[e] + 7.0f;
                    }
                /* upstream gradient only at positions < j */
                for (size_t e = 0; e < n; e++) {
                    if ((e / D) % L >= (size_t)j)
                        base.w[e] = 0.0f;
                    pert.w[e] = base.w[e];
                }
                memset(base.dq, 0, n * sizeof(float));
                memset(base.dk, 0, n * sizeof(float));
                memset(base.dv, 0, n * sizeof(float));
                memset(pert.dq, 0, n * sizeof(float));
                memset(pert.dk, 0, n * sizeof(float));
                memset(pert.dv, 0, n * sizeof(float));
                att_forward(&base);
                att_forward(&pert);
                att_backward(&base);
                att_backward(&pert);
                for (int b = 0; b < B; b++) {
                    size_t row0 = (size_t)b * L * D, bytes = (size_t)j * D * sizeof(float);
                    int same = memcmp(base.out + row0, pert.out + row0, bytes) == 0;
                    for (int h = 0; h < H; h++) {
                        size_t a0 = ((size_t)b * H + h) * L * L;
                        same = same && memcmp(base.att + a0, pert.att + a0,
                                              (size_t)j * L * sizeof(float)) == 0;
                    }
                    int same_grad = memcmp(base.dq + row0, pert.dq + row0, bytes) == 0 &&
                                    memcmp(base.dk + row0, pert.dk + row0, bytes) == 0 &&
                                    memcmp(base.dv + row0, pert.dv + row0, bytes) == 0;
                    if (mode == SR_ATTN_MODE_CAUSAL) {
                        if (!same)
                            fail_msg("causal: changing position %d (%s) changed att/out rows "
                                     "< %d of sequence %d", j, use_nan ? "NaN" : "shift", j, b);
                        if (!use_nan && !same_grad)
                            fail_msg("causal: shifting position %d changed gradients at rows "
                                     "< %d of sequence %d", j, j, b);
                        /* the perturbation did reach position j itself */
                        float o = pert.out[((size_t)b * L + j) * D];
                        float o0 = base.out[((size_t)b * L + j) * D];
                        assert_true(use_nan ? isnan(o) : o != o0);
                    } else if (!same) {
                        changed_before_j++;
                    }
                }
            }
        }
        if (mode == SR_ATTN_MODE_BIDIRECTIONAL)
            assert_true(changed_before_j > 0);
        att_case_free(&base);
        att_case_free(&pert);
    }
}

/* A padded key's k and v are never read: overwriting them (NaN, then large
 * values) leaves att, out and the gradients at valid positions bit-identical,
 * in both modes. Overwriting padded queries as well leaves every valid row
 * bit-identical. */
static void test_padded_keys_never_change_valid_outputs(void **state)
{
    (void)state;
    enum { B = 3, L = 6, D = 32, H = 2 }; /* Dh = 16: the specialised path */
    const uint8_t valid[B * L] = { 1, 1, 1, 1, 0, 0, /**/ 0, 0, 1, 1, 1, 1, /**/ 1, 0, 1, 0, 1, 0 };
    const float fills[2] = { NAN, 1e3f };
    for (int m = 0; m < 2; m++) {
        const sr_attn_mode mode = m ? SR_ATTN_MODE_BIDIRECTIONAL : SR_ATTN_MODE_CAUSAL;
        for (int f = 0; f < 2; f++) {
            /* padded QUERY rows are computed (sr_attention.h), so NaN there
             * would reach dk, dv of valid keys through 0 * NaN: they must
             * hold finite values, and are perturbed only with finite ones */
            for (int also_q = 0; also_q < (f == 0 ? 1 : 2); also_q++) {
                att_case base, pert;
                att_case_init(&base, B, L, D, H, mode, valid, 91);
                att_case_init(&pert, B, L, D, H, mode, valid, 91);
                /* no upstream gradient at padded rows (the loss ignores them) */
                for (int t = 0; t < B * L; t++)
                    if (!valid[t])
                        for (int d = 0; d < D; d++)
                            base.w[(size_t)t * D + d] = pert.w[(size_t)t * D + d] = 0.0f;
                for (int t = 0; t < B * L; t++) {
                    if (valid[t])
                        continue;
                    for (int d = 0; d < D; d++) {
                        size_t e = (size_t)t * D + d;
                        pert.k[e] = pert.v[e] = fills[f] * (float)(d + 1);
                        if (also_q)
                            pert.q[e] = fills[f];
                    }
                }
                att_forward(&base);
                att_forward(&pert);
                att_backward(&base);
                att_backward(&pert);
                for (int t = 0; t < B * L; t++) {
                    if (!also_q || valid[t]) {
                        size_t e = (size_t)t * D;
                        assert_memory_equal(base.out + e, pert.out + e, D * sizeof(float));
                        assert_memory_equal(base.dq + e, pert.dq + e, D * sizeof(float));
                    }
                    if (valid[t]) {
                        size_t e = (size_t)t * D;
                        assert_memory_equal(base.dk + e, pert.dk + e, D * sizeof(float));
                        assert_memory_equal(base.dv + e, pert.dv + e, D * sizeof(float));
                    } else {
                        /* padded keys receive no gradient */
                        for (int d = 0; d < D; d++)
                            assert_true(pert.dk[(size_t)t * D + d] == 0.0f &&
                                        pert.dv[(size_t)t * D + d] == 0.0f);
                    }
                }
                if (!also_q)
                    assert_memory_equal(base.att, pert.att, att_natt(&base) * sizeof(float));
                att_case_free(&base);
                att_case_free(&pert);
            }
        }
    }
}

/* A query row with no key (left padding under the causal mask, or a
 * sequence with no valid play) outputs exact zeros and sends no gradient. */
static void test_attention_row_without_key_outputs_zero_and_no_gradient(void **state)
{
    (void)state;
    enum { B = 2, L = 4, D = 4, H = 2 };
    const uint8_t valid[B * L] = { 0, 0, 1, 1, /**/ 0, 0, 0, 0 };
    att_case c;
    att_case_init(&c, B, L, D, H, SR_ATTN_MODE_CAUSAL, valid, 101);
    for (size_t e = 0; e < att_n(&c); e++)
        c.out[e] = NAN;
    att_forward(&c);
    att_backward(&c);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < L; i++) {
            int keyless = b == 1 || i < 2;
            for (int d = 0; d < D; d++) {
                size_t e = ((size_t)b * L + i) * D + d;
                if (keyless) {
                    assert_true(c.out[e] == 0.0f);
                    assert_true(c.dq[e] == 0.0f);
                } else {
                    assert_true(c.out[e] != 0.0f);
                }
            }
            if (keyless)
                for (int h = 0; h < H; h++)
                    for (int j = 0; j < L; j++)
                        assert_true(c.att[(((size_t)b * H + h) * L + i) * L + j] == 0.0f);
        }
    /* sequence 1 has no key: nothing at all flows into its dk, dv */
    for (size_t e = (size_t)L * D; e < att_n(&c); e++)
        assert_true(c.dk[e] == 0.0f && c.dv[e] == 0.0f);
    att_case_free(&c);
}

/* ---- determinism ------------------------------------------------------------------- */

static void test_attention_bit_identical_across_thread_counts(void **state)
{
    (void)state;
    enum { B = 8, L = 20, D = 64, H = 4 };
    uint8_t valid[B * L];
    for (int t = 0; t < B * L; t++)
        valid[t] = (t % L) < 5 + (t / L) * 2;
    att_case a, b;
    att_case_init(&a, B, L, D, H, SR_ATTN_MODE_CAUSAL, valid, 111);
    att_case_init(&b, B, L, D, H, SR_ATTN_MODE_CAUSAL, valid, 111);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    att_forward(&a);
    att_backward(&a);
    omp_set_num_threads(2);
    att_forward(&b);
    att_backward(&b);
    omp_set_num_threads(saved);
    size_t n = att_n(&a);
    assert_memory_equal(a.att, b.att, att_natt(&a) * sizeof(float));
    assert_memory_equal(a.out, b.out, n * sizeof(float));
    assert_memory_equal(a.dq, b.dq, n * sizeof(float));
    assert_memory_equal(a.dk, b.dk, n * sizeof(float));
    assert_memory_equal(a.dv, b.dv, n * sizeof(float));
    att_case_free(&a);
    att_case_free(&b);
}

/* ---- shape validation ------------------------------------------------------------------ */

static void test_attention_check_rejects_bad_shapes(void **state)
{
    (void)state;
    assert_int_equal(sr_attention_check(256, 20, 128, 8), SR_OK);
    assert_int_equal(sr_attention_check(1, 1, 1, 1), SR_OK);
    assert_int_equal(sr_attention_check(1, SR_ATTN_MAX_L, 8, 2), SR_OK);
    assert_int_equal(sr_attention_check(2, 20, 128, 6), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "D = 128"));
    assert_non_null(strstr(sr_errmsg(), "H = 6"));
    assert_int_equal(sr_attention_check(0, 20, 128, 8), SR_ERR_ARG);
    assert_int_equal(sr_attention_check(2, 0, 128, 8), SR_ERR_ARG);
    assert_int_equal(sr_attention_check(2, 20, 0, 8), SR_ERR_ARG);
    assert_int_equal(sr_attention_check(2, 20, 128, -1), SR_ERR_ARG);
    assert_int_equal(sr_attention_check(2, SR_ATTN_MAX_L + 1, 128, 8), SR_ERR_LIMIT);
    assert_non_null(strstr(sr_errmsg(), "513"));
    /* B * H (b, h) pairs must fit the int loop counter */
    assert_int_equal(sr_attention_check(INT_MAX, 1, 2, 2), SR_ERR_LIMIT);
    assert_int_equal(sr_attention_check(INT_MAX, 1, 2, 1), SR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_hand_computed_two_heads),
        cmocka_unit_test(test_attention_single_position_copies_values),
        cmocka_unit_test(test_attention_matches_reference_small_shapes),
        cmocka_unit_test(test_attention_matches_reference_with_all_padded_sequence),
        cmocka_unit_test(test_attention_matches_reference_paper_shape),
        cmocka_unit_test(test_attention_rows_are_distributions),
        cmocka_unit_test(test_attention_large_scores_stay_finite),
        cmocka_unit_test(test_attention_backward_matches_finite_differences_causal_padded),
        cmocka_unit_test(test_attention_backward_matches_finite_differences_bidirectional_padded),
        cmocka_unit_test(test_attention_backward_matches_finite_differences_unmasked),
        cmocka_unit_test(test_attention_backward_accumulates),
        cmocka_unit_test(test_causal_attention_never_sees_the_future),
        cmocka_unit_test(test_padded_keys_never_change_valid_outputs),
        cmocka_unit_test(test_attention_row_without_key_outputs_zero_and_no_gradient),
        cmocka_unit_test(test_attention_bit_identical_across_thread_counts),
        cmocka_unit_test(test_attention_check_rejects_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
