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
#include "ctl_print.h"
#include "sr_proto.h"

#define CTL_VERSION SEQREC_VERSION /* from project(VERSION) in CMakeLists.txt */
#define CTL_DEFAULT_ENDPOINT "ipc:///run/seqrec/seqrecd.sock"
#define CTL_QUICK_TIMEOUT_S 10.0
#define CTL_RETRIES 2 /* extra attempts for idempotent requests */

enum { CTL_EXIT_OK = 0, CTL_EXIT_ERROR = 1, CTL_EXIT_USAGE = 2, CTL_EXIT_NO_ANSWER = 3 };

typedef struct ctl_opts {
    const char *endpoint;
    bool json;
    double timeout_s; /* < 0: the command's default */
} ctl_opts;

typedef struct ctl_cmd {
    const char *name;
    const char *args;    /* usage line after the name */
    const char *summary;
    const char *help;    /* per-command option help */
    bool idempotent;     /* read-only: may be retried on a timeout */
    bool long_running;   /* waits without limit unless --timeout */
    int (*parse)(int argc, char **argv, sr_proto_request *req, char **owned);
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

static int ctl_parse_none(int argc, char **argv, sr_proto_request *req, char **owned)
{
    (void)req, (void)owned;
    if (argc > 1)
        return ctl_usage_error("unexpected argument '%s'", argv[1]);
    return 0;
}

static int ctl_parse_stats(int argc, char **argv, sr_proto_request *req, char **owned)
{
    (void)owned;
    if (argc != 2)
        return ctl_usage_error("%s: expected exactly one dataset NAME", argv[0]);
    req->u.name = ctl_pstr(argv[1]);
    return 0;
}

static int ctl_parse_synth(int argc, char **argv, sr_proto_request *req, char **owned)
{
    (void)owned;
    sr_proto_synth *s = &req->u.synth;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ctl_is(a, "--out")) {
            CTL_NEED_VALUE("--out");
            s->out = ctl_pstr(v);
        } else if (ctl_is(a, "--sessions")) {
            CTL_NEED_VALUE("--sessions");
            if (!ctl_u64(v, 1, &s->sessions))
                return ctl_usage_error("--sessions '%s': expected an integer >= 1", v);
        } else if (ctl_is(a, "--tracks")) {
            CTL_NEED_VALUE("--tracks");
            if (!ctl_u64(v, 1, &s->tracks))
                return ctl_usage_error("--tracks '%s': expected an integer >= 1", v);
        } else if (ctl_is(a, "--seed")) {
            CTL_NEED_VALUE("--seed");
            if (!ctl_u64(v, 0, &s->seed))
                return ctl_usage_error("--seed '%s': expected an integer >= 0", v);
            s->has_seed = true;
        } else if (ctl_is(a, "--skips")) {
            CTL_NEED_VALUE("--skips");
            if (strcmp(v, "informative") != 0 && strcmp(v, "random") != 0)
                return ctl_usage_error("--skips '%s': expected informative or random", v);
            s->skips = ctl_pstr(v);
        } else {
            return ctl_usage_error("synth: unknown argument '%s'", a);
        }
    }
    if (!s->out.len)
        return ctl_usage_error("synth: --out PATH is required");
    if (!s->sessions)
        return ctl_usage_error("synth: --sessions N is required");
    return 0;
}

/* Read the events config file locally: the daemon gets its text, so the file
 * need not be readable by the service user. */
static int ctl_read_config(const char *path, char **out, uint32_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "seqrecctl: --config %s: %s\n", path, strerror(errno));
        return CTL_EXIT_USAGE;
    }
    char *buf = malloc(SR_PROTO_MAX_CONFIG + 1);
    size_t n = buf ? fread(buf, 1, SR_PROTO_MAX_CONFIG + 1, f) : 0;
    bool bad = !buf || ferror(f);
    fclose(f);
    if (bad || n > SR_PROTO_MAX_CONFIG || n == 0) {
        fprintf(stderr, "seqrecctl: --config %s: %s\n", path,
                !buf ? "out of memory" : bad ? "read error"
                : n == 0 ? "empty file" : "larger than 64 KiB");
        free(buf);
        return CTL_EXIT_USAGE;
    }
    *out = buf;
    *len = (uint32_t)n;
    return 0;
}

static int ctl_parse_ingest(int argc, char **argv, sr_proto_request *req, char **owned)
{
    sr_proto_ingest *g = &req->u.ingest;
    const char *config = NULL;
    g->only_with_skip = -1;
    g->max_reject_rate = g->valid_frac = g->test_frac = -1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (g->n_paths == SR_PROTO_MAX_PATHS)
                return ctl_usage_error("ingest: more than 64 paths (give a directory)");
            g->paths[g->n_paths++] = ctl_pstr(a);
        } else if (ctl_is(a, "--name")) {
            CTL_NEED_VALUE("--name");
            g->name = ctl_pstr(v);
        } else if (ctl_is(a, "--format")) {
            CTL_NEED_VALUE("--format");
            if (strcmp(v, "mssd") != 0 && strcmp(v, "events") != 0)
                return ctl_usage_error("--format '%s': expected mssd or events", v);
            g->format = ctl_pstr(v);
        } else if (ctl_is(a, "--config")) {
            CTL_NEED_VALUE("--config");
            config = v;
        } else if (ctl_is(a, "--split")) {
            CTL_NEED_VALUE("--split");
            if (strcmp(v, "leave-last") != 0 && strcmp(v, "temporal") != 0)
                return ctl_usage_error("--split '%s': expected leave-last or temporal", v);
            g->split = ctl_pstr(v);
        } else if (ctl_is(a, "--skip-rule")) {
            CTL_NEED_VALUE("--skip-rule");
            g->skip_rule = ctl_pstr(v);
        } else if (ctl_is(a, "--min-session-len")) {
            CTL_NEED_VALUE("--min-session-len");
            if (!ctl_u64(v, 1, &g->min_session_len))
                return ctl_usage_error("--min-session-len '%s': expected an integer >= 1", v);
        } else if (ctl_is(a, "--min-track-count")) {
            CTL_NEED_VALUE("--min-track-count");
            if (!ctl_u64(v, 1, &g->min_track_count))
                return ctl_usage_error("--min-track-count '%s': expected an integer >= 1", v);
        } else if (strcmp(a, "--only-with-skip") == 0) {
            g->only_with_skip = 1;
        } else if (ctl_is(a, "--max-reject-rate")) {
            CTL_NEED_VALUE("--max-reject-rate");
            if (!ctl_real(v, &g->max_reject_rate) || g->max_reject_rate < 0 ||
                g->max_reject_rate > 1)
                return ctl_usage_error("--max-reject-rate '%s': expected a number in [0, 1]", v);
        } else if (ctl_is(a, "--valid-frac")) {
            CTL_NEED_VALUE("--valid-frac");
            if (!ctl_real(v, &g->valid_frac) || g->valid_frac < 0 || g->valid_frac >= 1)
                return ctl_usage_error("--valid-frac '%s': expected a number in [0, 1)", v);
        } else if (ctl_is(a, "--test-frac")) {
            CTL_NEED_VALUE("--test-frac");
            if (!ctl_real(v, &g->test_frac) || g->test_frac < 0 || g->test_frac >= 1)
                return ctl_usage_error("--test-frac '%s': expected a number in [0, 1)", v);
        } else if (strcmp(a, "--replace") == 0) {
            g->replace = true;
        } else {
            return ctl_usage_error("ingest: unknown option '%s'", a);
        }
    }
    if (!g->name.len)
        return ctl_usage_error("ingest: --name NAME is required");
    if (!g->n_paths)
        return ctl_usage_error("ingest: at least one PATH is required");
    if (config) {
        uint32_t len = 0;
        int rc = ctl_read_config(config, owned, &len);
        if (rc)
            return rc;
        g->config.ptr = *owned;
        g->config.len = len;
        if (!g->format.len)
            g->format = ctl_pstr("events"); /* a column mapping only makes sense for events */
    }
    return 0;
}

static const ctl_cmd ctl_cmds[] = {
    { "status", "", "show the daemon's state", "", true, false, ctl_parse_none },
    { "synth", "--out PATH --sessions N [--tracks M] [--seed S] [--skips informative|random]",
      "write a synthetic MSSD-format log under the data root",
      "  --out PATH        output file, relative to the daemon's data root (.gz: gzip)\n"
      "  --sessions N      number of sessions (>= 1)\n"
      "  --tracks M        catalogue size (default 20000)\n"
      "  --seed S          random seed (default 42)\n"
      "  --skips MODE      informative (skips depend on the track; default) or random\n"
      "                    (same rates, independent of the track: the control)\n",
      false, true, ctl_parse_synth },
    { "ingest",
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
      false, true, ctl_parse_ingest },
    { "stats", "NAME", "show a dataset's metadata and statistics", "", true, false,
      ctl_parse_stats },
    { "datasets", "", "list datasets with their sizes", "", true, false, ctl_parse_none },
    { "shutdown", "", "ask the daemon to stop (running jobs are cancelled)", "", false, false,
      ctl_parse_none },
};

static const sr_proto_op ctl_cmd_ops[] = {
    SR_PROTO_OP_STATUS, SR_PROTO_OP_SYNTH,    SR_PROTO_OP_INGEST,
    SR_PROTO_OP_STATS,  SR_PROTO_OP_DATASETS, SR_PROTO_OP_SHUTDOWN,
};

static void ctl_usage(FILE *f)
{
    fprintf(f,
            "usage: seqrecctl [--endpoint E] [--json] [--timeout SEC] COMMAND [ARGS...]\n"
            "       seqrecctl COMMAND --help | --help | --version\n"
            "\n"
            "Client of the seqrec daemon (seqrecd).\n"
            "  --endpoint E   daemon endpoint (default $SEQREC_ENDPOINT, else %s)\n"
            "  --json         print the reply's result as JSON\n"
            "  --timeout SEC  give up after SEC seconds (default %.0f for quick commands;\n"
            "                 synth and ingest wait without limit). status, stats and datasets\n"
            "                 are retried %d times on a fresh socket after a timeout.\n"
            "\n"
            "Commands:\n",
            CTL_DEFAULT_ENDPOINT, CTL_QUICK_TIMEOUT_S, CTL_RETRIES);
    for (size_t i = 0; i < sizeof ctl_cmds / sizeof ctl_cmds[0]; i++)
        fprintf(f, "  %-9s %s\n", ctl_cmds[i].name, ctl_cmds[i].summary);
    fprintf(f, "\nExit status: 0 ok, 1 error reply, 2 usage error, 3 no answer.\n");
}

static void ctl_cmd_usage(FILE *f, const ctl_cmd *c)
{
    fprintf(f, "usage: seqrecctl [OPTIONS] %s %s\n\n%s.\n", c->name, c->args, c->summary);
    if (c->help[0])
        fprintf(f, "\n%s", c->help);
}

/* ---- main -------------------------------------------------------------------------- */

static uint64_t ctl_request_id(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t id = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec;
    id &= (UINT64_C(1) << 53) - 1; /* exact in JSON numbers */
    return id ? id : 1;
}

static int ctl_report(const ctl_opts *o, const ctl_cmd *cmd, const void *buf, size_t len,
                      uint64_t id)
{
    sr_mp_doc doc = { NULL, 0 };
    bool ok = false;
    const sr_mp_node *result = NULL;
    sr_proto_code code = SR_PROTO_CODE_OK;
    sr_pstr msg = { NULL, 0 };
    uint64_t rid = 0;
    char err[256];
    if (!sr_proto_reply_decode(buf, len, &doc, &ok, &result, &code, &msg, &rid, err,
                               sizeof err)) {
        fprintf(stderr, "seqrecctl: %s\n", err);
        return CTL_EXIT_ERROR;
    }
    int rc = CTL_EXIT_OK;
    if (rid != 0 && rid != id) {
        fprintf(stderr, "seqrecctl: reply id %llu does not match request id %llu\n",
                (unsigned long long)rid, (unsigned long long)id);
        rc = CTL_EXIT_ERROR;
    } else if (!ok) {
        fprintf(stderr, "seqrecctl: %s (%u): %.*s\n", sr_proto_code_name(code), (unsigned)code,
                (int)msg.len, msg.ptr ? msg.ptr : "");
        rc = CTL_EXIT_ERROR;
    } else if (o->json) {
        json_t *j = ctl_print_json(&doc, sr_mp_index(&doc, result));
        char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (!s) {
            fprintf(stderr, "seqrecctl: out of memory writing JSON\n");
            rc = CTL_EXIT_ERROR;
        } else {
            printf("%s\n", s);
        }
        free(s);
        json_decref(j);
    } else {
        if (cmd->parse == ctl_parse_none && strcmp(cmd->name, "shutdown") == 0)
            printf("seqrecd is stopping\n");
        else
            ctl_print_text(stdout, &doc, sr_mp_index(&doc, result));
    }
    sr_mp_doc_free(&doc);
    if (fflush(stdout) != 0 && rc == CTL_EXIT_OK) {
        fprintf(stderr, "seqrecctl: write to stdout: %s\n", strerror(errno));
        rc = CTL_EXIT_ERROR;
    }
    return rc;
}

int main(int argc, char **argv)
{
    ctl_opts o = { .endpoint = NULL, .json = false, .timeout_s = -1 };
    const char *env = getenv("SEQREC_ENDPOINT");
    o.endpoint = env && *env ? env : CTL_DEFAULT_ENDPOINT;
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
    const ctl_cmd *cmd = NULL;
    size_t ci;
    for (ci = 0; ci < sizeof ctl_cmds / sizeof ctl_cmds[0]; ci++) {
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

    sr_proto_request req;
    memset(&req, 0, sizeof req);
    req.version = SR_PROTO_VERSION;
    req.op = ctl_cmd_ops[ci];
    req.id = ctl_request_id();
    char *owned = NULL;
    int rc = cmd->parse(cargc, cargv, &req, &owned);
    if (rc != 0) {
        free(owned);
        return rc;
    }

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (sr_proto_request_encode(&req, &sb) != 0) {
        fprintf(stderr, "seqrecctl: cannot encode the request\n");
        rc = CTL_EXIT_USAGE;
        goto done;
    }
    double t = o.timeout_s > 0 ? o.timeout_s : cmd->long_running ? -1 : CTL_QUICK_TIMEOUT_S;
    int timeout_ms = t < 0 ? -1 : (t * 1000.0 > 2e9 ? 2000000000 : (int)(t * 1000.0));
    void *reply = NULL;
    size_t reply_len = 0;
    char err[512];
    ctl_conn_result cr = ctl_conn_call(o.endpoint, sb.data, sb.size, timeout_ms,
                                       cmd->idempotent ? CTL_RETRIES : 0, &reply, &reply_len,
                                       err, sizeof err);
    if (cr == CTL_CONN_RESULT_BAD_ENDPOINT) {
        /* a malformed --endpoint is a usage error */
        fprintf(stderr, "seqrecctl: %s\n", err);
        rc = CTL_EXIT_USAGE;
    } else if (cr != CTL_CONN_RESULT_OK) {
        /* timeouts and transport failures alike: no answer */
        fprintf(stderr, "seqrecctl: %s\n", err);
        rc = CTL_EXIT_NO_ANSWER;
    } else {
        rc = ctl_report(&o, cmd, reply, reply_len, req.id);
    }
    free(reply);
done:
    msgpack_sbuffer_destroy(&sb);
    free(owned);
    return rc;
}
