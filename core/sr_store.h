/* sr_store.h - the session store: a versioned, checksummed binary file that
 * holds a dataset's vocabulary and sessions as CSR arrays, read by mmap.
 * Byte layout: docs/data.md, "Session store format".
 *
 * Two ways to write, one file format:
 * - streaming (sr_store_writer_open): the totals are not known in advance,
 *   so sessions are appended to per-array spool files and
 *   sr_store_writer_finish() copies them into "<path>.tmp";
 * - sized (sr_store_writer_open_sized): the caller knows n_sessions and
 *   n_plays, so the layout of the session and play sections is fixed at
 *   open and sessions are written straight to their final offsets in
 *   "<path>.tmp" - no spool, no copy - by any number of cursors, each
 *   owning a disjoint range of sessions and plays, in parallel.
 * Either way finish writes the vocabulary, counts and stats, the checksums
 * and the header, fsyncs and renames, so a reader never sees a half-written
 * store, and both writers give byte-identical files for the same sessions.
 * Opening checks magic, version, byte order, every size and offset against
 * the file length, and the XXH3_64bits checksums of header and payload; a
 * truncated or corrupted file is refused (SR_ERR_CORRUPT / SR_ERR_VERSION;
 * SR_ERR_FORMAT when the magic says it is no store at all), never half-read.
 */
#ifndef SR_STORE_H
#define SR_STORE_H

#include "sr_common.h"
#include "sr_play.h"

#define SR_STORE_VERSION 1u
#define SR_TRACK_UNSEEN INT32_C(-1) /* temporal split: track not in the training vocabulary */

typedef enum sr_split_kind {
    SR_SPLIT_KIND_LEAVE_LAST = 0, /* SPEC.md 5: every session in all three parts */
    SR_SPLIT_KIND_TEMPORAL        /* whole sessions by start time */
} sr_split_kind;

/* "leave-last" | "temporal" (sr_name_parse semantics, sr_common.h). */
sr_err sr_split_kind_parse(sr_str s, sr_split_kind *out);
const char *sr_split_kind_name(sr_split_kind k);

/* session_split[] values */
enum {
    SR_SPLIT_TRAIN = 0,
    SR_SPLIT_VALID = 1,
    SR_SPLIT_TEST = 2,
    SR_SPLIT_ALL = 3  /* leave-last: train x1..x_{n-2}, valid x_{n-1}, test x_n */
};

typedef enum sr_source_format {
    SR_SOURCE_FORMAT_MSSD = 0,
    SR_SOURCE_FORMAT_EVENTS,
    SR_SOURCE_FORMAT_SYNTH
} sr_source_format;

/* "mssd" | "events" | "synth". */
sr_err sr_source_format_parse(sr_str s, sr_source_format *out);
const char *sr_source_format_name(sr_source_format f);

/* What ingestion kept and what each filter removed. Stored in the file as a
 * name/value table so fields can be added without a new version. */
typedef struct sr_store_stats {
    uint64_t input_files, input_bytes, input_rows, rejected_rows;
    uint64_t sessions_read, plays_read;
    uint64_t removed_short_sessions;      /* below min_session_len */
    uint64_t removed_noskip_sessions;     /* only_with_skip filter */
    uint64_t removed_rare_track_plays;    /* min_track_count filter */
    uint64_t truncated_plays;             /* beyond a maximum session length */
    uint64_t sessions, interactions, tracks, skipped;
    double skip_rate;                     /* skipped / interactions */
    uint64_t train_sessions, valid_sessions, test_sessions;
    uint64_t train_interactions, valid_interactions, test_interactions;
    uint64_t unseen_tracks, unseen_plays; /* temporal: valid/test plays of tracks unseen in training */
} sr_store_stats;

/* Visit each stats field by name (for printing and the wire). */
typedef void (*sr_store_stats_visit_fn)(void *ud, const char *name, bool is_real,
                                        uint64_t u, double f);
void sr_store_stats_visit(const sr_store_stats *s, sr_store_stats_visit_fn fn, void *ud);

typedef struct sr_store_meta {
    sr_split_kind split;
    sr_skip_rule skip_rule;
    sr_source_format source;
    int64_t created;      /* unix seconds */
    char name[64];        /* dataset name, NUL-terminated */
} sr_store_meta;

/* ---- writing ------------------------------------------------------------ */
typedef struct sr_store_writer sr_store_writer;

/* Streaming writer. Spools go to "<path>.spool.*" beside the final file. */
sr_err sr_store_writer_open(const char *path, const sr_store_meta *meta,
                            sr_store_writer **out);

/* Append one session. track[n] holds dense indices < n_tracks given at finish
 * time, or SR_TRACK_UNSEEN. n >= 1, split <= SR_SPLIT_ALL, all arrays non-NULL
 * (SR_ERR_ARG otherwise; a refused session leaves no trace). */
sr_err sr_store_writer_add(sr_store_writer *w, uint8_t split, int64_t start,
                           uint32_t n, const int32_t *track, const uint8_t *feedback,
                           const uint16_t *position, const int64_t *time,
                           const uint32_t *context);

/* Assemble the file (sized writer: complete it): vocabulary ids (ids[i] for
 * track i, non-empty), per-track play and skip counts [n_tracks] (all three
 * may be NULL when n_tracks is 0), and stats (NULL = zeros). Every cursor
 * must be closed first. Frees the writer (*w = NULL) either way; on failure
 * no file is left at path (an existing store there is untouched). */
sr_err sr_store_writer_finish(sr_store_writer **w, uint32_t n_tracks,
                              const sr_str *ids, const uint32_t *plays,
                              const uint32_t *skips, const sr_store_stats *stats);

/* Give up: remove spools and temporary files. NULL-safe. Close or abort
 * every cursor first. */
void sr_store_writer_abort(sr_store_writer **w);

/* ---- sized writing ---------------------------------------------------------
 * Open a writer for exactly n_sessions sessions holding n_plays plays in all
 * (n_plays >= n_sessions, both 0 or both > 0). Creates "<path>.tmp" at once
 * (sparse, at its final size for sections 1-8); no spool files.
 * Sessions are written through cursors; sr_store_writer_add() on a sized
 * writer fills it from the start through an implicit cursor over the whole
 * range (so it cannot be mixed with explicit cursors). finish refuses a
 * writer whose ranges were not all filled (SR_ERR_ARG). */
sr_err sr_store_writer_open_sized(const char *path, const sr_store_meta *meta,
                                  uint64_t n_sessions, uint64_t n_plays,
                                  sr_store_writer **out);

/* A cursor owns sessions [first_session, first_session + n_sessions) and
 * plays [first_play, first_play + n_plays) of a sized writer and buffers
 * them (about 0.7 MB) into large positioned writes. Ranges of two cursors
 * must not overlap (SR_ERR_ARG), and each must be fillable
 * (n_plays >= n_sessions, both 0 or both > 0).
 * Threads: cursors of one writer may be opened, filled and closed on
 * different threads at the same time; one cursor belongs to one thread at a
 * time. Open, close and abort take a lock; add does not. */
typedef struct sr_store_cursor sr_store_cursor;

sr_err sr_store_cursor_open(sr_store_writer *w, uint64_t first_session, uint64_t n_sessions,
                            uint64_t first_play, uint64_t n_plays, sr_store_cursor **out);

/* Write the cursor's next session; same contract as sr_store_writer_add,
 * and SR_ERR_ARG when the session does not fit the cursor's remaining
 * sessions or plays. A failed write (SR_ERR_IO) fails the cursor. */
sr_err sr_store_cursor_add(sr_store_cursor *c, uint8_t split, int64_t start, uint32_t n,
                           const int32_t *track, const uint8_t *feedback,
                           const uint16_t *position, const int64_t *time,
                           const uint32_t *context);

/* Flush the cursor; it must have filled exactly its ranges (SR_ERR_ARG
 * otherwise). Frees it (*c = NULL) either way; on failure the writer is
 * marked failed, so finish fails too. NULL-safe (SR_OK). */
sr_err sr_store_cursor_close(sr_store_cursor **c);

/* Drop a cursor on an error path: frees it and marks the writer failed,
 * without touching the calling thread's error message. NULL-safe. */
void sr_store_cursor_abort(sr_store_cursor **c);

/* ---- reading ------------------------------------------------------------ */
typedef struct sr_store {
    sr_store_meta meta;
    sr_store_stats stats;
    uint64_t n_sessions, n_plays;
    uint32_t n_tracks;
    const uint64_t *session_offsets; /* [n_sessions + 1], plays of s: [off[s], off[s+1]) */
    const uint8_t *session_split;    /* [n_sessions] SR_SPLIT_* */
    const int64_t *session_start;    /* [n_sessions] unix seconds */
    const int32_t *play_track;       /* [n_plays] dense index or SR_TRACK_UNSEEN */
    const uint8_t *play_feedback;    /* [n_plays] SR_FB_* */
    const uint16_t *play_position;   /* [n_plays] */
    const int64_t *play_time;        /* [n_plays] */
    const uint32_t *play_context;    /* [n_plays] packed, sr_play.h */
    const uint32_t *track_plays;     /* [n_tracks] */
    const uint32_t *track_skips;     /* [n_tracks] */
    const uint64_t *track_id_offsets;/* [n_tracks + 1] into track_id_bytes */
    const char *track_id_bytes;
    /* private */
    void *map_;
    size_t map_len_;
} sr_store;

/* Map and verify a store. A missing file is SR_ERR_NOTFOUND. */
sr_err sr_store_open(const char *path, sr_store **out);
void sr_store_close(sr_store **s);
/* The external id of `track` ({NULL, 0} for SR_TRACK_UNSEEN or out of range). */
sr_str sr_store_track_id(const sr_store *s, int32_t track);

#endif /* SR_STORE_H */
