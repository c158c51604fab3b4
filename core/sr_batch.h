/* sr_batch.h - training batches read straight from a mapped session store
 * (sr_store.h): a seeded shuffle of the sessions that needs no memory per
 * session, cut into windows of L plays, packed B windows to a batch in
 * buffers owned by the batcher. Nothing is allocated after sr_batcher_new.
 *
 * Dimension legend (sr_tensor.h): B sequences per batch, L positions.
 *
 * Training part of a session (SPEC.md section 5):
 *   split SR_SPLIT_ALL (leave-last): plays x_1 .. x_{n-2} (validation
 *     target x_{n-1} and test target x_n are held out);
 *   split SR_SPLIT_TRAIN (temporal): every play;
 *   SR_SPLIT_VALID / SR_SPLIT_TEST sessions: no training part.
 * A session trains only when its training part has >= 2 plays (one input,
 * one target).
 *
 * Windows: a training part of n plays gives w = ceil((n - 1) / (L - 1))
 * windows, aligned at the END so the latest targets see the longest
 * context: window k (k = 0 .. w-1) ends at e_k = n - k (L - 1) and starts at
 * max(0, e_k - L); consecutive windows share one play, so every play after
 * the first is a target exactly once. A session's windows are emitted
 * oldest first (k = w-1 down to 0), consecutively, and may continue into the
 * next batch. Each window is right-padded to L.
 *
 * Order: epoch e visits sessions in a pseudo-random permutation of
 * [0, n_sessions) keyed by (seed, e): a 4-round Feistel network on the
 * smallest even power of two >= n_sessions with cycle-walking (O(1) memory,
 * a bijection for any n_sessions); sessions without a training part are
 * passed over. A batch never spans two epochs: the last batch of an epoch
 * may hold fewer than B windows.
 *
 * Plays whose track is SR_TRACK_UNSEEN (or outside [0, n_tracks)) are
 * marked invalid (valid = 0) in place.
 *
 * Deterministic: the same store, config and position give the same batches
 * on any machine and thread count. Not thread-safe (one batcher per job).
 */
#ifndef SR_BATCH_H
#define SR_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_common.h"
#include "sr_store.h"

/* The training part of session s: plays [*first, *first + *n) of the
 * store's play arrays (n = 0 when the session has none). s < n_sessions. */
void sr_batch_train_range(const sr_store *st, uint64_t s, uint64_t *first, uint32_t *n);

/* Windows of a training part of n plays with window length L (0 when n < 2). */
uint32_t sr_batch_windows(uint32_t n, int L);

/* The Feistel permutation: the position-th element of the permutation of
 * [0, n) keyed by key. position < n; a bijection on [0, n). */
uint64_t sr_batch_permute(uint64_t position, uint64_t n, uint64_t key);

typedef struct sr_batch_config {
    int B;          /* windows per batch, >= 1 */
    int L;          /* positions per window, >= 2 (the model's L) */
    uint64_t seed;  /* shuffling */
} sr_batch_config;

/* Where the stream stands; saved in checkpoints so a resumed job reads the
 * same batches it would have read. The initial position is all zeros. */
typedef struct sr_batch_pos {
    uint64_t epoch;   /* epochs completed */
    uint64_t cursor;  /* next position in this epoch's permutation */
    uint32_t window;  /* next window (counted oldest first) of the session at cursor - 1
                       * when > 0, i.e. a session cut by the previous batch */
    uint64_t batch;   /* batches produced so far (all epochs) */
} sr_batch_pos;

typedef struct sr_batcher sr_batcher;

/* st is borrowed and must outlive the batcher. One pass over the session
 * offsets counts the training sessions and windows (O(n_sessions) time,
 * O(1) memory). SR_ERR_ARG for a bad config, SR_ERR_EMPTY when no session
 * has a training part. */
sr_err sr_batcher_new(const sr_store *st, const sr_batch_config *c, sr_batcher **out);
void sr_batcher_free(sr_batcher **b); /* NULL-safe */

uint64_t sr_batcher_train_sessions(const sr_batcher *b); /* sessions with a training part */
uint64_t sr_batcher_windows_per_epoch(const sr_batcher *b);
uint64_t sr_batcher_batches_per_epoch(const sr_batcher *b); /* ceil(windows / B) */
uint64_t sr_batcher_train_plays(const sr_batcher *b);      /* plays in the training parts of
                                                            * the training sessions */

sr_batch_pos sr_batcher_pos(const sr_batcher *b);
/* Continue from a saved position. SR_ERR_ARG when it cannot belong to this
 * store and config (cursor > n_sessions, window beyond that session's). */
sr_err sr_batcher_seek(sr_batcher *b, const sr_batch_pos *p);

/* The next batch:
 *   *tracks  [B, L]  dense track indices (-1 where not valid)
 *   *skipped [B, L]  0/1 from SR_FB_SKIPPED (0 where not valid)
 *   *valid   [B, L]  0/1
 * Returns the number of windows filled (1..B; rows beyond it are all
 * invalid); *epoch_end is true when this batch ends an epoch. Buffers are
 * the batcher's and valid until the next call. */
int sr_batcher_next(sr_batcher *b, const int32_t **tracks, const uint8_t **skipped,
                    const uint8_t **valid, bool *epoch_end);

#endif /* SR_BATCH_H */
