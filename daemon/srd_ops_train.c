/* srd_ops_train.c - handlers of train, jobs, cancel, evaluate, recommend
 * and models (docs/protocol.md; jobs in srd_jobs.h, models in
 * srd_models.h). */
#define _XOPEN_SOURCE 700
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sr_baseline.h"
#include "sr_eval.h"
#include "sr_train.h"
#include "srd_experiment.h"
#include "srd_jobs.h"
#include "srd_log.h"
#include "srd_models.h"
#include "srd_ops.h"
#include "srd_paths.h"

#define SRD_DEFAULT_PRESET "fast"
#define SRD_DEFAULT_K 10

static sr_str srd_sstr(sr_pstr p)
{
    return (sr_str){ p.ptr, p.len };
}

/* ---- train ---------------------------------------------------------------------- */

/* The resolved configuration of a neural job: preset, then the request's
 * fields, then each --set in order (later ones win). */
static sr_err srd_train_config(srd_ops *ops, const sr_proto_train *t, srd_job_kind kind,
                               char **text)
{
    char preset[16] = SRD_DEFAULT_PRESET;
    if (t->preset.len > 0 && !sr_pstr_copy(t->preset, preset, sizeof preset))
        return sr_errorf(SR_ERR_ARG, "preset: too long");
    sr_train_config c;
    sr_err e = sr_train_config_preset(kind == SRD_JOB_BERT4REC ? SR_MODEL_KIND_BERT4REC
                                                               : SR_MODEL_KIND_SASREC,
                                      preset, &c);
    if (e != SR_OK)
        return e;
    c.threads = (int)ops->cfg->train_threads;
    c.ckpt_every = (uint64_t)atomic_load(&ops->live.ckpt_every);
    if (t->epochs)
        c.epochs = t->epochs;
    if (t->max_steps)
        c.max_steps = t->max_steps;
    if (t->has_seed)
        c.model.seed = t->seed;
    for (uint32_t i = 0; i < t->n_set; i++) {
        e = sr_train_config_set_line(&c, srd_sstr(t->set[i]));
        if (e != SR_OK)
            return e;
    }
    sr_model_kind want = kind == SRD_JOB_BERT4REC ? SR_MODEL_KIND_BERT4REC : SR_MODEL_KIND_SASREC;
    if (c.model.kind != want)
        return sr_errorf(SR_ERR_ARG, "setting kind contradicts --model %s",
                         srd_job_kind_name(kind));
    /* checked with a stand-in catalogue size and run length; the job sets both */
    sr_train_config probe = c;
    probe.model.I = 2;
    probe.optim.schedule.total_steps = probe.optim.schedule.warmup_steps + 1;
    e = sr_train_config_check(&probe);
    if (e != SR_OK)
        return e;
    *text = sr_train_config_text(&c);
    return *text ? SR_OK : sr_errorf(SR_ERR_NOMEM, "config text");
}

static sr_err srd_baseline_text(const sr_proto_train *t, srd_job_kind kind, char **text)
{
    size_t cap = 64 + (size_t)t->n_set * (SR_PROTO_MAX_SET_LEN + 2);
    char *s = malloc(cap);
    if (!s)
        return sr_errorf(SR_ERR_NOMEM, "config text");
    size_t len = 0;
    s[0] = '\0';
    for (uint32_t i = 0; i < t->n_set; i++) {
        /* normalise "key=value" to "key = value" */
        const char *eq = memchr(t->set[i].ptr, '=', t->set[i].len);
        size_t kl = eq ? (size_t)(eq - t->set[i].ptr) : t->set[i].len;
        int n = snprintf(s + len, cap - len, "%.*s = %.*s\n", (int)kl, t->set[i].ptr,
                         eq ? (int)(t->set[i].len - kl - 1) : 0, eq ? eq + 1 : "");
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
    sr_baseline_config bc;
    sr_err e = srd_jobs_baseline_config(kind, sr_str_c(s), &bc);
    if (e == SR_OK)
        snprintf(s, cap, "window = %d\nmax_rules = %d\n", bc.window, bc.max_rules);
    if (e != SR_OK) {
        free(s);
        return e;
    }
    *text = s;
    return SR_OK;
}

static void srd_ops_train_claimed(srd_ops *ops, const sr_proto_request *req,
                                  msgpack_sbuffer *reply)
{
    const sr_proto_train *t = &req->u.train;
    char dataset[SRD_NAME_MAX], model[SRD_NAME_MAX], err[256];
    char *config = NULL;
    srd_job_kind kind = SRD_JOB_SASREC;
    sr_proto_code code = srd_ops_name(t->dataset, dataset, err, sizeof err);
    if (code != SR_PROTO_CODE_OK) {
        srd_ops_reply_error(ops, reply, req->id, code, err);
        return;
    }
    if (srd_job_kind_parse(srd_sstr(t->model), &kind) != SR_OK || kind == SRD_JOB_EXPERIMENT) {
        if (kind == SRD_JOB_EXPERIMENT)
            sr_errorf(SR_ERR_ARG, "model \"experiment\": use the experiment request");
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_INVALID, sr_errmsg());
        return;
    }
    char store_path[PATH_MAX + 80];
    snprintf(store_path, sizeof store_path, "%s/%s.store", ops->datasets_dir, dataset);
    if (access(store_path, R_OK) != 0) {
        snprintf(err, sizeof err, "no dataset %s (seqrecctl datasets lists them)", dataset);
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_NOT_FOUND, err);
        return;
    }
    bool neural = kind == SRD_JOB_SASREC || kind == SRD_JOB_BERT4REC;
    sr_err e = neural ? srd_train_config(ops, t, kind, &config) : srd_baseline_text(t, kind, &config);
    if (e != SR_OK) {
        srd_ops_reply_sr_err(ops, reply, req->id, e, "train");
        return;
    }
    uint64_t id = 0;
    if (t->name.len > 0) {
        code = srd_ops_name(t->name, model, err, sizeof err);
        if (code != SR_PROTO_CODE_OK) {
            srd_ops_reply_error(ops, reply, req->id, code, err);
            free(config);
            return;
        }
        e = srd_jobs_submit(ops->jobs, kind, dataset, model, config, NULL, &id);
    } else {
        /* <dataset>-<kind>-<n>: the first n not taken */
        e = SR_ERR_EXISTS;
        for (int n = 1; e == SR_ERR_EXISTS && n < 100000; n++) {
            int w = snprintf(model, sizeof model, "%.40s-%s-%d", dataset, srd_job_kind_name(kind),
                             n);
            if (w < 0 || (size_t)w >= sizeof model)
                break;
            e = srd_jobs_submit(ops->jobs, kind, dataset, model, config, NULL, &id);
        }
    }
    free(config);
    if (e != SR_OK) {
        srd_ops_reply_sr_err(ops, reply, req->id, e, "train");
        return;
    }
    srd_info("job %" PRIu64 " queued: %s on %s -> model %s", id, srd_job_kind_name(kind), dataset,
             model);
    msgpack_packer pk = srd_ops_packer(reply);
    sr_proto_reply_ok_begin(&pk, req->id, 3);
    sr_proto_pack_kv_u64(&pk, "job", id);
    sr_proto_pack_kv_str(&pk, "model", model);
    sr_proto_pack_kv_str(&pk, "state", "queued");
}

/* The dataset's key is held from the existence check to the job's
 * submission, so that `datasets drop` cannot delete it in between (and a
 * dataset that an ingest is writing is not trained on half-written). */
void srd_ops_train(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    char dataset[SRD_NAME_MAX], err[256], key[SRD_NAME_MAX + 16];
    sr_proto_code code = srd_ops_name(req->u.train.dataset, dataset, err, sizeof err);
    if (code != SR_PROTO_CODE_OK) {
        srd_ops_reply_error(ops, reply, req->id, code, err);
        return;
    }
    snprintf(key, sizeof key, "dataset:%s", dataset);
    if (!srd_ops_claim(ops, key)) {
        snprintf(err, sizeof err, "dataset '%s': being written or dropped; retry later", dataset);
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_CONFLICT, err);
        return;
    }
    srd_ops_train_claimed(ops, req, reply);
    srd_ops_release(ops, key);
}

/* ---- jobs, cancel ------------------------------------------------------------------ */

void srd_ops_jobs(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    msgpack_packer pk = srd_ops_packer(reply);
    sr_proto_reply_ok_begin(&pk, req->id, 1);
    sr_err e = srd_jobs_pack(ops->jobs, req->u.jobs.job, &pk);
    if (e != SR_OK)
        srd_ops_reply_sr_err(ops, reply, req->id, e, "jobs");
}

void srd_ops_cancel(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    srd_job_state state;
    sr_err e = srd_jobs_cancel(ops->jobs, req->u.cancel.job, &state);
    if (e != SR_OK) {
        srd_ops_reply_sr_err(ops, reply, req->id, e, "cancel");
        return;
    }
    msgpack_packer pk = srd_ops_packer(reply);
    sr_proto_reply_ok_begin(&pk, req->id, 2);
    sr_proto_pack_kv_u64(&pk, "job", req->u.cancel.job);
    sr_proto_pack_kv_str(&pk, "state", state == SRD_JOB_RUNNING ? "cancelling"
                                                                : srd_job_state_name(state));
}

/* ---- evaluate ---------------------------------------------------------------------- */

typedef struct srd_pack_metrics {
    msgpack_packer *pk;
} srd_pack_metrics;

static void srd_count_key(void *ctx, const char *key, double value, bool is_count)
{
    (void)key;
    (void)value;
    (void)is_count;
    (*(uint32_t *)ctx)++;
}

static void srd_pack_metric(void *ctx, const char *key, double value, bool is_count)
{
    msgpack_packer *pk = ctx;
    sr_proto_pack_str(pk, key);
    if (is_count && isfinite(value) && value >= 0)
        msgpack_pack_uint64(pk, (uint64_t)value);
    else if (isfinite(value))
        msgpack_pack_double(pk, value);
    else
        msgpack_pack_nil(pk); /* NaN: an empty group has no mean (JSON null) */
}

static bool srd_eval_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    (void)phase;
    (void)done;
    (void)total;
    srd_ops *ops = ud;
    return !atomic_load(&ops->stopping);
}

void srd_ops_evaluate(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    const sr_proto_evaluate *q = &req->u.evaluate;
    char name[SRD_NAME_MAX], dataset[SRD_NAME_MAX], err[256];
    sr_proto_code code = srd_ops_name(q->model, name, err, sizeof err);
    if (code == SR_PROTO_CODE_OK && q->dataset.len > 0)
        code = srd_ops_name(q->dataset, dataset, err, sizeof err);
    if (code != SR_PROTO_CODE_OK) {
        srd_ops_reply_error(ops, reply, req->id, code, err);
        return;
    }
    sr_eval_config c = sr_eval_config_default();
    sr_err e = SR_OK;
    if (q->split.len > 0) {
        if (sr_pstr_eq(q->split, "test"))
            c.split = SR_SPLIT_TEST;
        else if (sr_pstr_eq(q->split, "validation"))
            c.split = SR_SPLIT_VALID;
        else
            e = sr_errorf(SR_ERR_ARG, "split \"%.*s\" (expected test or validation)",
                          (int)q->split.len, q->split.ptr);
    }
    if (e == SR_OK && q->protocol.len > 0)
        e = sr_eval_protocol_parse(srd_sstr(q->protocol), &c.protocol);
    if (e == SR_OK && q->exclude.len > 0)
        e = sr_eval_exclude_parse(srd_sstr(q->exclude), &c.exclude);
    c.max_queries = q->max_queries;
    if (e != SR_OK) {
        srd_ops_reply_sr_err(ops, reply, req->id, e, "evaluate");
        return;
    }
    srd_model *m = NULL;
    e = srd_models_get(ops->models, name, &m);
    if (e != SR_OK) {
        srd_ops_reply_sr_err(ops, reply, req->id, e, "evaluate");
        return;
    }
    sr_eval_result r;
    e = srd_model_evaluate(ops->models, m, q->dataset.len > 0 ? dataset : NULL, &c,
                           srd_eval_progress, ops, &r);
    if (e != SR_OK) {
        srd_model_release(&m);
        srd_ops_reply_sr_err(ops, reply, req->id, e, "evaluate");
        return;
    }
    uint32_t n_keys = 0;
    sr_eval_visit(&r, srd_count_key, &n_keys);
    msgpack_packer pk = srd_ops_packer(reply);
    sr_proto_reply_ok_begin(&pk, req->id, 8);
    sr_proto_pack_kv_str(&pk, "model", name);
    sr_proto_pack_kv_str(&pk, "kind", srd_model_kind(m));
    sr_proto_pack_kv_str(&pk, "dataset", q->dataset.len > 0 ? dataset : srd_model_dataset(m));
    sr_proto_pack_kv_str(&pk, "split", c.split == SR_SPLIT_TEST ? "test" : "validation");
    sr_proto_pack_kv_str(&pk, "protocol", sr_eval_protocol_name(c.protocol));
    sr_proto_pack_kv_str(&pk, "exclude", sr_eval_exclude_name(c.exclude));
    sr_proto_pack_kv_f64(&pk, "seconds", r.seconds);
    sr_proto_pack_str(&pk, "metrics");
    msgpack_pack_map(&pk, n_keys);
    sr_eval_visit(&r, srd_pack_metric, &pk);
    srd_info("evaluated %s on %s (%s, %s): %.1f s", name,
             q->dataset.len > 0 ? dataset : srd_model_dataset(m),
             sr_eval_protocol_name(c.protocol), c.split == SR_SPLIT_TEST ? "test" : "validation",
             r.seconds);
    srd_model_release(&m);
}

/* ---- recommend -------------------------------------------------------------------- */

/* One session's result: a map {fallback, items, warnings}, or, for the
 * single-session reply (model != NULL), those members and "model" packed
 * into the result map the caller began with 4 entries. */
static void srd_pack_rec_result(msgpack_packer *pk, const srd_model *m, const srd_rec_request *rq,
                                const srd_rec_result *r, const char *name)
{
    if (!name)
        msgpack_pack_map(pk, 3);
    else
        sr_proto_pack_kv_str(pk, "model", name);
    sr_proto_pack_str(pk, "fallback");
    r->fallback ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    sr_proto_pack_str(pk, "items");
    msgpack_pack_array(pk, (uint32_t)r->n_items);
    for (int i = 0; i < r->n_items; i++) {
        sr_str id = srd_model_track_id(m, r->items[i]);
        msgpack_pack_map(pk, 2);
        sr_proto_pack_str(pk, "track");
        msgpack_pack_str(pk, id.len);
        msgpack_pack_str_body(pk, id.ptr, id.len);
        sr_proto_pack_kv_f64(pk, "score", (double)r->scores[i]);
    }
    uint32_t shown = r->n_unknown < SRD_MODELS_MAX_WARNINGS ? r->n_unknown
                                                            : SRD_MODELS_MAX_WARNINGS;
    uint32_t n_warn = shown + (r->n_unknown > SRD_MODELS_MAX_WARNINGS) + r->fallback;
    sr_proto_pack_str(pk, "warnings");
    msgpack_pack_array(pk, n_warn);
    for (uint32_t i = 0; i < shown; i++) {
        char w[400];
        sr_str id = rq->tracks[r->unknown[i]];
        snprintf(w, sizeof w, "unknown track id \"%.*s\" (play %u) ignored",
                 (int)(id.len > 256 ? 256 : id.len), id.ptr, r->unknown[i] + 1);
        sr_proto_pack_str(pk, w);
    }
    if (r->n_unknown > SRD_MODELS_MAX_WARNINGS) {
        char w[100];
        snprintf(w, sizeof w, "%u more unknown track ids ignored",
                 r->n_unknown - SRD_MODELS_MAX_WARNINGS);
        sr_proto_pack_str(pk, w);
    }
    if (r->fallback)
        sr_proto_pack_str(pk, "no known track in the session: most popular tracks returned");
}

/* The model a request names, or the default one. */
static sr_proto_code srd_ops_model_name(srd_ops *ops, sr_pstr given, char name[SRD_NAME_MAX],
                                        char *err, size_t errcap)
{
    if (given.len > 0)
        return srd_ops_name(given, name, err, errcap);
    srd_models_default(ops->models, name, SRD_NAME_MAX);
    if (name[0] != '\0')
        return SR_PROTO_CODE_OK;
    snprintf(err, errcap, "no model given and no default model set (seqrecctl models default NAME)");
    return SR_PROTO_CODE_NOT_FOUND;
}

void srd_ops_recommend(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    const sr_proto_recommend *q = &req->u.recommend;
    char name[SRD_NAME_MAX], err[256];
    sr_proto_code code = srd_ops_model_name(ops, q->model, name, err, sizeof err);
    if (code != SR_PROTO_CODE_OK) {
        srd_ops_reply_error(ops, reply, req->id, code, err);
        return;
    }
    /* the daemon's limits (reloadable), below the protocol's */
    int64_t max_sessions = atomic_load(&ops->live.max_sessions);
    int64_t max_plays = atomic_load(&ops->live.max_plays);
    if ((int64_t)q->n_sessions > max_sessions) {
        snprintf(err, sizeof err, "%u sessions in one request, more than max_sessions = %lld",
                 q->n_sessions, (long long)max_sessions);
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_TOO_LARGE, err);
        return;
    }
    size_t plays = 0;
    for (uint32_t s = 0; s < q->n_sessions; s++) {
        if ((int64_t)q->sessions[s].tracks.n > max_plays) {
            snprintf(err, sizeof err, "session %u has %u plays, more than max_plays = %lld",
                     s + 1, q->sessions[s].tracks.n, (long long)max_plays);
            srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_TOO_LARGE, err);
            return;
        }
        plays += q->sessions[s].tracks.n;
    }
    sr_eval_exclude exclude = SR_EVAL_EXCLUDE_SKIPPED;
    sr_err e = SR_OK;
    if (q->exclude.len > 0)
        e = sr_eval_exclude_parse(srd_sstr(q->exclude), &exclude);
    if (e != SR_OK) {
        srd_ops_reply_sr_err(ops, reply, req->id, e, "recommend");
        return;
    }
    uint32_t n = q->n_sessions;
    sr_str *ids = malloc(sizeof(sr_str) * (plays ? plays : 1));
    bool *sk = malloc(sizeof(bool) * (plays ? plays : 1));
    srd_rec_request *rq = calloc(n ? n : 1, sizeof *rq);
    srd_rec_result *res = calloc(n ? n : 1, sizeof *res);
    srd_model *m = NULL;
    if (!ids || !sk || !rq || !res) {
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_INTERNAL, "out of memory");
        goto done;
    }
    size_t off = 0;
    for (uint32_t s = 0; s < n; s++) {
        const sr_proto_session *ps = &q->sessions[s];
        sr_proto_strs_iter it;
        sr_proto_strs_begin(&ps->tracks, &it);
        sr_pstr id;
        rq[s] = (srd_rec_request){ ids + off, sk + off, ps->tracks.n,
                                   q->k ? (int)q->k : SRD_DEFAULT_K, exclude };
        for (uint32_t i = 0; i < ps->tracks.n && sr_proto_strs_next(&it, &id); i++) {
            ids[off + i] = srd_sstr(id);
            sk[off + i] = ps->has_skipped && sr_proto_bools_at(&ps->skipped, i);
        }
        off += ps->tracks.n;
    }
    e = srd_models_get(ops->models, name, &m);
    if (e == SR_OK)
        e = srd_model_recommend(m, rq, (int)n, (int)atomic_load(&ops->live.score_batch), res);
    if (e != SR_OK) {
        srd_ops_reply_sr_err(ops, reply, req->id, e, "recommend");
        goto done;
    }
    msgpack_packer pk = srd_ops_packer(reply);
    if (!q->batch) {
        sr_proto_reply_ok_begin(&pk, req->id, 4);
        srd_pack_rec_result(&pk, m, &rq[0], &res[0], name);
    } else {
        sr_proto_reply_ok_begin(&pk, req->id, 2);
        sr_proto_pack_kv_str(&pk, "model", name);
        sr_proto_pack_str(&pk, "results");
        msgpack_pack_array(&pk, n);
        for (uint32_t s = 0; s < n; s++)
            srd_pack_rec_result(&pk, m, &rq[s], &res[s], NULL);
    }
done:
    for (uint32_t s = 0; res && s < n; s++)
        srd_rec_result_free(&res[s]);
    free(res);
    free(rq);
    srd_model_release(&m);
    free(ids);
    free(sk);
}

/* ---- models -------------------------------------------------------------------------- */

void srd_ops_models(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    const sr_proto_models *q = &req->u.models;
    char name[SRD_NAME_MAX] = "", as[SRD_NAME_MAX] = "", def[SRD_NAME_MAX], err[256];
    sr_proto_code code = SR_PROTO_CODE_OK;
    if (q->name.len > 0)
        code = srd_ops_name(q->name, name, err, sizeof err);
    if (code == SR_PROTO_CODE_OK && q->as.len > 0)
        code = srd_ops_name(q->as, as, err, sizeof err);
    if (code != SR_PROTO_CODE_OK) {
        srd_ops_reply_error(ops, reply, req->id, code, err);
        return;
    }
    msgpack_packer pk = srd_ops_packer(reply);
    sr_err e = SR_OK;
    switch (q->action) {
    case SR_PROTO_MODELS_LIST:
        srd_models_default(ops->models, def, sizeof def);
        sr_proto_reply_ok_begin(&pk, req->id, 1 + (def[0] != '\0'));
        e = srd_models_pack(ops->models, name[0] ? name : NULL, &pk);
        if (e == SR_OK && def[0] != '\0')
            sr_proto_pack_kv_str(&pk, "default", def);
        break;
    case SR_PROTO_MODELS_LOAD: {
        struct timespec t0, t1;
        srd_model *m = NULL;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        e = srd_models_get(ops->models, name, &m);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (e != SR_OK)
            break;
        sr_proto_reply_ok_begin(&pk, req->id, 4);
        sr_proto_pack_kv_str(&pk, "model", name);
        sr_proto_pack_kv_str(&pk, "kind", srd_model_kind(m));
        sr_proto_pack_kv_u64(&pk, "tracks", srd_model_tracks(m));
        sr_proto_pack_kv_f64(&pk, "seconds", (double)(t1.tv_sec - t0.tv_sec) +
                                                 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
        srd_model_release(&m);
        break;
    }
    case SR_PROTO_MODELS_SAVE:
        if (srd_jobs_model_busy(ops->jobs, as)) {
            snprintf(err, sizeof err, "a job is training model %s; save under another name", as);
            srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_CONFLICT, err);
            return;
        }
        e = srd_models_save(ops->models, name, as, q->replace);
        if (e != SR_OK)
            break;
        sr_proto_reply_ok_begin(&pk, req->id, 2);
        sr_proto_pack_kv_str(&pk, "model", as);
        sr_proto_pack_kv_str(&pk, "from", name);
        break;
    case SR_PROTO_MODELS_DEFAULT:
        if (name[0] != '\0')
            e = srd_models_set_default(ops->models, name);
        if (e != SR_OK)
            break;
        srd_models_default(ops->models, def, sizeof def);
        sr_proto_reply_ok_begin(&pk, req->id, 1);
        sr_proto_pack_str(&pk, "default");
        if (def[0] != '\0')
            sr_proto_pack_str(&pk, def);
        else
            msgpack_pack_nil(&pk);
        break;
    case SR_PROTO_MODELS_DROP: {
        if (srd_jobs_model_busy(ops->jobs, name)) {
            snprintf(err, sizeof err, "a job is training model %s; cancel it first", name);
            srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_CONFLICT, err);
            return;
        }
        bool was_default = false;
        e = srd_models_drop(ops->models, name, &was_default);
        if (e != SR_OK)
            break;
        sr_proto_reply_ok_begin(&pk, req->id, 2);
        sr_proto_pack_kv_str(&pk, "dropped", name);
        sr_proto_pack_str(&pk, "was_default");
        was_default ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
        break;
    }
    default:
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_BAD_REQUEST,
                            "unknown models action");
        return;
    }
    if (e != SR_OK)
        srd_ops_reply_sr_err(ops, reply, req->id, e, "models");
}

/* ---- experiment ----------------------------------------------------------------------- */

void srd_ops_experiment(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    const sr_proto_experiment *x = &req->u.experiment;
    char dataset[SRD_NAME_MAX], name[SRD_NAME_MAX], err[PATH_MAX + 256], out[PATH_MAX];
    srd_exp_spec *spec = malloc(sizeof *spec);
    if (!spec) {
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_INTERNAL, "out of memory");
        return;
    }
    sr_err e = srd_experiment_parse(srd_sstr(x->spec), spec);
    if (e != SR_OK) {
        srd_ops_reply_sr_err(ops, reply, req->id, e, "experiment");
        goto done;
    }
    sr_proto_code code = SR_PROTO_CODE_OK;
    if (x->dataset.len > 0) {
        code = srd_ops_name(x->dataset, dataset, err, sizeof err);
    } else if (spec->dataset[0]) {
        code = srd_ops_name((sr_pstr){ spec->dataset, (uint32_t)strlen(spec->dataset) }, dataset,
                            err, sizeof err);
    } else {
        code = SR_PROTO_CODE_INVALID;
        snprintf(err, sizeof err, "experiment: no dataset (set dataset in [experiment] or send "
                 "one)");
    }
    if (code == SR_PROTO_CODE_OK && x->name.len > 0)
        code = srd_ops_name(x->name, name, err, sizeof err);
    else if (code == SR_PROTO_CODE_OK)
        snprintf(name, sizeof name, "experiment");
    if (code != SR_PROTO_CODE_OK) {
        srd_ops_reply_error(ops, reply, req->id, code, err);
        goto done;
    }
    char store_path[PATH_MAX + 80];
    snprintf(store_path, sizeof store_path, "%s/%s.store", ops->datasets_dir, dataset);
    if (access(store_path, R_OK) != 0) {
        snprintf(err, sizeof err, "no dataset %s (seqrecctl datasets lists them)", dataset);
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_NOT_FOUND, err);
        goto done;
    }
    /* the output directory: an existing one under the data root (resuming),
     * or a new name in an existing directory there */
    code = srd_paths_confine_pstr(ops->data_root, x->out, SRD_PATH_KIND_INPUT, out, sizeof out,
                                  err, sizeof err);
    if (code == SR_PROTO_CODE_NOT_FOUND)
        code = srd_paths_confine_pstr(ops->data_root, x->out, SRD_PATH_KIND_OUTPUT, out,
                                      sizeof out, err, sizeof err);
    if (code != SR_PROTO_CODE_OK) {
        srd_ops_reply_error(ops, reply, req->id, code, err);
        goto done;
    }
    uint64_t id = 0;
    char *text = strndup(x->spec.ptr, x->spec.len);
    e = text ? srd_jobs_submit(ops->jobs, SRD_JOB_EXPERIMENT, dataset, name, text, out, &id)
             : sr_errorf(SR_ERR_NOMEM, "spec");
    free(text);
    if (e != SR_OK) {
        srd_ops_reply_sr_err(ops, reply, req->id, e, "experiment");
        goto done;
    }
    srd_info("job %" PRIu64 " queued: experiment %s (%d configurations x %d seeds) on %s -> %s",
             id, name, spec->n_configs, spec->n_seeds, dataset, out);
    msgpack_packer pk = srd_ops_packer(reply);
    sr_proto_reply_ok_begin(&pk, req->id, 4);
    sr_proto_pack_kv_u64(&pk, "job", id);
    sr_proto_pack_kv_str(&pk, "name", name);
    sr_proto_pack_kv_str(&pk, "out", out);
    sr_proto_pack_kv_u64(&pk, "runs", (uint64_t)spec->n_configs * (uint64_t)spec->n_seeds);
done:
    free(spec);
}
