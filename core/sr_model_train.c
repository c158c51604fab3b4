/* sr_model_train.c - one training step's forward and backward of
 * L = L_rec + lambda * L_nf over a batch (sr_model.h, docs/model.md):
 * batch checks, SASRec targets / BERT4Rec cloze masks, the four
 * recommendation losses on top of the head and the skip-contrastive term.
 *
 * Dimension legend: see sr_model.c (B, L, D, I, N, T = B * L, C chunk,
 * Ir rows of the item table). E_out: [I, D] is the output table (the first
 * I rows of the item table when tied).
 */
#include "sr_model_impl.h"

#include <math.h>
#include <string.h>

#include "sr_layers.h"
#include "sr_rng.h"
#include "sr_skipcl.h"
#include "sr_tensor.h"

/* Salts of the per-step random streams (cloze masks, negatives). */
#define SALT_CLOZE 0x636c6f7a65ULL
#define SALT_NEG 0x6e65676174ULL

static void seed_stream(sr_rng *r, uint64_t seed, uint64_t step, uint64_t salt)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL;
    x ^= (step + 0x632BE59BD9B4E019ULL) * 0xBF58476D1CE4E5B9ULL;
    x ^= salt * 0x94D049BB133111EBULL;
    sr_rng_seed(r, x);
}

/* Fill the arena's idx, fbidx, keyidx, targets, valid, cloze from the batch. */
static sr_err prepare_batch(sr_model *m, const sr_model_batch *bt)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int L = c->L;
    if (!bt || !bt->tracks || !bt->skipped || !bt->valid)
        return sr_errorf(SR_ERR_ARG, "model batch: tracks, skipped and valid are required");
    if (bt->B < 1 || bt->B > m->B_max)
        return sr_errorf(SR_ERR_ARG, "model batch: B = %d, model built for 1..%d", bt->B,
                         m->B_max);
    const int T = bt->B * L;
    for (int t = 0; t < T; t++) {
        a->valid[t] = bt->valid[t] ? 1 : 0;
        if (a->valid[t] && (bt->tracks[t] < 0 || bt->tracks[t] >= c->I))
            return sr_errorf(SR_ERR_ARG,
                             "model batch: sequence %d position %d: track %d outside [0, %d)",
                             t / L, t % L, (int)bt->tracks[t], (int)c->I);
        a->keyidx[t] = a->valid[t] ? bt->tracks[t] : -1;
    }
    if (c->kind == SR_MODEL_KIND_SASREC) {
        memset(a->cloze, 0, (size_t)T);
        sr_targets_next(bt->tracks, bt->skipped, a->valid, bt->B, L, c->target, a->targets);
    } else if (bt->cloze) {
        for (int t = 0; t < T; t++) {
            if (bt->cloze[t] && !a->valid[t])
                return sr_errorf(SR_ERR_ARG,
                                 "model batch: cloze mask at padded sequence %d position %d",
                                 t / L, t % L);
            a->cloze[t] = bt->cloze[t] ? 1 : 0;
        }
    } else {
        /* each valid position masked with probability mask_prob; at least one
         * per sequence that has a valid position (BERT4Rec's cloze task) */
        sr_rng r;
        seed_stream(&r, c->seed, bt->step, SALT_CLOZE);
        for (int b = 0; b < bt->B; b++) {
            int n_valid = 0, n_masked = 0;
            for (int l = 0; l < L; l++) {
                size_t t = sr_row(b, l, L);
                a->cloze[t] = 0;
                if (!a->valid[t])
                    continue;
                n_valid++;
                if (sr_rng_uniform(&r) < (double)c->mask_prob) {
                    a->cloze[t] = 1;
                    n_masked++;
                }
            }
            if (n_valid > 0 && n_masked == 0) {
                int pick = (int)sr_rng_below(&r, (uint64_t)n_valid);
                for (int l = 0; l < L; l++) {
                    size_t t = sr_row(b, l, L);
                    if (a->valid[t] && pick-- == 0)
                        a->cloze[t] = 1;
                }
            }
        }
    }
    for (int t = 0; t < T; t++) {
        const bool masked = a->cloze[t] != 0;
        if (c->kind == SR_MODEL_KIND_BERT4REC)
            a->targets[t] = masked ? bt->tracks[t] : -1;
        a->idx[t] = masked ? c->I : a->keyidx[t];
        /* a masked play's skip label would tell the model about its target */
        a->fbidx[t] = c->feedback && a->valid[t] && !masked ? (bt->skipped[t] ? 1 : 0) : -1;
    }
    return SR_OK;
}

/* Columns the authors' candidate list is padded to (sr_model_impl.h). */
static int candidate_cols(int n)
{
    return (n + SR_MODEL_CAND_GRANULE - 1) / SR_MODEL_CAND_GRANULE * SR_MODEL_CAND_GRANULE;
}

/* The authors' candidate list (sr_sampler_candidates_authors) from the
 * (seed, step) stream of the negatives: the batch's distinct targets, then
 * N items drawn uniformly without replacement from the others, then -1
 * padding up to candidate_cols. When fewer than N items are not targets
 * (a catalogue hardly larger than a batch), all of them are taken. */
static sr_err prepare_candidates(sr_model *m, const sr_model_batch *bt)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int T = bt->B * c->L;
    if (bt->neg_items)
        return sr_errorf(SR_ERR_ARG,
                         "model batch: neg_items given, but the authors' sampled softmax "
                         "draws its candidates from (seed, step %llu)",
                         (unsigned long long)bt->step);
    sr_rng r;
    seed_stream(&r, c->seed, bt->step, SALT_NEG);
    int n_neg = c->negatives, d = 0, n = 0;
    sr_err e;
    if ((int64_t)sr_targets_count(a->targets, T) + n_neg > (int64_t)c->I) {
        /* maybe too few items left: count the distinct targets first (a
         * call without negatives draws nothing from r) */
        if ((e = sr_sampler_candidates_authors(a->targets, T, c->I, 0, &r, a->neg_items,
                                               m->cand_cap, &d, &n)) != SR_OK)
            return e;
        n_neg = (int)SR_MIN((int64_t)n_neg, (int64_t)c->I - d);
    }
    if ((e = sr_sampler_candidates_authors(a->targets, T, c->I, n_neg, &r, a->neg_items,
                                           m->cand_cap, &d, &n)) != SR_OK)
        return e;
    SR_ASSERT(candidate_cols(n) <= m->cand_cols_max);
    for (int j = n; j < candidate_cols(n); j++)
        a->neg_items[j] = -1;
    m->n_cand = n;
    m->n_distinct = d;
    return SR_OK;
}

/* Negatives of the sampled losses: from the batch or drawn from the sampler. */
static sr_err prepare_negatives(sr_model *m, const sr_model_batch *bt)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int T = bt->B * c->L, N = c->negatives;
    if (c->loss == SR_MODEL_LOSS_KIND_FULL_CE)
        return SR_OK;
    if (c->loss == SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS)
        return prepare_candidates(m, bt);
    const int n = c->loss == SR_MODEL_LOSS_KIND_SAMPLED ? N : T * N;
    if (bt->neg_items) {
        for (int j = 0; j < n; j++) {
            if (bt->neg_items[j] < 0 || bt->neg_items[j] >= c->I)
                return sr_errorf(SR_ERR_ARG, "model batch: negative %d is %d, outside [0, %d)",
                                 j, (int)bt->neg_items[j], (int)c->I);
            a->neg_items[j] = bt->neg_items[j];
        }
        if (c->loss == SR_MODEL_LOSS_KIND_SAMPLED) {
            if (bt->neg_q)
                memcpy(a->neg_q, bt->neg_q, sizeof(float) * (size_t)N);
            else
                sr_sampler_probs(m->sampler, a->neg_items, N, a->neg_q);
        }
    } else {
        sr_rng r;
        seed_stream(&r, c->seed, bt->step, SALT_NEG);
        sr_sampler_draw(m->sampler, &r, n, a->neg_items,
                        c->loss == SR_MODEL_LOSS_KIND_SAMPLED ? a->neg_q : NULL);
    }
    if (c->loss == SR_MODEL_LOSS_KIND_SAMPLED && c->log_q)
        sr_sampler_probs(m->sampler, a->targets, T, a->q_pos);
    return SR_OK;
}

/* pos_logit[t] = z[t] . E_out[targets[t]] (0 for rows without a target). */
static void target_logits(const sr_model *m, const float *z, int T)
{
    const int D = m->cfg.D;
    const sr_model_arena *a = &m->a;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        double s = 0.0;
        if (a->targets[t] >= 0) {
            const float *e = m->p.out + (size_t)a->targets[t] * D;
            const float *zt = z + (size_t)t * D;
            for (int d = 0; d < D; d++)
                s += (double)zt[d] * (double)e[d];
        }
        a->pos_logit[t] = (float)s;
    }
}

/* dz[t] += dpos[t] E_out[target_t]; dE_out[target_t] += dpos[t] z[t]. The
 * table update is serial in t so each row's sum order is fixed. */
static void target_backward(sr_model *m, const float *z, float *dz, int T)
{
    const int D = m->cfg.D;
    sr_model_arena *a = &m->a;
    for (int t = 0; t < T; t++) {
        int32_t i = a->targets[t];
        if (i < 0)
            continue;
        const float g = a->dpos[t];
        const float *e = m->p.out + (size_t)i * D;
        float *ge = m->g.out + (size_t)i * D;
        const float *zt = z + (size_t)t * D;
        float *dzt = dz + (size_t)t * D;
        for (int d = 0; d < D; d++) {
            dzt[d] += g * e[d];
            ge[d] += g * zt[d];
        }
        if (m->cfg.tied)
            m->touched[i] = 1;
    }
}

/* Full softmax CE over the I items in chunks of C: pass 1 running
 * statistics, then (backward) pass 2 recomputes each chunk's logits, turns
 * them into dlogits in place and chains dz += dlogits E_c,
 * dE_c += dlogits^T z. Memory O(T * C). */
static sr_err loss_full_ce(sr_model *m, sr_dnnl_ctx *ctx, const float *z, float *dz, int T,
                           bool backward, double *loss, int *n_targets)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int D = c->D, I = c->I, C = SR_MIN(c->chunk, c->I);
    sr_err e;
    sr_ce_full_init(T, a->row_max, a->row_sumexp, a->target_logit);
    for (int i0 = 0; i0 < I; i0 += C) {
        int cn = SR_MIN(C, I - i0);
        if ((e = sr_matmul_nt(ctx, z, D, m->p.out + (size_t)i0 * D, D, a->logits, cn, T, cn, D,
                              false)) != SR_OK)
            return e;
        sr_ce_full_stats(a->logits, T, cn, i0, a->targets, a->row_max, a->row_sumexp,
                         a->target_logit);
    }
    *loss = sr_ce_full_loss(T, a->targets, a->row_max, a->row_sumexp, a->target_logit,
                            n_targets);
    if (!backward || *n_targets == 0)
        return SR_OK;
    const float scale = 1.0f / (float)*n_targets;
    for (int i0 = 0; i0 < I; i0 += C) {
        int cn = SR_MIN(C, I - i0);
        const float *Ec = m->p.out + (size_t)i0 * D;
        if ((e = sr_matmul_nt(ctx, z, D, Ec, D, a->logits, cn, T, cn, D, false)) != SR_OK)
            return e;
        sr_ce_full_grad(a->logits, T, cn, i0, a->targets, a->row_max, a->row_sumexp, scale,
                        false, a->logits);
        if ((e = sr_matmul_nn(ctx, a->logits, cn, Ec, D, dz, D, T, D, cn, true)) != SR_OK ||
            (e = sr_matmul_tn(ctx, a->logits, cn, z, D, m->g.out + (size_t)i0 * D, D, cn, D, T,
                              true)) != SR_OK)
            return e;
    }
    if (c->tied)
        memset(m->touched, 1, (size_t)I);
    return SR_OK;
}

/* Sampled softmax over N candidate columns shared by the batch,
 * a->neg_items[0, N): the first n_real are items, the rest padding (item
 * -1, logit -inf: probability 0, gradient 0). SAMPLED: N = n_real =
 * negatives; SAMPLED_AUTHORS: the candidate list padded to candidate_cols,
 * so the products see a fixed width. */
static sr_err loss_sampled(sr_model *m, sr_dnnl_ctx *ctx, const float *z, float *dz, int T,
                           int N, int n_real, sr_sampled_opts opts, bool backward, double *loss,
                           int *n_targets)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int D = c->D;
    sr_err e;
    for (int j = 0; j < n_real; j++)
        memcpy(a->negE + (size_t)j * D, m->p.out + (size_t)a->neg_items[j] * D,
               sizeof(float) * (size_t)D);
    memset(a->negE + (size_t)n_real * D, 0, sizeof(float) * (size_t)(N - n_real) * (size_t)D);
    target_logits(m, z, T);
    if ((e = sr_matmul_nt(ctx, z, D, a->negE, D, a->neg_logit, N, T, N, D, false)) != SR_OK)
        return e;
    if (n_real < N) {
        for (int t = 0; t < T; t++)
            for (int j = n_real; j < N; j++)
                a->neg_logit[(size_t)t * N + j] = -INFINITY;
    }
    int n = sr_targets_count(a->targets, T);
    float scale = n > 0 ? 1.0f / (float)n : 0.0f;
    if (backward) {
        memset(a->dpos, 0, sizeof(float) * (size_t)T);
        memset(a->dneg, 0, sizeof(float) * (size_t)T * (size_t)N);
    }
    *loss = sr_sampled_softmax(a->pos_logit, a->neg_logit, a->targets, a->neg_items,
                               opts.log_q ? a->q_pos : NULL, opts.log_q ? a->neg_q : NULL, T, N,
                               opts, scale, backward ? a->dpos : NULL,
                               backward ? a->dneg : NULL, n_targets);
    if (!backward || n == 0)
        return SR_OK;
    target_backward(m, z, dz, T);
    if ((e = sr_matmul_nn(ctx, a->dneg, N, a->negE, D, dz, D, T, D, N, true)) != SR_OK ||
        (e = sr_matmul_tn(ctx, a->dneg, N, z, D, a->dnegE, D, N, D, T, false)) != SR_OK)
        return e;
    /* scatter in j order: a duplicate negative adds its rows in a fixed
     * order; padding columns have no row (and a zero gradient) */
    for (int j = 0; j < n_real; j++) {
        float *ge = m->g.out + (size_t)a->neg_items[j] * D;
        const float *src = a->dnegE + (size_t)j * D;
        for (int d = 0; d < D; d++)
            ge[d] += src[d];
        if (c->tied)
            m->touched[a->neg_items[j]] = 1;
    }
    return SR_OK;
}

/* Binary CE with N negatives per row (neg_items: [T, N]). */
static sr_err loss_bce(sr_model *m, const float *z, float *dz, int T, bool backward,
                       double *loss, int *n_targets)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    const int D = c->D, N = c->negatives;
    target_logits(m, z, T);
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        const float *zt = z + (size_t)t * D;
        for (int k = 0; k < N; k++) {
            double s = 0.0;
            if (a->targets[t] >= 0) {
                const float *e = m->p.out + (size_t)a->neg_items[(size_t)t * N + k] * D;
                for (int d = 0; d < D; d++)
                    s += (double)zt[d] * (double)e[d];
            }
            a->neg_logit[(size_t)t * N + k] = (float)s;
        }
    }
    int n = sr_targets_count(a->targets, T);
    float scale = n > 0 ? 1.0f / (float)n : 0.0f;
    if (backward) {
        memset(a->dpos, 0, sizeof(float) * (size_t)T);
        memset(a->dneg, 0, sizeof(float) * (size_t)T * (size_t)N);
    }
    *loss = sr_bce_negatives(a->pos_logit, a->neg_logit, a->targets, a->neg_items, T, N, scale,
                             backward ? a->dpos : NULL, backward ? a->dneg : NULL, n_targets);
    if (!backward || n == 0)
        return SR_OK;
    target_backward(m, z, dz, T);
    /* serial in (t, k): table rows receive their additions in a fixed order */
    for (int t = 0; t < T; t++) {
        if (a->targets[t] < 0)
            continue;
        const float *zt = z + (size_t)t * D;
        float *dzt = dz + (size_t)t * D;
        for (int k = 0; k < N; k++) {
            int32_t i = a->neg_items[(size_t)t * N + k];
            const float g = a->dneg[(size_t)t * N + k];
            const float *e = m->p.out + (size_t)i * D;
            float *ge = m->g.out + (size_t)i * D;
            for (int d = 0; d < D; d++) {
                dzt[d] += g * e[d];
                ge[d] += g * zt[d];
            }
            if (c->tied)
                m->touched[i] = 1;
        }
    }
    return SR_OK;
}

/* Zero the gradient block and the touched mask before a backward. The
 * item table, [Ir, D] first in the block, is most of it (512 MB at I = 1M,
 * D = 128) while a step writes a few thousand rows, each together with its
 * touched flag (embedding and skip-key scatters; with a tied table the
 * output gradients too, full CE marking all I rows). So after a completed
 * backward (item_grad_sparse) only the touched rows can be non-zero and
 * only they are cleared; after one that stopped part-way, where a row may
 * have been written before its flag, the whole table. Everything after the
 * table (small dense tensors, an untied output table that is written
 * without flags) is cleared in full. The flag goes false here and back to
 * true when the backward completes (sr_model_forward_backward). */
static void zero_grads(sr_model *m)
{
    const size_t D = (size_t)m->cfg.D, Ir = (size_t)m->Ir, item_len = Ir * D;
    SR_ASSERT(m->g.item == m->grads && item_len <= m->n_params);
    memset(m->grads + item_len, 0, sizeof(float) * (m->n_params - item_len));
    if (m->item_grad_sparse) {
        float *g = m->g.item;
        uint8_t *touched = m->touched;
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < Ir; r++) {
            if (touched[r]) {
                memset(g + r * D, 0, sizeof(float) * D);
                touched[r] = 0;
            }
        }
    } else {
        memset(m->g.item, 0, sizeof(float) * item_len);
        memset(m->touched, 0, Ir);
    }
    m->item_grad_sparse = false;
}

static sr_err run(sr_model *m, const sr_model_batch *bt, sr_dnnl_ctx *ctx, bool backward,
                  sr_model_loss_parts *out)
{
    const sr_model_config *c = &m->cfg;
    sr_model_arena *a = &m->a;
    sr_err e;
    if (!out)
        return sr_errorf(SR_ERR_ARG, "model step: loss parts pointer is NULL");
    memset(out, 0, sizeof *out);
    m->n_cand = m->n_distinct = 0;
    if ((e = prepare_batch(m, bt)) != SR_OK || (e = prepare_negatives(m, bt)) != SR_OK)
        return e;
    const int B = bt->B, L = c->L, D = c->D, T = B * L;
    const size_t TD = (size_t)T * (size_t)D;
    if ((e = sr_model_encode(m, ctx, B, true, bt->step)) != SR_OK)
        return e;
    const bool plain = c->head == SR_MODEL_HEAD_PLAIN;
    /* PLAIN: z is h and dz is dh, so the loss's gradient lands in dh directly */
    const float *z = plain ? a->h : a->z;
    float *dz = plain ? a->dh : a->dz;
    if (!plain && (e = sr_model_head_forward(m, ctx, a->h, a->u, a->z, T)) != SR_OK)
        return e;
    if (backward) {
        zero_grads(m);
        memset(a->dh, 0, TD * sizeof(float));
        memset(a->dz, 0, TD * sizeof(float));
    }

    double rec = 0.0;
    int n_targets = 0;
    switch (c->loss) {
    case SR_MODEL_LOSS_KIND_FULL_CE:
        e = loss_full_ce(m, ctx, z, dz, T, backward, &rec, &n_targets);
        break;
    case SR_MODEL_LOSS_KIND_SAMPLED: {
        sr_sampled_opts opts = { .log_q = c->log_q, .remove_hits = true };
        e = loss_sampled(m, ctx, z, dz, T, c->negatives, c->negatives, opts, backward, &rec,
                         &n_targets);
        break;
    }
    case SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS:
        /* no log-Q; each row's own target, also a candidate, is removed
         * from its negatives as an accidental hit */
        e = loss_sampled(m, ctx, z, dz, T, candidate_cols(m->n_cand), m->n_cand,
                         sr_sampled_opts_authors(), backward, &rec, &n_targets);
        break;
    case SR_MODEL_LOSS_KIND_BCE:
        e = loss_bce(m, z, dz, T, backward, &rec, &n_targets);
        break;
    }
    if (e != SR_OK)
        return e;

    double nf = 0.0;
    if (c->lambda > 0.0f) {
        /* SPEC.md section 4: keys are raw item embeddings E[x_u] of the
         * original plays (BERT4Rec: before masking); only valid plays. */
        sr_embedding_forward(m->p.item, a->keyidx, T, D, m->Ir, a->keys);
        sr_skipcl_counts counts;
        sr_skipcl_count(bt->skipped, a->valid, B, L, &counts);
        out->n_anchors = counts.anchors;
        const bool hidden = c->context == SR_MODEL_CONTEXT_HIDDEN;
        const float *cx = hidden ? a->h : a->keys;
        float *dcx = NULL, *dkeys = NULL;
        if (backward) {
            memset(a->dkeys, 0, TD * sizeof(float));
            dkeys = a->dkeys;
            dcx = hidden ? a->dh : a->dkeys;
        }
        nf = sr_skipcl_loss_acc(cx, a->keys, bt->skipped, a->valid, B, L, D, c->tau, c->lambda,
                                dcx, dkeys);
        if (backward)
            sr_embedding_backward(a->dkeys, a->keyidx, T, D, m->Ir, m->g.item, m->touched);
    }
    out->rec = rec;
    out->nf = nf;
    out->n_targets = n_targets;
    out->total = rec + (double)c->lambda * nf;
    if (!backward)
        return SR_OK;

    if (!plain) {
        memset(a->du, 0, TD * sizeof(float));
        sr_gelu_backward(a->u, a->dz, a->du, TD);
        if ((e = sr_linear_backward(ctx, a->h, m->p.head_w, a->du, a->dh, m->g.head_w,
                                    m->g.head_b, T, D, D)) != SR_OK)
            return e;
    }
    return sr_model_encode_backward(m, ctx, B);
}

sr_err sr_model_forward_backward(sr_model *m, const sr_model_batch *batch, sr_dnnl_ctx *ctx,
                                 sr_model_loss_parts *out)
{
    sr_err e = run(m, batch, ctx, true, out);
    if (e == SR_OK)
        m->item_grad_sparse = true;
    return e;
}

sr_err sr_model_loss(sr_model *m, const sr_model_batch *batch, sr_dnnl_ctx *ctx,
                     sr_model_loss_parts *out)
{
    return run(m, batch, ctx, false, out);
}
