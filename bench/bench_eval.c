/* bench_eval.c - evaluation throughput: full-catalogue ranking of test
 * queries (sr_eval_run with the model scorer) for a randomly initialised
 * SASRec at the paper's shapes (D 128, L 20, 2 layers, 8 heads, authors'
 * head), on 1 and 2 OpenMP threads, for one catalogue size I.
 *
 * Synthetic store (no real data): Q sessions of 10..20 plays (MSSD's
 * range), tracks log-uniform over [0, I) (Zipf exponent 1), 49% skipped,
 * leave-last split, so every session gives one test query. The model is
 * untrained: the ranking work does not depend on the weights.
 *
 * One JSON object per line:
 *   {"impl":"seqrec","I":..,"threads":..,"queries":..,"seconds":..,
 *    "queries_per_s":..,"chunk":..,"batch":..,"hr@10":..}
 *
 * usage: bench_eval I [Q [chunk [batch]]]   (defaults 4096, 8192, 256)
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_eval.h"
#include "sr_model.h"
#include "sr_rng.h"
#include "sr_store.h"

static sr_err write_store(const char *path, int32_t I, int Q)
{
    sr_store_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.split = SR_SPLIT_KIND_LEAVE_LAST;
    meta.source = SR_SOURCE_FORMAT_SYNTH;
    snprintf(meta.name, sizeof meta.name, "bench");
    sr_store_writer *w = NULL;
    sr_err e = sr_store_writer_open(path, &meta, &w);
    if (e != SR_OK)
        return e;
    sr_rng r;
    sr_rng_seed(&r, 1);
    uint32_t *plays = calloc((size_t)I, sizeof *plays);
    uint32_t *skips = calloc((size_t)I, sizeof *skips);
    sr_str *ids = malloc(sizeof(sr_str) * (size_t)I);
    char *idbuf = malloc((size_t)I * 12);
    if (!plays || !skips || !ids || !idbuf)
        return SR_ERR_NOMEM;
    for (int s = 0; e == SR_OK && s < Q; s++) {
        int32_t track[20];
        uint8_t fb[20];
        uint16_t pos[20];
        int64_t t[20];
        uint32_t ctx[20] = { 0 };
        uint32_t n = 10 + (uint32_t)sr_rng_below(&r, 11);
        for (uint32_t i = 0; i < n; i++) {
            track[i] = (int32_t)floor(pow((double)I + 1.0, sr_rng_uniform(&r))) - 1;
            if (track[i] < 0 || track[i] >= I)
                track[i] = 0;
            bool sk = sr_rng_uniform(&r) < 0.49;
            fb[i] = sk ? (uint8_t)(SR_FB_SKIP_2 | SR_FB_SKIPPED) : (uint8_t)SR_FB_NOT_SKIPPED;
            pos[i] = (uint16_t)(i + 1);
            t[i] = s;
            plays[track[i]]++;
        }
        e = sr_store_writer_add(w, SR_SPLIT_ALL, s, n, track, fb, pos, t, ctx);
    }
    for (int32_t i = 0; i < I; i++) {
        int k = snprintf(idbuf + (size_t)i * 12, 12, "t%d", (int)i);
        ids[i] = (sr_str){ idbuf + (size_t)i * 12, (size_t)k };
    }
    if (e == SR_OK)
        e = sr_store_writer_finish(&w, (uint32_t)I, ids, plays, skips, NULL);
    else
        sr_store_writer_abort(&w);
    free(plays);
    free(skips);
    free(ids);
    free(idbuf);
    return e;
}

static void pick(void *ctx, const char *key, double value, bool is_count)
{
    (void)is_count;
    if (strcmp(key, "hr@10") == 0)
        *(double *)ctx = value;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_eval I [Q [chunk [batch]]]\n");
        return 2;
    }
    int32_t I = (int32_t)atol(argv[1]);
    int Q = argc > 2 ? atoi(argv[2]) : 4096;
    int chunk = argc > 3 ? atoi(argv[3]) : 8192;
    int batch = argc > 4 ? atoi(argv[4]) : 256;
    char path[64];
    snprintf(path, sizeof path, "/tmp/bench_eval_%d.store", (int)getpid());
    if (write_store(path, I, Q) != SR_OK) {
        fprintf(stderr, "bench_eval: %s\n", sr_errmsg());
        return 1;
    }
    sr_store *st = NULL;
    sr_model *m = NULL;
    sr_dnnl_ctx *ctx = NULL;
    sr_model_scorer *sc = NULL;
    sr_model_config c = sr_model_config_paper(SR_MODEL_KIND_SASREC);
    c.I = I;
    if (sr_store_open(path, &st) != SR_OK || sr_model_new(&c, batch, &m) != SR_OK ||
        sr_dnnl_ctx_new(64, &ctx) != SR_OK || sr_model_scorer_new(m, ctx, batch, &sc) != SR_OK) {
        fprintf(stderr, "bench_eval: %s\n", sr_errmsg());
        return 1;
    }
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        sr_eval_config ec = sr_eval_config_default();
        ec.batch = batch;
        ec.chunk = chunk;
        sr_eval_result r;
        /* one warm-up pass over a few queries creates the primitives */
        ec.max_queries = (uint64_t)batch;
        if (sr_eval_run(st, sr_model_scorer_get(sc), &ec, NULL, NULL, &r) != SR_OK)
            break;
        ec.max_queries = 0;
        if (sr_eval_run(st, sr_model_scorer_get(sc), &ec, NULL, NULL, &r) != SR_OK) {
            fprintf(stderr, "bench_eval: %s\n", sr_errmsg());
            return 1;
        }
        double hr = NAN;
        sr_eval_visit(&r, pick, &hr);
        int64_t q = r.metrics.group[SR_METRICS_GROUP_ALL].n_queries;
        printf("{\"impl\":\"seqrec\",\"I\":%d,\"threads\":%d,\"queries\":%lld,\"seconds\":%.3f,"
               "\"queries_per_s\":%.1f,\"chunk\":%d,\"batch\":%d,\"hr@10\":%.5f}\n",
               (int)I, threads, (long long)q, r.seconds, (double)q / r.seconds, chunk, batch, hr);
        fflush(stdout);
    }
    sr_model_scorer_free(&sc);
    sr_dnnl_ctx_free(&ctx);
    sr_model_free(&m);
    sr_store_close(&st);
    unlink(path);
    return 0;
}
