/* srd_main.c - seqrecd: command line, signals, systemd notification.
 * Usage and configuration: docs/daemon.md and seqrecd(8).
 *
 * Signals: SIGTERM and SIGINT stop the daemon (the front end polls a wake
 * pipe); SIGHUP reloads the config file on a thread of its own (so the front
 * end keeps answering meanwhile) through srd_ops_reload.
 *
 * Exit status: 0 after a clean stop (SIGTERM, SIGINT, the shutdown op),
 * 1 when the daemon cannot start or serve (directories, bind), 2 for a usage
 * or configuration error.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "srd_auth.h"
#include "srd_config.h"
#include "srd_log.h"
#include "srd_models.h"
#include "srd_ops.h"
#include "srd_server.h"

/* SIGTERM/SIGINT write 'T' into the wake pipe (the front end stops when it
 * becomes readable); SIGHUP writes 'H' into the reload pipe, which the reload
 * thread reads ('Q' from main ends that thread). Two pipes, so that the
 * front end never has to tell the bytes apart and a reload never waits for
 * the front end. */
static int srd_wake_pipe[2] = { -1, -1 };
static int srd_reload_pipe[2] = { -1, -1 };

/* --check-config: read the settings and key files, report, exit. */
static bool srd_check_only;

/* Async-signal-safe: one byte into a pipe. */
static void srd_on_signal(int sig)
{
    int saved = errno;
    char c = sig == SIGHUP ? 'H' : 'T';
    if (write(sig == SIGHUP ? srd_reload_pipe[1] : srd_wake_pipe[1], &c, 1) < 0) {
        /* pipe full: a wake-up is already pending */
    }
    errno = saved;
}

typedef struct srd_reloader {
    srd_ops *ops;
    const char *config_path; /* NULL: no --config (a reload changes nothing) */
    const char *endpoint;
} srd_reloader;

static unsigned long long srd_monotonic_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
}

/* The reload thread: one reload per burst of SIGHUPs, framed by
 * RELOADING=1 / READY=1 for systemd (systemctl reload waits for READY). */
static void *srd_reload_main(void *arg)
{
    const srd_reloader *r = arg;
    const char *path = r->config_path ? r->config_path : "(no config file)";
    for (;;) {
        char buf[64];
        ssize_t k = read(srd_reload_pipe[0], buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || memchr(buf, 'Q', (size_t)k))
            break;
        if (!memchr(buf, 'H', (size_t)k))
            continue;
        sd_notifyf(0, "RELOADING=1\nSTATUS=reloading %s\nMONOTONIC_USEC=%llu", path,
                   srd_monotonic_usec());
        srd_info("SIGHUP: reloading %s", path);
        if (srd_ops_reload(r->ops, r->config_path) == SR_OK) {
            sd_notifyf(0, "READY=1\nSTATUS=serving on %s; reloaded %s", r->endpoint, path);
        } else {
            srd_error("reload failed, the running settings stay: %s", sr_errmsg());
            sd_notifyf(0, "READY=1\nSTATUS=serving on %s; reload of %s failed (see the log)",
                       r->endpoint, path);
        }
    }
    return NULL;
}

static void srd_usage(FILE *f)
{
    fprintf(f,
            "usage: seqrecd --data-root DIR --state-dir DIR [--endpoint ENDPOINT] [--config FILE]\n"
            "               [--threads N] [--max-msg-bytes N] [--log-level LEVEL] [--allow-remote]\n"
            "       seqrecd --check-config [--config FILE] [OPTIONS] | --help | --version\n"
            "\n"
            "The seqrec daemon: ingests listening logs into session stores and answers\n"
            "seqrecctl requests on a ZeroMQ socket. Runs in the foreground and logs to stderr\n"
            "(\"<level> [req <id>] message\"; an ISO timestamp is added when stderr is a tty).\n"
            "\n"
            "Settings come from the defaults, then --config FILE (INI: key = value, at the top\n"
            "or under [seqrecd]), then the command line; SIGHUP reads the file again (the\n"
            "command line still wins) and applies the limits, log_level and curve_clients.\n"
            "Options (key in the file):\n"
            "  --config FILE              read settings from FILE (unknown keys are errors)\n"
            "  --check-config             check the settings and CURVE key files, print the\n"
            "                             effective settings and exit (0 ok, 2 error);\n"
            "                             binds nothing (use before systemctl reload)\n"
            "  --help                     show this help and exit\n"
            "  --version                  show the version and exit\n");
    srd_config_print_help(f);
    fprintf(f,
            "\n"
            "Only ipc:// endpoints and tcp:// on a loopback address (127.0.0.1, [::1]) are\n"
            "accepted unless --allow-remote is given. With curve_secret_key (tcp only) clients\n"
            "must hold a key listed in curve_clients; without it requests are not\n"
            "authenticated. Stops cleanly on SIGTERM, SIGINT or the shutdown request (exit 0).\n"
            "Exit status: 0 clean stop, 1 cannot start or serve, 2 usage or config error.\n");
}

/* "--data-root" -> "data_root" in key[cap]; false when it is not --name. */
static bool srd_flag_key(const char *arg, char *key, size_t cap, const char **inline_val)
{
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
        return false;
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    if (n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        key[i] = name[i] == '-' ? '_' : name[i];
    key[n] = '\0';
    *inline_val = eq ? eq + 1 : NULL;
    return true;
}

/* Apply the command line. Pass 1 (apply=false) only finds --config/--help/
 * --version and checks the syntax; pass 2 sets the keys, after the file. */
static int srd_parse_args(int argc, char **argv, srd_config *cfg, bool apply,
                          const char **config_path, bool *help, bool *version)
{
    for (int i = 1; i < argc; i++) {
        char key[64];
        const char *val = NULL;
        const char *opt = argv[i];
        if (!srd_flag_key(opt, key, sizeof key, &val)) {
            fprintf(stderr, "seqrecd: unexpected argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
        if (strcmp(key, "help") == 0 || strcmp(key, "version") == 0) {
            *(key[0] == 'h' ? help : version) = true;
            continue;
        }
        if (strcmp(key, "check_config") == 0 && !val) {
            srd_check_only = true;
            continue;
        }
        bool is_flag = false;
        bool is_config = strcmp(key, "config") == 0;
        if (!is_config && !srd_config_has_key(key, &is_flag)) {
            fprintf(stderr, "seqrecd: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
        if (is_flag && !val)
            val = "yes";
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "seqrecd: option '%s' needs a value\n", argv[i]);
                return 2;
            }
            val = argv[++i];
        }
        if (is_config) {
            *config_path = val;
        } else if (apply) {
            char where[80];
            snprintf(where, sizeof where, "%.*s", (int)strcspn(opt, "="), opt);
            if (srd_config_set(cfg, key, val, where) != SR_OK ||
                srd_config_keep_cmdline(key, val) != SR_OK) {
                fprintf(stderr, "seqrecd: %s\n", sr_errmsg());
                return 2;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    srd_config cfg;
    srd_ops ops;
    bool ops_ready = false;
    srd_server *srv = NULL;
    const char *config_path = NULL;
    bool help = false, version = false;
    srd_reloader reloader;
    pthread_t reload_thread;
    bool reload_started = false;
    int rc;

    srd_config_default(&cfg);
    if ((rc = srd_parse_args(argc, argv, &cfg, false, &config_path, &help, &version)) != 0)
        return rc;
    if (help) {
        srd_usage(stdout);
        return 0;
    }
    if (version) {
        printf("seqrecd %s\n", SEQREC_VERSION);
        return 0;
    }
    if (config_path && srd_config_load(&cfg, config_path) != SR_OK) {
        fprintf(stderr, "seqrecd: %s\n", sr_errmsg());
        return 2;
    }
    if ((rc = srd_parse_args(argc, argv, &cfg, true, &config_path, &help, &version)) != 0)
        return rc;
    if (srd_config_check(&cfg) != SR_OK) {
        fprintf(stderr, "seqrecd: %s\n", sr_errmsg());
        return 2;
    }

    srd_log_init(cfg.log_level);
    srd_info("seqrecd %s %s (pid %ld)", SEQREC_VERSION,
             srd_check_only ? "checking its configuration" : "starting", (long)getpid());
    srd_config_log(&cfg);
    /* Key files are part of the configuration: a missing, malformed or
     * group-readable one is a configuration error (exit 2), found before
     * anything is bound. */
    if (srd_auth_init(&cfg) != SR_OK) {
        srd_error("%s", sr_errmsg());
        fprintf(stderr, "seqrecd: CURVE: %s\n", sr_errmsg());
        return 2;
    }
    if (!srd_auth_enabled() && strncmp(cfg.endpoint, "tcp://", 6) == 0 &&
        srd_config_check_endpoint(cfg.endpoint, false) != SR_OK)
        srd_warn("endpoint %s is reachable from other hosts and CURVE is off: anyone who can "
                 "connect can use this daemon, unencrypted (set curve_secret_key and "
                 "curve_clients)", cfg.endpoint);
    if (srd_check_only) {
        printf("seqrecd: %s: the configuration is valid\n",
               config_path ? config_path : "(no config file)");
        srd_auth_stop();
        return 0;
    }
    rc = 1;

    if (pipe(srd_wake_pipe) != 0 || pipe(srd_reload_pipe) != 0) {
        srd_error("pipe: %s", strerror(errno));
        goto done;
    }
    /* Writers (the signal handler) never block; the wake pipe's reader (the
     * front end's poll) drains without blocking; the reload thread blocks. */
    for (int k = 0; k < 2; k++) {
        fcntl(srd_wake_pipe[k], F_SETFL, fcntl(srd_wake_pipe[k], F_GETFL) | O_NONBLOCK);
        fcntl(srd_wake_pipe[k], F_SETFD, FD_CLOEXEC);
        fcntl(srd_reload_pipe[k], F_SETFD, FD_CLOEXEC);
    }
    fcntl(srd_reload_pipe[1], F_SETFL, fcntl(srd_reload_pipe[1], F_GETFL) | O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = srd_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (srd_ops_init(&ops, &cfg) != SR_OK) {
        srd_error("%s", sr_errmsg());
        goto done;
    }
    ops_ready = true;
    if (srd_server_new(&cfg, &ops, srd_wake_pipe[0], &srv) != SR_OK ||
        srd_ops_start_jobs(&ops) != SR_OK) {
        srd_error("%s", sr_errmsg());
        goto done;
    }
    reloader = (srd_reloader){ &ops, config_path, cfg.endpoint };
    if (pthread_create(&reload_thread, NULL, srd_reload_main, &reloader) != 0) {
        srd_error("cannot start the reload thread");
        goto done;
    }
    reload_started = true;
    srd_models_preload(ops.models); /* the default model: warm before READY */
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s, %llu dataset(s)", cfg.endpoint,
               (unsigned long long)srd_ops_count_datasets(&ops));
    srd_info("ready");
    if (srd_server_run(srv) != SR_OK) {
        srd_error("%s", sr_errmsg());
        goto done;
    }
    rc = 0;
done:
    if (reload_started) {
        /* A reload in progress finishes first; a full pipe (thousands of
         * pending SIGHUPs) still holds an 'H', so retry until 'Q' is in. */
        while (write(srd_reload_pipe[1], "Q", 1) < 0 && errno == EAGAIN) {
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
        }
        pthread_join(reload_thread, NULL);
    }
    srd_server_free(&srv);
    srd_auth_stop(); /* the keys, when the server never started */
    if (ops_ready)
        srd_ops_destroy(&ops);
    /* The pipes stay open: a late signal must not write into a descriptor
     * number that something else reuses; the process ends right after. */
    srd_info("exit %d", rc);
    return rc;
}
