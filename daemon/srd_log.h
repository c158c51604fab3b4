/* srd_log.h - the daemon's logger: one line per event on stderr,
 *   "<level> [req <id>] message"
 * (the "[req <id>]" part only while a request is being handled on the calling
 * thread). journald stamps each line itself, so a timestamp is added only when
 * stderr is a terminal (an interactive run). Also the sink for core's sr_log().
 */
#ifndef SRD_LOG_H
#define SRD_LOG_H

#include <stdint.h>

#include "sr_common.h"

/* Parse "debug" | "info" | "warn" | "error". */
sr_err srd_log_level_parse(const char *s, sr_log_level *out);
const char *srd_log_level_name(sr_log_level l);

/* Set the minimum level, decide about timestamps and install the core sink.
 * Call once at start-up, before any thread starts. */
void srd_log_init(sr_log_level min_level);

/* Change the minimum level while threads run (a reload, SIGHUP). */
void srd_log_set_level(sr_log_level min_level);
sr_log_level srd_log_get_level(void);

/* The request id shown on this thread's lines (0 = none). */
void srd_log_set_request(uint64_t id);

void srd_log(sr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define srd_debug(...) srd_log(SR_LOG_LEVEL_DEBUG, __VA_ARGS__)
#define srd_info(...) srd_log(SR_LOG_LEVEL_INFO, __VA_ARGS__)
#define srd_warn(...) srd_log(SR_LOG_LEVEL_WARN, __VA_ARGS__)
#define srd_error(...) srd_log(SR_LOG_LEVEL_ERROR, __VA_ARGS__)

#endif /* SRD_LOG_H */
