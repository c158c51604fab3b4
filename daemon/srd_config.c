/* srd_config.c - table-driven settings (see srd_config.h). Defaults are
 * strings parsed by the same setter as user input, so a default can never be
 * out of its own range. */
#include "srd_config.h"

#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "srd_log.h"

typedef enum srd_opt_type {
    SRD_OPT_TYPE_STR = 0,
    SRD_OPT_TYPE_INT,
    SRD_OPT_TYPE_BOOL,
    SRD_OPT_TYPE_LOGLEVEL
} srd_opt_type;

typedef struct srd_opt {
    const char *key;
    srd_opt_type type;
    size_t offset;
    size_t size;      /* STR: buffer size */
    int64_t min, max; /* INT */
    const char *def;
    const char *arg;  /* placeholder in the help */
    const char *help;
} srd_opt;

#define SRD_OPT_STR(k, field, d, a, h) \
    { k, SRD_OPT_TYPE_STR, offsetof(srd_config, field), \
      sizeof(((srd_config *)0)->field), 0, 0, d, a, h }
#define SRD_OPT_INT(k, field, lo, hi, d, a, h) \
    { k, SRD_OPT_TYPE_INT, offsetof(srd_config, field), 0, lo, hi, d, a, h }

static const srd_opt srd_opts[] = {
    SRD_OPT_STR("endpoint", endpoint, SRD_DEFAULT_ENDPOINT, "ENDPOINT",
                "ipc://PATH or tcp://127.0.0.1:PORT"),
    SRD_OPT_STR("data_root", data_root, "", "DIR",
                "request paths (synth output, ingest inputs) must resolve inside it"),
    SRD_OPT_STR("state_dir", state_dir, "/var/lib/seqrec", "DIR",
                "datasets go to <state_dir>/datasets/<name>.store"),
    SRD_OPT_INT("threads", threads, 1, 64, "16", "N",
                "worker threads (requests in progress); with all busy, requests get 429"),
    SRD_OPT_INT("queue", queue, 0, 65536, "256", "N",
                "requests waiting for a free worker; more get 429 busy"),
    SRD_OPT_INT("max_msg_bytes", max_msg_bytes, 1024, INT64_C(1) << 30, "1048576", "N",
                "largest request frame (ZeroMQ drops larger ones)"),
    SRD_OPT_INT("max_synth_sessions", max_synth_sessions, 1, INT64_C(1000000000), "10000000", "N",
                "largest synth request in sessions (else 413)"),
    SRD_OPT_INT("ingest_threads", ingest_threads, 0, 256, "0", "N",
                "files one ingest parses in parallel (0 = all cores)"),
    SRD_OPT_INT("jobs", jobs, 1, 64, "1", "N",
                "training jobs running at once; further jobs wait queued"),
    SRD_OPT_INT("train_threads", train_threads, 0, 4096, "0", "N",
                "OpenMP threads of one training job (0 = all cores)"),
    SRD_OPT_INT("train_nice", train_nice, 0, 19, "10", "N",
                "nice value of training threads, so that requests are scheduled first"),
    SRD_OPT_INT("ckpt_every", ckpt_every, 1, INT64_C(1000000000), "200", "STEPS",
                "checkpoint interval of training jobs unless a job sets its own"),
    SRD_OPT_INT("score_lanes", score_lanes, 0, 64, "0", "N",
                "requests scoring one model at once, each a batch at a time (0 = all cores)"),
    SRD_OPT_INT("score_threads", score_threads, 1, 64, "1", "N",
                "OpenMP threads of one scoring pass's product and ranking"),
    SRD_OPT_INT("score_batch", score_batch, 1, 128, "32", "N",
                "most waiting sessions scored together in one pass (micro-batching)"),
    SRD_OPT_STR("score_precision", score_precision, "bf16", "bf16|f32",
                "recommend's scores: bf16 table copy (fast) or f32 (exact)"),
    SRD_OPT_INT("max_sessions", max_sessions, 1, 1000, "256", "N",
                "sessions in one recommend request (else 413)"),
    SRD_OPT_INT("max_plays", max_plays, 1, 10000, "10000", "N",
                "plays in one recommend session (else 413)"),
    SRD_OPT_STR("curve_secret_key", curve_secret_key, "", "FILE",
                "CURVE server key file (seqrecctl keygen); enables encryption and auth"),
    SRD_OPT_STR("curve_clients", curve_clients, "", "FILE",
                "public keys of the clients allowed in with CURVE, one per line"),
    { "log_level", SRD_OPT_TYPE_LOGLEVEL, offsetof(srd_config, log_level), 0, 0, 0, "info",
      "LEVEL", "debug, info, warn or error" },
    { "allow_remote", SRD_OPT_TYPE_BOOL, offsetof(srd_config, allow_remote), 0, 0, 0, "no",
      NULL, "bind tcp:// on any address (use CURVE: without it nothing is authenticated)" },
};

static const srd_opt *srd_opt_find(const char *key)
{
    for (size_t i = 0; i < SR_COUNTOF(srd_opts); i++)
        if (strcmp(srd_opts[i].key, key) == 0)
            return &srd_opts[i];
    return NULL;
}

bool srd_config_has_key(const char *key, bool *is_flag)
{
    const srd_opt *o = srd_opt_find(key);
    if (o && is_flag)
        *is_flag = o->type == SRD_OPT_TYPE_BOOL;
    return o != NULL;
}

static sr_err srd_parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < SR_COUNTOF(yes); i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = true;
            return SR_OK;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = false;
            return SR_OK;
        }
    }
    return SR_ERR_ARG;
}

sr_err srd_config_set(srd_config *c, const char *key, const char *value, const char *where)
{
    const srd_opt *o = srd_opt_find(key);
    if (!o)
        return sr_errorf(SR_ERR_ARG, "%s: unknown key '%s'", where, key);
    char *field = (char *)c + o->offset;
    switch (o->type) {
    case SRD_OPT_TYPE_STR: {
        size_t n = strlen(value);
        if (n >= o->size)
            return sr_errorf(SR_ERR_ARG, "%s: %s is too long (%zu bytes, at most %zu)",
                             where, key, n, o->size - 1);
        memcpy(field, value, n + 1);
        return SR_OK;
    }
    case SRD_OPT_TYPE_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0')
            return sr_errorf(SR_ERR_ARG, "%s: %s: '%s' is not an integer", where, key, value);
        if (v < o->min || v > o->max)
            return sr_errorf(SR_ERR_ARG, "%s: %s: %lld is out of range [%lld, %lld]", where, key,
                             v, (long long)o->min, (long long)o->max);
        int64_t iv = (int64_t)v;
        memcpy(field, &iv, sizeof iv);
        return SR_OK;
    }
    case SRD_OPT_TYPE_BOOL: {
        bool b;
        if (srd_parse_bool(value, &b) != SR_OK)
            return sr_errorf(SR_ERR_ARG, "%s: %s: '%s' is not yes/no/true/false/on/off/1/0",
                             where, key, value);
        memcpy(field, &b, sizeof b);
        return SR_OK;
    }
    case SRD_OPT_TYPE_LOGLEVEL: {
        sr_log_level l;
        if (srd_log_level_parse(value, &l) != SR_OK)
            return sr_errorf(SR_ERR_ARG, "%s: %s: '%s': expected debug, info, warn or error",
                             where, key, value);
        memcpy(field, &l, sizeof l);
        return SR_OK;
    }
    }
    return sr_errorf(SR_ERR_INTERNAL, "%s: key %s has no type", where, key);
}

void srd_config_default(srd_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < SR_COUNTOF(srd_opts); i++) {
        sr_err e = srd_config_set(c, srd_opts[i].key, srd_opts[i].def, "default");
        SR_ASSERT(e == SR_OK);
    }
}

typedef struct srd_config_load_ctx {
    srd_config *c;
    const char *path;
    int line;        /* lines seen by the handler (inih does not pass it) */
    sr_err err;
    char msg[512];
} srd_config_load_ctx;

static int srd_config_ini_handler(void *ud, const char *section, const char *name,
                                  const char *value)
{
    srd_config_load_ctx *x = ud;
    if (x->err != SR_OK)
        return 0;
    if (section[0] && strcmp(section, "seqrecd") != 0) {
        x->err = sr_errorf(SR_ERR_ARG, "unknown section [%s] (keys go at the top or under [seqrecd])",
                           section);
    } else {
        x->err = srd_config_set(x->c, name, value, "config");
    }
    if (x->err != SR_OK) {
        snprintf(x->msg, sizeof x->msg, "%s", sr_errmsg());
        return 0;
    }
    return 1;
}

sr_err srd_config_load(srd_config *c, const char *path)
{
    srd_config_load_ctx x = { .c = c, .path = path, .err = SR_OK };
    FILE *f = fopen(path, "r");
    if (!f)
        return sr_errorf(SR_ERR_IO, "config %s: %s", path, strerror(errno));
    int rc = ini_parse_file(f, srd_config_ini_handler, &x);
    fclose(f);
    if (rc == 0)
        return SR_OK;
    if (rc < 0)
        return sr_errorf(SR_ERR_IO, "config %s: cannot read it", path);
    /* inih reports the first failing line: a handler refusal or a syntax
     * error (a line that is neither a section, a key=value nor a comment). */
    const char *m = x.msg;
    if (x.err == SR_OK)
        m = "syntax error (expected [section], key = value or a ; comment)";
    else if (strncmp(m, "config: ", 8) == 0)
        m += 8;
    return sr_errorf(SR_ERR_ARG, "%s:%d: %s", path, rc, m);
}

sr_err srd_config_check_endpoint(const char *ep, bool allow_remote)
{
    if (strncmp(ep, "ipc://", 6) == 0) {
        if (ep[6] == '\0' || ep[6] == '@')
            return sr_errorf(SR_ERR_ARG, "endpoint %s: expected ipc://PATH (a file system path)",
                             ep);
        return SR_OK;
    }
    if (strncmp(ep, "tcp://", 6) == 0) {
        const char *host = ep + 6;
        const char *colon = strrchr(host, ':');
        if (!colon || colon == host || colon[1] == '\0')
            return sr_errorf(SR_ERR_ARG, "endpoint %s: expected tcp://HOST:PORT", ep);
        size_t hl = (size_t)(colon - host);
        /* ZeroMQ binds addresses or interface names, not host names: no "localhost". */
        static const char *const loop[] = { "127.0.0.1", "[::1]" };
        for (size_t i = 0; i < SR_COUNTOF(loop); i++)
            if (hl == strlen(loop[i]) && memcmp(host, loop[i], hl) == 0)
                return SR_OK;
        if (allow_remote)
            return SR_OK;
        return sr_errorf(SR_ERR_ARG,
                         "endpoint %s: tcp is only allowed on 127.0.0.1 or [::1]; binding %.*s "
                         "needs --allow-remote (and CURVE, or anyone who reaches it may use it)",
                         ep, (int)hl, host);
    }
    return sr_errorf(SR_ERR_ARG, "endpoint %s: expected ipc://PATH or tcp://127.0.0.1:PORT", ep);
}

sr_err srd_config_check(const srd_config *c)
{
    if (c->data_root[0] == '\0')
        return sr_errorf(SR_ERR_ARG, "data_root is required (--data-root DIR or data_root = DIR)");
    if (c->state_dir[0] == '\0')
        return sr_errorf(SR_ERR_ARG, "state_dir is required (--state-dir DIR or state_dir = DIR)");
    sr_err e = srd_config_check_endpoint(c->endpoint, c->allow_remote);
    if (e != SR_OK)
        return e;
    if (strcmp(c->score_precision, "bf16") != 0 && strcmp(c->score_precision, "f32") != 0)
        return sr_errorf(SR_ERR_ARG, "score_precision: '%s' (use bf16 or f32)",
                         c->score_precision);
    bool curve = c->curve_secret_key[0] != '\0';
    if (curve && strncmp(c->endpoint, "ipc://", 6) == 0)
        return sr_errorf(SR_ERR_ARG,
                         "curve_secret_key is set but endpoint %s is ipc://: CURVE is for tcp:// "
                         "endpoints (an ipc socket is guarded by its file permissions, 0660)",
                         c->endpoint);
    if (curve && c->curve_clients[0] == '\0')
        return sr_errorf(SR_ERR_ARG, "curve_secret_key is set but curve_clients is not: give the "
                         "file of allowed client public keys");
    if (!curve && c->curve_clients[0] != '\0')
        return sr_errorf(SR_ERR_ARG, "curve_clients is set but curve_secret_key is not: CURVE "
                         "needs the server's key file too (seqrecctl keygen)");
    return SR_OK;
}

void srd_config_print_help(FILE *f)
{
    for (size_t i = 0; i < SR_COUNTOF(srd_opts); i++) {
        const srd_opt *o = &srd_opts[i];
        char flag[64];
        size_t n = (size_t)snprintf(flag, sizeof flag, "--%s", o->key);
        for (size_t k = 2; k < n; k++)
            if (flag[k] == '_')
                flag[k] = '-';
        if (o->arg)
            snprintf(flag + n, sizeof flag - n, " %s", o->arg);
        fprintf(f, "  %-26s %s\n", flag, o->help);
        if (o->type == SRD_OPT_TYPE_INT)
            fprintf(f, "  %-26s (%lld..%lld, default %s; key %s)\n", "", (long long)o->min,
                    (long long)o->max, o->def, o->key);
        else
            fprintf(f, "  %-26s (default %s; key %s)\n", "", o->def[0] ? o->def : "none", o->key);
    }
}

/* One key's value as text (the form srd_config_set reads back). */
static void srd_config_format(const srd_config *c, const srd_opt *o, char *buf, size_t cap)
{
    const char *field = (const char *)c + o->offset;
    switch (o->type) {
    case SRD_OPT_TYPE_STR:
        snprintf(buf, cap, "%s", field);
        return;
    case SRD_OPT_TYPE_INT: {
        int64_t v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, cap, "%lld", (long long)v);
        return;
    }
    case SRD_OPT_TYPE_BOOL: {
        bool b;
        memcpy(&b, field, sizeof b);
        snprintf(buf, cap, "%s", b ? "yes" : "no");
        return;
    }
    case SRD_OPT_TYPE_LOGLEVEL: {
        sr_log_level l;
        memcpy(&l, field, sizeof l);
        snprintf(buf, cap, "%s", srd_log_level_name(l));
        return;
    }
    }
    snprintf(buf, cap, "?");
}

void srd_config_log(const srd_config *c)
{
    /* "key=value" pairs, as many per line as fit well within the logger's
     * 1 KiB lines (long paths push the rest onto further lines). */
    char line[900];
    size_t len = 0;
    for (size_t i = 0; i < SR_COUNTOF(srd_opts); i++) {
        char v[PATH_MAX], kv[PATH_MAX + 80];
        srd_config_format(c, &srd_opts[i], v, sizeof v);
        int n = snprintf(kv, sizeof kv, " %s=%s", srd_opts[i].key, v[0] ? v : "\"\"");
        if (n < 0)
            continue;
        if (len > 0 && len + (size_t)n >= sizeof line) {
            srd_info("config:%s", line);
            len = 0;
        }
        snprintf(line + len, sizeof line - len, "%s", kv);
        len += (size_t)n < sizeof line - len ? (size_t)n : sizeof line - 1 - len;
    }
    if (len > 0)
        srd_info("config:%s", line);
}

size_t srd_config_diff(const srd_config *a, const srd_config *b, srd_config_diff_fn fn, void *ud)
{
    size_t n = 0;
    for (size_t i = 0; i < SR_COUNTOF(srd_opts); i++) {
        char va[PATH_MAX], vb[PATH_MAX];
        srd_config_format(a, &srd_opts[i], va, sizeof va);
        srd_config_format(b, &srd_opts[i], vb, sizeof vb);
        if (strcmp(va, vb) == 0)
            continue;
        n++;
        if (fn)
            fn(ud, srd_opts[i].key, va, vb);
    }
    return n;
}

/* ---- the command line, kept for reloads ---------------------------------------- */

#define SRD_CMDLINE_MAX 256 /* settings on one command line */

typedef struct srd_cmdline_kv {
    char *key;
    char *value;
} srd_cmdline_kv;

/* Written by the main thread before any other thread starts; read by the
 * reload thread afterwards (pthread_create orders the two). */
static srd_cmdline_kv srd_cmdline[SRD_CMDLINE_MAX];
static size_t srd_cmdline_n;

sr_err srd_config_keep_cmdline(const char *key, const char *value)
{
    if (srd_cmdline_n >= SRD_CMDLINE_MAX)
        return sr_errorf(SR_ERR_LIMIT, "more than %d settings on the command line",
                         SRD_CMDLINE_MAX);
    if (!srd_opt_find(key))
        return sr_errorf(SR_ERR_ARG, "--%s: unknown key '%s'", key, key);
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return sr_errorf(SR_ERR_NOMEM, "command line: out of memory");
    }
    srd_cmdline[srd_cmdline_n].key = k;
    srd_cmdline[srd_cmdline_n].value = v;
    srd_cmdline_n++;
    return SR_OK;
}

void srd_config_forget_cmdline(void)
{
    for (size_t i = 0; i < srd_cmdline_n; i++) {
        free(srd_cmdline[i].key);
        free(srd_cmdline[i].value);
    }
    memset(srd_cmdline, 0, sizeof srd_cmdline);
    srd_cmdline_n = 0;
}

sr_err srd_config_reload(srd_config *c, const char *path)
{
    srd_config_default(c);
    sr_err e = path ? srd_config_load(c, path) : SR_OK;
    for (size_t i = 0; e == SR_OK && i < srd_cmdline_n; i++) {
        char where[80];
        snprintf(where, sizeof where, "--%s", srd_cmdline[i].key);
        for (char *p = where + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        e = srd_config_set(c, srd_cmdline[i].key, srd_cmdline[i].value, where);
    }
    if (e == SR_OK)
        e = srd_config_check(c);
    return e;
}
