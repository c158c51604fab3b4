/* sr_rejects.c - the rejects file (TSV: file, line, reason, escaped raw row).
 *
 * One mutex guards the stream and the per-reason counts, so reader threads
 * may share one sr_rejects. The first write error is remembered and returned
 * by sr_rejects_close(); adding rows never fails, so a reader's hot loop has
 * no error path for it. Reasons are tallied for the summary: the first
 * SR_REJECTS_MAX_REASONS distinct ones by name, later ones as "other".
 */
#include "sr_rejects.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SR_REJECTS_MAX_REASONS 32
#define SR_REJECTS_OTHER "other"

typedef struct sr_reject_reason {
    char *name;
    uint64_t count;
} sr_reject_reason;

struct sr_rejects {
    pthread_mutex_t mutex_storage;
    /* Reached through a pointer so that const accessors (count, summary)
     * can lock it without casting const away. */
    pthread_mutex_t *mu;
    char *path;      /* NULL: count only */
    char *tmp_path;  /* "<path>.tmp" */
    FILE *fp;
    int write_errno; /* first write error, 0 if none */
    _Atomic uint64_t count;
    sr_reject_reason reasons[SR_REJECTS_MAX_REASONS];
    size_t n_reasons;
    uint64_t other;  /* rows whose reason did not fit the table */
};

sr_err sr_rejects_open(const char *path, sr_rejects **out)
{
    sr_err err = SR_OK;
    *out = NULL;
    sr_rejects *r = calloc(1, sizeof *r);
    if (!r)
        return sr_errorf(SR_ERR_NOMEM, "rejects: out of memory");
    if (pthread_mutex_init(&r->mutex_storage, NULL) != 0) {
        free(r);
        return sr_errorf(SR_ERR_INTERNAL, "rejects: pthread_mutex_init failed");
    }
    r->mu = &r->mutex_storage;
    atomic_init(&r->count, 0);
    if (path) {
        size_t n = strlen(path);
        r->path = strdup(path);
        r->tmp_path = malloc(n + 5);
        if (!r->path || !r->tmp_path) {
            err = sr_errorf(SR_ERR_NOMEM, "rejects: out of memory");
            goto done;
        }
        memcpy(r->tmp_path, path, n);
        memcpy(r->tmp_path + n, ".tmp", 5);
        int fd = sr_tmpfile_create(r->tmp_path, false);
        r->fp = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!r->fp) {
            if (fd >= 0)
                close(fd);
            err = sr_errorf(SR_ERR_IO, "open %s: %s", r->tmp_path, strerror(errno));
            goto done;
        }
    }
done:
    if (err != SR_OK) {
        free(r->path);
        free(r->tmp_path);
        pthread_mutex_destroy(&r->mutex_storage);
        free(r);
        return err;
    }
    *out = r;
    return SR_OK;
}

/* Write s[0..n) with backslash, tab, newline and CR escaped, so that every
 * rejected row is exactly one TSV line and the escaping can be undone. */
static void rejects_put_escaped(FILE *fp, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\\': esc = "\\\\"; break;
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        default: break;
        }
        if (!esc)
            continue;
        if (i > run)
            fwrite(s + run, 1, i - run, fp);
        fwrite(esc, 1, 2, fp);
        run = i + 1;
    }
    if (n > run)
        fwrite(s + run, 1, n - run, fp);
}

static void rejects_tally(sr_rejects *r, const char *reason)
{
    for (size_t i = 0; i < r->n_reasons; i++) {
        if (strcmp(r->reasons[i].name, reason) == 0) {
            r->reasons[i].count++;
            return;
        }
    }
    if (r->n_reasons < SR_REJECTS_MAX_REASONS) {
        char *copy = strdup(reason);
        if (copy) {
            r->reasons[r->n_reasons].name = copy;
            r->reasons[r->n_reasons].count = 1;
            r->n_reasons++;
            return;
        }
    }
    r->other++;
}

void sr_rejects_add(sr_rejects *r, const char *file, uint64_t line,
                    const char *reason, const char *raw, size_t raw_len)
{
    if (!r)
        return;
    if (!reason)
        reason = "unknown";
    if (!file)
        file = "";
    atomic_fetch_add(&r->count, 1);
    pthread_mutex_lock(r->mu);
    rejects_tally(r, reason);
    if (r->fp && !r->write_errno) {
        FILE *fp = r->fp;
        rejects_put_escaped(fp, file, strlen(file));
        fprintf(fp, "\t%llu\t", (unsigned long long)line);
        rejects_put_escaped(fp, reason, strlen(reason));
        fputc('\t', fp);
        if (raw)
            rejects_put_escaped(fp, raw, raw_len);
        if (fputc('\n', fp) == EOF || ferror(fp))
            r->write_errno = errno ? errno : EIO;
    }
    pthread_mutex_unlock(r->mu);
}

void sr_rejects_add_record(sr_rejects *r, const sr_csv *c, const char *reason)
{
    sr_str raw = sr_csv_raw(c);
    sr_rejects_add(r, sr_csv_path(c), sr_csv_lineno(c), reason, raw.ptr, raw.len);
}

uint64_t sr_rejects_count(const sr_rejects *r)
{
    return r ? atomic_load(&r->count) : 0;
}

size_t sr_rejects_summary(const sr_rejects *r, const char **reasons,
                          uint64_t *counts, size_t cap)
{
    if (!r || cap == 0)
        return 0;
    pthread_mutex_lock(r->mu);
    /* Selection by count, ties in order of first appearance; n <= 33. */
    size_t total = r->n_reasons + (r->other > 0);
    bool taken[SR_REJECTS_MAX_REASONS + 1] = { false };
    size_t n = 0;
    while (n < cap && n < total) {
        size_t best = total;
        uint64_t best_count = 0;
        for (size_t i = 0; i < total; i++) {
            uint64_t ci = i < r->n_reasons ? r->reasons[i].count : r->other;
            if (!taken[i] && (best == total || ci > best_count)) {
                best = i;
                best_count = ci;
            }
        }
        taken[best] = true;
        reasons[n] = best < r->n_reasons ? r->reasons[best].name : SR_REJECTS_OTHER;
        counts[n] = best_count;
        n++;
    }
    pthread_mutex_unlock(r->mu);
    return n;
}

static void rejects_destroy(sr_rejects *r)
{
    for (size_t i = 0; i < r->n_reasons; i++)
        free(r->reasons[i].name);
    pthread_mutex_destroy(&r->mutex_storage);
    free(r->path);
    free(r->tmp_path);
    free(r);
}

sr_err sr_rejects_close(sr_rejects **rp)
{
    return sr_rejects_close_to(rp, NULL);
}

sr_err sr_rejects_close_to(sr_rejects **rp, const char *final_path)
{
    if (!rp || !*rp)
        return SR_OK;
    sr_rejects *r = *rp;
    *rp = NULL;
    sr_err err = SR_OK;
    const char *dest = final_path ? final_path : r->path;
    if (r->fp) {
        int e = r->write_errno;
        if (!e && fflush(r->fp) != 0)
            e = errno;
        if (!e && fsync(fileno(r->fp)) != 0)
            e = errno;
        if (fclose(r->fp) != 0 && !e)
            e = errno;
        r->fp = NULL;
        if (e) {
            err = sr_errorf(SR_ERR_IO, "write %s: %s", r->tmp_path, strerror(e));
            unlink(r->tmp_path);
        } else if (atomic_load(&r->count) == 0) {
            /* Nothing rejected: no file, and none left from an earlier run. */
            unlink(r->tmp_path);
            if (unlink(dest) != 0 && errno != ENOENT)
                err = sr_errorf(SR_ERR_IO, "remove stale %s: %s", dest, strerror(errno));
        } else if (rename(r->tmp_path, dest) != 0) {
            err = sr_errorf(SR_ERR_IO, "rename %s -> %s: %s", r->tmp_path, dest,
                            strerror(errno));
            unlink(r->tmp_path);
        }
    }
    rejects_destroy(r);
    return err;
}

void sr_rejects_abort(sr_rejects **rp)
{
    if (!rp || !*rp)
        return;
    sr_rejects *r = *rp;
    *rp = NULL;
    if (r->fp) {
        fclose(r->fp);
        r->fp = NULL;
        unlink(r->tmp_path);
    }
    rejects_destroy(r);
}
