/* sr_eval.h - the evaluator: next-track queries read from a session store,
 * each scored against the WHOLE catalogue chunk by chunk (bounded memory at
 * millions of tracks), ranked pessimistically (sr_metrics.h) and reduced to
 * HR / NDCG / MRR at K in {1, 5, 10, 20} on all, listened and skipped
 * targets, plus catalogue coverage and mean popularity of the top-k lists.
 * A `sampled` protocol (the authors': the query batch's targets plus 1000
 * uniform negatives) exists only for comparison and says so in its keys.
 * Any recommender is evaluated through the same sr_scorer interface: the
 * neural models (sr_model_scorer below) and the baselines (sr_baseline.h).
 *
 * Dimension legend: Q queries in one batch, C items in one chunk, I
 * catalogue size, D model width, k top-k length.
 *
 * Queries (SPEC.md section 5), for split = SR_SPLIT_VALID or SR_SPLIT_TEST:
 *   leave-last store (sessions marked SR_SPLIT_ALL, n >= 3 plays):
 *     validation: input x_1 .. x_{n-2}, target x_{n-1}
 *     test:       input x_1 .. x_{n-1}, target x_n
 *   temporal store: each session marked `split` with n >= 2 plays gives
 *     input x_1 .. x_{n-1}, target x_n.
 * Input plays of unseen tracks (SR_TRACK_UNSEEN) are dropped; a query left
 * with no input is not scored and is counted in n_no_input. An unseen
 * target is a miss at every K (SR_METRICS_RANK_UNSEEN). The target's label
 * is its own SR_FB_SKIPPED bit.
 *
 * Ranks are exact and consistent: every score compared with the target's
 * comes from the same scorer call shape as the target's own score (two
 * passes over the chunks that hold targets or excluded items; see
 * sr_eval.c), so a scorer that ties items is always ranked pessimistically.
 *
 * Threads: queries of a batch are ranked in parallel (OpenMP); the scorer
 * may use OpenMP / oneDNN inside score_chunk. Results are deterministic for
 * a given thread count and identical across thread counts for scorers whose
 * scores do not depend on it.
 */
#ifndef SR_EVAL_H
#define SR_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_common.h"
#include "sr_dnnl.h"
#include "sr_metrics.h"
#include "sr_model.h"
#include "sr_store.h"

/* ---- the scorer interface ---------------------------------------------------- */

/* Q query sessions in CSR form. */
typedef struct sr_eval_queries {
    int Q;                  /* 1..max_queries */
    const int32_t *tracks;  /* [offsets[Q]] input plays, dense indices in [0, I) */
    const uint8_t *skipped; /* [offsets[Q]] 0/1 */
    const int64_t *offsets; /* [Q + 1], every session >= 1 play */
} sr_eval_queries;

typedef struct sr_scorer {
    void *self;
    int32_t n_items;   /* I */
    int max_queries;   /* the largest Q prepare accepts */
    /* Take a batch of queries (copied or encoded; q need not outlive it). */
    sr_err (*prepare)(void *self, const sr_eval_queries *q);
    /* Scores of items [c0, c0 + C) for the prepared queries:
     *   scores: [Q, C] out, row-major
     * Deterministic: the same (c0, C) after the same prepare gives
     * bit-identical scores. */
    sr_err (*score_chunk)(void *self, int32_t c0, int32_t C, float *scores);
} sr_scorer;

/* The neural models: prepare = sr_model_queries ([Q, D] query vectors),
 * score_chunk = one sr_matmul_nt against rows [c0, c0 + C) of
 * sr_model_output_table. max_queries <= the model's B_max. m and ctx are
 * borrowed (the model's arena is used: do not train it while scoring). */
typedef struct sr_model_scorer sr_model_scorer;
sr_err sr_model_scorer_new(sr_model *m, sr_dnnl_ctx *ctx, int max_queries,
                           sr_model_scorer **out);
const sr_scorer *sr_model_scorer_get(sr_model_scorer *s);
void sr_model_scorer_free(sr_model_scorer **s); /* NULL-safe */

/* ---- configuration --------------------------------------------------------- */

typedef enum sr_eval_protocol {
    SR_EVAL_PROTOCOL_FULL = 0,  /* every catalogue item is a candidate (default) */
    SR_EVAL_PROTOCOL_SAMPLED    /* the authors': batch targets + N uniform negatives */
} sr_eval_protocol;
sr_err sr_eval_protocol_parse(sr_str s, sr_eval_protocol *out); /* "full" | "sampled" */
const char *sr_eval_protocol_name(sr_eval_protocol p);

typedef enum sr_eval_exclude {
    SR_EVAL_EXCLUDE_NONE = 0,   /* default: repeats are normal in music */
    SR_EVAL_EXCLUDE_PLAYED,     /* items played in the input session */
    SR_EVAL_EXCLUDE_SKIPPED     /* items skipped in the input session */
} sr_eval_exclude;
sr_err sr_eval_exclude_parse(sr_str s, sr_eval_exclude *out); /* "none" | "played" | "skipped" */
const char *sr_eval_exclude_name(sr_eval_exclude e);

typedef struct sr_eval_config {
    int split;                  /* SR_SPLIT_VALID or SR_SPLIT_TEST */
    sr_eval_protocol protocol;
    sr_eval_exclude exclude;    /* the target itself is never excluded; must be NONE
                                 * with the sampled protocol (SR_ERR_ARG) */
    int batch;                  /* Q per scorer call, 1..scorer max_queries */
    int chunk;                  /* C items per chunk, >= 1 */
    uint64_t max_queries;       /* 0 = every query; else the first max_queries query
                                 * sessions in the permutation sr_batch_permute(., n, seed)
                                 * (a fixed validation subsample), n = st->n_sessions,
                                 * sessions that give no query passed over (queries
                                 * without a known input count among the max_queries).
                                 * max_queries >= the split's queries means all of
                                 * them, in store order */
    uint64_t seed;              /* subsample and sampled negatives */
    int sampled_negatives;      /* N of the sampled protocol (default 1000) */
    int top_k;                  /* k of coverage and mean popularity (default 10) */
} sr_eval_config;

/* split TEST, full, exclude none, batch 256, chunk 8192, all queries, seed 1,
 * 1000 negatives, top_k 10. */
sr_eval_config sr_eval_config_default(void);

/* ---- running ------------------------------------------------------------- */

typedef struct sr_eval_result {
    sr_metrics_result metrics;  /* see sr_metrics.h */
    sr_eval_protocol protocol;
    sr_eval_exclude exclude;
    int split;
    int top_k;
    uint64_t n_no_input;        /* queries not scored: no known input play */
    double coverage;            /* distinct items in any top-k list / I (NaN: sampled
                                 * protocol or no scored query). A top-k list is the
                                 * recommendation of a scored query (unseen targets
                                 * included): sr_topk order, the excluded items left out
                                 * (even the target when it was played: the list must
                                 * not depend on the held-out target) */
    double mean_pop;            /* mean training plays (st->track_plays) of the items
                                 * in the top-k lists (NaN as above) */
    double seconds;             /* wall time of sr_eval_run */
} sr_eval_result;

/* Evaluate `sc` on the queries of `st`. progress (may be NULL) gets phase
 * "evaluate" with queries done / total after every batch; returning false
 * stops with SR_ERR_CANCELLED. Memory: O(Q C + Q k + I / 8) besides the
 * scorer. SR_ERR_ARG for a bad config or a scorer whose n_items differs
 * from st->n_tracks; SR_ERR_EMPTY when the split has no query. */
sr_err sr_eval_run(const sr_store *st, const sr_scorer *sc, const sr_eval_config *c,
                   sr_progress_fn progress, void *ud, sr_eval_result *out);

/* The seed of the sampled negatives of scorer batch `batch` (0-based; a
 * batch is up to c->batch consecutive queries that have an input, in query
 * order): batch b draws from sr_rng_seed(r, sr_eval_sampled_seed(seed, b))
 * through sr_sampler_candidates_authors, with min(N, I - distinct targets)
 * negatives. Exposed so that tests and reports can redraw the candidates. */
uint64_t sr_eval_sampled_seed(uint64_t seed, uint64_t batch);

/* Flat keys of a result, in a fixed order: the 42 keys of sr_metrics_visit
 * (prefixed "sampled_" under the sampled protocol, so "sampled_hr@10" can
 * never be mistaken for a full-ranking number), then
 *   "coverage@<k>", "mean_pop@<k>", "n_no_input" (count), "seconds".
 * NaN values must be written as null in JSON. */
void sr_eval_visit(const sr_eval_result *r, sr_metrics_visit_fn fn, void *ctx);

/* ---- top-k --------------------------------------------------------------- */

/* The k best items of scores[0..n) in descending score order, ties by
 * ascending index (so a constant scorer lists 0, 1, 2 ...). Items with
 * exclude[i] != 0 are skipped (exclude may be NULL); NaN scores rank last.
 *   scores: [n]  exclude: [n] or NULL  items: [k] out  out_scores: [k] out or NULL
 * Returns the number written, min(k, candidates). */
int sr_topk(const float *scores, int32_t n, const uint8_t *exclude, int k, int32_t *items,
            float *out_scores);

#endif /* SR_EVAL_H */
