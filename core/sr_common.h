/* sr_common.h - what every seqrec module shares: error codes, the thread-local
 * error message, length-delimited strings, the log callback and SR_ASSERT.
 *
 * Conventions (see ../docs/architecture.md):
 * - fallible functions return sr_err; results go to out-parameters placed last;
 * - on failure a function records a human-readable message with sr_errorf()
 *   (thread-local, so one daemon worker never sees another's message);
 * - core/ never prints: it logs through the callback the daemon installs.
 */
#ifndef SR_COMMON_H
#define SR_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef enum sr_err {
    SR_OK = 0,
    SR_ERR_NOMEM,    /* allocation failed */
    SR_ERR_IO,       /* open/read/write/rename failed (message names the file) */
    SR_ERR_ARG,      /* invalid argument or option value */
    SR_ERR_COLUMN,   /* a required input column is missing */
    SR_ERR_FORMAT,   /* malformed input data */
    SR_ERR_CORRUPT,  /* a binary file is truncated or fails its checksum */
    SR_ERR_VERSION,  /* a binary file has an unsupported version or byte order */
    SR_ERR_EMPTY,    /* the input holds no usable data */
    SR_ERR_REJECTS,  /* too many malformed rows */
    SR_ERR_LIMIT,    /* a size limit was exceeded */
    SR_ERR_NOTFOUND, /* a named object does not exist */
    SR_ERR_EXISTS,   /* a named object already exists */
    SR_ERR_CANCELLED,/* the caller asked to stop */
    SR_ERR_INTERNAL  /* a bug; the message says where */
} sr_err;

/* Short stable name of an error code ("io", "format", ...). Never NULL. */
const char *sr_err_name(sr_err e);

/* Record a formatted message for the calling thread and return `e`, so that
 * `return sr_errorf(SR_ERR_IO, "open %s: %s", path, strerror(errno));` works. */
sr_err sr_errorf(sr_err e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The calling thread's last message ("" when none). Valid until the next
 * sr_errorf() on this thread. */
const char *sr_errmsg(void);

/* A length-delimited string; never assumed NUL-terminated. */
typedef struct sr_str {
    const char *ptr;
    size_t len;
} sr_str;

static inline sr_str sr_str_c(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    sr_str r = { s, n };
    return r;
}
bool sr_str_eq(sr_str a, sr_str b);
bool sr_str_eqc(sr_str a, const char *c);

/* ---- enum <-> name tables -------------------------------------------------- */
/* names[i] is the name of enum value i. sr_name_parse sets *out to the index
 * of `s` (compared by length, never read past s.len) or fails with
 * SR_ERR_ARG: `unknown <what> "<s>" (expected a, b or c)`; *out is left
 * alone then. sr_name_at returns names[i], or "unknown" out of range. */
sr_err sr_name_parse(sr_str s, const char *const *names, size_t n, const char *what, int *out);
const char *sr_name_at(const char *const *names, size_t n, unsigned i);

/* ---- "key = value" lines ----------------------------------------------------- */
/* The value of `key` in text made of "key = value" lines (the meta and
 * config sections of model files): the rest of the first line that starts
 * with exactly "<key> = ". false when no line does. */
bool sr_kv_find(sr_str text, const char *key, sr_str *value);
/* sr_kv_find's value copied into out[cap] with a NUL; false when the key is
 * absent or the value does not fit. */
bool sr_kv_copy(sr_str text, const char *key, char *out, size_t cap);

/* ---- logging --------------------------------------------------------------- */
typedef enum sr_log_level {
    SR_LOG_LEVEL_DEBUG = 0,
    SR_LOG_LEVEL_INFO,
    SR_LOG_LEVEL_WARN,
    SR_LOG_LEVEL_ERROR
} sr_log_level;

typedef void (*sr_log_fn)(void *ud, sr_log_level level, const char *msg);

/* Install the log sink (NULL = discard). Not thread-safe: call at start-up. */
void sr_log_set_handler(sr_log_fn fn, void *ud);
void sr_log(sr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- invariants ------------------------------------------------------------- */
/* For programmer invariants only; input must never reach an SR_ASSERT.
 * On in every build type. */
void sr_assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));
#define SR_ASSERT(c) ((c) ? (void)0 : sr_assert_fail(#c, __FILE__, __LINE__))

#define SR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SR_MAX(a, b) ((a) > (b) ? (a) : (b))
#define SR_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

/* Create the temporary file `path` (the "<final>.tmp" of an atomic write)
 * for writing: a stale file or symbolic link of that name is removed first,
 * and the file is created with O_EXCL | O_NOFOLLOW, so a link planted at the
 * temporary name can never redirect the write elsewhere. Returns the fd, or
 * -1 with errno set. read_write adds read access. */
int sr_tmpfile_create(const char *path, bool read_write);

/* Write data[0..len) to `path` atomically: "<path>.tmp" (sr_tmpfile_create),
 * fsync, rename, fsync of the directory. On failure no .tmp is left and an
 * existing file at path is untouched. SR_ERR_IO naming the file. */
sr_err sr_write_file_atomic(const char *path, const void *data, size_t len);

/* fsync the directory holding `path`, so a rename into it is durable
 * (the last step of every atomic write). SR_ERR_IO naming the directory. */
sr_err sr_fsync_dir_of(const char *path);

/* Progress callback for long jobs: done / total units (total 0 = unknown).
 * Return false to ask the job to stop (it then fails with SR_ERR_CANCELLED). */
typedef bool (*sr_progress_fn)(void *ud, const char *phase, uint64_t done, uint64_t total);

#endif /* SR_COMMON_H */
