/* sr_report.c - the report of an experiment: results.csv (+ run histories)
 * in, summary.csv, REPORT.md and figures/<name>.svg out. Contract: sr_report.h.
 *
 * The whole input is read and checked before anything is written, and the
 * outputs are all written to "<name>.tmp" and fsync'ed before the first
 * rename, so malformed input leaves no partial report behind and an I/O
 * failure while writing leaves the previous report in place.
 *
 * Statistics (means, t intervals, paired t and Wilcoxon tests) come from
 * sr_stats.h; this file only pairs the runs by seed and decides what the
 * numbers allow the text to say: a change is called significant only when
 * p < 0.05 under BOTH paired tests (SPEC.md section 5: "measure it honestly,
 * with several seeds").
 */
#include "sr_report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_csv.h"
#include "sr_metrics.h"
#include "sr_stats.h"

/* ---- limits and names -------------------------------------------------------- */

#define REPORT_MAX_CONFIGS 256
#define REPORT_MAX_SEEDS 1000             /* runs of one configuration under one protocol */
#define REPORT_MAX_ROWS 200000            /* rows of results.csv */
#define REPORT_MAX_HISTORY_POINTS 2000000 /* validation rows over all history files */
#define REPORT_MAX_NAME 64                /* bytes of a configuration name */
#define REPORT_ALPHA 0.05                 /* significance level of the reading */

enum { REPORT_FULL = 0, REPORT_SAMPLED = 1, REPORT_N_PROTOCOLS = 2 };
static const char *const report_protocols[REPORT_N_PROTOCOLS] = { "full", "sampled" };

static const char *const report_models[] = { "sasrec", "bert4rec", "pop", "sr" };

enum { M_HR1, M_HR5, M_HR10, M_HR20, M_NDCG10, M_MRR10, M_SKIP10, REPORT_N_METRICS };
static const char *const report_metric_keys[REPORT_N_METRICS] = {
    "hr@1", "hr@5", "hr@10", "hr@20", "ndcg@10", "mrr@10", "skip_mrr@10",
};
static const char *const report_metric_labels[REPORT_N_METRICS] = {
    "HR@1", "HR@5", "HR@10", "HR@20", "NDCG@10", "MRR@10", "Skip-MRR@10"
};

/* Metrics whose p-values the relative-change table shows and the reading discusses. */
static const int report_tested_metrics[] = { M_NDCG10, M_HR10, M_SKIP10 };

/* Columns of results.csv this file reads (all required). */
enum {
    COL_CONFIG,
    COL_BASE,
    COL_MODEL,
    COL_SEED,
    COL_PROTOCOL,
    COL_STEPS,
    COL_BEST_STEP,
    COL_TRAIN_SECONDS,
    COL_METRIC0,
    REPORT_N_COLS = COL_METRIC0 + REPORT_N_METRICS
};

/* Numeric columns of results.csv besides the 42 sr_metrics keys: their
 * fields must be numbers or empty even when this file does not use them. */
static const char *const report_other_numeric[] = {
    "steps", "best_step", "train_seconds", "coverage@10", "mean_pop@10", "n_no_input",
};

/* ---- data -------------------------------------------------------------------- */

typedef struct report_run {
    int64_t seed;
    uint64_t line;                   /* of results.csv, for messages */
    double metric[REPORT_N_METRICS]; /* NaN: empty field */
    double best_step, train_seconds;
} report_run;

/* One configuration compared with its base under one protocol and metric. */
typedef struct report_cmp {
    int n_pairs; /* seeds both have with a value */
    double rel;  /* mean / base mean - 1 over those seeds; NaN without pairs */
    bool tested; /* n_pairs >= 2 */
    sr_stats_test t, w;
} report_cmp;

typedef struct report_point {
    double step, value;
} report_point;

typedef struct report_config {
    char name[REPORT_MAX_NAME + 1];
    char base[REPORT_MAX_NAME + 1]; /* "" = none */
    int model;
    int base_idx;                         /* -1: no base, or the base has no rows */
    uint64_t line;                        /* first row of this configuration */
    report_run *runs[REPORT_N_PROTOCOLS]; /* sorted by seed */
    size_t n_runs[REPORT_N_PROTOCOLS], cap_runs[REPORT_N_PROTOCOLS];
    sr_stats_summary sum[REPORT_N_PROTOCOLS][REPORT_N_METRICS];
    report_cmp cmp[REPORT_N_PROTOCOLS][REPORT_N_METRICS];
    report_point *curve; /* validation points; after aggregation one per step */
    size_t n_curve, cap_curve;
    int n_histories; /* history files found */
} report_config;

typedef struct report {
    const char *dir;
    double level;
    report_config *cfg;
    size_t n_cfg, cap_cfg;
    size_t n_rows;
    size_t n_points;
    bool has_protocol[REPORT_N_PROTOCOLS];
} report;

static void report_free(report *r)
{
    for (size_t i = 0; i < r->n_cfg; i++) {
        for (int p = 0; p < REPORT_N_PROTOCOLS; p++)
            free(r->cfg[i].runs[p]);
        free(r->cfg[i].curve);
    }
    free(r->cfg);
    r->cfg = NULL;
    r->n_cfg = r->cap_cfg = 0;
}

/* malloc'd "dir/<formatted>"; NULL when out of memory. */
static char *report_path(const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *report_path(const char *dir, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    size_t dl = strlen(dir);
    char *s = malloc(dl + 1 + (size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, dir, dl);
    s[dl] = '/';
    va_start(ap, fmt);
    vsnprintf(s + dl + 1, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- reading results.csv ----------------------------------------------------- */

/* A value field: a finite decimal number, or empty / "nan" for NaN (a mean over no
 * query, or coverage under the sampled protocol). */
static bool report_parse_value(sr_str s, double *out)
{
    if (s.len == 0 || (s.len == 3 && (s.ptr[0] | 0x20) == 'n' && (s.ptr[1] | 0x20) == 'a' &&
                       (s.ptr[2] | 0x20) == 'n')) {
        *out = NAN;
        return true;
    }
    double v;
    if (!sr_parse_f64(s, &v) || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Configuration names become file names (runs/<name>.s<seed>.history.csv),
 * Markdown code spans and CSV fields: no path separators, no characters that
 * end a code span, a table cell or a CSV field, no control characters. */
static bool report_name_ok(sr_str s, bool allow_empty)
{
    if (s.len == 0)
        return allow_empty;
    if (s.len > REPORT_MAX_NAME)
        return false;
    if ((s.len == 1 && s.ptr[0] == '.') || (s.len == 2 && s.ptr[0] == '.' && s.ptr[1] == '.'))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch < 0x20 || ch == 0x7f || ch == ',' || ch == '"' || ch == '/' || ch == '\\' ||
            ch == '`' || ch == '|')
            return false;
    }
    return true;
}

static int report_find_config(const report *r, const char *name)
{
    for (size_t i = 0; i < r->n_cfg; i++) {
        if (strcmp(r->cfg[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

typedef struct report_keys {
    char key[SR_METRICS_N_KEYS][32];
    int n;
} report_keys;

static void report_collect_key(void *ctx, const char *key, double value, bool is_count)
{
    (void)value;
    (void)is_count;
    report_keys *k = ctx;
    if (k->n < SR_METRICS_N_KEYS)
        snprintf(k->key[k->n++], sizeof k->key[0], "%s", key);
}

/* Is header field h one of the numeric columns? (then *name = its name) */
static bool report_numeric_column(sr_str h, const report_keys *keys, const char **name)
{
    for (int i = 0; i < keys->n; i++) {
        if (sr_str_eqc(h, keys->key[i])) {
            *name = keys->key[i];
            return true;
        }
    }
    for (size_t i = 0; i < SR_COUNTOF(report_other_numeric); i++) {
        if (sr_str_eqc(h, report_other_numeric[i])) {
            *name = report_other_numeric[i];
            return true;
        }
    }
    return false;
}

static sr_err report_add_run(report *r, report_config *c, int p, const report_run *run,
                             const char *path)
{
    for (size_t i = 0; i < c->n_runs[p]; i++) {
        if (c->runs[p][i].seed == run->seed)
            return sr_errorf(SR_ERR_FORMAT,
                             "%s:%" PRIu64 ": configuration \"%s\" seed %" PRId64
                             " protocol %s appears again (first on line %" PRIu64 ")",
                             path, run->line, c->name, run->seed, report_protocols[p],
                             c->runs[p][i].line);
    }
    if (c->n_runs[p] >= REPORT_MAX_SEEDS)
        return sr_errorf(SR_ERR_LIMIT,
                         "%s:%" PRIu64 ": configuration \"%s\" has more than %d seeds", path,
                         run->line, c->name, REPORT_MAX_SEEDS);
    if (c->n_runs[p] == c->cap_runs[p]) {
        size_t cap = c->cap_runs[p] ? 2 * c->cap_runs[p] : 8;
        report_run *grown = realloc(c->runs[p], cap * sizeof *grown);
        if (!grown)
            return sr_errorf(SR_ERR_NOMEM, "report: out of memory");
        c->runs[p] = grown;
        c->cap_runs[p] = cap;
    }
    c->runs[p][c->n_runs[p]++] = *run;
    r->has_protocol[p] = true;
    return SR_OK;
}

/* The configuration of a row: found by name (its base and model must agree
 * with the earlier rows) or appended. */
static sr_err report_config_of(report *r, sr_str name, sr_str base, int model, uint64_t line,
                               const char *path, report_config **out)
{
    char nm[REPORT_MAX_NAME + 1], bs[REPORT_MAX_NAME + 1];
    memcpy(nm, name.ptr, name.len);
    nm[name.len] = '\0';
    memcpy(bs, base.ptr, base.len);
    bs[base.len] = '\0';
    int i = report_find_config(r, nm);
    if (i >= 0) {
        report_config *c = &r->cfg[i];
        if (strcmp(c->base, bs) != 0)
            return sr_errorf(SR_ERR_FORMAT,
                             "%s:%" PRIu64 ": configuration \"%s\" has base \"%s\" here but \"%s\" "
                             "on line %" PRIu64,
                             path, line, nm, bs, c->base, c->line);
        if (c->model != model)
            return sr_errorf(SR_ERR_FORMAT,
                             "%s:%" PRIu64 ": configuration \"%s\" has model %s here but %s on "
                             "line %" PRIu64,
                             path, line, nm, report_models[model], report_models[c->model],
                             c->line);
        *out = c;
        return SR_OK;
    }
    if (r->n_cfg >= REPORT_MAX_CONFIGS)
        return sr_errorf(SR_ERR_LIMIT, "%s:%" PRIu64 ": more than %d configurations", path, line,
                         REPORT_MAX_CONFIGS);
    if (r->n_cfg == r->cap_cfg) {
        size_t cap = r->cap_cfg ? 2 * r->cap_cfg : 8;
        report_config *grown = realloc(r->cfg, cap * sizeof *grown);
        if (!grown)
            return sr_errorf(SR_ERR_NOMEM, "report: out of memory");
        r->cfg = grown;
        r->cap_cfg = cap;
    }
    report_config *c = &r->cfg[r->n_cfg++];
    memset(c, 0, sizeof *c);
    memcpy(c->name, nm, sizeof nm);
    memcpy(c->base, bs, sizeof bs);
    c->model = model;
    c->base_idx = -1;
    c->line = line;
    *out = c;
    return SR_OK;
}

/* Field of a row for messages: at most 40 bytes of it. */
#define REPORT_FIELD_FMT "\"%.*s%s\""
#define REPORT_FIELD_ARG(s) (int)SR_MIN((s).len, 40), (s).ptr, (s).len > 40 ? "..." : ""

static sr_err report_parse_row(report *r, const char *path, uint64_t line, const sr_str *f,
                               const int32_t *col, const char *const *numeric_name, uint32_t nf)
{
    /* Every numeric field is checked, used or not: a bad number anywhere
     * means the row was not written by the runner we expect. */
    for (uint32_t j = 0; j < nf; j++) {
        double v;
        if (numeric_name[j] && !report_parse_value(f[j], &v))
            return sr_errorf(SR_ERR_FORMAT,
                             "%s:%" PRIu64 ": column \"%s\": bad number " REPORT_FIELD_FMT, path,
                             line, numeric_name[j], REPORT_FIELD_ARG(f[j]));
    }
    sr_str name = f[col[COL_CONFIG]], base = f[col[COL_BASE]];
    if (!report_name_ok(name, false))
        return sr_errorf(SR_ERR_FORMAT,
                         "%s:%" PRIu64 ": bad configuration name " REPORT_FIELD_FMT
                         " (1 to %d bytes, no control characters, / \\ , \" ` |)",
                         path, line, REPORT_FIELD_ARG(name), REPORT_MAX_NAME);
    if (!report_name_ok(base, true))
        return sr_errorf(SR_ERR_FORMAT, "%s:%" PRIu64 ": bad base name " REPORT_FIELD_FMT, path,
                         line, REPORT_FIELD_ARG(base));
    if (sr_str_eq(name, base))
        return sr_errorf(SR_ERR_FORMAT, "%s:%" PRIu64 ": configuration \"%.*s\" is its own base",
                         path, line, (int)name.len, name.ptr);
    int model = -1;
    for (size_t i = 0; i < SR_COUNTOF(report_models); i++) {
        if (sr_str_eqc(f[col[COL_MODEL]], report_models[i]))
            model = (int)i;
    }
    if (model < 0)
        return sr_errorf(SR_ERR_FORMAT,
                         "%s:%" PRIu64 ": unknown model " REPORT_FIELD_FMT
                         " (expected sasrec, bert4rec, pop or sr)",
                         path, line, REPORT_FIELD_ARG(f[col[COL_MODEL]]));
    int p = -1;
    for (int i = 0; i < REPORT_N_PROTOCOLS; i++) {
        if (sr_str_eqc(f[col[COL_PROTOCOL]], report_protocols[i]))
            p = i;
    }
    if (p < 0)
        return sr_errorf(SR_ERR_FORMAT,
                         "%s:%" PRIu64 ": unknown protocol " REPORT_FIELD_FMT
                         " (expected full or sampled)",
                         path, line, REPORT_FIELD_ARG(f[col[COL_PROTOCOL]]));
    report_run run;
    memset(&run, 0, sizeof run);
    run.line = line;
    if (!sr_parse_i64(f[col[COL_SEED]], &run.seed) || run.seed < 0)
        return sr_errorf(SR_ERR_FORMAT,
                         "%s:%" PRIu64 ": bad seed " REPORT_FIELD_FMT " (a non-negative integer)",
                         path, line, REPORT_FIELD_ARG(f[col[COL_SEED]]));
    /* parsed above already; cannot fail here */
    (void)report_parse_value(f[col[COL_BEST_STEP]], &run.best_step);
    (void)report_parse_value(f[col[COL_TRAIN_SECONDS]], &run.train_seconds);
    for (int k = 0; k < REPORT_N_METRICS; k++)
        (void)report_parse_value(f[col[COL_METRIC0 + k]], &run.metric[k]);

    report_config *c = NULL;
    sr_err err = report_config_of(r, name, base, model, line, path, &c);
    if (err != SR_OK)
        return err;
    return report_add_run(r, c, p, &run, path);
}

static int report_cmp_run_seed(const void *a, const void *b)
{
    int64_t x = ((const report_run *)a)->seed, y = ((const report_run *)b)->seed;
    return (x > y) - (x < y);
}

static sr_err report_read_results(report *r)
{
    sr_err err = SR_OK;
    sr_csv *csv = NULL;
    const char **numeric_name = NULL;
    char *path = report_path(r->dir, "results.csv");
    if (!path)
        return sr_errorf(SR_ERR_NOMEM, "report: out of memory");
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            err = sr_errorf(SR_ERR_NOTFOUND, "%s: no such file (no run has finished yet?)", path);
        else
            err = sr_errorf(SR_ERR_IO, "stat %s: %s", path, strerror(errno));
        goto done;
    }
    err = sr_csv_open(path, ',', &csv);
    if (err != SR_OK)
        goto done;

    const sr_str *f;
    uint32_t nf;
    err = sr_csv_read(csv, &f, &nf);
    if (err != SR_OK)
        goto done;
    if (nf == 0) {
        err = sr_errorf(SR_ERR_EMPTY, "%s: empty file (no header)", path);
        goto done;
    }
    const char *names[REPORT_N_COLS] = {
        "config", "base", "model", "seed", "protocol", "steps", "best_step", "train_seconds",
    };
    for (int k = 0; k < REPORT_N_METRICS; k++)
        names[COL_METRIC0 + k] = report_metric_keys[k];
    int32_t col[REPORT_N_COLS];
    err = sr_csv_columns(path, f, nf, names, NULL, REPORT_N_COLS, col);
    if (err != SR_OK)
        goto done;
    const uint32_t n_header = nf;
    report_keys keys = { .n = 0 };
    sr_metrics_result zero;
    memset(&zero, 0, sizeof zero);
    sr_metrics_visit(&zero, report_collect_key, &keys);
    numeric_name = calloc(n_header, sizeof *numeric_name);
    if (!numeric_name) {
        err = sr_errorf(SR_ERR_NOMEM, "report: out of memory");
        goto done;
    }
    for (uint32_t j = 0; j < n_header; j++) {
        const char *nm = NULL;
        if (report_numeric_column(f[j], &keys, &nm))
            numeric_name[j] = nm;
    }

    for (;;) {
        err = sr_csv_read(csv, &f, &nf);
        if (err != SR_OK)
            goto done;
        if (nf == 0)
            break;
        uint64_t line = sr_csv_lineno(csv);
        if (nf != n_header) {
            err = sr_errorf(SR_ERR_FORMAT,
                            "%s:%" PRIu64 ": %" PRIu32 " fields, the header has %" PRIu32, path,
                            line, nf, n_header);
            goto done;
        }
        if (r->n_rows >= REPORT_MAX_ROWS) {
            err = sr_errorf(SR_ERR_LIMIT, "%s:%" PRIu64 ": more than %d rows", path, line,
                            REPORT_MAX_ROWS);
            goto done;
        }
        err = report_parse_row(r, path, line, f, col, numeric_name, nf);
        if (err != SR_OK)
            goto done;
        r->n_rows++;
    }
    if (r->n_rows == 0) {
        err = sr_errorf(SR_ERR_EMPTY, "%s: no results (header only)", path);
        goto done;
    }

    for (size_t i = 0; i < r->n_cfg; i++) {
        report_config *c = &r->cfg[i];
        for (int p = 0; p < REPORT_N_PROTOCOLS; p++) {
            if (c->n_runs[p] > 1)
                qsort(c->runs[p], c->n_runs[p], sizeof *c->runs[p], report_cmp_run_seed);
        }
        if (c->base[0]) {
            c->base_idx = report_find_config(r, c->base);
            if (c->base_idx < 0)
                sr_log(SR_LOG_LEVEL_WARN,
                       "report: %s: base \"%s\" of configuration \"%s\" has no results", path,
                       c->base, c->name);
        }
    }
done:
    free(numeric_name);
    sr_csv_free(&csv);
    free(path);
    return err;
}

/* ---- reading histories ------------------------------------------------------- */

static sr_err report_add_point(report *r, report_config *c, double step, double value,
                               const char *path, uint64_t line)
{
    if (r->n_points >= REPORT_MAX_HISTORY_POINTS)
        return sr_errorf(SR_ERR_LIMIT,
                         "%s:%" PRIu64 ": more than %d validation rows in all histories", path,
                         line, REPORT_MAX_HISTORY_POINTS);
    if (c->n_curve == c->cap_curve) {
        size_t cap = c->cap_curve ? 2 * c->cap_curve : 64;
        report_point *grown = realloc(c->curve, cap * sizeof *grown);
        if (!grown)
            return sr_errorf(SR_ERR_NOMEM, "report: out of memory");
        c->curve = grown;
        c->cap_curve = cap;
    }
    c->curve[c->n_curve].step = step;
    c->curve[c->n_curve].value = value;
    c->n_curve++;
    r->n_points++;
    return SR_OK;
}

/* runs/<config>.s<seed>.history.csv (step,epoch,loss,rec,nf,metric); a
 * missing file is normal (baselines have none, a run may not have validated). */
static sr_err report_read_history(report *r, report_config *c, int64_t seed)
{
    sr_err err = SR_OK;
    sr_csv *csv = NULL;
    char *path = report_path(r->dir, "runs/%s.s%" PRId64 ".history.csv", c->name, seed);
    if (!path)
        return sr_errorf(SR_ERR_NOMEM, "report: out of memory");
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            err = sr_errorf(SR_ERR_IO, "stat %s: %s", path, strerror(errno));
        goto done;
    }
    err = sr_csv_open(path, ',', &csv);
    if (err != SR_OK)
        goto done;
    static const char *const names[] = { "step", "metric" };
    int32_t col[2];
    const sr_str *f;
    uint32_t n_header;
    err = sr_csv_read(csv, &f, &n_header);
    if (err != SR_OK)
        goto done;
    if (n_header == 0) {
        err = sr_errorf(SR_ERR_EMPTY, "%s: empty file (no header)", path);
        goto done;
    }
    err = sr_csv_columns(path, f, n_header, names, NULL, 2, col);
    if (err != SR_OK)
        goto done;
    c->n_histories++;
    for (;;) {
        uint32_t nf;
        err = sr_csv_read(csv, &f, &nf);
        if (err != SR_OK)
            goto done;
        if (nf == 0)
            break;
        uint64_t line = sr_csv_lineno(csv);
        if (nf != n_header) {
            err = sr_errorf(SR_ERR_FORMAT,
                            "%s:%" PRIu64 ": %" PRIu32 " fields, the header has %" PRIu32, path,
                            line, nf, n_header);
            goto done;
        }
        double step, value;
        if (!sr_parse_f64(f[col[0]], &step) || !isfinite(step) || step < 0) {
            err = sr_errorf(SR_ERR_FORMAT, "%s:%" PRIu64 ": bad step " REPORT_FIELD_FMT, path, line,
                            REPORT_FIELD_ARG(f[col[0]]));
            goto done;
        }
        if (!report_parse_value(f[col[1]], &value)) {
            err = sr_errorf(SR_ERR_FORMAT,
                            "%s:%" PRIu64 ": column \"metric\": bad number " REPORT_FIELD_FMT, path,
                            line, REPORT_FIELD_ARG(f[col[1]]));
            goto done;
        }
        if (isnan(value))
            continue; /* no validation query: nothing to draw */
        err = report_add_point(r, c, step, value, path, line);
        if (err != SR_OK)
            goto done;
    }
done:
    sr_csv_free(&csv);
    free(path);
    return err;
}

static int report_cmp_point(const void *a, const void *b)
{
    double x = ((const report_point *)a)->step, y = ((const report_point *)b)->step;
    return (x > y) - (x < y);
}

/* Points of all seeds -> one point per step: the mean over the seeds that
 * validated at that step (early stopping ends seeds at different steps). */
static void report_aggregate_curve(report_config *c)
{
    if (c->n_curve == 0)
        return;
    qsort(c->curve, c->n_curve, sizeof *c->curve, report_cmp_point);
    size_t out = 0;
    for (size_t i = 0; i < c->n_curve;) {
        size_t j = i;
        double sum = 0.0;
        while (j < c->n_curve && c->curve[j].step == c->curve[i].step)
            sum += c->curve[j++].value;
        c->curve[out].step = c->curve[i].step;
        c->curve[out].value = sum / (double)(j - i);
        out++;
        i = j;
    }
    c->n_curve = out;
}

static sr_err report_read_histories(report *r)
{
    for (size_t i = 0; i < r->n_cfg; i++) {
        report_config *c = &r->cfg[i];
        for (int p = 0; p < REPORT_N_PROTOCOLS; p++) {
            for (size_t s = 0; s < c->n_runs[p]; s++) {
                int64_t seed = c->runs[p][s].seed;
                /* one training run has rows under both protocols: read its history once */
                bool seen = false;
                for (int q = 0; q < p && !seen; q++) {
                    for (size_t t = 0; t < c->n_runs[q] && !seen; t++)
                        seen = c->runs[q][t].seed == seed;
                }
                if (seen)
                    continue;
                sr_err err = report_read_history(r, c, seed);
                if (err != SR_OK)
                    return err;
            }
        }
        report_aggregate_curve(c);
    }
    return SR_OK;
}

/* ---- statistics ---------------------------------------------------------------- */

static sr_err report_compare(const report_config *c, const report_config *b, int p, int k,
                             double *a_val, double *b_val, report_cmp *out)
{
    memset(out, 0, sizeof *out);
    out->rel = NAN;
    out->t.p = out->w.p = NAN;
    size_t i = 0, j = 0;
    int n = 0;
    while (i < c->n_runs[p] && j < b->n_runs[p]) {
        const report_run *x = &c->runs[p][i], *y = &b->runs[p][j];
        if (x->seed < y->seed) {
            i++;
        } else if (y->seed < x->seed) {
            j++;
        } else {
            if (!isnan(x->metric[k]) && !isnan(y->metric[k])) {
                a_val[n] = x->metric[k];
                b_val[n] = y->metric[k];
                n++;
            }
            i++;
            j++;
        }
    }
    out->n_pairs = n;
    if (n == 0)
        return SR_OK;
    double sa = 0.0, sb = 0.0;
    for (int q = 0; q < n; q++) {
        sa += a_val[q];
        sb += b_val[q];
    }
    if (sb != 0.0)
        out->rel = sa / sb - 1.0; /* the n's cancel */
    if (n < 2)
        return SR_OK;
    sr_err err = sr_stats_paired_t(a_val, b_val, n, &out->t);
    if (err == SR_OK)
        err = sr_stats_wilcoxon(a_val, b_val, n, &out->w);
    if (err != SR_OK)
        return err;
    out->tested = true;
    return SR_OK;
}

static sr_err report_compute(report *r)
{
    sr_err err = SR_OK;
    double *a_val = malloc(2 * REPORT_MAX_SEEDS * sizeof *a_val);
    if (!a_val)
        return sr_errorf(SR_ERR_NOMEM, "report: out of memory");
    double *b_val = a_val + REPORT_MAX_SEEDS;
    for (size_t i = 0; i < r->n_cfg && err == SR_OK; i++) {
        report_config *c = &r->cfg[i];
        for (int p = 0; p < REPORT_N_PROTOCOLS && err == SR_OK; p++) {
            for (int k = 0; k < REPORT_N_METRICS && err == SR_OK; k++) {
                int n = 0;
                for (size_t s = 0; s < c->n_runs[p]; s++) {
                    if (!isnan(c->runs[p][s].metric[k]))
                        a_val[n++] = c->runs[p][s].metric[k];
                }
                sr_stats_summary *sum = &c->sum[p][k];
                if (n > 0) {
                    err = sr_stats_summarise(a_val, n, r->level, sum);
                } else {
                    sum->n = 0;
                    sum->mean = sum->sd = sum->ci_low = sum->ci_high = NAN;
                }
                if (err == SR_OK && c->base_idx >= 0) {
                    err =
                        report_compare(c, &r->cfg[c->base_idx], p, k, a_val, b_val, &c->cmp[p][k]);
                } else {
                    memset(&c->cmp[p][k], 0, sizeof c->cmp[p][k]);
                    c->cmp[p][k].rel = c->cmp[p][k].t.p = c->cmp[p][k].w.p = NAN;
                }
            }
        }
    }
    free(a_val);
    return err;
}

/* ---- output files -------------------------------------------------------------- */

typedef struct report_out {
    char *path; /* final name */
    char *tmp;  /* "<path>.tmp" */
    FILE *fp;
} report_out;

static sr_err report_out_open(report_out *o, const char *dir, const char *name)
{
    memset(o, 0, sizeof *o);
    o->path = report_path(dir, "%s", name);
    o->tmp = report_path(dir, "%s.tmp", name);
    if (!o->path || !o->tmp)
        return sr_errorf(SR_ERR_NOMEM, "report: out of memory");
    int fd = sr_tmpfile_create(o->tmp, false);
    if (fd < 0)
        return sr_errorf(SR_ERR_IO, "create %s: %s", o->tmp, strerror(errno));
    o->fp = fdopen(fd, "w");
    if (!o->fp) {
        int e = errno;
        close(fd);
        unlink(o->tmp);
        return sr_errorf(SR_ERR_IO, "open %s: %s", o->tmp, strerror(e));
    }
    return SR_OK;
}

/* Flush, fsync and close the temporary file (not yet renamed). */
static sr_err report_out_finish(report_out *o)
{
    int e = 0;
    if (ferror(o->fp))
        e = EIO;
    if (!e && fflush(o->fp) != 0)
        e = errno;
    if (!e && fsync(fileno(o->fp)) != 0)
        e = errno;
    if (fclose(o->fp) != 0 && !e)
        e = errno;
    o->fp = NULL;
    if (e)
        return sr_errorf(SR_ERR_IO, "write %s: %s", o->tmp, strerror(e));
    return SR_OK;
}

/* Close and remove whatever is left of the temporary file; free the names. */
static void report_out_discard(report_out *o)
{
    if (o->fp) {
        fclose(o->fp);
        o->fp = NULL;
    }
    if (o->tmp)
        unlink(o->tmp); /* never renamed: remove what is left */
    free(o->path);
    free(o->tmp);
    memset(o, 0, sizeof *o);
}

/* ---- number formatting ----------------------------------------------------------- */

static void report_csv_num(FILE *fp, double v)
{
    if (!isnan(v))
        fprintf(fp, "%.10g", v);
}

/* v with `decimals` decimals and a suffix, "-" for NaN. */
static void report_fmt(char *buf, size_t cap, double v, int decimals, const char *suffix)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.*f%s", decimals, v, suffix);
}

/* p-value for tables and text: 4 decimals, or two significant digits below 1e-4. */
static void report_fmt_p(char *buf, size_t cap, double p)
{
    if (isnan(p))
        snprintf(buf, cap, "-");
    else if (p == 0.0)
        snprintf(buf, cap, "0");
    else if (p < 1e-4)
        snprintf(buf, cap, "%.1e", p);
    else
        snprintf(buf, cap, "%.4f", p);
}

/* relative change in percent with its sign: "+2.10%" */
static void report_fmt_rel(char *buf, size_t cap, double rel)
{
    if (isnan(rel))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%+.2f%%", 100.0 * rel);
}

static bool report_significant(const report_cmp *m)
{
    return m->tested && m->t.p < REPORT_ALPHA && m->w.p < REPORT_ALPHA;
}

/* ---- summary.csv --------------------------------------------------------------- */

static void report_write_summary(const report *r, FILE *fp)
{
    fputs(
        "config,protocol,metric,n,mean,sd,ci_low,ci_high,base,rel_change,p_t,p_wilcoxon,n_pairs\n",
        fp);
    for (size_t i = 0; i < r->n_cfg; i++) {
        const report_config *c = &r->cfg[i];
        for (int p = 0; p < REPORT_N_PROTOCOLS; p++) {
            if (c->n_runs[p] == 0)
                continue;
            for (int k = 0; k < REPORT_N_METRICS; k++) {
                const sr_stats_summary *s = &c->sum[p][k];
                const report_cmp *m = &c->cmp[p][k];
                fprintf(fp, "%s,%s,%s,%d,", c->name, report_protocols[p], report_metric_keys[k],
                        s->n);
                report_csv_num(fp, s->mean);
                fputc(',', fp);
                report_csv_num(fp, s->sd);
                fputc(',', fp);
                report_csv_num(fp, s->ci_low);
                fputc(',', fp);
                report_csv_num(fp, s->ci_high);
                fprintf(fp, ",%s,", c->base);
                report_csv_num(fp, m->rel);
                fputc(',', fp);
                if (m->tested)
                    report_csv_num(fp, m->t.p);
                fputc(',', fp);
                if (m->tested)
                    report_csv_num(fp, m->w.p);
                fputc(',', fp);
                if (c->base[0])
                    fprintf(fp, "%d", m->n_pairs);
                fputc('\n', fp);
            }
        }
    }
}

/* ---- SVG ------------------------------------------------------------------------- */

/* Okabe-Ito colours (distinct for colour-blind readers); series also differ
 * by dash pattern, marker shape or hatching so that they survive grey-scale print. */
static const char *const svg_colours[] = { "#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                           "#E69F00", "#56B4E9", "#000000" };
static const char *const svg_dashes[] = { "", "7 3", "2 2", "9 3 2 3", "4 4" };
#define SVG_N_MARKERS 4

static void svg_escape(FILE *fp, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", fp); break;
        case '<': fputs("&lt;", fp); break;
        case '>': fputs("&gt;", fp); break;
        case '"': fputs("&quot;", fp); break;
        case '\'': fputs("&apos;", fp); break;
        default: fputc(*s, fp); break;
        }
    }
}

static void svg_open(FILE *fp, double w, double h, const char *title)
{
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
            "height=\"%.0f\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
            w, h, w, h);
    fputs("<title>", fp);
    svg_escape(fp, title);
    fputs("</title>\n", fp);
    /* diagonal hatching for the second bar series (grey-scale print) */
    fputs("<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
          "patternTransform=\"rotate(45)\"><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" "
          "stroke=\"#000000\" stroke-width=\"1.2\"/></pattern></defs>\n",
          fp);
    fprintf(fp, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", w, h);
}

static void svg_close(FILE *fp)
{
    fputs("</svg>\n", fp);
}

static void svg_rect(FILE *fp, double x, double y, double w, double h, const char *fill,
                     const char *stroke)
{
    fprintf(fp, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"", x, y, w,
            h, fill);
    if (stroke)
        fprintf(fp, " stroke=\"%s\" stroke-width=\"0.8\"", stroke);
    fputs("/>\n", fp);
}

static void svg_line(FILE *fp, double x1, double y1, double x2, double y2, const char *stroke,
                     double width, const char *dash)
{
    fprintf(
        fp,
        "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"%.1f\"",
        x1, y1, x2, y2, stroke, width);
    if (dash && dash[0])
        fprintf(fp, " stroke-dasharray=\"%s\"", dash);
    fputs("/>\n", fp);
}

/* anchor: "start", "middle" or "end"; rotate in degrees about (x, y). */
static void svg_text(FILE *fp, double x, double y, const char *anchor, double size, double rotate,
                     bool bold, const char *text)
{
    fprintf(fp, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\" font-size=\"%.0f\"", x, y, anchor,
            size);
    if (bold)
        fputs(" font-weight=\"bold\"", fp);
    if (rotate != 0.0)
        fprintf(fp, " transform=\"rotate(%.0f %.2f %.2f)\"", rotate, x, y);
    fputc('>', fp);
    svg_escape(fp, text);
    fputs("</text>\n", fp);
}

static void svg_polyline(FILE *fp, const double *x, const double *y, size_t n, const char *stroke,
                         const char *dash)
{
    fputs("<polyline fill=\"none\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"", fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%s%.2f,%.2f", i ? " " : "", x[i], y[i]);
    fprintf(fp, "\" stroke=\"%s\"", stroke);
    if (dash && dash[0])
        fprintf(fp, " stroke-dasharray=\"%s\"", dash);
    fputs("/>\n", fp);
}

/* Marker `shape` (circle, square, triangle, diamond) centred at (x, y). */
static void svg_marker(FILE *fp, int shape, double x, double y, const char *fill)
{
    const double r = 4.0;
    switch (shape % SVG_N_MARKERS) {
    case 0:
        fprintf(fp, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.1f\" fill=\"%s\"/>\n", x, y, r, fill);
        break;
    case 1: svg_rect(fp, x - r, y - r, 2 * r, 2 * r, fill, NULL); break;
    case 2:
        fprintf(fp, "<path d=\"M %.2f %.2f L %.2f %.2f L %.2f %.2f Z\" fill=\"%s\"/>\n", x,
                y - r - 1, x + r + 1, y + r, x - r - 1, y + r, fill);
        break;
    default:
        fprintf(fp, "<path d=\"M %.2f %.2f L %.2f %.2f L %.2f %.2f L %.2f %.2f Z\" fill=\"%s\"/>\n",
                x, y - r - 1, x + r + 1, y, x, y + r + 1, x - r - 1, y, fill);
        break;
    }
}

/* A "nice" axis range covering [lo, hi] with steps of 1, 2 or 5 x 10^k. */
typedef struct svg_axis {
    double lo, hi, step;
    int decimals; /* for the tick labels */
} svg_axis;

static svg_axis svg_nice_axis(double lo, double hi, int target_ticks)
{
    svg_axis a;
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0.0;
        hi = 1.0;
    }
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi - lo < 1e-12 * SR_MAX(fabs(lo), fabs(hi)) || hi == lo) {
        double pad = lo != 0.0 ? 0.1 * fabs(lo) : 1.0;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / (double)target_ticks;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double step = (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * mag;
    a.step = step;
    a.lo = floor(lo / step + 1e-9) * step;
    a.hi = ceil(hi / step - 1e-9) * step;
    if (a.hi <= a.lo)
        a.hi = a.lo + step;
    a.decimals = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (a.decimals > 10)
        a.decimals = 10;
    return a;
}

/* The plot area and its axes. */
typedef struct svg_frame {
    double x0, x1, y0, y1; /* left, right, top, bottom in pixels */
    svg_axis y;
} svg_frame;

static double svg_map_y(const svg_frame *fr, double v)
{
    return fr->y1 - (v - fr->y.lo) / (fr->y.hi - fr->y.lo) * (fr->y1 - fr->y0);
}

/* Horizontal grid, y ticks and labels, the axis lines and the y label. */
static void svg_y_axis(FILE *fp, const svg_frame *fr, const char *ylabel)
{
    char buf[64];
    int n = (int)floor((fr->y.hi - fr->y.lo) / fr->y.step + 0.5);
    for (int i = 0; i <= n; i++) {
        double v = fr->y.lo + i * fr->y.step;
        if (fabs(v) < 1e-9 * fr->y.step)
            v = 0.0; /* no "-0.00" */
        double y = svg_map_y(fr, v);
        svg_line(fp, fr->x0, y, fr->x1, y, "#dddddd", 0.8, NULL);
        svg_line(fp, fr->x0 - 5, y, fr->x0, y, "#000000", 1.0, NULL);
        snprintf(buf, sizeof buf, "%.*f", fr->y.decimals, v);
        svg_text(fp, fr->x0 - 8, y + 4, "end", 11, 0, false, buf);
    }
    svg_line(fp, fr->x0, fr->y0, fr->x0, fr->y1, "#000000", 1.0, NULL);
    svg_line(fp, fr->x0, fr->y1, fr->x1, fr->y1, "#000000", 1.0, NULL);
    svg_text(fp, 18, (fr->y0 + fr->y1) / 2, "middle", 12, -90, false, ylabel);
}

/* Legend in the right margin; kind 0: bar swatch (hatched if hatch[i]),
 * 1: line with marker. */
static void svg_legend(FILE *fp, double x, double y, int n, const char *const *labels,
                       const char *const *colours, const bool *hatch, int kind)
{
    for (int i = 0; i < n; i++) {
        double yy = y + 20.0 * i;
        if (kind == 0) {
            svg_rect(fp, x, yy - 10, 14, 14, colours[i], "#000000");
            if (hatch && hatch[i])
                svg_rect(fp, x, yy - 10, 14, 14, "url(#hatch)", NULL);
        } else {
            svg_line(fp, x, yy - 3, x + 28, yy - 3, colours[i], 2.0,
                     svg_dashes[i % SR_COUNTOF(svg_dashes)]);
            svg_marker(fp, i, x + 14, yy - 3, colours[i]);
        }
        svg_text(fp, x + (kind == 0 ? 20 : 34), yy + 1, "start", 12, 0, false, labels[i]);
    }
}

static size_t svg_max_len(int n, const char *const *labels)
{
    size_t m = 0;
    for (int i = 0; i < n; i++)
        m = SR_MAX(m, strlen(labels[i]));
    return m;
}

/* Width the bold 15 px title needs (~9 px a character, margins). */
static double svg_title_width(const char *title)
{
    return 9.0 * (double)strlen(title) + 30.0;
}

/* Grouped bars with CI whiskers: groups along x, n_series bars per group.
 * mean/lo/hi: [n_groups * n_series], NaN skipped. */
static void svg_bar_chart(FILE *fp, const char *title, const char *ylabel, int n_groups,
                          const char *const *groups, int n_series, const char *const *series,
                          const char *const *colours, const bool *hatch, const double *mean,
                          const double *lo, const double *hi)
{
    double vmin = 0.0, vmax = 0.0;
    for (int i = 0; i < n_groups * n_series; i++) {
        const double v[3] = { mean[i], lo[i], hi[i] };
        for (int j = 0; j < 3; j++) {
            if (isfinite(v[j])) {
                vmin = SR_MIN(vmin, v[j]);
                vmax = SR_MAX(vmax, v[j]);
            }
        }
    }
    if (vmax == vmin)
        vmax = vmin + 1.0;
    const double group_w = SR_MAX(60.0, 26.0 * n_series + 24.0);
    const double plot_w = SR_MAX(320.0, group_w * n_groups);
    const double legend_w = 40.0 + 7.0 * (double)svg_max_len(n_series, series);
    /* group labels are rotated by 40 degrees: ~6.5 px a character, reaching
     * cos 40 of that to the left of the group and sin 40 below the axis */
    const double label_len = 6.5 * (double)SR_MIN(svg_max_len(n_groups, groups), 80);
    const double gw = plot_w / (n_groups > 0 ? n_groups : 1);
    svg_frame fr = { .x0 = SR_MAX(70.0, 0.77 * label_len - gw / 2 + 10), .y0 = 45 };
    fr.x1 = fr.x0 + plot_w;
    fr.y1 = fr.y0 + 280;
    fr.y = svg_nice_axis(vmin, vmax, 6);
    const double w = SR_MAX(fr.x1 + 20 + legend_w, svg_title_width(title));
    const double h = fr.y1 + 30 + 0.64 * label_len;
    svg_open(fp, w, h, title);
    svg_text(fp, w / 2, 24, "middle", 15, 0, true, title);
    svg_y_axis(fp, &fr, ylabel);
    const double bw = SR_MIN(26.0, (gw - 16.0) / n_series);
    const double y_zero = svg_map_y(&fr, 0.0);
    for (int g = 0; g < n_groups; g++) {
        double gx = fr.x0 + g * gw + (gw - bw * n_series) / 2;
        for (int s = 0; s < n_series; s++) {
            int i = g * n_series + s;
            double bx = gx + s * bw;
            if (isfinite(mean[i])) {
                double y = svg_map_y(&fr, mean[i]);
                double top = SR_MIN(y, y_zero), height = fabs(y - y_zero);
                svg_rect(fp, bx + 1, top, bw - 2, height, colours[s], "#000000");
                if (hatch && hatch[s])
                    svg_rect(fp, bx + 1, top, bw - 2, height, "url(#hatch)", NULL);
            }
            if (isfinite(lo[i]) && isfinite(hi[i])) {
                double cx = bx + bw / 2, ylo = svg_map_y(&fr, lo[i]), yhi = svg_map_y(&fr, hi[i]);
                svg_line(fp, cx, ylo, cx, yhi, "#000000", 1.2, NULL);
                svg_line(fp, cx - 5, ylo, cx + 5, ylo, "#000000", 1.2, NULL);
                svg_line(fp, cx - 5, yhi, cx + 5, yhi, "#000000", 1.2, NULL);
            }
        }
        double lx = fr.x0 + (g + 0.5) * gw, ly = fr.y1 + 16;
        svg_text(fp, lx, ly, "end", 12, -40, false, groups[g]);
    }
    if (n_groups == 0)
        svg_text(fp, (fr.x0 + fr.x1) / 2, (fr.y0 + fr.y1) / 2, "middle", 13, 0, false, "no data");
    svg_legend(fp, fr.x1 + 20, fr.y0 + 10, n_series, series, colours, hatch, 0);
    svg_close(fp);
}

/* Lines: x numeric, or categorical (x values are 0..n_cat-1 labelled
 * xcat[]). NaN points break a line. */
static sr_err svg_line_chart(FILE *fp, const char *title, const char *xlabel, const char *ylabel,
                             int n_lines, const char *const *labels, const double *const *xs,
                             const double *const *ys, const size_t *ns, int n_cat,
                             const char *const *xcat, bool zero_line)
{
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    size_t most = 1;
    for (int l = 0; l < n_lines; l++) {
        most = SR_MAX(most, ns[l]);
        for (size_t i = 0; i < ns[l]; i++) {
            if (!isfinite(xs[l][i]) || !isfinite(ys[l][i]))
                continue;
            xmin = SR_MIN(xmin, xs[l][i]);
            xmax = SR_MAX(xmax, xs[l][i]);
            ymin = SR_MIN(ymin, ys[l][i]);
            ymax = SR_MAX(ymax, ys[l][i]);
        }
    }
    double *px = malloc(2 * most * sizeof *px);
    const char **line_colours = calloc((size_t)SR_MAX(n_lines, 1), sizeof *line_colours);
    if (!px || !line_colours) {
        free(px);
        free(line_colours);
        return sr_errorf(SR_ERR_NOMEM, "report: out of memory");
    }
    double *py = px + most;
    if (zero_line && isfinite(ymin)) {
        ymin = SR_MIN(ymin, 0.0);
        ymax = SR_MAX(ymax, 0.0);
    }
    const double legend_w = 50.0 + 7.0 * (double)svg_max_len(n_lines, labels);
    svg_frame fr = { .x0 = 75, .y0 = 45, .x1 = 75 + 520, .y1 = 45 + 300 };
    fr.y = svg_nice_axis(ymin, ymax, 6);
    const double w = SR_MAX(fr.x1 + 20 + legend_w, svg_title_width(title));
    const double h = SR_MAX(fr.y1 + 55, fr.y0 + 20.0 * n_lines + 20);
    svg_open(fp, w, h, title);
    svg_text(fp, w / 2, 24, "middle", 15, 0, true, title);
    svg_y_axis(fp, &fr, ylabel);

    svg_axis xa;
    if (n_cat > 0) {
        xa.lo = -0.5;
        xa.hi = n_cat - 0.5;
        xa.step = 1.0;
        xa.decimals = 0;
    } else {
        xa = svg_nice_axis(xmin, xmax, 6);
    }
    const double x_scale = (fr.x1 - fr.x0) / (xa.hi - xa.lo);
    char buf[64];
    int n_ticks = n_cat > 0 ? n_cat : (int)floor((xa.hi - xa.lo) / xa.step + 0.5) + 1;
    for (int i = 0; i < n_ticks; i++) {
        double v = n_cat > 0 ? (double)i : xa.lo + i * xa.step;
        double x = fr.x0 + (v - xa.lo) * x_scale;
        svg_line(fp, x, fr.y1, x, fr.y1 + 5, "#000000", 1.0, NULL);
        if (n_cat > 0)
            snprintf(buf, sizeof buf, "%s", xcat[i]);
        else
            snprintf(buf, sizeof buf, "%.*f", xa.decimals, v);
        svg_text(fp, x, fr.y1 + 18, "middle", 11, 0, false, buf);
    }
    svg_text(fp, (fr.x0 + fr.x1) / 2, fr.y1 + 40, "middle", 12, 0, false, xlabel);
    if (zero_line && fr.y.lo < 0.0 && fr.y.hi > 0.0) {
        double y = svg_map_y(&fr, 0.0);
        svg_line(fp, fr.x0, y, fr.x1, y, "#555555", 1.2, NULL);
    }
    for (int l = 0; l < n_lines; l++) {
        const char *colour = svg_colours[l % (int)SR_COUNTOF(svg_colours)];
        const char *dash = svg_dashes[l % (int)SR_COUNTOF(svg_dashes)];
        line_colours[l] = colour;
        size_t k = 0;
        /* one polyline per run of finite points; i == ns[l] flushes the last run */
        for (size_t i = 0; i <= ns[l]; i++) {
            if (i < ns[l] && isfinite(xs[l][i]) && isfinite(ys[l][i])) {
                px[k] = fr.x0 + (xs[l][i] - xa.lo) * x_scale;
                py[k] = svg_map_y(&fr, ys[l][i]);
                k++;
                continue;
            }
            if (k > 1)
                svg_polyline(fp, px, py, k, colour, dash);
            if (ns[l] <= 40) { /* markers only where they stay readable */
                for (size_t q = 0; q < k; q++)
                    svg_marker(fp, l, px[q], py[q], colour);
            }
            k = 0;
        }
    }
    svg_legend(fp, fr.x1 + 20, fr.y0 + 10, n_lines, labels, line_colours, NULL, 1);
    if (n_lines == 0)
        svg_text(fp, (fr.x0 + fr.x1) / 2, (fr.y0 + fr.y1) / 2, "middle", 13, 0, false, "no data");
    svg_close(fp);
    free(px);
    free(line_colours);
    return SR_OK;
}

/* ---- figures ----------------------------------------------------------------------- */

typedef struct report_figs {
    int protocol; /* the protocol the figures show */
    bool gain, skip, curves;
} report_figs;

/* Does configuration c have a base with rows under protocol p to compare with? */
static bool report_compared(const report *r, const report_config *c, int p)
{
    return c->base_idx >= 0 && c->n_runs[p] > 0 && r->cfg[c->base_idx].n_runs[p] > 0;
}

static const char *report_protocol_words(int p)
{
    return p == REPORT_FULL ? "full ranking" : "sampled protocol, for comparison only";
}

typedef char report_label[2 * REPORT_MAX_NAME + 8];

static void report_pair_label(report_label out, const report *r, const report_config *c)
{
    snprintf(out, sizeof(report_label), "%s vs %s", c->name, r->cfg[c->base_idx].name);
}

/* Scratch for one figure: labels and values of up to REPORT_MAX_CONFIGS groups. */
typedef struct report_fig_buf {
    report_label label[REPORT_MAX_CONFIGS];
    const char *lp[REPORT_MAX_CONFIGS];
    double mean[2 * REPORT_MAX_CONFIGS], lo[2 * REPORT_MAX_CONFIGS], hi[2 * REPORT_MAX_CONFIGS];
    double ys[REPORT_MAX_CONFIGS][4];
    const double *xp[REPORT_MAX_CONFIGS], *yp[REPORT_MAX_CONFIGS];
    size_t ns[REPORT_MAX_CONFIGS];
} report_fig_buf;

static void report_fig_metrics(const report *r, FILE *fp, int p, report_fig_buf *b)
{
    static const char *const series[2] = { "HR@10", "NDCG@10" };
    static const char *const colours[2] = { "#0072B2", "#E69F00" };
    static const bool hatch[2] = { false, true };
    static const int metric[2] = { M_HR10, M_NDCG10 };
    int n = 0;
    for (size_t i = 0; i < r->n_cfg; i++) {
        const report_config *c = &r->cfg[i];
        if (c->n_runs[p] == 0)
            continue;
        snprintf(b->label[n], sizeof b->label[n], "%s", c->name);
        b->lp[n] = b->label[n];
        for (int s = 0; s < 2; s++) {
            const sr_stats_summary *sum = &c->sum[p][metric[s]];
            b->mean[2 * n + s] = sum->mean;
            b->lo[2 * n + s] = sum->ci_low;
            b->hi[2 * n + s] = sum->ci_high;
        }
        n++;
    }
    char title[160];
    snprintf(title, sizeof title, "HR@10 and NDCG@10, mean and %g%% CI (%s)", 100.0 * r->level,
             report_protocol_words(p));
    svg_bar_chart(fp, title, "metric value", n, b->lp, 2, series, colours, hatch, b->mean, b->lo,
                  b->hi);
}

static void report_fig_skip(const report *r, FILE *fp, int p, report_fig_buf *b)
{
    static const char *const series[2] = { "base", "configuration" };
    static const char *const colours[2] = { "#BBBBBB", "#0072B2" };
    static const bool hatch[2] = { true, false };
    int n = 0;
    for (size_t i = 0; i < r->n_cfg; i++) {
        const report_config *c = &r->cfg[i];
        if (!report_compared(r, c, p))
            continue;
        report_pair_label(b->label[n], r, c);
        b->lp[n] = b->label[n];
        const sr_stats_summary *s[2] = { &r->cfg[c->base_idx].sum[p][M_SKIP10],
                                         &c->sum[p][M_SKIP10] };
        for (int q = 0; q < 2; q++) {
            b->mean[2 * n + q] = s[q]->mean;
            b->lo[2 * n + q] = s[q]->ci_low;
            b->hi[2 * n + q] = s[q]->ci_high;
        }
        n++;
    }
    char title[160];
    snprintf(title, sizeof title, "Skip-MRR@10, lower is better, mean and %g%% CI (%s)",
             100.0 * r->level, report_protocol_words(p));
    svg_bar_chart(fp, title, "Skip-MRR@10", n, b->lp, 2, series, colours, hatch, b->mean, b->lo,
                  b->hi);
}

static sr_err report_fig_gain(const report *r, FILE *fp, int p, report_fig_buf *b)
{
    static const double xs[4] = { 0, 1, 2, 3 };
    static const char *const ks[4] = { "1", "5", "10", "20" };
    static const int metric[4] = { M_HR1, M_HR5, M_HR10, M_HR20 };
    int n = 0;
    for (size_t i = 0; i < r->n_cfg; i++) {
        const report_config *c = &r->cfg[i];
        if (!report_compared(r, c, p))
            continue;
        report_pair_label(b->label[n], r, c);
        b->lp[n] = b->label[n];
        for (int k = 0; k < 4; k++)
            b->ys[n][k] = 100.0 * c->cmp[p][metric[k]].rel;
        b->xp[n] = xs;
        b->yp[n] = b->ys[n];
        b->ns[n] = 4;
        n++;
    }
    char title[160];
    snprintf(title, sizeof title, "Relative change of HR@K against the base (%s)",
             report_protocol_words(p));
    return svg_line_chart(fp, title, "K", "change of HR@K (%)", n, b->lp, b->xp, b->yp, b->ns, 4,
                          ks, true);
}

static sr_err report_fig_curves(const report *r, FILE *fp, report_fig_buf *b)
{
    sr_err err = SR_OK;
    size_t total = 0;
    for (size_t i = 0; i < r->n_cfg; i++)
        total += r->cfg[i].n_curve;
    double *v = malloc(2 * SR_MAX(total, 1) * sizeof *v);
    if (!v)
        return sr_errorf(SR_ERR_NOMEM, "report: out of memory");
    double *xv = v, *yv = v + SR_MAX(total, 1);
    int n = 0;
    size_t off = 0;
    for (size_t i = 0; i < r->n_cfg; i++) {
        const report_config *c = &r->cfg[i];
        if (c->n_curve == 0)
            continue;
        snprintf(b->label[n], sizeof b->label[n], "%s (%d seed%s)", c->name, c->n_histories,
                 c->n_histories == 1 ? "" : "s");
        b->lp[n] = b->label[n];
        for (size_t q = 0; q < c->n_curve; q++) {
            xv[off + q] = c->curve[q].step;
            yv[off + q] = c->curve[q].value;
        }
        b->xp[n] = xv + off;
        b->yp[n] = yv + off;
        b->ns[n] = c->n_curve;
        off += c->n_curve;
        n++;
    }
    err = svg_line_chart(fp, "Validation metric during training, mean over the seeds at each step",
                         "training step", "validation metric", n, b->lp, b->xp, b->yp, b->ns, 0,
                         NULL, false);
    free(v);
    return err;
}

/* ---- REPORT.md ---------------------------------------------------------------------- */

/* The next seed of c in ascending order over both protocols, after `after`
 * (INT64_MIN: the first); false when there is none. */
static bool md_next_seed(const report_config *c, int64_t after, bool first, int64_t *out)
{
    bool found = false;
    for (int p = 0; p < REPORT_N_PROTOCOLS; p++) {
        for (size_t i = 0; i < c->n_runs[p]; i++) {
            int64_t s = c->runs[p][i].seed;
            if ((first || s > after) && (!found || s < *out)) {
                *out = s;
                found = true;
            }
            if (!first && s > after)
                break; /* sorted: the rest are larger */
        }
    }
    return found;
}

/* "1-5, 7, 9, 10": the seeds of c, both protocols together. */
static void md_seeds(FILE *fp, const report_config *c)
{
    int64_t lo = 0, hi = 0, s = 0;
    if (!md_next_seed(c, 0, true, &lo))
        return;
    hi = lo;
    bool first = true;
    for (;;) {
        bool more = md_next_seed(c, hi, false, &s);
        if (more && hi < INT64_MAX && s == hi + 1) {
            hi = s;
            continue;
        }
        fprintf(fp, "%s%" PRId64, first ? "" : ", ", lo);
        if (hi > lo)
            fprintf(fp, "%s%" PRId64, hi == lo + 1 ? ", " : "-", hi);
        first = false;
        if (!more)
            break;
        lo = hi = s;
    }
}

static void md_configs(const report *r, FILE *fp)
{
    fputs("## Configurations\n\n", fp);
    fputs("| configuration | model | base | seeds | best step (mean) | training time (mean) |\n",
          fp);
    fputs("| --- | --- | --- | --- | ---: | ---: |\n", fp);
    for (size_t i = 0; i < r->n_cfg; i++) {
        const report_config *c = &r->cfg[i];
        int p = c->n_runs[REPORT_FULL] > 0 ? REPORT_FULL : REPORT_SAMPLED;
        double step = 0.0, secs = 0.0;
        int n_step = 0, n_secs = 0;
        for (size_t s = 0; s < c->n_runs[p]; s++) {
            if (!isnan(c->runs[p][s].best_step)) {
                step += c->runs[p][s].best_step;
                n_step++;
            }
            if (!isnan(c->runs[p][s].train_seconds)) {
                secs += c->runs[p][s].train_seconds;
                n_secs++;
            }
        }
        char bs[32], ts[32];
        report_fmt(bs, sizeof bs, n_step ? step / n_step : NAN, 0, "");
        report_fmt(ts, sizeof ts, n_secs ? secs / n_secs : NAN, 0, " s");
        fprintf(fp, "| `%s` | %s | ", c->name, report_models[c->model]);
        if (c->base[0])
            fprintf(fp, "`%s`%s", c->base, c->base_idx < 0 ? " (no results)" : "");
        else
            fputs("-", fp);
        fputs(" | ", fp);
        md_seeds(fp, c);
        fprintf(fp, " | %s | %s |\n", bs, ts);
    }
    fputc('\n', fp);
}

/* "0.1234 [0.1200, 0.1268]", "0.1234 [-]" (one seed) or "-" (no value). */
static void md_cell(FILE *fp, const sr_stats_summary *s, size_t n_runs)
{
    if (s->n == 0 || isnan(s->mean)) {
        fputs(" - |", fp);
        return;
    }
    if (isnan(s->ci_low) || isnan(s->ci_high))
        fprintf(fp, " %.4f [-]", s->mean);
    else
        fprintf(fp, " %.4f [%.4f, %.4f]", s->mean, s->ci_low, s->ci_high);
    if ((size_t)s->n < n_runs)
        fprintf(fp, " (n=%d)", s->n); /* some seeds had no query of this kind */
    fputs(" |", fp);
}

static void md_summary_table(const report *r, FILE *fp, int p)
{
    fputs("| configuration | seeds |", fp);
    for (int k = 0; k < REPORT_N_METRICS; k++)
        fprintf(fp, " %s%s |", report_metric_labels[k], k == M_SKIP10 ? " (lower is better)" : "");
    fputs("\n| --- | ---: |", fp);
    for (int k = 0; k < REPORT_N_METRICS; k++)
        fputs(" --- |", fp);
    fputc('\n', fp);
    for (size_t i = 0; i < r->n_cfg; i++) {
        const report_config *c = &r->cfg[i];
        if (c->n_runs[p] == 0)
            continue;
        fprintf(fp, "| `%s` | %zu |", c->name, c->n_runs[p]);
        for (int k = 0; k < REPORT_N_METRICS; k++)
            md_cell(fp, &c->sum[p][k], c->n_runs[p]);
        fputc('\n', fp);
    }
    fputc('\n', fp);
}

static void md_p(FILE *fp, double p)
{
    char buf[32];
    report_fmt_p(buf, sizeof buf, p);
    fprintf(fp, p < REPORT_ALPHA ? " **%s** |" : " %s |", buf);
}

static void md_rel_table(const report *r, FILE *fp, int p)
{
    int n = 0;
    for (size_t i = 0; i < r->n_cfg; i++)
        n += r->cfg[i].base[0] && r->cfg[i].n_runs[p] > 0;
    fputs("### Relative change against the base\n\n", fp);
    if (n == 0) {
        fputs("No configuration names a base: nothing to compare.\n\n", fp);
        return;
    }
    fputs("Change of the mean over the seeds both configurations ran (pairs: runs matched by "
          "seed), in percent of the base's mean; two-sided p-values of the paired t-test (t) and "
          "the Wilcoxon signed-rank test (W) over those pairs, `-` with fewer than two pairs. "
          "The Wilcoxon p-value is exact unless differences tie or are zero (then the normal "
          "approximation). **Bold**: p < 0.05. For Skip-MRR@10 a negative change means skipped "
          "tracks are ranked lower, as intended.\n\n",
          fp);
    fputs("| configuration | base | pairs |", fp);
    for (int k = 0; k < REPORT_N_METRICS; k++)
        fprintf(fp, " %s |", report_metric_labels[k]);
    for (size_t q = 0; q < SR_COUNTOF(report_tested_metrics); q++) {
        const char *l = report_metric_labels[report_tested_metrics[q]];
        fprintf(fp, " %s p (t) | %s p (W) |", l, l);
    }
    fputs("\n| --- | --- | ---: |", fp);
    for (size_t k = 0; k < REPORT_N_METRICS + 2 * SR_COUNTOF(report_tested_metrics); k++)
        fputs(" ---: |", fp);
    fputc('\n', fp);
    for (size_t i = 0; i < r->n_cfg; i++) {
        const report_config *c = &r->cfg[i];
        if (!c->base[0] || c->n_runs[p] == 0)
            continue;
        fprintf(fp, "| `%s` | `%s` | %d |", c->name, c->base, c->cmp[p][M_HR10].n_pairs);
        for (int k = 0; k < REPORT_N_METRICS; k++) {
            char buf[32];
            report_fmt_rel(buf, sizeof buf, c->cmp[p][k].rel);
            fprintf(fp, " %s |", buf);
        }
        for (size_t q = 0; q < SR_COUNTOF(report_tested_metrics); q++) {
            const report_cmp *m = &c->cmp[p][report_tested_metrics[q]];
            md_p(fp, m->tested ? m->t.p : NAN);
            md_p(fp, m->tested ? m->w.p : NAN);
        }
        fputc('\n', fp);
    }
    fputc('\n', fp);
}

static void md_figures(const report *r, FILE *fp, const report_figs *f)
{
    fputs("### Figures\n\n", fp);
    fprintf(fp, "![HR@10 and NDCG@10 per configuration, mean and %g%% CI](figures/metrics.svg)\n\n",
            100.0 * r->level);
    if (f->gain)
        fputs("![Relative change of HR@K against the base, K = 1, 5, 10, 20]"
              "(figures/gain_vs_k.svg)\n\n",
              fp);
    if (f->skip)
        fputs("![Skip-MRR@10 of each configuration beside its base (lower is better)]"
              "(figures/skip_mrr.svg)\n\n",
              fp);
    if (f->curves)
        fputs("![Validation metric against training step, mean over the seeds at each step]"
              "(figures/valid_curves.svg)\n\n",
              fp);
}

static void md_protocol(const report *r, FILE *fp, int p, const report_figs *f)
{
    if (p == REPORT_FULL) {
        fputs("## Full-catalogue ranking\n\n", fp);
        fprintf(fp,
                "Every test query ranks its target against the whole catalogue. Cells: mean over "
                "seeds [%g%% confidence interval, Student t over the seeds]; `[-]` where a single "
                "seed gives no interval. Higher is better, except Skip-MRR@10 (MRR@10 over the "
                "queries whose target was skipped): lower is better.\n\n",
                100.0 * r->level);
    } else {
        fputs("## Sampled protocol (the authors' - for comparison only, not a result)\n\n", fp);
        fputs("> **Warning:** here each target is ranked only against a sample of items, as in the "
              "authors' code since January 2024 (SPEC.md section 6, item 5). Sampled metrics can "
              "disagree with full ranking, even in the order of models (Krichene & Rendle, KDD "
              "2020). These numbers are shown for comparison with the papers only; they are not a "
              "result of this experiment.\n\n",
              fp);
        fprintf(fp,
                "Cells: mean over seeds [%g%% confidence interval]. Skip-MRR@10: lower is "
                "better.\n\n",
                100.0 * r->level);
    }
    md_summary_table(r, fp, p);
    md_rel_table(r, fp, p);
    if (f->protocol == p)
        md_figures(r, fp, f);
}

/* One metric of one comparison, as a sentence that never claims more than
 * the tests show. */
static void md_reading_metric(FILE *fp, int k, const report_cmp *m)
{
    const char *label = report_metric_labels[k];
    char rel[32], pt[32], pw[32];
    report_fmt_rel(rel, sizeof rel, m->rel);
    report_fmt_p(pt, sizeof pt, m->t.p);
    report_fmt_p(pw, sizeof pw, m->w.p);
    /* ties or zero differences: scipy's normal approximation, worth flagging with few seeds */
    const char *approx = !m->w.exact && !isnan(m->w.p) ? " by normal approximation" : "";
    if (isnan(m->t.stat) || (isnan(m->t.p) && isnan(m->w.p))) {
        fprintf(fp, " %s: no significant difference (the same value in every pair).", label);
        return;
    }
    bool higher = m->t.stat > 0.0;
    const char *dir = higher ? "higher" : "lower";
    if (report_significant(m)) {
        fprintf(fp, " %s is significantly %s (%s; p = %s t-test, %s Wilcoxon%s)", label, dir, rel,
                pt, pw, approx);
        if (k == M_SKIP10)
            fprintf(fp, ": skipped tracks are ranked %s", dir);
        fputc('.', fp);
        return;
    }
    if (k == M_SKIP10)
        fprintf(fp, " %s %s (%s: skipped tracks ranked %s on average): no significant difference",
                label, rel, dir, dir);
    else
        fprintf(fp, " %s %s: no significant difference", label, rel);
    fprintf(fp, " (p = %s t-test, %s Wilcoxon%s", pt, pw, approx);
    if (m->t.p < REPORT_ALPHA || m->w.p < REPORT_ALPHA)
        fprintf(fp, "; p < 0.05 under the %s only",
                m->t.p < REPORT_ALPHA ? "t-test" : "Wilcoxon test");
    fputs(").", fp);
}

/* The smallest p-value the exact two-sided Wilcoxon test can give with n
 * non-zero differences: both all-positive and all-negative have 1/2^n. */
static double report_wilcoxon_floor(int n)
{
    return n > 0 ? ldexp(2.0, -n) : 1.0;
}

static void md_reading_config(const report *r, FILE *fp, const report_config *c, int p)
{
    if (c->base_idx < 0) {
        fprintf(fp, "- `%s`: its base `%s` has no results, so there is nothing to compare.\n",
                c->name, c->base);
        return;
    }
    const report_cmp *nd = &c->cmp[p][M_NDCG10], *hr = &c->cmp[p][M_HR10];
    int pairs = hr->n_pairs;
    fprintf(fp, "- `%s` against `%s` (%d paired seed%s):", c->name, c->base, pairs,
            pairs == 1 ? "" : "s");
    if (!report_compared(r, c, p) || pairs == 0) {
        fputs(" no seed in common with its base under this protocol, so nothing to compare.\n", fp);
        return;
    }
    if (!hr->tested) {
        char a[32], b[32];
        report_fmt_rel(a, sizeof a, nd->rel);
        report_fmt_rel(b, sizeof b, hr->rel);
        fprintf(fp,
                " one pair allows no test; NDCG@10 %s and HR@10 %s are the differences of single "
                "runs - no significant difference can be claimed.\n",
                a, b);
        return;
    }
    for (size_t q = 0; q < SR_COUNTOF(report_tested_metrics); q++) {
        const report_cmp *m = &c->cmp[p][report_tested_metrics[q]];
        if (m->tested)
            md_reading_metric(fp, report_tested_metrics[q], m);
        else
            fprintf(fp, " %s: fewer than two pairs with a value, no test.",
                    report_metric_labels[report_tested_metrics[q]]);
    }
    /* The exact Wilcoxon p has a floor: with few seeds "significant under both tests" is
     * out of reach, and the reader must know that it is the design, not the data. */
    const char *floored[SR_COUNTOF(report_tested_metrics)];
    int n_floored = 0, wn = 0;
    for (size_t q = 0; q < SR_COUNTOF(report_tested_metrics); q++) {
        const report_cmp *m = &c->cmp[p][report_tested_metrics[q]];
        if (m->tested && m->w.exact && m->w.n > 0 &&
            report_wilcoxon_floor(m->w.n) >= REPORT_ALPHA) {
            floored[n_floored++] = report_metric_labels[report_tested_metrics[q]];
            wn = SR_MAX(wn, m->w.n);
        }
    }
    if (n_floored > 0) {
        int need = wn;
        while (report_wilcoxon_floor(need) >= REPORT_ALPHA)
            need++;
        fprintf(fp,
                " With %d non-zero paired difference%s the exact Wilcoxon p-value cannot go below "
                "2/2^%d = %.4g, so p < 0.05 under both tests is out of reach for ",
                wn, wn == 1 ? "" : "s", wn, report_wilcoxon_floor(wn));
        for (int q = 0; q < n_floored; q++)
            fprintf(fp, "%s%s", q == 0 ? "" : q == n_floored - 1 ? " and " : ", ", floored[q]);
        fprintf(fp, "; that needs at least %d seeds.", need);
    }
    fputc('\n', fp);
}

static void md_reading(const report *r, FILE *fp)
{
    fputs("## Reading\n\n", fp);
    if (!r->has_protocol[REPORT_FULL]) {
        fputs("There are no full-catalogue results, so there is nothing to read: the sampled "
              "numbers above are for comparison only.\n",
              fp);
        return;
    }
    fputs("From the full-catalogue ranking. A change is called significant only when p < 0.05 "
          "under both the paired t-test and the Wilcoxon signed-rank test over the seeds the two "
          "configurations share; anything else is reported as no significant difference.\n\n",
          fp);
    int n_sampled = 0;
    for (size_t i = 0; i < r->n_cfg; i++) {
        const report_config *c = &r->cfg[i];
        if (c->n_runs[REPORT_FULL] == 0)
            continue;
        if (!c->base[0]) {
            bool is_base = false;
            for (size_t j = 0; j < r->n_cfg; j++)
                is_base = is_base || r->cfg[j].base_idx == (int)i;
            if (!is_base)
                fprintf(fp,
                        "- `%s` has no base and is no configuration's base: shown for reference.\n",
                        c->name);
            continue;
        }
        md_reading_config(r, fp, c, REPORT_FULL);
        n_sampled += report_compared(r, c, REPORT_SAMPLED);
    }
    if (n_sampled == 0)
        return;
    fputs("\nFor comparison only (the authors' sampled protocol, not a result):", fp);
    for (size_t i = 0; i < r->n_cfg; i++) {
        const report_config *c = &r->cfg[i];
        if (!report_compared(r, c, REPORT_SAMPLED) || c->n_runs[REPORT_FULL] == 0)
            continue;
        char a[32], b[32];
        report_fmt_rel(a, sizeof a, c->cmp[REPORT_SAMPLED][M_NDCG10].rel);
        report_fmt_rel(b, sizeof b, c->cmp[REPORT_SAMPLED][M_HR10].rel);
        fprintf(fp, " `%s` against `%s` changes NDCG@10 by %s and HR@10 by %s there.", c->name,
                c->base, a, b);
    }
    fputc('\n', fp);
}

static void report_write_md(const report *r, FILE *fp, const sr_report_info *info,
                            const report_figs *f)
{
    fputs("# ", fp);
    const char *title = info && info->title && info->title[0] ? info->title : "Experiment report";
    for (const char *s = title; *s; s++)
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, fp); /* a heading is one line */
    fputs("\n\n", fp);
    if (info && info->notes && info->notes[0]) {
        fputs(info->notes, fp);
        fputs(info->notes[strlen(info->notes) - 1] == '\n' ? "\n" : "\n\n", fp);
    }
    md_configs(r, fp);
    if (r->has_protocol[REPORT_FULL])
        md_protocol(r, fp, REPORT_FULL, f);
    if (r->has_protocol[REPORT_SAMPLED])
        md_protocol(r, fp, REPORT_SAMPLED, f);
    md_reading(r, fp);
}

/* ---- the entry point ---------------------------------------------------------------- */

enum { OUT_SUMMARY, OUT_REPORT, OUT_METRICS, OUT_GAIN, OUT_SKIP, OUT_CURVES, REPORT_N_OUTS };
static const char *const report_out_names[REPORT_N_OUTS] = {
    "summary.csv",           "REPORT.md",            "figures/metrics.svg",
    "figures/gain_vs_k.svg", "figures/skip_mrr.svg", "figures/valid_curves.svg",
};

static sr_err report_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0)
        return SR_OK;
    struct stat st;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return SR_OK;
    return sr_errorf(SR_ERR_IO, "mkdir %s: %s", path, strerror(errno == EEXIST ? ENOTDIR : errno));
}

sr_err sr_report_write(const char *dir, const sr_report_info *info)
{
    if (!dir || !dir[0])
        return sr_errorf(SR_ERR_ARG, "sr_report_write: no directory");
    double level = info ? info->level : 0.95;
    if (!(level > 0.0 && level < 1.0))
        return sr_errorf(SR_ERR_ARG, "sr_report_write: confidence level %g is not in (0, 1)",
                         level);
    sr_err err = SR_OK;
    report r;
    memset(&r, 0, sizeof r);
    r.dir = dir;
    r.level = level;
    report_out out[REPORT_N_OUTS];
    memset(out, 0, sizeof out);
    report_fig_buf *fb = NULL;
    char *figdir = NULL;

    err = report_read_results(&r);
    if (err == SR_OK)
        err = report_read_histories(&r);
    if (err == SR_OK)
        err = report_compute(&r);
    if (err != SR_OK)
        goto done;

    report_figs figs = { .protocol = r.has_protocol[REPORT_FULL] ? REPORT_FULL : REPORT_SAMPLED };
    for (size_t i = 0; i < r.n_cfg; i++) {
        /* both comparison figures need a configuration with a base that has results */
        figs.gain = figs.gain || report_compared(&r, &r.cfg[i], figs.protocol);
        figs.skip = figs.gain;
        figs.curves = figs.curves || r.cfg[i].n_curve > 0;
    }
    const bool wanted[REPORT_N_OUTS] = { true, true, true, figs.gain, figs.skip, figs.curves };

    fb = malloc(sizeof *fb);
    figdir = report_path(dir, "figures");
    if (!fb || !figdir) {
        err = sr_errorf(SR_ERR_NOMEM, "report: out of memory");
        goto done;
    }
    err = report_mkdir(figdir);
    if (err != SR_OK)
        goto done;
    for (int o = 0; o < REPORT_N_OUTS && err == SR_OK; o++) {
        if (!wanted[o])
            continue;
        err = report_out_open(&out[o], dir, report_out_names[o]);
        if (err != SR_OK)
            break;
        FILE *fp = out[o].fp;
        switch (o) {
        case OUT_SUMMARY: report_write_summary(&r, fp); break;
        case OUT_REPORT: report_write_md(&r, fp, info, &figs); break;
        case OUT_METRICS: report_fig_metrics(&r, fp, figs.protocol, fb); break;
        case OUT_GAIN: err = report_fig_gain(&r, fp, figs.protocol, fb); break;
        case OUT_SKIP: report_fig_skip(&r, fp, figs.protocol, fb); break;
        default: err = report_fig_curves(&r, fp, fb); break;
        }
        if (err == SR_OK)
            err = report_out_finish(&out[o]);
    }
    if (err != SR_OK)
        goto done;
    /* Everything is on disk: now replace the old report, file by file. */
    for (int o = 0; o < REPORT_N_OUTS; o++) {
        if (!wanted[o]) {
            /* a figure of an earlier report that no longer applies would mislead */
            char *stale = report_path(dir, "%s", report_out_names[o]);
            if (!stale) {
                err = sr_errorf(SR_ERR_NOMEM, "report: out of memory");
                goto done;
            }
            if (unlink(stale) != 0 && errno != ENOENT)
                err = sr_errorf(SR_ERR_IO, "remove stale %s: %s", stale, strerror(errno));
            free(stale);
            if (err != SR_OK)
                goto done;
            continue;
        }
        if (rename(out[o].tmp, out[o].path) != 0) {
            err = sr_errorf(SR_ERR_IO, "rename %s -> %s: %s", out[o].tmp, out[o].path,
                            strerror(errno));
            goto done;
        }
        free(out[o].tmp); /* renamed: nothing left to remove */
        out[o].tmp = NULL;
    }
    err = sr_fsync_dir_of(out[OUT_SUMMARY].path);
    if (err == SR_OK)
        err = sr_fsync_dir_of(out[OUT_METRICS].path);
done:
    for (int o = 0; o < REPORT_N_OUTS; o++)
        report_out_discard(&out[o]);
    free(fb);
    free(figdir);
    report_free(&r);
    return err;
}
