/* sr_optim.c - the training step: forward + backward, global-norm clip,
 * AdamW with a lazy item table (sr_optim.h for the policy and formulas).
 *
 * Dimension legend: n floats of the parameter block, Ir rows of the item
 * table, D model width, NT tensors of the model.
 */
#include "sr_optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OPTIM_MAX_TENSORS 512

struct sr_optim {
    sr_optim_config cfg;
    const sr_model *model;   /* the model the state belongs to (identity check) */
    size_t n;                /* floats of the parameter block */
    int32_t Ir, D;           /* item table [Ir, D] */
    size_t item_off;         /* offset of "item" in the block */
    size_t nt;               /* NT */
    size_t off[OPTIM_MAX_TENSORS];      /* [NT] offset of each tensor */
    size_t len[OPTIM_MAX_TENSORS];      /* [NT] rows * cols */
    bool decay[OPTIM_MAX_TENSORS];      /* [NT] policy */
    bool is_item[OPTIM_MAX_TENSORS];    /* [NT] */
    sr_adamw_grad clip[OPTIM_MAX_TENSORS]; /* [NT] clip list, grad pointers bound per step */
    void *block;             /* the one state allocation */
    float *m, *v;            /* [n] each, laid out like the parameters */
    int64_t *row_t;          /* [Ir] per-row step counts of the lazy item table */
    int64_t t;               /* updates applied */
    int64_t skipped;         /* steps skipped (non-finite norm) */
};

sr_optim_config sr_optim_config_default(void)
{
    sr_optim_config c;
    memset(&c, 0, sizeof c);
    c.schedule.lr_peak = 0.005;
    c.schedule.lr_floor = 0.0;
    c.schedule.warmup_steps = 100;
    c.schedule.total_steps = 10000;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.weight_decay = 0.01;
    c.decay_tables = false;
    c.clip_norm = 1.0;
    c.lazy_items = true;
    return c;
}

static sr_adamw_hparams hparams_of(const sr_optim_config *c, double lr, bool decay)
{
    sr_adamw_hparams hp = { lr, c->beta1, c->beta2, c->eps, decay ? c->weight_decay : 0.0 };
    return hp;
}

sr_err sr_optim_config_check(const sr_optim_config *c)
{
    if (!c)
        return sr_errorf(SR_ERR_ARG, "optimiser config: NULL");
    sr_err e = sr_adamw_schedule_check(&c->schedule);
    if (e != SR_OK)
        return e;
    /* the largest lr of the schedule is lr_peak: checking there covers every step */
    sr_adamw_hparams hp = hparams_of(c, c->schedule.lr_peak, true);
    if ((e = sr_adamw_hparams_check(&hp)) != SR_OK)
        return e;
    if (isnan(c->clip_norm))
        return sr_errorf(SR_ERR_ARG, "optimiser config: clip_norm = %g, need a number "
                                     "(<= 0 = no clipping)", c->clip_norm);
    return SR_OK;
}

/* The base name of "layer<k>.<base>" or the whole name. */
static const char *base_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

bool sr_optim_decays(const sr_optim_config *c, const char *tensor_name)
{
    static const char *const weights[] = { "wq", "wk", "wv", "wo", "w1", "w2", "head_w" };
    static const char *const tables[] = { "item", "pos", "fb", "out" };
    const char *b = base_name(tensor_name);
    for (size_t i = 0; i < SR_COUNTOF(weights); i++)
        if (strcmp(b, weights[i]) == 0)
            return true;
    if (c->decay_tables)
        for (size_t i = 0; i < SR_COUNTOF(tables); i++)
            if (strcmp(b, tables[i]) == 0)
                return true;
    return false;
}

sr_err sr_optim_new(const sr_optim_config *c, sr_model *m, sr_optim **out)
{
    if (!out)
        return sr_errorf(SR_ERR_ARG, "sr_optim_new: out is NULL");
    *out = NULL;
    sr_err e = sr_optim_config_check(c);
    if (e != SR_OK)
        return e;
    if (!m)
        return sr_errorf(SR_ERR_ARG, "sr_optim_new: model is NULL");
    size_t nt = sr_model_tensor_count(m);
    if (nt > OPTIM_MAX_TENSORS)
        return sr_errorf(SR_ERR_LIMIT, "sr_optim_new: model has %zu tensors, at most %d",
                         nt, OPTIM_MAX_TENSORS);
    sr_optim *o = calloc(1, sizeof *o);
    if (!o)
        return sr_errorf(SR_ERR_NOMEM, "sr_optim_new: optimiser struct");
    o->cfg = *c;
    o->model = m;
    o->n = sr_model_param_count(m);
    o->nt = nt;
    const float *base = sr_model_params(m);
    bool have_item = false;
    for (size_t i = 0; i < nt; i++) {
        sr_model_tensor_info t;
        sr_model_tensor(m, i, &t);
        o->off[i] = (size_t)(t.param - base);
        o->len[i] = (size_t)t.rows * (size_t)t.cols;
        o->decay[i] = sr_optim_decays(c, t.name);
        o->is_item[i] = strcmp(t.name, "item") == 0;
        if (o->is_item[i]) {
            have_item = true;
            o->Ir = t.rows;
            o->D = t.cols;
            o->item_off = o->off[i];
        }
    }
    SR_ASSERT(have_item);
    /* one block: m [n], v [n], row_t [Ir] (m and v keep the 64-byte
     * alignment of the parameter layout when n is a multiple of 16) */
    size_t n16 = (o->n + 15u) & ~(size_t)15u;
    size_t bytes = 2 * n16 * sizeof(float) + (size_t)o->Ir * sizeof(int64_t);
    o->block = aligned_alloc(64, (bytes + 63u) & ~(size_t)63u);
    if (!o->block) {
        sr_optim_free(&o);
        return sr_errorf(SR_ERR_NOMEM, "sr_optim_new: %zu bytes of optimiser state", bytes);
    }
    memset(o->block, 0, bytes);
    o->m = o->block;
    o->v = o->m + n16;
    o->row_t = (int64_t *)(void *)(o->v + n16);
    *out = o;
    return SR_OK;
}

void sr_optim_free(sr_optim **op)
{
    if (!op || !*op)
        return;
    free((*op)->block);
    free(*op);
    *op = NULL;
}

int64_t sr_optim_steps(const sr_optim *o)
{
    return o->t;
}

int64_t sr_optim_skipped(const sr_optim *o)
{
    return o->skipped;
}

sr_err sr_optim_step(sr_optim *o, sr_model *m, const sr_model_batch *batch, sr_dnnl_ctx *ctx,
                     sr_optim_report *out)
{
    if (!o || !out)
        return sr_errorf(SR_ERR_ARG, "sr_optim_step: optimiser or report is NULL");
    if (m != o->model || sr_model_param_count(m) != o->n)
        return sr_errorf(SR_ERR_ARG, "sr_optim_step: model %p is not the optimiser's (%p)",
                         (void *)m, (const void *)o->model);
    memset(out, 0, sizeof *out);
    sr_err e = sr_model_forward_backward(m, batch, ctx, &out->parts);
    if (e != SR_OK)
        return e;

    float *params = sr_model_params(m);
    float *grads = sr_model_grads(m);
    const uint8_t *touched = sr_model_item_touched(m);
    const bool lazy = o->cfg.lazy_items;
    for (size_t i = 0; i < o->nt; i++) {
        sr_adamw_grad *g = &o->clip[i];
        g->grad = grads + o->off[i];
        if (o->is_item[i]) {
            g->rows = (size_t)o->Ir;
            g->cols = (size_t)o->D;
            g->touched = lazy ? touched : NULL;
        } else {
            g->rows = 1;
            g->cols = o->len[i];
            g->touched = NULL;
        }
    }
    out->grad_norm = sr_adamw_clip(o->clip, o->nt, o->cfg.clip_norm);
    if (!isfinite(out->grad_norm)) {
        o->skipped++;
        out->skipped = true;
        out->t = o->t;
        sr_log(SR_LOG_LEVEL_WARN,
               "optimiser: gradient norm %g at update %lld (batch step %llu): update skipped "
               "(%lld skipped so far)",
               out->grad_norm, (long long)(o->t + 1), (unsigned long long)batch->step,
               (long long)o->skipped);
        return SR_OK;
    }

    const int64_t t = ++o->t;
    const double lr = sr_adamw_lr_at(&o->cfg.schedule, t);
    for (size_t i = 0; i < o->nt; i++) {
        sr_adamw_hparams hp = hparams_of(&o->cfg, lr, o->decay[i]);
        size_t off = o->off[i];
        if (o->is_item[i] && lazy) {
            sr_adamw_update_rows(params + off, grads + off, o->m + off, o->v + off, o->row_t,
                                 touched, (size_t)o->Ir, (size_t)o->D, &hp);
            int64_t rows = 0;
            for (int32_t r = 0; r < o->Ir; r++)
                rows += touched[r] != 0;
            out->rows_updated = rows;
        } else {
            sr_adamw_update(params + off, grads + off, o->m + off, o->v + off, o->len[i], &hp, t);
            if (o->is_item[i])
                out->rows_updated = o->Ir;
        }
    }
    out->lr = lr;
    out->t = t;
    return SR_OK;
}

void sr_optim_state_view(sr_optim *o, sr_optim_state *out)
{
    out->m = o->m;
    out->v = o->v;
    out->row_t = o->row_t;
    out->n = o->n;
    out->Ir = o->Ir;
    out->t = o->t;
    out->skipped = o->skipped;
}

sr_err sr_optim_set_counts(sr_optim *o, int64_t t, int64_t skipped)
{
    if (t < 0 || skipped < 0)
        return sr_errorf(SR_ERR_ARG, "sr_optim_set_counts: t = %lld, skipped = %lld",
                         (long long)t, (long long)skipped);
    o->t = t;
    o->skipped = skipped;
    return SR_OK;
}
