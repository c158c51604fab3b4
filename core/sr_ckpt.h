/* sr_ckpt.h - the checkpoint / model file: a versioned container of named,
 * checksummed sections, written atomically (temporary file, fsync, rename,
 * fsync of the directory). Byte layout: docs/formats.md, "Checkpoint and
 * model files".
 *
 *   header   64 B: magic "SRCKPT\0\0", version u32 (1), byte-order mark
 *            u32 0x01020304, n_sections u32, reserved u32, file size u64,
 *            reserved, table checksum (XXH3_64 of the section table),
 *            header checksum (XXH3_64 of the first 56 bytes)
 *   table    n_sections x 64 B: name[39] (NUL-padded; a 39-byte name fills
 *            it), dtype u8, offset u64, bytes u64, XXH3_64 of the payload;
 *            exact offsets in docs/formats.md
 *   payloads each at the first 64-byte boundary at or after the end of
 *            the previous one (the table for the first), zero padding
 *            between them and up to the file size (a multiple of 64)
 *
 * Sections hold raw little-endian arrays of one dtype (f32, f64, i64, u64,
 * i32, u32, u8) or text (UTF-8, not NUL-terminated). What the sections MEAN is
 * decided by the writer (sr_train.h: model, optimiser, trainer state;
 * sr_baseline.h: baselines); this module only stores them.
 * Reading verifies sizes, offsets (inside the file, aligned, not
 * overlapping) and every checksum; a truncated or corrupted file is
 * SR_ERR_CORRUPT, an unknown version SR_ERR_VERSION, a file that is no
 * checkpoint SR_ERR_FORMAT, a missing file SR_ERR_NOTFOUND.
 */
#ifndef SR_CKPT_H
#define SR_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "sr_common.h"

#define SR_CKPT_VERSION 1u
#define SR_CKPT_MAX_SECTIONS 64
#define SR_CKPT_NAME_MAX 39 /* bytes of a section name ([A-Za-z0-9._-]) */

typedef enum sr_ckpt_dtype {
    SR_CKPT_TEXT = 0,
    SR_CKPT_U8,
    SR_CKPT_I32,
    SR_CKPT_U32,
    SR_CKPT_I64,
    SR_CKPT_U64,
    SR_CKPT_F32,
    SR_CKPT_F64
} sr_ckpt_dtype;

size_t sr_ckpt_dtype_size(sr_ckpt_dtype t); /* 1 for TEXT */

/* ---- writing: gather borrowed sections, then write them in one go ---------- */
typedef struct sr_ckpt_writer sr_ckpt_writer;

sr_err sr_ckpt_writer_new(sr_ckpt_writer **out);
void sr_ckpt_writer_free(sr_ckpt_writer **w); /* NULL-safe */

/* Add a section; `data` ([count] elements of dtype) is BORROWED and must
 * stay unchanged until sr_ckpt_writer_write returns. Names must be unique
 * and valid; SR_ERR_ARG / SR_ERR_LIMIT otherwise. count may be 0. */
sr_err sr_ckpt_add(sr_ckpt_writer *w, const char *name, sr_ckpt_dtype dtype, const void *data,
                   uint64_t count);
sr_err sr_ckpt_add_text(sr_ckpt_writer *w, const char *name, const char *text); /* strlen */

/* Write everything to "<path>.tmp" (sr_tmpfile_create), fsync, rename to
 * path, fsync the directory. On failure nothing is left at "<path>.tmp" and
 * an existing file at path is untouched. */
sr_err sr_ckpt_writer_write(sr_ckpt_writer *w, const char *path);

/* ---- reading: map and verify, then look sections up ----------------------- */
typedef struct sr_ckpt sr_ckpt;

sr_err sr_ckpt_open(const char *path, sr_ckpt **out);
void sr_ckpt_close(sr_ckpt **c); /* NULL-safe */

size_t sr_ckpt_section_count(const sr_ckpt *c);
/* Name of section i (< count), NUL-terminated. */
const char *sr_ckpt_section_name(const sr_ckpt *c, size_t i);

/* The section `name` as [*count] elements of `dtype`, pointing into the
 * mapping (64-byte aligned; valid until sr_ckpt_close). SR_ERR_NOTFOUND when
 * absent; SR_ERR_FORMAT when its dtype differs (message names both). */
sr_err sr_ckpt_get(const sr_ckpt *c, const char *name, sr_ckpt_dtype dtype, const void **data,
                   uint64_t *count);
/* The same with the element count required to equal `count` (SR_ERR_FORMAT
 * otherwise): for arrays whose size the reader already knows. */
sr_err sr_ckpt_get_exact(const sr_ckpt *c, const char *name, sr_ckpt_dtype dtype,
                         const void **data, uint64_t count);
/* A TEXT section as a string view (not NUL-terminated). */
sr_err sr_ckpt_get_text(const sr_ckpt *c, const char *name, sr_str *out);

#endif /* SR_CKPT_H */
