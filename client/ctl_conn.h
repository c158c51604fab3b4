/* ctl_conn.h - one request/reply exchange with seqrecd over a ZeroMQ REQ
 * socket, with a poll timeout and "Lazy Pirate" retries (zguide ch. 4): on a
 * timeout the socket is closed (LINGER 0), reopened and the request sent
 * again. Only idempotent read-only requests may be retried; the caller
 * decides by passing `retries`.
 */
#ifndef CTL_CONN_H
#define CTL_CONN_H

#include <stddef.h>

typedef enum ctl_conn_result {
    CTL_CONN_RESULT_OK = 0,
    CTL_CONN_RESULT_TIMEOUT, /* no answer within the timeout, after every retry */
    CTL_CONN_RESULT_BAD_ENDPOINT, /* the endpoint string cannot be connected to */
    CTL_CONN_RESULT_ERROR    /* ZeroMQ failed while talking (poll, receive, memory) */
} ctl_conn_result;

/* Send req[len] to `endpoint` and wait for one reply frame, returned in a
 * malloc'd *reply / *reply_len (the caller frees it). timeout_ms < 0 waits
 * forever. On failure err[errcap] says why. */
ctl_conn_result ctl_conn_call(const char *endpoint, const void *req, size_t len, int timeout_ms,
                              int retries, void **reply, size_t *reply_len, char *err,
                              size_t errcap);

#endif /* CTL_CONN_H */
