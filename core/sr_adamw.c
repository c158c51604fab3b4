/* sr_adamw.c - AdamW, global-norm clipping, warm-up + cosine schedule and the
 * lazy row update for embedding tables (formulas in sr_adamw.h).
 *
 * Dimension legend: n elements of a flat tensor; rows x cols for a table.
 *
 * Determinism: updates are element- or row-wise, so any partition among
 * threads gives the same bits. The clip's sum of squares is cut into fixed
 * chunks whose partial sums are stored by chunk index and added in index
 * order, so it too is independent of the thread count (an OpenMP reduction
 * would combine partials in arrival order).
 */
#include "sr_adamw.h"

#include <math.h>

/* Elements per parallel chunk of a dense update or sum; below one chunk a
 * parallel region costs more than the work. */
#define ADAMW_CHUNK ((size_t)1 << 14)
/* Chunks whose partial sums are held at once (on the stack). */
#define ADAMW_PARTS 64

sr_err sr_adamw_hparams_check(const sr_adamw_hparams *hp)
{
    if (!hp)
        return sr_errorf(SR_ERR_ARG, "adamw: no hyper-parameters");
    if (!isfinite(hp->lr) || hp->lr < 0)
        return sr_errorf(SR_ERR_ARG, "adamw: lr=%g must be finite and >= 0", hp->lr);
    if (!(hp->beta1 >= 0 && hp->beta1 < 1))
        return sr_errorf(SR_ERR_ARG, "adamw: beta1=%g must be in [0, 1)", hp->beta1);
    if (!(hp->beta2 >= 0 && hp->beta2 < 1))
        return sr_errorf(SR_ERR_ARG, "adamw: beta2=%g must be in [0, 1)", hp->beta2);
    if (!isfinite(hp->eps) || !(hp->eps > 0))
        return sr_errorf(SR_ERR_ARG, "adamw: eps=%g must be finite and > 0", hp->eps);
    if (!isfinite(hp->weight_decay) || hp->weight_decay < 0)
        return sr_errorf(SR_ERR_ARG, "adamw: weight_decay=%g must be finite and >= 0",
                         hp->weight_decay);
    if (hp->lr * hp->weight_decay >= 1)
        return sr_errorf(SR_ERR_ARG,
                         "adamw: lr * weight_decay = %g * %g >= 1 would flip the sign of weights",
                         hp->lr, hp->weight_decay);
    return SR_OK;
}

/* The per-step constants of the update. */
typedef struct adamw_k {
    double b1, b2, c1, c2; /* betas and 1 - betas */
    double inv_bc1;        /* 1 / (1 - beta1^t) */
    double inv_sqrt_bc2;   /* 1 / sqrt(1 - beta2^t) */
    double lr, decay, eps; /* decay = lr * weight_decay */
} adamw_k;

static adamw_k adamw_consts(const sr_adamw_hparams *hp, int64_t t)
{
    adamw_k k;
    k.b1 = hp->beta1;
    k.b2 = hp->beta2;
    k.c1 = 1.0 - hp->beta1;
    k.c2 = 1.0 - hp->beta2;
    k.inv_bc1 = 1.0 / (1.0 - pow(hp->beta1, (double)t));
    k.inv_sqrt_bc2 = 1.0 / sqrt(1.0 - pow(hp->beta2, (double)t));
    k.lr = hp->lr;
    k.decay = hp->lr * hp->weight_decay;
    k.eps = hp->eps;
    return k;
}

/* param, grad, m, v: [n]. */
static void adamw_span(float *param, const float *grad, float *m, float *v, size_t n,
                       const adamw_k *k)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        double g = grad[i];
        double mi = k->b1 * (double)m[i] + k->c1 * g;
        double vi = k->b2 * (double)v[i] + k->c2 * g * g;
        m[i] = (float)mi;
        v[i] = (float)vi;
        /* m^ / (sqrt(v^) + eps) with m^ = m / bc1, v^ = v / bc2 */
        double step = (mi * k->inv_bc1) / (sqrt(vi) * k->inv_sqrt_bc2 + k->eps);
        double p = param[i];
        param[i] = (float)(p - k->decay * p - k->lr * step);
    }
}

void sr_adamw_update(float *param, const float *grad, float *m, float *v, size_t n,
                     const sr_adamw_hparams *hp, int64_t t)
{
    SR_ASSERT(hp != NULL && t >= 1);
    SR_ASSERT(n == 0 || (param && grad && m && v));
    adamw_k k = adamw_consts(hp, t);
    size_t nchunks = (n + ADAMW_CHUNK - 1) / ADAMW_CHUNK;
#pragma omp parallel for schedule(static) if (nchunks > 1)
    for (size_t c = 0; c < nchunks; c++) {
        size_t lo = c * ADAMW_CHUNK, len = SR_MIN(ADAMW_CHUNK, n - lo);
        adamw_span(param + lo, grad + lo, m + lo, v + lo, len, &k);
    }
}

void sr_adamw_update_rows(float *param, const float *grad, float *m, float *v, int64_t *row_t,
                          const uint8_t *touched, size_t rows, size_t cols,
                          const sr_adamw_hparams *hp)
{
    SR_ASSERT(hp != NULL);
    SR_ASSERT(rows == 0 || (param && grad && m && v && row_t && touched));
    /* Only the touched rows cost work; with a big catalogue and a small
     * batch that is a few hundred rows of a few million. */
    int par = rows * cols >= ADAMW_CHUNK;
#pragma omp parallel for schedule(static) if (par)
    for (size_t r = 0; r < rows; r++) {
        if (!touched[r])
            continue;
        int64_t t = ++row_t[r];
        adamw_k k = adamw_consts(hp, t);
        size_t o = r * cols;
        adamw_span(param + o, grad + o, m + o, v + o, cols, &k);
    }
}

/* Sum of squares of one tensor in double, in a fixed order: chunk partials
 * (ADAMW_CHUNK elements, or whole touched rows adding up to about that) are
 * computed in parallel, stored by index and added in index order. */
static double sumsq_tensor(const sr_adamw_grad *e)
{
    size_t rpc; /* rows per chunk */
    size_t units;
    if (e->touched) {
        rpc = SR_MAX((size_t)1, ADAMW_CHUNK / SR_MAX((size_t)1, e->cols));
        units = e->rows;
    } else {
        rpc = ADAMW_CHUNK; /* flat: a "row" is one element */
        units = e->rows * e->cols;
    }
    size_t nchunks = (units + rpc - 1) / rpc;
    double total = 0.0;
    for (size_t c0 = 0; c0 < nchunks; c0 += ADAMW_PARTS) {
        size_t nc = SR_MIN((size_t)ADAMW_PARTS, nchunks - c0);
        double part[ADAMW_PARTS];
#pragma omp parallel for schedule(static) if (nc > 1)
        for (size_t i = 0; i < nc; i++) {
            size_t lo = (c0 + i) * rpc, hi = SR_MIN(units, lo + rpc);
            double s = 0.0;
            if (e->touched) {
                for (size_t r = lo; r < hi; r++) {
                    if (!e->touched[r])
                        continue;
                    const float *g = e->grad + r * e->cols;
                    for (size_t d = 0; d < e->cols; d++)
                        s += (double)g[d] * (double)g[d];
                }
            } else {
                for (size_t j = lo; j < hi; j++)
                    s += (double)e->grad[j] * (double)e->grad[j];
            }
            part[i] = s;
        }
        for (size_t i = 0; i < nc; i++)
            total += part[i];
    }
    return total;
}

static void scale_tensor(const sr_adamw_grad *e, float coef)
{
    if (e->touched) {
#pragma omp parallel for schedule(static) if (e->rows * e->cols >= ADAMW_CHUNK)
        for (size_t r = 0; r < e->rows; r++) {
            if (!e->touched[r])
                continue;
            float *g = e->grad + r * e->cols;
            for (size_t d = 0; d < e->cols; d++)
                g[d] *= coef;
        }
    } else {
        size_t n = e->rows * e->cols;
#pragma omp parallel for schedule(static) if (n >= 4 * ADAMW_CHUNK)
        for (size_t j = 0; j < n; j++)
            e->grad[j] *= coef;
    }
}

double sr_adamw_clip(const sr_adamw_grad *list, size_t count, double max_norm)
{
    SR_ASSERT(count == 0 || list != NULL);
    double ss = 0.0;
    for (size_t i = 0; i < count; i++)
        ss += sumsq_tensor(&list[i]);
    double total = sqrt(ss);
    if (!isfinite(total) || !(max_norm > 0) || total <= max_norm)
        return total;
    float coef = (float)(max_norm / (total + 1e-6));
    for (size_t i = 0; i < count; i++)
        scale_tensor(&list[i], coef);
    return total;
}

sr_err sr_adamw_schedule_check(const sr_adamw_schedule *s)
{
    if (!s)
        return sr_errorf(SR_ERR_ARG, "lr schedule: none given");
    if (!isfinite(s->lr_peak) || !(s->lr_peak > 0))
        return sr_errorf(SR_ERR_ARG, "lr schedule: lr_peak=%g must be finite and > 0",
                         s->lr_peak);
    if (!isfinite(s->lr_floor) || s->lr_floor < 0 || s->lr_floor > s->lr_peak)
        return sr_errorf(SR_ERR_ARG, "lr schedule: lr_floor=%g must be in [0, lr_peak=%g]",
                         s->lr_floor, s->lr_peak);
    if (s->warmup_steps < 0)
        return sr_errorf(SR_ERR_ARG, "lr schedule: warmup_steps=%lld must be >= 0",
                         (long long)s->warmup_steps);
    if (s->total_steps <= s->warmup_steps)
        return sr_errorf(SR_ERR_ARG,
                         "lr schedule: total_steps=%lld must exceed warmup_steps=%lld",
                         (long long)s->total_steps, (long long)s->warmup_steps);
    return SR_OK;
}

double sr_adamw_lr_at(const sr_adamw_schedule *s, int64_t t)
{
    SR_ASSERT(s != NULL);
    if (t < 1)
        t = 1;
    if (t <= s->warmup_steps)
        return s->lr_peak * (double)t / (double)s->warmup_steps;
    if (t >= s->total_steps)
        return s->lr_floor;
    double progress =
        (double)(t - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
    return s->lr_floor +
           (s->lr_peak - s->lr_floor) * 0.5 * (1.0 + cos(3.14159265358979323846 * progress));
}
