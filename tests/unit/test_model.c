/* test_model.c - SASRec and BERT4Rec assembled (core/sr_model.h,
 * docs/model.md): finite differences of the WHOLE loss w.r.t. a sample of
 * every parameter tensor for each model kind, loss kind, head, skip-term
 * context and option; causality; padding independence; determinism; the
 * chunked full CE against a naive loop; scoring against the batch path;
 * batch and config validation; the authors' sampled softmax
 * (SAMPLED_AUTHORS) against their formulation written out, its candidate
 * list, and its dependence on the batch size.
 *
 * The batch (I = 13, L = 5, B = 3) mixes layouts: sequence 0 is full,
 * sequence 1 is right-padded (3 plays), sequence 2 is left-padded (4 plays).
 * Padded positions carry garbage tracks and labels, which must never be read.
 *   seq 0: tracks 3 7 1 7 12   skipped 0 1 0 0 1   valid 1 1 1 1 1
 *   seq 1: tracks 5 2 9 . .    skipped 1 0 0 . .   valid 1 1 1 0 0
 *   seq 2: tracks . 4 0 11 6   skipped . 0 1 0 0   valid 0 1 1 1 1
 * Skip-term anchors (SPEC.md section 4), worked out by hand: seq 0: t=0
 * (p=2), t=2 (p=3), negatives {1, 4}; seq 1: t=1 (p=2), negative {0};
 * seq 2: t=1 (p=3), t=3 (p=4), negative {2}: 5 anchors.
 * NEXT_PLAY targets: seq 0: 4 (positions 0-3), seq 1: 2, seq 2: 3 -> 9.
 * Their distinct items: seq 0 {1, 7, 12}, the batch {0, 1, 2, 6, 7, 9, 11, 12}.
 * BERT4Rec targets (k_cloze): 7, 7 (seq 0), 5 (seq 1), 6 (seq 2): {5, 6, 7}.
 */
#include "sr_test.h"

#include <math.h>
#include <omp.h>

#include "sr_gradcheck.h"
#include "sr_model.h"
#include "sr_model_impl.h" /* the item-gradient flag, for one white-box test */
#include "sr_rng.h"

enum { TB = 3, TL = 5, TI = 13, TNS = 4, TNB = 2 };

static const int32_t k_tracks[TB * TL] = { 3, 7, 1, 7, 12, 5, 2, 9, 99, -5, -7, 4, 0, 11, 6 };
static const uint8_t k_skipped[TB * TL] = { 0, 1, 0, 0, 1, 1, 0, 0, 0xFF, 0xFF,
                                            0xFF, 0, 1, 0, 0 };
static const uint8_t k_valid[TB * TL] = { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1 };
/* BERT4Rec cloze mask: never at padding, >= 1 per sequence */
static const uint8_t k_cloze[TB * TL] = { 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
/* shared negatives of the sampled softmax: a duplicate (7) and targets (7, 2) */
static const int32_t k_neg_shared[TNS] = { 2, 7, 10, 7 };

typedef struct fixture {
    sr_model *m;
    sr_dnnl_ctx *ctx;
    int32_t tracks[TB * TL];
    uint8_t skipped[TB * TL], valid[TB * TL], cloze[TB * TL];
    int32_t neg_bce[TB * TL * TNB];
    int32_t neg_shared[TNS];
    sr_model_batch batch;
} fixture;

static sr_model_config tiny_config(sr_model_kind kind)
{
    sr_model_config c = sr_model_config_paper(kind);
    c.I = TI;
    c.D = 8;
    c.layers = 2;
    c.heads = 2;
    c.F = 12;
    c.L = TL;
    c.dropout = 0.0f;
    c.chunk = 5; /* 13 items in chunks of 5, 5, 3 */
    c.negatives = TNS;
    /* large enough weights that every gradient is far above the check's
     * absolute tolerance (0.02 would leave deep gradients near 1e-6) */
    c.init_std = 0.4f;
    c.seed = 7;
    c.lambda = 0.0f;
    return c;
}

static void fixture_init(fixture *f, const sr_model_config *c)
{
    memset(f, 0, sizeof *f);
    if (sr_model_new(c, TB, &f->m) != SR_OK)
        fail_msg("sr_model_new: %s", sr_errmsg());
    if (sr_dnnl_ctx_new(0, &f->ctx) != SR_OK)
        fail_msg("sr_dnnl_ctx_new: %s", sr_errmsg());
    memcpy(f->tracks, k_tracks, sizeof k_tracks);
    memcpy(f->skipped, k_skipped, sizeof k_skipped);
    memcpy(f->valid, k_valid, sizeof k_valid);
    memcpy(f->cloze, k_cloze, sizeof k_cloze);
    memcpy(f->neg_shared, k_neg_shared, sizeof k_neg_shared);
    for (int t = 0; t < TB * TL; t++)
        for (int k = 0; k < TNB; k++)
            f->neg_bce[t * TNB + k] = (t * 5 + k * 3 + 1) % TI;
    f->batch.B = TB;
    f->batch.tracks = f->tracks;
    f->batch.skipped = f->skipped;
    f->batch.valid = f->valid;
    f->batch.step = 3;
    f->batch.cloze = c->kind == SR_MODEL_KIND_BERT4REC ? f->cloze : NULL;
    f->batch.neg_items = c->loss == SR_MODEL_LOSS_KIND_SAMPLED ? f->neg_shared
                         : c->loss == SR_MODEL_LOSS_KIND_BCE ? f->neg_bce
                                                             : NULL;
}

static void fixture_free(fixture *f)
{
    sr_model_free(&f->m);
    sr_dnnl_ctx_free(&f->ctx);
}

static double fixture_loss(void *p)
{
    fixture *f = p;
    sr_model_loss_parts parts;
    if (sr_model_loss(f->m, &f->batch, f->ctx, &parts) != SR_OK)
        fail_msg("sr_model_loss: %s", sr_errmsg());
    return parts.total;
}

static void fixture_step(fixture *f, sr_model_loss_parts *parts)
{
    if (sr_model_forward_backward(f->m, &f->batch, f->ctx, parts) != SR_OK)
        fail_msg("sr_model_forward_backward: %s", sr_errmsg());
}

/* Backward once, then check a sample of every tensor's gradient against
 * central differences of the whole loss. Each tensor must also have a
 * gradient well above the absolute tolerance, so the check cannot pass by
 * comparing zeros with noise. */
static void gradcheck_config(const sr_model_config *c, int expect_targets, int64_t expect_anchors)
{
    fixture f;
    fixture_init(&f, c);
    sr_model_loss_parts parts;
    fixture_step(&f, &parts);
    assert_true(isfinite(parts.total) && parts.rec > 0.0);
    assert_int_equal(parts.n_targets, expect_targets);
    assert_int_equal(parts.n_anchors, expect_anchors);
    if (c->lambda > 0.0f)
        assert_true(parts.nf > 0.0);
    SR_ASSERT_NEAR(parts.total, parts.rec + (double)c->lambda * parts.nf, 1e-12);
    /* the forward of sr_model_loss is the same function of the parameters */
    SR_ASSERT_NEAR(fixture_loss(&f), parts.total, 0.0);

    const double atol = 1e-4, rtol = 5e-3;
    size_t nt = sr_model_tensor_count(f.m);
    for (size_t i = 0; i < nt; i++) {
        sr_model_tensor_info t;
        sr_model_tensor(f.m, i, &t);
        size_t n = (size_t)t.rows * (size_t)t.cols;
        float gmax = 0.0f;
        for (size_t j = 0; j < n; j++)
            gmax = fmaxf(gmax, fabsf(t.grad[j]));
        /* the key bias adds q_i . bk to every score of row i, which softmax
         * ignores: its gradient is exactly 0 in theory (round-off here) */
        bool key_bias = strstr(t.name, ".bk") != NULL;
        if (key_bias ? !(gmax < 1e-6f) : !(gmax > 20.0 * atol))
            fail_msg("%s: largest gradient %g is too small for a meaningful check", t.name,
                     (double)gmax);
        sr_gc_check(t.name, t.param, t.grad, n, fixture_loss, &f, 2e-3f, atol, rtol, 24);
    }
    fixture_free(&f);
}

/* ---- finite differences, one configuration each ------------------------------ */

static void test_gradcheck_sasrec_full_ce_plain_head(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.head = SR_MODEL_HEAD_PLAIN;
    gradcheck_config(&c, 9, 0);
}

static void test_gradcheck_sasrec_full_ce_authors_head_skip_item_context(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.lambda = 0.7f;
    c.context = SR_MODEL_CONTEXT_ITEM_EMBEDDING;
    gradcheck_config(&c, 9, 5);
}

/* hidden context + feedback embedding + separate output table + next
 * listened targets: seq 0: 0->2, 1->2, 2->3 (3 targets; position 3 has no
 * later listened play), seq 1: 0->1, 1->2 (2), seq 2: 1->3, 2->3, 3->4 (3). */
static void test_gradcheck_sasrec_skip_hidden_context_feedback_untied_next_listened(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.lambda = 0.5f;
    c.context = SR_MODEL_CONTEXT_HIDDEN;
    c.feedback = true;
    c.tied = false;
    c.target = SR_TARGET_MODE_NEXT_LISTENED;
    gradcheck_config(&c, 8, 5);
}

static void test_gradcheck_sasrec_sampled_log_q_skip(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.loss = SR_MODEL_LOSS_KIND_SAMPLED;
    c.log_q = true;
    c.lambda = 1.0f;
    gradcheck_config(&c, 9, 5);
}

static void test_gradcheck_sasrec_bce_plain_head(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.loss = SR_MODEL_LOSS_KIND_BCE;
    c.negatives = TNB;
    c.head = SR_MODEL_HEAD_PLAIN;
    gradcheck_config(&c, 9, 0);
}

/* cloze targets: the 4 masked positions of k_cloze */
static void test_gradcheck_bert4rec_full_ce_authors_head_skip_item_context(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_BERT4REC);
    c.lambda = 1.0f;
    gradcheck_config(&c, 4, 5);
}

static void test_gradcheck_bert4rec_full_ce_plain_head_feedback_untied(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_BERT4REC);
    c.head = SR_MODEL_HEAD_PLAIN;
    c.feedback = true;
    c.tied = false;
    gradcheck_config(&c, 4, 0);
}

static void test_gradcheck_bert4rec_sampled_without_log_q(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_BERT4REC);
    c.loss = SR_MODEL_LOSS_KIND_SAMPLED;
    c.log_q = false;
    gradcheck_config(&c, 4, 0);
}

static void test_gradcheck_bert4rec_bce_skip(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_BERT4REC);
    c.loss = SR_MODEL_LOSS_KIND_BCE;
    c.negatives = TNB;
    c.lambda = 0.3f;
    gradcheck_config(&c, 4, 5);
}

/* The authors' sampled softmax: the candidates (8 distinct targets + 4
 * negatives out of the other 5 items) depend on the targets and the step
 * only, so the loss is a fixed function of the parameters. */
static void test_gradcheck_sasrec_sampled_authors_skip(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.loss = SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS;
    c.lambda = 1.0f;
    gradcheck_config(&c, 9, 5);
}

static void test_gradcheck_bert4rec_sampled_authors_plain_head_untied(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_BERT4REC);
    c.loss = SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS;
    c.head = SR_MODEL_HEAD_PLAIN;
    c.tied = false;
    gradcheck_config(&c, 4, 0);
}

/* With dropout on, the masks depend only on (seed, step, site): the loss is
 * a fixed function of the parameters for a given step and can be checked. */
static void test_gradcheck_sasrec_with_dropout_at_fixed_step(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.dropout = 0.3f;
    c.lambda = 1.0f;
    gradcheck_config(&c, 9, 5);
}

/* ---- structure ------------------------------------------------------------------- */

/* Changing the play at position 4 of sequence 0 (not cloze-masked) must
 * leave the hidden states of positions 0..3 bit-identical (causal attention), and everything of the
 * other sequences too. BERT4Rec, bidirectional, must see the change. */
static void test_sasrec_later_input_leaves_earlier_hidden_states_bit_identical(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        sr_model_config c = tiny_config(kind ? SR_MODEL_KIND_BERT4REC : SR_MODEL_KIND_SASREC);
        fixture f;
        fixture_init(&f, &c);
        const size_t TD = (size_t)TB * TL * (size_t)c.D;
        float *h0 = malloc(TD * sizeof(float));
        assert_non_null(h0);
        (void)fixture_loss(&f);
        memcpy(h0, sr_model_hidden(f.m), TD * sizeof(float));
        f.tracks[4] = 10;
        (void)fixture_loss(&f);
        const float *h1 = sr_model_hidden(f.m);
        size_t before = 4 * (size_t)c.D; /* rows (0,0)..(0,3) */
        size_t others = (size_t)TL * (size_t)c.D; /* sequences 1 and 2 start here */
        if (kind == 0) {
            assert_memory_equal(h0, h1, before * sizeof(float));
        } else {
            assert_memory_not_equal(h0, h1, before * sizeof(float));
        }
        assert_memory_equal(h0 + others, h1 + others, (TD - others) * sizeof(float));
        free(h0);
        fixture_free(&f);
    }
}

/* Garbage at padded positions (tracks, labels) never changes the loss, any
 * gradient or any valid hidden state. */
static void test_padded_positions_never_change_loss_gradients_or_valid_states(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        sr_model_config c = tiny_config(kind ? SR_MODEL_KIND_BERT4REC : SR_MODEL_KIND_SASREC);
        c.lambda = 1.0f;
        c.feedback = true;
        fixture f;
        fixture_init(&f, &c);
        const size_t n = sr_model_param_count(f.m);
        const size_t TD = (size_t)TB * TL * (size_t)c.D;
        float *g0 = malloc(n * sizeof(float));
        float *h0 = malloc(TD * sizeof(float));
        assert_true(g0 && h0);
        sr_model_loss_parts p0, p1;
        fixture_step(&f, &p0);
        memcpy(g0, sr_model_grads(f.m), n * sizeof(float));
        memcpy(h0, sr_model_hidden(f.m), TD * sizeof(float));
        for (int t = 0; t < TB * TL; t++) {
            if (!f.valid[t]) {
                f.tracks[t] = (t % 2) ? 4 : 12;
                f.skipped[t] = (uint8_t)(t % 2);
            }
        }
        fixture_step(&f, &p1);
        assert_memory_equal(&p0.total, &p1.total, sizeof(double));
        assert_memory_equal(g0, sr_model_grads(f.m), n * sizeof(float));
        const float *h1 = sr_model_hidden(f.m);
        for (int t = 0; t < TB * TL; t++)
            if (f.valid[t])
                assert_memory_equal(h0 + (size_t)t * c.D, h1 + (size_t)t * c.D,
                                    (size_t)c.D * sizeof(float));
        free(g0);
        free(h0);
        fixture_free(&f);
    }
}

/* Two models from one seed, one step: bit-identical loss and gradients
 * (dropout and drawn cloze masks / negatives on); 1 vs 2 threads: equal
 * within float round-off of the differently-blocked oneDNN products. */
static void test_same_seed_bit_identical_and_thread_counts_agree(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_BERT4REC);
    c.dropout = 0.2f;
    c.lambda = 1.0f;
    c.loss = SR_MODEL_LOSS_KIND_SAMPLED;
    fixture a, b;
    fixture_init(&a, &c);
    fixture_init(&b, &c);
    a.batch.cloze = b.batch.cloze = NULL;     /* drawn from (seed, step) */
    a.batch.neg_items = b.batch.neg_items = NULL;
    const size_t n = sr_model_param_count(a.m);
    sr_model_loss_parts pa, pb;
    fixture_step(&a, &pa);
    fixture_step(&b, &pb);
    assert_memory_equal(&pa.total, &pb.total, sizeof(double));
    assert_memory_equal(sr_model_grads(a.m), sr_model_grads(b.m), n * sizeof(float));

    omp_set_num_threads(1);
    sr_dnnl_ctx_free(&b.ctx);
    assert_int_equal(sr_dnnl_ctx_new(0, &b.ctx), SR_OK);
    fixture_step(&b, &pb);
    omp_set_num_threads(2);
    sr_dnnl_ctx_free(&a.ctx);
    assert_int_equal(sr_dnnl_ctx_new(0, &a.ctx), SR_OK);
    fixture_step(&a, &pa);
    omp_set_num_threads(1);
    SR_ASSERT_NEAR(pa.total, pb.total, 1e-5 * fabs(pa.total));
    const float *ga = sr_model_grads(a.m), *gb = sr_model_grads(b.m);
    for (size_t i = 0; i < n; i++)
        SR_ASSERT_NEAR(ga[i], gb[i], 1e-5 + 1e-4 * fabs(ga[i]));

    /* a different step draws other masks: the loss changes */
    a.batch.step = 4;
    fixture_step(&a, &pa);
    assert_true(pa.total != pb.total);
    fixture_free(&a);
    fixture_free(&b);
}

/* The chunked full CE equals a naive double loop over h E^T (plain head),
 * with NEXT_PLAY targets written out by hand for k_tracks. */
static void test_full_ce_chunked_equals_naive_loss(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.head = SR_MODEL_HEAD_PLAIN;
    fixture f;
    fixture_init(&f, &c);
    sr_model_loss_parts parts;
    assert_int_equal(sr_model_loss(f.m, &f.batch, f.ctx, &parts), SR_OK);
    static const int32_t targets[TB * TL] = { 7, 1, 7, 12, -1, 2, 9, -1, -1, -1,
                                              -1, 0, 11, 6, -1 };
    const float *h = sr_model_hidden(f.m);
    const float *E = sr_model_tensor_find(f.m, "item")->param;
    double sum = 0.0;
    int n = 0;
    for (int t = 0; t < TB * TL; t++) {
        if (targets[t] < 0)
            continue;
        double lg[TI], mx = -INFINITY, se = 0.0;
        for (int i = 0; i < TI; i++) {
            lg[i] = 0.0;
            for (int d = 0; d < c.D; d++)
                lg[i] += (double)h[t * c.D + d] * (double)E[i * c.D + d];
            mx = fmax(mx, lg[i]);
        }
        for (int i = 0; i < TI; i++)
            se += exp(lg[i] - mx);
        sum += mx + log(se) - lg[targets[t]];
        n++;
    }
    assert_int_equal(parts.n_targets, n);
    SR_ASSERT_NEAR(parts.rec, sum / n, 1e-5);
    fixture_free(&f);
}

/* sr_model_score equals the batch path: SASRec scores = head(h at the last
 * play) . E; BERT4Rec scores = head(h at a [MASK] placed after the plays). */
static void test_score_matches_batch_forward(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        sr_model_config c = tiny_config(kind ? SR_MODEL_KIND_BERT4REC : SR_MODEL_KIND_SASREC);
        c.head = SR_MODEL_HEAD_PLAIN;
        c.dropout = 0.3f; /* scoring must not drop; the batch path below uses step masks */
        fixture f;
        fixture_init(&f, &c);
        /* a session of 3 plays: 5 2 9 (sequence 1 of the fixture) */
        const int32_t sess[3] = { 5, 2, 9 };
        const uint8_t sk[3] = { 1, 0, 0 };
        float scores[TI];
        assert_int_equal(sr_model_score(f.m, f.ctx, sess, sk, 3, scores), SR_OK);
        /* batch path with dropout off, B = 1 */
        sr_model_config c0 = c;
        c0.dropout = 0.0f;
        fixture g;
        fixture_init(&g, &c0);
        int32_t tr[TL] = { 5, 2, 9, 3, 3 };
        uint8_t va[TL] = { 1, 1, 1, 0, 0 }, cl[TL] = { 0, 0, 0, 1, 0 }, skp[TL] = { 1, 0, 0, 0, 0 };
        if (kind)
            va[3] = 1;
        g.batch.B = 1;
        g.batch.tracks = tr;
        g.batch.valid = va;
        g.batch.skipped = skp;
        g.batch.cloze = kind ? cl : NULL;
        (void)fixture_loss(&g);
        const float *h = sr_model_hidden(g.m) + (size_t)(kind ? 3 : 2) * c.D;
        const float *E = sr_model_tensor_find(g.m, "item")->param;
        for (int i = 0; i < TI; i++) {
            double s = 0.0;
            for (int d = 0; d < c.D; d++)
                s += (double)h[d] * (double)E[i * c.D + d];
            SR_ASSERT_NEAR(scores[i], s, 1e-5);
        }
        fixture_free(&g);
        fixture_free(&f);
    }
}

/* A session longer than the window: only the last L plays count, so any
 * earlier play does not change the scores. */
static void test_score_uses_only_the_last_window(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    fixture f;
    fixture_init(&f, &c);
    int32_t s1[7] = { 1, 2, 3, 4, 5, 6, 7 }, s2[7] = { 9, 10, 3, 4, 5, 6, 7 };
    uint8_t sk[7] = { 0 };
    float a[TI], b[TI];
    assert_int_equal(sr_model_score(f.m, f.ctx, s1, sk, 7, a), SR_OK);
    assert_int_equal(sr_model_score(f.m, f.ctx, s2, sk, 7, b), SR_OK);
    assert_memory_equal(a, b, sizeof a);
    s2[6] = 8;
    assert_int_equal(sr_model_score(f.m, f.ctx, s2, sk, 7, b), SR_OK);
    assert_memory_not_equal(a, b, sizeof a);
    assert_int_equal(sr_model_score(f.m, f.ctx, s1, sk, 0, a), SR_ERR_ARG);
    s1[6] = TI;
    assert_int_equal(sr_model_score(f.m, f.ctx, s1, sk, 7, a), SR_ERR_ARG);
    fixture_free(&f);
}

/* Drawn cloze masks: mask_prob 1 masks every valid position (12), a tiny
 * probability still masks one per sequence (3), never padding. */
static void test_bert4rec_drawn_cloze_masks_valid_positions_at_least_one_per_sequence(
    void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_BERT4REC);
    c.mask_prob = 1.0f;
    fixture f;
    fixture_init(&f, &c);
    f.batch.cloze = NULL;
    sr_model_loss_parts parts;
    assert_int_equal(sr_model_loss(f.m, &f.batch, f.ctx, &parts), SR_OK);
    assert_int_equal(parts.n_targets, 12);
    fixture_free(&f);
    c.mask_prob = 1e-6f;
    fixture_init(&f, &c);
    f.batch.cloze = NULL;
    for (uint64_t step = 0; step < 5; step++) {
        f.batch.step = step;
        assert_int_equal(sr_model_loss(f.m, &f.batch, f.ctx, &parts), SR_OK);
        assert_int_equal(parts.n_targets, 3);
    }
    fixture_free(&f);
}

/* ---- validation --------------------------------------------------------------------- */

static void test_batch_errors_name_the_bad_value(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_BERT4REC);
    fixture f;
    fixture_init(&f, &c);
    sr_model_loss_parts parts;
    f.tracks[6] = TI;
    assert_int_equal(sr_model_forward_backward(f.m, &f.batch, f.ctx, &parts), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "sequence 1 position 1: track 13"));
    f.tracks[6] = 2;
    f.cloze[8] = 1; /* padding */
    assert_int_equal(sr_model_forward_backward(f.m, &f.batch, f.ctx, &parts), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "cloze mask at padded sequence 1 position 3"));
    f.cloze[8] = 0;
    f.batch.B = TB + 1;
    assert_int_equal(sr_model_loss(f.m, &f.batch, f.ctx, &parts), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "B = 4"));
    fixture_free(&f);
}

static void test_config_paper_preset_and_check_name_the_field(void **state)
{
    (void)state;
    sr_model_config c = sr_model_config_paper(SR_MODEL_KIND_SASREC);
    assert_int_equal(c.D, 128);
    assert_int_equal(c.layers, 2);
    assert_int_equal(c.heads, 8);
    assert_int_equal(c.F, 128);
    assert_int_equal(c.L, 20);
    assert_true(c.dropout == 0.2f && c.lambda == 1.0f && c.tau == 0.1f);
    assert_int_equal(c.head, SR_MODEL_HEAD_AUTHORS);
    assert_true(c.tied && !c.feedback);
    /* I is the caller's */
    assert_int_equal(sr_model_config_check(&c), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "I = 0"));
    c.I = 100;
    assert_int_equal(sr_model_config_check(&c), SR_OK);
    c.heads = 3;
    assert_int_equal(sr_model_config_check(&c), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "heads = 3"));
    c.heads = 8;
    c.tau = 0.0f;
    assert_int_equal(sr_model_config_check(&c), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "tau"));
    c.tau = 0.1f;
    c.dropout = 1.0f;
    assert_int_equal(sr_model_config_check(&c), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "dropout"));
    sr_model_config b = sr_model_config_paper(SR_MODEL_KIND_BERT4REC);
    b.I = 100;
    b.context = SR_MODEL_CONTEXT_HIDDEN;
    assert_int_equal(sr_model_config_check(&b), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "context"));
}

/* The parameter layout: item table of I + 1 rows for BERT4Rec, tensor order,
 * one contiguous block, gradients in the same layout. */
static void test_parameter_layout_is_one_block_with_named_views(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_BERT4REC);
    c.feedback = true;
    c.tied = false;
    fixture f;
    fixture_init(&f, &c);
    sr_model_tensor_info t;
    sr_model_tensor(f.m, 0, &t);
    assert_string_equal(t.name, "item");
    assert_int_equal(t.rows, TI + 1);
    assert_ptr_equal(t.param, sr_model_params(f.m));
    assert_ptr_equal(t.grad, sr_model_grads(f.m));
    /* item, pos, fb, 2 x 16 layer tensors, lnf_g, lnf_b, head_w, head_b, out */
    assert_int_equal(sr_model_tensor_count(f.m), 3 + 32 + 2 + 2 + 1);
    const sr_model_tensor_info *w1 = sr_model_tensor_find(f.m, "layer1.w1");
    assert_non_null(w1);
    assert_int_equal(w1->rows, 12);
    assert_int_equal(w1->cols, 8);
    assert_int_equal(w1->grad - sr_model_grads(f.m), w1->param - sr_model_params(f.m));
    const sr_model_tensor_info *out = sr_model_tensor_find(f.m, "out");
    assert_non_null(out);
    assert_int_equal(out->rows, TI);
    assert_true(out->param + TI * 8 <= sr_model_params(f.m) + sr_model_param_count(f.m));
    const sr_model_tensor_info *g = sr_model_tensor_find(f.m, "layer0.ln1_g");
    assert_true(g->param[0] == 1.0f && sr_model_tensor_find(f.m, "layer0.bq")->param[3] == 0.0f);
    assert_null(sr_model_tensor_find(f.m, "nope"));
    fixture_free(&f);
}

/* A borrowed popularity sampler changes the log-Q correction (and thus the
 * sampled loss for the same negatives); a sampler of another size is
 * refused; NULL restores the uniform one (same loss as before). */
static void test_set_sampler_changes_log_q_and_checks_size(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.loss = SR_MODEL_LOSS_KIND_SAMPLED;
    c.log_q = true;
    fixture f;
    fixture_init(&f, &c);
    double uniform = fixture_loss(&f);
    uint32_t counts[TI];
    for (int i = 0; i < TI; i++)
        counts[i] = (uint32_t)(1 + 3 * i);
    sr_sampler *pop = NULL, *small = NULL;
    assert_int_equal(sr_sampler_new_popularity(counts, TI, 0.0, 1.0, &pop), SR_OK);
    assert_int_equal(sr_sampler_new_uniform(TI - 1, &small), SR_OK);
    assert_int_equal(sr_model_set_sampler(f.m, small), SR_ERR_ARG);
    assert_int_equal(sr_model_set_sampler(f.m, pop), SR_OK);
    double popular = fixture_loss(&f);
    assert_true(fabs(popular - uniform) > 1e-3);
    assert_int_equal(sr_model_set_sampler(f.m, NULL), SR_OK);
    assert_memory_equal(&(double){ fixture_loss(&f) }, &uniform, sizeof uniform);
    sr_sampler_free(&pop);
    sr_sampler_free(&small);
    fixture_free(&f);
}

/* ---- the authors' sampled softmax ------------------------------------------------- */

static const int32_t k_targets_sasrec[TB * TL] = { 7, 1, 7, 12, -1, 2, 9, -1, -1, -1,
                                                   -1, 0, 11, 6, -1 };
static const int32_t k_targets_bert[TB * TL] = { -1, 7, -1, 7, -1, 5, -1, -1, -1, -1,
                                                 -1, -1, -1, -1, 6 };

/* Their formulation written out (docs/losses.md): every row with a target
 * in [t0, t1) scores each candidate once, the label is the target's place
 * in the list, loss = logsumexp - logit of the label; the mean over those
 * rows. z = h (PLAIN head), E the output table. */
static double authors_direct_loss(const float *h, const float *E, int D, const int32_t *targets,
                                  int t0, int t1, const int32_t *cand, int nc)
{
    assert_true(nc <= TI);
    double sum = 0.0;
    int n = 0;
    for (int t = t0; t < t1; t++) {
        if (targets[t] < 0)
            continue;
        double lg[TI], mx = -INFINITY, se = 0.0;
        int label = -1;
        for (int j = 0; j < nc; j++) {
            lg[j] = 0.0;
            for (int d = 0; d < D; d++)
                lg[j] += (double)h[t * D + d] * (double)E[cand[j] * D + d];
            mx = fmax(mx, lg[j]);
            if (cand[j] == targets[t]) {
                assert_int_equal(label, -1); /* in the list exactly once */
                label = j;
            }
        }
        assert_true(label >= 0);
        for (int j = 0; j < nc; j++)
            se += exp(lg[j] - mx);
        sum += mx + log(se) - lg[label];
        n++;
    }
    return n > 0 ? sum / n : 0.0;
}

/* The candidate list: the distinct targets (worked out by hand) ascending,
 * then n_neg distinct non-target items ascending. */
static void check_candidate_list(const int32_t *cand, int n, int nd, const int32_t *distinct,
                                 int n_distinct, int n_neg)
{
    assert_non_null(cand);
    assert_int_equal(nd, n_distinct);
    assert_int_equal(n, n_distinct + n_neg);
    for (int j = 0; j < n_distinct; j++)
        assert_int_equal(cand[j], distinct[j]);
    for (int j = n_distinct; j < n; j++) {
        assert_true(cand[j] >= 0 && cand[j] < TI);
        if (j > n_distinct)
            assert_true(cand[j] > cand[j - 1]);
        for (int k = 0; k < n_distinct; k++)
            assert_true(cand[j] != distinct[k]);
    }
}

/* The model's SAMPLED_AUTHORS loss equals their formulation computed here
 * from the hidden states, the item table and the model's candidate list,
 * for both kinds. Keeping each row's own target as one of its negatives
 * (no hit removal) counts it twice, and so does a padding column that is
 * not masked out: both were seen to fail here. Every candidate's table row
 * is marked touched (the sparse optimiser relies on it). */
static void test_sampled_authors_loss_equals_direct_formulation(void **state)
{
    (void)state;
    static const int32_t distinct_sasrec[8] = { 0, 1, 2, 6, 7, 9, 11, 12 };
    static const int32_t distinct_bert[3] = { 5, 6, 7 };
    for (int kind = 0; kind < 2; kind++) {
        sr_model_config c = tiny_config(kind ? SR_MODEL_KIND_BERT4REC : SR_MODEL_KIND_SASREC);
        c.loss = SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS;
        c.head = SR_MODEL_HEAD_PLAIN;
        fixture f;
        fixture_init(&f, &c);
        assert_null(f.batch.neg_items);
        sr_model_loss_parts parts;
        fixture_step(&f, &parts);
        int n = 0, nd = 0;
        const int32_t *cand = sr_model_candidates(f.m, &n, &nd);
        if (kind == 0)
            check_candidate_list(cand, n, nd, distinct_sasrec, 8, TNS);
        else
            check_candidate_list(cand, n, nd, distinct_bert, 3, TNS);
        const int32_t *targets = kind ? k_targets_bert : k_targets_sasrec;
        const float *E = sr_model_tensor_find(f.m, "item")->param;
        double direct =
            authors_direct_loss(sr_model_hidden(f.m), E, c.D, targets, 0, TB * TL, cand, n);
        assert_int_equal(parts.n_targets, kind ? 4 : 9);
        SR_ASSERT_NEAR(parts.rec, direct, 1e-5 * fabs(direct));
        const uint8_t *touched = sr_model_item_touched(f.m);
        for (int j = 0; j < n; j++)
            assert_int_equal(touched[cand[j]], 1);

        /* the list is a function of (seed, step): the same step again gives
         * the same negatives; among a few other steps some differ (4 of the
         * 5 or 10 non-targets each time) */
        int32_t first[TI];
        memcpy(first, cand, sizeof(int32_t) * (size_t)n);
        (void)fixture_loss(&f);
        cand = sr_model_candidates(f.m, NULL, NULL);
        assert_memory_equal(first, cand, sizeof(int32_t) * (size_t)n);
        bool differs = false;
        for (uint64_t step = 4; step < 9 && !differs; step++) {
            f.batch.step = step;
            (void)fixture_loss(&f);
            int n2 = 0;
            cand = sr_model_candidates(f.m, &n2, NULL);
            assert_int_equal(n2, n);
            differs = memcmp(first, cand, sizeof(int32_t) * (size_t)n) != 0;
        }
        assert_true(differs);
        fixture_free(&f);
    }
}

/* With more negatives than non-target items, every item is taken: the
 * candidate list is the whole catalogue in order, and the authors' loss is
 * then the full softmax CE - the same loss and gradients as FULL_CE from the
 * same seed (same initial parameters). */
static void test_sampled_authors_over_the_whole_catalogue_equals_full_ce(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.lambda = 0.5f;
    sr_model_config ca = c;
    ca.loss = SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS;
    ca.negatives = 10; /* only 13 - 8 = 5 items are not targets */
    fixture full, auth;
    fixture_init(&full, &c);
    fixture_init(&auth, &ca);
    sr_model_loss_parts pf, pa;
    fixture_step(&full, &pf);
    fixture_step(&auth, &pa);
    int n = 0, nd = 0;
    const int32_t *cand = sr_model_candidates(auth.m, &n, &nd);
    assert_int_equal(nd, 8);
    assert_int_equal(n, TI);
    /* the 8 distinct targets, then the 5 non-targets, each ascending */
    static const int32_t all[TI] = { 0, 1, 2, 6, 7, 9, 11, 12, 3, 4, 5, 8, 10 };
    for (int j = 0; j < TI; j++)
        assert_int_equal(cand[j], all[j]);
    assert_int_equal(pa.n_targets, pf.n_targets);
    SR_ASSERT_NEAR(pa.rec, pf.rec, 1e-6 * pf.rec);
    SR_ASSERT_NEAR(pa.total, pf.total, 1e-6 * pf.total);
    const size_t np = sr_model_param_count(full.m);
    const float *gf = sr_model_grads(full.m), *ga = sr_model_grads(auth.m);
    float gmax = 0.0f;
    for (size_t i = 0; i < np; i++) {
        SR_ASSERT_NEAR(ga[i], gf[i], 1e-6 + 1e-4 * fabs(gf[i]));
        gmax = fmaxf(gmax, fabsf(gf[i]));
    }
    assert_true(gmax > 1e-2f);
    fixture_free(&full);
    fixture_free(&auth);
}

/* SPEC.md section 6 item 5: in the authors' construction a batch's other
 * targets are every row's negatives, so the candidate count, and with it a
 * session's loss (their sampled hit rates too, which used the same list),
 * depends on the batch size. Sequence 0 alone: its 3 distinct targets + 4
 * negatives = 7 candidates; in the 3-sequence batch: 8 + 4 = 12. Its hidden
 * states are bit-identical in both batches, yet its rows' mean loss under
 * the larger list differs from its loss alone. */
static void test_sampled_authors_candidate_count_depends_on_batch_size(void **state)
{
    (void)state;
    static const int32_t distinct_seq0[3] = { 1, 7, 12 };
    static const int32_t distinct_all[8] = { 0, 1, 2, 6, 7, 9, 11, 12 };
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.loss = SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS;
    c.head = SR_MODEL_HEAD_PLAIN;
    fixture f;
    fixture_init(&f, &c);
    const float *E = sr_model_tensor_find(f.m, "item")->param;
    sr_model_loss_parts p1, p3;
    int n = 0, nd = 0;

    f.batch.B = 1;
    assert_int_equal(sr_model_loss(f.m, &f.batch, f.ctx, &p1), SR_OK);
    const int32_t *cand = sr_model_candidates(f.m, &n, &nd);
    check_candidate_list(cand, n, nd, distinct_seq0, 3, TNS);
    assert_int_equal(n, 7);
    assert_int_equal(p1.n_targets, 4);
    float h1[TL * 8];
    assert_int_equal(c.D, 8);
    memcpy(h1, sr_model_hidden(f.m), sizeof h1);
    SR_ASSERT_NEAR(p1.rec, authors_direct_loss(h1, E, c.D, k_targets_sasrec, 0, TL, cand, n),
                   1e-5 * p1.rec);

    f.batch.B = TB;
    assert_int_equal(sr_model_loss(f.m, &f.batch, f.ctx, &p3), SR_OK);
    cand = sr_model_candidates(f.m, &n, &nd);
    check_candidate_list(cand, n, nd, distinct_all, 8, TNS);
    assert_int_equal(n, 12);
    const float *h3 = sr_model_hidden(f.m);
    assert_memory_equal(h1, h3, sizeof h1);
    double seq0_in_batch = authors_direct_loss(h3, E, c.D, k_targets_sasrec, 0, TL, cand, n);
    assert_true(fabs(seq0_in_batch - p1.rec) > 1e-3);
    SR_ASSERT_NEAR(p3.rec,
                   authors_direct_loss(h3, E, c.D, k_targets_sasrec, 0, TB * TL, cand, n),
                   1e-5 * p3.rec);
    fixture_free(&f);
}

/* The preset for comparison, and what the kind refuses or leaves empty. */
static void test_sampled_authors_preset_and_errors(void **state)
{
    (void)state;
    sr_model_config p = sr_model_config_paper_authors_loss(SR_MODEL_KIND_BERT4REC);
    sr_model_config base = sr_model_config_paper(SR_MODEL_KIND_BERT4REC);
    assert_int_equal(p.loss, SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS);
    assert_int_equal(p.negatives, 1000);
    assert_false(p.log_q);
    assert_true(p.D == base.D && p.L == base.L && p.lambda == base.lambda &&
                p.head == base.head && p.mask_prob == base.mask_prob);
    p.I = 5000;
    assert_int_equal(sr_model_config_check(&p), SR_OK);
    p.negatives = 0;
    assert_int_equal(sr_model_config_check(&p), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "negatives = 0"));

    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.loss = SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS;
    fixture f;
    fixture_init(&f, &c);
    int n = -1, nd = -1;
    assert_null(sr_model_candidates(f.m, &n, &nd)); /* before the first forward */
    assert_int_equal(n, 0);
    assert_int_equal(nd, 0);
    f.batch.neg_items = f.neg_shared;
    sr_model_loss_parts parts;
    assert_int_equal(sr_model_loss(f.m, &f.batch, f.ctx, &parts), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "neg_items given"));
    fixture_free(&f);

    c.loss = SR_MODEL_LOSS_KIND_SAMPLED;
    fixture_init(&f, &c);
    (void)fixture_loss(&f);
    assert_null(sr_model_candidates(f.m, &n, NULL));
    assert_int_equal(n, 0);
    fixture_free(&f);
}

/* ---- the gradient block between steps ------------------------------------------ */

/* Moves the fixture's plays and negatives onto items base + k (k < TI), so
 * two bases give batches over disjoint item rows. Padding keeps its
 * garbage. */
static void fixture_shift_items(fixture *f, int32_t base, uint64_t step)
{
    for (int t = 0; t < TB * TL; t++)
        f->tracks[t] = k_valid[t] ? base + k_tracks[t] : k_tracks[t];
    for (int j = 0; j < TNS; j++)
        f->neg_shared[j] = base + k_neg_shared[j];
    for (int t = 0; t < TB * TL; t++)
        for (int k = 0; k < TNB; k++)
            f->neg_bce[t * TNB + k] = base + (t * 5 + k * 3 + 1) % TI;
    f->batch.step = step;
}

/* Rows of the [rows, D] table `g` that are non-zero in g but all zero in ref. */
static int rows_nonzero_only_in(const float *g, const float *ref, int rows, int D)
{
    int n = 0;
    for (int r = 0; r < rows; r++) {
        bool in_g = false, in_ref = false;
        for (int d = 0; d < D; d++) {
            in_g = in_g || g[(size_t)r * D + d] != 0.0f;
            in_ref = in_ref || ref[(size_t)r * D + d] != 0.0f;
        }
        n += in_g && !in_ref;
    }
    return n;
}

/* The backward clears only the item-table rows the previous step touched
 * (sr_model_train.c): a step on batch A (items 0..12), a refused batch,
 * then a step on batch B (items 20..32; the authors' drawn negatives may
 * land anywhere) must leave exactly the gradient block, touched mask and
 * loss of a fresh model (same seed, so same parameters) stepping on B
 * alone. For every case but the tied full CE (which touches every row
 * both times) some row has a gradient after A and none after B, so a stale
 * row would show. Cases: each loss kind with the tied table and the skip
 * term (item-embedding context), the untied full CE with the hidden
 * context and feedback, BERT4Rec (its [MASK] row) with sampled softmax. */
static void test_step_leaves_no_stale_item_gradient_from_previous_batch(void **state)
{
    (void)state;
    enum { NCASE = 6, BASE_B = 20 };
    for (int k = 0; k < NCASE; k++) {
        sr_model_config c = tiny_config(k == 5 ? SR_MODEL_KIND_BERT4REC : SR_MODEL_KIND_SASREC);
        c.I = 40;
        c.lambda = 1.0f;
        c.context = SR_MODEL_CONTEXT_ITEM_EMBEDDING;
        bool all_rows = false;
        switch (k) {
        case 0: c.loss = SR_MODEL_LOSS_KIND_SAMPLED; break;
        case 1: c.loss = SR_MODEL_LOSS_KIND_SAMPLED_AUTHORS; break;
        case 2: c.loss = SR_MODEL_LOSS_KIND_FULL_CE; all_rows = true; break;
        case 3:
            c.loss = SR_MODEL_LOSS_KIND_FULL_CE;
            c.tied = false;
            c.feedback = true;
            c.context = SR_MODEL_CONTEXT_HIDDEN;
            break;
        case 4: c.loss = SR_MODEL_LOSS_KIND_BCE; c.negatives = TNB; break;
        default: c.loss = SR_MODEL_LOSS_KIND_SAMPLED; break;
        }
        fixture x, y;
        fixture_init(&x, &c);
        fixture_init(&y, &c);
        const size_t n = sr_model_param_count(x.m);
        const int rows = (int)sr_model_tensor_find(x.m, "item")->rows;
        float *ga = malloc(n * sizeof(float));
        assert_non_null(ga);
        sr_model_loss_parts px, py;

        fixture_shift_items(&x, 0, 2);
        fixture_step(&x, &px);
        memcpy(ga, sr_model_grads(x.m), n * sizeof(float));
        /* refused before any gradient is written */
        x.tracks[0] = c.I;
        assert_int_equal(sr_model_forward_backward(x.m, &x.batch, x.ctx, &px), SR_ERR_ARG);
        fixture_shift_items(&x, BASE_B, 3);
        fixture_step(&x, &px);

        fixture_shift_items(&y, BASE_B, 3);
        fixture_step(&y, &py);
        const float *gy = sr_model_grads(y.m);
        assert_memory_equal(&px.total, &py.total, sizeof(double));
        assert_memory_equal(sr_model_grads(x.m), gy, n * sizeof(float));
        assert_memory_equal(sr_model_item_touched(x.m), sr_model_item_touched(y.m),
                            (size_t)rows);
        int stale = rows_nonzero_only_in(ga, gy, rows, c.D);
        if (all_rows)
            assert_int_equal(stale, 0);
        else if (stale < 5)
            fail_msg("case %d: only %d rows of A's gradient are absent from B's", k, stale);
        free(ga);
        fixture_free(&x);
        fixture_free(&y);
    }
}

/* A backward that stops part-way (an error inside it) may have written a
 * row before marking it; the model then clears the whole table on the next
 * step. Simulated through the private flag (sr_model_impl.h): garbage in a
 * row that no step touches must be gone after the next step. */
static void test_step_after_interrupted_backward_clears_the_whole_item_gradient(void **state)
{
    (void)state;
    sr_model_config c = tiny_config(SR_MODEL_KIND_SASREC);
    c.I = 40;
    c.loss = SR_MODEL_LOSS_KIND_SAMPLED;
    c.lambda = 1.0f;
    fixture x, y;
    fixture_init(&x, &c);
    fixture_init(&y, &c);
    const size_t n = sr_model_param_count(x.m);
    sr_model_loss_parts px, py;
    fixture_step(&x, &px);
    const int row = 39; /* used by neither batch */
    assert_int_equal(sr_model_item_touched(x.m)[row], 0);
    float *g = sr_model_grads(x.m) + (size_t)row * (size_t)c.D;
    for (int d = 0; d < c.D; d++)
        g[d] = 1.0f + (float)d;
    x.m->item_grad_sparse = false;
    fixture_step(&x, &px);
    fixture_step(&y, &py);
    assert_memory_equal(sr_model_grads(x.m), sr_model_grads(y.m), n * sizeof(float));
    fixture_free(&x);
    fixture_free(&y);
}

int main(void)
{
    /* At these tiny shapes OpenMP fork/join costs more than the work (and
     * spins badly when ctest runs binaries side by side on 2 cores): run
     * on one thread; the thread test sets 1 and 2 explicitly. */
    omp_set_num_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_sasrec_full_ce_plain_head),
        cmocka_unit_test(test_gradcheck_sasrec_full_ce_authors_head_skip_item_context),
        cmocka_unit_test(test_gradcheck_sasrec_skip_hidden_context_feedback_untied_next_listened),
        cmocka_unit_test(test_gradcheck_sasrec_sampled_log_q_skip),
        cmocka_unit_test(test_gradcheck_sasrec_bce_plain_head),
        cmocka_unit_test(test_gradcheck_bert4rec_full_ce_authors_head_skip_item_context),
        cmocka_unit_test(test_gradcheck_bert4rec_full_ce_plain_head_feedback_untied),
        cmocka_unit_test(test_gradcheck_bert4rec_sampled_without_log_q),
        cmocka_unit_test(test_gradcheck_bert4rec_bce_skip),
        cmocka_unit_test(test_gradcheck_sasrec_with_dropout_at_fixed_step),
        cmocka_unit_test(test_gradcheck_sasrec_sampled_authors_skip),
        cmocka_unit_test(test_gradcheck_bert4rec_sampled_authors_plain_head_untied),
        cmocka_unit_test(test_sasrec_later_input_leaves_earlier_hidden_states_bit_identical),
        cmocka_unit_test(test_padded_positions_never_change_loss_gradients_or_valid_states),
        cmocka_unit_test(test_same_seed_bit_identical_and_thread_counts_agree),
        cmocka_unit_test(test_full_ce_chunked_equals_naive_loss),
        cmocka_unit_test(test_score_matches_batch_forward),
        cmocka_unit_test(test_score_uses_only_the_last_window),
        cmocka_unit_test(test_bert4rec_drawn_cloze_masks_valid_positions_at_least_one_per_sequence),
        cmocka_unit_test(test_batch_errors_name_the_bad_value),
        cmocka_unit_test(test_config_paper_preset_and_check_name_the_field),
        cmocka_unit_test(test_parameter_layout_is_one_block_with_named_views),
        cmocka_unit_test(test_set_sampler_changes_log_q_and_checks_size),
        cmocka_unit_test(test_sampled_authors_loss_equals_direct_formulation),
        cmocka_unit_test(test_sampled_authors_over_the_whole_catalogue_equals_full_ce),
        cmocka_unit_test(test_sampled_authors_candidate_count_depends_on_batch_size),
        cmocka_unit_test(test_sampled_authors_preset_and_errors),
        cmocka_unit_test(test_step_leaves_no_stale_item_gradient_from_previous_batch),
        cmocka_unit_test(test_step_after_interrupted_backward_clears_the_whole_item_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
