/* test_store.c - sr_store: the streaming and the sized writer (cursors, on
 * several threads), reader, file format v1, and refusal of every kind of
 * damaged file.
 *
 * The layout constants below are restated from docs/data.md ("Session store format") rather
 * than taken from sr_store.c, so these tests also check the document: the
 * "reseal" helper recomputes the checksums exactly as the document defines
 * them, which lets a test plant a semantic error behind valid checksums. */
#include "sr_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <xxhash.h>

#include "sr_store.h"

/* ---- layout, from docs/data.md ("Session store format") ----------------------------------- */
#define HDR_SIZE 256
#define ENTRY_SIZE 32
#define OFF_VERSION 8
#define OFF_BOM 12
#define OFF_SECTION_COUNT 20
#define OFF_FILE_SIZE 32
#define OFF_PAYLOAD_OFFSET 40
#define OFF_N_SESSIONS 48
#define OFF_N_PLAYS 56
#define OFF_N_TRACKS 64
#define OFF_PAYLOAD_CHECKSUM 240
#define OFF_HEADER_CHECKSUM 248
enum {
    SEC_SESSION_OFFSETS = 1, SEC_SESSION_SPLIT, SEC_SESSION_START, SEC_PLAY_TRACK,
    SEC_PLAY_FEEDBACK, SEC_PLAY_POSITION, SEC_PLAY_TIME, SEC_PLAY_CONTEXT, SEC_TRACK_PLAYS,
    SEC_TRACK_SKIPS, SEC_TRACK_ID_OFFSETS, SEC_TRACK_ID_BYTES, SEC_STATS
};
#define N_SECTIONS 13
#define STAT_SIZE 56

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void wr64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* ---- scratch directory ------------------------------------------------------ */
/* Every test gets a fresh directory (sr_test.h), removed even when it fails;
 * the store under test is <dir>/data.srs. */
typedef struct scratch {
    const char *dir;
    char path[128];
} scratch;

static int scratch_setup(void **state)
{
    static scratch sc;
    if (sr_test_dir_setup(state) != 0)
        return -1;
    sc.dir = sr_test_dir();
    sr_test_path_buf(sc.path, sizeof sc.path, "data.srs");
    *state = &sc;
    return 0;
}

/* Is `path` mapped in this process? A refused file must leave no mapping. */
static bool is_mapped(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (strstr(line, path))
            found = true;
    fclose(f);
    return found;
}

/* ---- the small hand-built dataset -------------------------------------------
 * 4 sessions, 10 plays, 3 tracks. Sessions (track indices):
 *   s0 split ALL   start 1000: 0 1 0
 *   s1 split TRAIN start 2000: 2
 *   s2 split VALID start 3000: 1 -1 2 0
 *   s3 split TEST  start 4000: -1 1
 * Values at the edges of each type check that nothing is narrowed. */
static const uint32_t small_len[4] = { 3, 1, 4, 2 };
static const uint8_t small_split[4] = { SR_SPLIT_ALL, SR_SPLIT_TRAIN, SR_SPLIT_VALID,
                                        SR_SPLIT_TEST };
static const int64_t small_start[4] = { 1000, 2000, 3000, INT64_MIN };
static const uint64_t small_offsets[5] = { 0, 3, 4, 8, 10 };
static const int32_t small_track[10] = { 0, 1, 0, 2, 1, -1, 2, 0, -1, 1 };
static const uint8_t small_fb[10] = { 0x82, 0x08, 0x87, 0, 0xff, 1, 2, 4, 8, 0x80 };
static const uint16_t small_pos[10] = { 1, 2, 3, 1, 1, 2, 3, UINT16_MAX, 1, 2 };
static const int64_t small_time[10] = { 1000, 1001, 1002, 2000, 3000, -5, INT64_MAX, 3003,
                                        INT64_MIN, 4001 };
static const uint32_t small_ctx[10] = { 0, 1, 2, 3, UINT32_MAX, 5, 6, 7, 8, 0x3fffff };
static const char *const small_ids[3] = { "alpha", "b", "track-\xce\xb3" };
static const uint32_t small_plays[3] = { 7, 0, UINT32_MAX };
static const uint32_t small_skips[3] = { 3, 0, 123456789 };
#define SMALL_SESSIONS 4
#define SMALL_PLAYS 10
#define SMALL_TRACKS 3
#define SMALL_ID_BYTES (5 + 1 + 8)

static sr_store_meta small_meta(void)
{
    sr_store_meta m;
    memset(&m, 0, sizeof m);
    m.split = SR_SPLIT_KIND_TEMPORAL;
    m.skip_rule = SR_SKIP_RULE_SKIP_2;
    m.source = SR_SOURCE_FORMAT_EVENTS;
    m.created = 1700000000;
    snprintf(m.name, sizeof m.name, "hand-built");
    return m;
}

static sr_store_stats small_stats(void)
{
    sr_store_stats s;
    memset(&s, 0, sizeof s);
    s.input_files = 1;
    s.input_bytes = 2;
    s.input_rows = 3;
    s.rejected_rows = 4;
    s.sessions_read = 5;
    s.plays_read = 6;
    s.removed_short_sessions = 7;
    s.removed_noskip_sessions = 8;
    s.removed_rare_track_plays = 9;
    s.truncated_plays = 10;
    s.sessions = 11;
    s.interactions = 12;
    s.tracks = 13;
    s.skipped = 14;
    s.skip_rate = 0.4375;
    s.train_sessions = 16;
    s.valid_sessions = 17;
    s.test_sessions = 18;
    s.train_interactions = 19;
    s.valid_interactions = 20;
    s.test_interactions = 21;
    s.unseen_tracks = 22;
    s.unseen_plays = UINT64_MAX;
    return s;
}

static sr_err write_small(const char *path)
{
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    sr_err err = sr_store_writer_open(path, &meta, &w);
    if (err != SR_OK)
        return err;
    for (int s = 0; s < SMALL_SESSIONS; s++) {
        uint64_t o = small_offsets[s];
        err = sr_store_writer_add(w, small_split[s], small_start[s], small_len[s],
                                  small_track + o, small_fb + o, small_pos + o, small_time + o,
                                  small_ctx + o);
        if (err != SR_OK) {
            sr_store_writer_abort(&w);
            return err;
        }
    }
    sr_str ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = sr_str_c(small_ids[i]);
    sr_store_stats st = small_stats();
    return sr_store_writer_finish(&w, SMALL_TRACKS, ids, small_plays, small_skips, &st);
}

static void assert_small_contents(const sr_store *s)
{
    assert_int_equal(s->n_sessions, SMALL_SESSIONS);
    assert_int_equal(s->n_plays, SMALL_PLAYS);
    assert_int_equal(s->n_tracks, SMALL_TRACKS);
    for (int i = 0; i <= SMALL_SESSIONS; i++)
        assert_int_equal(s->session_offsets[i], small_offsets[i]);
    for (int i = 0; i < SMALL_SESSIONS; i++) {
        assert_int_equal(s->session_split[i], small_split[i]);
        assert_true(s->session_start[i] == small_start[i]);
    }
    for (int i = 0; i < SMALL_PLAYS; i++) {
        assert_int_equal(s->play_track[i], small_track[i]);
        assert_int_equal(s->play_feedback[i], small_fb[i]);
        assert_int_equal(s->play_position[i], small_pos[i]);
        assert_true(s->play_time[i] == small_time[i]);
        assert_int_equal(s->play_context[i], small_ctx[i]);
    }
    const uint64_t id_offsets[4] = { 0, 5, 6, 14 };
    for (int i = 0; i < SMALL_TRACKS; i++) {
        assert_int_equal(s->track_plays[i], small_plays[i]);
        assert_int_equal(s->track_skips[i], small_skips[i]);
        sr_str id = sr_store_track_id(s, i);
        assert_int_equal(id.len, strlen(small_ids[i]));
        assert_memory_equal(id.ptr, small_ids[i], id.len);
    }
    for (int i = 0; i <= SMALL_TRACKS; i++)
        assert_int_equal(s->track_id_offsets[i], id_offsets[i]);
    assert_memory_equal(s->track_id_bytes, "alphabtrack-\xce\xb3", SMALL_ID_BYTES);
    assert_null(sr_store_track_id(s, SR_TRACK_UNSEEN).ptr);
    assert_null(sr_store_track_id(s, SMALL_TRACKS).ptr);

    sr_store_meta m = small_meta();
    assert_int_equal(s->meta.split, m.split);
    assert_int_equal(s->meta.skip_rule, m.skip_rule);
    assert_int_equal(s->meta.source, m.source);
    assert_true(s->meta.created == m.created);
    assert_string_equal(s->meta.name, "hand-built");

    sr_store_stats want = small_stats();
    assert_memory_equal(&s->stats, &want, sizeof want);
    assert_true(s->stats.skip_rate == 0.4375);
    assert_true(s->stats.unseen_plays == UINT64_MAX);
}

/* ---- round trips --------------------------------------------------------------- */
static void test_store_round_trip_small(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    sr_store *s = NULL;
    assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
    assert_non_null(s);
    assert_small_contents(s);
    /* every array is 64-byte aligned in memory */
    const void *arrays[] = { s->session_offsets, s->session_split, s->session_start,
                             s->play_track,      s->play_feedback, s->play_position,
                             s->play_time,       s->play_context,  s->track_plays,
                             s->track_skips,     s->track_id_offsets, s->track_id_bytes };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        assert_int_equal((uintptr_t)arrays[i] % 64, 0);
    sr_store_close(&s);
    assert_null(s);
    sr_store_close(&s); /* NULL-safe */
    sr_store_close(NULL);
}

/* The header fields and checksums sit where docs/data.md ("Session store format") says. */
static void test_store_layout_matches_documentation(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    assert_memory_equal(b, "SRSTORE\0", 8);
    assert_int_equal(rd32(b + OFF_VERSION), 1);
    const uint8_t bom_le[4] = { 4, 3, 2, 1 };
    assert_memory_equal(b + OFF_BOM, bom_le, 4);
    assert_int_equal(rd32(b + 16), HDR_SIZE);
    assert_int_equal(rd32(b + OFF_SECTION_COUNT), N_SECTIONS);
    assert_int_equal(rd32(b + 24), ENTRY_SIZE);
    assert_int_equal(rd64(b + OFF_FILE_SIZE), n);
    /* 256 + 13 * 32 = 672, rounded up to 64 */
    assert_int_equal(rd64(b + OFF_PAYLOAD_OFFSET), 704);
    assert_int_equal(rd64(b + OFF_N_SESSIONS), SMALL_SESSIONS);
    assert_int_equal(rd64(b + OFF_N_PLAYS), SMALL_PLAYS);
    assert_int_equal(rd32(b + OFF_N_TRACKS), SMALL_TRACKS);
    assert_int_equal(rd32(b + 68), SR_SPLIT_KIND_TEMPORAL);
    assert_int_equal(rd32(b + 72), SR_SKIP_RULE_SKIP_2);
    assert_int_equal(rd32(b + 76), SR_SOURCE_FORMAT_EVENTS);
    assert_int_equal(rd64(b + 80), 1700000000);
    assert_string_equal((const char *)b + 88, "hand-built");
    for (int i = 152; i < 240; i++)
        assert_int_equal(b[i], 0);

    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, b, OFF_HEADER_CHECKSUM);
    XXH3_64bits_update(st, b + HDR_SIZE, 704 - HDR_SIZE); /* table + padding */
    assert_int_equal(rd64(b + OFF_HEADER_CHECKSUM), XXH3_64bits_digest(st));
    for (int i = HDR_SIZE + N_SECTIONS * ENTRY_SIZE; i < 704; i++)
        assert_int_equal(b[i], 0);
    XXH3_freeState(st);
    assert_int_equal(rd64(b + OFF_PAYLOAD_CHECKSUM), XXH3_64bits(b + 704, n - 704));

    /* sections in id order, aligned, sized as documented, own checksums */
    const uint32_t elem[N_SECTIONS + 1] = { 0, 8, 1, 8, 4, 1, 2, 8, 4, 4, 4, 8, 1, STAT_SIZE };
    const uint64_t count[N_SECTIONS + 1] = { 0, 5, 4, 4, 10, 10, 10, 10, 10, 3, 3, 4,
                                             SMALL_ID_BYTES, 23 };
    uint64_t prev_end = 704;
    for (int k = 0; k < N_SECTIONS; k++) {
        const uint8_t *e = b + HDR_SIZE + k * ENTRY_SIZE;
        assert_int_equal(rd32(e), k + 1);
        assert_int_equal(rd32(e + 4), elem[k + 1]);
        assert_int_equal(rd64(e + 8), count[k + 1]);
        uint64_t off = rd64(e + 16);
        assert_int_equal(off % 64, 0);
        assert_true(off >= prev_end && off - prev_end < 64);
        for (uint64_t z = prev_end; z < off; z++)
            assert_int_equal(b[z], 0); /* padding is zero */
        uint64_t bytes = count[k + 1] * elem[k + 1];
        assert_int_equal(rd64(e + 24), XXH3_64bits(b + off, bytes));
        prev_end = off + bytes;
    }
    assert_int_equal(prev_end, n); /* the stats section ends the file */
    /* the first stats entry: "input_files", type 1 (u64), value 1 */
    const uint8_t *stats = b + rd64(b + HDR_SIZE + 12 * ENTRY_SIZE + 16);
    assert_string_equal((const char *)stats, "input_files");
    assert_int_equal(rd32(stats + 40), 1);
    assert_int_equal(rd32(stats + 44), 0);
    assert_int_equal(rd64(stats + 48), 1);
    /* the 15th is skip_rate, type 2 (f64) */
    const uint8_t *sr = stats + 14 * STAT_SIZE;
    assert_string_equal((const char *)sr, "skip_rate");
    assert_int_equal(rd32(sr + 40), 2);
    double f;
    memcpy(&f, sr + 48, 8);
    assert_true(f == 0.4375);
    free(b);
}

static void test_store_one_session_zero_tracks(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(sc->path, &meta, &w), SR_OK);
    const int32_t track[2] = { SR_TRACK_UNSEEN, SR_TRACK_UNSEEN };
    const uint8_t fb[2] = { 1, 0 };
    const uint16_t pos[2] = { 1, 2 };
    const int64_t t[2] = { 10, 20 };
    const uint32_t ctx[2] = { 0, 0 };
    assert_int_equal(sr_store_writer_add(w, SR_SPLIT_TEST, 10, 2, track, fb, pos, t, ctx),
                     SR_OK);
    assert_int_equal(sr_store_writer_finish(&w, 0, NULL, NULL, NULL, NULL), SR_OK);
    assert_null(w);
    sr_store *s = NULL;
    assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
    assert_int_equal(s->n_sessions, 1);
    assert_int_equal(s->n_plays, 2);
    assert_int_equal(s->n_tracks, 0);
    assert_int_equal(s->session_offsets[0], 0);
    assert_int_equal(s->session_offsets[1], 2);
    assert_int_equal(s->session_split[0], SR_SPLIT_TEST);
    assert_int_equal(s->play_track[0], SR_TRACK_UNSEEN);
    assert_int_equal(s->play_track[1], SR_TRACK_UNSEEN);
    assert_int_equal(s->play_feedback[0], 1);
    assert_true(s->play_time[1] == 20);
    assert_int_equal(s->track_id_offsets[0], 0);
    assert_null(sr_store_track_id(s, 0).ptr);
    /* NULL stats are stored as zeros */
    sr_store_stats zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&s->stats, &zero, sizeof zero);
    sr_store_close(&s);
}

static void test_store_zero_sessions(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(sc->path, &meta, &w), SR_OK);
    sr_str id = sr_str_c("lonely");
    const uint32_t zero = 0;
    assert_int_equal(sr_store_writer_finish(&w, 1, &id, &zero, &zero, NULL), SR_OK);
    sr_store *s = NULL;
    assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
    assert_int_equal(s->n_sessions, 0);
    assert_int_equal(s->n_plays, 0);
    assert_int_equal(s->session_offsets[0], 0);
    assert_int_equal(s->n_tracks, 1);
    sr_str got = sr_store_track_id(s, 0);
    assert_int_equal(got.len, 6);
    assert_memory_equal(got.ptr, "lonely", 6);
    sr_store_close(&s);
}

/* ---- writer validation ---------------------------------------------------------- */
static void test_store_track_index_out_of_range_refused_at_finish(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(sc->path, &meta, &w), SR_OK);
    const int32_t track[3] = { 0, 3, SR_TRACK_UNSEEN };
    const uint8_t fb[3] = { 0 };
    const uint16_t pos[3] = { 1, 2, 3 };
    const int64_t t[3] = { 0 };
    const uint32_t ctx[3] = { 0 };
    assert_int_equal(sr_store_writer_add(w, SR_SPLIT_ALL, 0, 1, track, fb, pos, t, ctx), SR_OK);
    assert_int_equal(sr_store_writer_add(w, SR_SPLIT_ALL, 0, 3, track, fb, pos, t, ctx), SR_OK);
    sr_str ids[3] = { sr_str_c("a"), sr_str_c("b"), sr_str_c("c") };
    const uint32_t cnt[3] = { 0 };
    /* index 3 with 3 tracks: session 1, play 1 */
    assert_int_equal(sr_store_writer_finish(&w, 3, ids, cnt, cnt, NULL), SR_ERR_ARG);
    assert_null(w);
    assert_non_null(strstr(sr_errmsg(), "session 1 play 1: track index 3 >= n_tracks 3"));
    assert_non_null(strstr(sr_errmsg(), sc->path));
    /* nothing at path, no tmp file, no spool */
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);
}

static void test_store_add_rejects_bad_sessions(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(sc->path, &meta, &w), SR_OK);
    const int32_t good[2] = { 0, SR_TRACK_UNSEEN };
    const int32_t bad[2] = { 0, -2 };
    const uint8_t fb[2] = { 0 };
    const uint16_t pos[2] = { 1, 2 };
    const int64_t t[2] = { 0 };
    const uint32_t ctx[2] = { 0 };
    assert_int_equal(sr_store_writer_add(w, SR_SPLIT_ALL, 0, 0, good, fb, pos, t, ctx),
                     SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "no plays"));
    assert_int_equal(sr_store_writer_add(w, SR_SPLIT_ALL, 0, 2, bad, fb, pos, t, ctx),
                     SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "play 1: track index -2"));
    assert_int_equal(sr_store_writer_add(w, 4, 0, 2, good, fb, pos, t, ctx), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "split code 4"));
    assert_int_equal(sr_store_writer_add(w, SR_SPLIT_ALL, 0, 2, good, fb, NULL, t, ctx),
                     SR_ERR_ARG);
    /* the refused sessions left no trace: one good session is the whole store */
    assert_int_equal(sr_store_writer_add(w, SR_SPLIT_TRAIN, 77, 2, good, fb, pos, t, ctx),
                     SR_OK);
    sr_str id = sr_str_c("x");
    const uint32_t cnt = 1;
    assert_int_equal(sr_store_writer_finish(&w, 1, &id, &cnt, &cnt, NULL), SR_OK);
    sr_store *s = NULL;
    assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
    assert_int_equal(s->n_sessions, 1);
    assert_int_equal(s->n_plays, 2);
    assert_int_equal(s->session_split[0], SR_SPLIT_TRAIN);
    assert_true(s->session_start[0] == 77);
    assert_int_equal(s->play_track[1], SR_TRACK_UNSEEN);
    sr_store_close(&s);
}

static void test_store_finish_rejects_empty_track_id(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(sc->path, &meta, &w), SR_OK);
    sr_str ids[2] = { sr_str_c("a"), { "", 0 } };
    const uint32_t cnt[2] = { 0 };
    assert_int_equal(sr_store_writer_finish(&w, 2, ids, cnt, cnt, NULL), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "track 1 has an empty id"));
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);
}

static void test_store_writer_open_rejects_bad_meta_and_missing_dir(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    meta.split = (sr_split_kind)7;
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(sc->path, &meta, &w), SR_ERR_ARG);
    assert_null(w);
    meta = small_meta();
    memset(meta.name, 'n', sizeof meta.name); /* not NUL-terminated */
    assert_int_equal(sr_store_writer_open(sc->path, &meta, &w), SR_ERR_ARG);
    meta = small_meta();
    char p[256];
    snprintf(p, sizeof p, "%s/no/such/dir/x.srs", sc->dir);
    assert_int_equal(sr_store_writer_open(p, &meta, &w), SR_ERR_IO);
    assert_non_null(strstr(sr_errmsg(), "no/such/dir/x.srs.spool."));
    assert_null(w);
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);
}

static void test_store_abort_removes_spools(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(sc->path, &meta, &w), SR_OK);
    /* one spool per streamed array, named after it */
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 8);
    char p[256];
    snprintf(p, sizeof p, "%s.spool.play_track", sc->path);
    assert_int_equal(access(p, F_OK), 0);
    sr_store_writer_abort(&w);
    assert_null(w);
    sr_store_writer_abort(&w); /* NULL-safe */
    sr_store_writer_abort(NULL);
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);
}

static void test_store_no_tmp_or_spool_left_after_finish(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    char first[256] = "";
    assert_int_equal(sr_test_count_entries(sc->dir, first, sizeof first), 1);
    assert_string_equal(first, "data.srs");
}

/* The old store stays readable while a new one is written to the same path,
 * and the new one arrives by rename: a new inode, the old mapping intact. */
static void test_store_existing_file_replaced_atomically(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    struct stat st_old;
    assert_int_equal(stat(sc->path, &st_old), 0);
    sr_store *old = NULL;
    assert_int_equal(sr_store_open(sc->path, &old), SR_OK);

    sr_store_meta meta = small_meta();
    snprintf(meta.name, sizeof meta.name, "replacement");
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(sc->path, &meta, &w), SR_OK);
    const int32_t track[1] = { 0 };
    const uint8_t fb[1] = { 0 };
    const uint16_t pos[1] = { 1 };
    const int64_t t[1] = { 5 };
    const uint32_t ctx[1] = { 0 };
    assert_int_equal(sr_store_writer_add(w, SR_SPLIT_TEST, 5, 1, track, fb, pos, t, ctx), SR_OK);
    /* mid-write, a fresh open still sees the old store */
    sr_store *mid = NULL;
    assert_int_equal(sr_store_open(sc->path, &mid), SR_OK);
    assert_small_contents(mid);
    sr_store_close(&mid);

    sr_str id = sr_str_c("only");
    const uint32_t one = 1;
    assert_int_equal(sr_store_writer_finish(&w, 1, &id, &one, &one, NULL), SR_OK);
    struct stat st_new;
    assert_int_equal(stat(sc->path, &st_new), 0);
    assert_true(st_new.st_ino != st_old.st_ino);
    /* the old mapping still reads the old data */
    assert_small_contents(old);
    sr_store_close(&old);
    sr_store *s = NULL;
    assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
    assert_string_equal(s->meta.name, "replacement");
    assert_int_equal(s->n_sessions, 1);
    assert_int_equal(s->n_tracks, 1);
    sr_store_close(&s);
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 1);
}

/* ---- refusal of damaged files ------------------------------------------------------ */

/* Open must fail with `want`, hand out nothing and leave nothing mapped. */
static void assert_refused(const char *path, sr_err want, const char *msg_part)
{
    static sr_store dummy;
    sr_store *s = &dummy; /* not NULL: open must reset it */
    sr_err err = sr_store_open(path, &s);
    if (err != want)
        fail_msg("%s: got %s (%s), want %s", path, sr_err_name(err), sr_errmsg(),
                 sr_err_name(want));
    assert_null(s);
    assert_false(is_mapped(path));
    assert_non_null(strstr(sr_errmsg(), path));
    if (msg_part && !strstr(sr_errmsg(), msg_part))
        fail_msg("message \"%s\" lacks \"%s\"", sr_errmsg(), msg_part);
}

static void test_store_truncated_is_corrupt(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    char p[256];
    snprintf(p, sizeof p, "%s.cut", sc->path);
    /* empty, inside the header, inside the section table, inside the
     * payload, half, last byte missing */
    const size_t cuts[] = { 0, 100, 300, 800, n / 2, n - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        sr_test_write_file(p, b, cuts[i]);
        assert_refused(p, SR_ERR_CORRUPT, "truncated");
    }
    char want[128];
    snprintf(want, sizeof want, "truncated: %zu of %zu bytes", n - 1, n);
    assert_refused(p, SR_ERR_CORRUPT, want);
    free(b);
}

static void test_store_trailing_bytes_are_corrupt(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    uint8_t *c = calloc(1, n + 1);
    memcpy(c, b, n);
    sr_test_write_file(sc->path, c, n + 1);
    assert_refused(sc->path, SR_ERR_CORRUPT, "trailing");
    free(c);
    free(b);
}

static void flip_and_check(const char *path, const uint8_t *b, size_t n, size_t at, sr_err want,
                           const char *msg_part)
{
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    c[at] ^= 0x5a;
    sr_test_write_file(path, c, n);
    assert_refused(path, want, msg_part);
    free(c);
}

static void test_store_flipped_byte_in_payload_refused(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    /* first byte of play_time (section 7) */
    size_t at = (size_t)rd64(b + HDR_SIZE + (SEC_PLAY_TIME - 1) * ENTRY_SIZE + 16);
    flip_and_check(sc->path, b, n, at, SR_ERR_CORRUPT, "checksum mismatch in section play_time");
    /* a padding byte belongs to no section but to the payload */
    size_t pad = (size_t)rd64(b + HDR_SIZE + (SEC_SESSION_SPLIT - 1) * ENTRY_SIZE + 16) + 4;
    flip_and_check(sc->path, b, n, pad, SR_ERR_CORRUPT, "checksum mismatch (payload)");
    free(b);
}

static void test_store_flipped_byte_in_header_refused(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    flip_and_check(sc->path, b, n, OFF_N_PLAYS, SR_ERR_CORRUPT, "header checksum mismatch");
    flip_and_check(sc->path, b, n, 100, SR_ERR_CORRUPT, "header checksum mismatch"); /* name */
    free(b);
}

static void test_store_flipped_byte_in_section_table_refused(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    /* the count of play_track */
    flip_and_check(sc->path, b, n, HDR_SIZE + (SEC_PLAY_TRACK - 1) * ENTRY_SIZE + 8,
                   SR_ERR_CORRUPT, "header checksum mismatch");
    free(b);
}

/* Every single-byte change anywhere in the file is refused, with the code
 * the damaged region calls for. */
static void test_store_every_flipped_byte_refused(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    int fd = open(sc->path, O_RDWR);
    assert_true(fd >= 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t x = b[i] ^ 0x5a;
        assert_int_equal(pwrite(fd, &x, 1, (off_t)i), 1);
        sr_err want = i < 8 ? SR_ERR_FORMAT : i < 12 ? SR_ERR_VERSION : SR_ERR_CORRUPT;
        sr_store *s = NULL;
        sr_err err = sr_store_open(sc->path, &s);
        if (err != want)
            fail_msg("byte %zu: got %s (%s), want %s", i, sr_err_name(err), sr_errmsg(),
                     sr_err_name(want));
        assert_null(s);
        assert_int_equal(pwrite(fd, &b[i], 1, (off_t)i), 1);
    }
    close(fd);
    /* restored byte by byte: the file is whole again */
    sr_store *s = NULL;
    assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
    sr_store_close(&s);
    free(b);
}

static void test_store_wrong_magic_refused(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    memcpy(b, "SQLite f", 8);
    sr_test_write_file(sc->path, b, n);
    assert_refused(sc->path, SR_ERR_FORMAT, "not a seqrec store");
    free(b);
}

static void test_store_newer_version_refused(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    wr32(b + OFF_VERSION, SR_STORE_VERSION + 1);
    sr_test_write_file(sc->path, b, n);
    assert_refused(sc->path, SR_ERR_VERSION, "version 2, this build reads version 1");
    free(b);
}

static void test_store_byte_swapped_bom_refused(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    const uint8_t be[4] = { 1, 2, 3, 4 }; /* 0x01020304 as a big-endian host writes it */
    memcpy(b + OFF_BOM, be, 4);
    sr_test_write_file(sc->path, b, n);
    assert_refused(sc->path, SR_ERR_VERSION, "other byte order");
    free(b);
}

static void test_store_missing_file_not_found(void **state)
{
    (void)state;
    sr_store *s = NULL;
    assert_int_equal(sr_store_open("/nonexistent/dir/x.srs", &s), SR_ERR_NOTFOUND);
    assert_null(s);
    assert_non_null(strstr(sr_errmsg(), "/nonexistent/dir/x.srs"));
}

/* ---- structural and semantic errors behind valid checksums ------------------------ */

/* Recompute every checksum as docs/data.md ("Session store format") defines them. */
static void reseal(uint8_t *b, size_t n)
{
    uint32_t ns = rd32(b + OFF_SECTION_COUNT);
    uint64_t po = rd64(b + OFF_PAYLOAD_OFFSET);
    for (uint32_t k = 0; k < ns; k++) {
        uint8_t *e = b + HDR_SIZE + k * ENTRY_SIZE;
        uint64_t bytes = rd64(e + 8) * rd32(e + 4), off = rd64(e + 16);
        if (off <= n && bytes <= n - off)
            wr64(e + 24, XXH3_64bits(b + off, bytes));
    }
    wr64(b + OFF_PAYLOAD_CHECKSUM, XXH3_64bits(b + po, n - po));
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, b, OFF_HEADER_CHECKSUM);
    XXH3_64bits_update(st, b + HDR_SIZE, po - HDR_SIZE);
    wr64(b + OFF_HEADER_CHECKSUM, XXH3_64bits_digest(st));
    XXH3_freeState(st);
}

static uint8_t *entry(uint8_t *b, int id)
{
    return b + HDR_SIZE + (id - 1) * ENTRY_SIZE;
}

static uint8_t *section(uint8_t *b, int id)
{
    return b + rd64(entry(b, id) + 16);
}

typedef void (*mutate_fn)(uint8_t *b);

/* Write the small store, apply `mut`, reseal, and expect `want`. */
static void check_resealed(const scratch *sc, mutate_fn mut, sr_err want, const char *msg_part)
{
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    mut(b);
    reseal(b, n);
    sr_test_write_file(sc->path, b, n);
    if (want == SR_OK) {
        sr_store *s = NULL;
        assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
        sr_store_close(&s);
    } else {
        assert_refused(sc->path, want, msg_part);
    }
    free(b);
}

static void mut_nothing(uint8_t *b)
{
    (void)b;
}
static void mut_split_code_4(uint8_t *b)
{
    section(b, SEC_SESSION_SPLIT)[2] = 4;
}
static void mut_session_offsets_not_increasing(uint8_t *b)
{
    wr64(section(b, SEC_SESSION_OFFSETS) + 8, 4); /* 0 4 4 8 10: session 1 empty */
}
static void mut_session_offsets_end_short(uint8_t *b)
{
    wr64(section(b, SEC_SESSION_OFFSETS) + 32, 9);
}
static void mut_session_offsets_start_nonzero(uint8_t *b)
{
    wr64(section(b, SEC_SESSION_OFFSETS), 1);
}
static void mut_track_index_eq_n_tracks(uint8_t *b)
{
    wr32(section(b, SEC_PLAY_TRACK) + 4 * 6, 3);
}
static void mut_track_index_below_unseen(uint8_t *b)
{
    wr32(section(b, SEC_PLAY_TRACK), (uint32_t)-2);
}
static void mut_track_id_offsets_decrease(uint8_t *b)
{
    wr64(section(b, SEC_TRACK_ID_OFFSETS) + 8, 7); /* 0 7 6 14 */
}
static void mut_track_id_offsets_end_wrong(uint8_t *b)
{
    wr64(section(b, SEC_TRACK_ID_OFFSETS) + 24, 13);
}
static void mut_section_misaligned(uint8_t *b)
{
    uint8_t *e = entry(b, SEC_PLAY_TRACK);
    wr64(e + 16, rd64(e + 16) + 8);
}
static void mut_section_wrong_element_size(uint8_t *b)
{
    wr32(entry(b, SEC_PLAY_TRACK) + 4, 8);
}
static void mut_section_wrong_count(uint8_t *b)
{
    wr64(entry(b, SEC_PLAY_TRACK) + 8, 9);
}
static void mut_section_past_end(uint8_t *b)
{
    wr64(entry(b, SEC_STATS) + 16, (uint64_t)1 << 40);
}
static void mut_section_huge_count(uint8_t *b)
{
    wr64(entry(b, SEC_TRACK_ID_BYTES) + 8, UINT64_MAX / 2);
}
static void mut_section_missing(uint8_t *b)
{
    wr32(entry(b, SEC_PLAY_CONTEXT), 99); /* now an unknown, skipped id */
}
static void mut_sections_overlap(uint8_t *b)
{
    /* play_feedback starts where play_track does */
    wr64(entry(b, SEC_PLAY_FEEDBACK) + 16, rd64(entry(b, SEC_PLAY_TRACK) + 16));
}
static void mut_header_n_sessions_plus_1(uint8_t *b)
{
    wr64(b + OFF_N_SESSIONS, SMALL_SESSIONS + 1);
}
static void mut_header_n_sessions_huge(uint8_t *b)
{
    wr64(b + OFF_N_SESSIONS, UINT64_MAX);
}
static void mut_declared_size_larger(uint8_t *b)
{
    wr64(b + OFF_FILE_SIZE, rd64(b + OFF_FILE_SIZE) + 64);
}
static void mut_bad_meta_split_kind(uint8_t *b)
{
    wr32(b + 68, 9);
}
static void mut_stats_name_unterminated(uint8_t *b)
{
    memset(section(b, SEC_STATS), 'x', 40);
}

static void test_store_resealed_unchanged_file_opens(void **state)
{
    check_resealed(*state, mut_nothing, SR_OK, NULL);
}
static void test_store_split_code_4_refused(void **state)
{
    check_resealed(*state, mut_split_code_4, SR_ERR_CORRUPT, "session 2: split code 4 > 3");
}
static void test_store_session_offsets_not_increasing_refused(void **state)
{
    check_resealed(*state, mut_session_offsets_not_increasing, SR_ERR_CORRUPT,
                   "session 1: offsets 4..4 are not increasing");
}
static void test_store_session_offsets_not_ending_at_n_plays_refused(void **state)
{
    check_resealed(*state, mut_session_offsets_end_short, SR_ERR_CORRUPT, "expected 0 to 10");
}
static void test_store_session_offsets_not_starting_at_0_refused(void **state)
{
    check_resealed(*state, mut_session_offsets_start_nonzero, SR_ERR_CORRUPT, "run from 1 to 10");
}
static void test_store_track_index_eq_n_tracks_refused(void **state)
{
    check_resealed(*state, mut_track_index_eq_n_tracks, SR_ERR_CORRUPT, "play 6: track index 3");
}
static void test_store_track_index_below_unseen_refused(void **state)
{
    check_resealed(*state, mut_track_index_below_unseen, SR_ERR_CORRUPT, "play 0: track index -2");
}
static void test_store_track_id_offsets_decreasing_refused(void **state)
{
    check_resealed(*state, mut_track_id_offsets_decrease, SR_ERR_CORRUPT, "track 1: id offsets decrease");
}
static void test_store_track_id_offsets_not_ending_at_bytes_refused(void **state)
{
    check_resealed(*state, mut_track_id_offsets_end_wrong, SR_ERR_CORRUPT, "expected 0 to 14");
}
static void test_store_misaligned_section_refused(void **state)
{
    check_resealed(*state, mut_section_misaligned, SR_ERR_CORRUPT, "(play_track)");
}
static void test_store_wrong_element_size_refused(void **state)
{
    check_resealed(*state, mut_section_wrong_element_size, SR_ERR_CORRUPT,
                   "play_track has 8-byte elements, expected 4");
}
static void test_store_section_count_inconsistent_with_header_refused(void **state)
{
    check_resealed(*state, mut_section_wrong_count, SR_ERR_CORRUPT,
                   "play_track has 9 elements, the header implies 10");
}
static void test_store_section_past_end_refused(void **state)
{
    check_resealed(*state, mut_section_past_end, SR_ERR_CORRUPT, "lies outside the file");
}
static void test_store_section_huge_count_refused(void **state)
{
    check_resealed(*state, mut_section_huge_count, SR_ERR_CORRUPT, "(track_id_bytes)");
}
static void test_store_missing_section_refused(void **state)
{
    check_resealed(*state, mut_section_missing, SR_ERR_CORRUPT, "section play_context is missing");
}
static void test_store_overlapping_sections_refused(void **state)
{
    check_resealed(*state, mut_sections_overlap, SR_ERR_CORRUPT, "(play_feedback)");
}
static void test_store_header_session_count_off_by_one_refused(void **state)
{
    check_resealed(*state, mut_header_n_sessions_plus_1, SR_ERR_CORRUPT,
                   "session_offsets has 5 elements, the header implies 6");
}
static void test_store_header_session_count_huge_refused(void **state)
{
    check_resealed(*state, mut_header_n_sessions_huge, SR_ERR_CORRUPT, "do not fit");
}
static void test_store_declared_size_larger_than_file_refused(void **state)
{
    check_resealed(*state, mut_declared_size_larger, SR_ERR_CORRUPT, "truncated");
}
static void test_store_bad_meta_refused(void **state)
{
    check_resealed(*state, mut_bad_meta_split_kind, SR_ERR_CORRUPT, "bad meta (split 9");
}
static void test_store_unterminated_stat_name_refused(void **state)
{
    check_resealed(*state, mut_stats_name_unterminated, SR_ERR_CORRUPT, "stats entry 0");
}

/* Stats are read by name: an unknown name is ignored and the field it
 * replaced reads 0; a known name with the wrong type is ignored too. */
static void test_store_stats_unknown_names_ignored_missing_zero(void **state)
{
    scratch *sc = *state;
    assert_int_equal(write_small(sc->path), SR_OK);
    size_t n;
    uint8_t *b = sr_test_read_file(sc->path, &n);
    uint8_t *st = section(b, SEC_STATS);
    uint8_t *skipped = st + 13 * STAT_SIZE;
    assert_string_equal((const char *)skipped, "skipped");
    memset(skipped, 0, 40);
    memcpy(skipped, "zz_from_the_future", 18);
    uint8_t *rate = st + 14 * STAT_SIZE;
    assert_string_equal((const char *)rate, "skip_rate");
    wr32(rate + 40, 1); /* claims u64 */
    reseal(b, n);
    sr_test_write_file(sc->path, b, n);
    sr_store *s = NULL;
    assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
    sr_store_stats want = small_stats();
    want.skipped = 0;
    want.skip_rate = 0.0;
    assert_memory_equal(&s->stats, &want, sizeof want);
    assert_int_equal(s->stats.tracks, 13);
    sr_store_close(&s);
    free(b);
}

/* ---- stats visitor --------------------------------------------------------------- */
typedef struct visit_log {
    int n;
    const char *names[32];
    bool real[32];
    uint64_t u[32];
    double f[32];
} visit_log;

static void visit_record(void *ud, const char *name, bool is_real, uint64_t u, double f)
{
    visit_log *l = ud;
    assert_true(l->n < 32);
    l->names[l->n] = name;
    l->real[l->n] = is_real;
    l->u[l->n] = u;
    l->f[l->n] = f;
    l->n++;
}

static void test_store_stats_visit_in_declaration_order(void **state)
{
    (void)state;
    static const char *const want[] = {
        "input_files",        "input_bytes",        "input_rows",
        "rejected_rows",      "sessions_read",      "plays_read",
        "removed_short_sessions", "removed_noskip_sessions", "removed_rare_track_plays",
        "truncated_plays",    "sessions",           "interactions",
        "tracks",             "skipped",            "skip_rate",
        "train_sessions",     "valid_sessions",     "test_sessions",
        "train_interactions", "valid_interactions", "test_interactions",
        "unseen_tracks",      "unseen_plays",
    };
    sr_store_stats s = small_stats();
    visit_log l;
    memset(&l, 0, sizeof l);
    sr_store_stats_visit(&s, visit_record, &l);
    assert_int_equal(l.n, 23);
    for (int i = 0; i < 23; i++) {
        assert_string_equal(l.names[i], want[i]);
        if (i == 14) {
            assert_true(l.real[i]);
            assert_true(l.f[i] == 0.4375);
        } else {
            assert_false(l.real[i]);
            /* small_stats() numbers the fields 1..23 (the last is UINT64_MAX) */
            assert_true(l.u[i] == (i == 22 ? UINT64_MAX : (uint64_t)i + 1));
        }
    }
}

/* ---- streaming -------------------------------------------------------------------- */
#define STREAM_SESSIONS 200000
#define STREAM_TRACKS 5000

static uint64_t xs(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Session i of the generated dataset: 1..12 plays; tracks 0..4999, every
 * 16th play unseen. */
static uint32_t gen_session(uint64_t *rng, int32_t *track, uint8_t *fb, uint16_t *pos,
                            int64_t *t, uint32_t *ctx)
{
    uint32_t n = 1 + (uint32_t)(xs(rng) % 12);
    for (uint32_t j = 0; j < n; j++) {
        uint64_t r = xs(rng);
        track[j] = (r & 15) == 0 ? SR_TRACK_UNSEEN : (int32_t)((r >> 4) % STREAM_TRACKS);
        fb[j] = (uint8_t)(r >> 20);
        pos[j] = (uint16_t)(j + 1);
        t[j] = (int64_t)(r >> 28);
        ctx[j] = (uint32_t)(r >> 32);
    }
    return n;
}

static void test_store_streaming_200k_sessions(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(sc->path, &meta, &w), SR_OK);
    int32_t track[12];
    uint8_t fb[12];
    uint16_t pos[12];
    int64_t t[12];
    uint32_t ctx[12];
    uint64_t rng = 88172645463325252ull, plays = 0;
    for (uint32_t i = 0; i < STREAM_SESSIONS; i++) {
        uint32_t n = gen_session(&rng, track, fb, pos, t, ctx);
        plays += n;
        assert_int_equal(sr_store_writer_add(w, (uint8_t)(i & 3), (int64_t)i * 60, n, track, fb,
                                             pos, t, ctx),
                         SR_OK);
    }
    char (*idbuf)[16] = malloc(STREAM_TRACKS * sizeof *idbuf);
    sr_str *ids = malloc(STREAM_TRACKS * sizeof *ids);
    uint32_t *cnt = calloc(STREAM_TRACKS, sizeof *cnt);
    for (int i = 0; i < STREAM_TRACKS; i++) {
        int len = snprintf(idbuf[i], sizeof idbuf[i], "t%d", i);
        ids[i].ptr = idbuf[i];
        ids[i].len = (size_t)len;
        cnt[i] = (uint32_t)i;
    }
    assert_int_equal(sr_store_writer_finish(&w, STREAM_TRACKS, ids, cnt, cnt, NULL), SR_OK);

    sr_store *s = NULL;
    assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
    assert_int_equal(s->n_sessions, STREAM_SESSIONS);
    assert_int_equal(s->n_plays, plays);
    rng = 88172645463325252ull;
    uint64_t at = 0;
    for (uint32_t i = 0; i < STREAM_SESSIONS; i++) {
        uint32_t n = gen_session(&rng, track, fb, pos, t, ctx);
        assert_int_equal(s->session_offsets[i], at);
        assert_int_equal(s->session_split[i], i & 3);
        assert_true(s->session_start[i] == (int64_t)i * 60);
        for (uint32_t j = 0; j < n; j++, at++) {
            if (s->play_track[at] != track[j] || s->play_feedback[at] != fb[j] ||
                s->play_position[at] != pos[j] || s->play_time[at] != t[j] ||
                s->play_context[at] != ctx[j])
                fail_msg("session %u play %u differs", i, j);
        }
    }
    assert_int_equal(s->session_offsets[STREAM_SESSIONS], plays);
    sr_str last = sr_store_track_id(s, STREAM_TRACKS - 1);
    assert_int_equal(last.len, 5);
    assert_memory_equal(last.ptr, "t4999", 5);
    assert_int_equal(s->track_plays[4321], 4321);
    sr_store_close(&s);
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 1);
    free(idbuf);
    free(ids);
    free(cnt);
}

/* ---- sized writer and cursors ------------------------------------------------------ */

/* Session s of the small dataset through a cursor. */
static sr_err cursor_add_small(sr_store_cursor *c, int s)
{
    uint64_t o = small_offsets[s];
    return sr_store_cursor_add(c, small_split[s], small_start[s], small_len[s], small_track + o,
                               small_fb + o, small_pos + o, small_time + o, small_ctx + o);
}

static sr_err finish_small(sr_store_writer **w)
{
    sr_str ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = sr_str_c(small_ids[i]);
    sr_store_stats st = small_stats();
    return sr_store_writer_finish(w, SMALL_TRACKS, ids, small_plays, small_skips, &st);
}

/* The file at `a` equals the file at `b`, byte for byte. */
static void assert_same_file(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *x = sr_test_read_file(a, &na);
    uint8_t *y = sr_test_read_file(b, &nb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++)
        if (x[i] != y[i])
            fail_msg("%s and %s differ first at byte %zu", a, b, i);
    free(x);
    free(y);
}

/* sr_store_writer_add on a sized writer gives exactly the streaming file. */
static void test_store_sized_add_matches_streaming_byte_for_byte(void **state)
{
    scratch *sc = *state;
    char ref[256];
    sr_test_path_buf(ref, sizeof ref, "ref.srs");
    assert_int_equal(write_small(ref), SR_OK);
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, SMALL_SESSIONS, SMALL_PLAYS, &w),
                     SR_OK);
    for (int s = 0; s < SMALL_SESSIONS; s++) {
        uint64_t o = small_offsets[s];
        assert_int_equal(sr_store_writer_add(w, small_split[s], small_start[s], small_len[s],
                                             small_track + o, small_fb + o, small_pos + o,
                                             small_time + o, small_ctx + o),
                         SR_OK);
    }
    assert_int_equal(finish_small(&w), SR_OK);
    assert_null(w);
    assert_same_file(ref, sc->path);
    sr_store *s = NULL;
    assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
    assert_small_contents(s);
    sr_store_close(&s);
    /* no spool or tmp left: the two stores only */
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 2);
}

/* Cursors filled and closed out of order, plus an empty one, still give
 * the streaming file. */
static void test_store_sized_cursors_out_of_order_match_streaming(void **state)
{
    scratch *sc = *state;
    char ref[256];
    sr_test_path_buf(ref, sizeof ref, "ref.srs");
    assert_int_equal(write_small(ref), SR_OK);
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, SMALL_SESSIONS, SMALL_PLAYS, &w),
                     SR_OK);
    /* "<path>.tmp" exists from the start, and no spool */
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 2);
    sr_store_cursor *late = NULL, *early = NULL, *empty = NULL;
    /* sessions 2-3 own plays 4..9, sessions 0-1 plays 0..3 */
    assert_int_equal(sr_store_cursor_open(w, 2, 2, 4, 6, &late), SR_OK);
    assert_int_equal(sr_store_cursor_open(w, 0, 2, 0, 4, &early), SR_OK);
    assert_int_equal(sr_store_cursor_open(w, 4, 0, 10, 0, &empty), SR_OK);
    assert_int_equal(cursor_add_small(late, 2), SR_OK);
    assert_int_equal(cursor_add_small(early, 0), SR_OK);
    assert_int_equal(cursor_add_small(late, 3), SR_OK);
    assert_int_equal(sr_store_cursor_close(&late), SR_OK);
    assert_null(late);
    assert_int_equal(sr_store_cursor_close(&empty), SR_OK);
    assert_int_equal(cursor_add_small(early, 1), SR_OK);
    assert_int_equal(sr_store_cursor_close(&early), SR_OK);
    assert_int_equal(sr_store_cursor_close(&early), SR_OK); /* NULL-safe */
    assert_int_equal(finish_small(&w), SR_OK);
    assert_same_file(ref, sc->path);
}

static void test_store_sized_zero_sessions_matches_streaming(void **state)
{
    scratch *sc = *state;
    char ref[256];
    sr_test_path_buf(ref, sizeof ref, "ref.srs");
    sr_store_meta meta = small_meta();
    sr_str id = sr_str_c("lonely");
    const uint32_t zero = 0;
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(ref, &meta, &w), SR_OK);
    assert_int_equal(sr_store_writer_finish(&w, 1, &id, &zero, &zero, NULL), SR_OK);
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, 0, 0, &w), SR_OK);
    assert_int_equal(sr_store_writer_finish(&w, 1, &id, &zero, &zero, NULL), SR_OK);
    assert_same_file(ref, sc->path);
}

/* A session longer than a cursor's play buffer (32768 plays) is written
 * from the caller's arrays, between buffered ones, at the right place. */
#define LONG_SESSION 40000
static void test_store_sized_session_longer_than_buffer(void **state)
{
    scratch *sc = *state;
    char ref[256];
    sr_test_path_buf(ref, sizeof ref, "ref.srs");
    int32_t *track = malloc(LONG_SESSION * sizeof *track);
    uint8_t *fb = malloc(LONG_SESSION);
    uint16_t *pos = malloc(LONG_SESSION * sizeof *pos);
    int64_t *t = malloc(LONG_SESSION * sizeof *t);
    uint32_t *ctx = malloc(LONG_SESSION * sizeof *ctx);
    for (uint32_t i = 0; i < LONG_SESSION; i++) {
        track[i] = (int32_t)(i % 3);
        fb[i] = (uint8_t)i;
        pos[i] = (uint16_t)(i + 1);
        t[i] = (int64_t)i * 1000;
        ctx[i] = i * 7u;
    }
    /* sessions: 5 plays, 40000, 3, 40000, 2 */
    const uint32_t len[5] = { 5, LONG_SESSION, 3, LONG_SESSION, 2 };
    const uint64_t total = 5 + LONG_SESSION + 3 + LONG_SESSION + 2;
    sr_store_meta meta = small_meta();
    sr_store_writer *ws = NULL, *wz = NULL;
    assert_int_equal(sr_store_writer_open(ref, &meta, &ws), SR_OK);
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, 5, total, &wz), SR_OK);
    for (int s = 0; s < 5; s++) {
        /* shift the short ones so their values differ from the long ones' starts */
        uint32_t o = len[s] == LONG_SESSION ? 0 : 100u + (uint32_t)s;
        assert_int_equal(sr_store_writer_add(ws, SR_SPLIT_ALL, s, len[s], track + o, fb + o,
                                             pos + o, t + o, ctx + o),
                         SR_OK);
        assert_int_equal(sr_store_writer_add(wz, SR_SPLIT_ALL, s, len[s], track + o, fb + o,
                                             pos + o, t + o, ctx + o),
                         SR_OK);
    }
    sr_str ids[3] = { sr_str_c("a"), sr_str_c("b"), sr_str_c("c") };
    const uint32_t cnt[3] = { 1, 2, 3 };
    assert_int_equal(sr_store_writer_finish(&ws, 3, ids, cnt, cnt, NULL), SR_OK);
    assert_int_equal(sr_store_writer_finish(&wz, 3, ids, cnt, cnt, NULL), SR_OK);
    assert_same_file(ref, sc->path);
    sr_store *s = NULL;
    assert_int_equal(sr_store_open(sc->path, &s), SR_OK);
    assert_int_equal(s->n_plays, total);
    /* session 3 (the second long one) starts after 5 + 40000 + 3 plays */
    assert_int_equal(s->session_offsets[3], 5 + LONG_SESSION + 3);
    assert_true(s->play_time[5 + LONG_SESSION + 3 + 39999] == (int64_t)39999 * 1000);
    assert_int_equal(s->play_context[5 + LONG_SESSION + 3 + 12345], 12345u * 7u);
    /* session 4 is plays 104, 105 of the arrays */
    assert_int_equal(s->play_position[total - 1], 106);
    sr_store_close(&s);
    free(track);
    free(fb);
    free(pos);
    free(t);
    free(ctx);
}

/* Two threads fill the two halves of 200k sessions through their own
 * cursors (many buffer flushes each); the file equals the streaming one. */
typedef struct fill_job {
    sr_store_cursor *c;
    uint32_t first, n; /* sessions */
    uint64_t rng;      /* generator state at session `first` */
    sr_err err;
} fill_job;

static void *fill_thread(void *arg)
{
    fill_job *j = arg;
    int32_t track[12];
    uint8_t fb[12];
    uint16_t pos[12];
    int64_t t[12];
    uint32_t ctx[12];
    j->err = SR_OK;
    for (uint32_t i = j->first; i < j->first + j->n && j->err == SR_OK; i++) {
        uint32_t n = gen_session(&j->rng, track, fb, pos, t, ctx);
        j->err = sr_store_cursor_add(j->c, (uint8_t)(i & 3), (int64_t)i * 60, n, track, fb, pos,
                                     t, ctx);
    }
    if (j->err == SR_OK)
        j->err = sr_store_cursor_close(&j->c);
    return NULL;
}

static void test_store_sized_two_threads_match_streaming(void **state)
{
    scratch *sc = *state;
    char ref[256];
    sr_test_path_buf(ref, sizeof ref, "ref.srs");
    sr_store_meta meta = small_meta();
    int32_t track[12];
    uint8_t fb[12];
    uint16_t pos[12];
    int64_t t[12];
    uint32_t ctx[12];
    /* reference, and the split point: plays before session HALF */
    const uint32_t half = STREAM_SESSIONS / 2;
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open(ref, &meta, &w), SR_OK);
    uint64_t rng = 88172645463325252ull, plays = 0, plays_half = 0, rng_half = 0;
    for (uint32_t i = 0; i < STREAM_SESSIONS; i++) {
        if (i == half) {
            plays_half = plays;
            rng_half = rng;
        }
        uint32_t n = gen_session(&rng, track, fb, pos, t, ctx);
        plays += n;
        assert_int_equal(sr_store_writer_add(w, (uint8_t)(i & 3), (int64_t)i * 60, n, track, fb,
                                             pos, t, ctx),
                         SR_OK);
    }
    char (*idbuf)[16] = malloc(STREAM_TRACKS * sizeof *idbuf);
    sr_str *ids = malloc(STREAM_TRACKS * sizeof *ids);
    uint32_t *cnt = calloc(STREAM_TRACKS, sizeof *cnt);
    for (int i = 0; i < STREAM_TRACKS; i++) {
        int len = snprintf(idbuf[i], sizeof idbuf[i], "t%d", i);
        ids[i].ptr = idbuf[i];
        ids[i].len = (size_t)len;
        cnt[i] = (uint32_t)i;
    }
    assert_int_equal(sr_store_writer_finish(&w, STREAM_TRACKS, ids, cnt, cnt, NULL), SR_OK);

    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, STREAM_SESSIONS, plays, &w),
                     SR_OK);
    fill_job jobs[2] = {
        { NULL, 0, half, 88172645463325252ull, SR_OK },
        { NULL, half, STREAM_SESSIONS - half, rng_half, SR_OK },
    };
    assert_int_equal(sr_store_cursor_open(w, 0, half, 0, plays_half, &jobs[0].c), SR_OK);
    assert_int_equal(sr_store_cursor_open(w, half, STREAM_SESSIONS - half, plays_half,
                                          plays - plays_half, &jobs[1].c),
                     SR_OK);
    pthread_t th[2];
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&th[k], NULL, fill_thread, &jobs[k]), 0);
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_join(th[k], NULL), 0);
    assert_int_equal(jobs[0].err, SR_OK);
    assert_int_equal(jobs[1].err, SR_OK);
    assert_int_equal(sr_store_writer_finish(&w, STREAM_TRACKS, ids, cnt, cnt, NULL), SR_OK);
    assert_same_file(ref, sc->path);
    free(idbuf);
    free(ids);
    free(cnt);
}

static void test_store_sized_open_rejects_impossible_totals(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, 2, 1, &w), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "2 sessions cannot hold 1 plays"));
    assert_null(w);
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, 0, 3, &w), SR_ERR_ARG);
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, UINT64_MAX / 2, UINT64_MAX / 2,
                                                &w),
                     SR_ERR_LIMIT);
    meta.skip_rule = (sr_skip_rule)9;
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, 1, 1, &w), SR_ERR_ARG);
    meta = small_meta();
    char p[256];
    snprintf(p, sizeof p, "%s/no/such/dir/x.srs", sc->dir);
    assert_int_equal(sr_store_writer_open_sized(p, &meta, 1, 1, &w), SR_ERR_IO);
    assert_non_null(strstr(sr_errmsg(), "no/such/dir/x.srs.tmp"));
    assert_null(w);
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);
}

static void test_store_cursor_ranges_checked(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL, *streaming = NULL;
    sr_store_cursor *a = NULL, *b = NULL;
    char ref[256];
    sr_test_path_buf(ref, sizeof ref, "ref.srs");
    assert_int_equal(sr_store_writer_open(ref, &meta, &streaming), SR_OK);
    assert_int_equal(sr_store_cursor_open(streaming, 0, 0, 0, 0, &a), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "cursors need a sized writer"));
    sr_store_writer_abort(&streaming);

    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, SMALL_SESSIONS, SMALL_PLAYS, &w),
                     SR_OK);
    /* outside the store */
    assert_int_equal(sr_store_cursor_open(w, 3, 2, 8, 2, &b), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "lies outside"));
    assert_int_equal(sr_store_cursor_open(w, 0, 1, 9, 2, &b), SR_ERR_ARG);
    /* unfillable: fewer plays than sessions, or plays without sessions */
    assert_int_equal(sr_store_cursor_open(w, 0, 2, 0, 1, &b), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "cannot hold 1 plays"));
    assert_int_equal(sr_store_cursor_open(w, 0, 0, 0, 1, &b), SR_ERR_ARG);
    assert_null(b);
    /* overlapping sessions, then overlapping plays with disjoint sessions */
    assert_int_equal(sr_store_cursor_open(w, 0, 2, 0, 4, &a), SR_OK);
    assert_int_equal(sr_store_cursor_open(w, 1, 2, 4, 6, &b), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "sessions [1, 3) and plays [4, 10) overlaps one for "
                                        "sessions [0, 2) and plays [0, 4)"));
    assert_int_equal(sr_store_cursor_open(w, 2, 2, 3, 7, &b), SR_ERR_ARG);
    assert_null(b);
    /* the implicit cursor of sr_store_writer_add covers everything: refused too */
    assert_int_equal(sr_store_writer_add(w, small_split[0], small_start[0], small_len[0],
                                         small_track, small_fb, small_pos, small_time, small_ctx),
                     SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "overlaps"));
    /* a session must fit what is left of its cursor */
    const int32_t tr[5] = { 0, 0, 0, 0, 0 };
    const uint8_t fb[5] = { 0 };
    const uint16_t pos[5] = { 1, 2, 3, 4, 5 };
    const int64_t t[5] = { 0 };
    const uint32_t ctx[5] = { 0 };
    assert_int_equal(sr_store_cursor_add(a, SR_SPLIT_ALL, 0, 5, tr, fb, pos, t, ctx), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "session 0 of 5 plays does not fit its cursor"));
    assert_int_equal(cursor_add_small(a, 0), SR_OK); /* 3 plays, 1 left */
    assert_int_equal(sr_store_cursor_add(a, SR_SPLIT_ALL, 0, 2, tr, fb, pos, t, ctx), SR_ERR_ARG);
    assert_int_equal(sr_store_cursor_add(a, SR_SPLIT_ALL, 0, 1, tr, fb, pos, t, ctx), SR_OK);
    assert_int_equal(sr_store_cursor_add(a, SR_SPLIT_ALL, 0, 1, tr, fb, pos, t, ctx), SR_ERR_ARG);
    /* the same checks as sr_store_writer_add, naming the session's store index */
    assert_int_equal(sr_store_cursor_open(w, 2, 2, 4, 6, &b), SR_OK);
    const int32_t bad[2] = { 0, -2 };
    assert_int_equal(sr_store_cursor_add(b, SR_SPLIT_ALL, 0, 2, bad, fb, pos, t, ctx),
                     SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "session 2 play 1: track index -2"));
    assert_int_equal(sr_store_cursor_add(b, 4, 0, 2, tr, fb, pos, t, ctx), SR_ERR_ARG);
    assert_int_equal(sr_store_cursor_add(b, SR_SPLIT_ALL, 0, 0, tr, fb, pos, t, ctx), SR_ERR_ARG);
    assert_int_equal(sr_store_cursor_close(&a), SR_OK);
    sr_store_cursor_abort(&b);
    assert_null(b);
    sr_store_cursor_abort(&b); /* NULL-safe */
    sr_store_writer_abort(&w);
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);
}

/* A cursor closed short, an abandoned cursor, or a range no cursor
 * filled: finish fails and leaves nothing behind. */
static void test_store_sized_incomplete_refused(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    sr_store_cursor *c = NULL;

    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, SMALL_SESSIONS, SMALL_PLAYS, &w),
                     SR_OK);
    assert_int_equal(sr_store_cursor_open(w, 0, 2, 0, 4, &c), SR_OK);
    assert_int_equal(cursor_add_small(c, 0), SR_OK);
    assert_int_equal(sr_store_cursor_close(&c), SR_ERR_ARG);
    assert_null(c);
    assert_non_null(strstr(sr_errmsg(), "sessions [0, 2) and plays [0, 4) closed after 1 "
                                        "sessions and 3 plays"));
    assert_int_equal(finish_small(&w), SR_ERR_IO);
    assert_null(w);
    assert_non_null(strstr(sr_errmsg(), "closed after 1 sessions"));
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);

    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, SMALL_SESSIONS, SMALL_PLAYS, &w),
                     SR_OK);
    assert_int_equal(sr_store_cursor_open(w, 0, 4, 0, 10, &c), SR_OK);
    sr_store_cursor_abort(&c);
    assert_int_equal(finish_small(&w), SR_ERR_IO);
    assert_non_null(strstr(sr_errmsg(), "abandoned"));
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);

    /* sessions 0-1 written, 2-3 never */
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, SMALL_SESSIONS, SMALL_PLAYS, &w),
                     SR_OK);
    assert_int_equal(sr_store_cursor_open(w, 0, 2, 0, 4, &c), SR_OK);
    assert_int_equal(cursor_add_small(c, 0), SR_OK);
    assert_int_equal(cursor_add_small(c, 1), SR_OK);
    assert_int_equal(sr_store_cursor_close(&c), SR_OK);
    assert_int_equal(finish_small(&w), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "2 of 4 sessions and 4 of 10 plays were written"));
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);

    /* the implicit cursor, one session short */
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, SMALL_SESSIONS, SMALL_PLAYS, &w),
                     SR_OK);
    for (int s = 0; s < SMALL_SESSIONS - 1; s++) {
        uint64_t o = small_offsets[s];
        assert_int_equal(sr_store_writer_add(w, small_split[s], small_start[s], small_len[s],
                                             small_track + o, small_fb + o, small_pos + o,
                                             small_time + o, small_ctx + o),
                         SR_OK);
    }
    assert_int_equal(finish_small(&w), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "closed after 3 sessions and 8 plays"));
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);
}

/* The finish-time index check names the earliest session holding the
 * largest index, whatever order the cursors closed in (as streaming does). */
static void test_store_sized_track_index_out_of_range_names_first_session(void **state)
{
    scratch *sc = *state;
    sr_store_meta meta = small_meta();
    sr_store_writer *w = NULL;
    sr_store_cursor *a = NULL, *b = NULL;
    assert_int_equal(sr_store_writer_open_sized(sc->path, &meta, 4, 8, &w), SR_OK);
    assert_int_equal(sr_store_cursor_open(w, 0, 2, 0, 4, &a), SR_OK);
    assert_int_equal(sr_store_cursor_open(w, 2, 2, 4, 4, &b), SR_OK);
    const int32_t ok[2] = { 0, 1 }, big1[2] = { 0, 5 }, big0[2] = { 5, 5 };
    const uint8_t fb[2] = { 0 };
    const uint16_t pos[2] = { 1, 2 };
    const int64_t t[2] = { 0 };
    const uint32_t ctx[2] = { 0 };
    assert_int_equal(sr_store_cursor_add(a, SR_SPLIT_ALL, 0, 2, ok, fb, pos, t, ctx), SR_OK);
    assert_int_equal(sr_store_cursor_add(a, SR_SPLIT_ALL, 0, 2, big1, fb, pos, t, ctx), SR_OK);
    assert_int_equal(sr_store_cursor_add(b, SR_SPLIT_ALL, 0, 2, big0, fb, pos, t, ctx), SR_OK);
    assert_int_equal(sr_store_cursor_add(b, SR_SPLIT_ALL, 0, 2, ok, fb, pos, t, ctx), SR_OK);
    assert_int_equal(sr_store_cursor_close(&b), SR_OK);
    assert_int_equal(sr_store_cursor_close(&a), SR_OK);
    sr_str ids[3] = { sr_str_c("a"), sr_str_c("b"), sr_str_c("c") };
    const uint32_t cnt[3] = { 0 };
    assert_int_equal(sr_store_writer_finish(&w, 3, ids, cnt, cnt, NULL), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "session 1 play 1: track index 5 >= n_tracks 3"));
    assert_int_equal(sr_test_count_entries(sc->dir, NULL, 0), 0);
}

/* The names of the split kinds and source formats round-trip, and an
 * unknown name is refused with a message listing the known ones. */
static void test_store_split_and_source_names(void **state)
{
    (void)state;
    const sr_split_kind kinds[] = { SR_SPLIT_KIND_LEAVE_LAST, SR_SPLIT_KIND_TEMPORAL };
    const char *kind_names[] = { "leave-last", "temporal" };
    for (int i = 0; i < 2; i++) {
        sr_split_kind k = SR_SPLIT_KIND_TEMPORAL - kinds[i];
        assert_string_equal(sr_split_kind_name(kinds[i]), kind_names[i]);
        assert_int_equal(sr_split_kind_parse(sr_str_c(kind_names[i]), &k), SR_OK);
        assert_int_equal(k, kinds[i]);
    }
    const char *formats[] = { "mssd", "events", "synth" };
    for (int i = 0; i < 3; i++) {
        sr_source_format f = SR_SOURCE_FORMAT_SYNTH;
        assert_int_equal(sr_source_format_parse(sr_str_c(formats[i]), &f), SR_OK);
        assert_string_equal(sr_source_format_name(f), formats[i]);
    }
    sr_split_kind k = SR_SPLIT_KIND_TEMPORAL;
    sr_str prefix = { "temporalx", 8 }; /* length-delimited: "temporal" */
    assert_int_equal(sr_split_kind_parse(prefix, &k), SR_OK);
    k = SR_SPLIT_KIND_LEAVE_LAST;
    assert_int_equal(sr_split_kind_parse(sr_str_c("leave_last"), &k), SR_ERR_ARG);
    assert_int_equal(k, SR_SPLIT_KIND_LEAVE_LAST);
    assert_string_equal(sr_errmsg(),
                        "unknown split \"leave_last\" (expected leave-last or temporal)");
    assert_string_equal(sr_split_kind_name((sr_split_kind)7), "unknown");
}

#define SCRATCH_TEST(f) cmocka_unit_test_setup_teardown(f, scratch_setup, sr_test_dir_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_split_and_source_names),
        SCRATCH_TEST(test_store_round_trip_small),
        SCRATCH_TEST(test_store_layout_matches_documentation),
        SCRATCH_TEST(test_store_one_session_zero_tracks),
        SCRATCH_TEST(test_store_zero_sessions),
        SCRATCH_TEST(test_store_track_index_out_of_range_refused_at_finish),
        SCRATCH_TEST(test_store_add_rejects_bad_sessions),
        SCRATCH_TEST(test_store_finish_rejects_empty_track_id),
        SCRATCH_TEST(test_store_writer_open_rejects_bad_meta_and_missing_dir),
        SCRATCH_TEST(test_store_abort_removes_spools),
        SCRATCH_TEST(test_store_no_tmp_or_spool_left_after_finish),
        SCRATCH_TEST(test_store_existing_file_replaced_atomically),
        SCRATCH_TEST(test_store_truncated_is_corrupt),
        SCRATCH_TEST(test_store_trailing_bytes_are_corrupt),
        SCRATCH_TEST(test_store_flipped_byte_in_payload_refused),
        SCRATCH_TEST(test_store_flipped_byte_in_header_refused),
        SCRATCH_TEST(test_store_flipped_byte_in_section_table_refused),
        SCRATCH_TEST(test_store_every_flipped_byte_refused),
        SCRATCH_TEST(test_store_wrong_magic_refused),
        SCRATCH_TEST(test_store_newer_version_refused),
        SCRATCH_TEST(test_store_byte_swapped_bom_refused),
        SCRATCH_TEST(test_store_missing_file_not_found),
        SCRATCH_TEST(test_store_resealed_unchanged_file_opens),
        SCRATCH_TEST(test_store_split_code_4_refused),
        SCRATCH_TEST(test_store_session_offsets_not_increasing_refused),
        SCRATCH_TEST(test_store_session_offsets_not_ending_at_n_plays_refused),
        SCRATCH_TEST(test_store_session_offsets_not_starting_at_0_refused),
        SCRATCH_TEST(test_store_track_index_eq_n_tracks_refused),
        SCRATCH_TEST(test_store_track_index_below_unseen_refused),
        SCRATCH_TEST(test_store_track_id_offsets_decreasing_refused),
        SCRATCH_TEST(test_store_track_id_offsets_not_ending_at_bytes_refused),
        SCRATCH_TEST(test_store_misaligned_section_refused),
        SCRATCH_TEST(test_store_wrong_element_size_refused),
        SCRATCH_TEST(test_store_section_count_inconsistent_with_header_refused),
        SCRATCH_TEST(test_store_section_past_end_refused),
        SCRATCH_TEST(test_store_section_huge_count_refused),
        SCRATCH_TEST(test_store_missing_section_refused),
        SCRATCH_TEST(test_store_overlapping_sections_refused),
        SCRATCH_TEST(test_store_header_session_count_off_by_one_refused),
        SCRATCH_TEST(test_store_header_session_count_huge_refused),
        SCRATCH_TEST(test_store_declared_size_larger_than_file_refused),
        SCRATCH_TEST(test_store_bad_meta_refused),
        SCRATCH_TEST(test_store_unterminated_stat_name_refused),
        SCRATCH_TEST(test_store_stats_unknown_names_ignored_missing_zero),
        SCRATCH_TEST(test_store_stats_visit_in_declaration_order),
        SCRATCH_TEST(test_store_streaming_200k_sessions),
        SCRATCH_TEST(test_store_sized_add_matches_streaming_byte_for_byte),
        SCRATCH_TEST(test_store_sized_cursors_out_of_order_match_streaming),
        SCRATCH_TEST(test_store_sized_zero_sessions_matches_streaming),
        SCRATCH_TEST(test_store_sized_session_longer_than_buffer),
        SCRATCH_TEST(test_store_sized_two_threads_match_streaming),
        SCRATCH_TEST(test_store_sized_open_rejects_impossible_totals),
        SCRATCH_TEST(test_store_cursor_ranges_checked),
        SCRATCH_TEST(test_store_sized_incomplete_refused),
        SCRATCH_TEST(test_store_sized_track_index_out_of_range_names_first_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
