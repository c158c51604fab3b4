/* sr_loss.c - next-item targets and the recommendation losses (sr_loss.h,
 * docs/losses.md).
 *
 * Dimension legend: B sequences, L positions, T = B * L rows, I catalogue
 * size, C items per chunk, N negatives.
 *
 * Numerics: every exponential is taken in double on (logit - running max),
 * so logits of any size stay finite, and every sum that feeds a loss is a
 * double. Work is split by row: a row is always handled by one thread from
 * start to end, so gradients do not depend on the thread count; the loss of
 * the sampled and BCE losses is a sum of per-thread partial sums combined in
 * thread order, deterministic for a given thread count.
 */
#include "sr_loss.h"

#include <float.h>
#include <math.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many logits a call stays on one thread: a parallel region costs
 * a few microseconds, more than the work itself. */
#define SR_LOSS_PAR_MIN 32768
/* Partial sums live on the stack; more threads than this are not used. */
#define SR_LOSS_MAX_THREADS 64

/* ---- targets ------------------------------------------------------------- */

static const char *const sr_target_mode_names[] = {
    [SR_TARGET_MODE_NEXT_PLAY] = "next_play",
    [SR_TARGET_MODE_NEXT_LISTENED] = "next_listened",
};

sr_err sr_target_mode_parse(sr_str s, sr_target_mode *out)
{
    int i;
    sr_err err = sr_name_parse(s, sr_target_mode_names, SR_COUNTOF(sr_target_mode_names), "target mode", &i);
    if (err == SR_OK)
        *out = (sr_target_mode)i;
    return err;
}

const char *sr_target_mode_name(sr_target_mode m)
{
    return sr_name_at(sr_target_mode_names, SR_COUNTOF(sr_target_mode_names), (unsigned)m);
}

int sr_targets_next(const int32_t *tracks, const uint8_t *skipped, const uint8_t *valid, int B,
                    int L, sr_target_mode mode, int32_t *targets)
{
    SR_ASSERT(B >= 0 && L >= 0);
    SR_ASSERT(mode == SR_TARGET_MODE_NEXT_PLAY || mode == SR_TARGET_MODE_NEXT_LISTENED);
    int n = 0;
    for (int b = 0; b < B; b++) {
        const int32_t *tr = tracks + (size_t)b * (size_t)L;
        const uint8_t *sk = skipped + (size_t)b * (size_t)L;
        const uint8_t *va = valid + (size_t)b * (size_t)L;
        int32_t *tg = targets + (size_t)b * (size_t)L;
        /* Walk backwards carrying the target a position would get; it is
         * -1 past the last candidate, which is what forbids wrapping round
         * to the session's start (SPEC.md section 6, item 4). */
        int32_t next = -1;
        for (int l = L - 1; l >= 0; l--) {
            tg[l] = va[l] ? next : -1;
            if (tg[l] >= 0)
                n++;
            if (mode == SR_TARGET_MODE_NEXT_PLAY) {
                /* only l + 1 counts: an invalid position breaks the chain */
                next = va[l] && tr[l] >= 0 ? tr[l] : -1;
            } else if (va[l] && !sk[l]) {
                /* a listened play becomes the target of everything before
                 * it; skipped and invalid ones are stepped over (the label of
                 * an invalid position is never read) */
                next = tr[l] >= 0 ? tr[l] : -1;
            }
        }
    }
    return n;
}

int sr_targets_count(const int32_t *targets, int T)
{
    int n = 0;
    for (int t = 0; t < T; t++)
        n += targets[t] >= 0;
    return n;
}

/* ---- full softmax cross-entropy ----------------------------------------- */

void sr_ce_full_init(int T, float *row_max, double *row_sumexp, float *target_logit)
{
    for (int t = 0; t < T; t++) {
        row_max[t] = -INFINITY;
        row_sumexp[t] = 0.0;
        target_logit[t] = NAN;
    }
}

void sr_ce_full_stats(const float *logits, int T, int C, int32_t i0, const int32_t *targets,
                      float *row_max, double *row_sumexp, float *target_logit)
{
    SR_ASSERT(T >= 0 && C >= 0);
    size_t work = (size_t)T * (size_t)C;
#pragma omp parallel for schedule(static) if (work >= SR_LOSS_PAR_MIN)
    for (int t = 0; t < T; t++) {
        if (targets[t] < 0)
            continue;
        const float *x = logits + (size_t)t * (size_t)C;
        float cm = -INFINITY;
        for (int c = 0; c < C; c++)
            cm = x[c] > cm ? x[c] : cm; /* NaN is not taken here; it reaches s below */
        float m = row_max[t];
        double s = row_sumexp[t];
        if (cm > m) {
            /* online log-sum-exp: rescale what was summed against the old max */
            if (s > 0.0)
                s *= exp((double)m - (double)cm);
            m = cm;
        }
        if (m == -INFINITY) {
            /* everything so far is -inf (probability 0) or NaN */
            for (int c = 0; c < C; c++)
                if (x[c] != -INFINITY)
                    s = NAN;
        } else {
            double dm = (double)m;
            for (int c = 0; c < C; c++)
                s += exp((double)x[c] - dm);
        }
        row_max[t] = m;
        row_sumexp[t] = s;
        int64_t k = (int64_t)targets[t] - (int64_t)i0;
        if (k >= 0 && k < C)
            target_logit[t] = x[k];
    }
}

double sr_ce_full_loss(int T, const int32_t *targets, const float *row_max,
                       const double *row_sumexp, const float *target_logit, int *n_targets)
{
    double sum = 0.0;
    int n = 0;
    for (int t = 0; t < T; t++) {
        if (targets[t] < 0)
            continue;
        sum += (double)row_max[t] + log(row_sumexp[t]) - (double)target_logit[t];
        n++;
    }
    if (n_targets)
        *n_targets = n;
    return n > 0 ? sum / n : 0.0;
}

void sr_ce_full_grad(const float *logits, int T, int C, int32_t i0, const int32_t *targets,
                     const float *row_max, const double *row_sumexp, float scale,
                     bool accumulate, float *dlogits)
{
    SR_ASSERT(T >= 0 && C >= 0);
    size_t work = (size_t)T * (size_t)C;
    double sc = (double)scale;
#pragma omp parallel for schedule(static) if (work >= SR_LOSS_PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *x = logits + (size_t)t * (size_t)C;
        float *g = dlogits + (size_t)t * (size_t)C;
        if (targets[t] < 0) {
            if (!accumulate)
                memset(g, 0, (size_t)C * sizeof *g);
            continue;
        }
        double lse = (double)row_max[t] + log(row_sumexp[t]);
        int64_t k = (int64_t)targets[t] - (int64_t)i0; /* outside [0, C): not here */
        /* x[c] is read before g[c] is written, so g may alias x */
        for (int c = 0; c < C; c++) {
            double p = exp((double)x[c] - lse);
            if (c == k)
                p -= 1.0; /* softmax - onehot, in double before the one rounding */
            float v = (float)(sc * p);
            g[c] = accumulate ? g[c] + v : v;
        }
    }
}

/* ---- helpers for the per-row losses --------------------------------------- */

static int sr_loss_threads(size_t work)
{
#ifdef _OPENMP
    if (work < SR_LOSS_PAR_MIN)
        return 1;
    int n = omp_get_max_threads();
    return n < 1 ? 1 : n > SR_LOSS_MAX_THREADS ? SR_LOSS_MAX_THREADS : n;
#else
    (void)work;
    return 1;
#endif
}

/* 1 / q, with q <= 0 or NaN read as FLT_MIN (sr_loss.h). */
static inline double sr_loss_inv_q(float q)
{
    return q >= FLT_MIN ? 1.0 / (double)q : 1.0 / (double)FLT_MIN;
}

/* log(1 + exp(x)) without overflow; log1p keeps small results exact. */
static inline double sr_loss_softplus(double x)
{
    return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

/* 1 / (1 + exp(-x)) without overflow. */
static inline double sr_loss_sigmoid(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* The arguments of one per-row loss call, shared by its rows (sr_loss.h). */
typedef struct sr_loss_rows {
    const float *pos_logits, *neg_logits, *q_pos, *q_neg; /* [T], [T, N], [T], [N] */
    const int32_t *targets, *neg_items; /* [T]; sampled [N], BCE [T, N] or NULL */
    int N;
    sr_sampled_opts opts; /* sampled softmax only */
    double sc;            /* gradient scale */
    float *dpos, *dneg;   /* [T], [T, N] or NULL */
} sr_loss_rows;

/* Loss of row t (which has a target); adds its gradients. */
typedef double (*sr_loss_row_fn)(const sr_loss_rows *r, int t);

/* Mean of row(r, t) over the rows t < T that have a target, their count in
 * *n_targets (NULL ok). Each thread takes a contiguous range of rows and
 * its partial sum; the partial sums are combined in thread order, so the
 * result is deterministic for a given thread count. */
static double sr_loss_rows_mean(const sr_loss_rows *r, int T, sr_loss_row_fn row,
                                int *n_targets)
{
    double partial[SR_LOSS_MAX_THREADS];
    int counts[SR_LOSS_MAX_THREADS];
    int team = 1;
    int nth = sr_loss_threads((size_t)T * (size_t)(r->N + 1));
#pragma omp parallel num_threads(nth)
    {
        int ith = 0, got = 1;
#ifdef _OPENMP
        ith = omp_get_thread_num();
        got = omp_get_num_threads();
#endif
        if (ith == 0)
            team = got;
        int lo = (int)((int64_t)T * ith / got), hi = (int)((int64_t)T * (ith + 1) / got);
        double s = 0.0;
        int n = 0;
        for (int t = lo; t < hi; t++) {
            if (r->targets[t] < 0)
                continue;
            s += row(r, t);
            n++;
        }
        partial[ith] = s;
        counts[ith] = n;
    }
    double sum = 0.0;
    int n = 0;
    for (int i = 0; i < team; i++) {
        sum += partial[i];
        n += counts[i];
    }
    if (n_targets)
        *n_targets = n;
    return n > 0 ? sum / n : 0.0;
}

/* ---- sampled softmax ------------------------------------------------------ */

sr_sampled_opts sr_sampled_opts_standard(void)
{
    sr_sampled_opts o = { .log_q = true, .remove_hits = true };
    return o;
}

sr_sampled_opts sr_sampled_opts_authors(void)
{
    sr_sampled_opts o = { .log_q = false, .remove_hits = true };
    return o;
}

/* One row of the sampled softmax; returns its loss and adds its gradient.
 * With w_j = 1 / q_j (1 without log-Q) the corrected logit is
 * z_j = s_j + log w_j, so exp(z_j - m) = exp(s_j - m) * w_j with m the max
 * of the RAW logits: no log per negative, and no overflow since
 * w_j <= 1 / FLT_MIN. A term whose exp underflows is below e^-658 of the
 * largest corrected term (log w spans at most 88), so nothing is lost. */
static double sr_sampled_row(float s0, const float *s, int32_t target, const int32_t *neg_items,
                             double w0, const float *q_neg, int N, sr_sampled_opts o, double sc,
                             float *dpos, float *dneg)
{
    double m = (double)s0;
    for (int j = 0; j < N; j++) {
        if (o.remove_hits && neg_items[j] == target)
            continue;
        if ((double)s[j] > m)
            m = (double)s[j];
    }
    double sum = exp((double)s0 - m) * w0;
    for (int j = 0; j < N; j++) {
        if (o.remove_hits && neg_items[j] == target)
            continue;
        double w = o.log_q ? sr_loss_inv_q(q_neg[j]) : 1.0;
        sum += exp((double)s[j] - m) * w;
    }
    /* loss = logsumexp(z) - z_0 = m + log(sum) - (s_0 + log w0) */
    double loss = log(sum) - ((double)s0 - m) - log(w0);
    if (dpos || dneg) {
        double inv = 1.0 / sum;
        if (dpos) {
            double p0 = exp((double)s0 - m) * w0 * inv;
            *dpos += (float)(sc * (p0 - 1.0));
        }
        if (dneg) {
            for (int j = 0; j < N; j++) {
                if (o.remove_hits && neg_items[j] == target)
                    continue;
                double w = o.log_q ? sr_loss_inv_q(q_neg[j]) : 1.0;
                dneg[j] += (float)(sc * exp((double)s[j] - m) * w * inv);
            }
        }
    }
    return loss;
}

/* sr_sampled_row of row t. */
static double sr_sampled_row_at(const sr_loss_rows *r, int t)
{
    const size_t N = (size_t)r->N;
    double w0 = r->opts.log_q ? sr_loss_inv_q(r->q_pos[t]) : 1.0;
    return sr_sampled_row(r->pos_logits[t], r->neg_logits + (size_t)t * N, r->targets[t],
                          r->neg_items, w0, r->q_neg, r->N, r->opts, r->sc,
                          r->dpos ? r->dpos + t : NULL, r->dneg ? r->dneg + (size_t)t * N : NULL);
}

double sr_sampled_softmax(const float *pos_logits, const float *neg_logits,
                          const int32_t *targets, const int32_t *neg_items, const float *q_pos,
                          const float *q_neg, int T, int N, sr_sampled_opts opts, float scale,
                          float *dpos, float *dneg, int *n_targets)
{
    SR_ASSERT(T >= 0 && N >= 0);
    SR_ASSERT(!opts.remove_hits || N == 0 || neg_items);
    SR_ASSERT(!opts.log_q || (q_pos && (N == 0 || q_neg)));
    const sr_loss_rows r = { .pos_logits = pos_logits, .neg_logits = neg_logits,
                             .targets = targets, .neg_items = neg_items, .q_pos = q_pos,
                             .q_neg = q_neg, .N = N, .opts = opts, .sc = (double)scale,
                             .dpos = dpos, .dneg = dneg };
    return sr_loss_rows_mean(&r, T, sr_sampled_row_at, n_targets);
}

/* ---- binary cross-entropy --------------------------------------------------- */

/* -log sigmoid(s_pos) + sum_j -log(1 - sigmoid(s_neg_j)) of row t. */
static double sr_bce_row_at(const sr_loss_rows *r, int t)
{
    const size_t N = (size_t)r->N;
    const int32_t target = r->targets[t];
    const float *sn = r->neg_logits + (size_t)t * N;
    const int32_t *ni = r->neg_items ? r->neg_items + (size_t)t * N : NULL;
    float *dn = r->dneg ? r->dneg + (size_t)t * N : NULL;
    double sp = (double)r->pos_logits[t];
    /* -log sigmoid(x) = softplus(-x); d/dx = sigmoid(x) - 1 = -sigmoid(-x) */
    double row = sr_loss_softplus(-sp);
    if (r->dpos)
        r->dpos[t] += (float)(-r->sc * sr_loss_sigmoid(-sp));
    for (size_t j = 0; j < N; j++) {
        if (ni && ni[j] == target)
            continue;
        double x = (double)sn[j];
        /* -log(1 - sigmoid(x)) = softplus(x); d/dx = sigmoid(x) */
        row += sr_loss_softplus(x);
        if (dn)
            dn[j] += (float)(r->sc * sr_loss_sigmoid(x));
    }
    return row;
}

double sr_bce_negatives(const float *pos_logits, const float *neg_logits, const int32_t *targets,
                        const int32_t *neg_items, int T, int N, float scale, float *dpos,
                        float *dneg, int *n_targets)
{
    SR_ASSERT(T >= 0 && N >= 0);
    const sr_loss_rows r = { .pos_logits = pos_logits, .neg_logits = neg_logits,
                             .targets = targets, .neg_items = neg_items, .N = N,
                             .sc = (double)scale, .dpos = dpos, .dneg = dneg };
    return sr_loss_rows_mean(&r, T, sr_bce_row_at, n_targets);
}
