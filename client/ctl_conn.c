/* ctl_conn.c - see ctl_conn.h. */
#include "ctl_conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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
