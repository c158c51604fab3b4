/* sr_eval.c - the evaluator (sr_eval.h): next-track queries from a session
 * store, scored chunk by chunk against the whole catalogue, ranked
 * pessimistically and reduced to HR / NDCG / MRR, coverage and popularity.
 *
 * Dimension legend: Q queries in one batch, C items in one chunk, I
 * catalogue size, D model width, k top-k length, X excluded items of one
 * query, N sampled negatives, M candidates of the sampled protocol.
 *
 * Why two passes. Counting the items that beat a target needs the target's
 * score before the first chunk is visited, and that score must come from
 * the same scorer call as the scores it is compared with: a matrix product
 * of another shape may round differently, and then an item that ties the
 * target in one call shape could beat or lose to it in another, breaking
 * the pessimistic tie rule (sr_metrics.h). So pass 1 scores the chunks that
 * hold the batch's targets (with the (c0, C) chunking of pass 2) and keeps
 * each target's score; pass 2 scores every chunk with that same chunking,
 * counts against each target (sr_rank_count_against), takes away the
 * excluded items that counted, and keeps each query's top-k. Since
 * score_chunk is deterministic for a given (c0, C) (sr_eval.h), the
 * target's score in pass 2 is bit-identical to pass 1's; this is checked,
 * and a scorer that breaks it fails the run rather than giving ranks that
 * are off by a tie.
 *
 * Cost: (1 + distinct target chunks / chunks) scorer work, O(Q C) floats of
 * scores, O(Q k) of top-k lists, an I-bit coverage bitmap, and the input
 * plays of one batch.
 */
#include "sr_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_batch.h"
#include "sr_play.h"
#include "sr_rng.h"
#include "sr_sampler.h"

/* ---- names and defaults ----------------------------------------------------- */

static const char *const sr_eval_protocol_names[] = {
    [SR_EVAL_PROTOCOL_FULL] = "full",
    [SR_EVAL_PROTOCOL_SAMPLED] = "sampled",
};

static const char *const sr_eval_exclude_names[] = {
    [SR_EVAL_EXCLUDE_NONE] = "none",
    [SR_EVAL_EXCLUDE_PLAYED] = "played",
    [SR_EVAL_EXCLUDE_SKIPPED] = "skipped",
};

sr_err sr_eval_protocol_parse(sr_str s, sr_eval_protocol *out)
{
    int i;
    sr_err err = sr_name_parse(s, sr_eval_protocol_names, SR_COUNTOF(sr_eval_protocol_names),
                               "evaluation protocol", &i);
    if (err == SR_OK)
        *out = (sr_eval_protocol)i;
    return err;
}

const char *sr_eval_protocol_name(sr_eval_protocol p)
{
    return sr_name_at(sr_eval_protocol_names, SR_COUNTOF(sr_eval_protocol_names), (unsigned)p);
}

sr_err sr_eval_exclude_parse(sr_str s, sr_eval_exclude *out)
{
    int i;
    sr_err err = sr_name_parse(s, sr_eval_exclude_names, SR_COUNTOF(sr_eval_exclude_names),
                               "exclusion policy", &i);
    if (err == SR_OK)
        *out = (sr_eval_exclude)i;
    return err;
}

const char *sr_eval_exclude_name(sr_eval_exclude e)
{
    return sr_name_at(sr_eval_exclude_names, SR_COUNTOF(sr_eval_exclude_names), (unsigned)e);
}

sr_eval_config sr_eval_config_default(void)
{
    sr_eval_config c = {
        .split = SR_SPLIT_TEST,
        .protocol = SR_EVAL_PROTOCOL_FULL,
        .exclude = SR_EVAL_EXCLUDE_NONE,
        .batch = 256,
        .chunk = 8192,
        .max_queries = 0,
        .seed = 1,
        .sampled_negatives = 1000,
        .top_k = 10,
    };
    return c;
}

/* splitmix64's finaliser: a bijective mix, so distinct (seed, batch) pairs
 * give unrelated seeds (seeding with seed + batch would give overlapping
 * splitmix streams). */
static uint64_t sr_eval_mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

uint64_t sr_eval_sampled_seed(uint64_t seed, uint64_t batch)
{
    return sr_eval_mix64(seed ^ sr_eval_mix64(batch));
}

/* ---- top-k ------------------------------------------------------------------ */

/* Does score a rank above score b? NaN ranks below every number; two NaNs
 * and -0.0 / +0.0 tie. */
static inline bool sr_topk_better(float a, float b)
{
    return !isnan(a) && (isnan(b) || a > b);
}

/* Offer `item` scored s to a list of n <= k entries sorted best first
 *   items: [k]  scores: [k]
 * Items must be offered in ascending index order: an item that only ties
 * the k-th entry then never displaces it, and a tie is placed after the
 * entries it ties, which is "ties by ascending index". Returns the new n. */
static int sr_topk_offer(int32_t *items, float *scores, int n, int k, int32_t item, float s)
{
    if (n == k) {
        if (!sr_topk_better(s, scores[k - 1]))
            return n;
        n--;
    }
    int p = n;
    while (p > 0 && sr_topk_better(s, scores[p - 1])) {
        items[p] = items[p - 1];
        scores[p] = scores[p - 1];
        p--;
    }
    items[p] = item;
    scores[p] = s;
    return n + 1;
}

int sr_topk(const float *scores, int32_t n, const uint8_t *exclude, int k, int32_t *items,
            float *out_scores)
{
    if (!scores || !items || n < 1 || k < 1)
        return 0;
    /* The list's scores are read back through scores[items[p]], so no
     * scratch is needed when out_scores is NULL. */
    int m = 0;
    float worst = 0.0f; /* scores[items[k - 1]] once the list is full */
    for (int32_t i = 0; i < n; i++) {
        /* Most items lose to a full list's worst: skip 16 at a time while
         * none beats it (a loop the compiler vectorises; NaN never beats a
         * number, and a tie does not displace the earlier item). */
        if (m == k && !isnan(worst) && (i & 15) == 0) {
            while (i + 16 <= n) {
                int any = 0;
                for (int j = 0; j < 16; j++)
                    any |= scores[i + j] > worst;
                if (any)
                    break;
                i += 16;
            }
            if (i >= n)
                break;
        }
        const float s = scores[i];
        if (m == k && !sr_topk_better(s, worst))
            continue;
        if (exclude && exclude[i])
            continue;
        if (m == k)
            m--;
        int p = m;
        while (p > 0 && sr_topk_better(s, scores[items[p - 1]])) {
            items[p] = items[p - 1];
            p--;
        }
        items[p] = i;
        m++;
        if (m == k)
            worst = scores[items[k - 1]];
    }
    if (out_scores)
        for (int p = 0; p < m; p++)
            out_scores[p] = scores[items[p]];
    return m;
}

/* ---- the model scorer ------------------------------------------------------- */

struct sr_model_scorer {
    sr_scorer base;
    sr_model *m;
    sr_dnnl_ctx *ctx;
    const float *table; /* [I, D] sr_model_output_table */
    int D;
    int Q;              /* queries prepared, 0 before the first prepare */
    float *q;           /* [max_queries, D] query vectors */
};

static sr_err sr_model_scorer_prepare(void *self, const sr_eval_queries *qs)
{
    sr_model_scorer *s = self;
    s->Q = 0;
    if (!qs || qs->Q < 1 || qs->Q > s->base.max_queries)
        return sr_errorf(SR_ERR_ARG, "model scorer: batch of %d queries outside [1, %d]",
                         qs ? qs->Q : 0, s->base.max_queries);
    sr_err e = sr_model_queries(s->m, s->ctx, qs->tracks, qs->skipped, qs->offsets, qs->Q, s->q);
    if (e != SR_OK)
        return e;
    s->Q = qs->Q;
    return SR_OK;
}

/* scores[Q, C] = q[Q, D] table[c0 : c0 + C, D]^T: one product per chunk,
 * so equal (c0, C) give equal primitives and bit-identical scores. */
static sr_err sr_model_scorer_score_chunk(void *self, int32_t c0, int32_t C, float *scores)
{
    sr_model_scorer *s = self;
    if (s->Q < 1)
        return sr_errorf(SR_ERR_ARG, "model scorer: score_chunk before prepare");
    if (c0 < 0 || C < 1 || (int64_t)c0 + C > s->base.n_items)
        return sr_errorf(SR_ERR_ARG, "model scorer: chunk [%d, %lld) outside [0, %d)", (int)c0,
                         (long long)c0 + C, (int)s->base.n_items);
    return sr_matmul_nt(s->ctx, s->q, s->D, s->table + (size_t)c0 * (size_t)s->D, s->D, scores,
                        C, s->Q, C, s->D, false);
}

sr_err sr_model_scorer_new(sr_model *m, sr_dnnl_ctx *ctx, int max_queries,
                           sr_model_scorer **out)
{
    *out = NULL;
    if (!m || !ctx)
        return sr_errorf(SR_ERR_ARG, "model scorer: NULL %s", m ? "oneDNN context" : "model");
    if (max_queries < 1 || max_queries > sr_model_batch_max(m))
        return sr_errorf(SR_ERR_ARG, "model scorer: max_queries = %d, must be 1..%d (the "
                         "model's batch size)", max_queries, sr_model_batch_max(m));
    const sr_model_config *c = sr_model_config_of(m);
    sr_model_scorer *s = calloc(1, sizeof *s);
    if (!s)
        return sr_errorf(SR_ERR_NOMEM, "model scorer: out of memory");
    s->q = malloc(sizeof(float) * (size_t)max_queries * (size_t)c->D);
    if (!s->q) {
        free(s);
        return sr_errorf(SR_ERR_NOMEM, "model scorer: out of memory for %d x %d queries",
                         max_queries, c->D);
    }
    s->m = m;
    s->ctx = ctx;
    s->table = sr_model_output_table(m);
    s->D = c->D;
    s->base.self = s;
    s->base.n_items = c->I;
    s->base.max_queries = max_queries;
    s->base.prepare = sr_model_scorer_prepare;
    s->base.score_chunk = sr_model_scorer_score_chunk;
    *out = s;
    return SR_OK;
}

const sr_scorer *sr_model_scorer_get(sr_model_scorer *s)
{
    return s ? &s->base : NULL;
}

void sr_model_scorer_free(sr_model_scorer **s)
{
    if (!s || !*s)
        return;
    free((*s)->q);
    free(*s);
    *s = NULL;
}

/* ---- queries ---------------------------------------------------------------- */

/* Where one query of session s lies in the play arrays: input plays
 * [first, first + n_in), target at play `target`. False when the session
 * gives no query for `split` (sr_eval.h, "Queries"). Decided by the
 * session's own mark, so a leave-last and a temporal store need no separate
 * code: SR_SPLIT_ALL sessions are leave-last ones, sessions marked `split`
 * temporal ones. */
static bool sr_eval_query_of(const sr_store *st, uint64_t s, int split, uint64_t *first,
                             uint64_t *n_in, uint64_t *target)
{
    const uint64_t off = st->session_offsets[s];
    const uint64_t n = st->session_offsets[s + 1] - off;
    const uint8_t mark = st->session_split[s];
    uint64_t tpos;
    if (mark == SR_SPLIT_ALL) {
        if (n < 3)
            return false;
        tpos = split == SR_SPLIT_VALID ? n - 2 : n - 1;
    } else if (mark == (uint8_t)split) {
        if (n < 2)
            return false;
        tpos = n - 1;
    } else {
        return false;
    }
    *first = off;
    *n_in = tpos;
    *target = off + tpos;
    return true;
}

/* The sequence of query sessions: every session in store order, or (a
 * subsample) sessions in the order of sr_batch_permute(., n_sessions, seed),
 * passing over those that give no query, until `total` were produced. */
typedef struct sr_eval_iter {
    const sr_store *st;
    int split;
    bool permuted;
    uint64_t seed;
    uint64_t pos;     /* next position in the session order */
    uint64_t emitted; /* queries produced */
    uint64_t total;
} sr_eval_iter;

static bool sr_eval_iter_next(sr_eval_iter *it, uint64_t *first, uint64_t *n_in,
                              uint64_t *target)
{
    const uint64_t ns = it->st->n_sessions;
    while (it->emitted < it->total && it->pos < ns) {
        uint64_t s = it->permuted ? sr_batch_permute(it->pos, ns, it->seed) : it->pos;
        it->pos++;
        if (sr_eval_query_of(it->st, s, it->split, first, n_in, target)) {
            it->emitted++;
            return true;
        }
    }
    return false;
}

/* ---- per-run state ---------------------------------------------------------- */

typedef struct sr_eval_state {
    const sr_store *st;
    const sr_scorer *sc;
    const sr_eval_config *c;
    int32_t I;
    int k;
    int32_t Cmax;         /* min(chunk, I) */

    /* the batch being built */
    int Q;
    size_t cap;           /* capacity of the play-sized arrays */
    int32_t *tracks;      /* [cap] input plays of the batch, CSR by offsets */
    uint8_t *skipped;     /* [cap] */
    int64_t *offsets;     /* [batch + 1] */
    int32_t *excl;        /* [cap] excluded items, CSR by excl_off, ascending, distinct;
                           * may hold the target, which is then still ranked but kept
                           * out of the top-k (the list a user would see cannot depend
                           * on the held-out target) */
    int64_t *excl_off;    /* [batch + 1] */
    int32_t *target;      /* [batch] dense target, -1 when unseen */
    bool *target_skipped; /* [batch] */

    /* ranking */
    float *scores;        /* [batch, Cmax] one chunk's scores */
    float *tscore;        /* [batch] target scores from pass 1 */
    int64_t *count;       /* [batch] items counted against the target */
    int64_t *xpos;        /* [batch] next excluded item to visit in pass 2 */
    uint8_t *mismatch;    /* [batch] pass 2 saw another target score than pass 1 */
    int32_t *topk_items;  /* [batch, k] */
    float *topk_scores;   /* [batch, k] */
    int *topk_n;          /* [batch] */
    int64_t *chunk_ids;   /* [batch] pass 1: chunks holding targets */

    /* sampled protocol */
    int32_t *cand;        /* [batch + N] candidates */
    int32_t *tmp;         /* [batch] distinct targets */
    float *cand_scores;   /* [batch, batch + N] */
    uint64_t n_batches;

    /* results */
    sr_metrics metrics;
    uint8_t *covered;     /* [(I + 7) / 8] bitmap of items in some top-k list */
    uint64_t pop_sum;     /* training plays summed over all top-k entries */
    uint64_t n_entries;   /* top-k entries */
    uint64_t n_scored;    /* queries passed to the scorer */
} sr_eval_state;

static void sr_eval_state_free(sr_eval_state *s)
{
    free(s->tracks);
    free(s->skipped);
    free(s->offsets);
    free(s->excl);
    free(s->excl_off);
    free(s->target);
    free(s->target_skipped);
    free(s->scores);
    free(s->tscore);
    free(s->count);
    free(s->xpos);
    free(s->mismatch);
    free(s->topk_items);
    free(s->topk_scores);
    free(s->topk_n);
    free(s->chunk_ids);
    free(s->cand);
    free(s->tmp);
    free(s->cand_scores);
    free(s->covered);
}

/* Grow the play-sized arrays to hold `need` plays (doubling). */
static sr_err sr_eval_reserve(sr_eval_state *s, size_t need)
{
    if (need <= s->cap)
        return SR_OK;
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < need)
        cap *= 2;
    int32_t *t = realloc(s->tracks, cap * sizeof *t);
    if (t)
        s->tracks = t;
    uint8_t *k = realloc(s->skipped, cap * sizeof *k);
    if (k)
        s->skipped = k;
    int32_t *x = realloc(s->excl, cap * sizeof *x);
    if (x)
        s->excl = x;
    if (!t || !k || !x)
        return sr_errorf(SR_ERR_NOMEM, "evaluate: out of memory for %zu input plays", cap);
    s->cap = cap;
    return SR_OK;
}

static int sr_eval_cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int sr_eval_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Append one query to the batch; *added is false (nothing appended) when
 * no input play is known. */
static sr_err sr_eval_add_query(sr_eval_state *s, uint64_t first, uint64_t n_in,
                                uint64_t tplay, bool *added)
{
    const sr_store *st = s->st;
    *added = false;
    const int q = s->Q;
    const int64_t at = s->offsets[q];
    if (n_in > SIZE_MAX / 2 - (size_t)at)
        return sr_errorf(SR_ERR_LIMIT, "evaluate: session input of %llu plays",
                         (unsigned long long)n_in);
    sr_err e = sr_eval_reserve(s, (size_t)at + (size_t)n_in);
    if (e != SR_OK)
        return e;
    int64_t n = 0;
    for (uint64_t p = first; p < first + n_in; p++) {
        const int32_t t = st->play_track[p];
        if (t < 0 || t >= s->I)
            continue; /* SR_TRACK_UNSEEN: the model has no embedding for it */
        s->tracks[at + n] = t;
        s->skipped[at + n] = (st->play_feedback[p] & SR_FB_SKIPPED) ? 1 : 0;
        n++;
    }
    if (n == 0)
        return SR_OK;
    int32_t tt = st->play_track[tplay];
    if (tt < 0 || tt >= s->I)
        tt = -1;
    s->target[q] = tt;
    s->target_skipped[q] = (st->play_feedback[tplay] & SR_FB_SKIPPED) != 0;
    s->offsets[q + 1] = at + n;

    /* excluded items: ascending and distinct */
    const int64_t x0 = s->excl_off[q];
    int64_t nx = 0;
    if (s->c->exclude != SR_EVAL_EXCLUDE_NONE) {
        for (int64_t i = 0; i < n; i++) {
            if (s->c->exclude == SR_EVAL_EXCLUDE_SKIPPED && !s->skipped[at + i])
                continue;
            s->excl[x0 + nx++] = s->tracks[at + i];
        }
        qsort(s->excl + x0, (size_t)nx, sizeof(int32_t), sr_eval_cmp_i32);
        int64_t d = 0;
        for (int64_t i = 0; i < nx; i++)
            if (d == 0 || s->excl[x0 + i] != s->excl[x0 + d - 1])
                s->excl[x0 + d++] = s->excl[x0 + i];
        nx = d;
    }
    s->excl_off[q + 1] = x0 + nx;
    s->Q = q + 1;
    *added = true;
    return SR_OK;
}

/* Pass 2 work of query q on one chunk:
 *   row: [Cc] the query's scores of items [c0, c0 + Cc) */
static void sr_eval_rank_row(sr_eval_state *s, int q, const float *row, int32_t c0, int32_t Cc)
{
    const int32_t t = s->target[q];
    const float ts = s->tscore[q];
    const int64_t c_end = (int64_t)c0 + Cc;
    if (t >= 0) {
        s->count[q] += sr_rank_count_against(row, Cc, ts);
        if (t >= c0 && t < c_end && memcmp(&row[t - c0], &ts, sizeof ts) != 0)
            s->mismatch[q] = 1;
    }
    /* excluded items of this chunk: [xb, xe) of the query's ascending list */
    const int64_t xb = s->xpos[q], xend = s->excl_off[q + 1];
    int64_t xe = xb;
    while (xe < xend && s->excl[xe] < c_end)
        xe++;
    if (t >= 0)
        for (int64_t x = xb; x < xe; x++)
            if (s->excl[x] != t && !(row[s->excl[x] - c0] < ts))
                s->count[q]--;
    s->xpos[q] = xe;

    int32_t *items = s->topk_items + (size_t)q * (size_t)s->k;
    float *tsc = s->topk_scores + (size_t)q * (size_t)s->k;
    int n = s->topk_n[q];
    const int k = s->k;
    int64_t xi = xb;
    for (int32_t c = 0; c < Cc; c++) {
        const float v = row[c];
        if (n == k && !sr_topk_better(v, tsc[k - 1]))
            continue;
        const int32_t item = c0 + c;
        while (xi < xe && s->excl[xi] < item)
            xi++;
        if (xi < xe && s->excl[xi] == item)
            continue;
        n = sr_topk_offer(items, tsc, n, k, item, v);
    }
    s->topk_n[q] = n;
}

static sr_err sr_eval_prepare(sr_eval_state *s)
{
    sr_eval_queries qs = {
        .Q = s->Q, .tracks = s->tracks, .skipped = s->skipped, .offsets = s->offsets,
    };
    return s->sc->prepare(s->sc->self, &qs);
}

/* The full protocol on the prepared batch. */
static sr_err sr_eval_batch_full(sr_eval_state *s)
{
    const int Q = s->Q;
    const int32_t I = s->I, C = s->Cmax;
    const sr_scorer *sc = s->sc;
    sr_err e = sr_eval_prepare(s);
    if (e != SR_OK)
        return e;

    /* pass 1: the chunks that hold a target, with pass 2's chunking */
    int nc = 0;
    for (int q = 0; q < Q; q++)
        if (s->target[q] >= 0)
            s->chunk_ids[nc++] = s->target[q] / C;
    qsort(s->chunk_ids, (size_t)nc, sizeof *s->chunk_ids, sr_eval_cmp_i64);
    for (int i = 0; i < nc; i++) {
        if (i > 0 && s->chunk_ids[i] == s->chunk_ids[i - 1])
            continue;
        const int32_t c0 = (int32_t)(s->chunk_ids[i] * C);
        const int32_t Cc = SR_MIN(C, I - c0);
        e = sc->score_chunk(sc->self, c0, Cc, s->scores);
        if (e != SR_OK)
            return e;
        for (int q = 0; q < Q; q++) {
            const int32_t t = s->target[q];
            if (t >= c0 && t < c0 + Cc)
                s->tscore[q] = s->scores[(size_t)q * Cc + (size_t)(t - c0)];
        }
    }

    for (int q = 0; q < Q; q++) {
        s->count[q] = 0;
        s->xpos[q] = s->excl_off[q];
        s->mismatch[q] = 0;
        s->topk_n[q] = 0;
    }
    /* pass 2: every chunk; queries are independent, so splitting them over
     * threads gives the same result for any thread count */
    for (int32_t c0 = 0; c0 < I; c0 += C) {
        const int32_t Cc = SR_MIN(C, I - c0);
        e = sc->score_chunk(sc->self, c0, Cc, s->scores);
        if (e != SR_OK)
            return e;
#pragma omp parallel for schedule(static) if (Q > 1)
        for (int q = 0; q < Q; q++)
            sr_eval_rank_row(s, q, s->scores + (size_t)q * Cc, c0, Cc);
    }

    /* reduce in query order: deterministic sums */
    for (int q = 0; q < Q; q++) {
        if (s->mismatch[q])
            return sr_errorf(SR_ERR_INTERNAL,
                             "evaluate: the scorer gave target %d two different scores for the "
                             "same chunk (score_chunk must be deterministic)",
                             (int)s->target[q]);
        int32_t rank = SR_METRICS_RANK_UNSEEN;
        if (s->target[q] >= 0) {
            SR_ASSERT(s->count[q] >= 1 && s->count[q] <= I);
            rank = (int32_t)s->count[q];
        }
        e = sr_metrics_add(&s->metrics, rank, s->target_skipped[q]);
        if (e != SR_OK)
            return e;
        const int32_t *items = s->topk_items + (size_t)q * (size_t)s->k;
        for (int j = 0; j < s->topk_n[q]; j++) {
            const int32_t it = items[j];
            s->covered[it >> 3] |= (uint8_t)(1u << (it & 7));
            s->pop_sum += s->st->track_plays[it];
        }
        s->n_entries += (uint64_t)s->topk_n[q];
    }
    return SR_OK;
}

/* The authors' sampled protocol on the batch (SPEC.md section 6 item 5):
 * candidates = the batch's distinct known targets + N uniform negatives
 * drawn without replacement from the other items (fewer when fewer are
 * left); each target ranked pessimistically among the candidates. The
 * candidate scores come from the chunks of the full protocol's chunking
 * that hold a candidate, so they equal the full protocol's scores. */
static sr_err sr_eval_batch_sampled(sr_eval_state *s)
{
    const int Q = s->Q;
    const int32_t I = s->I, C = s->Cmax;
    const sr_scorer *sc = s->sc;
    sr_err e = sr_eval_prepare(s);
    if (e != SR_OK)
        return e;

    int d = 0;
    for (int q = 0; q < Q; q++)
        if (s->target[q] >= 0)
            s->tmp[d++] = s->target[q];
    qsort(s->tmp, (size_t)d, sizeof *s->tmp, sr_eval_cmp_i32);
    int nd = 0;
    for (int i = 0; i < d; i++)
        if (nd == 0 || s->tmp[i] != s->tmp[nd - 1])
            s->tmp[nd++] = s->tmp[i];
    const int n_neg = (int)SR_MIN((int64_t)s->c->sampled_negatives, (int64_t)I - nd);
    sr_rng rng;
    sr_rng_seed(&rng, sr_eval_sampled_seed(s->c->seed, s->n_batches));
    int n_distinct = 0, M = 0;
    e = sr_sampler_candidates_authors(s->target, Q, I, n_neg, &rng, s->cand,
                                      s->c->batch + s->c->sampled_negatives, &n_distinct, &M);
    if (e != SR_OK)
        return e;
    /* any order ranks the same; ascending visits each chunk once */
    qsort(s->cand, (size_t)M, sizeof *s->cand, sr_eval_cmp_i32);

    for (int j = 0; j < M;) {
        const int32_t c0 = s->cand[j] / C * C;
        const int32_t Cc = SR_MIN(C, I - c0);
        e = sc->score_chunk(sc->self, c0, Cc, s->scores);
        if (e != SR_OK)
            return e;
        for (; j < M && s->cand[j] < c0 + Cc; j++)
            for (int q = 0; q < Q; q++)
                s->cand_scores[(size_t)q * (size_t)M + (size_t)j] =
                    s->scores[(size_t)q * Cc + (size_t)(s->cand[j] - c0)];
    }
    for (int q = 0; q < Q; q++) {
        int32_t rank = SR_METRICS_RANK_UNSEEN;
        if (s->target[q] >= 0) {
            const int32_t *hit = bsearch(&s->target[q], s->cand, (size_t)M, sizeof *s->cand,
                                         sr_eval_cmp_i32);
            SR_ASSERT(hit);
            const float *row = s->cand_scores + (size_t)q * (size_t)M;
            rank = sr_rank_count_against(row, M, row[hit - s->cand]);
        }
        e = sr_metrics_add(&s->metrics, rank, s->target_skipped[q]);
        if (e != SR_OK)
            return e;
    }
    return SR_OK;
}

static sr_err sr_eval_check(const sr_store *st, const sr_scorer *sc, const sr_eval_config *c)
{
    if (!st || !sc || !c || !sc->prepare || !sc->score_chunk)
        return sr_errorf(SR_ERR_ARG, "evaluate: NULL store, scorer or config");
    if (c->split != SR_SPLIT_VALID && c->split != SR_SPLIT_TEST)
        return sr_errorf(SR_ERR_ARG, "evaluate: split %d is neither validation (%d) nor test (%d)",
                         c->split, SR_SPLIT_VALID, SR_SPLIT_TEST);
    if ((unsigned)c->protocol >= SR_COUNTOF(sr_eval_protocol_names))
        return sr_errorf(SR_ERR_ARG, "evaluate: protocol %d unknown", (int)c->protocol);
    if ((unsigned)c->exclude >= SR_COUNTOF(sr_eval_exclude_names))
        return sr_errorf(SR_ERR_ARG, "evaluate: exclusion policy %d unknown", (int)c->exclude);
    if (c->protocol == SR_EVAL_PROTOCOL_SAMPLED && c->exclude != SR_EVAL_EXCLUDE_NONE)
        return sr_errorf(SR_ERR_ARG,
                         "evaluate: exclusion \"%s\" is not available with the sampled protocol",
                         sr_eval_exclude_name(c->exclude));
    if (c->batch < 1 || c->batch > sc->max_queries)
        return sr_errorf(SR_ERR_ARG, "evaluate: batch = %d outside [1, %d] (the scorer's maximum)",
                         c->batch, sc->max_queries);
    if (c->chunk < 1)
        return sr_errorf(SR_ERR_ARG, "evaluate: chunk = %d, must be >= 1", c->chunk);
    if (c->sampled_negatives < 0 || c->sampled_negatives > INT32_MAX - c->batch)
        return sr_errorf(SR_ERR_ARG, "evaluate: sampled_negatives = %d outside [0, %d]",
                         c->sampled_negatives, INT32_MAX - c->batch);
    if (c->top_k < 1 || c->top_k > 65536)
        return sr_errorf(SR_ERR_ARG, "evaluate: top_k = %d outside [1, 65536]", c->top_k);
    if (sc->n_items != (int64_t)st->n_tracks)
        return sr_errorf(SR_ERR_ARG, "evaluate: the scorer has %d items, the store %u tracks",
                         (int)sc->n_items, (unsigned)st->n_tracks);
    return SR_OK;
}

static double sr_eval_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define SR_EVAL_ALLOC(ptr, n)                                                               \
    do {                                                                                    \
        const size_t n_ = (size_t)(n);                                                      \
        (ptr) = calloc(n_ > 0 ? n_ : 1, sizeof *(ptr));                                     \
        if (!(ptr)) {                                                                       \
            e = sr_errorf(SR_ERR_NOMEM, "evaluate: out of memory (%s, %zu elements)", #ptr, \
                          n_);                                                              \
            goto done;                                                                      \
        }                                                                                   \
    } while (0)

sr_err sr_eval_run(const sr_store *st, const sr_scorer *sc, const sr_eval_config *c,
                   sr_progress_fn progress, void *ud, sr_eval_result *out)
{
    const double t_start = sr_eval_now();
    sr_eval_state s = { 0 };
    sr_err e = sr_eval_check(st, sc, c);
    if (e != SR_OK)
        return e;
    memset(out, 0, sizeof *out);

    /* count the queries first: the subsample size and the progress total */
    uint64_t n_all = 0;
    uint64_t first, n_in, tplay;
    for (uint64_t i = 0; i < st->n_sessions; i++)
        n_all += sr_eval_query_of(st, i, c->split, &first, &n_in, &tplay);
    if (n_all == 0)
        return sr_errorf(SR_ERR_EMPTY, "evaluate: the store has no %s query",
                         c->split == SR_SPLIT_VALID ? "validation" : "test");
    if (st->n_tracks == 0 || st->n_tracks > INT32_MAX)
        return sr_errorf(SR_ERR_ARG, "evaluate: a catalogue of %u tracks cannot be ranked",
                         (unsigned)st->n_tracks);
    /* A subsample at least as large as the split is the whole split, in
     * store order, so "all queries" gives one answer either way. */
    const bool sub = c->max_queries > 0 && c->max_queries < n_all;
    sr_eval_iter it = {
        .st = st, .split = c->split, .permuted = sub, .seed = c->seed,
        .total = sub ? c->max_queries : n_all,
    };

    s.st = st;
    s.sc = sc;
    s.c = c;
    s.I = (int32_t)st->n_tracks;
    s.k = c->top_k;
    s.Cmax = SR_MIN(c->chunk, s.I);
    const int B = c->batch;
    const bool sampled = c->protocol == SR_EVAL_PROTOCOL_SAMPLED;
    SR_EVAL_ALLOC(s.offsets, B + 1);
    SR_EVAL_ALLOC(s.excl_off, B + 1);
    SR_EVAL_ALLOC(s.target, B);
    SR_EVAL_ALLOC(s.target_skipped, B);
    SR_EVAL_ALLOC(s.scores, (size_t)B * (size_t)s.Cmax);
    if (sampled) {
        const size_t M = (size_t)B + (size_t)c->sampled_negatives;
        SR_EVAL_ALLOC(s.cand, M);
        SR_EVAL_ALLOC(s.tmp, B);
        SR_EVAL_ALLOC(s.cand_scores, (size_t)B * M);
    } else {
        SR_EVAL_ALLOC(s.tscore, B);
        SR_EVAL_ALLOC(s.count, B);
        SR_EVAL_ALLOC(s.xpos, B);
        SR_EVAL_ALLOC(s.mismatch, B);
        SR_EVAL_ALLOC(s.topk_items, (size_t)B * (size_t)s.k);
        SR_EVAL_ALLOC(s.topk_scores, (size_t)B * (size_t)s.k);
        SR_EVAL_ALLOC(s.topk_n, B);
        SR_EVAL_ALLOC(s.chunk_ids, B);
        SR_EVAL_ALLOC(s.covered, ((size_t)s.I + 7) / 8);
    }
    e = sr_eval_reserve(&s, 1024);
    if (e != SR_OK)
        goto done;

    uint64_t n_no_input = 0;
    while (it.emitted < it.total) {
        s.Q = 0;
        s.offsets[0] = 0;
        s.excl_off[0] = 0;
        while (s.Q < B && sr_eval_iter_next(&it, &first, &n_in, &tplay)) {
            bool added;
            e = sr_eval_add_query(&s, first, n_in, tplay, &added);
            if (e != SR_OK)
                goto done;
            n_no_input += !added;
        }
        if (s.Q > 0) {
            e = sampled ? sr_eval_batch_sampled(&s) : sr_eval_batch_full(&s);
            if (e != SR_OK)
                goto done;
            s.n_scored += (uint64_t)s.Q;
            s.n_batches++;
        }
        if (progress && !progress(ud, "evaluate", it.emitted, it.total)) {
            e = sr_errorf(SR_ERR_CANCELLED, "evaluation cancelled after %llu of %llu queries",
                          (unsigned long long)it.emitted, (unsigned long long)it.total);
            goto done;
        }
        if (it.pos >= st->n_sessions)
            break;
    }

    sr_metrics_finish(&s.metrics, &out->metrics);
    out->protocol = c->protocol;
    out->exclude = c->exclude;
    out->split = c->split;
    out->top_k = c->top_k;
    out->n_no_input = n_no_input;
    out->coverage = NAN;
    out->mean_pop = NAN;
    if (!sampled && s.n_scored > 0) {
        uint64_t distinct = 0;
        for (size_t i = 0; i < ((size_t)s.I + 7) / 8; i++)
            distinct += (uint64_t)__builtin_popcount(s.covered[i]);
        out->coverage = (double)distinct / (double)s.I;
        out->mean_pop = s.n_entries > 0 ? (double)s.pop_sum / (double)s.n_entries : NAN;
    }
    out->seconds = sr_eval_now() - t_start;
done:
    sr_eval_state_free(&s);
    return e;
}

/* ---- flat keys ---------------------------------------------------------------- */

typedef struct sr_eval_visit_ctx {
    sr_metrics_visit_fn fn;
    void *ctx;
} sr_eval_visit_ctx;

/* Under the sampled protocol every metric key gets "sampled_" so it can
 * never be read as a full-ranking number. */
static void sr_eval_visit_sampled(void *ctx, const char *key, double value, bool is_count)
{
    const sr_eval_visit_ctx *v = ctx;
    char buf[96];
    snprintf(buf, sizeof buf, "sampled_%s", key);
    v->fn(v->ctx, buf, value, is_count);
}

void sr_eval_visit(const sr_eval_result *r, sr_metrics_visit_fn fn, void *ctx)
{
    SR_ASSERT(r && fn);
    if (r->protocol == SR_EVAL_PROTOCOL_SAMPLED) {
        sr_eval_visit_ctx v = { fn, ctx };
        sr_metrics_visit(&r->metrics, sr_eval_visit_sampled, &v);
    } else {
        sr_metrics_visit(&r->metrics, fn, ctx);
    }
    char key[64];
    snprintf(key, sizeof key, "coverage@%d", r->top_k);
    fn(ctx, key, r->coverage, false);
    snprintf(key, sizeof key, "mean_pop@%d", r->top_k);
    fn(ctx, key, r->mean_pop, false);
    fn(ctx, "n_no_input", (double)r->n_no_input, true);
    fn(ctx, "seconds", r->seconds, false);
}
