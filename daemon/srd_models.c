/* srd_models.c - model files: list, load (cached), recommend, evaluate
 * (srd_models.h). */
#define _XOPEN_SOURCE 700
#include "srd_models.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sr_baseline.h"
#include "sr_ckpt.h"
#include "sr_dnnl.h"
#include "sr_proto.h"
#include "sr_store.h"
#include "sr_train.h"
#include "sr_vocab.h"
#include "srd_log.h"
#include "srd_ops.h"
#include "srd_scorer.h"

#define SRD_MODELS_SCORE_BATCH 128 /* queries per scoring call of a neural model */
#define SRD_MODELS_MAX_LISTED 10000

struct srd_model {
    atomic_int refs;
    char name[SR_PROTO_MAX_NAME_LEN + 1];
    char kind[16];
    char dataset[SR_PROTO_MAX_NAME_LEN + 1];
    char path[PATH_MAX + 80];   /* the model file */
    dev_t dev;                  /* identity of the model file when loaded */
    ino_t ino;
    struct timespec mtime;
    char store_path[PATH_MAX + 80];
    dev_t store_dev;            /* ... and of its dataset's store */
    ino_t store_ino;
    struct timespec store_mtime;
    /* neural */
    sr_model *nn;
    sr_dnnl_ctx *ctx;
    srd_scorer *scorer;         /* owns the use of nn's arena */
    /* baseline */
    sr_baseline *base;
    /* the dataset it was trained on: ids and popularity */
    sr_store *store;
    sr_vocab *vocab;
};

struct srd_models {
    srd_ops *ops;
    char dir[PATH_MAX];
    pthread_mutex_t lock;
    srd_model **cache;
    size_t n, cap;
    char default_name[SR_PROTO_MAX_NAME_LEN + 1]; /* "" = none; file <dir>/default */
};

static void srd_model_free(srd_model *m)
{
    if (!m)
        return;
    srd_scorer_free(&m->scorer);
    sr_model_free(&m->nn);
    sr_dnnl_ctx_free(&m->ctx);
    sr_baseline_free(&m->base);
    sr_vocab_free(&m->vocab);
    sr_store_close(&m->store);
    free(m);
}

void srd_model_release(srd_model **mp)
{
    srd_model *m = mp ? *mp : NULL;
    if (!m)
        return;
    if (atomic_fetch_sub(&m->refs, 1) == 1)
        srd_model_free(m);
    *mp = NULL;
}

sr_err srd_models_new(srd_ops *ops, srd_models **out)
{
    srd_models *ms = calloc(1, sizeof *ms);
    if (!ms)
        return sr_errorf(SR_ERR_NOMEM, "models");
    ms->ops = ops;
    pthread_mutex_init(&ms->lock, NULL);
    int n = snprintf(ms->dir, sizeof ms->dir, "%s/models", ops->state_dir);
    if (n < 0 || (size_t)n >= sizeof ms->dir) {
        srd_models_free(&ms);
        return sr_errorf(SR_ERR_ARG, "state dir %s: path too long", ops->state_dir);
    }
    *out = ms;
    return SR_OK;
}

void srd_models_free(srd_models **msp)
{
    srd_models *ms = msp ? *msp : NULL;
    if (!ms)
        return;
    for (size_t i = 0; i < ms->n; i++)
        srd_model_release(&ms->cache[i]);
    free(ms->cache);
    pthread_mutex_destroy(&ms->lock);
    free(ms);
    *msp = NULL;
}

bool srd_models_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > SR_PROTO_MAX_NAME_LEN || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void srd_models_path(const srd_models *ms, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.model", ms->dir, name);
}

bool srd_models_exists(srd_models *ms, const char *name)
{
    char path[PATH_MAX + 80];
    srd_models_path(ms, name, path, sizeof path);
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* ---- loading ---------------------------------------------------------------- */

/* Open the model's dataset and check it is the one the model was trained on. */
static sr_err srd_model_open_dataset(srd_models *ms, srd_model *m, sr_str meta)
{
    char created[32] = "", tracks[32] = "";
    if (!sr_kv_copy(meta, "dataset", m->dataset, sizeof m->dataset) ||
        !sr_kv_copy(meta, "dataset_created", created, sizeof created) ||
        !sr_kv_copy(meta, "dataset_tracks", tracks, sizeof tracks))
        return sr_errorf(SR_ERR_FORMAT, "model %s: meta names no dataset", m->name);
    char *path = m->store_path;
    snprintf(m->store_path, sizeof m->store_path, "%s/%s.store", ms->ops->datasets_dir,
             m->dataset);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        m->store_dev = sb.st_dev;
        m->store_ino = sb.st_ino;
        m->store_mtime = sb.st_mtim;
    }
    sr_err e = sr_store_open(path, &m->store);
    if (e == SR_ERR_NOTFOUND)
        return sr_errorf(SR_ERR_NOTFOUND, "model %s: its dataset %s no longer exists", m->name,
                         m->dataset);
    if (e != SR_OK)
        return e;
    if (strtoll(created, NULL, 10) != m->store->meta.created ||
        strtoull(tracks, NULL, 10) != m->store->n_tracks)
        return sr_errorf(SR_ERR_ARG,
                         "model %s: dataset %s was replaced after the model was trained "
                         "(its track ids may differ); train the model again", m->name,
                         m->dataset);
    e = sr_vocab_new(&m->vocab);
    for (uint32_t i = 0; e == SR_OK && i < m->store->n_tracks; i++) {
        int32_t idx = -1;
        e = sr_vocab_intern(m->vocab, sr_store_track_id(m->store, (int32_t)i), &idx);
        if (e == SR_OK && idx != (int32_t)i)
            e = sr_errorf(SR_ERR_CORRUPT, "dataset %s: duplicate track id at %u", m->dataset, i);
    }
    return e;
}

static sr_err srd_model_load(srd_models *ms, const char *name, const struct stat *sb,
                             srd_model **out)
{
    srd_model *m = calloc(1, sizeof *m);
    if (!m)
        return sr_errorf(SR_ERR_NOMEM, "model %s", name);
    char *path = m->path;
    srd_models_path(ms, name, m->path, sizeof m->path);
    atomic_init(&m->refs, 1);
    snprintf(m->name, sizeof m->name, "%s", name);
    m->dev = sb->st_dev;
    m->ino = sb->st_ino;
    m->mtime = sb->st_mtim;
    sr_ckpt *ck = NULL;
    sr_str meta, format;
    sr_err e = sr_ckpt_open(path, &ck);
    if (e == SR_OK)
        e = sr_ckpt_get_text(ck, "meta", &meta);
    if (e == SR_OK && (!sr_kv_find(meta, "format", &format) ||
                       !sr_kv_copy(meta, "kind", m->kind, sizeof m->kind)))
        e = sr_errorf(SR_ERR_FORMAT, "%s: not a model file", path);
    if (e == SR_OK)
        e = srd_model_open_dataset(ms, m, meta);
    if (e == SR_OK) {
        if (format.len == 5 && memcmp(format.ptr, "model", 5) == 0) {
            const srd_config *cfg = ms->ops->cfg;
            int lanes = cfg->score_lanes > 0 ? (int)cfg->score_lanes : omp_get_num_procs();
            if (lanes > 64)
                lanes = 64;
            e = sr_train_load_model(path, SRD_MODELS_SCORE_BATCH, &m->nn, NULL, NULL);
            if (e == SR_OK)
                e = sr_dnnl_ctx_new(16, &m->ctx);
            if (e == SR_OK)
                /* the cap is the model's batch; each call passes the live
                 * score_batch, which a reload may raise or lower */
                e = srd_scorer_new(m->nn, m->ctx, lanes, (int)cfg->score_threads,
                                   SRD_MODELS_SCORE_BATCH,
                                   strcmp(cfg->score_precision, "f32") == 0 ? SRD_SCORER_F32
                                                                             : SRD_SCORER_BF16,
                                   &m->scorer);
        } else {
            e = sr_baseline_load(ck, &m->base);
        }
    }
    if (e == SR_OK) {
        int32_t I = m->nn ? sr_model_config_of(m->nn)->I : sr_baseline_items(m->base);
        if ((uint32_t)I != m->store->n_tracks)
            e = sr_errorf(SR_ERR_FORMAT, "model %s scores %d tracks, its dataset has %u", name,
                          (int)I, m->store->n_tracks);
    }
    sr_ckpt_close(&ck);
    if (e != SR_OK) {
        srd_model_free(m);
        return e;
    }
    srd_info("loaded model %s (%s, dataset %s, %u tracks)", name, m->kind, m->dataset,
             m->store->n_tracks);
    *out = m;
    return SR_OK;
}

static bool srd_same_file(const struct stat *sb, dev_t dev, ino_t ino, struct timespec mtime)
{
    return sb->st_dev == dev && sb->st_ino == ino && sb->st_mtim.tv_sec == mtime.tv_sec &&
           sb->st_mtim.tv_nsec == mtime.tv_nsec;
}

/* Whether a loaded model still matches its files: the model file (sb) and
 * the dataset's store (a re-ingest with --replace changes its track ids). */
static bool srd_model_current(const srd_model *m, const struct stat *sb)
{
    struct stat ss;
    return srd_same_file(sb, m->dev, m->ino, m->mtime) && stat(m->store_path, &ss) == 0 &&
           srd_same_file(&ss, m->store_dev, m->store_ino, m->store_mtime);
}

/* The cached, current model of that name (referenced), or NULL; stale
 * entries of the name are dropped. */
static srd_model *srd_models_cached(srd_models *ms, const char *name, const struct stat *sb)
{
    srd_model *found = NULL;
    pthread_mutex_lock(&ms->lock);
    for (size_t i = 0; i < ms->n;) {
        srd_model *m = ms->cache[i];
        if (strcmp(m->name, name) != 0) {
            i++;
        } else if (!found && srd_model_current(m, sb)) {
            atomic_fetch_add(&m->refs, 1);
            found = m;
            i++;
        } else {
            /* replaced on disk (a better model was published, or the dataset
             * re-ingested): users holding it finish with the old one */
            srd_model_release(&ms->cache[i]);
            ms->cache[i] = ms->cache[--ms->n];
        }
    }
    pthread_mutex_unlock(&ms->lock);
    return found;
}

sr_err srd_models_get(srd_models *ms, const char *name, srd_model **out)
{
    if (!srd_models_name_ok(name))
        return sr_errorf(SR_ERR_ARG, "bad model name \"%s\"", name);
    char path[PATH_MAX + 80];
    srd_models_path(ms, name, path, sizeof path);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sr_errorf(SR_ERR_NOTFOUND, "no model %s", name);
    srd_model *m = srd_models_cached(ms, name, &sb);
    if (m) {
        *out = m;
        return SR_OK;
    }
    /* load outside the lock: it can take a while */
    sr_err e = srd_model_load(ms, name, &sb, &m);
    if (e != SR_OK)
        return e;
    pthread_mutex_lock(&ms->lock);
    /* the file may have been dropped or replaced while we loaded it: then
     * serve this request with what was loaded, but do not cache it */
    struct stat now;
    if (stat(path, &now) != 0 || !srd_same_file(&now, sb.st_dev, sb.st_ino, sb.st_mtim)) {
        pthread_mutex_unlock(&ms->lock);
        *out = m;
        return SR_OK;
    }
    /* another request may have loaded the same file meanwhile: keep one */
    for (size_t i = 0; i < ms->n; i++) {
        if (strcmp(ms->cache[i]->name, name) == 0 && srd_model_current(ms->cache[i], &sb)) {
            atomic_fetch_add(&ms->cache[i]->refs, 1);
            *out = ms->cache[i];
            pthread_mutex_unlock(&ms->lock);
            srd_model_release(&m);
            return SR_OK;
        }
    }
    if (ms->n == ms->cap) {
        size_t cap = ms->cap ? 2 * ms->cap : 8;
        srd_model **c = realloc(ms->cache, cap * sizeof *c);
        if (c) {
            ms->cache = c;
            ms->cap = cap;
        }
    }
    if (ms->n < ms->cap) {
        atomic_fetch_add(&m->refs, 1);
        ms->cache[ms->n++] = m;
    }
    pthread_mutex_unlock(&ms->lock);
    *out = m;
    return SR_OK;
}

const char *srd_model_dataset(const srd_model *m)
{
    return m->dataset;
}

const char *srd_model_kind(const srd_model *m)
{
    return m->kind;
}

sr_str srd_model_track_id(const srd_model *m, int32_t track)
{
    return sr_store_track_id(m->store, track);
}

/* ---- recommending ------------------------------------------------------------- */

void srd_rec_result_free(srd_rec_result *r)
{
    free(r->items);
    free(r->scores);
    r->items = NULL;
    r->scores = NULL;
    r->n_items = 0;
}

uint32_t srd_model_tracks(const srd_model *m)
{
    return m->store->n_tracks;
}

/* One session's working set: its known plays (dense) and exclusions. */
typedef struct srd_rec_work {
    int32_t *known;   /* [n] */
    uint8_t *ksk;     /* [n] */
    int n_known;
    int32_t *excl;    /* [n] */
    int n_excl;
} srd_rec_work;

/* Map a session's ids to dense indices; unknown ones are counted in out. */
static void srd_rec_map(const srd_model *m, const srd_rec_request *rq, srd_rec_work *w,
                        srd_rec_result *out)
{
    w->n_known = w->n_excl = 0;
    for (uint32_t i = 0; i < rq->n; i++) {
        int32_t idx = sr_vocab_find(m->vocab, rq->tracks[i]);
        if (idx < 0) {
            if (out->n_unknown < SRD_MODELS_MAX_WARNINGS)
                out->unknown[out->n_unknown] = i;
            out->n_unknown++;
            continue;
        }
        bool sk = rq->skipped && rq->skipped[i];
        w->known[w->n_known] = idx;
        w->ksk[w->n_known] = sk;
        w->n_known++;
        if (rq->exclude == SR_EVAL_EXCLUDE_PLAYED || (rq->exclude == SR_EVAL_EXCLUDE_SKIPPED && sk))
            w->excl[w->n_excl++] = idx;
    }
}

/* Top k of scores[I] without the session's exclusions (baselines, fallback). */
static void srd_rec_rank(const float *scores, int32_t I, uint8_t *mask, const srd_rec_work *w,
                         int k, srd_rec_result *out)
{
    for (int j = 0; j < w->n_excl; j++)
        mask[w->excl[j]] = 1;
    out->n_items = sr_topk(scores, I, mask, k, out->items, out->scores);
    for (int j = 0; j < w->n_excl; j++)
        mask[w->excl[j]] = 0;
}

sr_err srd_model_recommend(srd_model *m, const srd_rec_request *rq, int n, int batch,
                           srd_rec_result *out)
{
    const int32_t I = (int32_t)m->store->n_tracks;
    memset(out, 0, sizeof *out * (size_t)n);
    size_t plays = 0;
    for (int s = 0; s < n; s++)
        plays += rq[s].n;
    srd_rec_work *w = calloc((size_t)n, sizeof *w);
    int32_t *ibuf = malloc(sizeof(int32_t) * 2 * (plays ? plays : 1));
    uint8_t *bbuf = malloc(plays ? plays : 1);
    srd_score_item *items = calloc((size_t)n, sizeof *items);
    float *scores = NULL;  /* [I]: baselines and the popularity fallback */
    uint8_t *mask = NULL;  /* [I] */
    sr_err e = SR_OK;
    if (!w || !ibuf || !bbuf || !items) {
        e = sr_errorf(SR_ERR_NOMEM, "recommend: %d sessions", n);
        goto done;
    }
    size_t off = 0;
    int n_items = 0, n_other = 0;
    for (int s = 0; s < n; s++) {
        out[s].items = malloc(sizeof(int32_t) * (size_t)rq[s].k);
        out[s].scores = malloc(sizeof(float) * (size_t)rq[s].k);
        if (!out[s].items || !out[s].scores) {
            e = sr_errorf(SR_ERR_NOMEM, "recommend: %d sessions", n);
            goto done;
        }
        w[s].known = ibuf + off;
        w[s].excl = ibuf + plays + off;
        w[s].ksk = bbuf + off;
        off += rq[s].n;
        srd_rec_map(m, &rq[s], &w[s], &out[s]);
        out[s].fallback = w[s].n_known == 0;
        if (m->nn && !out[s].fallback) {
            items[n_items++] = (srd_score_item){ w[s].known, w[s].ksk, w[s].n_known, w[s].excl,
                                                 w[s].n_excl, rq[s].k, out[s].items,
                                                 out[s].scores, 0 };
        } else {
            n_other++;
        }
    }
    if (n_other > 0) {
        scores = malloc(sizeof(float) * (size_t)I);
        mask = calloc((size_t)I, 1);
        if (!scores || !mask) {
            e = sr_errorf(SR_ERR_NOMEM, "recommend: %d tracks", (int)I);
            goto done;
        }
    }
    for (int s = 0; s < n && n_other > 0; s++) {
        if (out[s].fallback) {
            for (int32_t i = 0; i < I; i++)
                scores[i] = (float)m->store->track_plays[i];
        } else if (!m->nn) {
            sr_baseline_score(m->base, w[s].known, w[s].n_known, scores);
        } else {
            continue;
        }
        srd_rec_rank(scores, I, mask, &w[s], rq[s].k, &out[s]);
    }
    if (n_items > 0) {
        e = srd_scorer_run(m->scorer, items, n_items, batch);
        for (int s = 0, j = 0; e == SR_OK && s < n; s++)
            if (!out[s].fallback)
                out[s].n_items = items[j++].n_items;
    }
done:
    free(w);
    free(ibuf);
    free(bbuf);
    free(items);
    free(scores);
    free(mask);
    return e;
}

/* ---- evaluating ------------------------------------------------------------------ */

static bool srd_same_vocabulary(const sr_store *a, const sr_store *b)
{
    if (a->n_tracks != b->n_tracks)
        return false;
    size_t bytes = a->track_id_offsets[a->n_tracks];
    return bytes == b->track_id_offsets[b->n_tracks] &&
           memcmp(a->track_id_offsets, b->track_id_offsets,
                  sizeof(uint64_t) * (a->n_tracks + 1)) == 0 &&
           memcmp(a->track_id_bytes, b->track_id_bytes, bytes) == 0;
}

sr_err srd_model_evaluate(srd_models *ms, srd_model *m, const char *dataset,
                          const sr_eval_config *c, sr_progress_fn progress, void *ud,
                          sr_eval_result *out)
{
    sr_store *other = NULL;
    const sr_store *st = m->store;
    sr_err e = SR_OK;
    if (dataset && strcmp(dataset, m->dataset) != 0) {
        char path[PATH_MAX + 80];
        snprintf(path, sizeof path, "%s/%s.store", ms->ops->datasets_dir, dataset);
        e = sr_store_open(path, &other);
        if (e == SR_ERR_NOTFOUND)
            return sr_errorf(SR_ERR_NOTFOUND, "no dataset %s", dataset);
        if (e != SR_OK)
            return e;
        if (!srd_same_vocabulary(m->store, other)) {
            sr_store_close(&other);
            return sr_errorf(SR_ERR_ARG, "dataset %s has another track vocabulary than %s, "
                             "which model %s was trained on", dataset, m->dataset, m->name);
        }
        st = other;
    }
    sr_eval_config ec = *c;
    if (m->nn) {
        /* a private copy from the file: a long evaluation must not hold the
         * shared model's lock, which every recommend on it waits for */
        if (ec.batch > SRD_MODELS_SCORE_BATCH)
            ec.batch = SRD_MODELS_SCORE_BATCH;
        sr_model *own = NULL;
        sr_dnnl_ctx *ctx = NULL;
        sr_model_scorer *sc = NULL;
        e = sr_train_load_model(m->path, ec.batch, &own, NULL, NULL);
        if (e == SR_OK && sr_model_config_of(own)->I != sr_model_config_of(m->nn)->I)
            e = sr_errorf(SR_ERR_ARG, "model %s changed while it was evaluated; retry", m->name);
        if (e == SR_OK)
            e = sr_dnnl_ctx_new(16, &ctx);
        if (e == SR_OK)
            e = sr_model_scorer_new(own, ctx, ec.batch, &sc);
        if (e == SR_OK)
            e = sr_eval_run(st, sr_model_scorer_get(sc), &ec, progress, ud, out);
        sr_model_scorer_free(&sc);
        sr_dnnl_ctx_free(&ctx);
        sr_model_free(&own);
    } else {
        sr_baseline_scorer *sc = NULL;
        e = sr_baseline_scorer_new(m->base, ec.batch, &sc);
        if (e == SR_OK)
            e = sr_eval_run(st, sr_baseline_scorer_get(sc), &ec, progress, ud, out);
        sr_baseline_scorer_free(&sc);
    }
    sr_store_close(&other);
    return e;
}

/* ---- listing ------------------------------------------------------------------------ */

static int srd_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void srd_pack_kv_sstr(msgpack_packer *pk, const char *key, sr_str v)
{
    sr_proto_pack_str(pk, key);
    msgpack_pack_str(pk, v.len);
    msgpack_pack_str_body(pk, v.ptr, v.len);
}

/* One model object; a file that cannot be read is listed with an error. */
static void srd_models_pack_one(srd_models *ms, const char *name, msgpack_packer *pk)
{
    char path[PATH_MAX + 80];
    srd_models_path(ms, name, path, sizeof path);
    sr_ckpt *ck = NULL;
    sr_str meta = { "", 0 }, config = { "", 0 }, v;
    struct stat sb;
    sr_err e = sr_ckpt_open(path, &ck);
    if (e == SR_OK)
        e = sr_ckpt_get_text(ck, "meta", &meta);
    if (e == SR_OK)
        e = sr_ckpt_get_text(ck, "config", &config);
    if (e != SR_OK) {
        msgpack_pack_map(pk, 2);
        sr_proto_pack_kv_str(pk, "name", name);
        sr_proto_pack_kv_str(pk, "error", sr_errmsg());
        sr_ckpt_close(&ck);
        return;
    }
    /* text members as they are; numbers as numbers */
    static const char *const texts[] = { "kind", "dataset", "metric" };
    static const char *const reals[] = { "best_metric" };
    static const char *const counts[] = { "best_step", "job" };
    uint32_t n = 3;
    for (size_t i = 0; i < SR_COUNTOF(texts); i++)
        n += sr_kv_find(meta, texts[i], &v);
    for (size_t i = 0; i < SR_COUNTOF(reals); i++)
        n += sr_kv_find(meta, reals[i], &v);
    for (size_t i = 0; i < SR_COUNTOF(counts); i++)
        n += sr_kv_find(meta, counts[i], &v);
    msgpack_pack_map(pk, n);
    sr_proto_pack_kv_str(pk, "name", name);
    sr_proto_pack_kv_u64(pk, "created",
                         stat(path, &sb) == 0 ? (uint64_t)sb.st_mtim.tv_sec : (uint64_t)0);
    for (size_t i = 0; i < SR_COUNTOF(texts); i++)
        if (sr_kv_find(meta, texts[i], &v))
            srd_pack_kv_sstr(pk, texts[i], v);
    for (size_t i = 0; i < SR_COUNTOF(reals); i++) {
        if (!sr_kv_find(meta, reals[i], &v))
            continue;
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)(v.len < 63 ? v.len : 63), v.ptr);
        double d = strtod(buf, NULL);
        sr_proto_pack_str(pk, reals[i]);
        if (isfinite(d))
            msgpack_pack_double(pk, d);
        else
            msgpack_pack_nil(pk);
    }
    for (size_t i = 0; i < SR_COUNTOF(counts); i++) {
        if (!sr_kv_find(meta, counts[i], &v))
            continue;
        char buf[32];
        snprintf(buf, sizeof buf, "%.*s", (int)(v.len < 31 ? v.len : 31), v.ptr);
        sr_proto_pack_kv_u64(pk, counts[i], strtoull(buf, NULL, 10));
    }
    srd_pack_kv_sstr(pk, "config", config);
    sr_ckpt_close(&ck);
}

sr_err srd_models_pack(srd_models *ms, const char *name, msgpack_packer *pk)
{
    if (name) {
        if (!srd_models_name_ok(name) || !srd_models_exists(ms, name))
            return sr_errorf(SR_ERR_NOTFOUND, "no model %s", name);
        sr_proto_pack_str(pk, "models");
        msgpack_pack_array(pk, 1);
        srd_models_pack_one(ms, name, pk);
        return SR_OK;
    }
    DIR *d = opendir(ms->dir);
    if (!d)
        return sr_errorf(SR_ERR_IO, "open %s: %s", ms->dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    sr_err e = SR_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < SRD_MODELS_MAX_LISTED) {
        size_t l = strlen(de->d_name);
        if (l <= 6 || strcmp(de->d_name + l - 6, ".model") != 0 || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) {
                e = sr_errorf(SR_ERR_NOMEM, "model list");
                break;
            }
            names = p;
        }
        names[n] = strndup(de->d_name, l - 6);
        if (!names[n]) {
            e = sr_errorf(SR_ERR_NOMEM, "model list");
            break;
        }
        n++;
    }
    closedir(d);
    if (e == SR_OK) {
        qsort(names, n, sizeof *names, srd_cmp_str);
        sr_proto_pack_str(pk, "models");
        msgpack_pack_array(pk, (uint32_t)n);
        for (size_t i = 0; i < n; i++)
            srd_models_pack_one(ms, names[i], pk);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return e;
}

/* ---- default, save, drop ------------------------------------------------------------ */

static void srd_models_default_path(const srd_models *ms, char *out, size_t cap)
{
    snprintf(out, cap, "%s/default", ms->dir);
}

/* Read <dir>/default into ms->default_name (a missing or bad file = none). */
static void srd_models_read_default(srd_models *ms)
{
    char path[PATH_MAX + 16], buf[SR_PROTO_MAX_NAME_LEN + 2];
    srd_models_default_path(ms, path, sizeof path);
    ms->default_name[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = '\0';
        if (srd_models_name_ok(buf)) /* so at most SR_PROTO_MAX_NAME_LEN bytes */
            memcpy(ms->default_name, buf, strlen(buf) + 1);
        else
            srd_warn("%s: \"%s\" is not a model name; no default model", path, buf);
    }
    fclose(f);
}

void srd_models_default(srd_models *ms, char *out, size_t cap)
{
    pthread_mutex_lock(&ms->lock);
    if (ms->default_name[0] == '\0')
        srd_models_read_default(ms);
    snprintf(out, cap, "%s", ms->default_name);
    pthread_mutex_unlock(&ms->lock);
    if (out[0] != '\0' && !srd_models_exists(ms, out))
        out[0] = '\0';
}

/* Write (or with name "" remove) the default file; under ms->lock. */
static sr_err srd_models_write_default(srd_models *ms, const char *name)
{
    char path[PATH_MAX + 16], line[SR_PROTO_MAX_NAME_LEN + 2];
    srd_models_default_path(ms, path, sizeof path);
    if (name[0] == '\0') {
        if (unlink(path) != 0 && errno != ENOENT)
            return sr_errorf(SR_ERR_IO, "remove %s: %s", path, strerror(errno));
        ms->default_name[0] = '\0';
        return SR_OK;
    }
    size_t len = strlen(name);
    if (len > SR_PROTO_MAX_NAME_LEN)
        return sr_errorf(SR_ERR_ARG, "model name of %zu bytes", len);
    memcpy(line, name, len);
    line[len] = '\n';
    sr_err e = sr_write_file_atomic(path, line, len + 1);
    if (e == SR_OK)
        memcpy(ms->default_name, name, len + 1);
    return e;
}

void srd_models_preload(srd_models *ms)
{
    char name[SR_PROTO_MAX_NAME_LEN + 1];
    srd_models_default(ms, name, sizeof name);
    if (name[0] == '\0')
        return;
    srd_model *m = NULL;
    if (srd_models_get(ms, name, &m) != SR_OK)
        srd_error("default model %s: %s", name, sr_errmsg());
    srd_model_release(&m); /* the cache keeps it */
}

sr_err srd_models_set_default(srd_models *ms, const char *name)
{
    if (!srd_models_name_ok(name))
        return sr_errorf(SR_ERR_ARG, "bad model name \"%s\"", name);
    /* checked under the lock that drop holds while it unlinks */
    pthread_mutex_lock(&ms->lock);
    sr_err e = srd_models_exists(ms, name) ? srd_models_write_default(ms, name)
                                           : sr_errorf(SR_ERR_NOTFOUND, "no model %s", name);
    pthread_mutex_unlock(&ms->lock);
    if (e == SR_OK)
        srd_info("default model: %s", name);
    return e;
}

/* Copy src to dst through a unique temporary file in dst's directory +
 * fsync, then rename it over dst (replace) or link it to dst, which fails
 * with SR_ERR_EXISTS when dst appeared meanwhile (no replace). */
static sr_err srd_models_copy_file(const char *src, const char *dst, bool replace)
{
    char tmp[PATH_MAX + 96];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", dst); /* not "*.model": never listed */
    sr_err e = SR_OK;
    char *buf = malloc(1 << 20);
    FILE *in = buf ? fopen(src, "rb") : NULL;
    int fd = in ? mkstemp(tmp) : -1;
    /* mkstemp makes 0600; model files are 0644 like the ones jobs write */
    if (fd >= 0 && fchmod(fd, 0644) != 0)
        srd_warn("chmod %s: %s", tmp, strerror(errno));
    FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!buf || !in || !out) {
        e = !buf ? sr_errorf(SR_ERR_NOMEM, "copy %s", src)
                 : sr_errorf(SR_ERR_IO, "%s: %s", !in ? src : tmp, strerror(errno));
        if (fd >= 0 && !out)
            close(fd);
        goto done;
    }
    size_t n;
    while ((n = fread(buf, 1, 1 << 20, in)) > 0) {
        if (fwrite(buf, 1, n, out) != n) {
            e = sr_errorf(SR_ERR_IO, "write %s: %s", tmp, strerror(errno));
            goto done;
        }
    }
    if (ferror(in)) {
        e = sr_errorf(SR_ERR_IO, "read %s: %s", src, strerror(errno));
        goto done;
    }
    if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
        e = sr_errorf(SR_ERR_IO, "write %s: %s", tmp, strerror(errno));
        goto done;
    }
done:
    if (out && fclose(out) != 0 && e == SR_OK)
        e = sr_errorf(SR_ERR_IO, "close %s: %s", tmp, strerror(errno));
    if (in)
        fclose(in);
    free(buf);
    if (e == SR_OK) {
        if (replace) {
            if (rename(tmp, dst) != 0)
                e = sr_errorf(SR_ERR_IO, "rename %s: %s", tmp, strerror(errno));
        } else if (link(tmp, dst) != 0) {
            e = errno == EEXIST ? sr_errorf(SR_ERR_EXISTS, "%s exists", dst)
                                : sr_errorf(SR_ERR_IO, "link %s: %s", dst, strerror(errno));
        }
    }
    if (e == SR_OK)
        e = sr_fsync_dir_of(dst);
    if (fd >= 0 && (e != SR_OK || !replace))
        unlink(tmp); /* failed, or linked: the temporary name goes */
    return e;
}

sr_err srd_models_save(srd_models *ms, const char *name, const char *as, bool replace)
{
    if (!srd_models_name_ok(name) || !srd_models_name_ok(as))
        return sr_errorf(SR_ERR_ARG, "bad model name \"%s\"",
                         srd_models_name_ok(name) ? as : name);
    if (strcmp(name, as) == 0)
        return sr_errorf(SR_ERR_ARG, "save %s as itself", name);
    char src[PATH_MAX + 80], dst[PATH_MAX + 80];
    srd_models_path(ms, name, src, sizeof src);
    srd_models_path(ms, as, dst, sizeof dst);
    struct stat sb;
    if (stat(src, &sb) != 0)
        return sr_errorf(SR_ERR_NOTFOUND, "no model %s", name);
    if (!replace && stat(dst, &sb) == 0)
        return sr_errorf(SR_ERR_EXISTS, "model %s exists (replace it with --replace)", as);
    /* The source is only ever replaced by rename, so the copy is of one
     * whole version of it; the destination appears whole for the same reason. */
    sr_err e = srd_models_copy_file(src, dst, replace);
    if (e == SR_ERR_EXISTS)
        e = sr_errorf(SR_ERR_EXISTS, "model %s exists (replace it with --replace)", as);
    if (e == SR_OK)
        srd_info("saved model %s as %s", name, as);
    return e;
}

sr_err srd_models_drop(srd_models *ms, const char *name, bool *was_default)
{
    *was_default = false;
    if (!srd_models_name_ok(name))
        return sr_errorf(SR_ERR_ARG, "bad model name \"%s\"", name);
    char path[PATH_MAX + 80];
    srd_models_path(ms, name, path, sizeof path);
    srd_model *gone[8] = { NULL }; /* cached copies, released after the lock (freeing a
                                    * model takes a while); versions beyond 8 under it */
    size_t n_gone = 0;
    pthread_mutex_lock(&ms->lock);
    sr_err e = SR_OK;
    if (unlink(path) != 0) {
        e = errno == ENOENT ? sr_errorf(SR_ERR_NOTFOUND, "no model %s", name)
                            : sr_errorf(SR_ERR_IO, "remove %s: %s", path, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < ms->n;) {
        if (strcmp(ms->cache[i]->name, name) == 0) {
            if (n_gone < SR_COUNTOF(gone))
                gone[n_gone++] = ms->cache[i];
            else
                srd_model_release(&ms->cache[i]);
            ms->cache[i] = ms->cache[--ms->n];
        } else {
            i++;
        }
    }
    if (ms->default_name[0] == '\0')
        srd_models_read_default(ms);
    if (strcmp(ms->default_name, name) == 0) {
        *was_default = true;
        e = srd_models_write_default(ms, "");
    }
done:
    pthread_mutex_unlock(&ms->lock);
    for (size_t i = 0; i < n_gone; i++)
        srd_model_release(&gone[i]); /* requests holding it finish with it */
    if (e == SR_OK)
        srd_info("dropped model %s%s", name, *was_default ? " (it was the default)" : "");
    return e;
}

void srd_models_scorer_stats(srd_models *ms, uint64_t *loaded, uint64_t *sessions,
                             uint64_t *passes, uint64_t *max_batch)
{
    *loaded = *sessions = *passes = *max_batch = 0;
    pthread_mutex_lock(&ms->lock);
    *loaded = ms->n;
    for (size_t i = 0; i < ms->n; i++) {
        if (!ms->cache[i]->scorer)
            continue;
        srd_scorer_stats st;
        srd_scorer_get_stats(ms->cache[i]->scorer, &st);
        *sessions += st.sessions;
        *passes += st.passes;
        if (st.max_batch > *max_batch)
            *max_batch = st.max_batch;
    }
    pthread_mutex_unlock(&ms->lock);
}
