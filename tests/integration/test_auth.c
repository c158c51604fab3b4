/* test_auth.c - CURVE and SIGHUP against the real binaries.
 *
 * The group setup makes a server key and two client keys with
 * `seqrecctl keygen`, allows only the first client (curve_clients), and
 * starts SR_BUILD_DIR/daemon/seqrecd with CURVE on tcp://127.0.0.1:<a free
 * port>, its stderr in a log file the tests read. The tests then run IN
 * ORDER: the allowed client is served; the other key gets the named refusal
 * (and the daemon goes on serving); a client without CURVE gets a clear error
 * and a raw socket gets no answer; SIGHUP admits the second key once it is
 * appended, changes max_sessions and log_level (seen in the log, while a key
 * given on the command line keeps its value), and a bad file or a bad
 * clients file changes nothing; SIGTERM ends it with 0. Separate daemons
 * check that start-up is refused (exit 2) for a key file others can read,
 * for CURVE on ipc:// and for an empty clients file.
 */
#include "sr_test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <zmq.h>

#include "sr_proto.h"

#define AU_CTL SR_BUILD_DIR "/client/seqrecctl"
#define AU_DAEMON SR_BUILD_DIR "/daemon/seqrecd"
#define AU_WAIT_MS 10000 /* start-up and log lines (ASan start-up is slow) */

static struct {
    char endpoint[64];
    char conf[300], clients[300], log[300];
    char server_pub[300];
    pid_t pid;
    size_t log_seen; /* log bytes already looked at by au_wait_log */
} au;

static void au_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Run argv (NULL-terminated) with stdout and stderr into files of the
 * scratch dir, read back into out/err (may be NULL). Returns the exit
 * status, or -1 when killed by a signal. */
static int au_run(const char *const argv_in[], char *out, size_t out_cap, char *err,
                  size_t err_cap)
{
    char out_path[SR_TEST_PATH_MAX], err_path[SR_TEST_PATH_MAX];
    sr_test_path_buf(out_path, sizeof out_path, "run.out");
    sr_test_path_buf(err_path, sizeof err_path, "run.err");
    char *argv[20];
    int argc = 0;
    for (; argv_in[argc] && argc < 19; argc++)
        assert_non_null(argv[argc] = strdup(argv_in[argc]));
    argv[argc] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0)
            _exit(126);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    char *const bufs[2] = { out, err };
    const size_t caps[2] = { out_cap, err_cap };
    const char *paths[2] = { out_path, err_path };
    for (int i = 0; i < 2; i++) {
        if (!bufs[i])
            continue;
        size_t len = 0;
        char *text = sr_test_read_file(paths[i], &len);
        snprintf(bufs[i], caps[i], "%.*s", (int)len, text ? text : "");
        free(text);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* seqrecctl --endpoint E --timeout 1 [CURVE options] ARGS... */
static int au_ctl(const char *server_pub, const char *key, const char *cmd, char *out,
                  size_t out_cap, char *err, size_t err_cap)
{
    const char *argv[16];
    int n = 0;
    argv[n++] = AU_CTL;
    argv[n++] = "--endpoint";
    argv[n++] = au.endpoint;
    argv[n++] = "--timeout";
    argv[n++] = "1";
    if (server_pub) {
        argv[n++] = "--curve-server-key";
        argv[n++] = server_pub;
    }
    if (key) {
        argv[n++] = "--curve-key";
        argv[n++] = key;
    }
    argv[n++] = "--json";
    argv[n++] = cmd;
    argv[n] = NULL;
    return au_run(argv, out, out_cap, err, err_cap);
}

static int au_status(const char *key_name, char *err, size_t err_cap)
{
    char out[4096];
    int rc = au_ctl(au.server_pub, key_name ? sr_test_path(key_name) : NULL, "status", out,
                    sizeof out, err, err_cap);
    if (rc == 0 && !strstr(out, "\"version\""))
        fail_msg("status without a version: %s", out);
    return rc;
}

static void au_keygen(const char *name)
{
    const char *argv[] = { AU_CTL, "keygen", sr_test_path(name), NULL };
    char err[512];
    int rc = au_run(argv, NULL, 0, err, sizeof err);
    if (rc != 0)
        fail_msg("keygen %s: exit %d: %s", name, rc, err);
}

/* A TCP port nobody listens on now (the kernel's pick for port 0). */
static int au_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Start seqrecd --config conf EXTRA... with stderr into log_path. */
static pid_t au_spawn(const char *conf, const char *log_path, const char *extra1,
                      const char *extra2)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the daemon dies with this test process, whatever happens to it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int e = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (e < 0)
            _exit(126);
        dup2(e, STDERR_FILENO);
        execl(AU_DAEMON, "seqrecd", "--config", conf, extra1, extra2, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Does the log hold `needle` after what earlier waits consumed? Waits up to
 * AU_WAIT_MS; on success later waits start after the match. */
static bool au_wait_log(const char *needle)
{
    for (int waited = 0; waited < AU_WAIT_MS; waited += 20) {
        size_t len = 0;
        char *text = sr_test_read_file(au.log, &len);
        if (text && len > au.log_seen) {
            const char *hit = strstr(text + au.log_seen, needle);
            if (hit) {
                au.log_seen = (size_t)(hit - text) + strlen(needle);
                free(text);
                return true;
            }
        }
        free(text);
        au_sleep_ms(20);
    }
    return false;
}

/* Is `needle` anywhere in the log from byte `from`? */
static bool au_log_has(size_t from, const char *needle)
{
    size_t len = 0;
    char *text = sr_test_read_file(au.log, &len);
    bool has = text && len > from && strstr(text + from, needle) != NULL;
    free(text);
    return has;
}

static void au_write_conf(const char *path, const char *endpoint, const char *secret,
                          const char *clients, const char *more)
{
    char text[4096];
    snprintf(text, sizeof text,
             "[seqrecd]\nendpoint = %s\ndata_root = %s\nstate_dir = %s\nthreads = 2\n"
             "curve_secret_key = %s\ncurve_clients = %s\n%s",
             endpoint, sr_test_path("data"), sr_test_path("state"), secret, clients, more);
    sr_test_write_text(path, text);
}

/* ---- set-up / tear-down -------------------------------------------------------------- */

static int au_setup(void **state)
{
    memset(&au, 0, sizeof au);
    if (sr_test_dir_setup(state) != 0)
        return -1;
    if (mkdir(sr_test_path("data"), 0755) != 0)
        return -1;
    au_keygen("server.key");
    au_keygen("c1.key");
    au_keygen("c2.key");
    snprintf(au.endpoint, sizeof au.endpoint, "tcp://127.0.0.1:%d", au_free_port());
    sr_test_path_buf(au.conf, sizeof au.conf, "seqrecd.conf");
    sr_test_path_buf(au.clients, sizeof au.clients, "clients");
    sr_test_path_buf(au.log, sizeof au.log, "seqrecd.log");
    sr_test_path_buf(au.server_pub, sizeof au.server_pub, "server.key.pub");
    size_t len = 0;
    char *pub = sr_test_read_file(sr_test_path("c1.key.pub"), &len);
    sr_test_write_file(au.clients, pub, len);
    free(pub);
    /* max_plays = 5 in the file, 99 on the command line: reloads keep 99 */
    au_write_conf(au.conf, au.endpoint, sr_test_path("server.key"), au.clients,
                  "log_level = info\nmax_plays = 5\n");
    sr_test_write_text(au.log, ""); /* there before anyone reads it */
    au.pid = au_spawn(au.conf, au.log, "--max-plays", "99");
    if (!au_wait_log("info ready")) {
        fprintf(stderr, "seqrecd did not start; its log:\n");
        size_t n = 0;
        char *text = sr_test_read_file(au.log, &n);
        fprintf(stderr, "%.*s\n", (int)n, text ? text : "");
        free(text);
        return -1;
    }
    return 0;
}

static int au_teardown(void **state)
{
    if (au.pid > 0) {
        kill(au.pid, SIGKILL);
        waitpid(au.pid, NULL, 0);
        au.pid = 0;
    }
    return sr_test_dir_teardown(state);
}

/* ---- keygen ---------------------------------------------------------------------------- */

static void test_keygen_writes_private_pair_and_pub(void **state)
{
    (void)state;
    struct stat st;
    assert_int_equal(stat(sr_test_path("c1.key"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(sr_test_path("c1.key.pub"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    size_t len = 0;
    char *key = sr_test_read_file(sr_test_path("c1.key"), &len);
    char *pubf = sr_test_read_file(sr_test_path("c1.key.pub"), &len);
    const char *p = strstr(key, "\npublic = "), *s = strstr(key, "\nsecret = ");
    const char *pp = strstr(pubf, "\npublic = ");
    assert_non_null(p);
    assert_non_null(s);
    assert_non_null(pp);
    assert_null(strstr(pubf, "secret")); /* the .pub holds no secret */
    char pub[41], sec[41], derived[41];
    snprintf(pub, sizeof pub, "%.40s", p + 10);
    snprintf(sec, sizeof sec, "%.40s", s + 10);
    /* libzmq derives the same public key from the secret one */
    assert_int_equal(zmq_curve_public(derived, sec), 0);
    assert_string_equal(derived, pub);
    assert_memory_equal(pp + 10, pub, 40);
    free(key);
    free(pubf);
}

static void test_keygen_refuses_to_overwrite_without_force(void **state)
{
    (void)state;
    size_t len0 = 0, len1 = 0;
    char *before = sr_test_read_file(sr_test_path("c2.key"), &len0);
    const char *argv[] = { AU_CTL, "keygen", sr_test_path("c2.key"), NULL };
    char err[512];
    assert_int_equal(au_run(argv, NULL, 0, err, sizeof err), 2);
    assert_non_null(strstr(err, "exists"));
    char *after = sr_test_read_file(sr_test_path("c2.key"), &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    free(before);
    free(after);
    /* --force replaces it (a scratch pair, not one the daemon uses) */
    au_keygen("c3.key");
    const char *argv2[] = { AU_CTL, "keygen", "--force", sr_test_path("c3.key"), NULL };
    before = sr_test_read_file(sr_test_path("c3.key"), &len0);
    assert_int_equal(au_run(argv2, NULL, 0, err, sizeof err), 0);
    after = sr_test_read_file(sr_test_path("c3.key"), &len1);
    assert_false(len0 == len1 && memcmp(before, after, len0) == 0);
    free(before);
    free(after);
}

/* ---- CURVE ----------------------------------------------------------------------------- */

static void test_allowed_client_gets_status(void **state)
{
    (void)state;
    char err[1024];
    int rc = au_status("c1.key", err, sizeof err);
    if (rc != 0)
        fail_msg("status with the allowed key: exit %d: %s", rc, err);
}

static void test_other_key_is_refused_by_name(void **state)
{
    (void)state;
    char err[1024];
    size_t mark = au.log_seen;
    assert_int_equal(au_status("c2.key", err, sizeof err), 3);
    if (!strstr(err, "authentication refused by the server (CURVE)"))
        fail_msg("unexpected message: %s", err);
    /* the daemon logs the refused key by its first 8 Z85 characters */
    size_t len = 0;
    char *pub = sr_test_read_file(sr_test_path("c2.key.pub"), &len);
    char want[64];
    snprintf(want, sizeof want, "refused client key %.8s...", strstr(pub, "\npublic = ") + 10);
    free(pub);
    assert_true(au_wait_log(want));
    assert_true(au.log_seen > mark);
    /* and it goes on serving the allowed client */
    assert_int_equal(au_status("c1.key", err, sizeof err), 0);
}

static void test_client_without_curve_gets_clear_error(void **state)
{
    (void)state;
    char out[1024], err[1024];
    assert_int_equal(au_ctl(NULL, NULL, "status", out, sizeof out, err, sizeof err), 3);
    if (!strstr(err, "the server requires CURVE"))
        fail_msg("unexpected message: %s", err);
    /* only one of the two CURVE options is a usage error */
    assert_int_equal(au_ctl(au.server_pub, NULL, "status", out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "--curve-key"));
}

static void test_wrong_server_key_is_named(void **state)
{
    (void)state;
    char out[1024], err[1024];
    /* an allowed client key, but another key given as the server's */
    int rc = au_ctl(sr_test_path("c2.key.pub"), sr_test_path("c1.key"), "status", out,
                    sizeof out, err, sizeof err);
    assert_int_equal(rc, 3);
    if (!strstr(err, "is --curve-server-key the daemon's public key?"))
        fail_msg("unexpected message: %s", err);
}

static void test_plain_socket_gets_no_answer(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, au.endpoint), 0);
    sr_proto_request req;
    memset(&req, 0, sizeof req);
    req.version = SR_PROTO_VERSION;
    req.op = SR_PROTO_OP_STATUS;
    req.id = 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(sr_proto_request_encode(&req, &sb), 0);
    assert_int_equal(zmq_send(s, sb.data, sb.size, 0), (int)sb.size);
    zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
    assert_int_equal(zmq_poll(&it, 1, 500), 0); /* nothing, ever */
    msgpack_sbuffer_destroy(&sb);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* While the daemon runs on the same port and state dir: a check that tried
 * to bind or lock would fail (exit 1); it reads, reports and exits 0. */
static void test_check_config_binds_nothing(void **state)
{
    (void)state;
    const char *argv[] = { AU_DAEMON, "--config", au.conf, "--check-config", NULL };
    char out[512], err[4096];
    int rc = au_run(argv, out, sizeof out, err, sizeof err);
    if (rc != 0)
        fail_msg("--check-config: exit %d: %s", rc, err);
    assert_non_null(strstr(out, "the configuration is valid"));
    assert_non_null(strstr(err, "CURVE on:"));
    /* a file with a mistake: exit 2, the line named */
    char bad[SR_TEST_PATH_MAX];
    sr_test_path_buf(bad, sizeof bad, "bad.conf");
    au_write_conf(bad, au.endpoint, sr_test_path("server.key"), au.clients, "max_plays = 0\n");
    const char *argv2[] = { AU_DAEMON, "--config", bad, "--check-config", NULL };
    assert_int_equal(au_run(argv2, out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "bad.conf:8: max_plays: 0 is out of range"));
}

/* ---- SIGHUP ---------------------------------------------------------------------------- */

static void test_sighup_admits_appended_key(void **state)
{
    (void)state;
    size_t len = 0;
    char *old = sr_test_read_file(au.clients, &len);
    size_t plen = 0;
    char *pub = sr_test_read_file(sr_test_path("c2.key.pub"), &plen);
    char *both = malloc(len + plen);
    assert_non_null(both);
    memcpy(both, old, len);
    memcpy(both + len, pub, plen);
    sr_test_write_file(au.clients, both, len + plen);
    free(old);
    free(pub);
    free(both);
    assert_int_equal(kill(au.pid, SIGHUP), 0);
    assert_true(au_wait_log("curve_clients"));
    assert_true(au_wait_log("1 added, 0 removed"));
    char err[1024];
    int rc = au_status("c2.key", err, sizeof err);
    if (rc != 0)
        fail_msg("status with the appended key: exit %d: %s", rc, err);
}

static void test_sighup_changes_limits_and_log_level(void **state)
{
    (void)state;
    size_t mark = au.log_seen;
    au_write_conf(au.conf, au.endpoint, sr_test_path("server.key"), au.clients,
                  "log_level = debug\nmax_plays = 6\nmax_sessions = 7\n");
    assert_int_equal(kill(au.pid, SIGHUP), 0);
    assert_true(au_wait_log("max_sessions 256 -> 7"));
    assert_true(au_wait_log("log_level info -> debug"));
    /* max_plays came from the command line (99): the file's 6 is not applied */
    assert_false(au_log_has(mark, "max_plays"));
    /* the new level is in force: a request is now logged at debug level */
    char err[1024];
    assert_int_equal(au_status("c1.key", err, sizeof err), 0);
    assert_true(au_wait_log("debug [req "));
}

static void test_sighup_with_bad_file_keeps_running(void **state)
{
    (void)state;
    /* max_sessions = 9 would be valid, but the file as a whole is not */
    au_write_conf(au.conf, au.endpoint, sr_test_path("server.key"), au.clients,
                  "log_level = debug\nmax_sessions = 9\nmax_sesions = 9\n");
    assert_int_equal(kill(au.pid, SIGHUP), 0);
    assert_true(au_wait_log("reload failed"));
    assert_true(au_wait_log("unknown key 'max_sesions'"));
    char err[1024];
    assert_int_equal(au_status("c1.key", err, sizeof err), 0);
    /* the same settings as before the bad file: reloading them changes nothing */
    au_write_conf(au.conf, au.endpoint, sr_test_path("server.key"), au.clients,
                  "log_level = debug\nmax_plays = 6\nmax_sessions = 7\n");
    assert_int_equal(kill(au.pid, SIGHUP), 0);
    assert_true(au_wait_log(": no changes"));
}

static void test_sighup_with_bad_clients_file_keeps_keys(void **state)
{
    (void)state;
    /* someone appended a whole key file: refused, the old list stays */
    size_t len = 0;
    char *key = sr_test_read_file(sr_test_path("c2.key"), &len);
    sr_test_write_file(au.clients, key, len);
    free(key);
    assert_int_equal(kill(au.pid, SIGHUP), 0);
    assert_true(au_wait_log("reload failed"));
    assert_true(au_wait_log("a secret key"));
    char err[1024];
    assert_int_equal(au_status("c1.key", err, sizeof err), 0);
    assert_int_equal(au_status("c2.key", err, sizeof err), 0);
}

static void test_sigterm_exits_zero(void **state)
{
    (void)state;
    assert_int_equal(kill(au.pid, SIGTERM), 0);
    int st = 0;
    pid_t got = 0;
    for (int i = 0; i < AU_WAIT_MS / 20 && got == 0; i++) {
        got = waitpid(au.pid, &st, WNOHANG);
        if (got == 0)
            au_sleep_ms(20);
    }
    assert_int_equal(got, au.pid);
    au.pid = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- start-up refusals (their own daemons) ---------------------------------------------- */

/* Run seqrecd on conf; it must exit 2 within AU_WAIT_MS with `needle` in
 * its stderr. */
static void au_expect_refused_start(const char *conf, const char *needle)
{
    char log_path[SR_TEST_PATH_MAX];
    sr_test_path_buf(log_path, sizeof log_path, "refused.log");
    unlink(log_path);
    pid_t pid = au_spawn(conf, log_path, NULL, NULL);
    int st = 0;
    pid_t got = 0;
    for (int i = 0; i < AU_WAIT_MS / 20 && got == 0; i++) {
        got = waitpid(pid, &st, WNOHANG);
        if (got == 0)
            au_sleep_ms(20);
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("seqrecd started although it should have refused (%s)", needle);
    }
    size_t len = 0;
    char *text = sr_test_read_file(log_path, &len);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || !strstr(text, needle))
        fail_msg("expected exit 2 with '%s'; got status %d, log: %s", needle, st, text);
    free(text);
}

static void test_start_refused_for_key_others_can_read(void **state)
{
    (void)state;
    size_t len = 0;
    char *key = sr_test_read_file(sr_test_path("server.key"), &len);
    sr_test_write_file(sr_test_path("open.key"), key, len);
    free(key);
    assert_int_equal(chmod(sr_test_path("open.key"), 0644), 0);
    char conf[SR_TEST_PATH_MAX];
    sr_test_path_buf(conf, sizeof conf, "open.conf");
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", au_free_port());
    au_write_conf(conf, ep, sr_test_path("open.key"), au.clients, "");
    au_expect_refused_start(conf, "accessible by group or others (mode 0644)");
}

static void test_start_refused_for_curve_on_ipc(void **state)
{
    (void)state;
    char conf[SR_TEST_PATH_MAX], ep[SR_TEST_PATH_MAX + 8];
    sr_test_path_buf(conf, sizeof conf, "ipc.conf");
    snprintf(ep, sizeof ep, "ipc://%s", sr_test_path("curve.sock"));
    au_write_conf(conf, ep, sr_test_path("server.key"), au.clients, "");
    au_expect_refused_start(conf, "CURVE is for tcp://");
}

static void test_start_refused_for_empty_clients_file(void **state)
{
    (void)state;
    sr_test_write_text(sr_test_path("nobody"), "# no keys yet\n");
    char conf[SR_TEST_PATH_MAX], ep[64];
    sr_test_path_buf(conf, sizeof conf, "empty.conf");
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", au_free_port());
    au_write_conf(conf, ep, sr_test_path("server.key"), sr_test_path("nobody"), "");
    au_expect_refused_start(conf, "no client public key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_writes_private_pair_and_pub),
        cmocka_unit_test(test_keygen_refuses_to_overwrite_without_force),
        cmocka_unit_test(test_allowed_client_gets_status),
        cmocka_unit_test(test_other_key_is_refused_by_name),
        cmocka_unit_test(test_client_without_curve_gets_clear_error),
        cmocka_unit_test(test_wrong_server_key_is_named),
        cmocka_unit_test(test_plain_socket_gets_no_answer),
        cmocka_unit_test(test_check_config_binds_nothing),
        cmocka_unit_test(test_sighup_admits_appended_key),
        cmocka_unit_test(test_sighup_changes_limits_and_log_level),
        cmocka_unit_test(test_sighup_with_bad_file_keeps_running),
        cmocka_unit_test(test_sighup_with_bad_clients_file_keeps_keys),
        cmocka_unit_test(test_sigterm_exits_zero),
        cmocka_unit_test(test_start_refused_for_key_others_can_read),
        cmocka_unit_test(test_start_refused_for_curve_on_ipc),
        cmocka_unit_test(test_start_refused_for_empty_clients_file),
    };
    return cmocka_run_group_tests(tests, au_setup, au_teardown);
}
