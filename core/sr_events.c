/* sr_events.c - reader for generic event logs: hash-partitioned spill, then
 * per-partition sort and sessionisation.
 *
 * Pass 1 parses every row of every file and appends a compact record to
 * partition XXH3_64(user) % P. P = ceil(estimated input bytes /
 * partition_bytes), so one partition holds about partition_bytes of input;
 * with P = 1 the records stay in memory, otherwise each partition is an
 * unlinked temporary file behind a small write buffer.
 * Pass 2 loads one partition at a time, sorts its records by
 * (hash, user, time, input order) and cuts sessions: a new one when the user
 * changes, when the gap to the previous play exceeds session_gap_s, or when
 * max_session_len plays are reached. All rows of a user land in one
 * partition, so sessions never straddle partitions.
 *
 * Record layout in a partition (host byte order; the files never outlive
 * the call): ev_rec header, then the user bytes and the track bytes,
 * padded to a multiple of 8.
 */
#include "sr_events.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <xxhash.h>

#include "sr_csv.h"

#define EV_MAX_ID 1024u                 /* longest user/session/track id */
#define EV_MAX_PARTITIONS 256u          /* open spill files at once */
#define EV_WRITE_BUFFER (64u << 10)     /* per spilled partition */
#define EV_GZ_RATIO 5u                  /* assumed expansion of .gz input */
#define EV_MAX_SESSION_LEN 65535u       /* positions are uint16 */

/* Records are appended in input order (files in the order given), so a
 * record's offset in its partition is its input order: the final tie-break. */
typedef struct ev_rec {
    uint64_t hash;     /* XXH3_64bits(user) */
    int64_t time_ms;
    uint16_t ulen;
    uint16_t tlen;
    uint8_t skipped;
    uint8_t pad[3];
} ev_rec;

/* Sort entry: the key inline, the record by offset (= input order). */
typedef struct ev_idx {
    uint64_t hash;
    int64_t time_ms;
    size_t off;
} ev_idx;

typedef struct ev_part {
    int fd;              /* -1: records kept in buf */
    char *buf;           /* [cap] */
    size_t len, cap;
    uint64_t spilled;    /* bytes already written to fd */
} ev_part;

typedef struct ev_reasons {
    char empty_key[SR_EVENTS_NAME_MAX + 16];
    char long_key[SR_EVENTS_NAME_MAX + 16];
    char empty_track[SR_EVENTS_NAME_MAX + 16];
    char long_track[SR_EVENTS_NAME_MAX + 16];
    char bad_time[SR_EVENTS_NAME_MAX + 16];
    char bad_flag[SR_EVENTS_NAME_MAX + 24];
    char bad_played[SR_EVENTS_NAME_MAX + 16];
    char bad_duration[SR_EVENTS_NAME_MAX + 16];
    char bad_rating[SR_EVENTS_NAME_MAX + 16];
} ev_reasons;

enum { EV_KEY = 0, EV_TRACK, EV_TIME, EV_FLAG, EV_PLAYED, EV_DURATION, EV_RATING, EV_NCOLS };

typedef struct ev_state {
    const sr_events_config *c;
    bool by_session;
    bool use_flag, use_played, use_frac, use_rating;
    const char *key_col;
    ev_reasons why;
    ev_part *parts;      /* [n_parts] */
    uint32_t n_parts;
    char spill_dir[4096];
} ev_state;

void sr_events_config_default(sr_events_config *c)
{
    memset(c, 0, sizeof *c);
    c->delim = 0;
    c->time_format = SR_TIME_FORMAT_UNIX_S;
    c->played_unit_s = 1.0;
    c->min_played_s = 0;
    c->min_played_frac = 0;
    c->rating_skip_below = 0;
    c->session_gap_s = 1800;
    c->max_session_len = 200;
    c->partition_bytes = (size_t)256 << 20;
    c->tmp_dir = NULL;
}

static bool ev_name_ok(const char *name)
{
    return memchr(name, '\0', SR_EVENTS_NAME_MAX) != NULL;
}

static bool ev_set(const char *name)
{
    return name[0] != '\0';
}

sr_err sr_events_config_check(const sr_events_config *c)
{
    const char *names[] = { c->user_col, c->session_col, c->track_col, c->time_col,
                            c->flag_col, c->played_col, c->duration_col, c->rating_col };
    for (size_t i = 0; i < SR_COUNTOF(names); i++) {
        if (!ev_name_ok(names[i]))
            return sr_errorf(SR_ERR_ARG, "events: a column name is not terminated within %d bytes",
                             SR_EVENTS_NAME_MAX);
    }
    if (!ev_set(c->track_col))
        return sr_errorf(SR_ERR_ARG, "events: track_col is not set");
    if (!ev_set(c->time_col))
        return sr_errorf(SR_ERR_ARG, "events: time_col is not set");
    if (ev_set(c->user_col) == ev_set(c->session_col))
        return sr_errorf(SR_ERR_ARG, "events: set exactly one of user_col and session_col");
    if ((unsigned)c->time_format > SR_TIME_FORMAT_ISO8601)
        return sr_errorf(SR_ERR_ARG, "events: invalid time_format %d", (int)c->time_format);
    if (c->delim == '"' || c->delim == '\n' || c->delim == '\r')
        return sr_errorf(SR_ERR_ARG, "events: invalid delimiter 0x%02x", (unsigned char)c->delim);
    if (!(isfinite(c->played_unit_s) && c->played_unit_s > 0))
        return sr_errorf(SR_ERR_ARG, "events: played_unit_s must be > 0 (got %g)", c->played_unit_s);
    if (!(isfinite(c->min_played_s) && c->min_played_s >= 0))
        return sr_errorf(SR_ERR_ARG, "events: min_played_s must be >= 0 (got %g)", c->min_played_s);
    if (!(isfinite(c->min_played_frac) && c->min_played_frac >= 0 && c->min_played_frac <= 1))
        return sr_errorf(SR_ERR_ARG, "events: min_played_frac must be in [0, 1] (got %g)",
                         c->min_played_frac);
    if (!isfinite(c->rating_skip_below))
        return sr_errorf(SR_ERR_ARG, "events: rating_skip_below must be finite");
    bool played_rule = c->min_played_s > 0 || c->min_played_frac > 0;
    if (ev_set(c->played_col) && !played_rule)
        return sr_errorf(SR_ERR_ARG,
                         "events: played_col \"%s\" is set but min_played_s and min_played_frac are 0",
                         c->played_col);
    if (played_rule && !ev_set(c->played_col))
        return sr_errorf(SR_ERR_ARG, "events: min_played_s/min_played_frac need played_col");
    if (c->min_played_frac > 0 && !ev_set(c->duration_col))
        return sr_errorf(SR_ERR_ARG, "events: min_played_frac needs duration_col");
    if (ev_set(c->duration_col) && !(c->min_played_frac > 0))
        return sr_errorf(SR_ERR_ARG,
                         "events: duration_col \"%s\" is set but min_played_frac is 0",
                         c->duration_col);
    if (!ev_set(c->flag_col) && !ev_set(c->played_col) && !ev_set(c->rating_col))
        return sr_errorf(SR_ERR_ARG,
                         "events: no skip signal (set flag_col, played_col or rating_col)");
    if (ev_set(c->user_col) && c->session_gap_s <= 0)
        return sr_errorf(SR_ERR_ARG, "events: session_gap_s must be > 0 (got %lld)",
                         (long long)c->session_gap_s);
    if (c->session_gap_s > INT64_MAX / 1000)
        return sr_errorf(SR_ERR_ARG, "events: session_gap_s too large");
    if (c->max_session_len < 1 || c->max_session_len > EV_MAX_SESSION_LEN)
        return sr_errorf(SR_ERR_ARG, "events: max_session_len must be 1..%u (got %u)",
                         EV_MAX_SESSION_LEN, c->max_session_len);
    if (c->partition_bytes == 0)
        return sr_errorf(SR_ERR_ARG, "events: partition_bytes must be > 0");
    return SR_OK;
}

/* ---- partitions ------------------------------------------------------------ */

static sr_err ev_part_flush(ev_state *st, ev_part *p)
{
    size_t done = 0;
    while (done < p->len) {
        ssize_t w = write(p->fd, p->buf + done, p->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return sr_errorf(SR_ERR_IO, "write spill file in %s: %s", st->spill_dir,
                             strerror(errno));
        done += (size_t)w;
    }
    p->spilled += p->len;
    p->len = 0;
    return SR_OK;
}

static sr_err ev_part_append(ev_state *st, ev_part *p, const ev_rec *h, sr_str user, sr_str track)
{
    size_t body = sizeof *h + user.len + track.len;
    size_t need = (body + 7u) & ~(size_t)7u;
    if (p->len + need > p->cap) {
        if (p->fd >= 0) {
            sr_err err = ev_part_flush(st, p);
            if (err != SR_OK)
                return err;
        }
        if (p->len + need > p->cap) {
            size_t cap = SR_MAX(p->cap * 2, p->len + need);
            cap = SR_MAX(cap, (size_t)EV_WRITE_BUFFER);
            char *b = realloc(p->buf, cap);
            if (!b)
                return sr_errorf(SR_ERR_NOMEM, "events: out of memory (%zu bytes)", cap);
            p->buf = b;
            p->cap = cap;
        }
    }
    char *o = p->buf + p->len;
    memcpy(o, h, sizeof *h);
    memcpy(o + sizeof *h, user.ptr, user.len);
    memcpy(o + sizeof *h + user.len, track.ptr, track.len);
    memset(o + body, 0, need - body);
    p->len += need;
    return SR_OK;
}

static void ev_parts_free(ev_state *st)
{
    if (!st->parts)
        return;
    for (uint32_t i = 0; i < st->n_parts; i++) {
        if (st->parts[i].fd >= 0)
            close(st->parts[i].fd);
        free(st->parts[i].buf);
    }
    free(st->parts);
    st->parts = NULL;
}

/* Open P spill files. Each is unlinked at once: the descriptor keeps it
 * alive, and nothing is left behind on error or crash. */
static sr_err ev_parts_open(ev_state *st, uint32_t n)
{
    st->parts = calloc(n, sizeof *st->parts);
    if (!st->parts)
        return sr_errorf(SR_ERR_NOMEM, "events: out of memory");
    st->n_parts = n;
    for (uint32_t i = 0; i < n; i++)
        st->parts[i].fd = -1;
    if (n == 1)
        return SR_OK;
    for (uint32_t i = 0; i < n; i++) {
        char tmpl[4200];
        int len = snprintf(tmpl, sizeof tmpl, "%s/seqrec-events-XXXXXX", st->spill_dir);
        if (len < 0 || (size_t)len >= sizeof tmpl)
            return sr_errorf(SR_ERR_ARG, "events: tmp_dir path too long");
        int fd = mkstemp(tmpl);
        if (fd < 0)
            return sr_errorf(SR_ERR_IO, "create spill file in %s: %s", st->spill_dir,
                             strerror(errno));
        unlink(tmpl);
        st->parts[i].fd = fd;
        st->parts[i].buf = malloc(EV_WRITE_BUFFER);
        if (!st->parts[i].buf)
            return sr_errorf(SR_ERR_NOMEM, "events: out of memory");
        st->parts[i].cap = EV_WRITE_BUFFER;
    }
    return SR_OK;
}

/* Bring partition p wholly into p->buf[0..len). */
static sr_err ev_part_load(ev_state *st, ev_part *p)
{
    if (p->fd < 0)
        return SR_OK;
    sr_err err = ev_part_flush(st, p);
    if (err != SR_OK)
        return err;
    if (p->spilled > SIZE_MAX / 2)
        return sr_errorf(SR_ERR_LIMIT, "events: spill partition too large (%llu bytes)",
                         (unsigned long long)p->spilled);
    size_t total = (size_t)p->spilled;
    free(p->buf);
    p->buf = NULL;
    p->cap = p->len = 0;
    if (total == 0)
        return SR_OK;
    p->buf = malloc(total);
    if (!p->buf)
        return sr_errorf(SR_ERR_NOMEM, "events: out of memory loading a %zu-byte partition", total);
    p->cap = total;
    size_t done = 0;
    while (done < total) {
        ssize_t r = pread(p->fd, p->buf + done, total - done, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return sr_errorf(SR_ERR_IO, "read spill file in %s: %s", st->spill_dir,
                             r < 0 ? strerror(errno) : "unexpected end");
        done += (size_t)r;
    }
    p->len = total;
    close(p->fd);
    p->fd = -1;
    return SR_OK;
}

/* ---- pass 1: rows -> records ---------------------------------------------- */

static bool ev_parse_time(const sr_events_config *c, sr_str s, int64_t *ms)
{
    int64_t v;
    switch (c->time_format) {
    case SR_TIME_FORMAT_UNIX_MS:
        if (sr_parse_i64(s, &v)) {
            *ms = v;
            return true;
        }
        break;
    case SR_TIME_FORMAT_UNIX_S:
        if (sr_parse_i64(s, &v)) {
            if (v > INT64_MAX / 1000 || v < INT64_MIN / 1000)
                return false;
            *ms = v * 1000;
            return true;
        }
        break;
    case SR_TIME_FORMAT_ISO8601:
        if (sr_parse_datetime(s, &v)) {
            *ms = v * 1000;
            return true;
        }
        return false;
    }
    /* fractional unix times, e.g. "1649581149.287" */
    double d;
    if (!sr_parse_f64(s, &d))
        return false;
    if (c->time_format == SR_TIME_FORMAT_UNIX_S)
        d *= 1000.0;
    d = floor(d);
    if (!(d > -9.2e18 && d < 9.2e18))
        return false;
    *ms = (int64_t)d;
    return true;
}

static void ev_reason(char *buf, size_t cap, const char *what, const char *col)
{
    snprintf(buf, cap, "%s%s", what, col);
}

static void ev_reasons_init(ev_state *st)
{
    const sr_events_config *c = st->c;
    ev_reasons *w = &st->why;
    ev_reason(w->empty_key, sizeof w->empty_key, "empty ", st->key_col);
    snprintf(w->long_key, sizeof w->long_key, "%s too long", st->key_col);
    ev_reason(w->empty_track, sizeof w->empty_track, "empty ", c->track_col);
    snprintf(w->long_track, sizeof w->long_track, "%s too long", c->track_col);
    ev_reason(w->bad_time, sizeof w->bad_time, "bad time in ", c->time_col);
    ev_reason(w->bad_flag, sizeof w->bad_flag, "bad boolean in ", c->flag_col);
    ev_reason(w->bad_played, sizeof w->bad_played, "bad number in ", c->played_col);
    ev_reason(w->bad_duration, sizeof w->bad_duration, "bad number in ", c->duration_col);
    ev_reason(w->bad_rating, sizeof w->bad_rating, "bad number in ", c->rating_col);
}

/* Parse one row into a record; NULL or the reject reason. */
static const char *ev_parse_row(ev_state *st, const int32_t *ix, uint32_t min_fields,
                                const sr_str *f, uint32_t nf,
                                ev_rec *rec, sr_str *user, sr_str *track)
{
    const sr_events_config *c = st->c;
    if (nf < min_fields)
        return "too few fields";
    *user = f[ix[EV_KEY]];
    if (user->len == 0)
        return st->why.empty_key;
    if (user->len > EV_MAX_ID)
        return st->why.long_key;
    *track = f[ix[EV_TRACK]];
    if (track->len == 0)
        return st->why.empty_track;
    if (track->len > EV_MAX_ID)
        return st->why.long_track;
    int64_t ms;
    if (!ev_parse_time(c, f[ix[EV_TIME]], &ms))
        return st->why.bad_time;

    /* Every enabled signal's field must parse, whatever the others say. */
    bool skipped = false;
    if (st->use_flag) {
        bool b;
        if (!sr_parse_bool(f[ix[EV_FLAG]], &b))
            return st->why.bad_flag;
        skipped |= b;
    }
    if (st->use_played) {
        double pl;
        if (!sr_parse_f64(f[ix[EV_PLAYED]], &pl) || pl < 0)
            return st->why.bad_played;
        double played_s = pl * c->played_unit_s;
        if (c->min_played_s > 0 && played_s < c->min_played_s)
            skipped = true;
        if (st->use_frac) {
            double du;
            if (!sr_parse_f64(f[ix[EV_DURATION]], &du) || du < 0)
                return st->why.bad_duration;
            /* The ratio of the raw values: scaling both to seconds first
             * rounds 1480/7400 ms to 0.19999999999999998 < 0.2. Duration 0
             * (unknown) leaves the fraction rule silent. */
            if (du > 0 && pl / du < c->min_played_frac)
                skipped = true;
        }
    }
    if (st->use_rating) {
        double r;
        if (!sr_parse_f64(f[ix[EV_RATING]], &r))
            return st->why.bad_rating;
        if (r < c->rating_skip_below)
            skipped = true;
    }
    memset(rec, 0, sizeof *rec);
    rec->hash = XXH3_64bits(user->ptr, user->len);
    rec->time_ms = ms;
    rec->ulen = (uint16_t)user->len;
    rec->tlen = (uint16_t)track->len;
    rec->skipped = skipped;
    return NULL;
}

static sr_err ev_read_file(ev_state *st, const char *path, sr_rejects *rej,
                           sr_read_counts *local)
{
    const sr_events_config *c = st->c;
    sr_err err = SR_OK;
    sr_csv *csv = NULL;
    const char *names[EV_NCOLS] = { st->key_col, c->track_col, c->time_col, c->flag_col,
                                    c->played_col, c->duration_col, c->rating_col };
    bool optional[EV_NCOLS] = { false, false, false, !st->use_flag, !st->use_played,
                                !st->use_frac, !st->use_rating };
    int32_t ix[EV_NCOLS];

    err = sr_csv_open(path, c->delim, &csv);
    if (err != SR_OK)
        goto done;
    local->files++;
    /* Unused columns are optional: their index, if any, is never read. */
    uint32_t min_fields = 0;
    err = sr_csv_read_header(csv, names, optional, EV_NCOLS, ix, &min_fields);
    if (err != SR_OK)
        goto done;

    const sr_str *f;
    uint32_t nf;
    for (;;) {
        err = sr_csv_read(csv, &f, &nf);
        if (err != SR_OK)
            goto done;
        if (nf == 0)
            break;
        local->rows++;
        ev_rec rec;
        sr_str user, track;
        const char *reason = ev_parse_row(st, ix, min_fields, f, nf, &rec, &user, &track);
        if (reason) {
            sr_rejects_add_record(rej, csv, reason);
            local->rejected++;
            continue;
        }
        err = ev_part_append(st, &st->parts[rec.hash % st->n_parts], &rec, user, track);
        if (err != SR_OK)
            goto done;
    }
done:
    if (csv)
        local->bytes += sr_csv_bytes(csv);
    sr_csv_free(&csv);
    return err;
}

/* ---- pass 2: sort and cut --------------------------------------------------- */

/* Sort key (hash, time, input order): no access to the records needed. */
static int ev_idx_cmp(const void *pa, const void *pb)
{
    const ev_idx *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms ? -1 : 1;
    if (a->off != b->off)
        return a->off < b->off ? -1 : 1;
    return 0;
}

/* For a run of equal hashes that holds more than one user (a collision):
 * (user bytes, time, input order). qsort has no context argument, so the
 * partition being sorted is per thread. */
static _Thread_local const char *ev_sort_base;

static sr_str ev_rec_user(const char *base, size_t off)
{
    ev_rec r;
    memcpy(&r, base + off, sizeof r);
    sr_str s = { base + off + sizeof r, r.ulen };
    return s;
}

static int ev_idx_cmp_user(const void *pa, const void *pb)
{
    const ev_idx *a = pa, *b = pb;
    sr_str ua = ev_rec_user(ev_sort_base, a->off), ub = ev_rec_user(ev_sort_base, b->off);
    int c = memcmp(ua.ptr, ub.ptr, SR_MIN(ua.len, ub.len));
    if (c != 0)
        return c;
    if (ua.len != ub.len)
        return ua.len < ub.len ? -1 : 1;
    return ev_idx_cmp(pa, pb);
}

/* Sort by (hash, user, time, input order). Comparing user bytes in every
 * comparison would cost more than the rest of the sort, so users are
 * compared only inside runs of equal hash, and re-sorted only when a run
 * turns out to mix users. */
static void ev_sort(const char *base, ev_idx *idx, size_t n)
{
    qsort(idx, n, sizeof *idx, ev_idx_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        bool mixed = false;
        sr_str first = ev_rec_user(base, idx[i].off);
        while (j < n && idx[j].hash == idx[i].hash) {
            if (!mixed && !sr_str_eq(first, ev_rec_user(base, idx[j].off)))
                mixed = true;
            j++;
        }
        if (mixed) {
            ev_sort_base = base;
            qsort(idx + i, j - i, sizeof *idx, ev_idx_cmp_user);
            ev_sort_base = NULL;
        }
        i = j;
    }
}

typedef struct ev_emitter {
    sr_play *plays;      /* [max_session_len] */
    char *key;           /* [EV_MAX_ID + 24] */
    uint32_t n;
    uint64_t k;          /* sessions of the current user so far */
    sr_str user;         /* current user (points into the partition) */
} ev_emitter;

static sr_err ev_emit(ev_emitter *em, sr_session_sink sink, void *ud, sr_read_counts *local)
{
    if (em->n == 0)
        return SR_OK;
    em->k++;
    /* "<user>#<k>"; the user may hold any byte, so no %s */
    SR_ASSERT(em->user.len <= EV_MAX_ID);
    memcpy(em->key, em->user.ptr, em->user.len);
    int len = snprintf(em->key + em->user.len, 24, "#%llu", (unsigned long long)em->k);
    SR_ASSERT(len > 0 && len < 24);
    sr_session s = { { em->key, em->user.len + (size_t)len }, em->plays, em->n };
    local->sessions++;
    local->plays += em->n;
    em->n = 0;
    return sink(ud, &s);
}

static int64_t ev_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static sr_err ev_cut_partition(ev_state *st, ev_part *p, ev_emitter *em, sr_session_sink sink,
                               void *ud, sr_read_counts *local)
{
    sr_err err = SR_OK;
    const sr_events_config *c = st->c;
    ev_idx *idx = NULL;
    size_t n = 0;

    for (size_t off = 0; off < p->len;) {
        ev_rec r;
        memcpy(&r, p->buf + off, sizeof r);
        off += (sizeof r + r.ulen + r.tlen + 7u) & ~(size_t)7u;
        n++;
    }
    if (n == 0)
        goto done;
    idx = malloc(n * sizeof *idx);
    if (!idx) {
        err = sr_errorf(SR_ERR_NOMEM, "events: out of memory sorting %zu records", n);
        goto done;
    }
    size_t i = 0;
    for (size_t off = 0; off < p->len; i++) {
        ev_rec r;
        memcpy(&r, p->buf + off, sizeof r);
        idx[i].hash = r.hash;
        idx[i].time_ms = r.time_ms;
        idx[i].off = off;
        off += (sizeof r + r.ulen + r.tlen + 7u) & ~(size_t)7u;
    }
    ev_sort(p->buf, idx, n);

    const int64_t gap_ms = c->session_gap_s * 1000;
    int64_t prev_ms = 0;
    em->n = 0;
    em->user.ptr = NULL;
    em->user.len = 0;
    for (i = 0; i < n; i++) {
        ev_rec r;
        const char *base = p->buf + idx[i].off;
        memcpy(&r, base, sizeof r);
        sr_str user = { base + sizeof r, r.ulen };
        bool same_user = em->user.ptr && sr_str_eq(user, em->user);
        if (!same_user) {
            err = ev_emit(em, sink, ud, local);
            if (err != SR_OK)
                goto done;
            em->user = user;
            em->k = 0;
        } else if (em->n == c->max_session_len ||
                   (!st->by_session && r.time_ms - prev_ms > gap_ms)) {
            err = ev_emit(em, sink, ud, local);
            if (err != SR_OK)
                goto done;
        }
        int64_t t = ev_floor_div(r.time_ms, 1000);
        uint32_t hour = (uint32_t)(((t % 86400) + 86400) % 86400 / 3600);
        sr_play *pl = &em->plays[em->n];
        pl->track.ptr = base + sizeof r + r.ulen;
        pl->track.len = r.tlen;
        pl->time = t;
        pl->context = sr_ctx_pack(SR_CTX_TYPE_UNKNOWN, SR_REASON_UNKNOWN, SR_REASON_UNKNOWN,
                                  false, false, false, 3u, hour);
        pl->position = (uint16_t)(em->n + 1);
        pl->feedback = r.skipped ? SR_FB_SKIPPED : 0;
        em->n++;
        prev_ms = r.time_ms;
    }
    err = ev_emit(em, sink, ud, local);
done:
    free(idx);
    return err;
}

static sr_err ev_spill_dir(ev_state *st)
{
    const char *dir = st->c->tmp_dir;
    if (!dir || !dir[0])
        dir = getenv("TMPDIR");
    if (!dir || !dir[0])
        dir = "/tmp";
    size_t n = strlen(dir);
    if (n >= sizeof st->spill_dir)
        return sr_errorf(SR_ERR_ARG, "events: tmp_dir path too long");
    memcpy(st->spill_dir, dir, n + 1);
    return SR_OK;
}

/* Estimated uncompressed input size, to choose the number of partitions. */
static sr_err ev_input_bytes(const char *const *paths, size_t n, uint64_t *out)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0)
            return sr_errorf(SR_ERR_IO, "stat %s: %s", paths[i], strerror(errno));
        uint64_t size = sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
        int fd = open(paths[i], O_RDONLY);
        if (fd < 0)
            return sr_errorf(SR_ERR_IO, "open %s: %s", paths[i], strerror(errno));
        unsigned char magic[2];
        ssize_t got = pread(fd, magic, 2, 0);
        close(fd);
        if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
            size *= EV_GZ_RATIO;
        total += size;
    }
    *out = total;
    return SR_OK;
}

sr_err sr_events_read(const char *const *paths, size_t n, const sr_events_config *c,
                      sr_rejects *rej, sr_session_sink sink, void *ud,
                      sr_read_counts *counts)
{
    sr_err err = SR_OK;
    ev_state st;
    ev_emitter em;
    sr_read_counts local;
    memset(&st, 0, sizeof st);
    memset(&em, 0, sizeof em);
    memset(&local, 0, sizeof local);

    if (!c || !sink || (n > 0 && !paths))
        return sr_errorf(SR_ERR_ARG, "sr_events_read: missing config, sink or paths");
    err = sr_events_config_check(c);
    if (err != SR_OK)
        return err;
    if (n == 0)
        return sr_errorf(SR_ERR_EMPTY, "events: no input files");

    st.c = c;
    st.by_session = ev_set(c->session_col);
    st.key_col = st.by_session ? c->session_col : c->user_col;
    st.use_flag = ev_set(c->flag_col);
    st.use_played = ev_set(c->played_col);
    st.use_frac = c->min_played_frac > 0;
    st.use_rating = ev_set(c->rating_col);
    ev_reasons_init(&st);
    err = ev_spill_dir(&st);
    if (err != SR_OK)
        goto done;

    uint64_t in_bytes = 0;
    err = ev_input_bytes(paths, n, &in_bytes);
    if (err != SR_OK)
        goto done;
    uint64_t want = in_bytes / c->partition_bytes + (in_bytes % c->partition_bytes != 0);
    uint32_t n_parts = (uint32_t)SR_MAX(SR_MIN(want, (uint64_t)EV_MAX_PARTITIONS), (uint64_t)1);
    if (want > EV_MAX_PARTITIONS)
        sr_log(SR_LOG_LEVEL_WARN,
               "events: %llu input bytes need %llu partitions of %zu bytes; using %u "
               "(partitions will be larger)",
               (unsigned long long)in_bytes, (unsigned long long)want, c->partition_bytes,
               EV_MAX_PARTITIONS);
    err = ev_parts_open(&st, n_parts);
    if (err != SR_OK)
        goto done;

    for (size_t i = 0; i < n; i++) {
        err = ev_read_file(&st, paths[i], rej, &local);
        if (err != SR_OK)
            goto done;
    }

    em.plays = malloc((size_t)c->max_session_len * sizeof *em.plays);
    em.key = malloc(EV_MAX_ID + 24);
    if (!em.plays || !em.key) {
        err = sr_errorf(SR_ERR_NOMEM, "events: out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < st.n_parts; i++) {
        ev_part *p = &st.parts[i];
        err = ev_part_load(&st, p);
        if (err != SR_OK)
            goto done;
        err = ev_cut_partition(&st, p, &em, sink, ud, &local);
        if (err != SR_OK)
            goto done;
        free(p->buf);
        p->buf = NULL;
        p->len = p->cap = 0;
    }
done:
    if (counts) {
        counts->files += local.files;
        counts->bytes += local.bytes;
        counts->rows += local.rows;
        counts->rejected += local.rejected;
        counts->sessions += local.sessions;
        counts->plays += local.plays;
        counts->truncated += local.truncated;
    }
    free(em.plays);
    free(em.key);
    ev_parts_free(&st);
    return err;
}
