/* sr_mssd.c - reader for MSSD session logs (SPEC.md section 2).
 *
 * One pass, one row at a time: the CSV reader hands out field views, the row
 * is validated and converted without copying (hand-written integer and
 * boolean parsing, the date of the previous row cached), and plays are
 * appended to the current session until the session id changes. Only the
 * current session is held in memory: positions are 1..65535 and strictly
 * increasing, and ids are at most SR_MSSD_MAX_ID bytes, so it is bounded.
 */
#include "sr_mssd.h"

#include <stdlib.h>
#include <string.h>

#include "sr_csv.h"

/* Longest session or track id accepted; longer ids are rejected rows. */
#define SR_MSSD_MAX_ID 1024u
#define SR_MSSD_MAX_POSITION 65535u

enum {
    MSSD_SESSION_ID = 0,
    MSSD_POSITION,
    MSSD_LENGTH,
    MSSD_TRACK,
    MSSD_SKIP_1,
    MSSD_SKIP_2,
    MSSD_SKIP_3,
    MSSD_NOT_SKIPPED,
    MSSD_CONTEXT_SWITCH,
    MSSD_NO_PAUSE,
    MSSD_SHORT_PAUSE,
    MSSD_LONG_PAUSE,
    MSSD_SEEKFWD,
    MSSD_SEEKBACK,
    MSSD_SHUFFLE,
    MSSD_HOUR,
    MSSD_DATE,
    MSSD_PREMIUM,
    MSSD_CONTEXT_TYPE,
    MSSD_REASON_START,
    MSSD_REASON_END,
    MSSD_NCOLS
};

static const char *const mssd_columns[MSSD_NCOLS] = {
    "session_id", "session_position", "session_length", "track_id_clean",
    "skip_1", "skip_2", "skip_3", "not_skipped", "context_switch",
    "no_pause_before_play", "short_pause_before_play", "long_pause_before_play",
    "hist_user_behavior_n_seekfwd", "hist_user_behavior_n_seekback",
    "hist_user_behavior_is_shuffle", "hour_of_day", "date", "premium", "context_type",
    "hist_user_behavior_reason_start", "hist_user_behavior_reason_end",
};

/* Reject reasons are constant strings: the rejects summary groups by them. */
static const char *const mssd_bad_bool[MSSD_NCOLS] = {
    [MSSD_SKIP_1] = "bad boolean in skip_1",
    [MSSD_SKIP_2] = "bad boolean in skip_2",
    [MSSD_SKIP_3] = "bad boolean in skip_3",
    [MSSD_NOT_SKIPPED] = "bad boolean in not_skipped",
    [MSSD_CONTEXT_SWITCH] = "bad boolean in context_switch",
    [MSSD_NO_PAUSE] = "bad boolean in no_pause_before_play",
    [MSSD_SHORT_PAUSE] = "bad boolean in short_pause_before_play",
    [MSSD_LONG_PAUSE] = "bad boolean in long_pause_before_play",
    [MSSD_SHUFFLE] = "bad boolean in hist_user_behavior_is_shuffle",
    [MSSD_PREMIUM] = "bad boolean in premium",
};

void sr_mssd_opts_default(sr_mssd_opts *o)
{
    o->skip_rule = SR_SKIP_RULE_SKIP_2;
    o->max_session_len = 0;
}

/* One parsed row. */
typedef struct mssd_row {
    sr_str session;
    sr_str track;
    int64_t time;
    uint32_t context;
    uint32_t position;
    uint8_t feedback;
} mssd_row;

/* The session being collected. Track ids are copied into tbuf because the
 * CSV reader's field views die with the next row. */
typedef struct mssd_session {
    char *key;          /* [key_cap] */
    size_t key_len, key_cap;
    sr_play *plays;     /* [cap] */
    uint32_t *toff;     /* [cap] offset of each play's track in tbuf */
    uint32_t n, cap;
    char *tbuf;         /* [tcap] */
    size_t tlen, tcap;
    uint32_t last_pos;
    bool open;
} mssd_session;

typedef struct mssd_reader {
    int32_t col[MSSD_NCOLS];
    uint32_t min_fields;      /* 1 + the largest column index used */
    sr_skip_rule rule;
    char date_text[16];       /* the previous row's date, parsed once */
    size_t date_len;
    int64_t date_s;
} mssd_reader;

static bool mssd_bool(sr_str s, bool *out)
{
    /* The common spellings first; sr_parse_bool covers the rest. */
    if (s.len == 4 && memcmp(s.ptr, "True", 4) == 0) {
        *out = true;
        return true;
    }
    if (s.len == 5 && memcmp(s.ptr, "False", 5) == 0) {
        *out = false;
        return true;
    }
    return sr_parse_bool(s, out);
}

/* Decimal digits only, no sign, value <= max. */
static bool mssd_uint(sr_str s, uint32_t max, uint32_t *out)
{
    if (s.len == 0 || s.len > 9)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        uint32_t d = (uint32_t)(unsigned char)s.ptr[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* Parse and validate one row; returns NULL or the reject reason. */
static const char *mssd_parse_row(mssd_reader *m, const sr_str *f, uint32_t nf, mssd_row *row)
{
    const int32_t *col = m->col;
    if (nf < m->min_fields)
        return "too few fields";

    row->session = f[col[MSSD_SESSION_ID]];
    if (row->session.len == 0)
        return "empty session_id";
    if (row->session.len > SR_MSSD_MAX_ID)
        return "session_id too long";
    if (!mssd_uint(f[col[MSSD_POSITION]], SR_MSSD_MAX_POSITION, &row->position) ||
        row->position == 0)
        return "bad session_position";
    row->track = f[col[MSSD_TRACK]];
    if (row->track.len == 0)
        return "empty track_id_clean";
    if (row->track.len > SR_MSSD_MAX_ID)
        return "track_id_clean too long";

    bool b[MSSD_NCOLS];
    static const int bool_cols[] = {
        MSSD_SKIP_1, MSSD_SKIP_2, MSSD_SKIP_3, MSSD_NOT_SKIPPED, MSSD_CONTEXT_SWITCH,
        MSSD_NO_PAUSE, MSSD_SHORT_PAUSE, MSSD_LONG_PAUSE, MSSD_SHUFFLE, MSSD_PREMIUM,
    };
    for (size_t i = 0; i < SR_COUNTOF(bool_cols); i++) {
        int k = bool_cols[i];
        if (!mssd_bool(f[col[k]], &b[k]))
            return mssd_bad_bool[k];
    }
    /* skip_1 => skip_2 => skip_3 (SPEC.md section 2) */
    if ((b[MSSD_SKIP_1] && !b[MSSD_SKIP_2]) || (b[MSSD_SKIP_2] && !b[MSSD_SKIP_3]))
        return "skip flags not nested";

    uint32_t hour;
    if (!mssd_uint(f[col[MSSD_HOUR]], 23, &hour))
        return "bad hour_of_day";
    sr_str date = f[col[MSSD_DATE]];
    if (!(date.len == m->date_len && date.len > 0 && memcmp(date.ptr, m->date_text, date.len) == 0)) {
        int64_t day;
        if (date.len > sizeof m->date_text || !sr_parse_date(date, &day))
            return "bad date";
        memcpy(m->date_text, date.ptr, date.len);
        m->date_len = date.len;
        m->date_s = day;
    }
    row->time = m->date_s + (int64_t)hour * 3600;

    /* MSSD marks a long pause as short too, so the longest flag wins. */
    uint32_t pause = b[MSSD_LONG_PAUSE] ? 2u : b[MSSD_SHORT_PAUSE] ? 1u : b[MSSD_NO_PAUSE] ? 0u : 3u;
    row->context = sr_ctx_pack(sr_ctx_type_code(f[col[MSSD_CONTEXT_TYPE]]),
                               sr_reason_code(f[col[MSSD_REASON_START]]),
                               sr_reason_code(f[col[MSSD_REASON_END]]),
                               b[MSSD_SHUFFLE], b[MSSD_PREMIUM], b[MSSD_CONTEXT_SWITCH],
                               pause, hour);

    uint8_t fb = (uint8_t)((b[MSSD_SKIP_1] ? SR_FB_SKIP_1 : 0u) | (b[MSSD_SKIP_2] ? SR_FB_SKIP_2 : 0u) |
                           (b[MSSD_SKIP_3] ? SR_FB_SKIP_3 : 0u) |
                           (b[MSSD_NOT_SKIPPED] ? SR_FB_NOT_SKIPPED : 0u));
    if (sr_skip_rule_apply(m->rule, fb))
        fb |= SR_FB_SKIPPED;
    row->feedback = fb;
    return NULL;
}

static void mssd_session_free(mssd_session *s)
{
    free(s->key);
    free(s->plays);
    free(s->toff);
    free(s->tbuf);
    memset(s, 0, sizeof *s);
}

/* Start a new session keyed `key` (already checked <= SR_MSSD_MAX_ID). */
static sr_err mssd_session_start(mssd_session *s, sr_str key)
{
    if (key.len > s->key_cap) {
        size_t cap = SR_MAX(key.len, (size_t)64);
        char *k = realloc(s->key, cap);
        if (!k)
            return sr_errorf(SR_ERR_NOMEM, "mssd: out of memory");
        s->key = k;
        s->key_cap = cap;
    }
    memcpy(s->key, key.ptr, key.len);
    s->key_len = key.len;
    s->n = 0;
    s->tlen = 0;
    s->last_pos = 0;
    s->open = true;
    return SR_OK;
}

static sr_err mssd_session_append(mssd_session *s, const mssd_row *row)
{
    if (s->n == s->cap) {
        /* n <= SR_MSSD_MAX_POSITION because positions increase strictly */
        SR_ASSERT(s->cap < SR_MSSD_MAX_POSITION);
        uint32_t cap = s->cap ? SR_MIN(s->cap * 2, SR_MSSD_MAX_POSITION) : 32;
        sr_play *p = realloc(s->plays, (size_t)cap * sizeof *p);
        if (!p)
            return sr_errorf(SR_ERR_NOMEM, "mssd: out of memory");
        s->plays = p;
        uint32_t *o = realloc(s->toff, (size_t)cap * sizeof *o);
        if (!o)
            return sr_errorf(SR_ERR_NOMEM, "mssd: out of memory");
        s->toff = o;
        s->cap = cap;
    }
    if (s->tlen + row->track.len > s->tcap) {
        /* at most 65535 ids of <= 1 KiB each: < 64 MiB */
        size_t cap = SR_MAX(s->tcap * 2, s->tlen + row->track.len);
        cap = SR_MAX(cap, (size_t)4096);
        char *t = realloc(s->tbuf, cap);
        if (!t)
            return sr_errorf(SR_ERR_NOMEM, "mssd: out of memory");
        s->tbuf = t;
        s->tcap = cap;
    }
    memcpy(s->tbuf + s->tlen, row->track.ptr, row->track.len);
    sr_play *p = &s->plays[s->n];
    p->track.ptr = NULL; /* set at emission, tbuf may still move */
    p->track.len = row->track.len;
    p->time = row->time;
    p->context = row->context;
    p->position = (uint16_t)row->position;
    p->feedback = row->feedback;
    s->toff[s->n] = (uint32_t)s->tlen;
    s->tlen += row->track.len;
    s->n++;
    return SR_OK;
}

static sr_err mssd_session_emit(mssd_session *s, sr_session_sink sink, void *ud,
                                sr_read_counts *local)
{
    sr_err err = SR_OK;
    if (s->open && s->n > 0) {
        for (uint32_t i = 0; i < s->n; i++)
            s->plays[i].track.ptr = s->tbuf + s->toff[i];
        sr_session sess = { { s->key, s->key_len }, s->plays, s->n };
        local->sessions++;
        local->plays += s->n;
        err = sink(ud, &sess);
    }
    s->open = false;
    s->n = 0;
    return err;
}

sr_err sr_mssd_read_file(const char *path, const sr_mssd_opts *o, sr_rejects *rej,
                         sr_session_sink sink, void *ud, sr_read_counts *counts)
{
    sr_err err = SR_OK;
    sr_csv *csv = NULL;
    mssd_session sess;
    mssd_reader m;
    sr_read_counts local;
    memset(&sess, 0, sizeof sess);
    memset(&m, 0, sizeof m);
    memset(&local, 0, sizeof local);

    sr_mssd_opts defaults;
    if (!o) {
        sr_mssd_opts_default(&defaults);
        o = &defaults;
    }
    if (!sink)
        return sr_errorf(SR_ERR_ARG, "sr_mssd_read_file: no session sink");
    if ((unsigned)o->skip_rule > SR_SKIP_RULE_NOT_SKIPPED)
        return sr_errorf(SR_ERR_ARG, "%s: invalid skip rule %d", path, (int)o->skip_rule);
    m.rule = o->skip_rule;

    err = sr_csv_open(path, ',', &csv);
    if (err != SR_OK)
        goto done;
    local.files = 1;
    err = sr_csv_read_header(csv, mssd_columns, NULL, MSSD_NCOLS, m.col, &m.min_fields);
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
        local.rows++;
        mssd_row row = { 0 };
        const char *reason = mssd_parse_row(&m, f, nf, &row);
        if (!reason && sess.open && row.session.len == sess.key_len &&
            memcmp(row.session.ptr, sess.key, sess.key_len) == 0) {
            if (row.position == sess.last_pos)
                reason = "duplicate position";
            else if (row.position < sess.last_pos)
                reason = "position out of order";
        } else if (!reason) {
            err = mssd_session_emit(&sess, sink, ud, &local);
            if (err != SR_OK)
                goto done;
            err = mssd_session_start(&sess, row.session);
            if (err != SR_OK)
                goto done;
        }
        if (reason) {
            sr_rejects_add_record(rej, csv, reason);
            local.rejected++;
            continue;
        }
        sess.last_pos = row.position;
        if (o->max_session_len > 0 && sess.n >= o->max_session_len) {
            local.truncated++;
            continue;
        }
        err = mssd_session_append(&sess, &row);
        if (err != SR_OK)
            goto done;
    }
    err = mssd_session_emit(&sess, sink, ud, &local);

done:
    if (csv)
        local.bytes = sr_csv_bytes(csv);
    if (counts) {
        counts->files += local.files;
        counts->bytes += local.bytes;
        counts->rows += local.rows;
        counts->rejected += local.rejected;
        counts->sessions += local.sessions;
        counts->plays += local.plays;
        counts->truncated += local.truncated;
    }
    mssd_session_free(&sess);
    sr_csv_free(&csv);
    return err;
}
