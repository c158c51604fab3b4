/* srd_evconf.c - see srd_evconf.h. Parsing goes through inih's
 * ini_parse_string(); Debian's libinih does not pass line numbers to the
 * handler, but ini_parse_string() returns the first failing line, which is
 * where our handler refused - the message is recorded by the handler and the
 * line added afterwards. */
#include "srd_evconf.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct srd_evconf_ctx {
    sr_events_config *c;
    bool failed;
    char msg[256];
} srd_evconf_ctx;

typedef enum srd_evkey_type {
    SRD_EVKEY_TYPE_COLUMN = 0, /* a column name */
    SRD_EVKEY_TYPE_TIME_FORMAT,
    SRD_EVKEY_TYPE_DELIM,
    SRD_EVKEY_TYPE_UNIT,       /* s | ms -> seconds per unit */
    SRD_EVKEY_TYPE_REAL,       /* finite, >= min, <= max */
    SRD_EVKEY_TYPE_GAP,        /* minutes -> session_gap_s */
    SRD_EVKEY_TYPE_U32         /* max_length */
} srd_evkey_type;

typedef struct srd_evkey {
    const char *section;
    const char *key;
    srd_evkey_type type;
    size_t offset;
    double min, max;
} srd_evkey;

#define SRD_EVKEY(sec, k, t, field, lo, hi) \
    { sec, k, t, offsetof(sr_events_config, field), lo, hi }

static const srd_evkey srd_evkeys[] = {
    SRD_EVKEY("columns", "user", SRD_EVKEY_TYPE_COLUMN, user_col, 0, 0),
    SRD_EVKEY("columns", "session", SRD_EVKEY_TYPE_COLUMN, session_col, 0, 0),
    SRD_EVKEY("columns", "track", SRD_EVKEY_TYPE_COLUMN, track_col, 0, 0),
    SRD_EVKEY("columns", "time", SRD_EVKEY_TYPE_COLUMN, time_col, 0, 0),
    SRD_EVKEY("columns", "time_format", SRD_EVKEY_TYPE_TIME_FORMAT, time_format, 0, 0),
    SRD_EVKEY("columns", "delimiter", SRD_EVKEY_TYPE_DELIM, delim, 0, 0),
    SRD_EVKEY("skip", "flag", SRD_EVKEY_TYPE_COLUMN, flag_col, 0, 0),
    SRD_EVKEY("skip", "played", SRD_EVKEY_TYPE_COLUMN, played_col, 0, 0),
    SRD_EVKEY("skip", "duration", SRD_EVKEY_TYPE_COLUMN, duration_col, 0, 0),
    SRD_EVKEY("skip", "played_unit", SRD_EVKEY_TYPE_UNIT, played_unit_s, 0, 0),
    SRD_EVKEY("skip", "min_played_seconds", SRD_EVKEY_TYPE_REAL, min_played_s, 0, 1e9),
    SRD_EVKEY("skip", "min_played_fraction", SRD_EVKEY_TYPE_REAL, min_played_frac, 0, 1),
    SRD_EVKEY("skip", "rating", SRD_EVKEY_TYPE_COLUMN, rating_col, 0, 0),
    SRD_EVKEY("skip", "rating_skip_below", SRD_EVKEY_TYPE_REAL, rating_skip_below, -1e12, 1e12),
    /* 1 minute .. 30 days */
    SRD_EVKEY("sessions", "gap_minutes", SRD_EVKEY_TYPE_GAP, session_gap_s, 1, 43200),
    SRD_EVKEY("sessions", "max_length", SRD_EVKEY_TYPE_U32, max_session_len, 1, 65535),
};

static bool srd_evconf_fail(srd_evconf_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool srd_evconf_fail(srd_evconf_ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof x->msg, fmt, ap);
    va_end(ap);
    x->failed = true;
    return false;
}

static bool srd_evconf_real(const char *v, double *out)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end != '\0' || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool srd_evconf_set(srd_evconf_ctx *x, const srd_evkey *k, const char *value)
{
    char *field = (char *)x->c + k->offset;
    switch (k->type) {
    case SRD_EVKEY_TYPE_COLUMN: {
        size_t n = strlen(value);
        if (n == 0 || n >= SR_EVENTS_NAME_MAX)
            return srd_evconf_fail(x, "%s.%s: column name '%s' must be 1..63 bytes", k->section,
                                   k->key, value);
        memcpy(field, value, n + 1);
        return true;
    }
    case SRD_EVKEY_TYPE_TIME_FORMAT: {
        sr_time_format f;
        if (strcmp(value, "unix_s") == 0)
            f = SR_TIME_FORMAT_UNIX_S;
        else if (strcmp(value, "unix_ms") == 0)
            f = SR_TIME_FORMAT_UNIX_MS;
        else if (strcmp(value, "iso8601") == 0)
            f = SR_TIME_FORMAT_ISO8601;
        else
            return srd_evconf_fail(x, "%s.%s: '%s': expected unix_s, unix_ms or iso8601",
                                   k->section, k->key, value);
        x->c->time_format = f;
        return true;
    }
    case SRD_EVKEY_TYPE_DELIM:
        if (strcmp(value, "tab") == 0)
            x->c->delim = '\t';
        else if (strcmp(value, "comma") == 0)
            x->c->delim = ',';
        else
            return srd_evconf_fail(x, "%s.%s: '%s': expected tab or comma", k->section, k->key,
                                   value);
        return true;
    case SRD_EVKEY_TYPE_UNIT:
        if (strcmp(value, "s") == 0)
            x->c->played_unit_s = 1.0;
        else if (strcmp(value, "ms") == 0)
            x->c->played_unit_s = 0.001;
        else
            return srd_evconf_fail(x, "%s.%s: '%s': expected s or ms", k->section, k->key,
                                   value);
        return true;
    case SRD_EVKEY_TYPE_REAL: {
        double d;
        if (!srd_evconf_real(value, &d) || d < k->min || d > k->max)
            return srd_evconf_fail(x, "%s.%s: '%s' is not a number in [%g, %g]", k->section,
                                   k->key, value, k->min, k->max);
        memcpy(field, &d, sizeof d);
        return true;
    }
    case SRD_EVKEY_TYPE_GAP: {
        double d;
        if (!srd_evconf_real(value, &d) || d < k->min || d > k->max)
            return srd_evconf_fail(x, "%s.%s: '%s' is not a number of minutes in 1..43200",
                                   k->section, k->key, value);
        x->c->session_gap_s = (int64_t)llround(d * 60.0);
        return true;
    }
    case SRD_EVKEY_TYPE_U32: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < (long long)k->min ||
            v > (long long)k->max)
            return srd_evconf_fail(x, "%s.%s: '%s' is not an integer in 1..65535", k->section,
                                   k->key, value);
        x->c->max_session_len = (uint32_t)v;
        return true;
    }
    }
    return srd_evconf_fail(x, "%s.%s: internal: no type", k->section, k->key);
}

static int srd_evconf_handler(void *ud, const char *section, const char *name, const char *value)
{
    srd_evconf_ctx *x = ud;
    if (x->failed)
        return 0; /* keep only the first error (inih reports the first line) */
    bool known_section = false;
    for (size_t i = 0; i < SR_COUNTOF(srd_evkeys); i++) {
        if (strcmp(srd_evkeys[i].section, section) != 0)
            continue;
        known_section = true;
        if (strcmp(srd_evkeys[i].key, name) == 0)
            return srd_evconf_set(x, &srd_evkeys[i], value) ? 1 : 0;
    }
    if (!known_section)
        return srd_evconf_fail(x, "unknown section [%s] (expected columns, skip, sessions)",
                               section) ? 1 : 0;
    return srd_evconf_fail(x, "unknown key '%s' in [%s]", name, section) ? 1 : 0;
}

sr_err srd_evconf_parse(const char *text, size_t len, sr_events_config *out)
{
    if (len > SRD_EVCONF_MAX_BYTES)
        return sr_errorf(SR_ERR_ARG, "events config: %zu bytes, at most %u", len,
                         SRD_EVCONF_MAX_BYTES);
    if (memchr(text, '\0', len))
        return sr_errorf(SR_ERR_ARG, "events config: holds a NUL byte");
    char *buf = malloc(len + 1);
    if (!buf)
        return sr_errorf(SR_ERR_NOMEM, "events config: out of memory");
    memcpy(buf, text, len);
    buf[len] = '\0';

    sr_events_config c;
    sr_events_config_default(&c);
    srd_evconf_ctx x = { .c = &c };
    int rc = ini_parse_string(buf, srd_evconf_handler, &x);
    free(buf);
    if (rc != 0) {
        if (rc < 0)
            return sr_errorf(SR_ERR_NOMEM, "events config: parser failed (%d)", rc);
        if (!x.failed)
            return sr_errorf(SR_ERR_ARG,
                             "events config line %d: syntax error (expected [section], "
                             "key = value or a ; comment)", rc);
        return sr_errorf(SR_ERR_ARG, "events config line %d: %s", rc, x.msg);
    }
    sr_err e = sr_events_config_check(&c);
    if (e != SR_OK) {
        char why[512]; /* sr_errmsg() is the buffer sr_errorf() writes */
        snprintf(why, sizeof why, "%s", sr_errmsg());
        return sr_errorf(e, "events config: %s", why);
    }
    *out = c;
    return SR_OK;
}
