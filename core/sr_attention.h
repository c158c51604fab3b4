/* sr_attention.h - the core of multi-head scaled dot-product attention
 * (Vaswani et al. 2017, eq. 1; SASRec / BERT4Rec self-attention, SPEC.md
 * section 3) over already-projected queries, keys and values. The input and
 * output projections are dense layers (sr_dnnl.h); this file is the part
 * oneDNN has no fused op for at our shape (L = 20, Dh = 16), hand-written
 * with OpenMP over (b, h) pairs. Conventions: sr_tensor.h.
 *
 * Dimension legend: B sequences, L positions, D model width, H heads,
 * Dh = D / H; head h reads and writes columns [h * Dh, (h + 1) * Dh).
 *
 * Masks. mode CAUSAL lets query i see keys j <= i (unidirectional, SASRec);
 * BIDIRECTIONAL lets it see every j (BERT4Rec). valid[B, L] is a KEY padding
 * mask: a key with valid = 0 is never attended to - its k and v rows are
 * never read, so even NaN there cannot reach any output. Every query row is
 * computed, padded or not (the model ignores padded rows downstream, as
 * PyTorch's key_padding_mask does); a padded query row must hold finite
 * values (padding embeds as a zero row) - with dout = 0 there its backward
 * adds exact zeros, but NaN would reach dk, dv through 0 * NaN. A query row whose allowed key set is
 * empty (e.g. a left-padded causal row, or a sequence with no valid key)
 * gets att = 0 and out = 0, and its backward is 0: it contributes nothing to
 * dq, dk or dv. This replaces the NaN that softmax over an all -inf row
 * gives in PyTorch.
 *
 * Numerics. Scores s_ij = (q_i . k_j) / sqrt(Dh) are dot products summed in
 * double; softmax subtracts the row maximum and normalises with a double
 * sum; att is stored in float. Products summed over keys (out, dq, dk, dv)
 * accumulate in float in a fixed order over at most L terms. Each (b, h)
 * pair is computed by one thread in a fixed order, so every result is
 * bit-identical for any thread count.
 */
#ifndef SR_ATTENTION_H
#define SR_ATTENTION_H

#include <stdint.h>

#include "sr_common.h"

typedef enum sr_attn_mode {
    SR_ATTN_MODE_CAUSAL = 0,   /* query i attends to keys j <= i */
    SR_ATTN_MODE_BIDIRECTIONAL /* query i attends to every key */
} sr_attn_mode;

/* Longest sequence the kernels accept (a per-row stack buffer of this many
 * doubles replaces scratch arguments; the paper uses L = 20, BERT4Rec at most
 * 200). */
#define SR_ATTN_MAX_L 512

/* Check a shape before calling the kernels (they assert it): B, L, D, H > 0,
 * L <= SR_ATTN_MAX_L, D divisible by H, B * L * D and B * H * L * L within
 * int range for indices. SR_ERR_ARG / SR_ERR_LIMIT with a message naming the
 * offending value. */
sr_err sr_attention_check(int B, int L, int D, int H);

/* Forward.
 *   q, k, v: [B, L, D]   projected queries, keys, values
 *   valid:   [B, L]      key padding mask (0/1); NULL = every key valid
 *   att:     [B, H, L, L] out: probabilities, att[((b*H + h)*L + i)*L + j];
 *                        0 where j is masked; saved for the backward
 *   out:     [B, L, D]   out: head h in columns [h*Dh, (h+1)*Dh)
 * out must not alias q, k or v. Outputs are overwritten. */
void sr_attention_forward(const float *q, const float *k, const float *v, const uint8_t *valid,
                          int B, int L, int D, int H, sr_attn_mode mode, float *att, float *out);

/* Backward: dq += dL/dq, dk += dL/dk, dv += dL/dv (each may be NULL).
 *   q, k, v: [B, L, D]    the forward's inputs, unchanged
 *   valid:   [B, L]       the forward's mask (NULL = all valid)
 *   att:     [B, H, L, L] the forward's probabilities
 *   dout:    [B, L, D]    upstream gradient of out
 *   dq, dk, dv: [B, L, D] accumulated; must not alias each other or inputs
 * Rows of dk, dv at padded keys receive nothing. */
void sr_attention_backward(const float *q, const float *k, const float *v, const uint8_t *valid,
                           const float *att, const float *dout, int B, int L, int D, int H,
                           sr_attn_mode mode, float *dq, float *dk, float *dv);

#endif /* SR_ATTENTION_H */
