/* sr_model_impl.h - the private layout of sr_model, shared by sr_model.c
 * (configuration, layout, encoder, inference) and sr_model_train.c (losses,
 * forward + backward of a batch). Not part of the public API.
 * Dimension legend: sr_model.c. */
#ifndef SR_MODEL_IMPL_H
#define SR_MODEL_IMPL_H

#include "sr_model.h"

/* Views of one layer's tensors in the parameter (or gradient) block. */
typedef struct sr_model_layer_view {
    float *ln1_g, *ln1_b;         /* [D], [D] */
    float *wq, *bq, *wk, *bk;     /* [D, D], [D] */
    float *wv, *bv, *wo, *bo;     /* [D, D], [D] */
    float *ln2_g, *ln2_b;         /* [D], [D] */
    float *w1, *b1;               /* [F, D], [F] */
    float *w2, *b2;               /* [D, F], [D] */
} sr_model_layer_view;

typedef struct sr_model_view {
    float *item;                  /* [Ir, D] */
    float *pos;                   /* [L, D] */
    float *fb;                    /* [2, D] or NULL */
    sr_model_layer_view layer[SR_MODEL_MAX_LAYERS];
    float *lnf_g, *lnf_b;         /* [D], [D] */
    float *head_w, *head_b;       /* [D, D], [D] or NULL (PLAIN head) */
    float *out;                   /* [I, D]: == item when tied */
} sr_model_view;

/* Activations one layer saves for its backward (shapes in layout_arena). */
typedef struct sr_model_layer_acts {
    float *ln1, *mean1, *rstd1, *q, *k, *v, *att, *o;
    uint8_t *mask_a;
    float *x1, *ln2, *mean2, *rstd2, *f1, *g;
    uint8_t *mask_f;
} sr_model_layer_acts;

typedef struct sr_model_arena {
    int32_t *idx, *fbidx, *keyidx, *targets;
    uint8_t *valid, *cloze, *mask_e;
    float *x0, *xs;
    sr_model_layer_acts layer[SR_MODEL_MAX_LAYERS];
    float *h, *meanf, *rstdf, *u, *z, *keys;
    float *logits, *row_max;
    double *row_sumexp;
    float *target_logit, *q_pos, *pos_logit, *dpos;
    int32_t *neg_items;
    float *neg_q, *neg_logit, *dneg, *negE, *dnegE;
    float *dz, *dh, *du, *dkeys, *dx, *dx1, *dtmp, *dln, *dq, *dk, *dv, *dO, *df, *dg;
} sr_model_arena;

#define SR_MODEL_MAX_TENSORS (8 + 16 * SR_MODEL_MAX_LAYERS)

/* SAMPLED_AUTHORS: the candidate list changes length with every batch, but
 * the three products over it run on a width rounded up to a multiple of
 * this many columns (padding columns: item -1, logit -inf, gradient 0), so
 * the oneDNN context sees a few shapes instead of creating (allocating) a
 * primitive for almost every batch. */
#define SR_MODEL_CAND_GRANULE 128

struct sr_model {
    sr_model_config cfg;
    int B_max;
    int32_t Ir;                   /* rows of the item table: I (+1 [MASK] for BERT4Rec) */
    size_t n_params;              /* floats in each block (padded tensors included) */
    float *params, *grads;        /* [n_params] each, same layout */
    sr_model_tensor_info tensors[SR_MODEL_MAX_TENSORS];
    size_t tensor_off[SR_MODEL_MAX_TENSORS];
    size_t n_tensors;
    sr_model_view p, g;           /* named views of params and grads */
    uint8_t *touched;             /* [Ir] */
    /* true when every item-gradient row r with touched[r] == 0 is known to
     * be zero: after sr_model_new and after a completed backward (each
     * write into the table marks its row). The next backward then clears
     * only the touched rows; false (a backward that stopped part-way)
     * clears the whole table. */
    bool item_grad_sparse;
    unsigned char *arena;
    size_t arena_bytes;
    sr_model_arena a;
    sr_sampler *own_sampler;      /* uniform over I */
    const sr_sampler *sampler;    /* own_sampler or borrowed */
    /* SAMPLED_AUTHORS (0 otherwise): a.neg_items holds cand_cap entries
     * (>= B_max L + N, the list before deduplication, and >= cand_cols_max);
     * [T, cand_cols_max] logits; the last forward's list had n_cand entries,
     * n_distinct of them targets (0 before the first forward). */
    int cand_cap, cand_cols_max;
    int n_cand, n_distinct;
};

/* Encoder forward from a->idx, a->fbidx, a->valid (B sequences) to a->h. */
sr_err sr_model_encode(sr_model *m, sr_dnnl_ctx *ctx, int B, bool train, uint64_t step);
/* z = h (PLAIN) or GELU(h W^T + b) (AUTHORS), u = the pre-activation; T rows. */
sr_err sr_model_head_forward(sr_model *m, sr_dnnl_ctx *ctx, const float *h, float *u, float *z,
                             int T);
/* Backward of the encoder from a->dh into the gradient block. */
sr_err sr_model_encode_backward(sr_model *m, sr_dnnl_ctx *ctx, int B);

#endif /* SR_MODEL_IMPL_H */
