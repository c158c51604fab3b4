/* bench_scorer.c - what micro-batching buys: the recommend scorer
 * (daemon/srd_scorer.h) on one thread, one pass of B sessions at a time,
 * for B = 1, 2, 4, ..., 64, with an untrained SASRec at the paper's shapes
 * (D 128, L 20, 2 layers, 8 heads) over I tracks. The work of a pass does
 * not depend on the weights. Sessions have 10..20 plays (MSSD's range).
 *
 * One JSON object per line:
 *   {"I":..,"D":..,"batch":..,"passes":..,"ms_per_pass":..,"sessions_per_s":..}
 *
 * usage: bench_scorer [I [seconds_per_point [bf16|f32 [threads]]]]
 *        (defaults 100000, 2, bf16, 1: OpenMP threads of the product and ranking)
 */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_bf16.h"
#include "sr_dnnl.h"
#include "sr_model.h"
#include "srd_scorer.h"

#define BS_MAX 64
#define BS_K 10

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int32_t I = argc > 1 ? (int32_t)atol(argv[1]) : 100000;
    double secs = argc > 2 ? atof(argv[2]) : 2.0;
    int threads = argc > 4 ? atoi(argv[4]) : 1;
    srd_scorer_precision prec =
        argc > 3 && strcmp(argv[3], "f32") == 0 ? SRD_SCORER_F32 : SRD_SCORER_BF16;
    sr_model_config mc = sr_model_config_paper(SR_MODEL_KIND_SASREC);
    mc.I = I;
    mc.dropout = 0.0f;
    sr_model *m = NULL;
    sr_dnnl_ctx *ctx = NULL;
    srd_scorer *sc = NULL;
    if (sr_model_new(&mc, BS_MAX, &m) != SR_OK || sr_dnnl_ctx_new(0, &ctx) != SR_OK ||
        srd_scorer_new(m, ctx, 1, threads, BS_MAX, prec, &sc) != SR_OK) {
        fprintf(stderr, "bench_scorer: %s\n", sr_errmsg());
        return 1;
    }
    static int32_t tracks[BS_MAX][20], items[BS_MAX][BS_K];
    static uint8_t skipped[BS_MAX][20];
    static float scores[BS_MAX][BS_K];
    srd_score_item it[BS_MAX];
    uint64_t x = 12345;
    for (int b = 0; b < BS_MAX; b++) {
        int n = 10 + b % 11;
        for (int t = 0; t < n; t++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            tracks[b][t] = (int32_t)((x >> 33) % (uint64_t)I);
            skipped[b][t] = (uint8_t)((x >> 20) & 1);
        }
        it[b] = (srd_score_item){ tracks[b], skipped[b], n, NULL, 0, BS_K, items[b], scores[b], 0 };
    }
    for (int B = 1; B <= BS_MAX; B *= 2) {
        if (srd_scorer_run(sc, it, B, B) != SR_OK) { /* warm-up: primitives, lane buffers */
            fprintf(stderr, "bench_scorer: %s\n", sr_errmsg());
            return 1;
        }
        int passes = 0;
        double t0 = now_s(), t1;
        do {
            srd_scorer_run(sc, it, B, B);
            passes++;
            t1 = now_s();
        } while (t1 - t0 < secs);
        printf("{\"precision\":\"%s\",\"threads\":%d,\"I\":%d,\"D\":%d,\"batch\":%d,\"passes\":%d,\"ms_per_pass\":%.3f,"
               "\"sessions_per_s\":%.0f}\n",
               prec == SRD_SCORER_F32 ? "f32" : sr_bf16_kernel_name(), threads, (int)I, mc.D, B, passes, 1e3 * (t1 - t0) / passes, B * passes / (t1 - t0));
        fflush(stdout);
    }
    srd_scorer_free(&sc);
    sr_model_free(&m);
    sr_dnnl_ctx_free(&ctx);
    return 0;
}
