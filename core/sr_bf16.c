/* sr_bf16.c - packed bf16 tables and their scoring kernels (sr_bf16.h).
 * The kernels are generated for fixed query tiles (1, 2, 4, 8, 16) so that
 * the running sums stay in registers; sr_bf16_scores splits B into tiles. */
#include "sr_bf16.h"

#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SR_BF16_X86 1
#endif

#define SR_BF16_ROWS 16 /* rows per block: one AVX-512 register of f32 sums */

struct sr_bf16_table {
    int32_t I;
    int D;
    int P;              /* dimension pairs: ceil(D / 2) */
    int32_t blocks;     /* ceil(I / 16) */
    uint16_t *packed;   /* [blocks][P][16 rows][2] */
};

uint16_t sr_bf16_from_f32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if (isnan(x))
        return (uint16_t)((u >> 16) | 0x40); /* quiet NaN, sign kept */
    u += 0x7fffu + ((u >> 16) & 1u);         /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

float sr_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

sr_err sr_bf16_table_new(const float *table, int32_t I, int D, sr_bf16_table **out)
{
    *out = NULL;
    if (!table || I < 1 || I > INT32_MAX - SR_BF16_ROWS || D < 1)
        return sr_errorf(SR_ERR_ARG, "bf16 table: I = %d, D = %d (both >= 1, I < 2^31 - 16)",
                         (int)I, D);
    sr_bf16_table *t = calloc(1, sizeof *t);
    if (!t)
        return sr_errorf(SR_ERR_NOMEM, "bf16 table: out of memory");
    t->I = I;
    t->D = D;
    t->P = (D + 1) / 2;
    t->blocks = (I + SR_BF16_ROWS - 1) / SR_BF16_ROWS;
    size_t n = (size_t)t->blocks * (size_t)t->P * SR_BF16_ROWS * 2;
    t->packed = aligned_alloc(64, n * sizeof(uint16_t)); /* n * 2 is a multiple of 64 */
    if (!t->packed) {
        free(t);
        return sr_errorf(SR_ERR_NOMEM, "bf16 table: out of memory for %zu bytes",
                         n * sizeof(uint16_t));
    }
    for (int32_t blk = 0; blk < t->blocks; blk++) {
        uint16_t *dst = t->packed + (size_t)blk * (size_t)t->P * SR_BF16_ROWS * 2;
        for (int p = 0; p < t->P; p++) {
            for (int r = 0; r < SR_BF16_ROWS; r++) {
                int32_t i = blk * SR_BF16_ROWS + r;
                for (int h = 0; h < 2; h++) {
                    int d = 2 * p + h;
                    float v = (i < I && d < D) ? table[(size_t)i * (size_t)D + (size_t)d] : 0.0f;
                    dst[((size_t)p * SR_BF16_ROWS + (size_t)r) * 2 + (size_t)h] =
                        sr_bf16_from_f32(v);
                }
            }
        }
    }
    *out = t;
    return SR_OK;
}

void sr_bf16_table_free(sr_bf16_table **t)
{
    if (!t || !*t)
        return;
    free((*t)->packed);
    free(*t);
    *t = NULL;
}

size_t sr_bf16_table_bytes(const sr_bf16_table *t)
{
    return (size_t)t->blocks * (size_t)t->P * SR_BF16_ROWS * 2 * sizeof(uint16_t);
}

int sr_bf16_rows(int B)
{
    if (B < 1)
        return 0;
    int full = B / 16 * 16, rest = B - full, tile = 1;
    while (tile < rest)
        tile *= 2;
    return full + (rest ? tile : 0);
}

size_t sr_bf16_work_words(const sr_bf16_table *t, int B)
{
    return (size_t)sr_bf16_rows(B) * (size_t)t->P;
}

/* ---- kernels: scores[j * ldc + i] for the NB queries qw[j * P + p] ---------- */

/* Store the 16 sums of a block, or only its first `rows` (the last block). */
static void sr_bf16_store(float *dst, const float *acc, int rows)
{
    memcpy(dst, acc, sizeof(float) * (size_t)rows);
}

#define SR_BF16_PORTABLE_KERNEL(NB)                                                           \
    static void sr_bf16_portable_##NB(const sr_bf16_table *t, const uint32_t *qw,             \
                                      float *scores, int64_t ldc, int32_t blk0, int32_t blk1) \
    {                                                                                         \
        const int P = t->P;                                                                   \
        for (int32_t blk = blk0; blk < blk1; blk++) {                                         \
            const uint16_t *base = t->packed + (size_t)blk * (size_t)P * SR_BF16_ROWS * 2;    \
            float acc[NB][SR_BF16_ROWS];                                                      \
            memset(acc, 0, sizeof acc);                                                       \
            for (int p = 0; p < P; p++) {                                                     \
                const uint16_t *tv = base + (size_t)p * SR_BF16_ROWS * 2;                     \
                float lo[SR_BF16_ROWS], hi[SR_BF16_ROWS];                                     \
                for (int r = 0; r < SR_BF16_ROWS; r++) {                                      \
                    lo[r] = sr_bf16_to_f32(tv[2 * r]);                                        \
                    hi[r] = sr_bf16_to_f32(tv[2 * r + 1]);                                    \
                }                                                                             \
                for (int j = 0; j < NB; j++) {                                                \
                    uint32_t w = qw[(size_t)j * (size_t)P + (size_t)p];                       \
                    float q0 = sr_bf16_to_f32((uint16_t)(w & 0xffffu));                       \
                    float q1 = sr_bf16_to_f32((uint16_t)(w >> 16));                           \
                    _Pragma("omp simd") for (int r = 0; r < SR_BF16_ROWS; r++)               \
                        acc[j][r] += q0 * lo[r] + q1 * hi[r];                                 \
                }                                                                             \
            }                                                                                 \
            int32_t i0 = blk * SR_BF16_ROWS;                                                  \
            int rows = t->I - i0 < SR_BF16_ROWS ? (int)(t->I - i0) : SR_BF16_ROWS;            \
            for (int j = 0; j < NB; j++)                                                      \
                sr_bf16_store(scores + (size_t)j * (size_t)ldc + (size_t)i0, acc[j], rows);   \
        }                                                                                     \
    }

SR_BF16_PORTABLE_KERNEL(1)
SR_BF16_PORTABLE_KERNEL(2)
SR_BF16_PORTABLE_KERNEL(4)
SR_BF16_PORTABLE_KERNEL(8)
SR_BF16_PORTABLE_KERNEL(16)

#ifdef SR_BF16_X86
/* VDPBF16PS: acc[r] += t[r].lo * q.lo + t[r].hi * q.hi for the 16 rows. */
/* VDPBF16PS: acc[r] += t[r].lo * q.lo + t[r].hi * q.hi for the 16 rows.
 * With few queries one running sum per query would be a chain of dependent
 * instructions (latency-bound, not bandwidth-bound): CH sums per query over
 * interleaved dimension pairs, added at the end, keep CH chains in flight. */
#define SR_BF16_AVX512_KERNEL(NB, CH)                                                         \
    __attribute__((target("avx512f,avx512bf16"))) static void sr_bf16_avx512_##NB(           \
        const sr_bf16_table *t, const uint32_t *qw, float *scores, int64_t ldc, int32_t blk0,  \
        int32_t blk1)                                                                         \
    {                                                                                         \
        const int P = t->P;                                                                   \
        const int P_even = P / CH * CH;                                                       \
        for (int32_t blk = blk0; blk < blk1; blk++) {                                         \
            const uint16_t *base = t->packed + (size_t)blk * (size_t)P * SR_BF16_ROWS * 2;    \
            __m512 acc[NB * CH];                                                              \
            _Pragma("GCC unroll 16") for (int j = 0; j < NB * CH; j++)                        \
                acc[j] = _mm512_setzero_ps();                                                 \
            for (int p = 0; p < P_even; p += CH) {                                            \
                _Pragma("GCC unroll 4") for (int c = 0; c < CH; c++) {                        \
                    __m512i tv = _mm512_load_si512((const void *)(base + (size_t)(p + c) * 32)); \
                    _Pragma("GCC unroll 16") for (int j = 0; j < NB; j++) {                   \
                        __m512i qv = _mm512_set1_epi32(                                       \
                            (int)qw[(size_t)j * (size_t)P + (size_t)(p + c)]);                \
                        acc[j * CH + c] =                                                     \
                            _mm512_dpbf16_ps(acc[j * CH + c], (__m512bh)tv, (__m512bh)qv);    \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
            for (int p = P_even; p < P; p++) {                                                \
                __m512i tv = _mm512_load_si512((const void *)(base + (size_t)p * 32));        \
                _Pragma("GCC unroll 16") for (int j = 0; j < NB; j++) {                       \
                    __m512i qv = _mm512_set1_epi32((int)qw[(size_t)j * (size_t)P + (size_t)p]); \
                    acc[j * CH] = _mm512_dpbf16_ps(acc[j * CH], (__m512bh)tv, (__m512bh)qv);  \
                }                                                                             \
            }                                                                                 \
            int32_t i0 = blk * SR_BF16_ROWS;                                                  \
            int rows = t->I - i0 < SR_BF16_ROWS ? (int)(t->I - i0) : SR_BF16_ROWS;            \
            __mmask16 keep = (__mmask16)((1u << rows) - 1u);                                  \
            _Pragma("GCC unroll 16") for (int j = 0; j < NB; j++) {                           \
                __m512 sum = acc[j * CH];                                                     \
                _Pragma("GCC unroll 4") for (int c = 1; c < CH; c++)                          \
                    sum = _mm512_add_ps(sum, acc[j * CH + c]);                                \
                _mm512_mask_storeu_ps(scores + (size_t)j * (size_t)ldc + (size_t)i0, keep, sum); \
            }                                                                                 \
        }                                                                                     \
    }

SR_BF16_AVX512_KERNEL(1, 4)
SR_BF16_AVX512_KERNEL(2, 4)
SR_BF16_AVX512_KERNEL(4, 2)
SR_BF16_AVX512_KERNEL(8, 1)
SR_BF16_AVX512_KERNEL(16, 1)
#endif

/* Scores of the NB queries qw for table blocks [blk0, blk1). */
typedef void (*sr_bf16_kernel)(const sr_bf16_table *, const uint32_t *, float *, int64_t, int32_t,
                               int32_t);

static atomic_int sr_bf16_portable_forced;

static int sr_bf16_use_avx512(void)
{
#ifdef SR_BF16_X86
    if (atomic_load(&sr_bf16_portable_forced))
        return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

void sr_bf16_force_portable(int on)
{
    atomic_store(&sr_bf16_portable_forced, on != 0);
}

const char *sr_bf16_kernel_name(void)
{
    return sr_bf16_use_avx512() ? "avx512_bf16" : "portable";
}

void sr_bf16_scores(const sr_bf16_table *t, const float *q, int B, float *scores, int64_t ldc,
                    uint32_t *work)
{
    const int P = t->P;
    const int R = sr_bf16_rows(B);
    for (int b = 0; b < B; b++) {
        for (int p = 0; p < P; p++) {
            int d = 2 * p;
            uint16_t lo = sr_bf16_from_f32(q[(size_t)b * (size_t)t->D + (size_t)d]);
            uint16_t hi = d + 1 < t->D
                              ? sr_bf16_from_f32(q[(size_t)b * (size_t)t->D + (size_t)d + 1])
                              : 0;
            work[(size_t)b * (size_t)P + (size_t)p] = (uint32_t)lo | ((uint32_t)hi << 16);
        }
    }
    /* padding queries (zeros) so that the last tile is one pass over the table */
    memset(work + (size_t)B * (size_t)P, 0, sizeof(uint32_t) * (size_t)(R - B) * (size_t)P);
    static const int tiles[] = { 16, 8, 4, 2, 1 };
    const sr_bf16_kernel portable[] = { sr_bf16_portable_16, sr_bf16_portable_8,
                                        sr_bf16_portable_4, sr_bf16_portable_2,
                                        sr_bf16_portable_1 };
#ifdef SR_BF16_X86
    const sr_bf16_kernel avx512[] = { sr_bf16_avx512_16, sr_bf16_avx512_8, sr_bf16_avx512_4,
                                      sr_bf16_avx512_2, sr_bf16_avx512_1 };
    const sr_bf16_kernel *k = sr_bf16_use_avx512() ? avx512 : portable;
#else
    const sr_bf16_kernel *k = portable;
#endif
    /* The table in contiguous ranges of blocks, one per OpenMP thread (each
     * score is computed the same way whatever the thread count). R is a
     * multiple of 16 plus one power of two: at most one short tile. */
    int nt = omp_get_max_threads();
    if (nt > t->blocks)
        nt = (int)t->blocks;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int th = omp_get_thread_num(), n_th = omp_get_num_threads();
        int32_t blk0 = (int32_t)((int64_t)t->blocks * th / n_th);
        int32_t blk1 = (int32_t)((int64_t)t->blocks * (th + 1) / n_th);
        int b = 0;
        for (int ti = 0; ti < 5; ti++)
            for (; R - b >= tiles[ti]; b += tiles[ti])
                k[ti](t, work + (size_t)b * (size_t)P, scores + (size_t)b * (size_t)ldc, ldc,
                      blk0, blk1);
    }
}
