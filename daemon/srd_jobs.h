/* srd_jobs.h - training jobs: a queue, `jobs` runner threads (config key
 * "jobs"), and one file per job in <state_dir>/jobs so that jobs survive a
 * restart: a job that was queued or running when the daemon stopped (or was
 * killed) is queued again on start and resumes from its checkpoint
 * (sr_train.h), ending with the same model as an uninterrupted run.
 *
 * Files (all written atomically, sr_ckpt.h containers):
 *   <state_dir>/jobs/<id>.job    sections "job" (key = value lines: id,
 *                                kind, dataset, model, state, message,
 *                                created) and "config" (the resolved
 *                                configuration text)
 *   <state_dir>/jobs/<id>.ckpt   the training checkpoint (neural models)
 *   <state_dir>/models/<model>.model  the model: the best validation so far
 *                                while training (published atomically at
 *                                each improvement), the final one after.
 *
 * Stopping (daemon shutdown): running jobs checkpoint and stay "running" on
 * disk, so the next start resumes them; `cancel` instead marks a job
 * cancelled for good (its checkpoint is kept for inspection). A finished
 * job's checkpoint is removed (the model file is the result).
 * A job that was running when the daemon died (killed, crashed, out of
 * memory) counts an attempt; after SRD_JOBS_MAX_ATTEMPTS such starts in a
 * row it is marked failed instead of resumed, so a job that kills the daemon
 * cannot crash-loop it under systemd's Restart=. A clean shutdown resets
 * the count.
 * Thread safety: every function may be called from any thread.
 */
#ifndef SRD_JOBS_H
#define SRD_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "sr_common.h"

struct srd_ops;

#define SRD_JOBS_MAX_ATTEMPTS 3

typedef enum srd_job_state {
    SRD_JOB_QUEUED = 0,
    SRD_JOB_RUNNING,
    SRD_JOB_DONE,
    SRD_JOB_FAILED,
    SRD_JOB_CANCELLED
} srd_job_state;
const char *srd_job_state_name(srd_job_state s);

/* Model kinds a job can train. */
typedef enum srd_job_kind {
    SRD_JOB_SASREC = 0,
    SRD_JOB_BERT4REC,
    SRD_JOB_POP,
    SRD_JOB_SR,
    SRD_JOB_EXPERIMENT /* a matrix of runs with a report (srd_experiment.h) */
} srd_job_kind;
/* "sasrec" | "bert4rec" | "pop" | "sr" | "experiment" */
sr_err srd_job_kind_parse(sr_str s, srd_job_kind *out);
const char *srd_job_kind_name(srd_job_kind k);

typedef struct srd_jobs srd_jobs;

/* Load the job files of ops->state_dir/jobs (queued and running ones are
 * queued again) and start the runner threads. */
sr_err srd_jobs_new(struct srd_ops *ops, srd_jobs **out);
/* Ask running jobs to checkpoint and stop, join the runners, free. NULL-safe. */
void srd_jobs_free(srd_jobs **j);

/* Queue a job. `config` is the resolved configuration text (neural models:
 * sr_train_config_text; baselines: their keys; experiments: the spec).
 * model must be a valid name not used by another model or unfinished job
 * (SR_ERR_EXISTS otherwise); for an experiment it is the experiment's name
 * and `out` its output directory (an absolute path under the data root, not
 * used by another unfinished experiment); out is NULL for other kinds.
 * *id receives the job id. */
sr_err srd_jobs_submit(srd_jobs *j, srd_job_kind kind, const char *dataset, const char *model,
                       const char *config, const char *out, uint64_t *id);

/* Cancel a queued or running job (a running one stops at its next progress
 * report, after writing a checkpoint). SR_ERR_NOTFOUND for an unknown id;
 * a finished job is left as it is. *state receives the state after the call. */
sr_err srd_jobs_cancel(srd_jobs *j, uint64_t id, srd_job_state *state);

/* Pack {"jobs": [...]} members: the array of job objects (one job when
 * id != 0; SR_ERR_NOTFOUND, nothing packed, when it does not exist). The
 * caller has begun a result map of 1 entry. */
sr_err srd_jobs_pack(srd_jobs *j, uint64_t id, msgpack_packer *pk);

/* Whether a queued or running job trains on dataset `name`. */
bool srd_jobs_dataset_busy(srd_jobs *j, const char *name);

/* Whether an unfinished job will write model `name`. */
bool srd_jobs_model_busy(srd_jobs *j, const char *name);

/* The baseline configuration of a pop / sr job from its "key = value"
 * text (window, max_rules); SR_ERR_ARG naming a bad line. */
struct sr_baseline_config;
sr_err srd_jobs_baseline_config(srd_job_kind kind, sr_str text, struct sr_baseline_config *out);

/* Jobs queued and running (for status). */
void srd_jobs_counts(srd_jobs *j, int *queued, int *running);

/* One line about the oldest running job for systemd's STATUS=, e.g.
 * "job 3 training sasrec model m on d: step 120/400"; "" when none runs. */
void srd_jobs_describe(srd_jobs *j, char *out, size_t cap);

#endif /* SRD_JOBS_H */
