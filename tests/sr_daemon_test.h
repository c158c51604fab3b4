/* sr_daemon_test.h - helpers of the integration tests that start the real
 * seqrecd and drive it with the real seqrecctl (header-only; include after
 * cmocka.h and sr_test.h, in one .c file per test binary).
 *
 *   sdt_setup / sdt_teardown   cmocka fixtures: a scratch dir with data/ and
 *                              state/, endpoint ipc://<dir>/seqrecd.sock
 *   sdt_start_daemon(args...)  start seqrecd with the paths and extra
 *                              options (NULL-terminated), wait for status
 *   sdt_stop_daemon(sig)       signal it, wait, return its exit status
 *   sdt_ctl(out, cap, args...) run seqrecctl, stdout into out, exit status
 *   sdt_json(json, key, ...)   the value of "key": in seqrecctl's JSON
 */
#ifndef SR_DAEMON_TEST_H
#define SR_DAEMON_TEST_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct {
    char data[300];
    char state[300];
    char endpoint[320];
    pid_t pid;
} sdt;

static void sdt_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Run seqrecctl with the daemon's endpoint and the arguments in argv_in
 * (NULL terminated); stdout into out[cap]. Returns the exit status. */
static int sdt_ctlv(char *out, size_t cap, const char *const *argv_in)
{
    char *argv[80];
    int n = 0;
    argv[n++] = strdup("seqrecctl");
    argv[n++] = strdup("--endpoint");
    argv[n++] = strdup(sdt.endpoint);
    for (int i = 0; argv_in[i] && n < 78; i++)
        argv[n++] = strdup(argv_in[i]);
    argv[n] = NULL;
    for (int i = 0; i < n; i++)
        assert_non_null(argv[i]);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(SR_BUILD_DIR "/client/seqrecctl", argv);
        _exit(127);
    }
    for (int i = 0; i < n; i++)
        free(argv[i]);
    close(fds[1]);
    size_t len = 0;
    ssize_t k;
    char sink[4096];
    while ((k = read(fds[0], len < cap - 1 ? out + len : sink,
                     len < cap - 1 ? cap - 1 - len : sizeof sink)) > 0)
        if (len < cap - 1)
            len += (size_t)k;
    out[len < cap ? len : cap - 1] = '\0';
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int sdt_ctl(char *out, size_t cap, ...)
{
    const char *argv[80];
    int n = 0;
    va_list ap;
    va_start(ap, cap);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 76)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return sdt_ctlv(out, cap, argv);
}

/* Start seqrecd with --endpoint, --data-root, --state-dir and the extra
 * options given (NULL terminated), and wait until it answers status. */
static void sdt_start_daemon(const char *first, ...)
{
    char *argv[64];
    int n = 0;
    argv[n++] = strdup("seqrecd");
    argv[n++] = strdup("--endpoint");
    argv[n++] = strdup(sdt.endpoint);
    argv[n++] = strdup("--data-root");
    argv[n++] = strdup(sdt.data);
    argv[n++] = strdup("--state-dir");
    argv[n++] = strdup(sdt.state);
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 62; a = va_arg(ap, const char *))
        argv[n++] = strdup(a);
    va_end(ap);
    argv[n] = NULL;
    for (int i = 0; i < n; i++)
        assert_non_null(argv[i]);
    sdt.pid = fork();
    assert_true(sdt.pid >= 0);
    if (sdt.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(127);
        execv(SR_BUILD_DIR "/daemon/seqrecd", argv);
        _exit(127);
    }
    for (int i = 0; i < n; i++)
        free(argv[i]);
    char out[4096];
    for (int i = 0; i < 100; i++) {
        if (sdt_ctl(out, sizeof out, "--timeout", "1", "status", (char *)NULL) == 0)
            return;
        sdt_sleep_ms(100);
    }
    fail_msg("seqrecd did not answer status");
}

/* Send `sig` and wait (up to ~60 s, then SIGKILL) for the daemon; its
 * exit status, or 128 + signal. */
static int sdt_stop_daemon(int sig)
{
    if (sdt.pid <= 0)
        return -1;
    kill(sdt.pid, sig);
    int st = 0;
    pid_t r = 0;
    for (int i = 0; i < 6000 && (r = waitpid(sdt.pid, &st, WNOHANG)) == 0; i++)
        sdt_sleep_ms(10);
    if (r == 0) {
        kill(sdt.pid, SIGKILL);
        waitpid(sdt.pid, &st, 0);
    }
    sdt.pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int sdt_setup(void **state)
{
    memset(&sdt, 0, sizeof sdt);
    if (sr_test_dir_setup(state) != 0)
        return -1;
    sr_test_path_buf(sdt.data, sizeof sdt.data, "data");
    sr_test_path_buf(sdt.state, sizeof sdt.state, "state");
    snprintf(sdt.endpoint, sizeof sdt.endpoint, "ipc://%s/seqrecd.sock", sr_test_dir());
    if (mkdir(sdt.data, 0755) != 0)
        return -1;
    return 0;
}

static int sdt_teardown(void **state)
{
    sdt_stop_daemon(SIGKILL);
    return sr_test_dir_teardown(state);
}

/* The value after "key": in JSON text (a number, true/false/null or a
 * quoted string), into out[cap]; false when absent. The first occurrence:
 * good enough for seqrecctl's output. */
static bool sdt_json(const char *json, const char *key, char *out, size_t cap)
{
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (p[n] && p[n] != '"' && n + 1 < cap)
            n++;
    } else {
        while (p[n] && p[n] != ',' && p[n] != '\n' && p[n] != '}' && n + 1 < cap)
            n++;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

#endif /* SR_DAEMON_TEST_H */
