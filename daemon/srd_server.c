/* srd_server.c - ROUTER front end + worker threads (see srd_server.h). */
#include "srd_server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <systemd/sd-daemon.h>

#include "srd_auth.h"
#include "srd_jobs.h"
#include "srd_log.h"

/* A request is [identity, (empty delimiter from REQ peers), body]; workers
 * get and return the same envelope. More frames than this is malformed. */
#define SRD_MAX_FRAMES 4
/* Long enough for the last replies (e.g. to `shutdown`) to leave, short
 * enough that zmq_ctx_term never hangs on a peer that went away. */
#define SRD_FRONT_LINGER_MS 500

typedef struct srd_worker {
    struct srd_server *srv;
    int index;
    void *pipe;        /* front end's PAIR end (front thread only) */
    pthread_t thread;
    bool started;
    bool busy;         /* front end's view */
} srd_worker;

struct srd_server {
    const srd_config *cfg;
    struct stat sock_st;  /* the ipc socket file we bound (to remove only ours) */
    bool have_sock;
    srd_ops *ops;
    void *zctx;
    void *front;
    int wake_fd;
    int n_workers;
    srd_worker *workers;
    bool stopping;
    time_t notified_s;    /* CLOCK_MONOTONIC second of the last STATUS= */
    /* requests waiting for a worker: a ring of pending_cap (config `queue`) */
    struct srd_pending *pending;
    int pending_cap, pending_head, n_pending;
};

typedef struct srd_frames {
    zmq_msg_t m[SRD_MAX_FRAMES];
    int n;          /* frames kept */
    bool too_many;  /* more frames arrived and were discarded */
} srd_frames;

static void srd_frames_close(srd_frames *f)
{
    for (int i = 0; i < f->n; i++)
        zmq_msg_close(&f->m[i]);
    f->n = 0;
}

/* A request waiting for a worker: its frames (owned) and what an error
 * reply needs. */
typedef struct srd_pending {
    srd_frames f;
    int n_env;
    uint64_t id;
} srd_pending;

/* Receive one whole multipart message. -1 on a socket error (EINTR etc). */
static int srd_frames_recv(void *sock, srd_frames *f)
{
    f->n = 0;
    f->too_many = false;
    for (;;) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        if (zmq_msg_recv(&tmp, sock, 0) < 0) {
            zmq_msg_close(&tmp);
            if (f->n == 0)
                return -1;
            /* a part of a multipart message is never lost half-way in
             * libzmq; treat it as the end */
            return 0;
        }
        bool more = zmq_msg_more(&tmp);
        if (f->n < SRD_MAX_FRAMES) {
            f->m[f->n++] = tmp;
        } else {
            f->too_many = true;
            zmq_msg_close(&tmp);
        }
        if (!more)
            return 0;
    }
}

/* Number of envelope frames: the identity, plus REQ's empty delimiter. */
static int srd_frames_envelope(srd_frames *f)
{
    if (f->n >= 3 && zmq_msg_size(&f->m[1]) == 0)
        return 2;
    return 1;
}

/* Send envelope copies then `body`. */
static void srd_send_reply(void *sock, srd_frames *f, int n_env, const void *body, size_t len)
{
    for (int i = 0; i < n_env; i++) {
        zmq_msg_t c;
        zmq_msg_init(&c);
        zmq_msg_copy(&c, &f->m[i]);
        if (zmq_msg_send(&c, sock, ZMQ_SNDMORE) < 0) {
            zmq_msg_close(&c);
            return; /* peer gone: ROUTER drops; nothing to do */
        }
    }
    zmq_send(sock, body, len, 0);
}

/* ---- workers ---------------------------------------------------------------- */

static void *srd_worker_main(void *arg)
{
    srd_worker *w = arg;
    srd_server *srv = w->srv;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://srd-worker-%d", w->index);
    void *sock = zmq_socket(srv->zctx, ZMQ_PAIR);
    int zero = 0;
    msgpack_sbuffer reply;
    msgpack_sbuffer_init(&reply);
    if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(sock, ep) != 0) {
        srd_error("worker %d: cannot connect %s: %s", w->index, ep, zmq_strerror(zmq_errno()));
        goto done;
    }
    for (;;) {
        srd_frames f;
        if (srd_frames_recv(sock, &f) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break; /* context terminated */
        }
        /* A single empty frame is the front end's "quit". */
        if (f.n == 1 && zmq_msg_size(&f.m[0]) == 0) {
            srd_frames_close(&f);
            break;
        }
        int n_env = f.n - 1;
        zmq_msg_t *body = &f.m[f.n - 1];
        sr_proto_request req;
        msgpack_sbuffer_clear(&reply);
        if (srd_ops_decode(srv->ops, zmq_msg_data(body), zmq_msg_size(body), &req, &reply) ==
            SR_PROTO_CODE_OK)
            srd_ops_execute(srv->ops, &req, &reply);
        srd_send_reply(sock, &f, n_env, reply.data, reply.size);
        srd_frames_close(&f);
    }
done:
    msgpack_sbuffer_destroy(&reply);
    if (sock)
        zmq_close(sock);
    return NULL;
}

/* ---- front end -------------------------------------------------------------- */

static void srd_server_stop(srd_server *s, const char *why)
{
    if (s->stopping)
        return;
    s->stopping = true;
    atomic_store(&s->ops->stopping, true);
    srd_info("stopping (%s)", why);
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

static int srd_server_busy(const srd_server *s)
{
    int n = 0;
    for (int i = 0; i < s->n_workers; i++)
        n += s->workers[i].busy;
    return n;
}

/* systemd STATUS= line (a no-op without NOTIFY_SOCKET): at most once a
 * second, as it is called on every request and reply. */
static void srd_server_notify(srd_server *s)
{
    if (s->stopping)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec == s->notified_s)
        return;
    s->notified_s = now.tv_sec;
    char job[256] = "";
    if (s->ops->jobs)
        srd_jobs_describe(s->ops->jobs, job, sizeof job);
    sd_notifyf(0, "STATUS=serving on %s: %d of %d workers busy, %llu requests%s%s",
               s->cfg->endpoint, srd_server_busy(s), s->n_workers,
               (unsigned long long)atomic_load(&s->ops->requests), job[0] ? "; " : "", job);
}

static void srd_front_error(srd_server *s, srd_frames *f, int n_env, uint64_t id,
                            sr_proto_code code, const char *msg, msgpack_sbuffer *reply)
{
    msgpack_sbuffer_clear(reply);
    srd_ops_reply_error(s->ops, reply, id, code, msg);
    srd_send_reply(s->front, f, n_env, reply->data, reply->size);
}

static srd_worker *srd_server_idle_worker(srd_server *s)
{
    for (int i = 0; i < s->n_workers; i++)
        if (!s->workers[i].busy)
            return &s->workers[i];
    return NULL;
}

/* Hand a request's frames to idle worker w. The frames are forwarded as
 * they are; the worker decodes the body again (cheap, bounded) rather than
 * sharing a decoded struct across threads. Copies, so the envelope is still
 * here if the hand-over fails. */
static void srd_server_dispatch(srd_server *s, srd_worker *w, srd_frames *f, int n_env,
                                uint64_t id, msgpack_sbuffer *reply)
{
    bool sent = true;
    for (int k = 0; k < f->n && sent; k++) {
        zmq_msg_t c;
        zmq_msg_init(&c);
        zmq_msg_copy(&c, &f->m[k]);
        if (zmq_msg_send(&c, w->pipe, k + 1 < f->n ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&c);
            sent = false;
        }
    }
    if (!sent) {
        /* Cannot happen with one request in flight per worker (the pipe's
         * high-water mark is far away); never leave a client unanswered. */
        srd_log_set_request(id);
        srd_front_error(s, f, n_env, id, SR_PROTO_CODE_INTERNAL,
                        "could not hand the request to a worker", reply);
        srd_log_set_request(0);
        return;
    }
    w->busy = true;
    atomic_fetch_add(&s->ops->busy_workers, 1);
    srd_server_notify(s);
}

/* Answer every queued request with 429 (the daemon is stopping). */
static void srd_server_drop_pending(srd_server *s, msgpack_sbuffer *reply)
{
    while (s->n_pending > 0) {
        srd_pending *p = &s->pending[s->pending_head];
        srd_log_set_request(p->id);
        srd_front_error(s, &p->f, p->n_env, p->id, SR_PROTO_CODE_BUSY,
                        "the daemon is shutting down", reply);
        srd_log_set_request(0);
        srd_frames_close(&p->f);
        s->pending_head = (s->pending_head + 1) % s->pending_cap;
        s->n_pending--;
    }
    atomic_store(&s->ops->queued_requests, 0);
}

static void srd_front_request(srd_server *s, msgpack_sbuffer *reply)
{
    srd_frames f;
    if (srd_frames_recv(s->front, &f) < 0)
        return;
    if (f.n < 2) { /* ROUTER always prefixes an identity: nothing to answer */
        srd_frames_close(&f);
        return;
    }
    srd_ops_count_request(s->ops);
    int n_env = srd_frames_envelope(&f);
    msgpack_sbuffer_clear(reply);
    if (f.too_many || f.n - n_env != 1) {
        srd_front_error(s, &f, n_env, 0, SR_PROTO_CODE_BAD_REQUEST,
                        "a request is exactly one frame", reply);
        goto done;
    }
    zmq_msg_t *body = &f.m[n_env];
    sr_proto_request req;
    if (srd_ops_decode(s->ops, zmq_msg_data(body), zmq_msg_size(body), &req, reply) !=
        SR_PROTO_CODE_OK) {
        srd_send_reply(s->front, &f, n_env, reply->data, reply->size);
        goto done;
    }
    /* quick ops answer on the front end, so they work with every worker busy
     * (jobs is what `seqrecctl train --wait` polls during a long evaluate) */
    if (req.op == SR_PROTO_OP_STATUS || req.op == SR_PROTO_OP_SHUTDOWN ||
        req.op == SR_PROTO_OP_JOBS || req.op == SR_PROTO_OP_CANCEL) {
        srd_ops_execute(s->ops, &req, reply);
        srd_send_reply(s->front, &f, n_env, reply->data, reply->size);
        if (req.op == SR_PROTO_OP_SHUTDOWN)
            srd_server_stop(s, "shutdown request");
        goto done;
    }
    if (s->stopping) {
        srd_log_set_request(req.id);
        srd_front_error(s, &f, n_env, req.id, SR_PROTO_CODE_BUSY, "the daemon is shutting down",
                        reply);
        srd_log_set_request(0);
        goto done;
    }
    srd_worker *w = srd_server_idle_worker(s);
    if (w) {
        srd_server_dispatch(s, w, &f, n_env, req.id, reply);
        goto done;
    }
    if (s->n_pending < s->pending_cap) {
        /* every worker busy: wait in the bounded queue (the frames move in) */
        srd_pending *p = &s->pending[(s->pending_head + s->n_pending) % s->pending_cap];
        p->f = f;
        p->n_env = n_env;
        p->id = req.id;
        s->n_pending++;
        atomic_store(&s->ops->queued_requests, s->n_pending);
        f.n = 0; /* owned by the queue now */
        goto done;
    }
    srd_log_set_request(req.id);
    char msg[160];
    snprintf(msg, sizeof msg, "all %d workers are busy and %d requests wait; retry later",
             s->n_workers, s->n_pending);
    srd_front_error(s, &f, n_env, req.id, SR_PROTO_CODE_BUSY, msg, reply);
    srd_log_set_request(0);
done:
    srd_frames_close(&f);
}

/* Forward a worker's reply to the client. */
static void srd_front_worker_reply(srd_server *s, srd_worker *w, msgpack_sbuffer *reply)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, w->pipe, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        bool more = zmq_msg_more(&m);
        if (zmq_msg_send(&m, s->front, more ? ZMQ_SNDMORE : 0) < 0)
            zmq_msg_close(&m);
        if (!more)
            break;
    }
    w->busy = false;
    atomic_fetch_sub(&s->ops->busy_workers, 1);
    /* the oldest waiting request takes the worker (a failed hand-over has
     * been answered with 500: try the next one) */
    while (!w->busy && s->n_pending > 0 && !s->stopping) {
        srd_pending *p = &s->pending[s->pending_head];
        s->pending_head = (s->pending_head + 1) % s->pending_cap;
        s->n_pending--;
        atomic_store(&s->ops->queued_requests, s->n_pending);
        srd_server_dispatch(s, w, &p->f, p->n_env, p->id, reply);
        srd_frames_close(&p->f);
    }
    srd_server_notify(s);
}

sr_err srd_server_run(srd_server *s)
{
    sr_err rc = SR_OK;
    msgpack_sbuffer reply;
    msgpack_sbuffer_init(&reply);
    int n_items = s->n_workers + 2;
    zmq_pollitem_t *items = calloc((size_t)n_items, sizeof *items);
    if (!items) {
        msgpack_sbuffer_destroy(&reply);
        return sr_errorf(SR_ERR_NOMEM, "server: out of memory");
    }
    for (;;) {
        if (s->stopping)
            srd_server_drop_pending(s, &reply);
        if (s->stopping && srd_server_busy(s) == 0)
            break;
        items[0] = (zmq_pollitem_t){ .socket = s->front, .events = ZMQ_POLLIN };
        for (int i = 0; i < s->n_workers; i++)
            items[1 + i] = (zmq_pollitem_t){ .socket = s->workers[i].pipe, .events = ZMQ_POLLIN };
        int n = s->n_workers + 1;
        if (s->wake_fd >= 0)
            items[n++] = (zmq_pollitem_t){ .socket = NULL, .fd = s->wake_fd, .events = ZMQ_POLLIN };
        /* wake at least once a second so STATUS= follows a running job */
        if (zmq_poll(items, n, 1000) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            rc = sr_errorf(SR_ERR_IO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
            srd_server_drop_pending(s, &reply); /* never leave a queued client unanswered */
            break;
        }
        srd_server_notify(s);
        if (s->wake_fd >= 0 && (items[s->n_workers + 1].revents & ZMQ_POLLIN)) {
            char buf[16];
            while (read(s->wake_fd, buf, sizeof buf) > 0) {
            }
            srd_server_stop(s, "signal");
        }
        for (int i = 0; i < s->n_workers; i++)
            if (items[1 + i].revents & ZMQ_POLLIN)
                srd_front_worker_reply(s, &s->workers[i], &reply);
        if (items[0].revents & ZMQ_POLLIN)
            srd_front_request(s, &reply);
    }
    free(items);
    msgpack_sbuffer_destroy(&reply);
    return rc;
}

/* ---- set-up / tear-down ------------------------------------------------------ */

sr_err srd_server_new(const srd_config *cfg, srd_ops *ops, int wake_fd, srd_server **out)
{
    sr_err rc = SR_OK;
    *out = NULL;
    srd_server *s = calloc(1, sizeof *s);
    if (!s)
        return sr_errorf(SR_ERR_NOMEM, "server: out of memory");
    s->cfg = cfg;
    s->ops = ops;
    s->wake_fd = wake_fd;
    s->n_workers = (int)cfg->threads;
    s->pending_cap = (int)cfg->queue;
    if (s->pending_cap > 0 && !(s->pending = calloc((size_t)s->pending_cap, sizeof *s->pending))) {
        int cap = s->pending_cap;
        free(s);
        return sr_errorf(SR_ERR_NOMEM, "server: out of memory for a queue of %d", cap);
    }

    /* Threads created here (ZeroMQ's I/O threads, our workers) inherit this
     * mask: SIGTERM/SIGINT then always run their handler on the main thread. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);

    s->zctx = zmq_ctx_new();
    if (!s->zctx) {
        rc = sr_errorf(SR_ERR_INTERNAL, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        goto done;
    }
    s->front = zmq_socket(s->zctx, ZMQ_ROUTER);
    int64_t maxmsg = cfg->max_msg_bytes;
    int linger = SRD_FRONT_LINGER_MS;
    int ipv6 = strchr(cfg->endpoint, '[') != NULL;
    if (!s->front || zmq_setsockopt(s->front, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(s->front, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(s->front, ZMQ_IPV6, &ipv6, sizeof ipv6) != 0) {
        rc = sr_errorf(SR_ERR_INTERNAL, "front socket: %s", zmq_strerror(zmq_errno()));
        goto done;
    }
    /* CURVE (srd_auth.h): the ZAP handler is bound before the front socket */
    if ((rc = srd_auth_start(s->zctx, s->front)) != SR_OK)
        goto done;
    if (zmq_bind(s->front, cfg->endpoint) != 0) {
        rc = sr_errorf(SR_ERR_IO, "bind %s: %s", cfg->endpoint, zmq_strerror(zmq_errno()));
        goto done;
    }
    if (strncmp(cfg->endpoint, "ipc://", 6) == 0) {
        if (chmod(cfg->endpoint + 6, 0660) != 0)
            srd_warn("chmod 0660 %s: %s", cfg->endpoint + 6, strerror(errno));
        s->have_sock = stat(cfg->endpoint + 6, &s->sock_st) == 0;
    }

    s->workers = calloc((size_t)s->n_workers, sizeof *s->workers);
    if (!s->workers) {
        rc = sr_errorf(SR_ERR_NOMEM, "server: out of memory");
        goto done;
    }
    for (int i = 0; i < s->n_workers; i++) {
        srd_worker *w = &s->workers[i];
        char ep[64];
        int zero = 0;
        w->srv = s;
        w->index = i;
        snprintf(ep, sizeof ep, "inproc://srd-worker-%d", i);
        w->pipe = zmq_socket(s->zctx, ZMQ_PAIR);
        if (!w->pipe || zmq_setsockopt(w->pipe, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
            zmq_bind(w->pipe, ep) != 0) {
            rc = sr_errorf(SR_ERR_INTERNAL, "worker %d pipe: %s", i, zmq_strerror(zmq_errno()));
            goto done;
        }
        if (pthread_create(&w->thread, NULL, srd_worker_main, w) != 0) {
            rc = sr_errorf(SR_ERR_INTERNAL, "worker %d: pthread_create failed", i);
            goto done;
        }
        w->started = true;
    }
done:
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != SR_OK) {
        srd_server_free(&s);
        return rc;
    }
    srd_info("listening on %s with %d worker(s), a queue of %d, max message %lld bytes",
             cfg->endpoint, s->n_workers, s->pending_cap, (long long)cfg->max_msg_bytes);
    *out = s;
    return SR_OK;
}

void srd_server_free(srd_server **sp)
{
    srd_server *s = sp ? *sp : NULL;
    if (!s)
        return;
    for (int i = 0; i < s->n_pending; i++)
        srd_frames_close(&s->pending[(s->pending_head + i) % s->pending_cap].f);
    free(s->pending);
    /* Workers are idle here (run() waits for them) or were never given work:
     * an empty frame makes each leave its loop. */
    for (int i = 0; s->workers && i < s->n_workers; i++) {
        srd_worker *w = &s->workers[i];
        if (w->started) {
            zmq_send(w->pipe, "", 0, 0);
            pthread_join(w->thread, NULL);
        }
        if (w->pipe)
            zmq_close(w->pipe);
    }
    free(s->workers);
    if (s->front)
        zmq_close(s->front);
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    srd_auth_stop(); /* the ZAP thread ended with the context */
    /* libzmq leaves the ipc socket file behind. Remove it only if it is still
     * the one we bound (a newer daemon may have taken the path over). */
    struct stat st;
    if (s->have_sock && stat(s->cfg->endpoint + 6, &st) == 0 && st.st_ino == s->sock_st.st_ino &&
        st.st_dev == s->sock_st.st_dev)
        unlink(s->cfg->endpoint + 6);
    free(s);
    *sp = NULL;
}
