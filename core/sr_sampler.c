/* sr_sampler.c - uniform and popularity (alias table) negative samplers and
 * the authors' candidate list (sr_sampler.h, docs/losses.md).
 *
 * Alias method: M. D. Vose, "A linear algorithm for generating random numbers
 * with a given distribution", IEEE TSE 17(9), 1991. Column i of the table is
 * kept with probability prob[i] and otherwise gives alias[i]; a draw is one
 * uniform column and one uniform threshold.
 */
#include "sr_sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sr_sampler {
    sr_sampler_kind kind;
    int32_t n;
    double *q;       /* [n] popularity only: the probability of each item */
    double *prob;    /* [n] popularity only: keep threshold of each column */
    int32_t *alias;  /* [n] popularity only: the other item of each column */
};

static const char *const sr_sampler_kind_names[] = {
    [SR_SAMPLER_KIND_UNIFORM] = "uniform",
    [SR_SAMPLER_KIND_POPULARITY] = "popularity",
};

sr_err sr_sampler_kind_parse(sr_str s, sr_sampler_kind *out)
{
    int i;
    sr_err err = sr_name_parse(s, sr_sampler_kind_names, SR_COUNTOF(sr_sampler_kind_names), "sampler", &i);
    if (err == SR_OK)
        *out = (sr_sampler_kind)i;
    return err;
}

const char *sr_sampler_kind_name(sr_sampler_kind k)
{
    return sr_name_at(sr_sampler_kind_names, SR_COUNTOF(sr_sampler_kind_names), (unsigned)k);
}

sr_err sr_sampler_new_uniform(int32_t n_items, sr_sampler **out)
{
    *out = NULL;
    if (n_items <= 0)
        return sr_errorf(SR_ERR_ARG, "uniform sampler: n_items = %d, must be > 0", (int)n_items);
    sr_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return sr_errorf(SR_ERR_NOMEM, "uniform sampler: out of memory");
    s->kind = SR_SAMPLER_KIND_UNIFORM;
    s->n = n_items;
    *out = s;
    return SR_OK;
}

sr_err sr_sampler_new_popularity(const uint32_t *counts, int32_t n_items, double smoothing,
                                 double power, sr_sampler **out)
{
    sr_err rc = SR_OK;
    sr_sampler *s = NULL;
    int32_t *work = NULL;
    *out = NULL;
    if (n_items <= 0 || !counts) {
        return sr_errorf(SR_ERR_ARG, "popularity sampler: n_items = %d%s, must be > 0 with counts",
                         (int)n_items, counts ? "" : " (counts NULL)");
    }
    if (!isfinite(smoothing) || smoothing < 0.0)
        return sr_errorf(SR_ERR_ARG, "popularity sampler: smoothing %g, must be finite and >= 0",
                         smoothing);
    if (!isfinite(power) || power < 0.0)
        return sr_errorf(SR_ERR_ARG, "popularity sampler: power %g, must be finite and >= 0",
                         power);
    size_t n = (size_t)n_items;
    s = calloc(1, sizeof *s);
    if (s) {
        s->q = malloc(n * sizeof *s->q);
        s->prob = malloc(n * sizeof *s->prob);
        s->alias = malloc(n * sizeof *s->alias);
    }
    work = malloc(n * sizeof *work);
    if (!s || !s->q || !s->prob || !s->alias || !work) {
        rc = sr_errorf(SR_ERR_NOMEM, "popularity sampler: out of memory for %zu items", n);
        goto done;
    }
    s->kind = SR_SAMPLER_KIND_POPULARITY;
    s->n = n_items;

    double total = 0.0;
    size_t heaviest = 0;
    for (size_t i = 0; i < n; i++) {
        double w = pow((double)counts[i] + smoothing, power);
        s->q[i] = w;
        total += w;
        if (w > s->q[heaviest])
            heaviest = i;
    }
    if (!isfinite(total)) {
        rc = sr_errorf(SR_ERR_ARG,
                       "popularity sampler: weights (count + %g)^%g overflow a double", smoothing,
                       power);
        goto done;
    }
    if (total <= 0.0) {
        rc = sr_errorf(SR_ERR_EMPTY,
                       "popularity sampler: all %zu items have weight 0 (counts all 0 and "
                       "smoothing 0)", n);
        goto done;
    }

    /* Vose: scale to mean 1, then pair each column below 1 ("small") with
     * one above ("large") that tops it up. prob[] holds the scaled weights
     * while the table is built; a column's entry is final once it leaves
     * the small list. small grows from work[0], large from work[n - 1]
     * down; an item is in at most one of them, so they never meet. */
    size_t ns = 0, nl = 0;
    for (size_t i = 0; i < n; i++) {
        s->q[i] /= total;
        s->prob[i] = s->q[i] * (double)n;
        if (s->prob[i] < 1.0)
            work[ns++] = (int32_t)i;
        else
            work[n - ++nl] = (int32_t)i;
    }
    while (ns > 0 && nl > 0) {
        int32_t l = work[--ns];
        int32_t g = work[n - nl--];
        s->alias[l] = g;
        /* (a + b) - 1 rather than a - (1 - b): the order Vose recommends to
         * limit round-off */
        s->prob[g] = (s->prob[g] + s->prob[l]) - 1.0;
        if (s->prob[g] < 1.0)
            work[ns++] = g;
        else
            work[n - ++nl] = g;
    }
    /* What is left should be exactly 1 and is, up to round-off. An item of
     * weight 0 can be left over only if round-off reached a whole unit,
     * which n * 2^-53 never does; the branch is defensive, so that even
     * then such an item is never drawn (its column goes to the heaviest). */
    while (nl > 0) {
        int32_t g = work[n - nl--];
        s->prob[g] = 1.0;
        s->alias[g] = g;
    }
    while (ns > 0) {
        int32_t l = work[--ns];
        if (s->q[l] > 0.0) {
            s->prob[l] = 1.0;
            s->alias[l] = l;
        } else {
            s->prob[l] = 0.0;
            s->alias[l] = (int32_t)heaviest;
        }
    }
    *out = s;
    s = NULL;
done:
    free(work);
    sr_sampler_free(&s);
    return rc;
}

void sr_sampler_free(sr_sampler **s)
{
    if (!s || !*s)
        return;
    free((*s)->q);
    free((*s)->prob);
    free((*s)->alias);
    free(*s);
    *s = NULL;
}

sr_sampler_kind sr_sampler_kind_of(const sr_sampler *s)
{
    return s->kind;
}

int32_t sr_sampler_size(const sr_sampler *s)
{
    return s->n;
}

double sr_sampler_prob(const sr_sampler *s, int32_t item)
{
    if (item < 0 || item >= s->n)
        return 0.0;
    if (s->kind == SR_SAMPLER_KIND_UNIFORM)
        return 1.0 / (double)s->n;
    return s->q[item];
}

void sr_sampler_probs(const sr_sampler *s, const int32_t *items, int n, float *q)
{
    for (int i = 0; i < n; i++)
        q[i] = (float)sr_sampler_prob(s, items[i]);
}

void sr_sampler_draw(const sr_sampler *s, sr_rng *rng, int n, int32_t *items, float *q)
{
    if (s->kind == SR_SAMPLER_KIND_UNIFORM) {
        float qu = (float)(1.0 / (double)s->n);
        for (int i = 0; i < n; i++) {
            items[i] = (int32_t)sr_rng_below(rng, (uint64_t)s->n);
            if (q)
                q[i] = qu;
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        int32_t col = (int32_t)sr_rng_below(rng, (uint64_t)s->n);
        double u = sr_rng_uniform(rng);
        int32_t item = u < s->prob[col] ? col : s->alias[col];
        items[i] = item;
        if (q)
            q[i] = (float)s->q[item];
    }
}

/* ---- the authors' candidate list ------------------------------------------- */

static int sr_sampler_cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Index of the first element >= key in sorted v[0, n). */
static size_t sr_sampler_lower_bound(const int32_t *v, size_t n, int32_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

sr_err sr_sampler_candidates_authors(const int32_t *targets, int T, int32_t n_items, int n_neg,
                                     sr_rng *rng, int32_t *out, int cap, int *n_distinct,
                                     int *n_out)
{
    *n_distinct = 0;
    *n_out = 0;
    if (n_items <= 0 || n_neg < 0 || T < 0)
        return sr_errorf(SR_ERR_ARG, "authors' candidates: n_items %d, n_neg %d, T %d",
                         (int)n_items, n_neg, T);
    if ((int64_t)cap < (int64_t)T + n_neg)
        return sr_errorf(SR_ERR_ARG, "authors' candidates: cap %d < T %d + n_neg %d", cap, T,
                         n_neg);
    /* distinct targets, ascending */
    size_t u = 0;
    for (int t = 0; t < T; t++) {
        if (targets[t] < 0)
            continue;
        if (targets[t] >= n_items)
            return sr_errorf(SR_ERR_ARG, "authors' candidates: target %d of row %d >= n_items %d",
                             (int)targets[t], t, (int)n_items);
        out[u++] = targets[t];
    }
    qsort(out, u, sizeof *out, sr_sampler_cmp_i32);
    size_t d = 0;
    for (size_t i = 0; i < u; i++)
        if (d == 0 || out[i] != out[d - 1])
            out[d++] = out[i];
    int64_t m = (int64_t)n_items - (int64_t)d; /* items left to draw from */
    if (n_neg > m)
        return sr_errorf(SR_ERR_ARG,
                         "authors' candidates: %d negatives wanted but only %lld items are not "
                         "targets", n_neg, (long long)m);

    /* Floyd's sampling of n_neg distinct ranks in [0, m), kept sorted in
     * r[0, k): every k-subset is equally likely. */
    int32_t *r = out + d;
    size_t k = 0;
    for (int64_t j = m - n_neg; j < m; j++) {
        int32_t x = (int32_t)sr_rng_below(rng, (uint64_t)j + 1);
        size_t at = sr_sampler_lower_bound(r, k, x);
        if (at < k && r[at] == x) {
            r[k++] = (int32_t)j; /* j exceeds every rank drawn so far */
        } else {
            memmove(r + at + 1, r + at, (k - at) * sizeof *r);
            r[at] = x;
            k++;
        }
    }
    /* rank -> item: the rank-th item (0-based) that is not a target. Ranks
     * ascend, so the count of targets passed only grows. */
    size_t oi = 0;
    for (size_t i = 0; i < k; i++) {
        int64_t x = (int64_t)r[i] + (int64_t)oi;
        while (oi < d && out[oi] <= x) {
            oi++;
            x = (int64_t)r[i] + (int64_t)oi;
        }
        r[i] = (int32_t)x;
    }
    *n_distinct = (int)d;
    *n_out = (int)(d + k);
    return SR_OK;
}
