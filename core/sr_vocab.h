/* sr_vocab.h - track vocabulary: external id <-> dense index [0, n).
 * Open addressing on 64-bit xxh3 hashes; ids live in one growing byte arena.
 * Memory ~ (bytes of ids) + 16..32 bytes per track (8 B offset + an 8 B slot
 * at load 0.35..0.7), plus up to 50% growth slack. Not thread-safe. */
#ifndef SR_VOCAB_H
#define SR_VOCAB_H

#include "sr_common.h"

typedef struct sr_vocab sr_vocab;

sr_err sr_vocab_new(sr_vocab **out);
void sr_vocab_free(sr_vocab **v);

/* Index of `id`, added (next dense index, first-seen order) when new. Empty
 * ids and ids over 65535 bytes are SR_ERR_ARG. */
sr_err sr_vocab_intern(sr_vocab *v, sr_str id, int32_t *index_out);
/* Index of `id`, or -1. */
int32_t sr_vocab_find(const sr_vocab *v, sr_str id);
uint32_t sr_vocab_size(const sr_vocab *v);
/* The id of `index` ({NULL, 0} when out of range). Points into the arena:
 * valid until the next sr_vocab_intern() or sr_vocab_free(). */
sr_str sr_vocab_id(const sr_vocab *v, int32_t index);
size_t sr_vocab_bytes(const sr_vocab *v); /* total bytes of all ids */
size_t sr_vocab_mem(const sr_vocab *v);   /* bytes allocated, slack included */

#endif /* SR_VOCAB_H */
