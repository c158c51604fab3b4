/* ctl_conn.c - see ctl_conn.h. */
#include "ctl_conn.h"

#include <errno.h>
#include <fcntl.h>
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

/* ---- CURVE ----------------------------------------------------------------------- */

static const char ctl_z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

#define CTL_KEY_BYTES 32
#define CTL_KEY_FILE_MAX 65536

static struct {
    bool on;
    uint8_t server[CTL_KEY_BYTES];
    uint8_t pub[CTL_KEY_BYTES];
    uint8_t sec[CTL_KEY_BYTES];
} ctl_curve;

static void ctl_wipe(void *p, size_t n)
{
    volatile uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = 0;
}

/* 40 Z85 characters -> 32 bytes; encoding back must give the same text (the
 * same check as the daemon's srd_auth.c: the client does not link it). */
static bool ctl_z85_key(const char *s, size_t len, uint8_t out[CTL_KEY_BYTES])
{
    char text[CTL_CURVE_Z85_LEN + 1], again[CTL_CURVE_Z85_LEN + 1];
    if (len != CTL_CURVE_Z85_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0' || !strchr(ctl_z85_chars, s[i]))
            return false;
        text[i] = s[i];
    }
    text[len] = '\0';
    return zmq_z85_decode(out, text) && zmq_z85_encode(again, out, CTL_KEY_BYTES) &&
           memcmp(again, text, CTL_CURVE_Z85_LEN) == 0;
}

static bool ctl_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Read a key file (the format of srd_auth.h): '#' comment lines, "public =
 * KEY", "secret = KEY", or one bare public key. want_secret: the secret key
 * is required, the file must be private, and a public line must match it. */
static int ctl_read_key_file(const char *path, bool want_secret, uint8_t pub[CTL_KEY_BYTES],
                             uint8_t sec[CTL_KEY_BYTES], char *err, size_t errcap)
{
    int rc = CTL_EXIT_USAGE;
    char buf[CTL_KEY_FILE_MAX + 1];
    bool have_pub = false, have_sec = false;
    uint8_t file_pub[CTL_KEY_BYTES];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return CTL_EXIT_USAGE;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "%s: not a regular file", path);
        goto done;
    }
    if (want_secret && (st.st_mode & 077) != 0) {
        snprintf(err, errcap, "%s: the key file is accessible by group or others (mode %04o); "
                 "make it private: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
        goto done;
    }
    size_t len = fread(buf, 1, sizeof buf, f);
    if (ferror(f) || len > CTL_KEY_FILE_MAX) {
        snprintf(err, errcap, "%s: %s", path,
                 ferror(f) ? "read error" : "too large for a key file");
        goto done;
    }
    int line = 0;
    for (size_t at = 0; at < len;) {
        const char *p = buf + at;
        const char *nl = memchr(p, '\n', len - at);
        size_t n = nl ? (size_t)(nl - p) : len - at;
        at += n + 1;
        line++;
        while (n > 0 && ctl_space(*p))
            p++, n--;
        while (n > 0 && ctl_space(p[n - 1]))
            n--;
        uint8_t key[CTL_KEY_BYTES];
        int kind = 0; /* 1 public, 2 secret */
        /* a bare key, a comment ('#' is a Z85 character, but no key starts
         * with it), or "name = key" */
        if (n == CTL_CURVE_Z85_LEN && ctl_z85_key(p, n, key)) {
            kind = 1;
        } else if (n == 0 || p[0] == '#') {
            continue;
        } else {
            static const char *const names[] = { "public", "secret" };
            for (int k = 0; k < 2 && !kind; k++) {
                size_t kl = strlen(names[k]);
                const char *v = p + kl;
                size_t m = n - kl;
                if (n <= kl || memcmp(p, names[k], kl) != 0)
                    continue;
                while (m > 0 && ctl_space(*v))
                    v++, m--;
                if (m == 0 || *v != '=')
                    continue;
                v++, m--;
                while (m > 0 && ctl_space(*v))
                    v++, m--;
                if (!ctl_z85_key(v, m, key)) {
                    snprintf(err, errcap, "%s:%d: not a valid key (40 Z85 characters)", path,
                             line);
                    goto done;
                }
                kind = k + 1;
            }
        }
        if (!kind) {
            snprintf(err, errcap, "%s:%d: expected \"public = KEY\" or \"secret = KEY\"", path,
                     line);
            goto done;
        }
        if ((kind == 1 && have_pub) || (kind == 2 && have_sec)) {
            snprintf(err, errcap, "%s:%d: a second %s key", path, line,
                     kind == 1 ? "public" : "secret");
            goto done;
        }
        if (kind == 1) {
            memcpy(file_pub, key, CTL_KEY_BYTES);
            have_pub = true;
        } else {
            memcpy(sec, key, CTL_KEY_BYTES);
            have_sec = true;
        }
        ctl_wipe(key, sizeof key);
    }
    if (want_secret) {
        char sz[CTL_CURVE_Z85_LEN + 1], pz[CTL_CURVE_Z85_LEN + 1];
        if (!have_sec) {
            snprintf(err, errcap, "%s: no \"secret = KEY\" line (give the key file seqrecctl "
                     "keygen wrote, not its .pub)", path);
            goto done;
        }
        bool ok = zmq_z85_encode(sz, sec, CTL_KEY_BYTES) && zmq_curve_public(pz, sz) == 0 &&
                  zmq_z85_decode(pub, pz);
        ctl_wipe(sz, sizeof sz);
        if (!ok) {
            snprintf(err, errcap, "%s: cannot derive the public key: %s", path,
                     zmq_strerror(zmq_errno()));
            goto done;
        }
        if (have_pub && memcmp(pub, file_pub, CTL_KEY_BYTES) != 0) {
            snprintf(err, errcap, "%s: the public key does not belong to the secret key", path);
            goto done;
        }
    } else {
        if (!have_pub) {
            snprintf(err, errcap, "%s: no \"public = KEY\" line", path);
            goto done;
        }
        memcpy(pub, file_pub, CTL_KEY_BYTES);
    }
    rc = CTL_EXIT_OK;
done:
    ctl_wipe(buf, sizeof buf);
    fclose(f);
    if (rc != CTL_EXIT_OK && want_secret)
        ctl_wipe(sec, CTL_KEY_BYTES);
    return rc;
}

int ctl_conn_set_curve(const char *server_key_file, const char *key_file, char *err,
                       size_t errcap)
{
    uint8_t unused[CTL_KEY_BYTES];
    if (!server_key_file || !*server_key_file || !key_file || !*key_file) {
        snprintf(err, errcap, "CURVE needs both --curve-server-key FILE (the daemon's .pub) and "
                 "--curve-key FILE (this client's key pair, from seqrecctl keygen)");
        return CTL_EXIT_USAGE;
    }
    int rc = ctl_read_key_file(server_key_file, false, ctl_curve.server, unused, err, errcap);
    if (rc == CTL_EXIT_OK)
        rc = ctl_read_key_file(key_file, true, ctl_curve.pub, ctl_curve.sec, err, errcap);
    ctl_curve.on = rc == CTL_EXIT_OK;
    return rc;
}

/* Write text to path via path.tmp (mode `mode`), fsync, then link (no
 * overwrite: EEXIST when path exists) or rename (force). */
static int ctl_write_key(const char *path, const char *text, mode_t mode, bool force, char *err,
                         size_t errcap)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        snprintf(err, errcap, "%s: path too long", path);
        return CTL_EXIT_USAGE;
    }
    unlink(tmp); /* a leftover of an interrupted keygen */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errcap, "%s: %s", tmp, strerror(errno));
        return CTL_EXIT_ERROR;
    }
    size_t len = strlen(text), done = 0;
    bool ok = fchmod(fd, mode) == 0; /* exactly `mode`, whatever the umask */
    while (ok && done < len) {
        ssize_t k = write(fd, text + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        ok = k > 0;
        if (ok)
            done += (size_t)k;
    }
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        snprintf(err, errcap, "%s: %s", tmp, strerror(saved));
        unlink(tmp);
        return CTL_EXIT_ERROR;
    }
    if (force ? rename(tmp, path) != 0 : link(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        if (saved == EEXIST) {
            snprintf(err, errcap, "%s exists; keeping it (--force replaces it)", path);
            return CTL_EXIT_USAGE;
        }
        snprintf(err, errcap, "%s: %s", path, strerror(saved));
        return CTL_EXIT_ERROR;
    }
    if (!force)
        unlink(tmp);
    /* the directory entry itself, so that the key survives a crash */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return CTL_EXIT_OK;
}

int ctl_conn_keygen(const char *path, bool force, char pub[CTL_CURVE_Z85_LEN + 1], char *err,
                    size_t errcap)
{
    char sec[CTL_CURVE_Z85_LEN + 1], text[512], pub_path[4096];
    struct stat st;
    if ((size_t)snprintf(pub_path, sizeof pub_path, "%s.pub", path) >= sizeof pub_path - 4) {
        snprintf(err, errcap, "%s: path too long", path);
        return CTL_EXIT_USAGE;
    }
    /* Checked first so that neither file is written when one exists (the
     * link() in ctl_write_key still refuses a file that appears meanwhile). */
    if (!force && (lstat(path, &st) == 0 || lstat(pub_path, &st) == 0)) {
        snprintf(err, errcap, "%s exists; keeping it (--force replaces it)",
                 lstat(path, &st) == 0 ? path : pub_path);
        return CTL_EXIT_USAGE;
    }
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errcap, "zmq_curve_keypair: %s (is libzmq built with CURVE?)",
                 zmq_strerror(zmq_errno()));
        return CTL_EXIT_ERROR;
    }
    snprintf(text, sizeof text,
             "# seqrec CURVE key pair (seqrecctl keygen). Keep this file private (mode 0600);\n"
             "# hand out only %s.pub.\n"
             "public = %s\n"
             "secret = %s\n",
             strrchr(path, '/') ? strrchr(path, '/') + 1 : path, pub, sec);
    int rc = ctl_write_key(path, text, 0600, force, err, errcap);
    ctl_wipe(sec, sizeof sec);
    ctl_wipe(text, sizeof text);
    if (rc != CTL_EXIT_OK)
        return rc;
    snprintf(text, sizeof text,
             "# seqrec CURVE public key (seqrecctl keygen). A daemon's: give it to clients\n"
             "# (--curve-server-key); a client's: append it to the daemon's curve_clients.\n"
             "public = %s\n",
             pub);
    return ctl_write_key(pub_path, text, 0644, force, err, errcap);
}

/* ---- one exchange ------------------------------------------------------------------ */

/* The socket monitor's events that end a call at once. */
#define CTL_MONITOR_EVENTS                                                     \
    (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | \
     ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

/* Read one monitor event (two frames: 16-bit event + 32-bit value, then the
 * endpoint). false when none could be read. */
static bool ctl_monitor_event(void *mon, uint16_t *event, uint32_t *value)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return false;
    }
    bool ok = zmq_msg_size(&m) == 6;
    if (ok) {
        const uint8_t *d = zmq_msg_data(&m);
        memcpy(event, d, 2);
        memcpy(value, d + 2, 4);
    }
    bool more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    while (more) { /* the endpoint frame */
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, mon, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return ok;
}

/* Why a handshake failed, as the user should read it; false when the event
 * should not end the call (other failures of a handshake without CURVE may
 * be a daemon restarting: the usual timeout and retries handle that). */
static bool ctl_handshake_error(const char *endpoint, uint16_t event, uint32_t value, char *err,
                                size_t errcap)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        snprintf(err, errcap, "authentication refused by the server (CURVE): %s does not admit "
                 "this client's public key (ZAP status %u; the .pub of --curve-key FILE must be "
                 "in the daemon's curve_clients)", endpoint, (unsigned)value);
        return true;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
        value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
        if (ctl_curve.on)
            snprintf(err, errcap, "handshake with %s failed: the server does not use CURVE "
                     "(leave out --curve-server-key and --curve-key)", endpoint);
        else
            snprintf(err, errcap, "handshake with %s failed: the server requires CURVE "
                     "(give --curve-server-key FILE and --curve-key FILE)", endpoint);
        return true;
    }
    if (!ctl_curve.on && event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL &&
        (value == EPIPE || value == ECONNRESET)) {
        /* A CURVE server that reads our NULL greeting first closes before we
         * read its own (measured: about one connection in eight), so the
         * mismatch may never be reported as such. A daemon that restarts
         * refuses the connection instead; one that accepts and then hangs up
         * during the handshake is not talking plain ZMTP to us. */
        snprintf(err, errcap, "handshake with %s failed: the server closed the connection (%s); "
                 "the server requires CURVE, or is not seqrecd (give --curve-server-key FILE "
                 "and --curve-key FILE)", endpoint, strerror((int)value));
        return true;
    }
    if (!ctl_curve.on)
        return false;
    char why[64];
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        snprintf(why, sizeof why, "protocol error 0x%x", (unsigned)value);
    else
        snprintf(why, sizeof why, "%s", strerror((int)value));
    snprintf(err, errcap, "CURVE handshake with %s failed (%s): is --curve-server-key the "
             "daemon's public key?", endpoint, why);
    return true;
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
        void *mon = NULL;
        int zero = 0;
        char mon_ep[64];
        if (!sock) {
            snprintf(err, errcap, "zmq_socket: %s", zmq_strerror(zmq_errno()));
            res = CTL_CONN_RESULT_ERROR;
            break;
        }
        zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
        if (ctl_curve.on &&
            (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, ctl_curve.server, CTL_KEY_BYTES) != 0 ||
             zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, ctl_curve.pub, CTL_KEY_BYTES) != 0 ||
             zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, ctl_curve.sec, CTL_KEY_BYTES) != 0)) {
            snprintf(err, errcap, "CURVE: %s", zmq_strerror(zmq_errno()));
            zmq_close(sock);
            res = CTL_CONN_RESULT_ERROR;
            break;
        }
        /* The monitor's PAIR is connected before the REQ socket connects, so
         * that no handshake event can be sent before anyone listens. */
        snprintf(mon_ep, sizeof mon_ep, "inproc://ctl-monitor-%d", attempt);
        if (zmq_socket_monitor(sock, mon_ep, CTL_MONITOR_EVENTS) != 0 ||
            !(mon = zmq_socket(ctx, ZMQ_PAIR)) ||
            zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
            zmq_connect(mon, mon_ep) != 0) {
            snprintf(err, errcap, "socket monitor: %s", zmq_strerror(zmq_errno()));
            if (mon)
                zmq_close(mon);
            zmq_close(sock);
            res = CTL_CONN_RESULT_ERROR;
            break;
        }
        if (zmq_connect(sock, endpoint) != 0) {
            snprintf(err, errcap, "connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
            zmq_close(mon);
            zmq_close(sock);
            res = CTL_CONN_RESULT_BAD_ENDPOINT;
            break;
        }
        if (zmq_send(sock, req, len, 0) < 0) {
            snprintf(err, errcap, "send to %s: %s", endpoint, zmq_strerror(zmq_errno()));
            zmq_close(mon);
            zmq_close(sock);
            res = CTL_CONN_RESULT_ERROR;
            break;
        }
        long long deadline = timeout_ms < 0 ? -1 : ctl_now_ms() + timeout_ms;
        int rc = 0;
        bool refused = false;
        for (;;) {
            long timeout = -1;
            if (deadline >= 0) {
                long long left = deadline - ctl_now_ms();
                timeout = left > 0 ? (long)left : 0;
            }
            zmq_pollitem_t it[2] = { { .socket = sock, .events = ZMQ_POLLIN },
                                     { .socket = mon, .events = ZMQ_POLLIN } };
            rc = zmq_poll(it, 2, timeout);
            if (rc < 0 && zmq_errno() == EINTR)
                continue;
            if (rc <= 0 || (it[0].revents & ZMQ_POLLIN))
                break;
            uint16_t ev = 0;
            uint32_t val = 0;
            if (ctl_monitor_event(mon, &ev, &val) && (ev & CTL_MONITOR_EVENTS) &&
                ctl_handshake_error(endpoint, ev, val, err, errcap)) {
                refused = true;
                break;
            }
        }
        if (refused) {
            /* the same keys would be refused again: no retry */
            zmq_close(mon);
            zmq_close(sock);
            res = CTL_CONN_RESULT_REFUSED;
            break;
        }
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
            zmq_close(mon);
            zmq_close(sock);
            break;
        }
        zmq_close(mon);
        zmq_close(sock);
        if (rc < 0) {
            snprintf(err, errcap, "poll: %s", zmq_strerror(zmq_errno()));
            res = CTL_CONN_RESULT_ERROR;
            break;
        }
    }
    if (res == CTL_CONN_RESULT_TIMEOUT)
        snprintf(err, errcap, "no answer from %s after %d attempt(s) of %.1f s%s", endpoint,
                 retries + 1, timeout_ms / 1000.0,
                 ctl_curve.on ? " (CURVE on: is the daemon listening there?)" : "");
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
