/* ctl_jobs.c - see ctl_jobs.h. */
#include "ctl_jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "ctl_conn.h"
#include "ctl_print.h"

#define CTL_POLL_S 1          /* seconds between polls */
#define CTL_LOG_EVERY_S 10.0  /* progress lines when stderr is not a terminal */

static double ctl_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void ctl_sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Columns of the terminal on stderr (80 when unknown): a progress line
 * longer than that would wrap, and '\r' only returns to its last row. */
static int ctl_term_cols(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/* The element of result.jobs whose "job" is `job`, or UINT32_MAX. */
static uint32_t ctl_find_job(const sr_mp_doc *doc, uint32_t result, uint64_t job)
{
    const sr_mp_node *arr = sr_mp_map_get(doc, result, "jobs");
    if (!arr || arr->type != SR_MP_TYPE_ARRAY)
        return UINT32_MAX;
    uint32_t e = sr_mp_index(doc, arr) + 1;
    for (uint32_t i = 0; i < arr->n; i++) {
        uint64_t id;
        if (doc->nodes[e].type == SR_MP_TYPE_MAP && ctl_get_u64(doc, e, "job", &id) && id == job)
            return e;
        e += doc->nodes[e].span;
    }
    return UINT32_MAX;
}

static int ctl_print_final(const sr_mp_doc *doc, uint32_t job, bool json)
{
    if (json) {
        json_t *j = ctl_print_json(doc, job);
        char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (!s) {
            fprintf(stderr, "seqrecctl: out of memory writing JSON\n");
            return CTL_EXIT_ERROR;
        }
        printf("%s\n", s);
        free(s);
    } else {
        ctl_print_text(stdout, doc, job);
    }
    return CTL_EXIT_OK;
}

int ctl_wait_job(const char *endpoint, uint64_t job, int timeout_ms, int retries, bool json)
{
    bool tty = isatty(STDERR_FILENO) != 0;
    size_t shown = 0;          /* tty: length of the line on screen */
    double last_log = -1e300;  /* not a tty: when the last line was written */
    char last_state[96] = "";
    char line[512];
    int rc;

    for (;;) {
        sr_proto_request req;
        ctl_reply rep;
        memset(&req, 0, sizeof req);
        req.version = SR_PROTO_VERSION;
        req.op = SR_PROTO_OP_JOBS;
        req.id = ctl_request_id();
        req.u.jobs.job = job;
        rc = ctl_request(endpoint, &req, timeout_ms, retries, true, &rep);
        if (rc != CTL_EXIT_OK && rep.code == SR_PROTO_CODE_BUSY) {
            ctl_sleep_s(CTL_POLL_S); /* every worker busy: ask again later */
            continue;
        }
        if (rc != CTL_EXIT_OK) {
            if (shown)
                fputc('\n', stderr);
            fprintf(stderr, "%s\n", rep.err);
            break;
        }
        uint32_t j = ctl_find_job(&rep.doc, rep.result, job);
        if (j == UINT32_MAX) {
            if (shown)
                fputc('\n', stderr);
            fprintf(stderr, "seqrecctl: the reply has no job %llu\n", (unsigned long long)job);
            ctl_reply_free(&rep);
            return CTL_EXIT_ERROR;
        }
        sr_pstr st = { "", 0 }, ph = { "", 0 };
        ctl_get_str(&rep.doc, j, "state", &st);
        ctl_get_str(&rep.doc, j, "phase", &ph);
        bool done = sr_pstr_eq(st, "done");
        bool ended = done || sr_pstr_eq(st, "failed") || sr_pstr_eq(st, "cancelled");
        /* an experiment's next run is news too: a line for each */
        uint64_t run = 0;
        ctl_get_u64(&rep.doc, j, "run", &run);
        char state[96];
        snprintf(state, sizeof state, "%.*s/%.*s/%llu", (int)(st.len < 30 ? st.len : 30), st.ptr,
                 (int)(ph.len < 30 ? ph.len : 30), ph.ptr, (unsigned long long)run);

        size_t n = ctl_format_progress(line, sizeof line, &rep.doc, j);
        if (tty) {
            size_t cols = (size_t)ctl_term_cols() - 1;
            if (n > cols)
                line[n = cols] = '\0';
            fprintf(stderr, "\r%s%*s", line, shown > n ? (int)(shown - n) : 0, "");
            shown = n;
            if (ended) {
                fputc('\n', stderr);
                shown = 0;
            }
        } else {
            double now = ctl_mono_s();
            if (ended || strcmp(state, last_state) != 0 || now - last_log >= CTL_LOG_EVERY_S) {
                fprintf(stderr, "%s\n", line);
                last_log = now;
            }
        }
        fflush(stderr);
        snprintf(last_state, sizeof last_state, "%s", state);

        if (ended) {
            rc = ctl_print_final(&rep.doc, j, json);
            if (!done) {
                sr_pstr msg = { "", 0 };
                ctl_get_str(&rep.doc, j, "message", &msg);
                fprintf(stderr, "seqrecctl: job %llu %.*s%s", (unsigned long long)job,
                        (int)st.len, st.ptr, msg.len ? ": " : "");
                ctl_put_safe(stderr, msg.ptr, msg.len);
                fputc('\n', stderr);
                rc = CTL_EXIT_ERROR;
            }
            ctl_reply_free(&rep);
            return rc;
        }
        ctl_reply_free(&rep);
        ctl_sleep_s(CTL_POLL_S);
    }
    fprintf(stderr, "seqrecctl: stopped following job %llu ('seqrecctl jobs %llu' shows its state)\n",
            (unsigned long long)job, (unsigned long long)job);
    return rc;
}
