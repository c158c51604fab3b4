/* sr_common.c - error messages, logging and assertions shared by all modules. */
#include "sr_common.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Thread_local char sr_last_msg[1024];

static const char *const sr_err_names[] = {
    [SR_OK] = "ok",
    [SR_ERR_NOMEM] = "nomem",
    [SR_ERR_IO] = "io",
    [SR_ERR_ARG] = "arg",
    [SR_ERR_COLUMN] = "column",
    [SR_ERR_FORMAT] = "format",
    [SR_ERR_CORRUPT] = "corrupt",
    [SR_ERR_VERSION] = "version",
    [SR_ERR_EMPTY] = "empty",
    [SR_ERR_REJECTS] = "rejects",
    [SR_ERR_LIMIT] = "limit",
    [SR_ERR_NOTFOUND] = "notfound",
    [SR_ERR_EXISTS] = "exists",
    [SR_ERR_CANCELLED] = "cancelled",
    [SR_ERR_INTERNAL] = "internal",
};

const char *sr_err_name(sr_err e)
{
    if ((unsigned)e < SR_COUNTOF(sr_err_names) && sr_err_names[e])
        return sr_err_names[e];
    return "unknown";
}

sr_err sr_errorf(sr_err e, const char *fmt, ...)
{
    /* formatted aside first: a caller may pass sr_errmsg() itself as an
     * argument, to add context to the error it is passing on */
    char msg[sizeof sr_last_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(sr_last_msg, msg, sizeof msg);
    return e;
}

const char *sr_errmsg(void)
{
    return sr_last_msg;
}

bool sr_str_eq(sr_str a, sr_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool sr_str_eqc(sr_str a, const char *c)
{
    size_t n = strlen(c);
    return a.len == n && (n == 0 || memcmp(a.ptr, c, n) == 0);
}

sr_err sr_name_parse(sr_str s, const char *const *names, size_t n, const char *what, int *out)
{
    for (size_t i = 0; i < n; i++) {
        if (names[i] && sr_str_eqc(s, names[i])) {
            *out = (int)i;
            return SR_OK;
        }
    }
    char expected[256];
    size_t off = 0;
    for (size_t i = 0; i < n && off < sizeof expected; i++)
        off += (size_t)snprintf(expected + off, sizeof expected - off, "%s%s",
                                i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
    int shown = s.len > 64 ? 64 : (int)s.len;
    return sr_errorf(SR_ERR_ARG, "unknown %s \"%.*s\"%s (expected %s)", what, shown,
                     s.ptr ? s.ptr : "", s.len > 64 ? "..." : "", expected);
}

const char *sr_name_at(const char *const *names, size_t n, unsigned i)
{
    return i < n && names[i] ? names[i] : "unknown";
}

static sr_log_fn sr_log_handler;
static void *sr_log_ud;

void sr_log_set_handler(sr_log_fn fn, void *ud)
{
    sr_log_handler = fn;
    sr_log_ud = ud;
}

void sr_log(sr_log_level level, const char *fmt, ...)
{
    if (!sr_log_handler)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sr_log_handler(sr_log_ud, level, buf);
}

void sr_assert_fail(const char *expr, const char *file, int line)
{
    /* The one place core/ writes to stderr: a broken invariant is a bug and
     * the process cannot continue safely. */
    fprintf(stderr, "seqrec: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

int sr_tmpfile_create(const char *path, bool read_write)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return -1;
    return open(path, (read_write ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0644);
}

bool sr_kv_find(sr_str text, const char *key, sr_str *value)
{
    size_t kl = strlen(key), at = 0;
    while (at < text.len) {
        const char *nl = memchr(text.ptr + at, '\n', text.len - at);
        size_t end = nl ? (size_t)(nl - text.ptr) : text.len;
        const char *l = text.ptr + at;
        size_t ll = end - at;
        if (ll >= kl + 3 && memcmp(l, key, kl) == 0 && memcmp(l + kl, " = ", 3) == 0) {
            value->ptr = l + kl + 3;
            value->len = ll - kl - 3;
            return true;
        }
        at = end + 1;
    }
    return false;
}

sr_err sr_fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir)
        return sr_errorf(SR_ERR_NOMEM, "out of memory");
    sr_err err = SR_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        err = sr_errorf(SR_ERR_IO, "fsync directory %s: %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(dir);
    return err;
}

bool sr_kv_copy(sr_str text, const char *key, char *out, size_t cap)
{
    sr_str v;
    if (!sr_kv_find(text, key, &v) || v.len >= cap)
        return false;
    memcpy(out, v.ptr, v.len);
    out[v.len] = '\0';
    return true;
}

sr_err sr_write_file_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX + 16];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return sr_errorf(SR_ERR_ARG, "path too long: %s", path);
    int fd = sr_tmpfile_create(tmp, false);
    if (fd < 0)
        return sr_errorf(SR_ERR_IO, "create %s: %s", tmp, strerror(errno));
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            sr_err e = sr_errorf(SR_ERR_IO, "write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return e;
        }
        done += (size_t)k;
    }
    if (fsync(fd) != 0) {
        sr_err e = sr_errorf(SR_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return e;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        sr_err e = sr_errorf(SR_ERR_IO, "write %s: %s", path, strerror(errno));
        unlink(tmp);
        return e;
    }
    return sr_fsync_dir_of(path);
}
