/* sr_metrics.c - target rank (pessimistic ties) and ranking metrics.
 * Dimension legend: I catalogue size, C items in a chunk, X excluded items.
 * Contracts and NaN rules: sr_metrics.h. */
#include "sr_metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const int32_t sr_metrics_ks[SR_METRICS_N_K] = { 1, 5, 10, 20 };

/* ---- ranking ------------------------------------------------------------- */

/* scores: [C]. "!(s < t)" rather than "s >= t" so that a NaN on either side
 * counts against the target (sr_metrics.h). An integer sum: vectorising it
 * reassociates nothing that could change the result. */
int32_t sr_rank_count_against(const float *scores, int32_t n, float target_score)
{
    if (!scores || n < 1)
        return 0;
    int32_t cnt = 0;
#pragma omp simd reduction(+ : cnt)
    for (int32_t i = 0; i < n; i++)
        cnt += !(scores[i] < target_score);
    return cnt;
}

/* scores: [I]. The target counts against itself once (t < t is false, also
 * for NaN), which is the "1 +" of the rank. */
int32_t sr_target_rank(const float *scores, int32_t n_items, int32_t target)
{
    if (!scores || n_items < 1 || target < 0 || target >= n_items)
        return 0;
    return sr_rank_count_against(scores, n_items, scores[target]);
}

/* scores: [I], excluded: [X]. Full rank minus the distinct excluded items
 * that counted against the target; the duplicate scan runs only for those. */
int32_t sr_target_rank_excluding(const float *scores, int32_t n_items, int32_t target,
                                 const int32_t *excluded, int32_t n_excluded)
{
    if (n_excluded < 0 || (!excluded && n_excluded > 0))
        return 0;
    int32_t rank = sr_target_rank(scores, n_items, target);
    if (rank == 0)
        return 0;
    const float t = scores[target];
    for (int32_t x = 0; x < n_excluded; x++) {
        int32_t e = excluded[x];
        if (e < 0 || e >= n_items || e == target || scores[e] < t)
            continue;
        bool seen = false;
        for (int32_t y = 0; y < x && !seen; y++)
            seen = excluded[y] == e;
        if (!seen)
            rank--;
    }
    SR_ASSERT(rank >= 1);
    return rank;
}

/* scores: [I], excluded: [I]. */
int32_t sr_target_rank_masked(const float *scores, int32_t n_items, int32_t target,
                              const uint8_t *excluded)
{
    if (!scores || !excluded || n_items < 1 || target < 0 || target >= n_items)
        return 0;
    const float t = scores[target];
    int32_t cnt = 0;
#pragma omp simd reduction(+ : cnt)
    for (int32_t i = 0; i < n_items; i++)
        cnt += !(scores[i] < t) & (excluded[i] == 0);
    /* the target is never excluded: put it back if its mask bit was set */
    if (excluded[target] != 0)
        cnt++;
    return cnt;
}

/* ---- metrics ------------------------------------------------------------- */

void sr_metrics_init(sr_metrics *m)
{
    if (m)
        memset(m, 0, sizeof *m);
}

static void sr_metrics_sums_add(sr_metrics_sums *s, int32_t rank)
{
    s->n_queries++;
    if (rank == SR_METRICS_RANK_UNSEEN) {
        s->n_unseen++;
        return;
    }
    /* SPEC.md section 5: NDCG with one relevant item is 1 / log2(rank + 1),
     * MRR (= MAP with one relevant item) is 1 / rank, both 0 beyond K. */
    const double gain = 1.0 / log2((double)rank + 1.0);
    const double rr = 1.0 / (double)rank;
    for (int k = 0; k < SR_METRICS_N_K; k++) {
        if (rank <= sr_metrics_ks[k]) {
            s->hits[k]++;
            s->ndcg[k] += gain;
            s->mrr[k] += rr;
        }
    }
}

sr_err sr_metrics_add(sr_metrics *m, int32_t rank, bool target_skipped)
{
    if (!m)
        return sr_errorf(SR_ERR_ARG, "sr_metrics_add: NULL accumulator");
    if (rank < 1 && rank != SR_METRICS_RANK_UNSEEN)
        return sr_errorf(SR_ERR_ARG,
                         "sr_metrics_add: rank %d is neither >= 1 nor SR_METRICS_RANK_UNSEEN (%d)",
                         (int)rank, (int)SR_METRICS_RANK_UNSEEN);
    sr_metrics_sums_add(&m->group[SR_METRICS_GROUP_ALL], rank);
    sr_metrics_sums_add(&m->group[target_skipped ? SR_METRICS_GROUP_SKIPPED
                                                 : SR_METRICS_GROUP_LISTENED],
                        rank);
    return SR_OK;
}

void sr_metrics_merge(sr_metrics *a, const sr_metrics *b)
{
    SR_ASSERT(a && b && a != b);
    for (int g = 0; g < SR_METRICS_GROUP_COUNT; g++) {
        sr_metrics_sums *x = &a->group[g];
        const sr_metrics_sums *y = &b->group[g];
        x->n_queries += y->n_queries;
        x->n_unseen += y->n_unseen;
        for (int k = 0; k < SR_METRICS_N_K; k++) {
            x->hits[k] += y->hits[k];
            x->ndcg[k] += y->ndcg[k];
            x->mrr[k] += y->mrr[k];
        }
    }
}

void sr_metrics_finish(const sr_metrics *m, sr_metrics_result *out)
{
    SR_ASSERT(m && out);
    for (int g = 0; g < SR_METRICS_GROUP_COUNT; g++) {
        const sr_metrics_sums *s = &m->group[g];
        sr_metrics_group_result *r = &out->group[g];
        r->n_queries = s->n_queries;
        r->n_unseen = s->n_unseen;
        const double n = (double)s->n_queries;
        for (int k = 0; k < SR_METRICS_N_K; k++) {
            r->hr[k] = s->n_queries > 0 ? (double)s->hits[k] / n : NAN;
            r->ndcg[k] = s->n_queries > 0 ? s->ndcg[k] / n : NAN;
            r->mrr[k] = s->n_queries > 0 ? s->mrr[k] / n : NAN;
        }
    }
}

void sr_metrics_visit(const sr_metrics_result *r, sr_metrics_visit_fn fn, void *ctx)
{
    SR_ASSERT(r && fn);
    static const char *const prefix[SR_METRICS_GROUP_COUNT] = { "", "listened_", "skip_" };
    static const char *const count_name[SR_METRICS_GROUP_COUNT] = { "", "listened_", "skipped_" };
    char key[64];
    for (int g = 0; g < SR_METRICS_GROUP_COUNT; g++) {
        const sr_metrics_group_result *gr = &r->group[g];
        const double *vals[3] = { gr->hr, gr->ndcg, gr->mrr };
        static const char *const name[3] = { "hr", "ndcg", "mrr" };
        for (int v = 0; v < 3; v++) {
            for (int k = 0; k < SR_METRICS_N_K; k++) {
                snprintf(key, sizeof key, "%s%s@%d", prefix[g], name[v], (int)sr_metrics_ks[k]);
                fn(ctx, key, vals[v][k], false);
            }
        }
    }
    for (int g = 0; g < SR_METRICS_GROUP_COUNT; g++) {
        snprintf(key, sizeof key, "n_%squeries", count_name[g]);
        fn(ctx, key, (double)r->group[g].n_queries, true);
    }
    for (int g = 0; g < SR_METRICS_GROUP_COUNT; g++) {
        snprintf(key, sizeof key, "n_%sunseen_queries", count_name[g]);
        fn(ctx, key, (double)r->group[g].n_unseen, true);
    }
}
