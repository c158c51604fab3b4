/* srd_models.h - the trained models in <state_dir>/models/<name>.model:
 * listing, loading (cached by name while the file is unchanged, reference
 * counted so a model replaced on disk is freed when its last user is done),
 * and the two uses of a loaded model: recommending for one session and
 * evaluating on a dataset.
 *
 * A model file names the dataset it was trained on (meta "dataset",
 * "dataset_created"): its vocabulary maps external track ids to the model's
 * rows, so loading refuses a model whose dataset was replaced since.
 *
 * One model may be the default (recommend without a model name); the
 * choice is kept in <state_dir>/models/default and survives restarts.
 *
 * Thread safety: every function may be called from any thread. A loaded
 * model is immutable once loaded (a snapshot): a newer file of the same name
 * is loaded beside it, and the old one is freed when its last user is done.
 * A neural model's recommend calls are micro-batched across threads
 * (srd_scorer.h); baselines score each session on the calling thread.
 */
#ifndef SRD_MODELS_H
#define SRD_MODELS_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "sr_common.h"
#include "sr_eval.h"

struct srd_ops;

typedef struct srd_models srd_models;
typedef struct srd_model srd_model;

sr_err srd_models_new(struct srd_ops *ops, srd_models **out);
void srd_models_free(srd_models **ms); /* NULL-safe; loaded models still referenced live on */

/* Valid model names: the dataset name rules ([A-Za-z0-9._-]{1,63}, no leading '.'). */
bool srd_models_name_ok(const char *name);
/* Whether <models>/<name>.model exists. */
bool srd_models_exists(srd_models *ms, const char *name);

/* Pack the members of a `models` result map ({"models": [...]}, one entry
 * expected by the caller): all models, or only `name` (SR_ERR_NOTFOUND,
 * nothing packed, when it does not exist). */
sr_err srd_models_pack(srd_models *ms, const char *name, msgpack_packer *pk);

/* A loaded model, referenced. SR_ERR_NOTFOUND for an unknown name. */
sr_err srd_models_get(srd_models *ms, const char *name, srd_model **out);

/* The default model's name into out[cap] ("" when none is set or the model
 * it named is gone). */
void srd_models_default(srd_models *ms, char *out, size_t cap);
/* Load the default model now (at start, so the first request does not
 * wait for it). Nothing when no default is set; an error is logged and the
 * daemon serves on (the model loads on first use, or says why not). */
void srd_models_preload(srd_models *ms);
/* Make `name` (an existing model) the default. */
sr_err srd_models_set_default(srd_models *ms, const char *name);
/* Snapshot model `name` as `as` (a copy of its file, written under a
 * temporary name and renamed: readers of `as` see the old or the new model,
 * never half of one). SR_ERR_NOTFOUND when `name` does not exist,
 * SR_ERR_EXISTS when `as` does and !replace. The caller refuses names an
 * unfinished job will write. */
sr_err srd_models_save(srd_models *ms, const char *name, const char *as, bool replace);
/* Delete model `name`: its file, and its cache entry (requests holding it
 * finish with it). Clears the default when it was the default (*was_default).
 * SR_ERR_NOTFOUND when it does not exist. */
sr_err srd_models_drop(srd_models *ms, const char *name, bool *was_default);
/* Totals of the micro-batching scorers of the loaded models (status). */
void srd_models_scorer_stats(srd_models *ms, uint64_t *loaded, uint64_t *sessions,
                             uint64_t *passes, uint64_t *max_batch);
void srd_model_release(srd_model **m); /* NULL-safe */

const char *srd_model_dataset(const srd_model *m);
const char *srd_model_kind(const srd_model *m); /* "sasrec", "bert4rec", "pop", "sr" */

/* ---- recommending ------------------------------------------------------- */

#define SRD_MODELS_MAX_WARNINGS 16

typedef struct srd_rec_request {
    const sr_str *tracks;   /* [n] external ids */
    const bool *skipped;    /* [n] or NULL */
    uint32_t n;
    int k;                  /* 1..SR_PROTO_MAX_K */
    sr_eval_exclude exclude;/* NONE, PLAYED or SKIPPED (default) */
} srd_rec_request;

typedef struct srd_rec_result {
    int n_items;
    int32_t *items;         /* [n_items] dense indices; malloc'd (srd_rec_result_free) */
    float *scores;          /* [n_items] */
    bool fallback;          /* no known track: popularity */
    uint32_t n_unknown;     /* ids not in the model's vocabulary */
    uint32_t unknown[SRD_MODELS_MAX_WARNINGS]; /* the first of them (indices into tracks) */
} srd_rec_result;

/* Recommend for rq[0..n) (one result each in out[0..n), to be freed with
 * srd_rec_result_free even on error). Neural models score the sessions in
 * passes of at most `batch` sessions, shared with concurrent calls. */
sr_err srd_model_recommend(srd_model *m, const srd_rec_request *rq, int n, int batch,
                           srd_rec_result *out);
/* Number of tracks the model scores. */
uint32_t srd_model_tracks(const srd_model *m);
void srd_rec_result_free(srd_rec_result *r);
/* External id of a dense index. */
sr_str srd_model_track_id(const srd_model *m, int32_t track);

/* ---- evaluating ----------------------------------------------------------- */

/* Evaluate on dataset `dataset` (NULL = the model's own), which must have
 * the model's vocabulary (SR_ERR_ARG otherwise). c->batch is capped at the
 * model's scoring batch. progress may be NULL. */
sr_err srd_model_evaluate(srd_models *ms, srd_model *m, const char *dataset,
                          const sr_eval_config *c, sr_progress_fn progress, void *ud,
                          sr_eval_result *out);

#endif /* SRD_MODELS_H */
