/* srd_main.c - seqrecd: command line, signals, systemd notification.
 * Usage and configuration: docs/daemon.md and seqrecd(8).
 *
 * Exit status: 0 after a clean stop (SIGTERM, SIGINT, the shutdown op),
 * 1 when the daemon cannot start or serve (directories, bind), 2 for a usage
 * or configuration error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "srd_config.h"
#include "srd_log.h"
#include "srd_ops.h"
#include "srd_server.h"

static int srd_wake_pipe[2] = { -1, -1 };

/* Async-signal-safe: one byte into the pipe the front end polls. */
static void srd_on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    char c = 1;
    if (write(srd_wake_pipe[1], &c, 1) < 0) {
        /* pipe full: a wake-up is already pending */
    }
    errno = saved;
}

static void srd_usage(FILE *f)
{
    fprintf(f,
            "usage: seqrecd --data-root DIR --state-dir DIR [--endpoint ENDPOINT] [--config FILE]\n"
            "               [--threads N] [--max-msg-bytes N] [--log-level LEVEL] [--allow-remote]\n"
            "       seqrecd --help | --version\n"
            "\n"
            "The seqrec daemon: ingests listening logs into session stores and answers\n"
            "seqrecctl requests on a ZeroMQ socket. Runs in the foreground and logs to stderr\n"
            "(\"<level> [req <id>] message\"; an ISO timestamp is added when stderr is a tty).\n"
            "\n"
            "Settings come from the defaults, then --config FILE (INI: key = value, at the top\n"
            "or under [seqrecd]), then the command line. Options (key in the file):\n"
            "  --config FILE              read settings from FILE (unknown keys are errors)\n"
            "  --help                     show this help and exit\n"
            "  --version                  show the version and exit\n");
    srd_config_print_help(f);
    fprintf(f,
            "\n"
            "Only ipc:// endpoints and tcp:// on a loopback address (127.0.0.1, [::1]) are\n"
            "accepted unless --allow-remote is given: requests are not authenticated.\n"
            "Stops cleanly on SIGTERM, SIGINT or the shutdown request (exit 0).\n"
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
            if (srd_config_set(cfg, key, val, where) != SR_OK) {
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
    srd_info("seqrecd %s starting (pid %ld)", SEQREC_VERSION, (long)getpid());
    srd_config_log(&cfg);
    rc = 1;

    if (pipe(srd_wake_pipe) != 0) {
        srd_error("pipe: %s", strerror(errno));
        goto done;
    }
    for (int k = 0; k < 2; k++) {
        fcntl(srd_wake_pipe[k], F_SETFL, fcntl(srd_wake_pipe[k], F_GETFL) | O_NONBLOCK);
        fcntl(srd_wake_pipe[k], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = srd_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
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
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s, %llu dataset(s)", cfg.endpoint,
               (unsigned long long)srd_ops_count_datasets(&ops));
    srd_info("ready");
    if (srd_server_run(srv) != SR_OK) {
        srd_error("%s", sr_errmsg());
        goto done;
    }
    rc = 0;
done:
    srd_server_free(&srv);
    if (ops_ready)
        srd_ops_destroy(&ops);
    for (int k = 0; k < 2; k++)
        if (srd_wake_pipe[k] >= 0)
            close(srd_wake_pipe[k]);
    srd_info("exit %d", rc);
    return rc;
}
