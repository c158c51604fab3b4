/* sr_baseline.h - the non-neural baselines, evaluated with the same
 * evaluator (sr_eval.h) and saved in the same file container (sr_ckpt.h):
 *
 *  pop    most popular: score(i) = training plays of i (counted over the
 *         training parts below; equal to st->track_plays for stores written
 *         by ingestion).
 *  rules  sequential rules (Ludewig & Jannach 2018, "SR"): from every
 *         training part, each ordered pair (x_p, x_q) with p < q and
 *         q - p <= window adds 1 / (q - p) to rule(x_p -> x_q); a session is
 *         scored by the rules of its LAST known play:
 *             score(j) = rule(last -> j) + eps * plays(j) / (max_plays + 1)
 *         with eps = 1e-6 (popularity only orders the items without a rule,
 *         and never reorders two items with different rule weights of 1e-5
 *         or more; documented in docs/usage.md). Each item keeps its
 *         `max_rules` strongest rules (ties by ascending item).
 *
 * Training parts are the batcher's (sr_batch_train_range), so held-out
 * plays never leak into a baseline.
 *
 * Dimension legend: I catalogue size, R rules kept in all.
 * Memory: pop 4 I bytes; rules 8 R + 12 I bytes once fitted (row offsets
 * u64, plays u32); while fitting, a hash table of the distinct pairs seen,
 * 16 bytes a slot, at most half full (so <= 32 bytes per distinct pair, at
 * most train plays x window pairs; docs/usage.md gives the bound).
 * File sections: "baseline.kind" TEXT, "baseline.config" U32 [2] (window,
 * max_rules), "baseline.plays" U32 [I]; rules also "baseline.rule_offsets"
 * U64 [I + 1], "baseline.rule_items" I32 [R] (ascending within a row),
 * "baseline.rule_weights" F32 [R].
 */
#ifndef SR_BASELINE_H
#define SR_BASELINE_H

#include <stdint.h>

#include "sr_ckpt.h"
#include "sr_common.h"
#include "sr_eval.h"
#include "sr_store.h"

typedef enum sr_baseline_kind {
    SR_BASELINE_POP = 0,
    SR_BASELINE_RULES
} sr_baseline_kind;
sr_err sr_baseline_kind_parse(sr_str s, sr_baseline_kind *out); /* "pop" | "sr" */
const char *sr_baseline_kind_name(sr_baseline_kind k);          /* "pop" | "sr" */

typedef struct sr_baseline_config {
    sr_baseline_kind kind;
    int window;       /* rules: largest distance q - p, >= 1 (default 10) */
    int max_rules;    /* rules: strongest rules kept per item, >= 1 (default 200) */
} sr_baseline_config;

sr_baseline_config sr_baseline_config_default(sr_baseline_kind kind);

/* Apply one "key=value" (or "key = value") setting: window (1..1000) or
 * max_rules (1..1000000). SR_ERR_ARG naming the line otherwise (c unchanged). */
sr_err sr_baseline_config_set_line(sr_baseline_config *c, sr_str line);

typedef struct sr_baseline sr_baseline;

/* Fit on the training parts of st. progress (may be NULL): phase "fit",
 * sessions done / total. SR_ERR_EMPTY when there is no training play. */
sr_err sr_baseline_fit(const sr_store *st, const sr_baseline_config *c, sr_progress_fn progress,
                       void *ud, sr_baseline **out);
void sr_baseline_free(sr_baseline **b); /* NULL-safe */

const sr_baseline_config *sr_baseline_config_of(const sr_baseline *b);
int32_t sr_baseline_items(const sr_baseline *b); /* I */

/* Add the baseline's sections ("baseline.*") to w; they borrow b's arrays
 * until the write. */
sr_err sr_baseline_save(const sr_baseline *b, sr_ckpt_writer *w);
/* Rebuild from a file written by sr_baseline_save (copies the arrays, so the
 * file may be closed after). SR_ERR_FORMAT when the sections are missing or
 * inconsistent. */
sr_err sr_baseline_load(const sr_ckpt *c, sr_baseline **out);

/* Scores of every item for one session:
 *   tracks: [n] dense indices (entries outside [0, I) are ignored)
 *   scores: [I] out
 * pop ignores the session; rules with no known play scores by popularity
 * alone. Thread-safe (b is read only). */
void sr_baseline_score(const sr_baseline *b, const int32_t *tracks, int n, float *scores);

/* The evaluator's view: score_chunk gives exactly sr_baseline_score's
 * values for the chunk. max_queries >= 1. */
typedef struct sr_baseline_scorer sr_baseline_scorer;
sr_err sr_baseline_scorer_new(const sr_baseline *b, int max_queries, sr_baseline_scorer **out);
const sr_scorer *sr_baseline_scorer_get(sr_baseline_scorer *s);
void sr_baseline_scorer_free(sr_baseline_scorer **s); /* NULL-safe */

#endif /* SR_BASELINE_H */
