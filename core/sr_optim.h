/* sr_optim.h - the training step: sr_model_forward_backward, then gradient
 * clipping by global norm, then an AdamW update (sr_adamw.h) with a
 * warm-up + cosine learning-rate schedule. The item table is updated
 * lazily: only the rows the model reports as touched (sr_model_item_touched)
 * take a step, each with its own step count (sr_adamw_update_rows), so a
 * step costs O(touched rows), not O(I), in the optimiser.
 *
 * Dimension legend (sr_tensor.h): I catalogue size, Ir rows of the item
 * table (I, or I + 1 for BERT4Rec's [MASK]), D model width, n = the floats
 * of the model's parameter block (sr_model_param_count).
 *
 * State: m and v for the whole parameter block ([n] each, the same layout
 * as the parameters, so the item rows' moments sit at the item table's
 * offset) and per-row step counts row_t [Ir] for the lazy item table - one
 * allocation. About 2 n floats: at I = 1M, D = 128 that is 1 GiB.
 *
 * Weight-decay policy (decoupled, AdamW): by default only the weight
 * matrices of the encoder and head are decayed - layer<k>.wq, wk, wv, wo,
 * w1, w2 and head_w. Biases, LayerNorm gains and shifts, and the embedding
 * tables (item, pos, fb, out) are not decayed: decaying a LayerNorm gain
 * pulls it toward 0 rather than toward the identity, and a lazily updated
 * table would be decayed only on the steps its row is played, i.e. by
 * popularity (the usual practice of BERT/GPT training, and what the
 * authors' plain Adam amounts to for tables). decay_tables = true decays the
 * tables too (the item table then only on touched steps, sr_adamw.h).
 *
 * Clipping: the global norm is taken over every gradient tensor; the item
 * table contributes only its touched rows (the others are zero after the
 * model's backward anyway). An untied "out" table is clipped and updated
 * densely: the model reports touched rows for "item" only.
 *
 * Non-finite gradients: when the pre-clip norm is NaN or Inf the step
 * changes no parameter and no optimiser state (m, v, row_t, the step count
 * and therefore the schedule all stay), sets report.skipped, counts it
 * (sr_optim_skipped) and logs a warning; sr_optim_step still returns SR_OK
 * so a training loop can go on with the next batch and decide itself when
 * too many were skipped.
 *
 * Deterministic for a given OpenMP thread count (the model's backward is;
 * clip and updates do not depend on the thread count at all). Not
 * thread-safe; one optimiser per model.
 */
#ifndef SR_OPTIM_H
#define SR_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_adamw.h"
#include "sr_common.h"
#include "sr_dnnl.h"
#include "sr_model.h"

typedef struct sr_optim_config {
    sr_adamw_schedule schedule; /* lr of update t: sr_adamw_lr_at(&schedule, t) */
    double beta1, beta2, eps;   /* sr_adamw_hparams */
    double weight_decay;        /* >= 0, for the decayed tensors (policy above) */
    bool decay_tables;          /* also decay item, pos, fb, out (default false) */
    double clip_norm;           /* max global norm; <= 0 measures without clipping */
    bool lazy_items;            /* item table by touched rows (default true); false = dense */
} sr_optim_config;

/* Defaults: lr_peak 0.005 (the authors' Adam lr, SPEC.md section 3),
 * floor 0, warm-up 100 and total 10000 updates (callers set total to their
 * run's length), betas (0.9, 0.999), eps 1e-8, weight_decay 0.01, tables
 * not decayed, clip_norm 1.0, lazy item table. */
sr_optim_config sr_optim_config_default(void);

/* SR_ERR_ARG naming the field and its value (the schedule and hparams are
 * checked by sr_adamw_schedule_check / sr_adamw_hparams_check at lr_peak). */
sr_err sr_optim_config_check(const sr_optim_config *c);

typedef struct sr_optim sr_optim;

/* Allocate zeroed state for `m` (not modified; the optimiser remembers it
 * and refuses any other model). SR_ERR_ARG for a bad config, SR_ERR_NOMEM. */
sr_err sr_optim_new(const sr_optim_config *c, sr_model *m, sr_optim **out);
/* NULL-safe; sets *o to NULL. */
void sr_optim_free(sr_optim **o);

typedef struct sr_optim_report {
    sr_model_loss_parts parts; /* of the forward before the update */
    double grad_norm;          /* global norm before clipping (NaN/Inf when skipped) */
    double lr;                 /* lr of this update; 0 when skipped */
    int64_t t;                 /* updates applied so far, this one included */
    int64_t rows_updated;      /* item rows that took a step (Ir when dense) */
    bool skipped;              /* non-finite norm: nothing was changed */
} sr_optim_report;

/* One training step on `batch`: sr_model_forward_backward (which zeroes
 * and fills the gradients), clip by global norm, then AdamW update t + 1
 * with lr = sr_adamw_lr_at(schedule, t + 1). Errors of the model (bad batch)
 * are passed through with the parameters untouched; SR_ERR_ARG when `m` is
 * not the optimiser's model or `out` is NULL. */
sr_err sr_optim_step(sr_optim *o, sr_model *m, const sr_model_batch *batch, sr_dnnl_ctx *ctx,
                     sr_optim_report *out);

/* Updates applied so far (skipped steps not counted). */
int64_t sr_optim_steps(const sr_optim *o);
/* Steps skipped for a non-finite gradient norm. */
int64_t sr_optim_skipped(const sr_optim *o);

/* Whether the policy above decays the tensor of that name under c. */
bool sr_optim_decays(const sr_optim_config *c, const char *tensor_name);

/* The optimiser's state, for checkpoints: pointers INTO the optimiser (read
 * them to save, write through them to restore), valid until sr_optim_free.
 *   m, v:  [n] first and second moments, laid out like the parameters
 *   row_t: [Ir] per-row step counts of the lazy item table
 * t and skipped are copies; restore them with sr_optim_set_counts. */
typedef struct sr_optim_state {
    float *m, *v;
    int64_t *row_t;
    size_t n;
    int32_t Ir;
    int64_t t, skipped;
} sr_optim_state;
void sr_optim_state_view(sr_optim *o, sr_optim_state *out);
/* Restore the update and skip counts (t sets the schedule's position).
 * SR_ERR_ARG for negative counts. */
sr_err sr_optim_set_counts(sr_optim *o, int64_t t, int64_t skipped);

#endif /* SR_OPTIM_H */
