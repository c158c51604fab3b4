/* bench_load.c - load generator for seqrecd's `recommend` op (a benchmark,
 * never a test; results in docs/benchmarks.md, driven by bench/load.sh).
 *
 * Two modes:
 *  - closed loop (no --rate): N client threads, each with its own DEALER
 *    socket, send one request, wait for its reply, repeat. Gives the
 *    throughput the daemon sustains with N outstanding requests.
 *  - open loop (--rate R): the N threads together send R requests/s on a
 *    fixed schedule (each thread every N/R s, threads staggered), whatever
 *    the replies do; a thread may have many requests in flight (DEALER) and
 *    matches replies to requests by their id. Latency is measured from each
 *    request's *scheduled* send time, so a daemon (or a client) that falls
 *    behind shows up in the percentiles instead of silently lowering the
 *    offered load ("coordinated omission").
 *
 * Sessions come from a text file, one per line: track ids separated by
 * blanks, a ":s" suffix marks a skipped play ("t_a t_b:s t_c"); '#' starts a
 * comment line. The client is cheap on purpose (it shares the cores with the
 * daemon): every request frame is encoded once before the run, a send
 * patches the request id into a per-thread copy, replies are read with a
 * small non-allocating MessagePack scanner, and latencies go into a
 * per-thread log-linear histogram (7 bits of sub-bucket: <= 0.4% relative
 * error from 128 ns to 17 s; the exact maximum is kept too). Nothing is
 * allocated by this program in the request loop (libzmq allocates its own
 * message buffers).
 *
 * Percentiles are over OK replies; error replies are counted by code (429
 * "busy" separately) and unanswered requests (no reply within --timeout-ms,
 * or still pending at the end) are counted, never dropped silently.
 *
 * usage: bench_load --endpoint EP --sessions FILE [--model NAME] [--clients N]
 *                   [--rate R] [--duration S] [--warmup S] [--k K]
 *                   [--exclude skipped|played|none] [--batch B]
 *                   [--max-frames N] [--timeout-ms MS] [--pid PID]
 *                   [--label TEXT] [--json]
 */
#define _GNU_SOURCE /* ppoll, PR_SET_TIMERSLACK */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sr_proto.h"

/* ---- limits and constants ---------------------------------------------------- */

#define BL_MAX_CLIENTS 1024
#define BL_MAX_FILE (1024L * 1024L * 1024L) /* sessions file: 1 GiB at most */
#define BL_DEFAULT_MAX_FRAMES 10000u
#define BL_RING (1u << 16)                  /* requests in flight per thread (power of 2) */
#define BL_CODES 600                        /* error codes counted one by one: 0..599 */

/* Request ids: bit 52 set (so msgpack always writes them as 0xcf + 8 bytes,
 * and they stay exact in JSON doubles), thread index in bits 40..51,
 * sequence number in bits 0..39. */
#define BL_ID_BASE (UINT64_C(1) << 52)
#define BL_ID_SEQ_MASK ((UINT64_C(1) << 40) - 1)
#define BL_ID_SENTINEL UINT64_C(0x000F5EC0BE4C11D0)  /* encoded once, then found and patched */

/* Histogram: values in ns. v < 128 -> bucket v; else with m = index of the
 * highest set bit, shift = m - 7, bucket (shift + 1) * 128 + (v >> shift) - 128,
 * width 2^shift against a lower bound >= 128 * 2^shift. 27 octaves above
 * the first 128 ns reach 2^34 ns (17 s); larger values land in the last
 * bucket (the exact maximum is kept apart). */
#define BL_SUB_BITS 7
#define BL_SUB (1u << BL_SUB_BITS)
#define BL_HIST_N (28u * BL_SUB)

static int64_t bl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void bl_sleep_until(int64_t t_ns)
{
    struct timespec ts = { (time_t)(t_ns / 1000000000), (long)(t_ns % 1000000000) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static uint32_t bl_hist_index(uint64_t v)
{
    if (v < BL_SUB)
        return (uint32_t)v;
    int m = 63 - __builtin_clzll(v);
    int shift = m - BL_SUB_BITS;
    uint64_t idx = (uint64_t)(shift + 1) * BL_SUB + (v >> shift) - BL_SUB;
    return idx < BL_HIST_N ? (uint32_t)idx : BL_HIST_N - 1;
}

/* Middle of bucket i (the value reported for a percentile). */
static double bl_hist_value(uint32_t i)
{
    if (i < BL_SUB)
        return (double)i;
    uint32_t shift = i / BL_SUB - 1;
    uint64_t lo = (uint64_t)(i % BL_SUB + BL_SUB) << shift;
    return (double)lo + (double)(UINT64_C(1) << shift) / 2.0;
}

/* ---- options ----------------------------------------------------------------- */

typedef struct bl_opts {
    const char *endpoint;
    const char *model;      /* "" = the daemon's default model */
    const char *sessions_path;
    const char *exclude;    /* NULL = daemon default */
    const char *label;
    int clients;
    double rate;            /* 0 = closed loop */
    double duration, warmup;
    unsigned k;             /* 0 = daemon default */
    unsigned batch;         /* 0 = single-session form; else B sessions per request */
    unsigned max_frames;
    int timeout_ms;
    int backoff_us;         /* closed loop: pause after a 429 before the next request */
    long pid;               /* the daemon's pid for CPU and memory figures; 0 = none */
    bool json;
} bl_opts;

static void bl_usage(FILE *f)
{
    fprintf(f,
            "usage: bench_load --endpoint EP --sessions FILE [options]\n"
            "  --model NAME      model to ask (default: the daemon's default model)\n"
            "  --clients N       client threads, one DEALER socket each (default 1)\n"
            "  --rate R          open loop: R requests/s in total on a fixed schedule;\n"
            "                    latency from the scheduled send time (default: closed loop)\n"
            "  --duration S      measured seconds (default 10)\n"
            "  --warmup S        seconds before the measurement, not counted (default 2)\n"
            "  --k K             recommendations per session (default: the daemon's, 10)\n"
            "  --exclude X       skipped | played | none (default: the daemon's)\n"
            "  --batch B         B sessions per request (the \"sessions\" form)\n"
            "  --max-frames N    distinct requests encoded up front (default %u)\n"
            "  --timeout-ms MS   a request unanswered this long is counted lost (default 5000)\n"
            "  --backoff-us US   closed loop: wait US after a busy (429) reply before the\n"
            "                    client's next request (default 1000; 0 = resend at once)\n"
            "  --pid PID         the daemon's pid: report its CPU time and VmRSS/VmHWM\n"
            "  --label TEXT      copied into the JSON object\n"
            "  --json            print one JSON object instead of text\n"
            "FILE: one session per line, track ids separated by blanks, \":s\" after an id\n"
            "marks a skipped play; lines starting with '#' are ignored.\n",
            BL_DEFAULT_MAX_FRAMES);
}

static bool bl_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static bool bl_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* 0 ok, 1 help printed, 2 usage error (message printed). */
static int bl_opts_parse(int argc, char **argv, bl_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = "";
    o->clients = 1;
    o->duration = 10;
    o->warmup = 2;
    o->max_frames = BL_DEFAULT_MAX_FRAMES;
    o->timeout_ms = 5000;
    o->backoff_us = 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            bl_usage(stdout);
            return 1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_load: %s: missing value (or unknown option)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        long l = 0;
        bool ok = true;
        if (strcmp(a, "--endpoint") == 0)
            o->endpoint = v;
        else if (strcmp(a, "--model") == 0)
            o->model = v;
        else if (strcmp(a, "--sessions") == 0)
            o->sessions_path = v;
        else if (strcmp(a, "--exclude") == 0)
            o->exclude = v;
        else if (strcmp(a, "--label") == 0)
            o->label = v;
        else if (strcmp(a, "--clients") == 0)
            ok = bl_parse_long(v, 1, BL_MAX_CLIENTS, &l) && (o->clients = (int)l, true);
        else if (strcmp(a, "--rate") == 0)
            ok = bl_parse_double(v, 0.001, 10e6, &o->rate);
        else if (strcmp(a, "--duration") == 0)
            ok = bl_parse_double(v, 0.1, 1e6, &o->duration);
        else if (strcmp(a, "--warmup") == 0)
            ok = bl_parse_double(v, 0, 1e6, &o->warmup);
        else if (strcmp(a, "--k") == 0)
            ok = bl_parse_long(v, 1, SR_PROTO_MAX_K, &l) && (o->k = (unsigned)l, true);
        else if (strcmp(a, "--batch") == 0)
            ok = bl_parse_long(v, 1, SR_PROTO_MAX_BATCH, &l) && (o->batch = (unsigned)l, true);
        else if (strcmp(a, "--max-frames") == 0)
            ok = bl_parse_long(v, 1, 10000000, &l) && (o->max_frames = (unsigned)l, true);
        else if (strcmp(a, "--timeout-ms") == 0)
            ok = bl_parse_long(v, 1, 3600000, &l) && (o->timeout_ms = (int)l, true);
        else if (strcmp(a, "--backoff-us") == 0)
            ok = bl_parse_long(v, 0, 10000000, &l) && (o->backoff_us = (int)l, true);
        else if (strcmp(a, "--pid") == 0)
            ok = bl_parse_long(v, 1, INT_MAX, &o->pid);
        else {
            fprintf(stderr, "bench_load: unknown option %s (see --help)\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "bench_load: %s: bad value \"%s\"\n", a, v);
            return 2;
        }
    }
    if (!o->endpoint || !o->sessions_path) {
        fprintf(stderr, "bench_load: --endpoint and --sessions are required (see --help)\n");
        return 2;
    }
    if (o->rate > 0 && o->rate / o->clients > 1e6) {
        fprintf(stderr, "bench_load: --rate %.0f over %d clients is over 1e6/s per thread\n",
                o->rate, o->clients);
        return 2;
    }
    return 0;
}

/* ---- sessions file ----------------------------------------------------------- */

typedef struct bl_sessions {
    char *text;         /* the whole file; ids point into it */
    sr_pstr *ids;       /* [n_plays] */
    bool *skipped;      /* [n_plays] */
    uint32_t *first;    /* [n + 1]: session s is plays first[s] .. first[s + 1] */
    uint32_t n;
    uint32_t n_plays;
} bl_sessions;

static void bl_sessions_free(bl_sessions *s)
{
    free(s->text);
    free(s->ids);
    free(s->skipped);
    free(s->first);
    memset(s, 0, sizeof *s);
}

static bool bl_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

static bool bl_sessions_load(const char *path, bl_sessions *s)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_load: %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = false;
    size_t cap_ids = 0, cap_sk = 0, cap_first = 0, len = 0;
    if (fseek(f, 0, SEEK_END) != 0) {
        fprintf(stderr, "bench_load: %s: cannot seek\n", path);
        goto done;
    }
    long size = ftell(f);
    if (size < 0 || size > BL_MAX_FILE) {
        fprintf(stderr, "bench_load: %s: size %ld is outside 0..%ld bytes\n", path, size,
                BL_MAX_FILE);
        goto done;
    }
    rewind(f);
    s->text = malloc((size_t)size + 1);
    if (!s->text || fread(s->text, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "bench_load: %s: cannot read %ld bytes\n", path, size);
        goto done;
    }
    len = (size_t)size;
    s->text[len] = '\0';
    size_t line = 1;
    for (size_t p = 0; p < len; line++) {
        size_t e = p;
        while (e < len && s->text[e] != '\n')
            e++;
        uint32_t start = s->n_plays;
        if (s->text[p] != '#') {
            size_t q = p;
            while (q < e) {
                while (q < e && (s->text[q] == ' ' || s->text[q] == '\t' || s->text[q] == '\r'))
                    q++;
                size_t t = q;
                while (t < e && s->text[t] != ' ' && s->text[t] != '\t' && s->text[t] != '\r')
                    t++;
                if (t == q)
                    break;
                size_t tl = t - q;
                bool sk = tl > 2 && s->text[t - 2] == ':' && s->text[t - 1] == 's';
                if (sk)
                    tl -= 2;
                if (tl == 0 || tl > SR_PROTO_MAX_TRACK_ID) {
                    fprintf(stderr, "bench_load: %s:%zu: track id of %zu bytes (1..%u)\n", path,
                            line, tl, SR_PROTO_MAX_TRACK_ID);
                    goto done;
                }
                if (s->n_plays - start >= SR_PROTO_MAX_SESSION_PLAYS) {
                    fprintf(stderr, "bench_load: %s:%zu: more than %u plays in a session\n", path,
                            line, SR_PROTO_MAX_SESSION_PLAYS);
                    goto done;
                }
                if (!bl_grow((void **)&s->ids, &cap_ids, (size_t)s->n_plays + 1, sizeof *s->ids) ||
                    !bl_grow((void **)&s->skipped, &cap_sk, (size_t)s->n_plays + 1,
                             sizeof *s->skipped)) {
                    fprintf(stderr, "bench_load: %s: out of memory\n", path);
                    goto done;
                }
                s->ids[s->n_plays] = (sr_pstr){ s->text + q, (uint32_t)tl };
                s->skipped[s->n_plays] = sk;
                s->n_plays++;
                q = t;
            }
        }
        if (s->n_plays > start) {
            if (!bl_grow((void **)&s->first, &cap_first, (size_t)s->n + 2, sizeof *s->first)) {
                fprintf(stderr, "bench_load: %s: out of memory\n", path);
                goto done;
            }
            s->first[s->n++] = start;
            s->first[s->n] = s->n_plays;
        }
        p = e + 1;
    }
    if (s->n == 0) {
        fprintf(stderr, "bench_load: %s: no session\n", path);
        goto done;
    }
    ok = true;
done:
    fclose(f);
    if (!ok)
        bl_sessions_free(s);
    return ok;
}

/* ---- request frames, encoded once -------------------------------------------- */

typedef struct bl_frame {
    uint8_t *data;
    uint32_t len;
    uint32_t id_off;    /* offset of the 8 id bytes (after the 0xcf marker) */
    uint32_t sessions;
} bl_frame;

typedef struct bl_frames {
    bl_frame *f;
    uint32_t n;
    uint32_t max_len;
} bl_frames;

static void bl_frames_free(bl_frames *fr)
{
    for (uint32_t i = 0; fr->f && i < fr->n; i++)
        free(fr->f[i].data);
    free(fr->f);
    memset(fr, 0, sizeof *fr);
}

static void bl_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static bool bl_frames_build(const bl_opts *o, const bl_sessions *s, bl_frames *fr)
{
    memset(fr, 0, sizeof *fr);
    uint32_t per = o->batch ? o->batch : 1;
    uint32_t n = s->n / per ? s->n / per : 1;
    if (n > o->max_frames)
        n = o->max_frames;
    /* sr_proto_request holds SR_PROTO_MAX_BATCH sessions: heap, once */
    sr_proto_request *req = calloc(1, sizeof *req);
    fr->f = calloc(n, sizeof *fr->f);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    bool ok = false;
    if (!req || !fr->f) {
        fprintf(stderr, "bench_load: out of memory for %u frames\n", n);
        goto done;
    }
    uint8_t pat[9];
    pat[0] = 0xcf;
    bl_put_be64(pat + 1, BL_ID_SENTINEL);
    for (uint32_t i = 0; i < n; i++) {
        memset(req, 0, sizeof *req);
        req->version = SR_PROTO_VERSION;
        req->op = SR_PROTO_OP_RECOMMEND;
        req->id = BL_ID_SENTINEL;
        sr_proto_recommend *r = &req->u.recommend;
        r->model = (sr_pstr){ o->model, (uint32_t)strlen(o->model) };
        r->k = o->k;
        if (o->exclude)
            r->exclude = (sr_pstr){ o->exclude, (uint32_t)strlen(o->exclude) };
        r->batch = o->batch > 0;
        r->n_sessions = per;
        for (uint32_t j = 0; j < per; j++) {
            uint32_t si = (uint32_t)(((uint64_t)i * per + j) % s->n);
            uint32_t a = s->first[si], b = s->first[si + 1];
            sr_proto_session *q = &r->sessions[j];
            q->tracks = (sr_proto_strs){ b - a, s->ids + a, NULL, 0 };
            q->skipped = (sr_proto_bools){ b - a, s->skipped + a, NULL };
            q->has_skipped = false;
            for (uint32_t t = a; t < b; t++)
                q->has_skipped |= s->skipped[t];
        }
        msgpack_sbuffer_clear(&sb);
        if (sr_proto_request_encode(req, &sb) != 0) {
            fprintf(stderr, "bench_load: cannot encode request %u\n", i);
            goto done;
        }
        if (sb.size > UINT32_MAX) {
            fprintf(stderr, "bench_load: request %u is %zu bytes\n", i, sb.size);
            goto done;
        }
        /* find the id: the sentinel must occur exactly once */
        size_t at = SIZE_MAX;
        for (size_t p = 0; p + sizeof pat <= sb.size; p++) {
            if (memcmp(sb.data + p, pat, sizeof pat) == 0) {
                if (at != SIZE_MAX) {
                    fprintf(stderr, "bench_load: request %u: id pattern found twice\n", i);
                    goto done;
                }
                at = p;
            }
        }
        if (at == SIZE_MAX) {
            fprintf(stderr, "bench_load: request %u: id not found in the encoded frame\n", i);
            goto done;
        }
        bl_frame *f = &fr->f[i];
        f->data = malloc(sb.size);
        if (!f->data) {
            fprintf(stderr, "bench_load: out of memory for frame %u\n", i);
            goto done;
        }
        fr->n = i + 1;
        memcpy(f->data, sb.data, sb.size);
        f->len = (uint32_t)sb.size;
        f->id_off = (uint32_t)at + 1;
        f->sessions = per;
        if (f->len > fr->max_len)
            fr->max_len = f->len;
    }
    ok = true;
done:
    msgpack_sbuffer_destroy(&sb);
    free(req);
    if (!ok)
        bl_frames_free(fr);
    return ok;
}

/* ---- reply scanner (no allocation) ------------------------------------------- */

enum { BL_MP_NIL, BL_MP_BOOL, BL_MP_UINT, BL_MP_INT, BL_MP_FLOAT, BL_MP_STR, BL_MP_BIN,
       BL_MP_ARRAY, BL_MP_MAP, BL_MP_EXT };

typedef struct bl_rd {
    const uint8_t *p;
    size_t n, off;
} bl_rd;

static bool bl_rd_be(bl_rd *r, int bytes, uint64_t *v)
{
    if (r->n - r->off < (size_t)bytes)
        return false;
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x = (x << 8) | r->p[r->off + i];
    r->off += (size_t)bytes;
    *v = x;
    return true;
}

/* Read one object's header. *v: the value (uint, bool; int and float are
 * skipped and give 0), the byte length (str, bin, ext: the reader is left at
 * the data) or the element count (array) / pair count (map). */
static bool bl_rd_head(bl_rd *r, int *type, uint64_t *v)
{
    if (r->off >= r->n)
        return false;
    uint8_t b = r->p[r->off++];
    *v = 0;
    if (b <= 0x7f) {
        *type = BL_MP_UINT;
        *v = b;
        return true;
    }
    if (b >= 0xe0) {
        *type = BL_MP_INT;
        return true;
    }
    if ((b & 0xf0) == 0x80) {
        *type = BL_MP_MAP;
        *v = b & 0x0f;
        return true;
    }
    if ((b & 0xf0) == 0x90) {
        *type = BL_MP_ARRAY;
        *v = b & 0x0f;
        return true;
    }
    if ((b & 0xe0) == 0xa0) {
        *type = BL_MP_STR;
        *v = b & 0x1f;
        return true;
    }
    switch (b) {
    case 0xc0: *type = BL_MP_NIL; return true;
    case 0xc2: *type = BL_MP_BOOL; *v = 0; return true;
    case 0xc3: *type = BL_MP_BOOL; *v = 1; return true;
    case 0xc4: *type = BL_MP_BIN; return bl_rd_be(r, 1, v);
    case 0xc5: *type = BL_MP_BIN; return bl_rd_be(r, 2, v);
    case 0xc6: *type = BL_MP_BIN; return bl_rd_be(r, 4, v);
    case 0xc7: *type = BL_MP_EXT; return bl_rd_be(r, 1, v) && ((*v)++, true);
    case 0xc8: *type = BL_MP_EXT; return bl_rd_be(r, 2, v) && ((*v)++, true);
    case 0xc9: *type = BL_MP_EXT; return bl_rd_be(r, 4, v) && ((*v)++, true);
    case 0xca: *type = BL_MP_FLOAT; return bl_rd_be(r, 4, v) && ((*v = 0), true);
    case 0xcb: *type = BL_MP_FLOAT; return bl_rd_be(r, 8, v) && ((*v = 0), true);
    case 0xcc: *type = BL_MP_UINT; return bl_rd_be(r, 1, v);
    case 0xcd: *type = BL_MP_UINT; return bl_rd_be(r, 2, v);
    case 0xce: *type = BL_MP_UINT; return bl_rd_be(r, 4, v);
    case 0xcf: *type = BL_MP_UINT; return bl_rd_be(r, 8, v);
    case 0xd0: *type = BL_MP_INT; return bl_rd_be(r, 1, v) && ((*v = 0), true);
    case 0xd1: *type = BL_MP_INT; return bl_rd_be(r, 2, v) && ((*v = 0), true);
    case 0xd2: *type = BL_MP_INT; return bl_rd_be(r, 4, v) && ((*v = 0), true);
    case 0xd3: *type = BL_MP_INT; return bl_rd_be(r, 8, v) && ((*v = 0), true);
    /* fixext: the type byte plus 1..16 data bytes */
    case 0xd4: *type = BL_MP_EXT; *v = 2; return true;
    case 0xd5: *type = BL_MP_EXT; *v = 3; return true;
    case 0xd6: *type = BL_MP_EXT; *v = 5; return true;
    case 0xd7: *type = BL_MP_EXT; *v = 9; return true;
    case 0xd8: *type = BL_MP_EXT; *v = 17; return true;
    case 0xd9: *type = BL_MP_STR; return bl_rd_be(r, 1, v);
    case 0xda: *type = BL_MP_STR; return bl_rd_be(r, 2, v);
    case 0xdb: *type = BL_MP_STR; return bl_rd_be(r, 4, v);
    case 0xdc: *type = BL_MP_ARRAY; return bl_rd_be(r, 2, v);
    case 0xdd: *type = BL_MP_ARRAY; return bl_rd_be(r, 4, v);
    case 0xde: *type = BL_MP_MAP; return bl_rd_be(r, 2, v);
    case 0xdf: *type = BL_MP_MAP; return bl_rd_be(r, 4, v);
    default: return false; /* 0xc1: never used */
    }
}

static bool bl_rd_bytes(bl_rd *r, uint64_t len, const uint8_t **out)
{
    if (len > r->n - r->off)
        return false;
    if (out)
        *out = r->p + r->off;
    r->off += (size_t)len;
    return true;
}

/* Skip one whole object. A counter of objects still to read replaces a
 * stack; every object takes at least one byte, so a count larger than the
 * bytes left is refused at once. */
static bool bl_rd_skip(bl_rd *r)
{
    uint64_t pending = 1;
    while (pending > 0) {
        pending--;
        int t;
        uint64_t v;
        if (!bl_rd_head(r, &t, &v))
            return false;
        if (t == BL_MP_STR || t == BL_MP_BIN || t == BL_MP_EXT) {
            if (!bl_rd_bytes(r, v, NULL))
                return false;
        } else if (t == BL_MP_ARRAY || t == BL_MP_MAP) {
            pending += t == BL_MP_MAP ? 2 * v : v;
            if (pending > r->n - r->off)
                return false;
        }
    }
    return true;
}

static bool bl_rd_key_is(const uint8_t *k, uint64_t len, const char *s)
{
    size_t n = strlen(s);
    return len == n && memcmp(k, s, n) == 0;
}

typedef struct bl_reply {
    uint64_t id;
    bool ok;
    uint32_t code;
    const uint8_t *msg;
    uint32_t msg_len;
} bl_reply;

/* {"v", "id", "ok", "result" | "error": {"code", "kind", "message"}} */
static bool bl_reply_scan(const void *buf, size_t len, bl_reply *out)
{
    bl_rd r = { buf, len, 0 };
    int t;
    uint64_t n;
    bool have_ok = false;
    memset(out, 0, sizeof *out);
    if (!bl_rd_head(&r, &t, &n) || t != BL_MP_MAP)
        return false;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t kl, v;
        const uint8_t *k;
        if (!bl_rd_head(&r, &t, &kl) || t != BL_MP_STR || !bl_rd_bytes(&r, kl, &k))
            return false;
        if (bl_rd_key_is(k, kl, "id")) {
            if (!bl_rd_head(&r, &t, &v) || t != BL_MP_UINT)
                return false;
            out->id = v;
        } else if (bl_rd_key_is(k, kl, "ok")) {
            if (!bl_rd_head(&r, &t, &v) || t != BL_MP_BOOL)
                return false;
            out->ok = v != 0;
            have_ok = true;
        } else if (bl_rd_key_is(k, kl, "error")) {
            uint64_t m;
            if (!bl_rd_head(&r, &t, &m) || t != BL_MP_MAP)
                return false;
            for (uint64_t j = 0; j < m; j++) {
                uint64_t el;
                const uint8_t *e;
                if (!bl_rd_head(&r, &t, &el) || t != BL_MP_STR || !bl_rd_bytes(&r, el, &e))
                    return false;
                if (bl_rd_key_is(e, el, "code")) {
                    if (!bl_rd_head(&r, &t, &v) || t != BL_MP_UINT)
                        return false;
                    out->code = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
                } else if (bl_rd_key_is(e, el, "message")) {
                    if (!bl_rd_head(&r, &t, &v) || t != BL_MP_STR ||
                        !bl_rd_bytes(&r, v, &out->msg))
                        return false;
                    out->msg_len = (uint32_t)v;
                } else if (!bl_rd_skip(&r)) {
                    return false;
                }
            }
        } else if (!bl_rd_skip(&r)) {
            return false;
        }
    }
    return have_ok && r.off == r.n;
}

/* ---- per-thread state -------------------------------------------------------- */

typedef struct bl_slot {
    uint64_t seq;
    int64_t sched_ns;    /* scheduled (open loop) or actual (closed loop) send time */
    uint32_t pending;
    uint32_t sessions;
} bl_slot;

typedef struct bl_stats {
    uint64_t hist[BL_HIST_N];  /* OK replies' latencies, ns */
    uint64_t by_code[BL_CODES];
    uint64_t sent;             /* measured requests sent (scheduled inside the window) */
    uint64_t sent_all;         /* every request sent, warm-up and drain included */
    uint64_t ok, errors, sessions_ok;
    uint64_t unanswered;       /* measured requests without a reply (timeout, or at the end) */
    uint64_t stale;            /* replies that match no pending request (after a timeout) */
    uint64_t bad_reply;        /* replies the scanner could not read */
    uint64_t send_fail;        /* sends refused (high-water mark reached, transport error) */
    uint64_t lat_sum_ns, lat_max_ns;
    uint64_t late_sends;       /* open loop: sends more than 1 ms behind their schedule */
    uint64_t max_inflight;
} bl_stats;

typedef struct bl_ctx bl_ctx;

typedef struct bl_thread {
    int index;
    pthread_t th;
    bool started;
    const bl_ctx *ctx;
    uint8_t *buf;        /* per-thread copy of a frame to patch the id into */
    bl_slot *ring;       /* [BL_RING] */
    uint64_t next_seq;
    uint64_t inflight;
    uint32_t frame;      /* next frame to send */
    bl_stats st;
    uint32_t first_code; /* first non-busy error seen (its message below) */
    char first_msg[200];
    char why[256];       /* fatal socket error */
} bl_thread;

struct bl_ctx {
    const bl_opts *o;
    const bl_frames *fr;
    void *zctx;
    int64_t t_start;     /* sending starts */
    int64_t t_meas;      /* measurement starts (t_start + warm-up) */
    int64_t t_end;       /* last scheduled send is before this */
};

static void *bl_socket_open(const bl_ctx *c, char *why, size_t whycap)
{
    void *s = zmq_socket(c->zctx, ZMQ_DEALER);
    if (!s) {
        snprintf(why, whycap, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0, hwm = (int)BL_RING;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect(s, c->o->endpoint) != 0) {
        snprintf(why, whycap, "connect %s: %s", c->o->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Send the thread's next frame as request `seq`, scheduled at `sched`. */
static void bl_send(bl_thread *t, void *sock, int64_t sched, int flags)
{
    const bl_ctx *c = t->ctx;
    const bl_frame *f = &c->fr->f[t->frame];
    t->frame = t->frame + 1 < c->fr->n ? t->frame + 1 : 0;
    uint64_t seq = t->next_seq++;
    bl_slot *sl = &t->ring[seq & (BL_RING - 1)];
    bool measured = sched >= c->t_meas && sched < c->t_end;
    if (sl->pending) {
        /* the ring wrapped over a request never answered: it is lost */
        if (sl->sched_ns >= c->t_meas && sl->sched_ns < c->t_end)
            t->st.unanswered++;
        sl->pending = 0;
        t->inflight--;
    }
    memcpy(t->buf, f->data, f->len);
    bl_put_be64(t->buf + f->id_off, BL_ID_BASE | ((uint64_t)t->index << 40) | (seq & BL_ID_SEQ_MASK));
    t->st.sent_all++;
    if (measured)
        t->st.sent++;
    int rc;
    do
        rc = zmq_send(sock, t->buf, f->len, flags);
    while (rc < 0 && zmq_errno() == EINTR);
    if (rc < 0) {
        if (measured)
            t->st.send_fail++;
        return;
    }
    sl->seq = seq;
    sl->sched_ns = sched;
    sl->pending = 1;
    sl->sessions = f->sessions;
    t->inflight++;
    if (t->inflight > t->st.max_inflight)
        t->st.max_inflight = t->inflight;
}

/* Account one reply received at `now`. Returns the sequence number it
 * answered, or UINT64_MAX when it matched no pending request; *code is its
 * error code (0 for OK). */
static uint64_t bl_on_reply(bl_thread *t, const void *data, size_t len, int64_t now,
                            uint32_t *code)
{
    const bl_ctx *c = t->ctx;
    bl_reply rp;
    *code = 0;
    if (!bl_reply_scan(data, len, &rp)) {
        t->st.bad_reply++;
        return UINT64_MAX;
    }
    if ((rp.id & ~((UINT64_C(0xfff) << 40) | BL_ID_SEQ_MASK)) != BL_ID_BASE ||
        (int)((rp.id >> 40) & 0xfff) != t->index) {
        t->st.stale++;
        return UINT64_MAX;
    }
    uint64_t seq = rp.id & BL_ID_SEQ_MASK;
    bl_slot *sl = &t->ring[seq & (BL_RING - 1)];
    if (!sl->pending || sl->seq != seq) {
        t->st.stale++;
        return UINT64_MAX;
    }
    sl->pending = 0;
    t->inflight--;
    *code = rp.ok ? 0 : rp.code ? rp.code : 1;
    if (sl->sched_ns < c->t_meas || sl->sched_ns >= c->t_end)
        return seq; /* warm-up */
    uint64_t lat = now > sl->sched_ns ? (uint64_t)(now - sl->sched_ns) : 0;
    if (rp.ok) {
        t->st.ok++;
        t->st.sessions_ok += sl->sessions;
        t->st.hist[bl_hist_index(lat)]++;
        t->st.lat_sum_ns += lat;
        if (lat > t->st.lat_max_ns)
            t->st.lat_max_ns = lat;
    } else {
        t->st.errors++;
        t->st.by_code[rp.code < BL_CODES ? rp.code : 0]++;
        if (t->first_code == 0 && rp.code != SR_PROTO_CODE_BUSY) {
            t->first_code = rp.code ? rp.code : 1;
            size_t ml = rp.msg_len < sizeof t->first_msg - 1 ? rp.msg_len
                                                             : sizeof t->first_msg - 1;
            for (size_t i = 0; i < ml; i++)
                t->first_msg[i] = rp.msg[i] < 0x20 || rp.msg[i] == 0x7f ? '?' : (char)rp.msg[i];
            t->first_msg[ml] = '\0';
        }
    }
    return seq;
}

/* Requests still pending at the end are lost (counted when measured). */
static void bl_count_pending(bl_thread *t)
{
    const bl_ctx *c = t->ctx;
    for (uint32_t i = 0; i < BL_RING; i++) {
        bl_slot *sl = &t->ring[i];
        if (sl->pending && sl->sched_ns >= c->t_meas && sl->sched_ns < c->t_end)
            t->st.unanswered++;
        sl->pending = 0;
    }
    t->inflight = 0;
}

static void bl_closed_loop(bl_thread *t, void *sock)
{
    const bl_ctx *c = t->ctx;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        int64_t now = bl_now_ns();
        if (now >= c->t_end)
            break;
        uint64_t want = t->next_seq;
        bl_send(t, sock, now, 0);
        int64_t deadline = now + (int64_t)c->o->timeout_ms * 1000000;
        for (;;) {
            int64_t left = deadline - bl_now_ns();
            if (left <= 0) {
                bl_count_pending(t); /* this one is lost; late replies become stale */
                break;
            }
            zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };
            int rc = zmq_poll(&it, 1, (long)((left + 999999) / 1000000));
            if (rc < 0 && zmq_errno() == EINTR)
                continue;
            if (rc < 0) {
                snprintf(t->why, sizeof t->why, "poll: %s", zmq_strerror(zmq_errno()));
                goto done;
            }
            if (rc == 0)
                continue;
            if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0)
                continue;
            uint32_t code;
            if (bl_on_reply(t, zmq_msg_data(&m), zmq_msg_size(&m), bl_now_ns(), &code) != want)
                continue;
            /* a refused request is answered at once: resending at once
             * would turn the client into a busy loop competing with the
             * daemon for the cores, which no real client should do */
            if (code == SR_PROTO_CODE_BUSY && c->o->backoff_us > 0)
                bl_sleep_until(bl_now_ns() + (int64_t)c->o->backoff_us * 1000);
            break;
        }
    }
done:
    zmq_msg_close(&m);
    bl_count_pending(t);
}

/* Open loop: wait on the socket's file descriptor with ppoll, whose
 * nanosecond timeout keeps sub-millisecond send schedules (zmq_poll counts
 * in milliseconds). ZMQ_FD is edge-triggered: ZMQ_EVENTS must be read after
 * every socket operation and before sleeping on the descriptor. */
static void bl_open_loop(bl_thread *t, void *sock)
{
    const bl_ctx *c = t->ctx;
    double per_thread = c->o->rate / c->o->clients;
    int64_t interval = (int64_t)(1e9 / per_thread);
    if (interval < 1)
        interval = 1;
    int64_t next = c->t_start + interval * t->index / c->o->clients;
    int64_t drain_end = c->t_end + (int64_t)c->o->timeout_ms * 1000000;
    int fd = -1;
    size_t sz = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &sz) != 0) {
        snprintf(t->why, sizeof t->why, "ZMQ_FD: %s", zmq_strerror(zmq_errno()));
        return;
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        int64_t now = bl_now_ns();
        while (next <= now && next < c->t_end) {
            if (now - next > 1000000 && next >= c->t_meas)
                t->st.late_sends++;
            bl_send(t, sock, next, ZMQ_DONTWAIT);
            next += interval;
        }
        uint32_t code;
        while (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0)
            bl_on_reply(t, zmq_msg_data(&m), zmq_msg_size(&m), bl_now_ns(), &code);
        if (next >= c->t_end && t->inflight == 0)
            break;
        now = bl_now_ns();
        if (now >= drain_end)
            break;
        int ev = 0;
        sz = sizeof ev;
        if (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) != 0) {
            snprintf(t->why, sizeof t->why, "ZMQ_EVENTS: %s", zmq_strerror(zmq_errno()));
            break;
        }
        if (ev & ZMQ_POLLIN)
            continue;
        int64_t wake = next < c->t_end ? next : drain_end;
        if (wake <= now)
            continue;
        struct timespec ts = { (time_t)((wake - now) / 1000000000),
                               (long)((wake - now) % 1000000000) };
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ppoll(&pfd, 1, &ts, NULL);
    }
    zmq_msg_close(&m);
    bl_count_pending(t);
}

static void *bl_thread_main(void *arg)
{
    bl_thread *t = arg;
    const bl_ctx *c = t->ctx;
    /* the default 50 us timer slack would blur sub-millisecond schedules */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    void *sock = bl_socket_open(c, t->why, sizeof t->why);
    if (!sock)
        return NULL;
    bl_sleep_until(c->t_start);
    if (c->o->rate > 0)
        bl_open_loop(t, sock);
    else
        bl_closed_loop(t, sock);
    zmq_close(sock);
    return NULL;
}

/* ---- one checked request before the run ------------------------------------- */

/* Send frame 0 and decode its reply fully (sr_proto_reply_decode): refuse to
 * measure a daemon that answers with an error (unknown model, bad session). */
static bool bl_check(const bl_ctx *c, char *desc, size_t desccap)
{
    char why[256];
    /* a missing ipc socket file cannot answer: say so now, not after 30 s */
    struct stat st;
    const char *ep = c->o->endpoint;
    if (strncmp(ep, "ipc://", 6) == 0 && stat(ep + 6, &st) != 0 && errno == ENOENT) {
        fprintf(stderr, "bench_load: %s does not exist (is seqrecd running?)\n", ep + 6);
        return false;
    }
    void *s = bl_socket_open(c, why, sizeof why);
    if (!s) {
        fprintf(stderr, "bench_load: %s\n", why);
        return false;
    }
    bool good = false;
    const bl_frame *f = &c->fr->f[0];
    uint8_t *buf = malloc(f->len);
    zmq_msg_t m;
    zmq_msg_init(&m);
    sr_mp_doc doc = { NULL, 0 };
    if (!buf)
        goto done;
    memcpy(buf, f->data, f->len);
    uint64_t id = BL_ID_BASE | (UINT64_C(0xfff) << 40) | 1;
    bl_put_be64(buf + f->id_off, id);
    if (zmq_send(s, buf, f->len, 0) < 0) {
        fprintf(stderr, "bench_load: send: %s\n", zmq_strerror(zmq_errno()));
        goto done;
    }
    /* the first request may load the model from disk */
    int timeout = c->o->timeout_ms < 30000 ? 30000 : c->o->timeout_ms;
    zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
    if (zmq_poll(&it, 1, timeout) <= 0 || zmq_msg_recv(&m, s, 0) < 0) {
        fprintf(stderr, "bench_load: no answer from %s within %d ms\n", c->o->endpoint,
                timeout);
        goto done;
    }
    bool ok = false;
    const sr_mp_node *result = NULL;
    sr_proto_code code = SR_PROTO_CODE_OK;
    sr_pstr msg = { NULL, 0 };
    uint64_t rid = 0;
    char err[256];
    if (!sr_proto_reply_decode(zmq_msg_data(&m), zmq_msg_size(&m), &doc, &ok, &result, &code,
                               &msg, &rid, err, sizeof err)) {
        fprintf(stderr, "bench_load: unreadable reply: %s\n", err);
        goto done;
    }
    if (rid != id) {
        fprintf(stderr, "bench_load: reply id %" PRIu64 " for request id %" PRIu64 "\n", rid,
                id);
        goto done;
    }
    if (!ok) {
        fprintf(stderr, "bench_load: the daemon answered %s (%u): %.*s\n",
                sr_proto_code_name(code), (unsigned)code, (int)msg.len, msg.ptr);
        goto done;
    }
    bl_reply rp;
    if (!bl_reply_scan(zmq_msg_data(&m), zmq_msg_size(&m), &rp) || !rp.ok || rp.id != id) {
        fprintf(stderr, "bench_load: the reply scanner disagrees with the decoder\n");
        goto done;
    }
    /* what came back: the result's members, arrays with their lengths */
    uint32_t ri = sr_mp_index(&doc, result);
    int o = snprintf(desc, desccap, "%u-byte reply:", (unsigned)zmq_msg_size(&m));
    uint32_t child = ri + 1;
    for (uint32_t i = 0; i < result->n && o >= 0 && (size_t)o < desccap; i++) {
        const sr_mp_node *key = &doc.nodes[child];
        const sr_mp_node *val = &doc.nodes[child + key->span];
        if (key->type == SR_MP_TYPE_STR) {
            if (val->type == SR_MP_TYPE_ARRAY)
                o += snprintf(desc + o, desccap - (size_t)o, " %.*s[%u]", (int)key->n,
                              key->v.s, val->n);
            else
                o += snprintf(desc + o, desccap - (size_t)o, " %.*s", (int)key->n, key->v.s);
        }
        child += key->span + val->span;
    }
    good = true;
done:
    sr_mp_doc_free(&doc);
    zmq_msg_close(&m);
    free(buf);
    zmq_close(s);
    return good;
}

/* ---- process figures --------------------------------------------------------- */

typedef struct bl_proc {
    double cpu_s;       /* utime + stime */
    long rss_kib, hwm_kib;
    bool have;
} bl_proc;

static void bl_proc_read(long pid, bl_proc *p)
{
    memset(p, 0, sizeof *p);
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the command name, which may hold spaces: find its ')' */
    char *q = strrchr(buf, ')');
    if (!q)
        return;
    unsigned long ut = 0, st = 0;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return;
    p->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        long v;
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            p->rss_kib = v;
        else if (sscanf(line, "VmHWM: %ld", &v) == 1)
            p->hwm_kib = v;
    }
    fclose(f);
    p->have = true;
}

static double bl_self_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- report ------------------------------------------------------------------ */

static double bl_percentile_us(const bl_stats *s, double p)
{
    if (s->ok == 0)
        return 0;
    uint64_t rank = (uint64_t)((double)s->ok * p);
    if ((double)rank < (double)s->ok * p)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t cum = 0;
    for (uint32_t i = 0; i < BL_HIST_N; i++) {
        cum += s->hist[i];
        if (cum >= rank) {
            double v = bl_hist_value(i);
            if (v > (double)s->lat_max_ns)
                v = (double)s->lat_max_ns;
            return v / 1000.0;
        }
    }
    return (double)s->lat_max_ns / 1000.0;
}

static void bl_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

int main(int argc, char **argv)
{
    bl_opts o;
    int prc = bl_opts_parse(argc, argv, &o);
    if (prc != 0)
        return prc == 1 ? 0 : 2;
    int rc = 1;
    bl_sessions ses;
    bl_frames fr = { NULL, 0, 0 };
    bl_thread *th = NULL;
    bl_ctx c;
    memset(&c, 0, sizeof c);
    c.o = &o;
    c.fr = &fr;
    if (!bl_sessions_load(o.sessions_path, &ses))
        return 1;
    if (!bl_frames_build(&o, &ses, &fr))
        goto done;
    c.zctx = zmq_ctx_new();
    if (!c.zctx) {
        fprintf(stderr, "bench_load: zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        goto done;
    }
    char desc[512];
    if (!bl_check(&c, desc, sizeof desc))
        goto done;
    if (!o.json)
        printf("check: %s\n", desc);

    th = calloc((size_t)o.clients, sizeof *th);
    if (!th) {
        fprintf(stderr, "bench_load: out of memory\n");
        goto done;
    }
    for (int i = 0; i < o.clients; i++) {
        th[i].index = i;
        th[i].ctx = &c;
        th[i].frame = (uint32_t)((uint64_t)i * fr.n / (uint64_t)o.clients);
        th[i].buf = malloc(fr.max_len);
        th[i].ring = calloc(BL_RING, sizeof *th[i].ring);
        if (!th[i].buf || !th[i].ring) {
            fprintf(stderr, "bench_load: out of memory for client %d\n", i);
            goto done;
        }
    }
    /* connect time for every socket before the first scheduled send */
    c.t_start = bl_now_ns() + 300000000 + (int64_t)o.clients * 2000000;
    c.t_meas = c.t_start + (int64_t)(o.warmup * 1e9);
    c.t_end = c.t_meas + (int64_t)(o.duration * 1e9);
    for (int i = 0; i < o.clients; i++) {
        if (pthread_create(&th[i].th, NULL, bl_thread_main, &th[i]) != 0) {
            fprintf(stderr, "bench_load: cannot start client thread %d\n", i);
            break;
        }
        th[i].started = true;
    }
    double load1 = -1;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load1) != 1)
            load1 = -1;
        fclose(la);
    }
    bl_proc d0, d1;
    memset(&d0, 0, sizeof d0);
    memset(&d1, 0, sizeof d1);
    bl_sleep_until(c.t_meas);
    double cpu0 = bl_self_cpu_s();
    if (o.pid)
        bl_proc_read(o.pid, &d0);
    bl_sleep_until(c.t_end);
    double cpu1 = bl_self_cpu_s();
    if (o.pid)
        bl_proc_read(o.pid, &d1);
    bool started_all = true;
    for (int i = 0; i < o.clients; i++) {
        if (th[i].started)
            pthread_join(th[i].th, NULL);
        else
            started_all = false;
    }

    bl_stats *sum = calloc(1, sizeof *sum);
    if (!sum) {
        fprintf(stderr, "bench_load: out of memory\n");
        goto done;
    }
    const char *why = NULL;
    const char *first_msg = NULL;
    uint32_t first_code = 0;
    for (int i = 0; i < o.clients; i++) {
        const bl_stats *s = &th[i].st;
        for (uint32_t b = 0; b < BL_HIST_N; b++)
            sum->hist[b] += s->hist[b];
        for (uint32_t b = 0; b < BL_CODES; b++)
            sum->by_code[b] += s->by_code[b];
        sum->sent += s->sent;
        sum->sent_all += s->sent_all;
        sum->ok += s->ok;
        sum->errors += s->errors;
        sum->sessions_ok += s->sessions_ok;
        sum->unanswered += s->unanswered;
        sum->stale += s->stale;
        sum->bad_reply += s->bad_reply;
        sum->send_fail += s->send_fail;
        sum->lat_sum_ns += s->lat_sum_ns;
        sum->late_sends += s->late_sends;
        if (s->lat_max_ns > sum->lat_max_ns)
            sum->lat_max_ns = s->lat_max_ns;
        if (s->max_inflight > sum->max_inflight)
            sum->max_inflight = s->max_inflight;
        if (th[i].why[0] && !why)
            why = th[i].why;
        if (th[i].first_code && !first_msg) {
            first_code = th[i].first_code;
            first_msg = th[i].first_msg;
        }
    }
    double dur = o.duration;
    uint64_t replies = sum->ok + sum->errors;
    uint64_t busy = sum->by_code[SR_PROTO_CODE_BUSY];
    double p50 = bl_percentile_us(sum, 0.50), p90 = bl_percentile_us(sum, 0.90);
    double p99 = bl_percentile_us(sum, 0.99), p999 = bl_percentile_us(sum, 0.999);
    double mean = sum->ok ? (double)sum->lat_sum_ns / (double)sum->ok / 1000.0 : 0;
    double max = (double)sum->lat_max_ns / 1000.0;
    const char *mode = o.rate > 0 ? "open" : "closed";
    if (o.json) {
        printf("{\"bench\":\"load\"");
        if (o.label) {
            printf(",\"label\":");
            bl_json_str(stdout, o.label);
        }
        printf(",\"endpoint\":");
        bl_json_str(stdout, o.endpoint);
        printf(",\"model\":");
        bl_json_str(stdout, o.model);
        printf(",\"mode\":\"%s\",\"clients\":%d,\"rate\":%.1f,\"duration_s\":%.3f,"
               "\"warmup_s\":%.3f,\"k\":%u,\"batch\":%u,\"backoff_us\":%d,\"frames\":%u,\"frame_bytes_max\":%u",
               mode, o.clients, o.rate, o.duration, o.warmup, o.k, o.batch,
               o.rate > 0 ? 0 : o.backoff_us, fr.n, fr.max_len);
        printf(",\"sent\":%" PRIu64 ",\"replies\":%" PRIu64 ",\"ok\":%" PRIu64
               ",\"busy\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"errors_by_code\":{",
               sum->sent, replies, sum->ok, busy, sum->errors);
        bool first = true;
        for (uint32_t b = 0; b < BL_CODES; b++) {
            if (sum->by_code[b]) {
                printf("%s\"%u\":%" PRIu64, first ? "" : ",", b, sum->by_code[b]);
                first = false;
            }
        }
        printf("},\"unanswered\":%" PRIu64 ",\"stale\":%" PRIu64 ",\"bad_reply\":%" PRIu64
               ",\"send_fail\":%" PRIu64 ",\"late_sends\":%" PRIu64 ",\"max_inflight\":%" PRIu64,
               sum->unanswered, sum->stale, sum->bad_reply, sum->send_fail, sum->late_sends,
               sum->max_inflight);
        printf(",\"req_per_s\":%.1f,\"ok_per_s\":%.1f,\"sessions_per_s\":%.1f",
               (double)replies / dur, (double)sum->ok / dur, (double)sum->sessions_ok / dur);
        printf(",\"lat_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
               "\"max\":%.1f,\"mean\":%.1f}",
               p50, p90, p99, p999, max, mean);
        printf(",\"client_cpu_s\":%.3f,\"load1_at_start\":%.2f", cpu1 - cpu0, load1);
        if (o.pid && d0.have && d1.have)
            printf(",\"daemon\":{\"pid\":%ld,\"cpu_s\":%.3f,\"rss_kib_start\":%ld,"
                   "\"rss_kib_end\":%ld,\"hwm_kib\":%ld}",
                   o.pid, d1.cpu_s - d0.cpu_s, d0.rss_kib, d1.rss_kib, d1.hwm_kib);
        if (first_msg) {
            printf(",\"first_error\":{\"code\":%u,\"message\":", first_code);
            bl_json_str(stdout, first_msg);
            printf("}");
        }
        if (why) {
            printf(",\"client_error\":");
            bl_json_str(stdout, why);
        }
        printf("}\n");
    } else {
        printf("%s loop, %d client(s)", mode, o.clients);
        if (o.rate > 0)
            printf(", %.0f req/s offered", o.rate);
        printf(", %s, k %u, batch %u, %.1f s measured after %.1f s warm-up\n", o.endpoint, o.k,
               o.batch, o.duration, o.warmup);
        printf("sent %" PRIu64 "  replies %" PRIu64 "  ok %" PRIu64 "  busy(429) %" PRIu64
               "  other errors %" PRIu64 "  unanswered %" PRIu64 "  stale %" PRIu64
               "  send failures %" PRIu64 "  late sends %" PRIu64 "\n",
               sum->sent, replies, sum->ok, busy, sum->errors - busy, sum->unanswered,
               sum->stale, sum->send_fail, sum->late_sends);
        for (uint32_t b = 0; b < BL_CODES; b++)
            if (sum->by_code[b] && b != SR_PROTO_CODE_BUSY)
                printf("  error %u (%s): %" PRIu64 "\n", b, sr_proto_code_name(b),
                       sum->by_code[b]);
        if (first_msg)
            printf("  first error: %u %s\n", first_code, first_msg);
        printf("%.1f req/s, %.1f ok/s, %.1f sessions/s\n", (double)replies / dur,
               (double)sum->ok / dur, (double)sum->sessions_ok / dur);
        printf("latency of ok replies (us): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f"
               "  mean %.1f\n",
               p50, p90, p99, p999, max, mean);
        printf("client cpu %.2f s over %.1f s; load1 at start %.2f\n", cpu1 - cpu0, dur, load1);
        if (o.pid && d0.have && d1.have)
            printf("daemon pid %ld: cpu %.2f s, VmRSS %ld -> %ld KiB, VmHWM %ld KiB\n", o.pid,
                   d1.cpu_s - d0.cpu_s, d0.rss_kib, d1.rss_kib, d1.hwm_kib);
        if (why)
            printf("client error: %s\n", why);
    }
    free(sum);
    rc = why || !started_all ? 1 : 0;
done:
    for (int i = 0; th && i < o.clients; i++) {
        free(th[i].buf);
        free(th[i].ring);
    }
    free(th);
    if (c.zctx)
        zmq_ctx_term(c.zctx);
    bl_frames_free(&fr);
    bl_sessions_free(&ses);
    return rc;
}
