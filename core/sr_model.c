/* sr_model.c - configuration, parameter and arena layout, the encoder
 * forward/backward and inference of SASRec / BERT4Rec (sr_model.h,
 * docs/model.md). The losses on top of the encoder are in sr_model_train.c.
 *
 * Dimension legend (sr_tensor.h): B sequences, L positions, D model width,
 * H heads, F feed-forward width, I catalogue size, N negatives, T = B * L,
 * C catalogue chunk, NL layers, Ir = rows of the item table (I, or I + 1 for
 * BERT4Rec's [MASK] row).
 */
#include "sr_model_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_attention.h"
#include "sr_layers.h"
#include "sr_rng.h"

/* ---- configuration ------------------------------------------------------------ */

sr_model_config sr_model_config_paper(sr_model_kind kind)
{
    sr_model_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.I = 0;
    c.D = 128;
    c.layers = 2;
    c.heads = 8;
    c.F = 128;
    c.L = 20;
    c.dropout = 0.2f;
    c.tied = true;
    c.head = SR_MODEL_HEAD_AUTHORS;
    c.feedback = false;
    c.mask_prob = 0.2f;
    c.loss = SR_MODEL_LOSS_KIND_FULL_CE;
    c.negatives = 100;
    c.log_q = true;
    c.target = SR_TARGET_MODE_NEXT_PLAY;
    c.lambda = 1.0f;
    c.tau = 0.1f;
    c.context = SR_MODEL_CONTEXT_ITEM_EMBEDDING;
    c.chunk = 4096;
    c.init_std = 0.02f;
    c.seed = 1;
    return c;
}

sr_model_config sr_model_config_paper_authors_loss(sr_model_kind kind)
{
    sr_model_config c = sr_model_config_paper(kind);
    c.loss = SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS;
    c.negatives = SR_MODEL_AUTHORS_NEGATIVES;
    c.log_q = false;
    return c;
}

sr_err sr_model_config_check(const sr_model_config *c)
{
    if (!c)
        return sr_errorf(SR_ERR_ARG, "model config: NULL");
    if (c->kind != SR_MODEL_KIND_SASREC && c->kind != SR_MODEL_KIND_BERT4REC)
        return sr_errorf(SR_ERR_ARG, "model config: kind %d unknown", (int)c->kind);
    if (c->I < 1 || c->I > INT32_MAX - 1)
        return sr_errorf(SR_ERR_ARG, "model config: I = %d, need >= 1", (int)c->I);
    if (c->D < 1 || c->D > 65536)
        return sr_errorf(SR_ERR_ARG, "model config: D = %d, need 1..65536", c->D);
    if (c->layers < 1 || c->layers > SR_MODEL_MAX_LAYERS)
        return sr_errorf(SR_ERR_ARG, "model config: layers = %d, need 1..%d", c->layers,
                         SR_MODEL_MAX_LAYERS);
    if (c->heads < 1 || c->D % c->heads != 0)
        return sr_errorf(SR_ERR_ARG, "model config: heads = %d must divide D = %d", c->heads,
                         c->D);
    if (c->F < 1 || c->F > 1 << 20)
        return sr_errorf(SR_ERR_ARG, "model config: F = %d, need 1..%d", c->F, 1 << 20);
    if (c->L < (c->kind == SR_MODEL_KIND_BERT4REC ? 2 : 1) || c->L > SR_ATTN_MAX_L)
        return sr_errorf(SR_ERR_ARG, "model config: L = %d, need %d..%d", c->L,
                         c->kind == SR_MODEL_KIND_BERT4REC ? 2 : 1, SR_ATTN_MAX_L);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return sr_errorf(SR_ERR_ARG, "model config: dropout = %g, need [0, 1)",
                         (double)c->dropout);
    if (c->head != SR_MODEL_HEAD_PLAIN && c->head != SR_MODEL_HEAD_AUTHORS)
        return sr_errorf(SR_ERR_ARG, "model config: head %d unknown", (int)c->head);
    if (c->kind == SR_MODEL_KIND_BERT4REC && !(c->mask_prob > 0.0f && c->mask_prob <= 1.0f))
        return sr_errorf(SR_ERR_ARG, "model config: mask_prob = %g, need (0, 1]",
                         (double)c->mask_prob);
    if (c->loss != SR_MODEL_LOSS_KIND_FULL_CE && c->loss != SR_MODEL_LOSS_KIND_SAMPLED &&
        c->loss != SR_MODEL_LOSS_KIND_BCE && c->loss != SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS)
        return sr_errorf(SR_ERR_ARG, "model config: loss %d unknown", (int)c->loss);
    if (c->loss != SR_MODEL_LOSS_KIND_FULL_CE && (c->negatives < 1 || c->negatives > 1 << 20))
        return sr_errorf(SR_ERR_ARG, "model config: negatives = %d, need 1..%d", c->negatives,
                         1 << 20);
    if (c->target != SR_TARGET_MODE_NEXT_PLAY && c->target != SR_TARGET_MODE_NEXT_LISTENED)
        return sr_errorf(SR_ERR_ARG, "model config: target %d unknown", (int)c->target);
    if (!(c->lambda >= 0.0f && isfinite(c->lambda)))
        return sr_errorf(SR_ERR_ARG, "model config: lambda = %g, need >= 0",
                         (double)c->lambda);
    if (!(c->tau > 0.0f && isfinite(c->tau)))
        return sr_errorf(SR_ERR_ARG, "model config: tau = %g, need > 0", (double)c->tau);
    if (c->context != SR_MODEL_CONTEXT_ITEM_EMBEDDING && c->context != SR_MODEL_CONTEXT_HIDDEN)
        return sr_errorf(SR_ERR_ARG, "model config: context %d unknown", (int)c->context);
    /* SPEC.md section 4: the bidirectional state at t has attended to its own
     * positive (a later play), which the term would reward trivially. */
    if (c->context == SR_MODEL_CONTEXT_HIDDEN && c->kind == SR_MODEL_KIND_BERT4REC)
        return sr_errorf(SR_ERR_ARG, "model config: context = hidden is SASRec-only "
                                     "(BERT4Rec's state at t has seen its positive)");
    if (c->chunk < 1)
        return sr_errorf(SR_ERR_ARG, "model config: chunk = %d, need >= 1", c->chunk);
    if (!(c->init_std >= 0.0f && isfinite(c->init_std)))
        return sr_errorf(SR_ERR_ARG, "model config: init_std = %g, need >= 0",
                         (double)c->init_std);
    return SR_OK;
}

const sr_model_config *sr_model_config_of(const sr_model *m)
{
    return &m->cfg;
}

/* ---- layout ---------------------------------------------------------------------- */

/* SAMPLED_AUTHORS: the widest candidate list of a batch of B_max sequences
 * holds at most T = B_max L distinct targets + N negatives, and never more
 * than the I items; its logits run on that width rounded up to the granule
 * (sr_model_impl.h). 0 for the other loss kinds. */
static int64_t authors_cols_max(const sr_model_config *c, int B_max)
{
    if (c->loss != SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS)
        return 0;
    int64_t n = SR_MIN((int64_t)B_max * c->L + c->negatives, (int64_t)c->I);
    return (n + SR_MODEL_CAND_GRANULE - 1) / SR_MODEL_CAND_GRANULE * SR_MODEL_CAND_GRANULE;
}

/* Each tensor starts on a 16-float (64-byte) boundary of the block. */
static size_t align16(size_t n)
{
    return (n + 15u) & ~(size_t)15u;
}

static void add_tensor(sr_model *m, size_t *off, const char *name, int rows, int cols)
{
    SR_ASSERT(m->n_tensors < SR_COUNTOF(m->tensors));
    sr_model_tensor_info *t = &m->tensors[m->n_tensors];
    m->tensor_off[m->n_tensors] = *off;
    m->n_tensors++;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows;
    t->cols = cols;
    *off += align16((size_t)rows * (size_t)cols);
}

/* The size table: names, shapes and offsets of every parameter tensor. */
static size_t layout_params(sr_model *m)
{
    const sr_model_config *c = &m->cfg;
    size_t off = 0;
    m->n_tensors = 0;
    add_tensor(m, &off, "item", m->Ir, c->D);
    add_tensor(m, &off, "pos", c->L, c->D);
    if (c->feedback)
        add_tensor(m, &off, "fb", 2, c->D);
    static const char *const names[16] = { "ln1_g", "ln1_b", "wq", "bq", "wk", "bk",
                                           "wv", "bv", "wo", "bo", "ln2_g", "ln2_b",
                                           "w1", "b1", "w2", "b2" };
    for (int l = 0; l < c->layers; l++) {
        for (int j = 0; j < 16; j++) {
            char nm[32];
            snprintf(nm, sizeof nm, "layer%d.%s", l, names[j]);
            int rows = 1, cols = c->D;
            if (j == 2 || j == 4 || j == 6 || j == 8)
                rows = c->D;          /* [D, D] */
            else if (j == 12)
                rows = c->F;          /* w1 [F, D] */
            else if (j == 13)
                cols = c->F;          /* b1 [F] */
            else if (j == 14) {
                rows = c->D;          /* w2 [D, F] */
                cols = c->F;
            }
            add_tensor(m, &off, nm, rows, cols);
        }
    }
    add_tensor(m, &off, "lnf_g", 1, c->D);
    add_tensor(m, &off, "lnf_b", 1, c->D);
    if (c->head == SR_MODEL_HEAD_AUTHORS) {
        add_tensor(m, &off, "head_w", c->D, c->D);
        add_tensor(m, &off, "head_b", 1, c->D);
    }
    if (!c->tied)
        add_tensor(m, &off, "out", c->I, c->D);
    return off;
}

static void bind_views(sr_model *m, float *base, sr_model_view *v, bool grads)
{
    const sr_model_config *c = &m->cfg;
    size_t k = 0;
    for (size_t i = 0; i < m->n_tensors; i++) {
        if (grads)
            m->tensors[i].grad = base + m->tensor_off[i];
        else
            m->tensors[i].param = base + m->tensor_off[i];
    }
    v->item = base + m->tensor_off[k++];
    v->pos = base + m->tensor_off[k++];
    v->fb = c->feedback ? base + m->tensor_off[k++] : NULL;
    for (int l = 0; l < c->layers; l++) {
        sr_model_layer_view *y = &v->layer[l];
        float **slots[16] = { &y->ln1_g, &y->ln1_b, &y->wq, &y->bq, &y->wk, &y->bk,
                              &y->wv, &y->bv, &y->wo, &y->bo, &y->ln2_g, &y->ln2_b,
                              &y->w1, &y->b1, &y->w2, &y->b2 };
        for (int j = 0; j < 16; j++)
            *slots[j] = base + m->tensor_off[k++];
    }
    v->lnf_g = base + m->tensor_off[k++];
    v->lnf_b = base + m->tensor_off[k++];
    if (c->head == SR_MODEL_HEAD_AUTHORS) {
        v->head_w = base + m->tensor_off[k++];
        v->head_b = base + m->tensor_off[k++];
    } else {
        v->head_w = v->head_b = NULL;
    }
    v->out = c->tied ? v->item : base + m->tensor_off[k++];
    SR_ASSERT(k == m->n_tensors);
}

/* Carve `bytes` at a 64-byte boundary from the arena; with base NULL only
 * the size is counted (first pass of the two-pass layout). */
static void *carve(unsigned char *base, size_t *off, size_t bytes)
{
    size_t at = (*off + 63u) & ~(size_t)63u;
    *off = at + bytes;
    return base ? (void *)(base + at) : NULL;
}

/* at least one element, so an unused buffer still has an address */
static size_t nz(size_t n)
{
    return n ? n : 1;
}

#define CARVE_F(n) ((float *)carve(base, &off, sizeof(float) * (size_t)(n)))

/* The activation arena for batches of up to Bm sequences: every buffer the
 * forward saves for the backward and every gradient scratch, with its shape. */
static size_t layout_arena(sr_model *m, unsigned char *base)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const size_t T = (size_t)m->B_max * (size_t)c->L;
    const size_t D = (size_t)c->D, F = (size_t)c->F, L = (size_t)c->L;
    const size_t H = (size_t)c->heads;
    const size_t N = (size_t)(c->loss == SR_MODEL_LOSS_KIND_FULL_CE ? 0 : c->negatives);
    const size_t C = (size_t)SR_MIN(c->chunk, c->I);
    /* columns of the [T, Nc] logits of the shared-candidate losses: N
     * negatives (SAMPLED, BCE) or the authors' padded candidate width */
    const bool authors = c->loss == SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS;
    const size_t Nc = authors ? (size_t)m->cand_cols_max : N;
    size_t off = 0;
    a->idx = carve(base, &off, sizeof(int32_t) * T);      /* [T] input rows of the item table */
    a->fbidx = carve(base, &off, sizeof(int32_t) * T);    /* [T] feedback row or -1 */
    a->keyidx = carve(base, &off, sizeof(int32_t) * T);   /* [T] original track or -1 */
    a->targets = carve(base, &off, sizeof(int32_t) * T);  /* [T] target or -1 */
    a->valid = carve(base, &off, T);                      /* [T] key padding mask */
    a->cloze = carve(base, &off, T);                      /* [T] masked positions */
    a->mask_e = carve(base, &off, T * D);                 /* [T, D] embedding dropout */
    a->x0 = CARVE_F(T * D);                               /* [T, D] embedding sum */
    a->xs = CARVE_F((size_t)(c->layers + 1) * T * D);     /* [NL+1, T, D] residual stream */
    for (int l = 0; l < c->layers; l++) {
        sr_model_layer_acts *y = &a->layer[l];
        y->ln1 = CARVE_F(T * D);                          /* [T, D] LN1(x) */
        y->mean1 = CARVE_F(T);                            /* [T] */
        y->rstd1 = CARVE_F(T);                            /* [T] */
        y->q = CARVE_F(T * D);                            /* [T, D] */
        y->k = CARVE_F(T * D);                            /* [T, D] */
        y->v = CARVE_F(T * D);                            /* [T, D] */
        y->att = CARVE_F((size_t)m->B_max * H * L * L);   /* [B, H, L, L] */
        y->o = CARVE_F(T * D);                            /* [T, D] attention output */
        y->mask_a = carve(base, &off, T * D);             /* [T, D] dropout after Wo */
        y->x1 = CARVE_F(T * D);                           /* [T, D] x + Drop(Attn) */
        y->ln2 = CARVE_F(T * D);                          /* [T, D] LN2(x1) */
        y->mean2 = CARVE_F(T);                            /* [T] */
        y->rstd2 = CARVE_F(T);                            /* [T] */
        y->f1 = CARVE_F(T * F);                           /* [T, F] W1 ln2 + b1 */
        y->g = CARVE_F(T * F);                            /* [T, F] GELU(f1) */
        y->mask_f = carve(base, &off, T * D);             /* [T, D] dropout after W2 */
    }
    a->h = CARVE_F(T * D);                                /* [T, D] final LN output */
    a->meanf = CARVE_F(T);                                /* [T] */
    a->rstdf = CARVE_F(T);                                /* [T] */
    a->u = CARVE_F(T * D);                                /* [T, D] head pre-activation */
    a->z = CARVE_F(T * D);                                /* [T, D] scored vector */
    a->keys = CARVE_F(T * D);                             /* [T, D] E[x_t] for the skip term */
    a->logits = CARVE_F(T * C);                           /* [T, C] one catalogue chunk */
    a->row_max = CARVE_F(T);                              /* [T] */
    a->row_sumexp = carve(base, &off, sizeof(double) * T);/* [T] */
    a->target_logit = CARVE_F(T);                         /* [T] */
    a->q_pos = CARVE_F(T);                                /* [T] q of each target */
    a->pos_logit = CARVE_F(T);                            /* [T] */
    a->dpos = CARVE_F(T);                                 /* [T] */
    size_t nneg = c->loss == SR_MODEL_LOSS_KIND_BCE ? T * N
                  : authors                         ? (size_t)m->cand_cap
                                                    : N;
    /* [N], [T, N], or the authors' list [cand_cap] */
    a->neg_items = carve(base, &off, sizeof(int32_t) * nz(nneg));
    a->neg_q = CARVE_F(nz(N));                    /* [N] */
    a->neg_logit = CARVE_F(nz(T * Nc));           /* [T, Nc] */
    a->dneg = CARVE_F(nz(T * Nc));                /* [T, Nc] */
    a->negE = CARVE_F(nz(Nc * D));                /* [Nc, D] gathered negatives */
    a->dnegE = CARVE_F(nz(Nc * D));               /* [Nc, D] */
    /* gradient scratch */
    a->dz = CARVE_F(T * D);                               /* [T, D] */
    a->dh = CARVE_F(T * D);                               /* [T, D] */
    a->du = CARVE_F(T * D);                               /* [T, D] */
    a->dkeys = CARVE_F(T * D);                            /* [T, D] */
    a->dx = CARVE_F(T * D);                               /* [T, D] d residual stream */
    a->dx1 = CARVE_F(T * D);                              /* [T, D] */
    a->dtmp = CARVE_F(T * D);                             /* [T, D] (also forward scratch) */
    a->dln = CARVE_F(T * D);                              /* [T, D] */
    a->dq = CARVE_F(T * D);                               /* [T, D] */
    a->dk = CARVE_F(T * D);                               /* [T, D] */
    a->dv = CARVE_F(T * D);                               /* [T, D] */
    a->dO = CARVE_F(T * D);                               /* [T, D] */
    a->df = CARVE_F(T * F);                               /* [T, F] */
    a->dg = CARVE_F(T * F);                               /* [T, F] */
    return off;
}

#undef CARVE_F

/* ---- lifetime ----------------------------------------------------------------- */

static void init_params(sr_model *m)
{
    const sr_model_config *c = &m->cfg;
    sr_rng r;
    sr_rng_seed(&r, c->seed);
    memset(m->params, 0, sizeof(float) * m->n_params);
    for (size_t i = 0; i < m->n_tensors; i++) {
        sr_model_tensor_info *t = &m->tensors[i];
        size_t n = (size_t)t->rows * (size_t)t->cols;
        const char *dot = strrchr(t->name, '.');
        const char *base = dot ? dot + 1 : t->name;
        if (strcmp(base, "ln1_g") == 0 || strcmp(base, "ln2_g") == 0 ||
            strcmp(base, "lnf_g") == 0) {
            for (size_t j = 0; j < n; j++)
                t->param[j] = 1.0f;
        } else if (t->rows > 1 || strcmp(base, "item") == 0) {
            /* tables and weight matrices: normal(0, init_std), like the
             * authors' nn.init.normal_(std=0.02) */
            for (size_t j = 0; j < n; j++)
                t->param[j] = (float)(c->init_std * sr_rng_normal(&r));
        }
        /* biases and LN betas stay 0 */
    }
}

sr_err sr_model_new(const sr_model_config *cfg, int B_max, sr_model **out)
{
    sr_err e = sr_model_config_check(cfg);
    if (e != SR_OK)
        return e;
    if (!out)
        return sr_errorf(SR_ERR_ARG, "sr_model_new: out is NULL");
    *out = NULL;
    if (B_max < 1)
        return sr_errorf(SR_ERR_ARG, "sr_model_new: B_max = %d, need >= 1", B_max);
    e = sr_attention_check(B_max, cfg->L, cfg->D, cfg->heads);
    if (e != SR_OK)
        return e;
    /* every [T, X] buffer must index in int range for the kernels */
    double T = (double)B_max * cfg->L;
    double widest = SR_MAX(SR_MAX((double)cfg->D, (double)cfg->F),
                           (double)SR_MIN(cfg->chunk, cfg->I));
    if (cfg->loss != SR_MODEL_LOSS_KIND_FULL_CE)
        widest = SR_MAX(widest, (double)cfg->negatives);
    widest = SR_MAX(widest, (double)authors_cols_max(cfg, B_max));
    if (T * widest > (double)INT32_MAX || (double)(cfg->I + 1) * cfg->D > (double)INT32_MAX)
        return sr_errorf(SR_ERR_LIMIT, "sr_model_new: B_max %d x L %d x width %.0f too large",
                         B_max, cfg->L, widest);

    sr_model *m = calloc(1, sizeof *m);
    if (!m)
        return sr_errorf(SR_ERR_NOMEM, "sr_model_new: model struct");
    m->cfg = *cfg;
    m->B_max = B_max;
    m->Ir = cfg->I + (cfg->kind == SR_MODEL_KIND_BERT4REC ? 1 : 0);
    m->n_params = layout_params(m);
    m->params = aligned_alloc(64, align16(m->n_params) * sizeof(float));
    m->grads = aligned_alloc(64, align16(m->n_params) * sizeof(float));
    m->touched = calloc((size_t)m->Ir, 1);
    m->cand_cols_max = (int)authors_cols_max(cfg, B_max);
    /* the sampler writes every target before deduplicating them */
    m->cand_cap = m->cand_cols_max == 0
                      ? 0
                      : SR_MAX(B_max * cfg->L + cfg->negatives, m->cand_cols_max);
    m->arena_bytes = (layout_arena(m, NULL) + 63u) & ~(size_t)63u;
    m->arena = aligned_alloc(64, m->arena_bytes);
    if (!m->params || !m->grads || !m->touched || !m->arena) {
        size_t np = m->n_params, ab = m->arena_bytes;
        sr_model_free(&m);
        return sr_errorf(SR_ERR_NOMEM, "sr_model_new: %zu parameters, %zu arena bytes", np,
                         ab);
    }
    memset(m->arena, 0, m->arena_bytes);
    layout_arena(m, m->arena);
    bind_views(m, m->params, &m->p, false);
    bind_views(m, m->grads, &m->g, true);
    memset(m->grads, 0, sizeof(float) * m->n_params);
    m->item_grad_sparse = true;
    init_params(m);
    e = sr_sampler_new_uniform(cfg->I, &m->own_sampler);
    if (e != SR_OK) {
        sr_model_free(&m);
        return e;
    }
    m->sampler = m->own_sampler;
    *out = m;
    return SR_OK;
}

void sr_model_free(sr_model **mp)
{
    if (!mp || !*mp)
        return;
    sr_model *m = *mp;
    free(m->params);
    free(m->grads);
    free(m->touched);
    free(m->arena);
    sr_sampler_free(&m->own_sampler);
    free(m);
    *mp = NULL;
}

sr_err sr_model_set_sampler(sr_model *m, const sr_sampler *s)
{
    if (!s) {
        m->sampler = m->own_sampler;
        return SR_OK;
    }
    if (sr_sampler_size(s) != m->cfg.I)
        return sr_errorf(SR_ERR_ARG, "sr_model_set_sampler: sampler over %d items, model I = %d",
                         (int)sr_sampler_size(s), (int)m->cfg.I);
    m->sampler = s;
    return SR_OK;
}

/* ---- parameter views ------------------------------------------------------------- */

size_t sr_model_tensor_count(const sr_model *m)
{
    return m->n_tensors;
}

void sr_model_tensor(const sr_model *m, size_t i, sr_model_tensor_info *out)
{
    SR_ASSERT(i < m->n_tensors);
    *out = m->tensors[i];
}

const sr_model_tensor_info *sr_model_tensor_find(const sr_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

size_t sr_model_param_count(const sr_model *m)
{
    return m->n_params;
}

float *sr_model_params(sr_model *m)
{
    return m->params;
}

float *sr_model_grads(sr_model *m)
{
    return m->grads;
}

const uint8_t *sr_model_item_touched(const sr_model *m)
{
    return m->touched;
}

const float *sr_model_hidden(const sr_model *m)
{
    return m->a.h;
}

const int32_t *sr_model_candidates(const sr_model *m, int *n, int *n_distinct)
{
    if (n)
        *n = m->n_cand;
    if (n_distinct)
        *n_distinct = m->n_distinct;
    return m->n_cand > 0 ? m->a.neg_items : NULL;
}

/* ---- encoder ----------------------------------------------------------------------- */

static sr_err drop_fwd(const sr_model *m, bool train, uint64_t step, uint64_t site,
                       float *x, uint8_t *mask, size_t n)
{
    float p = m->cfg.dropout;
    if (!train || p == 0.0f)
        return SR_OK;
    sr_dropout_mask(mask, n, p, m->cfg.seed, step, site);
    sr_dropout_forward(x, mask, n, p, x);
    return SR_OK;
}

/* Encoder forward over B sequences from a->idx, a->fbidx, a->valid to a->h.
 * Dropout sites: 0 = embeddings, 8 l + 1 = after Wo, 8 l + 2 = after W2. */
sr_err sr_model_encode(sr_model *m, sr_dnnl_ctx *ctx, int B, bool train, uint64_t step)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int L = c->L, D = c->D, F = c->F, H = c->heads;
    const int T = B * L;
    const size_t TD = (size_t)T * (size_t)D;
    const sr_attn_mode mode =
        c->kind == SR_MODEL_KIND_SASREC ? SR_ATTN_MODE_CAUSAL : SR_ATTN_MODE_BIDIRECTIONAL;
    sr_err e = SR_OK;

    sr_embedding_forward(m->p.item, a->idx, T, D, m->Ir, a->x0);
    sr_posemb_forward(a->x0, m->p.pos, a->valid, B, L, D, a->x0);
    if (c->feedback) {
        for (int t = 0; t < T; t++) {
            if (a->fbidx[t] < 0)
                continue;
            const float *fb = m->p.fb + (size_t)a->fbidx[t] * D;
            float *x = a->x0 + (size_t)t * D;
            for (int d = 0; d < D; d++)
                x[d] += fb[d];
        }
    }
    float *x = a->xs;
    memcpy(x, a->x0, TD * sizeof(float));
    drop_fwd(m, train, step, 0, x, a->mask_e, TD);

    for (int l = 0; l < c->layers; l++) {
        const sr_model_layer_view *w = &m->p.layer[l];
        sr_model_layer_acts *y = &a->layer[l];
        float *xn = a->xs + (size_t)(l + 1) * TD;
        if ((e = sr_layernorm_forward(ctx, x, w->ln1_g, w->ln1_b, y->ln1, y->mean1, y->rstd1, T,
                                      D, SR_MODEL_LN_EPS)) != SR_OK ||
            (e = sr_linear_forward(ctx, y->ln1, w->wq, w->bq, y->q, T, D, D)) != SR_OK ||
            (e = sr_linear_forward(ctx, y->ln1, w->wk, w->bk, y->k, T, D, D)) != SR_OK ||
            (e = sr_linear_forward(ctx, y->ln1, w->wv, w->bv, y->v, T, D, D)) != SR_OK)
            return e;
        sr_attention_forward(y->q, y->k, y->v, a->valid, B, L, D, H, mode, y->att, y->o);
        if ((e = sr_linear_forward(ctx, y->o, w->wo, w->bo, a->dtmp, T, D, D)) != SR_OK)
            return e;
        drop_fwd(m, train, step, 8u * (uint64_t)l + 1u, a->dtmp, y->mask_a, TD);
        sr_residual_forward(x, a->dtmp, TD, y->x1);
        if ((e = sr_layernorm_forward(ctx, y->x1, w->ln2_g, w->ln2_b, y->ln2, y->mean2, y->rstd2,
                                      T, D, SR_MODEL_LN_EPS)) != SR_OK ||
            (e = sr_linear_forward(ctx, y->ln2, w->w1, w->b1, y->f1, T, D, F)) != SR_OK)
            return e;
        sr_gelu_forward(y->f1, y->g, (size_t)T * (size_t)F);
        if ((e = sr_linear_forward(ctx, y->g, w->w2, w->b2, a->dtmp, T, F, D)) != SR_OK)
            return e;
        drop_fwd(m, train, step, 8u * (uint64_t)l + 2u, a->dtmp, y->mask_f, TD);
        sr_residual_forward(y->x1, a->dtmp, TD, xn);
        x = xn;
    }
    return sr_layernorm_forward(ctx, x, m->p.lnf_g, m->p.lnf_b, a->h, a->meanf, a->rstdf, T, D,
                                SR_MODEL_LN_EPS);
}

/* z = head(h) for rows [0, T). */
sr_err sr_model_head_forward(sr_model *m, sr_dnnl_ctx *ctx, const float *h, float *u, float *z,
                             int T)
{
    const int D = m->cfg.D;
    if (m->cfg.head == SR_MODEL_HEAD_PLAIN) {
        if (z != h)
            memcpy(z, h, sizeof(float) * (size_t)T * (size_t)D);
        return SR_OK;
    }
    sr_err e = sr_linear_forward(ctx, h, m->p.head_w, m->p.head_b, u, T, D, D);
    if (e != SR_OK)
        return e;
    sr_gelu_forward(u, z, (size_t)T * (size_t)D);
    return SR_OK;
}

/* Backward of the encoder from dL/dh in a->dh to the parameter gradients.
 * Each gradient scratch is zeroed before the backward that accumulates
 * into it. */
sr_err sr_model_encode_backward(sr_model *m, sr_dnnl_ctx *ctx, int B)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int L = c->L, D = c->D, F = c->F, H = c->heads;
    const int T = B * L;
    const size_t TD = (size_t)T * (size_t)D, TF = (size_t)T * (size_t)F;
    const sr_attn_mode mode =
        c->kind == SR_MODEL_KIND_SASREC ? SR_ATTN_MODE_CAUSAL : SR_ATTN_MODE_BIDIRECTIONAL;
    const float p = c->dropout;
    sr_err e;

    memset(a->dx, 0, TD * sizeof(float));
    const float *xlast = a->xs + (size_t)c->layers * TD;
    if ((e = sr_layernorm_backward(ctx, xlast, m->p.lnf_g, a->meanf, a->rstdf, a->dh, a->dx,
                                   m->g.lnf_g, m->g.lnf_b, T, D, SR_MODEL_LN_EPS)) != SR_OK)
        return e;
    for (int l = c->layers - 1; l >= 0; l--) {
        const sr_model_layer_view *w = &m->p.layer[l];
        const sr_model_layer_view *gw = &m->g.layer[l];
        const sr_model_layer_acts *y = &a->layer[l];
        const float *xin = a->xs + (size_t)l * TD;
        const uint8_t *mf = p > 0.0f ? y->mask_f : NULL;
        const uint8_t *ma = p > 0.0f ? y->mask_a : NULL;
        /* x_{l+1} = x1 + Drop(W2 GELU(W1 LN2(x1) + b1) + b2) */
        memset(a->dtmp, 0, TD * sizeof(float));
        sr_dropout_backward(a->dx, mf, TD, p, a->dtmp);
        memset(a->dg, 0, TF * sizeof(float));
        if ((e = sr_linear_backward(ctx, y->g, w->w2, a->dtmp, a->dg, gw->w2, gw->b2, T, F, D)) !=
            SR_OK)
            return e;
        memset(a->df, 0, TF * sizeof(float));
        sr_gelu_backward(y->f1, a->dg, a->df, TF);
        memset(a->dln, 0, TD * sizeof(float));
        if ((e = sr_linear_backward(ctx, y->ln2, w->w1, a->df, a->dln, gw->w1, gw->b1, T, D, F)) !=
            SR_OK)
            return e;
        memcpy(a->dx1, a->dx, TD * sizeof(float));
        if ((e = sr_layernorm_backward(ctx, y->x1, w->ln2_g, y->mean2, y->rstd2, a->dln, a->dx1,
                                       gw->ln2_g, gw->ln2_b, T, D, SR_MODEL_LN_EPS)) != SR_OK)
            return e;
        /* x1 = x + Drop(Wo Attn(Wq, Wk, Wv LN1(x)) + bo) */
        memset(a->dtmp, 0, TD * sizeof(float));
        sr_dropout_backward(a->dx1, ma, TD, p, a->dtmp);
        memset(a->dO, 0, TD * sizeof(float));
        if ((e = sr_linear_backward(ctx, y->o, w->wo, a->dtmp, a->dO, gw->wo, gw->bo, T, D, D)) !=
            SR_OK)
            return e;
        memset(a->dq, 0, TD * sizeof(float));
        memset(a->dk, 0, TD * sizeof(float));
        memset(a->dv, 0, TD * sizeof(float));
        sr_attention_backward(y->q, y->k, y->v, a->valid, y->att, a->dO, B, L, D, H, mode, a->dq,
                              a->dk, a->dv);
        memset(a->dln, 0, TD * sizeof(float));
        if ((e = sr_linear_backward(ctx, y->ln1, w->wq, a->dq, a->dln, gw->wq, gw->bq, T, D, D)) !=
                SR_OK ||
            (e = sr_linear_backward(ctx, y->ln1, w->wk, a->dk, a->dln, gw->wk, gw->bk, T, D, D)) !=
                SR_OK ||
            (e = sr_linear_backward(ctx, y->ln1, w->wv, a->dv, a->dln, gw->wv, gw->bv, T, D, D)) !=
                SR_OK)
            return e;
        memcpy(a->dx, a->dx1, TD * sizeof(float));
        if ((e = sr_layernorm_backward(ctx, xin, w->ln1_g, y->mean1, y->rstd1, a->dln, a->dx,
                                       gw->ln1_g, gw->ln1_b, T, D, SR_MODEL_LN_EPS)) != SR_OK)
            return e;
    }
    /* x0 = Drop(E[idx] + pos (valid rows) + fb[fbidx]) */
    memset(a->dtmp, 0, TD * sizeof(float));
    sr_dropout_backward(a->dx, p > 0.0f ? a->mask_e : NULL, TD, p, a->dtmp);
    memset(a->dln, 0, TD * sizeof(float));
    sr_posemb_backward(a->dtmp, a->valid, B, L, D, a->dln, m->g.pos);
    sr_embedding_backward(a->dln, a->idx, T, D, m->Ir, m->g.item, m->touched);
    if (c->feedback) {
        /* two rows: serial in t, so the sum order is fixed */
        for (int t = 0; t < T; t++) {
            if (a->fbidx[t] < 0)
                continue;
            float *gfb = m->g.fb + (size_t)a->fbidx[t] * D;
            const float *dy = a->dln + (size_t)t * D;
            for (int d = 0; d < D; d++)
                gfb[d] += dy[d];
        }
    }
    return SR_OK;
}

/* ---- inference ---------------------------------------------------------------------- */

/* Fill row b of the inference input (idx, fbidx, valid) with one session;
 * returns the position whose hidden state is the query. */
static sr_err fill_query_row(sr_model *m, int b, const int32_t *tracks, const uint8_t *skipped,
                             int n, int *at_out)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int L = c->L;
    const bool bert = c->kind == SR_MODEL_KIND_BERT4REC;
    if (n < 1)
        return sr_errorf(SR_ERR_ARG, "sr_model_score: session of %d plays, need >= 1", n);
    int keep = SR_MIN(n, bert ? L - 1 : L);
    int first = n - keep;
    for (int i = first; i < n; i++)
        if (tracks[i] < 0 || tracks[i] >= c->I)
            return sr_errorf(SR_ERR_ARG, "sr_model_score: play %d has track %d outside [0, %d)",
                             i, (int)tracks[i], (int)c->I);
    int32_t *idx = a->idx + (size_t)b * L;
    int32_t *fbidx = a->fbidx + (size_t)b * L;
    uint8_t *valid = a->valid + (size_t)b * L;
    for (int l = 0; l < L; l++) {
        idx[l] = -1;
        fbidx[l] = -1;
        valid[l] = 0;
    }
    for (int j = 0; j < keep; j++) {
        idx[j] = tracks[first + j];
        valid[j] = 1;
        if (c->feedback)
            fbidx[j] = skipped && skipped[first + j] ? 1 : 0;
    }
    int at = keep - 1;
    if (bert) {
        at = keep;
        idx[at] = c->I; /* [MASK] */
        valid[at] = 1;
    }
    *at_out = at;
    return SR_OK;
}

sr_err sr_model_score(sr_model *m, sr_dnnl_ctx *ctx, const int32_t *tracks,
                      const uint8_t *skipped, int n, float *scores)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int D = c->D;
    int at = 0;
    sr_err e = fill_query_row(m, 0, tracks, skipped, n, &at);
    if (e != SR_OK)
        return e;
    e = sr_model_encode(m, ctx, 1, false, 0);
    if (e != SR_OK)
        return e;
    const float *h = a->h + (size_t)at * D;
    e = sr_model_head_forward(m, ctx, h, a->u, a->z, 1);
    if (e != SR_OK)
        return e;
    return sr_matmul_nt(ctx, a->z, D, m->p.out, D, scores, c->I, 1, c->I, D, false);
}

sr_err sr_model_queries(sr_model *m, sr_dnnl_ctx *ctx, const int32_t *tracks,
                        const uint8_t *skipped, const int64_t *offsets, int B, float *q)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int L = c->L, D = c->D;
    if (B < 1 || B > m->B_max)
        return sr_errorf(SR_ERR_ARG, "sr_model_queries: B = %d outside [1, %d]", B, m->B_max);
    for (int b = 0; b < B; b++) {
        int64_t n = offsets[b + 1] - offsets[b];
        if (n < 1 || n > INT32_MAX)
            return sr_errorf(SR_ERR_ARG, "sr_model_queries: session %d has %lld plays", b,
                             (long long)n);
        int at = 0;
        sr_err e = fill_query_row(m, b, tracks + offsets[b], skipped ? skipped + offsets[b] : NULL,
                                  (int)n, &at);
        if (e != SR_OK)
            return e;
        a->targets[b] = b * L + at; /* the query's row of h (targets is free at inference) */
    }
    sr_err e = sr_model_encode(m, ctx, B, false, 0);
    if (e != SR_OK)
        return e;
    /* gather the B query rows of h into dz (backward scratch, free at inference) */
    for (int b = 0; b < B; b++)
        memcpy(a->dz + (size_t)b * D, a->h + (size_t)a->targets[b] * D, sizeof(float) * D);
    return sr_model_head_forward(m, ctx, a->dz, a->u, q, B);
}

int sr_model_batch_max(const sr_model *m)
{
    return m->B_max;
}

const float *sr_model_output_table(const sr_model *m)
{
    return m->p.out;
}
