/* sr_adamw.h - AdamW (Loshchilov & Hutter, "Decoupled Weight Decay
 * Regularization", ICLR 2019) with bias correction, gradient clipping by
 * global norm, a warm-up + cosine learning-rate schedule, and a lazy
 * (sparse-aware) row update for embedding tables.
 *
 * Dimension legend (core/sr_tensor.h): n elements of a flat tensor; a table
 * of `rows` x `cols` (an embedding table is [I, D]).
 *
 * One dense step t (1-based: the first update has t = 1), per element:
 *   m  = beta1 * m + (1 - beta1) * g
 *   v  = beta2 * v + (1 - beta2) * g^2
 *   m^ = m / (1 - beta1^t),  v^ = v / (1 - beta2^t)
 *   p  = p - lr * weight_decay * p - lr * m^ / (sqrt(v^) + eps)
 * Weight decay is decoupled: it never enters g, m or v (so it is not rescaled
 * by the adaptive denominator), and both terms use the old p - the same as
 * PyTorch's torch.optim.AdamW. Arithmetic is in double per element; p, m, v
 * are stored as float. Exclude parameters from decay (biases, layer-norm
 * gains) by passing hyper-parameters with weight_decay = 0 for them.
 *
 * All functions are deterministic: results do not depend on the number of
 * OpenMP threads. None allocates.
 */
#ifndef SR_ADAMW_H
#define SR_ADAMW_H

#include <stddef.h>
#include <stdint.h>

#include "sr_common.h"

typedef struct sr_adamw_hparams {
    double lr;           /* learning rate of THIS step (e.g. from sr_adamw_lr_at), >= 0 */
    double beta1;        /* first-moment decay, [0, 1); 0.9 */
    double beta2;        /* second-moment decay, [0, 1); 0.999 */
    double eps;          /* > 0, added to sqrt(v^); 1e-8 */
    double weight_decay; /* >= 0, decoupled: p -= lr * weight_decay * p */
} sr_adamw_hparams;

/* SR_ERR_ARG (message names the field and value) unless every field is
 * finite and in range, and lr * weight_decay < 1 (else decay flips signs). */
sr_err sr_adamw_hparams_check(const sr_adamw_hparams *hp);

/* One dense AdamW step, t >= 1 (the number of this update).
 * param, m, v: [n] updated in place; grad: [n] read only. m and v start
 * zeroed before step 1. */
void sr_adamw_update(float *param, const float *grad, float *m, float *v, size_t n,
                     const sr_adamw_hparams *hp, int64_t t);

/* Lazy ("sparse") AdamW for an embedding table, one call per training step.
 * param, grad, m, v: [rows, cols]; touched: [rows] 0/1; row_t: [rows] per-row
 * step counts, zeroed before the first step.
 * For every row r with touched[r] != 0: row_t[r] += 1, then the dense formula
 * above runs on that row with t = row_t[r] (its own bias correction) and the
 * row's weight decay is applied in the same update. Rows with touched[r] == 0
 * are not read and not written: param, m, v and row_t stay bit-identical, and
 * their grad rows are not read (they need not be zeroed).
 * Differences from dense Adam over the whole table (where untouched rows have
 * g = 0): dense Adam keeps moving such a row (its momentum m decays but still
 * pushes, v decays, weight decay shrinks it every step); lazy Adam freezes it
 * until it is touched again, then resumes with the stale m, v (no catch-up
 * for the skipped steps) and bias correction by the row's own count. Weight
 * decay is thus applied only on steps where the row is touched: a rarely
 * played track is decayed less than under dense AdamW - the usual behaviour
 * of lazy/sparse Adam (TensorFlow LazyAdam, PyTorch SparseAdam). A row
 * touched on every step follows dense AdamW exactly (bit-identical).
 * "Touched" is the caller's choice (rows gathered in the batch), not
 * grad != 0: a touched row with a zero gradient still takes a step. */
void sr_adamw_update_rows(float *param, const float *grad, float *m, float *v, int64_t *row_t,
                          const uint8_t *touched, size_t rows, size_t cols,
                          const sr_adamw_hparams *hp);

/* One gradient tensor in the global-norm clip. */
typedef struct sr_adamw_grad {
    float *grad;            /* [rows, cols]; a flat tensor is rows = 1, cols = n */
    size_t rows, cols;
    const uint8_t *touched; /* [rows] or NULL: when set, only touched rows are read,
                               counted and scaled; the others are taken as zero
                               (the sparse embedding gradient of sr_adamw_update_rows) */
} sr_adamw_grad;

/* Clip by global norm: total = sqrt(sum over all tensors of g^2), summed in
 * double in a fixed order. When max_norm > 0 and total > max_norm, every
 * counted element is multiplied by max_norm / (total + 1e-6) (PyTorch's
 * clip_grad_norm_ coefficient). Returns the pre-clip total. When the total is
 * not finite (NaN or Inf in a gradient) nothing is scaled and the non-finite
 * total is returned: the caller should skip the step. max_norm <= 0 only
 * measures. list: [count]. */
double sr_adamw_clip(const sr_adamw_grad *list, size_t count, double max_norm);

/* Learning-rate schedule: linear warm-up then cosine decay to a floor. */
typedef struct sr_adamw_schedule {
    double lr_peak;        /* > 0, reached at t = warmup_steps */
    double lr_floor;       /* [0, lr_peak], reached at t = total_steps and kept after */
    int64_t warmup_steps;  /* >= 0 */
    int64_t total_steps;   /* > warmup_steps */
} sr_adamw_schedule;

/* SR_ERR_ARG (message names the field and value) unless the fields are in
 * the ranges above and finite. */
sr_err sr_adamw_schedule_check(const sr_adamw_schedule *s);

/* The learning rate of update t (1-based; t < 1 is taken as 1), W = warmup,
 * T = total:
 *   t <= W:      lr_peak * t / W           (the first step is lr_peak / W, not 0)
 *   W < t < T:   lr_floor + (lr_peak - lr_floor) * (1 + cos(pi * (t - W) / (T - W))) / 2
 *   t >= T:      lr_floor */
double sr_adamw_lr_at(const sr_adamw_schedule *s, int64_t t);

#endif /* SR_ADAMW_H */
