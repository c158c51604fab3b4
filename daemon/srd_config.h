/* srd_config.h - seqrecd's settings: one table holds each key's type, range,
 * default and help (redis style). Values come from the defaults, then the
 * config file (INI, keys at top level or under [seqrecd]), then the command
 * line (--data-root DIR sets key data_root). Unknown keys are errors.
 */
#ifndef SRD_CONFIG_H
#define SRD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sr_common.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define SRD_DEFAULT_ENDPOINT "ipc:///run/seqrec/seqrecd.sock"
#define SRD_ENDPOINT_MAX 256

typedef struct srd_config {
    char endpoint[SRD_ENDPOINT_MAX];
    char data_root[PATH_MAX];
    char state_dir[PATH_MAX];
    int64_t threads;            /* worker threads for long requests */
    int64_t queue;              /* requests waiting for a worker; beyond: 429 */
    int64_t max_msg_bytes;      /* ZMQ_MAXMSGSIZE of the front end */
    int64_t max_synth_sessions; /* refuse larger synth requests (413) */
    int64_t ingest_threads;     /* files parsed in parallel per ingest; 0 = all cores */
    int64_t jobs;               /* training jobs running at once; more wait queued */
    int64_t train_threads;      /* OpenMP threads of one training job; 0 = all cores */
    int64_t train_nice;         /* nice value of training threads (scoring runs first) */
    int64_t ckpt_every;         /* default checkpoint interval of training jobs, in steps */
    int64_t score_lanes;        /* scoring threads of one model; 0 = all cores */
    int64_t score_threads;      /* OpenMP threads of one scoring pass */
    int64_t score_batch;        /* most sessions scored together (micro-batching) */
    char score_precision[8];    /* "bf16" (default) or "f32": recommend's product with the table */
    int64_t max_sessions;       /* sessions in one recommend request (else 413) */
    int64_t max_plays;          /* plays in one recommend session (else 413) */
    char curve_secret_key[PATH_MAX]; /* CURVE: the server's key file ("" = no CURVE) */
    char curve_clients[PATH_MAX];    /* CURVE: file of allowed client public keys */
    sr_log_level log_level;
    bool allow_remote;          /* bind tcp:// on addresses other than loopback */
} srd_config;

/* Fill every key with its default. */
void srd_config_default(srd_config *c);

/* Set one key from text (range-checked). `where` names the origin for the
 * message ("seqrecd.conf:12", "--threads"). SR_ERR_ARG on an unknown key or a
 * bad value. */
sr_err srd_config_set(srd_config *c, const char *key, const char *value, const char *where);

/* Read an INI file into c. SR_ERR_IO when it cannot be read, SR_ERR_ARG
 * naming file and line for unknown keys/sections and bad values. */
sr_err srd_config_load(srd_config *c, const char *path);

/* Checks that need all keys: data_root and state_dir set, endpoint allowed. */
sr_err srd_config_check(const srd_config *c);

/* Is `endpoint` acceptable: ipc://PATH, or tcp:// on a loopback address
 * (127.0.0.1, [::1]) unless allow_remote. */
sr_err srd_config_check_endpoint(const char *endpoint, bool allow_remote);

/* Key lookup for the command line: does `key` exist, and is it a flag
 * (boolean: takes no value on the command line)? */
bool srd_config_has_key(const char *key, bool *is_flag);

/* ---- reloads (SIGHUP) ----
 * A reload builds a fresh config the way start-up did: defaults, then the
 * file, then the command line, so that settings given on the command line
 * keep winning over the file. The command line's settings are kept here
 * (process-wide: one daemon per process) by srd_config_keep_cmdline. */

/* Remember one command-line setting (after srd_config_set accepted it).
 * Main thread, at start-up. */
sr_err srd_config_keep_cmdline(const char *key, const char *value);
/* Forget the kept command-line settings (tests). */
void srd_config_forget_cmdline(void);

/* Defaults, then the file at `path` (NULL: none), then the kept command-line
 * settings, then srd_config_check. Errors as srd_config_load/check. */
sr_err srd_config_reload(srd_config *c, const char *path);

/* Call fn(ud, key, before, after) for every key whose value differs between
 * a and b, values as text ("yes"/"no" for flags, "" for an unset path), in
 * table order. Returns the number of keys that differ. */
typedef void (*srd_config_diff_fn)(void *ud, const char *key, const char *before,
                                   const char *after);
size_t srd_config_diff(const srd_config *a, const srd_config *b, srd_config_diff_fn fn, void *ud);

/* Print the option list (one entry per key, with range and default). */
void srd_config_print_help(FILE *f);

/* Log every effective setting at info level. */
void srd_config_log(const srd_config *c);

#endif /* SRD_CONFIG_H */
