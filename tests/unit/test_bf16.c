/* test_bf16.c - bf16 rounding and the packed-table scoring kernels
 * (core/sr_bf16.h) against a double-precision product of the same rounded
 * inputs. */
#include "sr_test.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "sr_bf16.h"

/* Hand-worked roundings: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> even
 * (1); 1 + 3 * 2^-8 is a tie -> even (1 + 2^-6); just above a tie rounds up. */
static void test_bf16_rounds_to_nearest_even(void **state)
{
    (void)state;
    assert_int_equal(sr_bf16_from_f32(1.0f), 0x3f80);
    assert_int_equal(sr_bf16_from_f32(-2.0f), 0xc000);
    assert_int_equal(sr_bf16_from_f32(1.0f + 0x1p-8f), 0x3f80);
    assert_int_equal(sr_bf16_from_f32(1.0f + 3 * 0x1p-8f), 0x3f82);
    assert_int_equal(sr_bf16_from_f32(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    assert_int_equal(sr_bf16_from_f32(0.0f), 0x0000);
    assert_true(sr_bf16_to_f32(sr_bf16_from_f32(INFINITY)) == INFINITY);
    assert_true(isnan(sr_bf16_to_f32(sr_bf16_from_f32(NAN))));
    assert_true(sr_bf16_to_f32(0x3f81) == 1.0f + 0x1p-7f);
    /* every bf16 value converts to f32 and back unchanged */
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float x = sr_bf16_to_f32((uint16_t)h);
        if (!isnan(x))
            assert_int_equal(sr_bf16_from_f32(x), h);
    }
}

static float frand(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*x >> 40) & 0xffffff) / 16777216.0f - 0.5f;
}

/* Every B from 1 to 37 (all tile splits), odd and even D, I not a multiple
 * of 16, both kernels: each score within f32 summation error of the double
 * product of the bf16-rounded inputs; columns past I untouched. */
static void check_kernel(int portable)
{
    sr_bf16_force_portable(portable);
    const int Ds[3] = { 1, 7, 64 };
    const int32_t I = 53;
    for (int di = 0; di < 3; di++) {
        int D = Ds[di];
        uint64_t x = 99 + (uint64_t)D;
        float *table = malloc(sizeof(float) * (size_t)I * (size_t)D);
        float q[37 * 64];
        assert_non_null(table);
        for (int64_t i = 0; i < (int64_t)I * D; i++)
            table[i] = 4.0f * frand(&x);
        for (int i = 0; i < 37 * D; i++)
            q[i] = frand(&x);
        sr_bf16_table *t = NULL;
        assert_int_equal(sr_bf16_table_new(table, I, D, &t), SR_OK);
        assert_int_equal(sr_bf16_table_bytes(t), (size_t)4 * ((D + 1) / 2) * 16 * 2 * 2);
        const int64_t ldc = I + 3;
        /* 48 rows: sr_bf16_rows(37) = 32 + 8 = 40, the rest must stay untouched */
        float *scores = malloc(sizeof(float) * 48 * (size_t)ldc);
        uint32_t work[48 * 32];
        assert_non_null(scores);
        for (int B = 1; B <= 37; B++) {
            assert_true(sr_bf16_work_words(t, B) <= sizeof work / sizeof work[0]);
            for (int64_t k = 0; k < 48 * ldc; k++)
                scores[k] = -7.0f;
            sr_bf16_scores(t, q, B, scores, ldc, work);
            for (int b = 0; b < B; b++) {
                for (int32_t i = 0; i < I; i++) {
                    double want = 0.0, mag = 0.0;
                    for (int d = 0; d < D; d++) {
                        double p = (double)sr_bf16_to_f32(sr_bf16_from_f32(q[b * D + d])) *
                                   (double)sr_bf16_to_f32(sr_bf16_from_f32(table[i * D + d]));
                        want += p;
                        mag += fabs(p);
                    }
                    SR_ASSERT_NEAR(scores[b * ldc + i], want, 1e-6 * (mag + 1e-3) * D);
                }
                for (int64_t i = I; i < ldc; i++)
                    assert_true(scores[b * ldc + i] == -7.0f);
            }
            for (int b = sr_bf16_rows(B); b < 48; b++)
                assert_true(scores[b * ldc] == -7.0f);
        }
        free(scores);
        free(table);
        sr_bf16_table_free(&t);
        assert_null(t);
    }
    sr_bf16_force_portable(0);
}

static void test_bf16_portable_kernel_matches_double_product(void **state)
{
    (void)state;
    check_kernel(1);
}

static void test_bf16_cpu_kernel_matches_double_product(void **state)
{
    (void)state;
    /* the AVX-512 BF16 kernel where the CPU has it (else the portable one again) */
    print_message("kernel: %s\n", sr_bf16_kernel_name());
    check_kernel(0);
}

/* Padded tiles: 16 per tile, the last rounded up to a power of two. */
static void test_bf16_rows_pad_the_last_tile(void **state)
{
    (void)state;
    const int want[][2] = { { 1, 1 }, { 2, 2 }, { 3, 4 }, { 5, 8 }, { 8, 8 }, { 9, 16 },
                            { 16, 16 }, { 17, 17 }, { 19, 20 }, { 37, 40 }, { 48, 48 },
                            { 127, 128 }, { 0, 0 } };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(sr_bf16_rows(want[i][0]), want[i][1]);
}

/* Each thread scores its own range of the table: the same bits for 1, 2
 * and 3 threads, and for a table with fewer blocks than threads. */
static void test_bf16_scores_are_the_same_for_every_thread_count(void **state)
{
    (void)state;
    const int32_t sizes[2] = { 1000, 20 };
    for (int si = 0; si < 2; si++) {
        int32_t I = sizes[si];
        const int D = 24, B = 5;
        uint64_t x = 7;
        float *table = malloc(sizeof(float) * (size_t)I * D);
        float q[5 * 24];
        assert_non_null(table);
        for (int64_t i = 0; i < (int64_t)I * D; i++)
            table[i] = frand(&x);
        for (int i = 0; i < B * D; i++)
            q[i] = frand(&x);
        sr_bf16_table *t = NULL;
        assert_int_equal(sr_bf16_table_new(table, I, D, &t), SR_OK);
        float *one = malloc(sizeof(float) * 8 * (size_t)I);
        float *many = malloc(sizeof(float) * 8 * (size_t)I);
        uint32_t work[8 * 12];
        assert_non_null(one);
        assert_non_null(many);
        int prev = omp_get_max_threads();
        omp_set_num_threads(1);
        sr_bf16_scores(t, q, B, one, I, work);
        for (int th = 2; th <= 3; th++) {
            omp_set_num_threads(th);
            memset(many, 0, sizeof(float) * 8 * (size_t)I);
            sr_bf16_scores(t, q, B, many, I, work);
            assert_memory_equal(one, many, sizeof(float) * (size_t)B * (size_t)I);
        }
        omp_set_num_threads(prev);
        free(one);
        free(many);
        free(table);
        sr_bf16_table_free(&t);
    }
}

static void test_bf16_refuses_empty_tables(void **state)
{
    (void)state;
    float one = 1.0f;
    sr_bf16_table *t = NULL;
    assert_int_equal(sr_bf16_table_new(&one, 0, 1, &t), SR_ERR_ARG);
    assert_int_equal(sr_bf16_table_new(&one, 1, 0, &t), SR_ERR_ARG);
    assert_int_equal(sr_bf16_table_new(NULL, 1, 1, &t), SR_ERR_ARG);
    assert_null(t);
    sr_bf16_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_rounds_to_nearest_even),
        cmocka_unit_test(test_bf16_portable_kernel_matches_double_product),
        cmocka_unit_test(test_bf16_cpu_kernel_matches_double_product),
        cmocka_unit_test(test_bf16_rows_pad_the_last_tile),
        cmocka_unit_test(test_bf16_scores_are_the_same_for_every_thread_count),
        cmocka_unit_test(test_bf16_refuses_empty_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
