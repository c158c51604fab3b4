/* sr_attention.c - multi-head scaled dot-product attention core (see
 * sr_attention.h for the contract, masks and numerics).
 *
 * Dimension legend: B sequences, L positions, D model width, H heads,
 * Dh = D / H. q, k, v, out, dq, dk, dv: [B, L, D]; valid: [B, L];
 * att: [B, H, L, L].
 *
 * Why hand-written: at L = 20, Dh = 16 each (b, h) pair is a 20x16x20
 * product - far too small for a GEMM call per pair, and oneDNN 2.6's matmul
 * with the mask as a binary post-op fell back to ref:any (STYLE.md). Each
 * (b, h) pair is one iteration of the parallel loop and touches only that
 * head's columns of out and the gradients, so pairs never write the same
 * float and no reduction crosses threads (bit-identical results for any
 * thread count).
 */
#include "sr_attention.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Keys query i may see: [0, sr_attn_end) filtered by valid. */
static inline int sr_attn_end(sr_attn_mode mode, int i, int L)
{
    return mode == SR_ATTN_MODE_CAUSAL ? i + 1 : L;
}

/* a . b over n floats, summed in double (feeds the softmax). */
static inline double sr_attn_dot(const float *a, const float *b, int n)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < n; d++)
        s += (double)a[d] * (double)b[d];
    return s;
}

sr_err sr_attention_check(int B, int L, int D, int H)
{
    if (B <= 0)
        return sr_errorf(SR_ERR_ARG, "attention: batch size B = %d must be positive", B);
    if (L <= 0)
        return sr_errorf(SR_ERR_ARG, "attention: length L = %d must be positive", L);
    if (L > SR_ATTN_MAX_L)
        return sr_errorf(SR_ERR_LIMIT, "attention: length L = %d exceeds the maximum %d", L,
                         SR_ATTN_MAX_L);
    if (D <= 0)
        return sr_errorf(SR_ERR_ARG, "attention: width D = %d must be positive", D);
    if (H <= 0)
        return sr_errorf(SR_ERR_ARG, "attention: heads H = %d must be positive", H);
    if (D % H != 0)
        return sr_errorf(SR_ERR_ARG, "attention: width D = %d is not divisible by heads H = %d",
                         D, H);
    /* Buffers hold B * L * D and B * H * L * L floats, indexed with size_t;
     * the (b, h) loop counter is an int. */
    const size_t limit = SIZE_MAX / sizeof(float);
    const size_t rows = (size_t)B * (size_t)L; /* both < 2^31: no overflow on 64-bit */
    const size_t pairs = (size_t)B * (size_t)H;
    if (rows > limit / (size_t)D || pairs > (size_t)INT_MAX ||
        pairs > limit / ((size_t)L * (size_t)L))
        return sr_errorf(SR_ERR_LIMIT, "attention: B = %d, L = %d, D = %d, H = %d is too large",
                         B, L, D, H);
    return SR_OK;
}

static void sr_attention_assert_shape(int B, int L, int D, int H)
{
    SR_ASSERT(B > 0 && L > 0 && D > 0 && H > 0);
    SR_ASSERT(L <= SR_ATTN_MAX_L);
    SR_ASSERT(D % H == 0);
}

/* One (b, h) pair of the forward. always_inline so that the dispatch below
 * gets copies with Dh a compile-time constant (16 at the paper's shape):
 * the per-row loops over Dh then unroll into a few vector operations. */
static inline __attribute__((always_inline)) void
sr_attn_forward_head(const float *q, const float *k, const float *v, const uint8_t *vb, int b,
                     int L, int D, int Dh, size_t col, double scale, sr_attn_mode mode,
                     float *att_bh, float *out)
{
    double s[SR_ATTN_MAX_L]; /* scores of one query row */
    for (int i = 0; i < L; i++) {
        const float *qi = q + ((size_t)b * L + i) * D + col;
        float *oi = out + ((size_t)b * L + i) * D + col;
        float *pi = att_bh + (size_t)i * L;
        const int end = sr_attn_end(mode, i, L);
        memset(pi, 0, (size_t)L * sizeof *pi);
        memset(oi, 0, (size_t)Dh * sizeof *oi);

        double m = -INFINITY;
        int any = 0;
        for (int j = 0; j < end; j++) {
            if (vb && !vb[j])
                continue; /* a padded key is never read */
            const float *kj = k + ((size_t)b * L + j) * D + col;
            s[j] = sr_attn_dot(qi, kj, Dh) * scale;
            if (!any || s[j] > m)
                m = s[j];
            any = 1;
        }
        if (!any)
            continue; /* no key to attend to: att = 0, out = 0 */

        /* Stable softmax: exp(s - max) <= 1, normaliser summed in double. */
        double sum = 0.0;
        for (int j = 0; j < end; j++) {
            if (vb && !vb[j])
                continue;
            s[j] = exp(s[j] - m);
            sum += s[j];
        }
        const double inv = 1.0 / sum; /* sum >= 1: the max term is exp(0) */
        for (int j = 0; j < end; j++) {
            if (vb && !vb[j])
                continue;
            const float p = (float)(s[j] * inv);
            const float *vj = v + ((size_t)b * L + j) * D + col;
            pi[j] = p;
#pragma omp simd
            for (int d = 0; d < Dh; d++)
                oi[d] += p * vj[d];
        }
    }
}

void sr_attention_forward(const float *q, const float *k, const float *v, const uint8_t *valid,
                          int B, int L, int D, int H, sr_attn_mode mode, float *att, float *out)
{
    sr_attention_assert_shape(B, L, D, H);
    const int Dh = D / H;
    const double scale = 1.0 / sqrt((double)Dh); /* eq. 1: softmax(Q K^T / sqrt(d_k)) */
    const int pairs = B * H;

#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < pairs; bh++) {
        const int b = bh / H, h = bh % H;
        const size_t col = (size_t)h * (size_t)Dh;
        const uint8_t *vb = valid ? valid + (size_t)b * (size_t)L : NULL;
        float *att_bh = att + (size_t)bh * (size_t)L * (size_t)L;
        if (Dh == 16)
            sr_attn_forward_head(q, k, v, vb, b, L, D, 16, col, scale, mode, att_bh, out);
        else
            sr_attn_forward_head(q, k, v, vb, b, L, D, Dh, col, scale, mode, att_bh, out);
    }
}

/* Backward of out_i = sum_j P_ij v_j with P_i = softmax(s_i), s_ij = c q_i.k_j:
 *   dv_j  += P_ij dout_i
 *   dP_ij  = dout_i . v_j
 *   dS_ij  = P_ij (dP_ij - sum_j' P_ij' dP_ij')       (softmax Jacobian)
 *   dq_i  += c sum_j dS_ij k_j,   dk_j += c dS_ij q_i
 * Masked pairs have P_ij = 0 and are skipped outright, so NaN in a padded
 * or future row cannot leak in through 0 * NaN. */
/* One (b, h) pair of the backward (always_inline: see the forward). */
static inline __attribute__((always_inline)) void
sr_attn_backward_head(const float *q, const float *k, const float *v, const uint8_t *vb,
                      const float *att_bh, const float *dout, int b, int L, int D, int Dh,
                      size_t col, double scale, sr_attn_mode mode, float *dq, float *dk,
                      float *dv)
{
    const int need_ds = dq || dk;
    double dp[SR_ATTN_MAX_L]; /* dP of one query row */
    for (int i = 0; i < L; i++) {
        const size_t ri = ((size_t)b * L + i) * D + col;
        const float *doi = dout + ri;
        const float *pi = att_bh + (size_t)i * L;
        const int end = sr_attn_end(mode, i, L);

        double rowdot = 0.0;
        if (need_ds) {
            for (int j = 0; j < end; j++) {
                if (vb && !vb[j])
                    continue;
                dp[j] = sr_attn_dot(doi, v + ((size_t)b * L + j) * D + col, Dh);
                rowdot += (double)pi[j] * dp[j];
            }
        }
        for (int j = 0; j < end; j++) {
            if (vb && !vb[j])
                continue;
            const size_t rj = ((size_t)b * L + j) * D + col;
            const float p = pi[j];
            if (dv) {
                float *dvj = dv + rj;
#pragma omp simd
                for (int d = 0; d < Dh; d++)
                    dvj[d] += p * doi[d];
            }
            if (!need_ds)
                continue;
            /* c * dS_ij, the common factor of the dq and dk updates */
            const float g = (float)(scale * (double)p * (dp[j] - rowdot));
            if (dq) {
                float *dqi = dq + ri;
                const float *kj = k + rj;
#pragma omp simd
                for (int d = 0; d < Dh; d++)
                    dqi[d] += g * kj[d];
            }
            if (dk) {
                float *dkj = dk + rj;
                const float *qi = q + ri;
#pragma omp simd
                for (int d = 0; d < Dh; d++)
                    dkj[d] += g * qi[d];
            }
        }
    }
}

void sr_attention_backward(const float *q, const float *k, const float *v, const uint8_t *valid,
                           const float *att, const float *dout, int B, int L, int D, int H,
                           sr_attn_mode mode, float *dq, float *dk, float *dv)
{
    sr_attention_assert_shape(B, L, D, H);
    if (!dq && !dk && !dv)
        return;
    const int Dh = D / H;
    const double scale = 1.0 / sqrt((double)Dh);
    const int pairs = B * H;

#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < pairs; bh++) {
        const int b = bh / H, h = bh % H;
        const size_t col = (size_t)h * (size_t)Dh;
        const uint8_t *vb = valid ? valid + (size_t)b * (size_t)L : NULL;
        const float *att_bh = att + (size_t)bh * (size_t)L * (size_t)L;
        if (Dh == 16)
            sr_attn_backward_head(q, k, v, vb, att_bh, dout, b, L, D, 16, col, scale, mode, dq,
                                  dk, dv);
        else
            sr_attn_backward_head(q, k, v, vb, att_bh, dout, b, L, D, Dh, col, scale, mode, dq,
                                  dk, dv);
    }
}
