/* sr_store.c - the session store: writing (spooled or sized, in place), reading by mmap.
 *
 * File format v1, byte by byte: docs/data.md ("Session store format"). In short:
 *   [0, 256)                 fixed header (magic, version, byte-order mark,
 *                            counts, meta, payload and header checksums)
 *   [256, 256 + 32 * k)      section table, k entries {id, elem, count, offset, xxh3}
 *   [payload_offset, size)   sections, each starting on a 64-byte boundary,
 *                            zero padding between them
 * All integers little-endian (native on every supported host; the byte-order
 * mark makes a file from a big-endian writer fail loudly). Checksums are
 * XXH3_64bits with seed 0: header = XXH3(file[0, 248) ++ file[256, payload_offset)),
 * i.e. header, section table and its padding; payload = XXH3(file[payload_offset, size)).
 *
 * Writing, streaming: sr_store_writer_add() appends each session to eight
 * spool files ("<path>.spool.<section>"), so memory does not grow with the
 * number of sessions. sr_store_writer_finish() copies the spools into
 * "<path>.tmp" behind a zeroed header, hashing as it writes.
 * Writing, sized (totals known at open): sections 1-8 have fixed offsets, so
 * cursors - one per producer thread, each owning disjoint session and play
 * ranges - buffer their sessions and pwrite them straight into "<path>.tmp".
 * finish then hashes sections 1-8 back from the page cache through a map
 * (the payload checksum runs over the whole payload in order, so it cannot
 * be computed piecewise by the cursors) and appends sections 9-13.
 * Both then write the header, fsync, rename over `path` and fsync the
 * directory; the byte layout does not depend on the writer.
 *
 * Reading: sr_store_open() maps the file read-only and checks, in order:
 * size, magic, byte order, version, header checksum, declared size, section
 * table, payload checksum, then the cheap semantic invariants every consumer
 * relies on (offsets monotone, split codes, track indices in range). Only a
 * file that passes everything is handed out.
 */
#include "sr_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- format constants (docs/data.md ("Session store format")) ------------------------------ */
static const char sr_store_magic[8] = { 'S', 'R', 'S', 'T', 'O', 'R', 'E', '\0' };
#define SR_STORE_BOM 0x01020304u
#define SR_STORE_HEADER_SIZE 256u
#define SR_STORE_ENTRY_SIZE 32u
#define SR_STORE_ALIGN 64u
#define SR_STORE_MAX_SECTIONS 64u
#define SR_STORE_STAT_SIZE 56u
#define SR_STORE_STAT_NAME 40u
#define SR_STORE_STAT_U64 1u
#define SR_STORE_STAT_F64 2u

/* header field offsets */
enum {
    SR_HDR_MAGIC = 0,
    SR_HDR_VERSION = 8,
    SR_HDR_BOM = 12,
    SR_HDR_HEADER_SIZE = 16,
    SR_HDR_SECTION_COUNT = 20,
    SR_HDR_ENTRY_SIZE = 24,
    SR_HDR_FLAGS = 28,
    SR_HDR_FILE_SIZE = 32,
    SR_HDR_PAYLOAD_OFFSET = 40,
    SR_HDR_N_SESSIONS = 48,
    SR_HDR_N_PLAYS = 56,
    SR_HDR_N_TRACKS = 64,
    SR_HDR_SPLIT = 68,
    SR_HDR_SKIP_RULE = 72,
    SR_HDR_SOURCE = 76,
    SR_HDR_CREATED = 80,
    SR_HDR_NAME = 88,            /* char[64] */
    SR_HDR_PAYLOAD_CHECKSUM = 240,
    SR_HDR_HEADER_CHECKSUM = 248
};

/* section ids; also the order in which sections are written */
enum {
    SR_SEC_SESSION_OFFSETS = 1,
    SR_SEC_SESSION_SPLIT,
    SR_SEC_SESSION_START,
    SR_SEC_PLAY_TRACK,
    SR_SEC_PLAY_FEEDBACK,
    SR_SEC_PLAY_POSITION,
    SR_SEC_PLAY_TIME,
    SR_SEC_PLAY_CONTEXT,
    SR_SEC_TRACK_PLAYS,
    SR_SEC_TRACK_SKIPS,
    SR_SEC_TRACK_ID_OFFSETS,
    SR_SEC_TRACK_ID_BYTES,
    SR_SEC_STATS,
    SR_SEC_LAST = SR_SEC_STATS
};
/* The first eight sections are streamed through spools. */
#define SR_STORE_N_SPOOL 8

typedef enum sr_store_count_kind {
    SR_COUNT_SESSIONS_PLUS_1,
    SR_COUNT_SESSIONS,
    SR_COUNT_PLAYS,
    SR_COUNT_TRACKS,
    SR_COUNT_TRACKS_PLUS_1,
    SR_COUNT_FREE /* checked against another section */
} sr_store_count_kind;

static const struct {
    const char *name;
    uint32_t elem;
    sr_store_count_kind count;
} sr_store_sections[SR_SEC_LAST + 1] = {
    [SR_SEC_SESSION_OFFSETS] = { "session_offsets", 8, SR_COUNT_SESSIONS_PLUS_1 },
    [SR_SEC_SESSION_SPLIT] = { "session_split", 1, SR_COUNT_SESSIONS },
    [SR_SEC_SESSION_START] = { "session_start", 8, SR_COUNT_SESSIONS },
    [SR_SEC_PLAY_TRACK] = { "play_track", 4, SR_COUNT_PLAYS },
    [SR_SEC_PLAY_FEEDBACK] = { "play_feedback", 1, SR_COUNT_PLAYS },
    [SR_SEC_PLAY_POSITION] = { "play_position", 2, SR_COUNT_PLAYS },
    [SR_SEC_PLAY_TIME] = { "play_time", 8, SR_COUNT_PLAYS },
    [SR_SEC_PLAY_CONTEXT] = { "play_context", 4, SR_COUNT_PLAYS },
    [SR_SEC_TRACK_PLAYS] = { "track_plays", 4, SR_COUNT_TRACKS },
    [SR_SEC_TRACK_SKIPS] = { "track_skips", 4, SR_COUNT_TRACKS },
    [SR_SEC_TRACK_ID_OFFSETS] = { "track_id_offsets", 8, SR_COUNT_TRACKS_PLUS_1 },
    [SR_SEC_TRACK_ID_BYTES] = { "track_id_bytes", 1, SR_COUNT_FREE },
    [SR_SEC_STATS] = { "stats", SR_STORE_STAT_SIZE, SR_COUNT_FREE },
};

/* The table and the payload start right after the header, 64-byte aligned. */
static uint64_t sr_store_align(uint64_t x)
{
    return (x + SR_STORE_ALIGN - 1) & ~(uint64_t)(SR_STORE_ALIGN - 1);
}

static uint32_t sr_store_get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t sr_store_get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void sr_store_put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof v);
}

static void sr_store_put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
}

/* ---- stats: one table drives the file, the reader and the visitor -------- */
#define SR_STAT_U(f) { #f, offsetof(sr_store_stats, f), false }
#define SR_STAT_F(f) { #f, offsetof(sr_store_stats, f), true }
static const struct {
    const char *name;
    size_t off;
    bool real;
} sr_store_stat_fields[] = {
    SR_STAT_U(input_files),         SR_STAT_U(input_bytes),
    SR_STAT_U(input_rows),          SR_STAT_U(rejected_rows),
    SR_STAT_U(sessions_read),       SR_STAT_U(plays_read),
    SR_STAT_U(removed_short_sessions), SR_STAT_U(removed_noskip_sessions),
    SR_STAT_U(removed_rare_track_plays), SR_STAT_U(truncated_plays),
    SR_STAT_U(sessions),            SR_STAT_U(interactions),
    SR_STAT_U(tracks),              SR_STAT_U(skipped),
    SR_STAT_F(skip_rate),           SR_STAT_U(train_sessions),
    SR_STAT_U(valid_sessions),      SR_STAT_U(test_sessions),
    SR_STAT_U(train_interactions),  SR_STAT_U(valid_interactions),
    SR_STAT_U(test_interactions),   SR_STAT_U(unseen_tracks),
    SR_STAT_U(unseen_plays),
};
#undef SR_STAT_U
#undef SR_STAT_F
#define SR_STORE_N_STATS SR_COUNTOF(sr_store_stat_fields)

static const char *const sr_split_kind_names[] = {
    [SR_SPLIT_KIND_LEAVE_LAST] = "leave-last",
    [SR_SPLIT_KIND_TEMPORAL] = "temporal",
};

sr_err sr_split_kind_parse(sr_str s, sr_split_kind *out)
{
    int i;
    sr_err err = sr_name_parse(s, sr_split_kind_names, SR_COUNTOF(sr_split_kind_names), "split", &i);
    if (err == SR_OK)
        *out = (sr_split_kind)i;
    return err;
}

const char *sr_split_kind_name(sr_split_kind k)
{
    return sr_name_at(sr_split_kind_names, SR_COUNTOF(sr_split_kind_names), (unsigned)k);
}

static const char *const sr_source_format_names[] = {
    [SR_SOURCE_FORMAT_MSSD] = "mssd",
    [SR_SOURCE_FORMAT_EVENTS] = "events",
    [SR_SOURCE_FORMAT_SYNTH] = "synth",
};

sr_err sr_source_format_parse(sr_str s, sr_source_format *out)
{
    int i;
    sr_err err = sr_name_parse(s, sr_source_format_names, SR_COUNTOF(sr_source_format_names),
                               "format", &i);
    if (err == SR_OK)
        *out = (sr_source_format)i;
    return err;
}

const char *sr_source_format_name(sr_source_format f)
{
    return sr_name_at(sr_source_format_names, SR_COUNTOF(sr_source_format_names), (unsigned)f);
}

void sr_store_stats_visit(const sr_store_stats *s, sr_store_stats_visit_fn fn, void *ud)
{
    const char *base = (const char *)s;
    for (size_t i = 0; i < SR_STORE_N_STATS; i++) {
        const char *p = base + sr_store_stat_fields[i].off;
        if (sr_store_stat_fields[i].real) {
            double f;
            memcpy(&f, p, sizeof f);
            fn(ud, sr_store_stat_fields[i].name, true, 0, f);
        } else {
            uint64_t u;
            memcpy(&u, p, sizeof u);
            fn(ud, sr_store_stat_fields[i].name, false, u, 0.0);
        }
    }
}

/* ==== writing ============================================================= */

/* A cursor buffers this many sessions and plays before each positioned
 * write: 17 bytes per session and 19 per play, about 0.7 MB in all. */
#define SR_STORE_CURSOR_SESSIONS 4096u
#define SR_STORE_CURSOR_PLAYS 32768u

/* Ranges owned by one cursor, [s0, s1) sessions and [p0, p1) plays. */
typedef struct sr_store_range {
    uint64_t s0, s1, p0, p1;
} sr_store_range;

struct sr_store_writer {
    char *path;
    char *tmp_path;
    sr_store_meta meta;
    uint64_t n_sessions, n_plays;
    /* largest track index added, and where, for the check at finish */
    int32_t max_track;
    uint64_t max_track_session;
    uint32_t max_track_play;
    bool failed; /* a write failed: the file or the spools are inconsistent */
    /* streaming writer */
    char *spool_path[SR_STORE_N_SPOOL];
    FILE *spool[SR_STORE_N_SPOOL];
    /* sized writer: n_sessions and n_plays are the totals promised at open */
    bool sized;
    int fd;                               /* "<path>.tmp", read-write; -1 when none */
    uint64_t sec_off[SR_STORE_N_SPOOL];   /* file offsets of sections 1-8 */
    uint64_t sec_end;                     /* end of section 8 */
    sr_store_cursor *own;                 /* implicit cursor of sr_store_writer_add */
    pthread_mutex_t lock;
    bool lock_init;
    /* under lock while cursors are open */
    sr_store_range *ranges;
    size_t n_ranges, cap_ranges;
    unsigned open_cursors;
    uint64_t filled_sessions, filled_plays;
    char failmsg[256];                    /* first cursor failure */
};

struct sr_store_cursor {
    sr_store_writer *w;
    sr_store_range r;
    uint64_t s_next, p_next;  /* absolute index of the next session / play */
    uint64_t s_buf0, p_buf0;  /* absolute index of the first buffered one */
    uint32_t s_len, p_len;    /* buffered sessions / plays */
    uint32_t s_cap, p_cap;    /* buffer sizes: the defaults, or less for a small range */
    uint8_t *mem;             /* the eight buffers, carved from one block */
    uint8_t *buf[SR_STORE_N_SPOOL];
    int32_t max_track;
    uint64_t max_track_session;
    uint32_t max_track_play;
    bool failed;
};

static char *sr_store_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

/* Close and unlink the spools and the temporary file; free the writer. */
static void sr_store_writer_destroy(sr_store_writer *w)
{
    for (int k = 0; k < SR_STORE_N_SPOOL; k++) {
        if (w->spool[k])
            fclose(w->spool[k]);
        if (w->spool_path[k]) {
            unlink(w->spool_path[k]);
            free(w->spool_path[k]);
        }
    }
    if (w->own) {
        free(w->own->mem);
        free(w->own);
    }
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp_path) {
        unlink(w->tmp_path);
        free(w->tmp_path);
    }
    if (w->lock_init)
        pthread_mutex_destroy(&w->lock);
    free(w->ranges);
    free(w->path);
    free(w);
}

/* Checks and allocation shared by both writers. */
static sr_err sr_store_writer_new(const char *path, const sr_store_meta *meta,
                                  sr_store_writer **out)
{
    *out = NULL;
    if (!path || !*path)
        return sr_errorf(SR_ERR_ARG, "store path is empty");
    if ((unsigned)meta->split > SR_SPLIT_KIND_TEMPORAL ||
        (unsigned)meta->skip_rule > SR_SKIP_RULE_NOT_SKIPPED ||
        (unsigned)meta->source > SR_SOURCE_FORMAT_SYNTH)
        return sr_errorf(SR_ERR_ARG, "%s: invalid store meta (split %d, skip rule %d, source %d)",
                         path, (int)meta->split, (int)meta->skip_rule, (int)meta->source);
    if (!memchr(meta->name, '\0', sizeof meta->name))
        return sr_errorf(SR_ERR_ARG, "%s: dataset name is not NUL-terminated within %zu bytes",
                         path, sizeof meta->name);
    sr_store_writer *w = calloc(1, sizeof *w);
    if (!w)
        return sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
    w->fd = -1;
    w->meta = *meta;
    /* zero the name's tail so the file does not depend on stack garbage */
    size_t nl = strlen(meta->name);
    memset(w->meta.name + nl, 0, sizeof w->meta.name - nl);
    w->max_track = SR_TRACK_UNSEEN;
    w->path = sr_store_path_join(path, "");
    w->tmp_path = sr_store_path_join(path, ".tmp");
    if (!w->path || !w->tmp_path) {
        sr_store_writer_destroy(w);
        return sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
    }
    *out = w;
    return SR_OK;
}

sr_err sr_store_writer_open(const char *path, const sr_store_meta *meta, sr_store_writer **out)
{
    sr_store_writer *w = NULL;
    sr_err err = sr_store_writer_new(path, meta, &w);
    if (err != SR_OK)
        return err;
    for (int k = 0; k < SR_STORE_N_SPOOL; k++) {
        char suffix[64];
        snprintf(suffix, sizeof suffix, ".spool.%s", sr_store_sections[k + 1].name);
        w->spool_path[k] = sr_store_path_join(path, suffix);
        if (!w->spool_path[k]) {
            err = sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        /* O_TRUNC: a spool left by a crashed writer is simply overwritten. */
        int fd = open(w->spool_path[k], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            err = sr_errorf(SR_ERR_IO, "create %s: %s", w->spool_path[k], strerror(errno));
            goto done;
        }
        w->spool[k] = fdopen(fd, "w+b");
        if (!w->spool[k]) {
            err = sr_errorf(SR_ERR_IO, "open %s: %s", w->spool_path[k], strerror(errno));
            close(fd);
            goto done;
        }
        /* Sessions are a few dozen bytes per spool: batch them into large writes. */
        setvbuf(w->spool[k], NULL, _IOFBF, 1u << 16);
    }
done:
    if (err != SR_OK) {
        sr_store_writer_destroy(w);
        return err;
    }
    *out = w;
    return SR_OK;
}

/* Lay out sections 1-8 for S sessions and P plays, exactly as finish lays
 * out every section: in id order, each on a 64-byte boundary. False when
 * the file would not fit in an off_t. */
static bool sr_store_layout(uint64_t n_sessions, uint64_t n_plays,
                            uint64_t off[SR_STORE_N_SPOOL], uint64_t *end)
{
    /* 2^56 bytes is far beyond any disk; it keeps every sum below from wrapping. */
    const uint64_t max = (uint64_t)1 << 56;
    if (n_sessions >= max / 32 || n_plays >= max / 32)
        return false;
    uint64_t pos = sr_store_align(SR_STORE_HEADER_SIZE +
                                  (uint64_t)SR_SEC_LAST * SR_STORE_ENTRY_SIZE);
    for (int id = 1; id <= SR_STORE_N_SPOOL; id++) {
        uint64_t count = sr_store_sections[id].count == SR_COUNT_SESSIONS_PLUS_1 ? n_sessions + 1
                         : sr_store_sections[id].count == SR_COUNT_SESSIONS ? n_sessions
                                                                            : n_plays;
        pos = sr_store_align(pos);
        off[id - 1] = pos;
        pos += count * sr_store_sections[id].elem;
    }
    *end = pos;
    return true;
}

sr_err sr_store_writer_open_sized(const char *path, const sr_store_meta *meta,
                                  uint64_t n_sessions, uint64_t n_plays, sr_store_writer **out)
{
    sr_store_writer *w = NULL;
    sr_err err = sr_store_writer_new(path, meta, &w);
    if (err != SR_OK)
        return err;
    w->sized = true;
    w->n_sessions = n_sessions;
    w->n_plays = n_plays;
    if (n_plays < n_sessions || (n_sessions == 0) != (n_plays == 0)) {
        err = sr_errorf(SR_ERR_ARG,
                        "%s: %" PRIu64 " sessions cannot hold %" PRIu64
                        " plays (every session has at least one)",
                        path, n_sessions, n_plays);
        goto done;
    }
    if (!sr_store_layout(n_sessions, n_plays, w->sec_off, &w->sec_end)) {
        err = sr_errorf(SR_ERR_LIMIT, "%s: %" PRIu64 " sessions and %" PRIu64 " plays are too many",
                        path, n_sessions, n_plays);
        goto done;
    }
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        err = sr_errorf(SR_ERR_NOMEM, "%s: cannot create a lock", path);
        goto done;
    }
    w->lock_init = true;
    /* Read-write: finish maps the file to checksum what the cursors wrote. */
    w->fd = sr_tmpfile_create(w->tmp_path, true);
    if (w->fd < 0) {
        err = sr_errorf(SR_ERR_IO, "create %s: %s", w->tmp_path, strerror(errno));
        goto done;
    }
    /* Sparse at its final size for sections 1-8: the header, the table and
     * the padding read as zeros until finish writes them. */
    if (ftruncate(w->fd, (off_t)w->sec_end) != 0) {
        err = sr_errorf(SR_ERR_IO, "resize %s to %" PRIu64 " bytes: %s", w->tmp_path, w->sec_end,
                        strerror(errno));
        goto done;
    }
done:
    if (err != SR_OK) {
        sr_store_writer_destroy(w);
        return err;
    }
    *out = w;
    return SR_OK;
}

/* The checks every added session passes, before anything is written.
 * `index` names the session in messages; *mx / *mx_at return the largest
 * track index and its play. */
static sr_err sr_store_check_session(const char *path, uint64_t index, uint8_t split, uint32_t n,
                                     const int32_t *track, const uint8_t *feedback,
                                     const uint16_t *position, const int64_t *time,
                                     const uint32_t *context, int32_t *mx, uint32_t *mx_at)
{
    if (n == 0)
        return sr_errorf(SR_ERR_ARG, "%s: session %" PRIu64 " has no plays", path, index);
    if (!track || !feedback || !position || !time || !context)
        return sr_errorf(SR_ERR_ARG, "%s: session %" PRIu64 ": a play array is NULL", path,
                         index);
    if (split > SR_SPLIT_ALL)
        return sr_errorf(SR_ERR_ARG, "%s: session %" PRIu64 ": split code %u is not 0..3", path,
                         index, (unsigned)split);
    int32_t m = SR_TRACK_UNSEEN;
    uint32_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (track[i] < SR_TRACK_UNSEEN)
            return sr_errorf(SR_ERR_ARG,
                             "%s: session %" PRIu64 " play %u: track index %" PRId32
                             " is negative",
                             path, index, i, track[i]);
        if (track[i] > m) {
            m = track[i];
            at = i;
        }
    }
    *mx = m;
    *mx_at = at;
    return SR_OK;
}

static sr_err sr_store_spool_write(sr_store_writer *w, int k, const void *p, size_t elem,
                                   size_t n)
{
    if (fwrite(p, elem, n, w->spool[k]) != n) {
        w->failed = true;
        return sr_errorf(SR_ERR_IO, "write %s: %s", w->spool_path[k], strerror(errno));
    }
    return SR_OK;
}

sr_err sr_store_writer_add(sr_store_writer *w, uint8_t split, int64_t start, uint32_t n,
                           const int32_t *track, const uint8_t *feedback,
                           const uint16_t *position, const int64_t *time,
                           const uint32_t *context)
{
    if (w->sized) {
        /* Fill the whole file in order through one implicit cursor. */
        if (!w->own) {
            sr_err err = sr_store_cursor_open(w, 0, w->n_sessions, 0, w->n_plays, &w->own);
            if (err != SR_OK)
                return err;
        }
        return sr_store_cursor_add(w->own, split, start, n, track, feedback, position, time,
                                   context);
    }
    if (w->failed)
        return sr_errorf(SR_ERR_IO, "%s: an earlier spool write failed", w->path);
    int32_t mx;
    uint32_t mx_at;
    sr_err err = sr_store_check_session(w->path, w->n_sessions, split, n, track, feedback,
                                        position, time, context, &mx, &mx_at);
    if (err != SR_OK)
        return err;
    if (w->n_plays > UINT64_MAX - n)
        return sr_errorf(SR_ERR_LIMIT, "%s: too many plays", w->path);
    uint64_t off = w->n_plays;
    if ((err = sr_store_spool_write(w, 0, &off, sizeof off, 1)) != SR_OK ||
        (err = sr_store_spool_write(w, 1, &split, 1, 1)) != SR_OK ||
        (err = sr_store_spool_write(w, 2, &start, sizeof start, 1)) != SR_OK ||
        (err = sr_store_spool_write(w, 3, track, sizeof *track, n)) != SR_OK ||
        (err = sr_store_spool_write(w, 4, feedback, 1, n)) != SR_OK ||
        (err = sr_store_spool_write(w, 5, position, sizeof *position, n)) != SR_OK ||
        (err = sr_store_spool_write(w, 6, time, sizeof *time, n)) != SR_OK ||
        (err = sr_store_spool_write(w, 7, context, sizeof *context, n)) != SR_OK)
        return err;
    if (mx > w->max_track) {
        w->max_track = mx;
        w->max_track_session = w->n_sessions;
        w->max_track_play = mx_at;
    }
    w->n_sessions++;
    w->n_plays += n;
    return SR_OK;
}

void sr_store_writer_abort(sr_store_writer **w)
{
    if (!w || !*w)
        return;
    sr_store_writer_destroy(*w);
    *w = NULL;
}

static sr_err sr_store_write_all(int fd, const char *path, const void *p, size_t n,
                                 uint64_t offset)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = pwrite(fd, b, n, (off_t)offset);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return sr_errorf(SR_ERR_IO, "write %s: %s", path, strerror(errno));
        }
        b += k;
        n -= (size_t)k;
        offset += (uint64_t)k;
    }
    return SR_OK;
}

/* ---- cursors (sized writer) ----------------------------------------------- */

static bool sr_store_ranges_overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
    return a0 < a1 && b0 < b1 && a0 < b1 && b0 < a1;
}

/* Record the first failure of a cursor; the writer cannot finish after it.
 * Caller holds the lock. */
static void sr_store_writer_fail_locked(sr_store_writer *w, const char *msg)
{
    if (!w->failed)
        snprintf(w->failmsg, sizeof w->failmsg, "%s", msg);
    w->failed = true;
}

sr_err sr_store_cursor_open(sr_store_writer *w, uint64_t first_session, uint64_t n_sessions,
                            uint64_t first_play, uint64_t n_plays, sr_store_cursor **out)
{
    *out = NULL;
    if (!w->sized)
        return sr_errorf(SR_ERR_ARG, "%s: cursors need a sized writer", w->path);
    sr_store_range r = { first_session, first_session + n_sessions, first_play,
                         first_play + n_plays };
    if (first_session > w->n_sessions || n_sessions > w->n_sessions - first_session ||
        first_play > w->n_plays || n_plays > w->n_plays - first_play)
        return sr_errorf(SR_ERR_ARG,
                         "%s: cursor for %" PRIu64 " sessions from %" PRIu64 " and %" PRIu64
                         " plays from %" PRIu64 " lies outside the %" PRIu64
                         " sessions and %" PRIu64
                         " plays of the store",
                         w->path, n_sessions, first_session, n_plays, first_play, w->n_sessions,
                         w->n_plays);
    if (n_plays < n_sessions || (n_sessions == 0) != (n_plays == 0))
        return sr_errorf(SR_ERR_ARG,
                         "%s: cursor for %" PRIu64 " sessions from %" PRIu64
                         " cannot hold %" PRIu64 " plays",
                         w->path, n_sessions, first_session, n_plays);
    sr_store_cursor *c = calloc(1, sizeof *c);
    /* buffers: 8 + 1 + 8 bytes per session, 4 + 1 + 2 + 8 + 4 per play, each
     * buffer starting on a 64-byte boundary */
    uint32_t s_cap = (uint32_t)SR_MIN(n_sessions, (uint64_t)SR_STORE_CURSOR_SESSIONS);
    uint32_t p_cap = (uint32_t)SR_MIN(n_plays, (uint64_t)SR_STORE_CURSOR_PLAYS);
    size_t bytes = 0, at[SR_STORE_N_SPOOL];
    for (int k = 0; k < SR_STORE_N_SPOOL; k++) {
        size_t cap = k < 3 ? s_cap : p_cap;
        at[k] = bytes;
        bytes += (size_t)sr_store_align(cap * sr_store_sections[k + 1].elem);
    }
    uint8_t *mem = n_sessions ? malloc(bytes) : NULL;
    if (!c || (n_sessions && !mem)) {
        free(c);
        free(mem);
        return sr_errorf(SR_ERR_NOMEM, "%s: out of memory for a cursor", w->path);
    }
    c->s_cap = s_cap;
    c->p_cap = p_cap;
    c->w = w;
    c->r = r;
    c->s_next = c->s_buf0 = first_session;
    c->p_next = c->p_buf0 = first_play;
    c->mem = mem;
    for (int k = 0; k < SR_STORE_N_SPOOL; k++)
        c->buf[k] = mem ? mem + at[k] : NULL;
    c->max_track = SR_TRACK_UNSEEN;

    sr_err err = SR_OK;
    pthread_mutex_lock(&w->lock);
    if (n_sessions > 0) {
        for (size_t i = 0; i < w->n_ranges && err == SR_OK; i++) {
            const sr_store_range *o = &w->ranges[i];
            if (sr_store_ranges_overlap(r.s0, r.s1, o->s0, o->s1) ||
                sr_store_ranges_overlap(r.p0, r.p1, o->p0, o->p1))
                err = sr_errorf(SR_ERR_ARG,
                                "%s: cursor for sessions [%" PRIu64 ", %" PRIu64
                                ") and plays [%" PRIu64 ", %" PRIu64
                                ") overlaps one for sessions [%" PRIu64 ", %" PRIu64
                                ") and plays [%" PRIu64 ", %" PRIu64 ")",
                                w->path, r.s0, r.s1, r.p0, r.p1, o->s0, o->s1, o->p0, o->p1);
        }
        if (err == SR_OK && w->n_ranges == w->cap_ranges) {
            size_t cap = w->cap_ranges ? 2 * w->cap_ranges : 16;
            sr_store_range *v = realloc(w->ranges, cap * sizeof *v);
            if (v) {
                w->ranges = v;
                w->cap_ranges = cap;
            } else {
                err = sr_errorf(SR_ERR_NOMEM, "%s: out of memory for a cursor", w->path);
            }
        }
        if (err == SR_OK)
            w->ranges[w->n_ranges++] = r;
    }
    if (err == SR_OK)
        w->open_cursors++;
    pthread_mutex_unlock(&w->lock);
    if (err != SR_OK) {
        free(c->mem);
        free(c);
        return err;
    }
    *out = c;
    return SR_OK;
}

/* Write `len` buffered elements of sections [k0, k1) starting at element `first`. */
static sr_err sr_store_cursor_flush_group(sr_store_cursor *c, int k0, int k1, uint64_t first,
                                          uint32_t len)
{
    const sr_store_writer *w = c->w;
    for (int k = k0; k < k1 && len > 0; k++) {
        uint32_t elem = sr_store_sections[k + 1].elem;
        sr_err err = sr_store_write_all(w->fd, w->tmp_path, c->buf[k], (size_t)len * elem,
                                        w->sec_off[k] + first * elem);
        if (err != SR_OK) {
            c->failed = true;
            return err;
        }
    }
    return SR_OK;
}

static sr_err sr_store_cursor_flush_sessions(sr_store_cursor *c)
{
    sr_err err = sr_store_cursor_flush_group(c, 0, 3, c->s_buf0, c->s_len);
    c->s_buf0 += c->s_len;
    c->s_len = 0;
    return err;
}

static sr_err sr_store_cursor_flush_plays(sr_store_cursor *c)
{
    sr_err err = sr_store_cursor_flush_group(c, 3, 8, c->p_buf0, c->p_len);
    c->p_buf0 += c->p_len;
    c->p_len = 0;
    return err;
}

sr_err sr_store_cursor_add(sr_store_cursor *c, uint8_t split, int64_t start, uint32_t n,
                           const int32_t *track, const uint8_t *feedback,
                           const uint16_t *position, const int64_t *time,
                           const uint32_t *context)
{
    sr_store_writer *w = c->w;
    if (c->failed)
        return sr_errorf(SR_ERR_IO, "%s: an earlier write of this cursor failed", w->tmp_path);
    int32_t mx;
    uint32_t mx_at;
    sr_err err = sr_store_check_session(w->path, c->s_next, split, n, track, feedback, position,
                                        time, context, &mx, &mx_at);
    if (err != SR_OK)
        return err;
    if (c->s_next == c->r.s1 || n > c->r.p1 - c->p_next)
        return sr_errorf(SR_ERR_ARG,
                         "%s: session %" PRIu64
                         " of %u plays does not fit its cursor (sessions up to %" PRIu64
                         ", %" PRIu64 " plays left)",
                         w->path, c->s_next, n, c->r.s1, c->r.p1 - c->p_next);
    if (c->s_len == c->s_cap && (err = sr_store_cursor_flush_sessions(c)) != SR_OK)
        return err;
    memcpy(c->buf[0] + (size_t)c->s_len * 8, &c->p_next, 8);
    c->buf[1][c->s_len] = split;
    memcpy(c->buf[2] + (size_t)c->s_len * 8, &start, 8);
    c->s_len++;
    if (n > c->p_cap - c->p_len && (err = sr_store_cursor_flush_plays(c)) != SR_OK)
        return err;
    if (n > c->p_cap) {
        /* Longer than the buffer: write it in place from the caller's arrays. */
        const void *src[5] = { track, feedback, position, time, context };
        for (int k = 3; k < SR_STORE_N_SPOOL && err == SR_OK; k++) {
            uint32_t elem = sr_store_sections[k + 1].elem;
            err = sr_store_write_all(w->fd, w->tmp_path, src[k - 3], (size_t)n * elem,
                                     w->sec_off[k] + c->p_next * elem);
        }
        if (err != SR_OK) {
            c->failed = true;
            return err;
        }
        c->p_buf0 += n;
    } else {
        size_t at = c->p_len;
        memcpy(c->buf[3] + at * 4, track, (size_t)n * 4);
        memcpy(c->buf[4] + at, feedback, n);
        memcpy(c->buf[5] + at * 2, position, (size_t)n * 2);
        memcpy(c->buf[6] + at * 8, time, (size_t)n * 8);
        memcpy(c->buf[7] + at * 4, context, (size_t)n * 4);
        c->p_len += n;
    }
    if (mx > c->max_track) {
        c->max_track = mx;
        c->max_track_session = c->s_next;
        c->max_track_play = mx_at;
    }
    c->s_next++;
    c->p_next += n;
    return SR_OK;
}

sr_err sr_store_cursor_close(sr_store_cursor **cp)
{
    sr_store_cursor *c = cp ? *cp : NULL;
    if (!c)
        return SR_OK;
    *cp = NULL;
    sr_store_writer *w = c->w;
    sr_err err = SR_OK;
    if (c->failed)
        err = sr_errorf(SR_ERR_IO, "%s: an earlier write of this cursor failed", w->tmp_path);
    if (err == SR_OK)
        err = sr_store_cursor_flush_sessions(c);
    if (err == SR_OK)
        err = sr_store_cursor_flush_plays(c);
    if (err == SR_OK && (c->s_next != c->r.s1 || c->p_next != c->r.p1))
        err = sr_errorf(SR_ERR_ARG,
                        "%s: cursor for sessions [%" PRIu64 ", %" PRIu64 ") and plays [%" PRIu64
                        ", %" PRIu64 ") closed after %" PRIu64 " sessions and %" PRIu64 " plays",
                        w->path, c->r.s0, c->r.s1, c->r.p0, c->r.p1, c->s_next - c->r.s0,
                        c->p_next - c->r.p0);
    pthread_mutex_lock(&w->lock);
    w->open_cursors--;
    if (err != SR_OK) {
        sr_store_writer_fail_locked(w, sr_errmsg());
    } else {
        w->filled_sessions += c->s_next - c->r.s0;
        w->filled_plays += c->p_next - c->r.p0;
        if (c->max_track > w->max_track ||
            (c->max_track == w->max_track && c->max_track != SR_TRACK_UNSEEN &&
             c->max_track_session < w->max_track_session)) {
            /* the earliest session holding the largest index, whatever the close order */
            w->max_track = c->max_track;
            w->max_track_session = c->max_track_session;
            w->max_track_play = c->max_track_play;
        }
    }
    pthread_mutex_unlock(&w->lock);
    free(c->mem);
    free(c);
    return err;
}

void sr_store_cursor_abort(sr_store_cursor **cp)
{
    sr_store_cursor *c = cp ? *cp : NULL;
    if (!c)
        return;
    *cp = NULL;
    sr_store_writer *w = c->w;
    pthread_mutex_lock(&w->lock);
    w->open_cursors--;
    sr_store_writer_fail_locked(w, "a cursor was abandoned before it was filled");
    pthread_mutex_unlock(&w->lock);
    free(c->mem);
    free(c);
}

/* ---- finish ------------------------------------------------------------------ */

/* The assembled file is written through one buffer that also feeds the
 * payload and the current section's checksum. */
#define SR_STORE_OUT_BUF (1u << 20)
typedef struct sr_store_out {
    int fd;
    const char *path;
    uint8_t *buf; /* [SR_STORE_OUT_BUF] */
    size_t len;
    uint64_t pos; /* file offset of the next byte */
    XXH3_state_t *payload;
    XXH3_state_t *section;
} sr_store_out;

static sr_err sr_store_out_flush(sr_store_out *o)
{
    sr_err err = sr_store_write_all(o->fd, o->path, o->buf, o->len, o->pos - o->len);
    o->len = 0;
    return err;
}

/* Append bytes; `in_section` also feeds the section checksum (padding does not). */
static sr_err sr_store_out_put(sr_store_out *o, const void *p, size_t n, bool in_section)
{
    XXH3_64bits_update(o->payload, p, n);
    if (in_section)
        XXH3_64bits_update(o->section, p, n);
    const uint8_t *b = p;
    while (n > 0) {
        size_t k = SR_MIN(n, (size_t)SR_STORE_OUT_BUF - o->len);
        memcpy(o->buf + o->len, b, k);
        o->len += k;
        o->pos += k;
        b += k;
        n -= k;
        if (o->len == SR_STORE_OUT_BUF) {
            sr_err err = sr_store_out_flush(o);
            if (err != SR_OK)
                return err;
        }
    }
    return SR_OK;
}

static sr_err sr_store_out_pad(sr_store_out *o)
{
    static const uint8_t zeros[SR_STORE_ALIGN];
    size_t pad = (size_t)(sr_store_align(o->pos) - o->pos);
    return pad ? sr_store_out_put(o, zeros, pad, false) : SR_OK;
}

/* Copy spool k into the output; it must hold exactly `bytes` bytes. */
static sr_err sr_store_copy_spool(sr_store_writer *w, int k, sr_store_out *o, uint64_t bytes)
{
    FILE *f = w->spool[k];
    if (fflush(f) != 0 || ferror(f))
        return sr_errorf(SR_ERR_IO, "write %s: %s", w->spool_path[k], strerror(errno));
    if (fseek(f, 0, SEEK_SET) != 0)
        return sr_errorf(SR_ERR_IO, "seek %s: %s", w->spool_path[k], strerror(errno));
    uint64_t got = 0;
    for (;;) {
        /* Read straight into the output buffer's free space. */
        if (o->len == SR_STORE_OUT_BUF) {
            sr_err err = sr_store_out_flush(o);
            if (err != SR_OK)
                return err;
        }
        size_t room = SR_STORE_OUT_BUF - o->len;
        size_t r = fread(o->buf + o->len, 1, room, f);
        if (r == 0) {
            if (ferror(f))
                return sr_errorf(SR_ERR_IO, "read %s: %s", w->spool_path[k], strerror(errno));
            break;
        }
        XXH3_64bits_update(o->payload, o->buf + o->len, r);
        XXH3_64bits_update(o->section, o->buf + o->len, r);
        o->len += r;
        o->pos += r;
        got += r;
    }
    if (got != bytes)
        return sr_errorf(SR_ERR_IO, "%s holds %" PRIu64 " bytes, expected %" PRIu64,
                         w->spool_path[k], got, bytes);
    return SR_OK;
}

/* Write section `id`'s content (everything except the spooled arrays'
 * streaming part, which sr_store_copy_spool provides). */
static sr_err sr_store_write_section(sr_store_writer *w, int id, sr_store_out *o,
                                     uint32_t n_tracks, const sr_str *ids,
                                     const uint32_t *plays, const uint32_t *skips,
                                     const sr_store_stats *stats, uint64_t *count)
{
    sr_err err = SR_OK;
    switch (id) {
    case SR_SEC_SESSION_OFFSETS:
        if ((err = sr_store_copy_spool(w, 0, o, w->n_sessions * 8)) != SR_OK)
            return err;
        *count = w->n_sessions + 1;
        return sr_store_out_put(o, &w->n_plays, sizeof w->n_plays, true);
    case SR_SEC_SESSION_SPLIT:
    case SR_SEC_SESSION_START:
        *count = w->n_sessions;
        return sr_store_copy_spool(w, id - 1, o, w->n_sessions * sr_store_sections[id].elem);
    case SR_SEC_PLAY_TRACK:
    case SR_SEC_PLAY_FEEDBACK:
    case SR_SEC_PLAY_POSITION:
    case SR_SEC_PLAY_TIME:
    case SR_SEC_PLAY_CONTEXT:
        *count = w->n_plays;
        return sr_store_copy_spool(w, id - 1, o, w->n_plays * sr_store_sections[id].elem);
    case SR_SEC_TRACK_PLAYS:
        *count = n_tracks;
        return n_tracks ? sr_store_out_put(o, plays, (size_t)n_tracks * 4, true) : SR_OK;
    case SR_SEC_TRACK_SKIPS:
        *count = n_tracks;
        return n_tracks ? sr_store_out_put(o, skips, (size_t)n_tracks * 4, true) : SR_OK;
    case SR_SEC_TRACK_ID_OFFSETS: {
        /* Millions of tracks: hand the output batches, not 8-byte pieces
         * (each put costs two checksum updates). */
        uint64_t batch[1024], off = 0;
        size_t nb = 0;
        batch[nb++] = 0;
        for (uint32_t i = 0; i < n_tracks && err == SR_OK; i++) {
            off += ids[i].len;
            batch[nb++] = off;
            if (nb == SR_COUNTOF(batch)) {
                err = sr_store_out_put(o, batch, sizeof batch, true);
                nb = 0;
            }
        }
        if (err == SR_OK && nb > 0)
            err = sr_store_out_put(o, batch, nb * sizeof *batch, true);
        *count = (uint64_t)n_tracks + 1;
        return err;
    }
    case SR_SEC_TRACK_ID_BYTES: {
        uint8_t batch[16384];
        size_t nb = 0;
        uint64_t total = 0;
        for (uint32_t i = 0; i < n_tracks && err == SR_OK; i++) {
            size_t n = ids[i].len;
            if (n > sizeof batch - nb) {
                err = sr_store_out_put(o, batch, nb, true);
                nb = 0;
            }
            if (err == SR_OK && n > sizeof batch) {
                err = sr_store_out_put(o, ids[i].ptr, n, true);
            } else if (err == SR_OK) {
                memcpy(batch + nb, ids[i].ptr, n);
                nb += n;
            }
            total += n;
        }
        if (err == SR_OK && nb > 0)
            err = sr_store_out_put(o, batch, nb, true);
        *count = total;
        return err;
    }
    case SR_SEC_STATS: {
        sr_store_stats zero = { 0 };
        const char *base = (const char *)(stats ? stats : &zero);
        for (size_t i = 0; i < SR_STORE_N_STATS && err == SR_OK; i++) {
            uint8_t e[SR_STORE_STAT_SIZE] = { 0 };
            size_t nl = strlen(sr_store_stat_fields[i].name);
            SR_ASSERT(nl < SR_STORE_STAT_NAME);
            memcpy(e, sr_store_stat_fields[i].name, nl);
            sr_store_put_u32(e + 40, sr_store_stat_fields[i].real ? SR_STORE_STAT_F64
                                                                  : SR_STORE_STAT_U64);
            memcpy(e + 48, base + sr_store_stat_fields[i].off, 8);
            err = sr_store_out_put(o, e, sizeof e, true);
        }
        *count = SR_STORE_N_STATS;
        return err;
    }
    default:
        return sr_errorf(SR_ERR_INTERNAL, "sr_store: no writer for section %d", id);
    }
}

static sr_err sr_store_check_finish_args(const sr_store_writer *w, uint32_t n_tracks,
                                         const sr_str *ids, const uint32_t *plays,
                                         const uint32_t *skips)
{
    if (n_tracks > (uint32_t)INT32_MAX)
        return sr_errorf(SR_ERR_ARG, "%s: %u tracks is more than track indices can address",
                         w->path, n_tracks);
    if (n_tracks > 0 && (!ids || !plays || !skips))
        return sr_errorf(SR_ERR_ARG, "%s: %u tracks but no ids or counts", w->path, n_tracks);
    for (uint32_t i = 0; i < n_tracks; i++)
        if (ids[i].len == 0 || !ids[i].ptr)
            return sr_errorf(SR_ERR_ARG, "%s: track %u has an empty id", w->path, i);
    if (w->max_track != SR_TRACK_UNSEEN && (uint32_t)w->max_track >= n_tracks)
        return sr_errorf(SR_ERR_ARG,
                         "%s: session %" PRIu64 " play %u: track index %" PRId32
                         " >= n_tracks %u",
                         w->path, w->max_track_session, w->max_track_play, w->max_track,
                         n_tracks);
    return SR_OK;
}

/* Feed file bytes [from, to) of the output to the payload checksum and,
 * when `in_section`, to the section's. Maps the file a window at a time: the
 * pages were just written and are still cached, so this reads memory, and
 * resident memory stays at one window however large the store. */
#define SR_STORE_HASH_WINDOW ((uint64_t)8 << 20)
#define SR_STORE_HASH_CHUNK ((uint64_t)1 << 20)
static sr_err sr_store_hash_file(sr_store_out *o, uint64_t from, uint64_t to, bool in_section)
{
    const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    while (from < to) {
        uint64_t base = from - from % page;
        uint64_t end = SR_MIN(to, base + SR_STORE_HASH_WINDOW);
        size_t len = (size_t)(end - base);
        const uint8_t *m = mmap(NULL, len, PROT_READ, MAP_SHARED, o->fd, (off_t)base);
        if (m == MAP_FAILED)
            return sr_errorf(SR_ERR_IO, "mmap %s at %" PRIu64 ": %s", o->path, base,
                             strerror(errno));
        (void)posix_madvise((void *)(uintptr_t)m, len, POSIX_MADV_SEQUENTIAL);
        /* Chunks small enough to stay in cache between the two hashes. */
        for (uint64_t at = from; at < end; at += SR_STORE_HASH_CHUNK) {
            size_t k = (size_t)SR_MIN(SR_STORE_HASH_CHUNK, end - at);
            XXH3_64bits_update(o->payload, m + (at - base), k);
            if (in_section)
                XXH3_64bits_update(o->section, m + (at - base), k);
        }
        munmap((void *)(uintptr_t)m, len);
        from = end;
    }
    return SR_OK;
}

/* Sized writer, at finish: every cursor is closed and sections 1-8 lie in
 * the file. Complete section 1 with its last offset (P), then read back
 * [payload_offset, end of section 8) to hash the payload so far and each of
 * sections 1-8, filling their table entries. Leaves `o` positioned after
 * section 8. */
static sr_err sr_store_hash_sized(sr_store_writer *w, sr_store_out *o, uint64_t payload_offset,
                                  uint8_t *table)
{
    uint64_t last = w->n_plays;
    sr_err err = sr_store_write_all(o->fd, o->path, &last, sizeof last,
                                    w->sec_off[0] + w->n_sessions * 8);
    if (err != SR_OK)
        return err;
    uint64_t pos = payload_offset;
    for (int id = 1; id <= SR_STORE_N_SPOOL; id++) {
        uint64_t off = w->sec_off[id - 1];
        uint64_t count;
        switch (sr_store_sections[id].count) {
        case SR_COUNT_SESSIONS_PLUS_1: count = w->n_sessions + 1; break;
        case SR_COUNT_SESSIONS: count = w->n_sessions; break;
        default: count = w->n_plays; break;
        }
        uint64_t end = off + count * sr_store_sections[id].elem;
        XXH3_64bits_reset(o->section);
        if ((err = sr_store_hash_file(o, pos, off, false)) != SR_OK || /* zero padding */
            (err = sr_store_hash_file(o, off, end, true)) != SR_OK)
            return err;
        uint8_t *e = table + (size_t)(id - 1) * SR_STORE_ENTRY_SIZE;
        sr_store_put_u32(e + 0, (uint32_t)id);
        sr_store_put_u32(e + 4, sr_store_sections[id].elem);
        sr_store_put_u64(e + 8, count);
        sr_store_put_u64(e + 16, off);
        sr_store_put_u64(e + 24, XXH3_64bits_digest(o->section));
        pos = end;
    }
    SR_ASSERT(pos == w->sec_end);
    o->pos = pos;
    o->len = 0;
    return SR_OK;
}

/* Sized writer: close the implicit cursor and check that the cursors wrote
 * every session and play they promised. */
static sr_err sr_store_check_sized(sr_store_writer *w)
{
    sr_err err = sr_store_cursor_close(&w->own);
    if (err != SR_OK)
        return err;
    if (w->open_cursors != 0)
        return sr_errorf(SR_ERR_INTERNAL, "%s: finish called with %u cursor(s) still open",
                         w->path, w->open_cursors);
    if (w->failed)
        return sr_errorf(SR_ERR_IO, "%s: %s", w->path, w->failmsg);
    if (w->filled_sessions != w->n_sessions || w->filled_plays != w->n_plays)
        return sr_errorf(SR_ERR_ARG,
                         "%s: %" PRIu64 " of %" PRIu64 " sessions and %" PRIu64 " of %" PRIu64
                         " plays were written",
                         w->path, w->filled_sessions, w->n_sessions, w->filled_plays,
                         w->n_plays);
    return SR_OK;
}

sr_err sr_store_writer_finish(sr_store_writer **wp, uint32_t n_tracks, const sr_str *ids,
                              const uint32_t *plays, const uint32_t *skips,
                              const sr_store_stats *stats)
{
    sr_store_writer *w = *wp;
    if (!w)
        return sr_errorf(SR_ERR_ARG, "sr_store_writer_finish: no writer");
    *wp = NULL;
    sr_err err = SR_OK;
    sr_store_out o = { .fd = -1, .path = w->tmp_path };
    uint8_t *head = NULL;
    bool renamed = false;
    if (w->sized) {
        if ((err = sr_store_check_sized(w)) != SR_OK)
            goto done;
    } else if (w->failed) {
        err = sr_errorf(SR_ERR_IO, "%s: an earlier spool write failed", w->path);
        goto done;
    }
    if ((err = sr_store_check_finish_args(w, n_tracks, ids, plays, skips)) != SR_OK)
        goto done;

    const uint32_t n_sec = SR_SEC_LAST;
    const uint64_t table_end = SR_STORE_HEADER_SIZE + (uint64_t)n_sec * SR_STORE_ENTRY_SIZE;
    const uint64_t payload_offset = sr_store_align(table_end);
    o.buf = malloc(SR_STORE_OUT_BUF);
    head = calloc(1, (size_t)payload_offset);
    o.payload = XXH3_createState();
    o.section = XXH3_createState();
    if (!o.buf || !head || !o.payload || !o.section) {
        err = sr_errorf(SR_ERR_NOMEM, "%s: out of memory", w->path);
        goto done;
    }
    XXH3_64bits_reset(o.payload);
    uint8_t *table = head + SR_STORE_HEADER_SIZE;
    int first_id = 1;
    if (w->sized) {
        /* The header and table are still zeros (the file is sparse there). */
        o.fd = w->fd;
        w->fd = -1;
        if ((err = sr_store_hash_sized(w, &o, payload_offset, table)) != SR_OK)
            goto done;
        first_id = SR_STORE_N_SPOOL + 1;
    } else {
        o.fd = sr_tmpfile_create(w->tmp_path, false);
        if (o.fd < 0) {
            err = sr_errorf(SR_ERR_IO, "create %s: %s", w->tmp_path, strerror(errno));
            goto done;
        }
        /* Placeholder for header and table: the real one is written last, so a
         * crash mid-way leaves a file that fails its checksum. */
        if ((err = sr_store_write_all(o.fd, o.path, head, (size_t)payload_offset, 0)) != SR_OK)
            goto done;
        o.pos = payload_offset;
    }

    for (int id = first_id; id <= SR_SEC_LAST; id++) {
        if ((err = sr_store_out_pad(&o)) != SR_OK)
            goto done;
        uint64_t offset = o.pos, count = 0;
        XXH3_64bits_reset(o.section);
        if ((err = sr_store_write_section(w, id, &o, n_tracks, ids, plays, skips, stats,
                                          &count)) != SR_OK)
            goto done;
        SR_ASSERT(o.pos - offset == count * sr_store_sections[id].elem);
        uint8_t *e = table + (size_t)(id - 1) * SR_STORE_ENTRY_SIZE;
        sr_store_put_u32(e + 0, (uint32_t)id);
        sr_store_put_u32(e + 4, sr_store_sections[id].elem);
        sr_store_put_u64(e + 8, count);
        sr_store_put_u64(e + 16, offset);
        sr_store_put_u64(e + 24, XXH3_64bits_digest(o.section));
    }
    if ((err = sr_store_out_flush(&o)) != SR_OK)
        goto done;

    memcpy(head + SR_HDR_MAGIC, sr_store_magic, sizeof sr_store_magic);
    sr_store_put_u32(head + SR_HDR_VERSION, SR_STORE_VERSION);
    sr_store_put_u32(head + SR_HDR_BOM, SR_STORE_BOM);
    sr_store_put_u32(head + SR_HDR_HEADER_SIZE, SR_STORE_HEADER_SIZE);
    sr_store_put_u32(head + SR_HDR_SECTION_COUNT, n_sec);
    sr_store_put_u32(head + SR_HDR_ENTRY_SIZE, SR_STORE_ENTRY_SIZE);
    sr_store_put_u64(head + SR_HDR_FILE_SIZE, o.pos);
    sr_store_put_u64(head + SR_HDR_PAYLOAD_OFFSET, payload_offset);
    sr_store_put_u64(head + SR_HDR_N_SESSIONS, w->n_sessions);
    sr_store_put_u64(head + SR_HDR_N_PLAYS, w->n_plays);
    sr_store_put_u32(head + SR_HDR_N_TRACKS, n_tracks);
    sr_store_put_u32(head + SR_HDR_SPLIT, (uint32_t)w->meta.split);
    sr_store_put_u32(head + SR_HDR_SKIP_RULE, (uint32_t)w->meta.skip_rule);
    sr_store_put_u32(head + SR_HDR_SOURCE, (uint32_t)w->meta.source);
    sr_store_put_u64(head + SR_HDR_CREATED, (uint64_t)w->meta.created);
    memcpy(head + SR_HDR_NAME, w->meta.name, sizeof w->meta.name);
    sr_store_put_u64(head + SR_HDR_PAYLOAD_CHECKSUM, XXH3_64bits_digest(o.payload));
    XXH3_64bits_reset(o.section);
    XXH3_64bits_update(o.section, head, SR_HDR_HEADER_CHECKSUM);
    XXH3_64bits_update(o.section, table, (size_t)(payload_offset - SR_STORE_HEADER_SIZE));
    sr_store_put_u64(head + SR_HDR_HEADER_CHECKSUM, XXH3_64bits_digest(o.section));
    if ((err = sr_store_write_all(o.fd, o.path, head, (size_t)table_end, 0)) != SR_OK)
        goto done;

    if (fsync(o.fd) != 0) {
        err = sr_errorf(SR_ERR_IO, "fsync %s: %s", o.path, strerror(errno));
        goto done;
    }
    int fd = o.fd;
    o.fd = -1;
    if (close(fd) != 0) {
        err = sr_errorf(SR_ERR_IO, "close %s: %s", w->tmp_path, strerror(errno));
        goto done;
    }
    if (rename(w->tmp_path, w->path) != 0) {
        err = sr_errorf(SR_ERR_IO, "rename %s to %s: %s", w->tmp_path, w->path, strerror(errno));
        goto done;
    }
    renamed = true;
    /* The store is complete and in place; a failed directory fsync only
     * weakens durability against a power cut, so it is a warning, not a
     * failure that would contradict the file now at path. */
    if (sr_fsync_dir_of(w->path) != SR_OK)
        sr_log(SR_LOG_LEVEL_WARN, "%s", sr_errmsg());
done:
    if (o.fd >= 0)
        close(o.fd);
    free(o.buf);
    free(head);
    XXH3_freeState(o.payload);
    XXH3_freeState(o.section);
    if (renamed) {
        free(w->tmp_path); /* renamed: nothing to unlink */
        w->tmp_path = NULL;
    }
    sr_store_writer_destroy(w);
    return err;
}

/* ==== reading ============================================================= */

typedef struct sr_store_section {
    uint32_t id, elem;
    uint64_t count, offset, checksum;
} sr_store_section;

static sr_err sr_store_check_header(const char *path, const uint8_t *m, uint64_t size,
                                    uint32_t *n_sec)
{
    if (memcmp(m + SR_HDR_MAGIC, sr_store_magic, sizeof sr_store_magic) != 0)
        return sr_errorf(SR_ERR_FORMAT, "%s: not a seqrec store (bad magic)", path);
    uint32_t bom = sr_store_get_u32(m + SR_HDR_BOM);
    if (bom != SR_STORE_BOM) {
        if (bom == 0x04030201u)
            return sr_errorf(SR_ERR_VERSION,
                             "%s: written on a machine with the other byte order", path);
        return sr_errorf(SR_ERR_CORRUPT, "%s: bad byte-order mark 0x%08" PRIx32, path, bom);
    }
    uint32_t version = sr_store_get_u32(m + SR_HDR_VERSION);
    if (version != SR_STORE_VERSION)
        return sr_errorf(SR_ERR_VERSION,
                         "%s: store format version %" PRIu32 ", this build reads version %u",
                         path, version, SR_STORE_VERSION);
    uint32_t hs = sr_store_get_u32(m + SR_HDR_HEADER_SIZE);
    uint32_t es = sr_store_get_u32(m + SR_HDR_ENTRY_SIZE);
    uint32_t ns = sr_store_get_u32(m + SR_HDR_SECTION_COUNT);
    if (hs != SR_STORE_HEADER_SIZE || es != SR_STORE_ENTRY_SIZE || ns > SR_STORE_MAX_SECTIONS)
        return sr_errorf(SR_ERR_CORRUPT,
                         "%s: bad header (header size %" PRIu32 ", entry size %" PRIu32
                         ", %" PRIu32 " sections)",
                         path, hs, es, ns);
    /* The checksum covers the table and its zero padding up to the payload. */
    uint64_t po = sr_store_get_u64(m + SR_HDR_PAYLOAD_OFFSET);
    uint64_t table_end = SR_STORE_HEADER_SIZE + (uint64_t)ns * SR_STORE_ENTRY_SIZE;
    if (po != sr_store_align(table_end))
        return sr_errorf(SR_ERR_CORRUPT, "%s: bad payload offset %" PRIu64 ", expected %" PRIu64,
                         path, po, sr_store_align(table_end));
    if (size < po)
        return sr_errorf(SR_ERR_CORRUPT,
                         "%s: truncated: %" PRIu64 " bytes, the section table ends at %" PRIu64,
                         path, size, po);
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, m, SR_HDR_HEADER_CHECKSUM);
    XXH3_64bits_update(st, m + SR_STORE_HEADER_SIZE, (size_t)(po - SR_STORE_HEADER_SIZE));
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    if (h != sr_store_get_u64(m + SR_HDR_HEADER_CHECKSUM))
        return sr_errorf(SR_ERR_CORRUPT, "%s: header checksum mismatch", path);
    uint64_t declared = sr_store_get_u64(m + SR_HDR_FILE_SIZE);
    if (declared > size)
        return sr_errorf(SR_ERR_CORRUPT, "%s: truncated: %" PRIu64 " of %" PRIu64 " bytes", path,
                         size, declared);
    if (declared < size)
        return sr_errorf(SR_ERR_CORRUPT,
                         "%s: %" PRIu64 " bytes, but the header says %" PRIu64 " (trailing data)",
                         path, size, declared);
    *n_sec = ns;
    return SR_OK;
}

/* Expected element count of a known section, or false when it is free. */
static bool sr_store_expected_count(int id, const sr_store *s, uint64_t *c)
{
    switch (sr_store_sections[id].count) {
    case SR_COUNT_SESSIONS_PLUS_1: *c = s->n_sessions + 1; return true;
    case SR_COUNT_SESSIONS: *c = s->n_sessions; return true;
    case SR_COUNT_PLAYS: *c = s->n_plays; return true;
    case SR_COUNT_TRACKS: *c = s->n_tracks; return true;
    case SR_COUNT_TRACKS_PLUS_1: *c = (uint64_t)s->n_tracks + 1; return true;
    case SR_COUNT_FREE: break;
    }
    return false;
}

/* Validate the section table against the header and the file size; fill
 * sec[id] for every known id. Unknown ids are bounds-checked and skipped, so
 * a v1 file may carry extra sections. */
static sr_err sr_store_check_sections(const char *path, const uint8_t *m, uint64_t size,
                                      uint32_t n_sec, const sr_store *s,
                                      sr_store_section sec[SR_SEC_LAST + 1])
{
    uint64_t prev_end = sr_store_get_u64(m + SR_HDR_PAYLOAD_OFFSET);
    for (uint32_t k = 0; k < n_sec; k++) {
        const uint8_t *e = m + SR_STORE_HEADER_SIZE + (size_t)k * SR_STORE_ENTRY_SIZE;
        sr_store_section x = { sr_store_get_u32(e), sr_store_get_u32(e + 4),
                               sr_store_get_u64(e + 8), sr_store_get_u64(e + 16),
                               sr_store_get_u64(e + 24) };
        bool known = x.id >= 1 && x.id <= SR_SEC_LAST;
        const char *name = known ? sr_store_sections[x.id].name : "unknown";
        if (x.elem == 0 || x.offset % SR_STORE_ALIGN != 0 || x.offset < prev_end ||
            x.offset > size || x.count > (size - x.offset) / x.elem)
            return sr_errorf(SR_ERR_CORRUPT,
                             "%s: section %" PRIu32 " (%s): %" PRIu64 " x %" PRIu32
                             " bytes at offset %" PRIu64
                             " is misaligned, overlaps or lies outside the file (%" PRIu64
                             " bytes)",
                             path, x.id, name, x.count, x.elem, x.offset, size);
        prev_end = x.offset + x.count * x.elem;
        if (!known)
            continue;
        if (sec[x.id].id != 0)
            return sr_errorf(SR_ERR_CORRUPT, "%s: section %s appears twice", path, name);
        uint64_t want;
        if (x.elem != sr_store_sections[x.id].elem)
            return sr_errorf(SR_ERR_CORRUPT,
                             "%s: section %s has %" PRIu32 "-byte elements, expected %" PRIu32,
                             path, name, x.elem, sr_store_sections[x.id].elem);
        if (sr_store_expected_count((int)x.id, s, &want) && x.count != want)
            return sr_errorf(SR_ERR_CORRUPT,
                             "%s: section %s has %" PRIu64 " elements, the header implies %" PRIu64,
                             path, name, x.count, want);
        sec[x.id] = x;
    }
    for (int id = 1; id <= SR_SEC_LAST; id++)
        if (sec[id].id == 0)
            return sr_errorf(SR_ERR_CORRUPT, "%s: section %s is missing", path,
                             sr_store_sections[id].name);
    return SR_OK;
}

static sr_err sr_store_check_payload(const char *path, const uint8_t *m, uint64_t size,
                                     const sr_store_section sec[SR_SEC_LAST + 1])
{
    uint64_t po = sr_store_get_u64(m + SR_HDR_PAYLOAD_OFFSET);
    uint64_t want = sr_store_get_u64(m + SR_HDR_PAYLOAD_CHECKSUM);
    if (XXH3_64bits(m + po, (size_t)(size - po)) == want)
        return SR_OK;
    /* Only on failure: name the damaged section if its own checksum says so. */
    for (int id = 1; id <= SR_SEC_LAST; id++) {
        const sr_store_section *x = &sec[id];
        if (XXH3_64bits(m + x->offset, (size_t)(x->count * x->elem)) != x->checksum)
            return sr_errorf(SR_ERR_CORRUPT, "%s: checksum mismatch in section %s", path,
                             sr_store_sections[id].name);
    }
    return sr_errorf(SR_ERR_CORRUPT, "%s: checksum mismatch (payload)", path);
}

/* Invariants consumers index with; cheap next to the checksum pass. */
static sr_err sr_store_check_semantics(const char *path, const sr_store *s, uint64_t n_bytes)
{
    if ((unsigned)s->meta.split > SR_SPLIT_KIND_TEMPORAL ||
        (unsigned)s->meta.skip_rule > SR_SKIP_RULE_NOT_SKIPPED ||
        (unsigned)s->meta.source > SR_SOURCE_FORMAT_SYNTH ||
        !memchr(s->meta.name, '\0', sizeof s->meta.name))
        return sr_errorf(SR_ERR_CORRUPT, "%s: bad meta (split %u, skip rule %u, source %u)", path,
                         (unsigned)s->meta.split, (unsigned)s->meta.skip_rule,
                         (unsigned)s->meta.source);
    const uint64_t *so = s->session_offsets;
    if (so[0] != 0 || so[s->n_sessions] != s->n_plays)
        return sr_errorf(SR_ERR_CORRUPT,
                         "%s: session offsets run from %" PRIu64 " to %" PRIu64
                         ", expected 0 to %" PRIu64,
                         path, so[0], so[s->n_sessions], s->n_plays);
    for (uint64_t i = 0; i < s->n_sessions; i++) {
        if (so[i + 1] <= so[i])
            return sr_errorf(SR_ERR_CORRUPT,
                             "%s: session %" PRIu64 ": offsets %" PRIu64 "..%" PRIu64
                             " are not increasing",
                             path, i, so[i], so[i + 1]);
        if (s->session_split[i] > SR_SPLIT_ALL)
            return sr_errorf(SR_ERR_CORRUPT, "%s: session %" PRIu64 ": split code %u > 3", path,
                             i, (unsigned)s->session_split[i]);
    }
    for (uint64_t i = 0; i < s->n_plays; i++) {
        int32_t t = s->play_track[i];
        if (t < SR_TRACK_UNSEEN || (t >= 0 && (uint32_t)t >= s->n_tracks))
            return sr_errorf(SR_ERR_CORRUPT,
                             "%s: play %" PRIu64 ": track index %" PRId32 " outside -1..%u",
                             path, i, t, s->n_tracks);
    }
    const uint64_t *to = s->track_id_offsets;
    if (to[0] != 0 || to[s->n_tracks] != n_bytes)
        return sr_errorf(SR_ERR_CORRUPT,
                         "%s: track id offsets run from %" PRIu64 " to %" PRIu64
                         ", expected 0 to %" PRIu64,
                         path, to[0], to[s->n_tracks], n_bytes);
    for (uint32_t i = 0; i < s->n_tracks; i++)
        if (to[i + 1] < to[i])
            return sr_errorf(SR_ERR_CORRUPT, "%s: track %u: id offsets decrease", path, i);
    return SR_OK;
}

static sr_err sr_store_read_stats(const char *path, const uint8_t *p, uint64_t n,
                                  sr_store_stats *out)
{
    memset(out, 0, sizeof *out);
    char *base = (char *)out;
    for (uint64_t k = 0; k < n; k++) {
        const uint8_t *e = p + k * SR_STORE_STAT_SIZE;
        if (!memchr(e, '\0', SR_STORE_STAT_NAME))
            return sr_errorf(SR_ERR_CORRUPT, "%s: stats entry %" PRIu64 ": name not terminated",
                             path, k);
        uint32_t type = sr_store_get_u32(e + 40);
        for (size_t i = 0; i < SR_STORE_N_STATS; i++) {
            if (strcmp((const char *)e, sr_store_stat_fields[i].name) != 0)
                continue;
            uint32_t want = sr_store_stat_fields[i].real ? SR_STORE_STAT_F64 : SR_STORE_STAT_U64;
            if (type == want)
                memcpy(base + sr_store_stat_fields[i].off, e + 48, 8);
            else
                sr_log(SR_LOG_LEVEL_WARN, "%s: stat %s has type %" PRIu32 ", ignored", path,
                       sr_store_stat_fields[i].name, type);
            break;
        }
    }
    return SR_OK;
}

sr_err sr_store_open(const char *path, sr_store **out)
{
    *out = NULL;
    sr_err err = SR_OK;
    uint8_t *m = MAP_FAILED;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sr_errorf(errno == ENOENT ? SR_ERR_NOTFOUND : SR_ERR_IO, "open %s: %s", path,
                         strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = sr_errorf(SR_ERR_IO, "stat %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        err = sr_errorf(SR_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < SR_STORE_HEADER_SIZE) {
        err = sr_errorf(SR_ERR_CORRUPT, "%s: truncated: %" PRIu64 " bytes, shorter than the %u-byte header",
                        path, size, SR_STORE_HEADER_SIZE);
        goto done;
    }
    if (size > SIZE_MAX) {
        err = sr_errorf(SR_ERR_LIMIT, "%s: %" PRIu64 " bytes cannot be mapped", path, size);
        goto done;
    }
    len = (size_t)size;
    m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        err = sr_errorf(SR_ERR_IO, "mmap %s: %s", path, strerror(errno));
        goto done;
    }

    uint32_t n_sec = 0;
    if ((err = sr_store_check_header(path, m, size, &n_sec)) != SR_OK)
        goto done;
    sr_store s;
    memset(&s, 0, sizeof s);
    s.n_sessions = sr_store_get_u64(m + SR_HDR_N_SESSIONS);
    s.n_plays = sr_store_get_u64(m + SR_HDR_N_PLAYS);
    s.n_tracks = sr_store_get_u32(m + SR_HDR_N_TRACKS);
    s.meta.split = (sr_split_kind)sr_store_get_u32(m + SR_HDR_SPLIT);
    s.meta.skip_rule = (sr_skip_rule)sr_store_get_u32(m + SR_HDR_SKIP_RULE);
    s.meta.source = (sr_source_format)sr_store_get_u32(m + SR_HDR_SOURCE);
    s.meta.created = (int64_t)sr_store_get_u64(m + SR_HDR_CREATED);
    memcpy(s.meta.name, m + SR_HDR_NAME, sizeof s.meta.name);
    /* Counts come from the checksummed header but are still bounded by the
     * file before anything is derived from them (n + 1 must not wrap). */
    if (s.n_sessions >= size || s.n_plays >= size || s.n_tracks > (uint32_t)INT32_MAX) {
        err = sr_errorf(SR_ERR_CORRUPT,
                        "%s: counts (%" PRIu64 " sessions, %" PRIu64 " plays, %u tracks) do not "
                        "fit a %" PRIu64 "-byte file",
                        path, s.n_sessions, s.n_plays, s.n_tracks, size);
        goto done;
    }
    sr_store_section sec[SR_SEC_LAST + 1];
    memset(sec, 0, sizeof sec);
    if ((err = sr_store_check_sections(path, m, size, n_sec, &s, sec)) != SR_OK)
        goto done;
    if ((err = sr_store_check_payload(path, m, size, sec)) != SR_OK)
        goto done;

    s.session_offsets = (const uint64_t *)(const void *)(m + sec[SR_SEC_SESSION_OFFSETS].offset);
    s.session_split = m + sec[SR_SEC_SESSION_SPLIT].offset;
    s.session_start = (const int64_t *)(const void *)(m + sec[SR_SEC_SESSION_START].offset);
    s.play_track = (const int32_t *)(const void *)(m + sec[SR_SEC_PLAY_TRACK].offset);
    s.play_feedback = m + sec[SR_SEC_PLAY_FEEDBACK].offset;
    s.play_position = (const uint16_t *)(const void *)(m + sec[SR_SEC_PLAY_POSITION].offset);
    s.play_time = (const int64_t *)(const void *)(m + sec[SR_SEC_PLAY_TIME].offset);
    s.play_context = (const uint32_t *)(const void *)(m + sec[SR_SEC_PLAY_CONTEXT].offset);
    s.track_plays = (const uint32_t *)(const void *)(m + sec[SR_SEC_TRACK_PLAYS].offset);
    s.track_skips = (const uint32_t *)(const void *)(m + sec[SR_SEC_TRACK_SKIPS].offset);
    s.track_id_offsets =
        (const uint64_t *)(const void *)(m + sec[SR_SEC_TRACK_ID_OFFSETS].offset);
    s.track_id_bytes = (const char *)(m + sec[SR_SEC_TRACK_ID_BYTES].offset);
    if ((err = sr_store_check_semantics(path, &s, sec[SR_SEC_TRACK_ID_BYTES].count)) != SR_OK)
        goto done;
    if ((err = sr_store_read_stats(path, m + sec[SR_SEC_STATS].offset, sec[SR_SEC_STATS].count,
                                   &s.stats)) != SR_OK)
        goto done;

    sr_store *r = malloc(sizeof *r);
    if (!r) {
        err = sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    *r = s;
    r->map_ = m;
    r->map_len_ = len;
    m = MAP_FAILED; /* owned by r now */
    *out = r;
done:
    if (m != MAP_FAILED)
        munmap(m, len);
    close(fd);
    return err;
}

void sr_store_close(sr_store **s)
{
    if (!s || !*s)
        return;
    munmap((*s)->map_, (*s)->map_len_);
    free(*s);
    *s = NULL;
}

sr_str sr_store_track_id(const sr_store *s, int32_t track)
{
    sr_str r = { NULL, 0 };
    if (track < 0 || (uint32_t)track >= s->n_tracks)
        return r;
    r.ptr = s->track_id_bytes + s->track_id_offsets[track];
    r.len = (size_t)(s->track_id_offsets[track + 1] - s->track_id_offsets[track]);
    return r;
}
