/* sr_tensor.h - tensor conventions of the model code (written down once).
 *
 * Storage: float32, row-major, contiguous unless a function says otherwise.
 * Dimension legend (used in every shape comment of core/):
 *   B  sequences in a batch          L  positions per sequence (max length)
 *   D  model dimension               H  attention heads, Dh = D / H per head
 *   F  feed-forward width            I  catalogue size (items / tracks)
 *   N  negatives per target          T  = B * L, rows of a flattened batch
 * A shape comment reads like `x: [B, L, D]`: x[(b * L + l) * D + d].
 *
 * Gradients: every `_backward` ACCUMULATES (+=) into every gradient buffer it
 * is given - parameter gradients and input gradients alike - so residual
 * branches and shared (tied) weights need no special code. The caller zeroes
 * gradient buffers once per step. A NULL gradient pointer means "not needed".
 * Documented exceptions, each at the start of a backward chain: the losses
 * (sr_skip_contrastive() writes its gradients; sr_ce_full_grad() overwrites
 * when `accumulate` is false, so it can run in place on a logits chunk).
 * Forward outputs are OVERWRITTEN.
 *
 * Kernels never allocate, lock or log; scratch memory is passed in. Losses and
 * metrics accumulate in double. Masks are uint8_t 0/1. Padding positions
 * carry valid = 0 and must never influence a valid output (tests perturb
 * them). Random numbers come from sr_rng (seeded) so runs are reproducible.
 */
#ifndef SR_TENSOR_H
#define SR_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "sr_common.h"

/* Index of row (b, l) in a [B, L, ...] tensor flattened to [T, ...]. */
static inline size_t sr_row(int b, int l, int L)
{
    return (size_t)b * (size_t)L + (size_t)l;
}

#endif /* SR_TENSOR_H */
