/* sr_batch.c - training batches read straight from a mapped session store.
 *
 * Dimension legend (sr_tensor.h): B windows per batch, L positions.
 *
 * The stream state is sr_batch_pos plus what follows from it: the epoch's
 * permutation key and, while a session is cut between two batches, that
 * session's permuted index. Both are recomputed by sr_batcher_seek, so a
 * position saved in a checkpoint is all a resumed job needs.
 *
 * Invariant between calls of sr_batcher_next (and after a seek, once the
 * next call has normalised it): either window > 0 and the session at
 * cursor - 1 has windows left, or window == 0 and cursor points at the next
 * candidate session. At the end of a batch the cursor is moved past sessions
 * without a training part, so a batch that takes the last windows of an
 * epoch knows it ends the epoch (and the next one starts the new epoch)
 * without reading ahead into it.
 */
#include "sr_batch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sr_tensor.h"

/* Largest B * L accepted: keeps every index an int and the three buffers
 * (9 bytes an element) well under a gigabyte. */
#define SR_BATCH_MAX_ELEMS ((int64_t)1 << 26)

struct sr_batcher {
    const sr_store *st;
    sr_batch_config c;
    uint64_t train_sessions, windows, train_plays;
    sr_batch_pos pos;
    uint64_t key;        /* permutation key of pos.epoch */
    uint64_t cur;        /* session at pos.cursor - 1 when pos.window > 0 */
    int32_t *tracks;     /* [B, L] */
    uint8_t *skipped;    /* [B, L] */
    uint8_t *valid;      /* [B, L] */
};

/* ---- pure functions -------------------------------------------------------- */

/* splitmix64's output function (Steele, Lea, Flood 2014): a bijective 64-bit
 * mixer whose every output bit depends on every input bit. */
static uint64_t sr_batch_mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

void sr_batch_train_range(const sr_store *st, uint64_t s, uint64_t *first, uint32_t *n)
{
    SR_ASSERT(s < st->n_sessions);
    uint64_t a = st->session_offsets[s], b = st->session_offsets[s + 1];
    uint64_t len = b - a;
    switch (st->session_split[s]) {
    case SR_SPLIT_ALL: len = len >= 2 ? len - 2 : 0; break; /* x_{n-1}, x_n held out */
    case SR_SPLIT_TRAIN: break;
    default: len = 0; break;                                 /* valid / test sessions */
    }
    /* The writer caps a session at UINT32_MAX plays; a longer one (never
     * written by seqrec) keeps its latest plays. */
    if (len > UINT32_MAX) {
        a += len - UINT32_MAX;
        len = UINT32_MAX;
    }
    *first = a;
    *n = (uint32_t)len;
}

uint32_t sr_batch_windows(uint32_t n, int L)
{
    if (n < 2 || L < 2)
        return 0;
    uint64_t step = (uint64_t)L - 1; /* targets per window */
    return (uint32_t)(((uint64_t)n - 1 + step - 1) / step);
}

uint64_t sr_batch_permute(uint64_t position, uint64_t n, uint64_t key)
{
    SR_ASSERT(position < n);
    if (n == 1)
        return 0;
    /* Domain 2^(2h): the smallest even power of two >= n, so both Feistel
     * halves have h bits and the domain is < 4 n (cycle-walking takes under
     * 4 rounds of the network on average). */
    unsigned bits = 0;
    while (bits < 64 && (n - 1) >> bits != 0)
        bits++;
    unsigned h = (bits + 1) / 2;
    uint64_t mask = h == 32 ? UINT32_MAX : (UINT64_C(1) << h) - 1;
    uint64_t rk[4];
    for (int r = 0; r < 4; r++)
        rk[r] = sr_batch_mix(key ^ sr_batch_mix((uint64_t)r + 1));
    uint64_t x = position;
    do {
        /* Four balanced rounds (Luby-Rackoff): (l, r) -> (r, l ^ F_k(r)). */
        uint64_t l = x >> h, r = x & mask;
        for (int k = 0; k < 4; k++) {
            uint64_t t = l ^ (sr_batch_mix(r ^ rk[k]) & mask);
            l = r;
            r = t;
        }
        x = l << h | r;
        /* Cycle-walking: re-encrypt until the value lands in [0, n). It ends
         * because the orbit of `position` (< n) under the permutation comes
         * back to it. */
    } while (x >= n);
    return x;
}

/* ---- the batcher ------------------------------------------------------------ */

static uint64_t sr_batch_epoch_key(uint64_t seed, uint64_t epoch)
{
    return sr_batch_mix(seed ^ sr_batch_mix(epoch ^ UINT64_C(0x5262617463686572)));
}

sr_err sr_batcher_new(const sr_store *st, const sr_batch_config *c, sr_batcher **out)
{
    *out = NULL;
    if (!st || !c)
        return sr_errorf(SR_ERR_ARG, "batcher: no store or no config");
    if (c->B < 1 || c->L < 2 || (int64_t)c->B * c->L > SR_BATCH_MAX_ELEMS)
        return sr_errorf(SR_ERR_ARG,
                         "batcher: B = %d, L = %d: need B >= 1, L >= 2 and B * L <= %" PRId64,
                         c->B, c->L, SR_BATCH_MAX_ELEMS);
    uint64_t sessions = 0, windows = 0, plays = 0;
    for (uint64_t s = 0; s < st->n_sessions; s++) {
        uint64_t first;
        uint32_t n;
        sr_batch_train_range(st, s, &first, &n);
        uint32_t w = sr_batch_windows(n, c->L);
        if (w == 0)
            continue;
        sessions++;
        windows += w;
        plays += n;
    }
    if (sessions == 0)
        return sr_errorf(SR_ERR_EMPTY,
                         "batcher: none of the %" PRIu64
                         " sessions has a training part of 2 plays or more",
                         st->n_sessions);
    sr_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return sr_errorf(SR_ERR_NOMEM, "batcher: out of memory");
    size_t T = (size_t)c->B * (size_t)c->L;
    b->tracks = malloc(T * sizeof *b->tracks);
    b->skipped = malloc(T);
    b->valid = malloc(T);
    if (!b->tracks || !b->skipped || !b->valid) {
        sr_batcher_free(&b);
        return sr_errorf(SR_ERR_NOMEM, "batcher: out of memory for a %d x %d batch", c->B,
                         c->L);
    }
    b->st = st;
    b->c = *c;
    b->train_sessions = sessions;
    b->windows = windows;
    b->train_plays = plays;
    b->key = sr_batch_epoch_key(c->seed, 0);
    *out = b;
    return SR_OK;
}

void sr_batcher_free(sr_batcher **b)
{
    if (!b || !*b)
        return;
    free((*b)->tracks);
    free((*b)->skipped);
    free((*b)->valid);
    free(*b);
    *b = NULL;
}

uint64_t sr_batcher_train_sessions(const sr_batcher *b) { return b->train_sessions; }
uint64_t sr_batcher_windows_per_epoch(const sr_batcher *b) { return b->windows; }
uint64_t sr_batcher_train_plays(const sr_batcher *b) { return b->train_plays; }

uint64_t sr_batcher_batches_per_epoch(const sr_batcher *b)
{
    return (b->windows + (uint64_t)b->c.B - 1) / (uint64_t)b->c.B;
}

sr_batch_pos sr_batcher_pos(const sr_batcher *b) { return b->pos; }

/* Windows of session s's training part (0: it does not train). */
static uint32_t sr_batcher_session_windows(const sr_batcher *b, uint64_t s)
{
    uint64_t first;
    uint32_t n;
    sr_batch_train_range(b->st, s, &first, &n);
    return sr_batch_windows(n, b->c.L);
}

sr_err sr_batcher_seek(sr_batcher *b, const sr_batch_pos *p)
{
    uint64_t n = b->st->n_sessions;
    if (p->cursor > n)
        return sr_errorf(SR_ERR_ARG,
                         "batch position: cursor %" PRIu64 " beyond the %" PRIu64 " sessions",
                         p->cursor, n);
    uint64_t key = sr_batch_epoch_key(b->c.seed, p->epoch);
    uint64_t cur = 0;
    if (p->window > 0) {
        if (p->cursor == 0)
            return sr_errorf(SR_ERR_ARG,
                             "batch position: window %" PRIu32 " but no session started (cursor 0)",
                             p->window);
        cur = sr_batch_permute(p->cursor - 1, n, key);
        uint32_t w = sr_batcher_session_windows(b, cur);
        if (p->window >= w)
            return sr_errorf(SR_ERR_ARG,
                             "batch position: window %" PRIu32 " of session %" PRIu64
                             ", which has %" PRIu32 " windows with L = %d",
                             p->window, cur, w, b->c.L);
    }
    b->pos = *p;
    b->key = key;
    b->cur = cur;
    return SR_OK;
}

/* With no session cut (window 0): move the cursor past sessions without a
 * training part. Returns false when the epoch's permutation is exhausted. */
static bool sr_batcher_skip_idle(sr_batcher *b)
{
    uint64_t n = b->st->n_sessions;
    while (b->pos.cursor < n) {
        uint64_t s = sr_batch_permute(b->pos.cursor, n, b->key);
        if (sr_batcher_session_windows(b, s) > 0)
            return true;
        b->pos.cursor++;
    }
    return false;
}

static void sr_batcher_next_epoch(sr_batcher *b)
{
    b->pos.epoch++;
    b->pos.cursor = 0;
    b->pos.window = 0;
    b->key = sr_batch_epoch_key(b->c.seed, b->pos.epoch);
}

/* Copy window j (oldest first) of session s into row `row`:
 * window k = w-1-j ends at e = n - k (L-1) and starts at max(0, e - L). */
static void sr_batcher_fill_row(sr_batcher *b, int row, uint64_t s, uint32_t j, uint32_t w)
{
    const sr_store *st = b->st;
    const int L = b->c.L;
    uint64_t first;
    uint32_t n;
    sr_batch_train_range(st, s, &first, &n);
    uint64_t k = (uint64_t)(w - 1 - j);
    uint64_t e = (uint64_t)n - k * (uint64_t)(L - 1);
    uint64_t a = e > (uint64_t)L ? e - (uint64_t)L : 0;
    int len = (int)(e - a);
    int32_t *tr = b->tracks + sr_row(row, 0, L);
    uint8_t *sk = b->skipped + sr_row(row, 0, L);
    uint8_t *va = b->valid + sr_row(row, 0, L);
    for (int l = 0; l < len; l++) {
        uint64_t p = first + a + (uint64_t)l;
        int32_t t = st->play_track[p];
        bool ok = t >= 0 && (uint32_t)t < st->n_tracks;
        tr[l] = ok ? t : -1;
        sk[l] = ok && (st->play_feedback[p] & SR_FB_SKIPPED) ? 1 : 0;
        va[l] = ok ? 1 : 0;
    }
    for (int l = len; l < L; l++) {
        tr[l] = -1;
        sk[l] = 0;
        va[l] = 0;
    }
}

int sr_batcher_next(sr_batcher *b, const int32_t **tracks, const uint8_t **skipped,
                    const uint8_t **valid, bool *epoch_end)
{
    const int B = b->c.B, L = b->c.L;
    const uint64_t n = b->st->n_sessions;
    /* Normalise a position that seek may have given: a finished epoch rolls
     * over; the batcher holds at least one training session, so the new
     * epoch has one. */
    if (b->pos.window == 0 && !sr_batcher_skip_idle(b)) {
        sr_batcher_next_epoch(b);
        bool found = sr_batcher_skip_idle(b);
        SR_ASSERT(found);
    }
    int filled = 0;
    while (filled < B) {
        if (b->pos.window == 0) {
            if (!sr_batcher_skip_idle(b))
                break; /* the epoch ends inside this batch */
            b->cur = sr_batch_permute(b->pos.cursor, n, b->key);
            b->pos.cursor++;
        }
        uint32_t w = sr_batcher_session_windows(b, b->cur);
        sr_batcher_fill_row(b, filled, b->cur, b->pos.window, w);
        filled++;
        b->pos.window = b->pos.window + 1 == w ? 0 : b->pos.window + 1;
    }
    for (int r = filled; r < B; r++)
        for (int l = 0; l < L; l++) {
            b->tracks[sr_row(r, 0, L) + (size_t)l] = -1;
            b->skipped[sr_row(r, 0, L) + (size_t)l] = 0;
            b->valid[sr_row(r, 0, L) + (size_t)l] = 0;
        }
    bool end = b->pos.window == 0 && !sr_batcher_skip_idle(b);
    if (end)
        sr_batcher_next_epoch(b);
    b->pos.batch++;
    *tracks = b->tracks;
    *skipped = b->skipped;
    *valid = b->valid;
    *epoch_end = end;
    return filled;
}
