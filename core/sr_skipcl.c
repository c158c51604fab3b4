/* sr_skipcl.c - skip-contrastive InfoNCE (SPEC.md section 4; docs/skip-term.md).
 *
 * Dimension legend: B sessions, L positions per session, D model dimension.
 *   context, keys, grad_context, grad_keys: [B, L, D]; skipped, valid: [B, L].
 *
 * Sessions are independent: every anchor, positive and negative of session b
 * lies in rows [b, 0..L), so the gradient of session b touches only those
 * rows. That makes a parallel loop over sessions race-free, and it is the
 * structural guard against the authors' cross-session negatives (SPEC.md
 * section 6, item 2).
 *
 * Per anchor t with context c, positive key k_0 and negative keys k_1..k_m:
 *   s_j = cos(c, k_j) / tau,  l = logsumexp(s_0..s_m) - s_0,
 *   dl/ds_j = softmax_j - [j == 0],
 *   dcos/dc = k / (|c| |k|) - cos * c / |c|^2,
 *   dcos/dk = c / (|c| |k|) - cos * k / |k|^2,
 * with |x| = sqrt(x.x + eps^2). Cosines and the loss are computed in double;
 * gradient rows are float and accumulated in a fixed order.
 *
 * No scratch memory is needed (kernels never allocate): the logsumexp is
 * computed online in a first pass over the keys and the cosines are recomputed
 * in the gradient pass (at L = 20, D = 128 that is a few MFLOP per batch).
 */
#include "sr_skipcl.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* Sessions per block: the per-session losses of one block are summed in
 * session order after the parallel loop, so the total does not depend on the
 * thread count (an OpenMP reduction would combine in arrival order). */
#define SKIPCL_BLOCK 64

/* Below this much work (L * L * D per session, summed over a block) a
 * parallel region costs more than it saves. */
#define SKIPCL_PAR_WORK ((size_t)1 << 18)

static inline int is_listened(const uint8_t *skipped, const uint8_t *valid, size_t i)
{
    /* valid is tested first: the label of an invalid position is never read */
    return valid[i] != 0 && skipped[i] == 0;
}

static inline int is_skipped(const uint8_t *skipped, const uint8_t *valid, size_t i)
{
    return valid[i] != 0 && skipped[i] != 0;
}

/* Regularised norm of x: [D]. */
static double norm_eps(const float *x, int D)
{
    double s = 0.0;
    for (int d = 0; d < D; d++)
        s += (double)x[d] * (double)x[d];
    return sqrt(s + SR_SKIPCL_NORM_EPS * SR_SKIPCL_NORM_EPS);
}

static double dot(const float *a, const float *b, int D)
{
    double s = 0.0;
    for (int d = 0; d < D; d++)
        s += (double)a[d] * (double)b[d];
    return s;
}

/* Anchors and negatives of one session. skipped, valid: [L]. */
static void count_session(const uint8_t *skipped, const uint8_t *valid, int L,
                          int64_t *anchors, int64_t *negatives)
{
    int64_t a = 0, n = 0;
    int seen_listened = 0;
    for (int u = 0; u < L; u++) {
        if (is_skipped(skipped, valid, (size_t)u)) {
            n++;
        } else if (is_listened(skipped, valid, (size_t)u)) {
            /* u is the positive of the previous listened position */
            if (seen_listened)
                a++;
            seen_listened = 1;
        }
    }
    *anchors = a;
    *negatives = n;
}

void sr_skipcl_count(const uint8_t *skipped, const uint8_t *valid, int B, int L,
                     sr_skipcl_counts *out)
{
    SR_ASSERT(out != NULL && B >= 0 && L >= 0);
    memset(out, 0, sizeof *out);
    for (int b = 0; b < B; b++) {
        int64_t a, n;
        count_session(skipped + (size_t)b * (size_t)L, valid + (size_t)b * (size_t)L, L, &a,
                      &n);
        if (a == 0)
            continue;
        if (n == 0) {
            out->anchors_unused += a;
            continue;
        }
        out->anchors += a;
        out->negatives += n;
        out->pairs += a * n;
        out->sessions++;
    }
}

sr_err sr_skipcl_check_args(int B, int L, int D, float tau)
{
    if (B < 0 || L < 0)
        return sr_errorf(SR_ERR_ARG, "skip-contrastive: batch shape B=%d, L=%d is negative", B,
                         L);
    if (D < 1)
        return sr_errorf(SR_ERR_ARG, "skip-contrastive: model dimension D=%d must be >= 1", D);
    if (B > 0 && L > 0 && (size_t)B * (size_t)L > SIZE_MAX / sizeof(float) / (size_t)D)
        return sr_errorf(SR_ERR_ARG, "skip-contrastive: B=%d x L=%d x D=%d floats overflow", B,
                         L, D);
    if (!(tau > 0.0f) || !isfinite(tau))
        return sr_errorf(SR_ERR_ARG,
                         "skip-contrastive: temperature tau=%g must be positive and finite",
                         (double)tau);
    return SR_OK;
}

/* Add a * x + c * y to out: [D]. */
static void axpby(float *out, float a, const float *x, float c, const float *y, int D)
{
#pragma omp simd
    for (int d = 0; d < D; d++)
        out[d] += a * x[d] + c * y[d];
}

/* The summed loss of session b's anchors (not yet divided by the batch's
 * anchor count); adds gscale * d(sum)/d(inputs) into the gradient rows of the
 * session. gscale already includes 1 / (anchors in the batch). Rows:
 * ctx, key, gctx, gkey: [L, D] (gradients may be NULL); skipped, valid: [L]. */
static double session_loss(const float *ctx, const float *key, const uint8_t *skipped,
                           const uint8_t *valid, int L, int D, double inv_tau, double gscale,
                           float *gctx, float *gkey)
{
    int64_t n_anchor, n_neg;
    count_session(skipped, valid, L, &n_anchor, &n_neg);
    if (n_anchor == 0 || n_neg == 0)
        return 0.0; /* SPEC 4: only anchors with >= 1 negative count */

    int want_grad = gctx != NULL || gkey != NULL;
    double sum = 0.0;
    int prev = -1; /* last listened position before u */
    for (int u = 0; u < L; u++) {
        if (!is_listened(skipped, valid, (size_t)u))
            continue;
        int t = prev, p = u; /* anchor t, positive p(t) = first listened u > t */
        prev = u;
        if (t < 0)
            continue;

        const float *c = ctx + (size_t)t * (size_t)D;
        double nc = norm_eps(c, D);

        /* pass 1: online logsumexp over the positive and every negative */
        const float *kp = key + (size_t)p * (size_t)D;
        double np = norm_eps(kp, D);
        double s_pos = dot(c, kp, D) / (nc * np) * inv_tau;
        double mx = s_pos, se = 1.0; /* sum of exp(s - mx) */
        for (int v = 0; v < L; v++) {
            if (!is_skipped(skipped, valid, (size_t)v))
                continue;
            const float *kv = key + (size_t)v * (size_t)D;
            double s = dot(c, kv, D) / (nc * norm_eps(kv, D)) * inv_tau;
            if (s > mx) {
                se = se * exp(mx - s) + 1.0;
                mx = s;
            } else {
                se += exp(s - mx);
            }
        }
        double lse = mx + log(se);
        sum += lse - s_pos;
        if (!want_grad)
            continue;

        /* pass 2: dl/ds_j = softmax_j - [j == positive], chained through cos */
        for (int v = -1; v < L; v++) {
            int j = v < 0 ? p : v; /* v == -1 stands for the positive */
            if (v >= 0 && !is_skipped(skipped, valid, (size_t)v))
                continue;
            const float *k = key + (size_t)j * (size_t)D;
            double nk = norm_eps(k, D);
            double cosv = dot(c, k, D) / (nc * nk);
            double g = exp(cosv * inv_tau - lse) - (v < 0 ? 1.0 : 0.0);
            g *= inv_tau * gscale; /* dLoss/dcos */
            double inv_ck = 1.0 / (nc * nk);
            if (gctx)
                axpby(gctx + (size_t)t * (size_t)D, (float)(g * inv_ck), k,
                      (float)(-g * cosv / (nc * nc)), c, D);
            if (gkey)
                axpby(gkey + (size_t)j * (size_t)D, (float)(g * inv_ck), c,
                      (float)(-g * cosv / (nk * nk)), k, D);
        }
    }
    return sum;
}

/* Shared body. zero_grads: overwrite (sr_skip_contrastive) or accumulate. */
static double skipcl_run(const float *context, const float *keys, const uint8_t *skipped,
                         const uint8_t *valid, int B, int L, int D, float tau, float grad_scale,
                         float *grad_context, float *grad_keys, int zero_grads)
{
    SR_ASSERT(sr_skipcl_check_args(B, L, D, tau) == SR_OK);
    SR_ASSERT(B == 0 || L == 0 || (context && keys && skipped && valid));
    size_t rows = (size_t)L * (size_t)D; /* floats per session */
    if (zero_grads) {
        /* every row, including those of sessions without anchors */
        if (grad_context)
            memset(grad_context, 0, (size_t)B * rows * sizeof(float));
        if (grad_keys && grad_keys != grad_context)
            memset(grad_keys, 0, (size_t)B * rows * sizeof(float));
    }
    if (B == 0 || L == 0)
        return 0.0;

    sr_skipcl_counts cnt;
    sr_skipcl_count(skipped, valid, B, L, &cnt);
    if (cnt.anchors == 0)
        return 0.0; /* exactly 0 with zero gradients, never 0/0 */

    double inv_tau = 1.0 / (double)tau;
    double gscale = (double)grad_scale / (double)cnt.anchors;
    double total = 0.0;
    for (int b0 = 0; b0 < B; b0 += SKIPCL_BLOCK) {
        int nb = SR_MIN(SKIPCL_BLOCK, B - b0);
        double part[SKIPCL_BLOCK];
        size_t work = (size_t)nb * (size_t)L * rows;
#pragma omp parallel for schedule(static) if (nb > 1 && work >= SKIPCL_PAR_WORK)
        for (int i = 0; i < nb; i++) {
            size_t b = (size_t)(b0 + i);
            part[i] = session_loss(context + b * rows, keys + b * rows,
                                   skipped + b * (size_t)L, valid + b * (size_t)L, L, D,
                                   inv_tau, gscale,
                                   grad_context ? grad_context + b * rows : NULL,
                                   grad_keys ? grad_keys + b * rows : NULL);
        }
        for (int i = 0; i < nb; i++)
            total += part[i];
    }
    return total / (double)cnt.anchors;
}

float sr_skip_contrastive(const float *context, const float *keys,
                          const uint8_t *skipped, const uint8_t *valid,
                          int B, int L, int D, float tau,
                          float *grad_context, float *grad_keys)
{
    return (float)skipcl_run(context, keys, skipped, valid, B, L, D, tau, 1.0f, grad_context,
                             grad_keys, 1);
}

double sr_skipcl_loss_acc(const float *context, const float *keys,
                          const uint8_t *skipped, const uint8_t *valid,
                          int B, int L, int D, float tau, float grad_scale,
                          float *grad_context, float *grad_keys)
{
    return skipcl_run(context, keys, skipped, valid, B, L, D, tau, grad_scale, grad_context,
                      grad_keys, 0);
}
