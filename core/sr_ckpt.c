/* sr_ckpt.c - the checkpoint / model file container: named, checksummed
 * sections written atomically and read by mmap.
 *
 * Byte layout, version 1 (docs/formats.md, "Checkpoint and model files"):
 *   [0, 64)                 header
 *   [64, 64 + 64 k)         section table, k entries of 64 bytes
 *   [64 + 64 k, file_size)  payloads in table order, each at the first
 *                           64-byte boundary at or after the end of the
 *                           previous one (the table for the first), zero
 *                           padding between them and after the last up to
 *                           file_size, a multiple of 64
 * Integers are little-endian (the host's order; the byte-order mark makes a
 * big-endian file fail loudly). Checksums are XXH3_64bits, seed 0.
 *
 * The layout is canonical - given the names, dtypes and sizes there is one
 * valid file - so the reader can check every byte: the header and table by
 * their checksums, each payload by its own, and the padding for zeros. Any
 * single changed byte therefore fails the open.
 */
#include "sr_ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define SR_CKPT_ALIGN 64u
#define SR_CKPT_HEADER_SIZE 64u
#define SR_CKPT_ENTRY_SIZE 64u
#define SR_CKPT_BOM 0x01020304u
#define SR_CKPT_NAME_FIELD 39u /* name bytes in a table entry: NUL-padded, no terminator at 39 */

/* header fields (byte offsets) */
enum {
    SR_CKH_MAGIC = 0,           /* 8 bytes "SRCKPT\0\0" */
    SR_CKH_VERSION = 8,         /* u32 */
    SR_CKH_BOM = 12,            /* u32 0x01020304 */
    SR_CKH_N_SECTIONS = 16,     /* u32 */
    SR_CKH_RESERVED0 = 20,      /* u32, 0 */
    SR_CKH_FILE_SIZE = 24,      /* u64 */
    SR_CKH_RESERVED1 = 32,      /* 16 bytes, 0 */
    SR_CKH_TABLE_CHECKSUM = 48, /* u64 XXH3 of the table */
    SR_CKH_HEADER_CHECKSUM = 56 /* u64 XXH3 of bytes [0, 56) */
};

/* table entry fields (byte offsets) */
enum {
    SR_CKE_NAME = 0,      /* 39 bytes */
    SR_CKE_DTYPE = 39,    /* u8 */
    SR_CKE_OFFSET = 40,   /* u64 */
    SR_CKE_BYTES = 48,    /* u64 */
    SR_CKE_CHECKSUM = 56  /* u64 XXH3 of the payload */
};

static const uint8_t sr_ckpt_magic[8] = { 'S', 'R', 'C', 'K', 'P', 'T', 0, 0 };

static const char *const sr_ckpt_dtype_names[] = { "text", "u8",  "i32", "u32",
                                                   "i64",  "u64", "f32", "f64" };

static uint32_t sr_ckpt_get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t sr_ckpt_get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void sr_ckpt_put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, sizeof v); }
static void sr_ckpt_put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, sizeof v); }

static uint64_t sr_ckpt_align(uint64_t x)
{
    return (x + SR_CKPT_ALIGN - 1) / SR_CKPT_ALIGN * SR_CKPT_ALIGN;
}

size_t sr_ckpt_dtype_size(sr_ckpt_dtype t)
{
    switch (t) {
    case SR_CKPT_TEXT:
    case SR_CKPT_U8: return 1;
    case SR_CKPT_I32:
    case SR_CKPT_U32:
    case SR_CKPT_F32: return 4;
    case SR_CKPT_I64:
    case SR_CKPT_U64:
    case SR_CKPT_F64: return 8;
    }
    return 0;
}

static const char *sr_ckpt_dtype_name(unsigned t)
{
    return sr_name_at(sr_ckpt_dtype_names, SR_COUNTOF(sr_ckpt_dtype_names), t);
}

/* A valid name: 1..SR_CKPT_NAME_MAX bytes of [A-Za-z0-9._-]. `len` bytes at
 * most are read. */
static bool sr_ckpt_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > SR_CKPT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* ==== writing =============================================================== */

typedef struct sr_ckpt_wsec {
    char name[SR_CKPT_NAME_MAX + 1];
    sr_ckpt_dtype dtype;
    const void *data; /* borrowed */
    uint64_t bytes;
} sr_ckpt_wsec;

struct sr_ckpt_writer {
    size_t n;
    sr_ckpt_wsec sec[SR_CKPT_MAX_SECTIONS];
};

/* Largest payload or file the writer produces: offsets stay far from
 * overflow, and no mapping of it can fail for its size alone on 64-bit. */
#define SR_CKPT_MAX_BYTES ((uint64_t)1 << 48)

sr_err sr_ckpt_writer_new(sr_ckpt_writer **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return sr_errorf(SR_ERR_NOMEM, "checkpoint writer: out of memory");
    return SR_OK;
}

void sr_ckpt_writer_free(sr_ckpt_writer **w)
{
    if (!w || !*w)
        return;
    free(*w);
    *w = NULL;
}

sr_err sr_ckpt_add(sr_ckpt_writer *w, const char *name, sr_ckpt_dtype dtype, const void *data,
                   uint64_t count)
{
    if (!name)
        return sr_errorf(SR_ERR_ARG, "checkpoint section: no name");
    size_t len = strnlen(name, SR_CKPT_NAME_MAX + 1);
    if (!sr_ckpt_name_ok(name, len))
        return sr_errorf(SR_ERR_ARG,
                         "checkpoint section \"%.*s\": a name is 1 to %d characters of "
                         "A-Z a-z 0-9 . _ -",
                         (int)SR_CKPT_NAME_MAX + 1, name, SR_CKPT_NAME_MAX);
    size_t es = sr_ckpt_dtype_size(dtype);
    if (es == 0)
        return sr_errorf(SR_ERR_ARG, "checkpoint section %s: unknown dtype %d", name,
                         (int)dtype);
    if (count > 0 && !data)
        return sr_errorf(SR_ERR_ARG, "checkpoint section %s: %" PRIu64 " elements but no data",
                         name, count);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->sec[i].name, name) == 0)
            return sr_errorf(SR_ERR_ARG, "checkpoint section %s added twice", name);
    if (w->n == SR_CKPT_MAX_SECTIONS)
        return sr_errorf(SR_ERR_LIMIT, "checkpoint section %s: more than %d sections", name,
                         SR_CKPT_MAX_SECTIONS);
    if (count > SR_CKPT_MAX_BYTES / es)
        return sr_errorf(SR_ERR_LIMIT,
                         "checkpoint section %s: %" PRIu64 " elements of %zu bytes exceed %" PRIu64
                         " bytes",
                         name, count, es, SR_CKPT_MAX_BYTES);
    sr_ckpt_wsec *s = &w->sec[w->n++];
    memset(s, 0, sizeof *s);
    memcpy(s->name, name, len);
    s->dtype = dtype;
    s->data = data;
    s->bytes = count * es;
    return SR_OK;
}

sr_err sr_ckpt_add_text(sr_ckpt_writer *w, const char *name, const char *text)
{
    if (!text)
        return sr_errorf(SR_ERR_ARG, "checkpoint section %s: no text", name ? name : "(null)");
    return sr_ckpt_add(w, name, SR_CKPT_TEXT, text, strlen(text));
}

static sr_err sr_ckpt_write_all(int fd, const char *path, const void *p, uint64_t n)
{
    const uint8_t *c = p;
    while (n > 0) {
        size_t k = n > ((size_t)1 << 30) ? (size_t)1 << 30 : (size_t)n;
        ssize_t r = write(fd, c, k);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return sr_errorf(SR_ERR_IO, "write %s: %s", path, strerror(errno));
        }
        if (r == 0)
            return sr_errorf(SR_ERR_IO, "write %s: no progress", path);
        c += r;
        n -= (uint64_t)r;
    }
    return SR_OK;
}

sr_err sr_ckpt_writer_write(sr_ckpt_writer *w, const char *path)
{
    static const uint8_t zeros[SR_CKPT_ALIGN];
    sr_err err = SR_OK;
    char *tmp = NULL;
    int fd = -1;
    bool created = false;
    uint8_t *head = NULL;
    if (!path || !*path)
        return sr_errorf(SR_ERR_ARG, "checkpoint: no path");

    /* Header and table in memory: the checksums are known before the first
     * byte is written, so the file is written once, front to back. */
    size_t head_len = SR_CKPT_HEADER_SIZE + w->n * SR_CKPT_ENTRY_SIZE;
    head = calloc(1, head_len);
    size_t plen = strlen(path);
    tmp = malloc(plen + 5);
    if (!head || !tmp) {
        err = sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);

    uint64_t at = head_len;
    for (size_t i = 0; i < w->n; i++) {
        const sr_ckpt_wsec *s = &w->sec[i];
        uint8_t *e = head + SR_CKPT_HEADER_SIZE + i * SR_CKPT_ENTRY_SIZE;
        at = sr_ckpt_align(at);
        memcpy(e + SR_CKE_NAME, s->name, strlen(s->name));
        e[SR_CKE_DTYPE] = (uint8_t)s->dtype;
        sr_ckpt_put_u64(e + SR_CKE_OFFSET, at);
        sr_ckpt_put_u64(e + SR_CKE_BYTES, s->bytes);
        sr_ckpt_put_u64(e + SR_CKE_CHECKSUM,
                        XXH3_64bits(s->bytes ? s->data : zeros, (size_t)s->bytes));
        at += s->bytes;
    }
    uint64_t file_size = sr_ckpt_align(at);
    memcpy(head + SR_CKH_MAGIC, sr_ckpt_magic, sizeof sr_ckpt_magic);
    sr_ckpt_put_u32(head + SR_CKH_VERSION, SR_CKPT_VERSION);
    sr_ckpt_put_u32(head + SR_CKH_BOM, SR_CKPT_BOM);
    sr_ckpt_put_u32(head + SR_CKH_N_SECTIONS, (uint32_t)w->n);
    sr_ckpt_put_u64(head + SR_CKH_FILE_SIZE, file_size);
    sr_ckpt_put_u64(head + SR_CKH_TABLE_CHECKSUM,
                    XXH3_64bits(head + SR_CKPT_HEADER_SIZE, head_len - SR_CKPT_HEADER_SIZE));
    sr_ckpt_put_u64(head + SR_CKH_HEADER_CHECKSUM, XXH3_64bits(head, SR_CKH_HEADER_CHECKSUM));

    fd = sr_tmpfile_create(tmp, false);
    if (fd < 0) {
        err = sr_errorf(SR_ERR_IO, "create %s: %s", tmp, strerror(errno));
        goto done;
    }
    created = true;
    if ((err = sr_ckpt_write_all(fd, tmp, head, head_len)) != SR_OK)
        goto done;
    at = head_len;
    for (size_t i = 0; i < w->n; i++) {
        const sr_ckpt_wsec *s = &w->sec[i];
        uint64_t pad = sr_ckpt_align(at) - at;
        if ((err = sr_ckpt_write_all(fd, tmp, zeros, pad)) != SR_OK ||
            (err = sr_ckpt_write_all(fd, tmp, s->data, s->bytes)) != SR_OK)
            goto done;
        at += pad + s->bytes;
    }
    if ((err = sr_ckpt_write_all(fd, tmp, zeros, file_size - at)) != SR_OK)
        goto done;
    if (fsync(fd) != 0) {
        err = sr_errorf(SR_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
        goto done;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        err = sr_errorf(SR_ERR_IO, "close %s: %s", tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        err = sr_errorf(SR_ERR_IO, "rename %s to %s: %s", tmp, path, strerror(errno));
        goto done;
    }
    created = false;
    /* The file is complete and in place; a failed directory fsync only
     * weakens durability against a power cut, so it is a warning rather
     * than a failure that would contradict the file now at path. */
    if (sr_fsync_dir_of(path) != SR_OK)
        sr_log(SR_LOG_LEVEL_WARN, "%s", sr_errmsg());
done:
    if (fd >= 0)
        close(fd);
    if (created)
        unlink(tmp);
    free(tmp);
    free(head);
    return err;
}

/* ==== reading =============================================================== */

typedef struct sr_ckpt_rsec {
    char name[SR_CKPT_NAME_MAX + 1];
    sr_ckpt_dtype dtype;
    uint64_t offset, bytes;
} sr_ckpt_rsec;

struct sr_ckpt {
    const uint8_t *map;
    size_t len;
    size_t n;
    sr_ckpt_rsec sec[SR_CKPT_MAX_SECTIONS];
};

static bool sr_ckpt_all_zero(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* Check the header of a mapped file of `size` (>= 64) bytes; *n_sec on success. */
static sr_err sr_ckpt_check_header(const char *path, const uint8_t *m, uint64_t size,
                                   uint32_t *n_sec)
{
    if (memcmp(m + SR_CKH_MAGIC, sr_ckpt_magic, sizeof sr_ckpt_magic) != 0)
        return sr_errorf(SR_ERR_FORMAT, "%s: not a seqrec checkpoint (bad magic)", path);
    uint32_t bom = sr_ckpt_get_u32(m + SR_CKH_BOM);
    if (bom != SR_CKPT_BOM) {
        if (bom == 0x04030201u)
            return sr_errorf(SR_ERR_VERSION,
                             "%s: written on a machine with the other byte order", path);
        return sr_errorf(SR_ERR_CORRUPT, "%s: bad byte-order mark 0x%08" PRIx32, path, bom);
    }
    uint32_t version = sr_ckpt_get_u32(m + SR_CKH_VERSION);
    if (version != SR_CKPT_VERSION)
        return sr_errorf(SR_ERR_VERSION,
                         "%s: checkpoint format version %" PRIu32 ", this build reads version %u",
                         path, version, SR_CKPT_VERSION);
    if (XXH3_64bits(m, SR_CKH_HEADER_CHECKSUM) != sr_ckpt_get_u64(m + SR_CKH_HEADER_CHECKSUM))
        return sr_errorf(SR_ERR_CORRUPT, "%s: header checksum mismatch", path);
    uint32_t ns = sr_ckpt_get_u32(m + SR_CKH_N_SECTIONS);
    if (ns > SR_CKPT_MAX_SECTIONS)
        return sr_errorf(SR_ERR_CORRUPT, "%s: %" PRIu32 " sections, at most %d", path, ns,
                         SR_CKPT_MAX_SECTIONS);
    if (sr_ckpt_get_u32(m + SR_CKH_RESERVED0) != 0 || !sr_ckpt_all_zero(m + SR_CKH_RESERVED1, 16))
        return sr_errorf(SR_ERR_CORRUPT, "%s: reserved header bytes are not zero", path);
    uint64_t declared = sr_ckpt_get_u64(m + SR_CKH_FILE_SIZE);
    if (declared > size)
        return sr_errorf(SR_ERR_CORRUPT, "%s: truncated: %" PRIu64 " of %" PRIu64 " bytes", path,
                         size, declared);
    if (declared < size)
        return sr_errorf(SR_ERR_CORRUPT,
                         "%s: %" PRIu64 " bytes, but the header says %" PRIu64 " (trailing data)",
                         path, size, declared);
    uint64_t table_end = SR_CKPT_HEADER_SIZE + (uint64_t)ns * SR_CKPT_ENTRY_SIZE;
    if (table_end > size)
        return sr_errorf(SR_ERR_CORRUPT,
                         "%s: %" PRIu64 " bytes, the table of %" PRIu32 " sections ends at %" PRIu64,
                         path, size, ns, table_end);
    if (XXH3_64bits(m + SR_CKPT_HEADER_SIZE, (size_t)(table_end - SR_CKPT_HEADER_SIZE)) !=
        sr_ckpt_get_u64(m + SR_CKH_TABLE_CHECKSUM))
        return sr_errorf(SR_ERR_CORRUPT, "%s: section table checksum mismatch", path);
    *n_sec = ns;
    return SR_OK;
}

/* Check table entry k against the file and the entries before it. `*end` is
 * the end of the previous payload (the table end for the first). */
static sr_err sr_ckpt_check_entry(const char *path, const uint8_t *m, uint64_t size,
                                  sr_ckpt *c, uint32_t k, uint64_t *end)
{
    const uint8_t *e = m + SR_CKPT_HEADER_SIZE + (size_t)k * SR_CKPT_ENTRY_SIZE;
    const char *raw = (const char *)(e + SR_CKE_NAME);
    size_t len = 0;
    while (len < SR_CKPT_NAME_FIELD && raw[len] != '\0')
        len++;
    if (!sr_ckpt_name_ok(raw, len) ||
        !sr_ckpt_all_zero(e + SR_CKE_NAME + len, SR_CKPT_NAME_FIELD - len))
        return sr_errorf(SR_ERR_CORRUPT, "%s: section %" PRIu32 ": invalid name", path, k);
    sr_ckpt_rsec *s = &c->sec[k];
    memcpy(s->name, raw, len);
    s->name[len] = '\0';
    for (uint32_t i = 0; i < k; i++)
        if (strcmp(c->sec[i].name, s->name) == 0)
            return sr_errorf(SR_ERR_CORRUPT, "%s: section %s appears twice", path, s->name);
    unsigned dtype = e[SR_CKE_DTYPE];
    if (dtype > SR_CKPT_F64)
        return sr_errorf(SR_ERR_CORRUPT, "%s: section %s: unknown dtype %u", path, s->name,
                         dtype);
    s->dtype = (sr_ckpt_dtype)dtype;
    s->offset = sr_ckpt_get_u64(e + SR_CKE_OFFSET);
    s->bytes = sr_ckpt_get_u64(e + SR_CKE_BYTES);
    uint64_t want = sr_ckpt_align(*end);
    if (s->offset != want || s->offset > size || s->bytes > size - s->offset ||
        s->bytes % sr_ckpt_dtype_size(s->dtype) != 0)
        return sr_errorf(SR_ERR_CORRUPT,
                         "%s: section %s: %" PRIu64 " bytes at offset %" PRIu64
                         " (expected offset %" PRIu64 ", whole %s elements, inside the %" PRIu64
                         "-byte file)",
                         path, s->name, s->bytes, s->offset, want, sr_ckpt_dtype_name(dtype),
                         size);
    if (!sr_ckpt_all_zero(m + *end, s->offset - *end))
        return sr_errorf(SR_ERR_CORRUPT, "%s: padding before section %s is not zero", path,
                         s->name);
    if (XXH3_64bits(m + s->offset, (size_t)s->bytes) != sr_ckpt_get_u64(e + SR_CKE_CHECKSUM))
        return sr_errorf(SR_ERR_CORRUPT, "%s: checksum mismatch in section %s", path, s->name);
    *end = s->offset + s->bytes;
    return SR_OK;
}

sr_err sr_ckpt_open(const char *path, sr_ckpt **out)
{
    *out = NULL;
    sr_err err = SR_OK;
    uint8_t *m = MAP_FAILED;
    size_t len = 0;
    sr_ckpt *c = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sr_errorf(errno == ENOENT ? SR_ERR_NOTFOUND : SR_ERR_IO, "open %s: %s", path,
                         strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = sr_errorf(SR_ERR_IO, "stat %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        err = sr_errorf(SR_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < SR_CKPT_HEADER_SIZE) {
        /* Too short for a header: a cut checkpoint if what is there matches
         * the magic (an empty file included), else something else entirely. */
        uint8_t head[sizeof sr_ckpt_magic];
        size_t k = (size_t)SR_MIN(size, (uint64_t)sizeof head);
        ssize_t r = k ? pread(fd, head, k, 0) : 0;
        if (r != (ssize_t)k) {
            err = sr_errorf(SR_ERR_IO, "read %s: %s", path, r < 0 ? strerror(errno) : "short");
            goto done;
        }
        if (memcmp(head, sr_ckpt_magic, k) != 0)
            err = sr_errorf(SR_ERR_FORMAT, "%s: not a seqrec checkpoint (%" PRIu64 " bytes)",
                            path, size);
        else
            err = sr_errorf(SR_ERR_CORRUPT,
                            "%s: truncated: %" PRIu64 " bytes, shorter than the %u-byte header",
                            path, size, SR_CKPT_HEADER_SIZE);
        goto done;
    }
    if (size > SIZE_MAX) {
        err = sr_errorf(SR_ERR_LIMIT, "%s: %" PRIu64 " bytes cannot be mapped", path, size);
        goto done;
    }
    len = (size_t)size;
    m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        err = sr_errorf(SR_ERR_IO, "mmap %s: %s", path, strerror(errno));
        goto done;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        err = sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    uint32_t ns = 0;
    if ((err = sr_ckpt_check_header(path, m, size, &ns)) != SR_OK)
        goto done;
    uint64_t end = SR_CKPT_HEADER_SIZE + (uint64_t)ns * SR_CKPT_ENTRY_SIZE;
    for (uint32_t k = 0; k < ns; k++)
        if ((err = sr_ckpt_check_entry(path, m, size, c, k, &end)) != SR_OK)
            goto done;
    if (sr_ckpt_align(end) != size || !sr_ckpt_all_zero(m + end, size - end)) {
        err = sr_errorf(SR_ERR_CORRUPT,
                        "%s: %" PRIu64 " bytes after the last section, expected zero padding "
                        "to a multiple of %u",
                        path, size - end, SR_CKPT_ALIGN);
        goto done;
    }
    c->n = ns;
    c->map = m;
    c->len = len;
    *out = c;
    c = NULL;
    m = MAP_FAILED;
done:
    free(c);
    if (m != MAP_FAILED)
        munmap(m, len);
    close(fd);
    return err;
}

void sr_ckpt_close(sr_ckpt **c)
{
    if (!c || !*c)
        return;
    munmap((void *)(uintptr_t)(*c)->map, (*c)->len);
    free(*c);
    *c = NULL;
}

size_t sr_ckpt_section_count(const sr_ckpt *c) { return c->n; }

const char *sr_ckpt_section_name(const sr_ckpt *c, size_t i)
{
    SR_ASSERT(i < c->n);
    return c->sec[i].name;
}

static const sr_ckpt_rsec *sr_ckpt_find(const sr_ckpt *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->sec[i].name, name) == 0)
            return &c->sec[i];
    return NULL;
}

sr_err sr_ckpt_get(const sr_ckpt *c, const char *name, sr_ckpt_dtype dtype, const void **data,
                   uint64_t *count)
{
    const sr_ckpt_rsec *s = sr_ckpt_find(c, name);
    if (!s)
        return sr_errorf(SR_ERR_NOTFOUND, "checkpoint has no section %s", name);
    if (s->dtype != dtype)
        return sr_errorf(SR_ERR_FORMAT, "checkpoint section %s holds %s, expected %s", name,
                         sr_ckpt_dtype_name(s->dtype), sr_ckpt_dtype_name((unsigned)dtype));
    /* An empty last section may sit at the very end of the mapping: the
     * pointer is one past its end and never dereferenced. */
    *data = c->map + s->offset;
    *count = s->bytes / sr_ckpt_dtype_size(dtype);
    return SR_OK;
}

sr_err sr_ckpt_get_exact(const sr_ckpt *c, const char *name, sr_ckpt_dtype dtype,
                         const void **data, uint64_t count)
{
    uint64_t have = 0;
    const void *p = NULL;
    sr_err err = sr_ckpt_get(c, name, dtype, &p, &have);
    if (err != SR_OK)
        return err;
    if (have != count)
        return sr_errorf(SR_ERR_FORMAT,
                         "checkpoint section %s holds %" PRIu64 " %s elements, expected %" PRIu64,
                         name, have, sr_ckpt_dtype_name((unsigned)dtype), count);
    *data = p;
    return SR_OK;
}

sr_err sr_ckpt_get_text(const sr_ckpt *c, const char *name, sr_str *out)
{
    const void *p = NULL;
    uint64_t n = 0;
    sr_err err = sr_ckpt_get(c, name, SR_CKPT_TEXT, &p, &n);
    if (err != SR_OK)
        return err;
    out->ptr = p;
    out->len = (size_t)n;
    return SR_OK;
}
