/* srd_ops.c - request handlers (see srd_ops.h and docs/daemon.md). */
/* realpath(3) is an XSI function: ask for it on top of _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700
#include "srd_ops.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_bf16.h"
#include "sr_ingest.h"
#include "sr_store.h"
#include "sr_synth.h"
#include "srd_auth.h"
#include "srd_evconf.h"
#include "srd_jobs.h"
#include "srd_metrics.h"
#include "srd_log.h"
#include "srd_models.h"
#include "srd_paths.h"

#define SRD_MAX_LISTED 100000    /* datasets listed by one `datasets` reply */

/* ---- small helpers ------------------------------------------------------- */

static uint64_t srd_ops_ns_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t ns = (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000000 + (t1.tv_nsec - t0->tv_nsec);
    return ns > 0 ? (uint64_t)ns : 0;
}

static double srd_ops_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) * 1e-9;
}

msgpack_packer srd_ops_packer(msgpack_sbuffer *reply)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, reply, msgpack_sbuffer_write);
    return pk;
}

/* Set by srd_ops_reply_error on this thread: the request being executed
 * failed (read by srd_ops_execute for the metrics). */
static _Thread_local bool srd_ops_failed;

void srd_ops_reply_error(srd_ops *ops, msgpack_sbuffer *reply, uint64_t id, sr_proto_code code,
                         const char *message)
{
    srd_ops_failed = true;
    msgpack_packer pk = srd_ops_packer(reply);
    msgpack_sbuffer_clear(reply);
    sr_proto_reply_error(&pk, id, code, message);
    atomic_fetch_add(&ops->errors, 1);
    /* Only our own failures are errors; a bad request is the client's. */
    srd_log(code == SR_PROTO_CODE_INTERNAL ? SR_LOG_LEVEL_ERROR : SR_LOG_LEVEL_INFO,
            "reply %u %s: %s", (unsigned)code, sr_proto_code_name(code), message);
}

/* Map a core error to a reply code (docs/daemon.md, "Errors"). Inputs were
 * checked to exist before the job started, so IO here is the daemon's side. */
static sr_proto_code srd_ops_code_of(sr_err e)
{
    switch (e) {
    case SR_ERR_ARG:
    case SR_ERR_FORMAT:
    case SR_ERR_COLUMN:
    case SR_ERR_EMPTY:
    case SR_ERR_REJECTS:
        return SR_PROTO_CODE_INVALID;
    case SR_ERR_NOTFOUND:
        return SR_PROTO_CODE_NOT_FOUND;
    case SR_ERR_LIMIT:
        return SR_PROTO_CODE_TOO_LARGE;
    case SR_ERR_EXISTS:
        return SR_PROTO_CODE_CONFLICT;
    default:
        return SR_PROTO_CODE_INTERNAL;
    }
}

void srd_ops_reply_sr_err(srd_ops *ops, msgpack_sbuffer *reply, uint64_t id, sr_err e,
                          const char *what)
{
    char msg[1200];
    snprintf(msg, sizeof msg, "%s: %s%s%s", what, sr_err_name(e), sr_errmsg()[0] ? ": " : "",
             sr_errmsg());
    srd_ops_reply_error(ops, reply, id, srd_ops_code_of(e), msg);
}

/* Dataset names become file names: [A-Za-z0-9._-]{1,63}, and not starting
 * with '.' (no ".", "..", hidden files). */
sr_proto_code srd_ops_name(sr_pstr s, char out[SRD_NAME_MAX], char *err, size_t errcap)
{
    if (s.len == 0 || s.len >= SRD_NAME_MAX) {
        snprintf(err, errcap, "name: must be 1..%d bytes", SRD_NAME_MAX - 1);
        return SR_PROTO_CODE_INVALID;
    }
    for (uint32_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || (i == 0 && c == '.')) {
            snprintf(err, errcap, "name '%.*s': use letters, digits, '.', '_', '-' (not first '.')",
                     (int)s.len, s.ptr);
            return SR_PROTO_CODE_INVALID;
        }
    }
    memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return SR_PROTO_CODE_OK;
}

static bool srd_ops_store_path(const srd_ops *ops, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s.store", ops->datasets_dir, name);
    return n > 0 && (size_t)n < cap;
}

/* Claim `key` for a running job; false when another job holds it or the
 * table is full. */
bool srd_ops_claim(srd_ops *ops, const char *key)
{
    bool ok = false;
    pthread_mutex_lock(&ops->lock);
    int free_slot = -1;
    for (int i = 0; i < SRD_OPS_MAX_BUSY; i++) {
        if (ops->busy[i] && strcmp(ops->busy[i], key) == 0)
            goto done;
        if (!ops->busy[i] && free_slot < 0)
            free_slot = i;
    }
    if (free_slot >= 0 && (ops->busy[free_slot] = strdup(key)) != NULL)
        ok = true;
done:
    pthread_mutex_unlock(&ops->lock);
    return ok;
}

void srd_ops_release(srd_ops *ops, const char *key)
{
    pthread_mutex_lock(&ops->lock);
    for (int i = 0; i < SRD_OPS_MAX_BUSY; i++) {
        if (ops->busy[i] && strcmp(ops->busy[i], key) == 0) {
            free(ops->busy[i]);
            ops->busy[i] = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&ops->lock);
}

/* Progress of long jobs: logs at debug level and stops the job when the
 * daemon is shutting down (the job then fails with SR_ERR_CANCELLED). */
/* Progress of one job. Reader and writer threads of an ingest call the
 * callback concurrently: the time of the next log line is an atomic, and
 * only the thread that advances it logs. */
typedef struct srd_progress {
    srd_ops *ops;
    _Atomic int64_t next_log_ns;
} srd_progress;

static int64_t srd_ops_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void srd_progress_init(srd_progress *p, srd_ops *ops)
{
    p->ops = ops;
    atomic_init(&p->next_log_ns, srd_ops_now_ns() + INT64_C(5000000000));
}

static bool srd_ops_progress(void *ud, const char *phase, uint64_t done, uint64_t total)
{
    srd_progress *p = ud;
    int64_t now = srd_ops_now_ns();
    int64_t next = atomic_load(&p->next_log_ns);
    if (now >= next &&
        atomic_compare_exchange_strong(&p->next_log_ns, &next, now + INT64_C(5000000000))) {
        if (total)
            srd_debug("%s: %llu / %llu", phase, (unsigned long long)done,
                      (unsigned long long)total);
        else
            srd_debug("%s: %llu", phase, (unsigned long long)done);
    }
    return !atomic_load(&p->ops->stopping);
}

/* ---- stats packing -------------------------------------------------------- */

static void srd_ops_stats_count(void *ud, const char *name, bool is_real, uint64_t u, double f)
{
    (void)name, (void)is_real, (void)u, (void)f;
    (*(uint32_t *)ud)++;
}

static void srd_ops_stats_pack(void *ud, const char *name, bool is_real, uint64_t u, double f)
{
    msgpack_packer *pk = ud;
    if (is_real)
        sr_proto_pack_kv_f64(pk, name, f);
    else
        sr_proto_pack_kv_u64(pk, name, u);
}

/* Packs "stats": {every sr_store_stats field}. */
static void srd_ops_pack_stats(msgpack_packer *pk, const sr_store_stats *s)
{
    uint32_t n = 0;
    sr_store_stats_visit(s, srd_ops_stats_count, &n);
    sr_proto_pack_str(pk, "stats");
    msgpack_pack_map(pk, n);
    sr_store_stats_visit(s, srd_ops_stats_pack, pk);
}

/* ---- status ----------------------------------------------------------------- */

uint64_t srd_ops_count_datasets(const srd_ops *ops)
{
    uint64_t n = 0;
    DIR *d = opendir(ops->datasets_dir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 6 && de->d_name[0] != '.' && strcmp(de->d_name + l - 6, ".store") == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void srd_ops_status(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    msgpack_packer pk = srd_ops_packer(reply);
    int queued = 0, running = 0;
    if (ops->jobs)
        srd_jobs_counts(ops->jobs, &queued, &running);
    srd_mem mem;
    bool have_mem = srd_mem_read(&mem) == SR_OK;
    uint64_t loaded = 0, sessions = 0, passes = 0, max_batch = 0;
    if (ops->models)
        srd_models_scorer_stats(ops->models, &loaded, &sessions, &passes, &max_batch);
    sr_proto_reply_ok_begin(&pk, req->id, 15);
    sr_proto_pack_kv_str(&pk, "version", SEQREC_VERSION);
    sr_proto_pack_kv_u64(&pk, "jobs_queued", (uint64_t)queued);
    sr_proto_pack_kv_u64(&pk, "jobs_running", (uint64_t)running);
    sr_proto_pack_kv_f64(&pk, "uptime_s", srd_ops_since(&ops->started));
    sr_proto_pack_kv_u64(&pk, "requests", atomic_load(&ops->requests));
    sr_proto_pack_kv_u64(&pk, "errors", atomic_load(&ops->errors));
    sr_proto_pack_kv_u64(&pk, "datasets", srd_ops_count_datasets(ops));
    sr_proto_pack_kv_u64(&pk, "busy_workers", (uint64_t)atomic_load(&ops->busy_workers));
    sr_proto_pack_kv_u64(&pk, "workers", (uint64_t)ops->cfg->threads);
    sr_proto_pack_kv_u64(&pk, "queued_requests", (uint64_t)atomic_load(&ops->queued_requests));
    sr_proto_pack_kv_str(&pk, "data_root", ops->data_root);
    sr_proto_pack_kv_str(&pk, "state_dir", ops->state_dir);
    /* counts and latencies (since start and the last minute), per op */
    sr_proto_pack_str(&pk, "traffic");
    if (ops->metrics) {
        srd_metrics_snap *snap = malloc(sizeof *snap);
        if (snap) {
            srd_metrics_snapshot(ops->metrics, snap);
            srd_metrics_pack(snap, &pk);
            free(snap);
        } else {
            msgpack_pack_nil(&pk);
        }
    } else {
        msgpack_pack_nil(&pk);
    }
    sr_proto_pack_str(&pk, "memory");
    if (have_mem) {
        srd_mem_pack(&mem, &pk);
    } else {
        msgpack_pack_nil(&pk);
    }
    /* the micro-batching of recommend (loaded neural models) */
    sr_proto_pack_str(&pk, "scoring");
    msgpack_pack_map(&pk, 6);
    sr_proto_pack_kv_u64(&pk, "models_loaded", loaded);
    sr_proto_pack_kv_str(&pk, "precision", ops->cfg->score_precision);
    sr_proto_pack_kv_str(&pk, "kernel", strcmp(ops->cfg->score_precision, "f32") == 0
                                            ? "onednn_f32" : sr_bf16_kernel_name());
    sr_proto_pack_kv_u64(&pk, "sessions", sessions);
    sr_proto_pack_kv_f64(&pk, "mean_batch", passes ? (double)sessions / (double)passes : 0.0);
    sr_proto_pack_kv_u64(&pk, "max_batch", max_batch);
}

/* ---- synth ------------------------------------------------------------------ */

static void srd_ops_synth(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    const sr_proto_synth *r = &req->u.synth;
    char err[1200];
    char path[PATH_MAX];
    char key[PATH_MAX + 8];
    sr_proto_code code = srd_paths_confine_pstr(ops->data_root, r->out, SRD_PATH_KIND_OUTPUT,
                                                path, sizeof path, err, sizeof err);
    if (code != SR_PROTO_CODE_OK) {
        srd_ops_reply_error(ops, reply, req->id, code, err);
        return;
    }
    sr_synth_opts o;
    sr_synth_opts_default(&o);
    if (r->sessions == 0) {
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_INVALID, "sessions: must be >= 1");
        return;
    }
    int64_t max_synth = atomic_load(&ops->live.max_synth_sessions);
    if (r->sessions > (uint64_t)max_synth) {
        snprintf(err, sizeof err, "sessions: %llu is over this daemon's limit %lld "
                 "(max_synth_sessions)", (unsigned long long)r->sessions,
                 (long long)max_synth);
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_TOO_LARGE, err);
        return;
    }
    o.sessions = r->sessions;
    o.users = 0; /* auto: sessions / 4 */
    if (r->tracks)
        o.tracks = (uint32_t)r->tracks;
    if (r->has_seed)
        o.seed = r->seed;
    if (r->skips.len) {
        sr_err e = sr_synth_skips_parse((sr_str){ r->skips.ptr, r->skips.len }, &o.skips);
        if (e != SR_OK) {
            srd_ops_reply_sr_err(ops, reply, req->id, e, "skips");
            return;
        }
    }
    snprintf(key, sizeof key, "synth:%s", path);
    if (!srd_ops_claim(ops, key)) {
        snprintf(err, sizeof err, "%.900s: another job is writing it", path);
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_CONFLICT, err);
        return;
    }
    srd_info("synth %s: %llu sessions, %u tracks, seed %llu, %s skips", path,
             (unsigned long long)o.sessions, o.tracks, (unsigned long long)o.seed,
             sr_synth_skips_name(o.skips));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    srd_progress prog;
    srd_progress_init(&prog, ops);
    sr_synth_summary sum;
    memset(&sum, 0, sizeof sum);
    sr_err e = sr_synth_write(path, &o, srd_ops_progress, &prog, &sum);
    double secs = srd_ops_since(&t0);
    srd_ops_release(ops, key);
    if (e != SR_OK) {
        srd_ops_reply_sr_err(ops, reply, req->id, e, "synth");
        return;
    }
    srd_info("synth %s: %llu rows, %llu bytes in %.2f s", path, (unsigned long long)sum.rows,
             (unsigned long long)sum.bytes, secs);
    msgpack_packer pk = srd_ops_packer(reply);
    sr_proto_reply_ok_begin(&pk, req->id, 6);
    sr_proto_pack_kv_str(&pk, "path", path);
    sr_proto_pack_kv_u64(&pk, "sessions", sum.sessions);
    sr_proto_pack_kv_u64(&pk, "rows", sum.rows);
    sr_proto_pack_kv_u64(&pk, "skipped_2", sum.skipped_2);
    sr_proto_pack_kv_u64(&pk, "bytes", sum.bytes);
    sr_proto_pack_kv_f64(&pk, "seconds", secs);
}

/* ---- ingest ----------------------------------------------------------------- */

static void srd_free_paths(char **p, size_t n)
{
    if (!p)
        return;
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    free(p);
}

static void srd_ops_ingest(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    const sr_proto_ingest *r = &req->u.ingest;
    char err[1200];
    char name[SRD_NAME_MAX];
    char store[PATH_MAX];
    char rejects[PATH_MAX + 32];
    char key[SRD_NAME_MAX + 16];
    char **inputs = NULL;
    size_t n_inputs = 0;
    char **files = NULL;
    size_t n_files = 0;
    bool claimed = false;
    sr_events_config evc;
    sr_ingest_opts o;
    sr_proto_code code;

    if ((code = srd_ops_name(r->name, name, err, sizeof err)) != SR_PROTO_CODE_OK)
        goto fail;
    if (!srd_ops_store_path(ops, name, store, sizeof store)) {
        code = SR_PROTO_CODE_BAD_REQUEST;
        snprintf(err, sizeof err, "name '%s': store path too long", name);
        goto fail;
    }
    snprintf(rejects, sizeof rejects, "%s.rejects.tsv", store);
    if (r->n_paths == 0 || r->n_paths > SR_PROTO_MAX_PATHS) {
        code = SR_PROTO_CODE_BAD_REQUEST;
        snprintf(err, sizeof err, "paths: 1..%d entries", SR_PROTO_MAX_PATHS);
        goto fail;
    }

    /* Inputs: each confined (.., outside, symlinks out -> 403; missing -> 404). */
    inputs = calloc(r->n_paths, sizeof *inputs);
    if (!inputs) {
        code = SR_PROTO_CODE_INTERNAL;
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < r->n_paths; i++) {
        char real[PATH_MAX];
        code = srd_paths_confine_pstr(ops->data_root, r->paths[i], SRD_PATH_KIND_INPUT, real,
                                      sizeof real, err, sizeof err);
        if (code != SR_PROTO_CODE_OK)
            goto fail;
        if (!(inputs[n_inputs++] = strdup(real))) {
            code = SR_PROTO_CODE_INTERNAL;
            snprintf(err, sizeof err, "out of memory");
            goto fail;
        }
    }

    /* Options. */
    sr_ingest_opts_default(&o);
    o.name = name;
    o.threads = (int)ops->cfg->ingest_threads;
    /* proto validated the names; the daemon maps them and checks the pairing */
    o.format = SR_SOURCE_FORMAT_MSSD;
    if (r->format.len && (sr_source_format_parse((sr_str){ r->format.ptr, r->format.len },
                                                 &o.format) != SR_OK ||
                          o.format == SR_SOURCE_FORMAT_SYNTH)) {
        code = SR_PROTO_CODE_INVALID;
        snprintf(err, sizeof err, "format '%.*s': expected mssd or events", (int)r->format.len,
                 r->format.ptr);
        goto fail;
    }
    if (o.format == SR_SOURCE_FORMAT_MSSD && r->config.len) {
        code = SR_PROTO_CODE_INVALID;
        snprintf(err, sizeof err, "config: only used with format events");
        goto fail;
    }
    if (o.format == SR_SOURCE_FORMAT_EVENTS) {
        if (r->config.len == 0) {
            code = SR_PROTO_CODE_INVALID;
            snprintf(err, sizeof err, "config: format events needs the column-mapping INI text");
            goto fail;
        }
        sr_err e = srd_evconf_parse(r->config.ptr, r->config.len, &evc);
        if (e != SR_OK) {
            code = e == SR_ERR_NOMEM ? SR_PROTO_CODE_INTERNAL : SR_PROTO_CODE_INVALID;
            snprintf(err, sizeof err, "%s", sr_errmsg());
            goto fail;
        }
        evc.tmp_dir = ops->tmp_dir;
        o.events = &evc;
    }
    if (r->split.len &&
        sr_split_kind_parse((sr_str){ r->split.ptr, r->split.len }, &o.split) != SR_OK) {
        code = SR_PROTO_CODE_INVALID;
        snprintf(err, sizeof err, "split '%.*s': expected leave-last or temporal",
                 (int)r->split.len, r->split.ptr);
        goto fail;
    }
    if (r->skip_rule.len) {
        if (sr_skip_rule_parse((sr_str){ r->skip_rule.ptr, r->skip_rule.len }, &o.skip_rule) !=
            SR_OK) {
            code = SR_PROTO_CODE_INVALID;
            snprintf(err, sizeof err,
                     "skip_rule '%.*s': expected skip_1, skip_2, skip_3 or not_skipped",
                     (int)r->skip_rule.len, r->skip_rule.ptr);
            goto fail;
        }
    }
    if (r->min_session_len) {
        if (r->min_session_len > UINT16_MAX) {
            code = SR_PROTO_CODE_INVALID;
            snprintf(err, sizeof err, "min_session_len: %llu is over %u",
                     (unsigned long long)r->min_session_len, UINT16_MAX);
            goto fail;
        }
        o.min_session_len = (uint32_t)r->min_session_len;
    }
    if (r->min_track_count) {
        if (r->min_track_count > UINT32_MAX) {
            code = SR_PROTO_CODE_INVALID;
            snprintf(err, sizeof err, "min_track_count: %llu is too large",
                     (unsigned long long)r->min_track_count);
            goto fail;
        }
        o.min_track_count = (uint32_t)r->min_track_count;
    }
    if (r->only_with_skip >= 0)
        o.only_with_skip = r->only_with_skip == 1;
    if (r->max_reject_rate >= 0) {
        if (!(r->max_reject_rate <= 1.0)) {
            code = SR_PROTO_CODE_INVALID;
            snprintf(err, sizeof err, "max_reject_rate: %g is not in [0, 1]", r->max_reject_rate);
            goto fail;
        }
        o.max_reject_rate = r->max_reject_rate;
    }
    if (r->valid_frac >= 0)
        o.valid_frac = r->valid_frac;
    if (r->test_frac >= 0)
        o.test_frac = r->test_frac;
    if (!(o.valid_frac >= 0 && o.test_frac >= 0 && o.valid_frac + o.test_frac < 1.0)) {
        code = SR_PROTO_CODE_INVALID;
        snprintf(err, sizeof err, "valid_frac %g + test_frac %g: each >= 0, sum below 1",
                 o.valid_frac, o.test_frac);
        goto fail;
    }

    /* One job per dataset name; then the existence check, so two requests
     * cannot both pass it. */
    snprintf(key, sizeof key, "dataset:%s", name);
    if (!srd_ops_claim(ops, key)) {
        code = SR_PROTO_CODE_CONFLICT;
        snprintf(err, sizeof err, "dataset '%s': another job is writing it", name);
        goto fail;
    }
    claimed = true;
    struct stat st;
    if (!r->replace && stat(store, &st) == 0) {
        code = SR_PROTO_CODE_CONFLICT;
        snprintf(err, sizeof err, "dataset '%s' exists (send replace to overwrite it)", name);
        goto fail;
    }
    if (r->replace && ops->jobs && srd_jobs_dataset_busy(ops->jobs, name)) {
        code = SR_PROTO_CODE_CONFLICT;
        snprintf(err, sizeof err, "dataset '%s' is used by a queued or running training job "
                 "(cancel it first)", name);
        goto fail;
    }

    /* Directories expand to their log files: confine those too (a symlink
     * inside the root may point out of it). */
    sr_err e = sr_ingest_expand((const char *const *)inputs, n_inputs, &files, &n_files);
    if (e != SR_OK) {
        code = srd_ops_code_of(e);
        snprintf(err, sizeof err, "%s", sr_errmsg());
        goto fail;
    }
    for (size_t i = 0; i < n_files; i++) {
        char real[PATH_MAX];
        if (!realpath(files[i], real) || !srd_paths_inside(ops->data_root, real)) {
            code = SR_PROTO_CODE_FORBIDDEN;
            snprintf(err, sizeof err, "%s: outside the data root", files[i]);
            goto fail;
        }
    }
    if (n_files == 0) {
        code = SR_PROTO_CODE_INVALID;
        snprintf(err, sizeof err, "no input files (.csv, .csv.gz, .tsv, .tsv.gz) found");
        goto fail;
    }

    srd_info("ingest %s: %zu file(s), format %s, split %s", name, n_files,
             sr_source_format_name(o.format), sr_split_kind_name(o.split));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    srd_progress prog;
    srd_progress_init(&prog, ops);
    o.progress = srd_ops_progress;
    o.progress_ud = &prog;
    sr_store_stats stats;
    memset(&stats, 0, sizeof stats);
    sr_ingest_reasons why;
    e = sr_ingest_run((const char *const *)files, n_files, &o, store, &stats, &why);
    double secs = srd_ops_since(&t0);
    if (e != SR_OK) {
        char what[128];
        snprintf(what, sizeof what, "ingest %s", name);
        srd_ops_reply_sr_err(ops, reply, req->id, e, what);
        goto done;
    }
    srd_info("ingest %s: %llu sessions, %llu interactions, %llu tracks, %llu rejected rows "
             "in %.2f s", name, (unsigned long long)stats.sessions,
             (unsigned long long)stats.interactions, (unsigned long long)stats.tracks,
             (unsigned long long)stats.rejected_rows, secs);

    bool have_rejects = access(rejects, F_OK) == 0;
    msgpack_packer pk = srd_ops_packer(reply);
    sr_proto_reply_ok_begin(&pk, req->id, 6);
    sr_proto_pack_kv_str(&pk, "dataset", name);
    sr_proto_pack_kv_str(&pk, "store", store);
    if (have_rejects) {
        sr_proto_pack_kv_str(&pk, "rejects", rejects);
    } else {
        sr_proto_pack_str(&pk, "rejects");
        msgpack_pack_nil(&pk);
    }
    sr_proto_pack_kv_f64(&pk, "seconds", secs);
    srd_ops_pack_stats(&pk, &stats);
    sr_proto_pack_str(&pk, "reject_reasons");
    msgpack_pack_map(&pk, (uint32_t)why.n);
    for (size_t i = 0; i < why.n; i++)
        sr_proto_pack_kv_u64(&pk, why.reason[i], why.count[i]);
    goto done;

fail:
    srd_ops_reply_error(ops, reply, req->id, code, err);
done:
    if (claimed)
        srd_ops_release(ops, key);
    if (files)
        sr_ingest_paths_free(files, n_files);
    srd_free_paths(inputs, n_inputs);
}

/* ---- stats / datasets ------------------------------------------------------- */

static void srd_ops_stats(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    char err[1200];
    char name[SRD_NAME_MAX];
    char path[PATH_MAX];
    sr_proto_code code = srd_ops_name(req->u.name, name, err, sizeof err);
    if (code != SR_PROTO_CODE_OK) {
        srd_ops_reply_error(ops, reply, req->id, code, err);
        return;
    }
    struct stat st;
    if (!srd_ops_store_path(ops, name, path, sizeof path) || stat(path, &st) != 0) {
        snprintf(err, sizeof err, "dataset '%s' not found", name);
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_NOT_FOUND, err);
        return;
    }
    sr_store *s = NULL;
    sr_err e = sr_store_open(path, &s);
    if (e != SR_OK) {
        char what[128];
        snprintf(what, sizeof what, "dataset %s", name);
        srd_ops_reply_sr_err(ops, reply, req->id, e, what);
        return;
    }
    msgpack_packer pk = srd_ops_packer(reply);
    sr_proto_reply_ok_begin(&pk, req->id, 3);
    sr_proto_pack_kv_str(&pk, "dataset", name);
    sr_proto_pack_str(&pk, "meta");
    msgpack_pack_map(&pk, 4);
    sr_proto_pack_kv_str(&pk, "split", sr_split_kind_name(s->meta.split));
    /* An events log takes its skip signal from its column-mapping config, not
     * from an MSSD rule. */
    sr_proto_pack_kv_str(&pk, "skip_rule", s->meta.source == SR_SOURCE_FORMAT_EVENTS
                                               ? "events-config"
                                               : sr_skip_rule_name(s->meta.skip_rule));
    sr_proto_pack_kv_str(&pk, "source", sr_source_format_name(s->meta.source));
    sr_proto_pack_str(&pk, "created");
    msgpack_pack_int64(&pk, s->meta.created);
    srd_ops_pack_stats(&pk, &s->stats);
    sr_store_close(&s);
}

static int srd_ops_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* datasets drop: delete <name>.store and its rejects file. Refused (409)
 * while an ingest writes the dataset or a queued or running job trains on
 * it. Models trained on it stay, but can no longer be loaded (their track
 * ids live in the store). */
static void srd_ops_datasets_drop(srd_ops *ops, const sr_proto_request *req,
                                  msgpack_sbuffer *reply)
{
    char name[SRD_NAME_MAX], err[PATH_MAX + 128], key[SRD_NAME_MAX + 16];
    char store[PATH_MAX], rejects[PATH_MAX + 32];
    sr_proto_code code = srd_ops_name(req->u.datasets.name, name, err, sizeof err);
    if (code != SR_PROTO_CODE_OK) {
        srd_ops_reply_error(ops, reply, req->id, code, err);
        return;
    }
    snprintf(key, sizeof key, "dataset:%s", name);
    if (!srd_ops_store_path(ops, name, store, sizeof store)) {
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_INVALID, "dataset name too long");
        return;
    }
    if (ops->jobs && srd_jobs_dataset_busy(ops->jobs, name)) {
        snprintf(err, sizeof err, "dataset '%s': a training job uses it; cancel it first", name);
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_CONFLICT, err);
        return;
    }
    if (!srd_ops_claim(ops, key)) {
        snprintf(err, sizeof err, "dataset '%s': another job is writing it", name);
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_CONFLICT, err);
        return;
    }
    snprintf(rejects, sizeof rejects, "%s.rejects.tsv", store);
    if (unlink(store) != 0) {
        code = errno == ENOENT ? SR_PROTO_CODE_NOT_FOUND : SR_PROTO_CODE_INTERNAL;
        snprintf(err, sizeof err, "dataset '%s': %s", name,
                 errno == ENOENT ? "no such dataset" : strerror(errno));
        srd_ops_release(ops, key);
        srd_ops_reply_error(ops, reply, req->id, code, err);
        return;
    }
    unlink(rejects); /* may not exist */
    sr_err fe = sr_fsync_dir_of(store);
    srd_ops_release(ops, key);
    if (fe != SR_OK)
        srd_warn("dataset %s dropped, but %s", name, sr_errmsg());
    srd_info("dropped dataset %s", name);
    msgpack_packer pk = srd_ops_packer(reply);
    sr_proto_reply_ok_begin(&pk, req->id, 1);
    sr_proto_pack_kv_str(&pk, "dropped", name);
}

static void srd_ops_datasets(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    if (req->u.datasets.action == SR_PROTO_DATASETS_DROP) {
        srd_ops_datasets_drop(ops, req, reply);
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(ops->datasets_dir);
    if (!d) {
        char err[PATH_MAX + 64];
        snprintf(err, sizeof err, "%s: %s", ops->datasets_dir, strerror(errno));
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_INTERNAL, err);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < SRD_MAX_LISTED) {
        size_t l = strlen(de->d_name);
        if (l <= 6 || l - 6 >= SRD_NAME_MAX || de->d_name[0] == '.' ||
            strcmp(de->d_name + l - 6, ".store") != 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strndup(de->d_name, l - 6)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, srd_ops_cmp_names);

    msgpack_packer pk = srd_ops_packer(reply);
    sr_proto_reply_ok_begin(&pk, req->id, 1);
    sr_proto_pack_str(&pk, "datasets");
    msgpack_pack_array(&pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        sr_store *s = NULL;
        sr_err e = srd_ops_store_path(ops, names[i], path, sizeof path)
                       ? sr_store_open(path, &s)
                       : sr_errorf(SR_ERR_ARG, "path too long");
        if (e != SR_OK) {
            char msg[1200];
            snprintf(msg, sizeof msg, "%s: %s", sr_err_name(e), sr_errmsg());
            msgpack_pack_map(&pk, 2);
            sr_proto_pack_kv_str(&pk, "name", names[i]);
            sr_proto_pack_kv_str(&pk, "error", msg);
            continue;
        }
        msgpack_pack_map(&pk, 4);
        sr_proto_pack_kv_str(&pk, "name", names[i]);
        sr_proto_pack_kv_u64(&pk, "sessions", s->stats.sessions);
        sr_proto_pack_kv_u64(&pk, "interactions", s->stats.interactions);
        sr_proto_pack_kv_u64(&pk, "tracks", s->stats.tracks);
        sr_store_close(&s);
    }
    srd_free_paths(names, n);
}

/* ---- dispatch --------------------------------------------------------------- */

void srd_ops_count_request(srd_ops *ops)
{
    atomic_fetch_add(&ops->requests, 1);
}

sr_proto_code srd_ops_decode(srd_ops *ops, const void *buf, size_t len, sr_proto_request *req,
                             msgpack_sbuffer *reply)
{
    char err[512] = "";
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(req, 0, sizeof *req);
    sr_proto_code code = sr_proto_request_decode(buf, len, &ops->limits, req, err, sizeof err);
    if (code != SR_PROTO_CODE_OK) {
        srd_log_set_request(req->id);
        srd_ops_reply_error(ops, reply, req->id, code, err[0] ? err : "malformed request");
        srd_log_set_request(0);
        /* counted under the op it named, or "other" */
        if (ops->metrics)
            srd_metrics_record(ops->metrics, (int)req->op, false, srd_ops_ns_since(&t0));
    }
    return code;
}

void srd_ops_execute(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    srd_ops_failed = false;
    srd_log_set_request(req->id);
    srd_debug("op %s", sr_proto_op_name(req->op));
    msgpack_sbuffer_clear(reply);
    switch (req->op) {
    case SR_PROTO_OP_STATUS:
        srd_ops_status(ops, req, reply);
        break;
    case SR_PROTO_OP_SYNTH:
        srd_ops_synth(ops, req, reply);
        break;
    case SR_PROTO_OP_INGEST:
        srd_ops_ingest(ops, req, reply);
        break;
    case SR_PROTO_OP_STATS:
        srd_ops_stats(ops, req, reply);
        break;
    case SR_PROTO_OP_DATASETS:
        srd_ops_datasets(ops, req, reply);
        break;
    case SR_PROTO_OP_TRAIN:
        srd_ops_train(ops, req, reply);
        break;
    case SR_PROTO_OP_JOBS:
        srd_ops_jobs(ops, req, reply);
        break;
    case SR_PROTO_OP_CANCEL:
        srd_ops_cancel(ops, req, reply);
        break;
    case SR_PROTO_OP_EVALUATE:
        srd_ops_evaluate(ops, req, reply);
        break;
    case SR_PROTO_OP_RECOMMEND:
        srd_ops_recommend(ops, req, reply);
        break;
    case SR_PROTO_OP_MODELS:
        srd_ops_models(ops, req, reply);
        break;
    case SR_PROTO_OP_EXPERIMENT:
        srd_ops_experiment(ops, req, reply);
        break;
    case SR_PROTO_OP_SHUTDOWN: {
        msgpack_packer pk = srd_ops_packer(reply);
        sr_proto_reply_ok_begin(&pk, req->id, 1);
        sr_proto_pack_kv_str(&pk, "state", "stopping");
        srd_info("shutdown requested");
        break;
    }
    default:
        srd_ops_reply_error(ops, reply, req->id, SR_PROTO_CODE_UNKNOWN_OP, "unknown op");
        break;
    }
    if (ops->metrics)
        srd_metrics_record(ops->metrics, (int)req->op, !srd_ops_failed, srd_ops_ns_since(&t0));
    srd_log_set_request(0);
}

/* ---- set-up ----------------------------------------------------------------- */

static sr_err srd_ops_mkdir(const char *path)
{
    if (mkdir(path, 0750) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return SR_OK;
        return sr_errorf(SR_ERR_IO, "%s: not a directory", path);
    }
    return sr_errorf(SR_ERR_IO, "mkdir %s: %s", path, strerror(errno));
}

/* Remove regular files left in tmp/ by a previous run (spilled partitions
 * of an ingest that was killed). */
static void srd_ops_clean_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[PATH_MAX + 260];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && unlink(p) == 0)
            srd_debug("removed stale %s", p);
    }
    closedir(d);
}

sr_err srd_ops_init(srd_ops *ops, const srd_config *cfg)
{
    memset(ops, 0, sizeof *ops);
    ops->cfg = cfg;
    ops->lock_fd = -1;
    clock_gettime(CLOCK_MONOTONIC, &ops->started);
    sr_mp_limits_default(&ops->limits);
    atomic_init(&ops->requests, 0);
    atomic_init(&ops->errors, 0);
    atomic_init(&ops->busy_workers, 0);
    atomic_init(&ops->queued_requests, 0);
    atomic_init(&ops->stopping, false);
    atomic_init(&ops->live.max_synth_sessions, cfg->max_synth_sessions);
    atomic_init(&ops->live.max_sessions, cfg->max_sessions);
    atomic_init(&ops->live.max_plays, cfg->max_plays);
    atomic_init(&ops->live.score_batch, cfg->score_batch);
    atomic_init(&ops->live.ckpt_every, cfg->ckpt_every);
    if (pthread_mutex_init(&ops->lock, NULL) != 0)
        return sr_errorf(SR_ERR_INTERNAL, "pthread_mutex_init failed");

    if (!realpath(cfg->data_root, ops->data_root))
        return sr_errorf(SR_ERR_IO, "data root %s: %s", cfg->data_root, strerror(errno));
    struct stat st;
    if (stat(ops->data_root, &st) != 0 || !S_ISDIR(st.st_mode))
        return sr_errorf(SR_ERR_IO, "data root %s: not a directory", cfg->data_root);
    sr_err e = srd_ops_mkdir(cfg->state_dir);
    if (e != SR_OK)
        return e;
    if (!realpath(cfg->state_dir, ops->state_dir))
        return sr_errorf(SR_ERR_IO, "state dir %s: %s", cfg->state_dir, strerror(errno));
    int n1 = snprintf(ops->datasets_dir, sizeof ops->datasets_dir, "%s/datasets", ops->state_dir);
    int n2 = snprintf(ops->tmp_dir, sizeof ops->tmp_dir, "%s/tmp", ops->state_dir);
    if (n1 < 0 || (size_t)n1 >= sizeof ops->datasets_dir || n2 < 0 ||
        (size_t)n2 >= sizeof ops->tmp_dir)
        return sr_errorf(SR_ERR_ARG, "state dir %s: path too long", ops->state_dir);
    char jobs_dir[PATH_MAX + 8], models_dir[PATH_MAX + 8];
    snprintf(jobs_dir, sizeof jobs_dir, "%s/jobs", ops->state_dir);
    snprintf(models_dir, sizeof models_dir, "%s/models", ops->state_dir);
    if ((e = srd_ops_mkdir(ops->datasets_dir)) != SR_OK ||
        (e = srd_ops_mkdir(ops->tmp_dir)) != SR_OK || (e = srd_ops_mkdir(jobs_dir)) != SR_OK ||
        (e = srd_ops_mkdir(models_dir)) != SR_OK)
        return e;
    /* one daemon per state directory: two would run the same jobs at once */
    char lock_path[PATH_MAX + 8];
    snprintf(lock_path, sizeof lock_path, "%s/lock", ops->state_dir);
    ops->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (ops->lock_fd < 0)
        return sr_errorf(SR_ERR_IO, "open %s: %s", lock_path, strerror(errno));
    if (flock(ops->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return sr_errorf(SR_ERR_EXISTS, "state dir %s is in use by another seqrecd (%s)",
                         ops->state_dir, strerror(errno));
    srd_ops_clean_tmp(ops->tmp_dir);
    e = srd_metrics_new(&ops->metrics);
    if (e != SR_OK)
        return e;
    return srd_models_new(ops, &ops->models);
}

sr_err srd_ops_start_jobs(srd_ops *ops)
{
    return srd_jobs_new(ops, &ops->jobs);
}

void srd_ops_destroy(srd_ops *ops)
{
    if (!ops)
        return;
    atomic_store(&ops->stopping, true);
    srd_jobs_free(&ops->jobs);
    srd_models_free(&ops->models);
    srd_metrics_free(&ops->metrics);
    if (ops->lock_fd >= 0)
        close(ops->lock_fd); /* releases the flock */
    ops->lock_fd = -1;
    for (int i = 0; i < SRD_OPS_MAX_BUSY; i++) {
        free(ops->busy[i]);
        ops->busy[i] = NULL;
    }
    pthread_mutex_destroy(&ops->lock);
}

/* ---- reload (SIGHUP) ------------------------------------------------------- */

typedef struct srd_ops_reload_ctx {
    const char *path;
    bool curve_live; /* CURVE on before and after: curve_clients can change */
} srd_ops_reload_ctx;

/* Log one changed key: applied (the srd_live settings, log_level, and
 * curve_clients while CURVE stays on) or waiting for a restart. */
static void srd_ops_reload_key(void *ud, const char *key, const char *before, const char *after)
{
    const srd_ops_reload_ctx *x = ud;
    static const char *const live[] = { "max_synth_sessions", "max_sessions", "max_plays",
                                        "score_batch", "ckpt_every", "log_level" };
    bool applied = x->curve_live && strcmp(key, "curve_clients") == 0;
    for (size_t i = 0; i < SR_COUNTOF(live) && !applied; i++)
        applied = strcmp(key, live[i]) == 0;
    const char *b = before[0] ? before : "\"\"", *a = after[0] ? after : "\"\"";
    if (applied)
        srd_info("reloaded %s: %s %s -> %s", x->path, key, b, a);
    else
        srd_warn("reloaded %s: %s %s -> %s needs a restart; still %s", x->path, key, b, a, b);
}

sr_err srd_ops_reload(srd_ops *ops, const char *config_path)
{
    sr_err e = SR_OK;
    srd_auth_clients *clients = NULL;
    srd_ops_reload_ctx x = { config_path ? config_path : "(no config file)", false };
    srd_config *run = malloc(sizeof *run), *fresh = malloc(sizeof *fresh);
    if (!run || !fresh) {
        e = sr_errorf(SR_ERR_NOMEM, "reload: out of memory");
        goto done;
    }
    /* Everything is read and checked before anything is applied: a bad file
     * (or a bad curve_clients file) leaves every running setting alone. */
    if ((e = srd_config_reload(fresh, config_path)) != SR_OK)
        goto done;
    x.curve_live = srd_auth_enabled() && fresh->curve_secret_key[0] != '\0';
    if (x.curve_live && (e = srd_auth_clients_read(fresh->curve_clients, &clients)) != SR_OK)
        goto done;

    /* What runs now: the start-up settings, with what reloads changed. */
    *run = *ops->cfg;
    run->max_synth_sessions = atomic_load(&ops->live.max_synth_sessions);
    run->max_sessions = atomic_load(&ops->live.max_sessions);
    run->max_plays = atomic_load(&ops->live.max_plays);
    run->score_batch = atomic_load(&ops->live.score_batch);
    run->ckpt_every = atomic_load(&ops->live.ckpt_every);
    run->log_level = srd_log_get_level();
    if (srd_auth_enabled())
        srd_auth_clients_path(run->curve_clients, sizeof run->curve_clients);

    atomic_store(&ops->live.max_synth_sessions, fresh->max_synth_sessions);
    atomic_store(&ops->live.max_sessions, fresh->max_sessions);
    atomic_store(&ops->live.max_plays, fresh->max_plays);
    atomic_store(&ops->live.score_batch, fresh->score_batch);
    atomic_store(&ops->live.ckpt_every, fresh->ckpt_every);
    /* The more verbose of the two levels while the changes are logged, so
     * that "log_level info -> warn" is itself still seen. */
    bool quieter = fresh->log_level > run->log_level;
    if (!quieter)
        srd_log_set_level(fresh->log_level);
    size_t changed = srd_config_diff(run, fresh, srd_ops_reload_key, &x);
    if (clients) {
        size_t added = 0, removed = 0;
        srd_auth_clients_install(&clients, &added, &removed);
        if (added || removed) {
            char now[PATH_MAX];
            srd_auth_clients_path(now, sizeof now);
            srd_info("reloaded %s: curve_clients %s: %zu added, %zu removed", x.path, now, added,
                     removed);
            changed++;
        }
    }
    if (changed == 0)
        srd_info("reloaded %s: no changes", x.path);
    if (quieter)
        srd_log_set_level(fresh->log_level);
done:
    srd_auth_clients_free(&clients);
    free(run);
    free(fresh);
    return e;
}
