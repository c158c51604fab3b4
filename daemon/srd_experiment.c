/* srd_experiment.c - experiment specs and their runner (srd_experiment.h). */
#define _XOPEN_SOURCE 700
#include "srd_experiment.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <time.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_baseline.h"
#include "sr_ckpt.h"
#include "sr_eval.h"
#include "sr_report.h"
#include "sr_store.h"
#include "srd_log.h"

/* ---- parsing ---------------------------------------------------------------- */

typedef struct srd_exp_parse {
    srd_exp_spec *spec;
    srd_exp_config *cur; /* the [config ...] section being read */
    char err[300];
    bool seeds_set;
} srd_exp_parse;

static bool srd_exp_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SRD_EXP_NAME_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+'))
            return false;
    }
    return true;
}

__attribute__((format(printf, 2, 3))) static int srd_exp_fail(srd_exp_parse *p,
                                                               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    return 0;
}

static int srd_exp_copy(srd_exp_parse *p, char *dst, size_t cap, const char *key, const char *v)
{
    if (strlen(v) >= cap)
        return srd_exp_fail(p, "%s: value too long (\"%s\")", key, v);
    memcpy(dst, v, strlen(v) + 1);
    return 1;
}

static int srd_exp_seeds(srd_exp_parse *p, const char *name, const char *value)
{
    srd_exp_spec *s = p->spec;
    s->n_seeds = 0;
    if (strcmp(name, "seeds") == 0) {
        char *end = NULL;
        long n = strtol(value, &end, 10);
        if (*end != '\0' || n < 1 || n > SRD_EXP_MAX_SEEDS)
            return srd_exp_fail(p, "seeds = %s: need a count 1..100", value);
        for (long i = 0; i < n; i++)
            s->seeds[s->n_seeds++] = (uint64_t)(i + 1);
    } else {
        const char *c = value;
        while (*c) {
            char *end = NULL;
            unsigned long long u = strtoull(c, &end, 10);
            if (end == c || s->n_seeds >= SRD_EXP_MAX_SEEDS)
                return srd_exp_fail(p, "seed_list = %s: need comma-separated seeds", value);
            s->seeds[s->n_seeds++] = u;
            c = end;
            while (*c == ',' || *c == ' ')
                c++;
        }
        if (s->n_seeds == 0)
            return srd_exp_fail(p, "seed_list = %s: empty", value);
    }
    p->seeds_set = true;
    return 1;
}

static int srd_exp_handler(void *user, const char *section, const char *name, const char *value)
{
    srd_exp_parse *p = user;
    srd_exp_spec *s = p->spec;
    if (strcmp(section, "experiment") == 0) {
        p->cur = NULL;
        if (strcmp(name, "title") == 0)
            return srd_exp_copy(p, s->title, sizeof s->title, name, value);
        if (strcmp(name, "dataset") == 0)
            return srd_exp_copy(p, s->dataset, sizeof s->dataset, name, value);
        if (strcmp(name, "notes") == 0) {
            size_t l = strlen(s->notes);
            if (l + strlen(value) + 2 > sizeof s->notes)
                return srd_exp_fail(p, "notes: too long");
            snprintf(s->notes + l, sizeof s->notes - l, "%s\n", value);
            return 1;
        }
        if (strcmp(name, "seeds") == 0 || strcmp(name, "seed_list") == 0)
            return srd_exp_seeds(p, name, value);
        if (strcmp(name, "split") == 0) {
            if (strcmp(value, "test") == 0)
                s->split = SR_SPLIT_TEST;
            else if (strcmp(value, "validation") == 0)
                s->split = SR_SPLIT_VALID;
            else
                return srd_exp_fail(p, "split = %s: expected test or validation", value);
            return 1;
        }
        if (strcmp(name, "protocols") == 0) {
            if (!strstr(value, "full"))
                return srd_exp_fail(p, "protocols = %s: full ranking is always run; list it",
                                    value);
            s->sampled = strstr(value, "sampled") != NULL;
            return 1;
        }
        return srd_exp_fail(p, "[experiment] has no key \"%s\"", name);
    }
    if (strncmp(section, "config ", 7) == 0) {
        const char *cname = section + 7;
        if (!p->cur || strcmp(p->cur->name, cname) != 0) {
            if (!srd_exp_name_ok(cname))
                return srd_exp_fail(p, "[config %s]: names are 1..40 of [A-Za-z0-9._+-]",
                                    cname);
            for (int i = 0; i < s->n_configs; i++)
                if (strcmp(s->configs[i].name, cname) == 0)
                    return srd_exp_fail(p, "[config %s] appears twice", cname);
            if (s->n_configs >= SRD_EXP_MAX_CONFIGS)
                return srd_exp_fail(p, "more than 64 configurations");
            p->cur = &s->configs[s->n_configs++];
            memset(p->cur, 0, sizeof *p->cur);
            snprintf(p->cur->name, sizeof p->cur->name, "%s", cname);
            snprintf(p->cur->preset, sizeof p->cur->preset, "fast");
        }
        srd_exp_config *c = p->cur;
        if (strcmp(name, "model") == 0)
            return srd_exp_copy(p, c->model, sizeof c->model, name, value);
        if (strcmp(name, "preset") == 0)
            return srd_exp_copy(p, c->preset, sizeof c->preset, name, value);
        if (strcmp(name, "base") == 0)
            return srd_exp_copy(p, c->base, sizeof c->base, name, value);
        if (strcmp(name, "set") == 0) {
            if (c->n_set >= SRD_EXP_MAX_SETS)
                return srd_exp_fail(p, "[config %s]: more than 32 set lines", c->name);
            return srd_exp_copy(p, c->set[c->n_set++], sizeof c->set[0], name, value);
        }
        return srd_exp_fail(p, "[config ...] has no key \"%s\"", name);
    }
    return srd_exp_fail(p, "unknown section [%s] (expected [experiment] or [config NAME])",
                        section);
}

static bool srd_exp_neural(const srd_exp_config *c)
{
    return strcmp(c->model, "sasrec") == 0 || strcmp(c->model, "bert4rec") == 0;
}

/* The resolved training configuration of a neural configuration and seed. */
static sr_err srd_exp_train_config(const srd_exp_config *c, uint64_t seed, sr_train_config *out)
{
    sr_err e = sr_train_config_preset(strcmp(c->model, "bert4rec") == 0 ? SR_MODEL_KIND_BERT4REC
                                                                        : SR_MODEL_KIND_SASREC,
                                      c->preset, out);
    for (int i = 0; e == SR_OK && i < c->n_set; i++)
        e = sr_train_config_set_line(out, sr_str_c(c->set[i]));
    if (e != SR_OK)
        return sr_errorf(SR_ERR_ARG, "[config %s]: %s", c->name, sr_errmsg());
    out->model.seed = seed;
    return SR_OK;
}

static sr_err srd_exp_baseline_config(const srd_exp_config *c, sr_baseline_config *out)
{
    *out = sr_baseline_config_default(strcmp(c->model, "sr") == 0 ? SR_BASELINE_RULES
                                                                  : SR_BASELINE_POP);
    for (int i = 0; i < c->n_set; i++) {
        sr_err e = sr_baseline_config_set_line(out, sr_str_c(c->set[i]));
        if (e != SR_OK)
            return sr_errorf(SR_ERR_ARG, "[config %s]: %s", c->name, sr_errmsg());
    }
    return SR_OK;
}

sr_err srd_experiment_parse(sr_str text, srd_exp_spec *out)
{
    memset(out, 0, sizeof *out);
    out->split = SR_SPLIT_TEST;
    out->sampled = true;
    snprintf(out->title, sizeof out->title, "Experiment");
    char *buf = malloc(text.len + 1);
    if (!buf)
        return sr_errorf(SR_ERR_NOMEM, "spec");
    memcpy(buf, text.ptr, text.len);
    buf[text.len] = '\0';
    if (strlen(buf) != text.len) {
        free(buf);
        return sr_errorf(SR_ERR_ARG, "spec: holds a NUL byte");
    }
    srd_exp_parse p = { out, NULL, "", false };
    int line = ini_parse_string(buf, srd_exp_handler, &p);
    free(buf);
    if (line != 0)
        return sr_errorf(SR_ERR_ARG, "spec line %d: %s", line,
                         p.err[0] ? p.err
                                  : "not INI (key = value lines of at most 200 bytes under "
                                    "[sections])");
    if (!p.seeds_set) {
        out->n_seeds = 5;
        for (int i = 0; i < 5; i++)
            out->seeds[i] = (uint64_t)(i + 1);
    }
    if (out->n_configs == 0)
        return sr_errorf(SR_ERR_ARG, "spec: no [config NAME] section");
    for (int i = 0; i < out->n_configs; i++) {
        const srd_exp_config *c = &out->configs[i];
        if (!srd_exp_neural(c) && strcmp(c->model, "pop") != 0 && strcmp(c->model, "sr") != 0)
            return sr_errorf(SR_ERR_ARG, "[config %s]: model \"%s\" (expected sasrec, bert4rec, "
                             "pop or sr)", c->name, c->model);
        if (c->base[0]) {
            int b = -1;
            for (int k = 0; k < out->n_configs; k++)
                if (strcmp(out->configs[k].name, c->base) == 0)
                    b = k;
            if (b < 0 || b == i)
                return sr_errorf(SR_ERR_ARG, "[config %s]: base \"%s\" is no other configuration",
                                 c->name, c->base);
        }
        if (srd_exp_neural(c)) {
            sr_train_config tc;
            sr_err e = srd_exp_train_config(c, 1, &tc); /* names the configuration */
            if (e != SR_OK)
                return e;
            tc.model.I = 2; /* stand-ins: the run sets both */
            tc.optim.schedule.total_steps = tc.optim.schedule.warmup_steps + 1;
            e = sr_train_config_check(&tc);
            if (e != SR_OK)
                return sr_errorf(SR_ERR_ARG, "[config %s]: %s", c->name, sr_errmsg());
        } else {
            sr_baseline_config bc;
            sr_err e = srd_exp_baseline_config(c, &bc);
            if (e != SR_OK)
                return e;
        }
    }
    return SR_OK;
}

/* ---- files -------------------------------------------------------------------- */

static char *srd_exp_read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* A growing text buffer. */
typedef struct srd_text {
    char *p;
    size_t len, cap;
    bool oom;
} srd_text;

__attribute__((format(printf, 2, 3))) static void srd_text_add(srd_text *t, const char *fmt, ...)
{
    for (;;) {
        if (t->oom)
            return;
        size_t room = t->cap - t->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if (t->p && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *q = realloc(t->p, cap);
        if (!q) {
            t->oom = true;
            return;
        }
        t->p = q;
        t->cap = cap;
    }
}

/* ---- one run ------------------------------------------------------------------- */

typedef struct srd_exp_row_ctx {
    srd_text *t;
    bool header;
} srd_exp_row_ctx;

static void srd_exp_row_key(void *ud, const char *key, double value, bool is_count)
{
    srd_exp_row_ctx *c = ud;
    if (strcmp(key, "seconds") == 0)
        return;
    if (c->header) {
        if (strncmp(key, "sampled_", 8) == 0)
            key += 8;
        srd_text_add(c->t, ",%s", key);
    } else if (isnan(value)) {
        srd_text_add(c->t, ",");
    } else if (is_count) {
        srd_text_add(c->t, ",%.0f", value);
    } else {
        srd_text_add(c->t, ",%.17g", value);
    }
}

static void srd_exp_header(srd_text *t)
{
    sr_eval_result r;
    memset(&r, 0, sizeof r);
    r.top_k = 10;
    srd_text_add(t, "config,base,model,seed,protocol,steps,best_step,train_seconds");
    srd_exp_row_ctx c = { t, true };
    sr_eval_visit(&r, srd_exp_row_key, &c);
    srd_text_add(t, "\n");
}

typedef struct srd_exp_run_ctx {
    const srd_exp_args *a;
    srd_exp_progress *prog;
    srd_exp_progress_fn fn;
    void *ud;
    struct timespec t0;   /* this daemon's start of the experiment */
    int reused;           /* runs found finished */
} srd_exp_run_ctx;

static double srd_exp_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

/* Elapsed time and an ETA from the runs this daemon ran (reused ones cost nothing). */
static void srd_exp_times(srd_exp_run_ctx *r)
{
    srd_exp_progress *p = r->prog;
    p->elapsed_s = srd_exp_since(&r->t0);
    int done_here = p->run - r->reused;
    double per_run = done_here > 0 ? p->elapsed_s / done_here : NAN;
    p->eta_s = per_run * (double)(p->runs - p->run);
}

static bool srd_exp_train_progress(void *ud, const sr_train_progress *p)
{
    srd_exp_run_ctx *r = ud;
    srd_exp_times(r);
    r->prog->training = true;
    r->prog->train = *p;
    return r->fn(r->ud, r->prog);
}

static bool srd_exp_eval_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    (void)phase;
    (void)done;
    (void)total;
    srd_exp_run_ctx *r = ud;
    srd_exp_times(r);
    return r->fn(r->ud, r->prog);
}

static sr_err srd_exp_evaluate(const sr_store *st, const sr_scorer *sc, int split, bool sampled,
                               srd_exp_run_ctx *rc, sr_eval_result *full,
                               sr_eval_result *samp)
{
    sr_eval_config ec = sr_eval_config_default();
    ec.split = split;
    ec.batch = sc->max_queries < 128 ? sc->max_queries : 128;
    sr_err e = sr_eval_run(st, sc, &ec, srd_exp_eval_progress, rc, full);
    if (e == SR_OK && sampled) {
        ec.protocol = SR_EVAL_PROTOCOL_SAMPLED;
        e = sr_eval_run(st, sc, &ec, srd_exp_eval_progress, rc, samp);
    }
    return e;
}

static sr_err srd_exp_history(const char *model_path, const char *path)
{
    sr_ckpt *ck = NULL;
    const void *p = NULL;
    uint64_t n = 0;
    sr_err e = sr_ckpt_open(model_path, &ck);
    if (e == SR_OK)
        e = sr_ckpt_get(ck, "history", SR_CKPT_F64, &p, &n);
    if (e != SR_OK) {
        sr_ckpt_close(&ck);
        return e;
    }
    srd_text t = { 0 };
    srd_text_add(&t, "step,epoch,loss,rec,nf,metric\n");
    const double *h = p;
    for (uint64_t i = 0; i + 6 <= n; i += 6)
        srd_text_add(&t, "%.0f,%.0f,%.9g,%.9g,%.9g,%.9g\n", h[i], h[i + 1], h[i + 2], h[i + 3],
                     h[i + 4], h[i + 5]);
    sr_ckpt_close(&ck);
    e = t.oom ? sr_errorf(SR_ERR_NOMEM, "history") : sr_write_file_atomic(path, t.p, t.len);
    free(t.p);
    return e;
}

/* Train (or fit) and evaluate one (configuration, seed); write its rows. */
static sr_err srd_exp_one(const sr_store *st, const srd_exp_config *c, uint64_t seed,
                          const char *stem, srd_exp_run_ctx *rc)
{
    const srd_exp_args *a = rc->a;
    char ckpt[PATH_MAX + 80], model[PATH_MAX + 80], hist[PATH_MAX + 80], res[PATH_MAX + 80];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", stem);
    snprintf(model, sizeof model, "%s.model", stem);
    snprintf(hist, sizeof hist, "%s.history.csv", stem);
    snprintf(res, sizeof res, "%s.result.csv", stem);
    sr_eval_result full, samp;
    memset(&full, 0, sizeof full);
    memset(&samp, 0, sizeof samp);
    uint64_t steps = 0, best_step = 0;
    double seconds = 0;
    sr_err e = SR_OK;
    if (srd_exp_neural(c)) {
        sr_train_config tc;
        e = srd_exp_train_config(c, seed, &tc);
        if (e != SR_OK)
            return e;
        tc.threads = a->threads;
        bool ckpt_set = false;
        for (int i = 0; i < c->n_set; i++)
            ckpt_set |= strncmp(c->set[i], "ckpt_every", 10) == 0;
        if (!ckpt_set)
            tc.ckpt_every = a->ckpt_every;
        char meta[256];
        snprintf(meta, sizeof meta, "dataset = %s\ndataset_created = %lld\ndataset_tracks = %u\n",
                 a->dataset, (long long)st->meta.created, st->n_tracks);
        sr_train_files f = { ckpt, model, meta };
        sr_train_result tr;
        e = sr_train_run(st, &tc, &f, srd_exp_train_progress, rc, &tr);
        rc->prog->training = false;
        if (e != SR_OK)
            return e;
        steps = tr.steps;
        best_step = tr.best_step;
        seconds = tr.seconds;
        sr_model *m = NULL;
        sr_dnnl_ctx *ctx = NULL;
        sr_model_scorer *sc = NULL;
        e = sr_train_load_model(model, 128, &m, NULL, NULL);
        if (e == SR_OK)
            e = sr_dnnl_ctx_new(16, &ctx);
        if (e == SR_OK)
            e = sr_model_scorer_new(m, ctx, 128, &sc);
        if (e == SR_OK)
            e = srd_exp_evaluate(st, sr_model_scorer_get(sc), a->spec->split, a->spec->sampled,
                                 rc, &full, &samp);
        sr_model_scorer_free(&sc);
        sr_dnnl_ctx_free(&ctx);
        sr_model_free(&m);
        if (e == SR_OK)
            e = srd_exp_history(model, hist);
    } else {
        sr_baseline_config bc;
        sr_baseline *b = NULL;
        sr_baseline_scorer *sc = NULL;
        e = srd_exp_baseline_config(c, &bc);
        if (e == SR_OK)
            e = sr_baseline_fit(st, &bc, srd_exp_eval_progress, rc, &b);
        if (e == SR_OK)
            e = sr_baseline_scorer_new(b, 128, &sc);
        if (e == SR_OK)
            e = srd_exp_evaluate(st, sr_baseline_scorer_get(sc), a->spec->split,
                                 a->spec->sampled, rc, &full, &samp);
        sr_baseline_scorer_free(&sc);
        sr_baseline_free(&b);
    }
    if (e != SR_OK)
        return e;
    srd_text t = { 0 };
    srd_exp_header(&t);
    for (int k = 0; k < (a->spec->sampled ? 2 : 1); k++) {
        srd_text_add(&t, "%s,%s,%s,%" PRIu64 ",%s,%" PRIu64 ",%" PRIu64 ",%.3f", c->name, c->base,
                     c->model, seed, k ? "sampled" : "full", steps, best_step, seconds);
        srd_exp_row_ctx rx = { &t, false };
        sr_eval_visit(k ? &samp : &full, srd_exp_row_key, &rx);
        srd_text_add(&t, "\n");
    }
    e = t.oom ? sr_errorf(SR_ERR_NOMEM, "results") : sr_write_file_atomic(res, t.p, t.len);
    free(t.p);
    if (e == SR_OK)
        unlink(ckpt); /* the run is complete: its checkpoint is no longer needed */
    return e;
}

/* results.csv = the header and every finished run's rows, in spec order. */
static sr_err srd_exp_collect(const srd_exp_args *a, const char *runs_dir, int *finished)
{
    srd_text t = { 0 };
    srd_exp_header(&t);
    *finished = 0;
    for (int i = 0; i < a->spec->n_configs; i++) {
        for (int s = 0; s < a->spec->n_seeds; s++) {
            char res[PATH_MAX + 80];
            snprintf(res, sizeof res, "%s/%s.s%" PRIu64 ".result.csv", runs_dir,
                     a->spec->configs[i].name, a->spec->seeds[s]);
            size_t len = 0;
            char *text = srd_exp_read_text(res, &len);
            if (!text)
                continue;
            const char *nl = strchr(text, '\n');
            if (nl)
                srd_text_add(&t, "%s", nl + 1);
            free(text);
            (*finished)++;
        }
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/results.csv", a->out);
    sr_err e = t.oom ? sr_errorf(SR_ERR_NOMEM, "results") : sr_write_file_atomic(path, t.p, t.len);
    free(t.p);
    return e;
}

static sr_err srd_exp_report(const srd_exp_args *a, int finished, double seconds)
{
    srd_text notes = { 0 };
    const char *split = a->spec->split == SR_SPLIT_TEST ? "test" : "validation";
    srd_text_add(&notes, "%s", a->spec->notes);
    srd_text_add(&notes,
                 "\nDataset `%s`, %s split; %d configurations x %d seeds (%d runs finished); "
                 "%.0f s of training and evaluation in this daemon run. Full-catalogue ranking "
                 "with pessimistic ties; every configuration keeps its best validation "
                 "checkpoint (docs/method.md).\n",
                 a->dataset, split, a->spec->n_configs, a->spec->n_seeds, finished, seconds);
    sr_report_info info = { a->spec->title, notes.p ? notes.p : "", 0.95 };
    sr_err e = notes.oom ? sr_errorf(SR_ERR_NOMEM, "notes") : sr_report_write(a->out, &info);
    free(notes.p);
    return e;
}

static sr_err srd_exp_mkdir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return SR_OK;
    return sr_errorf(SR_ERR_IO, "mkdir %s: %s", path, strerror(errno));
}

sr_err srd_experiment_run(const srd_exp_args *a, srd_exp_progress_fn fn, void *ud)
{
    char runs_dir[PATH_MAX + 8];
    snprintf(runs_dir, sizeof runs_dir, "%s/runs", a->out);
    sr_err e = srd_exp_mkdir(a->out);
    if (e == SR_OK)
        e = srd_exp_mkdir(runs_dir);
    if (e != SR_OK)
        return e;
    sr_store *st = NULL;
    e = sr_store_open(a->store_path, &st);
    if (e != SR_OK)
        return e;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    srd_exp_progress prog;
    memset(&prog, 0, sizeof prog);
    prog.runs = a->spec->n_configs * a->spec->n_seeds;
    srd_exp_run_ctx rc = { a, &prog, fn, ud, t0, 0 };
    int finished = 0;
    for (int i = 0; e == SR_OK && i < a->spec->n_configs; i++) {
        const srd_exp_config *c = &a->spec->configs[i];
        for (int s = 0; e == SR_OK && s < a->spec->n_seeds; s++) {
            char stem[PATH_MAX + 64], res[PATH_MAX + 80];
            snprintf(stem, sizeof stem, "%s/%s.s%" PRIu64, runs_dir, c->name, a->spec->seeds[s]);
            snprintf(res, sizeof res, "%s.result.csv", stem);
            snprintf(prog.current, sizeof prog.current, "%s seed %" PRIu64, c->name,
                     a->spec->seeds[s]);
            if (access(res, F_OK) == 0) {
                prog.run++;
                rc.reused++;
                continue; /* finished earlier: reused */
            }
            srd_exp_times(&rc);
            if (!fn(ud, &prog)) {
                e = sr_errorf(SR_ERR_CANCELLED, "experiment stopped before %s", prog.current);
                break;
            }
            srd_info("experiment run %d/%d: %s", prog.run + 1, prog.runs, prog.current);
            e = srd_exp_one(st, c, a->spec->seeds[s], stem, &rc);
            if (e != SR_OK)
                break;
            prog.run++;
            srd_exp_times(&rc);
            (void)fn(ud, &prog); /* report the finished run; a stop request waits for the next */
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            e = srd_exp_collect(a, runs_dir, &finished);
            if (e == SR_OK)
                e = srd_exp_report(a, finished, secs);
        }
    }
    if (e == SR_OK) {
        /* all reused (a finished experiment run again): still write the report */
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        e = srd_exp_collect(a, runs_dir, &finished);
        if (e == SR_OK)
            e = srd_exp_report(a, finished, (double)(t1.tv_sec - t0.tv_sec));
    }
    sr_store_close(&st);
    return e;
}
