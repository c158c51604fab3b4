/* test_batch.c - sr_batch: the Feistel permutation, window arithmetic, the
 * training part of each split, and the batch stream (coverage per epoch,
 * held-out plays, unseen tracks, skip flags, partial last batch, seek,
 * seeds, refusals).
 *
 * Stores are built here with the streaming writer. In the "tagged" stores
 * the track of global play p is p itself (n_tracks = n_plays), so every
 * valid position of a batch names the play it came from; the test computes
 * the expected windows itself from SPEC.md section 5 and sr_batch.h. */
#include "sr_test.h"

#include <inttypes.h>

#include "sr_batch.h"
#include "sr_store.h"

/* ---- building stores --------------------------------------------------------- */

typedef struct spec {
    sr_split_kind kind;
    uint64_t n_sessions, n_plays;
    uint32_t *len;    /* [n_sessions] */
    uint8_t *split;   /* [n_sessions] */
    uint64_t *off;    /* [n_sessions + 1] */
    int32_t *track;   /* [n_plays] p, or SR_TRACK_UNSEEN */
    uint8_t *fb;      /* [n_plays] */
} spec;

static void spec_init(spec *s, sr_split_kind kind, uint64_t n_sessions, const uint32_t *len,
                      const uint8_t *split)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->n_sessions = n_sessions;
    s->len = malloc(n_sessions * sizeof *s->len);
    s->split = malloc(n_sessions);
    s->off = malloc((n_sessions + 1) * sizeof *s->off);
    assert_non_null(s->len);
    assert_non_null(s->split);
    assert_non_null(s->off);
    s->off[0] = 0;
    for (uint64_t i = 0; i < n_sessions; i++) {
        s->len[i] = len[i];
        s->split[i] = split[i];
        s->off[i + 1] = s->off[i] + len[i];
    }
    s->n_plays = s->off[n_sessions];
    s->track = malloc(s->n_plays * sizeof *s->track + 1);
    s->fb = malloc(s->n_plays + 1);
    assert_non_null(s->track);
    assert_non_null(s->fb);
    /* Feedback: SR_FB_SKIPPED on every third play, raw skip bits that the
     * batcher must NOT read as the label on others. */
    for (uint64_t p = 0; p < s->n_plays; p++) {
        s->track[p] = (int32_t)p;
        s->fb[p] = p % 3 == 0 ? (uint8_t)(SR_FB_SKIPPED | SR_FB_SKIP_3)
                              : (uint8_t)(SR_FB_SKIP_1 | SR_FB_SKIP_2 | SR_FB_SKIP_3);
    }
}

static void spec_free(spec *s)
{
    free(s->len);
    free(s->split);
    free(s->off);
    free(s->track);
    free(s->fb);
    memset(s, 0, sizeof *s);
}

static void spec_write(const spec *s, const char *path)
{
    sr_store_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.split = s->kind;
    meta.skip_rule = SR_SKIP_RULE_SKIP_2;
    meta.source = SR_SOURCE_FORMAT_SYNTH;
    snprintf(meta.name, sizeof meta.name, "batch-test");
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(path, &meta, &w), SR_OK);
    uint32_t maxlen = 1;
    for (uint64_t i = 0; i < s->n_sessions; i++)
        maxlen = SR_MAX(maxlen, s->len[i]);
    uint16_t *pos = calloc(maxlen, sizeof *pos);
    int64_t *t = calloc(maxlen, sizeof *t);
    uint32_t *ctx = calloc(maxlen, sizeof *ctx);
    assert_non_null(pos);
    assert_non_null(t);
    assert_non_null(ctx);
    for (uint64_t i = 0; i < s->n_sessions; i++)
        assert_int_equal(sr_store_writer_add(w, s->split[i], (int64_t)i, s->len[i],
                                             s->track + s->off[i], s->fb + s->off[i], pos, t,
                                             ctx),
                         SR_OK);
    uint32_t n_tracks = (uint32_t)s->n_plays;
    sr_str *ids = calloc(n_tracks + 1, sizeof *ids);
    char *idbuf = calloc((size_t)n_tracks + 1, 12);
    uint32_t *cnt = calloc(n_tracks + 1, sizeof *cnt);
    assert_non_null(ids);
    assert_non_null(idbuf);
    assert_non_null(cnt);
    for (uint32_t i = 0; i < n_tracks; i++) {
        int k = snprintf(idbuf + (size_t)i * 12, 12, "t%u", i);
        ids[i].ptr = idbuf + (size_t)i * 12;
        ids[i].len = (size_t)k;
    }
    assert_int_equal(sr_store_writer_finish(&w, n_tracks, ids, cnt, cnt, NULL), SR_OK);
    free(ids);
    free(idbuf);
    free(cnt);
    free(pos);
    free(t);
    free(ctx);
}

static sr_store *spec_open(const spec *s, const char *name)
{
    const char *path = sr_test_path(name);
    spec_write(s, path);
    sr_store *st = NULL;
    assert_int_equal(sr_store_open(path, &st), SR_OK);
    return st;
}

/* Training part of session i by SPEC.md section 5, computed here. */
static void spec_part(const spec *s, uint64_t i, uint64_t *first, uint32_t *n)
{
    *first = s->off[i];
    if (s->split[i] == SR_SPLIT_ALL)
        *n = s->len[i] >= 2 ? s->len[i] - 2 : 0;
    else if (s->split[i] == SR_SPLIT_TRAIN)
        *n = s->len[i];
    else
        *n = 0;
}

/* A deterministic spread of session lengths 1..45. */
static uint32_t mixed_len(uint64_t i)
{
    return (uint32_t)((i * 7919u + 13u) % 45u) + 1;
}

/* ---- the permutation ------------------------------------------------------------ */

static void assert_bijection(uint64_t n, uint64_t key)
{
    uint8_t *seen = calloc(n, 1);
    assert_non_null(seen);
    for (uint64_t p = 0; p < n; p++) {
        uint64_t x = sr_batch_permute(p, n, key);
        if (x >= n)
            fail_msg("n %" PRIu64 " key %" PRIu64 ": position %" PRIu64 " -> %" PRIu64, n, key,
                     p, x);
        if (seen[x])
            fail_msg("n %" PRIu64 " key %" PRIu64 ": %" PRIu64 " reached twice", n, key, x);
        seen[x] = 1;
    }
    free(seen);
}

static void test_batch_permute_is_bijection_for_many_n(void **state)
{
    (void)state;
    static const uint64_t ns[] = { 1,   2,   3,   4,    5,    7,    8,    15,    16,   17,
                                   63,  64,  65,  255,  256,  257,  1000, 1023,  1024, 1025,
                                   4095, 4096, 4097, 65535, 65536, 65537, 100003 };
    static const uint64_t keys[] = { 0, 1, 42, UINT64_MAX };
    for (size_t i = 0; i < SR_COUNTOF(ns); i++)
        for (size_t k = 0; k < SR_COUNTOF(keys); k++)
            assert_bijection(ns[i], keys[k]);
}

/* Values of an independent Python implementation of the algorithm described
 * in sr_batch.c (domain 2^(2h), 4 rounds, round key mix(key ^ mix(r + 1)),
 * F(r) = mix(r ^ rk) & mask, cycle-walking). */
static void test_batch_permute_matches_reference_values(void **state)
{
    (void)state;
    static const uint64_t want10[10] = { 1, 9, 6, 7, 3, 0, 8, 2, 4, 5 };
    for (uint64_t p = 0; p < 10; p++)
        assert_int_equal(sr_batch_permute(p, 10, 42), want10[p]);
    static const uint64_t want1000[8] = { 965, 586, 114, 757, 806, 343, 331, 792 };
    for (uint64_t p = 0; p < 8; p++)
        assert_int_equal(sr_batch_permute(p, 1000, 0xdeadbeef), want1000[p]);
    /* the largest domain (h = 32 bits a half) */
    assert_true(sr_batch_permute(0, UINT64_MAX, 5) == UINT64_C(671440600629620985));
    assert_true(sr_batch_permute(1, UINT64_MAX, 5) == UINT64_C(3181739961857312404));
    assert_true(sr_batch_permute(2, UINT64_MAX, 5) == UINT64_C(6888899612334067507));
}

static void test_batch_permute_differs_across_keys(void **state)
{
    (void)state;
    const uint64_t n = 1000;
    /* Two independent random permutations agree in about one place, and a
     * random one fixes about one point. */
    for (uint64_t key = 0; key < 8; key++) {
        int same = 0, fixed = 0;
        for (uint64_t p = 0; p < n; p++) {
            uint64_t a = sr_batch_permute(p, n, key), b = sr_batch_permute(p, n, key + 1);
            same += a == b;
            fixed += a == p;
        }
        assert_true(same < 20);
        assert_true(fixed < 20);
    }
}

/* ---- windows and training parts ------------------------------------------------ */

static void test_batch_windows_hand_computed(void **state)
{
    (void)state;
    assert_int_equal(sr_batch_windows(0, 20), 0);
    assert_int_equal(sr_batch_windows(1, 20), 0);
    assert_int_equal(sr_batch_windows(2, 20), 1);  /* 1 target */
    assert_int_equal(sr_batch_windows(20, 20), 1); /* 19 targets fill one window */
    assert_int_equal(sr_batch_windows(21, 20), 2); /* 20 targets */
    assert_int_equal(sr_batch_windows(25, 20), 2);
    assert_int_equal(sr_batch_windows(39, 20), 2); /* 38 = 2 x 19 */
    assert_int_equal(sr_batch_windows(40, 20), 3);
    assert_int_equal(sr_batch_windows(5, 2), 4);   /* L = 2: one target a window */
    assert_int_equal(sr_batch_windows(UINT32_MAX, 2), UINT32_MAX - 1);
}

static void test_batch_train_range_per_split(void **state)
{
    (void)state;
    static const uint32_t len[7] = { 5, 2, 3, 4, 4, 4, 1 };
    static const uint8_t split[7] = { SR_SPLIT_ALL,   SR_SPLIT_ALL,   SR_SPLIT_ALL,
                                      SR_SPLIT_TRAIN, SR_SPLIT_VALID, SR_SPLIT_TEST,
                                      SR_SPLIT_TRAIN };
    spec s;
    spec_init(&s, SR_SPLIT_KIND_TEMPORAL, 7, len, split);
    sr_store *st = spec_open(&s, "range.srs");
    static const uint64_t want_first[7] = { 0, 5, 7, 10, 14, 18, 22 };
    static const uint32_t want_n[7] = { 3, 0, 1, 4, 0, 0, 1 };
    for (uint64_t i = 0; i < 7; i++) {
        uint64_t first = 99;
        uint32_t n = 99;
        sr_batch_train_range(st, i, &first, &n);
        assert_int_equal(n, want_n[i]);
        if (n > 0)
            assert_int_equal(first, want_first[i]);
    }
    sr_store_close(&st);
    spec_free(&s);
}

/* ---- reading a batch -------------------------------------------------------------- */

/* Row r holds plays [a, e) of the tagged store, right-padded. */
static void assert_row(const int32_t *tracks, const uint8_t *skipped, const uint8_t *valid,
                       int r, int L, uint64_t a, uint64_t e, const spec *s)
{
    for (int l = 0; l < L; l++) {
        size_t i = (size_t)r * (size_t)L + (size_t)l;
        uint64_t p = a + (uint64_t)l;
        if (p < e && s->track[p] >= 0) {
            if (tracks[i] != (int32_t)p || valid[i] != 1)
                fail_msg("row %d pos %d: track %d valid %d, expected play %" PRIu64, r, l,
                         tracks[i], valid[i], p);
            assert_int_equal(skipped[i], (s->fb[p] & SR_FB_SKIPPED) ? 1 : 0);
        } else {
            if (tracks[i] != -1 || valid[i] != 0 || skipped[i] != 0)
                fail_msg("row %d pos %d: track %d valid %d skipped %d, expected padding", r, l,
                         tracks[i], valid[i], skipped[i]);
        }
    }
}

/* n = 25, L = 20: w = 2; window 0 ends at 25 and starts at 5 (x_6..x_25,
 * 1-based), window 1 ends at 25 - 19 = 6 and starts at 0 (x_1..x_6); emitted
 * oldest first, sharing play 5. n = 2: one window [0, 2). n = 40: windows
 * [0, 2), [1, 21), [20, 40). */
static void test_batch_windows_end_aligned_oldest_first(void **state)
{
    (void)state;
    static const uint32_t len[3] = { 25, 2, 40 };
    static const uint8_t split[3] = { SR_SPLIT_TRAIN, SR_SPLIT_TRAIN, SR_SPLIT_TRAIN };
    spec s;
    spec_init(&s, SR_SPLIT_KIND_TEMPORAL, 3, len, split);
    sr_store *st = spec_open(&s, "windows.srs");
    sr_batch_config c = { .B = 6, .L = 20, .seed = 1 };
    sr_batcher *b = NULL;
    assert_int_equal(sr_batcher_new(st, &c, &b), SR_OK);
    assert_int_equal(sr_batcher_windows_per_epoch(b), 6);
    assert_int_equal(sr_batcher_batches_per_epoch(b), 1);
    const int32_t *tr;
    const uint8_t *sk, *va;
    bool end = false;
    assert_int_equal(sr_batcher_next(b, &tr, &sk, &va, &end), 6);
    assert_true(end);
    /* Find each session's first row by its first track, then check them in
     * the order the permutation put the sessions. */
    int rows_seen = 0;
    for (int r = 0; r < 6;) {
        int32_t t0 = tr[(size_t)r * 20];
        if (t0 == 0) { /* session 0: plays 0..24 */
            assert_row(tr, sk, va, r, 20, 0, 6, &s);
            assert_row(tr, sk, va, r + 1, 20, 5, 25, &s);
            r += 2;
        } else if (t0 == 25) { /* session 1: plays 25, 26 */
            assert_row(tr, sk, va, r, 20, 25, 27, &s);
            r += 1;
        } else if (t0 == 27) { /* session 2: plays 27..66 */
            assert_row(tr, sk, va, r, 20, 27, 29, &s);
            assert_row(tr, sk, va, r + 1, 20, 28, 48, &s);
            assert_row(tr, sk, va, r + 2, 20, 47, 67, &s);
            r += 3;
        } else {
            fail_msg("row %d starts with track %d", r, t0);
        }
        rows_seen = r;
    }
    assert_int_equal(rows_seen, 6);
    sr_batcher_free(&b);
    assert_null(b);
    sr_batcher_free(&b); /* NULL-safe */
    sr_store_close(&st);
    spec_free(&s);
}

/* Count totals against a hand count: sessions ALL 5 (part 3, 1 window at
 * L = 3), ALL 2 (none), ALL 3 (part of 1: no target), TRAIN 7 (3 windows),
 * VALID 4, TEST 4, TRAIN 1 (none), ALL 27 (part 25, ceil(24 / 2) = 12). */
static void test_batch_counts_hand_computed(void **state)
{
    (void)state;
    static const uint32_t len[8] = { 5, 2, 3, 7, 4, 4, 1, 27 };
    static const uint8_t split[8] = { SR_SPLIT_ALL,   SR_SPLIT_ALL,  SR_SPLIT_ALL,
                                      SR_SPLIT_TRAIN, SR_SPLIT_VALID, SR_SPLIT_TEST,
                                      SR_SPLIT_TRAIN, SR_SPLIT_ALL };
    spec s;
    spec_init(&s, SR_SPLIT_KIND_TEMPORAL, 8, len, split);
    sr_store *st = spec_open(&s, "counts.srs");
    sr_batch_config c = { .B = 5, .L = 3, .seed = 9 };
    sr_batcher *b = NULL;
    assert_int_equal(sr_batcher_new(st, &c, &b), SR_OK);
    assert_int_equal(sr_batcher_train_sessions(b), 3);
    assert_int_equal(sr_batcher_windows_per_epoch(b), 16);
    assert_int_equal(sr_batcher_batches_per_epoch(b), 4);
    assert_int_equal(sr_batcher_train_plays(b), 3 + 7 + 25);
    /* 16 windows, B = 5: 5, 5, 5, 1, the last one ending the epoch */
    const int32_t *tr;
    const uint8_t *sk, *va;
    bool end = true;
    static const int want[8] = { 5, 5, 5, 1, 5, 5, 5, 1 };
    for (int k = 0; k < 8; k++) {
        int got = sr_batcher_next(b, &tr, &sk, &va, &end);
        assert_int_equal(got, want[k]);
        assert_int_equal(end, k % 4 == 3);
        for (int r = got; r < 5; r++)
            assert_row(tr, sk, va, r, 3, 0, 0, &s); /* rows beyond: all padding */
    }
    sr_batch_pos p = sr_batcher_pos(b);
    assert_int_equal(p.epoch, 2);
    assert_int_equal(p.cursor, 0);
    assert_int_equal(p.window, 0);
    assert_int_equal(p.batch, 8);
    sr_batcher_free(&b);
    sr_store_close(&st);
    spec_free(&s);
}

/* ---- whole epochs over a mixed store ----------------------------------------------- */

/* Read one epoch and check, with plays identified by their tags:
 * - every row is one expected window of a training part, rows of one
 *   session are consecutive and oldest first;
 * - every training target (each play after the first of a training part of
 *   a training session) is a target exactly once, nothing else is;
 * - held-out plays never appear, unseen tracks are invalid, skip flags match.
 * Returns the epoch's session order in order[] (train sessions count). */
static uint64_t read_epoch(sr_batcher *b, const spec *s, int B, int L, uint64_t *order)
{
    uint32_t *target = calloc(s->n_plays + 1, sizeof *target);
    uint8_t *appears = calloc(s->n_plays + 1, 1);
    uint32_t *done = calloc(s->n_sessions, sizeof *done); /* windows read */
    uint64_t *sess_of = malloc((s->n_plays + 1) * sizeof *sess_of);
    assert_non_null(target);
    assert_non_null(appears);
    assert_non_null(done);
    assert_non_null(sess_of);
    for (uint64_t i = 0; i < s->n_sessions; i++)
        for (uint64_t p = s->off[i]; p < s->off[i + 1]; p++)
            sess_of[p] = i;
    uint64_t n_order = 0, cur = UINT64_MAX, batches = 0, windows = 0;
    bool end = false;
    while (!end) {
        const int32_t *tr;
        const uint8_t *sk, *va;
        int got = sr_batcher_next(b, &tr, &sk, &va, &end);
        assert_true(got >= 1 && got <= B);
        batches++;
        if (!end)
            assert_int_equal(got, B);
        for (int r = 0; r < B; r++) {
            if (r >= got) {
                assert_row(tr, sk, va, r, L, 0, 0, s);
                continue;
            }
            windows++;
            /* the window's first play, from any valid position */
            int l0 = -1;
            for (int l = 0; l < L && l0 < 0; l++)
                if (va[(size_t)r * (size_t)L + (size_t)l])
                    l0 = l;
            if (l0 < 0)
                fail_msg("batch %" PRIu64 " row %d has no valid play", batches, r);
            uint64_t a = (uint64_t)tr[(size_t)r * (size_t)L + (size_t)l0] - (uint64_t)l0;
            uint64_t sess = sess_of[a];
            uint64_t first;
            uint32_t n;
            spec_part(s, sess, &first, &n);
            uint32_t w = n >= 2 ? (uint32_t)((n - 1 + (uint32_t)L - 2) / (uint32_t)(L - 1)) : 0;
            if (done[sess] == 0) { /* a new session: the previous one is complete */
                if (cur != UINT64_MAX) {
                    uint64_t f2;
                    uint32_t n2;
                    spec_part(s, cur, &f2, &n2);
                    assert_int_equal(done[cur],
                                     (n2 - 1 + (uint32_t)L - 2) / (uint32_t)(L - 1));
                }
                cur = sess;
                order[n_order++] = sess;
            } else {
                assert_int_equal(sess, cur);
            }
            assert_true(done[sess] < w);
            uint32_t k = w - 1 - done[sess]; /* oldest first */
            uint64_t e = n - (uint64_t)k * (uint64_t)(L - 1);
            uint64_t st0 = e > (uint64_t)L ? e - (uint64_t)L : 0;
            assert_int_equal(a, first + st0);
            assert_row(tr, sk, va, r, L, first + st0, first + e, s);
            for (uint64_t p = first + st0; p < first + e; p++) {
                appears[p] = 1;
                if (p > first + st0)
                    target[p]++;
            }
            done[sess]++;
        }
    }
    assert_int_equal(batches, sr_batcher_batches_per_epoch(b));
    assert_int_equal(windows, sr_batcher_windows_per_epoch(b));
    uint64_t n_train = 0;
    for (uint64_t i = 0; i < s->n_sessions; i++) {
        uint64_t first;
        uint32_t n;
        spec_part(s, i, &first, &n);
        bool trains = n >= 2;
        n_train += trains;
        for (uint64_t p = s->off[i]; p < s->off[i + 1]; p++) {
            bool in_part = trains && p >= first && p < first + n;
            bool is_target = in_part && p > first;
            if (target[p] != (is_target ? 1u : 0u))
                fail_msg("session %" PRIu64 " play %" PRIu64 ": a target %u times", i, p,
                         target[p]);
            if (!in_part && appears[p])
                fail_msg("session %" PRIu64 " play %" PRIu64 " is held out but appears", i, p);
        }
    }
    assert_int_equal(n_order, n_train);
    assert_int_equal(n_train, sr_batcher_train_sessions(b));
    free(target);
    free(appears);
    free(done);
    free(sess_of);
    return n_order;
}

static void make_mixed(spec *s, sr_split_kind kind, uint64_t n_sessions)
{
    uint32_t *len = malloc(n_sessions * sizeof *len);
    uint8_t *split = malloc(n_sessions);
    assert_non_null(len);
    assert_non_null(split);
    for (uint64_t i = 0; i < n_sessions; i++) {
        len[i] = mixed_len(i);
        if (kind == SR_SPLIT_KIND_LEAVE_LAST)
            split[i] = SR_SPLIT_ALL;
        else
            split[i] = i % 5 == 3 ? SR_SPLIT_VALID : i % 5 == 4 ? SR_SPLIT_TEST : SR_SPLIT_TRAIN;
    }
    spec_init(s, kind, n_sessions, len, split);
    /* One unseen track in every seventh session (temporal: any split). */
    for (uint64_t i = 0; i < n_sessions; i += 7)
        if (s->len[i] >= 3)
            s->track[s->off[i] + 1] = SR_TRACK_UNSEEN;
    free(len);
    free(split);
}

static void check_two_epochs(sr_split_kind kind, const char *name, int B, int L)
{
    spec s;
    make_mixed(&s, kind, 300);
    sr_store *st = spec_open(&s, name);
    sr_batch_config c = { .B = B, .L = L, .seed = 2024 };
    sr_batcher *b = NULL;
    assert_int_equal(sr_batcher_new(st, &c, &b), SR_OK);
    uint64_t *o0 = calloc(s.n_sessions, sizeof *o0), *o1 = calloc(s.n_sessions, sizeof *o1);
    assert_non_null(o0);
    assert_non_null(o1);
    uint64_t n0 = read_epoch(b, &s, B, L, o0);
    assert_int_equal(sr_batcher_pos(b).epoch, 1);
    uint64_t n1 = read_epoch(b, &s, B, L, o1);
    assert_int_equal(n0, n1);
    /* epochs visit the sessions in different orders */
    uint64_t same = 0;
    for (uint64_t i = 0; i < n0; i++)
        same += o0[i] == o1[i];
    assert_true(same < n0 / 10);
    free(o0);
    free(o1);
    sr_batcher_free(&b);
    sr_store_close(&st);
    spec_free(&s);
}

static void test_batch_leave_last_epoch_covers_every_target_once(void **state)
{
    (void)state;
    check_two_epochs(SR_SPLIT_KIND_LEAVE_LAST, "ll.srs", 7, 6);
}

static void test_batch_temporal_epoch_covers_every_target_once(void **state)
{
    (void)state;
    check_two_epochs(SR_SPLIT_KIND_TEMPORAL, "tmp.srs", 16, 20);
}

static void test_batch_l2_b1_epoch_covers_every_target_once(void **state)
{
    (void)state;
    check_two_epochs(SR_SPLIT_KIND_TEMPORAL, "l2.srs", 1, 2);
}

/* ---- seek and determinism ----------------------------------------------------------- */

#define SEEK_B 5
#define SEEK_L 4

typedef struct rec {
    sr_batch_pos before;
    int got;
    bool end;
    int32_t tracks[SEEK_B * SEEK_L];
    uint8_t skipped[SEEK_B * SEEK_L];
    uint8_t valid[SEEK_B * SEEK_L];
} rec;

static void record(sr_batcher *b, rec *r)
{
    const int32_t *tr;
    const uint8_t *sk, *va;
    r->before = sr_batcher_pos(b);
    r->got = sr_batcher_next(b, &tr, &sk, &va, &r->end);
    memcpy(r->tracks, tr, sizeof r->tracks);
    memcpy(r->skipped, sk, sizeof r->skipped);
    memcpy(r->valid, va, sizeof r->valid);
}

static bool rec_equal(const rec *a, const rec *b)
{
    return a->got == b->got && a->end == b->end &&
           memcmp(a->tracks, b->tracks, sizeof a->tracks) == 0 &&
           memcmp(a->skipped, b->skipped, sizeof a->skipped) == 0 &&
           memcmp(a->valid, b->valid, sizeof a->valid) == 0;
}

static void test_batch_seek_reproduces_remaining_stream(void **state)
{
    (void)state;
    spec s;
    make_mixed(&s, SR_SPLIT_KIND_LEAVE_LAST, 60);
    sr_store *st = spec_open(&s, "seek.srs");
    sr_batch_config c = { .B = SEEK_B, .L = SEEK_L, .seed = 77 };
    sr_batcher *b = NULL;
    assert_int_equal(sr_batcher_new(st, &c, &b), SR_OK);
    uint64_t total = 2 * sr_batcher_batches_per_epoch(b) + 3; /* into a third epoch */
    rec *all = calloc(total, sizeof *all);
    assert_non_null(all);
    for (uint64_t k = 0; k < total; k++)
        record(b, &all[k]);
    sr_batcher_free(&b);
    int mid_session = 0, mid_epoch = 0;
    for (uint64_t k = 0; k < total; k++) {
        const sr_batch_pos p = all[k].before;
        assert_int_equal(p.batch, k);
        mid_session += p.window > 0;
        mid_epoch += p.cursor > 0;
        assert_int_equal(sr_batcher_new(st, &c, &b), SR_OK);
        assert_int_equal(sr_batcher_seek(b, &p), SR_OK);
        for (uint64_t j = k; j < total; j++) {
            rec r;
            record(b, &r);
            if (!rec_equal(&r, &all[j]))
                fail_msg("seek to batch %" PRIu64 ": batch %" PRIu64 " differs", k, j);
            assert_memory_equal(&r.before, &all[j].before, sizeof r.before);
        }
        sr_batcher_free(&b);
    }
    /* the stream did cut sessions between batches and stop mid-epoch */
    assert_true(mid_session >= 5);
    assert_true(mid_epoch >= 5);
    free(all);
    sr_store_close(&st);
    spec_free(&s);
}

static void test_batch_seek_refuses_impossible_positions(void **state)
{
    (void)state;
    static const uint32_t len[3] = { 10, 3, 4 };
    static const uint8_t split[3] = { SR_SPLIT_TRAIN, SR_SPLIT_TRAIN, SR_SPLIT_TEST };
    spec s;
    spec_init(&s, SR_SPLIT_KIND_TEMPORAL, 3, len, split);
    sr_store *st = spec_open(&s, "seekbad.srs");
    sr_batch_config c = { .B = 2, .L = 4, .seed = 3 };
    sr_batcher *b = NULL;
    assert_int_equal(sr_batcher_new(st, &c, &b), SR_OK);
    sr_batch_pos p = { .epoch = 0, .cursor = 4, .window = 0, .batch = 0 };
    assert_int_equal(sr_batcher_seek(b, &p), SR_ERR_ARG); /* cursor > n_sessions */
    p.cursor = 0;
    p.window = 1;
    assert_int_equal(sr_batcher_seek(b, &p), SR_ERR_ARG); /* window with no session */
    /* Session 0 has 3 windows (9 targets, 3 a window), session 1 one,
     * session 2 (test) none. Whichever session the permutation puts at a
     * cursor, only windows 1 and 2 of session 0 are positions inside a
     * session: 2 of the 12 pairs below. */
    int refused_beyond = 0;
    for (uint64_t cur = 1; cur <= 3; cur++)
        for (uint32_t w = 1; w <= 4; w++) {
            p.cursor = cur;
            p.window = w;
            sr_err e = sr_batcher_seek(b, &p);
            assert_true(e == SR_OK || e == SR_ERR_ARG);
            /* accepted only if some session allows w: never for w >= 3 */
            if (w >= 3)
                assert_int_equal(e, SR_ERR_ARG);
            refused_beyond += e == SR_ERR_ARG;
        }
    /* Exactly the (cursor, window) pairs with window < windows of the session
     * at that cursor are accepted: 2 for session 0 (windows 1, 2), 0 for the
     * others, so 12 - 2 refused. */
    assert_int_equal(refused_beyond, 12 - 2);
    /* cursor == n_sessions with no cut session: the epoch is over, the next
     * batch starts epoch 1 */
    p.cursor = 3;
    p.window = 0;
    assert_int_equal(sr_batcher_seek(b, &p), SR_OK);
    const int32_t *tr;
    const uint8_t *sk, *va;
    bool end = false;
    sr_batcher_next(b, &tr, &sk, &va, &end);
    assert_true(sr_batcher_pos(b).epoch >= 1);
    sr_batcher_free(&b);
    sr_store_close(&st);
    spec_free(&s);
}

static void read_stream(const sr_store *st, uint64_t seed, int n, rec *out)
{
    sr_batch_config c = { .B = SEEK_B, .L = SEEK_L, .seed = seed };
    sr_batcher *b = NULL;
    assert_int_equal(sr_batcher_new(st, &c, &b), SR_OK);
    for (int k = 0; k < n; k++)
        record(b, &out[k]);
    sr_batcher_free(&b);
}

static void test_batch_same_seed_same_batches_other_seed_other_order(void **state)
{
    (void)state;
    spec s;
    make_mixed(&s, SR_SPLIT_KIND_LEAVE_LAST, 100);
    sr_store *st = spec_open(&s, "seed.srs");
    enum { N = 12 };
    rec a[N], b[N], c[N];
    read_stream(st, 5, N, a);
    read_stream(st, 5, N, b);
    read_stream(st, 6, N, c);
    int differ = 0;
    for (int k = 0; k < N; k++) {
        assert_true(rec_equal(&a[k], &b[k]));
        differ += !rec_equal(&a[k], &c[k]);
    }
    assert_true(differ >= N - 1);
    sr_store_close(&st);
    spec_free(&s);
}

/* ---- refusals --------------------------------------------------------------------- */

static void test_batch_nothing_to_train_is_empty(void **state)
{
    (void)state;
    /* leave-last sessions of <= 3 plays have at most one training play;
     * valid and test sessions none */
    static const uint32_t len[5] = { 1, 2, 3, 9, 9 };
    static const uint8_t split[5] = { SR_SPLIT_ALL, SR_SPLIT_ALL, SR_SPLIT_ALL, SR_SPLIT_VALID,
                                      SR_SPLIT_TEST };
    spec s;
    spec_init(&s, SR_SPLIT_KIND_TEMPORAL, 5, len, split);
    sr_store *st = spec_open(&s, "empty.srs");
    sr_batch_config c = { .B = 4, .L = 5, .seed = 1 };
    sr_batcher *b = (sr_batcher *)&c; /* must be reset to NULL */
    assert_int_equal(sr_batcher_new(st, &c, &b), SR_ERR_EMPTY);
    assert_null(b);
    sr_store_close(&st);
    spec_free(&s);
}

static void test_batch_bad_config_refused(void **state)
{
    (void)state;
    static const uint32_t len[1] = { 5 };
    static const uint8_t split[1] = { SR_SPLIT_TRAIN };
    spec s;
    spec_init(&s, SR_SPLIT_KIND_TEMPORAL, 1, len, split);
    sr_store *st = spec_open(&s, "cfg.srs");
    static const int bad[][2] = { { 0, 20 }, { -1, 20 }, { 4, 1 }, { 4, 0 }, { 4, -3 },
                                  { INT32_MAX, INT32_MAX }, { 1 << 20, 1 << 10 } };
    for (size_t i = 0; i < SR_COUNTOF(bad); i++) {
        sr_batch_config c = { .B = bad[i][0], .L = bad[i][1], .seed = 1 };
        sr_batcher *b = NULL;
        assert_int_equal(sr_batcher_new(st, &c, &b), SR_ERR_ARG);
        assert_null(b);
    }
    sr_batch_config ok = { .B = 1, .L = 2, .seed = 0 };
    sr_batcher *b = NULL;
    assert_int_equal(sr_batcher_new(st, &ok, &b), SR_OK);
    sr_batcher_free(&b);
    sr_store_close(&st);
    spec_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_permute_is_bijection_for_many_n),
        cmocka_unit_test(test_batch_permute_matches_reference_values),
        cmocka_unit_test(test_batch_permute_differs_across_keys),
        cmocka_unit_test(test_batch_windows_hand_computed),
        SR_TEST_IN_DIR(test_batch_train_range_per_split),
        SR_TEST_IN_DIR(test_batch_windows_end_aligned_oldest_first),
        SR_TEST_IN_DIR(test_batch_counts_hand_computed),
        SR_TEST_IN_DIR(test_batch_leave_last_epoch_covers_every_target_once),
        SR_TEST_IN_DIR(test_batch_temporal_epoch_covers_every_target_once),
        SR_TEST_IN_DIR(test_batch_l2_b1_epoch_covers_every_target_once),
        SR_TEST_IN_DIR(test_batch_seek_reproduces_remaining_stream),
        SR_TEST_IN_DIR(test_batch_seek_refuses_impossible_positions),
        SR_TEST_IN_DIR(test_batch_same_seed_same_batches_other_seed_other_order),
        SR_TEST_IN_DIR(test_batch_nothing_to_train_is_empty),
        SR_TEST_IN_DIR(test_batch_bad_config_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
