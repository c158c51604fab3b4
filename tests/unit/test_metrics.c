/* test_metrics.c - sr_target_rank (pessimistic ties, NaN rules, exclusion)
 * against a naive implementation and hand cases; the metrics accumulator
 * against hand arithmetic and an independent python3 computation
 * (tests/scripts/metrics_reference.py). */
#include "sr_test.h"

#include "sr_metrics.h"

/* ---- helpers ------------------------------------------------------------- */

/* splitmix64: a fixed, seedable stream independent of the library's RNG. */
static uint64_t test_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int32_t test_rng_below(uint64_t *s, int32_t n)
{
    return (int32_t)(test_rng_next(s) % (uint64_t)n);
}

/* The definition written out literally (sr_metrics.h): a NaN target ranks
 * after every candidate; otherwise 1 + the candidates other than the target
 * whose score is >= the target's or NaN. mask may be NULL. */
static int32_t naive_rank(const float *s, int32_t n, int32_t target, const uint8_t *mask)
{
    int32_t candidates = 0, against = 0;
    for (int32_t i = 0; i < n; i++) {
        if (i == target || (mask && mask[i]))
            continue;
        candidates++;
        if (isnan(s[i]) || s[i] >= s[target])
            against++;
    }
    if (isnan(s[target]))
        return 1 + candidates;
    return 1 + against;
}

/* Scores drawn from a small set so that ties are frequent; NaN sometimes. */
static void fill_tied_scores(uint64_t *rng, float *s, int32_t n, bool with_nan)
{
    static const float values[] = { -1.0f, 0.0f, 0.25f, 0.5f, 1.0f, -0.0f };
    for (int32_t i = 0; i < n; i++) {
        int32_t v = test_rng_below(rng, 7);
        s[i] = v < 6 ? values[v] : (with_nan ? NAN : 0.5f);
    }
}

/* ---- ranking: hand cases ------------------------------------------------- */

static void test_target_rank_hand_cases(void **state)
{
    (void)state;
    const float one[] = { 0.5f };
    assert_int_equal(sr_target_rank(one, 1, 0), 1); /* n = 1: always rank 1 */

    const float inc[] = { 1.0f, 2.0f, 3.0f };
    assert_int_equal(sr_target_rank(inc, 3, 2), 1); /* highest */
    assert_int_equal(sr_target_rank(inc, 3, 1), 2); /* 3 above */
    assert_int_equal(sr_target_rank(inc, 3, 0), 3); /* 2, 3 above */

    /* all equal: pessimistic, every other item counts against -> rank 4 */
    const float flat[] = { 2.0f, 2.0f, 2.0f, 2.0f };
    assert_int_equal(sr_target_rank(flat, 4, 0), 4);
    assert_int_equal(sr_target_rank(flat, 4, 3), 4);

    const float mixed[] = { 3.0f, 1.0f, 3.0f, 0.0f };
    assert_int_equal(sr_target_rank(mixed, 4, 0), 2); /* item 2 ties */
    assert_int_equal(sr_target_rank(mixed, 4, 2), 2); /* item 0 ties */
    assert_int_equal(sr_target_rank(mixed, 4, 1), 3); /* items 0, 2 above */
    assert_int_equal(sr_target_rank(mixed, 4, 3), 4); /* last, at index n - 1 */

    const float zeros[] = { 0.0f, -0.0f }; /* -0 == +0: a tie */
    assert_int_equal(sr_target_rank(zeros, 2, 0), 2);
    assert_int_equal(sr_target_rank(zeros, 2, 1), 2);

    const float inf[] = { INFINITY, 1.0f, -INFINITY };
    assert_int_equal(sr_target_rank(inf, 3, 0), 1);
    assert_int_equal(sr_target_rank(inf, 3, 1), 2);
    assert_int_equal(sr_target_rank(inf, 3, 2), 3);
}

static void test_target_rank_invalid_arguments_return_zero(void **state)
{
    (void)state;
    const float s[] = { 1.0f, 2.0f };
    assert_int_equal(sr_target_rank(NULL, 2, 0), 0);
    assert_int_equal(sr_target_rank(s, 0, 0), 0);
    assert_int_equal(sr_target_rank(s, -3, 0), 0);
    assert_int_equal(sr_target_rank(s, 2, -1), 0); /* SR_TRACK_UNSEEN */
    assert_int_equal(sr_target_rank(s, 2, 2), 0);
    assert_int_equal(sr_rank_count_against(NULL, 2, 1.0f), 0);
    assert_int_equal(sr_rank_count_against(s, 0, 1.0f), 0);
}

static void test_target_rank_nan_rules(void **state)
{
    (void)state;
    const float s[] = { NAN, 1.0f, 2.0f };
    assert_int_equal(sr_target_rank(s, 3, 1), 3); /* NaN and 2 count against 1 */
    assert_int_equal(sr_target_rank(s, 3, 2), 2); /* only the NaN counts against 2 */
    assert_int_equal(sr_target_rank(s, 3, 0), 3); /* NaN target: last */

    const float t[] = { 1.0f, NAN, 0.0f };
    assert_int_equal(sr_target_rank(t, 3, 0), 2);
    assert_int_equal(sr_target_rank(t, 3, 2), 3);
    assert_int_equal(sr_target_rank(t, 3, 1), 3);

    const float all_nan[] = { NAN, NAN };
    assert_int_equal(sr_target_rank(all_nan, 2, 0), 2);
    const float lone_nan[] = { NAN };
    assert_int_equal(sr_target_rank(lone_nan, 1, 0), 1);
}

/* ---- ranking: against the naive definition ------------------------------- */

static void test_target_rank_matches_naive_with_many_ties(void **state)
{
    (void)state;
    uint64_t rng = 42;
    enum { NMAX = 300 };
    float *s = malloc(NMAX * sizeof *s);
    assert_non_null(s);
    int64_t checked = 0;
    for (int32_t n = 1; n <= NMAX; n += (n < 40 ? 1 : 37)) {
        for (int rep = 0; rep < 3; rep++) {
            fill_tied_scores(&rng, s, n, rep == 2);
            for (int32_t t = 0; t < n; t++) {
                int32_t want = naive_rank(s, n, t, NULL);
                int32_t got = sr_target_rank(s, n, t);
                if (got != want)
                    fail_msg("n=%d target=%d rep=%d: rank %d, naive %d", (int)n, (int)t, rep,
                             (int)got, (int)want);
                checked++;
            }
        }
    }
    assert_true(checked > 5000);
    free(s);
}

/* A long catalogue (exercises the vectorised body and its remainder loop)
 * with the target at both ends. */
static void test_target_rank_long_catalogue_target_at_ends(void **state)
{
    (void)state;
    uint64_t rng = 7;
    enum { N = 100003 };
    float *s = malloc(N * sizeof *s);
    assert_non_null(s);
    fill_tied_scores(&rng, s, N, true);
    const int32_t targets[] = { 0, N - 1, N / 2 };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        assert_int_equal(sr_target_rank(s, N, targets[i]), naive_rank(s, N, targets[i], NULL));
    free(s);
}

static void test_rank_count_against_chunks_sum_to_rank(void **state)
{
    (void)state;
    uint64_t rng = 99;
    enum { N = 1000 };
    float s[N];
    fill_tied_scores(&rng, s, N, true);
    const int32_t chunks[] = { 1, 7, 64, 333, 1000 };
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        for (int32_t t = 0; t < N; t += 13) {
            int32_t sum = 0;
            for (int32_t c0 = 0; c0 < N; c0 += chunks[c]) {
                int32_t len = N - c0 < chunks[c] ? N - c0 : chunks[c];
                sum += sr_rank_count_against(s + c0, len, s[t]);
            }
            assert_int_equal(sum, sr_target_rank(s, N, t));
        }
    }
}

/* ---- ranking with exclusions --------------------------------------------- */

static void test_target_rank_excluding_hand_cases(void **state)
{
    (void)state;
    /* target 3 (score 2): items 0, 1, 2 above -> full rank 4 */
    const float s[] = { 5.0f, 4.0f, 3.0f, 2.0f, 1.0f };
    assert_int_equal(sr_target_rank_excluding(s, 5, 3, NULL, 0), 4);
    const int32_t ex02[] = { 0, 2 };
    assert_int_equal(sr_target_rank_excluding(s, 5, 3, ex02, 2), 2); /* only 1 above */
    const int32_t dup[] = { 0, 0, 2, 2, 0 };
    assert_int_equal(sr_target_rank_excluding(s, 5, 3, dup, 5), 2); /* duplicates once */
    const int32_t self[] = { 3 };
    assert_int_equal(sr_target_rank_excluding(s, 5, 3, self, 1), 4); /* target never excluded */
    const int32_t below[] = { 4 };
    assert_int_equal(sr_target_rank_excluding(s, 5, 3, below, 1), 4); /* was below anyway */
    const int32_t outside[] = { -1, 5, 99 };
    assert_int_equal(sr_target_rank_excluding(s, 5, 3, outside, 3), 4); /* ignored */
    const int32_t above[] = { 2, 1, 0, 3 };
    assert_int_equal(sr_target_rank_excluding(s, 5, 3, above, 4), 1);
    assert_int_equal(sr_target_rank_excluding(s, 5, 3, NULL, 1), 0); /* invalid */
    assert_int_equal(sr_target_rank_excluding(s, 5, 3, ex02, -1), 0);
    assert_int_equal(sr_target_rank_excluding(s, 5, 5, ex02, 2), 0);

    /* ties and NaN: target 0 (score 1), items 1 (tie) and 3 (NaN) count */
    const float t[] = { 1.0f, 1.0f, 0.0f, NAN };
    assert_int_equal(sr_target_rank_excluding(t, 4, 0, NULL, 0), 3);
    const int32_t ex3[] = { 3 };
    assert_int_equal(sr_target_rank_excluding(t, 4, 0, ex3, 1), 2);
    const int32_t ex13[] = { 1, 3 };
    assert_int_equal(sr_target_rank_excluding(t, 4, 0, ex13, 2), 1);
    /* a NaN target ranks last among the remaining candidates: 4 - 1 */
    const int32_t ex2[] = { 2 };
    assert_int_equal(sr_target_rank_excluding(t, 4, 3, ex2, 1), 3);

    uint8_t mask[5] = { 1, 0, 1, 0, 0 };
    assert_int_equal(sr_target_rank_masked(s, 5, 3, mask), 2);
    mask[3] = 1; /* the target's own bit is ignored */
    assert_int_equal(sr_target_rank_masked(s, 5, 3, mask), 2);
    const uint8_t none[5] = { 0 };
    assert_int_equal(sr_target_rank_masked(s, 5, 3, none), 4);
    assert_int_equal(sr_target_rank_masked(s, 5, 3, NULL), 0);
}

static void test_target_rank_exclusion_variants_match_naive(void **state)
{
    (void)state;
    uint64_t rng = 2024;
    enum { NMAX = 120, XMAX = 30 };
    float s[NMAX];
    uint8_t mask[NMAX];
    int32_t ex[XMAX];
    for (int iter = 0; iter < 3000; iter++) {
        int32_t n = 1 + test_rng_below(&rng, NMAX);
        int32_t t = iter % 3 == 0 ? 0 : iter % 3 == 1 ? n - 1 : test_rng_below(&rng, n);
        fill_tied_scores(&rng, s, n, iter % 2 == 0);
        int32_t nx = test_rng_below(&rng, XMAX + 1);
        memset(mask, 0, sizeof mask);
        for (int32_t x = 0; x < nx; x++) {
            /* some out of range, many duplicates, sometimes the target */
            ex[x] = test_rng_below(&rng, n + 4) - 2;
            if (ex[x] >= 0 && ex[x] < n && ex[x] != t)
                mask[ex[x]] = 1;
        }
        int32_t want = naive_rank(s, n, t, mask);
        assert_int_equal(sr_target_rank_excluding(s, n, t, ex, nx), want);
        if (test_rng_below(&rng, 2)) /* set the target's bit too: it must be ignored */
            mask[t] = 1;
        assert_int_equal(sr_target_rank_masked(s, n, t, mask), want);
    }
}

/* ---- metrics ------------------------------------------------------------- */

typedef struct test_kv {
    int n;
    char key[SR_METRICS_N_KEYS][48];
    double value[SR_METRICS_N_KEYS];
    bool is_count[SR_METRICS_N_KEYS];
} test_kv;

static void test_kv_collect(void *ctx, const char *key, double value, bool is_count)
{
    test_kv *kv = ctx;
    assert_true(kv->n < SR_METRICS_N_KEYS);
    assert_true(strlen(key) < sizeof kv->key[0]);
    strcpy(kv->key[kv->n], key);
    kv->value[kv->n] = value;
    kv->is_count[kv->n] = is_count;
    kv->n++;
}

static void collect(const sr_metrics *m, test_kv *kv)
{
    sr_metrics_result r;
    sr_metrics_finish(m, &r);
    memset(kv, 0, sizeof *kv);
    sr_metrics_visit(&r, test_kv_collect, kv);
    assert_int_equal(kv->n, SR_METRICS_N_KEYS);
}

static double kv_get(const test_kv *kv, const char *key)
{
    for (int i = 0; i < kv->n; i++)
        if (strcmp(kv->key[i], key) == 0)
            return kv->value[i];
    fail_msg("metric key %s not visited", key);
    return NAN;
}

/* Four queries:
 *   q1 rank 1,  listened;  q2 rank 3, skipped;
 *   q3 rank 12, listened;  q4 unseen target, skipped.
 * gains 1/log2(r+1): r=1 -> 1, r=3 -> 1/2, r=12 -> 1/log2(13) = 0.27023815442731974
 * all (n = 4):
 *   hr   @1 1/4, @5 2/4, @10 2/4, @20 3/4
 *   ndcg @1 1/4, @5 (1 + .5)/4 = .375, @10 .375, @20 (1.5 + .27023815442731974)/4
 *   mrr  @1 1/4, @5 (1 + 1/3)/4 = 1/3, @10 1/3, @20 (1 + 1/3 + 1/12)/4 = 17/48
 * listened (q1, q3; n = 2):
 *   hr @1 .5 @5 .5 @10 .5 @20 1; ndcg @1..10 .5, @20 (1 + .27023815442731974)/2;
 *   mrr @1..10 .5, @20 (1 + 1/12)/2 = 13/24
 * skipped (q2, q4; n = 2, one unseen):
 *   hr @1 0, @5..20 .5; ndcg @1 0, @5..20 (1/2)/2 = .25;
 *   mrr @1 0, @5..20 (1/3)/2 = 1/6  -> skip_mrr@10 = 1/6 */
static void test_metrics_hand_computed_ranks_1_3_12_unseen(void **state)
{
    (void)state;
    sr_metrics m;
    sr_metrics_init(&m);
    assert_int_equal(sr_metrics_add(&m, 1, false), SR_OK);
    assert_int_equal(sr_metrics_add(&m, 3, true), SR_OK);
    assert_int_equal(sr_metrics_add(&m, 12, false), SR_OK);
    assert_int_equal(sr_metrics_add(&m, SR_METRICS_RANK_UNSEEN, true), SR_OK);
    test_kv kv;
    collect(&m, &kv);
    const double g12 = 0.27023815442731974, tol = 1e-15;
    SR_ASSERT_NEAR(kv_get(&kv, "hr@1"), 0.25, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "hr@5"), 0.5, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "hr@10"), 0.5, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "hr@20"), 0.75, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "ndcg@1"), 0.25, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "ndcg@5"), 0.375, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "ndcg@10"), 0.375, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "ndcg@20"), (1.5 + g12) / 4, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "mrr@1"), 0.25, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "mrr@5"), 1.0 / 3, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "mrr@10"), 1.0 / 3, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "mrr@20"), 17.0 / 48, tol);

    SR_ASSERT_NEAR(kv_get(&kv, "listened_hr@1"), 0.5, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "listened_hr@10"), 0.5, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "listened_hr@20"), 1.0, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "listened_ndcg@10"), 0.5, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "listened_ndcg@20"), (1 + g12) / 2, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "listened_mrr@10"), 0.5, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "listened_mrr@20"), 13.0 / 24, tol);

    SR_ASSERT_NEAR(kv_get(&kv, "skip_hr@1"), 0.0, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "skip_hr@5"), 0.5, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "skip_hr@20"), 0.5, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "skip_ndcg@1"), 0.0, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "skip_ndcg@5"), 0.25, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "skip_mrr@1"), 0.0, tol);
    SR_ASSERT_NEAR(kv_get(&kv, "skip_mrr@10"), 1.0 / 6, tol);

    assert_true(kv_get(&kv, "n_queries") == 4);
    assert_true(kv_get(&kv, "n_listened_queries") == 2);
    assert_true(kv_get(&kv, "n_skipped_queries") == 2);
    assert_true(kv_get(&kv, "n_unseen_queries") == 1);
    assert_true(kv_get(&kv, "n_listened_unseen_queries") == 0);
    assert_true(kv_get(&kv, "n_skipped_unseen_queries") == 1);
}

/* SPEC.md section 6 item 6: the authors picked Skip-MRR queries by the skip
 * label of the LAST INPUT. Here every query's last input has the opposite
 * label of its target: targets skipped are ranked 10 (rr 0.1), targets
 * listened are ranked 1. Selecting by the target gives skip_mrr@10 = 0.1;
 * selecting by the last input would give 1.0. */
static void test_skip_mrr_selects_queries_by_target_label_not_last_input(void **state)
{
    (void)state;
    struct {
        bool last_input_skipped, target_skipped;
        int32_t rank;
    } q[] = { { false, true, 10 }, { true, false, 1 }, { false, true, 10 }, { true, false, 1 },
              { true, false, 1 } };
    sr_metrics m;
    sr_metrics_init(&m);
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        assert_int_equal(sr_metrics_add(&m, q[i].rank, q[i].target_skipped), SR_OK);
    test_kv kv;
    collect(&m, &kv);
    SR_ASSERT_NEAR(kv_get(&kv, "skip_mrr@10"), 0.1, 1e-15);
    assert_true(kv_get(&kv, "n_skipped_queries") == 2);
    SR_ASSERT_NEAR(kv_get(&kv, "listened_mrr@10"), 1.0, 1e-15);
    assert_true(kv_get(&kv, "n_listened_queries") == 3);
    /* all: (0.1 + 1 + 0.1 + 1 + 1) / 5 = 0.64 */
    SR_ASSERT_NEAR(kv_get(&kv, "mrr@10"), 0.64, 1e-15);
}

static void test_metrics_add_rejects_invalid_rank(void **state)
{
    (void)state;
    sr_metrics m, before;
    sr_metrics_init(&m);
    assert_int_equal(sr_metrics_add(&m, 2, false), SR_OK);
    before = m;
    assert_int_equal(sr_metrics_add(&m, 0, false), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "rank 0"));
    assert_int_equal(sr_metrics_add(&m, -2, true), SR_ERR_ARG);
    assert_memory_equal(&m, &before, sizeof m);
    assert_int_equal(sr_metrics_add(NULL, 1, false), SR_ERR_ARG);
}

static void test_metrics_empty_group_is_nan(void **state)
{
    (void)state;
    sr_metrics m;
    sr_metrics_init(&m);
    assert_int_equal(sr_metrics_add(&m, 25, false), SR_OK); /* a miss at every K */
    test_kv kv;
    collect(&m, &kv);
    assert_true(isnan(kv_get(&kv, "skip_mrr@10")));
    assert_true(isnan(kv_get(&kv, "skip_hr@1")));
    assert_true(kv_get(&kv, "n_skipped_queries") == 0);
    assert_true(kv_get(&kv, "hr@20") == 0.0); /* a miss is 0, not NaN */
    assert_true(kv_get(&kv, "listened_ndcg@20") == 0.0);
}

static void test_metrics_visit_keys_in_documented_order(void **state)
{
    (void)state;
    static const char *const want[SR_METRICS_N_KEYS] = {
        "hr@1", "hr@5", "hr@10", "hr@20", "ndcg@1", "ndcg@5", "ndcg@10", "ndcg@20",
        "mrr@1", "mrr@5", "mrr@10", "mrr@20",
        "listened_hr@1", "listened_hr@5", "listened_hr@10", "listened_hr@20",
        "listened_ndcg@1", "listened_ndcg@5", "listened_ndcg@10", "listened_ndcg@20",
        "listened_mrr@1", "listened_mrr@5", "listened_mrr@10", "listened_mrr@20",
        "skip_hr@1", "skip_hr@5", "skip_hr@10", "skip_hr@20",
        "skip_ndcg@1", "skip_ndcg@5", "skip_ndcg@10", "skip_ndcg@20",
        "skip_mrr@1", "skip_mrr@5", "skip_mrr@10", "skip_mrr@20",
        "n_queries", "n_listened_queries", "n_skipped_queries",
        "n_unseen_queries", "n_listened_unseen_queries", "n_skipped_unseen_queries",
    };
    sr_metrics m;
    sr_metrics_init(&m);
    test_kv kv;
    collect(&m, &kv);
    for (int i = 0; i < SR_METRICS_N_KEYS; i++) {
        assert_string_equal(kv.key[i], want[i]);
        assert_true(kv.is_count[i] == (i >= 36));
    }
}

/* Random ranks (many beyond 20, some unseen) with random target labels. */
static void random_queries(uint64_t *rng, int32_t *rank, bool *skipped, int n)
{
    for (int i = 0; i < n; i++) {
        int32_t u = test_rng_below(rng, 100);
        rank[i] = u < 5 ? SR_METRICS_RANK_UNSEEN : 1 + test_rng_below(rng, u < 60 ? 25 : 5000);
        skipped[i] = test_rng_below(rng, 3) == 0;
    }
}

static void test_metrics_merge_order_invariance(void **state)
{
    (void)state;
    enum { N = 4000, P = 4 };
    int32_t rank[N];
    bool skipped[N];
    uint64_t rng = 5;
    random_queries(&rng, rank, skipped, N);

    sr_metrics whole, part[P];
    sr_metrics_init(&whole);
    for (int p = 0; p < P; p++)
        sr_metrics_init(&part[p]);
    for (int i = 0; i < N; i++) {
        assert_int_equal(sr_metrics_add(&whole, rank[i], skipped[i]), SR_OK);
        assert_int_equal(sr_metrics_add(&part[(i * 7) % P], rank[i], skipped[i]), SR_OK);
    }
    static const int orders[3][P] = { { 0, 1, 2, 3 }, { 3, 1, 0, 2 }, { 0, 1, 2, 3 } };
    sr_metrics merged[3];
    for (int o = 0; o < 3; o++) {
        sr_metrics_init(&merged[o]);
        for (int p = 0; p < P; p++)
            sr_metrics_merge(&merged[o], &part[orders[o][p]]);
    }
    for (int o = 0; o < 3; o++) {
        for (int g = 0; g < SR_METRICS_GROUP_COUNT; g++) {
            const sr_metrics_sums *a = &merged[o].group[g], *w = &whole.group[g];
            /* counts and hits: exact whatever the order */
            assert_int_equal(a->n_queries, w->n_queries);
            assert_int_equal(a->n_unseen, w->n_unseen);
            for (int k = 0; k < SR_METRICS_N_K; k++) {
                assert_int_equal(a->hits[k], w->hits[k]);
                SR_ASSERT_NEAR(a->mrr[k], w->mrr[k], 1e-11);
                SR_ASSERT_NEAR(a->ndcg[k], w->ndcg[k], 1e-11);
            }
        }
    }
    /* the same fixed order twice: bit-identical sums */
    assert_memory_equal(&merged[0], &merged[2], sizeof merged[0]);
    /* groups partition "all" */
    assert_int_equal(whole.group[0].n_queries,
                     whole.group[1].n_queries + whole.group[2].n_queries);
    assert_int_equal(whole.group[0].n_queries, N);
    /* merging an empty accumulator changes nothing */
    sr_metrics copy = merged[0], empty;
    sr_metrics_init(&empty);
    sr_metrics_merge(&copy, &empty);
    assert_memory_equal(&copy, &merged[0], sizeof copy);
}

static void test_metrics_match_python_reference(void **state)
{
    (void)state;
    char script[SR_TEST_PATH_MAX];
    snprintf(script, sizeof script, "%s/tests/scripts/metrics_reference.py", SR_SOURCE_DIR);
    if (!sr_test_exists(script) || system("command -v python3 >/dev/null 2>&1") != 0) {
        skip();
        return;
    }
    enum { N = 3000 };
    int32_t rank[N];
    bool skipped[N];
    uint64_t rng = 11;
    random_queries(&rng, rank, skipped, N);
    sr_metrics m;
    sr_metrics_init(&m);
    char *text = malloc((size_t)N * 16);
    assert_non_null(text);
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(sr_metrics_add(&m, rank[i], skipped[i]), SR_OK);
        len += (size_t)snprintf(text + len, 16, "%d %d\n", (int)rank[i], skipped[i] ? 1 : 0);
    }
    const char *path = sr_test_path("queries.txt");
    sr_test_write_file(path, text, len);
    free(text);

    test_kv kv;
    collect(&m, &kv);

    char cmd[2 * SR_TEST_PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s'", script, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        char key[64];
        double v;
        assert_int_equal(sscanf(line, "%63s %lf", key, &v), 2);
        assert_true(n < SR_METRICS_N_KEYS);
        assert_string_equal(key, kv.key[n]); /* same order */
        if (kv.is_count[n])
            assert_true(kv.value[n] == v);
        else
            SR_ASSERT_NEAR(kv.value[n], v, 1e-12);
        n++;
    }
    assert_int_equal(pclose(p), 0);
    assert_int_equal(n, SR_METRICS_N_KEYS);
    /* the data exercise every group */
    assert_true(kv_get(&kv, "n_skipped_unseen_queries") > 0);
    assert_true(kv_get(&kv, "skip_hr@1") > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_rank_hand_cases),
        cmocka_unit_test(test_target_rank_invalid_arguments_return_zero),
        cmocka_unit_test(test_target_rank_nan_rules),
        cmocka_unit_test(test_target_rank_matches_naive_with_many_ties),
        cmocka_unit_test(test_target_rank_long_catalogue_target_at_ends),
        cmocka_unit_test(test_rank_count_against_chunks_sum_to_rank),
        cmocka_unit_test(test_target_rank_excluding_hand_cases),
        cmocka_unit_test(test_target_rank_exclusion_variants_match_naive),
        cmocka_unit_test(test_metrics_hand_computed_ranks_1_3_12_unseen),
        cmocka_unit_test(test_skip_mrr_selects_queries_by_target_label_not_last_input),
        cmocka_unit_test(test_metrics_add_rejects_invalid_rank),
        cmocka_unit_test(test_metrics_empty_group_is_nan),
        cmocka_unit_test(test_metrics_visit_keys_in_documented_order),
        cmocka_unit_test(test_metrics_merge_order_invariance),
        SR_TEST_IN_DIR(test_metrics_match_python_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
