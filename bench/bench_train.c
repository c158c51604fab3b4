/* bench_train.c - time one training step (sr_optim_step: forward, backward,
 * clip, AdamW with the lazy item table) at the paper's preset (SPEC.md
 * section 3: SASRec, D 128, L 20, 2 layers, 8 heads, FFN 128, dropout 0.2,
 * authors' head, tied table) with B = 256 and a sampled softmax over 1000
 * negatives shared by the batch, drawn uniformly per step (no log-Q: with a
 * uniform sampler it shifts every logit by the same constant). Runs without
 * and with the skip term (lambda 1, tau 0.1, item-embedding context), each on
 * 1 and 2 OpenMP threads, for one catalogue size I given on the command line.
 *
 * Synthetic batches (no real data): session lengths uniform in 10..20
 * (MSSD's range), right-padded to L = 20; track ids log-uniform over
 * [0, I) - id = floor((I + 1)^u) - 1 for u uniform, i.e. P(id = i) ~ 1/(i+1),
 * a Zipf law with exponent 1; each play skipped with probability 0.49 (the
 * paper's skip rate). Eight batches are generated up front and cycled; each
 * step has its own step number (new dropout masks and negatives).
 *
 * Method: `warmup` steps, then `reps` timed steps; the median is reported.
 * One JSON object per line:
 *   {"impl":"seqrec","I":..,"threads":..,"skip":0|1,"median_ms":..,
 *    "seq_per_s":..,"mean_loss":..,"load1":..}
 * and per thread count
 *   {"impl":"seqrec","I":..,"threads":..,"skip_share":..}
 * with skip_share = (t_with - t_without) / t_with.
 *
 * usage: bench_train I [warmup [reps]]   (defaults 3, 10)
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_optim.h"
#include "sr_rng.h"

enum { B = 256, L = 20, NBATCH = 8, N_NEG = 1000 };

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

static double load1(void)
{
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1.0;
        fclose(f);
    }
    return l;
}

typedef struct batches {
    int32_t tracks[NBATCH][B * L];
    uint8_t skipped[NBATCH][B * L];
    uint8_t valid[NBATCH][B * L];
} batches;

static void make_batches(batches *bs, int32_t I)
{
    sr_rng r;
    sr_rng_seed(&r, 2024);
    const double lnI1 = log((double)I + 1.0);
    for (int k = 0; k < NBATCH; k++)
        for (int b = 0; b < B; b++) {
            int len = 10 + (int)sr_rng_below(&r, 11);
            for (int l = 0; l < L; l++) {
                int t = b * L + l;
                int32_t id = (int32_t)floor(exp(sr_rng_uniform(&r) * lnI1)) - 1;
                bs->tracks[k][t] = l < len ? SR_MIN(SR_MAX(id, 0), I - 1) : 0;
                bs->skipped[k][t] = l < len && sr_rng_uniform(&r) < 0.49;
                bs->valid[k][t] = l < len;
            }
        }
}

/* Median step time in ms over reps steps after warmup, at `threads`. */
static int time_steps(sr_model *m, sr_optim *o, const batches *bs, int threads, int warmup,
                      int reps, uint64_t *step, double *median, double *loss)
{
    omp_set_num_threads(threads);
    sr_dnnl_ctx *ctx = NULL;
    if (sr_dnnl_ctx_new(0, &ctx) != SR_OK)
        return -1;
    double *ts = malloc((size_t)reps * sizeof *ts);
    if (!ts) {
        sr_dnnl_ctx_free(&ctx);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < warmup + reps; i++) {
        int k = (int)(*step % NBATCH);
        sr_model_batch bt;
        memset(&bt, 0, sizeof bt);
        bt.B = B;
        bt.tracks = bs->tracks[k];
        bt.skipped = bs->skipped[k];
        bt.valid = bs->valid[k];
        bt.step = (*step)++;
        sr_optim_report rep;
        double t0 = now_ms();
        if (sr_optim_step(o, m, &bt, ctx, &rep) != SR_OK) {
            rc = -1;
            break;
        }
        double dt = now_ms() - t0;
        if (i >= warmup) {
            ts[i - warmup] = dt;
            /* the mean over the timed steps: at this constant lr single steps
             * spike (docs/benchmarks.md, "Training stability") */
            *loss += rep.parts.total / reps;
        }
    }
    if (rc == 0) {
        qsort(ts, (size_t)reps, sizeof *ts, cmp_double);
        *median = reps % 2 ? ts[reps / 2] : 0.5 * (ts[reps / 2 - 1] + ts[reps / 2]);
    }
    free(ts);
    sr_dnnl_ctx_free(&ctx);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_train I [warmup [reps]]\n");
        return 2;
    }
    long I = strtol(argv[1], NULL, 10);
    int warmup = argc > 2 ? atoi(argv[2]) : 3;
    int reps = argc > 3 ? atoi(argv[3]) : 10;
    if (I < N_NEG || I > 50000000 || warmup < 0 || warmup > 1000 || reps < 1 || reps > 10000) {
        fprintf(stderr, "bench_train: I in [%d, 5e7], warmup in [0, 1000], reps in [1, 1e4]\n",
                N_NEG);
        return 2;
    }
    batches *bs = malloc(sizeof *bs);
    if (!bs) {
        fprintf(stderr, "bench_train: out of memory\n");
        return 1;
    }
    make_batches(bs, (int32_t)I);
    const int threads[2] = { 1, 2 };
    double med[2][2]; /* [skip][thread index] */
    uint64_t step = 0;
    for (int skip = 0; skip < 2; skip++) {
        sr_model_config mc = sr_model_config_paper(SR_MODEL_KIND_SASREC);
        mc.I = (int32_t)I;
        mc.loss = SR_MODEL_LOSS_KIND_SAMPLED;
        mc.negatives = N_NEG;
        mc.log_q = false;
        mc.lambda = skip ? 1.0f : 0.0f;
        sr_optim_config oc = sr_optim_config_default();
        /* constant lr like the PyTorch side (the lr does not change the cost) */
        oc.schedule.warmup_steps = 0;
        oc.schedule.lr_floor = oc.schedule.lr_peak;
        oc.schedule.total_steps = 100000;
        sr_model *m = NULL;
        sr_optim *o = NULL;
        if (sr_model_new(&mc, B, &m) != SR_OK || sr_optim_new(&oc, m, &o) != SR_OK) {
            fprintf(stderr, "bench_train: %s\n", sr_errmsg());
            return 1;
        }
        for (int ti = 0; ti < 2; ti++) {
            double loss = 0.0, l1 = load1();
            if (time_steps(m, o, bs, threads[ti], warmup, reps, &step, &med[skip][ti], &loss) !=
                0) {
                fprintf(stderr, "bench_train: %s\n", sr_errmsg());
                return 1;
            }
            printf("{\"impl\":\"seqrec\",\"I\":%ld,\"threads\":%d,\"skip\":%d,"
                   "\"median_ms\":%.2f,\"seq_per_s\":%.1f,\"mean_loss\":%.4f,\"load1\":%.2f}\n",
                   I, threads[ti], skip, med[skip][ti], B * 1000.0 / med[skip][ti], loss, l1);
            fflush(stdout);
        }
        sr_optim_free(&o);
        sr_model_free(&m);
    }
    for (int ti = 0; ti < 2; ti++)
        printf("{\"impl\":\"seqrec\",\"I\":%ld,\"threads\":%d,\"skip_share\":%.3f}\n", I,
               threads[ti], (med[1][ti] - med[0][ti]) / med[1][ti]);
    free(bs);
    return 0;
}
