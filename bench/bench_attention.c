/* bench_attention.c - time the attention core (core/sr_attention.c) forward
 * and backward at the paper's training shape B = 256, L = 20, D = 128, H = 8
 * (SPEC.md section 3), causal and bidirectional, with 1 and 2 OpenMP
 * threads; also B = 1 (one session scored at serving time, where the
 * fork/join of the parallel region is most of the cost). Prints one JSON
 * object per line; results go to docs/kernels-attention.md.
 *
 * usage: bench_attention [reps]   (default 50; the median is reported)
 */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_attention.h"
#include "sr_rng.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fill(sr_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2.0 * sr_rng_uniform(r) - 1.0);
}

int main(int argc, char **argv)
{
    enum { B = 256, L = 20, D = 128, H = 8 };
    const int batch_sizes[2] = { B, 1 };
    int reps = argc > 1 ? atoi(argv[1]) : 50;
    if (reps < 1 || reps > 100000) {
        fprintf(stderr, "bench_attention: reps must be in [1, 100000]\n");
        return 2;
    }
    if (sr_attention_check(B, L, D, H) != SR_OK) {
        fprintf(stderr, "bench_attention: %s\n", sr_errmsg());
        return 1;
    }
    const size_t n = (size_t)B * L * D, na = (size_t)B * H * L * L;
    float *q = malloc(n * sizeof *q), *k = malloc(n * sizeof *k), *v = malloc(n * sizeof *v);
    float *out = malloc(n * sizeof *out), *dout = malloc(n * sizeof *dout);
    float *dq = malloc(n * sizeof *dq), *dk = malloc(n * sizeof *dk), *dv = malloc(n * sizeof *dv);
    float *att = malloc(na * sizeof *att);
    uint8_t *valid = malloc((size_t)B * L);
    double *tf = malloc((size_t)reps * sizeof *tf), *tb = malloc((size_t)reps * sizeof *tb);
    if (!q || !k || !v || !out || !dout || !dq || !dk || !dv || !att || !valid || !tf || !tb) {
        fprintf(stderr, "bench_attention: out of memory\n");
        return 1;
    }
    sr_rng r;
    sr_rng_seed(&r, 1);
    fill(&r, q, n);
    fill(&r, k, n);
    fill(&r, v, n);
    fill(&r, dout, n);
    /* MSSD-like session lengths 10..20, right-padded */
    for (int b = 0; b < B; b++) {
        int len = 10 + (int)sr_rng_below(&r, 11);
        for (int l = 0; l < L; l++)
            valid[b * L + l] = l < len;
    }

    const int threads[2] = { 1, 2 };
    for (int bi = 0; bi < 2; bi++) {
        const int nb = batch_sizes[bi];
        const size_t nbe = (size_t)nb * L * D; /* elements of [nb, L, D] */
        for (int ti = 0; ti < 2; ti++) {
            omp_set_num_threads(threads[ti]);
            for (int m = 0; m < 2; m++) {
                sr_attn_mode mode = m ? SR_ATTN_MODE_BIDIRECTIONAL : SR_ATTN_MODE_CAUSAL;
                /* warm-up: page in every buffer, start the thread pool */
                sr_attention_forward(q, k, v, valid, nb, L, D, H, mode, att, out);
                sr_attention_backward(q, k, v, valid, att, dout, nb, L, D, H, mode, dq, dk, dv);
                for (int rep = 0; rep < reps; rep++) {
                    memset(dq, 0, nbe * sizeof *dq);
                    memset(dk, 0, nbe * sizeof *dk);
                    memset(dv, 0, nbe * sizeof *dv);
                    double t0 = now_ms();
                    sr_attention_forward(q, k, v, valid, nb, L, D, H, mode, att, out);
                    double t1 = now_ms();
                    sr_attention_backward(q, k, v, valid, att, dout, nb, L, D, H, mode, dq, dk,
                                          dv);
                    double t2 = now_ms();
                    tf[rep] = t1 - t0;
                    tb[rep] = t2 - t1;
                }
                qsort(tf, (size_t)reps, sizeof *tf, cmp_double);
                qsort(tb, (size_t)reps, sizeof *tb, cmp_double);
                printf("{\"op\":\"attention\",\"mode\":\"%s\",\"B\":%d,\"L\":%d,\"D\":%d,"
                       "\"H\":%d,\"threads\":%d,\"reps\":%d,\"fwd_ms\":%.4f,\"bwd_ms\":%.4f,"
                       "\"fwd_bwd_ms\":%.4f,\"fwd_min_ms\":%.4f,\"bwd_min_ms\":%.4f}\n",
                       m ? "bidirectional" : "causal", nb, L, D, H, threads[ti], reps,
                       tf[reps / 2], tb[reps / 2], tf[reps / 2] + tb[reps / 2], tf[0], tb[0]);
                fflush(stdout);
            }
        }
    }
    free(q);
    free(k);
    free(v);
    free(out);
    free(dout);
    free(dq);
    free(dk);
    free(dv);
    free(att);
    free(valid);
    free(tf);
    free(tb);
    return 0;
}
