/* test_eval.c - the evaluator (sr_eval.h): query enumeration, exact
 * pessimistic ranks from chunked scoring, exclusion policies, top-k,
 * coverage and popularity, the sampled protocol, the model scorer, and
 * determinism across thread counts.
 *
 * Most checks compare sr_eval_run with a naive evaluator written here from
 * the header's words alone: it enumerates the queries itself, scores the
 * whole catalogue at once ([I] per query), ranks with sr_target_rank /
 * sr_target_rank_excluding (tested in test_metrics.c) and sorts for top-k.
 * The scorer is a table: a query's scores are row key(query) of a [K, I]
 * table of quantised values (many ties, a few NaN), where the key hashes
 * every input track and skip flag in order, so a wrong input, a dropped
 * unseen play kept, or a wrong skip flag changes the scores. */
#include "sr_test.h"
#include "sr_test_store.h"

#include <omp.h>

#include "sr_batch.h"
#include "sr_eval.h"
#include "sr_model.h"
#include "sr_rng.h"
#include "sr_sampler.h"
#include "sr_store.h"

/* ---- stores ------------------------------------------------------------------ */

/* A random store: leave-last (every session SR_SPLIT_ALL, all tracks known)
 * or temporal (random marks, some unseen plays in validation/test
 * sessions, one session whose input is all unseen, one unseen target). */
static void random_store(sr_test_store *ts, sr_split_kind kind, int32_t I, uint64_t seed)
{
    memset(ts, 0, sizeof *ts);
    sr_rng r;
    sr_rng_seed(&r, seed);
    ts->kind = kind;
    ts->n = 40;
    ts->I = I;
    for (int s = 0; s < ts->n; s++) {
        ts->len[s] = 1 + (uint32_t)sr_rng_below(&r, 8);
        ts->split[s] = kind == SR_SPLIT_KIND_LEAVE_LAST ? SR_SPLIT_ALL
                                                        : (uint8_t)sr_rng_below(&r, 3);
    }
    if (kind == SR_SPLIT_KIND_TEMPORAL)
        for (int s = 0; s < 4; s++) {
            ts->split[s] = s < 2 ? SR_SPLIT_TEST : SR_SPLIT_VALID;
            ts->len[s] = 3;
        }
    int at = 0;
    for (int s = 0; s < ts->n; s++) {
        for (uint32_t p = 0; p < ts->len[s]; p++) {
            int32_t t = (int32_t)sr_rng_below(&r, (uint64_t)I);
            if (kind == SR_SPLIT_KIND_TEMPORAL && ts->split[s] != SR_SPLIT_TRAIN &&
                sr_rng_below(&r, 6) == 0)
                t = SR_TRACK_UNSEEN;
            ts->track[at] = t;
            ts->fb[at] = sr_rng_below(&r, 2) ? (SR_FB_SKIPPED | SR_FB_SKIP_2) : SR_FB_NOT_SKIPPED;
            at++;
        }
    }
    if (kind == SR_SPLIT_KIND_TEMPORAL) {
        /* session 0 (test) and 2 (validation): input all unseen;
         * sessions 1 (test) and 3 (validation): target unseen */
        const int32_t fixed[12] = { -1, -1, 2, 1, 4, -1, -1, -1, 0, 3, 3, -1 };
        memcpy(ts->track, fixed, sizeof fixed);
    }
    for (int i = 0; i < I; i++)
        ts->plays[i] = (uint32_t)sr_rng_below(&r, 100);
}

/* ---- the table scorer ----------------------------------------------------------- */

enum { KEY_HASH = 0, KEY_LAST };

typedef struct table_scorer {
    sr_scorer base;
    const float *T;     /* [K, I] */
    int K;
    int key_mode;
    bool drift;         /* break determinism: every call adds a little */
    int calls;
    int Q;
    int rows[256];
} table_scorer;

static int key_of(int mode, int K, const int32_t *tr, const uint8_t *sk, int64_t n)
{
    if (mode == KEY_LAST)
        return tr[n - 1] % K;
    uint64_t h = (uint64_t)n;
    for (int64_t i = 0; i < n; i++)
        h = h * 31u + (uint64_t)tr[i] * 2u + sk[i];
    return (int)(h % (uint64_t)K);
}

static sr_err table_prepare(void *self, const sr_eval_queries *q)
{
    table_scorer *s = self;
    assert_true(q->Q >= 1 && q->Q <= s->base.max_queries);
    for (int i = 0; i < q->Q; i++) {
        int64_t n = q->offsets[i + 1] - q->offsets[i];
        assert_true(n >= 1);
        for (int64_t p = q->offsets[i]; p < q->offsets[i + 1]; p++)
            assert_true(q->tracks[p] >= 0 && q->tracks[p] < s->base.n_items);
        s->rows[i] = key_of(s->key_mode, s->K, q->tracks + q->offsets[i],
                            q->skipped + q->offsets[i], n);
    }
    s->Q = q->Q;
    return SR_OK;
}

static sr_err table_score_chunk(void *self, int32_t c0, int32_t C, float *scores)
{
    table_scorer *s = self;
    assert_true(c0 >= 0 && C >= 1 && c0 + C <= s->base.n_items);
    s->calls++;
    for (int q = 0; q < s->Q; q++)
        for (int32_t c = 0; c < C; c++)
            scores[(size_t)q * C + c] = s->T[(size_t)s->rows[q] * s->base.n_items + c0 + c] +
                                        (s->drift ? 1e-3f * (float)s->calls : 0.0f);
    return SR_OK;
}

static void table_init(table_scorer *s, const float *T, int K, int32_t I, int max_queries,
                       int key_mode)
{
    memset(s, 0, sizeof *s);
    s->T = T;
    s->K = K;
    s->key_mode = key_mode;
    s->base.self = s;
    s->base.n_items = I;
    s->base.max_queries = max_queries;
    s->base.prepare = table_prepare;
    s->base.score_chunk = table_score_chunk;
}

/* [K, I] scores in {0, 0.25, ..., 1} with about 3% NaN: many ties. */
static float *random_table(int K, int32_t I, uint64_t seed, bool with_nan)
{
    float *T = malloc(sizeof(float) * (size_t)K * (size_t)I);
    assert_non_null(T);
    sr_rng r;
    sr_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)K * (size_t)I; i++) {
        T[i] = 0.25f * (float)sr_rng_below(&r, 5);
        if (with_nan && sr_rng_below(&r, 32) == 0)
            T[i] = NAN;
    }
    return T;
}

/* ---- the naive evaluator ---------------------------------------------------------- */

typedef struct naive_result {
    sr_metrics m;
    uint64_t n_no_input;
    double coverage, mean_pop;
} naive_result;

static const float *naive_scores;

/* NaN last, then score descending, then index ascending */
static int naive_cmp(const void *a, const void *b)
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float x = naive_scores[i], y = naive_scores[j];
    bool xn = isnan(x), yn = isnan(y);
    if (xn != yn)
        return xn ? 1 : -1;
    if (!xn && x != y)
        return x > y ? -1 : 1;
    return (i > j) - (i < j);
}

/* The k best non-excluded items by sorting every candidate. */
static int naive_topk(const float *scores, int32_t I, const uint8_t *excl, int k, int32_t *out)
{
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)I);
    assert_non_null(idx);
    int n = 0;
    for (int32_t i = 0; i < I; i++)
        if (!excl || !excl[i])
            idx[n++] = i;
    naive_scores = scores;
    qsort(idx, (size_t)n, sizeof *idx, naive_cmp);
    int m = n < k ? n : k;
    memcpy(out, idx, sizeof(int32_t) * (size_t)m);
    free(idx);
    return m;
}

static bool naive_is_query(const sr_store *st, uint64_t s, int split)
{
    uint64_t n = st->session_offsets[s + 1] - st->session_offsets[s];
    uint8_t mark = st->session_split[s];
    return (mark == SR_SPLIT_ALL && n >= 3) || (mark == split && n >= 2);
}

static void naive_eval(const sr_store *st, const float *T, int K, int key_mode,
                       const sr_eval_config *c, naive_result *out)
{
    memset(out, 0, sizeof *out);
    const int32_t I = (int32_t)st->n_tracks;
    uint64_t n_all = 0;
    for (uint64_t s = 0; s < st->n_sessions; s++)
        n_all += naive_is_query(st, s, c->split);
    /* the query sessions, in evaluation order */
    uint64_t order[64];
    int nq = 0;
    if (c->max_queries == 0 || c->max_queries >= n_all) {
        for (uint64_t s = 0; s < st->n_sessions; s++)
            if (naive_is_query(st, s, c->split))
                order[nq++] = s;
    } else {
        for (uint64_t p = 0; p < st->n_sessions && (uint64_t)nq < c->max_queries; p++) {
            uint64_t s = sr_batch_permute(p, st->n_sessions, c->seed);
            if (naive_is_query(st, s, c->split))
                order[nq++] = s;
        }
    }
    uint8_t *covered = calloc((size_t)I, 1);
    uint8_t *mask = calloc((size_t)I, 1);
    int32_t *top = malloc(sizeof(int32_t) * (size_t)(c->top_k + I));
    assert_true(covered && mask && top);
    uint64_t pop = 0, entries = 0, scored = 0;
    /* the sampled protocol's batch */
    int32_t bt[256];
    bool blab[256];
    const float *brow[256];
    int bq = 0;
    uint64_t bidx = 0;
    for (int i = 0; i <= nq; i++) {
        bool flush = c->protocol == SR_EVAL_PROTOCOL_SAMPLED && bq > 0 &&
                     (i == nq || bq == c->batch);
        if (flush) {
            /* candidates as the header describes them */
            int32_t tmp[256];
            int d = 0;
            for (int q = 0; q < bq; q++)
                if (bt[q] >= 0) {
                    bool seen = false;
                    for (int x = 0; x < d; x++)
                        seen |= tmp[x] == bt[q];
                    if (!seen)
                        tmp[d++] = bt[q];
                }
            int n_neg = c->sampled_negatives < I - d ? c->sampled_negatives : I - d;
            sr_rng r;
            sr_rng_seed(&r, sr_eval_sampled_seed(c->seed, bidx));
            int32_t cand[512];
            int nd, M;
            assert_int_equal(sr_sampler_candidates_authors(bt, bq, I, n_neg, &r, cand, 512, &nd,
                                                           &M),
                             SR_OK);
            assert_int_equal(nd, d);
            for (int q = 0; q < bq; q++) {
                int32_t rank = SR_METRICS_RANK_UNSEEN;
                if (bt[q] >= 0) {
                    rank = 0;
                    float t = brow[q][bt[q]];
                    for (int j = 0; j < M; j++)
                        rank += !(brow[q][cand[j]] < t);
                }
                assert_int_equal(sr_metrics_add(&out->m, rank, blab[q]), SR_OK);
            }
            bq = 0;
            bidx++;
        }
        if (i == nq)
            break;
        const uint64_t s = order[i];
        const uint64_t off = st->session_offsets[s], n = st->session_offsets[s + 1] - off;
        const uint64_t tpos = st->session_split[s] == SR_SPLIT_ALL && c->split == SR_SPLIT_VALID
                                  ? n - 2
                                  : n - 1;
        int32_t in[64];
        uint8_t sk[64];
        int nin = 0;
        for (uint64_t p = 0; p < tpos; p++) {
            int32_t t = st->play_track[off + p];
            if (t == SR_TRACK_UNSEEN)
                continue;
            in[nin] = t;
            sk[nin] = (st->play_feedback[off + p] & SR_FB_SKIPPED) ? 1 : 0;
            nin++;
        }
        if (nin == 0) {
            out->n_no_input++;
            continue;
        }
        scored++;
        const int32_t target = st->play_track[off + tpos];
        const bool label = (st->play_feedback[off + tpos] & SR_FB_SKIPPED) != 0;
        const float *row = T + (size_t)key_of(key_mode, K, in, sk, nin) * (size_t)I;
        if (c->protocol == SR_EVAL_PROTOCOL_SAMPLED) {
            bt[bq] = target;
            blab[bq] = label;
            brow[bq] = row;
            bq++;
            continue;
        }
        int32_t excl[64];
        int nx = 0;
        memset(mask, 0, (size_t)I);
        for (int p = 0; p < nin; p++) {
            if (c->exclude == SR_EVAL_EXCLUDE_PLAYED ||
                (c->exclude == SR_EVAL_EXCLUDE_SKIPPED && sk[p])) {
                excl[nx++] = in[p];
                mask[in[p]] = 1;
            }
        }
        int32_t rank = target == SR_TRACK_UNSEEN
                           ? SR_METRICS_RANK_UNSEEN
                           : sr_target_rank_excluding(row, I, target, excl, nx);
        assert_int_not_equal(rank, 0);
        assert_int_equal(sr_metrics_add(&out->m, rank, label), SR_OK);
        int m = naive_topk(row, I, mask, c->top_k, top);
        for (int j = 0; j < m; j++) {
            covered[top[j]] = 1;
            pop += st->track_plays[top[j]];
        }
        entries += (uint64_t)m;
    }
    uint64_t distinct = 0;
    for (int32_t i = 0; i < I; i++)
        distinct += covered[i];
    out->coverage = NAN;
    out->mean_pop = NAN;
    if (c->protocol == SR_EVAL_PROTOCOL_FULL && scored > 0) {
        out->coverage = (double)distinct / (double)I;
        out->mean_pop = entries ? (double)pop / (double)entries : NAN;
    }
    free(covered);
    free(mask);
    free(top);
}

static bool same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* Every metric of r equals the naive one: counts and hits exactly, and the
 * double sums too (the same ranks added in the same order). */
static void assert_matches_naive(const sr_eval_result *r, const naive_result *nv,
                                 const char *what)
{
    sr_metrics_result m;
    sr_metrics_finish(&nv->m, &m);
    for (int g = 0; g < SR_METRICS_GROUP_COUNT; g++) {
        const sr_metrics_group_result *a = &r->metrics.group[g], *b = &m.group[g];
        if (a->n_queries != b->n_queries || a->n_unseen != b->n_unseen)
            fail_msg("%s: group %d: %lld/%lld queries, %lld/%lld unseen", what, g,
                     (long long)a->n_queries, (long long)b->n_queries, (long long)a->n_unseen,
                     (long long)b->n_unseen);
        for (int k = 0; k < SR_METRICS_N_K; k++)
            if (!same_double(a->hr[k], b->hr[k]) || !same_double(a->ndcg[k], b->ndcg[k]) ||
                !same_double(a->mrr[k], b->mrr[k]))
                fail_msg("%s: group %d K %d: hr %g/%g ndcg %g/%g mrr %g/%g", what, g,
                         (int)sr_metrics_ks[k], a->hr[k], b->hr[k], a->ndcg[k], b->ndcg[k],
                         a->mrr[k], b->mrr[k]);
    }
    if (r->n_no_input != nv->n_no_input)
        fail_msg("%s: n_no_input %llu vs %llu", what, (unsigned long long)r->n_no_input,
                 (unsigned long long)nv->n_no_input);
    if (!same_double(r->coverage, nv->coverage) || !same_double(r->mean_pop, nv->mean_pop))
        fail_msg("%s: coverage %g/%g mean_pop %g/%g", what, r->coverage, nv->coverage,
                 r->mean_pop, nv->mean_pop);
}

static sr_eval_config config(int split, sr_eval_exclude ex, int batch, int chunk, int top_k)
{
    sr_eval_config c = sr_eval_config_default();
    c.split = split;
    c.exclude = ex;
    c.batch = batch;
    c.chunk = chunk;
    c.top_k = top_k;
    return c;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_names_parse_and_print(void **state)
{
    (void)state;
    sr_eval_protocol p;
    sr_eval_exclude e;
    assert_int_equal(sr_eval_protocol_parse(sr_str_c("sampled"), &p), SR_OK);
    assert_int_equal(p, SR_EVAL_PROTOCOL_SAMPLED);
    assert_int_equal(sr_eval_protocol_parse(sr_str_c("full"), &p), SR_OK);
    assert_int_equal(p, SR_EVAL_PROTOCOL_FULL);
    assert_int_equal(sr_eval_protocol_parse(sr_str_c("ful"), &p), SR_ERR_ARG);
    assert_int_equal(sr_eval_exclude_parse(sr_str_c("skipped"), &e), SR_OK);
    assert_int_equal(e, SR_EVAL_EXCLUDE_SKIPPED);
    assert_int_equal(sr_eval_exclude_parse(sr_str_c("played"), &e), SR_OK);
    assert_int_equal(e, SR_EVAL_EXCLUDE_PLAYED);
    assert_int_equal(sr_eval_exclude_parse(sr_str_c("all"), &e), SR_ERR_ARG);
    assert_string_equal(sr_eval_protocol_name(SR_EVAL_PROTOCOL_FULL), "full");
    assert_string_equal(sr_eval_exclude_name(SR_EVAL_EXCLUDE_NONE), "none");
    sr_eval_config c = sr_eval_config_default();
    assert_int_equal(c.split, SR_SPLIT_TEST);
    assert_int_equal(c.batch, 256);
    assert_int_equal(c.chunk, 8192);
    assert_int_equal(c.sampled_negatives, 1000);
    assert_int_equal(c.top_k, 10);
    assert_true(c.max_queries == 0 && c.seed == 1);
}

/* sr_topk against sorting: ties by ascending index, NaN last, exclusions,
 * k larger than the candidates, out_scores optional. */
static void test_topk_matches_sorting_with_ties_nan_and_exclusions(void **state)
{
    (void)state;
    float constant[5] = { 2, 2, 2, 2, 2 };
    int32_t items[64];
    float sc[64];
    assert_int_equal(sr_topk(constant, 5, NULL, 3, items, sc), 3);
    assert_int_equal(items[0], 0);
    assert_int_equal(items[1], 1);
    assert_int_equal(items[2], 2);
    /* hand case: 3 and 1 tie at 0.9, NaN at 0 goes last, 4 excluded */
    float h[6] = { NAN, 0.9f, 0.1f, 0.9f, 5.0f, -1.0f };
    uint8_t ex[6] = { 0, 0, 0, 0, 1, 0 };
    assert_int_equal(sr_topk(h, 6, ex, 10, items, sc), 5);
    const int32_t want[5] = { 1, 3, 2, 5, 0 };
    for (int i = 0; i < 5; i++)
        assert_int_equal(items[i], want[i]);
    assert_true(sc[0] == 0.9f && sc[3] == -1.0f && isnan(sc[4]));
    assert_int_equal(sr_topk(h, 6, NULL, 1, items, NULL), 1);
    assert_int_equal(items[0], 4);
    assert_int_equal(sr_topk(h, 6, NULL, 0, items, NULL), 0);
    assert_int_equal(sr_topk(h, 0, NULL, 3, items, NULL), 0);

    sr_rng r;
    sr_rng_seed(&r, 42);
    /* long lists too: sr_topk skips blocks of 16 that cannot enter the list */
    for (int trial = 0; trial < 400; trial++) {
        int32_t n = 1 + (int32_t)sr_rng_below(&r, trial < 200 ? 40 : 300);
        int k = 1 + (int)sr_rng_below(&r, 45);
        float s[300];
        uint8_t e[300];
        int levels = trial < 200 ? 4 : 1 + (int)sr_rng_below(&r, 1000);
        for (int i = 0; i < n; i++) {
            s[i] = (float)sr_rng_below(&r, (uint64_t)levels);
            if (sr_rng_below(&r, trial % 3 ? 10 : 100) == 0)
                s[i] = NAN;
            e[i] = sr_rng_below(&r, 4) == 0;
        }
        int32_t want_items[300];
        int m = naive_topk(s, n, trial % 2 ? e : NULL, k, want_items);
        assert_int_equal(sr_topk(s, n, trial % 2 ? e : NULL, k, items, sc), m);
        for (int i = 0; i < m; i++) {
            assert_int_equal(items[i], want_items[i]);
            assert_memory_equal(&sc[i], &s[items[i]], sizeof(float));
        }
    }
}

/* The hand case (scores by the last input track, I = 6):
 *   s0 ALL [0 1 2 3], target x4 = 3 skipped; s1 ALL [4 5 2 1], x1 = 4 skipped,
 *   target 1 listened; s2 TRAIN [0 1] (no query).
 *   row(last = 2) = .1 .5 .9 .7 .5 .2   row(1) = all .3   row(5) = 0 0 1 0 0 0
 * Test split (input [0 1 2] and [4 5 2], both last = 2):
 *   s0: target 3 (.7): counted 2 (.9) and itself -> rank 2
 *   s1: target 1 (.5): 1, 2, 3, 4 score >= .5  -> rank 4
 *   exclude played:  s0 drops 2 -> rank 1; s1 drops 4 and 2 -> rank 2
 *   exclude skipped: s0 nothing -> 2; s1 drops 4 -> 3
 * Validation (input [0 1] last 1, [4 5] last 5):
 *   s0: target 2 on the constant row -> rank 6; s1: target 2 = 1.0 alone -> rank 1
 * Top-2 (plays 10 20 .. 60): test, none: both lists [2 3] -> coverage 2/6,
 *   mean_pop (30 + 40) / 2 = 35; played: s0 [3 4] (1 ties 4 but is played),
 *   s1 [3 1] -> coverage 3/6, mean_pop (40 + 50 + 40 + 20) / 4 = 37.5. */
static void test_hand_computed_ranks_metrics_and_topk(void **state)
{
    (void)state;
    sr_test_store ts = { .kind = SR_SPLIT_KIND_LEAVE_LAST, .n = 3, .I = 6 };
    const uint8_t split[3] = { SR_SPLIT_ALL, SR_SPLIT_ALL, SR_SPLIT_TRAIN };
    const uint32_t len[3] = { 4, 4, 2 };
    const int32_t tr[10] = { 0, 1, 2, 3, 4, 5, 2, 1, 0, 1 };
    const uint8_t fb[10] = { 0, 0, 0, SR_FB_SKIPPED, SR_FB_SKIPPED, 0, 0, 0, 0, 0 };
    memcpy(ts.split, split, sizeof split);
    memcpy(ts.len, len, sizeof len);
    memcpy(ts.track, tr, sizeof tr);
    memcpy(ts.fb, fb, sizeof fb);
    for (int i = 0; i < 6; i++)
        ts.plays[i] = 10u * (uint32_t)(i + 1);
    sr_store *st = sr_test_store_open(&ts, "hand.srs");
    float T[6 * 6] = { 0 };
    const float r1[6] = { .3f, .3f, .3f, .3f, .3f, .3f };
    const float r2[6] = { .1f, .5f, .9f, .7f, .5f, .2f };
    const float r5[6] = { 0, 0, 1, 0, 0, 0 };
    memcpy(T + 6, r1, sizeof r1);
    memcpy(T + 12, r2, sizeof r2);
    memcpy(T + 30, r5, sizeof r5);
    table_scorer sc;
    table_init(&sc, T, 6, 6, 8, KEY_LAST);

    const int chunks[4] = { 1, 4, 6, 100 };
    for (int ci = 0; ci < 4; ci++) {
        sr_eval_result r;
        sr_eval_config c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_NONE, 2, chunks[ci], 2);
        assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_OK);
        const sr_metrics_group_result *a = &r.metrics.group[SR_METRICS_GROUP_ALL];
        assert_int_equal(a->n_queries, 2);
        SR_ASSERT_NEAR(a->hr[0], 0.0, 0);
        SR_ASSERT_NEAR(a->hr[1], 1.0, 0);
        SR_ASSERT_NEAR(a->ndcg[1], (1 / log2(3.0) + 1 / log2(5.0)) / 2, 1e-15);
        SR_ASSERT_NEAR(a->mrr[1], (0.5 + 0.25) / 2, 1e-15);
        SR_ASSERT_NEAR(r.metrics.group[SR_METRICS_GROUP_SKIPPED].mrr[2], 0.5, 1e-15);
        SR_ASSERT_NEAR(r.metrics.group[SR_METRICS_GROUP_LISTENED].mrr[2], 0.25, 1e-15);
        SR_ASSERT_NEAR(r.coverage, 2.0 / 6.0, 1e-15);
        SR_ASSERT_NEAR(r.mean_pop, 35.0, 1e-12);
        assert_int_equal(r.n_no_input, 0);

        c.exclude = SR_EVAL_EXCLUDE_PLAYED;
        assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_OK);
        SR_ASSERT_NEAR(r.metrics.group[0].hr[0], 0.5, 0);
        SR_ASSERT_NEAR(r.metrics.group[0].mrr[1], (1.0 + 0.5) / 2, 1e-15);
        SR_ASSERT_NEAR(r.coverage, 0.5, 1e-15);
        SR_ASSERT_NEAR(r.mean_pop, 37.5, 1e-12);

        c.exclude = SR_EVAL_EXCLUDE_SKIPPED;
        assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_OK);
        SR_ASSERT_NEAR(r.metrics.group[0].mrr[1], (1.0 / 2 + 1.0 / 3) / 2, 1e-15);

        c = config(SR_SPLIT_VALID, SR_EVAL_EXCLUDE_NONE, 1, chunks[ci], 2);
        assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_OK);
        assert_int_equal(r.metrics.group[0].n_queries, 2);
        SR_ASSERT_NEAR(r.metrics.group[0].hr[0], 0.5, 0);
        SR_ASSERT_NEAR(r.metrics.group[0].mrr[2], (1.0 + 1.0 / 6) / 2, 1e-15);
        SR_ASSERT_NEAR(r.metrics.group[0].ndcg[2], (1.0 + 1 / log2(7.0)) / 2, 1e-15);
    }
    sr_store_close(&st);
}

/* The evaluator equals the naive one for every chunk size (1, 3, 7, I,
 * > I), batch size, exclusion policy, split, store kind and top-k, on
 * quantised scores with NaNs, unseen inputs and targets. */
static void test_full_protocol_matches_naive_everywhere(void **state)
{
    (void)state;
    const int32_t I = 23;
    const int K = 17;
    float *T = random_table(K, I, 5, true);
    for (int kind = 0; kind < 2; kind++) {
        sr_test_store ts;
        random_store(&ts, (sr_split_kind)kind, I, 100 + (uint64_t)kind);
        sr_store *st = sr_test_store_open(&ts, kind ? "temporal.srs" : "leavelast.srs");
        table_scorer sc;
        table_init(&sc, T, K, I, 64, KEY_HASH);
        const int chunks[5] = { 1, 3, 7, I, I + 9 };
        const int batches[3] = { 1, 4, 64 };
        const int topks[3] = { 1, 3, I + 2 };
        int runs = 0;
        for (int split = SR_SPLIT_VALID; split <= SR_SPLIT_TEST; split++)
            for (int ex = 0; ex < 3; ex++)
                for (int ci = 0; ci < 5; ci++)
                    for (int bi = 0; bi < 3; bi++) {
                        sr_eval_config c = config(split, (sr_eval_exclude)ex, batches[bi],
                                                  chunks[ci], topks[(ci + bi) % 3]);
                        sr_eval_result r;
                        naive_result nv;
                        char what[128];
                        snprintf(what, sizeof what, "kind %d split %d exclude %d chunk %d batch %d",
                                 kind, split, ex, chunks[ci], batches[bi]);
                        if (sr_eval_run(st, &sc.base, &c, NULL, NULL, &r) != SR_OK)
                            fail_msg("%s: %s", what, sr_errmsg());
                        naive_eval(st, T, K, KEY_HASH, &c, &nv);
                        assert_matches_naive(&r, &nv, what);
                        assert_true(r.metrics.group[0].n_queries > 5);
                        runs++;
                    }
        assert_int_equal(runs, 90);
        /* the case mix the store was built to have */
        sr_eval_config c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_NONE, 4, 5, 3);
        sr_eval_result r;
        assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_OK);
        if (kind == SR_SPLIT_KIND_TEMPORAL) {
            assert_true(r.n_no_input >= 1);
            assert_true(r.metrics.group[0].n_unseen >= 1);
        }
        assert_true(r.metrics.group[SR_METRICS_GROUP_SKIPPED].n_queries > 0);
        assert_true(r.metrics.group[SR_METRICS_GROUP_LISTENED].n_queries > 0);
        sr_store_close(&st);
    }
    free(T);
}

/* max_queries: the first max_queries query sessions of the permutation,
 * equal to the naive subsample; >= the split's count means all of them. */
static void test_subsample_follows_the_permutation(void **state)
{
    (void)state;
    const int32_t I = 19;
    float *T = random_table(7, I, 9, false);
    sr_test_store ts;
    random_store(&ts, SR_SPLIT_KIND_LEAVE_LAST, I, 77);
    sr_store *st = sr_test_store_open(&ts, "sub.srs");
    table_scorer sc;
    table_init(&sc, T, 7, I, 16, KEY_HASH);
    sr_eval_config c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_NONE, 3, 4, 5);
    sr_eval_result all, r;
    naive_result nv;
    assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &all), SR_OK);
    const uint64_t n_all = (uint64_t)all.metrics.group[0].n_queries;
    const uint64_t maxes[4] = { 1, 7, n_all - 1, n_all + 5 };
    for (int i = 0; i < 4; i++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            c.max_queries = maxes[i];
            c.seed = seed;
            assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_OK);
            naive_eval(st, T, 7, KEY_HASH, &c, &nv);
            assert_matches_naive(&r, &nv, "subsample");
            assert_int_equal(r.metrics.group[0].n_queries,
                             maxes[i] < n_all ? maxes[i] : n_all);
        }
    }
    /* all queries via a large max_queries: the same numbers as max_queries 0 */
    assert_memory_equal(&r.metrics, &all.metrics, sizeof r.metrics);
    sr_store_close(&st);
    free(T);
}

/* The sampled protocol equals a naive re-implementation (batch targets +
 * negatives from the documented seed), for several N (0, small, > I) and
 * batch sizes; its coverage and popularity are NaN. */
static void test_sampled_protocol_matches_naive(void **state)
{
    (void)state;
    const int32_t I = 29;
    const int K = 11;
    float *T = random_table(K, I, 13, true);
    for (int kind = 0; kind < 2; kind++) {
        sr_test_store ts;
        random_store(&ts, (sr_split_kind)kind, I, 300 + (uint64_t)kind);
        sr_store *st = sr_test_store_open(&ts, "sampled.srs");
        table_scorer sc;
        table_init(&sc, T, K, I, 64, KEY_HASH);
        const int negs[4] = { 0, 5, 20, 1000 };
        const int batches[3] = { 1, 3, 64 };
        for (int ni = 0; ni < 4; ni++)
            for (int bi = 0; bi < 3; bi++) {
                sr_eval_config c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_NONE, batches[bi],
                                          1 + ni * 3, 10);
                c.protocol = SR_EVAL_PROTOCOL_SAMPLED;
                c.sampled_negatives = negs[ni];
                c.seed = 5 + (uint64_t)ni;
                sr_eval_result r;
                naive_result nv;
                assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_OK);
                naive_eval(st, T, K, KEY_HASH, &c, &nv);
                assert_matches_naive(&r, &nv, "sampled");
                assert_true(isnan(r.coverage) && isnan(r.mean_pop));
                assert_int_equal(r.protocol, SR_EVAL_PROTOCOL_SAMPLED);
            }
        sr_store_close(&st);
        assert_int_equal(sr_test_remove_tree(sr_test_path("sampled.srs")), 0);
    }
    free(T);
}

/* A constant scorer ranks every target last (rank I), never first. I = 13
 * <= 20, so HR@20 counts every seen target and NDCG@20 is 1 / log2(14). */
static void test_constant_scorer_ranks_last(void **state)
{
    (void)state;
    const int32_t I = 13;
    float *T = malloc(sizeof(float) * (size_t)I);
    for (int i = 0; i < I; i++)
        T[i] = 0.5f;
    sr_test_store ts;
    random_store(&ts, SR_SPLIT_KIND_TEMPORAL, I, 55);
    sr_store *st = sr_test_store_open(&ts, "const.srs");
    table_scorer sc;
    table_init(&sc, T, 1, I, 8, KEY_HASH);
    sr_eval_config c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_NONE, 8, 4, 3);
    sr_eval_result r;
    assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_OK);
    const sr_metrics_group_result *a = &r.metrics.group[0];
    const double seen = (double)(a->n_queries - a->n_unseen), n = (double)a->n_queries;
    assert_true(seen >= 3);
    SR_ASSERT_NEAR(a->hr[0], 0.0, 0);
    SR_ASSERT_NEAR(a->hr[2], 0.0, 0);
    SR_ASSERT_NEAR(a->hr[3], seen / n, 1e-15);
    SR_ASSERT_NEAR(a->ndcg[3], seen / n / log2(14.0), 1e-15);
    SR_ASSERT_NEAR(a->mrr[3], seen / n / 13.0, 1e-15);
    /* the top-3 of a constant scorer is 0, 1, 2 for every query */
    SR_ASSERT_NEAR(r.coverage, 3.0 / 13.0, 1e-15);
    SR_ASSERT_NEAR(r.mean_pop, (ts.plays[0] + ts.plays[1] + ts.plays[2]) / 3.0, 1e-12);
    sr_store_close(&st);
    free(T);
}

/* A scorer whose scores change between calls breaks the two-pass
 * contract: the run fails instead of returning ranks off by a tie. */
static void test_nondeterministic_scorer_is_refused(void **state)
{
    (void)state;
    const int32_t I = 11;
    float *T = random_table(3, I, 1, false);
    sr_test_store ts;
    random_store(&ts, SR_SPLIT_KIND_LEAVE_LAST, I, 8);
    sr_store *st = sr_test_store_open(&ts, "drift.srs");
    table_scorer sc;
    table_init(&sc, T, 3, I, 8, KEY_HASH);
    sc.drift = true;
    sr_eval_config c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_NONE, 8, 4, 3);
    sr_eval_result r;
    assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_ERR_INTERNAL);
    assert_non_null(strstr(sr_errmsg(), "deterministic"));
    sr_store_close(&st);
    free(T);
}

static bool g_cancel_at_second;
static uint64_t g_last_done, g_last_total;
static int g_calls;
static bool progress_cb(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    (void)ud;
    assert_string_equal(phase, "evaluate");
    assert_true(done >= g_last_done && done <= total);
    g_last_done = done;
    g_last_total = total;
    g_calls++;
    return !(g_cancel_at_second && g_calls == 2);
}

/* Bad configurations, an empty split, progress and cancellation. */
static void test_config_errors_progress_and_cancel(void **state)
{
    (void)state;
    const int32_t I = 11;
    float *T = random_table(3, I, 1, false);
    sr_test_store ts;
    random_store(&ts, SR_SPLIT_KIND_LEAVE_LAST, I, 8);
    sr_store *st = sr_test_store_open(&ts, "cfg.srs");
    table_scorer sc;
    table_init(&sc, T, 3, I, 8, KEY_HASH);
    sr_eval_result r;
    sr_eval_config c = config(SR_SPLIT_TRAIN, SR_EVAL_EXCLUDE_NONE, 8, 4, 3);
    assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_ERR_ARG);
    c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_PLAYED, 8, 4, 3);
    c.protocol = SR_EVAL_PROTOCOL_SAMPLED;
    assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "played"));
    c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_NONE, 9, 4, 3); /* > max_queries 8 */
    assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_ERR_ARG);
    c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_NONE, 8, 0, 3);
    assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_ERR_ARG);
    c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_NONE, 8, 4, 0);
    assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_ERR_ARG);
    c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_NONE, 8, 4, 3);
    sc.base.n_items = I - 1;
    assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "10 items"));
    sc.base.n_items = I;

    /* progress: after every batch, ending at total; cancellation */
    g_last_done = 0;
    g_calls = 0;
    g_cancel_at_second = false;
    c.batch = 3;
    assert_int_equal(sr_eval_run(st, &sc.base, &c, progress_cb, NULL, &r), SR_OK);
    assert_int_equal(g_last_done, g_last_total);
    assert_int_equal(g_last_total, r.metrics.group[0].n_queries + r.n_no_input);
    assert_true(g_calls >= (int)(g_last_total / 3));
    g_last_done = 0;
    g_calls = 0;
    g_cancel_at_second = true;
    assert_int_equal(sr_eval_run(st, &sc.base, &c, progress_cb, NULL, &r), SR_ERR_CANCELLED);
    assert_int_equal(g_calls, 2);
    sr_store_close(&st);

    /* a store whose sessions give no test query */
    sr_test_store e = { .kind = SR_SPLIT_KIND_TEMPORAL, .n = 2, .I = 3 };
    e.split[0] = SR_SPLIT_TRAIN;
    e.split[1] = SR_SPLIT_TEST;
    e.len[0] = 3;
    e.len[1] = 1; /* a one-play test session has no input */
    st = sr_test_store_open(&e, "empty.srs");
    table_init(&sc, T, 1, 3, 8, KEY_HASH);
    assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r), SR_ERR_EMPTY);
    sr_store_close(&st);
    free(T);
}

typedef struct key_list {
    int n;
    char keys[64][40];
    double vals[64];
    bool count[64];
} key_list;

static void collect(void *ctx, const char *key, double value, bool is_count)
{
    key_list *l = ctx;
    assert_true(l->n < 64);
    snprintf(l->keys[l->n], sizeof l->keys[0], "%s", key);
    l->vals[l->n] = value;
    l->count[l->n] = is_count;
    l->n++;
}

/* 42 metric keys (prefixed under the sampled protocol), then coverage,
 * mean popularity, n_no_input and seconds. */
static void test_visit_keys_and_sampled_prefix(void **state)
{
    (void)state;
    sr_eval_result r;
    memset(&r, 0, sizeof r);
    r.top_k = 10;
    r.coverage = 0.25;
    r.mean_pop = 7.5;
    r.n_no_input = 3;
    r.seconds = 1.5;
    key_list l = { 0 };
    sr_eval_visit(&r, collect, &l);
    assert_int_equal(l.n, SR_METRICS_N_KEYS + 4);
    assert_string_equal(l.keys[0], "hr@1");
    assert_string_equal(l.keys[36], "n_queries");
    assert_true(l.count[36]);
    assert_string_equal(l.keys[42], "coverage@10");
    assert_string_equal(l.keys[43], "mean_pop@10");
    assert_string_equal(l.keys[44], "n_no_input");
    assert_string_equal(l.keys[45], "seconds");
    assert_true(l.vals[42] == 0.25 && l.vals[43] == 7.5 && l.vals[44] == 3 && l.vals[45] == 1.5);
    assert_true(l.count[44] && !l.count[45] && !l.count[42]);

    r.protocol = SR_EVAL_PROTOCOL_SAMPLED;
    r.top_k = 5;
    memset(&l, 0, sizeof l);
    sr_eval_visit(&r, collect, &l);
    assert_int_equal(l.n, SR_METRICS_N_KEYS + 4);
    assert_string_equal(l.keys[0], "sampled_hr@1");
    assert_string_equal(l.keys[31], "sampled_skip_ndcg@20");
    assert_string_equal(l.keys[41], "sampled_n_skipped_unseen_queries");
    assert_string_equal(l.keys[42], "coverage@5");
    for (int i = 0; i < SR_METRICS_N_KEYS; i++)
        assert_true(strncmp(l.keys[i], "sampled_", 8) == 0);
}

/* Metrics are identical with 1 and 2 OpenMP threads. */
static void test_one_and_two_threads_give_identical_results(void **state)
{
    (void)state;
    const int32_t I = 37;
    float *T = random_table(13, I, 21, true);
    sr_test_store ts;
    random_store(&ts, SR_SPLIT_KIND_TEMPORAL, I, 4);
    sr_store *st = sr_test_store_open(&ts, "threads.srs");
    table_scorer sc;
    table_init(&sc, T, 13, I, 64, KEY_HASH);
    const int saved = omp_get_max_threads();
    for (int ex = 0; ex < 3; ex++) {
        sr_eval_config c = config(SR_SPLIT_TEST, (sr_eval_exclude)ex, 64, 6, 4);
        sr_eval_result r1, r2;
        omp_set_num_threads(1);
        assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r1), SR_OK);
        omp_set_num_threads(2);
        assert_int_equal(sr_eval_run(st, &sc.base, &c, NULL, NULL, &r2), SR_OK);
        assert_memory_equal(&r1.metrics, &r2.metrics, sizeof r1.metrics);
        assert_true(r1.coverage == r2.coverage && r1.mean_pop == r2.mean_pop);
        assert_int_equal(r1.n_no_input, r2.n_no_input);
    }
    omp_set_num_threads(saved);
    sr_store_close(&st);
    free(T);
}

/* ---- the model scorer ------------------------------------------------------------ */

#define MI 13
#define ML 4

/* Every chunk of the model scorer equals sr_model_score within 1e-5, for
 * SASRec and BERT4Rec, with feedback, for sessions shorter and longer than L;
 * the evaluator with the model scorer ranks as the naive evaluator on
 * sr_model_score's scores. */
static void test_model_scorer_matches_model_score(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        sr_model_config mc = sr_model_config_paper((sr_model_kind)kind);
        mc.I = MI;
        mc.D = 8;
        mc.layers = 2;
        mc.heads = 2;
        mc.F = 12;
        mc.L = ML;
        mc.dropout = 0.0f;
        mc.feedback = true;
        mc.init_std = 0.4f;
        mc.chunk = 5;
        mc.seed = 3 + (uint64_t)kind;
        sr_model *m = NULL;
        sr_dnnl_ctx *ctx = NULL;
        assert_int_equal(sr_model_new(&mc, 8, &m), SR_OK);
        assert_int_equal(sr_dnnl_ctx_new(0, &ctx), SR_OK);
        sr_model_scorer *ms = NULL;
        assert_int_equal(sr_model_scorer_new(m, ctx, 6, &ms), SR_OK);
        const sr_scorer *sc = sr_model_scorer_get(ms);
        assert_int_equal(sc->n_items, MI);
        assert_int_equal(sc->max_queries, 6);

        /* 6 sessions of 1..8 plays (L = 4) */
        int32_t tracks[64];
        uint8_t skipped[64];
        int64_t offsets[7] = { 0 };
        const int lens[6] = { 1, 3, 4, 5, 8, 2 };
        for (int b = 0; b < 6; b++) {
            offsets[b + 1] = offsets[b] + lens[b];
            for (int64_t p = offsets[b]; p < offsets[b + 1]; p++) {
                tracks[p] = (int32_t)((p * 7 + b) % MI);
                skipped[p] = (uint8_t)((p + b) % 2);
            }
        }
        sr_eval_queries q = { .Q = 6, .tracks = tracks, .skipped = skipped, .offsets = offsets };
        assert_int_equal(sc->prepare(sc->self, &q), SR_OK);
        float chunk[6 * 5], full[MI];
        float want[6][MI];
        for (int b = 0; b < 6; b++)
            assert_int_equal(sr_model_score(m, ctx, tracks + offsets[b], skipped + offsets[b],
                                            lens[b], want[b]),
                             SR_OK);
        /* sr_model_score used the arena: prepare again */
        assert_int_equal(sc->prepare(sc->self, &q), SR_OK);
        for (int32_t c0 = 0; c0 < MI; c0 += 5) {
            int32_t C = MI - c0 < 5 ? MI - c0 : 5;
            assert_int_equal(sc->score_chunk(sc->self, c0, C, chunk), SR_OK);
            for (int b = 0; b < 6; b++)
                for (int32_t c = 0; c < C; c++)
                    SR_ASSERT_NEAR(chunk[b * C + c], want[b][c0 + c], 1e-5);
        }
        /* a window longer than L really is cut: the first plays do not matter */
        int32_t alt[8];
        memcpy(alt, tracks + offsets[4], sizeof alt);
        alt[0] = (alt[0] + 1) % MI;
        assert_int_equal(sr_model_score(m, ctx, alt, skipped + offsets[4], 8, full), SR_OK);
        for (int i = 0; i < MI; i++)
            SR_ASSERT_NEAR(full[i], want[4][i], 1e-6);
        assert_int_equal(sc->score_chunk(sc->self, 10, 5, chunk), SR_ERR_ARG);

        /* the evaluator with the model scorer on a store */
        sr_test_store ts;
        random_store(&ts, SR_SPLIT_KIND_TEMPORAL, MI, 17 + (uint64_t)kind);
        sr_store *st = sr_test_store_open(&ts, kind ? "model_b.srs" : "model_s.srs");
        sr_eval_config c = config(SR_SPLIT_TEST, SR_EVAL_EXCLUDE_PLAYED, 6, 5, 3);
        sr_eval_result r;
        assert_int_equal(sr_eval_run(st, sc, &c, NULL, NULL, &r), SR_OK);
        /* naive: every query's full scores from sr_model_score */
        sr_metrics nm = { 0 };
        for (uint64_t s = 0; s < st->n_sessions; s++) {
            if (!naive_is_query(st, s, SR_SPLIT_TEST))
                continue;
            uint64_t off = st->session_offsets[s], n = st->session_offsets[s + 1] - off;
            int32_t in[16], excl[16];
            uint8_t sk[16];
            int nin = 0;
            for (uint64_t p = 0; p + 1 < n; p++)
                if (st->play_track[off + p] >= 0) {
                    in[nin] = st->play_track[off + p];
                    sk[nin] = (st->play_feedback[off + p] & SR_FB_SKIPPED) ? 1 : 0;
                    excl[nin] = in[nin];
                    nin++;
                }
            if (nin == 0)
                continue;
            int32_t t = st->play_track[off + n - 1];
            int32_t rank = SR_METRICS_RANK_UNSEEN;
            if (t >= 0) {
                assert_int_equal(sr_model_score(m, ctx, in, sk, nin, full), SR_OK);
                rank = sr_target_rank_excluding(full, MI, t, excl, nin);
            }
            sr_metrics_add(&nm, rank, (st->play_feedback[off + n - 1] & SR_FB_SKIPPED) != 0);
        }
        sr_metrics_result nr;
        sr_metrics_finish(&nm, &nr);
        for (int g = 0; g < SR_METRICS_GROUP_COUNT; g++) {
            assert_int_equal(r.metrics.group[g].n_queries, nr.group[g].n_queries);
            for (int k = 0; k < SR_METRICS_N_K; k++)
                assert_true(same_double(r.metrics.group[g].mrr[k], nr.group[g].mrr[k]));
        }
        sr_store_close(&st);
        sr_model_scorer_free(&ms);
        assert_null(ms);
        sr_model_scorer_free(&ms);
        sr_dnnl_ctx_free(&ctx);
        sr_model_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_parse_and_print),
        cmocka_unit_test(test_topk_matches_sorting_with_ties_nan_and_exclusions),
        SR_TEST_IN_DIR(test_hand_computed_ranks_metrics_and_topk),
        SR_TEST_IN_DIR(test_full_protocol_matches_naive_everywhere),
        SR_TEST_IN_DIR(test_subsample_follows_the_permutation),
        SR_TEST_IN_DIR(test_sampled_protocol_matches_naive),
        SR_TEST_IN_DIR(test_constant_scorer_ranks_last),
        SR_TEST_IN_DIR(test_nondeterministic_scorer_is_refused),
        SR_TEST_IN_DIR(test_config_errors_progress_and_cancel),
        cmocka_unit_test(test_visit_keys_and_sampled_prefix),
        SR_TEST_IN_DIR(test_one_and_two_threads_give_identical_results),
        SR_TEST_IN_DIR(test_model_scorer_matches_model_score),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
