/* test_roundtrip.c - the real seqrecd binary, spoken to over its real socket.
 *
 * The group setup starts SR_BUILD_DIR/daemon/seqrecd on an ipc:// socket in a
 * mkdtemp directory (own data root and state dir, max message 64 KiB); the
 * tests then run IN ORDER against it: status, synth -> ingest -> stats,
 * one malformed request per case, an oversized frame, the seqrecctl binary,
 * and finally the shutdown op. The group teardown kills the daemon if it is
 * still running (a failed test never leaves one behind) and removes the
 * directory.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "sr_test.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <zmq.h>

#include "sr_proto.h"

#define RT_MAX_MSG 65536
#define RT_TIMEOUT_MS 5000

static struct {
    char data[300];
    char state[300];
    char endpoint[320];
    pid_t pid;
    void *zctx;
    uint64_t next_id;
    uint64_t synth_rows;
    int errors_sent;  /* error replies the daemon should have counted */
    uint64_t datasets; /* datasets created so far */
} rt;

/* ---- helpers -------------------------------------------------------------------- */

typedef struct rt_reply {
    void *buf;
    size_t len;
    sr_mp_doc doc;
    bool ok;
    const sr_mp_node *result;
    sr_proto_code code;
    uint64_t id;
    char message[512];
} rt_reply;

static void rt_reply_free(rt_reply *r)
{
    if (r->buf)
        sr_mp_doc_free(&r->doc);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* Send one frame on a fresh REQ socket; true and *r filled when a reply
 * came within timeout_ms, false on a timeout. */
static bool rt_call_raw(const void *frame, size_t len, int timeout_ms, rt_reply *r)
{
    memset(r, 0, sizeof *r);
    void *s = zmq_socket(rt.zctx, ZMQ_REQ);
    assert_non_null(s);
    int zero = 0;
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_connect(s, rt.endpoint), 0);
    assert_true(zmq_send(s, frame, len, 0) == (int)len);
    zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
    int n = zmq_poll(&it, 1, timeout_ms);
    if (n <= 0) {
        zmq_close(s);
        return false;
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, s, 0) >= 0);
    r->len = zmq_msg_size(&m);
    r->buf = malloc(r->len ? r->len : 1);
    assert_non_null(r->buf);
    memcpy(r->buf, zmq_msg_data(&m), r->len);
    zmq_msg_close(&m);
    zmq_close(s);
    sr_pstr msg = { NULL, 0 };
    char err[256];
    if (!sr_proto_reply_decode(r->buf, r->len, &r->doc, &r->ok, &r->result, &r->code, &msg,
                               &r->id, err, sizeof err)) {
        free(r->buf);
        r->buf = NULL;
        fail_msg("undecodable reply: %s", err);
    }
    snprintf(r->message, sizeof r->message, "%.*s", (int)msg.len, msg.ptr ? msg.ptr : "");
    return true;
}

static void rt_call(sr_proto_request *req, rt_reply *r)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    req->version = SR_PROTO_VERSION;
    req->id = ++rt.next_id;
    assert_int_equal(sr_proto_request_encode(req, &sb), 0);
    bool got = rt_call_raw(sb.data, sb.size, RT_TIMEOUT_MS, r);
    msgpack_sbuffer_destroy(&sb);
    assert_true(got);
    assert_int_equal(r->id, req->id);
}

static void rt_expect_error(const void *frame, size_t len, sr_proto_code code)
{
    rt_reply r;
    assert_true(rt_call_raw(frame, len, RT_TIMEOUT_MS, &r));
    if (r.ok || r.code != code)
        fail_msg("expected error %d, got %s %d: %s", (int)code, r.ok ? "ok" : "error",
                 (int)r.code, r.message);
    assert_true(r.message[0] != '\0');
    rt.errors_sent++;
    rt_reply_free(&r);
}

static void rt_expect_request_error(sr_proto_request *req, sr_proto_code code)
{
    rt_reply r;
    rt_call(req, &r);
    if (r.ok || r.code != code)
        fail_msg("expected error %d, got %s %d: %s", (int)code, r.ok ? "ok" : "error",
                 (int)r.code, r.message);
    rt.errors_sent++;
    rt_reply_free(&r);
}

static const sr_mp_node *rt_get(const rt_reply *r, const sr_mp_node *map, const char *key)
{
    const sr_mp_node *n = sr_mp_map_get(&r->doc, sr_mp_index(&r->doc, map), key);
    if (!n)
        fail_msg("reply has no \"%s\"", key);
    return n;
}

static uint64_t rt_get_u(const rt_reply *r, const sr_mp_node *map, const char *key)
{
    const sr_mp_node *n = rt_get(r, map, key);
    assert_int_equal(n->type, SR_MP_TYPE_UINT);
    return n->v.u;
}

static sr_pstr rt_p(const char *s)
{
    sr_pstr p = { s, (uint32_t)strlen(s) };
    return p;
}

/* Pack a map from (key, kind, value) triples: 's' string, 'u' uint, 'i' int. */
static void rt_pack(msgpack_sbuffer *sb, int n, ...)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (size_t)n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *k = va_arg(ap, const char *);
        int kind = va_arg(ap, int);
        msgpack_pack_str(&pk, strlen(k));
        msgpack_pack_str_body(&pk, k, strlen(k));
        if (kind == 's') {
            const char *v = va_arg(ap, const char *);
            msgpack_pack_str(&pk, strlen(v));
            msgpack_pack_str_body(&pk, v, strlen(v));
        } else if (kind == 'u') {
            msgpack_pack_uint64(&pk, va_arg(ap, unsigned long long));
        } else {
            msgpack_pack_int64(&pk, va_arg(ap, long long));
        }
    }
    va_end(ap);
}

/* Is `s` one JSON value (RFC 8259 grammar, ASCII escapes only)? */
static const char *rt_json_value(const char *s, int depth);

static const char *rt_json_ws(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return s;
}

static const char *rt_json_string(const char *s)
{
    if (*s++ != '"')
        return NULL;
    while (*s && *s != '"') {
        if ((unsigned char)*s < 0x20)
            return NULL;
        if (*s == '\\') {
            s++;
            if (*s == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
                        return NULL;
                s += 4;
            } else if (!*s || !strchr("\"\\/bfnrt", *s)) {
                return NULL;
            }
        }
        s++;
    }
    return *s == '"' ? s + 1 : NULL;
}

static const char *rt_json_number(const char *s)
{
    const char *start = s;
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return NULL;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return NULL;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return NULL;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return s > start ? s : NULL;
}

static const char *rt_json_value(const char *s, int depth)
{
    if (depth > 32)
        return NULL;
    s = rt_json_ws(s);
    if (*s == '{' || *s == '[') {
        char close = *s == '{' ? '}' : ']';
        bool obj = *s == '{';
        s = rt_json_ws(s + 1);
        if (*s == close)
            return s + 1;
        for (;;) {
            if (obj) {
                s = rt_json_string(rt_json_ws(s));
                if (!s)
                    return NULL;
                s = rt_json_ws(s);
                if (*s++ != ':')
                    return NULL;
            }
            s = rt_json_value(s, depth + 1);
            if (!s)
                return NULL;
            s = rt_json_ws(s);
            if (*s == close)
                return s + 1;
            if (*s++ != ',')
                return NULL;
        }
    }
    if (*s == '"')
        return rt_json_string(s);
    if (strncmp(s, "true", 4) == 0)
        return s + 4;
    if (strncmp(s, "false", 5) == 0)
        return s + 5;
    if (strncmp(s, "null", 4) == 0)
        return s + 4;
    return rt_json_number(s);
}

static bool rt_json_valid(const char *s)
{
    const char *e = rt_json_value(s, 0);
    return e && *rt_json_ws(e) == '\0';
}

/* ---- set-up / tear-down ---------------------------------------------------------- */

static bool rt_status_answers(int timeout_ms)
{
    sr_proto_request req;
    memset(&req, 0, sizeof req);
    req.version = SR_PROTO_VERSION;
    req.op = SR_PROTO_OP_STATUS;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    sr_proto_request_encode(&req, &sb);
    rt_reply r;
    bool got = rt_call_raw(sb.data, sb.size, timeout_ms, &r);
    msgpack_sbuffer_destroy(&sb);
    bool ok = got && r.ok;
    if (got)
        rt_reply_free(&r);
    return ok;
}

static int rt_setup(void **state)
{
    memset(&rt, 0, sizeof rt);
    if (sr_test_dir_setup(state) != 0)
        return -1;
    sr_test_path_buf(rt.data, sizeof rt.data, "data");
    sr_test_path_buf(rt.state, sizeof rt.state, "state");
    snprintf(rt.endpoint, sizeof rt.endpoint, "ipc://%s/seqrecd.sock", sr_test_dir());
    if (mkdir(rt.data, 0755) != 0)
        return -1;
    sr_test_write_text(sr_test_path("outside.csv"), "session_id\n");

    char maxmsg[32];
    snprintf(maxmsg, sizeof maxmsg, "%d", RT_MAX_MSG);
    rt.pid = fork();
    if (rt.pid < 0)
        return -1;
    if (rt.pid == 0) {
        /* If this test process dies without its teardown (crash, SIGPIPE,
         * ctest's timeout), the daemon goes with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(127);
        execl(SR_BUILD_DIR "/daemon/seqrecd", "seqrecd", "--endpoint", rt.endpoint,
              "--data-root", rt.data, "--state-dir", rt.state, "--max-msg-bytes", maxmsg,
              "--threads", "2", "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    rt.zctx = zmq_ctx_new();
    if (!rt.zctx)
        return -1;
    /* Ready when status answers (up to ~10 s: ASan start-up is slow). */
    for (int i = 0; i < 50; i++) {
        if (rt_status_answers(200))
            return 0;
        int st;
        if (waitpid(rt.pid, &st, WNOHANG) == rt.pid) {
            rt.pid = 0;
            fprintf(stderr, "seqrecd exited during start-up (status %d)\n", st);
            return -1;
        }
    }
    fprintf(stderr, "seqrecd did not answer status\n");
    return -1;
}

static int rt_teardown(void **state)
{
    if (rt.pid > 0) {
        kill(rt.pid, SIGKILL);
        waitpid(rt.pid, NULL, 0);
        rt.pid = 0;
    }
    if (rt.zctx)
        zmq_ctx_term(rt.zctx);
    return sr_test_dir_teardown(state);
}

/* ---- tests (run in this order) ---------------------------------------------------- */

static void test_status_ok(void **state)
{
    (void)state;
    sr_proto_request req = { .op = SR_PROTO_OP_STATUS };
    rt_reply r;
    rt_call(&req, &r);
    assert_true(r.ok);
    const sr_mp_node *v = rt_get(&r, r.result, "version");
    assert_int_equal(v->type, SR_MP_TYPE_STR);
    assert_int_equal(rt_get_u(&r, r.result, "datasets"), 0);
    assert_int_equal(rt_get_u(&r, r.result, "busy_workers"), 0);
    assert_int_equal(rt_get_u(&r, r.result, "errors"), 0);
    const sr_mp_node *root = rt_get(&r, r.result, "data_root");
    char real[PATH_MAX];
    assert_non_null(realpath(rt.data, real));
    assert_int_equal(root->n, strlen(real));
    assert_memory_equal(root->v.s, real, root->n);
    rt_reply_free(&r);
}

static sr_mp_node rt_ingest_stats[64];
static uint32_t rt_ingest_stats_n;
static char rt_ingest_strs[64][64];

static void test_synth_then_ingest_counts_match(void **state)
{
    (void)state;
    sr_proto_request req = { .op = SR_PROTO_OP_SYNTH };
    req.u.synth.out = rt_p("syn.csv");
    req.u.synth.sessions = 200;
    req.u.synth.tracks = 500;
    req.u.synth.seed = 7;
    req.u.synth.has_seed = true;
    rt_reply r;
    rt_call(&req, &r);
    if (!r.ok)
        fail_msg("synth failed: %s", r.message);
    assert_int_equal(rt_get_u(&r, r.result, "sessions"), 200);
    rt.synth_rows = rt_get_u(&r, r.result, "rows");
    /* MSSD session lengths are 10..20 */
    assert_true(rt.synth_rows >= 200 * 10 && rt.synth_rows <= 200 * 20);
    rt_reply_free(&r);

    memset(&req, 0, sizeof req);
    req.op = SR_PROTO_OP_INGEST;
    req.u.ingest.name = rt_p("syn");
    req.u.ingest.paths[0] = rt_p("syn.csv");
    req.u.ingest.n_paths = 1;
    req.u.ingest.only_with_skip = -1;
    req.u.ingest.max_reject_rate = req.u.ingest.valid_frac = req.u.ingest.test_frac = -1;
    rt_call(&req, &r);
    if (!r.ok)
        fail_msg("ingest failed: %s", r.message);
    const sr_mp_node *stats = rt_get(&r, r.result, "stats");
    assert_int_equal(stats->type, SR_MP_TYPE_MAP);
    assert_int_equal(rt_get_u(&r, stats, "sessions"), 200);
    assert_int_equal(rt_get_u(&r, stats, "interactions"), rt.synth_rows);
    assert_int_equal(rt_get_u(&r, stats, "input_rows"), rt.synth_rows);
    assert_int_equal(rt_get_u(&r, stats, "rejected_rows"), 0);
    const sr_mp_node *ds = rt_get(&r, r.result, "dataset");
    assert_int_equal(ds->n, 3);
    assert_memory_equal(ds->v.s, "syn", 3);
    assert_int_equal(rt_get(&r, r.result, "reject_reasons")->type, SR_MP_TYPE_MAP);
    rt.datasets++;
    /* keep the stats subtree (keys and values) for the next test */
    uint32_t si = sr_mp_index(&r.doc, stats);
    rt_ingest_stats_n = stats->span;
    assert_true(rt_ingest_stats_n <= 64);
    for (uint32_t i = 0; i < rt_ingest_stats_n; i++) {
        rt_ingest_stats[i] = r.doc.nodes[si + i];
        if (rt_ingest_stats[i].type == SR_MP_TYPE_STR) {
            assert_true(rt_ingest_stats[i].n < 64);
            memcpy(rt_ingest_strs[i], rt_ingest_stats[i].v.s, rt_ingest_stats[i].n);
            rt_ingest_stats[i].v.s = rt_ingest_strs[i];
        }
    }
    rt_reply_free(&r);
}

static void test_stats_equals_ingest_stats(void **state)
{
    (void)state;
    assert_true(rt_ingest_stats_n > 1);
    sr_proto_request req = { .op = SR_PROTO_OP_STATS };
    req.u.name = rt_p("syn");
    rt_reply r;
    rt_call(&req, &r);
    if (!r.ok)
        fail_msg("stats failed: %s", r.message);
    const sr_mp_node *stats = rt_get(&r, r.result, "stats");
    const sr_mp_node *meta = rt_get(&r, r.result, "meta");
    const sr_mp_node *split = rt_get(&r, meta, "split");
    assert_int_equal(split->n, strlen("leave-last"));
    assert_memory_equal(split->v.s, "leave-last", split->n);
    /* same tree, node by node: same keys, order, types and values */
    assert_int_equal(stats->span, rt_ingest_stats_n);
    for (uint32_t i = 0; i < rt_ingest_stats_n; i++) {
        const sr_mp_node *a = &rt_ingest_stats[i], *b = stats + i;
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->n, b->n);
        if (a->type == SR_MP_TYPE_STR)
            assert_memory_equal(a->v.s, b->v.s, a->n);
        else if (a->type == SR_MP_TYPE_UINT)
            assert_int_equal(a->v.u, b->v.u);
        else if (a->type == SR_MP_TYPE_FLOAT)
            assert_true(a->v.f == b->v.f);
    }
    rt_reply_free(&r);
}

/* The events path end to end: configs/kuairand.ini is sent as text, parsed
 * by the daemon and applied to the KuaiRand like/hate file (copied into the
 * data root at run time; skipped when ../shared is absent). Expected counts
 * were computed independently with python3 (csv module): rows per user sorted
 * by time_ms, cut at gaps > 30 min or 200 plays, sessions shorter than 2
 * dropped; skipped = label < 0.5 or play_time_ms/duration_ms < 0.2 where
 * duration_ms > 0. */
static void test_events_ingest_with_kuairand_config(void **state)
{
    (void)state;
    const char *src = SR_SHARED_DATA "/kuairand-like-hate/kuairand27k_like_hate_kcore15.tsv";
    FILE *in = fopen(src, "rb");
    if (!in)
        skip();
    char dst[400];
    snprintf(dst, sizeof dst, "%s/kuairand.tsv", rt.data);
    FILE *out = fopen(dst, "wb");
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);

    FILE *cf = fopen(SR_SOURCE_DIR "/configs/kuairand.ini", "rb");
    assert_non_null(cf);
    size_t clen = fread(buf, 1, sizeof buf, cf);
    fclose(cf);
    assert_true(clen > 0 && clen < sizeof buf);

    sr_proto_request req = { .op = SR_PROTO_OP_INGEST };
    req.u.ingest.name = rt_p("kuai");
    req.u.ingest.paths[0] = rt_p("kuairand.tsv");
    req.u.ingest.n_paths = 1;
    req.u.ingest.format = rt_p("events");
    req.u.ingest.config.ptr = buf;
    req.u.ingest.config.len = (uint32_t)clen;
    req.u.ingest.only_with_skip = -1;
    req.u.ingest.max_reject_rate = req.u.ingest.valid_frac = req.u.ingest.test_frac = -1;
    rt_reply r;
    rt_call(&req, &r);
    if (!r.ok)
        fail_msg("events ingest failed: %s", r.message);
    const sr_mp_node *stats = rt_get(&r, r.result, "stats");
    assert_int_equal(rt_get_u(&r, stats, "input_rows"), 41828);
    assert_int_equal(rt_get_u(&r, stats, "rejected_rows"), 0);
    assert_int_equal(rt_get_u(&r, stats, "sessions_read"), 20756);
    assert_int_equal(rt_get_u(&r, stats, "sessions"), 8052);
    assert_int_equal(rt_get_u(&r, stats, "interactions"), 29124);
    /* counted independently in python3 with exact fractions (the row at
     * exactly 1480 of 7400 ms is on the 0.2 boundary and is not a skip) */
    assert_int_equal(rt_get_u(&r, stats, "skipped"), 9467);
    rt.datasets++;
    rt_reply_free(&r);

    /* its metadata says where the skip signal came from */
    sr_proto_request sreq = { .op = SR_PROTO_OP_STATS };
    sreq.u.name = rt_p("kuai");
    rt_call(&sreq, &r);
    assert_true(r.ok);
    const sr_mp_node *meta = rt_get(&r, r.result, "meta");
    const sr_mp_node *rule = rt_get(&r, meta, "skip_rule");
    assert_int_equal(rule->type, SR_MP_TYPE_STR);
    assert_true(rule->n == strlen("events-config") &&
                memcmp(rule->v.s, "events-config", rule->n) == 0);
    rt_reply_free(&r);
}

static void test_events_config_error_names_line(void **state)
{
    (void)state;
    static const char bad[] = "[columns]\nuser = u\ntrack = t\ntime = ts\n[skip]\n"
                              "rating = r\nrating_skip_below = abc\n";
    sr_proto_request req = { .op = SR_PROTO_OP_INGEST };
    req.u.ingest.name = rt_p("badconf");
    req.u.ingest.paths[0] = rt_p("syn.csv");
    req.u.ingest.n_paths = 1;
    req.u.ingest.format = rt_p("events");
    req.u.ingest.config = rt_p(bad);
    req.u.ingest.only_with_skip = -1;
    req.u.ingest.max_reject_rate = req.u.ingest.valid_frac = req.u.ingest.test_frac = -1;
    rt_reply r;
    rt_call(&req, &r);
    assert_false(r.ok);
    assert_int_equal(r.code, SR_PROTO_CODE_INVALID);
    if (!strstr(r.message, "line 7"))
        fail_msg("message does not name line 7: %s", r.message);
    rt.errors_sent++;
    rt_reply_free(&r);
}

static void test_malformed_garbage_bytes(void **state)
{
    (void)state;
    const unsigned char garbage[] = { 0xc1, 0xff, 0x00, 0x13, 0x37 }; /* 0xc1 is never used */
    rt_expect_error(garbage, sizeof garbage, SR_PROTO_CODE_BAD_REQUEST);
}

static void test_malformed_msgpack_not_a_map(void **state)
{
    (void)state;
    const unsigned char arr[] = { 0x93, 0x01, 0x02, 0x03 }; /* [1, 2, 3] */
    rt_expect_error(arr, sizeof arr, SR_PROTO_CODE_BAD_REQUEST);
}

static void test_malformed_unknown_op(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    rt_pack(&sb, 2, "v", 'u', 1ull, "op", 's', "frobnicate");
    rt_expect_error(sb.data, sb.size, SR_PROTO_CODE_UNKNOWN_OP);
    msgpack_sbuffer_destroy(&sb);
}

static void test_malformed_missing_field(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    rt_pack(&sb, 3, "v", 'u', 1ull, "op", 's', "synth", "sessions", 'u', 5ull); /* no "out" */
    rt_expect_error(sb.data, sb.size, SR_PROTO_CODE_BAD_REQUEST);
    msgpack_sbuffer_destroy(&sb);
}

static void test_malformed_wrong_type(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    rt_pack(&sb, 3, "v", 'u', 1ull, "op", 's', "stats", "name", 'u', 5ull); /* name: uint */
    rt_expect_error(sb.data, sb.size, SR_PROTO_CODE_BAD_REQUEST);
    msgpack_sbuffer_destroy(&sb);
}

static void test_malformed_version_2(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    rt_pack(&sb, 2, "v", 'u', 2ull, "op", 's', "status");
    rt_expect_error(sb.data, sb.size, SR_PROTO_CODE_VERSION);
    msgpack_sbuffer_destroy(&sb);
}

static void test_path_with_dotdot_is_forbidden(void **state)
{
    (void)state;
    sr_proto_request req = { .op = SR_PROTO_OP_SYNTH };
    req.u.synth.out = rt_p("../escape.csv");
    req.u.synth.sessions = 1;
    rt_expect_request_error(&req, SR_PROTO_CODE_FORBIDDEN);
    assert_int_equal(access(sr_test_path("escape.csv"), F_OK), -1); /* nothing was written */
}

static void test_absolute_path_outside_root_is_forbidden(void **state)
{
    (void)state;
    sr_proto_request req = { .op = SR_PROTO_OP_INGEST };
    req.u.ingest.name = rt_p("outside");
    req.u.ingest.paths[0] = rt_p(sr_test_path("outside.csv"));
    req.u.ingest.n_paths = 1;
    req.u.ingest.only_with_skip = -1;
    req.u.ingest.max_reject_rate = req.u.ingest.valid_frac = req.u.ingest.test_frac = -1;
    rt_expect_request_error(&req, SR_PROTO_CODE_FORBIDDEN);
}

static void test_unknown_dataset_is_not_found(void **state)
{
    (void)state;
    sr_proto_request req = { .op = SR_PROTO_OP_STATS };
    req.u.name = rt_p("no-such-dataset");
    rt_expect_request_error(&req, SR_PROTO_CODE_NOT_FOUND);
}

static void test_duplicate_ingest_without_replace_conflicts(void **state)
{
    (void)state;
    sr_proto_request req = { .op = SR_PROTO_OP_INGEST };
    req.u.ingest.name = rt_p("syn");
    req.u.ingest.paths[0] = rt_p("syn.csv");
    req.u.ingest.n_paths = 1;
    req.u.ingest.only_with_skip = -1;
    req.u.ingest.max_reject_rate = req.u.ingest.valid_frac = req.u.ingest.test_frac = -1;
    rt_expect_request_error(&req, SR_PROTO_CODE_CONFLICT);
}

static void test_status_still_answers_after_errors(void **state)
{
    (void)state;
    sr_proto_request req = { .op = SR_PROTO_OP_STATUS };
    rt_reply r;
    rt_call(&req, &r);
    assert_true(r.ok);
    assert_int_equal(rt_get_u(&r, r.result, "errors"), (uint64_t)rt.errors_sent);
    assert_int_equal(rt.errors_sent, 11);
    assert_int_equal(rt_get_u(&r, r.result, "datasets"), rt.datasets);
    rt_reply_free(&r);
}

static void test_oversized_frame_is_dropped(void **state)
{
    (void)state;
    size_t n = RT_MAX_MSG + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 0xc0, n); /* a run of msgpack nils: would be "not one object" if read */
    rt_reply r;
    bool got = rt_call_raw(big, n, 1000, &r);
    free(big);
    if (got)
        rt_reply_free(&r);
    assert_false(got); /* ZeroMQ dropped the peer: no reply */
    assert_true(rt_status_answers(RT_TIMEOUT_MS)); /* a new socket is served */
}

static void test_seqrecctl_json_status(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(SR_BUILD_DIR "/client/seqrecctl", "seqrecctl", "--endpoint", rt.endpoint, "--json",
              "status", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char out[8192];
    size_t len = 0;
    ssize_t k;
    while (len < sizeof out - 1 && (k = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)k;
    out[len] = '\0';
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    if (!rt_json_valid(out))
        fail_msg("not JSON: %s", out);
    assert_non_null(strstr(out, "\"version\""));
    char want[64];
    snprintf(want, sizeof want, "\"datasets\": %llu", (unsigned long long)rt.datasets);
    assert_non_null(strstr(out, want));
}

static void test_shutdown_exits_zero(void **state)
{
    (void)state;
    sr_proto_request req = { .op = SR_PROTO_OP_SHUTDOWN };
    rt_reply r;
    rt_call(&req, &r);
    assert_true(r.ok);
    rt_reply_free(&r);
    int st = 0;
    pid_t got = 0;
    for (int i = 0; i < 100 && got == 0; i++) { /* up to 10 s */
        got = waitpid(rt.pid, &st, WNOHANG);
        if (got == 0) {
            struct timespec ts = { 0, 100 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    assert_int_equal(got, rt.pid);
    rt.pid = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* the socket file is gone with the daemon */
    assert_int_equal(access(rt.endpoint + strlen("ipc://"), F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_ok),
        cmocka_unit_test(test_synth_then_ingest_counts_match),
        cmocka_unit_test(test_stats_equals_ingest_stats),
        cmocka_unit_test(test_events_ingest_with_kuairand_config),
        cmocka_unit_test(test_events_config_error_names_line),
        cmocka_unit_test(test_malformed_garbage_bytes),
        cmocka_unit_test(test_malformed_msgpack_not_a_map),
        cmocka_unit_test(test_malformed_unknown_op),
        cmocka_unit_test(test_malformed_missing_field),
        cmocka_unit_test(test_malformed_wrong_type),
        cmocka_unit_test(test_malformed_version_2),
        cmocka_unit_test(test_path_with_dotdot_is_forbidden),
        cmocka_unit_test(test_absolute_path_outside_root_is_forbidden),
        cmocka_unit_test(test_unknown_dataset_is_not_found),
        cmocka_unit_test(test_duplicate_ingest_without_replace_conflicts),
        cmocka_unit_test(test_status_still_answers_after_errors),
        cmocka_unit_test(test_oversized_frame_is_dropped),
        cmocka_unit_test(test_seqrecctl_json_status),
        cmocka_unit_test(test_shutdown_exits_zero),
    };
    return cmocka_run_group_tests(tests, rt_setup, rt_teardown);
}
