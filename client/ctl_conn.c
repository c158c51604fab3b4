/* ctl_conn.c - see ctl_conn.h. */
#include "ctl_conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static long long ctl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for POLLIN until the deadline (-1 = none); EINTR restarts the wait. */
static int ctl_wait(void *sock, long long deadline)
{
    for (;;) {
        long timeout = -1;
        if (deadline >= 0) {
            long long left = deadline - ctl_now_ms();
            timeout = left > 0 ? (long)left : 0;
        }
        zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };
        int rc = zmq_poll(&it, 1, timeout);
        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        return rc;
    }
}

ctl_conn_result ctl_conn_call(const char *endpoint, const void *req, size_t len, int timeout_ms,
                              int retries, void **reply, size_t *reply_len, char *err,
                              size_t errcap)
{
    ctl_conn_result res = CTL_CONN_RESULT_TIMEOUT;
    *reply = NULL;
    *reply_len = 0;
    /* A missing ipc socket file cannot answer: say so at once rather than
     * after every retry's timeout. */
    struct stat st;
    if (strncmp(endpoint, "ipc://", 6) == 0 && stat(endpoint + 6, &st) != 0 && errno == ENOENT) {
        snprintf(err, errcap, "no answer: %s does not exist (is seqrecd running?)", endpoint + 6);
        return CTL_CONN_RESULT_TIMEOUT;
    }
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        snprintf(err, errcap, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        return CTL_CONN_RESULT_ERROR;
    }
    for (int attempt = 0; attempt <= retries; attempt++) {
        void *sock = zmq_socket(ctx, ZMQ_REQ);
        int zero = 0;
        if (!sock) {
            snprintf(err, errcap, "zmq_socket: %s", zmq_strerror(zmq_errno()));
            res = CTL_CONN_RESULT_ERROR;
            break;
        }
        zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(sock, endpoint) != 0) {
            snprintf(err, errcap, "connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
            zmq_close(sock);
            res = CTL_CONN_RESULT_BAD_ENDPOINT;
            break;
        }
        if (zmq_send(sock, req, len, 0) < 0) {
            snprintf(err, errcap, "send to %s: %s", endpoint, zmq_strerror(zmq_errno()));
            zmq_close(sock);
            res = CTL_CONN_RESULT_ERROR;
            break;
        }
        long long deadline = timeout_ms < 0 ? -1 : ctl_now_ms() + timeout_ms;
        int rc = ctl_wait(sock, deadline);
        if (rc > 0) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, 0) >= 0) {
                size_t n = zmq_msg_size(&m);
                void *buf = malloc(n ? n : 1);
                if (buf) {
                    memcpy(buf, zmq_msg_data(&m), n);
                    *reply = buf;
                    *reply_len = n;
                    res = CTL_CONN_RESULT_OK;
                } else {
                    snprintf(err, errcap, "out of memory for a %zu-byte reply", n);
                    res = CTL_CONN_RESULT_ERROR;
                }
            } else {
                snprintf(err, errcap, "receive: %s", zmq_strerror(zmq_errno()));
                res = CTL_CONN_RESULT_ERROR;
            }
            zmq_msg_close(&m);
            zmq_close(sock);
            break;
        }
        zmq_close(sock);
        if (rc < 0) {
            snprintf(err, errcap, "poll: %s", zmq_strerror(zmq_errno()));
            res = CTL_CONN_RESULT_ERROR;
            break;
        }
    }
    if (res == CTL_CONN_RESULT_TIMEOUT)
        snprintf(err, errcap, "no answer from %s after %d attempt(s) of %.1f s", endpoint,
                 retries + 1, timeout_ms / 1000.0);
    zmq_ctx_term(ctx);
    return res;
}

uint64_t ctl_request_id(void)
{
    static uint64_t seq; /* several requests within one clock tick (train --wait) */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t id = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec ^
                  (++seq << 40);
    id &= (UINT64_C(1) << 53) - 1; /* exact in JSON numbers */
    return id ? id : 1;
}

void ctl_reply_free(ctl_reply *r)
{
    if (!r)
        return;
    sr_mp_doc_free(&r->doc);
    free(r->buf);
    r->buf = NULL;
    r->len = 0;
    r->result = 0;
}

int ctl_request(const char *endpoint, const sr_proto_request *req, int timeout_ms, int retries,
                bool quiet, ctl_reply *out)
{
    msgpack_sbuffer sb;
    char err[512];
    int rc = CTL_EXIT_OK;
    sr_proto_code code = SR_PROTO_CODE_OK;
    char why[sizeof out->err - 16]; /* room for the "seqrecctl: " prefix */

    memset(out, 0, sizeof *out);
    why[0] = '\0';
    msgpack_sbuffer_init(&sb);
    if (sr_proto_request_encode(req, &sb) != 0) {
        snprintf(why, sizeof why, "cannot encode the request");
        rc = CTL_EXIT_USAGE;
        goto done;
    }
    ctl_conn_result cr = ctl_conn_call(endpoint, sb.data, sb.size, timeout_ms, retries, &out->buf,
                                       &out->len, err, sizeof err);
    if (cr != CTL_CONN_RESULT_OK) {
        snprintf(why, sizeof why, "%s", err);
        /* a malformed --endpoint is a usage error; timeouts and transport
         * failures alike are "no answer" */
        rc = cr == CTL_CONN_RESULT_BAD_ENDPOINT ? CTL_EXIT_USAGE : CTL_EXIT_NO_ANSWER;
        goto done;
    }
    bool ok = false;
    const sr_mp_node *result = NULL;
    sr_pstr msg = { NULL, 0 };
    uint64_t rid = 0;
    if (!sr_proto_reply_decode(out->buf, out->len, &out->doc, &ok, &result, &code, &msg, &rid, err,
                               sizeof err)) {
        snprintf(why, sizeof why, "%s", err);
        rc = CTL_EXIT_ERROR;
    } else if (rid != 0 && rid != req->id) {
        snprintf(why, sizeof why, "reply id %llu does not match request id %llu",
                 (unsigned long long)rid, (unsigned long long)req->id);
        rc = CTL_EXIT_ERROR;
    } else if (!ok) {
        /* the daemon's text, with control bytes shown as '?' */
        int o = snprintf(why, sizeof why, "%s (%u): ", sr_proto_code_name(code), (unsigned)code);
        for (uint32_t i = 0; o >= 0 && (size_t)o + 1 < sizeof why && i < msg.len; i++) {
            char c = msg.ptr[i];
            why[o++] = (c >= 0 && c < 0x20) || c == 0x7f ? '?' : c;
        }
        if (o >= 0 && (size_t)o < sizeof why)
            why[o] = '\0';
        rc = CTL_EXIT_ERROR;
    } else {
        out->result = sr_mp_index(&out->doc, result);
    }
done:
    msgpack_sbuffer_destroy(&sb);
    if (rc != CTL_EXIT_OK) {
        ctl_reply_free(out);
        out->code = code;
        snprintf(out->err, sizeof out->err, "seqrecctl: %s", why);
        if (!quiet)
            fprintf(stderr, "%s\n", out->err);
    }
    return rc;
}
