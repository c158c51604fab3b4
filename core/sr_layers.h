/* sr_layers.h - the element-wise and gather layers of the transformer:
 * item-embedding lookup with a sparse, deterministic backward, learned
 * positional embeddings, seeded dropout and the residual add. Hand-written
 * with OpenMP (STYLE.md: oneDNN has no gather/scatter-add). Conventions:
 * sr_tensor.h (row-major float32, backward ACCUMULATES, kernels never
 * allocate or log).
 *
 * Dimension legend: B sequences, L positions, D model width, I catalogue
 * size (rows of the item table), T = B * L flattened rows, n elements.
 *
 * Every result here is bit-identical for any OpenMP thread count: each output
 * float is produced by one thread in a fixed order.
 */
#ifndef SR_LAYERS_H
#define SR_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "sr_common.h"

/* ---- item embedding ----------------------------------------------------- */

/* Check indices taken from data before the kernels (which assert): every
 * idx[t] must be < I (negative = padding). SR_ERR_ARG naming the first bad
 * position and value. */
sr_err sr_embedding_check(const int32_t *idx, size_t T, int32_t I);

/* out[t, :] = table[idx[t], :]; idx[t] < 0 (padding) gives a zero row.
 *   table: [I, D]   idx: [T]   out: [T, D] (overwritten) */
void sr_embedding_forward(const float *table, const int32_t *idx, int T, int D, int I,
                          float *out);

/* dtable[idx[t], :] += dout[t, :] for every t with idx[t] >= 0.
 *   dout: [T, D]   idx: [T]   dtable: [I, D] accumulated
 *   touched: [I] or NULL - touched[i] is set to 1 for every row that
 *            received a gradient and left alone otherwise (the caller clears
 *            it once per step), so the optimiser can update rows sparsely.
 * Rows are partitioned across threads by index (row i belongs to thread
 * i mod nth) and every thread scans t in increasing order, so each row
 * receives its additions in increasing t whatever the thread count: the
 * result equals the serial loop bit for bit, with no atomics. */
void sr_embedding_backward(const float *dout, const int32_t *idx, int T, int D, int I,
                           float *dtable, uint8_t *touched);

/* ---- learned positional embedding --------------------------------------- */

/* y[b, l, :] = x[b, l, :] + pos[l, :] where valid[b, l] (all rows when valid
 * is NULL); a padded row is copied unchanged, so a zero (padding) embedding
 * row stays zero (SASRec's timeline mask).
 *   x: [B, L, D]   pos: [L, D] (the first L rows of the table)
 *   valid: [B, L] or NULL   y: [B, L, D] overwritten; y == x is allowed */
void sr_posemb_forward(const float *x, const float *pos, const uint8_t *valid, int B, int L,
                       int D, float *y);

/* dx += dy (every row; NULL = not needed); dpos[l, :] += sum over b with
 * valid[b, l] of dy[b, l, :], summed in increasing b.
 *   dy: [B, L, D]   valid: [B, L] or NULL   dx: [B, L, D]   dpos: [L, D] */
void sr_posemb_backward(const float *dy, const uint8_t *valid, int B, int L, int D, float *dx,
                        float *dpos);

/* ---- dropout (Srivastava et al. 2014, inverted scaling) ------------------ */

/* Elements per independently seeded random block: the mask of element e is
 * drawn from an sr_rng stream seeded by hash(seed, step, site, e / BLOCK),
 * so it depends only on (seed, step, site, e) - not on the thread count or
 * on how the caller splits the work. Part of the mask definition: changing
 * it changes every mask. */
#define SR_DROPOUT_BLOCK 256

/* Fill mask[n] with 0 (dropped, probability p) or 1 (kept). site tells the
 * dropout layers of one step apart (e.g. layer * 8 + position in the layer).
 * p in [0, 1) (asserted); p == 0 keeps everything. */
void sr_dropout_mask(uint8_t *mask, size_t n, float p, uint64_t seed, uint64_t step,
                     uint64_t site);

/* y = x * mask / (1 - p). mask == NULL (evaluation) or p == 0 gives y = x.
 *   x, y: [n] (y == x allowed)   mask: [n] 0/1 from sr_dropout_mask */
void sr_dropout_forward(const float *x, const uint8_t *mask, size_t n, float p, float *y);

/* dx += dy * mask / (1 - p); mask == NULL or p == 0: dx += dy.
 *   dy, dx: [n] (must not alias)   mask: [n] the forward's mask */
void sr_dropout_backward(const float *dy, const uint8_t *mask, size_t n, float p, float *dx);

/* ---- residual add -------------------------------------------------------- */

/* y = a + b.   a, b, y: [n] (y may alias a or b) */
void sr_residual_forward(const float *a, const float *b, size_t n, float *y);

/* da += dy, db += dy (either may be NULL).   dy, da, db: [n]; da != db,
 * neither aliases dy. */
void sr_residual_backward(const float *dy, size_t n, float *da, float *db);

#endif /* SR_LAYERS_H */
