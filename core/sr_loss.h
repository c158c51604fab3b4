/* sr_loss.h - next-item targets and the recommendation losses (full softmax
 * cross-entropy over the catalogue in chunks, sampled softmax with shared
 * negatives, binary cross-entropy with negatives). Formulas, options and how
 * they relate to the authors' code: docs/losses.md.
 *
 * Dimension legend (sr_tensor.h): B sequences, L positions, T = B * L rows,
 * I catalogue size, C items in one chunk of the catalogue, N negatives.
 *
 * These functions never multiply matrices: they take logits the caller
 * computed (h E^T over a chunk of the item table, or dot products with
 * gathered rows) and give back d(loss)/d(logits), so the model chains
 * "matmul -> loss -> matmul backward".
 *
 * Conventions shared by every loss here:
 * - a row takes part only when targets[t] >= 0; rows with target -1 add
 *   nothing to the loss and their gradient entries are left untouched;
 * - the returned loss is the MEAN over rows with a target, accumulated in
 *   double; 0 (never NaN) when no row has a target; *n_targets (when not NULL)
 *   receives that count;
 * - gradients: `d... += scale * d(SUM over rows of the row losses)/d(logit)`.
 *   Pass scale = weight / n_targets for the gradient of weight * mean loss;
 *   an explicit scale lets the caller normalise over several micro-batches;
 * - backward ACCUMULATES (sr_tensor.h) except where a function says otherwise;
 *   a NULL gradient pointer means "not needed";
 * - rows are processed in parallel (OpenMP, rows partitioned between threads);
 *   gradients are bit-identical for any thread count and the loss is
 *   deterministic for a given thread count;
 * - kernels never allocate, lock or log.
 */
#ifndef SR_LOSS_H
#define SR_LOSS_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_common.h"

/* ---- targets ------------------------------------------------------------- */

/* Which later play a position is trained to predict (SPEC.md section 4: the
 * papers frame the task as the next listened track; the authors' main loss
 * predicts the immediate next track). */
typedef enum sr_target_mode {
    SR_TARGET_MODE_NEXT_PLAY = 0,    /* the play at l + 1, skipped or not */
    SR_TARGET_MODE_NEXT_LISTENED = 1 /* the first later valid play with skipped == 0 */
} sr_target_mode;

/* "next_play" / "next_listened" <-> mode. Unknown names are SR_ERR_ARG. */
sr_err sr_target_mode_parse(sr_str s, sr_target_mode *out);
const char *sr_target_mode_name(sr_target_mode m); /* "unknown" when out of range */

/* Next-item targets of every position.
 *   tracks:  [B, L] dense track index (< 0: unknown track)
 *   skipped: [B, L] 0/1, read only where valid == 1
 *   valid:   [B, L] 0/1 (0 = padding or a play outside the input window)
 *   targets: [B, L] out: a track index, or -1 for "no target"
 * A position has a target only when it is valid itself. NEXT_PLAY: the track
 * at l + 1 when l + 1 < L and valid[l + 1]. NEXT_LISTENED: the track at the
 * first u > l with valid[u] and skipped[u] == 0 (invalid positions in between
 * are stepped over). Never wraps around to the start of the session; a target
 * position whose track is < 0 gives -1. Labels and tracks of invalid
 * positions are never read. Returns the number of positions with a target. */
int sr_targets_next(const int32_t *tracks, const uint8_t *skipped, const uint8_t *valid, int B,
                    int L, sr_target_mode mode, int32_t *targets);

/* Number of entries of targets[T] that are >= 0. */
int sr_targets_count(const int32_t *targets, int T);

/* ---- full softmax cross-entropy, chunked over the catalogue -------------- */
/* loss_t = logsumexp_i(logit[t, i]) - logit[t, target_t] over all I items,
 * with the catalogue fed in chunks so memory stays at [T, C]:
 *   sr_ce_full_init                        once per batch
 *   sr_ce_full_stats(chunk k)              for every chunk (online logsumexp)
 *   sr_ce_full_loss                        the mean loss
 *   sr_ce_full_grad(chunk k)               for every chunk again (the logits of
 *                                          the chunk recomputed or kept)
 * Chunks may come in any order; together they must cover [0, I) exactly once.
 * Only rows with targets[t] >= 0 are looked at, in both passes. */

/* Reset the running statistics of T rows: row_max = -inf, row_sumexp = 0,
 * target_logit = NaN (a target no chunk covers leaves NaN, so an
 * out-of-range target makes the loss NaN instead of silently wrong).
 *   row_max: [T]  row_sumexp: [T]  target_logit: [T] */
void sr_ce_full_init(int T, float *row_max, double *row_sumexp, float *target_logit);

/* Pass 1 over one chunk: logits of items [i0, i0 + C).
 *   logits:       [T, C] row-major
 *   targets:      [T] item index or -1
 *   row_max:      [T] running max, updated
 *   row_sumexp:   [T] running sum of exp(logit - row_max), double, updated
 *   target_logit: [T] set for rows whose target lies in this chunk
 * A -inf logit counts as probability 0; NaN propagates to the loss. */
void sr_ce_full_stats(const float *logits, int T, int C, int32_t i0, const int32_t *targets,
                      float *row_max, double *row_sumexp, float *target_logit);

/* Mean over rows with a target of (row_max + log(row_sumexp) - target_logit),
 * summed in double in row order; 0 when no row has a target.
 *   targets, row_max, row_sumexp, target_logit: [T] */
double sr_ce_full_loss(int T, const int32_t *targets, const float *row_max,
                       const double *row_sumexp, const float *target_logit, int *n_targets);

/* Pass 2 over one chunk: d(loss)/d(logits) = scale * (softmax - onehot(target)).
 *   logits:  [T, C] the same values pass 1 saw for items [i0, i0 + C)
 *   targets, row_max, row_sumexp: [T] after pass 1 over every chunk
 *   dlogits: [T, C]
 * accumulate = true: dlogits += ..., rows without a target untouched.
 * accumulate = false: dlogits = ..., rows without a target set to 0; then
 * dlogits may be the logits buffer itself (in place, which saves a [T, C]
 * buffer at catalogue scale). This is the one gradient here that may
 * overwrite: it starts the backward chain, so nothing else writes into it. */
void sr_ce_full_grad(const float *logits, int T, int C, int32_t i0, const int32_t *targets,
                     const float *row_max, const double *row_sumexp, float scale,
                     bool accumulate, float *dlogits);

/* ---- sampled softmax with shared negatives -------------------------------- */
typedef struct sr_sampled_opts {
    /* Subtract log q from every candidate's logit, the target's included
     * (sampled softmax correction: Bengio & Senecal 2008; Jean et al. 2015;
     * Yi et al. 2019). Needs q_pos and q_neg. */
    bool log_q;
    /* A negative equal to the row's target is excluded from that row
     * (probability 0, gradient 0). Needs neg_items. */
    bool remove_hits;
} sr_sampled_opts;

/* The standard sampled softmax: log_q and remove_hits on. */
sr_sampled_opts sr_sampled_opts_standard(void);
/* The authors' variant (docs/losses.md): no log-Q correction, hits removed.
 * The caller builds the shared candidates with sr_sampler_candidates_authors
 * (the batch's distinct targets + uniform negatives without replacement). */
sr_sampled_opts sr_sampled_opts_authors(void);

/* Sampled softmax over [the row's target, N shared negatives]:
 *   z_0 = pos_logits[t] - log q_pos[t],  z_j = neg_logits[t, j] - log q_neg[j]
 *   (no "- log q" without opts.log_q), hits (neg_items[j] == targets[t]) left
 *   out when opts.remove_hits, loss_t = logsumexp(z) - z_0.
 *   pos_logits: [T]     logit of the row's own target
 *   neg_logits: [T, N]  logit of each shared negative
 *   targets:    [T]     item index or -1 (row ignored)
 *   neg_items:  [N]     item index of each negative (NULL only without remove_hits)
 *   q_pos:      [T]     sampling probability of each row's target (NULL only without log_q)
 *   q_neg:      [N]     sampling probability of each negative (NULL only without log_q)
 *   dpos:       [T] or NULL     += scale * dsum/dpos_logits
 *   dneg:       [T, N] or NULL  += scale * dsum/dneg_logits
 * q values <= 0 or NaN count as FLT_MIN, so a zero probability cannot turn
 * the loss into inf - inf. Duplicate negatives stay (sampling with
 * replacement; log q accounts for them). Returns the mean loss. */
double sr_sampled_softmax(const float *pos_logits, const float *neg_logits,
                          const int32_t *targets, const int32_t *neg_items, const float *q_pos,
                          const float *q_neg, int T, int N, sr_sampled_opts opts, float scale,
                          float *dpos, float *dneg, int *n_targets);

/* ---- binary cross-entropy with N negatives per target --------------------- */
/* loss_t = -log sigmoid(s_pos) - sum_k log(1 - sigmoid(s_neg_k))
 *        = softplus(-s_pos) + sum_k softplus(s_neg_k)
 * summed over the row's negatives (not averaged over them), then averaged over
 * rows with a target - SASRec's normalisation with N = 1.
 *   pos_logits: [T]     neg_logits: [T, N]  the row's own N negatives
 *   targets:    [T]     item index or -1 (row ignored)
 *   neg_items:  [T, N] or NULL: when given, a negative equal to the row's
 *               target is left out (no loss, no gradient)
 *   dpos: [T] or NULL, dneg: [T, N] or NULL  += scale * dsum/dlogits
 * Stable for any logit (softplus via log1p(exp(-|x|))). Returns the mean loss. */
double sr_bce_negatives(const float *pos_logits, const float *neg_logits, const int32_t *targets,
                        const int32_t *neg_items, int T, int N, float scale, float *dpos,
                        float *dneg, int *n_targets);

#endif /* SR_LOSS_H */
