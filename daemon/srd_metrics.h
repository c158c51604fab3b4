/* srd_metrics.h - request counters, latency percentiles and process memory
 * for the daemon's `status` reply.
 *
 * Recording is lock-free and allocation-free: every counter is a C11 atomic
 * in fixed arrays sized at srd_metrics_new(), so the front end and all the
 * workers may call srd_metrics_record() at once.
 *
 * Latency histogram (per op; values in nanoseconds), log-linear:
 * - bucket 0 ("underflow") holds [0, 1024) ns;
 * - for 2^10 <= v < 2^37 ns (1.024 us .. 137.4 s), with e = floor(log2 v)
 *   and s = (v >> (e - 5)) - 32 in 0..31, v lies in
 *   [(32 + s) << (e - 5), (33 + s) << (e - 5)): 32 equal sub-buckets per
 *   power of two, 27 octaves, 864 buckets;
 * - the last bucket ("overflow") holds v >= 2^37 ns.
 * A bucket [lo, hi) is at most lo / 32 wide, so for any v in it
 * v < hi <= v * (1 + 1/32): the upper bound overstates v by less than 3.125%.
 *
 * Percentiles use the nearest-rank definition: of N recorded values, the
 * q-percentile is the r-th smallest with r = ceil(q * N) (at least 1),
 * computed in integers (q in units of 1/10000). The reported value is the
 * upper bound `hi` of the bucket holding the r-th value, clamped to the
 * reported max (the true percentile never exceeds the max). So for a true
 * percentile x in 1.024 us .. 137.4 s the report P has x <= P <= x * 33/32;
 * below 1.024 us P <= 1.024 us; in the overflow bucket P = max.
 * max is exact (an atomic maximum) since start; for the recent window it is
 * the `hi` of the highest non-empty bucket clamped to the exact max since
 * start (an upper bound within the same error). With no values (N = 0)
 * every latency figure is 0: a client tells "empty" by total == 0.
 *
 * The recent window ("the last minute"): every SRD_METRICS_SLOT_S seconds of
 * the clock is an epoch. The first record of a new epoch E copies the
 * cumulative per-op counters into checkpoint slot E % SRD_METRICS_RING
 * (tagged E; seqlock-style: the tag is cleared before the copy and published
 * after it). The recent figures are cumulative(now) - checkpoint(E*), where
 * E* is the earliest checkpoint in [now_epoch - SRD_METRICS_WINDOW_S /
 * SRD_METRICS_SLOT_S, now_epoch]; no checkpoint there means no record came
 * in the window, so recent is empty. srd_metrics_new() writes the (zero)
 * checkpoint of the starting epoch itself. Why this rather than two histograms
 * swapped (or ring slots cleared) on a timer: clearing a slot that other
 * threads are incrementing loses their increments unless the writers lock;
 * a difference of monotonic counters never loses or double-counts a record,
 * needs no lock, and costs one copy of the counters per epoch (~97 KB every
 * 5 s) instead of work on every record. Records made while the copy runs
 * (tens of microseconds, once per epoch) may land on either side of the
 * boundary; the totals since start are always exact.
 * With 5 s epochs the window covers records at times >= its start
 * (now_epoch - 12) * 5 s: the last 60 to 64 s (window_s says exactly), or
 * since srd_metrics_new() when that is later.
 */
#ifndef SRD_METRICS_H
#define SRD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "sr_common.h"
#include "sr_proto.h"

/* Per-op arrays: index 0 is "other" (any op outside 1..SR_PROTO_OP_EXPERIMENT),
 * index i is sr_proto_op i. srd_metrics.c static_asserts that this covers
 * the enum. */
#define SRD_METRICS_OPS 14
#define SRD_METRICS_OTHER 0

/* Histogram layout (see above). */
#define SRD_METRICS_SUB_BITS 5                        /* 32 sub-buckets per octave */
#define SRD_METRICS_MIN_EXP 10                        /* 2^10 ns = 1.024 us */
#define SRD_METRICS_MAX_EXP 36                        /* last octave [2^36, 2^37) ns */
#define SRD_METRICS_BUCKETS \
    (2 + (SRD_METRICS_MAX_EXP - SRD_METRICS_MIN_EXP + 1) * (1 << SRD_METRICS_SUB_BITS))

/* Recent window. */
#define SRD_METRICS_SLOT_S 5u    /* epoch length, seconds */
#define SRD_METRICS_WINDOW_S 60u /* the window spans at least this long (when up that long) */
#define SRD_METRICS_RING (SRD_METRICS_WINDOW_S / SRD_METRICS_SLOT_S + 1u)

typedef struct srd_metrics srd_metrics;

/* Latency figures in microseconds (0 when there are no values). */
typedef struct srd_metrics_lat {
    double p50_us, p90_us, p99_us, p999_us, max_us;
} srd_metrics_lat;

typedef struct srd_metrics_stat {
    uint64_t total, ok, errors;  /* total = ok + errors */
    srd_metrics_lat latency;
} srd_metrics_stat;

typedef struct srd_metrics_snap {
    srd_metrics_stat all;                             /* since start, every op */
    srd_metrics_stat recent;                          /* the recent window, every op */
    uint64_t window_s;                                /* length of the recent window */
    srd_metrics_stat by_op[SRD_METRICS_OPS];          /* since start; [0] = other */
    srd_metrics_stat recent_by_op[SRD_METRICS_OPS];   /* the recent window */
} srd_metrics_snap;

/* Process memory from /proc/self/status, in bytes. */
typedef struct srd_mem {
    uint64_t rss_bytes;   /* VmRSS: resident now */
    uint64_t hwm_bytes;   /* VmHWM: peak resident */
    uint64_t vsize_bytes; /* VmSize: virtual size */
} srd_mem;

/* A zeroed metrics block whose recent window starts now. SR_ERR_NOMEM. */
sr_err srd_metrics_new(srd_metrics **out);
void srd_metrics_free(srd_metrics **m);

/* Count one request of `op` (an sr_proto_op; others count as "other") that
 * took `ns` nanoseconds and succeeded (ok) or failed. Thread-safe,
 * lock-free, never allocates. Uses the CLOCK_MONOTONIC second. */
void srd_metrics_record(srd_metrics *m, int op, bool ok, uint64_t ns);
/* The same at an explicit clock reading now_s (seconds on the
 * srd_metrics_now_s() clock): tests drive the recent window with it. */
void srd_metrics_record_at(srd_metrics *m, int op, bool ok, uint64_t ns, uint64_t now_s);

/* Everything at once; safe while other threads record (the figures are
 * then a moment's view, each counter exact at the time it was read). */
void srd_metrics_snapshot(const srd_metrics *m, srd_metrics_snap *out);
void srd_metrics_snapshot_at(const srd_metrics *m, uint64_t now_s, srd_metrics_snap *out);

/* The clock used by the wrappers: whole seconds of CLOCK_MONOTONIC. */
uint64_t srd_metrics_now_s(void);

/* Bucket of a value in ns: its index and bounds [*lo, *hi) (hi = UINT64_MAX
 * for the overflow bucket). For tests and documentation. */
unsigned srd_metrics_bucket(uint64_t ns, uint64_t *lo, uint64_t *hi);

/* Pack ONE msgpack map value (the caller packs the key, e.g. "requests"):
 * {total, ok, errors, latency_us {p50, p90, p99, p999, max},
 *  recent {window_s, total, latency_us {...}},
 *  by_op {<sr_proto_op_name, or "other">: {total, errors, latency_us {...}}}}
 * with by_op holding only ops with total > 0. Latencies are float64. */
void srd_metrics_pack(const srd_metrics_snap *s, msgpack_packer *pk);

/* VmRSS, VmHWM and VmSize of this process. SR_ERR_IO when /proc/self/status
 * cannot be read, SR_ERR_FORMAT when a field is missing or malformed (the
 * message names the file and field). */
sr_err srd_mem_read(srd_mem *out);
/* The same from another file in /proc/<pid>/status format (tests). */
sr_err srd_mem_read_path(const char *path, srd_mem *out);
/* Parse status text: "<Field>:<spaces/tabs><decimal> kB" lines. `what`
 * names the source in messages. */
sr_err srd_mem_parse(sr_str text, const char *what, srd_mem *out);
/* Pack ONE map value {rss_bytes, hwm_bytes, vsize_bytes}. */
void srd_mem_pack(const srd_mem *mem, msgpack_packer *pk);

#endif /* SRD_METRICS_H */
