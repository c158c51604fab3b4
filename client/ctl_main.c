/* ctl_main.c - seqrecctl: the command-line client of seqrecd.
 * Usage: seqrecctl(1), docs/daemon.md.
 *
 * Exit status: 0 ok, 1 the daemon answered with an error (or an unreadable
 * reply), 2 usage error, 3 no answer within the timeout.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl_conn.h"
#include "ctl_jobs.h"
#include "ctl_print.h"
#include "sr_proto.h"

#define CTL_VERSION SEQREC_VERSION /* from project(VERSION) in CMakeLists.txt */
#define CTL_DEFAULT_ENDPOINT "ipc:///run/seqrec/seqrecd.sock"
#define CTL_QUICK_TIMEOUT_S 10.0
#define CTL_EVALUATE_TIMEOUT_S 3600.0 /* an evaluation may take minutes */
#define CTL_RECOMMEND_TIMEOUT_S 60.0  /* the first request may load the model */
#define CTL_FOREVER (-1.0)
#define CTL_RETRIES 2 /* extra attempts for idempotent requests */

typedef struct ctl_opts {
    const char *endpoint;
    const char *curve_server_key; /* CURVE: the daemon's .pub file */
    const char *curve_key;        /* CURVE: this client's key file */
    bool json;
    double timeout_s; /* < 0: the command's default */
} ctl_opts;

/* What a command's parser fills in. */
typedef struct ctl_args {
    sr_proto_request req;
    char *owned;  /* heap memory the request points into (config or spec text, session lists) */
    bool wait;    /* train --wait, experiment run --wait */
    bool detail;  /* jobs JOB / models NAME: one object asked for */
    bool once;    /* this request of an idempotent command must not be retried
                   * (models save, models drop) */
    double timeout_s; /* > 0: this request's default timeout instead of the command's */
} ctl_args;

typedef struct ctl_cmd {
    const char *name;
    sr_proto_op op;
    const char *args;    /* usage line after the name */
    const char *summary;
    const char *help;    /* per-command option help */
    bool idempotent;     /* read-only: may be retried on a timeout */
    double timeout_s;    /* default timeout; CTL_FOREVER waits without limit */
    int (*parse)(int argc, char **argv, ctl_args *a);
    /* text form of the result; NULL: the generic printer */
    void (*print)(const ctl_args *a, const sr_mp_doc *doc, uint32_t result);
} ctl_cmd;

/* ---- argument helpers ----------------------------------------------------------- */

static int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int ctl_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("seqrecctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (try --help)\n", stderr);
    va_end(ap);
    return CTL_EXIT_USAGE;
}

static bool ctl_u64(const char *s, uint64_t min, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < min)
        return false;
    *out = v;
    return true;
}

static bool ctl_real(const char *s, double *out)
{
    char *end = NULL;
    if (!s || !*s)
        return false;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end != '\0' || v != v)
        return false;
    *out = v;
    return true;
}

static sr_pstr ctl_pstr(const char *s)
{
    sr_pstr p = { s, s ? (uint32_t)strlen(s) : 0 };
    return p;
}

/* Value of option argv[*i] ("--x V" or "--x=V"); NULL when missing. */
static const char *ctl_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (a[n] == '=')
        return a + n + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* Does argv[i] name option `name` (exactly, or as "name=...")? */
static bool ctl_is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

#define CTL_NEED_VALUE(name)                                                  \
    const char *v = ctl_value(argc, argv, &i, name);                          \
    if (!v)                                                                   \
        return ctl_usage_error("option %s needs a value", name)

/* ---- commands -------------------------------------------------------------------- */

static int ctl_parse_none(int argc, char **argv, ctl_args *a)
{
    (void)a;
    if (argc > 1)
        return ctl_usage_error("unexpected argument '%s'", argv[1]);
    return 0;
}

static int ctl_parse_stats(int argc, char **argv, ctl_args *a)
{
    if (argc != 2)
        return ctl_usage_error("%s: expected exactly one dataset NAME", argv[0]);
    a->req.u.name = ctl_pstr(argv[1]);
    return 0;
}

static int ctl_parse_synth(int argc, char **argv, ctl_args *a)
{
    sr_proto_synth *s = &a->req.u.synth;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (ctl_is(arg, "--out")) {
            CTL_NEED_VALUE("--out");
            s->out = ctl_pstr(v);
        } else if (ctl_is(arg, "--sessions")) {
            CTL_NEED_VALUE("--sessions");
            if (!ctl_u64(v, 1, &s->sessions))
                return ctl_usage_error("--sessions '%s': expected an integer >= 1", v);
        } else if (ctl_is(arg, "--tracks")) {
            CTL_NEED_VALUE("--tracks");
            if (!ctl_u64(v, 1, &s->tracks))
                return ctl_usage_error("--tracks '%s': expected an integer >= 1", v);
        } else if (ctl_is(arg, "--seed")) {
            CTL_NEED_VALUE("--seed");
            if (!ctl_u64(v, 0, &s->seed))
                return ctl_usage_error("--seed '%s': expected an integer >= 0", v);
            s->has_seed = true;
        } else if (ctl_is(arg, "--skips")) {
            CTL_NEED_VALUE("--skips");
            if (strcmp(v, "informative") != 0 && strcmp(v, "random") != 0)
                return ctl_usage_error("--skips '%s': expected informative or random", v);
            s->skips = ctl_pstr(v);
        } else {
            return ctl_usage_error("synth: unknown argument '%s'", arg);
        }
    }
    if (!s->out.len)
        return ctl_usage_error("synth: --out PATH is required");
    if (!s->sessions)
        return ctl_usage_error("synth: --sessions N is required");
    return 0;
}

/* Read a text file the daemon gets as text (an events config, an experiment
 * spec) locally, so that it need not be readable by the service user. At most
 * SR_PROTO_MAX_CONFIG bytes, not empty, no NUL byte (the wire refuses one).
 * `label` names the file in messages ("--config", "spec"). */
static int ctl_read_text(const char *label, const char *path, char **out, uint32_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "seqrecctl: %s %s: %s\n", label, path, strerror(errno));
        return CTL_EXIT_USAGE;
    }
    char *buf = malloc(SR_PROTO_MAX_CONFIG + 1);
    size_t n = buf ? fread(buf, 1, SR_PROTO_MAX_CONFIG + 1, f) : 0;
    bool bad = !buf || ferror(f);
    fclose(f);
    const char *nul = !bad && n > 0 && n <= SR_PROTO_MAX_CONFIG ? memchr(buf, '\0', n) : NULL;
    if (bad || n > SR_PROTO_MAX_CONFIG || n == 0 || nul) {
        fprintf(stderr, "seqrecctl: %s %s: %s\n", label, path,
                !buf ? "out of memory" : bad ? "read error"
                : n == 0 ? "empty file" : nul ? "holds a NUL byte (not a text file?)"
                : "larger than 64 KiB");
        free(buf);
        return CTL_EXIT_USAGE;
    }
    *out = buf;
    *len = (uint32_t)n;
    return 0;
}

static int ctl_parse_ingest(int argc, char **argv, ctl_args *a)
{
    sr_proto_ingest *g = &a->req.u.ingest;
    const char *config = NULL;
    g->only_with_skip = -1;
    g->max_reject_rate = g->valid_frac = g->test_frac = -1.0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (g->n_paths == SR_PROTO_MAX_PATHS)
                return ctl_usage_error("ingest: more than 64 paths (give a directory)");
            g->paths[g->n_paths++] = ctl_pstr(arg);
        } else if (ctl_is(arg, "--name")) {
            CTL_NEED_VALUE("--name");
            g->name = ctl_pstr(v);
        } else if (ctl_is(arg, "--format")) {
            CTL_NEED_VALUE("--format");
            if (strcmp(v, "mssd") != 0 && strcmp(v, "events") != 0)
                return ctl_usage_error("--format '%s': expected mssd or events", v);
            g->format = ctl_pstr(v);
        } else if (ctl_is(arg, "--config")) {
            CTL_NEED_VALUE("--config");
            config = v;
        } else if (ctl_is(arg, "--split")) {
            CTL_NEED_VALUE("--split");
            if (strcmp(v, "leave-last") != 0 && strcmp(v, "temporal") != 0)
                return ctl_usage_error("--split '%s': expected leave-last or temporal", v);
            g->split = ctl_pstr(v);
        } else if (ctl_is(arg, "--skip-rule")) {
            CTL_NEED_VALUE("--skip-rule");
            g->skip_rule = ctl_pstr(v);
        } else if (ctl_is(arg, "--min-session-len")) {
            CTL_NEED_VALUE("--min-session-len");
            if (!ctl_u64(v, 1, &g->min_session_len))
                return ctl_usage_error("--min-session-len '%s': expected an integer >= 1", v);
        } else if (ctl_is(arg, "--min-track-count")) {
            CTL_NEED_VALUE("--min-track-count");
            if (!ctl_u64(v, 1, &g->min_track_count))
                return ctl_usage_error("--min-track-count '%s': expected an integer >= 1", v);
        } else if (strcmp(arg, "--only-with-skip") == 0) {
            g->only_with_skip = 1;
        } else if (ctl_is(arg, "--max-reject-rate")) {
            CTL_NEED_VALUE("--max-reject-rate");
            if (!ctl_real(v, &g->max_reject_rate) || g->max_reject_rate < 0 ||
                g->max_reject_rate > 1)
                return ctl_usage_error("--max-reject-rate '%s': expected a number in [0, 1]", v);
        } else if (ctl_is(arg, "--valid-frac")) {
            CTL_NEED_VALUE("--valid-frac");
            if (!ctl_real(v, &g->valid_frac) || g->valid_frac < 0 || g->valid_frac >= 1)
                return ctl_usage_error("--valid-frac '%s': expected a number in [0, 1)", v);
        } else if (ctl_is(arg, "--test-frac")) {
            CTL_NEED_VALUE("--test-frac");
            if (!ctl_real(v, &g->test_frac) || g->test_frac < 0 || g->test_frac >= 1)
                return ctl_usage_error("--test-frac '%s': expected a number in [0, 1)", v);
        } else if (strcmp(arg, "--replace") == 0) {
            g->replace = true;
        } else {
            return ctl_usage_error("ingest: unknown option '%s'", arg);
        }
    }
    if (!g->name.len)
        return ctl_usage_error("ingest: --name NAME is required");
    if (!g->n_paths)
        return ctl_usage_error("ingest: at least one PATH is required");
    if (config) {
        uint32_t len = 0;
        int rc = ctl_read_text("--config", config, &a->owned, &len);
        if (rc)
            return rc;
        g->config.ptr = a->owned;
        g->config.len = len;
        if (!g->format.len)
            g->format = ctl_pstr("events"); /* a column mapping only makes sense for events */
    }
    return 0;
}

/* A value that must be one of `allowed` (NULL-terminated); `list` names them
 * for the message. */
static bool ctl_one_of(const char *v, const char *const *allowed)
{
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(v, allowed[i]) == 0)
            return true;
    return false;
}

static int ctl_parse_train(int argc, char **argv, ctl_args *a)
{
    static const char *const models[] = { "sasrec", "bert4rec", "pop", "sr", NULL };
    static const char *const presets[] = { "paper", "fast", NULL };
    sr_proto_train *t = &a->req.u.train;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-') {
            if (t->dataset.len)
                return ctl_usage_error("train: more than one DATASET ('%s')", arg);
            t->dataset = ctl_pstr(arg);
        } else if (ctl_is(arg, "--model")) {
            CTL_NEED_VALUE("--model");
            if (!ctl_one_of(v, models))
                return ctl_usage_error("--model '%s': expected sasrec, bert4rec, pop or sr", v);
            t->model = ctl_pstr(v);
        } else if (ctl_is(arg, "--preset")) {
            CTL_NEED_VALUE("--preset");
            if (!ctl_one_of(v, presets))
                return ctl_usage_error("--preset '%s': expected paper or fast", v);
            t->preset = ctl_pstr(v);
        } else if (ctl_is(arg, "--set")) {
            CTL_NEED_VALUE("--set");
            const char *eq = strchr(v, '=');
            if (!eq || eq == v)
                return ctl_usage_error("--set '%s': expected key=value", v);
            if (strlen(v) > SR_PROTO_MAX_SET_LEN)
                return ctl_usage_error("--set: '%.20s...' is longer than %u bytes", v,
                                       SR_PROTO_MAX_SET_LEN);
            if (t->n_set == SR_PROTO_MAX_SET)
                return ctl_usage_error("train: more than %u --set options", SR_PROTO_MAX_SET);
            t->set[t->n_set++] = ctl_pstr(v);
        } else if (ctl_is(arg, "--max-steps")) {
            CTL_NEED_VALUE("--max-steps");
            if (!ctl_u64(v, 1, &t->max_steps) || t->max_steps > SR_PROTO_MAX_COUNT)
                return ctl_usage_error("--max-steps '%s': expected an integer in [1, %llu]", v,
                                       SR_PROTO_MAX_COUNT);
        } else if (ctl_is(arg, "--epochs")) {
            CTL_NEED_VALUE("--epochs");
            if (!ctl_u64(v, 1, &t->epochs) || t->epochs > SR_PROTO_MAX_COUNT)
                return ctl_usage_error("--epochs '%s': expected an integer in [1, %llu]", v,
                                       SR_PROTO_MAX_COUNT);
        } else if (ctl_is(arg, "--seed")) {
            CTL_NEED_VALUE("--seed");
            if (!ctl_u64(v, 0, &t->seed))
                return ctl_usage_error("--seed '%s': expected an integer >= 0", v);
            t->has_seed = true;
        } else if (ctl_is(arg, "--name")) {
            CTL_NEED_VALUE("--name");
            t->name = ctl_pstr(v);
        } else if (strcmp(arg, "--wait") == 0) {
            a->wait = true;
        } else {
            return ctl_usage_error("train: unknown option '%s'", arg);
        }
    }
    if (!t->dataset.len)
        return ctl_usage_error("train: a DATASET is required");
    if (!t->model.len)
        return ctl_usage_error("train: --model sasrec|bert4rec|pop|sr is required");
    return 0;
}

/* A job id argument: an integer >= 1. */
static int ctl_job_arg(const char *cmd, const char *v, uint64_t *out)
{
    if (!ctl_u64(v, 1, out))
        return ctl_usage_error("%s: JOB '%s': expected a job number >= 1", cmd, v);
    return 0;
}

static int ctl_parse_jobs(int argc, char **argv, ctl_args *a)
{
    if (argc > 2)
        return ctl_usage_error("jobs: unexpected argument '%s'", argv[2]);
    if (argc == 2) {
        a->detail = true;
        return ctl_job_arg("jobs", argv[1], &a->req.u.jobs.job);
    }
    return 0;
}

static int ctl_parse_cancel(int argc, char **argv, ctl_args *a)
{
    if (argc != 2)
        return ctl_usage_error("cancel: expected exactly one JOB");
    return ctl_job_arg("cancel", argv[1], &a->req.u.cancel.job);
}

/* models [list] [NAME] | load NAME | save NAME AS [--replace] | default [NAME]
 * | drop NAME. A first word that is no action is a NAME ("models NAME", the
 * form before actions existed); a model called "load" is "models list load". */
/* datasets [list] | datasets drop NAME */
static int ctl_parse_datasets(int argc, char **argv, ctl_args *a)
{
    sr_proto_datasets *d = &a->req.u.datasets;
    if (argc <= 1 || strcmp(argv[1], "list") == 0) {
        if (argc > 2)
            return ctl_usage_error("datasets list: unexpected argument '%s'", argv[2]);
        return 0;
    }
    if (strcmp(argv[1], "drop") != 0)
        return ctl_usage_error("datasets: unknown action '%s' (list or drop)", argv[1]);
    if (argc != 3 || argv[2][0] == '-')
        return ctl_usage_error("datasets drop: expected one dataset NAME");
    d->action = SR_PROTO_DATASETS_DROP;
    d->name = ctl_pstr(argv[2]);
    a->once = true; /* a resent drop would answer 404 */
    return 0;
}

static int ctl_parse_models(int argc, char **argv, ctl_args *a)
{
    static const char *const actions[] = { "list", "load", "save", "default", "drop", NULL };
    static const sr_proto_models_action codes[] = { SR_PROTO_MODELS_LIST, SR_PROTO_MODELS_LOAD,
                                                    SR_PROTO_MODELS_SAVE, SR_PROTO_MODELS_DEFAULT,
                                                    SR_PROTO_MODELS_DROP };
    sr_proto_models *m = &a->req.u.models;
    const char *words[3];
    int n_words = 0, first = 1;
    const char *act = "list";
    if (argc > 1) {
        for (int k = 0; actions[k]; k++) {
            if (strcmp(argv[1], actions[k]) == 0) {
                m->action = codes[k];
                act = actions[k];
                first = 2;
            }
        }
    }
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--replace") == 0 && m->action == SR_PROTO_MODELS_SAVE)
            m->replace = true;
        else if (argv[i][0] == '-')
            return ctl_usage_error("models %s: unknown option '%s'", act, argv[i]);
        else if (n_words == 2)
            return ctl_usage_error("models %s: unexpected argument '%s'", act, argv[i]);
        else
            words[n_words++] = argv[i];
    }
    /* NAME (and AS) as each action wants them */
    int need = m->action == SR_PROTO_MODELS_SAVE ? 2
               : m->action == SR_PROTO_MODELS_LOAD || m->action == SR_PROTO_MODELS_DROP ? 1 : 0;
    int most = m->action == SR_PROTO_MODELS_SAVE ? 2 : 1;
    if (n_words > most)
        return ctl_usage_error("models %s: unexpected argument '%s'", act, words[most]);
    if (n_words < need && need == 2)
        return ctl_usage_error("models save: expected NAME AS (the model and the new name)");
    if (n_words < need)
        return ctl_usage_error("models %s: a model NAME is required", act);
    if (n_words > 0)
        m->name = ctl_pstr(words[0]);
    if (n_words > 1)
        m->as = ctl_pstr(words[1]);
    a->detail = m->action == SR_PROTO_MODELS_LIST && n_words == 1;
    /* a save or drop sent twice would answer 409 / 404 the second time:
     * never retried; load and save may read or write a large file */
    a->once = m->action == SR_PROTO_MODELS_SAVE || m->action == SR_PROTO_MODELS_DROP;
    if (m->action == SR_PROTO_MODELS_LOAD || m->action == SR_PROTO_MODELS_SAVE)
        a->timeout_s = CTL_RECOMMEND_TIMEOUT_S;
    return 0;
}

static int ctl_parse_evaluate(int argc, char **argv, ctl_args *a)
{
    static const char *const splits[] = { "test", "validation", NULL };
    static const char *const protocols[] = { "full", "sampled", NULL };
    static const char *const excludes[] = { "none", "played", "skipped", NULL };
    sr_proto_evaluate *e = &a->req.u.evaluate;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-') {
            if (e->model.len)
                return ctl_usage_error("evaluate: more than one MODEL ('%s')", arg);
            e->model = ctl_pstr(arg);
        } else if (ctl_is(arg, "--dataset")) {
            CTL_NEED_VALUE("--dataset");
            e->dataset = ctl_pstr(v);
        } else if (ctl_is(arg, "--split")) {
            CTL_NEED_VALUE("--split");
            if (!ctl_one_of(v, splits))
                return ctl_usage_error("--split '%s': expected test or validation", v);
            e->split = ctl_pstr(v);
        } else if (ctl_is(arg, "--protocol")) {
            CTL_NEED_VALUE("--protocol");
            if (!ctl_one_of(v, protocols))
                return ctl_usage_error("--protocol '%s': expected full or sampled", v);
            e->protocol = ctl_pstr(v);
        } else if (ctl_is(arg, "--exclude")) {
            CTL_NEED_VALUE("--exclude");
            if (!ctl_one_of(v, excludes))
                return ctl_usage_error("--exclude '%s': expected none, played or skipped", v);
            e->exclude = ctl_pstr(v);
        } else if (ctl_is(arg, "--max-queries")) {
            CTL_NEED_VALUE("--max-queries");
            if (!ctl_u64(v, 1, &e->max_queries) || e->max_queries > SR_PROTO_MAX_COUNT)
                return ctl_usage_error("--max-queries '%s': expected an integer in [1, %llu]", v,
                                       SR_PROTO_MAX_COUNT);
        } else {
            return ctl_usage_error("evaluate: unknown option '%s'", arg);
        }
    }
    if (!e->model.len)
        return ctl_usage_error("evaluate: a MODEL is required");
    return 0;
}

/* Does id[len] end with the skip marker `m`? */
static bool ctl_ends_with(const char *id, size_t len, const char *m)
{
    size_t n = strlen(m);
    return len >= n && memcmp(id + len - n, m, n) == 0;
}

/* Plays in a session string: 0 when it is blank, else one more than its
 * commas. */
static size_t ctl_session_plays(const char *s)
{
    size_t n = 0;
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p) {
        n = 1;
        for (const char *q = s; *q; q++)
            n += *q == ',';
    }
    return n;
}

/* One session "t_a,t_b:skip,t_c": comma-separated track ids in play order; a
 * trailing ":skip" (or ":s") marks a skipped play. Spaces around an id are
 * ignored; a blank string is an empty session. ids[] and skipped[] have room
 * for ctl_session_plays(s) plays; the ids point into s. `where` names the
 * session in messages ("--session", "--sessions FILE line 3"). */
static int ctl_parse_session(const char *s, const char *where, sr_pstr *ids, bool *skipped,
                             sr_proto_session *out)
{
    size_t n = ctl_session_plays(s);
    bool any_skip = false;
    const char *p = s;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        size_t len = (size_t)(e - b);
        skipped[i] = false;
        if (ctl_ends_with(b, len, ":skip")) {
            len -= 5;
            skipped[i] = true;
        } else if (ctl_ends_with(b, len, ":s")) {
            len -= 2;
            skipped[i] = true;
        }
        if (len == 0)
            return ctl_usage_error("%s: play %zu has an empty track id", where, i + 1);
        if (len > SR_PROTO_MAX_TRACK_ID)
            return ctl_usage_error("%s: play %zu: track id longer than %u bytes", where, i + 1,
                                   SR_PROTO_MAX_TRACK_ID);
        ids[i].ptr = b;
        ids[i].len = (uint32_t)len;
        any_skip |= skipped[i];
        p = *end ? end + 1 : end;
    }
    out->tracks.n = (uint32_t)n;
    out->tracks.items = n ? ids : NULL;
    /* no skip marked: leave "skipped" out (absent means no play was skipped) */
    if (any_skip) {
        out->has_skipped = true;
        out->skipped.n = (uint32_t)n;
        out->skipped.items = skipped;
    }
    return 0;
}

/* --session S: the ids stay in argv; the lists go in one allocation owned
 * by *a. */
static int ctl_parse_one_session(const char *s, ctl_args *a)
{
    sr_proto_recommend *r = &a->req.u.recommend;
    size_t n = ctl_session_plays(s);
    if (n > SR_PROTO_MAX_SESSION_PLAYS)
        return ctl_usage_error("--session: %zu plays, at most %u", n, SR_PROTO_MAX_SESSION_PLAYS);
    if (n > 0) {
        a->owned = malloc(n * (sizeof(sr_pstr) + sizeof(bool)));
        if (!a->owned) {
            fprintf(stderr, "seqrecctl: out of memory for a session of %zu plays\n", n);
            return CTL_EXIT_USAGE;
        }
    }
    sr_pstr *ids = n ? (sr_pstr *)(void *)a->owned : NULL;
    r->n_sessions = 1;
    return ctl_parse_session(s, "--session", ids, n ? (bool *)(void *)(ids + n) : NULL,
                             &r->sessions[0]);
}

/* A --sessions file larger than this is refused before it is sent: far more
 * than any daemon's max_msg_bytes lets through (1 MiB by default). */
#define CTL_MAX_SESSIONS_FILE (256u << 20)

/* Is the line blank or a '#' comment? */
static bool ctl_line_skipped(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p == end || *p == '#';
}

/* --sessions FILE ('-': standard input): one session per line in the
 * --session syntax; blank lines and '#' comments are skipped. The file text,
 * then every session's id and skip lists, live in one allocation owned by
 * *a (the ids point into the text). */
static int ctl_parse_sessions_file(const char *path, ctl_args *a)
{
    sr_proto_recommend *r = &a->req.u.recommend;
    bool std_in = strcmp(path, "-") == 0;
    const char *label = std_in ? "standard input" : path;
    FILE *f = std_in ? stdin : fopen(path, "rb");
    char *buf = NULL, where[320];
    size_t len = 0, cap = 0;
    int rc = CTL_EXIT_USAGE;
    if (!f) {
        fprintf(stderr, "seqrecctl: --sessions %s: %s\n", path, strerror(errno));
        return CTL_EXIT_USAGE;
    }
    /* read it all: the buffer grows with the bytes actually read */
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            if (ncap > CTL_MAX_SESSIONS_FILE + 1)
                ncap = CTL_MAX_SESSIONS_FILE + 1;
            if (len == ncap) {
                fprintf(stderr, "seqrecctl: --sessions %s: larger than %u MiB\n", label,
                        CTL_MAX_SESSIONS_FILE >> 20);
                goto done;
            }
            char *nb = realloc(buf, ncap);
            if (!nb) {
                fprintf(stderr, "seqrecctl: --sessions %s: out of memory\n", label);
                goto done;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "seqrecctl: --sessions %s: read error\n", label);
        goto done;
    }
    if (len > 0 && memchr(buf, '\0', len)) {
        fprintf(stderr, "seqrecctl: --sessions %s: holds a NUL byte (not a text file?)\n", label);
        goto done;
    }

    /* pass 1: count sessions and plays, so the lists are sized before
     * anything is parsed */
    size_t n_sessions = 0, n_plays = 0, line = 0;
    for (size_t at = 0; at < len; line++) {
        char *nl = memchr(buf + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (!ctl_line_skipped(buf + at, buf + end)) {
            n_sessions++;
            size_t plays = 1;
            for (size_t k = at; k < end; k++)
                plays += buf[k] == ',';
            if (plays > SR_PROTO_MAX_SESSION_PLAYS) {
                rc = ctl_usage_error("--sessions %s line %zu: %zu plays, at most %u", label,
                                     line + 1, plays, SR_PROTO_MAX_SESSION_PLAYS);
                goto done;
            }
            n_plays += plays;
        }
        at = end + 1;
    }
    if (n_sessions == 0) {
        rc = ctl_usage_error("--sessions %s: no session (one per line)", label);
        goto done;
    }
    if (n_sessions > SR_PROTO_MAX_BATCH) {
        rc = ctl_usage_error("--sessions %s: %zu sessions, at most %u per request", label,
                             n_sessions, SR_PROTO_MAX_BATCH);
        goto done;
    }

    /* the lists go after the text (plus its NUL), sr_pstr-aligned */
    size_t off = (len + 1 + _Alignof(sr_pstr) - 1) / _Alignof(sr_pstr) * _Alignof(sr_pstr);
    char *nb = realloc(buf, off + n_plays * (sizeof(sr_pstr) + sizeof(bool)));
    if (!nb) {
        fprintf(stderr, "seqrecctl: --sessions %s: out of memory for %zu plays\n", label, n_plays);
        goto done;
    }
    buf = nb;
    buf[len] = '\0';
    sr_pstr *ids = (sr_pstr *)(void *)(buf + off);
    bool *skipped = (bool *)(void *)(ids + n_plays);

    /* pass 2: cut the lines in place and parse each one */
    size_t s = 0, used = 0;
    line = 0;
    for (size_t at = 0; at < len; line++) {
        char *nl = memchr(buf + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - buf) : len;
        buf[end] = '\0';
        if (end > at && buf[end - 1] == '\r')
            buf[end - 1] = '\0'; /* CRLF files */
        if (!ctl_line_skipped(buf + at, buf + end)) {
            snprintf(where, sizeof where, "--sessions %s line %zu", label, line + 1);
            if ((rc = ctl_parse_session(buf + at, where, ids + used, skipped + used,
                                        &r->sessions[s])) != 0)
                goto done;
            used += r->sessions[s].tracks.n;
            s++;
        }
        at = end + 1;
    }
    r->n_sessions = (uint32_t)n_sessions;
    r->batch = true;
    a->owned = buf;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    if (!std_in)
        fclose(f);
    return rc;
}

/* recommend [MODEL] (--session S | --sessions FILE) [--model NAME] [-k N]
 * [--exclude E]; without a model the daemon's default one answers. */
static int ctl_parse_recommend(int argc, char **argv, ctl_args *a)
{
    static const char *const excludes[] = { "skipped", "played", "none", NULL };
    sr_proto_recommend *r = &a->req.u.recommend;
    const char *session = NULL, *sessions = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || ctl_is(arg, "--model")) {
            const char *v = arg;
            if (arg[0] == '-') {
                v = ctl_value(argc, argv, &i, "--model");
                if (!v)
                    return ctl_usage_error("option --model needs a value");
            }
            if (r->model.len)
                return ctl_usage_error("recommend: more than one MODEL ('%s')", v);
            if (!*v)
                return ctl_usage_error("recommend: empty MODEL (leave it out for the default)");
            r->model = ctl_pstr(v);
        } else if (ctl_is(arg, "--session")) {
            CTL_NEED_VALUE("--session");
            session = v;
        } else if (ctl_is(arg, "--sessions")) {
            CTL_NEED_VALUE("--sessions");
            sessions = v;
        } else if (ctl_is(arg, "-k") || ctl_is(arg, "--k")) {
            const char *name = arg[1] == 'k' ? "-k" : "--k";
            CTL_NEED_VALUE(name);
            if (!ctl_u64(v, 1, &r->k) || r->k > SR_PROTO_MAX_K)
                return ctl_usage_error("-k '%s': expected an integer in [1, %u]", v,
                                       SR_PROTO_MAX_K);
        } else if (ctl_is(arg, "--exclude")) {
            CTL_NEED_VALUE("--exclude");
            if (!ctl_one_of(v, excludes))
                return ctl_usage_error("--exclude '%s': expected skipped, played or none", v);
            r->exclude = ctl_pstr(v);
        } else {
            return ctl_usage_error("recommend: unknown option '%s'", arg);
        }
    }
    if (session && sessions)
        return ctl_usage_error("recommend: give --session or --sessions, not both");
    if (sessions)
        return ctl_parse_sessions_file(sessions, a);
    if (!session)
        return ctl_usage_error("recommend: --session \"ID,ID:skip,...\" or --sessions FILE is "
                               "required");
    return ctl_parse_one_session(session, a);
}

/* experiment run SPEC_FILE --out DIR [--dataset NAME] [--name NAME] [--wait] */
static int ctl_parse_experiment(int argc, char **argv, ctl_args *a)
{
    sr_proto_experiment *x = &a->req.u.experiment;
    const char *spec = NULL;
    if (argc < 2)
        return ctl_usage_error("experiment: expected 'run SPEC_FILE --out DIR'");
    if (strcmp(argv[1], "run") != 0)
        return ctl_usage_error("experiment: unknown subcommand '%s' (expected run)", argv[1]);
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-') {
            if (spec)
                return ctl_usage_error("experiment run: more than one SPEC_FILE ('%s')", arg);
            spec = arg;
        } else if (ctl_is(arg, "--out")) {
            CTL_NEED_VALUE("--out");
            x->out = ctl_pstr(v);
        } else if (ctl_is(arg, "--dataset")) {
            CTL_NEED_VALUE("--dataset");
            x->dataset = ctl_pstr(v);
        } else if (ctl_is(arg, "--name")) {
            CTL_NEED_VALUE("--name");
            x->name = ctl_pstr(v);
        } else if (strcmp(arg, "--wait") == 0) {
            a->wait = true;
        } else {
            return ctl_usage_error("experiment run: unknown option '%s'", arg);
        }
    }
    if (!spec)
        return ctl_usage_error("experiment run: a SPEC_FILE is required");
    if (!x->out.len)
        return ctl_usage_error("experiment run: --out DIR is required");
    uint32_t len = 0;
    int rc = ctl_read_text("spec", spec, &a->owned, &len);
    if (rc)
        return rc;
    x->spec.ptr = a->owned;
    x->spec.len = len;
    return 0;
}

/* ---- text forms ---------------------------------------------------------------------- */

static void ctl_show_evaluate(const ctl_args *a, const sr_mp_doc *doc, uint32_t result)
{
    (void)a;
    ctl_print_evaluate(stdout, doc, result);
}

static void ctl_show_recommend(const ctl_args *a, const sr_mp_doc *doc, uint32_t result)
{
    (void)a;
    fflush(stdout);
    ctl_print_recommend(stdout, stderr, doc, result);
}

static void ctl_show_jobs(const ctl_args *a, const sr_mp_doc *doc, uint32_t result)
{
    ctl_print_jobs(stdout, doc, result, a->detail);
}

/* Text of a str member, or NULL when absent, nil or not a str. */
static const char *ctl_show_str(const sr_mp_doc *doc, uint32_t map, const char *key, char *buf,
                                size_t cap)
{
    sr_pstr s;
    if (!ctl_get_str(doc, map, key, &s))
        return NULL;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(buf, s.ptr, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) /* daemon text must not drive the terminal */
        if ((buf[i] >= 0 && buf[i] < 0x20) || buf[i] == 0x7f)
            buf[i] = '?';
    return buf;
}

/* models: the list (ctl_print_models), or one line saying what an action
 * did; a reply of another shape is printed as it came. */
static void ctl_show_models(const ctl_args *a, const sr_mp_doc *doc, uint32_t result)
{
    char x[128], y[128];
    const char *model = ctl_show_str(doc, result, "model", x, sizeof x);
    switch (a->req.u.models.action) {
    case SR_PROTO_MODELS_LIST:
        ctl_print_models(stdout, doc, result, a->detail);
        return;
    case SR_PROTO_MODELS_LOAD: {
        const char *kind = ctl_show_str(doc, result, "kind", y, sizeof y);
        uint64_t tracks;
        double sec;
        if (!model)
            break;
        printf("loaded %s", model);
        if (kind && ctl_get_u64(doc, result, "tracks", &tracks))
            printf(" (%s, %llu tracks)", kind, (unsigned long long)tracks);
        if (ctl_get_f64(doc, result, "seconds", &sec))
            printf(" in %.2f s", sec);
        putchar('\n');
        return;
    }
    case SR_PROTO_MODELS_SAVE: {
        const char *from = ctl_show_str(doc, result, "from", y, sizeof y);
        if (!model || !from)
            break;
        printf("saved %s as %s\n", from, model);
        return;
    }
    case SR_PROTO_MODELS_DEFAULT: {
        const sr_mp_node *d = sr_mp_map_get(doc, result, "default");
        if (d && d->type == SR_MP_TYPE_NIL) {
            printf("no default model\n");
            return;
        }
        if (!ctl_show_str(doc, result, "default", y, sizeof y))
            break;
        printf("default model: %s\n", y);
        return;
    }
    case SR_PROTO_MODELS_DROP:
        if (!ctl_show_str(doc, result, "dropped", y, sizeof y))
            break;
        printf("dropped %s", y);
        const sr_mp_node *w = sr_mp_map_get(doc, result, "was_default");
        if (w && w->type == SR_MP_TYPE_BOOL && w->v.b)
            printf(" (it was the default model: there is none now)");
        putchar('\n');
        return;
    }
    ctl_print_text(stdout, doc, result);
}

static void ctl_show_shutdown(const ctl_args *a, const sr_mp_doc *doc, uint32_t result)
{
    (void)a, (void)doc, (void)result;
    printf("seqrecd is stopping\n");
}

static const ctl_cmd ctl_cmds[] = {
    { "status", SR_PROTO_OP_STATUS, "", "show the daemon's state", "", true, CTL_QUICK_TIMEOUT_S,
      ctl_parse_none, NULL },
    { "synth", SR_PROTO_OP_SYNTH,
      "--out PATH --sessions N [--tracks M] [--seed S] [--skips informative|random]",
      "write a synthetic MSSD-format log under the data root",
      "  --out PATH        output file, relative to the daemon's data root (.gz: gzip)\n"
      "  --sessions N      number of sessions (>= 1)\n"
      "  --tracks M        catalogue size (default 20000)\n"
      "  --seed S          random seed (default 42)\n"
      "  --skips MODE      informative (skips depend on the track; default) or random\n"
      "                    (same rates, independent of the track: the control)\n",
      false, CTL_FOREVER, ctl_parse_synth, NULL },
    { "ingest", SR_PROTO_OP_INGEST,
      "PATH... --name NAME [--format mssd|events] [--config FILE] [--split leave-last|temporal]\n"
      "                 [--skip-rule R] [--min-session-len N] [--min-track-count N] [--only-with-skip]\n"
      "                 [--max-reject-rate X] [--valid-frac X] [--test-frac X] [--replace]",
      "turn listening logs into a dataset",
      "  PATH...              files or directories (their *.csv[.gz], *.tsv[.gz]), relative\n"
      "                       to the daemon's data root or absolute inside it\n"
      "  --name NAME          dataset name: 1-63 of [A-Za-z0-9._-], not starting with '.'\n"
      "  --format F           mssd (default) or events (generic logs; needs --config)\n"
      "  --config FILE        events column mapping (INI; read here, sent as text);\n"
      "                       implies --format events\n"
      "  --split S            leave-last (default; every session in train/valid/test)\n"
      "                       or temporal (whole sessions by start time)\n"
      "  --skip-rule R        MSSD: skip_1, skip_2 (default, the paper's), skip_3, not_skipped\n"
      "  --min-session-len N  drop shorter sessions (default 2)\n"
      "  --min-track-count N  drop plays of tracks seen fewer than N times (default 1)\n"
      "  --only-with-skip     keep only sessions with at least one skip (the paper's filter)\n"
      "  --max-reject-rate X  fail when more than this fraction of rows is malformed (0.01)\n"
      "  --valid-frac X       temporal split: fraction of sessions for validation (0.1)\n"
      "  --test-frac X        temporal split: fraction of sessions for test (0.1)\n"
      "  --replace            overwrite an existing dataset of that name\n",
      false, CTL_FOREVER, ctl_parse_ingest, NULL },
    { "stats", SR_PROTO_OP_STATS, "NAME", "show a dataset's metadata and statistics", "", true,
      CTL_QUICK_TIMEOUT_S, ctl_parse_stats, NULL },
    { "datasets", SR_PROTO_OP_DATASETS, "[list] | datasets drop NAME",
      "list datasets with their sizes, or delete one",
      "  list              the datasets with their sessions, plays and tracks (default)\n"
      "  drop NAME         delete dataset NAME (refused while an ingest writes it or a\n"
      "                    job trains on it); models trained on it can no longer load\n",
      true, CTL_QUICK_TIMEOUT_S, ctl_parse_datasets, NULL },
    { "train", SR_PROTO_OP_TRAIN,
      "DATASET --model sasrec|bert4rec|pop|sr [--preset paper|fast] [--set KEY=VALUE]...\n"
      "                 [--max-steps N] [--epochs E] [--seed S] [--name MODEL] [--wait]",
      "start a training job; prints its job number and the model name",
      "  DATASET           the dataset to train on (see 'datasets')\n"
      "  --model KIND      sasrec or bert4rec (transformers; --set lambda=X weighs the\n"
      "                    skip-contrastive term, 0 = off), pop (most popular) or sr\n"
      "                    (sequential rules)\n"
      "  --preset P        fast (the daemon's default) or paper (the authors' settings)\n"
      "  --set KEY=VALUE   override one training setting (dim, layers, lr, lambda, ...);\n"
      "                    repeatable, applied in order after the preset\n"
      "  --max-steps N     stop after N optimiser steps\n"
      "  --epochs E        number of epochs\n"
      "  --seed S          random seed\n"
      "  --name MODEL      name of the model to create (default chosen by the daemon)\n"
      "  --wait            follow the job until it ends: progress on stderr (polled\n"
      "                    every second), then the final job (with --json: the job\n"
      "                    object, whose \"model\" names the trained model). Exit 0 when\n"
      "                    it is done, 1 when it failed or was cancelled. Interrupting\n"
      "                    seqrecctl does not stop the job (use 'cancel').\n",
      false, CTL_QUICK_TIMEOUT_S, ctl_parse_train, NULL },
    { "jobs", SR_PROTO_OP_JOBS, "[JOB]", "list jobs with their state and progress, or show one",
      "  JOB               a job number: every member of that job\n", true, CTL_QUICK_TIMEOUT_S,
      ctl_parse_jobs, ctl_show_jobs },
    { "cancel", SR_PROTO_OP_CANCEL, "JOB", "cancel a queued or running job", "", false,
      CTL_QUICK_TIMEOUT_S, ctl_parse_cancel, NULL },
    { "evaluate", SR_PROTO_OP_EVALUATE,
      "MODEL [--dataset NAME] [--split test|validation] [--protocol full|sampled]\n"
      "                 [--exclude none|played|skipped] [--max-queries N]",
      "evaluate a model: HR, NDCG and MRR at 1, 5, 10, 20 (all, listened, skipped)",
      "  MODEL             a trained model (see 'models')\n"
      "  --dataset NAME    evaluate on another dataset (default: the model's own)\n"
      "  --split S         test (default) or validation\n"
      "  --protocol P      full (rank against every track; default) or sampled (the\n"
      "                    authors' sampled-negatives protocol, for comparison only)\n"
      "  --exclude E       tracks removed from the ranking: none, played or skipped\n"
      "  --max-queries N   evaluate at most N queries\n"
      "Not retried on a timeout; waits up to 3600 s unless --timeout is given.\n",
      false, CTL_EVALUATE_TIMEOUT_S, ctl_parse_evaluate, ctl_show_evaluate },
    { "recommend", SR_PROTO_OP_RECOMMEND,
      "[MODEL] (--session \"ID,ID:skip,...\" | --sessions FILE) [-k N]\n"
      "                 [--exclude skipped|played|none]",
      "recommend the next tracks for a listening session, or for many",
      "  MODEL             a trained model (see 'models'); also --model NAME. Left out:\n"
      "                    the daemon's default model ('models default')\n"
      "  --session S       the session's track ids in play order, comma-separated; a\n"
      "                    trailing \":skip\" (or \":s\") marks a skipped play\n"
      "                    (\"t_a,t_b:skip,t_c\"); \"\" is an empty session\n"
      "  --sessions FILE   many sessions in one request: one per line of FILE ('-':\n"
      "                    standard input) in the --session syntax; blank lines and\n"
      "                    lines starting with '#' are skipped; at most 1000 sessions\n"
      "                    (the daemon may allow fewer: its max_sessions)\n"
      "  -k N              number of tracks (1-1000, default 10)\n"
      "  --exclude E       skipped (default: tracks skipped in the session), played\n"
      "                    (every track of the session) or none\n"
      "With --sessions the results print as one block per session (\"session 1:\", ...).\n"
      "Warnings (unknown tracks...) go to stderr. With no known track the daemon\n"
      "falls back to popularity and says so.\n",
      true, CTL_RECOMMEND_TIMEOUT_S, ctl_parse_recommend, ctl_show_recommend },
    { "models", SR_PROTO_OP_MODELS,
      "[list] [NAME]\n"
      "       seqrecctl [OPTIONS] models load NAME | save NAME AS [--replace]\n"
      "       seqrecctl [OPTIONS] models default [NAME] | drop NAME",
      "list trained models or show one; load, copy, drop one; set the default",
      "  list [NAME]       the models ('*' marks the default one); with NAME, every\n"
      "                    member of that model and its resolved config\n"
      "  load NAME         load a model into the daemon's memory now (not at the first\n"
      "                    recommend); prints its kind, catalogue size and load time\n"
      "  save NAME AS      copy model NAME under the new name AS (a snapshot: a model\n"
      "                    still training keeps changing, the copy does not)\n"
      "    --replace       overwrite an existing model AS\n"
      "  default [NAME]    make NAME the model recommend uses when given none; without\n"
      "                    NAME, show the default\n"
      "  drop NAME         delete a model (its file and its copy in memory)\n"
      "save and drop are never retried on a timeout; load and save wait up to 60 s.\n",
      true, CTL_QUICK_TIMEOUT_S, ctl_parse_models, ctl_show_models },
    { "experiment", SR_PROTO_OP_EXPERIMENT,
      "run SPEC_FILE --out DIR [--dataset NAME] [--name NAME] [--wait]",
      "start an experiment job: a spec's configurations x seeds, then a report",
      "  SPEC_FILE         the experiment spec (INI: [experiment] with seeds, dataset...,\n"
      "                    one [config NAME] per configuration; see docs/experiments.md);\n"
      "                    read here and sent as text, at most 64 KiB\n"
      "  --out DIR         output directory, relative to the daemon's data root: results.csv,\n"
      "                    runs/, summary.csv, REPORT.md, figures/. Runs already finished\n"
      "                    there are reused, so running the same spec again resumes it\n"
      "  --dataset NAME    the dataset to use (overrides the spec's)\n"
      "  --name NAME       the experiment's name (default chosen by the daemon)\n"
      "  --wait            follow the job until it ends: progress on stderr (\"run 3/20\n"
      "                    (sasrec+skip seed 3)\", ETA, the current run's step), then the\n"
      "                    final job (with --json: the job object). Exit 0 when it is\n"
      "                    done, 1 when it failed or was cancelled. Interrupting seqrecctl\n"
      "                    does not stop the job (use 'cancel').\n"
      "Prints the job number, the experiment's name and its output directory; follow\n"
      "it with 'jobs JOB' (the step column shows run N/M).\n",
      false, CTL_QUICK_TIMEOUT_S, ctl_parse_experiment, NULL },
    { "shutdown", SR_PROTO_OP_SHUTDOWN, "", "ask the daemon to stop (running jobs are cancelled)",
      "", false, CTL_QUICK_TIMEOUT_S, ctl_parse_none, ctl_show_shutdown },
};

static void ctl_usage(FILE *f)
{
    fprintf(f,
            "usage: seqrecctl [--endpoint E] [--json] [--timeout SEC]\n"
            "                 [--curve-server-key FILE --curve-key FILE] COMMAND [ARGS...]\n"
            "       seqrecctl keygen [--force] FILE\n"
            "       seqrecctl COMMAND --help | --help | --version\n"
            "\n"
            "Client of the seqrec daemon (seqrecd).\n"
            "  --endpoint E   daemon endpoint (default $SEQREC_ENDPOINT, else %s)\n"
            "  --curve-server-key FILE  talk CURVE (encrypted, authenticated) to a daemon\n"
            "                 with curve_secret_key: FILE holds its public key (its .pub;\n"
            "                 default $SEQREC_CURVE_SERVER_KEY)\n"
            "  --curve-key FILE  this client's key pair for CURVE (from keygen; mode 0600;\n"
            "                 default $SEQREC_CURVE_KEY); its .pub must be in the daemon's\n"
            "                 curve_clients, or the command fails with \"authentication\n"
            "                 refused\" (exit 3)\n"
            "  --json         print the reply's result as JSON\n"
            "  --timeout SEC  give up after SEC seconds (per request). Defaults: %.0f s for\n"
            "                 quick commands, %.0f s for recommend, %.0f s for evaluate;\n"
            "                 synth and ingest wait without limit. status, stats, datasets,\n"
            "                 jobs, models (not models save, drop) and recommend are\n"
            "                 retried %d times on a fresh socket after a timeout; the\n"
            "                 others are never sent twice.\n"
            "\n"
            "Commands:\n",
            CTL_DEFAULT_ENDPOINT, CTL_QUICK_TIMEOUT_S, CTL_RECOMMEND_TIMEOUT_S,
            CTL_EVALUATE_TIMEOUT_S, CTL_RETRIES);
    for (size_t i = 0; i < sizeof ctl_cmds / sizeof ctl_cmds[0]; i++)
        fprintf(f, "  %-11s %s\n", ctl_cmds[i].name, ctl_cmds[i].summary);
    fprintf(f, "  %-11s %s\n", "keygen",
            "write a new CURVE key pair to FILE (0600) and its public key to FILE.pub");
    fprintf(f, "\nExit status: 0 ok, 1 error reply (or, with --wait, a job that failed or was\n"
               "cancelled), 2 usage error, 3 no answer (or CURVE refused).\n");
}

static void ctl_cmd_usage(FILE *f, const ctl_cmd *c)
{
    fprintf(f, "usage: seqrecctl [OPTIONS] %s %s\n\n%s.\n", c->name, c->args, c->summary);
    if (c->help[0])
        fprintf(f, "\n%s", c->help);
}

/* ---- main -------------------------------------------------------------------------- */

static int ctl_print_result(const ctl_opts *o, const ctl_cmd *cmd, const ctl_args *a,
                            const ctl_reply *rep)
{
    int rc = CTL_EXIT_OK;
    if (o->json) {
        json_t *j = ctl_print_json(&rep->doc, rep->result);
        char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (!s) {
            fprintf(stderr, "seqrecctl: out of memory writing JSON\n");
            rc = CTL_EXIT_ERROR;
        } else {
            printf("%s\n", s);
        }
        free(s);
        json_decref(j);
    } else if (cmd->print) {
        cmd->print(a, &rep->doc, rep->result);
    } else {
        ctl_print_text(stdout, &rep->doc, rep->result);
    }
    return rc;
}

/* train --wait, experiment run --wait: say which job it is (on stderr, so
 * that stdout holds only the final job), then follow it. */
static int ctl_follow_job(const ctl_opts *o, const ctl_cmd *cmd, const ctl_reply *rep,
                          int timeout_ms)
{
    uint64_t job = 0;
    sr_pstr name = { "?", 1 }, out = { "?", 1 };
    if (!ctl_get_u64(&rep->doc, rep->result, "job", &job) || job == 0) {
        fprintf(stderr, "seqrecctl: the %s reply has no job number\n", cmd->name);
        return CTL_EXIT_ERROR;
    }
    if (cmd->op == SR_PROTO_OP_EXPERIMENT) {
        ctl_get_str(&rep->doc, rep->result, "name", &name);
        ctl_get_str(&rep->doc, rep->result, "out", &out);
        fprintf(stderr, "job %llu: experiment ", (unsigned long long)job);
        ctl_put_safe(stderr, name.ptr, name.len);
        uint64_t runs;
        if (ctl_get_u64(&rep->doc, rep->result, "runs", &runs))
            fprintf(stderr, " (%llu runs)", (unsigned long long)runs);
        fputs(", output in ", stderr);
        ctl_put_safe(stderr, out.ptr, out.len);
    } else {
        ctl_get_str(&rep->doc, rep->result, "model", &name);
        fprintf(stderr, "job %llu: training model ", (unsigned long long)job);
        ctl_put_safe(stderr, name.ptr, name.len);
    }
    fputc('\n', stderr);
    return ctl_wait_job(o->endpoint, job, timeout_ms, CTL_RETRIES, o->json);
}

/* seqrecctl keygen [--force] FILE: local, no daemon involved. */
static int ctl_keygen(int argc, char **argv)
{
    const char *path = NULL;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: seqrecctl keygen [--force] FILE\n\n"
                   "Write a new CURVE key pair to FILE (mode 0600: \"public = \" and \"secret = \"\n"
                   "lines) and its public key to FILE.pub. For the daemon: curve_secret_key =\n"
                   "FILE, and clients get FILE.pub (--curve-server-key). For a client:\n"
                   "--curve-key FILE, and FILE.pub is appended to the daemon's curve_clients.\n"
                   "  --force           replace FILE and FILE.pub if they exist\n");
            return CTL_EXIT_OK;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return ctl_usage_error("keygen: unknown option '%s'", argv[i]);
        } else if (path) {
            return ctl_usage_error("keygen: more than one FILE ('%s')", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return ctl_usage_error("keygen: FILE is required");
    char pub[CTL_CURVE_Z85_LEN + 1], err[512];
    int rc = ctl_conn_keygen(path, force, pub, err, sizeof err);
    if (rc != CTL_EXIT_OK) {
        fprintf(stderr, "seqrecctl: keygen: %s\n", err);
        return rc;
    }
    printf("wrote %s (key pair, mode 0600) and %s.pub\npublic = %s\n", path, path, pub);
    return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
    ctl_opts o = { .endpoint = NULL, .json = false, .timeout_s = -1 };
    const char *env = getenv("SEQREC_ENDPOINT");
    o.endpoint = env && *env ? env : CTL_DEFAULT_ENDPOINT;
    o.curve_server_key = getenv("SEQREC_CURVE_SERVER_KEY");
    o.curve_key = getenv("SEQREC_CURVE_KEY");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            ctl_usage(stdout);
            return CTL_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("seqrecctl %s (protocol %u)\n", CTL_VERSION, SR_PROTO_VERSION);
            return CTL_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (ctl_is(a, "--endpoint")) {
            CTL_NEED_VALUE("--endpoint");
            o.endpoint = v;
        } else if (ctl_is(a, "--curve-server-key")) {
            CTL_NEED_VALUE("--curve-server-key");
            o.curve_server_key = v;
        } else if (ctl_is(a, "--curve-key")) {
            CTL_NEED_VALUE("--curve-key");
            o.curve_key = v;
        } else if (ctl_is(a, "--timeout")) {
            CTL_NEED_VALUE("--timeout");
            if (!ctl_real(v, &o.timeout_s) || o.timeout_s <= 0 || o.timeout_s > 86400.0 * 365)
                return ctl_usage_error("--timeout '%s': expected seconds > 0", v);
        } else {
            return ctl_usage_error("unknown option '%s'", a);
        }
    }
    if (i >= argc) {
        ctl_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(argv[i], "keygen") == 0)
        return ctl_keygen(argc - i, argv + i);
    if ((o.curve_server_key && *o.curve_server_key) || (o.curve_key && *o.curve_key)) {
        char err[600];
        if (ctl_conn_set_curve(o.curve_server_key, o.curve_key, err, sizeof err) != CTL_EXIT_OK) {
            fprintf(stderr, "seqrecctl: %s\n", err);
            return CTL_EXIT_USAGE;
        }
    }
    const ctl_cmd *cmd = NULL;
    for (size_t ci = 0; ci < sizeof ctl_cmds / sizeof ctl_cmds[0]; ci++) {
        if (strcmp(argv[i], ctl_cmds[ci].name) == 0) {
            cmd = &ctl_cmds[ci];
            break;
        }
    }
    if (!cmd)
        return ctl_usage_error("unknown command '%s'", argv[i]);
    int cargc = argc - i;
    char **cargv = argv + i;
    for (int k = 1; k < cargc; k++) {
        if (strcmp(cargv[k], "--help") == 0 || strcmp(cargv[k], "-h") == 0) {
            ctl_cmd_usage(stdout, cmd);
            return CTL_EXIT_OK;
        }
    }

    ctl_args a;
    memset(&a, 0, sizeof a);
    a.req.version = SR_PROTO_VERSION;
    a.req.op = cmd->op;
    a.req.id = ctl_request_id();
    int rc = cmd->parse(cargc, cargv, &a);
    if (rc != 0) {
        free(a.owned);
        return rc;
    }

    double t = o.timeout_s > 0 ? o.timeout_s : a.timeout_s > 0 ? a.timeout_s : cmd->timeout_s;
    int timeout_ms = t < 0 ? -1 : (t * 1000.0 > 2e9 ? 2000000000 : (int)(t * 1000.0));
    ctl_reply rep;
    rc = ctl_request(o.endpoint, &a.req, timeout_ms,
                     cmd->idempotent && !a.once ? CTL_RETRIES : 0, false, &rep);
    if (rc == CTL_EXIT_OK) {
        if (a.wait)
            rc = ctl_follow_job(&o, cmd, &rep, o.timeout_s > 0 ? timeout_ms
                                                               : (int)(CTL_QUICK_TIMEOUT_S * 1000));
        else
            rc = ctl_print_result(&o, cmd, &a, &rep);
    }
    ctl_reply_free(&rep);
    free(a.owned);
    if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
        fprintf(stderr, "seqrecctl: write to stdout: %s\n", strerror(errno));
        rc = CTL_EXIT_ERROR;
    }
    return rc;
}
