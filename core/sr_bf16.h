/* sr_bf16.h - a bfloat16 copy of an item table for serving, and the kernel
 * that scores query vectors against all of it.
 *
 * Why not oneDNN: recommending scores a handful of queries [B, D] against
 * the whole [I, D] table. oneDNN 2.6's matmul takes 6-9 ms for B = 1 at
 * I = 100k, D = 128 on one core of the AMD EPYC used for docs/benchmarks.md
 * (f32 and bf16 alike, either operand order), while reading the f32 table
 * once takes 2.4 ms and the bf16 table (25.6 MB, inside the 32 MB L3) 0.6 ms
 * (bench/bench_scorer.c, docs/kernels.md). This kernel streams the table once
 * per call and keeps the B running sums in registers.
 *
 * Layout: rows in blocks of 16 (the last block padded with zero rows); in a
 * block, for each pair of dimensions p = 0..D/2-1, the 16 rows' (2p, 2p+1)
 * values side by side: 32 bf16 = 64 bytes, one AVX-512 register, which
 * VDPBF16PS multiplies by a broadcast query pair. An odd D is padded with a
 * zero dimension.
 *
 * Numbers: the table and the queries are rounded to bf16 (round to nearest
 * even, 8 significant bits); each product of two bf16 values is exact in
 * f32, and the sums are f32. So a score differs from the f32 product by
 * about 2^-8 of sum_d |q_d t_d|: enough to order recommendations, not for
 * evaluation, which stays f32 (sr_eval.h).
 *
 * Kernels: AVX-512 BF16 when the CPU has it (checked at run time), else a
 * portable loop over the same layout (plain C the compiler vectorises for
 * the build's baseline ISA, so several times slower) with the same rounding
 * of inputs; the two can differ in the last bits of the f32 sums only.
 */
#ifndef SR_BF16_H
#define SR_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "sr_common.h"

/* Round to nearest even; NaN stays NaN. */
uint16_t sr_bf16_from_f32(float x);
float sr_bf16_to_f32(uint16_t h);

typedef struct sr_bf16_table sr_bf16_table;

/* Packed bf16 copy of table [I, D] (row-major f32). 1 <= I <= INT32_MAX - 16,
 * D >= 1. */
sr_err sr_bf16_table_new(const float *table, int32_t I, int D, sr_bf16_table **out);
void sr_bf16_table_free(sr_bf16_table **t); /* NULL-safe */
size_t sr_bf16_table_bytes(const sr_bf16_table *t);

/* scores[b * ldc + i] = bf16(q[b]) . bf16(table[i]) summed in f32, for
 * b < B and i < I.
 *   q: [B, D] f32 (rounded to bf16 here)
 *   scores: [sr_bf16_rows(B), ldc], ldc >= I: rows past B are scratch (the
 *   kernel scores zero queries there rather than stream the table twice)
 * B >= 1. Runs on omp_get_max_threads() threads, each over its own range
 * of the table (the same scores for every thread count). Never fails and
 * never allocates: `work` is caller scratch of sr_bf16_work_words(t, B)
 * words (the queries' bf16 pairs). */
void sr_bf16_scores(const sr_bf16_table *t, const float *q, int B, float *scores, int64_t ldc,
                    uint32_t *work);
/* Score rows written for B queries: B rounded up to the kernel's tiles
 * (16 per tile, and the last tile to 1, 2, 4, 8 or 16). */
int sr_bf16_rows(int B);
size_t sr_bf16_work_words(const sr_bf16_table *t, int B);

/* "avx512_bf16" or "portable": the kernel sr_bf16_scores uses on this CPU. */
const char *sr_bf16_kernel_name(void);

/* For tests: force the portable kernel (1) or choose by CPU again (0). */
void sr_bf16_force_portable(int on);

#endif /* SR_BF16_H */
