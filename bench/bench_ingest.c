/* bench_ingest.c - ingestion throughput and peak memory (docs/benchmarks.md).
 *
 *   bench_ingest gen DIR ROWS FILES [SEED]   write ~ROWS synthetic MSSD rows as FILES csv files
 *   bench_ingest run DIR THREADS STORE       ingest DIR into STORE, print one JSON line
 *
 * Run each measurement in its own process: peak RSS (ru_maxrss) is per process.
 * Not a test: nothing here asserts a speed. */
#include "sr_ingest.h"
#include "sr_synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long bench_peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int bench_gen(const char *dir, uint64_t rows, unsigned files, uint64_t seed)
{
    if (mkdir(dir, 0755) != 0) {
        perror(dir);
        return 1;
    }
    /* synthetic sessions average ~16.5 plays (45% at 20, the rest 10..19) */
    uint64_t sessions = rows / 16 / files + 1;
    uint64_t total_rows = 0;
    double t0 = bench_now();
    for (unsigned k = 0; k < files; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/log_%u.csv", dir, k);
        sr_synth_opts o;
        sr_synth_opts_default(&o);
        o.sessions = sessions;
        o.tracks = 200000;
        o.seed = seed + k;
        sr_synth_summary sum;
        if (sr_synth_write(path, &o, NULL, NULL, &sum) != SR_OK) {
            fprintf(stderr, "bench_ingest: %s\n", sr_errmsg());
            return 1;
        }
        total_rows += sum.rows;
    }
    printf("{\"generated_rows\": %llu, \"files\": %u, \"seconds\": %.2f}\n",
           (unsigned long long)total_rows, files, bench_now() - t0);
    return 0;
}

static void bench_log(void *ud, sr_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    fprintf(stderr, "# %s\n", msg);
}

static int bench_run(const char *dir, int threads, const char *store)
{
    sr_log_set_handler(bench_log, NULL);
    const char *inputs[1] = { dir };
    char **paths = NULL;
    size_t n = 0;
    if (sr_ingest_expand(inputs, 1, &paths, &n) != SR_OK) {
        fprintf(stderr, "bench_ingest: %s\n", sr_errmsg());
        return 1;
    }
    sr_ingest_opts o;
    sr_ingest_opts_default(&o);
    o.threads = threads;
    o.name = "bench";
    sr_store_stats st;
    double t0 = bench_now();
    sr_err err = sr_ingest_run((const char *const *)paths, n, &o, store, &st, NULL);
    double dt = bench_now() - t0;
    sr_ingest_paths_free(paths, n);
    if (err != SR_OK) {
        fprintf(stderr, "bench_ingest: %s\n", sr_errmsg());
        return 1;
    }
    printf("{\"threads\": %d, \"rows\": %llu, \"bytes\": %llu, \"tracks\": %llu, "
           "\"seconds\": %.2f, \"rows_per_s\": %.0f, \"mb_per_s\": %.1f, \"peak_rss_mib\": %.1f}\n",
           threads, (unsigned long long)st.input_rows, (unsigned long long)st.input_bytes,
           (unsigned long long)st.tracks, dt, (double)st.input_rows / dt,
           (double)st.input_bytes / dt / 1e6, (double)bench_peak_rss_kib() / 1024.0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "gen") == 0)
        return bench_gen(argv[2], strtoull(argv[3], NULL, 10), (unsigned)atoi(argv[4]),
                         argc > 5 ? strtoull(argv[5], NULL, 10) : 1);
    if (argc == 5 && strcmp(argv[1], "run") == 0)
        return bench_run(argv[2], atoi(argv[3]), argv[4]);
    fprintf(stderr, "usage: bench_ingest gen DIR ROWS FILES [SEED]\n"
                    "       bench_ingest run DIR THREADS STORE\n");
    return 2;
}
