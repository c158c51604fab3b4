/* sr_skipcl.h - the skip-contrastive InfoNCE term of Seshadri & Knees
 * (SPEC.md section 4; derivation, choices and the authors' defects we avoid
 * in docs/skip-term.md).
 *
 * Dimension legend (core/sr_tensor.h): B sessions in the batch, L positions
 * per session, D model dimension.
 *
 * For session b, with a play "listened" when valid != 0 and skipped == 0 and
 * "skipped" when valid != 0 and skipped != 0:
 *   anchor    t: a listened position that has a later listened position;
 *   positive  p(t): the first listened u > t (never an earlier position);
 *   negatives N(b): every skipped position of session b, before or after t;
 *   s(a, k)   = cos(a, k) / tau, with the norm of each vector taken as
 *               sqrt(|a|^2 + SR_SKIPCL_NORM_EPS^2);
 *   l_t       = -log( exp(s(c_t, k_p)) / (exp(s(c_t, k_p)) + sum_{u in N} exp(s(c_t, k_u))) );
 *   loss      = mean of l_t over the anchors of sessions with >= 1 negative
 *               (0 when there is no such anchor).
 * Positions with valid == 0 (padding, plays outside the input window,
 * held-out targets) are never read: neither their labels nor their vectors.
 */
#ifndef SR_SKIPCL_H
#define SR_SKIPCL_H

#include <stdint.h>

#include "sr_common.h"

/* Added (squared) to every squared norm, so that cos(0, k) = 0 and the term
 * is differentiable everywhere. Far below any trained embedding's norm. */
#define SR_SKIPCL_NORM_EPS 1e-8

/* Skip-contrastive InfoNCE (SPEC.md section 4). context, keys: [B, L, D] row-major;
 * skipped, valid: [B, L] of 0/1 (valid = 0 for padding and plays outside the window).
 * Returns the mean loss over anchors with >= 1 negative (0 when there is none); when
 * grad_context / grad_keys are not NULL, writes dLoss/dcontext and dLoss/dkeys.
 *
 * "Writes": unlike the _backward functions of sr_tensor.h, each non-NULL
 * gradient buffer is OVERWRITTEN - zeroed over all of [B, L, D], then the
 * contributions are added - so rows of non-anchor, non-key and invalid
 * positions come back as exact zeros. Use sr_skipcl_loss_acc to accumulate.
 *
 * Aliasing: context == keys is allowed (the item-embedding context of P1:
 * c_t = E[x_t]). grad_context == grad_keys is allowed: both contributions are
 * then summed into the one buffer, which is dLoss/dX for context = keys = X.
 * Gradient buffers must not overlap the inputs, nor each other partially.
 *
 * tau: > 0 and finite (check configured values with sr_skipcl_check_args).
 * Deterministic: the result does not depend on the number of OpenMP threads. */
float sr_skip_contrastive(const float *context, const float *keys,
                          const uint8_t *skipped, const uint8_t *valid,
                          int B, int L, int D, float tau,
                          float *grad_context, float *grad_keys);

/* The same loss, returned in double, with the sr_tensor.h gradient
 * convention: grad_scale * dLoss/dcontext is ADDED to grad_context and
 * grad_scale * dLoss/dkeys to grad_keys (each [B, L, D], NULL = not needed);
 * nothing else in them is touched. grad_scale is the caller's weight lambda
 * of L = L_rec + lambda * L_nf. Same aliasing rules as sr_skip_contrastive.
 * context, keys: [B, L, D]; skipped, valid: [B, L]. */
double sr_skipcl_loss_acc(const float *context, const float *keys,
                          const uint8_t *skipped, const uint8_t *valid,
                          int B, int L, int D, float tau, float grad_scale,
                          float *grad_context, float *grad_keys);

/* What the term sees in a batch, for logs such as "L_nf 0.61 over 812 anchors". */
typedef struct sr_skipcl_counts {
    int64_t anchors;        /* anchors with >= 1 negative: the loss is their mean */
    int64_t anchors_unused; /* anchors of sessions without a skipped play: not counted */
    int64_t negatives;      /* skipped plays in sessions with >= 1 counted anchor */
    int64_t pairs;          /* (anchor, negative) pairs: the softmax terms besides positives */
    int64_t sessions;       /* sessions with >= 1 counted anchor */
} sr_skipcl_counts;

/* Count anchors, negatives and pairs of a batch exactly as the loss defines
 * them. skipped, valid: [B, L] (labels at valid == 0 are not read). */
void sr_skipcl_count(const uint8_t *skipped, const uint8_t *valid, int B, int L,
                     sr_skipcl_counts *out);

/* Validate the arguments that come from configuration or data sizes before a
 * run: B, L >= 0, D >= 1, B * L * D representable, tau > 0 and finite.
 * SR_ERR_ARG with a message naming the bad value. The loss functions assert
 * these (a failed check there is a caller bug, not bad input). */
sr_err sr_skipcl_check_args(int B, int L, int D, float tau);

#endif /* SR_SKIPCL_H */
