/* sr_metrics.h - the ranking core of the evaluator (the target's rank among
 * the scores of the whole catalogue) and the accumulator of ranking metrics
 * (HR, NDCG, MRR at K in {1, 5, 10, 20}, on all queries and split by the
 * target's skip label; SPEC.md section 5).
 *
 * Dimension legend: I catalogue size (n_items), C items in one chunk of the
 * catalogue, X excluded items.
 *
 * Ranks are PESSIMISTIC: every other item whose score ties the target's
 * counts as ranked above it, so a model that scores everything equally gets
 * rank I, never 1 (a constant model must not look perfect).
 *
 * NaN: the comparison used is "item i counts against the target unless
 * scores[i] < target score". Hence
 * - a NaN score of another item counts against the target (a broken score
 *   never helps the target);
 * - a NaN target score ranks last (rank I, or I minus the excluded items);
 * +-infinity are ordinary values (-0.0 and +0.0 tie).
 *
 * The rank functions never allocate, lock or log; they are one pass over the
 * scores (vectorised with `omp simd`) and may be called from many threads.
 */
#ifndef SR_METRICS_H
#define SR_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_common.h"

/* ---- ranking ------------------------------------------------------------- */

/* 1-based rank of scores[target] among scores[0..n_items), ties counted against it. */
int32_t sr_target_rank(const float *scores, int32_t n_items, int32_t target);
/*   scores: [I] one query's scores, I = n_items
 * rank = 1 + #{i != target : !(scores[i] < scores[target])}, in [1, I].
 * Returns 0 (never a valid rank) when scores is NULL, n_items < 1 or target is
 * outside [0, n_items): the caller handles unseen targets (SR_TRACK_UNSEEN)
 * before ranking. */

/* Number of items of one chunk that count against a target scored
 * target_score: #{c : !(scores[c] < target_score)}.
 *   scores: [C] scores of items [c0, c0 + C) of the catalogue
 * For a catalogue scored chunk by chunk (bounded memory), the target's rank is
 * the SUM of this count over all chunks, the target's own chunk included: the
 * target counts against itself exactly once, which supplies the "1 +". With a
 * NaN target_score every item counts (returns n), so the sum is I.
 * Returns 0 when scores is NULL or n < 1. */
int32_t sr_rank_count_against(const float *scores, int32_t n, float target_score);

/* sr_target_rank with items removed from the candidates (the exclusion
 * policies "played in the session" / "skipped in the session").
 *   scores:   [I]
 *   excluded: [X] item indices, X = n_excluded; may be NULL when X == 0
 * Excluded items are not ranked at all (they neither count against the
 * target nor take a place), so the result is in [1, I - #distinct excluded].
 * The target itself is never excluded, even when listed (repeats are normal
 * in music: the next track may be one already played). Indices outside
 * [0, n_items) are ignored; duplicates count once. Cost O(I + X^2) in the
 * worst case (duplicates are found by a scan of the earlier entries, no
 * allocation): meant for session-sized lists; for large X use the mask form.
 * Returns 0 on the same invalid arguments as sr_target_rank, or when
 * n_excluded < 0 or excluded is NULL with n_excluded > 0. */
int32_t sr_target_rank_excluding(const float *scores, int32_t n_items, int32_t target,
                                 const int32_t *excluded, int32_t n_excluded);

/* The same with an exclusion mask.
 *   scores:   [I]
 *   excluded: [I] 0 = candidate, nonzero = excluded (ignored at the target)
 * Returns 0 on the same invalid arguments as sr_target_rank or a NULL mask. */
int32_t sr_target_rank_masked(const float *scores, int32_t n_items, int32_t target,
                              const uint8_t *excluded);

/* ---- metrics ------------------------------------------------------------- */

#define SR_METRICS_N_K 4
/* The cut-offs K, ascending: {1, 5, 10, 20}. */
extern const int32_t sr_metrics_ks[SR_METRICS_N_K];

/* The rank passed to sr_metrics_add for a target that cannot be ranked
 * because the model has never seen the track (the store's SR_TRACK_UNSEEN):
 * such a query is a miss at every K and is also counted in n_unseen. */
#define SR_METRICS_RANK_UNSEEN INT32_C(-1)

/* Query groups, by the TARGET's skip label (SPEC.md section 6 item 6: the
 * authors selected Skip-MRR queries by the last input's label - wrong). */
typedef enum sr_metrics_group {
    SR_METRICS_GROUP_ALL = 0,      /* every query */
    SR_METRICS_GROUP_LISTENED = 1, /* target not skipped (higher is better) */
    SR_METRICS_GROUP_SKIPPED = 2,  /* target skipped (lower is better) */
    SR_METRICS_GROUP_COUNT = 3
} sr_metrics_group;

/* Sums of one group. Hits are integers (exact and order-independent); the
 * reciprocal-rank and DCG sums are double. */
typedef struct sr_metrics_sums {
    int64_t n_queries;            /* queries in the group, unseen targets included */
    int64_t n_unseen;             /* of which the target was unseen */
    int64_t hits[SR_METRICS_N_K]; /* #queries with 1 <= rank <= K */
    double ndcg[SR_METRICS_N_K];  /* sum of 1 / log2(rank + 1) over hits */
    double mrr[SR_METRICS_N_K];   /* sum of 1 / rank over hits */
} sr_metrics_sums;

/* A plain accumulator: zero-initialise it (`sr_metrics m = {0};` or
 * sr_metrics_init). One per thread, merged in a fixed order (sr_metrics_merge)
 * gives a result that is deterministic for a given partition of the queries;
 * counts and hits are exact for any order. */
typedef struct sr_metrics {
    sr_metrics_sums group[SR_METRICS_GROUP_COUNT];
} sr_metrics;

/* The means. A mean over an empty group is NaN (no queries: undefined, and
 * for "lower is better" metrics 0 would read as perfect). */
typedef struct sr_metrics_group_result {
    int64_t n_queries;
    int64_t n_unseen;
    double hr[SR_METRICS_N_K];
    double ndcg[SR_METRICS_N_K];
    double mrr[SR_METRICS_N_K];
} sr_metrics_group_result;

typedef struct sr_metrics_result {
    sr_metrics_group_result group[SR_METRICS_GROUP_COUNT];
} sr_metrics_result;

void sr_metrics_init(sr_metrics *m);

/* Add one query: `rank` is a 1-based rank (from sr_target_rank...) or
 * SR_METRICS_RANK_UNSEEN; `target_skipped` is the TARGET's skip label.
 * SR_ERR_ARG (m unchanged) for a NULL m or any other rank (0 is what the rank
 * functions return on invalid arguments). */
sr_err sr_metrics_add(sr_metrics *m, int32_t rank, bool target_skipped);

/* a += b (b unchanged; a and b may not alias). */
void sr_metrics_merge(sr_metrics *a, const sr_metrics *b);

/* Means of every group: hr = hits / n, ndcg = sum / n, mrr = sum / n. */
void sr_metrics_finish(const sr_metrics *m, sr_metrics_result *out);

/* Visit every metric as a flat key and value, always in this order (42 keys):
 *   for prefix in "", "listened_", "skip_"   (all, listened, skipped groups)
 *     for name in "hr", "ndcg", "mrr"
 *       for K in 1, 5, 10, 20:  "<prefix><name>@<K>"
 *   then the counts (is_count = true, integer-valued):
 *     "n_queries", "n_listened_queries", "n_skipped_queries",
 *     "n_unseen_queries", "n_listened_unseen_queries", "n_skipped_unseen_queries"
 * So "skip_mrr@10" is Skip-MRR@10 of SPEC.md section 5 and "mrr@10" equals
 * MAP@10 with one relevant item. Means of an empty group are NaN: a JSON
 * writer must emit null for them (JSON has no NaN). */
#define SR_METRICS_N_KEYS 42
typedef void (*sr_metrics_visit_fn)(void *ctx, const char *key, double value, bool is_count);
void sr_metrics_visit(const sr_metrics_result *r, sr_metrics_visit_fn fn, void *ctx);

#endif
