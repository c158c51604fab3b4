/* sr_train.c - the training loop: batches, steps, validation with early
 * stopping, checkpoints and resume (contract in sr_train.h, file sections
 * in docs/formats.md). */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sr_batch.h"
#include "sr_ckpt.h"
#include "sr_eval.h"
#include "sr_train.h"

/* "state" section (u64): the loop's counters. */
enum {
    ST_STEP = 0,      /* updates attempted (the batch stream's step index) */
    ST_OPT_T,         /* optimiser updates applied */
    ST_OPT_SKIPPED,   /* updates skipped (non-finite gradient) */
    ST_POS_EPOCH,     /* sr_batch_pos */
    ST_POS_CURSOR,
    ST_POS_WINDOW,
    ST_POS_BATCH,
    ST_BEST_STEP,
    ST_BAD,           /* validations since the last improvement */
    ST_EVALS,
    ST_FINISHED,      /* 1 once the job completed */
    ST_STOPPED_EARLY,
    ST_LOSS_N,        /* steps in the loss sums */
    ST_PENDING_EVAL,  /* 1: the validation due at ST_STEP has not completed (cancelled
                       * during it): a resumed job runs it before the next step */
    ST_COUNT
};
/* "state.f64": best metric, loss sums since the last validation. */
enum { SF_BEST = 0, SF_LOSS, SF_REC, SF_NF, SF_COUNT };
/* "history" rows (f64): one per validation. */
enum { H_STEP = 0, H_EPOCH, H_LOSS, H_REC, H_NF, H_METRIC, H_COLS };

typedef struct train_state {
    uint64_t u[ST_COUNT];
    double f[SF_COUNT];
    double *history; /* [evals, H_COLS] */
    size_t history_cap;
} train_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static sr_err history_push(train_state *s, const double row[H_COLS])
{
    size_t n = s->u[ST_EVALS];
    if (n + 1 > s->history_cap) {
        size_t cap = s->history_cap ? 2 * s->history_cap : 64;
        double *h = realloc(s->history, cap * H_COLS * sizeof(double));
        if (!h)
            return sr_errorf(SR_ERR_NOMEM, "training history: %zu rows", cap);
        s->history = h;
        s->history_cap = cap;
    }
    memcpy(s->history + n * H_COLS, row, H_COLS * sizeof(double));
    s->u[ST_EVALS] = n + 1;
    return SR_OK;
}

/* The meta text of a model file: what it is, how good, and the caller's lines. */
static char *model_meta(const sr_train_config *c, const train_state *s, const char *extra)
{
    size_t cap = 512 + (extra ? strlen(extra) : 0);
    char *m = malloc(cap);
    if (!m)
        return NULL;
    int n = snprintf(m, cap,
                     "format = model\nkind = %s\nmetric = %s\nbest_metric = %.17g\n"
                     "best_step = %llu\n%s%s",
                     c->model.kind == SR_MODEL_KIND_BERT4REC ? "bert4rec" : "sasrec", c->metric,
                     s->f[SF_BEST], (unsigned long long)s->u[ST_BEST_STEP], extra ? extra : "",
                     extra && extra[0] && extra[strlen(extra) - 1] != '\n' ? "\n" : "");
    if (n < 0 || (size_t)n >= cap) {
        free(m);
        return NULL;
    }
    return m;
}

static sr_err write_best(const char *path, const char *config_text, const sr_train_config *c,
                         sr_model *m, const train_state *s, const char *extra)
{
    sr_ckpt_writer *w = NULL;
    char *meta = model_meta(c, s, extra);
    sr_err e = meta ? sr_ckpt_writer_new(&w) : sr_errorf(SR_ERR_NOMEM, "model meta");
    if (e == SR_OK)
        e = sr_ckpt_add_text(w, "config", config_text);
    if (e == SR_OK)
        e = sr_ckpt_add_text(w, "meta", meta);
    if (e == SR_OK)
        e = sr_ckpt_add(w, "params", SR_CKPT_F32, sr_model_params(m), sr_model_param_count(m));
    if (e == SR_OK)
        e = sr_ckpt_add(w, "history", SR_CKPT_F64, s->history, s->u[ST_EVALS] * H_COLS);
    if (e == SR_OK)
        e = sr_ckpt_writer_write(w, path);
    sr_ckpt_writer_free(&w);
    free(meta);
    return e;
}

static sr_err write_checkpoint(const char *path, const char *config_text, const char *extra,
                               sr_model *m, sr_optim *o, const train_state *s)
{
    sr_optim_state os;
    sr_optim_state_view(o, &os);
    sr_ckpt_writer *w = NULL;
    sr_err e = sr_ckpt_writer_new(&w);
    if (e == SR_OK)
        e = sr_ckpt_add_text(w, "config", config_text);
    if (e == SR_OK)
        e = sr_ckpt_add_text(w, "meta", extra ? extra : "");
    if (e == SR_OK)
        e = sr_ckpt_add(w, "params", SR_CKPT_F32, sr_model_params(m), sr_model_param_count(m));
    if (e == SR_OK)
        e = sr_ckpt_add(w, "adam.m", SR_CKPT_F32, os.m, os.n);
    if (e == SR_OK)
        e = sr_ckpt_add(w, "adam.v", SR_CKPT_F32, os.v, os.n);
    if (e == SR_OK)
        e = sr_ckpt_add(w, "adam.row_t", SR_CKPT_I64, os.row_t, (uint64_t)os.Ir);
    if (e == SR_OK)
        e = sr_ckpt_add(w, "state", SR_CKPT_U64, s->u, ST_COUNT);
    if (e == SR_OK)
        e = sr_ckpt_add(w, "state.f64", SR_CKPT_F64, s->f, SF_COUNT);
    if (e == SR_OK)
        e = sr_ckpt_add(w, "history", SR_CKPT_F64, s->history, s->u[ST_EVALS] * H_COLS);
    if (e == SR_OK)
        e = sr_ckpt_writer_write(w, path);
    sr_ckpt_writer_free(&w);
    return e;
}

/* Restore everything write_checkpoint saved; the configuration must match. */
static sr_err read_checkpoint(const char *path, const char *config_text, const char *meta,
                              uint64_t total, sr_model *m, sr_optim *o, train_state *s)
{
    sr_ckpt *ck = NULL;
    sr_err e = sr_ckpt_open(path, &ck);
    if (e != SR_OK)
        return e;
    sr_str cfg;
    const void *p = NULL;
    uint64_t n = 0;
    sr_optim_state os;
    sr_optim_state_view(o, &os);
    e = sr_ckpt_get_text(ck, "config", &cfg);
    if (e != SR_OK)
        goto done;
    if (cfg.len != strlen(config_text) || memcmp(cfg.ptr, config_text, cfg.len) != 0) {
        e = sr_errorf(SR_ERR_ARG,
                      "checkpoint %s was written with a different configuration; "
                      "remove it to start over", path);
        goto done;
    }
    /* the meta lines name the dataset (and its creation time): a checkpoint
     * must never continue on other data */
    sr_str ck_meta;
    e = sr_ckpt_get_text(ck, "meta", &ck_meta);
    if (e != SR_OK)
        goto done;
    if (!meta)
        meta = "";
    if (ck_meta.len != strlen(meta) || memcmp(ck_meta.ptr, meta, ck_meta.len) != 0) {
        e = sr_errorf(SR_ERR_ARG,
                      "checkpoint %s was written for other data (its meta lines differ: "
                      "was the dataset replaced?); remove it to start over", path);
        goto done;
    }
    e = sr_ckpt_get_exact(ck, "params", SR_CKPT_F32, &p, sr_model_param_count(m));
    if (e != SR_OK)
        goto done;
    memcpy(sr_model_params(m), p, sizeof(float) * sr_model_param_count(m));
    e = sr_ckpt_get_exact(ck, "adam.m", SR_CKPT_F32, &p, os.n);
    if (e != SR_OK)
        goto done;
    memcpy(os.m, p, sizeof(float) * os.n);
    e = sr_ckpt_get_exact(ck, "adam.v", SR_CKPT_F32, &p, os.n);
    if (e != SR_OK)
        goto done;
    memcpy(os.v, p, sizeof(float) * os.n);
    e = sr_ckpt_get_exact(ck, "adam.row_t", SR_CKPT_I64, &p, (uint64_t)os.Ir);
    if (e != SR_OK)
        goto done;
    memcpy(os.row_t, p, sizeof(int64_t) * (size_t)os.Ir);
    e = sr_ckpt_get_exact(ck, "state", SR_CKPT_U64, &p, ST_COUNT);
    if (e != SR_OK)
        goto done;
    memcpy(s->u, p, sizeof s->u);
    e = sr_ckpt_get_exact(ck, "state.f64", SR_CKPT_F64, &p, SF_COUNT);
    if (e != SR_OK)
        goto done;
    memcpy(s->f, p, sizeof s->f);
    e = sr_ckpt_get(ck, "history", SR_CKPT_F64, &p, &n);
    if (e != SR_OK)
        goto done;
    if (n % H_COLS != 0 || n / H_COLS != s->u[ST_EVALS] || s->u[ST_POS_WINDOW] > UINT32_MAX ||
        s->u[ST_STEP] > total || s->u[ST_BEST_STEP] > s->u[ST_STEP]) {
        e = sr_errorf(SR_ERR_CORRUPT, "checkpoint %s: inconsistent state (step %llu of %llu, "
                      "%llu validations, %llu history values)", path,
                      (unsigned long long)s->u[ST_STEP], (unsigned long long)total,
                      (unsigned long long)s->u[ST_EVALS], (unsigned long long)n);
        goto done;
    }
    if (n > 0) {
        s->history = malloc(n * sizeof(double));
        if (!s->history) {
            e = sr_errorf(SR_ERR_NOMEM, "checkpoint history");
            goto done;
        }
        memcpy(s->history, p, n * sizeof(double));
        s->history_cap = n / H_COLS;
    }
    e = sr_optim_set_counts(o, (int64_t)s->u[ST_OPT_T], (int64_t)s->u[ST_OPT_SKIPPED]);
done:
    sr_ckpt_close(&ck);
    return e;
}

typedef struct metric_pick {
    const char *key;
    double value;
    bool found;
} metric_pick;

static void pick_metric(void *ctx, const char *key, double value, bool is_count)
{
    (void)is_count;
    metric_pick *p = ctx;
    if (strcmp(key, p->key) == 0) {
        p->value = value;
        p->found = true;
    }
}

/* Progress during a validation: the caller's callback after the first batch
 * of queries and then about once a second (phase "validate"), so cancel and
 * shutdown need not wait for a long validation. */
typedef struct valid_progress {
    sr_train_progress_fn fn;
    void *ud;
    sr_train_progress p;
    double last;
} valid_progress;

static bool valid_progress_cb(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    (void)phase;
    (void)done;
    (void)total;
    valid_progress *v = ud;
    double t = now_s();
    if (!v->fn || t - v->last < 1.0)
        return true;
    v->last = t;
    return v->fn(v->ud, &v->p);
}

static sr_err validate(const sr_store *st, const sr_train_config *c, sr_model_scorer *sc,
                       valid_progress *vp, double *metric)
{
    sr_eval_config ec = sr_eval_config_default();
    ec.split = SR_SPLIT_VALID;
    ec.batch = c->eval_batch;
    ec.max_queries = c->valid_queries;
    ec.seed = c->model.seed;
    sr_eval_result r;
    sr_err e = sr_eval_run(st, sr_model_scorer_get(sc), &ec, valid_progress_cb, vp, &r);
    if (e != SR_OK)
        return e;
    metric_pick p = { c->metric, NAN, false };
    sr_eval_visit(&r, pick_metric, &p);
    if (!p.found)
        return sr_errorf(SR_ERR_ARG, "metric \"%s\" is not an evaluation key (e.g. ndcg@10)",
                         c->metric);
    *metric = p.value;
    return SR_OK;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

sr_err sr_train_run(const sr_store *st, const sr_train_config *c_in, const sr_train_files *files,
                    sr_train_progress_fn progress, void *ud, sr_train_result *out)
{
    const double t0 = now_s();
    sr_train_config c = *c_in;
    sr_batcher *bt = NULL;
    sr_model *m = NULL;
    sr_optim *o = NULL;
    sr_dnnl_ctx *ctx = NULL;
    sr_sampler *sampler = NULL;
    sr_model_scorer *sc = NULL;
    char *config_text = NULL;
    train_state s;
    memset(&s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    s.f[SF_BEST] = NAN;
    sr_err e = SR_OK;

    if (!files || !files->checkpoint || !files->best)
        return sr_errorf(SR_ERR_ARG, "sr_train_run: checkpoint and model paths are required");
    if (st->n_tracks < 1 || st->n_tracks > INT32_MAX - 1)
        return sr_errorf(SR_ERR_ARG, "dataset has %u tracks", st->n_tracks);
    c.model.I = (int32_t)st->n_tracks;
    omp_set_num_threads(c.threads > 0 ? c.threads : omp_get_num_procs());

    sr_batch_config bc = { c.batch, c.model.L, c.model.seed };
    e = sr_batcher_new(st, &bc, &bt);
    if (e != SR_OK)
        goto done;
    const uint64_t bpe = sr_batcher_batches_per_epoch(bt);
    const uint64_t total = c.max_steps ? c.max_steps : c.epochs * bpe;
    c.optim.schedule.total_steps = (int64_t)total + 1;
    if (c.optim.schedule.warmup_steps >= c.optim.schedule.total_steps) {
        sr_log(SR_LOG_LEVEL_INFO, "warm-up of %lld steps does not fit a run of %llu: using %llu",
               (long long)c.optim.schedule.warmup_steps, (unsigned long long)total,
               (unsigned long long)(total / 10));
        c.optim.schedule.warmup_steps = (int64_t)(total / 10);
    }
    e = sr_train_config_check(&c);
    if (e != SR_OK)
        goto done;
    config_text = sr_train_config_text(&c);
    if (!config_text) {
        e = sr_errorf(SR_ERR_NOMEM, "config text");
        goto done;
    }
    e = sr_model_new(&c.model, c.batch, &m);
    if (e == SR_OK)
        e = sr_optim_new(&c.optim, m, &o);
    if (e == SR_OK)
        e = sr_dnnl_ctx_new(64, &ctx);
    if (e == SR_OK && c.sampler == SR_SAMPLER_KIND_POPULARITY) {
        e = sr_sampler_new_popularity(st->track_plays, c.model.I, 1.0, 1.0, &sampler);
        if (e == SR_OK)
            e = sr_model_set_sampler(m, sampler);
    }
    if (e == SR_OK)
        e = sr_model_scorer_new(m, ctx, c.eval_batch, &sc);
    if (e != SR_OK)
        goto done;

    if (file_exists(files->checkpoint)) {
        e = read_checkpoint(files->checkpoint, config_text, files->meta, total, m, o, &s);
        if (e != SR_OK)
            goto done;
        sr_batch_pos pos = { s.u[ST_POS_EPOCH], s.u[ST_POS_CURSOR], (uint32_t)s.u[ST_POS_WINDOW],
                             s.u[ST_POS_BATCH] };
        e = sr_batcher_seek(bt, &pos);
        if (e != SR_OK)
            goto done;
        out->resumed = true;
        sr_log(SR_LOG_LEVEL_INFO, "resuming %s at step %llu of %llu", files->checkpoint,
               (unsigned long long)s.u[ST_STEP], (unsigned long long)total);
    }

    double last_report = now_s(), window_t0 = last_report;
    double win_loss = 0, win_rec = 0, win_nf = 0;
    uint64_t win_steps = 0, win_seqs = 0, run_steps = 0;
    double last_metric = s.u[ST_EVALS] ? s.history[(s.u[ST_EVALS] - 1) * H_COLS + H_METRIC] : NAN;

    /* a job cancelled during a validation resumes with that validation */
    bool pending = s.u[ST_PENDING_EVAL] != 0;
    while (!s.u[ST_FINISHED] && (pending || s.u[ST_STEP] < total)) {
        bool do_eval = pending;
        if (!pending) {
            const int32_t *tracks;
            const uint8_t *skipped, *valid;
            bool epoch_end = false;
            int n = sr_batcher_next(bt, &tracks, &skipped, &valid, &epoch_end);
            sr_model_batch b = { n, tracks, skipped, valid, s.u[ST_STEP], NULL, NULL, NULL };
            sr_optim_report rep;
            e = sr_optim_step(o, m, &b, ctx, &rep);
            if (e != SR_OK)
                goto done;
            s.u[ST_STEP]++;
            run_steps++;
            if (!rep.skipped) {
                s.f[SF_LOSS] += rep.parts.total;
                s.f[SF_REC] += rep.parts.rec;
                s.f[SF_NF] += rep.parts.nf;
                s.u[ST_LOSS_N]++;
                win_loss += rep.parts.total;
                win_rec += rep.parts.rec;
                win_nf += rep.parts.nf;
            }
            win_steps++;
            win_seqs += (uint64_t)n;
            sr_batch_pos pos = sr_batcher_pos(bt);
            s.u[ST_POS_EPOCH] = pos.epoch;
            s.u[ST_POS_CURSOR] = pos.cursor;
            s.u[ST_POS_WINDOW] = pos.window;
            s.u[ST_POS_BATCH] = pos.batch;
            s.u[ST_OPT_T] = (uint64_t)sr_optim_steps(o);
            s.u[ST_OPT_SKIPPED] = (uint64_t)sr_optim_skipped(o);
            do_eval = (c.eval_every ? s.u[ST_STEP] % c.eval_every == 0 : epoch_end) ||
                      s.u[ST_STEP] == total;
        }

        const uint64_t step = s.u[ST_STEP];
        bool last = step == total;
        bool stop = false;
        if (do_eval) {
            double metric = NAN;
            valid_progress vp = { progress, ud, { "validate", step, total, s.u[ST_POS_EPOCH],
                                                  NAN, NAN, NAN, NAN, now_s() - t0, NAN,
                                                  last_metric, s.f[SF_BEST],
                                                  s.u[ST_BEST_STEP] }, -1e300 };
            s.u[ST_PENDING_EVAL] = 1;
            e = validate(st, &c, sc, &vp, &metric);
            if (e == SR_ERR_CANCELLED) {
                /* stopped mid-validation: the checkpoint says it is still due */
                e = write_checkpoint(files->checkpoint, config_text, files->meta, m, o, &s);
                if (e == SR_OK)
                    e = sr_errorf(SR_ERR_CANCELLED, "training cancelled during the validation "
                                  "at step %llu (checkpoint written)", (unsigned long long)step);
                goto done;
            }
            if (e != SR_OK)
                goto done;
            s.u[ST_PENDING_EVAL] = 0;
            pending = false;
            last_metric = metric;
            double ln = s.u[ST_LOSS_N] ? (double)s.u[ST_LOSS_N] : NAN;
            double row[H_COLS] = { (double)step, (double)s.u[ST_POS_EPOCH], s.f[SF_LOSS] / ln,
                                   s.f[SF_REC] / ln, s.f[SF_NF] / ln, metric };
            e = history_push(&s, row);
            if (e != SR_OK)
                goto done;
            s.f[SF_LOSS] = s.f[SF_REC] = s.f[SF_NF] = 0;
            s.u[ST_LOSS_N] = 0;
            /* strictly better (a NaN metric never is): ties keep the earlier step */
            if (isnan(s.f[SF_BEST]) ? !isnan(metric) : metric > s.f[SF_BEST]) {
                s.f[SF_BEST] = metric;
                s.u[ST_BEST_STEP] = step;
                s.u[ST_BAD] = 0;
                e = write_best(files->best, config_text, &c, m, &s, files->meta);
                if (e != SR_OK)
                    goto done;
            } else {
                s.u[ST_BAD]++;
            }
            sr_log(SR_LOG_LEVEL_INFO, "step %llu/%llu: validation %s = %.5f (best %.5f at %llu)",
                   (unsigned long long)step, (unsigned long long)total, c.metric, metric,
                   s.f[SF_BEST], (unsigned long long)s.u[ST_BEST_STEP]);
            if (c.patience > 0 && s.u[ST_BAD] >= (uint64_t)c.patience) {
                s.u[ST_STOPPED_EARLY] = 1;
                stop = true;
            }
            if (last || stop)
                s.u[ST_FINISHED] = 1;
            e = write_checkpoint(files->checkpoint, config_text, files->meta, m, o, &s);
            if (e != SR_OK)
                goto done;
        } else if (c.ckpt_every && step % c.ckpt_every == 0) {
            e = write_checkpoint(files->checkpoint, config_text, files->meta, m, o, &s);
            if (e != SR_OK)
                goto done;
        }
        double t = now_s();
        if (progress && (do_eval || t - last_report >= 1.0 || s.u[ST_FINISHED])) {
            double dt = t - window_t0;
            double ws = win_steps ? (double)win_steps : NAN;
            sr_train_progress p = {
                do_eval ? "validate" : "train", step, total, s.u[ST_POS_EPOCH],
                win_loss / ws, win_rec / ws, win_nf / ws,
                dt > 0 ? (double)win_seqs / dt : NAN, t - t0,
                run_steps ? (t - t0) / (double)run_steps * (double)(total - step) : NAN,
                last_metric, s.f[SF_BEST], s.u[ST_BEST_STEP]
            };
            last_report = window_t0 = t;
            win_loss = win_rec = win_nf = 0;
            win_steps = win_seqs = 0;
            if (!progress(ud, &p) && !s.u[ST_FINISHED]) {
                e = write_checkpoint(files->checkpoint, config_text, files->meta, m, o, &s);
                if (e == SR_OK)
                    e = sr_errorf(SR_ERR_CANCELLED, "training cancelled at step %llu "
                                  "(checkpoint written)", (unsigned long long)step);
                goto done;
            }
        }
        if (stop)
            break;
    }
    if (!s.u[ST_FINISHED]) {
        /* only reached when total was 0 steps: nothing to train */
        e = sr_errorf(SR_ERR_EMPTY, "no training step to run");
        goto done;
    }

done:
    out->steps = s.u[ST_STEP];
    out->epochs = s.u[ST_POS_EPOCH];
    out->evals = s.u[ST_EVALS];
    out->best_metric = s.f[SF_BEST];
    out->best_step = s.u[ST_BEST_STEP];
    out->stopped_early = s.u[ST_STOPPED_EARLY] != 0;
    out->seconds = now_s() - t0;
    sr_model_scorer_free(&sc);
    sr_sampler_free(&sampler);
    sr_dnnl_ctx_free(&ctx);
    sr_optim_free(&o);
    sr_model_free(&m);
    sr_batcher_free(&bt);
    free(config_text);
    free(s.history);
    return e;
}

sr_err sr_train_load_model(const char *path, int B_max, sr_model **model, sr_train_config *cfg,
                           char **meta)
{
    sr_ckpt *ck = NULL;
    sr_model *m = NULL;
    sr_str text, mt;
    const void *p = NULL;
    sr_train_config c;
    sr_err e = sr_ckpt_open(path, &ck);
    if (e != SR_OK)
        return e;
    e = sr_ckpt_get_text(ck, "meta", &mt);
    if (e == SR_OK && !(mt.len >= 15 && memcmp(mt.ptr, "format = model\n", 15) == 0))
        e = sr_errorf(SR_ERR_FORMAT, "%s is not a neural model file", path);
    if (e == SR_OK)
        e = sr_ckpt_get_text(ck, "config", &text);
    if (e == SR_OK)
        e = sr_train_config_preset(SR_MODEL_KIND_SASREC, "paper", &c);
    if (e == SR_OK)
        e = sr_train_config_apply_text(&c, text);
    if (e == SR_OK)
        e = sr_model_new(&c.model, B_max, &m);
    if (e == SR_OK)
        e = sr_ckpt_get_exact(ck, "params", SR_CKPT_F32, &p, sr_model_param_count(m));
    if (e != SR_OK)
        goto fail;
    memcpy(sr_model_params(m), p, sizeof(float) * sr_model_param_count(m));
    if (meta) {
        *meta = malloc(mt.len + 1);
        if (!*meta) {
            e = sr_errorf(SR_ERR_NOMEM, "model meta");
            goto fail;
        }
        memcpy(*meta, mt.ptr, mt.len);
        (*meta)[mt.len] = '\0';
    }
    if (cfg)
        *cfg = c;
    *model = m;
    sr_ckpt_close(&ck);
    return SR_OK;
fail:
    sr_model_free(&m);
    sr_ckpt_close(&ck);
    return e;
}
