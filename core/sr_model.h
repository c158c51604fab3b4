/* sr_model.h - SASRec and BERT4Rec transformers assembled from the ops of
 * sr_dnnl.h, sr_attention.h, sr_layers.h, sr_loss.h and sr_skipcl.h, with
 * forward + backward of L = L_rec + lambda * L_nf (SPEC.md sections 3, 4).
 * Architecture, parameter layout, options and every deliberate difference
 * from the authors' code: docs/model.md.
 *
 * Dimension legend (sr_tensor.h): B sequences, L positions, D model width,
 * H heads, F feed-forward width, I catalogue size, N negatives, T = B * L,
 * C items in one chunk of the catalogue, NL layers.
 *
 * Batches are RIGHT-padded by convention (plays at positions 0..n-1, then
 * padding), but every computation goes by the valid[B, L] mask, so any
 * layout works: padded positions never influence a valid output.
 *
 * Memory: parameters and gradients are two contiguous blocks with the same
 * layout (sr_model_tensor lists the named views); activations live in one
 * arena sized at creation for (B_max, L); the full cross-entropy visits the
 * catalogue in chunks of C items, so the arena holds [T, C] logits, never
 * [T, I]; SAMPLED_AUTHORS holds [T, min(T + N, I)] logits (width rounded up
 * to a multiple of 128). Nothing is allocated in
 * sr_model_forward_backward (apart from a oneDNN primitive the first time a
 * shape is seen).
 *
 * Thread safety: a model is not thread-safe (it owns the arena); kernels
 * inside a call use OpenMP. Results are bit-identical for a given thread
 * count (tests also check 1 vs 2 threads).
 */
#ifndef SR_MODEL_H
#define SR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_common.h"
#include "sr_dnnl.h"
#include "sr_loss.h"
#include "sr_sampler.h"

typedef enum sr_model_kind {
    SR_MODEL_KIND_SASREC = 0, /* causal, next-item targets at every position */
    SR_MODEL_KIND_BERT4REC    /* bidirectional, cloze training, [MASK] at inference */
} sr_model_kind;

typedef enum sr_model_head {
    SR_MODEL_HEAD_PLAIN = 0, /* logits = h E^T */
    SR_MODEL_HEAD_AUTHORS    /* logits = GELU(W h + b) E^T (SPEC.md section 3) */
} sr_model_head;

typedef enum sr_model_loss {
    SR_MODEL_LOSS_KIND_FULL_CE = 0, /* softmax CE over all I items, chunked */
    SR_MODEL_LOSS_KIND_SAMPLED,     /* sampled softmax, N negatives shared by the batch */
    SR_MODEL_LOSS_KIND_BCE,         /* binary CE, N negatives per target row */
    /* the authors' sampled softmax (docs/losses.md): candidates = the batch's
     * distinct targets + N uniform negatives drawn without replacement from
     * the other items, no log-Q, hits removed; the list's length varies with
     * the batch (and so does the loss with the batch size) */
    SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS
} sr_model_loss_kind;

typedef enum sr_model_context {
    SR_MODEL_CONTEXT_ITEM_EMBEDDING = 0, /* c_t = E[x_t] (P1's choice; default) */
    SR_MODEL_CONTEXT_HIDDEN              /* c_t = final hidden state at t (SASRec only) */
} sr_model_context;

#define SR_MODEL_MAX_LAYERS 16
/* LayerNorm epsilon (PyTorch's nn.LayerNorm default). */
#define SR_MODEL_LN_EPS 1e-5f

typedef struct sr_model_config {
    sr_model_kind kind;
    int32_t I;        /* catalogue size (tracks 0..I-1); BERT4Rec adds row I = [MASK] */
    int D;            /* model width */
    int layers;       /* transformer blocks, 1..SR_MODEL_MAX_LAYERS */
    int heads;        /* H, divides D */
    int F;            /* feed-forward width */
    int L;            /* positions per sequence (max session window) */
    float dropout;    /* p in [0, 1): embedding, attention output, FFN output */
    bool tied;        /* output table = item table (default) or a separate [I, D] table */
    sr_model_head head;
    bool feedback;    /* add learned fb[skipped] (fb: [2, D]) to each input play */
    float mask_prob;  /* BERT4Rec cloze probability, (0, 1] */
    sr_model_loss_kind loss;
    int negatives;    /* N for SAMPLED / BCE / SAMPLED_AUTHORS (the authors: 1000) */
    bool log_q;       /* SAMPLED only: subtract log q (needs a sampler's q) */
    sr_target_mode target; /* SASRec targets: next play or next listened */
    float lambda;     /* weight of the skip term; 0 = off */
    float tau;        /* skip-term temperature, > 0 */
    sr_model_context context;
    int chunk;        /* C: catalogue chunk of the full CE (scoring is one [1, I] product) */
    float init_std;   /* std of the normal init of weights and tables */
    uint64_t seed;    /* init, dropout masks, cloze masks, negatives */
} sr_model_config;

/* Negatives of the authors' sampled softmax (their sampled_softmax(num=1000)). */
#define SR_MODEL_AUTHORS_NEGATIVES 1000

/* The authors' settings (SPEC.md section 3): D 128, 2 layers, 8 heads, FFN
 * 128, dropout 0.2, L 20, authors' head, tied table, no feedback embedding,
 * full CE on next-play targets, lambda 1, tau 0.1, item-embedding context,
 * mask_prob 0.2 (BERT4Rec), chunk 4096, init normal(0, 0.02), seed 1. I is
 * left 0: the caller sets the catalogue size.
 * The loss is our full CE, not the authors' (docs/model.md, difference 8).
 * To train with their exact loss for comparison, use
 * sr_model_config_paper_authors_loss, or equivalently set
 *   c.loss = SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS;
 *   c.negatives = SR_MODEL_AUTHORS_NEGATIVES;   (log_q is not read) */
sr_model_config sr_model_config_paper(sr_model_kind kind);

/* sr_model_config_paper with the authors' main loss: SAMPLED_AUTHORS with
 * 1000 negatives and log_q false (the authors' loss has no correction; the
 * field is not read by that kind, false just says so). */
sr_model_config sr_model_config_paper_authors_loss(sr_model_kind kind);

/* SR_ERR_ARG naming the first bad field and its value. HIDDEN context with
 * BERT4Rec is refused (the bidirectional state at t has attended to its own
 * positive: docs/model.md). */
sr_err sr_model_config_check(const sr_model_config *cfg);

typedef struct sr_model sr_model;

/* Allocate parameters, gradients and an activation arena for batches of up
 * to B_max sequences, and initialise the parameters from cfg->seed (normal
 * (0, init_std) for tables and weights, LayerNorm gamma 1 beta 0, biases 0).
 * The model keeps its own uniform sampler for drawn negatives and q. */
sr_err sr_model_new(const sr_model_config *cfg, int B_max, sr_model **out);
void sr_model_free(sr_model **m);

const sr_model_config *sr_model_config_of(const sr_model *m);
/* B_max given at creation: the most sequences (or queries) one call takes. */
int sr_model_batch_max(const sr_model *m);

/* Use `s` (borrowed; must outlive the model or be replaced) for drawing
 * negatives and for the log-Q probabilities. NULL restores the uniform one.
 * SAMPLED_AUTHORS does not use it: the authors' negatives are uniform.
 * SR_ERR_ARG when its size differs from I. */
sr_err sr_model_set_sampler(sr_model *m, const sr_sampler *s);

/* ---- parameters ------------------------------------------------------------ */

/* One named view of the parameter block and the same view of the gradient
 * block. Names: "item" [I(+1), D], "pos" [L, D], "fb" [2, D],
 * "layer<k>.ln1_g" [D], ".ln1_b" [D], ".wq" [D, D], ".bq" [D], ".wk", ".bk",
 * ".wv", ".bv", ".wo", ".bo", ".ln2_g", ".ln2_b", ".w1" [F, D], ".b1" [F],
 * ".w2" [D, F], ".b2" [D], "lnf_g" [D], "lnf_b" [D], "head_w" [D, D],
 * "head_b" [D], "out" [I, D]; in this order, optional ones only when present.
 * Weights follow PyTorch's nn.Linear layout [Out, In]. */
typedef struct sr_model_tensor_info {
    char name[32];
    float *param;  /* [rows, cols] */
    float *grad;   /* [rows, cols], same layout */
    int rows, cols;
} sr_model_tensor_info;

size_t sr_model_tensor_count(const sr_model *m);
/* i < sr_model_tensor_count(m). */
void sr_model_tensor(const sr_model *m, size_t i, sr_model_tensor_info *out);
/* NULL when no tensor has that name. */
const sr_model_tensor_info *sr_model_tensor_find(const sr_model *m, const char *name);

/* The whole blocks (for the optimiser): n floats each. */
size_t sr_model_param_count(const sr_model *m);
float *sr_model_params(sr_model *m);
float *sr_model_grads(sr_model *m);
/* Rows of "item" that received a gradient in the last backward: [I(+1)] 0/1
 * (for a sparse optimiser update). */
const uint8_t *sr_model_item_touched(const sr_model *m);

/* ---- training ---------------------------------------------------------------- */

typedef struct sr_model_batch {
    int B;                   /* 1..B_max */
    const int32_t *tracks;   /* [B, L] dense track index, read where valid */
    const uint8_t *skipped;  /* [B, L] 0/1, read where valid */
    const uint8_t *valid;    /* [B, L] 0/1: 0 = padding or a play outside the window */
    uint64_t step;           /* stream of dropout masks, cloze masks and drawn negatives */
    const uint8_t *cloze;    /* BERT4Rec: [B, L] 1 = masked, or NULL = draw (mask_prob) */
    const int32_t *neg_items;/* SAMPLED: [N]; BCE: [B, L, N]; NULL = draw from the sampler;
                              * SAMPLED_AUTHORS: must be NULL (drawn from (seed, step)) */
    const float *neg_q;      /* SAMPLED with log_q: [N] q of neg_items; NULL = the sampler's */
} sr_model_batch;

typedef struct sr_model_loss_parts {
    double total;     /* rec + lambda * nf */
    double rec;       /* mean recommendation loss over targets */
    double nf;        /* mean skip-contrastive loss over anchors (0 when off) */
    int n_targets;    /* positions with a target (BERT4Rec: masked positions) */
    int64_t n_anchors;/* anchors counted by the skip term */
} sr_model_loss_parts;

/* Training forward + backward on one batch (dropout on): zeroes the
 * gradient block, then fills it with dL/dparams for
 * L = L_rec + lambda * L_nf, and reports the loss parts.
 * The item table's gradient is cleared only on the rows the previous
 * completed step touched (sr_model_item_touched): callers may scale the
 * gradients but must not write into untouched item rows between steps.
 * SR_ERR_ARG for a batch that does not fit (B, a valid track outside
 * [0, I), a given cloze mask that masks padding, neg_items given to
 * SAMPLED_AUTHORS). */
sr_err sr_model_forward_backward(sr_model *m, const sr_model_batch *batch, sr_dnnl_ctx *ctx,
                                 sr_model_loss_parts *out);

/* The same forward (same masks, same negatives for the same batch.step)
 * without the backward; gradients are left alone. */
sr_err sr_model_loss(sr_model *m, const sr_model_batch *batch, sr_dnnl_ctx *ctx,
                     sr_model_loss_parts *out);

/* Final hidden states of the last forward: [B, L, D] (after the final
 * LayerNorm, before the head). Valid until the next call on the model. */
const float *sr_model_hidden(const sr_model *m);

/* The shared candidate list of the last SAMPLED_AUTHORS forward: [*n] item
 * indices, the batch's *n_distinct distinct targets ascending, then the
 * negatives ascending (N of them, or every remaining item when fewer than N
 * are left). Each row scores its own target against all the others. NULL
 * with *n = *n_distinct = 0 for other loss kinds and before the first
 * forward. Valid until the next call on the model. n, n_distinct: NULL ok. */
const int32_t *sr_model_candidates(const sr_model *m, int *n, int *n_distinct);

/* ---- inference --------------------------------------------------------------- */

/* Scores of every item for one session (no dropout):
 *   tracks: [n] dense indices, < I   skipped: [n] 0/1 (only read with feedback)
 *   scores: [I] out
 * SASRec uses the last min(n, L) plays and scores from the hidden state of
 * the last one; BERT4Rec uses the last min(n, L - 1) plays and a [MASK]
 * appended after them. SR_ERR_ARG for n < 1 or a track outside [0, I). */
sr_err sr_model_score(sr_model *m, sr_dnnl_ctx *ctx, const int32_t *tracks,
                      const uint8_t *skipped, int n, float *scores);

/* Query vectors of B sessions for batched scoring (no dropout): the final
 * hidden state of each session's last position (SASRec) or of a [MASK]
 * appended after it (BERT4Rec), through the head, i.e. the vectors whose
 * products with the output table are the scores of sr_model_score:
 *   tracks:  [offsets[B]] plays of all sessions, dense indices < I
 *   skipped: [offsets[B]] 0/1 (only read with feedback), or NULL
 *   offsets: [B + 1] session b = plays [offsets[b], offsets[b + 1]), each >= 1 play
 *   q:       [B, D] out
 * Windowing as sr_model_score (the last L, or L - 1, plays). B <= B_max.
 * scores[b, i] = q[b] . out[i] (sr_model_output_table), equal to
 * sr_model_score's up to the rounding of the product's blocking.
 * SR_ERR_ARG for B outside [1, B_max], an empty session or a track outside
 * [0, I). */
sr_err sr_model_queries(sr_model *m, sr_dnnl_ctx *ctx, const int32_t *tracks,
                        const uint8_t *skipped, const int64_t *offsets, int B, float *q);

/* The output table [I, D]: the item table's first I rows when tied, else
 * "out". Scores = q out^T. */
const float *sr_model_output_table(const sr_model *m);

#endif /* SR_MODEL_H */
