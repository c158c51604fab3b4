/* sr_sampler.h - negative samplers for the sampled losses (sr_loss.h,
 * docs/losses.md): uniform over [0, I) and popularity-proportional (Vose's
 * alias method, O(1) per draw), drawing from a caller-owned sr_rng so a seed
 * gives the same stream on every machine. Every draw is reported with its
 * sampling probability q, which the log-Q correction of the sampled softmax
 * subtracts (as log q) from the logit.
 *
 * A sampler is immutable once built: threads may draw from one sampler at the
 * same time, each with its own sr_rng.
 * Memory: uniform O(1); popularity 20 bytes per item (q and threshold as
 * double, alias as int32), ~74 MB at MSSD's 3.7M tracks.
 */
#ifndef SR_SAMPLER_H
#define SR_SAMPLER_H

#include <stdint.h>

#include "sr_common.h"
#include "sr_rng.h"

typedef enum sr_sampler_kind {
    SR_SAMPLER_KIND_UNIFORM = 0,   /* q = 1 / I for every item */
    SR_SAMPLER_KIND_POPULARITY = 1 /* q proportional to (count + smoothing)^power */
} sr_sampler_kind;

/* "uniform" / "popularity" <-> kind. Unknown names are SR_ERR_ARG. */
sr_err sr_sampler_kind_parse(sr_str s, sr_sampler_kind *out);
const char *sr_sampler_kind_name(sr_sampler_kind k); /* "unknown" when out of range */

typedef struct sr_sampler sr_sampler;

/* Uniform over [0, n_items). n_items <= 0 is SR_ERR_ARG. */
sr_err sr_sampler_new_uniform(int32_t n_items, sr_sampler **out);

/* Popularity-proportional over [0, n_items):
 *   weight_i = (counts[i] + smoothing)^power,  q_i = weight_i / sum_j weight_j
 *   counts: [n_items], e.g. the store's track_plays (which count training
 *           plays only, so held-out plays do not leak into training)
 * smoothing >= 0 gives unseen items a chance (and makes every target's q
 * positive for the log-Q correction); power = 1 is proportional, 0.75 is
 * word2vec's flattening, 0 is uniform (pow(0, 0) = 1). An item of weight 0
 * is never drawn. SR_ERR_ARG for n_items <= 0, NULL counts, a negative or
 * non-finite smoothing or power, or weights that overflow a double;
 * SR_ERR_EMPTY when every weight is 0; SR_ERR_NOMEM. */
sr_err sr_sampler_new_popularity(const uint32_t *counts, int32_t n_items, double smoothing,
                                 double power, sr_sampler **out);

/* NULL-safe; sets *s to NULL. */
void sr_sampler_free(sr_sampler **s);

sr_sampler_kind sr_sampler_kind_of(const sr_sampler *s);
int32_t sr_sampler_size(const sr_sampler *s); /* I */

/* The probability that one draw returns `item` (0 outside [0, I)). */
double sr_sampler_prob(const sr_sampler *s, int32_t item);

/* q[i] = sr_sampler_prob(items[i]) as float, e.g. q_pos of the targets.
 *   items: [n]  q: [n] */
void sr_sampler_probs(const sr_sampler *s, const int32_t *items, int n, float *q);

/* n independent draws (with replacement).
 *   items: [n] out   q: [n] out, or NULL: the probability of each drawn item
 * Uses 1 (uniform) or 2 (popularity) values of rng per draw. */
void sr_sampler_draw(const sr_sampler *s, sr_rng *rng, int n, int32_t *items, float *q);

/* The shared candidate list of the authors' sampled softmax (docs/losses.md):
 * the distinct items of targets[T] (entries < 0 ignored) in ascending order,
 * then n_neg items drawn uniformly WITHOUT replacement from the rest of
 * [0, n_items), in ascending order (Floyd's algorithm: O(n_neg^2) moves at
 * worst, nothing allocated).
 *   targets: [T]   out: [cap], cap >= T + n_neg
 *   *n_distinct = number of distinct targets, *n_out = *n_distinct + n_neg
 * Feed out[0, *n_out) as neg_items of sr_sampled_softmax with
 * sr_sampled_opts_authors(): each row's own target is then removed from its
 * negatives as an accidental hit, the other rows' targets stay.
 * SR_ERR_ARG when n_items <= 0, n_neg < 0, cap < T + n_neg, a target is
 * >= n_items, or fewer than n_neg items are left to draw from. */
sr_err sr_sampler_candidates_authors(const int32_t *targets, int T, int32_t n_items, int n_neg,
                                     sr_rng *rng, int32_t *out, int cap, int *n_distinct,
                                     int *n_out);

#endif /* SR_SAMPLER_H */
