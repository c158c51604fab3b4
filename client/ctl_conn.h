/* ctl_conn.h - one request/reply exchange with seqrecd over a ZeroMQ REQ
 * socket, with a poll timeout and "Lazy Pirate" retries (zguide ch. 4): on a
 * timeout the socket is closed (LINGER 0), reopened and the request sent
 * again. Only idempotent read-only requests may be retried; the caller
 * decides by passing `retries`.
 *
 * Optionally CURVE (ctl_conn_set_curve): the connection is encrypted and the
 * daemon admits this client only if its public key is in the daemon's
 * curve_clients. A socket monitor turns a refused handshake into an
 * immediate, named error instead of a timeout.
 */
#ifndef CTL_CONN_H
#define CTL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_proto.h"

/* seqrecctl's exit status (seqrecctl(1)). */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_ERROR = 1,     /* an error reply, an unreadable reply, a failed/cancelled job */
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_NO_ANSWER = 3  /* no answer within the timeout, or the transport failed */
};

typedef enum ctl_conn_result {
    CTL_CONN_RESULT_OK = 0,
    CTL_CONN_RESULT_TIMEOUT, /* no answer within the timeout, after every retry */
    CTL_CONN_RESULT_BAD_ENDPOINT, /* the endpoint string cannot be connected to */
    CTL_CONN_RESULT_ERROR,   /* ZeroMQ failed while talking (poll, receive, memory) */
    CTL_CONN_RESULT_REFUSED  /* the CURVE handshake failed (key not allowed, wrong keys) */
} ctl_conn_result;

#define CTL_CURVE_Z85_LEN 40 /* a Z85 key's characters (32 bytes) */

/* Use CURVE for every connection this process makes: server_key_file holds
 * the daemon's public key ("public = KEY", e.g. its FILE.pub), key_file this
 * client's key pair (seqrecctl keygen; it must not be accessible by group or
 * others). Both are required. CTL_EXIT_OK, or CTL_EXIT_USAGE with err[errcap]
 * naming the file and line. */
int ctl_conn_set_curve(const char *server_key_file, const char *key_file, char *err,
                       size_t errcap);

/* seqrecctl keygen: a new CURVE key pair in `path` (mode 0600: "public = "
 * and "secret = " lines) and its public half in path.pub ("public = " only),
 * each written to a .tmp file, fsync'd and renamed into place. An existing
 * file is an error unless `force`. On success pub[] holds the public key.
 * CTL_EXIT_OK, CTL_EXIT_USAGE (a file exists) or CTL_EXIT_ERROR (I/O). */
int ctl_conn_keygen(const char *path, bool force, char pub[CTL_CURVE_Z85_LEN + 1], char *err,
                    size_t errcap);

/* Send req[len] to `endpoint` and wait for one reply frame, returned in a
 * malloc'd *reply / *reply_len (the caller frees it). timeout_ms < 0 waits
 * forever. On failure err[errcap] says why. */
ctl_conn_result ctl_conn_call(const char *endpoint, const void *req, size_t len, int timeout_ms,
                              int retries, void **reply, size_t *reply_len, char *err,
                              size_t errcap);

/* A decoded OK reply. doc's strings point into buf, so both live together. */
typedef struct ctl_reply {
    void *buf;
    size_t len;
    sr_mp_doc doc;
    uint32_t result;     /* node index of the result map */
    sr_proto_code code;  /* an error reply's code (kept on failure); 0 otherwise */
    char err[640];       /* on failure: why, as printed ("seqrecctl: ...") */
} ctl_reply;

/* Encode req, send it, decode the reply. Returns CTL_EXIT_OK with *out
 * filled (free it with ctl_reply_free), or the exit status with the reason
 * in out->err - printed on stderr unless `quiet`: an error reply or a reply
 * that cannot be read (1), an endpoint that cannot be used or a request that
 * cannot be encoded (2), no answer or a refused CURVE handshake (3). On
 * failure *out holds nothing to free. */
int ctl_request(const char *endpoint, const sr_proto_request *req, int timeout_ms, int retries,
                bool quiet, ctl_reply *out);
void ctl_reply_free(ctl_reply *r);

/* A request id that is unlikely to repeat: pid, time; below 2^53 so that it
 * survives JSON numbers. */
uint64_t ctl_request_id(void);

#endif /* CTL_CONN_H */
