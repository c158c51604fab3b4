/* sr_layers.c - embedding lookup, positional embedding, dropout, residual
 * add (contracts in sr_layers.h).
 *
 * Dimension legend: B sequences, L positions, D model width, I catalogue
 * size, T = B * L rows, n elements.
 */
#include "sr_layers.h"

#include <omp.h>
#include <string.h>

#include "sr_rng.h"

/* ---- item embedding ----------------------------------------------------- */

sr_err sr_embedding_check(const int32_t *idx, size_t T, int32_t I)
{
    if (I < 0)
        return sr_errorf(SR_ERR_ARG, "embedding: catalogue size %d is negative", (int)I);
    for (size_t t = 0; t < T; t++)
        if (idx[t] >= I)
            return sr_errorf(SR_ERR_ARG, "embedding: index %d at position %zu is outside [0, %d)",
                             (int)idx[t], t, (int)I);
    return SR_OK;
}

void sr_embedding_forward(const float *table, const int32_t *idx, int T, int D, int I,
                          float *out)
{
    SR_ASSERT(T >= 0 && D > 0 && I >= 0);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *o = out + (size_t)t * (size_t)D;
        const int32_t i = idx[t];
        SR_ASSERT(i < I);
        if (i < 0)
            memset(o, 0, (size_t)D * sizeof *o);
        else
            memcpy(o, table + (size_t)i * (size_t)D, (size_t)D * sizeof *o);
    }
}

void sr_embedding_backward(const float *dout, const int32_t *idx, int T, int D, int I,
                           float *dtable, uint8_t *touched)
{
    SR_ASSERT(T >= 0 && D > 0 && I >= 0);
    /* Scatter-add without atomics: thread ith owns the rows i with
     * i % nth == ith and scans all T indices (cheap: T is a batch) in order. */
#pragma omp parallel
    {
        const int32_t nth = (int32_t)omp_get_num_threads();
        const int32_t ith = (int32_t)omp_get_thread_num();
        for (int t = 0; t < T; t++) {
            const int32_t i = idx[t];
            if (i < 0 || i % nth != ith)
                continue;
            SR_ASSERT(i < I);
            float *g = dtable + (size_t)i * (size_t)D;
            const float *src = dout + (size_t)t * (size_t)D;
#pragma omp simd
            for (int d = 0; d < D; d++)
                g[d] += src[d];
            if (touched)
                touched[i] = 1;
        }
    }
}

/* ---- learned positional embedding --------------------------------------- */

void sr_posemb_forward(const float *x, const float *pos, const uint8_t *valid, int B, int L,
                       int D, float *y)
{
    SR_ASSERT(B >= 0 && L > 0 && D > 0);
    const size_t T = (size_t)B * (size_t)L;
#pragma omp parallel for schedule(static)
    for (size_t t = 0; t < T; t++) {
        const size_t off = t * (size_t)D;
        const float *xr = x + off;
        float *yr = y + off;
        if (valid && !valid[t]) {
            if (yr != xr)
                memcpy(yr, xr, (size_t)D * sizeof *yr);
            continue;
        }
        const float *pr = pos + (t % (size_t)L) * (size_t)D;
#pragma omp simd
        for (int d = 0; d < D; d++)
            yr[d] = xr[d] + pr[d];
    }
}

void sr_posemb_backward(const float *dy, const uint8_t *valid, int B, int L, int D, float *dx,
                        float *dpos)
{
    SR_ASSERT(B >= 0 && L > 0 && D > 0);
    if (dx) {
        const size_t n = (size_t)B * (size_t)L * (size_t)D;
#pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < n; e++)
            dx[e] += dy[e];
    }
    if (!dpos)
        return;
    /* One position per iteration: its row of dpos sums over b in order. */
#pragma omp parallel for schedule(static)
    for (int l = 0; l < L; l++) {
        float *g = dpos + (size_t)l * (size_t)D;
        for (int b = 0; b < B; b++) {
            const size_t t = (size_t)b * (size_t)L + (size_t)l;
            if (valid && !valid[t])
                continue;
            const float *src = dy + t * (size_t)D;
#pragma omp simd
            for (int d = 0; d < D; d++)
                g[d] += src[d];
        }
    }
}

/* ---- dropout ------------------------------------------------------------- */

/* splitmix64's finaliser: a bijective 64-bit mix (Steele et al. 2014). */
static inline uint64_t sr_dropout_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The seed of one block's stream. Each field goes through the mix before the
 * next is folded in, so (seed, step) = (1, 2) and (2, 1) differ. */
static inline uint64_t sr_dropout_block_seed(uint64_t seed, uint64_t step, uint64_t site,
                                             uint64_t block)
{
    uint64_t h = sr_dropout_mix(seed + 0x9e3779b97f4a7c15ull);
    h = sr_dropout_mix(h ^ step);
    h = sr_dropout_mix(h ^ site);
    return sr_dropout_mix(h ^ block);
}

/* 1 / (1 - p) rounded once to float, shared by forward and backward so the
 * two apply exactly the same factor. */
static inline float sr_dropout_scale(float p)
{
    return (float)(1.0 / (1.0 - (double)p));
}

void sr_dropout_mask(uint8_t *mask, size_t n, float p, uint64_t seed, uint64_t step,
                     uint64_t site)
{
    SR_ASSERT(p >= 0.0f && p < 1.0f);
    if (p == 0.0f) {
        memset(mask, 1, n);
        return;
    }
    const size_t blocks = (n + SR_DROPOUT_BLOCK - 1) / SR_DROPOUT_BLOCK;
    const double pd = (double)p;
#pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < blocks; blk++) {
        sr_rng r;
        sr_rng_seed(&r, sr_dropout_block_seed(seed, step, site, (uint64_t)blk));
        const size_t e0 = blk * SR_DROPOUT_BLOCK;
        const size_t e1 = SR_MIN(n, e0 + SR_DROPOUT_BLOCK);
        for (size_t e = e0; e < e1; e++)
            mask[e] = sr_rng_uniform(&r) < pd ? 0 : 1;
    }
}

void sr_dropout_forward(const float *x, const uint8_t *mask, size_t n, float p, float *y)
{
    SR_ASSERT(p >= 0.0f && p < 1.0f);
    if (!mask || p == 0.0f) {
        if (y != x)
            memcpy(y, x, n * sizeof *y);
        return;
    }
    const float scale = sr_dropout_scale(p);
#pragma omp parallel for simd schedule(static)
    for (size_t e = 0; e < n; e++)
        y[e] = mask[e] ? x[e] * scale : 0.0f;
}

void sr_dropout_backward(const float *dy, const uint8_t *mask, size_t n, float p, float *dx)
{
    SR_ASSERT(p >= 0.0f && p < 1.0f);
    if (!mask || p == 0.0f) {
#pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < n; e++)
            dx[e] += dy[e];
        return;
    }
    const float scale = sr_dropout_scale(p);
#pragma omp parallel for simd schedule(static)
    for (size_t e = 0; e < n; e++)
        dx[e] += mask[e] ? dy[e] * scale : 0.0f;
}

/* ---- residual add -------------------------------------------------------- */

void sr_residual_forward(const float *a, const float *b, size_t n, float *y)
{
#pragma omp parallel for simd schedule(static)
    for (size_t e = 0; e < n; e++)
        y[e] = a[e] + b[e];
}

void sr_residual_backward(const float *dy, size_t n, float *da, float *db)
{
    if (da) {
#pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < n; e++)
            da[e] += dy[e];
    }
    if (db) {
#pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < n; e++)
            db[e] += dy[e];
    }
}
