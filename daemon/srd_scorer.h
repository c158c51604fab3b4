/* srd_scorer.h - recommend-time scoring of one neural model, micro-batched.
 *
 * Worker threads call srd_scorer_run at the same time, each with the
 * sessions of its request. A call queues its sessions; while fewer than
 * `lanes` calls are scoring, the caller becomes a scorer ("flat combining",
 * no scoring thread of its own): it takes up to `batch` queued sessions,
 * oldest first and whoever they belong to, computes their query vectors
 * (the model's forward - serialised, as it runs in the model's arena),
 * scores them against the output table in one product (lanes run in
 * parallel: the table is read-only), picks the top k of each and marks them
 * done; it repeats until its own sessions are done. A lone request is
 * scored at once, alone, on its own thread; under load the sessions of
 * concurrent requests share one pass over the [I, D] table, which is what a
 * score costs (it is read from memory once per batch, not once per session).
 * (Dedicated lane threads were measured too: a hand-over to another thread
 * cost 0.2-0.7 ms per request on the 2-core VM, with no gain under load -
 * docs/benchmarks.md.)
 *
 * The product with the table is the kernel of core/sr_bf16.h on a bf16 copy
 * of the table (default), or oneDNN's f32 matmul. A pass runs the forward on
 * one OpenMP thread and the product and the ranking on `threads`. The
 * daemon's default is one lane per core with one thread each: with more,
 * every worker thread that scores keeps an OpenMP team of its own, and a
 * pass that needs two cores waits for both, which on a busy machine shows
 * in the tail latency.
 *
 * Thread safety: srd_scorer_run may be called from any number of threads.
 * The model is borrowed: it must outlive the scorer and nobody else may use
 * its arena (sr_model_queries / sr_model_score) while the scorer lives.
 */
#ifndef SRD_SCORER_H
#define SRD_SCORER_H

#include <stdint.h>

#include "sr_common.h"
#include "sr_model.h"

typedef struct srd_scorer srd_scorer;

/* One session to score. */
typedef struct srd_score_item {
    const int32_t *tracks;   /* [n] dense indices < I, in play order; n >= 1 */
    const uint8_t *skipped;  /* [n] 0/1, or NULL (no skips) */
    int n;
    const int32_t *exclude;  /* [n_exclude] dense indices never returned (repeats ok) */
    int n_exclude;
    int k;                   /* 1..SR_PROTO_MAX_K */
    int32_t *items;          /* [k] out: best first, ties by ascending index (sr_topk) */
    float *scores;           /* [k] out */
    int n_items;             /* out: min(k, I - excluded) */
} srd_score_item;

/* Counters since creation (for `status` and the benchmark). */
typedef struct srd_scorer_stats {
    uint64_t sessions;       /* sessions scored */
    uint64_t passes;         /* scoring passes (batches); sessions / passes = mean batch */
    uint64_t max_batch;      /* largest batch scored */
} srd_scorer_stats;

/* The arithmetic of the product with the table: f32 (oneDNN matmul) or a
 * bf16 copy of the table (core/sr_bf16.h: half the memory traffic, ~2^-8
 * relative error in a score; ranking ties within that may order
 * differently from f32). */
typedef enum srd_scorer_precision {
    SRD_SCORER_BF16 = 0,
    SRD_SCORER_F32
} srd_scorer_precision;

/* lanes: 1..64 scoring calls at once. threads: 1..64 OpenMP threads of a
 * pass's product with the table and ranking (the forward runs on one). batch_max: 1..256 sessions per pass,
 * capped at the model's batch size and so that a lane's [batch, I] score
 * buffer stays within SRD_SCORER_LANE_BYTES. Lane buffers are allocated on
 * first use and grow (powers of two) with the batches really scored, so the
 * memory follows the `batch` callers pass. `ctx` is the context the forward
 * runs in (borrowed, like the model). */
#define SRD_SCORER_LANE_BYTES (64u << 20)
sr_err srd_scorer_new(sr_model *nn, sr_dnnl_ctx *ctx, int lanes, int threads, int batch_max,
                      srd_scorer_precision precision, srd_scorer **out);
void srd_scorer_free(srd_scorer **s); /* NULL-safe; no call may be running */

/* Score items[0..n), in passes of at most `batch` sessions (1..; capped at
 * batch_max - the live setting score_batch). Returns when all n are done.
 * SR_ERR_ARG for an item outside the contract (nothing scored then);
 * otherwise the first error of a pass holding one of them (NOMEM, INTERNAL). */
sr_err srd_scorer_run(srd_scorer *s, srd_score_item *items, int n, int batch);

void srd_scorer_get_stats(srd_scorer *s, srd_scorer_stats *out);

#endif /* SRD_SCORER_H */
