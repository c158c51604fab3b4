/* sr_ingest.h - turn listening logs into a session store.
 *
 * Pipeline (docs/data.md, "Ingestion"):
 *  1. readers (sr_mssd / sr_events) stream rows into sessions; malformed rows
 *     go to "<store>.rejects.tsv";
 *  2. sessions are filtered (min length, only-with-skip), interned into a
 *     vocabulary and spooled to disk - memory holds the vocabulary only;
 *  3. the rare-track filter and the split are applied on the spool and the
 *     store is written atomically - in parallel over the parts, each straight
 *     to its final place in the file (sr_store_writer_open_sized).
 * Fails with SR_ERR_REJECTS when rejected/rows exceeds max_reject_rate and
 * with SR_ERR_EMPTY when nothing usable was read.
 */
#ifndef SR_INGEST_H
#define SR_INGEST_H

#include "sr_events.h"
#include "sr_store.h"

typedef struct sr_ingest_opts {
    sr_source_format format;          /* MSSD (also synthetic output) or EVENTS */
    sr_skip_rule skip_rule;           /* MSSD: default skip_2 */
    const sr_events_config *events;   /* EVENTS only */
    uint32_t min_session_len;         /* default 2 */
    uint32_t max_session_len;         /* MSSD: 0 = none (events: from config) */
    uint32_t min_track_count;         /* default 1 (no filter) */
    bool only_with_skip;              /* the paper's filter; default off */
    double max_reject_rate;           /* default 0.01 */
    sr_split_kind split;              /* default leave-last */
    double valid_frac, test_frac;     /* temporal: fractions of sessions by start time (0.1, 0.1) */
    const char *name;                 /* dataset name recorded in the store */
    int threads;                      /* files read and parts written in parallel; 0 = all cores */
    sr_progress_fn progress;          /* may be NULL; called from reader and writer threads
                                       * concurrently (phases "read", "write") */
    void *progress_ud;
} sr_ingest_opts;

void sr_ingest_opts_default(sr_ingest_opts *o);

/* Expand inputs: a directory becomes its *.csv, *.csv.gz, *.tsv, *.tsv.gz
 * files in name order. Caller frees with sr_ingest_paths_free(). */
sr_err sr_ingest_expand(const char *const *inputs, size_t n_inputs,
                        char ***paths_out, size_t *n_out);
void sr_ingest_paths_free(char **paths, size_t n);

/* Why rows were rejected: the most frequent reasons first. */
#define SR_INGEST_MAX_REASONS 32
typedef struct sr_ingest_reasons {
    size_t n;
    char reason[SR_INGEST_MAX_REASONS][96];
    uint64_t count[SR_INGEST_MAX_REASONS];
} sr_ingest_reasons;

/* Ingest `paths` into the store at store_path (rejects beside it, as
 * "<store_path>.rejects.tsv"). stats_out is filled on success and, as far as
 * known, on failure; reasons_out (may be NULL) likewise. */
sr_err sr_ingest_run(const char *const *paths, size_t n_paths, const sr_ingest_opts *o,
                     const char *store_path, sr_store_stats *stats_out,
                     sr_ingest_reasons *reasons_out);

#endif /* SR_INGEST_H */
