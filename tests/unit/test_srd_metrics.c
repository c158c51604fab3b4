/* test_srd_metrics.c - daemon/srd_metrics.c: the log-linear latency buckets
 * and nearest-rank percentiles against hand-computed bucket bounds, exact
 * counts under concurrent recording, the recent window driven by an
 * injected clock (rotation, idle gaps, ring reuse), the msgpack layout of
 * the "requests" value, and process memory from /proc/self/status.
 *
 * Expected bucket bounds were computed independently with python3, where a
 * value v >= 1024 ns has width w = 2^(bit_length(v) - 6) and upper bound
 * (v // w + 1) * w, e.g. 100 us -> [98304, 100352) ns, 5 ms ->
 * [4980736, 5111808) ns, 20 ms -> [19922944, 20447232) ns. */
#include "sr_test.h"

#include <pthread.h>
#include <stdatomic.h>

#include "srd_metrics.h"

/* ns -> the microseconds the module reports */
#define US(ns) ((double)(ns) / 1000.0)
#define ASSERT_US(got, ns) SR_ASSERT_NEAR((got), US(ns), 1e-9)

static srd_metrics *new_metrics(void)
{
    srd_metrics *m = NULL;
    assert_int_equal(srd_metrics_new(&m), SR_OK);
    assert_non_null(m);
    return m;
}

/* A clock reading in the future of the metrics' start, on an epoch
 * boundary, so that injected times are all inside "since start". */
static uint64_t aligned_base(void)
{
    return (srd_metrics_now_s() / SRD_METRICS_SLOT_S + 100) * SRD_METRICS_SLOT_S;
}

static void record_n(srd_metrics *m, int op, bool ok, uint64_t ns, uint64_t now_s, int n)
{
    for (int i = 0; i < n; i++)
        srd_metrics_record_at(m, op, ok, ns, now_s);
}

static void assert_lat_zero(const srd_metrics_lat *l)
{
    assert_true(l->p50_us == 0.0 && l->p90_us == 0.0 && l->p99_us == 0.0 &&
                l->p999_us == 0.0 && l->max_us == 0.0);
}

/* ---- buckets ---------------------------------------------------------------------- */

static void test_bucket_bounds_match_hand_computed_values(void **state)
{
    (void)state;
    static const struct { uint64_t v, lo, hi; } cases[] = {
        { 0, 0, 1024 },
        { 1023, 0, 1024 },
        { 1024, 1024, 1056 },
        { 2047, 2016, 2048 },
        { 2048, 2048, 2112 },
        { 10000, 9984, 10240 },
        { 100000, 98304, 100352 },
        { 5000000, 4980736, 5111808 },
        { 20000000, 19922944, 20447232 },
        { 100000000000ull, 98784247808ull, 100931731456ull }, /* 100 s */
        { 137438953471ull, 135291469824ull, 137438953472ull }, /* 2^37 - 1 */
    };
    for (size_t i = 0; i < SR_COUNTOF(cases); i++) {
        uint64_t lo = 1, hi = 1;
        srd_metrics_bucket(cases[i].v, &lo, &hi);
        assert_int_equal(lo, cases[i].lo);
        assert_int_equal(hi, cases[i].hi);
    }
    uint64_t lo = 0, hi = 0;
    assert_int_equal(srd_metrics_bucket(137438953472ull, &lo, &hi), SRD_METRICS_BUCKETS - 1);
    assert_int_equal(lo, 137438953472ull);
    assert_int_equal(hi, UINT64_MAX);
    assert_int_equal(srd_metrics_bucket(UINT64_MAX, NULL, NULL), SRD_METRICS_BUCKETS - 1);
}

/* Every bucket from 1.024 us to 2^37 ns: contiguous, consecutive indices,
 * and at most lo / 32 wide (the documented 3.125% bound). */
static void test_buckets_are_contiguous_and_at_most_1_32_wide(void **state)
{
    (void)state;
    uint64_t lo = 0, hi = 0;
    unsigned idx = srd_metrics_bucket(1024, &lo, &hi);
    assert_int_equal(idx, 1);
    unsigned n = 1;
    while (hi != UINT64_MAX) {
        uint64_t plo, phi;
        assert_int_equal(srd_metrics_bucket(hi - 1, &plo, &phi), idx);
        assert_int_equal(plo, lo);
        assert_true((hi - lo) * 32 <= lo);
        assert_true(lo < hi);
        uint64_t next = hi;
        unsigned nidx = srd_metrics_bucket(next, &lo, &hi);
        assert_int_equal(nidx, idx + 1);
        assert_int_equal(lo, next);
        idx = nidx;
        n++;
    }
    assert_int_equal(n, SRD_METRICS_BUCKETS - 1); /* all but the underflow bucket */
}

/* ---- percentiles ------------------------------------------------------------------- */

/* 990 x 100 us, 9 x 5 ms, 1 x 20 ms: ranks 500, 900, 990 fall on 100 us,
 * rank 999 on 5 ms, so p50 = p90 = p99 = 100.352, p99.9 = 5111.808,
 * max = 20000 (exact). */
static void test_percentiles_of_990_at_100us_9_at_5ms_1_at_20ms(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    uint64_t t = aligned_base();
    record_n(m, SR_PROTO_OP_RECOMMEND, true, 100000, t, 990);
    record_n(m, SR_PROTO_OP_RECOMMEND, true, 5000000, t, 9);
    record_n(m, SR_PROTO_OP_RECOMMEND, true, 20000000, t, 1);
    srd_metrics_snap s;
    srd_metrics_snapshot_at(m, t, &s);
    const srd_metrics_stat *st = &s.by_op[SR_PROTO_OP_RECOMMEND];
    assert_int_equal(st->total, 1000);
    assert_int_equal(st->ok, 1000);
    assert_int_equal(st->errors, 0);
    ASSERT_US(st->latency.p50_us, 100352);
    ASSERT_US(st->latency.p90_us, 100352);
    ASSERT_US(st->latency.p99_us, 100352);
    ASSERT_US(st->latency.p999_us, 5111808);
    ASSERT_US(st->latency.max_us, 20000000);
    /* one op: the overall and recent figures are the same; recent max is
     * the top bucket's bound clamped to the exact max (here the max) */
    assert_int_equal(s.all.total, 1000);
    assert_memory_equal(&s.all.latency, &st->latency, sizeof st->latency);
    assert_int_equal(s.recent.total, 1000);
    assert_memory_equal(&s.recent.latency, &st->latency, sizeof st->latency);
    srd_metrics_free(&m);
    assert_null(m);
}

/* Nearest rank r = ceil(0.99 * 1000) = 990: with 989 fast values the 990th
 * is slow (p99 = its bucket bound clamped to the max, 5000 us), with 991
 * fast values it is fast (100.352 us). */
static void test_p99_rank_990_decides_between_fast_and_slow(void **state)
{
    (void)state;
    uint64_t t = aligned_base();
    srd_metrics_snap s;

    srd_metrics *m = new_metrics();
    record_n(m, SR_PROTO_OP_STATUS, true, 100000, t, 989);
    record_n(m, SR_PROTO_OP_STATUS, true, 5000000, t, 11);
    srd_metrics_snapshot_at(m, t, &s);
    ASSERT_US(s.all.latency.p90_us, 100352);
    ASSERT_US(s.all.latency.p99_us, 5000000);
    ASSERT_US(s.all.latency.p999_us, 5000000);
    srd_metrics_free(&m);

    m = new_metrics();
    record_n(m, SR_PROTO_OP_STATUS, true, 100000, t, 991);
    record_n(m, SR_PROTO_OP_STATUS, true, 5000000, t, 9);
    srd_metrics_snapshot_at(m, t, &s);
    ASSERT_US(s.all.latency.p99_us, 100352);
    ASSERT_US(s.all.latency.p999_us, 5000000);
    srd_metrics_free(&m);
}

/* 10, 20, 30 us: p50 is rank 2 (20 us -> bound 20.48), p90 rank 3 (30 us,
 * bound 30.208 clamped to the max 30). Sub-microsecond values: the
 * underflow bound 1.024 is clamped to the max 0.7. Over 2^37 ns: the max. */
static void test_small_counts_underflow_and_overflow(void **state)
{
    (void)state;
    uint64_t t = aligned_base();
    srd_metrics_snap s;
    srd_metrics *m = new_metrics();
    srd_metrics_record_at(m, SR_PROTO_OP_JOBS, true, 30000, t);
    srd_metrics_record_at(m, SR_PROTO_OP_JOBS, true, 10000, t);
    srd_metrics_record_at(m, SR_PROTO_OP_JOBS, true, 20000, t);
    srd_metrics_record_at(m, SR_PROTO_OP_CANCEL, true, 500, t);
    srd_metrics_record_at(m, SR_PROTO_OP_CANCEL, true, 700, t);
    srd_metrics_record_at(m, SR_PROTO_OP_TRAIN, true, 100000, t);
    srd_metrics_record_at(m, SR_PROTO_OP_TRAIN, true, 100000, t);
    srd_metrics_record_at(m, SR_PROTO_OP_TRAIN, true, 200000000000ull, t); /* 200 s */
    srd_metrics_snapshot_at(m, t, &s);

    const srd_metrics_lat *j = &s.by_op[SR_PROTO_OP_JOBS].latency;
    ASSERT_US(j->p50_us, 20480);
    ASSERT_US(j->p90_us, 30000);
    ASSERT_US(j->p999_us, 30000);
    ASSERT_US(j->max_us, 30000);
    const srd_metrics_lat *c = &s.by_op[SR_PROTO_OP_CANCEL].latency;
    ASSERT_US(c->p50_us, 700);
    ASSERT_US(c->max_us, 700);
    const srd_metrics_lat *tr = &s.by_op[SR_PROTO_OP_TRAIN].latency;
    ASSERT_US(tr->p50_us, 100352);
    ASSERT_US(tr->p90_us, 200000000000ull);
    ASSERT_US(tr->max_us, 200000000000ull);
    /* overall: 8 values, ranks 4 / 8 / 8 / 8: the 4th smallest is 20 us */
    assert_int_equal(s.all.total, 8);
    ASSERT_US(s.all.latency.p50_us, 20480);
    ASSERT_US(s.all.latency.p90_us, 200000000000ull);
    ASSERT_US(s.all.latency.max_us, 200000000000ull);
    srd_metrics_free(&m);
}

static void test_empty_metrics_report_zeros(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    srd_metrics_snap s;
    memset(&s, 0xff, sizeof s);
    srd_metrics_snapshot(m, &s);
    assert_int_equal(s.all.total, 0);
    assert_int_equal(s.all.ok, 0);
    assert_int_equal(s.all.errors, 0);
    assert_lat_zero(&s.all.latency);
    assert_int_equal(s.recent.total, 0);
    assert_lat_zero(&s.recent.latency);
    for (unsigned o = 0; o < SRD_METRICS_OPS; o++) {
        assert_int_equal(s.by_op[o].total, 0);
        assert_lat_zero(&s.by_op[o].latency);
        assert_lat_zero(&s.recent_by_op[o].latency);
    }
    /* an op with no records next to one with records stays all zeros */
    srd_metrics_record(m, SR_PROTO_OP_STATUS, true, 5000);
    srd_metrics_snapshot(m, &s);
    assert_int_equal(s.by_op[SR_PROTO_OP_STATUS].total, 1);
    assert_int_equal(s.by_op[SR_PROTO_OP_MODELS].total, 0);
    assert_lat_zero(&s.by_op[SR_PROTO_OP_MODELS].latency);
    srd_metrics_free(&m);
    srd_metrics_free(&m); /* NULL-safe twice */
    srd_metrics_free(NULL);
}

static void test_op_outside_enum_counts_under_other(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    uint64_t t = aligned_base();
    srd_metrics_record_at(m, 0, true, 1000, t);
    srd_metrics_record_at(m, -1, false, 1000, t);
    srd_metrics_record_at(m, SR_PROTO_OP_EXPERIMENT + 1, false, 1000, t);
    srd_metrics_record_at(m, 1000000, true, 1000, t);
    srd_metrics_record_at(m, SR_PROTO_OP_EXPERIMENT, true, 1000, t);
    srd_metrics_record_at(m, SR_PROTO_OP_STATUS, false, 1000, t);
    srd_metrics_snap s;
    srd_metrics_snapshot_at(m, t, &s);
    assert_int_equal(s.by_op[SRD_METRICS_OTHER].total, 4);
    assert_int_equal(s.by_op[SRD_METRICS_OTHER].ok, 2);
    assert_int_equal(s.by_op[SRD_METRICS_OTHER].errors, 2);
    assert_int_equal(s.by_op[SR_PROTO_OP_EXPERIMENT].total, 1);
    assert_int_equal(s.by_op[SR_PROTO_OP_STATUS].total, 1);
    assert_int_equal(s.by_op[SR_PROTO_OP_STATUS].errors, 1);
    assert_int_equal(s.all.total, 6);
    assert_int_equal(s.all.ok, 3);
    assert_int_equal(s.all.errors, 3);
    srd_metrics_free(&m);
}

/* ---- concurrency ------------------------------------------------------------------- */

#define CONC_THREADS 4
#define CONC_PER_THREAD 50000

typedef struct conc_arg {
    srd_metrics *m;
    unsigned seed;
    uint64_t base_s;   /* 0: the real clock; else injected, moving 1 s per 500 records */
} conc_arg;

/* Record i of thread `seed`: op cycles over 0..15 (0, 14, 15 are "other"),
 * every 7th fails. The test recomputes the expected counts the same way. */
static int conc_op(unsigned seed, int i) { return (int)((seed * 5u + (unsigned)i) % 16u); }
static bool conc_ok(int i) { return i % 7 != 0; }

static void *conc_run(void *p)
{
    conc_arg *a = p;
    for (int i = 0; i < CONC_PER_THREAD; i++) {
        uint64_t ns = (uint64_t)(i % 1000 + 1) * 1000u;
        if (a->base_s)
            srd_metrics_record_at(a->m, conc_op(a->seed, i), conc_ok(i), ns,
                                  a->base_s + (uint64_t)i / 500u);
        else
            srd_metrics_record(a->m, conc_op(a->seed, i), conc_ok(i), ns);
    }
    return NULL;
}

typedef struct snap_arg {
    const srd_metrics *m;
    uint64_t now_s;
    atomic_bool stop;
    int bad;           /* snapshots that broke an invariant */
    int taken;
} snap_arg;

static bool lat_ordered(const srd_metrics_lat *l)
{
    return l->p50_us <= l->p90_us && l->p90_us <= l->p99_us && l->p99_us <= l->p999_us &&
           l->p999_us <= l->max_us;
}

/* Snapshots taken while the recorders run must be self-consistent. */
static void *snap_run(void *p)
{
    snap_arg *a = p;
    srd_metrics_snap s;
    while (!atomic_load(&a->stop)) {
        srd_metrics_snapshot_at(a->m, a->now_s, &s);
        a->taken++;
        if (s.recent.total > s.all.total || !lat_ordered(&s.all.latency) ||
            !lat_ordered(&s.recent.latency) || s.all.total > CONC_THREADS * CONC_PER_THREAD)
            a->bad++;
        for (unsigned o = 0; o < SRD_METRICS_OPS; o++)
            if (s.recent_by_op[o].total > s.by_op[o].total ||
                !lat_ordered(&s.by_op[o].latency))
                a->bad++;
    }
    return NULL;
}

static void expected_counts(uint64_t total[SRD_METRICS_OPS], uint64_t errors[SRD_METRICS_OPS])
{
    memset(total, 0, sizeof(uint64_t) * SRD_METRICS_OPS);
    memset(errors, 0, sizeof(uint64_t) * SRD_METRICS_OPS);
    for (unsigned t = 0; t < CONC_THREADS; t++)
        for (int i = 0; i < CONC_PER_THREAD; i++) {
            int op = conc_op(t, i);
            int idx = op >= 1 && op <= 13 ? op : 0;
            total[idx]++;
            errors[idx] += !conc_ok(i);
        }
}

static void run_concurrent(srd_metrics *m, uint64_t base_s, snap_arg *sa)
{
    pthread_t th[CONC_THREADS], st;
    conc_arg args[CONC_THREADS];
    if (sa)
        assert_int_equal(pthread_create(&st, NULL, snap_run, sa), 0);
    for (unsigned t = 0; t < CONC_THREADS; t++) {
        args[t] = (conc_arg){ m, t, base_s };
        assert_int_equal(pthread_create(&th[t], NULL, conc_run, &args[t]), 0);
    }
    for (unsigned t = 0; t < CONC_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    if (sa) {
        atomic_store(&sa->stop, true);
        assert_int_equal(pthread_join(st, NULL), 0);
    }
}

static void test_concurrent_records_give_exact_counts(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    run_concurrent(m, 0, NULL);
    uint64_t total[SRD_METRICS_OPS], errors[SRD_METRICS_OPS];
    expected_counts(total, errors);
    srd_metrics_snap s;
    srd_metrics_snapshot(m, &s);
    assert_int_equal(s.all.total, CONC_THREADS * CONC_PER_THREAD);
    for (unsigned o = 0; o < SRD_METRICS_OPS; o++) {
        assert_int_equal(s.by_op[o].total, total[o]);
        assert_int_equal(s.by_op[o].errors, errors[o]);
        assert_int_equal(s.by_op[o].ok, total[o] - errors[o]);
        /* all of it happened within the last minute and after start */
        assert_int_equal(s.recent_by_op[o].total, total[o]);
    }
    assert_int_equal(s.recent.total, CONC_THREADS * CONC_PER_THREAD);
    /* every value is (k + 1) us for k in 0..999: the max is exactly 1 ms */
    ASSERT_US(s.all.latency.max_us, 1000000);
    srd_metrics_free(&m);
}

/* The injected clock crosses an epoch every 2500 records per thread, so
 * checkpoints are taken while other threads record and a reader takes
 * snapshots: counts stay exact, recent never exceeds since-start, and
 * every snapshot is ordered p50 <= ... <= max. */
static void test_concurrent_records_across_epochs_with_reader(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    uint64_t base = aligned_base();
    snap_arg sa = { .m = m, .now_s = base + CONC_PER_THREAD / 500 };
    atomic_init(&sa.stop, false);
    run_concurrent(m, base, &sa);
    assert_int_equal(sa.bad, 0);
    assert_true(sa.taken > 0);
    uint64_t total[SRD_METRICS_OPS], errors[SRD_METRICS_OPS];
    expected_counts(total, errors);
    srd_metrics_snap s;
    srd_metrics_snapshot_at(m, base + CONC_PER_THREAD / 500, &s);
    for (unsigned o = 0; o < SRD_METRICS_OPS; o++) {
        assert_int_equal(s.by_op[o].total, total[o]);
        assert_int_equal(s.by_op[o].errors, errors[o]);
    }
    /* the clock ran 100 s; the window (60..64 s) holds some but not all */
    assert_true(s.recent.total > 0);
    assert_true(s.recent.total < s.all.total);
    srd_metrics_free(&m);
}

/* ---- the recent window ------------------------------------------------------------- */

static void test_recent_window_rotates_out_old_records(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    uint64_t t0 = aligned_base(); /* epoch E0 */
    srd_metrics_snap s;

    record_n(m, SR_PROTO_OP_STATUS, true, 50000, t0, 5);               /* E0 */
    record_n(m, SR_PROTO_OP_RECOMMEND, true, 2000000, t0 + 30, 6);     /* E0 + 6 */
    srd_metrics_record_at(m, SR_PROTO_OP_RECOMMEND, false, 3000000, t0 + 31);

    /* now = t0 + 60: the window starts at epoch E0 (t0): everything */
    srd_metrics_snapshot_at(m, t0 + 60, &s);
    assert_int_equal(s.window_s, 60);
    assert_int_equal(s.recent.total, 12);
    assert_int_equal(s.recent.errors, 1);
    /* t0 + 64 is still epoch E0 + 12: same window, 64 s long */
    srd_metrics_snapshot_at(m, t0 + 64, &s);
    assert_int_equal(s.window_s, 64);
    assert_int_equal(s.recent.total, 12);
    /* t0 + 65: the window starts at t0 + 5; the status records left it */
    srd_metrics_snapshot_at(m, t0 + 65, &s);
    assert_int_equal(s.window_s, 60);
    assert_int_equal(s.recent.total, 7);
    assert_int_equal(s.recent_by_op[SR_PROTO_OP_STATUS].total, 0);
    assert_lat_zero(&s.recent_by_op[SR_PROTO_OP_STATUS].latency);
    assert_int_equal(s.recent_by_op[SR_PROTO_OP_RECOMMEND].total, 7);
    /* 6 x 2 ms, 1 x 3 ms: rank 4 -> 2 ms bucket [1998848, 2031616) */
    ASSERT_US(s.recent.latency.p50_us, 2031616);
    ASSERT_US(s.recent.latency.max_us, 3000000);
    /* since start is unchanged */
    assert_int_equal(s.all.total, 12);
    ASSERT_US(s.all.latency.p50_us, 2031616); /* rank 6 of 12 */
    /* t0 + 94: window starts at t0 + 30 (epoch E0 + 6): still in */
    srd_metrics_snapshot_at(m, t0 + 94, &s);
    assert_int_equal(s.recent.total, 7);
    /* t0 + 95: the window starts at t0 + 35: empty */
    srd_metrics_snapshot_at(m, t0 + 95, &s);
    assert_int_equal(s.recent.total, 0);
    assert_lat_zero(&s.recent.latency);
    assert_int_equal(s.window_s, 60);
    assert_int_equal(s.all.total, 12);
    srd_metrics_free(&m);
}

/* After an idle gap longer than the ring, new records start a fresh window;
 * a late record (an older clock reading than the newest epoch) counts in
 * the current window. */
static void test_recent_window_after_idle_gap_and_late_record(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    uint64_t t0 = aligned_base();
    srd_metrics_snap s;
    record_n(m, SR_PROTO_OP_STATUS, true, 50000, t0, 4);
    record_n(m, SR_PROTO_OP_STATUS, true, 50000, t0 + 200, 3);
    srd_metrics_snapshot_at(m, t0 + 201, &s);
    assert_int_equal(s.recent.total, 3);
    srd_metrics_record_at(m, SR_PROTO_OP_STATUS, true, 50000, t0 + 100);
    srd_metrics_snapshot_at(m, t0 + 201, &s);
    assert_int_equal(s.recent.total, 4);
    assert_int_equal(s.all.total, 8);
    srd_metrics_free(&m);
}

/* One record every 3 s for 300 s (the ring of 13 slots is reused many
 * times); after each, the recent count equals the number of records at or
 * after the window start (floor(now / 5) - 12) * 5, counted here directly. */
static void test_recent_window_over_many_ring_cycles(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    uint64_t t0 = aligned_base();
    srd_metrics_snap s;
    for (uint64_t k = 0; k < 100; k++) {
        uint64_t now = t0 + 3 * k;
        srd_metrics_record_at(m, SR_PROTO_OP_RECOMMEND, true, 100000, now);
        srd_metrics_snapshot_at(m, now, &s);
        uint64_t start = (now / 5 - 12) * 5, expect = 0;
        for (uint64_t j = 0; j <= k; j++)
            expect += t0 + 3 * j >= start;
        assert_int_equal(s.recent.total, expect);
        assert_int_equal(s.all.total, k + 1);
        assert_int_equal(s.window_s, now - start);
    }
    srd_metrics_free(&m);
}

/* Right after start the window is as long as the uptime, not 60 s. */
static void test_recent_window_is_capped_by_uptime(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    uint64_t now = srd_metrics_now_s();
    srd_metrics_snap s;
    srd_metrics_snapshot_at(m, now + 2, &s);
    assert_true(s.window_s >= 2 && s.window_s <= 3);
    srd_metrics_free(&m);
}

/* ---- msgpack ------------------------------------------------------------------------ */

static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
    assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static uint64_t get_u64(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = map_get(map, key);
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    return v->via.u64;
}

static double get_f64(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = map_get(map, key);
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_FLOAT64);
    return v->via.f64;
}

static void check_lat(const msgpack_object *parent, double p50, double p90, double p99,
                      double p999, double max)
{
    const msgpack_object *l = map_get(parent, "latency_us");
    assert_non_null(l);
    assert_int_equal(l->via.map.size, 5);
    SR_ASSERT_NEAR(get_f64(l, "p50"), p50, 1e-9);
    SR_ASSERT_NEAR(get_f64(l, "p90"), p90, 1e-9);
    SR_ASSERT_NEAR(get_f64(l, "p99"), p99, 1e-9);
    SR_ASSERT_NEAR(get_f64(l, "p999"), p999, 1e-9);
    SR_ASSERT_NEAR(get_f64(l, "max"), max, 1e-9);
}

/* Pack with a key before the value (as the status reply does) and decode. */
static void pack_and_unpack(const srd_metrics_snap *s, msgpack_sbuffer *sb, msgpack_unpacked *up)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    sr_proto_pack_str(&pk, "requests");
    srd_metrics_pack(s, &pk);
    msgpack_unpacked_init(up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(up, sb->data, sb->size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb->size); /* exactly one value: nothing left over */
}

static void test_pack_decodes_with_every_member(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    uint64_t t = aligned_base();
    record_n(m, SR_PROTO_OP_STATUS, true, 100000, t, 2);
    srd_metrics_record_at(m, SR_PROTO_OP_RECOMMEND, false, 5000000, t);
    srd_metrics_record_at(m, 77, true, 10000, t);
    srd_metrics_snap s;
    srd_metrics_snapshot_at(m, t + 1, &s);

    msgpack_sbuffer sb;
    msgpack_unpacked up;
    pack_and_unpack(&s, &sb, &up);
    const msgpack_object *r = map_get(&up.data, "requests");
    assert_non_null(r);
    assert_int_equal(r->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(r->via.map.size, 6);
    assert_int_equal(get_u64(r, "total"), 4);
    assert_int_equal(get_u64(r, "ok"), 3);
    assert_int_equal(get_u64(r, "errors"), 1);
    /* 10 us, 100 us, 100 us, 5 ms: p50 rank 2 -> 100.352; p90.. rank 4 -> 5 ms */
    check_lat(r, 100.352, 5000.0, 5000.0, 5000.0, 5000.0);

    const msgpack_object *rec = map_get(r, "recent");
    assert_non_null(rec);
    assert_int_equal(rec->via.map.size, 3);
    assert_int_equal(get_u64(rec, "total"), 4);
    assert_int_equal(get_u64(rec, "window_s"), s.window_s);
    check_lat(rec, 100.352, 5000.0, 5000.0, 5000.0, 5000.0);

    const msgpack_object *by = map_get(r, "by_op");
    assert_non_null(by);
    assert_int_equal(by->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(by->via.map.size, 3); /* only ops with total > 0 */
    const msgpack_object *st = map_get(by, "status");
    assert_non_null(st);
    assert_int_equal(st->via.map.size, 3);
    assert_int_equal(get_u64(st, "total"), 2);
    assert_int_equal(get_u64(st, "errors"), 0);
    check_lat(st, 100.0, 100.0, 100.0, 100.0, 100.0); /* 100.352 clamped to the max */
    const msgpack_object *rc = map_get(by, "recommend");
    assert_non_null(rc);
    assert_int_equal(get_u64(rc, "total"), 1);
    assert_int_equal(get_u64(rc, "errors"), 1);
    const msgpack_object *ot = map_get(by, "other");
    assert_non_null(ot);
    assert_int_equal(get_u64(ot, "total"), 1);
    check_lat(ot, 10.0, 10.0, 10.0, 10.0, 10.0);
    assert_null(map_get(by, "train"));

    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    srd_metrics_free(&m);
}

static void test_pack_of_empty_metrics_has_zeros_and_no_ops(void **state)
{
    (void)state;
    srd_metrics *m = new_metrics();
    srd_metrics_snap s;
    srd_metrics_snapshot(m, &s);
    msgpack_sbuffer sb;
    msgpack_unpacked up;
    pack_and_unpack(&s, &sb, &up);
    const msgpack_object *r = map_get(&up.data, "requests");
    assert_non_null(r);
    assert_int_equal(get_u64(r, "total"), 0);
    check_lat(r, 0, 0, 0, 0, 0);
    const msgpack_object *by = map_get(r, "by_op");
    assert_non_null(by);
    assert_int_equal(by->via.map.size, 0);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    srd_metrics_free(&m);
}

/* ---- memory --------------------------------------------------------------------------- */

static void test_mem_read_is_plausible_and_sees_touched_memory(void **state)
{
    (void)state;
    srd_mem a, b;
    assert_int_equal(srd_mem_read(&a), SR_OK);
    assert_true(a.rss_bytes > 0);
    assert_true(a.hwm_bytes >= a.rss_bytes);
    assert_true(a.vsize_bytes >= a.rss_bytes);
    assert_int_equal(a.rss_bytes % 1024, 0);
    /* touch 64 MiB: resident memory grows by most of it */
    size_t n = (size_t)64 << 20;
    volatile char *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i += 4096)
        p[i] = (char)i;
    assert_int_equal(srd_mem_read(&b), SR_OK);
    assert_true(b.rss_bytes >= a.rss_bytes + ((uint64_t)48 << 20));
    assert_true(b.hwm_bytes >= b.rss_bytes);
    free((void *)(uintptr_t)p);
}

static void test_mem_parse_hand_written_status(void **state)
{
    (void)state;
    const char *text = "Name:\tseqrecd\nVmPeak:\t  9999 kB\nVmSize:\t    2048 kB\n"
                       "VmHWM:\t     300 kB\nVmRSSX:\t 1 kB\nVmRSS:\t     200 kB\nThreads:\t4";
    srd_mem mem;
    assert_int_equal(srd_mem_parse(sr_str_c(text), "t", &mem), SR_OK);
    assert_int_equal(mem.rss_bytes, 200 * 1024);
    assert_int_equal(mem.hwm_bytes, 300 * 1024);
    assert_int_equal(mem.vsize_bytes, 2048 * 1024);

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    srd_mem_pack(&mem, &pk);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(up.data.via.map.size, 3);
    assert_int_equal(get_u64(&up.data, "rss_bytes"), 204800);
    assert_int_equal(get_u64(&up.data, "hwm_bytes"), 307200);
    assert_int_equal(get_u64(&up.data, "vsize_bytes"), 2097152);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

static void test_mem_parse_missing_or_malformed_field_fails(void **state)
{
    (void)state;
    srd_mem mem;
    assert_int_equal(srd_mem_parse(sr_str_c("VmSize: 1 kB\nVmRSS: 1 kB\n"), "f1", &mem),
                     SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "f1: no VmHWM line"));
    assert_int_equal(mem.rss_bytes, 0);
    assert_int_equal(srd_mem_parse(sr_str_c("VmSize: 1 kB\nVmHWM: 1 kB\nVmRSS: 1 MB\n"),
                                   "f2", &mem), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "VmRSS is not in kB"));
    assert_int_equal(srd_mem_parse(sr_str_c("VmSize: 1 kB\nVmHWM: kB\nVmRSS: 1 kB\n"),
                                   "f3", &mem), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "VmHWM has no number"));
    assert_int_equal(srd_mem_parse(sr_str_c("VmSize: 99999999999999999999 kB\nVmHWM: 1 kB\n"
                                            "VmRSS: 1 kB\n"), "f4", &mem), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "overflows"));
    assert_int_equal(srd_mem_parse(sr_str_c(""), "f5", &mem), SR_ERR_FORMAT);
}

static void test_mem_read_of_missing_file_is_io_error_naming_it(void **state)
{
    (void)state;
    srd_mem mem;
    assert_int_equal(srd_mem_read_path("/nonexistent-dir/status", &mem), SR_ERR_IO);
    assert_non_null(strstr(sr_errmsg(), "/nonexistent-dir/status"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_bounds_match_hand_computed_values),
        cmocka_unit_test(test_buckets_are_contiguous_and_at_most_1_32_wide),
        cmocka_unit_test(test_percentiles_of_990_at_100us_9_at_5ms_1_at_20ms),
        cmocka_unit_test(test_p99_rank_990_decides_between_fast_and_slow),
        cmocka_unit_test(test_small_counts_underflow_and_overflow),
        cmocka_unit_test(test_empty_metrics_report_zeros),
        cmocka_unit_test(test_op_outside_enum_counts_under_other),
        cmocka_unit_test(test_concurrent_records_give_exact_counts),
        cmocka_unit_test(test_concurrent_records_across_epochs_with_reader),
        cmocka_unit_test(test_recent_window_rotates_out_old_records),
        cmocka_unit_test(test_recent_window_after_idle_gap_and_late_record),
        cmocka_unit_test(test_recent_window_over_many_ring_cycles),
        cmocka_unit_test(test_recent_window_is_capped_by_uptime),
        cmocka_unit_test(test_pack_decodes_with_every_member),
        cmocka_unit_test(test_pack_of_empty_metrics_has_zeros_and_no_ops),
        cmocka_unit_test(test_mem_read_is_plausible_and_sees_touched_memory),
        cmocka_unit_test(test_mem_parse_hand_written_status),
        cmocka_unit_test(test_mem_parse_missing_or_malformed_field_fails),
        cmocka_unit_test(test_mem_read_of_missing_file_is_io_error_naming_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
