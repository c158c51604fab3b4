/* sr_dnnl.h - the dense layers of the model: matrix products on oneDNN, layer
 * normalisation and exact GELU. core/sr_dnnl.c is the ONLY file of seqrec that
 * calls oneDNN (STYLE.md); everything else goes through these functions.
 *
 * Dimension legend (sr_tensor.h): T rows of a flattened batch (= B * L),
 * D model width, F feed-forward width, I catalogue size. The generic matrix
 * products use M, N, K: C[M, N] (+)= A[M, K] B[K, N]. In/Out are the input and
 * output widths of a linear layer.
 *
 * Storage: float32, row-major. A "leading dimension" ld is the distance in
 * floats between the starts of two consecutive rows; ld >= the row length, so
 * a caller can pass a column block of a wider matrix or a chunk of rows of the
 * item table without copying.
 *
 * Forward outputs are OVERWRITTEN; every backward ACCUMULATES (+=) into each
 * gradient buffer it is given, and a NULL gradient means "not needed"
 * (sr_tensor.h). No function here allocates once its context has seen the
 * shape (see sr_dnnl_ctx): the first call of a new shape creates a oneDNN
 * primitive and may grow the context's scratch buffers, later calls of that
 * shape only execute.
 *
 * Which op runs on oneDNN and which is hand-written, and the measurements that
 * decided it, are in docs/kernels.md: matrix products and layer norm ->
 * oneDNN; GELU and the bias gradient -> hand-written (the other versions are
 * kept for the benchmark and as independent cross-checks in the tests).
 */
#ifndef SR_DNNL_H
#define SR_DNNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_common.h"

/* ---- context --------------------------------------------------------------- */

/* A oneDNN CPU engine + stream and a cache of primitives keyed by (op kind,
 * shapes, leading dimensions, transposes, accumulate/bias flags, and
 * omp_get_max_threads(), which oneDNN fixes at creation), so that a
 * primitive is created once per shape and reused. The cache holds at most
 * `cache_cap` entries; when it is full the least recently used entry is
 * destroyed (a training loop uses a handful of shapes; chunked scoring adds one
 * per distinct chunk size).
 *
 * Thread safety: a context is NOT thread-safe. Use one context per thread that
 * runs kernels (one per training thread, one per scorer thread); contexts are
 * independent of one another. Inside one call oneDNN and the hand-written
 * kernels parallelise with OpenMP over omp_get_max_threads() threads: for
 * serving, give each scorer thread one OpenMP thread and get parallelism from
 * concurrent requests (STYLE.md). */
typedef struct sr_dnnl_ctx sr_dnnl_ctx;

#define SR_DNNL_CACHE_CAP_DEFAULT 64

/* cache_cap = 0 selects SR_DNNL_CACHE_CAP_DEFAULT; at most 4096. */
sr_err sr_dnnl_ctx_new(size_t cache_cap, sr_dnnl_ctx **out);
void sr_dnnl_ctx_free(sr_dnnl_ctx **ctx);

/* Counters of the primitive cache, for tests and the benchmark. */
typedef struct sr_dnnl_stats {
    uint64_t created;   /* primitives created (cache misses) */
    uint64_t hits;      /* calls served by a cached primitive */
    uint64_t evicted;   /* entries dropped because the cache was full */
    size_t entries;     /* entries cached now (<= cache_cap) */
    size_t scratch_bytes; /* scratch held by the context (oneDNN scratchpad + work) */
} sr_dnnl_stats;

void sr_dnnl_ctx_stats(const sr_dnnl_ctx *ctx, sr_dnnl_stats *out);

/* oneDNN's implementation string of the primitive used by the last oneDNN call
 * on this context ("" before the first), e.g. "gemm:jit" or
 * "brg:avx512_core". Creating a primitive whose implementation is a reference
 * one ("ref:...", ~100x slower) is logged at WARN level. Valid until the
 * primitive is evicted or the context freed. */
const char *sr_dnnl_ctx_last_impl(const sr_dnnl_ctx *ctx);

/* Which implementation sr_layernorm_forward/backward use on this context.
 * AUTO is the measured winner, oneDNN's layer normalisation (docs/kernels.md;
 * its backward overwrites, so it runs into a [T, D] work buffer held by the
 * context and is then added). C is the hand-written version: slower, but
 * bit-identical for every thread count and without the work buffer. */
typedef enum sr_dnnl_impl {
    SR_DNNL_IMPL_AUTO = 0,
    SR_DNNL_IMPL_C,
    SR_DNNL_IMPL_ONEDNN
} sr_dnnl_impl;

void sr_dnnl_ctx_set_layernorm_impl(sr_dnnl_ctx *ctx, sr_dnnl_impl impl);

/* ---- matrix products (oneDNN matmul) ----------------------------------------
 * All three compute C[M, N] = op(A) op(B), or C += op(A) op(B) when
 * `accumulate` is true (oneDNN's sum post-op, so no extra pass over C).
 * M, N, K >= 0 (an empty product leaves C alone, or zeroes it when K = 0 and
 * not accumulating). C must not overlap A or B.
 * Errors: SR_ERR_ARG for a negative size or a leading dimension shorter than
 * its row; SR_ERR_NOMEM; SR_ERR_INTERNAL when oneDNN refuses the shape. */

/* C (+)= A B^T.  A: [M, K] row stride lda >= K.  Bm: [N, K] row stride ldb >= K.
 * C: [M, N] row stride ldc >= N.
 * Scoring a chunk of the item table: scores[T, C] = h[T, D] E[i0:i0+C, D]^T is
 * sr_matmul_nt(ctx, h, D, E + i0 * D, D, scores, ldc, T, C, D, false). */
sr_err sr_matmul_nt(sr_dnnl_ctx *ctx, const float *A, int64_t lda, const float *Bm, int64_t ldb,
                    float *C, int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate);

/* C (+)= A B.  A: [M, K] row stride lda >= K.  B: [K, N] row stride ldb >= N.
 * C: [M, N] row stride ldc >= N.
 * Backward of scoring to h: dh[T, D] += dscores[T, C] E[i0:i0+C, D] is
 * sr_matmul_nn(ctx, dscores, ldc, E + i0 * D, D, dh, D, T, D, C, true). */
sr_err sr_matmul_nn(sr_dnnl_ctx *ctx, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float *C, int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate);

/* C (+)= A^T B.  A: [K, M] row stride lda >= M (stored transposed).
 * B: [K, N] row stride ldb >= N.  C: [M, N] row stride ldc >= N.
 * Backward of scoring to the table: dE[i0:i0+C, D] += dscores[T, C]^T h[T, D] is
 * sr_matmul_tn(ctx, dscores, ldc, h, D, dE + i0 * D, D, C, D, T, true). */
sr_err sr_matmul_tn(sr_dnnl_ctx *ctx, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float *C, int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate);

/* ---- linear layer (PyTorch layout) -------------------------------------------
 * y = x W^T + b.
 *   x: [T, In]   W: [Out, In]   b: [Out] or NULL   y: [T, Out] (overwritten)
 * T, In, Out > 0. */
sr_err sr_linear_forward(sr_dnnl_ctx *ctx, const float *x, const float *W, const float *b,
                         float *y, int64_t T, int64_t In, int64_t Out);

/* Backward of sr_linear_forward, accumulating:
 *   dx += dy W      dx: [T, In] or NULL
 *   dW += dy^T x    dW: [Out, In] or NULL
 *   db += sum_t dy  db: [Out] or NULL (summed in double, by column, so the
 *                   result does not depend on the thread count)
 *   x: [T, In]   W: [Out, In]   dy: [T, Out] */
sr_err sr_linear_backward(sr_dnnl_ctx *ctx, const float *x, const float *W, const float *dy,
                          float *dx, float *dW, float *db, int64_t T, int64_t In, int64_t Out);

/* ---- layer normalisation (over the last dimension, as nn.LayerNorm(D)) --------
 * y = (x - mean) * rstd * gamma + beta, mean and variance (biased, / D) per row,
 * rstd = 1 / sqrt(var + eps).
 *   x: [T, D]   gamma: [D]   beta: [D]   y: [T, D] (overwritten)
 *   mean: [T], rstd: [T]  (overwritten; saved for the backward)
 * T, D > 0, eps > 0. Row statistics are summed in double. */
sr_err sr_layernorm_forward(sr_dnnl_ctx *ctx, const float *x, const float *gamma,
                            const float *beta, float *y, float *mean, float *rstd, int64_t T,
                            int64_t D, float eps);

/* Backward, accumulating, from the forward's saved mean and rstd:
 *   dx += dL/dx      dx: [T, D] or NULL
 *   dgamma += sum_t dy * xhat   dgamma: [D] or NULL
 *   dbeta += sum_t dy           dbeta: [D] or NULL
 *   x: [T, D]  gamma: [D]  mean: [T]  rstd: [T]  dy: [T, D]
 * eps must be the forward's (the oneDNN implementation needs the variance). */
sr_err sr_layernorm_backward(sr_dnnl_ctx *ctx, const float *x, const float *gamma,
                             const float *mean, const float *rstd, const float *dy, float *dx,
                             float *dgamma, float *dbeta, int64_t T, int64_t D, float eps);

/* ---- GELU, exact erf form (PyTorch's default nn.GELU()) ------------------------
 * y = x * Phi(x) = x/2 * erfc(-x/sqrt(2)). Hand-written, vectorised (runtime ISA
 * dispatch) and OpenMP-parallel above a size threshold; element-wise, so the
 * result does not depend on the thread count. Against erfc in double
 * (tests/unit/test_dnnl.c): relative error <= 1e-6 for x >= -3 and <= 5e-6
 * for -10 <= x < -3 (the negative tail keeps relative accuracy); y = 0 below
 * x ~ -13, where x * Phi(x) leaves the float range; NaN in, NaN out.
 *   x: [n]  y: [n] (overwritten; y == x allowed)  */
void sr_gelu_forward(const float *x, float *y, size_t n);

/* dx += dy * GELU'(x),  GELU'(x) = Phi(x) + x * phi(x), with
 * |error of GELU'| <= 4e-7 + 1e-6 |GELU'(x)| for |x| <= 10.
 *   x: [n] (the forward's input)  dy: [n]  dx: [n] */
void sr_gelu_backward(const float *x, const float *dy, float *dx, size_t n);

/* oneDNN's eltwise gelu_erf, same contracts as above; kept to benchmark against
 * and to cross-check the hand-written version. The backward runs into the
 * context's work buffer and then adds, since oneDNN overwrites diff_src. */
sr_err sr_dnnl_gelu_forward(sr_dnnl_ctx *ctx, const float *x, float *y, size_t n);
sr_err sr_dnnl_gelu_backward(sr_dnnl_ctx *ctx, const float *x, const float *dy, float *dx,
                             size_t n);

#endif /* SR_DNNL_H */
