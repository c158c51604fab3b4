/* sr_mssd.h - reader for Spotify Music Streaming Sessions Dataset logs
 * (SPEC.md section 2): the 21 log columns, extra columns ignored.
 *
 * Rows of one session are consecutive (as in MSSD's files) and positions
 * must increase strictly; partial sessions (e.g. positions 2..length/2) are
 * valid. Rejected rows (bad booleans or numbers, empty ids, out-of-order or
 * duplicate positions, skip flags that are not nested) go to the rejects file.
 */
#ifndef SR_MSSD_H
#define SR_MSSD_H

#include "sr_play.h"
#include "sr_rejects.h"

typedef struct sr_mssd_opts {
    sr_skip_rule skip_rule;   /* default SR_SKIP_RULE_SKIP_2 */
    uint32_t max_session_len; /* 0 = no limit; later plays are dropped and counted */
} sr_mssd_opts;

void sr_mssd_opts_default(sr_mssd_opts *o);

/* Read one file (plain or .gz) and emit its sessions. A missing column is an
 * SR_ERR_COLUMN error naming the file and column, before any session. */
sr_err sr_mssd_read_file(const char *path, const sr_mssd_opts *o, sr_rejects *rej,
                         sr_session_sink sink, void *ud, sr_read_counts *counts);

#endif /* SR_MSSD_H */
