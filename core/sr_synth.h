/* sr_synth.h - the embedded default dataset: a synthetic generator writing
 * MSSD-format CSV (the 21 columns of SPEC.md section 2), calibrated to MSSD's
 * published marginals, with planted structure. Every result on it is
 * "synthetic". Model and calibration: docs/data.md, "Synthetic data".
 *
 * - listeners with latent tastes, tracks with latent vectors (dim `dim`),
 *   heavy-tailed (Zipf-like) popularity; sessions drift around the taste;
 * - lengths 10..20 with ~45% at 20; skip_2 rate ~0.49 rising with position;
 *   nested flags skip_1 => skip_2 => skip_3; MSSD's context_type mix;
 * - skips INFORMATIVE: likely when the track is far from the current taste;
 *   RANDOM: same marginals, skips independent of the track (the control).
 * Deterministic for a seed; streams rows to disk (memory ~ tracks * dim).
 */
#ifndef SR_SYNTH_H
#define SR_SYNTH_H

#include "sr_common.h"

typedef enum sr_synth_skips {
    SR_SYNTH_SKIPS_INFORMATIVE = 0,
    SR_SYNTH_SKIPS_RANDOM
} sr_synth_skips;

/* Option limits (sr_synth_write fails with SR_ERR_ARG outside them, and with
 * SR_ERR_LIMIT when (tracks + users) * dim exceeds SR_SYNTH_MAX_LATENT). */
#define SR_SYNTH_MAX_SESSIONS 1000000000000ull
#define SR_SYNTH_MAX_TRACKS 100000000u
#define SR_SYNTH_MAX_USERS 100000000u
#define SR_SYNTH_MAX_DIM 256u
#define SR_SYNTH_MAX_DAYS 36500u
#define SR_SYNTH_MAX_ZIPF_S 4.0
#define SR_SYNTH_MAX_LATENT (1ull << 30)  /* floats of latent vectors (4 GiB) */

typedef struct sr_synth_opts {
    uint64_t sessions;      /* default 10000 */
    uint32_t tracks;        /* default 20000 */
    uint32_t users;         /* 0 (the default) = sessions / 4, at least 1 */
    uint32_t dim;           /* latent dimension, default 16 */
    uint64_t seed;          /* default 42 */
    sr_synth_skips skips;   /* default informative */
    double zipf_s;          /* popularity exponent, default 1.0 */
    int64_t start_date;     /* unix seconds of the first day, default 2018-07-15 */
    uint32_t days;          /* sessions spread over this many days, default 14 */
    uint64_t progress_rows; /* call progress about every this many rows; 0 = 1,000,000 */
} sr_synth_opts;

/* bytes: size of the file written (compressed size for .gz). */
typedef struct sr_synth_summary {
    uint64_t sessions, rows, skipped_2, bytes;
} sr_synth_summary;

void sr_synth_opts_default(sr_synth_opts *o);
sr_err sr_synth_skips_parse(sr_str s, sr_synth_skips *out); /* "informative" | "random" */
const char *sr_synth_skips_name(sr_synth_skips s);

/* Write the log to `path` (gzip when it ends in .gz) via "<path>.tmp" and a
 * rename. progress may be NULL; returning false cancels (no file is left).
 * o == NULL means the defaults. Progress is reported in sessions (phase
 * "synth"): once at the start, about every o->progress_rows rows, and once
 * before the rename (done == total). The output is byte-identical for the
 * same options on every machine (docs/data.md, "Synthetic data"). */
sr_err sr_synth_write(const char *path, const sr_synth_opts *o,
                      sr_progress_fn progress, void *ud, sr_synth_summary *out);

#endif /* SR_SYNTH_H */
