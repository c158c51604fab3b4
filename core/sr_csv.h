/* sr_csv.h - streaming CSV/TSV reader over plain or gzip files.
 *
 * Reads in large blocks and splits lines and fields with memchr; fields are
 * views into the reader's buffer, valid until the next sr_csv_read(). Quoted
 * fields (RFC 4180, "" as an escaped quote, no embedded newlines) are
 * supported on a slower path taken only when a line contains a quote.
 * Memory is bounded: one block plus the longest line (at most SR_CSV_MAX_LINE;
 * a longer line is an SR_ERR_FORMAT error naming file and line).
 */
#ifndef SR_CSV_H
#define SR_CSV_H

#include "sr_common.h"

#define SR_CSV_MAX_FIELDS 256
#define SR_CSV_MAX_LINE (1u << 20)

typedef struct sr_csv sr_csv;

/* Open `path` (gzip detected by magic bytes, not by name). delim 0 picks
 * '\t' when the name ends in .tsv or .tsv.gz and ',' otherwise. */
sr_err sr_csv_open(const char *path, char delim, sr_csv **out);
void sr_csv_free(sr_csv **c);

/* Next non-empty record. On success *n_fields > 0 and fields[0..n) are valid;
 * at end of file *n_fields == 0. The first record of a file is its header.
 * A trailing '\r' is stripped. */
sr_err sr_csv_read(sr_csv *c, const sr_str **fields, uint32_t *n_fields);

uint64_t sr_csv_lineno(const sr_csv *c);  /* 1-based line of the last record */
sr_str sr_csv_raw(const sr_csv *c);       /* raw text of the last record */
uint64_t sr_csv_bytes(const sr_csv *c);   /* uncompressed bytes consumed */
const char *sr_csv_path(const sr_csv *c);

/* Map required column names to indices in a header record. When a name is
 * missing, fails with SR_ERR_COLUMN and a message naming the file, the
 * missing column and the columns found. Optional names (optional[i] true)
 * get index -1 when absent. */
sr_err sr_csv_columns(const char *path, const sr_str *header, uint32_t n_header,
                      const char *const *names, const bool *optional,
                      uint32_t n_names, int32_t *index_out);

/* Read the first record of a freshly opened file as its header and map
 * `names` with sr_csv_columns(). A file without any record is SR_ERR_EMPTY
 * naming the file. *min_fields, when not NULL, gets the number of fields a
 * record must have to hold every required column (1 + the largest index).
 * On failure the reader stays open: the caller still owns and frees it. */
sr_err sr_csv_read_header(sr_csv *c, const char *const *names, const bool *optional,
                          uint32_t n_names, int32_t *index_out, uint32_t *min_fields);

/* Field parsers: false on malformed text (no partial results). */
bool sr_parse_bool(sr_str s, bool *out);      /* True/False, true/false, 1/0 */
bool sr_parse_i64(sr_str s, int64_t *out);
bool sr_parse_f64(sr_str s, double *out);
bool sr_parse_date(sr_str s, int64_t *unix_s); /* YYYY-MM-DD or YYYYMMDD, UTC midnight */
/* "YYYY-MM-DD[ T]HH:MM:SS[Z]" (UTC) */
bool sr_parse_datetime(sr_str s, int64_t *unix_s);

#endif /* SR_CSV_H */
