/* srd_scorer.c - micro-batched recommend scoring by flat combining
 * (srd_scorer.h).
 *
 * State under `mu`: a FIFO of calls that still have sessions nobody has
 * taken, the lanes in use, the counters. Each call has its own condition
 * variable: its owner is woken when its sessions are done, or to score when
 * a lane frees and its call is the oldest with a waiting owner. A call's bookkeeping (srd_call)
 * lives on its caller's stack; the caller cannot return before every one of
 * its sessions is done, so a lane scoring them never sees it disappear.
 */
#include "srd_scorer.h"

#include <omp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_bf16.h"
#include "sr_dnnl.h"
#include "sr_eval.h"
#include "sr_proto.h"

#define SRD_SCORER_MAX_LANES 64
#define SRD_SCORER_MAX_BATCH 256

typedef struct srd_call {
    srd_score_item *items;
    int n;
    int next;               /* first item nobody has taken */
    int done;               /* items finished */
    sr_err err;             /* first error of a pass that held one of ours */
    char msg[200];          /* its message (sr_errmsg is per thread) */
    struct srd_call *qnext; /* FIFO link while next < n */
    pthread_cond_t cv;      /* its owner waits here: its sessions done, or a lane free */
    bool waiting;           /* the owner is waiting on cv (not scoring) */
} srd_call;

/* One taken session: which call, which item. */
typedef struct srd_taken {
    srd_call *call;
    int index;
} srd_taken;

/* A lane's buffers, grown to the largest batch it has scored and kept.
 * `busy` is the scheduler's (under mu); the buffers are the lane holder's. */
typedef struct srd_lane {
    bool busy;
    int rows;               /* sessions the buffers hold (0 = none yet) */
    sr_dnnl_ctx *ctx;       /* the f32 product with the table */
    int32_t *tracks;        /* [rows * L] the sessions' windows back to back */
    uint8_t *skipped;       /* [rows * L] */
    int64_t *offsets;       /* [rows + 1] */
    float *q;               /* [rows, D] query vectors */
    uint32_t *qwork;        /* bf16 kernel scratch (sr_bf16_work_words) */
    float *scores;          /* [rows, I] (bf16: [sr_bf16_rows(rows), I]) */
    uint8_t *mask;          /* [threads, I] exclusions of the rows being ranked (one row per
                             * ranking thread); all 0 between rows */
    srd_taken *taken;       /* [rows] */
} srd_lane;

struct srd_scorer {
    sr_model *nn;
    sr_dnnl_ctx *fctx;      /* the forward's context (borrowed) */
    const float *table;     /* [I, D] */
    sr_bf16_table *bf16;    /* its bf16 copy, or NULL: f32 matmul */
    int32_t I;
    int D, L;
    int lanes;
    int threads;            /* OpenMP threads of a pass's product and ranking */
    int batch_max;
    pthread_mutex_t fmu;    /* the model's arena: one forward at a time */
    pthread_mutex_t mu;
    srd_call *head, *tail;  /* calls with sessions not yet taken */
    int active;             /* lanes scoring */
    srd_lane lane[SRD_SCORER_MAX_LANES];
    srd_scorer_stats stats;
};

sr_err srd_scorer_new(sr_model *nn, sr_dnnl_ctx *ctx, int lanes, int threads, int batch_max,
                      srd_scorer_precision precision, srd_scorer **out)
{
    *out = NULL;
    if (!nn || !ctx || lanes < 1 || lanes > SRD_SCORER_MAX_LANES || threads < 1 ||
        threads > SRD_SCORER_MAX_LANES || batch_max < 1 || batch_max > SRD_SCORER_MAX_BATCH)
        return sr_errorf(SR_ERR_ARG, "scorer: lanes %d, threads %d (1..%d), batch %d (1..%d)",
                         lanes, threads, SRD_SCORER_MAX_LANES, batch_max, SRD_SCORER_MAX_BATCH);
    const sr_model_config *c = sr_model_config_of(nn);
    srd_scorer *s = calloc(1, sizeof *s);
    if (!s)
        return sr_errorf(SR_ERR_NOMEM, "scorer: out of memory");
    s->nn = nn;
    s->fctx = ctx;
    s->table = sr_model_output_table(nn);
    s->I = c->I;
    s->D = c->D;
    s->L = c->L;
    s->lanes = lanes;
    s->threads = threads;
    int bm = batch_max < sr_model_batch_max(nn) ? batch_max : sr_model_batch_max(nn);
    int64_t by_bytes = (int64_t)(SRD_SCORER_LANE_BYTES / (sizeof(float) * (size_t)c->I));
    if (by_bytes < bm)
        bm = by_bytes < 1 ? 1 : (int)by_bytes;
    s->batch_max = bm;
    if (precision == SRD_SCORER_BF16) {
        sr_err e = sr_bf16_table_new(s->table, s->I, s->D, &s->bf16);
        if (e != SR_OK) {
            free(s);
            return e;
        }
    }
    pthread_mutex_init(&s->fmu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return SR_OK;
}

/* Free the buffers (not `busy`: that is the scheduler's). */
static void srd_lane_release(srd_lane *l)
{
    sr_dnnl_ctx_free(&l->ctx);
    free(l->tracks);
    free(l->skipped);
    free(l->offsets);
    free(l->q);
    free(l->qwork);
    free(l->scores);
    free(l->mask);
    free(l->taken);
    l->tracks = NULL;
    l->skipped = NULL;
    l->offsets = NULL;
    l->q = NULL;
    l->qwork = NULL;
    l->scores = NULL;
    l->mask = NULL;
    l->taken = NULL;
    l->rows = 0;
}

void srd_scorer_free(srd_scorer **sp)
{
    srd_scorer *s = sp ? *sp : NULL;
    if (!s)
        return;
    for (int i = 0; i < s->lanes; i++)
        srd_lane_release(&s->lane[i]);
    sr_bf16_table_free(&s->bf16);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->fmu);
    free(s);
    *sp = NULL;
}

/* Buffers for passes of up to B sessions (grown in powers of two up to
 * batch_max, so the memory follows the batches really scored). On failure
 * the lane keeps no buffers. */
static sr_err srd_lane_prepare(const srd_scorer *s, srd_lane *l, int B)
{
    if (l->rows >= B)
        return SR_OK;
    int rows = l->rows ? l->rows : 1;
    while (rows < B)
        rows *= 2;
    if (rows > s->batch_max)
        rows = s->batch_max;
    srd_lane_release(l);
    size_t R = (size_t)rows, W = R * (size_t)s->L;
    sr_err e = s->bf16 ? SR_OK : sr_dnnl_ctx_new(8, &l->ctx);
    if (e != SR_OK)
        return e;
    l->tracks = malloc(sizeof(int32_t) * W);
    l->skipped = malloc(W);
    l->offsets = malloc(sizeof(int64_t) * (R + 1));
    l->q = malloc(sizeof(float) * R * (size_t)s->D);
    /* the bf16 kernel pads the last tile of queries with scratch rows */
    size_t score_rows = s->bf16 ? (size_t)sr_bf16_rows(rows) : R;
    l->qwork = malloc(sizeof(uint32_t) * (s->bf16 ? sr_bf16_work_words(s->bf16, rows) : 1));
    l->scores = malloc(sizeof(float) * score_rows * (size_t)s->I);
    l->mask = calloc((size_t)s->threads * (size_t)s->I, 1);
    l->taken = malloc(sizeof(srd_taken) * R);
    if (!l->tracks || !l->skipped || !l->offsets || !l->q || !l->qwork || !l->scores ||
        !l->mask || !l->taken) {
        srd_lane_release(l);
        return sr_errorf(SR_ERR_NOMEM, "scorer: out of memory for a lane of %zu x %d scores", R,
                         (int)s->I);
    }
    l->rows = rows;
    return SR_OK;
}

/* ---- one pass: the kernel work, outside `mu` ------------------------------- */

/* Score the lane's taken sessions [0, B). */
static sr_err srd_scorer_pass(srd_scorer *s, srd_lane *l, int B)
{
    /* Each session's last L plays (the model windows them the same way). */
    int64_t off = 0;
    l->offsets[0] = 0;
    for (int b = 0; b < B; b++) {
        const srd_score_item *it = &l->taken[b].call->items[l->taken[b].index];
        int from = it->n > s->L ? it->n - s->L : 0;
        for (int t = from; t < it->n; t++) {
            l->tracks[off] = it->tracks[t];
            l->skipped[off] = it->skipped ? (uint8_t)(it->skipped[t] != 0) : 0;
            off++;
        }
        l->offsets[b + 1] = off;
    }
    pthread_mutex_lock(&s->fmu);
    sr_err e = sr_model_queries(s->nn, s->fctx, l->tracks, l->skipped, l->offsets, B, l->q);
    pthread_mutex_unlock(&s->fmu);
    if (e != SR_OK)
        return e;
    /* scores[B, I] = q[B, D] table[I, D]^T: one read of the table for B sessions */
    if (s->bf16) {
        omp_set_num_threads(s->threads);
        sr_bf16_scores(s->bf16, l->q, B, l->scores, s->I, l->qwork);
        omp_set_num_threads(1);
    } else {
        omp_set_num_threads(s->threads);
        e = sr_matmul_nt(l->ctx, l->q, s->D, s->table, s->D, l->scores, s->I, B, s->I, s->D,
                         false);
        omp_set_num_threads(1);
        if (e != SR_OK)
            return e;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->threads) if (B > 1)
    for (int b = 0; b < B; b++) {
        srd_score_item *it = &l->taken[b].call->items[l->taken[b].index];
        uint8_t *mask = l->mask + (size_t)omp_get_thread_num() * (size_t)s->I;
        for (int j = 0; j < it->n_exclude; j++)
            mask[it->exclude[j]] = 1;
        it->n_items = sr_topk(l->scores + (size_t)b * (size_t)s->I, s->I, mask, it->k,
                              it->items, it->scores);
        for (int j = 0; j < it->n_exclude; j++)
            mask[it->exclude[j]] = 0;
    }
    return SR_OK;
}

/* ---- scheduling -------------------------------------------------------------- */

static bool srd_item_ok(const srd_scorer *s, const srd_score_item *it)
{
    if (it->n < 1 || !it->tracks || it->k < 1 || it->k > (int)SR_PROTO_MAX_K || !it->items ||
        !it->scores || it->n_exclude < 0 || (it->n_exclude > 0 && !it->exclude))
        return false;
    for (int t = 0; t < it->n; t++)
        if (it->tracks[t] < 0 || it->tracks[t] >= s->I)
            return false;
    for (int j = 0; j < it->n_exclude; j++)
        if (it->exclude[j] < 0 || it->exclude[j] >= s->I)
            return false;
    return true;
}

/* Take up to B sessions from the head of the FIFO into l->taken (under mu). */
static int srd_scorer_take(srd_scorer *s, srd_lane *l, int B)
{
    int n = 0;
    while (n < B && s->head) {
        srd_call *c = s->head;
        while (n < B && c->next < c->n)
            l->taken[n++] = (srd_taken){ c, c->next++ };
        if (c->next == c->n) {
            s->head = c->qnext;
            if (!s->head)
                s->tail = NULL;
        }
    }
    return n;
}

/* A lane is free: wake the owner of the oldest queued call that waits, to
 * score (under mu). Owners that are scoring take more when their pass ends.
 * Waking one thread, not all: on a few cores a herd of woken workers costs
 * more than the pass. */
static void srd_scorer_wake_combiner(srd_scorer *s)
{
    if (s->active >= s->lanes)
        return;
    for (srd_call *c = s->head; c; c = c->qnext) {
        if (c->waiting) {
            pthread_cond_signal(&c->cv);
            return;
        }
    }
}

sr_err srd_scorer_run(srd_scorer *s, srd_score_item *items, int n, int batch)
{
    if (n < 0 || (n > 0 && !items) || batch < 1)
        return sr_errorf(SR_ERR_ARG, "scorer: %d sessions, batch %d", n, batch);
    for (int i = 0; i < n; i++)
        if (!srd_item_ok(s, &items[i]))
            return sr_errorf(SR_ERR_ARG, "scorer: session %d: empty, k outside 1..%u, or a "
                             "track outside [0, %d)", i, SR_PROTO_MAX_K, (int)s->I);
    if (n == 0)
        return SR_OK;
    int B = batch < s->batch_max ? batch : s->batch_max;
    srd_call me = { items, n, 0, 0, SR_OK, "", NULL, PTHREAD_COND_INITIALIZER, false };
    /* The forward on one OpenMP thread (this thread's setting only; the
     * product and the ranking of a pass use s->threads). */
    int omp_prev = omp_get_max_threads();
    omp_set_num_threads(1);

    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->qnext = &me;
    else
        s->head = &me;
    s->tail = &me;
    while (me.done < me.n) {
        if (s->active >= s->lanes || !s->head) {
            me.waiting = true;
            pthread_cond_wait(&me.cv, &s->mu);
            me.waiting = false;
            continue;
        }
        srd_lane *l = NULL;
        for (int i = 0; i < s->lanes && !l; i++)
            if (!s->lane[i].busy)
                l = &s->lane[i];
        l->busy = true;
        s->active++;
        pthread_mutex_unlock(&s->mu);

        sr_err e = srd_lane_prepare(s, l, B);
        int taken = 0;
        pthread_mutex_lock(&s->mu);
        if (e == SR_OK)
            taken = srd_scorer_take(s, l, B);
        pthread_mutex_unlock(&s->mu);
        if (e == SR_OK && taken > 0)
            e = srd_scorer_pass(s, l, taken);

        pthread_mutex_lock(&s->mu);
        if (e != SR_OK && taken == 0 && me.next < me.n) {
            /* the lane could not be set up: fail our own untaken sessions
             * rather than wait for a lane that may never come */
            me.err = e;
            snprintf(me.msg, sizeof me.msg, "%s", sr_errmsg());
            me.done += me.n - me.next;
            me.next = me.n;
            for (srd_call **pp = &s->head; *pp; pp = &(*pp)->qnext) {
                if (*pp == &me) {
                    *pp = me.qnext;
                    break;
                }
            }
            s->tail = NULL;
            for (srd_call *c = s->head; c; c = c->qnext)
                s->tail = c;
        }
        for (int i = 0; i < taken; i++) {
            srd_call *c = l->taken[i].call;
            c->done++;
            if (e != SR_OK && c->err == SR_OK) {
                c->err = e;
                snprintf(c->msg, sizeof c->msg, "%s", sr_errmsg());
            }
            if (c->done == c->n && c->waiting)
                pthread_cond_signal(&c->cv);
        }
        if (taken > 0 && e == SR_OK) {
            s->stats.sessions += (uint64_t)taken;
            s->stats.passes++;
            if ((uint64_t)taken > s->stats.max_batch)
                s->stats.max_batch = (uint64_t)taken;
        }
        l->busy = false;
        s->active--;
        srd_scorer_wake_combiner(s);
        /* a lane that could not be set up, with none of our sessions left
         * to fail: wait for the lanes scoring them instead of retrying */
        if (e != SR_OK && taken == 0 && me.done < me.n) {
            me.waiting = true;
            pthread_cond_wait(&me.cv, &s->mu);
            me.waiting = false;
        }
    }
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&me.cv);
    omp_set_num_threads(omp_prev);
    if (me.err != SR_OK)
        return sr_errorf(me.err, "scorer: %s", me.msg);
    return SR_OK;
}

void srd_scorer_get_stats(srd_scorer *s, srd_scorer_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}
