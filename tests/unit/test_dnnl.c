/* test_dnnl.c - the dense layers of core/sr_dnnl.c: matrix products, linear,
 * layer norm and GELU.
 *
 * Every op is compared with a naive double-precision loop written here (not
 * the library's code) on random data of several shapes, including odd sizes
 * (T=7, In=5, Out=3), leading dimensions wider than the rows, and chunked
 * scoring of an item table; a few cases are checked against hand-computed
 * values. Every backward is checked with central finite differences through
 * the op's own forward (tests/sr_gradcheck.h; tolerances stated at each
 * check), accumulation is checked (a second backward call doubles the
 * gradient), and the primitive cache is checked through its counters.
 * Tolerances: float kernels against double references allow a relative error
 * of a few float ulps times sqrt(K) for the products. */
#include "sr_test.h"
#include "sr_gradcheck.h"

#include <math.h>
#include <omp.h>

#include "sr_dnnl.h"
#include "sr_rng.h"

/* ---- helpers --------------------------------------------------------------------- */

static float *tmalloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

static float *trand(sr_rng *r, size_t n, float lo, float hi)
{
    float *p = tmalloc(n);
    sr_gc_fill(r, p, n, lo, hi);
    return p;
}

static float *tcopy(const float *src, size_t n)
{
    float *p = tmalloc(n);
    memcpy(p, src, n * sizeof(float));
    return p;
}

static sr_dnnl_ctx *tctx(size_t cap)
{
    sr_dnnl_ctx *ctx = NULL;
    if (sr_dnnl_ctx_new(cap, &ctx) != SR_OK)
        fail_msg("sr_dnnl_ctx_new: %s", sr_errmsg());
    return ctx;
}

#define TOK(call)                                                         \
    do {                                                                  \
        sr_err e_ = (call);                                               \
        if (e_ != SR_OK)                                                  \
            fail_msg("%s -> %s: %s", #call, sr_err_name(e_), sr_errmsg()); \
    } while (0)

/* |got - want| <= atol + rtol * |want| for every entry, else fail with the worst. */
static void assert_close(const char *what, const float *got, const double *want, size_t n,
                         double atol, double rtol)
{
    size_t bad = 0, worst = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]);
        double lim = atol + rtol * fabs(want[i]);
        if (!(diff <= lim)) {
            bad++;
            double excess = isnan(diff) ? INFINITY : diff - lim;
            if (excess > worst_excess) {
                worst_excess = excess;
                worst = i;
            }
        }
    }
    if (bad)
        fail_msg("%s: %zu of %zu entries off; worst [%zu] got %.9g want %.9g", what, bad, n,
                 worst, (double)got[worst], want[worst]);
}

static double *dmalloc(size_t n)
{
    double *p = malloc((n ? n : 1) * sizeof(double));
    assert_non_null(p);
    return p;
}

/* ---- naive references (double) ------------------------------------------------------ */

/* want[m, n] = (acc ? C0[m, n] : 0) + sum_k A(m, k) B(k, n), with element
 * accessors given by strides: A(m, k) = A[m * sa0 + k * sa1]. C0 row stride ldc. */
static double *ref_mm(const float *A, int64_t sa0, int64_t sa1, const float *B, int64_t sb0,
                      int64_t sb1, const float *C0, int64_t ldc, int64_t M, int64_t N, int64_t K,
                      bool acc)
{
    double *w = dmalloc((size_t)(M * N));
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = acc ? (double)C0[m * ldc + n] : 0.0;
            for (int64_t k = 0; k < K; k++)
                s += (double)A[m * sa0 + k * sa1] * (double)B[k * sb0 + n * sb1];
            w[m * N + n] = s;
        }
    return w;
}

/* The [M, N] block of C (row stride ldc) packed for assert_close. */
static float *pack(const float *C, int64_t ldc, int64_t M, int64_t N)
{
    float *p = tmalloc((size_t)(M * N));
    for (int64_t m = 0; m < M; m++)
        memcpy(p + m * N, C + m * ldc, (size_t)N * sizeof(float));
    return p;
}

/* ---- matrix products ------------------------------------------------------------------ */

typedef enum { MM_NT, MM_NN, MM_TN } mm_kind;

static void check_mm(sr_dnnl_ctx *ctx, sr_rng *r, mm_kind kind, int64_t M, int64_t N, int64_t K,
                     int64_t pad, bool acc)
{
    /* stored shapes: A [M, K] (tn: [K, M]); B [K, N] (nt: [N, K]); C [M, N] */
    int64_t arows = kind == MM_TN ? K : M, acols = kind == MM_TN ? M : K;
    int64_t brows = kind == MM_NT ? N : K, bcols = kind == MM_NT ? K : N;
    int64_t lda = acols + pad, ldb = bcols + pad, ldc = N + pad;
    float *A = trand(r, (size_t)(arows * lda), -1, 1);
    float *B = trand(r, (size_t)(brows * ldb), -1, 1);
    float *C = trand(r, (size_t)(M * ldc), -1, 1);
    float *C0 = tcopy(C, (size_t)(M * ldc));
    double *want;
    switch (kind) {
    case MM_NT:
        TOK(sr_matmul_nt(ctx, A, lda, B, ldb, C, ldc, M, N, K, acc));
        want = ref_mm(A, lda, 1, B, 1, ldb, C0, ldc, M, N, K, acc);
        break;
    case MM_NN:
        TOK(sr_matmul_nn(ctx, A, lda, B, ldb, C, ldc, M, N, K, acc));
        want = ref_mm(A, lda, 1, B, ldb, 1, C0, ldc, M, N, K, acc);
        break;
    default:
        TOK(sr_matmul_tn(ctx, A, lda, B, ldb, C, ldc, M, N, K, acc));
        want = ref_mm(A, 1, lda, B, ldb, 1, C0, ldc, M, N, K, acc);
        break;
    }
    char what[96];
    snprintf(what, sizeof what, "matmul kind %d M=%lld N=%lld K=%lld pad=%lld acc=%d", (int)kind,
             (long long)M, (long long)N, (long long)K, (long long)pad, (int)acc);
    float *got = pack(C, ldc, M, N);
    /* inputs in [-1, 1]: |sum| <= K; float error ~ K * 2^-24 at worst */
    assert_close(what, got, want, (size_t)(M * N), 1e-6 * (double)K, 1e-5);
    /* the padding between rows of C is never written */
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = N; n < ldc; n++)
            if (C[m * ldc + n] != C0[m * ldc + n])
                fail_msg("%s: padding C[%lld, %lld] was written", what, (long long)m,
                         (long long)n);
    free(got);
    free(want);
    free(A);
    free(B);
    free(C);
    free(C0);
}

static const int64_t mm_shapes[][3] = {
    { 7, 3, 5 }, { 1, 1, 1 }, { 5, 7, 3 }, { 33, 17, 65 }, { 64, 128, 128 }, { 3, 200, 2 },
};

static void run_mm_kind(mm_kind kind)
{
    sr_rng r;
    sr_rng_seed(&r, 100 + (uint64_t)kind);
    sr_dnnl_ctx *ctx = tctx(0);
    for (size_t s = 0; s < SR_COUNTOF(mm_shapes); s++)
        for (int pad = 0; pad <= 3; pad += 3)
            for (int acc = 0; acc <= 1; acc++)
                check_mm(ctx, &r, kind, mm_shapes[s][0], mm_shapes[s][1], mm_shapes[s][2], pad,
                         acc);
    sr_dnnl_ctx_free(&ctx);
    assert_null(ctx);
}

static void test_matmul_nt_matches_naive(void **state)
{
    (void)state;
    run_mm_kind(MM_NT);
}

static void test_matmul_nn_matches_naive(void **state)
{
    (void)state;
    run_mm_kind(MM_NN);
}

static void test_matmul_tn_matches_naive(void **state)
{
    (void)state;
    run_mm_kind(MM_TN);
}

/* A 2x2 product worked by hand: [1 2; 3 4] [5 6; 7 8]^T = [17 23; 39 53]. */
static void test_matmul_nt_hand_computed(void **state)
{
    (void)state;
    sr_dnnl_ctx *ctx = tctx(0);
    const float A[4] = { 1, 2, 3, 4 }, B[4] = { 5, 6, 7, 8 };
    float C[4] = { 100, 100, 100, 100 };
    TOK(sr_matmul_nt(ctx, A, 2, B, 2, C, 2, 2, 2, 2, false));
    assert_true(C[0] == 17 && C[1] == 23 && C[2] == 39 && C[3] == 53);
    TOK(sr_matmul_nt(ctx, A, 2, B, 2, C, 2, 2, 2, 2, true));
    assert_true(C[0] == 34 && C[1] == 46 && C[2] == 78 && C[3] == 106);
    sr_dnnl_ctx_free(&ctx);
}

/* Scoring the item table chunk by chunk into the columns of one score matrix
 * gives the full product, and the chunked backward (nn / tn with accumulate)
 * gives the gradients of the full one. I = 103 items in chunks of 32 (the last
 * chunk has 7). */
static void test_matmul_chunked_scoring_matches_full(void **state)
{
    (void)state;
    const int64_t T = 9, D = 16, I = 103, CH = 32;
    sr_rng r;
    sr_rng_seed(&r, 7);
    sr_dnnl_ctx *ctx = tctx(0);
    float *h = trand(&r, (size_t)(T * D), -1, 1);
    float *E = trand(&r, (size_t)(I * D), -1, 1);
    float *S = tmalloc((size_t)(T * I));
    for (int64_t i0 = 0; i0 < I; i0 += CH) {
        int64_t c = SR_MIN(CH, I - i0);
        TOK(sr_matmul_nt(ctx, h, D, E + i0 * D, D, S + i0, I, T, c, D, false));
    }
    double *want = ref_mm(h, D, 1, E, 1, D, NULL, 0, T, I, D, false);
    assert_close("chunked scores", S, want, (size_t)(T * I), 1e-5, 1e-5);
    free(want);

    /* backward with dS = random; dh = dS E, dE = dS^T h, chunk by chunk */
    float *dS = trand(&r, (size_t)(T * I), -1, 1);
    float *dh = calloc((size_t)(T * D), sizeof(float));
    float *dE = calloc((size_t)(I * D), sizeof(float));
    for (int64_t i0 = 0; i0 < I; i0 += CH) {
        int64_t c = SR_MIN(CH, I - i0);
        TOK(sr_matmul_nn(ctx, dS + i0, I, E + i0 * D, D, dh, D, T, D, c, true));
        TOK(sr_matmul_tn(ctx, dS + i0, I, h, D, dE + i0 * D, D, c, D, T, true));
    }
    double *wdh = ref_mm(dS, I, 1, E, D, 1, NULL, 0, T, D, I, false);
    double *wdE = ref_mm(dS, 1, I, h, D, 1, NULL, 0, I, D, T, false);
    assert_close("chunked dh", dh, wdh, (size_t)(T * D), 1e-4, 1e-5);
    assert_close("chunked dE", dE, wdE, (size_t)(I * D), 1e-5, 1e-5);
    free(wdh);
    free(wdE);
    free(dS);
    free(dh);
    free(dE);
    free(h);
    free(E);
    free(S);
    sr_dnnl_ctx_free(&ctx);
}

/* Finite differences through scoring: L = sum w * (h E^T); the analytic
 * gradients are the nn / tn products used by the backward of scoring. */
typedef struct score_gc {
    sr_dnnl_ctx *ctx;
    float *h, *E, *S, *w;
    int64_t T, D, I;
} score_gc;

static double score_loss(void *p)
{
    score_gc *g = p;
    TOK(sr_matmul_nt(g->ctx, g->h, g->D, g->E, g->D, g->S, g->I, g->T, g->I, g->D, false));
    return sr_gc_dot(g->S, g->w, (size_t)(g->T * g->I));
}

static void test_matmul_scoring_backward_gradcheck(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 8);
    score_gc g = { .ctx = tctx(0), .T = 7, .D = 5, .I = 11 };
    g.h = trand(&r, (size_t)(g.T * g.D), -1, 1);
    g.E = trand(&r, (size_t)(g.I * g.D), -1, 1);
    g.S = tmalloc((size_t)(g.T * g.I));
    g.w = trand(&r, (size_t)(g.T * g.I), -1, 1);
    float *dh = calloc((size_t)(g.T * g.D), sizeof(float));
    float *dE = calloc((size_t)(g.I * g.D), sizeof(float));
    TOK(sr_matmul_nn(g.ctx, g.w, g.I, g.E, g.D, dh, g.D, g.T, g.D, g.I, true));
    TOK(sr_matmul_tn(g.ctx, g.w, g.I, g.h, g.D, dE, g.D, g.I, g.D, g.T, true));
    /* L is linear in each input: central differences are exact up to the float
     * rounding of L (~1e-6), divided by 2 * eps = 0.02 */
    sr_gc_check("scoring dh", g.h, dh, (size_t)(g.T * g.D), score_loss, &g, 1e-2f, 2e-4, 1e-3,
                1000);
    sr_gc_check("scoring dE", g.E, dE, (size_t)(g.I * g.D), score_loss, &g, 1e-2f, 2e-4, 1e-3,
                1000);
    free(dh);
    free(dE);
    free(g.h);
    free(g.E);
    free(g.S);
    free(g.w);
    sr_dnnl_ctx_free(&g.ctx);
}

/* Empty products: M = 0 or N = 0 touch nothing; K = 0 zeroes C unless
 * accumulating (an empty sum). */
static void test_matmul_empty_sizes(void **state)
{
    (void)state;
    sr_dnnl_ctx *ctx = tctx(0);
    float A[4] = { 1, 2, 3, 4 }, B[4] = { 1, 2, 3, 4 };
    float C[6] = { 9, 9, 9, 9, 9, 9 };
    TOK(sr_matmul_nt(ctx, A, 2, B, 2, C, 3, 0, 2, 2, false));
    TOK(sr_matmul_nn(ctx, A, 2, B, 2, C, 3, 2, 0, 2, false));
    for (int i = 0; i < 6; i++)
        assert_true(C[i] == 9);
    TOK(sr_matmul_tn(ctx, A, 2, B, 2, C, 3, 2, 2, 0, true));
    for (int i = 0; i < 6; i++)
        assert_true(C[i] == 9);
    TOK(sr_matmul_nt(ctx, A, 1, B, 1, C, 3, 2, 2, 0, false));
    /* rows of 2 with ldc 3: C[2] and C[5] are padding */
    assert_true(C[0] == 0 && C[1] == 0 && C[2] == 9 && C[3] == 0 && C[4] == 0 && C[5] == 9);
    sr_dnnl_stats st;
    sr_dnnl_ctx_stats(ctx, &st);
    assert_int_equal(st.created, 0); /* none of these needs oneDNN */
    sr_dnnl_ctx_free(&ctx);
}

static void test_matmul_rejects_bad_arguments(void **state)
{
    (void)state;
    sr_dnnl_ctx *ctx = tctx(0);
    float A[16] = { 0 }, B[16] = { 0 }, C[16] = { 0 };
    /* lda shorter than K */
    assert_int_equal(sr_matmul_nt(ctx, A, 2, B, 3, C, 3, 2, 3, 3, false), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "lda=2"));
    /* ldb shorter than N for nn */
    assert_int_equal(sr_matmul_nn(ctx, A, 3, B, 2, C, 3, 2, 3, 3, false), SR_ERR_ARG);
    /* lda shorter than M for tn (A stored [K, M]) */
    assert_int_equal(sr_matmul_tn(ctx, A, 1, B, 3, C, 3, 2, 3, 3, false), SR_ERR_ARG);
    /* ldc shorter than N */
    assert_int_equal(sr_matmul_nt(ctx, A, 3, B, 3, C, 2, 2, 3, 3, false), SR_ERR_ARG);
    /* negative size */
    assert_int_equal(sr_matmul_nt(ctx, A, 3, B, 3, C, 3, -1, 3, 3, false), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "M=-1"));
    assert_int_equal(sr_linear_forward(ctx, A, B, NULL, C, 0, 2, 2), SR_ERR_ARG);
    assert_int_equal(sr_linear_backward(ctx, A, B, C, A, B, NULL, 2, 2, -3), SR_ERR_ARG);
    sr_dnnl_ctx *bad = NULL;
    assert_int_equal(sr_dnnl_ctx_new(100000, &bad), SR_ERR_ARG);
    assert_null(bad);
    sr_dnnl_ctx_free(&ctx);
    sr_dnnl_ctx_free(&ctx); /* NULL-safe */
    sr_dnnl_ctx_free(NULL);
}

/* ---- linear ------------------------------------------------------------------------------ */

static const int64_t lin_shapes[][3] = { { 7, 5, 3 }, { 1, 1, 1 }, { 20, 128, 128 }, { 13, 3, 9 } };

static void test_linear_forward_matches_naive(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 21);
    sr_dnnl_ctx *ctx = tctx(0);
    for (size_t s = 0; s < SR_COUNTOF(lin_shapes); s++)
        for (int with_bias = 0; with_bias <= 1; with_bias++) {
            int64_t T = lin_shapes[s][0], In = lin_shapes[s][1], Out = lin_shapes[s][2];
            float *x = trand(&r, (size_t)(T * In), -1, 1);
            float *W = trand(&r, (size_t)(Out * In), -1, 1);
            float *b = trand(&r, (size_t)Out, -1, 1);
            float *y = trand(&r, (size_t)(T * Out), -1, 1); /* overwritten */
            TOK(sr_linear_forward(ctx, x, W, with_bias ? b : NULL, y, T, In, Out));
            double *want = dmalloc((size_t)(T * Out));
            for (int64_t t = 0; t < T; t++)
                for (int64_t o = 0; o < Out; o++) {
                    double acc = with_bias ? (double)b[o] : 0.0;
                    for (int64_t i = 0; i < In; i++)
                        acc += (double)x[t * In + i] * (double)W[o * In + i];
                    want[t * Out + o] = acc;
                }
            assert_close("linear forward", y, want, (size_t)(T * Out), 1e-6 * (double)In, 1e-5);
            free(want);
            free(x);
            free(W);
            free(b);
            free(y);
        }
    sr_dnnl_ctx_free(&ctx);
}

/* y = x W^T + b by hand: x = [1 2], W = [1 0; 0 1; 1 1], b = [0.5 0 -1] -> [1.5 2 2]. */
static void test_linear_forward_hand_computed(void **state)
{
    (void)state;
    sr_dnnl_ctx *ctx = tctx(0);
    const float x[2] = { 1, 2 }, W[6] = { 1, 0, 0, 1, 1, 1 }, b[3] = { 0.5f, 0, -1 };
    float y[3];
    TOK(sr_linear_forward(ctx, x, W, b, y, 1, 2, 3));
    assert_true(y[0] == 1.5f && y[1] == 2.0f && y[2] == 2.0f);
    /* backward with dy = [1 1 1]: dx = dy W = [2 2], dW = dy^T x = rows [1 2], db = [1 1 1] */
    const float dy[3] = { 1, 1, 1 };
    float dx[2] = { 0 }, dW[6] = { 0 }, db[3] = { 0 };
    TOK(sr_linear_backward(ctx, x, W, dy, dx, dW, db, 1, 2, 3));
    assert_true(dx[0] == 2 && dx[1] == 2);
    for (int o = 0; o < 3; o++)
        assert_true(dW[o * 2] == 1 && dW[o * 2 + 1] == 2 && db[o] == 1);
    sr_dnnl_ctx_free(&ctx);
}

/* The backward against naive loops, starting from non-zero gradients (it must
 * add), with each gradient optional. */
static void test_linear_backward_matches_naive(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 22);
    sr_dnnl_ctx *ctx = tctx(0);
    for (size_t s = 0; s < SR_COUNTOF(lin_shapes); s++) {
        int64_t T = lin_shapes[s][0], In = lin_shapes[s][1], Out = lin_shapes[s][2];
        float *x = trand(&r, (size_t)(T * In), -1, 1);
        float *W = trand(&r, (size_t)(Out * In), -1, 1);
        float *dy = trand(&r, (size_t)(T * Out), -1, 1);
        float *dx = trand(&r, (size_t)(T * In), -1, 1);
        float *dW = trand(&r, (size_t)(Out * In), -1, 1);
        float *db = trand(&r, (size_t)Out, -1, 1);
        double *wdx = dmalloc((size_t)(T * In)), *wdW = dmalloc((size_t)(Out * In));
        double *wdb = dmalloc((size_t)Out);
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < In; i++) {
                double acc = dx[t * In + i];
                for (int64_t o = 0; o < Out; o++)
                    acc += (double)dy[t * Out + o] * (double)W[o * In + i];
                wdx[t * In + i] = acc;
            }
        for (int64_t o = 0; o < Out; o++) {
            double accb = db[o];
            for (int64_t t = 0; t < T; t++)
                accb += dy[t * Out + o];
            wdb[o] = accb;
            for (int64_t i = 0; i < In; i++) {
                double acc = dW[o * In + i];
                for (int64_t t = 0; t < T; t++)
                    acc += (double)dy[t * Out + o] * (double)x[t * In + i];
                wdW[o * In + i] = acc;
            }
        }
        float *dx0 = tcopy(dx, (size_t)(T * In));
        /* only dW and db first: dx must stay untouched */
        TOK(sr_linear_backward(ctx, x, W, dy, NULL, dW, db, T, In, Out));
        assert_memory_equal(dx, dx0, (size_t)(T * In) * sizeof(float));
        TOK(sr_linear_backward(ctx, x, W, dy, dx, NULL, NULL, T, In, Out));
        assert_close("linear dx", dx, wdx, (size_t)(T * In), 1e-6 * (double)Out, 1e-5);
        assert_close("linear dW", dW, wdW, (size_t)(Out * In), 1e-6 * (double)T, 1e-5);
        assert_close("linear db", db, wdb, (size_t)Out, 1e-6, 1e-6);
        free(dx0);
        free(wdx);
        free(wdW);
        free(wdb);
        free(x);
        free(W);
        free(dy);
        free(dx);
        free(dW);
        free(db);
    }
    sr_dnnl_ctx_free(&ctx);
}

typedef struct lin_gc {
    sr_dnnl_ctx *ctx;
    float *x, *W, *b, *y, *w;
    int64_t T, In, Out;
} lin_gc;

static double lin_loss(void *p)
{
    lin_gc *g = p;
    TOK(sr_linear_forward(g->ctx, g->x, g->W, g->b, g->y, g->T, g->In, g->Out));
    return sr_gc_dot(g->y, g->w, (size_t)(g->T * g->Out));
}

static void test_linear_backward_gradcheck(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 23);
    lin_gc g = { .ctx = tctx(0), .T = 7, .In = 5, .Out = 3 };
    g.x = trand(&r, (size_t)(g.T * g.In), -1, 1);
    g.W = trand(&r, (size_t)(g.Out * g.In), -1, 1);
    g.b = trand(&r, (size_t)g.Out, -1, 1);
    g.y = tmalloc((size_t)(g.T * g.Out));
    g.w = trand(&r, (size_t)(g.T * g.Out), -1, 1);
    float *dx = calloc((size_t)(g.T * g.In), sizeof(float));
    float *dW = calloc((size_t)(g.Out * g.In), sizeof(float));
    float *db = calloc((size_t)g.Out, sizeof(float));
    TOK(sr_linear_backward(g.ctx, g.x, g.W, g.w, dx, dW, db, g.T, g.In, g.Out));
    /* linear in every input: the error is L's float rounding / (2 eps) */
    sr_gc_check("linear dx", g.x, dx, (size_t)(g.T * g.In), lin_loss, &g, 1e-2f, 2e-4, 1e-3, 1000);
    sr_gc_check("linear dW", g.W, dW, (size_t)(g.Out * g.In), lin_loss, &g, 1e-2f, 2e-4, 1e-3,
                1000);
    sr_gc_check("linear db", g.b, db, (size_t)g.Out, lin_loss, &g, 1e-2f, 2e-4, 1e-3, 1000);
    free(dx);
    free(dW);
    free(db);
    free(g.x);
    free(g.W);
    free(g.b);
    free(g.y);
    free(g.w);
    sr_dnnl_ctx_free(&g.ctx);
}

/* Two backward calls into zeroed buffers give twice one call. */
static void test_linear_backward_accumulates(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 24);
    const int64_t T = 13, In = 6, Out = 4;
    sr_dnnl_ctx *ctx = tctx(0);
    float *x = trand(&r, (size_t)(T * In), -1, 1);
    float *W = trand(&r, (size_t)(Out * In), -1, 1);
    float *dy = trand(&r, (size_t)(T * Out), -1, 1);
    float *dx = calloc((size_t)(T * In), sizeof(float));
    float *dW = calloc((size_t)(Out * In), sizeof(float));
    float *db = calloc((size_t)Out, sizeof(float));
    TOK(sr_linear_backward(ctx, x, W, dy, dx, dW, db, T, In, Out));
    double *once_x = dmalloc((size_t)(T * In)), *once_W = dmalloc((size_t)(Out * In));
    double *once_b = dmalloc((size_t)Out);
    for (int64_t i = 0; i < T * In; i++)
        once_x[i] = 2.0 * dx[i];
    for (int64_t i = 0; i < Out * In; i++)
        once_W[i] = 2.0 * dW[i];
    for (int64_t i = 0; i < Out; i++)
        once_b[i] = 2.0 * db[i];
    TOK(sr_linear_backward(ctx, x, W, dy, dx, dW, db, T, In, Out));
    assert_close("2x dx", dx, once_x, (size_t)(T * In), 1e-6, 1e-6);
    assert_close("2x dW", dW, once_W, (size_t)(Out * In), 1e-6, 1e-6);
    assert_close("2x db", db, once_b, (size_t)Out, 1e-6, 1e-6);
    free(once_x);
    free(once_W);
    free(once_b);
    free(x);
    free(W);
    free(dy);
    free(dx);
    free(dW);
    free(db);
    sr_dnnl_ctx_free(&ctx);
}

/* db (hand-written column sums) is bit-identical with 1 and 2 threads. */
static void test_linear_bias_grad_same_for_1_and_2_threads(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 25);
    const int64_t T = 640, In = 4, Out = 96; /* T * Out above the parallel threshold */
    sr_dnnl_ctx *ctx = tctx(0);
    float *x = trand(&r, (size_t)(T * In), -1, 1);
    float *W = trand(&r, (size_t)(Out * In), -1, 1);
    float *dy = trand(&r, (size_t)(T * Out), -1, 1);
    float *db1 = calloc((size_t)Out, sizeof(float)), *db2 = calloc((size_t)Out, sizeof(float));
    int keep = omp_get_max_threads();
    omp_set_num_threads(1);
    TOK(sr_linear_backward(ctx, x, W, dy, NULL, NULL, db1, T, In, Out));
    omp_set_num_threads(2);
    TOK(sr_linear_backward(ctx, x, W, dy, NULL, NULL, db2, T, In, Out));
    omp_set_num_threads(keep);
    assert_memory_equal(db1, db2, (size_t)Out * sizeof(float));
    free(x);
    free(W);
    free(dy);
    free(db1);
    free(db2);
    sr_dnnl_ctx_free(&ctx);
}

/* ---- the primitive cache ------------------------------------------------------------------ */

static void test_primitive_reused_for_same_shape(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 31);
    sr_dnnl_ctx *ctx = tctx(0);
    const int64_t T = 20, D = 8, F = 12;
    float *x = trand(&r, (size_t)(T * D), -1, 1), *W = trand(&r, (size_t)(F * D), -1, 1);
    float *x2 = trand(&r, (size_t)(T * D), -1, 1), *b = trand(&r, (size_t)F, -1, 1);
    float *y = tmalloc((size_t)(T * F));
    sr_dnnl_stats st;
    TOK(sr_linear_forward(ctx, x, W, b, y, T, D, F));
    sr_dnnl_ctx_stats(ctx, &st);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.hits, 0);
    /* same shape, other buffers: no new primitive */
    TOK(sr_linear_forward(ctx, x2, W, b, y, T, D, F));
    sr_dnnl_ctx_stats(ctx, &st);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.entries, 1);
    /* without bias is another primitive, as is another T */
    TOK(sr_linear_forward(ctx, x2, W, NULL, y, T, D, F));
    TOK(sr_linear_forward(ctx, x2, W, NULL, y, T - 1, D, F));
    sr_dnnl_ctx_stats(ctx, &st);
    assert_int_equal(st.created, 3);
    assert_int_equal(st.hits, 1);
    /* another OpenMP thread count is another primitive (oneDNN fixes it at
     * creation); going back finds the first one again */
    int keep = omp_get_max_threads();
    omp_set_num_threads(keep == 1 ? 2 : 1);
    TOK(sr_linear_forward(ctx, x2, W, NULL, y, T - 1, D, F));
    omp_set_num_threads(keep);
    TOK(sr_linear_forward(ctx, x2, W, NULL, y, T - 1, D, F));
    sr_dnnl_ctx_stats(ctx, &st);
    assert_int_equal(st.created, 4);
    assert_int_equal(st.hits, 2);
    /* a oneDNN matmul, not the reference implementation */
    const char *impl = sr_dnnl_ctx_last_impl(ctx);
    assert_true(impl[0] != '\0');
    if (strncmp(impl, "ref", 3) == 0)
        fail_msg("matmul fell back to the reference implementation %s", impl);
    free(x);
    free(x2);
    free(W);
    free(b);
    free(y);
    sr_dnnl_ctx_free(&ctx);
}

/* With room for 2 primitives: A, B, A (hit), C evicts B (least recent), then
 * B is created again (evicting A) and C is still cached. Results stay right. */
static void test_cache_evicts_least_recently_used(void **state)
{
    (void)state;
    sr_dnnl_ctx *ctx = tctx(2);
    const float A[6] = { 1, 2, 3, 4, 5, 6 };
    float C[9];
    sr_dnnl_stats st;
    TOK(sr_matmul_nt(ctx, A, 2, A, 2, C, 3, 3, 3, 2, false)); /* shape A */
    TOK(sr_matmul_nt(ctx, A, 2, A, 2, C, 2, 2, 2, 2, false)); /* shape B */
    TOK(sr_matmul_nt(ctx, A, 2, A, 2, C, 3, 3, 3, 2, false)); /* A again: hit */
    sr_dnnl_ctx_stats(ctx, &st);
    assert_int_equal(st.created, 2);
    assert_int_equal(st.hits, 1);
    TOK(sr_matmul_nt(ctx, A, 3, A, 3, C, 2, 2, 2, 3, false)); /* shape C evicts B */
    sr_dnnl_ctx_stats(ctx, &st);
    assert_int_equal(st.created, 3);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.entries, 2);
    TOK(sr_matmul_nt(ctx, A, 3, A, 3, C, 2, 2, 2, 3, false)); /* C: hit */
    TOK(sr_matmul_nt(ctx, A, 3, A, 3, C, 2, 2, 2, 3, false)); /* C: hit */
    sr_dnnl_ctx_stats(ctx, &st);
    assert_int_equal(st.hits, 3);
    TOK(sr_matmul_nt(ctx, A, 2, A, 2, C, 2, 2, 2, 2, false)); /* B: miss, evicts A */
    sr_dnnl_ctx_stats(ctx, &st);
    assert_int_equal(st.created, 4);
    assert_int_equal(st.evicted, 2);
    assert_int_equal(st.entries, 2);
    /* [1 2; 3 4] [1 2; 3 4]^T = [5 11; 11 25] */
    assert_true(C[0] == 5 && C[1] == 11 && C[2] == 11 && C[3] == 25);
    TOK(sr_matmul_nt(ctx, A, 3, A, 3, C, 2, 2, 2, 3, false)); /* C still cached */
    sr_dnnl_ctx_stats(ctx, &st);
    assert_int_equal(st.created, 4);
    /* [1 2 3; 4 5 6] times its transpose = [14 32; 32 77] */
    assert_true(C[0] == 14 && C[1] == 32 && C[2] == 32 && C[3] == 77);
    sr_dnnl_ctx_free(&ctx);
}

/* ---- layer norm ------------------------------------------------------------------------------ */

static const sr_dnnl_impl ln_impls[2] = { SR_DNNL_IMPL_C, SR_DNNL_IMPL_ONEDNN };
static const int64_t ln_shapes[][2] = { { 7, 5 }, { 1, 1 }, { 3, 128 }, { 33, 130 }, { 2, 9 } };

/* Forward against a double reference; one row has mean 1e4 and unit spread
 * (a one-pass variance would lose it in float). */
static void test_layernorm_forward_matches_naive(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 41);
    const float eps = 1e-5f;
    for (int im = 0; im < 2; im++) {
        sr_dnnl_ctx *ctx = tctx(0);
        sr_dnnl_ctx_set_layernorm_impl(ctx, ln_impls[im]);
        for (size_t s = 0; s < SR_COUNTOF(ln_shapes); s++) {
            int64_t T = ln_shapes[s][0], D = ln_shapes[s][1];
            float *x = trand(&r, (size_t)(T * D), -2, 2);
            for (int64_t j = 0; j < D; j++)
                x[j] += 1e4f;
            float *gamma = trand(&r, (size_t)D, 0.5f, 1.5f);
            float *beta = trand(&r, (size_t)D, -1, 1);
            float *y = tmalloc((size_t)(T * D)), *mean = tmalloc((size_t)T);
            float *rstd = tmalloc((size_t)T);
            TOK(sr_layernorm_forward(ctx, x, gamma, beta, y, mean, rstd, T, D, eps));
            double *wy = dmalloc((size_t)(T * D)), *wm = dmalloc((size_t)T);
            double *wr = dmalloc((size_t)T);
            for (int64_t t = 0; t < T; t++) {
                double m = 0, v = 0;
                for (int64_t j = 0; j < D; j++)
                    m += x[t * D + j];
                m /= (double)D;
                for (int64_t j = 0; j < D; j++)
                    v += ((double)x[t * D + j] - m) * ((double)x[t * D + j] - m);
                v /= (double)D;
                wm[t] = m;
                wr[t] = 1.0 / sqrt(v + (double)eps);
                for (int64_t j = 0; j < D; j++)
                    wy[t * D + j] = ((double)x[t * D + j] - m) * wr[t] * gamma[j] + beta[j];
            }
            char what[64];
            snprintf(what, sizeof what, "layernorm impl %d T=%lld D=%lld", (int)ln_impls[im],
                     (long long)T, (long long)D);
            assert_close(what, mean, wm, (size_t)T, 0, 1e-6);
            /* x itself is stored in float: at 1e4 its ulp is ~1e-3, hence the
             * looser bound on y for the shifted row */
            assert_close(what, rstd, wr, (size_t)T, 0, 1e-4);
            assert_close(what, y, wy, (size_t)(T * D), 2e-3, 1e-4);
            assert_close(what, y + D, wy + D, (size_t)((T - 1) * D), 2e-6, 2e-6);
            free(wy);
            free(wm);
            free(wr);
            free(x);
            free(gamma);
            free(beta);
            free(y);
            free(mean);
            free(rstd);
        }
        sr_dnnl_ctx_free(&ctx);
    }
}

/* One row by hand: x = [1 2 3 4], gamma = 1, beta = 0: mean 2.5, var 1.25,
 * y = (x - 2.5) / sqrt(1.25 + eps). */
static void test_layernorm_hand_computed(void **state)
{
    (void)state;
    sr_dnnl_ctx *ctx = tctx(0);
    const float x[4] = { 1, 2, 3, 4 }, gamma[4] = { 1, 1, 1, 1 }, beta[4] = { 0, 0, 0, 0 };
    float y[4], mean, rstd;
    TOK(sr_layernorm_forward(ctx, x, gamma, beta, y, &mean, &rstd, 1, 4, 1e-5f));
    /* the default (AUTO) is oneDNN's layer normalisation */
    assert_non_null(strstr(sr_dnnl_ctx_last_impl(ctx), "layer_normalization"));
    assert_true(mean == 2.5f);
    SR_ASSERT_NEAR(rstd, 0.8944236, 1e-6); /* 1 / sqrt(1.25001) */
    SR_ASSERT_NEAR(y[0], -1.3416354, 1e-6);
    SR_ASSERT_NEAR(y[3], 1.3416354, 1e-6);
    sr_dnnl_ctx_free(&ctx);
}

typedef struct ln_gc {
    sr_dnnl_ctx *ctx;
    float *x, *gamma, *beta, *y, *mean, *rstd, *w;
    int64_t T, D;
    float eps;
} ln_gc;

static double ln_loss(void *p)
{
    ln_gc *g = p;
    TOK(sr_layernorm_forward(g->ctx, g->x, g->gamma, g->beta, g->y, g->mean, g->rstd, g->T, g->D,
                             g->eps));
    return sr_gc_dot(g->y, g->w, (size_t)(g->T * g->D));
}

static void test_layernorm_backward_gradcheck(void **state)
{
    (void)state;
    for (int im = 0; im < 2; im++)
        for (int s = 0; s < 2; s++) {
            sr_rng r;
            sr_rng_seed(&r, 42);
            ln_gc g = { .ctx = tctx(0), .T = s ? 3 : 7, .D = s ? 16 : 5, .eps = 1e-5f };
            sr_dnnl_ctx_set_layernorm_impl(g.ctx, ln_impls[im]);
            size_t n = (size_t)(g.T * g.D);
            g.x = trand(&r, n, -2, 2);
            g.gamma = trand(&r, (size_t)g.D, 0.5f, 1.5f);
            g.beta = trand(&r, (size_t)g.D, -1, 1);
            g.y = tmalloc(n);
            g.mean = tmalloc((size_t)g.T);
            g.rstd = tmalloc((size_t)g.T);
            g.w = trand(&r, n, -1, 1);
            float *dx = calloc(n, sizeof(float)), *dg = calloc((size_t)g.D, sizeof(float));
            float *db = calloc((size_t)g.D, sizeof(float));
            ln_loss(&g);
            TOK(sr_layernorm_backward(g.ctx, g.x, g.gamma, g.mean, g.rstd, g.w, dx, dg, db, g.T,
                                      g.D, g.eps));
            /* eps 1e-3 on O(1) inputs: truncation ~1e-6, rounding of L
             * (~1e-6) / 2e-3 ~ 5e-4 */
            sr_gc_check("layernorm dx", g.x, dx, n, ln_loss, &g, 1e-3f, 1e-3, 1e-2, 1000);
            sr_gc_check("layernorm dgamma", g.gamma, dg, (size_t)g.D, ln_loss, &g, 1e-3f, 1e-3,
                        1e-2, 1000);
            sr_gc_check("layernorm dbeta", g.beta, db, (size_t)g.D, ln_loss, &g, 1e-3f, 1e-3,
                        1e-2, 1000);
            free(dx);
            free(dg);
            free(db);
            free(g.x);
            free(g.gamma);
            free(g.beta);
            free(g.y);
            free(g.mean);
            free(g.rstd);
            free(g.w);
            sr_dnnl_ctx_free(&g.ctx);
        }
}

/* The backward against the closed form in double, accumulating onto non-zero
 * gradients: dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy gamma. */
static void test_layernorm_backward_matches_naive(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 43);
    const float eps = 1e-5f;
    for (int im = 0; im < 2; im++) {
        sr_dnnl_ctx *ctx = tctx(0);
        sr_dnnl_ctx_set_layernorm_impl(ctx, ln_impls[im]);
        for (size_t s = 0; s < SR_COUNTOF(ln_shapes); s++) {
            int64_t T = ln_shapes[s][0], D = ln_shapes[s][1];
            size_t n = (size_t)(T * D);
            float *x = trand(&r, n, -2, 2), *gamma = trand(&r, (size_t)D, 0.5f, 1.5f);
            /* row 0 nearly constant: var ~ 3e-7 < eps, so eps dominates rstd
             * (and the oneDNN path's rstd -> variance conversion shows) */
            for (int64_t j = 0; j < D; j++)
                x[j] = 1.0f + 1e-3f * x[j];
            float *beta = trand(&r, (size_t)D, -1, 1), *dy = trand(&r, n, -1, 1);
            float *y = tmalloc(n), *mean = tmalloc((size_t)T), *rstd = tmalloc((size_t)T);
            float *dx = trand(&r, n, -1, 1), *dg = trand(&r, (size_t)D, -1, 1);
            float *db = trand(&r, (size_t)D, -1, 1);
            double *wdx = dmalloc(n), *wdg = dmalloc((size_t)D), *wdb = dmalloc((size_t)D);
            for (int64_t j = 0; j < D; j++) {
                wdg[j] = dg[j];
                wdb[j] = db[j];
            }
            for (int64_t t = 0; t < T; t++) {
                const float *xr = x + t * D;
                double m = 0, v = 0;
                for (int64_t j = 0; j < D; j++)
                    m += xr[j];
                m /= (double)D;
                for (int64_t j = 0; j < D; j++)
                    v += (xr[j] - m) * (xr[j] - m);
                double rs = 1.0 / sqrt(v / (double)D + (double)eps);
                double a = 0, b = 0;
                for (int64_t j = 0; j < D; j++) {
                    double gj = (double)dy[t * D + j] * gamma[j], xh = (xr[j] - m) * rs;
                    a += gj;
                    b += gj * xh;
                    wdg[j] += (double)dy[t * D + j] * xh;
                    wdb[j] += dy[t * D + j];
                }
                a /= (double)D;
                b /= (double)D;
                for (int64_t j = 0; j < D; j++) {
                    double gj = (double)dy[t * D + j] * gamma[j], xh = (xr[j] - m) * rs;
                    wdx[t * D + j] = dx[t * D + j] + rs * (gj - a - xh * b);
                }
            }
            TOK(sr_layernorm_forward(ctx, x, gamma, beta, y, mean, rstd, T, D, eps));
            TOK(sr_layernorm_backward(ctx, x, gamma, mean, rstd, dy, dx, dg, db, T, D, eps));
            char what[64];
            snprintf(what, sizeof what, "layernorm bwd impl %d T=%lld D=%lld", (int)ln_impls[im],
                     (long long)T, (long long)D);
            /* Row 0 (and D = 1, where xhat = 0 and dx = 0 exactly): rstd ~
             * 1/sqrt(eps) ~ 316 amplifies the float rounding of
             * g - mean(g) - xhat mean(g xhat); oneDNN (float sums) is off by
             * up to ~2e-4 relative there, the C version by less than 1e-4.
             * A wrong eps in rstd would be off by tens of percent. */
            assert_close(what, dx, wdx, (size_t)D, 1e-3, 1e-3);
            assert_close(what, dx + D, wdx + D, n - (size_t)D, D == 1 ? 1e-3 : 2e-5, 1e-4);
            /* dgamma takes row 0's xhat, whose float error is ~rstd * 6e-8 */
            assert_close(what, dg, wdg, (size_t)D, 1e-4, 1e-5);
            assert_close(what, db, wdb, (size_t)D, 1e-5, 1e-5);
            free(wdx);
            free(wdg);
            free(wdb);
            free(x);
            free(gamma);
            free(beta);
            free(dy);
            free(y);
            free(mean);
            free(rstd);
            free(dx);
            free(dg);
            free(db);
        }
        sr_dnnl_ctx_free(&ctx);
    }
}

/* Two backward calls into zeroed buffers give twice one call (both impls),
 * and NULL gradients are skipped. */
static void test_layernorm_backward_accumulates(void **state)
{
    (void)state;
    const int64_t T = 5, D = 12;
    const size_t n = (size_t)(T * D);
    for (int im = 0; im < 2; im++) {
        sr_rng r;
        sr_rng_seed(&r, 44);
        sr_dnnl_ctx *ctx = tctx(0);
        sr_dnnl_ctx_set_layernorm_impl(ctx, ln_impls[im]);
        float *x = trand(&r, n, -2, 2), *gamma = trand(&r, (size_t)D, 0.5f, 1.5f);
        float *beta = trand(&r, (size_t)D, -1, 1), *dy = trand(&r, n, -1, 1);
        float *y = tmalloc(n), *mean = tmalloc((size_t)T), *rstd = tmalloc((size_t)T);
        float *dx = calloc(n, sizeof(float)), *dg = calloc((size_t)D, sizeof(float));
        float *db = calloc((size_t)D, sizeof(float));
        TOK(sr_layernorm_forward(ctx, x, gamma, beta, y, mean, rstd, T, D, 1e-5f));
        TOK(sr_layernorm_backward(ctx, x, gamma, mean, rstd, dy, dx, dg, db, T, D, 1e-5f));
        double *w2x = dmalloc(n), *w2g = dmalloc((size_t)D), *w2b = dmalloc((size_t)D);
        for (size_t i = 0; i < n; i++)
            w2x[i] = 2.0 * dx[i];
        for (int64_t j = 0; j < D; j++) {
            w2g[j] = 2.0 * dg[j];
            w2b[j] = 2.0 * db[j];
        }
        TOK(sr_layernorm_backward(ctx, x, gamma, mean, rstd, dy, dx, NULL, NULL, T, D, 1e-5f));
        TOK(sr_layernorm_backward(ctx, x, gamma, mean, rstd, dy, NULL, dg, db, T, D, 1e-5f));
        assert_close("ln 2x dx", dx, w2x, n, 1e-6, 1e-6);
        assert_close("ln 2x dgamma", dg, w2g, (size_t)D, 1e-6, 1e-6);
        assert_close("ln 2x dbeta", db, w2b, (size_t)D, 1e-6, 1e-6);
        free(w2x);
        free(w2g);
        free(w2b);
        free(x);
        free(gamma);
        free(beta);
        free(dy);
        free(y);
        free(mean);
        free(rstd);
        free(dx);
        free(dg);
        free(db);
        sr_dnnl_ctx_free(&ctx);
    }
}

/* The hand-written layer norm gives bit-identical results on 1 and 2 threads
 * at a size above the parallel threshold. */
static void test_layernorm_same_for_1_and_2_threads(void **state)
{
    (void)state;
    const int64_t T = 300, D = 128;
    const size_t n = (size_t)(T * D);
    sr_rng r;
    sr_rng_seed(&r, 45);
    sr_dnnl_ctx *ctx = tctx(0);
    sr_dnnl_ctx_set_layernorm_impl(ctx, SR_DNNL_IMPL_C); /* oneDNN promises no such thing */
    float *x = trand(&r, n, -2, 2), *gamma = trand(&r, (size_t)D, 0.5f, 1.5f);
    float *beta = trand(&r, (size_t)D, -1, 1), *dy = trand(&r, n, -1, 1);
    float *out[2][6];
    int keep = omp_get_max_threads();
    for (int th = 0; th < 2; th++) {
        float *y = tmalloc(n), *mean = tmalloc((size_t)T), *rstd = tmalloc((size_t)T);
        float *dx = calloc(n, sizeof(float)), *dg = calloc((size_t)D, sizeof(float));
        float *db = calloc((size_t)D, sizeof(float));
        omp_set_num_threads(th + 1);
        TOK(sr_layernorm_forward(ctx, x, gamma, beta, y, mean, rstd, T, D, 1e-5f));
        TOK(sr_layernorm_backward(ctx, x, gamma, mean, rstd, dy, dx, dg, db, T, D, 1e-5f));
        float *o[6] = { y, mean, rstd, dx, dg, db };
        memcpy(out[th], o, sizeof o);
    }
    omp_set_num_threads(keep);
    const size_t sizes[6] = { n, (size_t)T, (size_t)T, n, (size_t)D, (size_t)D };
    for (int k = 0; k < 6; k++) {
        assert_memory_equal(out[0][k], out[1][k], sizes[k] * sizeof(float));
        free(out[0][k]);
        free(out[1][k]);
    }
    free(x);
    free(gamma);
    free(beta);
    free(dy);
    sr_dnnl_ctx_free(&ctx);
}

static void test_layernorm_rejects_bad_arguments(void **state)
{
    (void)state;
    sr_dnnl_ctx *ctx = tctx(0);
    float v[4] = { 1, 2, 3, 4 }, m, s;
    assert_int_equal(sr_layernorm_forward(ctx, v, v, v, v, &m, &s, 1, 4, 0.0f), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "eps"));
    assert_int_equal(sr_layernorm_forward(ctx, v, v, v, v, &m, &s, 1, 4, NAN), SR_ERR_ARG);
    assert_int_equal(sr_layernorm_forward(ctx, v, v, v, v, &m, &s, 0, 4, 1e-5f), SR_ERR_ARG);
    assert_int_equal(sr_layernorm_backward(ctx, v, v, &m, &s, v, v, v, v, 1, -4, 1e-5f),
                     SR_ERR_ARG);
    sr_dnnl_ctx_free(&ctx);
}

/* ---- GELU ------------------------------------------------------------------------------------ */

static double ref_gelu(double x)
{
    return 0.5 * x * erfc(-x / sqrt(2.0));
}

static double ref_gelu_grad(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * 3.14159265358979323846);
}

/* Known values: GELU(0) = 0, GELU(1) = Phi(1) = 0.841344746, GELU(-1) =
 * -Phi(-1) = -0.158655254, GELU'(0) = 1/2, GELU'(1) = Phi(1) + phi(1) =
 * 1.083315470; large |x|: GELU(20) = 20, GELU(-20) = -0 (x Phi(x) ~ 1e-88). */
static void test_gelu_known_values(void **state)
{
    (void)state;
    const float x[6] = { 0.0f, 1.0f, -1.0f, 20.0f, -20.0f, 2.0f };
    float y[6];
    sr_gelu_forward(x, y, 6);
    assert_true(y[0] == 0.0f);
    SR_ASSERT_NEAR(y[1], 0.841344746, 1e-6);
    SR_ASSERT_NEAR(y[2], -0.158655254, 1e-6);
    assert_true(y[3] == 20.0f);
    assert_true(y[4] == 0.0f);
    SR_ASSERT_NEAR(y[5], 1.954499736, 1e-6); /* 2 Phi(2) */
    float one[2] = { 1, 1 }, d[2] = { 0, 0 };
    sr_gelu_backward(x, one, d, 2);
    SR_ASSERT_NEAR(d[0], 0.5, 1e-7);
    SR_ASSERT_NEAR(d[1], 1.083315470, 1e-6);
    float nan_in = NAN, nan_out = 0;
    sr_gelu_forward(&nan_in, &nan_out, 1);
    assert_true(isnan(nan_out));
}

/* Dense grid against erfc in double. Forward: relative error <= 1e-6 for
 * x >= -3, <= 5e-6 for -10 <= x < -3, where the float rounding of x^2/2
 * (|x^2/2| up to 50, half an ulp ~2e-6) enters e^(-x^2/2) as a relative
 * error; GELU there is below 1e-2 * |x| * 1e-3 and irrelevant to training.
 * Backward: |error| <= 4e-7 + 1e-6 |GELU'(x)| (GELU' crosses 0 at x ~ -0.75,
 * so a purely relative bound is meaningless). */
static void test_gelu_matches_erfc_reference(void **state)
{
    (void)state;
    const size_t n = 200001;
    float *x = tmalloc(n), *y = tmalloc(n), *ones = tmalloc(n), *d = calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(-10.0 + 20.0 * (double)i / (double)(n - 1));
        ones[i] = 1.0f;
    }
    sr_gelu_forward(x, y, n);
    sr_gelu_backward(x, ones, d, n);
    double worst_core = 0, worst_tail = 0;
    for (size_t i = 0; i < n; i++) {
        double ref = ref_gelu(x[i]);
        double rel = ref != 0 ? fabs(y[i] - ref) / fabs(ref) : fabs(y[i]);
        if (x[i] >= -3.0f)
            worst_core = fmax(worst_core, rel);
        else
            worst_tail = fmax(worst_tail, rel);
        double g = ref_gelu_grad(x[i]);
        if (!(fabs(d[i] - g) <= 4e-7 + 1e-6 * fabs(g)))
            fail_msg("GELU'(%.9g) = %.9g, want %.9g", (double)x[i], (double)d[i], g);
    }
    if (!(worst_core <= 1e-6) || !(worst_tail <= 5e-6))
        fail_msg("GELU relative error %.3g (x >= -3), %.3g (x < -3)", worst_core, worst_tail);
    free(x);
    free(y);
    free(ones);
    free(d);
}

typedef struct gelu_gc {
    float *x, *y, *w;
    size_t n;
} gelu_gc;

static double gelu_loss(void *p)
{
    gelu_gc *g = p;
    sr_gelu_forward(g->x, g->y, g->n);
    return sr_gc_dot(g->y, g->w, g->n);
}

static void test_gelu_backward_gradcheck(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 51);
    gelu_gc g = { .n = 101 };
    g.x = trand(&r, g.n, -4, 4);
    g.y = tmalloc(g.n);
    g.w = trand(&r, g.n, -1, 1);
    float *dx = calloc(g.n, sizeof(float));
    sr_gelu_backward(g.x, g.w, dx, g.n);
    /* each entry of L depends on one x: truncation eps^2 GELU''' / 6 ~ 1e-7,
     * rounding of L (~1e-7 * sqrt(n)) / 2e-3 ~ 5e-4 */
    sr_gc_check("gelu dx", g.x, dx, g.n, gelu_loss, &g, 1e-3f, 1e-3, 1e-2, 1000);
    free(dx);
    free(g.x);
    free(g.y);
    free(g.w);
}

static void test_gelu_backward_accumulates(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 52);
    const size_t n = 77;
    float *x = trand(&r, n, -5, 5), *dy = trand(&r, n, -1, 1), *dx = trand(&r, n, -1, 1);
    double *want = dmalloc(n);
    for (size_t i = 0; i < n; i++)
        want[i] = dx[i] + (double)dy[i] * ref_gelu_grad(x[i]);
    sr_gelu_backward(x, dy, dx, n);
    assert_close("gelu dx accumulated", dx, want, n, 1e-6, 1e-6);
    free(want);
    free(x);
    free(dy);
    free(dx);
}

/* In place forward (y == x) and bit-identical results for 1 and 2 threads
 * above the parallel threshold. */
static void test_gelu_inplace_and_thread_count(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 53);
    const size_t n = 100003;
    float *x = trand(&r, n, -6, 6), *dy = trand(&r, n, -1, 1);
    float *y1 = tmalloc(n), *y2 = tmalloc(n);
    float *d1 = calloc(n, sizeof(float)), *d2 = calloc(n, sizeof(float));
    int keep = omp_get_max_threads();
    omp_set_num_threads(1);
    sr_gelu_forward(x, y1, n);
    sr_gelu_backward(x, dy, d1, n);
    omp_set_num_threads(2);
    sr_gelu_forward(x, y2, n);
    sr_gelu_backward(x, dy, d2, n);
    omp_set_num_threads(keep);
    assert_memory_equal(y1, y2, n * sizeof(float));
    assert_memory_equal(d1, d2, n * sizeof(float));
    float *inplace = tcopy(x, n);
    sr_gelu_forward(inplace, inplace, n);
    assert_memory_equal(inplace, y1, n * sizeof(float));
    free(inplace);
    free(x);
    free(dy);
    free(y1);
    free(y2);
    free(d1);
    free(d2);
}

/* oneDNN's eltwise gelu_erf and the hand-written GELU agree (two independent
 * erf approximations), and the oneDNN backward accumulates. */
static void test_gelu_agrees_with_onednn(void **state)
{
    (void)state;
    sr_rng r;
    sr_rng_seed(&r, 54);
    const size_t n = 4099;
    sr_dnnl_ctx *ctx = tctx(0);
    float *x = trand(&r, n, -6, 6), *dy = trand(&r, n, -1, 1);
    float *y = tmalloc(n), *yd = tmalloc(n);
    float *d = trand(&r, n, -1, 1);
    float *dd = tcopy(d, n);
    sr_gelu_forward(x, y, n);
    TOK(sr_dnnl_gelu_forward(ctx, x, yd, n));
    sr_gelu_backward(x, dy, d, n);
    TOK(sr_dnnl_gelu_backward(ctx, x, dy, dd, n));
    double *want = dmalloc(n), *wantd = dmalloc(n);
    for (size_t i = 0; i < n; i++) {
        want[i] = y[i];
        wantd[i] = d[i];
    }
    assert_close("oneDNN gelu vs hand-written", yd, want, n, 1e-6, 1e-6);
    assert_close("oneDNN gelu' vs hand-written", dd, wantd, n, 2e-6, 2e-6);
    assert_int_equal(sr_dnnl_gelu_forward(ctx, x, y, 0), SR_ERR_ARG);
    free(want);
    free(wantd);
    free(x);
    free(dy);
    free(y);
    free(yd);
    free(d);
    free(dd);
    sr_dnnl_ctx_free(&ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_nt_matches_naive),
        cmocka_unit_test(test_matmul_nn_matches_naive),
        cmocka_unit_test(test_matmul_tn_matches_naive),
        cmocka_unit_test(test_matmul_nt_hand_computed),
        cmocka_unit_test(test_matmul_chunked_scoring_matches_full),
        cmocka_unit_test(test_matmul_scoring_backward_gradcheck),
        cmocka_unit_test(test_matmul_empty_sizes),
        cmocka_unit_test(test_matmul_rejects_bad_arguments),
        cmocka_unit_test(test_linear_forward_matches_naive),
        cmocka_unit_test(test_linear_forward_hand_computed),
        cmocka_unit_test(test_linear_backward_matches_naive),
        cmocka_unit_test(test_linear_backward_gradcheck),
        cmocka_unit_test(test_linear_backward_accumulates),
        cmocka_unit_test(test_linear_bias_grad_same_for_1_and_2_threads),
        cmocka_unit_test(test_primitive_reused_for_same_shape),
        cmocka_unit_test(test_cache_evicts_least_recently_used),
        cmocka_unit_test(test_layernorm_forward_matches_naive),
        cmocka_unit_test(test_layernorm_hand_computed),
        cmocka_unit_test(test_layernorm_backward_gradcheck),
        cmocka_unit_test(test_layernorm_backward_matches_naive),
        cmocka_unit_test(test_layernorm_backward_accumulates),
        cmocka_unit_test(test_layernorm_same_for_1_and_2_threads),
        cmocka_unit_test(test_layernorm_rejects_bad_arguments),
        cmocka_unit_test(test_gelu_known_values),
        cmocka_unit_test(test_gelu_matches_erfc_reference),
        cmocka_unit_test(test_gelu_backward_gradcheck),
        cmocka_unit_test(test_gelu_backward_accumulates),
        cmocka_unit_test(test_gelu_inplace_and_thread_count),
        cmocka_unit_test(test_gelu_agrees_with_onednn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
