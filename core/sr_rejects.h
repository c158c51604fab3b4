/* sr_rejects.h - the rejects file: every malformed input row, with file, line
 * number and reason, so nothing is lost silently.
 *
 * Format (TSV, one row per rejected input row):
 *   file <TAB> line <TAB> reason <TAB> raw row (tabs/newlines escaped as \t \n)
 * Written to "<path>.tmp" and renamed to <path> by sr_rejects_close().
 */
#ifndef SR_REJECTS_H
#define SR_REJECTS_H

#include "sr_common.h"
#include "sr_csv.h"

typedef struct sr_rejects sr_rejects;

/* path NULL: count only, write nothing (used by tests and dry runs). */
sr_err sr_rejects_open(const char *path, sr_rejects **out);

/* Record one rejected row. Thread-safe (a mutex guards the file). Write
 * errors are remembered and reported by sr_rejects_close(). */
void sr_rejects_add(sr_rejects *r, const char *file, uint64_t line,
                    const char *reason, const char *raw, size_t raw_len);

/* sr_rejects_add() for the record `c` read last: its file, line and raw text. */
void sr_rejects_add_record(sr_rejects *r, const sr_csv *c, const char *reason);

uint64_t sr_rejects_count(const sr_rejects *r);

/* Up to `cap` (reason, count) pairs, most frequent first; returns how many. */
size_t sr_rejects_summary(const sr_rejects *r, const char **reasons,
                          uint64_t *counts, size_t cap);

/* Flush, fsync and rename to the final path. When nothing was rejected no
 * file is kept, and a file left at the final path by an earlier run is
 * removed. NULL-safe; sets *r = NULL. */
sr_err sr_rejects_close(sr_rejects **r);

/* The same, to another final path (NULL = the one given to open), e.g. to
 * keep the rejects of a failed run without replacing a good run's file. */
sr_err sr_rejects_close_to(sr_rejects **r, const char *final_path);

/* Discard: remove the temporary file. NULL-safe; sets *r = NULL. */
void sr_rejects_abort(sr_rejects **r);

#endif /* SR_REJECTS_H */
