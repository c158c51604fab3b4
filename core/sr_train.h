/* sr_train.h - a training job of a neural recommender on a session store:
 * the resolved configuration (model + optimiser + loop, with a key table
 * for "key = value" settings), and the loop itself - batches
 * (sr_batch.h), steps (sr_optim.h), validation with early stopping
 * (sr_eval.h), checkpoints (sr_ckpt.h) it resumes from.
 *
 * Files of one job (formats in docs/formats.md):
 *   checkpoint  everything needed to continue bit-identically: parameters,
 *               AdamW moments and row steps, update counts, the batch
 *               stream's position, early-stopping state and the
 *               validation history. Written every ckpt_every steps, after
 *               every validation, when cancelled and at the end.
 *   best        the model file: configuration, meta lines and parameters of
 *               the best validation so far - the one kept and evaluated
 *               (the same rule for every run: best validation metric, ties
 *               keep the earlier step).
 * Both are written atomically (sr_ckpt.h), so a job killed at any moment
 * resumes from its last checkpoint and ends with the same model as an
 * uninterrupted run with the same configuration and thread count.
 *
 * Validation: every eval_every steps (0 = at the end of every epoch) and
 * after the last step, on the validation queries (sr_eval.h, full ranking,
 * no exclusion, at most valid_queries of them in a fixed subsample).
 * Training stops after max_steps (0 = epochs x batches per epoch), or when
 * `patience` validations in a row did not improve the best (0 = never early).
 */
#ifndef SR_TRAIN_H
#define SR_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_common.h"
#include "sr_model.h"
#include "sr_optim.h"
#include "sr_sampler.h"
#include "sr_store.h"

#define SR_TRAIN_METRIC_MAX 24

typedef struct sr_train_config {
    sr_model_config model;   /* model.I is set from the store by sr_train_run */
    sr_optim_config optim;   /* schedule.total_steps is set by sr_train_run */
    int batch;               /* sequences per step */
    uint64_t epochs;         /* >= 1 */
    uint64_t max_steps;      /* 0 = epochs x batches per epoch */
    uint64_t eval_every;     /* steps between validations; 0 = every epoch */
    uint64_t valid_queries;  /* validation queries at most (0 = all) */
    int eval_batch;          /* queries per scoring call, <= batch */
    int patience;            /* validations without improvement; 0 = never stop early */
    uint64_t ckpt_every;     /* steps between checkpoints; 0 = only at validations */
    int threads;             /* OpenMP threads of this job; 0 = omp_get_num_procs() */
    char metric[SR_TRAIN_METRIC_MAX]; /* an sr_eval_visit key, higher is better (ndcg@10) */
    sr_sampler_kind sampler; /* negatives of SAMPLED / BCE losses */
} sr_train_config;

/* Presets: "paper" (sr_model_config_paper: the authors' shapes and full CE,
 * batch 256, 100 epochs, patience 5, lr 0.005) and "fast" (D 64, 2 layers,
 * 2 heads, F 128, batch 128, 20 epochs, patience 3, 2000 validation
 * queries). SR_ERR_ARG for another name. */
sr_err sr_train_config_preset(sr_model_kind kind, const char *preset, sr_train_config *out);

/* Set one key from its text value ("dim", "lambda", "lr", ...; the table
 * is in sr_train.c and docs/usage.md). SR_ERR_ARG naming the key for an
 * unknown key or a value that does not parse or is out of range. */
sr_err sr_train_config_set(sr_train_config *c, const char *key, sr_str value);
/* "key=value" or "key = value" (spaces around both trimmed). */
sr_err sr_train_config_set_line(sr_train_config *c, sr_str line);
/* Apply every non-empty, non-'#' line of text with sr_train_config_set_line. */
sr_err sr_train_config_apply_text(sr_train_config *c, sr_str text);
/* Every key as "key = value\n", in table order; malloc'd (free it), NULL
 * on allocation failure. apply_text(to_text(c)) gives back c exactly
 * (floats are printed with %.9g, doubles with %.17g). */
char *sr_train_config_text(const sr_train_config *c);
/* Model, optimiser and loop checks (SR_ERR_ARG naming the field). */
sr_err sr_train_config_check(const sr_train_config *c);

/* ---- the loop --------------------------------------------------------- */

typedef struct sr_train_progress {
    const char *phase;        /* "train", "validate" */
    uint64_t step, total_steps;
    uint64_t epoch;           /* epochs completed */
    double loss, rec, nf;     /* means over the steps since the previous report */
    double seq_per_s;         /* sequences per second over the same steps */
    double elapsed_s, eta_s;  /* this run's wall time; estimate to total_steps */
    double last_metric;       /* latest validation (NaN before the first) */
    double best_metric;       /* NaN before the first validation */
    uint64_t best_step;
} sr_train_progress;

/* Called about every second of training, during each validation (after its
 * first batch of queries, then about every second) and after it; return
 * false to stop: the job writes a checkpoint and returns SR_ERR_CANCELLED. A
 * job stopped during a validation runs that validation again when resumed,
 * so it still ends with the same model as an uninterrupted run. */
typedef bool (*sr_train_progress_fn)(void *ud, const sr_train_progress *p);

typedef struct sr_train_files {
    const char *checkpoint;   /* resumed from when it exists */
    const char *best;         /* the model file */
    const char *meta;         /* extra "key = value" lines for both files' "meta" (may be NULL) */
} sr_train_files;

typedef struct sr_train_result {
    uint64_t steps;           /* updates in all (a resumed job counts its earlier steps) */
    uint64_t epochs;          /* epochs completed */
    uint64_t evals;           /* validations in all */
    double best_metric;
    uint64_t best_step;
    bool stopped_early;
    bool resumed;             /* this call started from a checkpoint */
    double seconds;           /* this call's wall time */
} sr_train_result;

/* Train on st per c (model.I = st->n_tracks; a checkpoint written with a
 * different configuration is refused with SR_ERR_ARG). Returns SR_OK when
 * the job finished (the best model is at files->best), SR_ERR_CANCELLED
 * when progress asked to stop (a checkpoint was written), or the first
 * error. */
sr_err sr_train_run(const sr_store *st, const sr_train_config *c, const sr_train_files *files,
                    sr_train_progress_fn progress, void *ud, sr_train_result *out);

/* ---- model files -------------------------------------------------------- */

/* Load the model file written by sr_train_run: a ready model with room for
 * batches of B_max sequences, its configuration, and (optional, NULL ok) a
 * malloc'd copy of its meta text. SR_ERR_FORMAT when the file is not a
 * neural model file. */
sr_err sr_train_load_model(const char *path, int B_max, sr_model **model, sr_train_config *cfg,
                           char **meta);

#endif /* SR_TRAIN_H */
