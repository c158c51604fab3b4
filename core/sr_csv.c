/* sr_csv.c - streaming CSV/TSV reader: memchr line splitting over large
 * blocks, SSE2 field splitting (memchr where SSE2 is absent), gzip through
 * zlib, quoted fields on a slow path.
 *
 * Buffer layout: one allocation of SR_CSV_BLOCK + SR_CSV_MAX_LINE + 1 bytes.
 * Unconsumed bytes [pos, end) are moved to the front before each refill; since
 * an unfinished line is at most SR_CSV_MAX_LINE long (longer is an error),
 * every refill has room for at least one whole block. Fields are views into
 * this buffer, except quoted fields with "" escapes or text after the closing
 * quote, which are unescaped into `scratch` (at most one line long in total).
 */
#include "sr_csv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

#define SR_CSV_BLOCK (1u << 20)
#define SR_CSV_GZ_BUFFER (256u << 10)

struct sr_csv {
    char *path;
    int fd;                 /* plain file; -1 when gz is used */
    gzFile gz;              /* gzip file (owns its descriptor); NULL when plain */
    char delim;
    char *buf;              /* [cap] */
    size_t cap;
    size_t pos, end;        /* unconsumed bytes are buf[pos..end) */
    size_t scanned;         /* bytes after pos already known to hold no '\n' */
    bool eof;
    bool at_start;          /* no line returned yet: strip a UTF-8 BOM */
    uint64_t lineno;        /* physical lines consumed */
    uint64_t rec_line;      /* line of the last record */
    uint64_t read_bytes;    /* uncompressed bytes read from the source */
    sr_str raw;
    char *scratch;          /* [SR_CSV_MAX_LINE], allocated on the first quoted escape */
    sr_str fields[SR_CSV_MAX_FIELDS];
};

static bool csv_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

sr_err sr_csv_open(const char *path, char delim, sr_csv **out)
{
    sr_err err = SR_OK;
    sr_csv *c = NULL;
    *out = NULL;
    if (!path)
        return sr_errorf(SR_ERR_ARG, "sr_csv_open: no path");
    if (delim == '\n' || delim == '\r' || delim == '"')
        return sr_errorf(SR_ERR_ARG, "%s: invalid delimiter 0x%02x", path, (unsigned char)delim);

    c = calloc(1, sizeof *c);
    if (!c)
        return sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
    c->fd = -1;
    c->at_start = true;
    c->path = strdup(path);
    c->cap = (size_t)SR_CSV_BLOCK + SR_CSV_MAX_LINE + 1;
    c->buf = malloc(c->cap);
    if (!c->path || !c->buf) {
        err = sr_errorf(SR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (delim == 0)
        delim = (csv_ends_with(path, ".tsv") || csv_ends_with(path, ".tsv.gz")) ? '\t' : ',';
    c->delim = delim;

    c->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        err = sr_errorf(SR_ERR_IO, "open %s: %s", path, strerror(errno));
        goto done;
    }
    /* gzip is recognised by its magic bytes, whatever the file is called. */
    unsigned char magic[2];
    ssize_t got;
    do {
        got = pread(c->fd, magic, sizeof magic, 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        err = sr_errorf(SR_ERR_IO, "read %s: %s", path, strerror(errno));
        goto done;
    }
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        c->gz = gzdopen(c->fd, "rb");
        if (!c->gz) {
            err = sr_errorf(SR_ERR_NOMEM, "%s: cannot start gzip decoding", path);
            goto done;
        }
        c->fd = -1; /* owned by gz now */
        gzbuffer(c->gz, SR_CSV_GZ_BUFFER);
    }
done:
    if (err != SR_OK) {
        sr_csv_free(&c);
        return err;
    }
    *out = c;
    return SR_OK;
}

void sr_csv_free(sr_csv **cp)
{
    if (!cp || !*cp)
        return;
    sr_csv *c = *cp;
    if (c->gz)
        gzclose(c->gz);
    if (c->fd >= 0)
        close(c->fd);
    free(c->scratch);
    free(c->buf);
    free(c->path);
    free(c);
    *cp = NULL;
}

/* Move the unconsumed tail to the front and read more. Sets eof at end. */
static sr_err csv_fill(sr_csv *c)
{
    if (c->pos > 0) {
        size_t left = c->end - c->pos;
        memmove(c->buf, c->buf + c->pos, left);
        c->pos = 0;
        c->end = left;
    }
    size_t room = c->cap - c->end;
    SR_ASSERT(room > 0);
    if (c->gz) {
        unsigned want = room > (1u << 30) ? (1u << 30) : (unsigned)room;
        int got = gzread(c->gz, c->buf + c->end, want);
        if (got < 0) {
            int zerr = 0;
            const char *msg = gzerror(c->gz, &zerr);
            return sr_errorf(SR_ERR_IO, "%s: gzip: %s", c->path, msg ? msg : "read error");
        }
        if (got == 0) {
            int zerr = 0;
            const char *msg = gzerror(c->gz, &zerr);
            /* A truncated stream reads as a short file plus Z_BUF_ERROR. */
            if (zerr != Z_OK && zerr != Z_STREAM_END)
                return sr_errorf(SR_ERR_IO, "%s: gzip: %s", c->path, msg ? msg : "read error");
            c->eof = true;
            return SR_OK;
        }
        c->end += (size_t)got;
        c->read_bytes += (uint64_t)got;
        return SR_OK;
    }
    ssize_t got;
    do {
        got = read(c->fd, c->buf + c->end, room);
    } while (got < 0 && errno == EINTR);
    if (got < 0)
        return sr_errorf(SR_ERR_IO, "read %s: %s", c->path, strerror(errno));
    if (got == 0) {
        c->eof = true;
        return SR_OK;
    }
    c->end += (size_t)got;
    c->read_bytes += (uint64_t)got;
    return SR_OK;
}

/* Next physical line without its '\n'; *line NULL at end of file. */
static sr_err csv_next_line(sr_csv *c, char **line, size_t *len)
{
    for (;;) {
        size_t avail = c->end - c->pos;
        char *p = c->buf + c->pos;
        char *nl = memchr(p + c->scanned, '\n', avail - c->scanned);
        if (nl) {
            size_t n = (size_t)(nl - p);
            c->lineno++;
            if (n > SR_CSV_MAX_LINE)
                return sr_errorf(SR_ERR_FORMAT, "%s:%llu: line longer than %u bytes",
                                 c->path, (unsigned long long)c->lineno, SR_CSV_MAX_LINE);
            c->pos += n + 1;
            c->scanned = 0;
            *line = p;
            *len = n;
            return SR_OK;
        }
        c->scanned = avail;
        if (avail > SR_CSV_MAX_LINE)
            return sr_errorf(SR_ERR_FORMAT, "%s:%llu: line longer than %u bytes",
                             c->path, (unsigned long long)c->lineno + 1, SR_CSV_MAX_LINE);
        if (c->eof) {
            if (avail == 0) {
                *line = NULL;
                *len = 0;
                return SR_OK;
            }
            /* last line without a final newline */
            c->lineno++;
            c->pos = c->end;
            c->scanned = 0;
            *line = p;
            *len = avail;
            return SR_OK;
        }
        sr_err err = csv_fill(c);
        if (err != SR_OK)
            return err;
    }
}

static sr_err csv_too_many_fields(const sr_csv *c)
{
    return sr_errorf(SR_ERR_FORMAT, "%s:%llu: more than %u fields",
                     c->path, (unsigned long long)c->lineno, SR_CSV_MAX_FIELDS);
}

#if defined(__SSE2__) && defined(__GNUC__)
/* Fast path for lines without any '"': 16 bytes per step, a bit mask of the
 * delimiters, one field per set bit. MSSD fields average ~8 bytes, so a
 * memchr call per field costs more in call overhead than in scanning.
 * Returns false (having stored nothing final) when the line holds a quote. */
static bool csv_split_plain(sr_csv *c, const char *line, size_t len, uint32_t *n_out,
                            sr_err *err)
{
    const __m128i vd = _mm_set1_epi8(c->delim), vq = _mm_set1_epi8('"');
    sr_str *fields = c->fields;
    uint32_t n = 0;
    size_t start = 0, i = 0;
    for (; i + 16 <= len; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(line + i));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(x, vq)))
            return false;
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vd));
        while (m) {
            size_t pos = i + (size_t)__builtin_ctz(m);
            if (n == SR_CSV_MAX_FIELDS - 1) {
                *err = csv_too_many_fields(c);
                return true;
            }
            fields[n].ptr = line + start;
            fields[n].len = pos - start;
            n++;
            start = pos + 1;
            m &= m - 1;
        }
    }
    for (; i < len; i++) {
        char ch = line[i];
        if (ch == '"')
            return false;
        if (ch == c->delim) {
            if (n == SR_CSV_MAX_FIELDS - 1) {
                *err = csv_too_many_fields(c);
                return true;
            }
            fields[n].ptr = line + start;
            fields[n].len = i - start;
            n++;
            start = i + 1;
        }
    }
    fields[n].ptr = line + start;
    fields[n].len = len - start;
    *n_out = n + 1;
    *err = SR_OK;
    return true;
}
#endif

/* Split one line into c->fields. Lines without quotes take the SIMD path
 * where available; otherwise one memchr per field, and a field that starts
 * with '"' is parsed as RFC 4180 quoted text. Malformed quoting is read
 * leniently (like Python's csv module): an unterminated quote runs to the
 * end of the line, and text after a closing quote is kept. */
static sr_err csv_split(sr_csv *c, const char *line, size_t len, uint32_t *n_out)
{
#if defined(__SSE2__) && defined(__GNUC__)
    sr_err perr;
    if (csv_split_plain(c, line, len, n_out, &perr))
        return perr;
#endif
    const char *p = line, *e = line + len;
    const char delim = c->delim;
    size_t sp = 0; /* bytes of scratch used by this record */
    uint32_t n = 0;
    for (;;) {
        if (n == SR_CSV_MAX_FIELDS)
            return csv_too_many_fields(c);
        if (p < e && *p == '"') {
            const char *q = p + 1;
            const char *r = memchr(q, '"', (size_t)(e - q));
            if (r && (r + 1 == e || r[1] == delim)) {
                /* plain quoted field: a view between the quotes */
                c->fields[n].ptr = q;
                c->fields[n].len = (size_t)(r - q);
                n++;
                if (r + 1 == e)
                    break;
                p = r + 2;
                continue;
            }
            if (!c->scratch) {
                c->scratch = malloc(SR_CSV_MAX_LINE);
                if (!c->scratch)
                    return sr_errorf(SR_ERR_NOMEM, "%s: out of memory", c->path);
            }
            char *o = c->scratch + sp;
            size_t k = 0;
            const char *s = q;
            bool inq = true;
            while (s < e) {
                char ch = *s;
                if (inq && ch == '"') {
                    if (s + 1 < e && s[1] == '"') {
                        o[k++] = '"';
                        s += 2;
                    } else {
                        inq = false;
                        s++;
                    }
                    continue;
                }
                if (!inq && ch == delim)
                    break;
                o[k++] = ch;
                s++;
            }
            /* the unescaped text is never longer than the line */
            SR_ASSERT(sp + k <= SR_CSV_MAX_LINE);
            c->fields[n].ptr = o;
            c->fields[n].len = k;
            n++;
            sp += k;
            if (s >= e)
                break;
            p = s + 1;
            continue;
        }
        const char *d = memchr(p, delim, (size_t)(e - p));
        if (!d) {
            c->fields[n].ptr = p;
            c->fields[n].len = (size_t)(e - p);
            n++;
            break;
        }
        c->fields[n].ptr = p;
        c->fields[n].len = (size_t)(d - p);
        n++;
        p = d + 1;
    }
    *n_out = n;
    return SR_OK;
}

sr_err sr_csv_read(sr_csv *c, const sr_str **fields, uint32_t *n_fields)
{
    *n_fields = 0;
    *fields = c->fields;
    for (;;) {
        char *line = NULL;
        size_t len = 0;
        sr_err err = csv_next_line(c, &line, &len);
        if (err != SR_OK)
            return err;
        if (!line)
            return SR_OK;
        if (c->at_start) {
            c->at_start = false;
            if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
                line += 3;
                len -= 3;
            }
        }
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (len == 0)
            continue; /* empty lines are not records */
        c->rec_line = c->lineno;
        c->raw.ptr = line;
        c->raw.len = len;
        return csv_split(c, line, len, n_fields);
    }
}

uint64_t sr_csv_lineno(const sr_csv *c) { return c->rec_line; }
sr_str sr_csv_raw(const sr_csv *c) { return c->raw; }
uint64_t sr_csv_bytes(const sr_csv *c) { return c->read_bytes - (uint64_t)(c->end - c->pos); }
const char *sr_csv_path(const sr_csv *c) { return c->path; }

/* Append to a bounded message buffer; keeps it NUL-terminated. */
static void csv_msg_append(char *buf, size_t cap, size_t *used, const char *s, size_t n)
{
    if (*used + 1 >= cap)
        return;
    size_t room = cap - 1 - *used;
    if (n > room)
        n = room;
    memcpy(buf + *used, s, n);
    *used += n;
    buf[*used] = '\0';
}

sr_err sr_csv_columns(const char *path, const sr_str *header, uint32_t n_header,
                      const char *const *names, const bool *optional,
                      uint32_t n_names, int32_t *index_out)
{
    for (uint32_t i = 0; i < n_names; i++) {
        int32_t found = -1;
        for (uint32_t j = 0; j < n_header; j++) {
            if (sr_str_eqc(header[j], names[i])) {
                found = (int32_t)j;
                break;
            }
        }
        index_out[i] = found;
        if (found >= 0 || (optional && optional[i]))
            continue;
        /* "file.csv: missing column "skip_2"; found: a, b, c" */
        char list[768];
        size_t used = 0;
        list[0] = '\0';
        for (uint32_t j = 0; j < n_header; j++) {
            if (j > 0)
                csv_msg_append(list, sizeof list, &used, ", ", 2);
            csv_msg_append(list, sizeof list, &used, header[j].ptr, header[j].len);
        }
        if (used + 1 >= sizeof list)
            memcpy(list + sizeof list - 4, "...", 4);
        return sr_errorf(SR_ERR_COLUMN, "%s: missing column \"%s\"; found: %s",
                         path ? path : "(input)", names[i], n_header ? list : "(no columns)");
    }
    return SR_OK;
}

sr_err sr_csv_read_header(sr_csv *c, const char *const *names, const bool *optional,
                          uint32_t n_names, int32_t *index_out, uint32_t *min_fields)
{
    const sr_str *f;
    uint32_t nf;
    sr_err err = sr_csv_read(c, &f, &nf);
    if (err != SR_OK)
        return err;
    if (nf == 0)
        return sr_errorf(SR_ERR_EMPTY, "%s: empty file (no header)", c->path);
    err = sr_csv_columns(c->path, f, nf, names, optional, n_names, index_out);
    if (err != SR_OK)
        return err;
    if (min_fields) {
        uint32_t need = 0;
        for (uint32_t i = 0; i < n_names; i++) {
            if (!(optional && optional[i]))
                need = SR_MAX(need, (uint32_t)index_out[i] + 1);
        }
        *min_fields = need;
    }
    return SR_OK;
}

/* ---- field parsers ------------------------------------------------------- */

bool sr_parse_bool(sr_str s, bool *out)
{
    const char *p = s.ptr;
    switch (s.len) {
    case 1:
        if (p[0] == '1' || p[0] == '0') {
            *out = p[0] == '1';
            return true;
        }
        return false;
    case 4:
        if (memcmp(p, "True", 4) == 0 || memcmp(p, "true", 4) == 0) {
            *out = true;
            return true;
        }
        return false;
    case 5:
        if (memcmp(p, "False", 5) == 0 || memcmp(p, "false", 5) == 0) {
            *out = false;
            return true;
        }
        return false;
    default:
        return false;
    }
}

bool sr_parse_i64(sr_str s, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (s.len == 0)
        return false;
    if (s.ptr[0] == '-' || s.ptr[0] == '+') {
        neg = s.ptr[0] == '-';
        i = 1;
        if (s.len == 1)
            return false;
    }
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < s.len; i++) {
        unsigned d = (unsigned)(unsigned char)s.ptr[i] - '0';
        if (d > 9)
            return false;
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0u - v) : (int64_t)v;
    return true;
}

bool sr_parse_f64(sr_str s, double *out)
{
    static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
    if (s.len == 0 || s.len > 127)
        return false;
    /* Only decimal notation: this rejects inf, nan, hex floats and the
     * whitespace strtod would skip. */
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '+' ||
              ch == 'e' || ch == 'E'))
            return false;
    }
    /* Fast path (Clinger): at most 15 significant digits and no exponent;
     * m and 10^k are exact doubles, so m / 10^k is correctly rounded. */
    {
        size_t i = 0;
        bool neg = false;
        if (s.ptr[0] == '-' || s.ptr[0] == '+') {
            neg = s.ptr[0] == '-';
            i = 1;
        }
        uint64_t m = 0;
        int digits = 0, frac = -1;
        bool ok = i < s.len;
        for (; ok && i < s.len; i++) {
            char ch = s.ptr[i];
            if (ch >= '0' && ch <= '9') {
                m = m * 10 + (uint64_t)(ch - '0');
                digits++;
                if (frac >= 0)
                    frac++;
                if (digits > 15)
                    ok = false;
            } else if (ch == '.' && frac < 0) {
                frac = 0;
            } else {
                ok = false;
            }
        }
        if (ok && digits > 0) {
            double v = (double)m;
            if (frac > 0)
                v /= pow10[frac];
            *out = neg ? -v : v;
            return true;
        }
    }
    char tmp[128];
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + s.len || end == tmp)
        return false;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
        return false;
    if (!isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool csv_digits(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)p[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + (int)d;
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t csv_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool csv_valid_ymd(int y, int m, int d)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m < 1 || m > 12 || d < 1)
        return false;
    int lim = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        lim = 29;
    return d <= lim;
}

bool sr_parse_date(sr_str s, int64_t *unix_s)
{
    int y, m, d;
    const char *p = s.ptr;
    if (s.len == 10) {
        if (p[4] != '-' || p[7] != '-')
            return false;
        if (!csv_digits(p, 4, &y) || !csv_digits(p + 5, 2, &m) || !csv_digits(p + 8, 2, &d))
            return false;
    } else if (s.len == 8) {
        if (!csv_digits(p, 4, &y) || !csv_digits(p + 4, 2, &m) || !csv_digits(p + 6, 2, &d))
            return false;
    } else {
        return false;
    }
    if (!csv_valid_ymd(y, m, d))
        return false;
    *unix_s = csv_days_from_civil(y, m, d) * 86400;
    return true;
}

bool sr_parse_datetime(sr_str s, int64_t *unix_s)
{
    const char *p = s.ptr;
    int64_t day;
    int hh, mm, ss;
    if (s.len < 19)
        return false;
    sr_str date = { p, 10 };
    if (!sr_parse_date(date, &day))
        return false;
    if ((p[10] != ' ' && p[10] != 'T') || p[13] != ':' || p[16] != ':')
        return false;
    if (!csv_digits(p + 11, 2, &hh) || !csv_digits(p + 14, 2, &mm) || !csv_digits(p + 17, 2, &ss))
        return false;
    if (hh > 23 || mm > 59 || ss > 60) /* 60: a leap second */
        return false;
    size_t i = 19;
    /* optional fractional seconds, truncated */
    if (i < s.len && p[i] == '.') {
        i++;
        size_t start = i;
        while (i < s.len && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < s.len && p[i] == 'Z')
        i++;
    if (i != s.len)
        return false;
    *unix_s = day + hh * 3600 + mm * 60 + ss;
    return true;
}
