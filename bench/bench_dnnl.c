/* bench_dnnl.c - the dense layers of core/sr_dnnl.c against simple C loops
 * (docs/kernels.md records what it printed).
 *
 *   bench_dnnl [THREADS...]     default: 1 2
 *   env BENCH_ITEMS=100000 (catalogue size for scoring), BENCH_REPS=5,
 *       BENCH_OPS=linear,layernorm,gelu,scoring (which groups to run)
 *
 * One JSON line per (op, implementation, thread count): best and mean
 * milliseconds over BENCH_REPS runs (20x as many for the sub-millisecond
 * layer norm and GELU, at most 3 for scoring) after one warm-up run (which
 * creates the oneDNN primitives), GFLOP/s for the products, oneDNN's implementation
 * string, and the largest difference from the other implementation (a
 * benchmark of a wrong kernel is worthless).
 *
 * Shapes (SPEC.md section 3): T = B * L = 256 * 20 = 5120 rows, D = 128,
 * F = 128; scoring is h[T, D] against the item table E[I, D] in chunks of
 * 4096 items, as the full-softmax loss consumes it.
 *
 * The C baselines are what one would write by hand: cache-blocked loops
 * whose inner loop is a vectorised axpy over a contiguous row, compiled for
 * the widest ISA the CPU has (runtime dispatch, like the library's own
 * kernels), OpenMP over output rows. Not a test: nothing here asserts a speed. */
#include "sr_dnnl.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define BENCH_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BENCH_CLONES
#endif

enum { BENCH_T = 5120, BENCH_D = 128, BENCH_F = 128, BENCH_CHUNK = 4096 };

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *bench_alloc(size_t n)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "bench_dnnl: out of memory (%zu floats)\n", n);
        exit(1);
    }
    return p;
}

static void bench_fill(float *p, size_t n, unsigned seed)
{
    uint64_t s = 0x9e3779b97f4a7c15ull * (seed + 1);
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        p[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
}

static double bench_maxdiff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

static void bench_check(sr_err e)
{
    if (e != SR_OK) {
        fprintf(stderr, "bench_dnnl: %s\n", sr_errmsg());
        exit(1);
    }
}

/* ---- C baselines ------------------------------------------------------------------ */

/* C[M, N] (+)= A[M, K] B[K, N], all row-major and contiguous; rows of C are
 * split over threads, k blocked so a block of B stays in cache. */
BENCH_CLONES
static void base_mm_rows(const float *A, const float *B, float *C, int64_t m0, int64_t m1,
                         int64_t N, int64_t K, int accumulate)
{
    enum { KB = 64 };
    if (!accumulate)
        memset(C + m0 * N, 0, (size_t)((m1 - m0) * N) * sizeof(float));
    for (int64_t k0 = 0; k0 < K; k0 += KB) {
        int64_t k1 = k0 + KB < K ? k0 + KB : K;
        for (int64_t m = m0; m < m1; m++) {
            float *c = C + m * N;
            for (int64_t k = k0; k < k1; k++) {
                float a = A[m * K + k];
                const float *b = B + k * N;
#pragma omp simd
                for (int64_t n = 0; n < N; n++)
                    c[n] += a * b[n];
            }
        }
    }
}

static void base_mm(const float *A, const float *B, float *C, int64_t M, int64_t N, int64_t K,
                    int accumulate)
{
#pragma omp parallel
    {
        int ith = omp_get_thread_num(), nth = omp_get_num_threads();
        base_mm_rows(A, B, C, M * ith / nth, M * (ith + 1) / nth, N, K, accumulate);
    }
}

/* dst[C, R] = src[R, C]^T, blocked. */
static void base_transpose(const float *src, float *dst, int64_t R, int64_t C)
{
    enum { TB = 32 };
#pragma omp parallel for schedule(static)
    for (int64_t r0 = 0; r0 < R; r0 += TB)
        for (int64_t c0 = 0; c0 < C; c0 += TB)
            for (int64_t r = r0; r < r0 + TB && r < R; r++)
                for (int64_t c = c0; c < c0 + TB && c < C; c++)
                    dst[c * R + r] = src[r * C + c];
}

/* dW[Out, In] += dy[T, Out]^T x[T, In]: rows of dW split over threads. */
BENCH_CLONES
static void base_dw_rows(const float *x, const float *dy, float *dW, int64_t o0, int64_t o1,
                         int64_t T, int64_t In, int64_t Out)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t o = o0; o < o1; o++) {
            float a = dy[t * Out + o];
            float *w = dW + o * In;
            const float *xr = x + t * In;
#pragma omp simd
            for (int64_t i = 0; i < In; i++)
                w[i] += a * xr[i];
        }
}

/* Linear forward + backward by hand. Wt: [In, Out] scratch for W^T. */
static void base_linear(const float *x, const float *W, const float *b, float *y, const float *dy,
                        float *dx, float *dW, float *db, float *Wt, int64_t T, int64_t In,
                        int64_t Out)
{
    base_transpose(W, Wt, Out, In);
    base_mm(x, Wt, y, T, Out, In, 0);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; t++)
        for (int64_t o = 0; o < Out; o++)
            y[t * Out + o] += b[o];
    base_mm(dy, W, dx, T, In, Out, 1);
#pragma omp parallel
    {
        int ith = omp_get_thread_num(), nth = omp_get_num_threads();
        base_dw_rows(x, dy, dW, Out * ith / nth, Out * (ith + 1) / nth, T, In, Out);
    }
    for (int64_t t = 0; t < T; t++)
        for (int64_t o = 0; o < Out; o++)
            db[o] += dy[t * Out + o];
}

/* GELU with libm's scalar erff: the obvious hand-written version. */
static void base_gelu_libm(const float *x, float *y, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* ---- reporting ----------------------------------------------------------------------- */

typedef struct bench_time {
    double best_ms, mean_ms;
} bench_time;

static void bench_print(const char *op, const char *impl, int threads, bench_time t, double flops,
                        const char *impl_str, double maxdiff, const char *shape)
{
    printf("{\"op\": \"%s\", \"impl\": \"%s\", \"threads\": %d, %s, \"best_ms\": %.3f, "
           "\"mean_ms\": %.3f",
           op, impl, threads, shape, t.best_ms, t.mean_ms);
    if (flops > 0)
        printf(", \"gflops\": %.1f", flops / (t.best_ms * 1e-3) / 1e9);
    if (impl_str)
        printf(", \"onednn_impl\": \"%s\"", impl_str);
    if (maxdiff >= 0)
        printf(", \"max_abs_diff\": %.3g", maxdiff);
    printf("}\n");
    fflush(stdout);
}

/* ---- the runs ------------------------------------------------------------------------------ */

typedef struct bench_bufs {
    int64_t T, D, F, I;
    float *x, *W, *b, *y, *dy, *dx, *dW, *db, *Wt;    /* linear */
    float *y2, *dx2, *dW2, *db2;                       /* second implementation */
    float *E, *S, *S2, *Et, *dh;                        /* scoring */
    float *gamma, *beta, *mean, *rstd;                 /* layer norm */
} bench_bufs;

static void bench_zero_grads(bench_bufs *B, float *dx, float *dW, float *db)
{
    memset(dx, 0, (size_t)(B->T * B->D) * sizeof(float));
    memset(dW, 0, (size_t)(B->F * B->D) * sizeof(float));
    memset(db, 0, (size_t)B->F * sizeof(float));
}

static void bench_linear(sr_dnnl_ctx *ctx, bench_bufs *B, int threads, int reps)
{
    char shape[96];
    snprintf(shape, sizeof shape, "\"T\": %lld, \"In\": %lld, \"Out\": %lld", (long long)B->T,
             (long long)B->D, (long long)B->F);
    double flops = 6.0 * (double)B->T * (double)B->D * (double)B->F;
    bench_time t[2] = { { 1e30, 0 }, { 1e30, 0 } };
    for (int r = 0; r <= reps; r++) {
        bench_zero_grads(B, B->dx, B->dW, B->db);
        double t0 = bench_now();
        bench_check(sr_linear_forward(ctx, B->x, B->W, B->b, B->y, B->T, B->D, B->F));
        bench_check(sr_linear_backward(ctx, B->x, B->W, B->dy, B->dx, B->dW, B->db, B->T, B->D,
                                       B->F));
        double t1 = bench_now();
        bench_zero_grads(B, B->dx2, B->dW2, B->db2);
        double t2 = bench_now();
        base_linear(B->x, B->W, B->b, B->y2, B->dy, B->dx2, B->dW2, B->db2, B->Wt, B->T, B->D,
                    B->F);
        double t3 = bench_now();
        if (r == 0)
            continue; /* warm-up: primitive creation, page faults */
        double ms[2] = { (t1 - t0) * 1e3, (t3 - t2) * 1e3 };
        for (int k = 0; k < 2; k++) {
            t[k].best_ms = fmin(t[k].best_ms, ms[k]);
            t[k].mean_ms += ms[k] / reps;
        }
    }
    double diff = fmax(bench_maxdiff(B->y, B->y2, (size_t)(B->T * B->F)),
                       fmax(bench_maxdiff(B->dx, B->dx2, (size_t)(B->T * B->D)),
                            bench_maxdiff(B->dW, B->dW2, (size_t)(B->F * B->D))));
    bench_print("linear_fwd_bwd", "onednn", threads, t[0], flops, sr_dnnl_ctx_last_impl(ctx), diff,
                shape);
    bench_print("linear_fwd_bwd", "c_blocked", threads, t[1], flops, NULL, diff, shape);
}

static void bench_scoring(sr_dnnl_ctx *ctx, bench_bufs *B, int threads, int reps)
{
    char shape[128];
    snprintf(shape, sizeof shape, "\"T\": %lld, \"D\": %lld, \"I\": %lld, \"chunk\": %d",
             (long long)B->T, (long long)B->D, (long long)B->I, BENCH_CHUNK);
    double flops = 2.0 * (double)B->T * (double)B->D * (double)B->I;
    /* scoring is the big one: fewer repetitions */
    int sreps = reps < 3 ? reps : 3;
    bench_time t[3] = { { 1e30, 0 }, { 1e30, 0 }, { 1e30, 0 } };
    double diff = 0;
    const char *impl = "";
    for (int r = 0; r <= sreps; r++) {
        double ms[3] = { 0, 0, 0 };
        for (int64_t i0 = 0; i0 < B->I; i0 += BENCH_CHUNK) {
            int64_t c = B->I - i0 < BENCH_CHUNK ? B->I - i0 : BENCH_CHUNK;
            const float *Ec = B->E + i0 * B->D;
            double t0 = bench_now();
            bench_check(sr_matmul_nt(ctx, B->x, B->D, Ec, B->D, B->S, c, B->T, c, B->D, false));
            double t1 = bench_now();
            impl = sr_dnnl_ctx_last_impl(ctx);
            /* the C loop needs the chunk transposed to [D, c] (counted) */
            base_transpose(Ec, B->Et, c, B->D);
            base_mm(B->x, B->Et, B->S2, B->T, c, B->D, 0);
            double t2 = bench_now();
            /* backward of the chunk on oneDNN: dh += dS E, dE += dS^T h (dS = S) */
            bench_check(sr_matmul_nn(ctx, B->S, c, Ec, B->D, B->dh, B->D, B->T, B->D, c, true));
            bench_check(sr_matmul_tn(ctx, B->S, c, B->x, B->D, B->Et, B->D, c, B->D, B->T,
                                     false));
            double t3 = bench_now();
            ms[0] += (t1 - t0) * 1e3;
            ms[1] += (t2 - t1) * 1e3;
            ms[2] += (t3 - t2) * 1e3;
            if (r == sreps && i0 == 0)
                diff = bench_maxdiff(B->S, B->S2, (size_t)(B->T * c));
        }
        if (r == 0)
            continue;
        for (int k = 0; k < 3; k++) {
            t[k].best_ms = fmin(t[k].best_ms, ms[k]);
            t[k].mean_ms += ms[k] / sreps;
        }
    }
    bench_print("scoring_fwd", "onednn", threads, t[0], flops, impl, diff, shape);
    bench_print("scoring_fwd", "c_blocked", threads, t[1], flops, NULL, diff, shape);
    bench_print("scoring_bwd_nn_tn", "onednn", threads, t[2], 2 * flops, NULL, -1, shape);
}

static void bench_layernorm(sr_dnnl_ctx *ctx, bench_bufs *B, int threads, int reps)
{
    char shape[64];
    snprintf(shape, sizeof shape, "\"T\": %lld, \"D\": %lld", (long long)B->T, (long long)B->D);
    const sr_dnnl_impl impls[2] = { SR_DNNL_IMPL_C, SR_DNNL_IMPL_ONEDNN };
    const char *names[2] = { "c", "onednn" };
    float *outs[2][2] = { { B->y, B->dx }, { B->y2, B->dx2 } };
    bench_time tf[2] = { { 1e30, 0 }, { 1e30, 0 } }, tb[2] = { { 1e30, 0 }, { 1e30, 0 } };
    const char *impl_str = "";
    for (int r = 0; r <= reps; r++)
        for (int k = 0; k < 2; k++) {
            sr_dnnl_ctx_set_layernorm_impl(ctx, impls[k]);
            memset(outs[k][1], 0, (size_t)(B->T * B->D) * sizeof(float));
            memset(B->dW, 0, 2 * (size_t)B->D * sizeof(float));
            double t0 = bench_now();
            bench_check(sr_layernorm_forward(ctx, B->x, B->gamma, B->beta, outs[k][0], B->mean,
                                             B->rstd, B->T, B->D, 1e-5f));
            double t1 = bench_now();
            bench_check(sr_layernorm_backward(ctx, B->x, B->gamma, B->mean, B->rstd, B->dy,
                                              outs[k][1], B->dW, B->dW + B->D, B->T, B->D,
                                              1e-5f));
            double t2 = bench_now();
            if (k == 1)
                impl_str = sr_dnnl_ctx_last_impl(ctx);
            if (r == 0)
                continue;
            tf[k].best_ms = fmin(tf[k].best_ms, (t1 - t0) * 1e3);
            tf[k].mean_ms += (t1 - t0) * 1e3 / reps;
            tb[k].best_ms = fmin(tb[k].best_ms, (t2 - t1) * 1e3);
            tb[k].mean_ms += (t2 - t1) * 1e3 / reps;
        }
    sr_dnnl_ctx_set_layernorm_impl(ctx, SR_DNNL_IMPL_AUTO);
    double dy = bench_maxdiff(B->y, B->y2, (size_t)(B->T * B->D));
    double ddx = bench_maxdiff(B->dx, B->dx2, (size_t)(B->T * B->D));
    for (int k = 0; k < 2; k++) {
        bench_print("layernorm_fwd", names[k], threads, tf[k], 0, k ? impl_str : NULL, dy, shape);
        bench_print("layernorm_bwd", names[k], threads, tb[k], 0, k ? impl_str : NULL, ddx,
                    shape);
    }
}

static void bench_gelu(sr_dnnl_ctx *ctx, bench_bufs *B, int threads, int reps)
{
    size_t n = (size_t)(B->T * B->F);
    char shape[48];
    snprintf(shape, sizeof shape, "\"n\": %zu", n);
    /* 0: hand-written, 1: oneDNN eltwise, 2: libm erff (forward only) */
    bench_time tf[3] = { { 1e30, 0 }, { 1e30, 0 }, { 1e30, 0 } };
    bench_time tb[2] = { { 1e30, 0 }, { 1e30, 0 } };
    const char *impl_str = "";
    float *x = B->y; /* GELU's input is the first FFN linear's output */
    bench_fill(x, n, 99);
    for (size_t i = 0; i < n; i++)
        x[i] *= 4.0f;
    for (int r = 0; r <= reps; r++) {
        memset(B->dx, 0, n * sizeof(float));
        memset(B->dx2, 0, n * sizeof(float));
        double t0 = bench_now();
        sr_gelu_forward(x, B->S, n);
        double t1 = bench_now();
        sr_gelu_backward(x, B->dy, B->dx, n);
        double t2 = bench_now();
        bench_check(sr_dnnl_gelu_forward(ctx, x, B->S2, n));
        double t3 = bench_now();
        impl_str = sr_dnnl_ctx_last_impl(ctx);
        bench_check(sr_dnnl_gelu_backward(ctx, x, B->dy, B->dx2, n));
        double t4 = bench_now();
        base_gelu_libm(x, B->y2, n);
        double t5 = bench_now();
        if (r == 0)
            continue;
        double f[3] = { t1 - t0, t3 - t2, t5 - t4 }, b[2] = { t2 - t1, t4 - t3 };
        for (int k = 0; k < 3; k++) {
            tf[k].best_ms = fmin(tf[k].best_ms, f[k] * 1e3);
            tf[k].mean_ms += f[k] * 1e3 / reps;
        }
        for (int k = 0; k < 2; k++) {
            tb[k].best_ms = fmin(tb[k].best_ms, b[k] * 1e3);
            tb[k].mean_ms += b[k] * 1e3 / reps;
        }
    }
    double dfwd = bench_maxdiff(B->S, B->S2, n), dlibm = bench_maxdiff(B->S, B->y2, n);
    double dbwd = bench_maxdiff(B->dx, B->dx2, n);
    bench_print("gelu_fwd", "c", threads, tf[0], 0, NULL, dfwd, shape);
    bench_print("gelu_fwd", "onednn", threads, tf[1], 0, impl_str, dfwd, shape);
    bench_print("gelu_fwd", "c_libm_erff", threads, tf[2], 0, NULL, dlibm, shape);
    bench_print("gelu_bwd", "c", threads, tb[0], 0, NULL, dbwd, shape);
    bench_print("gelu_bwd", "onednn", threads, tb[1], 0, impl_str, dbwd, shape);
}

int main(int argc, char **argv)
{
    int threads[8], nthreads = 0;
    for (int i = 1; i < argc && nthreads < 8; i++) {
        int t = atoi(argv[i]);
        if (t < 1 || t > 256) {
            fprintf(stderr, "usage: bench_dnnl [THREADS...]  (each 1..256)\n");
            return 2;
        }
        threads[nthreads++] = t;
    }
    if (nthreads == 0) {
        threads[0] = 1;
        threads[1] = 2;
        nthreads = 2;
    }
    const char *env_items = getenv("BENCH_ITEMS"), *env_reps = getenv("BENCH_REPS");
    int64_t items = env_items ? atoll(env_items) : 100000;
    int reps = env_reps ? atoi(env_reps) : 5;
    if (items < 1 || reps < 1) {
        fprintf(stderr, "bench_dnnl: BENCH_ITEMS and BENCH_REPS must be >= 1\n");
        return 2;
    }

    bench_bufs B = { .T = BENCH_T, .D = BENCH_D, .F = BENCH_F, .I = items };
    size_t TD = (size_t)(B.T * B.D), TF = (size_t)(B.T * B.F), FD = (size_t)(B.F * B.D);
    size_t TC = (size_t)B.T * BENCH_CHUNK;
    B.x = bench_alloc(TD);
    B.W = bench_alloc(FD);
    B.b = bench_alloc((size_t)B.F);
    B.y = bench_alloc(TF > TD ? TF : TD);
    B.dy = bench_alloc(TF > TD ? TF : TD);
    B.dx = bench_alloc(TF > TD ? TF : TD);
    B.dW = bench_alloc(FD > 2 * (size_t)B.D ? FD : 2 * (size_t)B.D);
    B.db = bench_alloc((size_t)B.F);
    B.Wt = bench_alloc(FD);
    B.y2 = bench_alloc(TF > TD ? TF : TD);
    B.dx2 = bench_alloc(TF > TD ? TF : TD);
    B.dW2 = bench_alloc(FD);
    B.db2 = bench_alloc((size_t)B.F);
    B.E = bench_alloc((size_t)B.I * (size_t)B.D);
    B.S = bench_alloc(TC > TF ? TC : TF);
    B.S2 = bench_alloc(TC > TF ? TC : TF);
    B.Et = bench_alloc((size_t)BENCH_CHUNK * (size_t)B.D);
    B.dh = bench_alloc(TD);
    B.gamma = bench_alloc((size_t)B.D);
    B.beta = bench_alloc((size_t)B.D);
    B.mean = bench_alloc((size_t)B.T);
    B.rstd = bench_alloc((size_t)B.T);
    bench_fill(B.x, TD, 1);
    bench_fill(B.W, FD, 2);
    bench_fill(B.b, (size_t)B.F, 3);
    bench_fill(B.dy, TF > TD ? TF : TD, 4);
    bench_fill(B.E, (size_t)B.I * (size_t)B.D, 5);
    bench_fill(B.gamma, (size_t)B.D, 6);
    bench_fill(B.beta, (size_t)B.D, 7);
    memset(B.dh, 0, TD * sizeof(float));

    sr_dnnl_ctx *ctx = NULL;
    bench_check(sr_dnnl_ctx_new(0, &ctx));
    const char *ops = getenv("BENCH_OPS");
    if (!ops)
        ops = "linear,layernorm,gelu,scoring";
    for (int k = 0; k < nthreads; k++) {
        omp_set_num_threads(threads[k]);
        if (strstr(ops, "linear"))
            bench_linear(ctx, &B, threads[k], reps);
        if (strstr(ops, "layernorm"))
            bench_layernorm(ctx, &B, threads[k], 20 * reps);
        if (strstr(ops, "gelu"))
            bench_gelu(ctx, &B, threads[k], 20 * reps);
        if (strstr(ops, "scoring"))
            bench_scoring(ctx, &B, threads[k], reps);
    }
    sr_dnnl_stats st;
    sr_dnnl_ctx_stats(ctx, &st);
    printf("{\"cache\": {\"created\": %llu, \"hits\": %llu, \"evicted\": %llu, \"entries\": %zu, "
           "\"scratch_bytes\": %zu}}\n",
           (unsigned long long)st.created, (unsigned long long)st.hits,
           (unsigned long long)st.evicted, st.entries, st.scratch_bytes);
    sr_dnnl_ctx_free(&ctx);
    float *all[] = { B.x,  B.W,  B.b, B.y,  B.dy, B.dx,    B.dW,   B.db,   B.Wt,   B.y2, B.dx2,
                     B.dW2, B.db2, B.E, B.S, B.S2, B.Et, B.dh, B.gamma, B.beta, B.mean, B.rstd };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    return 0;
}
