/* srd_jobs.c - the training job queue and its runner threads (srd_jobs.h). */
#define _XOPEN_SOURCE 700
#include "srd_jobs.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sr_baseline.h"
#include "sr_ckpt.h"
#include "sr_proto.h"
#include "sr_store.h"
#include "sr_train.h"
#include "srd_experiment.h"
#include "srd_log.h"
#include "srd_ops.h"

#define SRD_JOBS_MAX_RUNNERS 64

static const char *const srd_job_state_names[] = { "queued", "running", "done", "failed",
                                                   "cancelled" };
static const char *const srd_job_kind_names[] = { "sasrec", "bert4rec", "pop", "sr",
                                                  "experiment" };

const char *srd_job_state_name(srd_job_state s)
{
    return sr_name_at(srd_job_state_names, SR_COUNTOF(srd_job_state_names), (unsigned)s);
}

sr_err srd_job_kind_parse(sr_str s, srd_job_kind *out)
{
    int v = 0;
    sr_err e = sr_name_parse(s, srd_job_kind_names, SR_COUNTOF(srd_job_kind_names), "model", &v);
    if (e == SR_OK)
        *out = (srd_job_kind)v;
    return e;
}

const char *srd_job_kind_name(srd_job_kind k)
{
    return sr_name_at(srd_job_kind_names, SR_COUNTOF(srd_job_kind_names), (unsigned)k);
}

typedef struct srd_job {
    uint64_t id;
    srd_job_kind kind;
    char dataset[SR_PROTO_MAX_NAME_LEN + 1];
    char model[SR_PROTO_MAX_NAME_LEN + 1];
    char *config;            /* resolved configuration text */
    srd_job_state state;
    char message[512];
    int64_t created;         /* unix seconds */
    bool cancel;             /* the user asked to cancel */
    int attempts;            /* starts since the last clean stop (see srd_jobs.h) */
    char out[PATH_MAX];      /* experiments: the output directory */
    srd_exp_progress exp;    /* experiments: where the matrix stands */
    bool has_exp;
    /* progress of a running job */
    bool has_progress;
    char phase[16];
    sr_train_progress p;
    uint64_t done, total;    /* baselines: sessions fitted */
} srd_job;

struct srd_jobs {
    srd_ops *ops;
    char dir[PATH_MAX];        /* <state_dir>/jobs */
    char models_dir[PATH_MAX]; /* <state_dir>/models */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    srd_job **jobs;            /* [n] by ascending id */
    size_t n, cap;
    uint64_t next_id;
    bool stopping;
    pthread_t runners[SRD_JOBS_MAX_RUNNERS];
    int n_runners;
};

/* ---- files ------------------------------------------------------------------- */

static void srd_job_path(const srd_jobs *j, uint64_t id, const char *ext, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%" PRIu64 ".%s", j->dir, id, ext);
}

/* Write <id>.job; the caller holds the lock (the file is small). */
static sr_err srd_job_persist(const srd_jobs *j, const srd_job *job)
{
    char text[1024 + PATH_MAX], path[PATH_MAX + 32];
    snprintf(text, sizeof text,
             "id = %" PRIu64 "\nkind = %s\ndataset = %s\nmodel = %s\nstate = %s\n"
             "created = %lld\nattempts = %d\nout = %s\nmessage = %s\n",
             job->id, srd_job_kind_name(job->kind), job->dataset, job->model,
             srd_job_state_name(job->state), (long long)job->created, job->attempts, job->out,
             job->message);
    /* one line per value: a message never spans lines */
    for (char *nl = strstr(text, "message = "); nl && *nl; nl++)
        if (*nl == '\n' && nl[1] != '\0')
            *nl = ' ';
    srd_job_path(j, job->id, "job", path, sizeof path);
    sr_ckpt_writer *w = NULL;
    sr_err e = sr_ckpt_writer_new(&w);
    if (e == SR_OK)
        e = sr_ckpt_add_text(w, "job", text);
    if (e == SR_OK)
        e = sr_ckpt_add_text(w, "config", job->config);
    if (e == SR_OK)
        e = sr_ckpt_writer_write(w, path);
    sr_ckpt_writer_free(&w);
    if (e != SR_OK)
        srd_error("job %" PRIu64 ": cannot save its state: %s", job->id, sr_errmsg());
    return e;
}

static sr_err srd_jobs_add(srd_jobs *j, srd_job *job)
{
    if (j->n == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 16;
        srd_job **p = realloc(j->jobs, cap * sizeof *p);
        if (!p)
            return sr_errorf(SR_ERR_NOMEM, "job table");
        j->jobs = p;
        j->cap = cap;
    }
    size_t i = j->n;
    while (i > 0 && j->jobs[i - 1]->id > job->id) {
        j->jobs[i] = j->jobs[i - 1];
        i--;
    }
    j->jobs[i] = job;
    j->n++;
    if (job->id >= j->next_id)
        j->next_id = job->id + 1;
    return SR_OK;
}

static void srd_job_free(srd_job *job)
{
    if (job) {
        free(job->config);
        free(job);
    }
}

/* Read one <id>.job file; unreadable files are logged and skipped. */
static void srd_jobs_load_one(srd_jobs *j, const char *path)
{
    sr_ckpt *ck = NULL;
    srd_job *job = NULL;
    sr_str text, config;
    char v[600];
    if (sr_ckpt_open(path, &ck) != SR_OK || sr_ckpt_get_text(ck, "job", &text) != SR_OK ||
        sr_ckpt_get_text(ck, "config", &config) != SR_OK) {
        srd_warn("skipping job file %s: %s", path, sr_errmsg());
        goto done;
    }
    job = calloc(1, sizeof *job);
    if (!job || !(job->config = malloc(config.len + 1)))
        goto done;
    memcpy(job->config, config.ptr, config.len);
    job->config[config.len] = '\0';
    int st = 0;
    if (!sr_kv_copy(text, "id", v, sizeof v) || sscanf(v, "%" SCNu64, &job->id) != 1 ||
        job->id == 0 || !sr_kv_copy(text, "kind", v, sizeof v) ||
        srd_job_kind_parse(sr_str_c(v), &job->kind) != SR_OK ||
        !sr_kv_copy(text, "dataset", job->dataset, sizeof job->dataset) ||
        !sr_kv_copy(text, "model", job->model, sizeof job->model) ||
        !sr_kv_copy(text, "state", v, sizeof v) ||
        sr_name_parse(sr_str_c(v), srd_job_state_names, SR_COUNTOF(srd_job_state_names), "state",
                      &st) != SR_OK) {
        srd_warn("skipping job file %s: missing or bad fields", path);
        goto done;
    }
    job->state = (srd_job_state)st;
    if (sr_kv_copy(text, "created", v, sizeof v))
        job->created = strtoll(v, NULL, 10);
    sr_kv_copy(text, "message", job->message, sizeof job->message);
    if (sr_kv_copy(text, "attempts", v, sizeof v))
        job->attempts = atoi(v);
    sr_kv_copy(text, "out", job->out, sizeof job->out);
    if (job->state == SRD_JOB_RUNNING && job->attempts >= SRD_JOBS_MAX_ATTEMPTS) {
        job->state = SRD_JOB_FAILED;
        snprintf(job->message, sizeof job->message,
                 "the daemon stopped without a clean shutdown %d times while this job ran "
                 "(killed, crashed or out of memory?); not resumed again - its checkpoint is "
                 "kept", job->attempts);
        srd_warn("job %" PRIu64 ": %s", job->id, job->message);
        srd_job_persist(j, job);
    } else if (job->state == SRD_JOB_RUNNING || job->state == SRD_JOB_QUEUED) {
        job->state = SRD_JOB_QUEUED;
        srd_info("job %" PRIu64 " (%s on %s) queued again: it resumes from its checkpoint",
                 job->id, job->model, job->dataset);
    }
    if (srd_jobs_add(j, job) == SR_OK)
        job = NULL;
done:
    srd_job_free(job);
    sr_ckpt_close(&ck);
}

static sr_err srd_jobs_load(srd_jobs *j)
{
    DIR *d = opendir(j->dir);
    if (!d)
        return sr_errorf(SR_ERR_IO, "open %s: %s", j->dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".job") != 0)
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", j->dir, de->d_name);
        srd_jobs_load_one(j, path);
    }
    closedir(d);
    return SR_OK;
}

/* ---- running one job ----------------------------------------------------------- */

typedef struct srd_job_run {
    srd_jobs *j;
    srd_job *job;
} srd_job_run;

static bool srd_job_keep_going(srd_job_run *r)
{
    return !r->job->cancel && !r->j->stopping && !atomic_load(&r->j->ops->stopping);
}

static bool srd_job_train_progress(void *ud, const sr_train_progress *p)
{
    srd_job_run *r = ud;
    pthread_mutex_lock(&r->j->lock);
    r->job->p = *p;
    r->job->has_progress = true;
    snprintf(r->job->phase, sizeof r->job->phase, "%s", p->phase);
    bool go = srd_job_keep_going(r);
    pthread_mutex_unlock(&r->j->lock);
    return go;
}

static bool srd_job_fit_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    srd_job_run *r = ud;
    pthread_mutex_lock(&r->j->lock);
    snprintf(r->job->phase, sizeof r->job->phase, "%s", phase);
    r->job->done = done;
    r->job->total = total;
    bool go = srd_job_keep_going(r);
    pthread_mutex_unlock(&r->j->lock);
    return go;
}

sr_err srd_jobs_baseline_config(srd_job_kind kind, sr_str text, sr_baseline_config *out)
{
    sr_baseline_config c =
        sr_baseline_config_default(kind == SRD_JOB_SR ? SR_BASELINE_RULES : SR_BASELINE_POP);
    size_t at = 0;
    while (at < text.len) {
        const char *nl = memchr(text.ptr + at, '\n', text.len - at);
        size_t end = nl ? (size_t)(nl - text.ptr) : text.len;
        sr_str line = { text.ptr + at, end - at };
        at = end + 1;
        if (line.len == 0 || line.ptr[0] == '#')
            continue;
        sr_err e = sr_baseline_config_set_line(&c, line);
        if (e != SR_OK)
            return e;
    }
    *out = c;
    return SR_OK;
}

static sr_err srd_job_run_baseline(srd_job_run *r, const sr_store *st, const char *model_path,
                                   const char *meta)
{
    sr_baseline_config bc;
    sr_baseline *b = NULL;
    sr_ckpt_writer *w = NULL;
    sr_err e = srd_jobs_baseline_config(r->job->kind, sr_str_c(r->job->config), &bc);
    if (e == SR_OK)
        e = sr_baseline_fit(st, &bc, srd_job_fit_progress, r, &b);
    if (e == SR_OK)
        e = sr_ckpt_writer_new(&w);
    if (e == SR_OK)
        e = sr_ckpt_add_text(w, "meta", meta);
    if (e == SR_OK)
        e = sr_ckpt_add_text(w, "config", r->job->config);
    if (e == SR_OK)
        e = sr_baseline_save(b, w);
    if (e == SR_OK)
        e = sr_ckpt_writer_write(w, model_path);
    sr_ckpt_writer_free(&w);
    sr_baseline_free(&b);
    return e;
}

static bool srd_job_exp_progress(void *ud, const srd_exp_progress *p)
{
    srd_job_run *r = ud;
    pthread_mutex_lock(&r->j->lock);
    r->job->exp = *p;
    r->job->has_exp = true;
    if (p->training) {
        r->job->p = p->train;
        r->job->has_progress = true;
    }
    /* between training reports a run is evaluating (or fitting a baseline) */
    snprintf(r->job->phase, sizeof r->job->phase, "%s", p->training ? p->train.phase : "evaluate");
    bool go = srd_job_keep_going(r);
    pthread_mutex_unlock(&r->j->lock);
    return go;
}

static sr_err srd_job_run_experiment(srd_job_run *r)
{
    srd_jobs *j = r->j;
    srd_job *job = r->job;
    srd_exp_spec *spec = malloc(sizeof *spec);
    if (!spec)
        return sr_errorf(SR_ERR_NOMEM, "experiment spec");
    sr_err e = srd_experiment_parse(sr_str_c(job->config), spec);
    if (e == SR_OK) {
        char store_path[PATH_MAX + 80];
        snprintf(store_path, sizeof store_path, "%s/%s.store", j->ops->datasets_dir,
                 job->dataset);
        srd_exp_args a = { spec, store_path, job->dataset, job->out,
                           (int)j->ops->cfg->train_threads, (uint64_t)j->ops->cfg->ckpt_every };
        e = srd_experiment_run(&a, srd_job_exp_progress, r);
        if (e == SR_OK) {
            pthread_mutex_lock(&j->lock);
            /* the directory is in the job's "out" member; name the report's file */
            snprintf(job->message, sizeof job->message, "%d runs; report: <out>/REPORT.md",
                     spec->n_configs * spec->n_seeds);
            pthread_mutex_unlock(&j->lock);
        }
    }
    free(spec);
    return e;
}

static sr_err srd_job_execute(srd_job_run *r)
{
    srd_jobs *j = r->j;
    srd_job *job = r->job;
    if (job->kind == SRD_JOB_EXPERIMENT)
        return srd_job_run_experiment(r);
    char store_path[PATH_MAX + 80], model_path[PATH_MAX + 80], ckpt_path[PATH_MAX + 32];
    snprintf(store_path, sizeof store_path, "%s/%s.store", j->ops->datasets_dir, job->dataset);
    snprintf(model_path, sizeof model_path, "%s/%s.model", j->models_dir, job->model);
    srd_job_path(j, job->id, "ckpt", ckpt_path, sizeof ckpt_path);
    sr_store *st = NULL;
    sr_err e = sr_store_open(store_path, &st);
    if (e != SR_OK)
        return e;
    char meta[512];
    bool neural = job->kind == SRD_JOB_SASREC || job->kind == SRD_JOB_BERT4REC;
    snprintf(meta, sizeof meta,
             "%sdataset = %s\ndataset_created = %lld\ndataset_tracks = %u\njob = %" PRIu64 "\n",
             neural ? "" : (job->kind == SRD_JOB_POP ? "format = baseline\nkind = pop\n"
                                                     : "format = baseline\nkind = sr\n"),
             job->dataset, (long long)st->meta.created, st->n_tracks, job->id);
    if (neural) {
        sr_train_config c;
        e = sr_train_config_preset(job->kind == SRD_JOB_BERT4REC ? SR_MODEL_KIND_BERT4REC
                                                                 : SR_MODEL_KIND_SASREC,
                                   "paper", &c);
        if (e == SR_OK)
            e = sr_train_config_apply_text(&c, sr_str_c(job->config));
        if (e == SR_OK) {
            sr_train_files f = { ckpt_path, model_path, meta };
            sr_train_result res;
            e = sr_train_run(st, &c, &f, srd_job_train_progress, r, &res);
            if (e == SR_OK) {
                pthread_mutex_lock(&j->lock);
                snprintf(job->message, sizeof job->message,
                         "%llu steps, %llu validations, best %s %.5f at step %llu%s",
                         (unsigned long long)res.steps, (unsigned long long)res.evals, c.metric,
                         res.best_metric, (unsigned long long)res.best_step,
                         res.stopped_early ? " (stopped early)" : "");
                pthread_mutex_unlock(&j->lock);
            }
        }
    } else {
        e = srd_job_run_baseline(r, st, model_path, meta);
        if (e == SR_OK) {
            pthread_mutex_lock(&j->lock);
            snprintf(job->message, sizeof job->message, "fitted on %llu training sessions",
                     (unsigned long long)st->n_sessions);
            pthread_mutex_unlock(&j->lock);
        }
    }
    sr_store_close(&st);
    return e;
}

static srd_job *srd_jobs_next_queued(srd_jobs *j)
{
    for (size_t i = 0; i < j->n; i++)
        if (j->jobs[i]->state == SRD_JOB_QUEUED && !j->jobs[i]->cancel)
            return j->jobs[i];
    return NULL;
}

static void *srd_jobs_runner(void *arg)
{
    srd_jobs *j = arg;
    /* Training at a lower priority: on a machine that also answers
     * recommendations, the scheduler then runs requests first. Linux keeps a
     * nice value per thread (PRIO_PROCESS with who 0 is the calling thread,
     * setpriority(2)) and the job's OpenMP threads, created from this one,
     * inherit it. */
    int nice_value = (int)j->ops->cfg->train_nice;
    if (nice_value > 0 && setpriority(PRIO_PROCESS, 0, nice_value) != 0)
        srd_warn("job runner: cannot lower its priority (nice %d): %s", nice_value,
                 strerror(errno));
    pthread_mutex_lock(&j->lock);
    for (;;) {
        srd_job *job = NULL;
        while (!j->stopping && !atomic_load(&j->ops->stopping) &&
               !(job = srd_jobs_next_queued(j)))
            pthread_cond_wait(&j->wake, &j->lock);
        if (j->stopping || atomic_load(&j->ops->stopping))
            break;
        job->state = SRD_JOB_RUNNING;
        job->has_progress = false;
        job->message[0] = '\0';
        job->attempts++;
        srd_job_persist(j, job);
        pthread_mutex_unlock(&j->lock);

        srd_log_set_request(0);
        srd_info("job %" PRIu64 ": training %s model %s on %s", job->id,
                 srd_job_kind_name(job->kind), job->model, job->dataset);
        srd_job_run r = { j, job };
        sr_err e = srd_job_execute(&r);
        const char *why = e == SR_OK ? "" : sr_errmsg();

        pthread_mutex_lock(&j->lock);
        if (e == SR_OK) {
            job->state = SRD_JOB_DONE;
            srd_info("job %" PRIu64 " done: %s", job->id, job->message);
            if (srd_job_persist(j, job) == SR_OK) {
                /* the model file is the result; the checkpoint (3x its size) goes */
                char ckpt[PATH_MAX + 32];
                srd_job_path(j, job->id, "ckpt", ckpt, sizeof ckpt);
                if (unlink(ckpt) != 0 && errno != ENOENT)
                    srd_warn("job %" PRIu64 ": cannot remove %s: %s", job->id, ckpt,
                             strerror(errno));
            }
            continue;
        } else if (e == SR_ERR_CANCELLED && job->cancel) {
            job->state = SRD_JOB_CANCELLED;
            snprintf(job->message, sizeof job->message, "cancelled: %s", why);
            srd_info("job %" PRIu64 " cancelled", job->id);
        } else if (e == SR_ERR_CANCELLED) {
            /* daemon stopping: stays resumable on disk */
            snprintf(job->message, sizeof job->message, "interrupted by shutdown; resumes on "
                     "the next start");
            job->attempts = 0; /* a clean stop */
            srd_info("job %" PRIu64 " checkpointed for the next start", job->id);
            srd_job_persist(j, job); /* still "running" on disk */
            continue;
        } else {
            job->state = SRD_JOB_FAILED;
            snprintf(job->message, sizeof job->message, "%s", why);
            srd_error("job %" PRIu64 " failed: %s", job->id, why);
        }
        srd_job_persist(j, job);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

/* ---- public ---------------------------------------------------------------- */

sr_err srd_jobs_new(srd_ops *ops, srd_jobs **out)
{
    srd_jobs *j = calloc(1, sizeof *j);
    if (!j)
        return sr_errorf(SR_ERR_NOMEM, "jobs");
    j->ops = ops;
    j->next_id = 1;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->wake, NULL);
    int n1 = snprintf(j->dir, sizeof j->dir, "%s/jobs", ops->state_dir);
    int n2 = snprintf(j->models_dir, sizeof j->models_dir, "%s/models", ops->state_dir);
    sr_err e = SR_OK;
    if (n1 < 0 || (size_t)n1 >= sizeof j->dir || n2 < 0 || (size_t)n2 >= sizeof j->models_dir)
        e = sr_errorf(SR_ERR_ARG, "state dir %s: path too long", ops->state_dir);
    if (e == SR_OK)
        e = srd_jobs_load(j);
    int want = (int)ops->cfg->jobs;
    if (want > SRD_JOBS_MAX_RUNNERS)
        want = SRD_JOBS_MAX_RUNNERS;
    for (int i = 0; e == SR_OK && i < want; i++) {
        if (pthread_create(&j->runners[i], NULL, srd_jobs_runner, j) != 0)
            e = sr_errorf(SR_ERR_INTERNAL, "cannot start job runner %d", i);
        else
            j->n_runners++;
    }
    if (e != SR_OK) {
        srd_jobs_free(&j);
        return e;
    }
    *out = j;
    return SR_OK;
}

void srd_jobs_free(srd_jobs **jp)
{
    srd_jobs *j = jp ? *jp : NULL;
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stopping = true;
    pthread_cond_broadcast(&j->wake);
    pthread_mutex_unlock(&j->lock);
    for (int i = 0; i < j->n_runners; i++)
        pthread_join(j->runners[i], NULL);
    for (size_t i = 0; i < j->n; i++)
        srd_job_free(j->jobs[i]);
    free(j->jobs);
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->lock);
    free(j);
    *jp = NULL;
}

static bool srd_jobs_model_busy_locked(const srd_jobs *j, const char *name)
{
    for (size_t i = 0; i < j->n; i++)
        if ((j->jobs[i]->state == SRD_JOB_QUEUED || j->jobs[i]->state == SRD_JOB_RUNNING) &&
            strcmp(j->jobs[i]->model, name) == 0)
            return true;
    return false;
}

bool srd_jobs_dataset_busy(srd_jobs *j, const char *name)
{
    bool busy = false;
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->n && !busy; i++)
        busy = (j->jobs[i]->state == SRD_JOB_QUEUED || j->jobs[i]->state == SRD_JOB_RUNNING) &&
               strcmp(j->jobs[i]->dataset, name) == 0;
    pthread_mutex_unlock(&j->lock);
    return busy;
}

bool srd_jobs_model_busy(srd_jobs *j, const char *name)
{
    pthread_mutex_lock(&j->lock);
    bool busy = srd_jobs_model_busy_locked(j, name);
    pthread_mutex_unlock(&j->lock);
    return busy;
}

sr_err srd_jobs_submit(srd_jobs *j, srd_job_kind kind, const char *dataset, const char *model,
                       const char *config, const char *out, uint64_t *id)
{
    srd_job *job = calloc(1, sizeof *job);
    if (!job || !(job->config = strdup(config))) {
        srd_job_free(job);
        return sr_errorf(SR_ERR_NOMEM, "job");
    }
    job->kind = kind;
    snprintf(job->dataset, sizeof job->dataset, "%s", dataset);
    snprintf(job->model, sizeof job->model, "%s", model);
    job->state = SRD_JOB_QUEUED;
    job->created = (int64_t)time(NULL);
    if (out)
        snprintf(job->out, sizeof job->out, "%s", out);
    char model_path[PATH_MAX + 80];
    snprintf(model_path, sizeof model_path, "%s/%s.model", j->models_dir, model);
    pthread_mutex_lock(&j->lock);
    sr_err e = SR_OK;
    bool out_busy = false;
    for (size_t i = 0; out && i < j->n; i++)
        out_busy |= (j->jobs[i]->state == SRD_JOB_QUEUED || j->jobs[i]->state == SRD_JOB_RUNNING) &&
                    j->jobs[i]->kind == SRD_JOB_EXPERIMENT && strcmp(j->jobs[i]->out, out) == 0;
    if (kind == SRD_JOB_EXPERIMENT) {
        if (out_busy)
            e = sr_errorf(SR_ERR_EXISTS, "an unfinished experiment already writes to %s", out);
    } else if (srd_jobs_model_busy_locked(j, model) || access(model_path, F_OK) == 0) {
        e = sr_errorf(SR_ERR_EXISTS, "model %s already exists or is being trained", model);
    }
    if (e == SR_OK) {
        job->id = j->next_id;
        /* a checkpoint left by a job whose .job file was removed by hand must
         * not be taken for this job's */
        char stale[PATH_MAX + 32];
        srd_job_path(j, job->id, "ckpt", stale, sizeof stale);
        unlink(stale);
        e = srd_jobs_add(j, job);
        if (e == SR_OK) {
            e = srd_job_persist(j, job);
            if (e != SR_OK) {
                j->n--; /* it was appended last: ids only grow */
            } else {
                *id = job->id;
                job = NULL;
                pthread_cond_signal(&j->wake);
            }
        }
    }
    pthread_mutex_unlock(&j->lock);
    srd_job_free(job);
    return e;
}

static srd_job *srd_jobs_find(const srd_jobs *j, uint64_t id)
{
    for (size_t i = 0; i < j->n; i++)
        if (j->jobs[i]->id == id)
            return j->jobs[i];
    return NULL;
}

sr_err srd_jobs_cancel(srd_jobs *j, uint64_t id, srd_job_state *state)
{
    pthread_mutex_lock(&j->lock);
    srd_job *job = srd_jobs_find(j, id);
    sr_err e = SR_OK;
    if (!job) {
        e = sr_errorf(SR_ERR_NOTFOUND, "no job %" PRIu64, id);
    } else {
        if (job->state == SRD_JOB_QUEUED) {
            job->state = SRD_JOB_CANCELLED;
            job->cancel = true;
            snprintf(job->message, sizeof job->message, "cancelled before it started");
            srd_job_persist(j, job);
        } else if (job->state == SRD_JOB_RUNNING) {
            job->cancel = true; /* the runner marks it cancelled when it stops */
        }
        *state = job->state;
    }
    pthread_mutex_unlock(&j->lock);
    return e;
}

static void srd_pack_key(msgpack_packer *pk, const char *k)
{
    sr_proto_pack_str(pk, k);
}

static void srd_pack_f64_or_nil(msgpack_packer *pk, const char *k, double v)
{
    srd_pack_key(pk, k);
    if (isfinite(v))
        msgpack_pack_double(pk, v);
    else
        msgpack_pack_nil(pk);
}

static void srd_job_pack(const srd_job *job, msgpack_packer *pk)
{
    bool prog = job->has_progress;
    bool fit = !prog && job->total > 0;
    bool exp = job->has_exp;
    uint32_t n = 8 + (prog ? 12 : 0) + (fit ? 2 : 0) + (exp ? 3 : 0) + (job->out[0] ? 1 : 0);
    msgpack_pack_map(pk, n);
    sr_proto_pack_kv_u64(pk, "job", job->id);
    sr_proto_pack_kv_str(pk, "model", job->model);
    sr_proto_pack_kv_str(pk, "dataset", job->dataset);
    sr_proto_pack_kv_str(pk, "kind", srd_job_kind_name(job->kind));
    sr_proto_pack_kv_str(pk, "state", srd_job_state_name(job->state));
    sr_proto_pack_kv_str(pk, "phase", job->phase[0] ? job->phase : "-");
    sr_proto_pack_kv_u64(pk, "created", (uint64_t)job->created);
    sr_proto_pack_kv_str(pk, "message", job->message);
    if (prog) {
        const sr_train_progress *p = &job->p;
        sr_proto_pack_kv_u64(pk, "step", p->step);
        sr_proto_pack_kv_u64(pk, "total_steps", p->total_steps);
        sr_proto_pack_kv_u64(pk, "epoch", p->epoch);
        srd_pack_f64_or_nil(pk, "loss", p->loss);
        srd_pack_f64_or_nil(pk, "rec", p->rec);
        srd_pack_f64_or_nil(pk, "nf", p->nf);
        srd_pack_f64_or_nil(pk, "seq_per_s", p->seq_per_s);
        /* an experiment's ETA and elapsed time cover the whole matrix */
        double eta = exp ? job->exp.eta_s : p->eta_s, elapsed = exp ? job->exp.elapsed_s : p->elapsed_s;
        srd_pack_f64_or_nil(pk, "eta_s", job->state == SRD_JOB_RUNNING ? eta : 0.0);
        srd_pack_f64_or_nil(pk, "elapsed_s", elapsed);
        srd_pack_f64_or_nil(pk, "last_metric", p->last_metric);
        srd_pack_f64_or_nil(pk, "best_metric", p->best_metric);
        sr_proto_pack_kv_u64(pk, "best_step", p->best_step);
    }
    if (fit) {
        sr_proto_pack_kv_u64(pk, "done", job->done);
        sr_proto_pack_kv_u64(pk, "total", job->total);
    }
    if (exp) {
        sr_proto_pack_kv_u64(pk, "run", (uint64_t)job->exp.run);
        sr_proto_pack_kv_u64(pk, "runs", (uint64_t)job->exp.runs);
        sr_proto_pack_kv_str(pk, "current", job->exp.current);
    }
    if (job->out[0])
        sr_proto_pack_kv_str(pk, "out", job->out);
}

sr_err srd_jobs_pack(srd_jobs *j, uint64_t id, msgpack_packer *pk)
{
    pthread_mutex_lock(&j->lock);
    sr_err e = SR_OK;
    if (id != 0) {
        srd_job *job = srd_jobs_find(j, id);
        if (!job) {
            e = sr_errorf(SR_ERR_NOTFOUND, "no job %" PRIu64, id);
        } else {
            srd_pack_key(pk, "jobs");
            msgpack_pack_array(pk, 1);
            srd_job_pack(job, pk);
        }
    } else {
        srd_pack_key(pk, "jobs");
        msgpack_pack_array(pk, (uint32_t)j->n);
        for (size_t i = 0; i < j->n; i++)
            srd_job_pack(j->jobs[i], pk);
    }
    pthread_mutex_unlock(&j->lock);
    return e;
}

void srd_jobs_describe(srd_jobs *j, char *out, size_t cap)
{
    out[0] = '\0';
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->n; i++) {
        const srd_job *job = j->jobs[i];
        if (job->state != SRD_JOB_RUNNING)
            continue;
        int n = snprintf(out, cap, "job %llu training %s model %s on %s",
                         (unsigned long long)job->id, srd_job_kind_name(job->kind), job->model,
                         job->dataset);
        if (job->has_progress && n > 0 && (size_t)n < cap)
            snprintf(out + n, cap - (size_t)n, ": %s step %llu/%llu",
                     job->phase[0] ? job->phase : "train", (unsigned long long)job->p.step,
                     (unsigned long long)job->p.total_steps);
        break;
    }
    pthread_mutex_unlock(&j->lock);
}

void srd_jobs_counts(srd_jobs *j, int *queued, int *running)
{
    int q = 0, r = 0;
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->n; i++) {
        q += j->jobs[i]->state == SRD_JOB_QUEUED;
        r += j->jobs[i]->state == SRD_JOB_RUNNING;
    }
    pthread_mutex_unlock(&j->lock);
    *queued = q;
    *running = r;
}
