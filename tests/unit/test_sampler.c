/* test_sampler.c - uniform and popularity samplers: q values computed by
 * hand, frequencies over 1e5 draws within 5 standard deviations of q, items
 * of weight 0 never drawn, same seed same stream, argument errors; the
 * authors' candidate list (distinct sorted targets, distinct negatives
 * outside them, uniform without replacement). */
#include "sr_test.h"

#include <math.h>

#include "sr_rng.h"
#include "sr_sampler.h"

#define DRAWS 100000

/* Every item's count within 5 binomial standard deviations of DRAWS * q,
 * and the q reported with each draw equal to sr_sampler_prob. */
static void check_frequencies(const sr_sampler *s, uint64_t seed)
{
    int32_t I = sr_sampler_size(s);
    int32_t *items = malloc(DRAWS * sizeof *items);
    float *q = malloc(DRAWS * sizeof *q);
    long *count = calloc((size_t)I, sizeof *count);
    assert_true(items && q && count);
    sr_rng r;
    sr_rng_seed(&r, seed);
    sr_sampler_draw(s, &r, DRAWS, items, q);
    for (int i = 0; i < DRAWS; i++) {
        assert_true(items[i] >= 0 && items[i] < I);
        assert_true(q[i] == (float)sr_sampler_prob(s, items[i]));
        count[items[i]]++;
    }
    for (int32_t i = 0; i < I; i++) {
        double p = sr_sampler_prob(s, i);
        double mean = DRAWS * p, sd = sqrt(DRAWS * p * (1 - p));
        if (fabs((double)count[i] - mean) > 5 * sd + 1e-9)
            fail_msg("item %d: %ld draws, expected %.1f +- %.1f", (int)i, count[i], mean, 5 * sd);
    }
    free(items);
    free(q);
    free(count);
}

static void test_uniform_q_and_frequencies(void **state)
{
    (void)state;
    sr_sampler *s = NULL;
    assert_int_equal(sr_sampler_new_uniform(10, &s), SR_OK);
    assert_int_equal(sr_sampler_kind_of(s), SR_SAMPLER_KIND_UNIFORM);
    assert_int_equal(sr_sampler_size(s), 10);
    for (int32_t i = 0; i < 10; i++)
        assert_true(sr_sampler_prob(s, i) == 0.1);
    assert_true(sr_sampler_prob(s, 10) == 0.0);
    assert_true(sr_sampler_prob(s, -1) == 0.0);
    check_frequencies(s, 1);
    sr_sampler_free(&s);
    assert_null(s);
    sr_sampler_free(&s); /* NULL-safe */
    sr_sampler_free(NULL);
}

static void test_popularity_q_hand_computed(void **state)
{
    (void)state;
    const uint32_t counts[4] = { 1, 3, 0, 6 };
    sr_sampler *s = NULL;
    /* smoothing 0, power 1: q = counts / 10 */
    assert_int_equal(sr_sampler_new_popularity(counts, 4, 0.0, 1.0, &s), SR_OK);
    const double q1[4] = { 0.1, 0.3, 0.0, 0.6 };
    for (int i = 0; i < 4; i++)
        assert_true(fabs(sr_sampler_prob(s, i) - q1[i]) < 1e-15);
    sr_sampler_free(&s);
    /* smoothing 1: (2, 4, 1, 7) / 14 */
    assert_int_equal(sr_sampler_new_popularity(counts, 4, 1.0, 1.0, &s), SR_OK);
    const double q2[4] = { 2 / 14.0, 4 / 14.0, 1 / 14.0, 7 / 14.0 };
    for (int i = 0; i < 4; i++)
        assert_true(fabs(sr_sampler_prob(s, i) - q2[i]) < 1e-15);
    int32_t items[3] = { 3, -1, 2 };
    float q[3];
    sr_sampler_probs(s, items, 3, q);
    assert_true(q[0] == 0.5f && q[1] == 0.0f && q[2] == (float)(1 / 14.0));
    sr_sampler_free(&s);
    /* power 0.5: sqrt(1, 3, 0, 6) / (1 + 1.7320508 + 2.4494897) */
    assert_int_equal(sr_sampler_new_popularity(counts, 4, 0.0, 0.5, &s), SR_OK);
    double z = 1 + sqrt(3.0) + sqrt(6.0);
    assert_true(fabs(sr_sampler_prob(s, 1) - sqrt(3.0) / z) < 1e-15);
    assert_true(fabs(sr_sampler_prob(s, 0) - 0.1929928) < 1e-7); /* 1 / 5.1815406 */
    sr_sampler_free(&s);
    /* power 0: uniform, even over count-0 items */
    assert_int_equal(sr_sampler_new_popularity(counts, 4, 0.0, 0.0, &s), SR_OK);
    assert_true(fabs(sr_sampler_prob(s, 2) - 0.25) < 1e-15);
    sr_sampler_free(&s);
}

static void test_popularity_frequencies_and_zero_weight_never_drawn(void **state)
{
    (void)state;
    /* a skewed catalogue: Zipf-like counts, every 7th item unseen */
    enum { I = 200 };
    uint32_t counts[I];
    for (int i = 0; i < I; i++)
        counts[i] = i % 7 == 3 ? 0 : 10000u / (uint32_t)(i + 1);
    sr_sampler *s = NULL;
    assert_int_equal(sr_sampler_new_popularity(counts, I, 0.0, 1.0, &s), SR_OK);
    assert_int_equal(sr_sampler_kind_of(s), SR_SAMPLER_KIND_POPULARITY);
    double total = 0.0;
    for (int i = 0; i < I; i++)
        total += sr_sampler_prob(s, i);
    assert_true(fabs(total - 1.0) < 1e-12);
    check_frequencies(s, 2); /* q = 0 items: mean 0, sd 0, so any draw fails */
    sr_sampler_free(&s);
    /* with smoothing the unseen items come back, at (0 + 0.5) / sum */
    assert_int_equal(sr_sampler_new_popularity(counts, I, 0.5, 0.75, &s), SR_OK);
    assert_true(sr_sampler_prob(s, 3) > 0.0);
    check_frequencies(s, 3);
    sr_sampler_free(&s);
}

static void test_single_item_catalogue(void **state)
{
    (void)state;
    const uint32_t counts[1] = { 5 };
    sr_sampler *s = NULL;
    assert_int_equal(sr_sampler_new_popularity(counts, 1, 0.0, 1.0, &s), SR_OK);
    sr_rng r;
    sr_rng_seed(&r, 4);
    int32_t items[8];
    float q[8];
    sr_sampler_draw(s, &r, 8, items, q);
    for (int i = 0; i < 8; i++)
        assert_true(items[i] == 0 && q[i] == 1.0f);
    sr_sampler_free(&s);
}

static void test_same_seed_same_stream(void **state)
{
    (void)state;
    uint32_t counts[50];
    for (int i = 0; i < 50; i++)
        counts[i] = (uint32_t)(i * i % 17);
    sr_sampler *pop = NULL, *uni = NULL;
    assert_int_equal(sr_sampler_new_popularity(counts, 50, 0.1, 1.0, &pop), SR_OK);
    assert_int_equal(sr_sampler_new_uniform(50, &uni), SR_OK);
    const sr_sampler *ss[2] = { pop, uni };
    for (int k = 0; k < 2; k++) {
        int32_t a[256], b[256], c[256];
        sr_rng r;
        sr_rng_seed(&r, 42);
        sr_sampler_draw(ss[k], &r, 256, a, NULL);
        sr_rng_seed(&r, 42);
        sr_sampler_draw(ss[k], &r, 100, b, NULL); /* split in two calls: same stream */
        sr_sampler_draw(ss[k], &r, 156, b + 100, NULL);
        sr_rng_seed(&r, 43);
        sr_sampler_draw(ss[k], &r, 256, c, NULL);
        assert_memory_equal(a, b, sizeof a);
        assert_memory_not_equal(a, c, sizeof a);
    }
    sr_sampler_free(&pop);
    sr_sampler_free(&uni);
}

static void test_bad_arguments_are_errors(void **state)
{
    (void)state;
    const uint32_t counts[3] = { 1, 2, 3 };
    const uint32_t zeros[3] = { 0, 0, 0 };
    sr_sampler *s = (sr_sampler *)(uintptr_t)1; /* must be reset to NULL on failure */
    assert_int_equal(sr_sampler_new_uniform(0, &s), SR_ERR_ARG);
    assert_null(s);
    assert_int_equal(sr_sampler_new_popularity(counts, 0, 0.0, 1.0, &s), SR_ERR_ARG);
    assert_int_equal(sr_sampler_new_popularity(NULL, 3, 0.0, 1.0, &s), SR_ERR_ARG);
    assert_int_equal(sr_sampler_new_popularity(counts, 3, -1.0, 1.0, &s), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "smoothing -1"));
    assert_int_equal(sr_sampler_new_popularity(counts, 3, NAN, 1.0, &s), SR_ERR_ARG);
    assert_int_equal(sr_sampler_new_popularity(counts, 3, 0.0, -0.5, &s), SR_ERR_ARG);
    assert_int_equal(sr_sampler_new_popularity(counts, 3, 0.0, INFINITY, &s), SR_ERR_ARG);
    assert_int_equal(sr_sampler_new_popularity(counts, 3, 1e300, 2.0, &s), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "overflow"));
    assert_int_equal(sr_sampler_new_popularity(zeros, 3, 0.0, 1.0, &s), SR_ERR_EMPTY);
    assert_null(s);
}

static void test_sampler_kind_parse_and_name(void **state)
{
    (void)state;
    sr_sampler_kind k = SR_SAMPLER_KIND_UNIFORM;
    assert_int_equal(sr_sampler_kind_parse(sr_str_c("popularity"), &k), SR_OK);
    assert_int_equal(k, SR_SAMPLER_KIND_POPULARITY);
    assert_int_equal(sr_sampler_kind_parse(sr_str_c("uniform"), &k), SR_OK);
    assert_int_equal(k, SR_SAMPLER_KIND_UNIFORM);
    assert_string_equal(sr_sampler_kind_name(SR_SAMPLER_KIND_POPULARITY), "popularity");
    assert_string_equal(sr_sampler_kind_name((sr_sampler_kind)9), "unknown");
    assert_int_equal(sr_sampler_kind_parse(sr_str_c("Uniform"), &k), SR_ERR_ARG);
}

/* ---- the authors' candidates ---------------------------------------------------- */

static void test_authors_candidates_layout(void **state)
{
    (void)state;
    const int32_t tg[7] = { 9, 2, -1, 9, 14, 2, 0 };
    int32_t out[7 + 6];
    int nd = -1, nc = -1;
    sr_rng r;
    sr_rng_seed(&r, 8);
    assert_int_equal(sr_sampler_candidates_authors(tg, 7, 15, 6, &r, out, 13, &nd, &nc), SR_OK);
    assert_int_equal(nd, 4);
    assert_int_equal(nc, 10);
    const int32_t distinct[4] = { 0, 2, 9, 14 };
    assert_memory_equal(out, distinct, sizeof distinct);
    for (int i = nd; i < nc; i++) {
        assert_true(out[i] >= 0 && out[i] < 15);
        for (int j = 0; j < nd; j++)
            assert_true(out[i] != distinct[j]); /* no target among the negatives */
        if (i > nd)
            assert_true(out[i] > out[i - 1]); /* ascending, hence distinct */
    }
    /* every non-target drawn: 11 left, ask for all 11 */
    int32_t all[7 + 11];
    assert_int_equal(sr_sampler_candidates_authors(tg, 7, 15, 11, &r, all, 18, &nd, &nc), SR_OK);
    const int32_t rest[11] = { 1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13 };
    assert_int_equal(nc, 15);
    assert_memory_equal(all + 4, rest, sizeof rest);
}

static void test_authors_candidates_errors(void **state)
{
    (void)state;
    const int32_t tg[3] = { 1, 2, 3 };
    int32_t out[16];
    int nd, nc;
    sr_rng r;
    sr_rng_seed(&r, 1);
    /* 5 items, 3 are targets: only 2 left */
    assert_int_equal(sr_sampler_candidates_authors(tg, 3, 5, 3, &r, out, 16, &nd, &nc), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "only 2 items"));
    assert_int_equal(sr_sampler_candidates_authors(tg, 3, 3, 0, &r, out, 16, &nd, &nc), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "target 3 of row 2"));
    assert_int_equal(sr_sampler_candidates_authors(tg, 3, 10, 4, &r, out, 6, &nd, &nc), SR_ERR_ARG);
    assert_int_equal(sr_sampler_candidates_authors(tg, 3, 10, -1, &r, out, 16, &nd, &nc),
                     SR_ERR_ARG);
    /* no target at all: just the negatives */
    const int32_t none[2] = { -1, -1 };
    assert_int_equal(sr_sampler_candidates_authors(none, 2, 10, 3, &r, out, 5, &nd, &nc), SR_OK);
    assert_int_equal(nd, 0);
    assert_int_equal(nc, 3);
}

static void test_authors_candidates_uniform_without_replacement(void **state)
{
    (void)state;
    /* 10 items, targets {2, 5}: 3 negatives out of the 8 others, each with
     * probability 3/8 per call; every pair of them with probability
     * (3/8)(2/7) = 3/28 (a pair test catches schemes that are uniform per
     * item but not per subset). 20000 calls, 5 standard deviations. */
    enum { CALLS = 20000 };
    const int32_t tg[2] = { 5, 2 };
    long count[10] = { 0 }, pair01 = 0;
    sr_rng r;
    sr_rng_seed(&r, 12);
    for (int c = 0; c < CALLS; c++) {
        int32_t out[5];
        int nd, nc;
        assert_int_equal(sr_sampler_candidates_authors(tg, 2, 10, 3, &r, out, 5, &nd, &nc), SR_OK);
        bool has0 = false, has1 = false;
        for (int i = nd; i < nc; i++) {
            count[out[i]]++;
            has0 |= out[i] == 0;
            has1 |= out[i] == 1;
        }
        pair01 += has0 && has1;
    }
    assert_int_equal(count[2], 0);
    assert_int_equal(count[5], 0);
    double p = 3.0 / 8, sd = sqrt(CALLS * p * (1 - p));
    for (int i = 0; i < 10; i++) {
        if (i == 2 || i == 5)
            continue;
        if (fabs((double)count[i] - CALLS * p) > 5 * sd)
            fail_msg("item %d drawn %ld times, expected %.0f +- %.0f", i, count[i], CALLS * p,
                     5 * sd);
    }
    double pp = 3.0 / 28, psd = sqrt(CALLS * pp * (1 - pp));
    assert_true(fabs((double)pair01 - CALLS * pp) < 5 * psd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_q_and_frequencies),
        cmocka_unit_test(test_popularity_q_hand_computed),
        cmocka_unit_test(test_popularity_frequencies_and_zero_weight_never_drawn),
        cmocka_unit_test(test_single_item_catalogue),
        cmocka_unit_test(test_same_seed_same_stream),
        cmocka_unit_test(test_bad_arguments_are_errors),
        cmocka_unit_test(test_sampler_kind_parse_and_name),
        cmocka_unit_test(test_authors_candidates_layout),
        cmocka_unit_test(test_authors_candidates_errors),
        cmocka_unit_test(test_authors_candidates_uniform_without_replacement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
