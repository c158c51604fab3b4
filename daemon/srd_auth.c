/* srd_auth.c - CURVE keys and the ZAP handler (see srd_auth.h). */
#include "srd_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "srd_log.h"

#define SRD_ZAP_ENDPOINT "inproc://zeromq.zap.01" /* fixed by RFC 27 */
/* A ZAP request is version, request id, domain, address, routing id,
 * mechanism, then the credentials (CURVE: one frame, the client's public
 * key). More frames than this are discarded and the request refused. */
#define SRD_ZAP_FRAMES 8
/* A client that keeps retrying with a refused key (libzmq reconnects every
 * 100 ms) is logged once per this many seconds, with the count in between. */
#define SRD_ZAP_REPEAT_S 60

static const char srd_z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

static struct {
    pthread_mutex_t lock;       /* guards clients (ZAP thread vs reloads) */
    bool enabled;
    uint8_t pub[SRD_AUTH_KEY_BYTES];
    uint8_t sec[SRD_AUTH_KEY_BYTES]; /* wiped once handed to the front socket */
    srd_auth_clients *clients;
    pthread_t thread;
    bool started;
} srd_auth = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Overwrite secret bytes; volatile so the stores are not optimised away. */
static void srd_auth_wipe(void *p, size_t n)
{
    volatile uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = 0;
}

void srd_auth_key_prefix(const uint8_t key[SRD_AUTH_KEY_BYTES], char out[9])
{
    char z[SRD_AUTH_Z85_LEN + 1];
    if (!zmq_z85_encode(z, key, SRD_AUTH_KEY_BYTES))
        memcpy(z, "????????", 9);
    memcpy(out, z, 8);
    out[8] = '\0';
}

/* ---- key file text ------------------------------------------------------------ */

/* Decode one 40-character Z85 key. Decoding then encoding again must give
 * the same text: that refuses characters outside the alphabet and groups
 * whose value overflows 32 bits, which zmq_z85_decode does not all check. */
static bool srd_auth_z85_key(const char *s, size_t len, uint8_t out[SRD_AUTH_KEY_BYTES])
{
    if (len != SRD_AUTH_Z85_LEN)
        return false;
    char text[SRD_AUTH_Z85_LEN + 1], again[SRD_AUTH_Z85_LEN + 1];
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0' || !strchr(srd_z85_chars, s[i]))
            return false;
        text[i] = s[i];
    }
    text[len] = '\0';
    if (!zmq_z85_decode(out, text) || !zmq_z85_encode(again, out, SRD_AUTH_KEY_BYTES))
        return false;
    return memcmp(again, text, SRD_AUTH_Z85_LEN) == 0;
}

typedef enum srd_key_kind {
    SRD_KEY_KIND_NONE = 0, /* blank or comment */
    SRD_KEY_KIND_BARE,     /* just a key */
    SRD_KEY_KIND_PUBLIC,
    SRD_KEY_KIND_SECRET
} srd_key_kind;

static bool srd_auth_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Parse one line of a key file. A bare key is exactly 40 Z85 characters;
 * '#' starts a comment only at the start of a line ('#' and '=' are Z85
 * characters, but no key starts with '#': a 4-byte group's first character
 * is at most index 82 of 85). Anything else must be "public = KEY" or
 * "secret = KEY". false when the line is malformed (*why says how). */
static bool srd_auth_line(const char *p, size_t n, srd_key_kind *kind,
                          uint8_t key[SRD_AUTH_KEY_BYTES], const char **why)
{
    while (n > 0 && srd_auth_space(*p))
        p++, n--;
    while (n > 0 && srd_auth_space(p[n - 1]))
        n--;
    *kind = SRD_KEY_KIND_NONE;
    if (n == SRD_AUTH_Z85_LEN && srd_auth_z85_key(p, n, key)) {
        *kind = SRD_KEY_KIND_BARE;
        return true;
    }
    if (n == 0 || p[0] == '#')
        return true;
    static const struct {
        const char *name;
        srd_key_kind kind;
    } names[] = { { "public", SRD_KEY_KIND_PUBLIC }, { "secret", SRD_KEY_KIND_SECRET } };
    for (size_t i = 0; i < SR_COUNTOF(names); i++) {
        size_t k = strlen(names[i].name);
        if (n <= k || memcmp(p, names[i].name, k) != 0)
            continue;
        const char *v = p + k;
        size_t m = n - k;
        while (m > 0 && srd_auth_space(*v))
            v++, m--;
        if (m == 0 || *v != '=')
            continue;
        v++, m--;
        while (m > 0 && srd_auth_space(*v))
            v++, m--;
        if (!srd_auth_z85_key(v, m, key)) {
            *why = m == SRD_AUTH_Z85_LEN ? "not a valid Z85 key"
                                         : "a key is 40 Z85 characters";
            return false;
        }
        *kind = names[i].kind;
        return true;
    }
    *why = "expected \"public = KEY\", \"secret = KEY\", a bare 40-character key or a # comment";
    return false;
}

/* The lines of a key file's text, one key line at a time. */
typedef struct srd_key_lines {
    const char *path;   /* for messages */
    const char *p, *end;
    int line;           /* number of the line last read */
} srd_key_lines;

/* The next line: its kind and key (kind NONE for blank and comment lines).
 * false at the end of the text, or for a malformed line, with *rc set
 * naming path:line. */
static bool srd_key_lines_next(srd_key_lines *it, srd_key_kind *kind,
                               uint8_t key[SRD_AUTH_KEY_BYTES], sr_err *rc)
{
    if (it->p >= it->end)
        return false;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    size_t n = nl ? (size_t)(nl - it->p) : (size_t)(it->end - it->p);
    const char *why = "";
    it->line++;
    bool ok = srd_auth_line(it->p, n, kind, key, &why);
    it->p = nl ? nl + 1 : it->end;
    if (!ok)
        *rc = sr_errorf(SR_ERR_FORMAT, "%s:%d: %s", it->path, it->line, why);
    return ok;
}

/* Read a whole small text file. `secret`: refuse one that group or others
 * may access. *out is NUL-terminated; a NUL inside is an error. */
static sr_err srd_auth_slurp(const char *path, size_t max, bool secret, char **out, size_t *len)
{
    sr_err rc = SR_OK;
    char *buf = NULL;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sr_errorf(SR_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = sr_errorf(SR_ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = sr_errorf(SR_ERR_ARG, "%s: not a regular file", path);
        goto done;
    }
    /* The same rule as ssh for private keys: nobody but the owner. */
    if (secret && (st.st_mode & 077) != 0) {
        rc = sr_errorf(SR_ERR_ARG,
                       "%s: the secret key file is accessible by group or others (mode %04o); "
                       "make it private: chmod 600 %s",
                       path, (unsigned)(st.st_mode & 07777), path);
        goto done;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        rc = sr_errorf(SR_ERR_LIMIT, "%s: %lld bytes, more than the %zu a key file may have",
                       path, (long long)st.st_size, max);
        goto done;
    }
    size_t cap = (size_t)st.st_size;
    buf = malloc(cap + 1);
    if (!buf) {
        rc = sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t k = read(fd, buf + got, cap - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = sr_errorf(SR_ERR_IO, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (k == 0)
            break; /* shrank while we read: use what is there */
        got += (size_t)k;
    }
    buf[got] = '\0';
    if (memchr(buf, '\0', got)) {
        rc = sr_errorf(SR_ERR_FORMAT, "%s: a NUL byte: not a text key file", path);
        goto done;
    }
    *out = buf;
    *len = got;
    buf = NULL;
done:
    if (buf) {
        srd_auth_wipe(buf, (size_t)st.st_size);
        free(buf);
    }
    close(fd);
    return rc;
}

sr_err srd_auth_read_secret(const char *path, uint8_t pub[SRD_AUTH_KEY_BYTES],
                            uint8_t sec[SRD_AUTH_KEY_BYTES])
{
    char *text = NULL;
    size_t len = 0;
    sr_err rc = srd_auth_slurp(path, SRD_AUTH_KEY_FILE_MAX, true, &text, &len);
    if (rc != SR_OK)
        return rc;
    bool have_pub = false, have_sec = false;
    uint8_t file_pub[SRD_AUTH_KEY_BYTES], key[SRD_AUTH_KEY_BYTES];
    srd_key_lines it = { path, text, text + len, 0 };
    srd_key_kind kind;
    while (rc == SR_OK && srd_key_lines_next(&it, &kind, key, &rc)) {
        if (kind == SRD_KEY_KIND_BARE) {
            rc = sr_errorf(SR_ERR_FORMAT, "%s:%d: a bare key; a key file has \"secret = KEY\" "
                           "(and \"public = KEY\") lines (seqrecctl keygen)", path, it.line);
        } else if ((kind == SRD_KEY_KIND_SECRET && have_sec) ||
                   (kind == SRD_KEY_KIND_PUBLIC && have_pub)) {
            rc = sr_errorf(SR_ERR_FORMAT, "%s:%d: a second %s key", path, it.line,
                           kind == SRD_KEY_KIND_SECRET ? "secret" : "public");
        } else if (kind == SRD_KEY_KIND_SECRET) {
            memcpy(sec, key, SRD_AUTH_KEY_BYTES);
            have_sec = true;
        } else if (kind == SRD_KEY_KIND_PUBLIC) {
            memcpy(file_pub, key, SRD_AUTH_KEY_BYTES);
            have_pub = true;
        }
    }
    srd_auth_wipe(key, sizeof key);
    srd_auth_wipe(text, len);
    free(text);
    if (rc != SR_OK)
        goto fail;
    if (!have_sec) {
        rc = sr_errorf(SR_ERR_FORMAT, "%s: no \"secret = KEY\" line (is it a .pub file? the "
                       "daemon needs the file seqrecctl keygen wrote without .pub)", path);
        goto fail;
    }
    char sec_z[SRD_AUTH_Z85_LEN + 1], pub_z[SRD_AUTH_Z85_LEN + 1];
    bool ok = zmq_z85_encode(sec_z, sec, SRD_AUTH_KEY_BYTES) && zmq_curve_public(pub_z, sec_z) == 0 &&
              zmq_z85_decode(pub, pub_z);
    srd_auth_wipe(sec_z, sizeof sec_z);
    if (!ok) {
        rc = sr_errorf(SR_ERR_INTERNAL, "%s: cannot derive the public key: %s", path,
                       zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (have_pub && memcmp(pub, file_pub, SRD_AUTH_KEY_BYTES) != 0) {
        rc = sr_errorf(SR_ERR_FORMAT, "%s: the public key does not belong to the secret key", path);
        goto fail;
    }
    return SR_OK;
fail:
    srd_auth_wipe(sec, SRD_AUTH_KEY_BYTES);
    return rc;
}

static int srd_auth_key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, SRD_AUTH_KEY_BYTES);
}

void srd_auth_clients_free(srd_auth_clients **c)
{
    if (!c || !*c)
        return;
    free((*c)->keys);
    free(*c);
    *c = NULL;
}

sr_err srd_auth_clients_read(const char *path, srd_auth_clients **out)
{
    *out = NULL;
    size_t plen = strlen(path);
    if (plen >= sizeof((srd_auth_clients *)0)->path)
        return sr_errorf(SR_ERR_ARG, "curve_clients: path too long");
    char *text = NULL;
    size_t len = 0;
    sr_err rc = srd_auth_slurp(path, SRD_AUTH_CLIENTS_FILE_MAX, false, &text, &len);
    if (rc != SR_OK)
        return rc;
    srd_auth_clients *c = calloc(1, sizeof *c);
    /* Every key takes at least 41 bytes of text: that bounds the count. */
    size_t cap = len / (SRD_AUTH_Z85_LEN + 1) + 1;
    if (!c || !(c->keys = malloc(cap * sizeof *c->keys))) {
        rc = sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(c->path, path, plen + 1);
    srd_key_lines it = { path, text, text + len, 0 };
    srd_key_kind kind;
    uint8_t key[SRD_AUTH_KEY_BYTES];
    while (rc == SR_OK && srd_key_lines_next(&it, &kind, key, &rc)) {
        if (kind == SRD_KEY_KIND_SECRET) {
            /* someone appended a whole key file: refuse, and say so loudly,
             * since that secret key is now exposed to whoever reads this */
            rc = sr_errorf(SR_ERR_FORMAT, "%s:%d: a secret key; list only public keys (append "
                           "the client's FILE.pub, never the key file itself)", path, it.line);
        } else if (kind != SRD_KEY_KIND_NONE) {
            SR_ASSERT(c->n < cap);
            memcpy(c->keys[c->n++], key, SRD_AUTH_KEY_BYTES);
        }
    }
    srd_auth_wipe(key, sizeof key);
    if (rc == SR_OK && c->n == 0)
        rc = sr_errorf(SR_ERR_EMPTY, "%s: no client public key (add the clients' .pub files: "
                       "cat client.key.pub >> %s)", path, path);
    if (rc != SR_OK)
        goto done;
    qsort(c->keys, c->n, sizeof *c->keys, srd_auth_key_cmp);
    size_t w = 0;
    for (size_t i = 0; i < c->n; i++)
        if (w == 0 || memcmp(c->keys[w - 1], c->keys[i], SRD_AUTH_KEY_BYTES) != 0)
            memmove(c->keys[w++], c->keys[i], SRD_AUTH_KEY_BYTES);
    c->n = w;
    *out = c;
    c = NULL;
done:
    srd_auth_clients_free(&c);
    free(text);
    return rc;
}

bool srd_auth_clients_has(const srd_auth_clients *c, const uint8_t key[SRD_AUTH_KEY_BYTES])
{
    return c && c->n && bsearch(key, c->keys, c->n, sizeof *c->keys, srd_auth_key_cmp) != NULL;
}

/* ---- process state -------------------------------------------------------------- */

sr_err srd_auth_init(const srd_config *cfg)
{
    if (cfg->curve_secret_key[0] == '\0')
        return SR_OK;
    SR_ASSERT(!srd_auth.enabled);
    if (cfg->curve_clients[0] == '\0')
        return sr_errorf(SR_ERR_ARG, "curve_secret_key is set but curve_clients is not: "
                         "list the allowed client public keys in a file");
    sr_err rc = srd_auth_read_secret(cfg->curve_secret_key, srd_auth.pub, srd_auth.sec);
    if (rc != SR_OK)
        return rc;
    srd_auth_clients *c = NULL;
    rc = srd_auth_clients_read(cfg->curve_clients, &c);
    if (rc != SR_OK) {
        srd_auth_wipe(srd_auth.sec, sizeof srd_auth.sec);
        return rc;
    }
    pthread_mutex_lock(&srd_auth.lock);
    srd_auth_clients_free(&srd_auth.clients);
    srd_auth.clients = c;
    pthread_mutex_unlock(&srd_auth.lock);
    srd_auth.enabled = true;
    char pfx[9];
    srd_auth_key_prefix(srd_auth.pub, pfx);
    srd_info("CURVE on: server key %s... (%s), %zu allowed client key(s) in %s", pfx,
             cfg->curve_secret_key, c->n, cfg->curve_clients);
    return SR_OK;
}

bool srd_auth_enabled(void)
{
    return srd_auth.enabled;
}

void srd_auth_clients_path(char *out, size_t cap)
{
    pthread_mutex_lock(&srd_auth.lock);
    snprintf(out, cap, "%s", srd_auth.enabled && srd_auth.clients ? srd_auth.clients->path : "");
    pthread_mutex_unlock(&srd_auth.lock);
}

void srd_auth_clients_install(srd_auth_clients **c, size_t *added, size_t *removed)
{
    pthread_mutex_lock(&srd_auth.lock);
    srd_auth_clients *old = srd_auth.clients;
    size_t a = 0, r = 0;
    for (size_t i = 0; *c && i < (*c)->n; i++)
        a += !srd_auth_clients_has(old, (*c)->keys[i]);
    for (size_t i = 0; old && i < old->n; i++)
        r += !srd_auth_clients_has(*c, old->keys[i]);
    srd_auth.clients = *c;
    *c = old;
    pthread_mutex_unlock(&srd_auth.lock);
    *added = a;
    *removed = r;
}

/* Is a ZAP frame exactly the text s? */
static bool srd_zap_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

typedef struct srd_zap_log {
    uint8_t key[SRD_AUTH_KEY_BYTES];
    struct timespec at;
    bool have;
    uint64_t repeats;
} srd_zap_log;

/* Log a refused key at warn level, once per SRD_ZAP_REPEAT_S for the same
 * key in a row (a client retrying in a loop), with the count in between. */
static void srd_zap_log_refusal(srd_zap_log *l, const uint8_t key[SRD_AUTH_KEY_BYTES],
                                zmq_msg_t *address)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    char pfx[9], addr[64];
    srd_auth_key_prefix(key, pfx);
    size_t an = zmq_msg_size(address);
    if (an >= sizeof addr)
        an = sizeof addr - 1;
    memcpy(addr, zmq_msg_data(address), an);
    addr[an] = '\0';
    for (size_t i = 0; i < an; i++)
        if ((unsigned char)addr[i] < 0x20 || (unsigned char)addr[i] >= 0x7f)
            addr[i] = '?';
    if (l->have && memcmp(l->key, key, SRD_AUTH_KEY_BYTES) == 0 &&
        now.tv_sec - l->at.tv_sec < SRD_ZAP_REPEAT_S) {
        l->repeats++;
        srd_debug("CURVE: refused client key %s... from %s again", pfx, addr);
        return;
    }
    if (l->have && l->repeats > 0) {
        char old[9];
        srd_auth_key_prefix(l->key, old);
        srd_warn("CURVE: client key %s... was refused %llu more time(s)", old,
                 (unsigned long long)l->repeats);
    }
    srd_warn("CURVE: refused client key %s... from %s: not in curve_clients", pfx,
             addr[0] ? addr : "?");
    memcpy(l->key, key, SRD_AUTH_KEY_BYTES);
    l->at = now;
    l->have = true;
    l->repeats = 0;
}

/* The ZAP handler (RFC 27): one reply per request, "200" for a CURVE client
 * whose public key is allowed, "400" for anything else. Ends when the
 * context is terminated (ETERM). */
static void *srd_zap_main(void *arg)
{
    void *sock = arg;
    srd_zap_log log = { .have = false };
    for (;;) {
        zmq_msg_t f[SRD_ZAP_FRAMES];
        int n = 0;
        bool more = true, dead = false;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, 0) < 0) {
                zmq_msg_close(&m);
                if (zmq_errno() == EINTR)
                    continue;
                dead = true; /* ETERM: the daemon is stopping */
                break;
            }
            more = zmq_msg_more(&m);
            if (n < SRD_ZAP_FRAMES)
                f[n++] = m;
            else
                zmq_msg_close(&m);
        }
        if (dead) {
            for (int i = 0; i < n; i++)
                zmq_msg_close(&f[i]);
            break;
        }
        const char *status = "400", *text = "not allowed";
        char user[SRD_AUTH_Z85_LEN + 1] = "";
        if (n == 7 && srd_zap_is(&f[0], "1.0") && srd_zap_is(&f[5], "CURVE") &&
            zmq_msg_size(&f[6]) == SRD_AUTH_KEY_BYTES) {
            const uint8_t *key = zmq_msg_data(&f[6]);
            pthread_mutex_lock(&srd_auth.lock);
            bool ok = srd_auth_clients_has(srd_auth.clients, key);
            pthread_mutex_unlock(&srd_auth.lock);
            if (ok) {
                status = "200";
                text = "OK";
                /* the User-Id property of the client's messages */
                if (!zmq_z85_encode(user, key, SRD_AUTH_KEY_BYTES))
                    user[0] = '\0';
            } else {
                srd_zap_log_refusal(&log, key, &f[3]);
            }
        } else {
            srd_warn("ZAP: refused a request that is not CURVE 1.0 (%d frames)", n);
        }
        /* version, request id, status code, status text, user id, metadata */
        zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
        if (n >= 2)
            zmq_send(sock, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
        else
            zmq_send(sock, "", 0, ZMQ_SNDMORE);
        zmq_send(sock, status, 3, ZMQ_SNDMORE);
        zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
        zmq_send(sock, "", 0, 0);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
    }
    zmq_close(sock);
    return NULL;
}

sr_err srd_auth_start(void *zctx, void *front)
{
    if (!srd_auth.enabled)
        return SR_OK;
    SR_ASSERT(!srd_auth.started);
    sr_err rc = SR_OK;
    int zero = 0, one = 1;
    /* Bound before the front socket binds, so that no client can handshake
     * while there is no handler (libzmq would then admit every key). */
    void *zap = zmq_socket(zctx, ZMQ_REP);
    if (!zap || zmq_setsockopt(zap, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(zap, SRD_ZAP_ENDPOINT) != 0) {
        rc = sr_errorf(SR_ERR_INTERNAL, "ZAP handler %s: %s", SRD_ZAP_ENDPOINT,
                       zmq_strerror(zmq_errno()));
        goto done;
    }
    if (zmq_setsockopt(front, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(front, ZMQ_CURVE_SECRETKEY, srd_auth.sec, SRD_AUTH_KEY_BYTES) != 0) {
        rc = sr_errorf(SR_ERR_INTERNAL, "front socket: CURVE: %s", zmq_strerror(zmq_errno()));
        goto done;
    }
    if (pthread_create(&srd_auth.thread, NULL, srd_zap_main, zap) != 0) {
        rc = sr_errorf(SR_ERR_INTERNAL, "ZAP handler: pthread_create failed");
        goto done;
    }
    zap = NULL; /* the thread's now */
    srd_auth.started = true;
done:
    /* libzmq keeps its own copy: ours is not needed any more */
    srd_auth_wipe(srd_auth.sec, sizeof srd_auth.sec);
    if (zap)
        zmq_close(zap);
    return rc;
}

void srd_auth_stop(void)
{
    if (srd_auth.started) {
        pthread_join(srd_auth.thread, NULL);
        srd_auth.started = false;
    }
    srd_auth_wipe(srd_auth.sec, sizeof srd_auth.sec);
    pthread_mutex_lock(&srd_auth.lock);
    srd_auth_clients_free(&srd_auth.clients);
    pthread_mutex_unlock(&srd_auth.lock);
    srd_auth.enabled = false;
}
