/* sr_events.h - reader for generic event logs (CSV/TSV): one row per play
 * with a user (or session) id, a track id, a timestamp and a skip signal.
 *
 * Rows need not be grouped or sorted: they are spilled to hash partitions of
 * bounded size by user, each partition is sorted by (user, time, line) and
 * cut into sessions at an inactivity gap and a maximum length. Memory is
 * bounded by `partition_bytes`, not by the number of rows.
 *
 * A play is skipped when ANY enabled signal says so:
 *  - flag:   the flag column parses as true (True/true/1);
 *  - played: played < min_played_s seconds, or played/duration <
 *            min_played_frac when duration > 0;
 *  - rating: rating < rating_skip_below.
 */
#ifndef SR_EVENTS_H
#define SR_EVENTS_H

#include "sr_play.h"
#include "sr_rejects.h"

#define SR_EVENTS_NAME_MAX 64

typedef enum sr_time_format {
    SR_TIME_FORMAT_UNIX_S = 0,
    SR_TIME_FORMAT_UNIX_MS,
    SR_TIME_FORMAT_ISO8601   /* YYYY-MM-DD[ T]HH:MM:SS[Z], UTC */
} sr_time_format;

typedef struct sr_events_config {
    char delim;                              /* 0 = by file extension */
    /* column names; "" = unused */
    char user_col[SR_EVENTS_NAME_MAX];       /* user id (sessions cut by gap) */
    char session_col[SR_EVENTS_NAME_MAX];    /* or an explicit session id */
    char track_col[SR_EVENTS_NAME_MAX];
    char time_col[SR_EVENTS_NAME_MAX];
    sr_time_format time_format;
    /* skip signals */
    char flag_col[SR_EVENTS_NAME_MAX];
    char played_col[SR_EVENTS_NAME_MAX];
    char duration_col[SR_EVENTS_NAME_MAX];
    double played_unit_s;                    /* seconds per unit of played/duration (0.001 for ms) */
    double min_played_s;                     /* 0 = rule off */
    double min_played_frac;                  /* 0 = rule off */
    char rating_col[SR_EVENTS_NAME_MAX];
    double rating_skip_below;
    /* sessionisation */
    int64_t session_gap_s;                   /* default 1800 (30 min) */
    uint32_t max_session_len;                /* default 200; a longer run starts a new session */
    size_t partition_bytes;                  /* default 256 MiB */
    const char *tmp_dir;                     /* where partitions spill; NULL = next to nothing, use $TMPDIR or /tmp */
} sr_events_config;

void sr_events_config_default(sr_events_config *c);

/* Check a config for consistency (a track and time column, a user or session
 * column, at least one skip signal). SR_ERR_ARG with a message otherwise. */
sr_err sr_events_config_check(const sr_events_config *c);

/* Read files [n] (plain or .gz) as one log and emit sessions. */
sr_err sr_events_read(const char *const *paths, size_t n, const sr_events_config *c,
                      sr_rejects *rej, sr_session_sink sink, void *ud,
                      sr_read_counts *counts);

#endif /* SR_EVENTS_H */
