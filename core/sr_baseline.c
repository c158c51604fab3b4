/* sr_baseline.c - the popularity and sequential-rules baselines
 * (sr_baseline.h), fitted on the batcher's training parts, scored through
 * the evaluator's sr_scorer interface and saved as "baseline.*" sections of
 * the checkpoint container.
 *
 * Dimension legend: I catalogue size, R rules kept in all, C items in one
 * chunk, Q queries in one scorer batch, W window (largest q - p).
 *
 * Sequential rules: M. Ludewig, D. Jannach, "Evaluation of session-based
 * recommendation algorithms", UMUAI 28, 2018, section 3 ("SR"): a rule
 * a -> b gets weight 1 / (q - p) for every occurrence of a at p followed by
 * b at q within the window. Fitting sums the weights of each distinct pair
 * in an open-addressing hash table (double sums added in store order, so
 * the result is deterministic), then sorts the pairs by (antecedent, weight
 * rounded to float descending, consequent ascending) and keeps each
 * antecedent's first max_rules. Ties are decided on the float weight that is
 * stored and scored, so the kept rules are exactly the ones a reader of the
 * stored weights would keep. Kept rules are stored as CSR rows over the
 * antecedent with consequents ascending, so a chunk [c0, c0 + C) of a row
 * is found by binary search.
 *
 * Scores are one rounding of a double: score(j) = (float)(w + plays(j) *
 * eps / (max_plays + 1)), the same expression for the whole catalogue and
 * for a chunk, so score_chunk equals sr_baseline_score bit for bit.
 *
 * File sections (sr_ckpt.h):
 *   baseline.kind          TEXT  "pop" | "sr"
 *   baseline.config        U32   [2] window, max_rules
 *   baseline.plays         U32   [I] training plays
 *   baseline.rule_offsets  U64   [I + 1] rules only: CSR row starts, [0] = 0, [I] = R
 *   baseline.rule_items    I32   [R] rules only: consequents, ascending within a row
 *   baseline.rule_weights  F32   [R] rules only: weights, > 0
 */
#include "sr_baseline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_batch.h"

/* sr_baseline.h: the popularity term that orders the items without a rule. */
#define SR_BASELINE_EPS 1e-6
#define SR_BASELINE_PROGRESS_EVERY 4096u

static const char *const sr_baseline_kind_names[] = {
    [SR_BASELINE_POP] = "pop",
    [SR_BASELINE_RULES] = "sr",
};

sr_err sr_baseline_kind_parse(sr_str s, sr_baseline_kind *out)
{
    int i;
    sr_err err = sr_name_parse(s, sr_baseline_kind_names, SR_COUNTOF(sr_baseline_kind_names),
                               "baseline", &i);
    if (err == SR_OK)
        *out = (sr_baseline_kind)i;
    return err;
}

const char *sr_baseline_kind_name(sr_baseline_kind k)
{
    return sr_name_at(sr_baseline_kind_names, SR_COUNTOF(sr_baseline_kind_names), (unsigned)k);
}

sr_baseline_config sr_baseline_config_default(sr_baseline_kind kind)
{
    sr_baseline_config c = { .kind = kind, .window = 10, .max_rules = 200 };
    return c;
}

sr_err sr_baseline_config_set_line(sr_baseline_config *c, sr_str line)
{
    char buf[300], key[64];
    long long v = 0;
    char extra;
    size_t n = line.len < sizeof buf - 1 ? line.len : sizeof buf - 1;
    memcpy(buf, line.ptr, n);
    buf[n] = '\0';
    if (sscanf(buf, " %63[a-z_] = %lld %c", key, &v, &extra) != 2)
        return sr_errorf(SR_ERR_ARG, "setting \"%s\": expected window=N or max_rules=N", buf);
    if (strcmp(key, "window") == 0 && v >= 1 && v <= 1000)
        c->window = (int)v;
    else if (strcmp(key, "max_rules") == 0 && v >= 1 && v <= 1000000)
        c->max_rules = (int)v;
    else
        return sr_errorf(SR_ERR_ARG, "setting \"%s\": baselines take window (1..1000) and "
                         "max_rules (1..1000000)", buf);
    return SR_OK;
}

struct sr_baseline {
    sr_baseline_config cfg;
    int32_t I;
    uint32_t cfg_u32[2];   /* window, max_rules: the "baseline.config" section */
    uint32_t *plays;       /* [I] training plays */
    double pop_scale;      /* eps / (max_plays + 1) */
    uint64_t R;
    uint64_t *rule_off;    /* [I + 1] rules only */
    int32_t *rule_item;    /* [R] */
    float *rule_w;         /* [R] */
};

void sr_baseline_free(sr_baseline **b)
{
    if (!b || !*b)
        return;
    free((*b)->plays);
    free((*b)->rule_off);
    free((*b)->rule_item);
    free((*b)->rule_w);
    free(*b);
    *b = NULL;
}

const sr_baseline_config *sr_baseline_config_of(const sr_baseline *b)
{
    return &b->cfg;
}

int32_t sr_baseline_items(const sr_baseline *b)
{
    return b->I;
}

static void sr_baseline_set_pop_scale(sr_baseline *b)
{
    uint32_t mx = 0;
    for (int32_t i = 0; i < b->I; i++)
        mx = SR_MAX(mx, b->plays[i]);
    b->pop_scale = SR_BASELINE_EPS / ((double)mx + 1.0);
}

/* ---- fitting: the pair table ------------------------------------------------ */

#define SR_PAIR_EMPTY UINT64_MAX /* never a key: both halves are < 2^31 */

typedef struct sr_pair {
    uint64_t key; /* antecedent << 32 | consequent */
    double w;
} sr_pair;

typedef struct sr_pair_table {
    sr_pair *slot; /* [cap], cap a power of two, at most half full */
    size_t cap, n;
} sr_pair_table;

static uint64_t sr_pair_hash(uint64_t x)
{
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static sr_err sr_pair_table_init(sr_pair_table *t, size_t cap)
{
    t->slot = malloc(cap * sizeof *t->slot);
    if (!t->slot)
        return sr_errorf(SR_ERR_NOMEM, "rules baseline: out of memory for %zu rule slots", cap);
    for (size_t i = 0; i < cap; i++)
        t->slot[i].key = SR_PAIR_EMPTY;
    t->cap = cap;
    t->n = 0;
    return SR_OK;
}

static sr_pair *sr_pair_find(sr_pair_table *t, uint64_t key)
{
    size_t m = t->cap - 1, h = (size_t)sr_pair_hash(key) & m;
    while (t->slot[h].key != SR_PAIR_EMPTY && t->slot[h].key != key)
        h = (h + 1) & m;
    return &t->slot[h];
}

static sr_err sr_pair_table_grow(sr_pair_table *t)
{
    if (t->cap > SIZE_MAX / 2 / sizeof(sr_pair))
        return sr_errorf(SR_ERR_LIMIT, "rules baseline: more than %zu distinct pairs", t->n);
    sr_pair_table g = { 0 };
    sr_err e = sr_pair_table_init(&g, t->cap * 2);
    if (e != SR_OK)
        return e;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slot[i].key == SR_PAIR_EMPTY)
            continue;
        *sr_pair_find(&g, t->slot[i].key) = t->slot[i];
    }
    g.n = t->n;
    free(t->slot);
    *t = g;
    return SR_OK;
}

static sr_err sr_pair_add(sr_pair_table *t, int32_t a, int32_t b, double w)
{
    const uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    sr_pair *p = sr_pair_find(t, key);
    if (p->key == key) {
        p->w += w;
        return SR_OK;
    }
    p->key = key;
    p->w = w;
    t->n++;
    if (t->n * 2 > t->cap)
        return sr_pair_table_grow(t);
    return SR_OK;
}

/* (antecedent ascending, float weight descending, consequent ascending) */
static int sr_pair_cmp(const void *x, const void *y)
{
    const sr_pair *a = x, *b = y;
    const uint64_t ai = a->key >> 32, bi = b->key >> 32;
    if (ai != bi)
        return ai < bi ? -1 : 1;
    const float aw = (float)a->w, bw = (float)b->w;
    if (aw != bw)
        return aw > bw ? -1 : 1;
    const uint64_t aj = a->key & 0xffffffffu, bj = b->key & 0xffffffffu;
    return (aj > bj) - (aj < bj);
}

/* (consequent ascending) within one kept row */
static int sr_pair_cmp_item(const void *x, const void *y)
{
    const uint64_t a = ((const sr_pair *)x)->key & 0xffffffffu;
    const uint64_t b = ((const sr_pair *)y)->key & 0xffffffffu;
    return (a > b) - (a < b);
}

/* Turn the filled table into b's CSR rows (frees nothing; the caller frees
 * the table). Compacts the table in place. */
static sr_err sr_baseline_build_rules(sr_baseline *b, sr_pair_table *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].key != SR_PAIR_EMPTY)
            t->slot[n++] = t->slot[i]; /* n <= i: moves only forward */
    SR_ASSERT(n == t->n);
    qsort(t->slot, n, sizeof *t->slot, sr_pair_cmp);

    b->rule_off = calloc((size_t)b->I + 1, sizeof *b->rule_off);
    if (!b->rule_off)
        return sr_errorf(SR_ERR_NOMEM, "rules baseline: out of memory for %d rule rows",
                         (int)b->I);
    /* keep the first max_rules entries of each antecedent's run, moved to
     * the front of the table, each kept row re-sorted by consequent */
    size_t kept = 0;
    for (size_t i = 0; i < n;) {
        const uint64_t a = t->slot[i].key >> 32;
        size_t j = i;
        while (j < n && t->slot[j].key >> 32 == a)
            j++;
        const size_t k = SR_MIN(j - i, (size_t)b->cfg.max_rules);
        memmove(t->slot + kept, t->slot + i, k * sizeof *t->slot);
        qsort(t->slot + kept, k, sizeof *t->slot, sr_pair_cmp_item);
        b->rule_off[a + 1] = k;
        kept += k;
        i = j;
    }
    for (int32_t i = 0; i < b->I; i++)
        b->rule_off[i + 1] += b->rule_off[i];
    b->R = kept;
    b->rule_item = malloc((kept ? kept : 1) * sizeof *b->rule_item);
    b->rule_w = malloc((kept ? kept : 1) * sizeof *b->rule_w);
    if (!b->rule_item || !b->rule_w)
        return sr_errorf(SR_ERR_NOMEM, "rules baseline: out of memory for %zu rules", kept);
    for (size_t r = 0; r < kept; r++) {
        b->rule_item[r] = (int32_t)(t->slot[r].key & 0xffffffffu);
        b->rule_w[r] = (float)t->slot[r].w;
    }
    return SR_OK;
}

sr_err sr_baseline_fit(const sr_store *st, const sr_baseline_config *c, sr_progress_fn progress,
                       void *ud, sr_baseline **out)
{
    *out = NULL;
    if (!st || !c)
        return sr_errorf(SR_ERR_ARG, "baseline: NULL store or config");
    if ((unsigned)c->kind >= SR_COUNTOF(sr_baseline_kind_names))
        return sr_errorf(SR_ERR_ARG, "baseline: kind %d unknown", (int)c->kind);
    if (c->window < 1)
        return sr_errorf(SR_ERR_ARG, "baseline: window = %d, must be >= 1", c->window);
    if (c->max_rules < 1)
        return sr_errorf(SR_ERR_ARG, "baseline: max_rules = %d, must be >= 1", c->max_rules);
    if (st->n_tracks == 0)
        return sr_errorf(SR_ERR_EMPTY, "baseline: the store has no track");
    if (st->n_tracks > INT32_MAX)
        return sr_errorf(SR_ERR_ARG, "baseline: %u tracks, at most %d", (unsigned)st->n_tracks,
                         (int)INT32_MAX);

    sr_err e = SR_OK;
    sr_pair_table t = { 0 };
    sr_baseline *b = calloc(1, sizeof *b);
    if (!b)
        return sr_errorf(SR_ERR_NOMEM, "baseline: out of memory");
    b->cfg = *c;
    b->I = (int32_t)st->n_tracks;
    b->cfg_u32[0] = (uint32_t)c->window;
    b->cfg_u32[1] = (uint32_t)c->max_rules;
    b->plays = calloc((size_t)b->I, sizeof *b->plays);
    if (!b->plays) {
        e = sr_errorf(SR_ERR_NOMEM, "baseline: out of memory for %d tracks", (int)b->I);
        goto done;
    }
    const bool rules = c->kind == SR_BASELINE_RULES;
    if (rules && (e = sr_pair_table_init(&t, 1u << 12)) != SR_OK)
        goto done;

    uint64_t total = 0;
    for (uint64_t s = 0; s < st->n_sessions; s++) {
        uint64_t first;
        uint32_t n;
        sr_batch_train_range(st, s, &first, &n);
        const int32_t *tr = st->play_track + first;
        for (uint32_t p = 0; p < n; p++) {
            const int32_t a = tr[p];
            if (a < 0 || a >= b->I)
                continue; /* unseen: no rule can name it */
            if (b->plays[a] < UINT32_MAX)
                b->plays[a]++;
            total++;
            if (!rules)
                continue;
            /* positions keep their distance across an unseen play */
            const uint32_t end = (uint32_t)SR_MIN((uint64_t)n, (uint64_t)p + 1 + (uint64_t)c->window);
            for (uint32_t q = p + 1; q < end; q++) {
                const int32_t x = tr[q];
                if (x < 0 || x >= b->I)
                    continue;
                if ((e = sr_pair_add(&t, a, x, 1.0 / (double)(q - p))) != SR_OK)
                    goto done;
            }
        }
        if (progress && ((s + 1) % SR_BASELINE_PROGRESS_EVERY == 0 || s + 1 == st->n_sessions) &&
            !progress(ud, "fit", s + 1, st->n_sessions)) {
            e = sr_errorf(SR_ERR_CANCELLED, "baseline fit cancelled after %llu of %llu sessions",
                          (unsigned long long)(s + 1), (unsigned long long)st->n_sessions);
            goto done;
        }
    }
    if (total == 0) {
        e = sr_errorf(SR_ERR_EMPTY, "baseline: the store has no training play");
        goto done;
    }
    sr_baseline_set_pop_scale(b);
    if (rules && (e = sr_baseline_build_rules(b, &t)) != SR_OK)
        goto done;
done:
    free(t.slot);
    if (e != SR_OK)
        sr_baseline_free(&b);
    *out = b;
    return e;
}

/* ---- scoring ---------------------------------------------------------------- */

/* Scores of items [c0, c0 + C) for a session whose last known play is
 * `last` (-1: none).
 *   out: [C] */
static void sr_baseline_score_range(const sr_baseline *b, int32_t last, int32_t c0, int32_t C,
                                    float *out)
{
    const uint32_t *pl = b->plays + c0;
    if (b->cfg.kind == SR_BASELINE_POP) {
        for (int32_t c = 0; c < C; c++)
            out[c] = (float)pl[c];
        return;
    }
    const double scale = b->pop_scale;
    for (int32_t c = 0; c < C; c++)
        out[c] = (float)((double)pl[c] * scale);
    if (last < 0)
        return;
    /* the row's consequents are ascending: binary search for the first >= c0 */
    uint64_t lo = b->rule_off[last], hi = b->rule_off[last + 1];
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (b->rule_item[mid] < c0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const int64_t end = (int64_t)c0 + C;
    for (uint64_t r = lo; r < b->rule_off[last + 1] && b->rule_item[r] < end; r++) {
        const int32_t j = b->rule_item[r];
        out[j - c0] = (float)((double)b->rule_w[r] + (double)b->plays[j] * scale);
    }
}

/* The last play of tracks[n] inside [0, I), or -1. */
static int32_t sr_baseline_last(const sr_baseline *b, const int32_t *tracks, int64_t n)
{
    for (int64_t i = n - 1; i >= 0; i--)
        if (tracks[i] >= 0 && tracks[i] < b->I)
            return tracks[i];
    return -1;
}

void sr_baseline_score(const sr_baseline *b, const int32_t *tracks, int n, float *scores)
{
    SR_ASSERT(b && scores);
    const int32_t last = tracks && n > 0 ? sr_baseline_last(b, tracks, n) : -1;
    sr_baseline_score_range(b, last, 0, b->I, scores);
}

/* ---- the evaluator's view --------------------------------------------------- */

struct sr_baseline_scorer {
    sr_scorer base;
    const sr_baseline *b;
    int Q;
    int32_t *last; /* [max_queries] last known play of each prepared query */
};

static sr_err sr_baseline_scorer_prepare(void *self, const sr_eval_queries *q)
{
    sr_baseline_scorer *s = self;
    s->Q = 0;
    if (!q || q->Q < 1 || q->Q > s->base.max_queries)
        return sr_errorf(SR_ERR_ARG, "baseline scorer: batch of %d queries outside [1, %d]",
                         q ? q->Q : 0, s->base.max_queries);
    for (int i = 0; i < q->Q; i++)
        s->last[i] = sr_baseline_last(s->b, q->tracks + q->offsets[i],
                                      q->offsets[i + 1] - q->offsets[i]);
    s->Q = q->Q;
    return SR_OK;
}

static sr_err sr_baseline_scorer_score_chunk(void *self, int32_t c0, int32_t C, float *scores)
{
    sr_baseline_scorer *s = self;
    if (s->Q < 1)
        return sr_errorf(SR_ERR_ARG, "baseline scorer: score_chunk before prepare");
    if (c0 < 0 || C < 1 || (int64_t)c0 + C > s->base.n_items)
        return sr_errorf(SR_ERR_ARG, "baseline scorer: chunk [%d, %lld) outside [0, %d)",
                         (int)c0, (long long)c0 + C, (int)s->base.n_items);
    const int Q = s->Q;
    /* element-wise: the same values for any thread count */
#pragma omp parallel for schedule(static) if (Q > 1 && (int64_t)Q * C >= 65536)
    for (int q = 0; q < Q; q++)
        sr_baseline_score_range(s->b, s->last[q], c0, C, scores + (size_t)q * (size_t)C);
    return SR_OK;
}

sr_err sr_baseline_scorer_new(const sr_baseline *b, int max_queries, sr_baseline_scorer **out)
{
    *out = NULL;
    if (!b)
        return sr_errorf(SR_ERR_ARG, "baseline scorer: NULL baseline");
    if (max_queries < 1)
        return sr_errorf(SR_ERR_ARG, "baseline scorer: max_queries = %d, must be >= 1",
                         max_queries);
    sr_baseline_scorer *s = calloc(1, sizeof *s);
    if (!s)
        return sr_errorf(SR_ERR_NOMEM, "baseline scorer: out of memory");
    s->last = malloc((size_t)max_queries * sizeof *s->last);
    if (!s->last) {
        free(s);
        return sr_errorf(SR_ERR_NOMEM, "baseline scorer: out of memory for %d queries",
                         max_queries);
    }
    s->b = b;
    s->base.self = s;
    s->base.n_items = b->I;
    s->base.max_queries = max_queries;
    s->base.prepare = sr_baseline_scorer_prepare;
    s->base.score_chunk = sr_baseline_scorer_score_chunk;
    *out = s;
    return SR_OK;
}

const sr_scorer *sr_baseline_scorer_get(sr_baseline_scorer *s)
{
    return s ? &s->base : NULL;
}

void sr_baseline_scorer_free(sr_baseline_scorer **s)
{
    if (!s || !*s)
        return;
    free((*s)->last);
    free(*s);
    *s = NULL;
}

/* ---- save / load -------------------------------------------------------------- */

sr_err sr_baseline_save(const sr_baseline *b, sr_ckpt_writer *w)
{
    if (!b || !w)
        return sr_errorf(SR_ERR_ARG, "baseline save: NULL baseline or writer");
    sr_err e = sr_ckpt_add_text(w, "baseline.kind", sr_baseline_kind_name(b->cfg.kind));
    if (e == SR_OK)
        e = sr_ckpt_add(w, "baseline.config", SR_CKPT_U32, b->cfg_u32, 2);
    if (e == SR_OK)
        e = sr_ckpt_add(w, "baseline.plays", SR_CKPT_U32, b->plays, (uint64_t)b->I);
    if (e == SR_OK && b->cfg.kind == SR_BASELINE_RULES) {
        e = sr_ckpt_add(w, "baseline.rule_offsets", SR_CKPT_U64, b->rule_off,
                        (uint64_t)b->I + 1);
        if (e == SR_OK)
            e = sr_ckpt_add(w, "baseline.rule_items", SR_CKPT_I32, b->rule_item, b->R);
        if (e == SR_OK)
            e = sr_ckpt_add(w, "baseline.rule_weights", SR_CKPT_F32, b->rule_w, b->R);
    }
    return e;
}

/* Copy n elements of `size` bytes out of the mapping. */
static void *sr_baseline_dup(const void *src, uint64_t n, size_t size)
{
    void *p = malloc(n ? (size_t)n * size : 1);
    if (p && n)
        memcpy(p, src, (size_t)n * size);
    return p;
}

/* Missing and mistyped sections are both a malformed baseline file. */
static sr_err sr_baseline_format(sr_err e, const char *what)
{
    if (e != SR_ERR_NOTFOUND && e != SR_ERR_FORMAT)
        return e;
    char why[256]; /* sr_errorf must not read the buffer it writes */
    snprintf(why, sizeof why, "%s", sr_errmsg());
    return sr_errorf(SR_ERR_FORMAT, "baseline load: %s: %s", what, why);
}

sr_err sr_baseline_load(const sr_ckpt *c, sr_baseline **out)
{
    *out = NULL;
    if (!c)
        return sr_errorf(SR_ERR_ARG, "baseline load: NULL file");
    sr_err e;
    sr_str kind_s;
    sr_baseline_kind kind;
    if ((e = sr_ckpt_get_text(c, "baseline.kind", &kind_s)) != SR_OK)
        return sr_baseline_format(e, "section baseline.kind");
    if (sr_baseline_kind_parse(kind_s, &kind) != SR_OK)
        return sr_baseline_format(SR_ERR_FORMAT, "section baseline.kind");
    const void *p;
    uint64_t n;
    if ((e = sr_ckpt_get_exact(c, "baseline.config", SR_CKPT_U32, &p, 2)) != SR_OK)
        return sr_baseline_format(e, "section baseline.config");
    uint32_t cfg[2];
    memcpy(cfg, p, sizeof cfg);
    if (cfg[0] < 1 || cfg[0] > INT32_MAX || cfg[1] < 1 || cfg[1] > INT32_MAX)
        return sr_errorf(SR_ERR_FORMAT,
                         "baseline load: baseline.config: window %u or max_rules %u outside "
                         "[1, %d]", cfg[0], cfg[1], (int)INT32_MAX);
    const void *plays;
    if ((e = sr_ckpt_get(c, "baseline.plays", SR_CKPT_U32, &plays, &n)) != SR_OK)
        return sr_baseline_format(e, "section baseline.plays");
    if (n < 1 || n > INT32_MAX)
        return sr_errorf(SR_ERR_FORMAT, "baseline load: baseline.plays holds %llu tracks",
                         (unsigned long long)n);

    sr_baseline *b = calloc(1, sizeof *b);
    if (!b)
        return sr_errorf(SR_ERR_NOMEM, "baseline load: out of memory");
    b->cfg.kind = kind;
    b->cfg.window = (int)cfg[0];
    b->cfg.max_rules = (int)cfg[1];
    memcpy(b->cfg_u32, cfg, sizeof cfg);
    b->I = (int32_t)n;
    b->plays = sr_baseline_dup(plays, n, sizeof(uint32_t));
    if (!b->plays) {
        e = sr_errorf(SR_ERR_NOMEM, "baseline load: out of memory for %d tracks", (int)b->I);
        goto done;
    }
    sr_baseline_set_pop_scale(b);
    if (kind == SR_BASELINE_RULES) {
        const void *off, *items, *wts;
        if ((e = sr_ckpt_get_exact(c, "baseline.rule_offsets", SR_CKPT_U64, &off,
                                   (uint64_t)b->I + 1)) != SR_OK) {
            e = sr_baseline_format(e, "section baseline.rule_offsets");
            goto done;
        }
        b->rule_off = sr_baseline_dup(off, (uint64_t)b->I + 1, sizeof(uint64_t));
        if (!b->rule_off) {
            e = sr_errorf(SR_ERR_NOMEM, "baseline load: out of memory");
            goto done;
        }
        const uint64_t R = b->rule_off[b->I];
        if ((e = sr_ckpt_get_exact(c, "baseline.rule_items", SR_CKPT_I32, &items, R)) != SR_OK ||
            (e = sr_ckpt_get_exact(c, "baseline.rule_weights", SR_CKPT_F32, &wts, R)) != SR_OK) {
            e = sr_baseline_format(e, "rule sections");
            goto done;
        }
        b->R = R;
        b->rule_item = sr_baseline_dup(items, R, sizeof(int32_t));
        b->rule_w = sr_baseline_dup(wts, R, sizeof(float));
        if (!b->rule_item || !b->rule_w) {
            e = sr_errorf(SR_ERR_NOMEM, "baseline load: out of memory for %llu rules",
                          (unsigned long long)R);
            goto done;
        }
        /* defensive: the checksums passed, but a file written by something
         * else must still not steer the scorer outside its arrays */
        if (b->rule_off[0] != 0) {
            e = sr_errorf(SR_ERR_FORMAT, "baseline load: rule_offsets[0] = %llu, must be 0",
                          (unsigned long long)b->rule_off[0]);
            goto done;
        }
        for (int32_t i = 0; i < b->I; i++) {
            const uint64_t r0 = b->rule_off[i], r1 = b->rule_off[i + 1];
            if (r1 < r0 || r1 - r0 > cfg[1]) {
                e = sr_errorf(SR_ERR_FORMAT,
                              "baseline load: rule row %d spans [%llu, %llu) (max_rules %u)",
                              (int)i, (unsigned long long)r0, (unsigned long long)r1, cfg[1]);
                goto done;
            }
            for (uint64_t r = r0; r < r1; r++) {
                const int32_t j = b->rule_item[r];
                const float w = b->rule_w[r];
                if (j < 0 || j >= b->I || (r > r0 && j <= b->rule_item[r - 1]) || !(w > 0.0f) ||
                    !isfinite(w)) {
                    e = sr_errorf(SR_ERR_FORMAT,
                                  "baseline load: rule %llu (row %d): item %d, weight %g is out "
                                  "of range, out of order or not positive",
                                  (unsigned long long)r, (int)i, (int)j, (double)w);
                    goto done;
                }
            }
        }
    }
    e = SR_OK;
done:
    if (e != SR_OK)
        sr_baseline_free(&b);
    *out = b;
    return e;
}
