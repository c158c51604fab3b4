/* srd_metrics.c - request counters, latency histograms with a recent
 * window, and process memory (srd_metrics.h explains the histogram, the
 * percentile definition and the window). */
#include "srd_metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Index i of the per-op arrays is sr_proto_op i, 0 is "other": the arrays
 * must have exactly one slot per op plus "other". An op added after
 * SR_PROTO_OP_EXPERIMENT must move this check (and the define) along. */
_Static_assert(SRD_METRICS_OPS == SR_PROTO_OP_EXPERIMENT + 1,
               "SRD_METRICS_OPS must cover sr_proto_op 1..SR_PROTO_OP_EXPERIMENT plus other");
_Static_assert(SRD_METRICS_BUCKETS == 866, "1 + 27 octaves x 32 + 1 buckets");
_Static_assert(SRD_METRICS_RING * SRD_METRICS_SLOT_S > SRD_METRICS_WINDOW_S,
               "the ring must hold every epoch of the window");

#define SRD_SUB (1u << SRD_METRICS_SUB_BITS)
#define SRD_MIN_NS ((uint64_t)1 << SRD_METRICS_MIN_EXP)
#define SRD_OVER_NS ((uint64_t)1 << (SRD_METRICS_MAX_EXP + 1))
#define SRD_BUCKET_OVER (SRD_METRICS_BUCKETS - 1)
/* Checkpoint tags: never written, being written, else epoch + SRD_TAG_BASE. */
#define SRD_TAG_EMPTY 0u
#define SRD_TAG_BUSY 1u
#define SRD_TAG_BASE 2u
/* How often a snapshot waits (sched_yield) for a checkpoint being copied,
 * or retries after one changed under it, before it settles for what it
 * has. A copy takes tens of microseconds, so this is never reached unless
 * the copying thread is descheduled for long. */
#define SRD_SNAP_TRIES 1000

/* The percentiles reported (p50, p90, p99, p99.9), in units of 1/10000. */
static const uint32_t srd_quantiles[4] = { 5000, 9000, 9900, 9990 };

typedef struct srd_metrics_opc {
    _Atomic uint64_t ok, err;
    _Atomic uint64_t max_ns;                     /* exact maximum since start */
    _Atomic uint64_t hist[SRD_METRICS_BUCKETS];  /* [bucket] counts since start */
} srd_metrics_opc;

/* A copy of every op's cumulative counters at the start of one epoch. */
typedef struct srd_metrics_ckpt {
    _Atomic uint64_t tag;   /* SRD_TAG_*: epoch + SRD_TAG_BASE once complete */
    atomic_flag writing;    /* one writer per slot; a second one skips */
    _Atomic uint64_t ok[SRD_METRICS_OPS], err[SRD_METRICS_OPS];
    _Atomic uint64_t hist[SRD_METRICS_OPS][SRD_METRICS_BUCKETS];
} srd_metrics_ckpt;

struct srd_metrics {
    uint64_t start_s;          /* srd_metrics_now_s() at creation */
    _Atomic uint64_t epoch;    /* newest epoch checkpointed */
    srd_metrics_opc op[SRD_METRICS_OPS];
    srd_metrics_ckpt ring[SRD_METRICS_RING];
};

/* ---- buckets -------------------------------------------------------------------- */

static unsigned srd_log2_u64(uint64_t v)
{
#if defined(__GNUC__)
    return 63u - (unsigned)__builtin_clzll(v);
#else
    unsigned e = 0;
    while (v >> 1) {
        v >>= 1;
        e++;
    }
    return e;
#endif
}

unsigned srd_metrics_bucket(uint64_t ns, uint64_t *lo, uint64_t *hi)
{
    uint64_t l, h;
    unsigned idx;
    if (ns < SRD_MIN_NS) {
        l = 0;
        h = SRD_MIN_NS;
        idx = 0;
    } else if (ns >= SRD_OVER_NS) {
        l = SRD_OVER_NS;
        h = UINT64_MAX;
        idx = SRD_BUCKET_OVER;
    } else {
        unsigned e = srd_log2_u64(ns);
        unsigned shift = e - SRD_METRICS_SUB_BITS;
        uint64_t s = (ns >> shift) - SRD_SUB; /* 0..31: the top 6 bits are 1sssss */
        idx = 1u + (e - SRD_METRICS_MIN_EXP) * SRD_SUB + (unsigned)s;
        l = (SRD_SUB + s) << shift;
        h = (SRD_SUB + s + 1) << shift;
    }
    if (lo)
        *lo = l;
    if (hi)
        *hi = h;
    return idx;
}

/* Upper bound (exclusive) of bucket b; UINT64_MAX for the overflow bucket. */
static uint64_t srd_bucket_hi(unsigned b)
{
    if (b == 0)
        return SRD_MIN_NS;
    if (b >= SRD_BUCKET_OVER)
        return UINT64_MAX;
    unsigned k = b - 1;
    unsigned e = SRD_METRICS_MIN_EXP + k / SRD_SUB;
    uint64_t s = k % SRD_SUB;
    return (SRD_SUB + s + 1) << (e - SRD_METRICS_SUB_BITS);
}

static unsigned srd_metrics_op_index(int op)
{
    return op >= 1 && op <= (int)SR_PROTO_OP_EXPERIMENT ? (unsigned)op : SRD_METRICS_OTHER;
}

/* ceil(n * q / 10000), at least 1, without overflowing n * q. */
static uint64_t srd_rank(uint64_t n, uint32_t q)
{
    uint64_t r = (n / 10000u) * q + ((n % 10000u) * q + 9999u) / 10000u;
    return r == 0 ? 1 : r;
}

/* Percentiles of h[SRD_METRICS_BUCKETS] whose largest value is at most
 * max_ns (see the header: nearest rank, bucket upper bound clamped to max). */
static void srd_lat_of(const uint64_t *h, uint64_t max_ns, srd_metrics_lat *out)
{
    double *dst[4] = { &out->p50_us, &out->p90_us, &out->p99_us, &out->p999_us };
    uint64_t n = 0;
    memset(out, 0, sizeof *out);
    for (unsigned b = 0; b < SRD_METRICS_BUCKETS; b++)
        n += h[b];
    if (n == 0)
        return;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t r = srd_rank(n, srd_quantiles[i]), seen = 0;
        unsigned b = 0;
        for (; b < SRD_METRICS_BUCKETS - 1; b++) {
            seen += h[b];
            if (seen >= r)
                break;
        }
        uint64_t v = srd_bucket_hi(b);
        *dst[i] = (double)(v < max_ns ? v : max_ns) / 1000.0;
    }
    out->max_us = (double)max_ns / 1000.0;
}

/* ---- life cycle ------------------------------------------------------------------ */

uint64_t srd_metrics_now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0; /* cannot fail for CLOCK_MONOTONIC on Linux */
    return (uint64_t)ts.tv_sec;
}

sr_err srd_metrics_new(srd_metrics **out)
{
    *out = NULL;
    srd_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return sr_errorf(SR_ERR_NOMEM, "metrics: cannot allocate %zu bytes", sizeof *m);
    /* calloc's zeros are the counters' initial values. The epoch of the
     * start gets its checkpoint now - all zeros, as calloc left them - so
     * the burst of records right after start copies nothing, and the
     * window since start is exact until the first epoch boundary. */
    m->start_s = srd_metrics_now_s();
    uint64_t e0 = m->start_s / SRD_METRICS_SLOT_S;
    atomic_init(&m->epoch, e0);
    for (unsigned i = 0; i < SRD_METRICS_RING; i++) {
        atomic_init(&m->ring[i].tag, SRD_TAG_EMPTY);
        atomic_flag_clear(&m->ring[i].writing);
    }
    atomic_init(&m->ring[e0 % SRD_METRICS_RING].tag, e0 + SRD_TAG_BASE);
    *out = m;
    return SR_OK;
}

void srd_metrics_free(srd_metrics **m)
{
    if (!m || !*m)
        return;
    free(*m);
    *m = NULL;
}

/* ---- recording ------------------------------------------------------------------- */

/* Copy the cumulative counters into epoch e's slot. Seqlock writer: the tag
 * is BUSY while the data changes and carries e only once the copy is
 * complete. The data stores are releases so that a reader who sees any new
 * value (acquire) also sees BUSY; on x86 they are plain stores, and unlike
 * fences ThreadSanitizer understands them. */
static void srd_metrics_checkpoint(srd_metrics *m, uint64_t e)
{
    srd_metrics_ckpt *c = &m->ring[e % SRD_METRICS_RING];
    /* Two writers on one slot means epochs 65 s apart raced, one of them
     * stalled all that time; the later one skips and its epoch simply has
     * no checkpoint (the reader then starts the window at the next one). */
    if (atomic_flag_test_and_set_explicit(&c->writing, memory_order_acquire))
        return;
    atomic_store_explicit(&c->tag, SRD_TAG_BUSY, memory_order_relaxed);
    for (unsigned o = 0; o < SRD_METRICS_OPS; o++) {
        const srd_metrics_opc *p = &m->op[o];
        atomic_store_explicit(&c->ok[o], atomic_load_explicit(&p->ok, memory_order_relaxed),
                              memory_order_release);
        atomic_store_explicit(&c->err[o], atomic_load_explicit(&p->err, memory_order_relaxed),
                              memory_order_release);
        for (unsigned b = 0; b < SRD_METRICS_BUCKETS; b++)
            atomic_store_explicit(&c->hist[o][b],
                                  atomic_load_explicit(&p->hist[b], memory_order_relaxed),
                                  memory_order_release);
    }
    atomic_store_explicit(&c->tag, e + SRD_TAG_BASE, memory_order_release);
    atomic_flag_clear_explicit(&c->writing, memory_order_release);
}

void srd_metrics_record_at(srd_metrics *m, int op, bool ok, uint64_t ns, uint64_t now_s)
{
    if (!m)
        return;
    srd_metrics_opc *p = &m->op[srd_metrics_op_index(op)];
    uint64_t e = now_s / SRD_METRICS_SLOT_S;

    /* The first record of a newer epoch checkpoints it, before counting
     * itself, so that it belongs to the new epoch. A late record from an
     * older epoch is counted where the counters are now. */
    uint64_t last = atomic_load_explicit(&m->epoch, memory_order_relaxed);
    while (e > last) {
        if (atomic_compare_exchange_weak_explicit(&m->epoch, &last, e, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            srd_metrics_checkpoint(m, e);
            break;
        }
    }

    /* The maximum first and the bucket with release after it: a reader
     * that sees this bucket's increment (acquire) sees a max >= ns, so its
     * clamp to max never cuts a percentile below the value. */
    uint64_t cur = atomic_load_explicit(&p->max_ns, memory_order_relaxed);
    while (ns > cur && !atomic_compare_exchange_weak_explicit(&p->max_ns, &cur, ns,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
    atomic_fetch_add_explicit(&p->hist[srd_metrics_bucket(ns, NULL, NULL)], 1,
                              memory_order_release);
    atomic_fetch_add_explicit(ok ? &p->ok : &p->err, 1, memory_order_relaxed);
}

void srd_metrics_record(srd_metrics *m, int op, bool ok, uint64_t ns)
{
    srd_metrics_record_at(m, op, ok, ns, srd_metrics_now_s());
}

/* ---- snapshot -------------------------------------------------------------------- */

/* Scan the ring for the earliest complete checkpoint of an epoch in
 * [lo_e, hi_e]. Returns its slot index (or -1) and its tag in *tag; *busy
 * says whether some slot was being written. */
static int srd_metrics_find_ckpt(const srd_metrics *m, uint64_t lo_e, uint64_t hi_e,
                                 uint64_t *tag, bool *busy)
{
    int best = -1;
    *busy = false;
    *tag = 0;
    for (unsigned i = 0; i < SRD_METRICS_RING; i++) {
        uint64_t t = atomic_load_explicit(&m->ring[i].tag, memory_order_acquire);
        if (t == SRD_TAG_BUSY) {
            *busy = true;
            continue;
        }
        if (t < SRD_TAG_BASE)
            continue;
        uint64_t e = t - SRD_TAG_BASE;
        if (e >= lo_e && e <= hi_e && (best < 0 || t < *tag)) {
            best = (int)i;
            *tag = t;
        }
    }
    return best;
}

static void srd_stat_add(srd_metrics_stat *sum, const srd_metrics_stat *s)
{
    sum->total += s->total;
    sum->ok += s->ok;
    sum->errors += s->errors;
}

/* Highest non-empty bucket's upper bound, clamped to cap (0 if empty). */
static uint64_t srd_max_bound(const uint64_t *h, uint64_t cap)
{
    for (unsigned b = SRD_METRICS_BUCKETS; b-- > 0;)
        if (h[b] != 0) {
            uint64_t v = srd_bucket_hi(b);
            return v < cap ? v : cap;
        }
    return 0;
}

/* One pass over every op: cumulative figures, and recent ones against
 * checkpoint slot c (NULL: the window is empty). Each op's cumulative
 * counters are read once and serve both, so recent <= since start. */
static void srd_metrics_fill(const srd_metrics *m, const srd_metrics_ckpt *c,
                             srd_metrics_snap *out)
{
    uint64_t h[SRD_METRICS_BUCKETS];       /* [bucket] one op since start */
    uint64_t d[SRD_METRICS_BUCKETS];       /* [bucket] one op in the window */
    uint64_t all_h[SRD_METRICS_BUCKETS];   /* [bucket] every op since start */
    uint64_t all_d[SRD_METRICS_BUCKETS];   /* [bucket] every op in the window */
    uint64_t all_max = 0, all_dmax = 0;

    memset(all_h, 0, sizeof all_h);
    memset(all_d, 0, sizeof all_d);
    memset(&out->all, 0, sizeof out->all);
    memset(&out->recent, 0, sizeof out->recent);
    for (unsigned o = 0; o < SRD_METRICS_OPS; o++) {
        const srd_metrics_opc *p = &m->op[o];
        srd_metrics_stat *s = &out->by_op[o], *r = &out->recent_by_op[o];
        /* buckets (acquire) before max: see srd_metrics_record_at */
        for (unsigned b = 0; b < SRD_METRICS_BUCKETS; b++)
            h[b] = atomic_load_explicit(&p->hist[b], memory_order_acquire);
        uint64_t max_ns = atomic_load_explicit(&p->max_ns, memory_order_relaxed);
        s->ok = atomic_load_explicit(&p->ok, memory_order_relaxed);
        s->errors = atomic_load_explicit(&p->err, memory_order_relaxed);
        s->total = s->ok + s->errors;
        srd_lat_of(h, max_ns, &s->latency);

        memset(r, 0, sizeof *r);
        if (c) {
            const srd_metrics_ckpt *cw = c;
            /* acquire: see srd_metrics_checkpoint */
            uint64_t ck_ok = atomic_load_explicit(&cw->ok[o], memory_order_acquire);
            uint64_t ck_err = atomic_load_explicit(&cw->err[o], memory_order_acquire);
            /* Counters only grow and the checkpoint was complete before
             * they were read, so these differences are >= 0; the guards
             * are defensive. */
            r->ok = s->ok >= ck_ok ? s->ok - ck_ok : 0;
            r->errors = s->errors >= ck_err ? s->errors - ck_err : 0;
            r->total = r->ok + r->errors;
            for (unsigned b = 0; b < SRD_METRICS_BUCKETS; b++) {
                uint64_t v = atomic_load_explicit(&cw->hist[o][b], memory_order_acquire);
                d[b] = h[b] >= v ? h[b] - v : 0;
            }
        } else {
            memset(d, 0, sizeof d);
        }
        uint64_t dmax = srd_max_bound(d, max_ns);
        srd_lat_of(d, dmax, &r->latency);

        for (unsigned b = 0; b < SRD_METRICS_BUCKETS; b++) {
            all_h[b] += h[b];
            all_d[b] += d[b];
        }
        all_max = SR_MAX(all_max, max_ns);
        all_dmax = SR_MAX(all_dmax, dmax);
        srd_stat_add(&out->all, s);
        srd_stat_add(&out->recent, r);
    }
    srd_lat_of(all_h, all_max, &out->all.latency);
    srd_lat_of(all_d, all_dmax, &out->recent.latency);
}

void srd_metrics_snapshot_at(const srd_metrics *m, uint64_t now_s, srd_metrics_snap *out)
{
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    uint64_t now_e = now_s / SRD_METRICS_SLOT_S;
    uint64_t span = SRD_METRICS_WINDOW_S / SRD_METRICS_SLOT_S;
    uint64_t lo_e = now_e >= span ? now_e - span : 0;
    uint64_t start = lo_e * SRD_METRICS_SLOT_S;
    if (start < m->start_s)
        start = m->start_s;
    out->window_s = now_s > start ? now_s - start : 0;

    for (int attempt = 0;; attempt++) {
        bool busy, last = attempt + 1 >= SRD_SNAP_TRIES;
        uint64_t t1;
        int slot = srd_metrics_find_ckpt(m, lo_e, now_e, &t1, &busy);
        if (busy && !last) {
            /* a checkpoint is being copied and may be the one we need */
            sched_yield();
            continue;
        }
        srd_metrics_fill(m, slot >= 0 ? &m->ring[slot] : NULL, out);
        if (slot < 0 || last)
            return;
        /* seqlock reader: the data reads above (acquire), then the tag again */
        if (atomic_load_explicit(&m->ring[slot].tag, memory_order_relaxed) == t1)
            return;
    }
}

void srd_metrics_snapshot(const srd_metrics *m, srd_metrics_snap *out)
{
    srd_metrics_snapshot_at(m, srd_metrics_now_s(), out);
}

/* ---- packing ---------------------------------------------------------------------- */

static void srd_metrics_pack_lat(msgpack_packer *pk, const srd_metrics_lat *l)
{
    sr_proto_pack_str(pk, "latency_us");
    msgpack_pack_map(pk, 5);
    sr_proto_pack_kv_f64(pk, "p50", l->p50_us);
    sr_proto_pack_kv_f64(pk, "p90", l->p90_us);
    sr_proto_pack_kv_f64(pk, "p99", l->p99_us);
    sr_proto_pack_kv_f64(pk, "p999", l->p999_us);
    sr_proto_pack_kv_f64(pk, "max", l->max_us);
}

void srd_metrics_pack(const srd_metrics_snap *s, msgpack_packer *pk)
{
    uint32_t n_ops = 0;
    for (unsigned o = 0; o < SRD_METRICS_OPS; o++)
        n_ops += s->by_op[o].total > 0;

    msgpack_pack_map(pk, 6);
    sr_proto_pack_kv_u64(pk, "total", s->all.total);
    sr_proto_pack_kv_u64(pk, "ok", s->all.ok);
    sr_proto_pack_kv_u64(pk, "errors", s->all.errors);
    srd_metrics_pack_lat(pk, &s->all.latency);

    sr_proto_pack_str(pk, "recent");
    msgpack_pack_map(pk, 3);
    sr_proto_pack_kv_u64(pk, "window_s", s->window_s);
    sr_proto_pack_kv_u64(pk, "total", s->recent.total);
    srd_metrics_pack_lat(pk, &s->recent.latency);

    sr_proto_pack_str(pk, "by_op");
    msgpack_pack_map(pk, n_ops);
    for (unsigned o = 0; o < SRD_METRICS_OPS; o++) {
        const srd_metrics_stat *st = &s->by_op[o];
        if (st->total == 0)
            continue;
        sr_proto_pack_str(pk, o == SRD_METRICS_OTHER ? "other"
                                                     : sr_proto_op_name((sr_proto_op)o));
        msgpack_pack_map(pk, 3);
        sr_proto_pack_kv_u64(pk, "total", st->total);
        sr_proto_pack_kv_u64(pk, "errors", st->errors);
        srd_metrics_pack_lat(pk, &st->latency);
    }
}

/* ---- memory ------------------------------------------------------------------------ */

/* The value of line "<key>:<blanks><digits> kB" in bytes. false + message
 * when absent or malformed. */
static sr_err srd_mem_field(sr_str text, const char *key, const char *what, uint64_t *out)
{
    size_t klen = strlen(key);
    const char *p = text.ptr, *end = text.ptr + text.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if ((size_t)(eol - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == ':') {
            const char *q = p + klen + 1;
            uint64_t v = 0;
            while (q < eol && (*q == ' ' || *q == '\t'))
                q++;
            const char *digits = q;
            while (q < eol && *q >= '0' && *q <= '9') {
                unsigned dgt = (unsigned)(*q - '0');
                if (v > (UINT64_MAX - dgt) / 10)
                    return sr_errorf(SR_ERR_FORMAT, "%s: %s value overflows", what, key);
                v = v * 10 + dgt;
                q++;
            }
            if (q == digits)
                return sr_errorf(SR_ERR_FORMAT, "%s: %s has no number", what, key);
            while (q < eol && (*q == ' ' || *q == '\t'))
                q++;
            if ((size_t)(eol - q) != 2 || q[0] != 'k' || q[1] != 'B')
                return sr_errorf(SR_ERR_FORMAT, "%s: %s is not in kB", what, key);
            if (v > UINT64_MAX / 1024)
                return sr_errorf(SR_ERR_FORMAT, "%s: %s value overflows", what, key);
            *out = v * 1024;
            return SR_OK;
        }
        p = eol + 1;
    }
    return sr_errorf(SR_ERR_FORMAT, "%s: no %s line", what, key);
}

sr_err srd_mem_parse(sr_str text, const char *what, srd_mem *out)
{
    srd_mem r;
    sr_err e;
    memset(out, 0, sizeof *out);
    if ((e = srd_mem_field(text, "VmRSS", what, &r.rss_bytes)) != SR_OK ||
        (e = srd_mem_field(text, "VmHWM", what, &r.hwm_bytes)) != SR_OK ||
        (e = srd_mem_field(text, "VmSize", what, &r.vsize_bytes)) != SR_OK)
        return e;
    *out = r;
    return SR_OK;
}

sr_err srd_mem_read_path(const char *path, srd_mem *out)
{
    /* /proc/<pid>/status is ~1.5 KB; the Vm* lines come in its first half,
     * so a longer file is parsed from its first 16 KB. */
    char buf[16384];
    size_t len = 0;
    sr_err err = SR_OK;
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sr_errorf(SR_ERR_IO, "open %s: %s", path, strerror(errno));
    while (len < sizeof buf) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = sr_errorf(SR_ERR_IO, "read %s: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    sr_str text = { buf, len };
    err = srd_mem_parse(text, path, out);
done:
    close(fd);
    return err;
}

sr_err srd_mem_read(srd_mem *out)
{
    return srd_mem_read_path("/proc/self/status", out);
}

void srd_mem_pack(const srd_mem *mem, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    sr_proto_pack_kv_u64(pk, "rss_bytes", mem->rss_bytes);
    sr_proto_pack_kv_u64(pk, "hwm_bytes", mem->hwm_bytes);
    sr_proto_pack_kv_u64(pk, "vsize_bytes", mem->vsize_bytes);
}
