/* sr_vocab.c - track vocabulary: external id <-> dense index in first-seen order.
 *
 * Layout (n ids, cap slots, cap a power of two):
 *   arena   char[bytes]        all ids back to back, no separators
 *   offsets uint64_t[n + 1]    id i is arena[offsets[i], offsets[i + 1])
 *   slots   sr_vocab_slot[cap] open addressing, linear probing
 *
 * A slot is 8 bytes: the high 32 bits of the id's XXH3_64bits hash and
 * index + 1 (0 = empty). The home slot comes from the low bits of the same
 * hash, so with cap <= 2^32 the stored tag and the slot position are
 * disjoint bits of the 64-bit key: a probe touches the arena (memcmp) only
 * when 32 further hash bits agree, i.e. almost only on the real match.
 * Keeping slots at 8 instead of 16 bytes (full hash + index + padding) is
 * what keeps the table near 16 B per id: 8 B of offsets plus 8 B / load.
 * Growth rebuilds the table from the arena in index order (a sequential
 * read); it runs log2(n) times, so the rehashing is amortised O(1) per id.
 */
#include "sr_vocab.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SR_VOCAB_MAX_ID_LEN 65535u
#define SR_VOCAB_MIN_CAP 16u
/* Grow when an insert would take the load above 7/10: probes stay short
 * (linear probing degrades past ~0.8) while memory stays near 16 B per id. */
#define SR_VOCAB_LOAD_NUM 7u
#define SR_VOCAB_LOAD_DEN 10u

typedef struct sr_vocab_slot {
    uint32_t tag;  /* high 32 bits of XXH3_64bits(id) */
    uint32_t idx1; /* index + 1; 0 = empty */
} sr_vocab_slot;

struct sr_vocab {
    sr_vocab_slot *slots; /* [cap] */
    size_t cap;           /* power of two */
    uint64_t *offsets;    /* [n + 1], capacity offsets_cap */
    size_t offsets_cap;
    char *arena;          /* [bytes], capacity arena_cap */
    size_t arena_cap;
    uint32_t n;
};

sr_err sr_vocab_new(sr_vocab **out)
{
    *out = NULL;
    sr_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return sr_errorf(SR_ERR_NOMEM, "vocabulary: out of memory");
    v->cap = SR_VOCAB_MIN_CAP;
    v->slots = calloc(v->cap, sizeof *v->slots);
    v->offsets_cap = SR_VOCAB_MIN_CAP;
    v->offsets = calloc(v->offsets_cap, sizeof *v->offsets);
    if (!v->slots || !v->offsets) {
        sr_vocab_free(&v);
        return sr_errorf(SR_ERR_NOMEM, "vocabulary: out of memory");
    }
    *out = v;
    return SR_OK;
}

void sr_vocab_free(sr_vocab **v)
{
    if (!v || !*v)
        return;
    free((*v)->slots);
    free((*v)->offsets);
    free((*v)->arena);
    free(*v);
    *v = NULL;
}

static inline uint64_t sr_vocab_hash(sr_str id)
{
    return XXH3_64bits(id.ptr, id.len);
}

/* Slot holding `id` (hash h), or the empty slot where it would go. */
static size_t sr_vocab_probe(const sr_vocab *v, sr_str id, uint64_t h)
{
    size_t mask = v->cap - 1;
    size_t i = (size_t)h & mask;
    uint32_t tag = (uint32_t)(h >> 32);
    for (;;) {
        const sr_vocab_slot *s = &v->slots[i];
        if (s->idx1 == 0)
            return i;
        if (s->tag == tag) {
            uint32_t k = s->idx1 - 1;
            uint64_t a = v->offsets[k], b = v->offsets[k + 1];
            if (b - a == id.len && memcmp(v->arena + a, id.ptr, id.len) == 0)
                return i;
        }
        i = (i + 1) & mask;
    }
}

/* Double the table and re-insert every id in index order. */
static sr_err sr_vocab_grow_table(sr_vocab *v)
{
    size_t cap = v->cap * 2;
    if (cap / 2 != v->cap || cap > SIZE_MAX / sizeof(sr_vocab_slot))
        return sr_errorf(SR_ERR_LIMIT, "vocabulary: hash table of %zu slots is too large", cap);
    sr_vocab_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return sr_errorf(SR_ERR_NOMEM, "vocabulary: out of memory for %zu slots (%u ids)", cap,
                         v->n);
    size_t mask = cap - 1;
    for (uint32_t k = 0; k < v->n; k++) {
        sr_str id = { v->arena + v->offsets[k], (size_t)(v->offsets[k + 1] - v->offsets[k]) };
        uint64_t h = sr_vocab_hash(id);
        size_t i = (size_t)h & mask;
        while (slots[i].idx1 != 0)
            i = (i + 1) & mask;
        slots[i].tag = (uint32_t)(h >> 32);
        slots[i].idx1 = k + 1;
    }
    free(v->slots);
    v->slots = slots;
    v->cap = cap;
    return SR_OK;
}

/* Grow a buffer by 1.5x (at least to `need` elements): less slack than
 * doubling for the two arrays that dominate memory with millions of ids. */
static sr_err sr_vocab_reserve(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return SR_OK;
    size_t c = *cap + *cap / 2;
    if (c < need)
        c = need;
    if (c < 64)
        c = 64;
    if (c > SIZE_MAX / elem)
        return sr_errorf(SR_ERR_LIMIT, "vocabulary: %zu elements of %zu bytes is too large", c,
                         elem);
    void *p = realloc(*buf, c * elem);
    if (!p)
        return sr_errorf(SR_ERR_NOMEM, "vocabulary: out of memory for %zu bytes", c * elem);
    *buf = p;
    *cap = c;
    return SR_OK;
}

sr_err sr_vocab_intern(sr_vocab *v, sr_str id, int32_t *index_out)
{
    *index_out = -1;
    if (id.len == 0)
        return sr_errorf(SR_ERR_ARG, "track id is empty");
    if (id.len > SR_VOCAB_MAX_ID_LEN)
        return sr_errorf(SR_ERR_ARG, "track id of %zu bytes is longer than %u bytes", id.len,
                         SR_VOCAB_MAX_ID_LEN);
    uint64_t h = sr_vocab_hash(id);
    size_t i = sr_vocab_probe(v, id, h);
    if (v->slots[i].idx1 != 0) {
        *index_out = (int32_t)(v->slots[i].idx1 - 1);
        return SR_OK;
    }
    if (v->n >= (uint32_t)INT32_MAX)
        return sr_errorf(SR_ERR_LIMIT, "vocabulary: more than %d track ids", INT32_MAX);

    /* `id` may point into our own arena (a substring of a stored id), which
     * the realloc below would free: remember it as an offset. */
    size_t used = (size_t)v->offsets[v->n];
    bool inside = v->arena && id.ptr >= v->arena && id.ptr < v->arena + used;
    size_t inside_off = inside ? (size_t)(id.ptr - v->arena) : 0;
    sr_err err;
    if (used > SIZE_MAX - id.len)
        return sr_errorf(SR_ERR_LIMIT, "vocabulary: id bytes overflow");
    if ((err = sr_vocab_reserve((void **)&v->arena, &v->arena_cap, used + id.len, 1)) != SR_OK)
        return err;
    if ((err = sr_vocab_reserve((void **)&v->offsets, &v->offsets_cap, (size_t)v->n + 2,
                                sizeof *v->offsets)) != SR_OK)
        return err;
    if (inside)
        id.ptr = v->arena + inside_off;
    if ((size_t)(v->n + 1) * SR_VOCAB_LOAD_DEN > v->cap * SR_VOCAB_LOAD_NUM) {
        if ((err = sr_vocab_grow_table(v)) != SR_OK)
            return err;
        i = sr_vocab_probe(v, id, h);
    }
    memmove(v->arena + used, id.ptr, id.len);
    v->offsets[v->n + 1] = (uint64_t)(used + id.len);
    v->slots[i].tag = (uint32_t)(h >> 32);
    v->slots[i].idx1 = v->n + 1;
    *index_out = (int32_t)v->n;
    v->n++;
    return SR_OK;
}

int32_t sr_vocab_find(const sr_vocab *v, sr_str id)
{
    if (id.len == 0 || id.len > SR_VOCAB_MAX_ID_LEN)
        return -1;
    size_t i = sr_vocab_probe(v, id, sr_vocab_hash(id));
    return (int32_t)v->slots[i].idx1 - 1;
}

uint32_t sr_vocab_size(const sr_vocab *v)
{
    return v->n;
}

sr_str sr_vocab_id(const sr_vocab *v, int32_t index)
{
    sr_str r = { NULL, 0 };
    if (index < 0 || (uint32_t)index >= v->n)
        return r;
    r.ptr = v->arena + v->offsets[index];
    r.len = (size_t)(v->offsets[index + 1] - v->offsets[index]);
    return r;
}

size_t sr_vocab_bytes(const sr_vocab *v)
{
    return (size_t)v->offsets[v->n];
}

size_t sr_vocab_mem(const sr_vocab *v)
{
    return sizeof *v + v->cap * sizeof *v->slots + v->offsets_cap * sizeof *v->offsets +
           v->arena_cap;
}
