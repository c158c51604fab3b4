/* srd_ops.h - one handler per request op, shared by the front end (status,
 * shutdown, malformed requests) and the worker threads (everything else).
 *
 * Every handler packs exactly one reply (ok or error) into the buffer it is
 * given; nothing here touches ZeroMQ. Counters are atomics because workers
 * and the front end update them concurrently.
 */
#ifndef SRD_OPS_H
#define SRD_OPS_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "sr_proto.h"
#include "srd_config.h"

/* SEQREC_VERSION comes from project(VERSION) in CMakeLists.txt. */

#define SRD_OPS_MAX_BUSY 64 /* >= the largest `threads` */

/* Settings that SIGHUP may change while requests run (srd_ops_reload).
 * Request handlers read these, never the srd_config copies. */
typedef struct srd_live {
    atomic_int_fast64_t max_synth_sessions;
    atomic_int_fast64_t max_sessions;
    atomic_int_fast64_t max_plays;
    atomic_int_fast64_t score_batch;
    atomic_int_fast64_t ckpt_every;
} srd_live;

typedef struct srd_ops {
    const srd_config *cfg;
    char data_root[PATH_MAX];    /* realpath of cfg->data_root */
    char state_dir[PATH_MAX];    /* realpath of cfg->state_dir */
    char datasets_dir[PATH_MAX]; /* <state_dir>/datasets */
    char tmp_dir[PATH_MAX];      /* <state_dir>/tmp: spill space for events ingests */
    struct timespec started;     /* CLOCK_MONOTONIC */
    sr_mp_limits limits;
    srd_live live;               /* reloadable settings */
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t errors;
    atomic_int busy_workers;
    atomic_int queued_requests;  /* waiting for a worker (the front end's queue) */
    atomic_bool stopping;        /* long jobs poll it and give up (cancelled) */
    /* Names (datasets, synth outputs) a running job is writing: a second job
     * on the same name is refused with 409 instead of racing on one file. */
    pthread_mutex_t lock;
    char *busy[SRD_OPS_MAX_BUSY];
    struct srd_jobs *jobs;       /* training jobs (srd_jobs.h) */
    struct srd_models *models;   /* trained models (srd_models.h) */
    struct srd_metrics *metrics; /* request counts and latencies (srd_metrics.h) */
    int lock_fd;                 /* flock on <state_dir>/lock: one daemon per state dir */
} srd_ops;

/* Resolve and create the directories (state_dir, datasets/, tmp/, jobs/,
 * models/; tmp/ is emptied, as only this daemon writes there) and lock the
 * state directory (SR_ERR_EXISTS when another seqrecd holds it). */
sr_err srd_ops_init(srd_ops *ops, const srd_config *cfg);
/* Load the jobs of the state directory and start the job runners (unfinished
 * jobs resume). Called once the endpoint is bound. */
sr_err srd_ops_start_jobs(srd_ops *ops);
void srd_ops_destroy(srd_ops *ops);

/* Re-read the config file (SIGHUP; NULL = no file: only the command line
 * and defaults, i.e. nothing changes) and apply what can change while the
 * daemon runs: the srd_live settings and log_level. Keys that need a
 * restart are logged when they differ. The srd_config the daemon started
 * with stays as it was. */
sr_err srd_ops_reload(srd_ops *ops, const char *config_path);

/* Count one received request. */
void srd_ops_count_request(srd_ops *ops);

/* Decode a frame. On failure packs the error reply into `reply` and returns
 * its code; SR_PROTO_CODE_OK otherwise (reply untouched). */
sr_proto_code srd_ops_decode(srd_ops *ops, const void *buf, size_t len, sr_proto_request *req,
                             msgpack_sbuffer *reply);

/* Run a decoded request and pack its reply. */
void srd_ops_execute(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply);

/* Pack an error reply and count it. */
void srd_ops_reply_error(srd_ops *ops, msgpack_sbuffer *reply, uint64_t id, sr_proto_code code,
                         const char *message);

/* ---- shared by the handler files (srd_ops.c, srd_ops_train.c) ---- */

#define SRD_NAME_MAX 64 /* names: [A-Za-z0-9._-]{1,63}, not starting with '.' */

msgpack_packer srd_ops_packer(msgpack_sbuffer *reply);
/* Claim a name ("dataset:<name>", an output path) for the duration of an
 * operation that must not overlap another on it; false when it is held
 * (or the table of SRD_OPS_MAX_BUSY names is full). */
bool srd_ops_claim(srd_ops *ops, const char *key);
void srd_ops_release(srd_ops *ops, const char *key);
/* An error reply for a core error: "<what>: <error name>: <message>". */
void srd_ops_reply_sr_err(srd_ops *ops, msgpack_sbuffer *reply, uint64_t id, sr_err e,
                          const char *what);
/* Copy a dataset or model name, checking its characters. */
sr_proto_code srd_ops_name(sr_pstr s, char out[SRD_NAME_MAX], char *err, size_t errcap);

/* Handlers of training, evaluation and recommendation (srd_ops_train.c). */
void srd_ops_train(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply);
void srd_ops_jobs(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply);
void srd_ops_cancel(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply);
void srd_ops_evaluate(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply);
void srd_ops_recommend(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply);
void srd_ops_models(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply);
void srd_ops_experiment(srd_ops *ops, const sr_proto_request *req, msgpack_sbuffer *reply);

/* Number of datasets (stores) in datasets_dir. */
uint64_t srd_ops_count_datasets(const srd_ops *ops);

#endif /* SRD_OPS_H */
