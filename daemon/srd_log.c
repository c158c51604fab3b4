/* srd_log.c - stderr logger (see srd_log.h). */
#include "srd_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int srd_log_min = SR_LOG_LEVEL_INFO;
static bool srd_log_stamp;
static _Thread_local uint64_t srd_log_req;

static const char *const srd_log_names[] = {
    [SR_LOG_LEVEL_DEBUG] = "debug",
    [SR_LOG_LEVEL_INFO] = "info",
    [SR_LOG_LEVEL_WARN] = "warn",
    [SR_LOG_LEVEL_ERROR] = "error",
};

sr_err srd_log_level_parse(const char *s, sr_log_level *out)
{
    for (size_t i = 0; i < SR_COUNTOF(srd_log_names); i++) {
        if (strcmp(s, srd_log_names[i]) == 0) {
            *out = (sr_log_level)i;
            return SR_OK;
        }
    }
    return sr_errorf(SR_ERR_ARG, "log level '%s': expected debug, info, warn or error", s);
}

const char *srd_log_level_name(sr_log_level l)
{
    if ((unsigned)l < SR_COUNTOF(srd_log_names))
        return srd_log_names[l];
    return "?";
}

static void srd_log_write(sr_log_level level, const char *msg)
{
    if ((int)level < atomic_load(&srd_log_min))
        return;
    char stamp[40] = "";
    if (srd_log_stamp) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(stamp + n, sizeof stamp - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    }
    char req[40] = "";
    if (srd_log_req)
        snprintf(req, sizeof req, "[req %llu] ", (unsigned long long)srd_log_req);
    /* One fprintf per line: stdio locks the stream per call, so lines from
     * several threads never interleave. Newlines inside a message would split
     * it into several journal entries: replace them. */
    char line[1200];
    snprintf(line, sizeof line, "%s%s %s%s", stamp, srd_log_level_name(level), req, msg);
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "%s\n", line);
}

static void srd_log_core(void *ud, sr_log_level level, const char *msg)
{
    (void)ud;
    srd_log_write(level, msg);
}

void srd_log_init(sr_log_level min_level)
{
    atomic_store(&srd_log_min, (int)min_level);
    srd_log_stamp = isatty(STDERR_FILENO) == 1;
    sr_log_set_handler(srd_log_core, NULL);
}

void srd_log_set_level(sr_log_level min_level)
{
    atomic_store(&srd_log_min, (int)min_level);
}

sr_log_level srd_log_get_level(void)
{
    return (sr_log_level)atomic_load(&srd_log_min);
}

void srd_log_set_request(uint64_t id)
{
    srd_log_req = id;
}

void srd_log(sr_log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&srd_log_min))
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    srd_log_write(level, buf);
}
